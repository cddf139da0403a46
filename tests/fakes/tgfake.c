/*
 * tgfake: a fake Telegram Bot API server for tests.
 *
 * This file: options, the listening socket, the HTTP front door, the life
 * of one request (reply, hold, drop) and the record of every API call.
 * See README.md for the behaviour and the control API.
 */

#include <sys/types.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "serve.h"
#include "tgfake.h"

struct fake F;

void
sbuf_add(struct sbuf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
sbuf_str(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

/* splitmix64: small, seedable, good enough for dice and ids. */
uint64_t
fake_random(void)
{
	uint64_t z;

	z = (F.rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A Bot API token looks like 123456:AAbc-_... */
int
fake_token_valid(const char *t)
{
	size_t i = 0, j;

	while (t[i] >= '0' && t[i] <= '9')
		i++;
	if (i == 0 || i > 20 || t[i] != ':')
		return 0;
	for (j = i + 1; t[j] != '\0'; j++)
		if (strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", t[j]) == NULL)
			return 0;
	return j > i + 1 && j - i - 1 <= 128;
}

/* A copy of s with every byte that is not valid UTF-8 replaced by '?'. */
char *
fake_utf8_clean(const char *s)
{
	char *c = xstrdup(s);
	size_t i = 0, n, len = strlen(c);

	while (i < len) {
		if ((n = bc_utf8_seqlen((unsigned char *)c + i,
		    len - i)) == 0) {
			c[i++] = '?';
			continue;
		}
		i += n;
	}
	return c;
}

const char *
fake_reason(int status)
{
	switch (status) {
	case 200:	return "OK";
	case 400:	return "Bad Request";
	case 401:	return "Unauthorized";
	case 403:	return "Forbidden";
	case 404:	return "Not Found";
	case 409:	return "Conflict";
	case 413:	return "Request Entity Too Large";
	case 429:	return "Too Many Requests";
	case 500:	return "Internal Server Error";
	case 502:	return "Bad Gateway";
	case 503:	return "Service Unavailable";
	case 504:	return "Gateway Timeout";
	default:	return "Unknown";
	}
}

/* ------------------------------------------------------------ call log */

static void
call_release(struct call *c)
{
	free(c->token);
	free(c->method);
	free(c->error);
	json_decref(c->params);
	memset(c, 0, sizeof(*c));
}

void
calls_clear(void)
{
	size_t i;

	for (i = 0; i < F.max_calls; i++)
		call_release(&F.calls[i]);
}

struct call *
call_get(uint64_t seq)
{
	struct call *c;

	if (seq == 0)
		return NULL;
	c = &F.calls[seq % F.max_calls];
	return c->seq == seq ? c : NULL;
}

/* Open the record of one API call; params are shared, not copied. */
void
call_start(struct rq *rq, int internal)
{
	struct call *c;

	rq->seq = ++F.seq;
	c = &F.calls[rq->seq % F.max_calls];
	call_release(c);
	c->seq = rq->seq;
	c->ms = bc_wall_ms();
	c->token = rq->token != NULL ? xstrdup(rq->token) : NULL;
	c->method = xstrdup(rq->mname != NULL ? rq->mname : "");
	c->params = rq->params != NULL ? json_incref(rq->params) :
	    json_object();
	c->state = "pending";
	c->internal = internal;
	F.st.calls++;
	if (rq->bot != NULL)
		rq->bot->st.calls++;
}

/* Close the record: status, outcome, counters, control API waiters. */
static void
call_finish(struct rq *rq, int status, const char *state, const char *err)
{
	struct call *c;
	char key[16];

	if (rq->seq == 0)
		return;
	if (status > 0)
		snprintf(key, sizeof(key), "%d", status);
	else
		bc_strlcpy(key, state, sizeof(key));
	stats_count(rq->bot, rq->m != NULL ? api_method_name(rq->m) :
	    "(unknown)", key);
	if ((c = call_get(rq->seq)) != NULL) {
		c->status = status;
		c->state = state;
		c->done_ms = bc_wall_ms();
		c->error = err != NULL ? xstrdup(err) : NULL;
		ctl_call_done(c);
	}
	rq->seq = 0;
}

json_t *
call_json(const struct call *c)
{
	json_t *o;

	o = json_pack("{sI sI ss* ss sO si ss}", "seq", (json_int_t)c->seq,
	    "time_ms", (json_int_t)c->ms, "token", c->token, "method",
	    c->method, "params", c->params, "status", c->status, "state",
	    c->state);
	if (o == NULL)
		return json_object();
	if (c->done_ms != 0)
		json_object_set_new(o, "duration_ms",
		    json_integer(c->done_ms - c->ms));
	if (c->error != NULL)
		json_object_set_new(o, "error", json_string(c->error));
	if (c->internal)
		json_object_set_new(o, "via", json_string("webhook_reply"));
	return o;
}

/* ------------------------------------------------------------ requests */

struct rq *
rq_new(struct evhttp_request *req)
{
	struct rq *rq;

	rq = xcalloc(1, sizeof(*rq));
	rq->req = req;
	return rq;
}

void
rq_free(struct rq *rq)
{
	if (rq == NULL)
		return;
	rq_unhold(rq);
	if (rq->timer != NULL)
		event_free(rq->timer);
	if (rq->watch != NULL)
		event_free(rq->watch);
	json_decref(rq->params);
	free(rq->token);
	free(rq->mname);
	free(rq->fault.desc);
	free(rq);
}

/* Answer and free rq; err is the description kept in the call record. */
void
rq_reply_raw(struct rq *rq, int status, const char *ctype, const char *body,
    size_t len, const char *err)
{
	struct evbuffer *buf;

	rq_unhold(rq);
	call_finish(rq, status, "replied", err);
	if (rq->req != NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(rq->req),
		    "Content-Type", ctype);
		if ((buf = evbuffer_new()) == NULL)
			fatalx("out of memory");
		evbuffer_add(buf, body, len);
		evhttp_send_reply(rq->req, status, fake_reason(status), buf);
		evbuffer_free(buf);
		rq->req = NULL;
	}
	rq_free(rq);
}

/* Answer with a JSON document (stolen) and free rq. */
void
rq_reply_json(struct rq *rq, int status, json_t *body)
{
	const char *err = NULL;
	char *s;

	if (body == NULL) {	/* a value was not packable: never crash */
		status = 500;
		body = json_pack("{sb si ss}", "ok", 0, "error_code", 500,
		    "description", "Internal Server Error: tgfake could not "
		    "build the reply");
	}
	if (json_is_false(json_object_get(body, "ok")))
		err = json_string_value(json_object_get(body, "description"));
	if ((s = json_dumps(body, JSON_COMPACT)) == NULL)
		fatalx("cannot serialize a reply");
	rq_reply_raw(rq, status, "application/json", s, strlen(s), err);
	free(s);
	json_decref(body);
}

void
rq_ok(struct rq *rq, json_t *result)
{
	rq_reply_json(rq, 200, json_pack("{sb so}", "ok", 1, "result",
	    result != NULL ? result : json_null()));
}

void
rq_ok_desc(struct rq *rq, json_t *result, const char *desc)
{
	rq_reply_json(rq, 200, json_pack("{sb so ss}", "ok", 1, "result",
	    result, "description", desc));
}

void
rq_err_params(struct rq *rq, int code, const char *desc, json_t *params)
{
	char *clean = fake_utf8_clean(desc);
	json_t *o;

	o = json_pack("{sb si ss}", "ok", 0, "error_code", code,
	    "description", clean);
	if (params != NULL)
		json_object_set_new(o, "parameters", params);
	rq_reply_json(rq, code, o);
	free(clean);
}

void
rq_err(struct rq *rq, int code, const char *desc)
{
	rq_err_params(rq, code, desc, NULL);
}

void
rq_errf(struct rq *rq, int code, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	xvasprintf(&s, fmt, ap);
	va_end(ap);
	rq_err(rq, code, s);
	free(s);
}

static void
rq_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rq *rq = arg;
	rq_cb *cb = rq->on_timer;

	(void)fd;
	(void)what;
	rq_unhold(rq);
	cb(rq);
}

/* The client of a held request hung up: forget the request. */
static void
rq_gone(struct rq *rq)
{
	struct evhttp_connection *conn;

	if (rq->on_gone != NULL)
		rq->on_gone(rq);
	rq_unhold(rq);
	call_finish(rq, 0, "gone", NULL);
	F.st.gone++;
	if (rq->bot != NULL)
		rq->bot->st.gone++;
	if ((conn = evhttp_request_get_connection(rq->req)) != NULL)
		evhttp_connection_free(conn);
	else
		evhttp_request_free(rq->req);
	rq->req = NULL;
	rq_free(rq);
}

/*
 * libevent stops reading a connection while its request waits for the
 * answer, so it would not notice the client leaving; peek for EOF.
 */
static void
rq_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rq *rq = arg;
	ssize_t n;
	char c;

	(void)what;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR)) {
		event_add(rq->watch, NULL);
		return;
	}
	if (n > 0)
		return;		/* a pipelined request: stop watching */
	rq_gone(rq);
}

/*
 * Keep rq unanswered: on_timer runs after ms (ms < 0: no timer), on_gone
 * (if any) when the client hangs up first, before rq is freed.
 */
void
rq_hold(struct rq *rq, int64_t ms, rq_cb *on_timer, rq_cb *on_gone)
{
	struct evhttp_connection *conn;
	struct bufferevent *bev;
	struct timeval tv;
	evutil_socket_t fd;

	if (!rq->held) {
		TAILQ_INSERT_TAIL(&F.held, rq, entry);
		rq->held = 1;
	}
	rq->on_timer = on_timer;
	rq->on_gone = on_gone;
	if (ms >= 0) {
		if (rq->timer == NULL)
			rq->timer = evtimer_new(F.base, rq_timer_cb, rq);
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(rq->timer, &tv);
	}
	if (rq->req == NULL ||
	    (conn = evhttp_request_get_connection(rq->req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(conn)) == NULL ||
	    (fd = bufferevent_getfd(bev)) < 0)
		return;
	if (rq->watch == NULL)
		rq->watch = event_new(F.base, fd, EV_READ, rq_watch_cb, rq);
	event_add(rq->watch, NULL);
}

void
rq_unhold(struct rq *rq)
{
	if (!rq->held)
		return;
	TAILQ_REMOVE(&F.held, rq, entry);
	rq->held = 0;
	if (rq->timer != NULL)
		evtimer_del(rq->timer);
	if (rq->watch != NULL)
		event_del(rq->watch);
}

/* Close the client's connection without an answer (never from inside an
 * evhttp callback: only from a timer). */
void
rq_drop(struct rq *rq)
{
	struct evhttp_connection *conn;

	rq_unhold(rq);
	call_finish(rq, 0, "dropped", NULL);
	F.st.dropped++;
	if (rq->bot != NULL)
		rq->bot->st.dropped++;
	if (rq->req != NULL) {
		if ((conn = evhttp_request_get_connection(rq->req)) != NULL)
			evhttp_connection_free(conn);
		else
			evhttp_request_free(rq->req);
		rq->req = NULL;
	}
	rq_free(rq);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	const char *path;
	struct rq *rq;
	char *dpath;

	(void)arg;
	rq = rq_new(req);
	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	dpath = evhttp_uridecode(path != NULL ? path : "/", 0, NULL);
	if (dpath == NULL)
		rq_err(rq, 404, "Not Found");
	else if (strncmp(dpath, "/_ctl/", 6) == 0) {
		rq->ctl = 1;
		ctl_handle(rq, dpath + 6);
	} else if (strncmp(dpath, "/bot", 4) == 0)
		api_handle(rq, dpath + 4);
	else
		rq_err(rq, 404, "Not Found");
	free(dpath);
}

/* ------------------------------------------------------------ main */

enum {
	OPT_RATE_GLOBAL = 256,
	OPT_RATE_CHAT,
	OPT_RATE_GROUP,
	OPT_WH_BACKOFF,
	OPT_WH_TIMEOUT,
	OPT_STRICT,
	OPT_MAX_UPDATES,
	OPT_MAX_CALLS,
	OPT_MAX_MESSAGES,
	OPT_FIRST_UPDATE,
};

static const struct option longopts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "port-file", required_argument, NULL, 'p' },
	{ "token", required_argument, NULL, 't' },
	{ "seed", required_argument, NULL, 's' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "rate-global", required_argument, NULL, OPT_RATE_GLOBAL },
	{ "rate-chat", required_argument, NULL, OPT_RATE_CHAT },
	{ "rate-group", required_argument, NULL, OPT_RATE_GROUP },
	{ "webhook-backoff", required_argument, NULL, OPT_WH_BACKOFF },
	{ "webhook-timeout", required_argument, NULL, OPT_WH_TIMEOUT },
	{ "strict-chats", no_argument, NULL, OPT_STRICT },
	{ "max-updates", required_argument, NULL, OPT_MAX_UPDATES },
	{ "max-calls", required_argument, NULL, OPT_MAX_CALLS },
	{ "max-messages", required_argument, NULL, OPT_MAX_MESSAGES },
	{ "first-update-id", required_argument, NULL, OPT_FIRST_UPDATE },
	{ NULL, 0, NULL, 0 },
};

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr,
	    "usage: tgfake [-v] [-l HOST:PORT] [-p PORTFILE] "
	    "[-t TOKEN[=USERNAME]]... [-s SEED]\n"
	    "              [--rate-global N/UNIT[:BURST]] [--rate-chat ...] "
	    "[--rate-group ...]\n"
	    "              [--webhook-backoff MS[:MAXMS]] "
	    "[--webhook-timeout S] [--strict-chats]\n"
	    "              [--max-updates N] [--max-calls N] "
	    "[--max-messages N] [--first-update-id N]\n");
	exit(code);
}

static int64_t
num_arg(const char *s, int64_t min, int64_t max, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		log_warnx("bad %s '%s'", what, s);
		exit(BC_EXIT_PERM);
	}
	return v;
}

static void
token_arg(const char *arg)
{
	char *tok, *user;

	tok = xstrdup(arg);
	if ((user = strchr(tok, '=')) != NULL)
		*user++ = '\0';
	if (!fake_token_valid(tok)) {
		log_warnx("bad token (want DIGITS:CHARS)");
		exit(BC_EXIT_PERM);
	}
	store_bot_add(tok, 0, user, NULL);
	free(tok);
}

static void
backoff_arg(const char *arg)
{
	char *s, *c;

	s = xstrdup(arg);
	if ((c = strchr(s, ':')) != NULL) {
		*c++ = '\0';
		F.wh_backoff_max_ms = num_arg(c, 1, 3600000, "backoff");
	}
	F.wh_backoff_ms = num_arg(s, 1, 3600000, "backoff");
	if (F.wh_backoff_max_ms < F.wh_backoff_ms)
		F.wh_backoff_max_ms = F.wh_backoff_ms;
	free(s);
}

static void
rate_arg(const char *arg, struct rate *r)
{
	if (limits_parse(arg, r) == -1) {
		log_warnx("bad rate '%s' (want N/s, N/min or N/h, "
		    "optionally :BURST)", arg);
		exit(BC_EXIT_PERM);
	}
}

static void
parse_options(int argc, char **argv, const char **listen,
    const char **portfile, int *verbose)
{
	int ch;

	while ((ch = getopt_long(argc, argv, "l:p:t:s:vh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'l':	*listen = optarg; break;
		case 'p':	*portfile = optarg; break;
		case 't':	token_arg(optarg); break;
		case 's':
			F.rng = (uint64_t)num_arg(optarg, 0, INT64_MAX, "seed");
			break;
		case 'v':	*verbose = 1; break;
		case 'h':	usage(0);
		case OPT_RATE_GLOBAL:
			rate_arg(optarg, &F.d_global);
			break;
		case OPT_RATE_CHAT:
			rate_arg(optarg, &F.d_chat);
			break;
		case OPT_RATE_GROUP:
			rate_arg(optarg, &F.d_group);
			break;
		case OPT_WH_BACKOFF:	backoff_arg(optarg); break;
		case OPT_WH_TIMEOUT:
			F.wh_timeout_s = num_arg(optarg, 1, 3600, "timeout");
			break;
		case OPT_STRICT:	F.strict_chats = 1; break;
		case OPT_MAX_UPDATES:
			F.max_updates = num_arg(optarg, 1, 10000000, "max");
			break;
		case OPT_MAX_CALLS:
			F.max_calls = num_arg(optarg, 1, 10000000, "max");
			break;
		case OPT_MAX_MESSAGES:
			F.max_messages = num_arg(optarg, 1, 10000000, "max");
			break;
		case OPT_FIRST_UPDATE:
			F.first_update_id = num_arg(optarg, 1, INT32_MAX,
			    "update id");
			break;
		default:	usage(BC_EXIT_PERM);
		}
	}
	if (optind != argc)
		usage(BC_EXIT_PERM);
}

static void
defaults(void)
{
	TAILQ_INIT(&F.bots);
	TAILQ_INIT(&F.held);
	TAILQ_INIT(&F.faults);
	TAILQ_INIT(&F.waiters);
	F.max_calls = 100000;
	F.max_updates = 100000;
	F.max_messages = 100000;
	F.first_update_id = 1000;
	F.wh_backoff_ms = 100;
	F.wh_backoff_max_ms = 5000;
	F.wh_timeout_s = 10;
	F.rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	F.st.by_method = json_object();
	F.sink = json_array();
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_info("signal %d, exiting", (int)sig);
	event_base_loopbreak(F.base);
}

/* Answer or forget everything held, then free all state. */
static void
shutdown_all(void)
{
	struct bot *bot;
	struct rq *rq;

	ctl_waiters_cancel();
	TAILQ_FOREACH(bot, &F.bots, entry) {
		upd_poll_cancel(bot, 0, NULL);
		upd_webhook_stop(bot);
	}
	while ((rq = TAILQ_FIRST(&F.held)) != NULL) {
		rq->req = NULL;	/* evhttp_free() frees it */
		rq_free(rq);
	}
	evhttp_free(F.http);
	while ((bot = TAILQ_FIRST(&F.bots)) != NULL) {
		TAILQ_REMOVE(&F.bots, bot, entry);
		store_bot_free(bot);
	}
	faults_clear();
	calls_clear();
	free(F.calls);
	json_decref(F.st.by_method);
	json_decref(F.sink);
}

int
main(int argc, char **argv)
{
	const char *listen = "127.0.0.1:0", *portfile = NULL;
	struct event *sigterm, *sigint;
	int verbose = 0, port;

	defaults();
	log_init("tgfake", LOG_LEVEL_INFO, 0);
	parse_options(argc, argv, &listen, &portfile, &verbose);
	if (verbose)
		log_init("tgfake", LOG_LEVEL_DEBUG, 0);
	signal(SIGPIPE, SIG_IGN);
	F.r_global = F.d_global;
	F.r_chat = F.d_chat;
	F.r_group = F.d_group;
	F.calls = xcalloc(F.max_calls, sizeof(*F.calls));
	if ((F.base = event_base_new()) == NULL ||
	    (F.http = evhttp_new(F.base)) == NULL)
		fatalx("cannot create the event base");
	evhttp_set_gencb(F.http, on_request, NULL);
	evhttp_set_timeout(F.http, 120);
	evhttp_set_max_body_size(F.http, 64 * 1024 * 1024);
	evhttp_set_allowed_methods(F.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	if ((port = fake_listen(F.http, listen)) == -1)
		exit(BC_EXIT_TEMP);
	if (portfile != NULL && fake_write_portfile(portfile, port) == -1)
		exit(BC_EXIT_TEMP);
	sigterm = evsignal_new(F.base, SIGTERM, on_signal, NULL);
	sigint = evsignal_new(F.base, SIGINT, on_signal, NULL);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	event_base_dispatch(F.base);
	shutdown_all();
	event_free(sigterm);
	event_free(sigint);
	event_base_free(F.base);
	libevent_global_shutdown();
	return BC_EXIT_OK;
}
