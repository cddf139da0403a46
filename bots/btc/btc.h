/*
 * btc: the Bitcoin price bot. Private header: the bot's state, its
 * configuration and the functions of its files, grouped by file.
 *
 * The price comes from a list of sources (CoinMarketCap with rotated keys,
 * then a keyless fallback), is cached for [btc] cache, and every consumer
 * (the /price messages, the alerts, the step announcements) runs when a
 * fetch completes: nothing waits for the network inside a handler.
 */
#ifndef BTC_H
#define BTC_H

#include <sys/queue.h>

#include <stdint.h>

#include <botcommon/backoff.h>
#include <botcommon/bot.h>

#define BTC_MAX_USD		10000000LL	/* largest target accepted */
#define BTC_KEY_ID_LEN		16		/* hex of SHA-256 shown */

struct btc_conf {
	const char	*cmc_url;		/* borrowed from the conf */
	const char	*fallback_url;
	char		**keys;			/* CoinMarketCap keys, owned */
	size_t		 nkeys;
	long long	 key_limit;		/* requests per key in 30 days */
	int64_t		 cache_ms;
	int64_t		 check_ms;
	int64_t		 live_for_ms;
	int64_t		 announce_ms;
	int64_t		 source_backoff_ms;
	int64_t		 timeout_ms;
	int64_t		 tolerance_cents;
	int64_t		 step_cents;
	int64_t		 announce_chat;		/* 0: no announcements */
	long long	 max_alerts;
};

/* One price source; see price.c. */
struct btc_source {
	const char		*name;
	int			 enabled;
	int64_t			 skip_until;	/* monotonic ms */
	struct bc_backoff	 bo;
};

/* A Telegram call in flight whose callback needs the bot: owned by the
 * list in struct btc until the callback runs or the bot stops. */
struct btc_call {
	LIST_ENTRY(btc_call)	 entry;
	struct btc		*b;
	int64_t			 chat_id;
	int64_t			 gen;
	int64_t			 cents;
};

struct btc {
	struct btc_conf		 c;
	struct bc_bot_env	*env;		/* borrowed, from setup on */

	/* price.c */
	int64_t			 price_cents;
	int64_t			 price_at;	/* monotonic ms; 0: never */
	const char		*price_src;	/* static */
	int			 fetching;
	int			 cur;		/* source being tried */
	int			 cur_key;	/* key of the CMC call, or -1 */
	unsigned		 key_rr;	/* turns without the database */
	int64_t			*key_bad_until;	/* per key, monotonic ms */
	struct btc_source	 src[2];

	/* jobs.c */
	struct bc_sched		*tick;
	struct bc_sched		*announce;
	struct bc_timer		*kick;
	int			 announce_due;
	int			 last_ok;	/* the last fetch worked */
	LIST_HEAD(, btc_call)	 calls;
};

/* main.c */
extern struct btc	 btc_state;

/* price.c */
int	 btc_price_configure(struct btc *, char **cause);
int	 btc_price_fresh(const struct btc *, int64_t *cents);
void	 btc_price_want(struct btc *);
int	 btc_price_parse_cmc(const char *body, int64_t *cents, char **cause);
int	 btc_price_parse_coinbase(const char *body, int64_t *cents,
	    char **cause);

/* jobs.c */
int	 btc_jobs_start(struct btc *, char **cause);
void	 btc_jobs_stop(struct btc *);
void	 btc_jobs_kick(struct btc *);
void	 btc_price_done(struct btc *, int ok);

/* texts.c: the message catalogue and formatting. */
struct btc_texts {
	const char	*start;
	const char	*price;
	const char	*unavailable;
	const char	*ask_target;
	const char	*bad_target;
	const char	*alert_set;
	const char	*too_many;
	const char	*list_empty;
	const char	*list_head;
	const char	*list_item;
	const char	*delete_choose;
	const char	*delete_button;
	const char	*delete_done;
	const char	*delete_none;
	const char	*delete_usage;
	const char	*reached;
	const char	*step_up;
	const char	*step_down;
	const char	*cancelled;
	const char	*nothing_to_cancel;
	const char	*unknown;
	const char	*error;
	const char	*wait;
};
extern const struct btc_texts btc_texts;

void	 btc_fmt_usd(char *buf, size_t sz, int64_t cents, int with_cents);
int	 btc_parse_usd(const char *s, int64_t *cents);

#endif /* BTC_H */
