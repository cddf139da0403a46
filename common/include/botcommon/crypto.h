/*
 * Hashes, MACs, constant-time comparison, randomness and password hashing
 * (OpenSSL libcrypto and libxcrypt's crypt(3)).
 *
 * Nothing here allocates except bc_password_hash(), whose result the caller
 * frees. Secrets passed in are never logged.
 */
#ifndef BOTCOMMON_CRYPTO_H
#define BOTCOMMON_CRYPTO_H

#include <stddef.h>

#define BC_SHA256_LEN		32
#define BC_SHA256_HEXLEN	(2 * BC_SHA256_LEN + 1)	/* with the NUL */

/* SHA-256 of buf into out. */
void	bc_sha256(const void *buf, size_t len,
	    unsigned char out[BC_SHA256_LEN]);

/* SHA-256 of buf as lower-case hex into out (BC_SHA256_HEXLEN bytes). */
void	bc_sha256_hex(const void *buf, size_t len, char *out);

/* HMAC-SHA256 of msg under key into out. Returns 0, or -1 on failure. */
int	bc_hmac_sha256(const void *key, size_t keylen, const void *msg,
	    size_t len, unsigned char out[BC_SHA256_LEN]);

/* 1 if the len bytes at a and b are equal, else 0; time independent of
 * where they differ. */
int	bc_ct_equal(const void *a, const void *b, size_t len);

/* 1 if the strings are equal, else 0; the time depends only on the length
 * of expected, never on where they differ or on the length of given. */
int	bc_ct_streq(const char *given, const char *expected);

/* Lower-case hex of len bytes into out, which has room for 2 * len + 1. */
void	bc_hex_encode(const void *buf, size_t len, char *out);

/*
 * Decode hex (upper or lower case, even length) into out of size outsz.
 * Returns the number of bytes written, or -1 for bad input or no room.
 */
int	bc_hex_decode(const char *hex, void *out, size_t outsz);

/* Fill buf with len cryptographically strong random bytes. 0 or -1. */
int	bc_random_bytes(void *buf, size_t len);

/*
 * Hash password with yescrypt and a fresh salt. Returns the crypt(3)
 * string ("$y$..."), which the caller frees, or NULL with *cause set.
 */
char	*bc_password_hash(const char *password, char **cause);

/*
 * Check password against a crypt(3) hash: yescrypt ("$y$") or bcrypt
 * ("$2a$", "$2b$", "$2y$", as the original project's Python bcrypt wrote).
 * Returns 1 on a match, 0 on a mismatch, -1 when the hash is malformed or
 * of a method that is not accepted.
 */
int	bc_password_verify(const char *password, const char *hash);

#endif /* BOTCOMMON_CRYPTO_H */
