/*
 * memories: the clock, time zones, and the weekly reminder's occurrence.
 *
 * The clock is the wall clock, unless the environment variable
 * MEMORIES_CLOCK_FILE names a file holding a Unix time in seconds: then
 * that (re-read at every call) is "now". It exists for the tests, which
 * move the clock across a reminder or a DST change; production leaves it
 * unset.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <botcommon/ev.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "memories.h"
#include "msg.h"

int64_t
mem_now_ms(void)
{
	const char *path = getenv("MEMORIES_CLOCK_FILE");
	char buf[32];
	long long v;
	char *end;
	FILE *f;
	size_t n;

	if (path == NULL || *path == '\0' || (f = fopen(path, "re")) == NULL)
		return bc_wall_ms();
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	v = strtoll(buf, &end, 10);
	if (end == buf || v < 0 || v > 32503680000LL)
		return bc_wall_ms();
	return (int64_t)v * 1000;
}

/* 1 if zone is an IANA zone with a TZif file (or "UTC"), else 0. */
int
mem_zone_ok(const char *zone)
{
	time_t next;

	if (zone == NULL || strlen(zone) > MEM_ZONE_MAX)
		return 0;
	if (strcmp(zone, "UTC") == 0)
		return 1;
	return bc_sched_next_daily(0, 12, 0, zone, &next, NULL) == 0;
}

/*
 * The broken-down local time of t in zone (checked with mem_zone_ok()
 * first; anything else is UTC), with the process's TZ restored after.
 */
int
mem_local_tm(time_t t, const char *zone, struct tm *tm)
{
	char *saved = NULL, *val;
	const char *old;
	int rc;

	if (zone == NULL || strcmp(zone, "UTC") == 0 || !mem_zone_ok(zone))
		return gmtime_r(&t, tm) != NULL ? 0 : -1;
	if ((old = getenv("TZ")) != NULL)
		saved = xstrdup(old);
	xasprintf(&val, ":%s", zone);
	setenv("TZ", val, 1);
	free(val);
	tzset();
	rc = localtime_r(&t, tm) != NULL ? 0 : -1;
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	return rc;
}

/*
 * A day of the week: English (the original's "sunday"), Russian, or 1-7
 * from Monday, any case. Returns tm_wday (0 = Sunday), or -1.
 */
int
mem_parse_day(const char *s)
{
	static const char *const en[] = { "sunday", "monday", "tuesday",
	    "wednesday", "thursday", "friday", "saturday" };
	static const char *const ru[] = MSG_DAYS;
	static const char *const ruup[] = { "Воскресенье", "Понедельник",
	    "Вторник", "Среда", "Четверг", "Пятница", "Суббота" };
	static const char *const rushort[] = { "вс", "пн", "вт", "ср", "чт",
	    "пт", "сб" };
	size_t i;

	if (s == NULL)
		return -1;
	if (s[0] >= '1' && s[0] <= '7' && s[1] == '\0')
		return (s[0] - '0') % 7;
	for (i = 0; i < 7; i++)
		if (strcasecmp(s, en[i]) == 0 || (strlen(s) == 3 &&
		    strncasecmp(s, en[i], 3) == 0))
			return (int)i;
	for (i = 0; i < 7; i++)
		if (strcmp(s, ru[i]) == 0 || strcmp(s, ruup[i]) == 0 ||
		    strcmp(s, rushort[i]) == 0)
			return (int)i;
	return -1;
}

/* "HH:MM" (or "H:MM"), 00:00 to 23:59. 0, or -1. */
int
mem_parse_hhmm(const char *s, int *hh, int *mm)
{
	int h = 0, m, i = 0;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	while (i < 2 && isdigit((unsigned char)s[i]))
		h = h * 10 + (s[i++] - '0');
	if (s[i] != ':' || !isdigit((unsigned char)s[i + 1]) ||
	    !isdigit((unsigned char)s[i + 2]) || s[i + 3] != '\0')
		return -1;
	m = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
	if (h > 23 || m > 59)
		return -1;
	*hh = h;
	*mm = m;
	return 0;
}

/* "YYYY-MM-DD" of tm ("" if it does not fit). */
void
mem_ymd(const struct tm *tm, char date[11])
{
	if (strftime(date, 11, "%Y-%m-%d", tm) == 0)
		date[0] = '\0';
}

/* The English name stored in memories_users.reminder_day. Static. */
const char *
mem_day_name(int wday)
{
	static const char *const en[] = { "sunday", "monday", "tuesday",
	    "wednesday", "thursday", "friday", "saturday" };

	return wday >= 0 && wday < 7 ? en[wday] : "sunday";
}

/* A schedule from a row's strings; anything unreadable is the default. */
void
mem_sched_from_row(struct mem_sched *s, const char *day, const char *hhmm,
    const char *zone)
{
	s->wday = mem_parse_day(day);
	if (s->wday == -1)
		s->wday = 0;
	if (mem_parse_hhmm(hhmm, &s->hh, &s->mm) == -1) {
		s->hh = 12;
		s->mm = 0;
	}
	s->zone = zone != NULL && mem_zone_ok(zone) ? zone : "UTC";
}

/*
 * The latest instant not after now at which the wall clock in the
 * schedule's zone reads its day and HH:MM (DST as in bc_sched_daily: a
 * time in the spring gap is the first instant after it, a repeated time
 * its first occurrence). *when is that instant, date its local date
 * ("YYYY-MM-DD", the week's key). 0, or -1 (no such time: bad zone).
 */
int
mem_last_occurrence(time_t now, const struct mem_sched *s, time_t *when,
    char date[11])
{
	const char *tz = strcmp(s->zone, "UTC") == 0 ? NULL : s->zone;
	time_t t = now - 9 * 86400, n, best = -1;
	struct tm tm;
	int k;

	for (k = 0; k < 12; k++) {
		if (bc_sched_next_daily(t, s->hh, s->mm, tz, &n, NULL) == -1)
			return -1;
		if (n > now)
			break;
		if (mem_local_tm(n, s->zone, &tm) == -1)
			return -1;
		if (tm.tm_wday == s->wday) {
			best = n;
			mem_ymd(&tm, date);
		}
		t = n;
	}
	if (best == -1)
		return -1;
	*when = best;
	return 0;
}
