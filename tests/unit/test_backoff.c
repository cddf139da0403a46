/* backoff: growth, cap, jitter bounds, reset; util: UTF-8, strlcpy. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <botcommon/backoff.h>
#include <botcommon/util.h>

static void
test_growth_and_cap(void **state)
{
	(void)state;
	/* u = 0.5 means no jitter. */
	assert_int_equal(bc_backoff_delay(1000, 60000, 0.2, 0, 0.5), 1000);
	assert_int_equal(bc_backoff_delay(1000, 60000, 0.2, 1, 0.5), 2000);
	assert_int_equal(bc_backoff_delay(1000, 60000, 0.2, 2, 0.5), 4000);
	assert_int_equal(bc_backoff_delay(1000, 60000, 0.2, 5, 0.5), 32000);
	assert_int_equal(bc_backoff_delay(1000, 60000, 0.2, 6, 0.5), 60000);
	assert_int_equal(bc_backoff_delay(1000, 60000, 0.2, 4000, 0.5), 60000);
}

static void
test_jitter_bounds(void **state)
{
	(void)state;
	assert_int_equal(bc_backoff_delay(1000, 60000, 0.2, 0, 0.0), 800);
	assert_int_equal(bc_backoff_delay(1000, 60000, 0.2, 0, 0.999999), 1199);
	assert_int_equal(bc_backoff_delay(0, 0, 0.2, 3, 0.9), 0);
}

static void
test_state(void **state)
{
	struct bc_backoff b;
	int64_t d;
	int i;

	(void)state;
	bc_backoff_init(&b, 100, 1000, 0.2);
	for (i = 0; i < 10; i++) {
		d = bc_backoff_next(&b);
		assert_true(d >= 80 && d <= 1200);
	}
	assert_true(bc_backoff_next(&b) >= 800);
	bc_backoff_reset(&b);
	d = bc_backoff_next(&b);
	assert_true(d >= 80 && d <= 120);
}

static void
test_random_unit(void **state)
{
	double u;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		u = bc_random_unit();
		assert_true(u >= 0.0 && u < 1.0);
	}
}

static void
test_utf8(void **state)
{
	(void)state;
	assert_int_equal(bc_utf8_seqlen((const unsigned char *)"a", 1), 1);
	assert_int_equal(bc_utf8_seqlen((const unsigned char *)"я", 2), 2);
	assert_int_equal(bc_utf8_seqlen((const unsigned char *)"€", 3), 3);
	assert_int_equal(bc_utf8_seqlen((const unsigned char *)"🎰", 4), 4);
	/* Truncated, overlong, surrogate, stray continuation. */
	assert_int_equal(bc_utf8_seqlen((const unsigned char *)"🎰", 3), 0);
	assert_int_equal(bc_utf8_seqlen((const unsigned char *)"\xc0\xaf",
	    2), 0);
	assert_int_equal(bc_utf8_seqlen((const unsigned char *)"\xed\xa0\x80",
	    3), 0);
	assert_int_equal(bc_utf8_seqlen((const unsigned char *)"\x80", 1), 0);
}

static void
test_strlcpy(void **state)
{
	char buf[4];

	(void)state;
	assert_int_equal(bc_strlcpy(buf, "abcdef", sizeof buf), 6);
	assert_string_equal(buf, "abc");
	assert_int_equal(bc_strlcpy(buf, "ab", sizeof buf), 2);
	assert_string_equal(buf, "ab");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_growth_and_cap),
		cmocka_unit_test(test_jitter_bounds),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_random_unit),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_strlcpy),
	};

	return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
