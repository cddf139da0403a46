/*
 * memories: checking a memory's text, cutting it for a card, and dates.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "memories.h"

/* The code point of the n-byte sequence at s (checked by the caller). */
static unsigned long
utf8_cp(const unsigned char *s, size_t n)
{
	unsigned long c;
	size_t i;

	if (n == 1)
		return s[0];
	c = s[0] & (0xff >> (n + 1));
	for (i = 1; i < n; i++)
		c = (c << 6) | (s[i] & 0x3f);
	return c;
}

/* Does code point c count as a letter or digit (roughly isalnum)? */
static int
cp_alnum(unsigned long c)
{
	if (c < 0x80)
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z');
	return (c >= 0xc0 && c <= 0x24f && c != 0xd7 && c != 0xf7) ||
	    (c >= 0x370 && c <= 0x1fff) ||	/* Greek ... Ethiopic, etc. */
	    (c >= 0x3040 && c <= 0x9fff) ||	/* kana, CJK */
	    (c >= 0xac00 && c <= 0xd7af);	/* Hangul */
}

/*
 * Check a memory's text as the original did: not blank, at most
 * MEM_TEXT_MAX characters, at least one letter or digit, and valid UTF-8.
 * 0 when good, else 1 (empty), 2 (too long) or 3 (no letter or digit).
 */
int
mem_text_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, n, chars = 0;
	int alnum = 0, blank = 1;

	if (s == NULL)
		return 1;
	len = strlen(s);
	while (len > 0) {
		if ((n = bc_utf8_seqlen(p, len)) == 0)
			return 3;
		if (n > 1 || (*p != ' ' && *p != '\n' && *p != '\t' &&
		    *p != '\r'))
			blank = 0;
		if (cp_alnum(utf8_cp(p, n)))
			alnum = 1;
		chars++;
		p += n;
		len -= n;
	}
	if (blank)
		return 1;
	if (chars > MEM_TEXT_MAX)
		return 2;
	return alnum ? 0 : 3;
}

/*
 * A copy of s cut to at most max16 UTF-16 units at a character boundary
 * (invalid bytes count one each). Caller frees.
 */
char *
mem_truncate16(const char *s, size_t max16)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), off = 0, units = 0, n, u;

	while (off < len) {
		n = bc_utf8_seqlen(p + off, len - off);
		u = n == 4 ? 2 : 1;
		if (n == 0)
			n = 1;
		if (units + u > max16)
			break;
		units += u;
		off += n;
	}
	return xstrndup(s, off);
}

/* "dd.mm.yyyy" or "dd.mm.yyyy в HH:MM" of t in zone. */
void
mem_fmt_date(time_t t, const char *zone, char buf[32], int with_time)
{
	struct tm tm;

	if (mem_local_tm(t, zone, &tm) == -1) {
		snprintf(buf, 32, "?");
		return;
	}
	if (with_time)
		snprintf(buf, 32, "%02d.%02d.%04d в %02d:%02d", tm.tm_mday,
		    tm.tm_mon + 1, (tm.tm_year + 1900) % 10000, tm.tm_hour,
		    tm.tm_min);
	else
		snprintf(buf, 32, "%02d.%02d.%04d", tm.tm_mday, tm.tm_mon + 1,
		    (tm.tm_year + 1900) % 10000);
}
