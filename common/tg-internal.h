/*
 * Private to the tg module (tg.c, tg-queue.c, tg-updates.c) and its unit
 * tests: the rate limiter of the outgoing queue.
 *
 * The limiter is pure: it never reads a clock or arms a timer. The caller
 * passes the time in, asks which queued item may go now (tg_lim_next()),
 * and is told when the next one will be due. Items are embedded in the
 * caller's own structures and stay owned by the caller; the limiter owns
 * only its per-chat state.
 *
 * Rules:
 *  - global: at most rate sends per second, evenly spaced (GCRA, no burst);
 *  - per chat: one send per interval, with bursts of up to burst (GCRA);
 *  - per group (chat id < 0): at most group_n sends in any 60 s window
 *    (an exact sliding window of the last group_n send times);
 *  - a pause (after a 429) holds every send until it ends;
 *  - a chat has at most one item on the wire, and its items go in order;
 *  - among items that may go, normal ones before bulk ones, then by the
 *    time they became ready, then first queued first;
 *  - at most max_inflight items on the wire.
 */
#ifndef BOTCOMMON_TG_INTERNAL_H
#define BOTCOMMON_TG_INTERNAL_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <botcommon/backoff.h>

#define TG_NOCHAT	INT64_MIN	/* an item without chat limits */
#define TG_NEVER	INT64_MAX
#define TG_GROUP_WINDOW_MS	60000

/* Generic cell rate algorithm (a token bucket in one number). */
struct tg_gcra {
	int64_t		 tat_us;	/* theoretical arrival time */
	int64_t		 t_us;		/* emission interval */
	int64_t		 tau_us;	/* (burst - 1) * t */
};

struct tg_item;

struct tg_chat {
	int64_t		 id;
	struct tg_chat	*hnext;		/* hash chain */
	TAILQ_ENTRY(tg_chat) idle;	/* while it has nothing */
	int		 is_idle;
	int		 busy;		/* its head is on the wire */
	struct tg_item	*head;
	struct tg_item	*tail;
	struct tg_gcra	 gcra;
	int64_t		*win;		/* groups: send times */
	unsigned	 win_pos;	/* the oldest entry */
};

struct tg_item {
	struct tg_item	*next;		/* in its chat's queue */
	struct tg_chat	*chat;		/* NULL: no chat limits */
	int64_t		 enq_ms;
	int64_t		 not_before;	/* retry delay */
	int64_t		 key;		/* may go then, chat-wise */
	uint64_t	 seq;
	size_t		 hidx;		/* in its heap */
	int		 bulk;
	int		 state;		/* TG_ITEM_* */
};

enum {
	TG_ITEM_NONE = 0,
	TG_ITEM_WAITING,	/* behind its chat's head */
	TG_ITEM_READY,		/* in a heap */
	TG_ITEM_SENT,		/* picked, on the wire */
};

struct tg_heap {
	struct tg_item	**v;
	size_t		 n, cap;
};

struct tg_lim_conf {
	double		 global_rate;	/* per s; <= 0: none */
	double		 chat_interval_s; /* <= 0: none */
	int		 chat_burst;	/* >= 1 */
	int		 group_per_min;	/* <= 0: no group limit */
	int		 max_inflight;	/* <= 0: no limit */
};

struct tg_lim {
	struct tg_gcra	 global;
	int64_t		 chat_t_us;
	int64_t		 chat_tau_us;
	unsigned	 group_n;
	size_t		 max_inflight;
	int64_t		 pause_until;
	struct tg_heap	 ready[2];	/* normal, bulk */
	struct tg_chat	**tab;
	size_t		 tabsz;
	size_t		 nchats;
	TAILQ_HEAD(tg_idle, tg_chat) idle;
	size_t		 nqueued;	/* waiting or ready */
	size_t		 inflight;
	uint64_t	 seq;
};

void	tg_lim_init(struct tg_lim *, const struct tg_lim_conf *);
void	tg_lim_release(struct tg_lim *);

/*
 * Queue it (caller-owned, must stay put until tg_lim_done()) for chat
 * (TG_NOCHAT: none) at now.
 */
void	tg_lim_push(struct tg_lim *, struct tg_item *, int64_t chat,
	    int bulk, int64_t now);

/*
 * The item that may go at now, taken out of the queue and charged to the
 * limits, or NULL. *due is when to ask again: the time the next item can
 * go, or TG_NEVER when nothing is waiting for time (the queue is empty, or
 * full in flight: ask again after tg_lim_done()).
 */
struct tg_item *tg_lim_next(struct tg_lim *, int64_t now, int64_t *due);

/* The item picked is finished: the next one of its chat gets its turn. */
void	tg_lim_done(struct tg_lim *, struct tg_item *, int64_t now);

/* The item picked goes back to the head of its chat, not before then. */
void	tg_lim_retry(struct tg_lim *, struct tg_item *, int64_t not_before,
	    int64_t now);

/* Hold every send until then (later pauses extend it). */
void	tg_lim_pause(struct tg_lim *, int64_t until);

/* The chat's state (NULL when it has none now). Borrowed. */
struct tg_chat *tg_lim_chat(struct tg_lim *, int64_t chat);

/* Earliest time the chat allows a send, from its own limits only. */
int64_t	tg_chat_allow(const struct tg_lim *, const struct tg_chat *);

/* ---------------------------------------------------------------- client */

struct bc_tg;
struct bc_tg_result;
struct event;
struct bc_http_call;
struct bc_httpd_req;

#define TG_MIGRATIONS_MAX	64

/* A group of calls answered as one (the parts of a long text). */
struct tg_multi {
	int		 refs;
	int		 failed;
	void		(*cb)(const struct bc_tg_result *, void *);
	void		*arg;
};

/* A file to upload with a call. */
struct tg_upload {
	char		*field;
	char		*filename;
	char		*data;
	size_t		 len;
};

typedef void tg_hook(struct bc_tg *, const struct bc_tg_result *);

struct tg_call {
	struct tg_item	 item;		/* the limiter's part */
	TAILQ_ENTRY(tg_call) entry;	/* every call of the client */
	struct bc_tg	*tg;
	char		 method[40];
	json_t		*params;
	struct tg_upload *up;
	int		 flags;
	int		 attempts;	/* HTTP attempts */
	int		 failures;	/* 5xx and network ones */
	int64_t		 chat;		/* key, or TG_NOCHAT */
	int64_t		 migrated_to;
	int64_t		 retry_after;
	int64_t		 started;	/* first queued, for the log */
	struct tg_multi	*multi;
	int		 last;		/* last part of multi */
	tg_hook		*hook;		/* internal, before cb */
	void		(*cb)(const struct bc_tg_result *, void *);
	void		*arg;
	struct bc_http_call *hc;
};

struct tg_migration {
	int64_t		 from;
	int64_t		 to;
};

struct bc_tg {
	struct event_base *base;
	struct bc_http	*http;
	char		*token;
	char		*url;		/* api/bot<token>/... */
	size_t		 urlprefix;
	size_t		 urlcap;
	char		 bot_id[24];	/* public part of the token */
	int64_t		*admins;
	size_t		 nadmins;
	int		 poll_timeout_s;
	json_t		*allowed_updates;
	int64_t		 call_timeout_ms;
	int64_t		 retry_initial_ms;
	int64_t		 retry_max_ms;
	int		 max_attempts;
	int64_t		 conflict_initial_ms;
	int64_t		 (*clock_ms)(void);
	struct bc_metrics *metrics;
	struct bc_metric *m_calls;	/* by method and result */
	struct bc_metric *m_flood;
	struct bc_metric *m_flood_wait;
	struct bc_metric *m_depth;
	struct bc_metric *m_inflight;
	struct bc_metric *m_updates;	/* by outcome */
	struct bc_metric *m_conflicts;
	struct bc_metric *m_rejected;
	struct bc_metric *m_fatal;
	void		(*on_fatal)(struct bc_tg *, const char *, void *);
	void		*fatal_arg;
	int		 fatal;

	struct tg_lim	 lim;
	TAILQ_HEAD(tg_calls, tg_call) calls;
	struct event	*qtimer;
	char		*body;		/* reused for JSON bodies */
	size_t		 bodycap;
	struct tg_migration mig[TG_MIGRATIONS_MAX];
	size_t		 nmig;

	int64_t		 me_id;
	char		*me_username;

	/* Updates in (tg-updates.c). */
	int		 umode;		/* 0, BC_TG_MODE_* + 1 */
	int		 stopping;
	int		 in_handler;
	void		*ucb;
	void		*uarg;
	void		*bcb;		/* bc_tg_batch_cb, or NULL */
	void		*barg;
	int64_t		 offset;
	int64_t		 offset_sent;	/* in last getUpdates */
	struct bc_http_call *poll_hc;
	struct event	*poll_timer;
	struct bc_backoff poll_bo;
	struct bc_backoff conflict_bo;
	char		*wh_secret;
	char		*wh_url;
};

/* tg.c */
int64_t	tg_now(const struct bc_tg *);
/*
 * Queue a call. params (stolen, also on failure; NULL: none) and up
 * (taken on success only) belong to the call; hook runs before cb; a call
 * in a multi reports through it (cb unused). 0, or -1 (logged).
 */
int	tg_enqueue(struct bc_tg *tg, const char *method, json_t *params,
	    int flags, struct tg_upload *up, tg_hook *hook,
	    struct tg_multi *multi, int last,
	    void (*cb)(const struct bc_tg_result *, void *), void *arg);
void	tg_set_fatal(struct bc_tg *, const char *reason);
void	tg_inc(struct bc_metric *);	/* NULL: no-op */
void	tg_count_update(struct bc_tg *, const char *outcome);

/* tg-updates.c */
void	tg_updates_free(struct bc_tg *);

#endif /* BOTCOMMON_TG_INTERNAL_H */
