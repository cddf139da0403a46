/*
 * test_memories: the diary bot's pure parts (bots/memories text.c,
 * zone.c, seal.c): text checks, cutting, day and time parsing, the
 * weekly occurrence across DST, and sealing.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "memories.h"

static void
test_text_valid(void **state)
{
	char *big;

	(void)state;
	assert_int_equal(mem_text_valid("Привет, неделя"), 0);
	assert_int_equal(mem_text_valid("42"), 0);
	assert_int_equal(mem_text_valid(""), 1);
	assert_int_equal(mem_text_valid(" \n\t "), 1);
	assert_int_equal(mem_text_valid(NULL), 1);
	assert_int_equal(mem_text_valid("!!! ... ???"), 3);
	assert_int_equal(mem_text_valid("😀😀"), 3);
	assert_int_equal(mem_text_valid("\xff\xfe abc"), 3);
	big = malloc(2 * 4097 + 1);
	memset(big, 0, 2 * 4097 + 1);
	for (int i = 0; i < 4096; i++)
		memcpy(big + 2 * i, "я", 2);
	assert_int_equal(mem_text_valid(big), 0);	/* 4096 characters */
	memcpy(big + 2 * 4096, "я", 2);
	assert_int_equal(mem_text_valid(big), 2);
	free(big);
}

static void
test_truncate(void **state)
{
	char *s;

	(void)state;
	s = mem_truncate16("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	s = mem_truncate16("яяя", 2);
	assert_string_equal(s, "яя");
	free(s);
	s = mem_truncate16("a😀b", 2);	/* the emoji is 2 units */
	assert_string_equal(s, "a");
	free(s);
	s = mem_truncate16("a😀b", 3);
	assert_string_equal(s, "a😀");
	free(s);
}

static void
test_parse(void **state)
{
	int hh, mm;

	(void)state;
	assert_int_equal(mem_parse_day("sunday"), 0);
	assert_int_equal(mem_parse_day("Monday"), 1);
	assert_int_equal(mem_parse_day("sat"), 6);
	assert_int_equal(mem_parse_day("воскресенье"), 0);
	assert_int_equal(mem_parse_day("Среда"), 3);
	assert_int_equal(mem_parse_day("пт"), 5);
	assert_int_equal(mem_parse_day("7"), 0);
	assert_int_equal(mem_parse_day("1"), 1);
	assert_int_equal(mem_parse_day("8"), -1);
	assert_int_equal(mem_parse_day("blah"), -1);
	assert_int_equal(mem_parse_day(""), -1);
	assert_int_equal(mem_parse_hhmm("12:00", &hh, &mm), 0);
	assert_int_equal(hh * 100 + mm, 1200);
	assert_int_equal(mem_parse_hhmm("9:05", &hh, &mm), 0);
	assert_int_equal(hh * 100 + mm, 905);
	assert_int_equal(mem_parse_hhmm("23:59", &hh, &mm), 0);
	assert_int_equal(mem_parse_hhmm("24:00", &hh, &mm), -1);
	assert_int_equal(mem_parse_hhmm("12:60", &hh, &mm), -1);
	assert_int_equal(mem_parse_hhmm("12:0", &hh, &mm), -1);
	assert_int_equal(mem_parse_hhmm("12:000", &hh, &mm), -1);
	assert_int_equal(mem_parse_hhmm("123:00", &hh, &mm), -1);
	assert_int_equal(mem_parse_hhmm("-1:00", &hh, &mm), -1);
	assert_true(mem_zone_ok("Europe/Copenhagen"));
	assert_true(mem_zone_ok("UTC"));
	assert_false(mem_zone_ok("Mars/Olympus"));
	assert_false(mem_zone_ok("../../etc/passwd"));
	assert_false(mem_zone_ok("/etc/localtime"));
	assert_false(mem_zone_ok(""));
}

/* 2025-03-30 and 2025-10-26 are the DST Sundays of Europe/Copenhagen. */
static void
test_occurrence(void **state)
{
	struct mem_sched s = { 0, 12, 0, "Europe/Copenhagen" };
	char date[11];
	time_t when;

	(void)state;
	/* 10:30 UTC = 12:30 CEST: today's 12:00 CEST is 10:00 UTC. */
	assert_int_equal(mem_last_occurrence(1743330600, &s, &when, date), 0);
	assert_int_equal(when, 1743328800);
	assert_string_equal(date, "2025-03-30");
	/* 09:30 UTC: still last week's (2025-03-23 11:00 UTC, CET). */
	assert_int_equal(mem_last_occurrence(1743327000, &s, &when, date), 0);
	assert_int_equal(when, 1742727600);
	assert_string_equal(date, "2025-03-23");
	/* 02:30 on the fall-back day: the first one, 00:30 UTC. */
	s.hh = 2;
	s.mm = 30;
	assert_int_equal(mem_last_occurrence(1761442800, &s, &when, date), 0);
	assert_int_equal(when, 1761438600);
	assert_string_equal(date, "2025-10-26");
	/* UTC, Wednesday 08:00, asked on a Wednesday at 07:00. */
	s.wday = 3;
	s.hh = 8;
	s.mm = 0;
	s.zone = "UTC";
	assert_int_equal(mem_last_occurrence(1736924400, &s, &when, date), 0);
	assert_string_equal(date, "2025-01-08");
}

static void
test_seal(void **state)
{
	struct mem m;
	char *sealed, *plain, *bad;

	(void)state;
	memset(&m, 0, sizeof m);
	memset(m.key, 0x42, sizeof m.key);
	sealed = mem_seal(&m, 7, "секрет недели");
	assert_non_null(sealed);
	assert_true(mem_is_sealed(sealed));
	assert_null(strstr(sealed, "секрет"));
	plain = mem_open(&m, 7, sealed);
	assert_string_equal(plain, "секрет недели");
	free(plain);
	assert_null(mem_open(&m, 8, sealed));	/* another user's row */
	bad = strdup(sealed);
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	assert_null(mem_open(&m, 7, bad));	/* tampered */
	free(bad);
	m.key[0] ^= 1;
	assert_null(mem_open(&m, 7, sealed));	/* another key */
	free(sealed);
	plain = mem_open(&m, 7, "старый текст");	/* a plaintext row */
	assert_string_equal(plain, "старый текст");
	free(plain);
	assert_null(mem_open(&m, 7, "$mem1$!!"));
	assert_null(mem_open(&m, 7, "$mem1$"));
	assert_null(mem_open(&m, 7, "$mem1$QUFBQQ=="));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_valid),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_occurrence),
		cmocka_unit_test(test_seal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
