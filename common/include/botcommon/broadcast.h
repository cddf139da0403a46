/*
 * Broadcasts: one text to many chats at the highest rate Telegram allows
 * for bulk sends, with progress in PostgreSQL so a restart resumes without
 * losing or repeating anything.
 *
 *   id = bc_broadcast_create(db, "game", text, BC_TG_HTML, ids, n, &cause);
 *   b = bc_broadcast_new(&opts, &cause);
 *   bc_broadcast_run(b, &cause);	   (then the event loop does the work)
 *
 * A job is a broadcast_jobs row with one broadcast_recipients row per
 * chat. The runner sends to one pending recipient at a time through the
 * sender (bc_tg_send_text() with BC_TG_BULK, so replies to live users go
 * first), at most opts.rate per second and opts.max_inflight at once, and
 * marks each recipient when its call completes: "sent" (never sent again),
 * or "failed" for 403 (blocked, deactivated, kicked), 400 "chat not found"
 * and any other refusal of the request, recorded with the error and not
 * retried. A group that became a supergroup is followed by the tg client
 * and the new id is recorded in migrated_to. A call that finally fails for
 * a transient reason (network, 5xx) stays pending and is tried again, up
 * to opts.max_attempts times. A recipient whose call was on the wire when
 * the process died is pending and is sent again on resume (Telegram gives
 * no way to tell), so the in-flight bound is also the duplicate bound.
 * With opts.at_most_once, each recipient is marked in flight in the
 * database before its call is queued instead; one still marked when a
 * job is resumed may or may not have got the message, and is never sent
 * again: it is failed with an error starting "uncertain", logged, and
 * counted in the progress (uncertain), so nobody gets it twice.
 *
 * Timers run on the process's event loop (<botcommon/ev.h>). The sender's
 * callbacks point into the runner: free the tg client first (it drops
 * queued calls without running their callbacks), or wait for
 * bc_broadcast_idle().
 */
#ifndef BOTCOMMON_BROADCAST_H
#define BOTCOMMON_BROADCAST_H

#include <stddef.h>
#include <stdint.h>

#include <botcommon/router.h>

struct bc_db;
struct bc_metrics;
struct bc_broadcast;

/* Counts of one job. */
struct bc_broadcast_progress {
	int64_t		 job_id;
	int64_t		 total;
	int64_t		 sent;
	int64_t		 failed;	/* uncertain ones included */
	int64_t		 uncertain;	/* in flight when a process died */
	int64_t		 pending;
	int		 done;		/* 1: finished (or cancelled) */
};

/* Progress report; p is borrowed. Must not free the runner. */
typedef void bc_broadcast_cb(const struct bc_broadcast_progress *p,
	    void *arg);

struct bc_broadcast_opts {
	const char	*bot;		/* required; copied */
	struct bc_db	*db;		/* required; borrowed */
	struct bc_tg	*tg;		/* borrowed; required unless sender */
	const struct bc_router_sender *sender;	/* NULL: tg; copied */
	double		 rate;		/* sends per second; 0: 25 */
	int		 max_inflight;	/* calls at once; 0: 4 */
	int		 max_attempts;	/* transient failures before a
					   recipient is failed; 0: 3 */
	int		 at_most_once;	/* 1: mark in flight, never send
					   twice (see above) */
	int64_t		 poll_ms;	/* idle: look for new jobs this often;
					   0: 10 s; -1: only on
					   bc_broadcast_run() */
	bc_broadcast_cb	*progress;	/* after each completion; may be
					   NULL */
	void		*arg;
	struct bc_metrics *metrics;	/* borrowed; NULL: none */
};

/*
 * Create a job for chat_ids (n of them; duplicates count once; no 0)
 * with text (non-empty UTF-8, copied) and flags (BC_TG_HTML...; BC_TG_BULK
 * is added when sending). Inside an open transaction the rows are
 * written in it (and go out only after the caller commits and the runner
 * finds them); otherwise in a transaction of its own. Returns the job id,
 * or -1 with *cause (caller frees).
 */
int64_t	bc_broadcast_create(struct bc_db *, const char *bot, const char *text,
	    int flags, const int64_t *chat_ids, size_t n, char **cause);

/* The counts of a job; 0, or -1 with *cause (caller frees). */
int	bc_broadcast_status(struct bc_db *, int64_t job_id,
	    struct bc_broadcast_progress *, char **cause);

/*
 * Stop a job: its pending recipients are not sent to (a call already on
 * the wire still completes). 0, or -1 with *cause (caller frees) when the
 * job does not exist or is not running.
 */
int	bc_broadcast_cancel(struct bc_db *, int64_t job_id, char **cause);

/*
 * A runner for one bot's jobs. Returns a runner the caller frees with
 * bc_broadcast_free() (NULL is a no-op), or NULL with *cause (caller
 * frees) for bad options.
 */
struct bc_broadcast *bc_broadcast_new(const struct bc_broadcast_opts *,
	    char **cause);
void	bc_broadcast_free(struct bc_broadcast *);

/*
 * Start (or resume) sending the bot's unfinished jobs, oldest first; the
 * work goes on from the event loop, and an idle runner looks for new jobs
 * every opts.poll_ms. Calling it while busy is harmless. Must be called
 * outside a transaction (after the commit of a job created in one). 0, or
 * -1 with *cause (caller frees) when the database cannot be read (the
 * runner tries again by itself after a while) or a transaction is open.
 */
int	bc_broadcast_run(struct bc_broadcast *, char **cause);

/* 1 when no job is being sent and nothing is in flight, else 0. */
int	bc_broadcast_idle(const struct bc_broadcast *);

#endif /* BOTCOMMON_BROADCAST_H */
