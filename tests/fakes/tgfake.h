/*
 * tgfake: a fake Telegram Bot API server for tests (private header).
 *
 * One process, one libevent loop, one global state F. Files:
 *   tgfake.c   main, options, the HTTP front door, request lifecycle, calls
 *   params.c   request parameters: query, form, JSON and multipart bodies
 *   text.c     UTF-8/UTF-16 lengths, parse_mode HTML, reply_markup checks
 *   store.c    bots, chats, messages, the update queue, callback queries
 *   api.c      the Bot API methods that act on chats and messages
 *   updates.c  getUpdates (long polling), webhooks (delivery with retries)
 *   limits.c   rate limits, fault injection, counters
 *   ctl.c      the control API under /_ctl/
 */
#ifndef TGFAKE_H
#define TGFAKE_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct event;
struct event_base;
struct evhttp;
struct evhttp_connection;
struct evhttp_request;
struct rq;

#define TG_TEXT_MAX		4096	/* UTF-16 units, after parsing */
#define TG_CAPTION_MAX		1024
#define TG_CBDATA_MAX		64	/* bytes */
#define TG_CBANSWER_MAX		200
#define TG_POLL_MAX_S		3600	/* longest getUpdates hold */
#define TG_CBQ_RING		4096	/* callback queries kept */

/* A token bucket's configuration; per_ms == 0 means no limit. */
struct rate {
	double	per_ms;
	double	burst;
	char	spec[32];
};

struct bucket {
	double	tokens;
	int64_t	last_ms;		/* 0: not used yet, full */
};

struct stats {
	uint64_t	calls;
	uint64_t	too_many;	/* 429 from the rate limits */
	uint64_t	faults;		/* injected faults applied */
	uint64_t	dropped;	/* connections dropped on purpose */
	uint64_t	gone;		/* clients that left while held */
	uint64_t	queued;
	uint64_t	confirmed;
	uint64_t	overflow;	/* oldest updates dropped when full */
	uint64_t	filtered;	/* refused by allowed_updates */
	uint64_t	wh_ok;
	uint64_t	wh_fail;
	json_t		*by_method;	/* {"method":{"200":n,...}} */
};

enum upd_state {
	UPD_QUEUED = 0,
	UPD_INFLIGHT,
	UPD_DONE,
};

struct upd {
	int64_t	 id;
	char	*json;			/* serialized update, owned */
	size_t	 len;
	int	 state;			/* enum upd_state */
};

/* Ring buffer of updates; ids are consecutive from the front. */
struct updq {
	struct upd	*v;
	size_t		 cap, head, n;
	size_t		 ndone;		/* delivered, not popped */
};

struct msg {
	int	 from_bot;
	json_t	*obj;			/* the Message, as seen */
};

struct chat {
	int64_t		 id;
	json_t		*obj;		/* Chat object */
	int		 blocked;
	int64_t		 migrate_to;	/* 0: not migrated */
	int64_t		 pinned;
	struct msg	**v;		/* deque; NULL slot = deleted */
	size_t		 cap, head, n;
	int64_t		 base;		/* message_id of v[head] */
	struct bucket	 b_chat, b_group;
};

/* int64 -> pointer, open addressing; entries are never removed. */
struct i64map {
	int64_t	*keys;
	void	**vals;
	size_t	 cap, n;
};

struct cbq {
	uint64_t	 n;		/* sequence; 0 = empty slot */
	int64_t		 chat_id, message_id;
	char		*data;
	int		 answered;
	json_t		*answer;	/* answerCallbackQuery params */
	json_t		*from;
};

struct whslot {
	struct bot			*bot;
	struct evhttp_connection	*conn;
	int64_t				 upd_id;
	int				 busy;
	int				 error;	/* errcode+1 */
};

struct webhook {
	char		*url, *host, *path, *secret;
	int		 port, max_conn;
	struct whslot	*slots;
	int		 inflight;
	int64_t		 next_id;	/* where to look for queued */
	struct event	*retry_ev, *pump_ev;
	int64_t		 delay_ms;	/* next retry backoff */
	int		 waiting;	/* in backoff */
	int64_t		 err_date;
	char		*err_msg;
};

struct bot {
	TAILQ_ENTRY(bot)	 entry;
	char			*token;
	int64_t			 id;
	char			*username;
	char			*first_name;
	struct updq		 q;
	int64_t			 next_update_id;
	json_t			*allowed;	/* NULL: default types */
	struct rq		*poll;		/* held getUpdates */
	int			 poll_limit;
	struct webhook		 wh;
	struct i64map		 chats;
	struct chat		**mfifo;	/* message creation order */
	size_t			 mcap, mhead, mn;
	struct cbq		*cbq;		/* TG_CBQ_RING slots */
	uint64_t		 ncbq;
	int64_t			 cbq_base;
	json_t			*commands;	/* scope|lang -> [] */
	uint64_t		 file_seq;
	struct bucket		 b_global;
	struct stats		 st;
};

/* What an injected fault does to one call. */
struct fault_action {
	int	 active;
	int	 status;		/* 0: answer normally after delay */
	int	 html;
	int	 drop;
	int64_t	 delay_ms;
	int	 retry_after;
	char	*desc;			/* owned */
};

struct fault {
	TAILQ_ENTRY(fault)	 entry;
	int64_t			 id;
	char			*token, *method;
	int			 count;	/* < 0: unlimited */
	struct fault_action	 act;
};

struct method;
typedef void rq_cb(struct rq *);

/* One HTTP request being answered, or a call from a webhook reply. */
struct rq {
	TAILQ_ENTRY(rq)		 entry;		/* F.held */
	struct evhttp_request	*req;		/* NULL: no client */
	int			 ctl;
	struct bot		*bot;
	struct chat		*chat;		/* resolved chat_id */
	const struct method	*m;
	char			*token;
	char			*mname;		/* method name */
	json_t			*params;
	uint64_t		 seq;		/* call record, 0 = none */
	int			 held;
	struct event		*timer;
	struct event		*watch;
	rq_cb			*on_timer;
	rq_cb			*on_gone;
	void			*owner;
	struct fault_action	 fault;
};

struct call {
	uint64_t	 seq;
	int64_t		 ms;		/* wall clock */
	int64_t		 done_ms;
	char		*token;
	char		*method;
	json_t		*params;
	int		 status;	/* 0 while pending */
	const char	*state;		/* pending, replied, ... */
	char		*error;
	int		 internal;	/* from a webhook reply */
};

struct waiter {
	TAILQ_ENTRY(waiter)	 entry;
	struct rq		*rq;
	char			*token, *method;
	uint64_t		 since;
	int			 want, have, limit;
};

struct fake {
	struct event_base	*base;
	struct evhttp		*http;
	TAILQ_HEAD(, bot)	 bots;
	TAILQ_HEAD(, rq)	 held;
	TAILQ_HEAD(, fault)	 faults;
	TAILQ_HEAD(, waiter)	 waiters;
	int64_t			 fault_seq;
	struct call		*calls;
	size_t			 max_calls;
	uint64_t		 seq;
	struct rate		 r_global, r_chat, r_group;
	struct rate		 d_global, d_chat, d_group;	/* CLI */
	size_t			 max_updates, max_messages;
	int64_t			 first_update_id;
	int			 strict_chats;
	int64_t			 wh_backoff_ms, wh_backoff_max_ms;
	int			 wh_timeout_s;
	uint64_t		 rng;
	struct stats		 st;
	json_t			*sink;		/* /_ctl/sink log */
	uint64_t		 sink_hits;
};

extern struct fake F;

/* A growable byte buffer. */
struct sbuf {
	char	*p;
	size_t	 len, cap;
};

/*
 * Ownership, for every prototype below: an rq is freed by whatever answers
 * it (rq_reply_*, rq_ok*, rq_err*, rq_drop) and json_t results handed to
 * those are stolen; json_t parameters elsewhere are borrowed unless the
 * comment at the definition says otherwise. Bots, chats, messages and
 * updates belong to the store (F and its bots); returned pointers to them
 * are borrowed. char * results are the caller's to free.
 */

/* tgfake.c */
void	 sbuf_add(struct sbuf *, const void *, size_t);
void	 sbuf_str(struct sbuf *, const char *);
uint64_t fake_random(void);
int	 fake_token_valid(const char *);
const char *fake_reason(int);
char	*fake_utf8_clean(const char *);
void	 rq_reply_raw(struct rq *, int, const char *, const char *, size_t,
	    const char *);
void	 rq_reply_json(struct rq *, int, json_t *);
void	 rq_ok(struct rq *, json_t *);
void	 rq_ok_desc(struct rq *, json_t *, const char *);
void	 rq_err(struct rq *, int, const char *);
void	 rq_errf(struct rq *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	 rq_err_params(struct rq *, int, const char *, json_t *);
void	 rq_hold(struct rq *, int64_t, rq_cb *, rq_cb *);
void	 rq_unhold(struct rq *);
void	 rq_drop(struct rq *);
void	 rq_free(struct rq *);
struct rq *rq_new(struct evhttp_request *);
void	 call_start(struct rq *, int);
struct call *call_get(uint64_t);
json_t	*call_json(const struct call *);
void	 calls_clear(void);

/* params.c */
json_t	*params_parse(struct evhttp_request *, char **);
int	 p_i64(json_t *, const char *, int64_t *);
const char *p_str(json_t *, const char *);
int	 p_bool(json_t *, const char *, int *);
json_t	*p_json(json_t *, const char *, int *);
int	 p_is_upload(json_t *);

/* text.c */
int64_t	 text_utf16_len(const char *, size_t);
int	 text_blank(const char *);
int	 text_html_parse(const char *, char **, json_t **, char **);
json_t	*text_command_entities(const char *);
int	 text_markup_check(json_t *, char **);
const char *text_markup_find(json_t *, const char *, const char *);

/* store.c */
struct bot *store_bot_find(const char *);
struct bot *store_bot_add(const char *, int64_t, const char *, const char *);
json_t	*store_bot_user(const struct bot *);
void	 store_bot_clear(struct bot *);
void	 store_bot_free(struct bot *);
int	 updq_push(struct updq *, int64_t, char *, size_t, size_t);
struct upd *updq_at(struct updq *, size_t);
struct upd *updq_find(struct updq *, int64_t);
void	 updq_pop(struct updq *);
void	 updq_clear(struct updq *);
struct chat *store_chat_get(struct bot *, int64_t);
struct chat *store_chat_ensure(struct bot *, int64_t, json_t *);
struct msg *store_msg_add(struct bot *, struct chat *, int, json_t *);
struct msg *store_msg_get(struct chat *, int64_t);
int	 store_msg_delete(struct chat *, int64_t);
char	*store_cbq_new(struct bot *, int64_t, int64_t, const char *,
	    json_t *);
struct cbq *store_cbq_find(struct bot *, const char *);
char	*store_cbq_id(const struct bot *, const struct cbq *);

/* api.c */
void	 api_handle(struct rq *, const char *);
void	 api_internal(struct bot *, json_t *);
void	 api_run(struct rq *);
const char *api_method_name(const struct method *);

/* updates.c */
void	 upd_get_updates(struct rq *);
void	 upd_set_webhook(struct rq *);
void	 upd_delete_webhook(struct rq *);
void	 upd_webhook_info(struct rq *);
int64_t	 upd_enqueue(struct bot *, json_t *, const char *);
int64_t	 upd_enqueue_raw(struct bot *, const char *, size_t);
void	 upd_drop_pending(struct bot *);
void	 upd_webhook_stop(struct bot *);
void	 upd_webhook_stop_conns(struct bot *);
void	 upd_poll_cancel(struct bot *, int, const char *);
size_t	 upd_pending(const struct bot *);

/* limits.c */
int	 limits_parse(const char *, struct rate *);
int	 limits_check(struct bot *, struct chat *, int *);
json_t	*limits_json(void);
void	 limits_reset_buckets(void);
int	 faults_add(json_t *, char **);
void	 faults_clear(void);
json_t	*faults_json(void);
int	 faults_match(const char *, const char *, struct fault_action *);
void	 stats_count(struct bot *, const char *, const char *);
json_t	*stats_json(const struct bot *);
void	 stats_clear(struct stats *);

/* ctl.c */
void	 ctl_handle(struct rq *, const char *);
void	 ctl_call_done(const struct call *);
void	 ctl_waiters_cancel(void);

#endif /* TGFAKE_H */
