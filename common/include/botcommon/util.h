/*
 * Small shared definitions: exit codes and clocks.
 */
#ifndef BOTCOMMON_UTIL_H
#define BOTCOMMON_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes (DJB/s6): botd does not restart a 100 with backoff. */
#define BC_EXIT_OK	0
#define BC_EXIT_PERM	100	/* bad config or usage: wait for a change */
#define BC_EXIT_TEMP	111	/* temporary: restart with backoff */

#define BC_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Milliseconds, and microseconds, on the monotonic clock. */
int64_t	bc_now_ms(void);
int64_t	bc_now_us(void);

/* Milliseconds since the epoch on the wall clock. */
int64_t	bc_wall_ms(void);

/*
 * Copy src into dst of size dstsz, always NUL-terminated. Returns
 * strlen(src); truncation happened if the result is >= dstsz.
 */
size_t	bc_strlcpy(char *dst, const char *src, size_t dstsz);

/*
 * Length of the well-formed UTF-8 sequence at s (at most n bytes): 1 to 4,
 * or 0 when the bytes there are not valid UTF-8 (overlong forms,
 * surrogates and truncated sequences included).
 */
size_t	bc_utf8_seqlen(const unsigned char *s, size_t n);

/* The value of hex digit c (either case), or -1. */
int	bc_hexval(int c);

#endif /* BOTCOMMON_UTIL_H */
