/*
 * Readiness and heartbeats to botd over an inherited fd, in the spirit of
 * sd_notify(3): botd starts a bot with BOTD_NOTIFY_FD=<fd> (the write end
 * of a pipe, or a socket) and, if it wants heartbeats, BOTD_WATCHDOG_SEC.
 * The bot writes newline-terminated lines: "READY=1", "WATCHDOG=1",
 * "STATUS=...".
 *
 * Writes never block and never raise SIGPIPE: a full pipe drops the line
 * (counted, see bc_notify_dropped()); botd gone (EPIPE) is logged once and
 * disables notification. Without BOTD_NOTIFY_FD everything is a no-op
 * that succeeds, so a bot runs the same by hand.
 *
 * The state is process-wide, as the environment is.
 */
#ifndef BOTCOMMON_NOTIFY_H
#define BOTCOMMON_NOTIFY_H

#include <stdint.h>

#include <event2/event.h>

#define BC_NOTIFY_STATUS_MAX	200	/* bytes of STATUS= text */

/*
 * Read BOTD_NOTIFY_FD (a decimal fd, open, a pipe's write end or a socket)
 * and BOTD_WATCHDOG_SEC (seconds, fractions allowed: "2.5"), unset both so
 * children do not inherit them, and mark the fd close-on-exec. Returns 0
 * (also when the variable is absent: notification is then off), or -1
 * with a warning when a value is invalid: a bad fd turns notification
 * off, a bad interval turns heartbeats off. Calling it again starts over.
 */
int	bc_notify_init(void);

/* 1 if lines are being sent to botd, else 0. */
int	bc_notify_enabled(void);

/* The interval botd wants heartbeats within, in ms; 0 = none. */
int64_t	bc_notify_watchdog_ms(void);

/*
 * Send "READY=1" the first time (later calls do nothing and return 0).
 * These return 0 when the line went out or notification is off, -1 when
 * the line was dropped or botd went away.
 */
int	bc_notify_ready(void);
int	bc_notify_watchdog(void);	/* "WATCHDOG=1" */

/* "STATUS=<text>": newlines and other control bytes become spaces, cut at
 * BC_NOTIFY_STATUS_MAX bytes on a character boundary. */
int	bc_notify_status(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * Send WATCHDOG=1 from a repeating timer on base (borrowed) at half the
 * interval, so a stuck loop stops the heartbeats. Nothing happens without
 * an interval or with notification off. Returns 0, or -1 when the timer
 * cannot be added. Call bc_notify_close() before freeing base.
 */
int	bc_notify_start_watchdog(struct event_base *base);

/* Lines dropped because the pipe was full. */
uint64_t bc_notify_dropped(void);

/* Stop the timer, close the fd and forget everything. */
void	bc_notify_close(void);

#endif /* BOTCOMMON_NOTIFY_H */
