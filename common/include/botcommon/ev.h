/*
 * The process's event loop (libevent): one event_base per process, signals
 * as events, timers on the monotonic clock, and a scheduler for "every N
 * milliseconds" and "daily at HH:MM in time zone Z".
 *
 * Other modules (http, db, tg, botd) add their own events to the base from
 * bc_ev_base(). Everything here runs on the loop's thread; nothing is
 * thread-safe, and no callback runs inside a raw signal handler.
 *
 * Time zones: glibc has no per-call time zone API, so the daily scheduler
 * sets TZ to the zone's file for the duration of one computation (then
 * calls tzset()) and restores the process's TZ (or its absence) before it
 * returns; the process's own local time is unchanged outside those calls.
 * Zone names are IANA names looked up under $TZDIR or /usr/share/zoneinfo:
 * a name without a TZif file there is an error, never a silent UTC.
 */
#ifndef BOTCOMMON_EV_H
#define BOTCOMMON_EV_H

#include <stdint.h>
#include <time.h>

struct event_base;

/*
 * Create the process's event_base (idempotent) with precise monotonic
 * timers, route libevent's log messages into log_debug()/log_warnx(),
 * ignore SIGPIPE, and make SIGTERM and SIGINT call bc_ev_stop(). Returns 0,
 * or -1 when libevent fails (logged).
 */
int	bc_ev_init(void);

/* The event_base: borrowed, valid until bc_ev_free(); NULL before init. */
struct event_base *bc_ev_base(void);

/*
 * Free the signal events and the libevent events of every timer and
 * scheduler of this module, then the base. Timer and scheduler handles
 * stay valid and owned by their callers (stopped; starting one again uses
 * a new base). Never call it from a callback.
 */
void	bc_ev_free(void);

/*
 * Dispatch events until bc_ev_stop() or until no events are left (the
 * SIGTERM/SIGINT events count, so in practice until bc_ev_stop()). A stop
 * requested while the loop was not running makes the next call return at
 * once. Returns 0, or -1 without a base or when libevent fails.
 */
int	bc_ev_run(void);

/* Make bc_ev_run() return after the current callback; safe anywhere. */
void	bc_ev_stop(void);

/*
 * Signals as libevent events: cb runs from the loop, never in a raw
 * handler. bc_ev_on_signal() sets cb as the action for signo, replacing
 * the previous one; cb == NULL restores the default: stop the loop for
 * SIGTERM and SIGINT, ignore SIGPIPE, and the disposition the signal had
 * before for the others. Initialises the base if needed. Returns 0, or -1
 * with errno EINVAL for a signal that cannot be an event (SIGKILL,
 * SIGSTOP, synchronous faults such as SIGSEGV, out-of-range numbers).
 */
typedef void bc_ev_signal_cb(int signo, void *arg);
int	bc_ev_on_signal(int signo, bc_ev_signal_cb *cb, void *arg);

/*
 * One-shot timers on the monotonic clock; a callback re-arms its timer to
 * repeat. bc_timer_new() returns a stopped timer the caller frees with
 * bc_timer_free() (which also stops it; NULL is a no-op), or NULL with
 * errno EINVAL when cb is NULL. arg is borrowed. A callback may start,
 * stop or free its own timer.
 */
typedef void bc_timer_cb(void *arg);
struct bc_timer *bc_timer_new(bc_timer_cb *cb, void *arg);

/*
 * (Re)arm t to fire once after ms milliseconds (negative = 0), replacing
 * any pending expiry. Initialises the base if needed; a failure is logged.
 */
void	bc_timer_start(struct bc_timer *t, int64_t ms);
void	bc_timer_stop(struct bc_timer *t);
int	bc_timer_pending(const struct bc_timer *t);	/* 1 or 0 */
void	bc_timer_free(struct bc_timer *t);

/*
 * The scheduler. A job's callback may free its own job. Jobs are freed by
 * the caller with bc_sched_free() (NULL is a no-op); arg is borrowed.
 */
typedef void bc_sched_cb(void *arg);

/*
 * Run cb every interval_ms (1 ms to 2^40 ms), the first time one interval
 * from now: fixed rate on the monotonic clock without drift (each target
 * is the previous target plus the interval), and missed periods (a slow
 * callback, a stalled loop) are skipped rather than run in a burst.
 * Returns NULL with errno EINVAL for bad arguments, or when the base
 * cannot be created.
 */
struct bc_sched *bc_sched_every(int64_t interval_ms, bc_sched_cb *cb,
	    void *arg);

/*
 * Run cb once a day when the wall clock in tz reads hhmm ("HH:MM", 00:00
 * to 23:59). tz is an IANA name ("Europe/Copenhagen") or NULL for UTC.
 * Across DST: a time inside the spring-forward gap runs at the first
 * instant after the gap; a time that occurs twice on the fall-back day
 * runs at its first occurrence; the job runs once per calendar day. When
 * its timer fires the wall clock is read again: early (the clock was
 * stepped back) re-arms, and a day's run is never repeated; the timer is
 * re-checked at least every minute, so a clock stepped forward past the
 * time still runs that day's job (late, once). Returns the job, or NULL
 * with *cause (if cause is not NULL) an allocated message the caller
 * frees: bad hhmm, unknown zone, NULL cb.
 */
struct bc_sched *bc_sched_daily(const char *hhmm, const char *tz,
	    bc_sched_cb *cb, void *arg, char **cause);

void	bc_sched_free(struct bc_sched *s);

/*
 * Milliseconds until s next runs (0 when due now), for status and tests;
 * -1 for NULL or a daily job whose next time could not be computed.
 */
int64_t	bc_sched_next_ms(const struct bc_sched *s);

/*
 * Re-read the clock now, as the job's timer does when it fires: run the
 * job if it is due, then re-arm; otherwise only re-arm. For callers that
 * know the wall clock was stepped, and for tests. A no-op inside the
 * job's own callback.
 */
void	bc_sched_recheck(struct bc_sched *s);

/*
 * Replace the clocks the scheduler reads: the monotonic one of every-N
 * jobs and the wall clock (ms since the epoch) of daily jobs; NULL
 * restores the real one. For tests. Timers still run on libevent's clock.
 */
void	bc_sched_set_clock(int64_t (*mono_ms)(void),
	    int64_t (*wall_ms)(void));

/*
 * Pure: the first instant strictly after `after` (Unix seconds, from 1970
 * to the year 3000) at which the wall clock in tz (as in bc_sched_daily)
 * reads hh:mm (0-23, 0-59), with the DST rules above. Returns 0 and sets
 * *next, or -1 with *cause (if cause is not NULL) an allocated message
 * the caller frees. Leaves the process's TZ as it was.
 */
int	bc_sched_next_daily(time_t after, int hh, int mm, const char *tz,
	    time_t *next, char **cause);

/*
 * Pure: the target after prev (monotonic ms) for a job every interval_ms
 * at time now: prev + interval_ms, or when that is already past, the
 * first prev + k * interval_ms not before now (missed periods skipped).
 */
int64_t	bc_sched_every_next(int64_t prev, int64_t interval_ms, int64_t now);

#endif /* BOTCOMMON_EV_H */
