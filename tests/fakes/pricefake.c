/*
 * pricefake: a fake Bitcoin price server for the btc bot's tests. It
 * answers CoinMarketCap's quotes/latest and Coinbase's spot price in their
 * JSON shapes, with a price set through a control path, and fails on
 * request.
 *
 *   pricefake [-v] [-l HOST:PORT] [-p PORTFILE] [-P USD]
 *
 *   GET /v1/cryptocurrency/quotes/latest?symbol=BTC&convert=USD
 *       (header X-CMC_PRO_API_KEY required: 401 without it)
 *   GET /v2/prices/BTC-USD/spot
 *   /_ctl/price?usd=N          set the price (N > 0, up to 2 decimals)
 *   /_ctl/fail?source=cmc|coinbase&mode=M&count=N
 *                              the next N (0: all) requests to the source
 *                              fail: M is an HTTP status (401, 429, 500,
 *                              503...), "garbage" (200, not JSON),
 *                              "negative" (200, a price of -1) or "none"
 *                              (clear)
 *   /_ctl/stats                {"price","cmc","coinbase","cmc_failed",
 *                              "coinbase_failed","keys":{KEY:N}}
 *   /_ctl/reset                counters and failures cleared
 *   /_ctl/health               true
 *
 * Like tgfake: -l defaults to 127.0.0.1:0 and the port is written to
 * PORTFILE atomically. SIGTERM or SIGINT: exit 0.
 *
 * Built by bots/btc/module.mk (tests/fakes/module.mk leaves it out of
 * tgfake).
 */

#include <sys/queue.h>

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "serve.h"

enum { SRC_CMC, SRC_COINBASE, SRC_N };

struct fault {
	char		 mode[16];	/* "" when none */
	long		 left;		/* 0: forever */
};

static struct {
	struct event_base *base;
	struct evhttp	*http;
	char		 price[32];	/* as given, e.g. "65000.50" */
	long		 hits[SRC_N];
	long		 failed[SRC_N];
	struct fault	 fault[SRC_N];
	json_t		*keys;		/* key -> requests */
} P;

static const char *const src_names[SRC_N] = { "cmc", "coinbase" };

static void
reply_json(struct evhttp_request *req, int status, json_t *j)
{
	struct evbuffer *buf = evbuffer_new();
	char *s = json_dumps(j, JSON_COMPACT);

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	if (buf != NULL && s != NULL)
		evbuffer_add(buf, s, strlen(s));
	evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", buf);
	if (buf != NULL)
		evbuffer_free(buf);
	free(s);
	json_decref(j);
}

static void
reply_text(struct evhttp_request *req, int status, const char *text)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf != NULL)
		evbuffer_add(buf, text, strlen(text));
	evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", buf);
	if (buf != NULL)
		evbuffer_free(buf);
}

/* A price as the users of this fake give it: > 0, at most 2 decimals. */
static int
price_ok(const char *s)
{
	size_t n = strspn(s, "0123456789");
	double v;

	if (n == 0 || n > 9)
		return 0;
	if (s[n] == '.') {
		size_t f = strspn(s + n + 1, "0123456789");

		if (f == 0 || f > 2 || s[n + 1 + f] != '\0')
			return 0;
	} else if (s[n] != '\0')
		return 0;
	v = strtod(s, NULL);
	return v > 0;
}

/* Consume one injected failure of src: 1 and the reply sent, or 0. */
static int
fault_apply(struct evhttp_request *req, int src)
{
	struct fault *f = &P.fault[src];
	char mode[sizeof f->mode];
	long status;

	if (f->mode[0] == '\0')
		return 0;
	memcpy(mode, f->mode, sizeof mode);
	if (f->left > 0 && --f->left == 0)
		f->mode[0] = '\0';
	P.failed[src]++;
	status = strtol(mode, NULL, 10);
	if (status >= 400 && status <= 599)
		reply_json(req, (int)status, json_pack("{s{si ss}}", "status",
		    "error_code", (int)status, "error_message",
		    "injected failure"));
	else if (strcmp(mode, "negative") == 0 && src == SRC_CMC)
		reply_text(req, 200, "{\"data\":{\"BTC\":{\"quote\":"
		    "{\"USD\":{\"price\":-1}}}}}");
	else if (strcmp(mode, "negative") == 0)
		reply_text(req, 200, "{\"data\":{\"amount\":\"-1\","
		    "\"currency\":\"USD\"}}");
	else
		reply_text(req, 200, "<html>Bad Gateway</html>");
	return 1;
}

static void
serve_cmc(struct evhttp_request *req, struct evkeyvalq *q)
{
	const char *key, *sym, *conv;
	json_t *j, *n;

	key = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-CMC_PRO_API_KEY");
	P.hits[SRC_CMC]++;
	if (key == NULL || *key == '\0') {
		reply_json(req, 401, json_pack("{s{si ss}}", "status",
		    "error_code", 1002, "error_message", "API key missing."));
		return;
	}
	n = json_object_get(P.keys, key);
	json_object_set_new(P.keys, key, json_integer(n != NULL ?
	    json_integer_value(n) + 1 : 1));
	sym = evhttp_find_header(q, "symbol");
	conv = evhttp_find_header(q, "convert");
	if (sym == NULL || strcmp(sym, "BTC") != 0 || conv == NULL ||
	    strcmp(conv, "USD") != 0) {
		reply_json(req, 400, json_pack("{s{si ss}}", "status",
		    "error_code", 400, "error_message", "bad symbol/convert"));
		return;
	}
	if (fault_apply(req, SRC_CMC))
		return;
	j = json_pack("{s{si sn} s{s{ss s{s{sf}}}}}",
	    "status", "error_code", 0, "error_message",
	    "data", "BTC", "symbol", "BTC", "quote", "USD", "price",
	    strtod(P.price, NULL));
	reply_json(req, 200, j);
}

static void
serve_coinbase(struct evhttp_request *req)
{
	P.hits[SRC_COINBASE]++;
	if (fault_apply(req, SRC_COINBASE))
		return;
	reply_json(req, 200, json_pack("{s{ss ss ss}}", "data", "amount",
	    P.price, "base", "BTC", "currency", "USD"));
}

static void
ctl_fail(struct evhttp_request *req, struct evkeyvalq *q)
{
	const char *src = evhttp_find_header(q, "source");
	const char *mode = evhttp_find_header(q, "mode");
	const char *count = evhttp_find_header(q, "count");
	int i, s = -1;

	for (i = 0; src != NULL && i < SRC_N; i++)
		if (strcmp(src, src_names[i]) == 0)
			s = i;
	if (s == -1 || mode == NULL || strlen(mode) >= sizeof P.fault[0].mode) {
		reply_text(req, 400, "want source=cmc|coinbase and mode\n");
		return;
	}
	if (strcmp(mode, "none") == 0)
		P.fault[s].mode[0] = '\0';
	else
		bc_strlcpy(P.fault[s].mode, mode, sizeof P.fault[s].mode);
	P.fault[s].left = count != NULL ? strtol(count, NULL, 10) : 0;
	reply_text(req, 200, "true\n");
}

static void
ctl_stats(struct evhttp_request *req)
{
	reply_json(req, 200, json_pack("{ss sI sI sI sI sO}", "price", P.price,
	    "cmc", (json_int_t)P.hits[SRC_CMC],
	    "coinbase", (json_int_t)P.hits[SRC_COINBASE],
	    "cmc_failed", (json_int_t)P.failed[SRC_CMC],
	    "coinbase_failed", (json_int_t)P.failed[SRC_COINBASE],
	    "keys", P.keys));
}

static void
ctl(struct evhttp_request *req, const char *path, struct evkeyvalq *q)
{
	const char *usd;

	if (strcmp(path, "/_ctl/price") == 0) {
		if ((usd = evhttp_find_header(q, "usd")) == NULL ||
		    !price_ok(usd)) {
			reply_text(req, 400, "want usd=N (> 0, 2 decimals)\n");
			return;
		}
		bc_strlcpy(P.price, usd, sizeof P.price);
		reply_text(req, 200, "true\n");
	} else if (strcmp(path, "/_ctl/fail") == 0)
		ctl_fail(req, q);
	else if (strcmp(path, "/_ctl/stats") == 0)
		ctl_stats(req);
	else if (strcmp(path, "/_ctl/reset") == 0) {
		memset(P.hits, 0, sizeof P.hits);
		memset(P.failed, 0, sizeof P.failed);
		memset(P.fault, 0, sizeof P.fault);
		json_object_clear(P.keys);
		reply_text(req, 200, "true\n");
	} else if (strcmp(path, "/_ctl/health") == 0)
		reply_text(req, 200, "true\n");
	else
		reply_text(req, 404, "not found\n");
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri);
	const char *query = evhttp_uri_get_query(uri);
	struct evkeyvalq q;

	(void)arg;
	TAILQ_INIT(&q);
	if (path == NULL || (query != NULL &&
	    evhttp_parse_query_str(query, &q) == -1)) {
		reply_text(req, 400, "bad request\n");
		return;
	}
	log_debug("%s", path);
	if (strcmp(path, "/v1/cryptocurrency/quotes/latest") == 0)
		serve_cmc(req, &q);
	else if (strcmp(path, "/v2/prices/BTC-USD/spot") == 0)
		serve_coinbase(req);
	else if (strncmp(path, "/_ctl/", 6) == 0)
		ctl(req, path, &q);
	else
		reply_text(req, 404, "not found\n");
	evhttp_clear_headers(&q);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_info("signal %d, exiting", (int)sig);
	event_base_loopbreak(P.base);
}

int
main(int argc, char **argv)
{
	const char *listen = "127.0.0.1:0", *portfile = NULL;
	struct event *sigterm, *sigint;
	int ch, port;

	log_init("pricefake", LOG_LEVEL_INFO, 0);
	bc_strlcpy(P.price, "65000.00", sizeof P.price);
	while ((ch = getopt(argc, argv, "l:p:P:v")) != -1) {
		switch (ch) {
		case 'l': listen = optarg; break;
		case 'p': portfile = optarg; break;
		case 'P':
			if (!price_ok(optarg))
				fatalx("bad price '%s'", optarg);
			bc_strlcpy(P.price, optarg, sizeof P.price);
			break;
		case 'v': log_init("pricefake", LOG_LEVEL_DEBUG, 0); break;
		default:
			fprintf(stderr, "usage: pricefake [-v] [-l HOST:PORT] "
			    "[-p PORTFILE] [-P USD]\n");
			return BC_EXIT_PERM;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	P.keys = json_object();
	if ((P.base = event_base_new()) == NULL ||
	    (P.http = evhttp_new(P.base)) == NULL)
		fatalx("cannot create the event base");
	evhttp_set_gencb(P.http, on_request, NULL);
	evhttp_set_allowed_methods(P.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	if ((port = fake_listen(P.http, listen)) == -1)
		return BC_EXIT_TEMP;
	if (portfile != NULL && fake_write_portfile(portfile, port) == -1)
		return BC_EXIT_TEMP;
	sigterm = evsignal_new(P.base, SIGTERM, on_signal, NULL);
	sigint = evsignal_new(P.base, SIGINT, on_signal, NULL);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	event_base_dispatch(P.base);
	evhttp_free(P.http);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(P.base);
	json_decref(P.keys);
	libevent_global_shutdown();
	return BC_EXIT_OK;
}
