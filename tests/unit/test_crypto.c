/* crypto: SHA-256, HMAC (RFC 4231), hex, constant-time compare, passwords. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <botcommon/crypto.h>

static void
test_sha256(void **state)
{
	char hex[BC_SHA256_HEXLEN];

	(void)state;
	bc_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	bc_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
}

static void
test_hmac_rfc4231(void **state)
{
	unsigned char mac[BC_SHA256_LEN], key[20];
	char hex[BC_SHA256_HEXLEN];
	const char *msg = "what do ya want for nothing?";

	(void)state;
	/* Test case 2. */
	assert_int_equal(bc_hmac_sha256("Jefe", 4, msg, strlen(msg), mac), 0);
	bc_hex_encode(mac, sizeof mac, hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
	/* Test case 1. */
	memset(key, 0x0b, sizeof key);
	assert_int_equal(bc_hmac_sha256(key, sizeof key, "Hi There", 8, mac),
	    0);
	bc_hex_encode(mac, sizeof mac, hex);
	assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7");
	/* An empty key is allowed (Telegram's WebAppData uses a fixed one). */
	assert_int_equal(bc_hmac_sha256(NULL, 0, "x", 1, mac), 0);
}

static void
test_hex(void **state)
{
	unsigned char buf[4];
	char hex[9];

	(void)state;
	assert_int_equal(bc_hex_decode("00fFa5", buf, sizeof buf), 3);
	assert_int_equal(buf[0], 0x00);
	assert_int_equal(buf[1], 0xff);
	assert_int_equal(buf[2], 0xa5);
	bc_hex_encode(buf, 3, hex);
	assert_string_equal(hex, "00ffa5");
	assert_int_equal(bc_hex_decode("abc", buf, sizeof buf), -1);
	assert_int_equal(bc_hex_decode("zz", buf, sizeof buf), -1);
	assert_int_equal(bc_hex_decode("0011223344", buf, sizeof buf), -1);
	assert_int_equal(bc_hex_decode("", buf, sizeof buf), 0);
}

static void
test_ct(void **state)
{
	(void)state;
	assert_true(bc_ct_equal("abcd", "abcd", 4));
	assert_false(bc_ct_equal("abcd", "abce", 4));
	assert_true(bc_ct_streq("secret", "secret"));
	assert_false(bc_ct_streq("secreT", "secret"));
	assert_false(bc_ct_streq("secret1", "secret"));
	assert_false(bc_ct_streq("secre", "secret"));
	assert_false(bc_ct_streq("", "secret"));
	assert_true(bc_ct_streq("", ""));
	assert_false(bc_ct_streq("x", ""));
}

static void
test_random(void **state)
{
	unsigned char a[32], b[32];

	(void)state;
	assert_int_equal(bc_random_bytes(a, sizeof a), 0);
	assert_int_equal(bc_random_bytes(b, sizeof b), 0);
	assert_memory_not_equal(a, b, sizeof a);
}

static void
test_password_yescrypt(void **state)
{
	char *h, *h2, *cause = NULL;

	(void)state;
	h = bc_password_hash("correct horse", &cause);
	assert_non_null(h);
	assert_memory_equal(h, "$y$", 3);
	assert_int_equal(bc_password_verify("correct horse", h), 1);
	assert_int_equal(bc_password_verify("correct horsE", h), 0);
	assert_int_equal(bc_password_verify("", h), 0);
	/* Fresh salt each time. */
	h2 = bc_password_hash("correct horse", &cause);
	assert_string_not_equal(h, h2);
	free(h);
	free(h2);
	assert_null(bc_password_hash("", &cause));
	assert_non_null(cause);
	free(cause);
}

static void
test_password_bcrypt_legacy(void **state)
{
	/* crypt_blowfish's vectors; Python's bcrypt writes the $2b$ form. */
	const char *a = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
	const char *b = "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

	(void)state;
	assert_int_equal(bc_password_verify("U*U", a), 1);
	assert_int_equal(bc_password_verify("U*U", b), 1);
	assert_int_equal(bc_password_verify("U*U*", b), 0);
}

static void
test_password_bad_hash(void **state)
{
	(void)state;
	assert_int_equal(bc_password_verify("x", ""), -1);
	assert_int_equal(bc_password_verify("x", "plaintext"), -1);
	/* DES and MD5 crypt are not accepted. */
	assert_int_equal(bc_password_verify("x", "abJnggxhB/yWI"), -1);
	assert_int_equal(bc_password_verify("x", "$1$abc$xyz"), -1);
	/* Truncated or corrupt hashes of an accepted method. */
	assert_int_equal(bc_password_verify("U*U", "$2b$05$CCCC"), -1);
	assert_int_equal(bc_password_verify("U*U", "$y$"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_ct),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_password_yescrypt),
		cmocka_unit_test(test_password_bcrypt_legacy),
		cmocka_unit_test(test_password_bad_hash),
	};

	return cmocka_run_group_tests_name("crypto", tests, NULL, NULL);
}
