/* buf: appends, printf, reset, detach; util: hex digits. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <botcommon/buf.h>
#include <botcommon/util.h>

static void
test_append(void **state)
{
	struct bc_buf b = BC_BUF_ZERO;
	int i;

	(void)state;
	bc_buf_add(&b, "", 0);
	assert_non_null(b.p);
	assert_string_equal(b.p, "");
	for (i = 0; i < 1000; i++)
		bc_buf_str(&b, "ab");
	assert_int_equal(b.len, 2000);
	assert_int_equal(strlen(b.p), 2000);
	assert_true(b.cap > b.len);
	/* Bytes with a NUL inside are kept. */
	bc_buf_reset(&b);
	bc_buf_add(&b, "x\0y", 3);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.p, "x\0y", 4);
	bc_buf_release(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
}

static void
test_printf(void **state)
{
	struct bc_buf b = BC_BUF_ZERO;
	char big[3000];

	(void)state;
	bc_buf_printf(&b, "%d-%s", 42, "x");
	bc_buf_printf(&b, "|%lld", (long long)INT64_MAX);
	assert_string_equal(b.p, "42-x|9223372036854775807");
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	bc_buf_printf(&b, "%s", big);
	assert_int_equal(b.len, 24 + sizeof big - 1);
	bc_buf_release(&b);
}

static void
test_detach(void **state)
{
	struct bc_buf b = BC_BUF_ZERO;
	char *s;

	(void)state;
	s = bc_buf_detach(&b);
	assert_string_equal(s, "");
	free(s);
	bc_buf_str(&b, "owned");
	s = bc_buf_detach(&b);
	assert_null(b.p);
	assert_string_equal(s, "owned");
	free(s);
}

static void
test_hexval(void **state)
{
	(void)state;
	assert_int_equal(bc_hexval('0'), 0);
	assert_int_equal(bc_hexval('9'), 9);
	assert_int_equal(bc_hexval('a'), 10);
	assert_int_equal(bc_hexval('F'), 15);
	assert_int_equal(bc_hexval('g'), -1);
	assert_int_equal(bc_hexval(0xff), -1);
}

static void
test_tmpl(void **state)
{
	char *s;

	(void)state;
	s = bc_tmpl("BTC is at ${price} (target ${target}), {x", "target",
	    "70,000", "price", "65,000", NULL);
	assert_string_equal(s, "BTC is at $65,000 (target $70,000), {x");
	free(s);
	/* Unknown names and empty braces stay; a value is not expanded. */
	s = bc_tmpl("{a}{}{b}{nope}", "a", "{b}", "b", "", NULL);
	assert_string_equal(s, "{b}{}{nope}");
	free(s);
	s = bc_tmpl("", NULL);
	assert_string_equal(s, "");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_detach),
		cmocka_unit_test(test_hexval),
		cmocka_unit_test(test_tmpl),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
