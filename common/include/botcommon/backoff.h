/*
 * Exponential backoff with jitter, shared by every retry loop (HTTP,
 * database reconnects, Telegram, botd restarts) so they all behave alike.
 *
 * The n-th delay (n counting from 0) is initial * 2^n capped at max, then
 * spread by +/- jitter (a fraction, 0.2 = 20 %). A value struct: embed it,
 * initialise with bc_backoff_init(), no release needed.
 */
#ifndef BOTCOMMON_BACKOFF_H
#define BOTCOMMON_BACKOFF_H

#include <stdint.h>

struct bc_backoff {
	int64_t		initial_ms;
	int64_t		max_ms;
	double		jitter;
	unsigned	attempt;	/* delays handed out since the reset */
};

void	bc_backoff_init(struct bc_backoff *, int64_t initial_ms,
	    int64_t max_ms, double jitter);

/* Next delay in ms; advances the attempt counter. */
int64_t	bc_backoff_next(struct bc_backoff *);

/* Back to the first delay (after a success or a stable period). */
void	bc_backoff_reset(struct bc_backoff *);

/*
 * The delay for attempt n with the jitter drawn from u in [0,1): pure, for
 * callers with their own counter and for tests.
 */
int64_t	bc_backoff_delay(int64_t initial_ms, int64_t max_ms, double jitter,
	    unsigned n, double u);

/* A uniform double in [0,1) from a process-wide PRNG seeded at first use. */
double	bc_random_unit(void);

#endif /* BOTCOMMON_BACKOFF_H */
