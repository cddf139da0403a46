/* Hashes, HMAC, constant-time compare, randomness, crypt(3) passwords. */

#include <sys/random.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <botcommon/crypto.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

/* yescrypt cost: libxcrypt's default (0 picks it). */
#define BC_YESCRYPT_COST	0

void
bc_sha256(const void *buf, size_t len, unsigned char out[BC_SHA256_LEN])
{
	unsigned int n = BC_SHA256_LEN;

	/* EVP_Digest only fails on allocation failure inside OpenSSL. */
	if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1)
		memset(out, 0, BC_SHA256_LEN);
}

void
bc_sha256_hex(const void *buf, size_t len, char *out)
{
	unsigned char md[BC_SHA256_LEN];

	bc_sha256(buf, len, md);
	bc_hex_encode(md, sizeof md, out);
}

int
bc_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
    unsigned char out[BC_SHA256_LEN])
{
	unsigned int n = BC_SHA256_LEN;
	static const unsigned char empty;

	if (keylen > INT32_MAX)
		return -1;
	/* OpenSSL refuses a NULL key even when its length is 0. */
	if (key == NULL)
		key = &empty;
	if (HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &n) == NULL)
		return -1;
	return 0;
}

int
bc_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

int
bc_ct_streq(const char *given, const char *expected)
{
	size_t glen = strlen(given), elen = strlen(expected), i;
	unsigned char diff = 0;

	/* Walk expected's length whatever given is; index given modulo. */
	for (i = 0; i < elen; i++)
		diff |= (unsigned char)expected[i] ^
		    (unsigned char)(glen > 0 ? given[i % glen] : 0);
	return (diff == 0) & (glen == elen);
}

void
bc_hex_encode(const void *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

int
bc_hex_decode(const char *hex, void *out, size_t outsz)
{
	unsigned char *p = out;
	size_t len = strlen(hex), i;
	int hi, lo;

	if (len % 2 != 0 || len / 2 > outsz || len / 2 > INT32_MAX)
		return -1;
	for (i = 0; i < len / 2; i++) {
		hi = bc_hexval((unsigned char)hex[2 * i]);
		lo = bc_hexval((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		p[i] = (unsigned char)(hi << 4 | lo);
	}
	return (int)(len / 2);
}

int
bc_random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

char *
bc_password_hash(const char *password, char **cause)
{
	struct crypt_data *cd;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	char *out = NULL;

	if (password == NULL || *password == '\0') {
		*cause = xstrdup("empty password");
		return NULL;
	}
	if (crypt_gensalt_rn("$y$", BC_YESCRYPT_COST, NULL, 0, salt,
	    sizeof salt) == NULL) {
		xasprintf(cause, "crypt_gensalt: %s", strerror(errno));
		return NULL;
	}
	cd = xcalloc(1, sizeof *cd);
	if (crypt_rn(password, salt, cd, sizeof *cd) == NULL ||
	    cd->output[0] == '*')
		xasprintf(cause, "crypt: %s", strerror(errno));
	else
		out = xstrdup(cd->output);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return out;
}

/* Methods a stored hash may use: yescrypt, and bcrypt from the original. */
static int
bc_password_method_ok(const char *hash)
{
	static const char *prefixes[] = { "$y$", "$2a$", "$2b$", "$2y$" };
	size_t i;

	for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (strncmp(hash, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

int
bc_password_verify(const char *password, const char *hash)
{
	struct crypt_data *cd;
	size_t hlen;
	int rc = -1;

	if (password == NULL || hash == NULL || !bc_password_method_ok(hash))
		return -1;
	hlen = strlen(hash);
	cd = xcalloc(1, sizeof *cd);
	if (crypt_rn(password, hash, cd, sizeof *cd) != NULL &&
	    cd->output[0] != '*') {
		if (strlen(cd->output) == hlen)
			rc = bc_ct_equal(cd->output, hash, hlen);
		else
			rc = 0;
	}
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return rc;
}
