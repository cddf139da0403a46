/* Exponential backoff with jitter. */

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <botcommon/backoff.h>

void
bc_backoff_init(struct bc_backoff *b, int64_t initial_ms, int64_t max_ms,
    double jitter)
{
	b->initial_ms = initial_ms;
	b->max_ms = max_ms < initial_ms ? initial_ms : max_ms;
	b->jitter = jitter < 0 ? 0 : jitter > 1 ? 1 : jitter;
	b->attempt = 0;
}

int64_t
bc_backoff_next(struct bc_backoff *b)
{
	int64_t d;

	d = bc_backoff_delay(b->initial_ms, b->max_ms, b->jitter, b->attempt,
	    bc_random_unit());
	if (b->attempt < 64)
		b->attempt++;
	return d;
}

void
bc_backoff_reset(struct bc_backoff *b)
{
	b->attempt = 0;
}

int64_t
bc_backoff_delay(int64_t initial_ms, int64_t max_ms, double jitter,
    unsigned n, double u)
{
	int64_t d = initial_ms;
	double spread;

	while (n-- > 0 && d < max_ms)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	spread = (double)d * jitter * (2.0 * u - 1.0);
	d += (int64_t)spread;
	return d < 0 ? 0 : d;
}

double
bc_random_unit(void)
{
	static int seeded;
	static unsigned short xsubi[3];

	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		xsubi[0] = (unsigned short)ts.tv_nsec;
		xsubi[1] = (unsigned short)(ts.tv_nsec >> 16) ^
		    (unsigned short)getpid();
		xsubi[2] = (unsigned short)ts.tv_sec;
		seeded = 1;
	}
	return erand48(xsubi);
}
