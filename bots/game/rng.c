/*
 * The one source of randomness of the game. Every draw is
 * rng_range(lo, hi), inclusive; rng_percent(p) is rng_range(1, 100) <= p.
 *
 * Production draws come from arc4random_uniform(). For tests,
 * [game] random_script names a file of integers, one a line: each draw
 * takes the first line (and rewrites the file without it), clamped into
 * [lo, hi]; when the file is missing or empty, draws are random again.
 * The order of draws of each command is documented where it draws.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/log.h>
#include <botcommon/xmalloc.h>

#include "game.h"

#define RNG_SCRIPT_MAX	65536

/* Take the first integer of the script file into *v: 0, or -1 (none). */
static int
rng_script_take(const char *path, int64_t *v)
{
	char buf[RNG_SCRIPT_MAX], *nl, *end, *tmp;
	size_t len;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = '\0';
	if (len == 0)
		return -1;
	*v = strtoll(buf, &end, 10);
	if (end == buf) {
		log_warnx("random_script %s: not an integer", path);
		return -1;
	}
	nl = strchr(buf, '\n');
	xasprintf(&tmp, "%s.new", path);
	if ((f = fopen(tmp, "w")) != NULL) {
		if (nl != NULL)
			fputs(nl + 1, f);
		if (fclose(f) == 0)
			rename(tmp, path);
	}
	free(tmp);
	return 0;
}

int64_t
rng_range(int64_t lo, int64_t hi)
{
	uint64_t span, r;
	int64_t v;

	if (hi <= lo)
		return lo;
	if (game.random_script != NULL &&
	    rng_script_take(game.random_script, &v) == 0) {
		if (v < lo)
			v = lo;
		if (v > hi)
			v = hi;
		return v;
	}
	span = (uint64_t)hi - (uint64_t)lo + 1;
	if (span <= UINT32_MAX)
		r = arc4random_uniform((uint32_t)span);
	else {
		arc4random_buf(&r, sizeof r);
		r %= span;
	}
	return (int64_t)((uint64_t)lo + r);
}

int
rng_percent(int64_t pct)
{
	if (pct <= 0)
		return 0;
	return rng_range(1, 100) <= pct;
}
