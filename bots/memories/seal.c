/*
 * memories: memory text encrypted at rest with AES-256-GCM (libcrypto).
 *
 * Why here and not pgcrypto: the key never leaves this process (pgcrypto
 * would send it with every statement, where the server's statement log
 * can catch it), and the database needs no extension.
 *
 * Stored form, in memories.content (text): "$mem1$" and the base64 of
 * nonce (12 random bytes) || ciphertext || tag (16 bytes). The additional
 * data is "memories:<user_id>", so a row moved to another user does not
 * open. Content without the prefix is a plaintext row of the original
 * bot: it is shown as it is and encrypted at the next start (see
 * mem_encrypt_existing()).
 *
 * The key: [memories] key_file (mode 0600) or the credential
 * memories.key, 64 hex digits (openssl rand -hex 32).
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <botcommon/conf.h>
#include <botcommon/crypto.h>
#include <botcommon/xmalloc.h>

#include "memories.h"

#define SEAL_PREFIX	"$mem1$"
#define SEAL_NONCE	12
#define SEAL_TAG	16

int
mem_is_sealed(const char *stored)
{
	return stored != NULL &&
	    strncmp(stored, SEAL_PREFIX, strlen(SEAL_PREFIX)) == 0;
}

static void
seal_aad(int64_t user_id, char *buf, size_t sz)
{
	snprintf(buf, sz, "memories:%lld", (long long)user_id);
}

/* Encrypt plain for user_id. Caller frees; NULL on failure (logged). */
char *
mem_seal(const struct mem *m, int64_t user_id, const char *plain)
{
	size_t plen = strlen(plain), rawlen, b64len;
	unsigned char *raw = NULL;
	char aad[64], *out = NULL;
	EVP_CIPHER_CTX *c = NULL;
	int n, fin;

	if (plen > INT_MAX - SEAL_NONCE - SEAL_TAG)
		return NULL;
	rawlen = SEAL_NONCE + plen + SEAL_TAG;
	raw = xmalloc(rawlen);
	seal_aad(user_id, aad, sizeof aad);
	if (bc_random_bytes(raw, SEAL_NONCE) == -1 ||
	    (c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, m->key, raw) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &n, (const unsigned char *)aad,
	    (int)strlen(aad)) != 1 ||
	    EVP_EncryptUpdate(c, raw + SEAL_NONCE, &n,
	    (const unsigned char *)plain, (int)plen) != 1 ||
	    EVP_EncryptFinal_ex(c, raw + SEAL_NONCE + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SEAL_TAG,
	    raw + SEAL_NONCE + plen) != 1)
		goto fail;
	b64len = 4 * ((rawlen + 2) / 3);
	out = xmalloc(strlen(SEAL_PREFIX) + b64len + 1);
	memcpy(out, SEAL_PREFIX, strlen(SEAL_PREFIX));
	EVP_EncodeBlock((unsigned char *)out + strlen(SEAL_PREFIX), raw,
	    (int)rawlen);
fail:
	EVP_CIPHER_CTX_free(c);
	free(raw);
	return out;
}

/*
 * The plaintext of a stored content: decrypted, or a copy of a plaintext
 * row. Caller frees; NULL when a sealed value does not open (wrong key,
 * another user's row, damage).
 */
char *
mem_open(const struct mem *m, int64_t user_id, const char *stored)
{
	const char *b64;
	unsigned char *raw = NULL;
	char aad[64], *out = NULL;
	EVP_CIPHER_CTX *c = NULL;
	size_t b64len, pad = 0;
	int rawlen, plen, n, fin;

	if (!mem_is_sealed(stored))
		return xstrdup(stored != NULL ? stored : "");
	b64 = stored + strlen(SEAL_PREFIX);
	b64len = strlen(b64);
	if (b64len % 4 != 0 || b64len > INT_MAX / 2 || b64len == 0)
		return NULL;
	if (b64[b64len - 1] == '=')
		pad = b64[b64len - 2] == '=' ? 2 : 1;
	raw = xmalloc(b64len / 4 * 3 + 1);
	rawlen = EVP_DecodeBlock(raw, (const unsigned char *)b64,
	    (int)b64len);
	if (rawlen < 0 || (rawlen -= (int)pad) < SEAL_NONCE + SEAL_TAG)
		goto fail;
	plen = rawlen - SEAL_NONCE - SEAL_TAG;
	out = xmalloc((size_t)plen + 1);
	seal_aad(user_id, aad, sizeof aad);
	if ((c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, m->key, raw) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &n, (const unsigned char *)aad,
	    (int)strlen(aad)) != 1 ||
	    EVP_DecryptUpdate(c, (unsigned char *)out, &n, raw + SEAL_NONCE,
	    plen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SEAL_TAG,
	    raw + SEAL_NONCE + plen) != 1 ||
	    EVP_DecryptFinal_ex(c, (unsigned char *)out + n, &fin) != 1 ||
	    memchr(out, '\0', (size_t)plen) != NULL) {
		free(out);
		out = NULL;
		goto fail;
	}
	out[plen] = '\0';
fail:
	EVP_CIPHER_CTX_free(c);
	free(raw);
	return out;
}

/* Write a fresh key (64 hex digits) to path, which must not exist. */
static int
key_create(const char *path, char **cause)
{
	unsigned char key[MEM_KEY_LEN];
	char hex[2 * MEM_KEY_LEN + 2];
	int fd;

	if (bc_random_bytes(key, sizeof key) == -1) {
		xasprintf(cause, "cannot get random bytes for a key");
		return -1;
	}
	bc_hex_encode(key, sizeof key, hex);
	explicit_bzero(key, sizeof key);
	strcat(hex, "\n");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1 || write(fd, hex, strlen(hex)) !=
	    (ssize_t)strlen(hex) || fsync(fd) == -1) {
		xasprintf(cause, "cannot create key file '%s': %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		explicit_bzero(hex, sizeof hex);
		return -1;
	}
	close(fd);
	explicit_bzero(hex, sizeof hex);
	return 0;
}

/*
 * Load the key: [memories] key_file or the memories.key credential. With
 * create_key = yes and no file at key_file, a new key is written there
 * first (0600), unless check is set (--check-config: no side effects).
 */
int
mem_key_load(struct mem *m, struct bc_conf *conf, int check, char **cause)
{
	char *secret = NULL, *path = NULL;
	struct stat st;
	int create = 0, rc;

	if (bc_conf_file(conf, "memories", "key_file", NULL, &path,
	    cause) == -1 || bc_conf_bool(conf, "memories", "create_key", 0,
	    &create, cause) == -1) {
		free(path);
		return -1;
	}
	if (path != NULL && create && stat(path, &st) == -1 &&
	    errno == ENOENT) {
		rc = check ? 0 : key_create(path, cause);
		if (rc == -1 || check) {
			free(path);
			return rc;
		}
	}
	free(path);
	rc = bc_conf_secret(conf, "memories", "key_file", "memories.key", 1,
	    &secret, cause);
	if (rc != 0)
		return -1;
	if (strlen(secret) != 2 * MEM_KEY_LEN ||
	    bc_hex_decode(secret, m->key, sizeof m->key) != MEM_KEY_LEN) {
		bc_conf_secret_free(secret);
		xasprintf(cause, "%s: [memories] key_file: the key must be %d "
		    "hex digits (openssl rand -hex 32)", bc_conf_path(conf),
		    2 * MEM_KEY_LEN);
		return -1;
	}
	bc_conf_secret_free(secret);
	return 0;
}
