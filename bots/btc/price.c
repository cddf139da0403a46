/*
 * The price sources behind one small interface: a list tried in order,
 * each with its URL, its parser and its own backoff. CoinMarketCap
 * (quotes/latest, keys from [btc] cmc_keys_file) comes first when keys are
 * configured; the keyless Coinbase spot price is the fallback. A source
 * that fails (after the http module's own retries) is skipped for a
 * growing delay; a key CoinMarketCap refuses is rested for an hour. The
 * price is cached for [btc] cache and all consumers run from
 * btc_price_done() when a fetch ends.
 *
 * Keys are rotated as in the original: the key with the fewest requests
 * in the last 30 days (counted in btc_cmc_usage under a hash of the key,
 * never the key) is used, and none once every key reached [btc]
 * cmc_key_limit.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <botcommon/conf.h>
#include <botcommon/crypto.h>
#include <botcommon/db.h>
#include <botcommon/http.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "btc.h"

#define SRC_CMC			0
#define SRC_FALLBACK		1
#define PRICE_MAX_USD		100000000.0	/* anything above is garbage */
#define KEY_REST_MS		(60 * 60 * 1000)
#define RESPONSE_MAX		(1024 * 1024)


static void	 price_next(struct btc *);

/* Split the keys file into b->c.keys: one key a line, '#' comments. */
static void
price_split_keys(struct btc *b, char *text)
{
	char *line, *save = NULL, *p, *e;

	for (line = strtok_r(text, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save)) {
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*e = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		b->c.keys = xreallocarray(b->c.keys, b->c.nkeys + 1,
		    sizeof *b->c.keys);
		b->c.keys[b->c.nkeys++] = xstrdup(p);
		log_redact(p);
	}
}

int
btc_price_configure(struct btc *b, char **cause)
{
	struct bc_conf *cf = b->env->conf;
	char *text = NULL;
	int rc;

	if (bc_conf_str(cf, "btc", "cmc_api_url",
	    "https://pro-api.coinmarketcap.com", &b->c.cmc_url, cause) == -1 ||
	    bc_conf_str(cf, "btc", "fallback_url", "https://api.coinbase.com",
	    &b->c.fallback_url, cause) == -1 ||
	    bc_conf_int(cf, "btc", "cmc_key_limit", 10000, 1, 100000000,
	    &b->c.key_limit, cause) == -1)
		return -1;
	rc = bc_conf_secret(cf, "btc", "cmc_keys_file", "btc.cmc_keys", 0,
	    &text, cause);
	if (rc == -1)
		return -1;
	if (rc == 0) {
		price_split_keys(b, text);
		bc_conf_secret_free(text);
		if (b->c.nkeys == 0) {
			xasprintf(cause, "%s: [btc] cmc_keys_file: no key in "
			    "it", bc_conf_path(cf));
			return -1;
		}
	}
	b->key_bad_until = xcalloc(b->c.nkeys + 1, sizeof *b->key_bad_until);
	b->src[SRC_CMC].name = "coinmarketcap";
	b->src[SRC_CMC].enabled = b->c.nkeys > 0;
	b->src[SRC_FALLBACK].name = "coinbase";
	b->src[SRC_FALLBACK].enabled = 1;
	bc_backoff_init(&b->src[SRC_CMC].bo, b->c.source_backoff_ms,
	    30 * 60 * 1000, 0.2);
	bc_backoff_init(&b->src[SRC_FALLBACK].bo, b->c.source_backoff_ms,
	    30 * 60 * 1000, 0.2);
	return 0;
}

/* 1 with *cents when the cached price is younger than [btc] cache. */
int
btc_price_fresh(const struct btc *b, int64_t *cents)
{
	if (b->price_at == 0 || bc_now_ms() - b->price_at >= b->c.cache_ms)
		return 0;
	*cents = b->price_cents;
	return 1;
}

/* A price from JSON: a positive finite number of dollars, as cents. */
static int
price_from_double(double v, int64_t *cents, char **cause)
{
	if (!isfinite(v) || v <= 0 || v > PRICE_MAX_USD) {
		xasprintf(cause, "implausible price %g", v);
		return -1;
	}
	*cents = llround(v * 100.0);
	return *cents > 0 ? 0 : -1;
}

/* {"status":{"error_code":0},"data":{"BTC":{"quote":{"USD":{"price":N}}}}}
 * (v1), or "BTC":[{...}] (v2). */
int
btc_price_parse_cmc(const char *body, int64_t *cents, char **cause)
{
	json_t *j, *btc, *price;
	json_error_t err;
	int rc = -1;

	if ((j = json_loads(body, 0, &err)) == NULL) {
		xasprintf(cause, "not JSON: %s", err.text);
		return -1;
	}
	btc = json_object_get(json_object_get(j, "data"), "BTC");
	if (json_is_array(btc))
		btc = json_array_get(btc, 0);
	price = json_object_get(json_object_get(json_object_get(btc, "quote"),
	    "USD"), "price");
	if (!json_is_number(price))
		xasprintf(cause, "no data.BTC.quote.USD.price in the reply");
	else
		rc = price_from_double(json_number_value(price), cents, cause);
	json_decref(j);
	return rc;
}

/* {"data":{"amount":"67000.12","base":"BTC","currency":"USD"}} */
int
btc_price_parse_coinbase(const char *body, int64_t *cents, char **cause)
{
	json_t *j, *data, *amount;
	json_error_t err;
	const char *s;
	char *end;
	double v;
	int rc = -1;

	if ((j = json_loads(body, 0, &err)) == NULL) {
		xasprintf(cause, "not JSON: %s", err.text);
		return -1;
	}
	data = json_object_get(j, "data");
	amount = json_object_get(data, "amount");
	if (!json_is_string(amount) || !json_is_string(json_object_get(data,
	    "currency")) || strcmp(json_string_value(json_object_get(data,
	    "currency")), "USD") != 0) {
		xasprintf(cause, "no USD data.amount in the reply");
		goto out;
	}
	s = json_string_value(amount);
	v = strtod(s, &end);
	if (end == s || *end != '\0') {
		xasprintf(cause, "amount is not a number");
		goto out;
	}
	rc = price_from_double(v, cents, cause);
out:
	json_decref(j);
	return rc;
}

/* The 16 hex digits that stand for key k in btc_cmc_usage. */
static void
price_key_id(const char *key, char *id)
{
	char hex[BC_SHA256_HEXLEN];

	bc_sha256_hex(key, strlen(key), hex);
	memcpy(id, hex, BTC_KEY_ID_LEN);
	id[BTC_KEY_ID_LEN] = '\0';
}

/* Requests made with each key in the last 30 days into used[]; -1 when
 * the database cannot say. */
static int
price_key_usage(struct btc *b, int64_t *used)
{
	struct bc_db_res *res;
	char id[BTC_KEY_ID_LEN + 1], *cause = NULL;
	size_t k;
	int i;

	res = bc_db_query(b->env->db, "SELECT key_id, sum(requests) FROM "
	    "btc_cmc_usage WHERE day > current_date - 30 GROUP BY key_id",
	    0, NULL, &cause);
	if (res == NULL) {
		log_warnx("cmc key usage: %s", cause);
		free(cause);
		return -1;
	}
	for (k = 0; k < b->c.nkeys; k++) {
		used[k] = 0;
		price_key_id(b->c.keys[k], id);
		for (i = 0; i < bc_db_ntuples(res); i++)
			if (strcmp(bc_db_get(res, i, 0), id) == 0)
				bc_db_get_int64(res, i, 1, &used[k]);
	}
	bc_db_res_free(res);
	return 0;
}

/* The least-used key still under the limit and not resting, counted as
 * used; -1 when there is none. */
static int
price_pick_key(struct btc *b)
{
	int64_t *used, now = bc_now_ms();
	char id[BTC_KEY_ID_LEN + 1], *cause = NULL;
	int best = -1;
	size_t k;

	used = xcalloc(b->c.nkeys, sizeof *used);
	if (price_key_usage(b, used) == -1) {
		/* No counts: take turns rather than stop. */
		k = b->key_rr++ % b->c.nkeys;
		free(used);
		return b->key_bad_until[k] > now ? -1 : (int)k;
	}
	for (k = 0; k < b->c.nkeys; k++) {
		if (b->key_bad_until[k] > now || used[k] >= b->c.key_limit)
			continue;
		if (best == -1 || used[k] < used[best])
			best = (int)k;
	}
	free(used);
	if (best == -1)
		return -1;
	price_key_id(b->c.keys[best], id);
	if (bc_db_exec(b->env->db, "INSERT INTO btc_cmc_usage (key_id, day, "
	    "requests) VALUES ($1, current_date, 1) ON CONFLICT (key_id, day) "
	    "DO UPDATE SET requests = btc_cmc_usage.requests + 1",
	    BC_DB_P(id), NULL, &cause) == -1) {
		log_warnx("cmc key usage: %s", cause);
		free(cause);
	}
	return best;
}

static void
price_failed(struct btc *b, const char *why)
{
	struct btc_source *s = &b->src[b->cur];
	int64_t delay = bc_backoff_next(&s->bo);
	char ms[32];

	s->skip_until = bc_now_ms() + delay;
	snprintf(ms, sizeof ms, "%lld", (long long)delay);
	log_kv(LOG_LEVEL_WARN, "price source failed", "source", s->name,
	    "error", why, "retry_in_ms", ms, NULL);
	price_next(b);
}

static void
price_cb(const struct bc_http_resp *resp, void *arg)
{
	struct btc *b = arg;
	struct btc_source *s = &b->src[b->cur];
	int64_t cents;
	char *cause = NULL, why[64];
	int rc;

	if (resp->error != BC_HTTP_OK) {
		price_failed(b, bc_http_strerror(resp->error));
		return;
	}
	if (resp->status != 200) {
		if (b->cur == SRC_CMC && b->cur_key >= 0 &&
		    (resp->status == 401 || resp->status == 402 ||
		    resp->status == 403 || resp->status == 429))
			b->key_bad_until[b->cur_key] = bc_now_ms() +
			    KEY_REST_MS;
		snprintf(why, sizeof why, "HTTP status %ld", resp->status);
		price_failed(b, why);
		return;
	}
	rc = b->cur == SRC_CMC ? btc_price_parse_cmc(resp->body, &cents,
	    &cause) : btc_price_parse_coinbase(resp->body, &cents, &cause);
	if (rc == -1) {
		price_failed(b, cause != NULL ? cause : "bad reply");
		free(cause);
		return;
	}
	bc_backoff_reset(&s->bo);
	b->price_cents = cents;
	b->price_at = bc_now_ms();
	b->price_src = s->name;
	b->fetching = 0;
	log_kv(LOG_LEVEL_DEBUG, "price", "source", s->name, NULL);
	btc_price_done(b, 1);
}

/* Start the request of source i: 0, or -1 when it cannot be made. */
static int
price_start(struct btc *b, int i)
{
	struct bc_http_req req = BC_HTTP_REQ_ZERO;
	const char *hdrs[2] = { NULL, NULL };
	char *url, *hdr = NULL, *cause = NULL;
	int k = -1;

	if (i == SRC_CMC) {
		if ((k = price_pick_key(b)) == -1) {
			log_debug("no coinmarketcap key is usable now");
			return -1;
		}
		xasprintf(&url, "%s/v1/cryptocurrency/quotes/latest?symbol=BTC"
		    "&convert=USD", b->c.cmc_url);
		xasprintf(&hdr, "X-CMC_PRO_API_KEY: %s", b->c.keys[k]);
		hdrs[0] = hdr;
		req.headers = hdrs;
	} else
		xasprintf(&url, "%s/v2/prices/BTC-USD/spot", b->c.fallback_url);
	b->cur_key = k;
	req.url = url;
	req.timeout_ms = b->c.timeout_ms;
	req.max_retries = 2;
	req.backoff_initial_ms = 500;
	req.backoff_max_ms = 4000;
	req.max_response = RESPONSE_MAX;
	if (bc_http_start(b->env->http, &req, price_cb, b, &cause) == NULL) {
		log_warnx("price: %s: %s", b->src[i].name, cause);
		free(cause);
		k = -2;
	}
	free(url);
	free(hdr);
	return k == -2 ? -1 : 0;
}

/* Try the sources after b->cur; report a failure when none is left. */
static void
price_next(struct btc *b)
{
	int64_t now = bc_now_ms();
	int i;

	for (i = b->cur + 1; i < (int)BC_NELEM(b->src); i++) {
		if (!b->src[i].enabled || b->src[i].skip_until > now)
			continue;
		b->cur = i;
		if (price_start(b, i) == 0)
			return;
	}
	b->fetching = 0;
	btc_price_done(b, 0);
}

/*
 * Make sure consumers run with a fresh price: at once when the cache is
 * fresh, otherwise when the fetch started here (or already running) ends.
 */
void
btc_price_want(struct btc *b)
{
	int64_t cents;

	if (btc_price_fresh(b, &cents)) {
		btc_price_done(b, 1);
		return;
	}
	if (b->fetching)
		return;
	b->fetching = 1;
	b->cur = -1;
	price_next(b);
}
