/*
 * tg client against an in-process fake Bot API (libevent evhttp) with
 * scripted replies: 429 with retry_after, 5xx, a dropped connection, 403,
 * 400 with migrate_to_chat_id, 401, 409; polling offsets; the webhook's
 * secret check on a real bc_httpd; the single-instance lock; and the
 * token never showing in the log. Waits are on the event loop, bounded,
 * never sleeps.
 */

#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <dirent.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include <botcommon/http.h>
#include <botcommon/httpd.h>
#include <botcommon/log.h>
#include <botcommon/metrics.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#define TOKEN		"123456:AAE-sEcReT_tOkEn_0123456789"
#define MAX_SCRIPT	64
#define MAX_SEEN	256

/* One scripted reply: for method (or "*"), status and body, or a drop. */
struct step {
	const char	*method;
	int		 status;
	const char	*body;
	int		 drop;
};

/* One request the fake received. */
struct seen {
	char		 method[40];
	json_t		*body;		/* NULL for multipart */
	char		*raw;
	char		*ctype;
	int64_t		 t;
};

static struct {
	struct event_base *base;
	struct evhttp	*evh;
	int		 port;
	char		 url[64];
	struct step	 script[MAX_SCRIPT];
	int		 used[MAX_SCRIPT];
	size_t		 nscript;
	struct seen	 seen[MAX_SEEN];
	size_t		 nseen;
	int		 next_id;
	struct bc_http	*http;
	struct bc_tg	*tg;
	struct event	*tick;
	char		*logbuf;
	size_t		 loglen;
	FILE		*logf;
	int		 fatal_calls;
} F;

/* ---------------------------------------------------------------- fake */

static void
script(const char *method, int status, const char *body)
{
	assert_true(F.nscript < MAX_SCRIPT);
	F.script[F.nscript++] = (struct step){ method, status, body, 0 };
}

static void
script_drop(const char *method)
{
	assert_true(F.nscript < MAX_SCRIPT);
	F.script[F.nscript++] = (struct step){ method, 0, NULL, 1 };
}

static const struct step *
next_step(const char *method)
{
	size_t i;

	for (i = 0; i < F.nscript; i++) {
		if (F.used[i])
			continue;
		if (strcmp(F.script[i].method, method) == 0 ||
		    strcmp(F.script[i].method, "*") == 0) {
			F.used[i] = 1;
			return &F.script[i];
		}
	}
	return NULL;
}

static void
reply(struct evhttp_request *req, int status, const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, body, strlen(body));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, status, "X", b);
	evbuffer_free(b);
}

static void
drop_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	evhttp_connection_free(arg);
}

/* Record the request; return its method (the last path element). */
static struct seen *
record(struct evhttp_request *req)
{
	const char *uri = evhttp_request_get_uri(req), *m, *ct;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct seen *s;

	assert_true(F.nseen < MAX_SEEN);
	s = &F.seen[F.nseen++];
	assert_true(strncmp(uri, "/bot" TOKEN "/", strlen(TOKEN) + 5) == 0);
	m = uri + strlen(TOKEN) + 5;
	bc_strlcpy(s->method, m, sizeof(s->method));
	s->raw = xmalloc(len + 1);
	evbuffer_copyout(in, s->raw, len);
	s->raw[len] = '\0';
	ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	s->ctype = xstrdup(ct != NULL ? ct : "");
	s->body = json_loadb(s->raw, len, 0, NULL);
	s->t = bc_now_ms();
	return s;
}

static void
fake_cb(struct evhttp_request *req, void *arg)
{
	const struct step *st;
	struct seen *s;
	char ok[128];

	(void)arg;
	s = record(req);
	if ((st = next_step(s->method)) != NULL) {
		if (st->drop) {
			struct timeval tv = { 0, 0 };

			event_base_once(F.base, -1, EV_TIMEOUT, drop_cb,
			    evhttp_request_get_connection(req), &tv);
			return;
		}
		reply(req, st->status, st->body);
		return;
	}
	if (strcmp(s->method, "getUpdates") == 0 &&
	    json_integer_value(json_object_get(s->body, "timeout")) > 0)
		return;		/* a long poll, nothing to say: hold */
	snprintf(ok, sizeof(ok), "{\"ok\":true,\"result\":{\"message_id\":"
	    "%d}}", ++F.next_id);
	reply(req, 200, ok);
}

static void
tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
}

/* Run the loop until *flag is set or ms pass. Returns *flag. */
static int
run_until(const int *flag, int64_t ms)
{
	int64_t end = bc_now_ms() + ms;

	while (!*flag && bc_now_ms() < end)
		event_base_loop(F.base, EVLOOP_ONCE);
	return *flag;
}

/* Requests seen for method. */
static size_t
count_seen(const char *method)
{
	size_t i, n = 0;

	for (i = 0; i < F.nseen; i++)
		if (strcmp(F.seen[i].method, method) == 0)
			n++;
	return n;
}

/* Run the loop until n requests for method arrived or ms pass. */
static int
wait_seen(const char *method, size_t n, int64_t ms)
{
	int64_t end = bc_now_ms() + ms;

	while (count_seen(method) < n && bc_now_ms() < end)
		event_base_loop(F.base, EVLOOP_ONCE);
	return count_seen(method) >= n;
}

static void
run_for(int64_t ms)
{
	int never = 0;

	run_until(&never, ms);
}

/* The k-th request for method. */
static struct seen *
nth_seen(const char *method, size_t k)
{
	size_t i;

	for (i = 0; i < F.nseen; i++)
		if (strcmp(F.seen[i].method, method) == 0 && k-- == 0)
			return &F.seen[i];
	fail_msg("no request %zu for %s", k, method);
	return NULL;
}

static const char *
logged(void)
{
	fflush(F.logf);
	return F.logbuf;
}

/* ---------------------------------------------------------------- setup */

static void
on_fatal(struct bc_tg *tg, const char *reason, void *arg)
{
	(void)tg;
	(void)reason;
	(void)arg;
	F.fatal_calls++;
}

static void
default_opts(struct bc_tg_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->api_url = F.url;
	o->token = TOKEN;
	o->global_rate = 1000;
	o->chat_burst = 100;
	o->chat_interval_s = 0.001;
	o->retry_initial_ms = 20;
	o->conflict_initial_ms = 100;
	o->poll_timeout_s = 30;
	o->on_fatal = on_fatal;
}

static void
new_client(const struct bc_tg_opts *o)
{
	char *cause = NULL;

	F.tg = bc_tg_new(F.base, F.http, o, &cause);
	if (F.tg == NULL)
		fail_msg("bc_tg_new: %s", cause);
}

static int
setup(void **state)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct timeval tv = { 0, 10000 };
	struct bc_tg_opts o;
	char *cause = NULL;

	(void)state;
	memset(&F, 0, sizeof(F));
	F.logf = open_memstream(&F.logbuf, &F.loglen);
	log_set_stream(F.logf);
	log_init("test", LOG_LEVEL_DEBUG, 0);
	F.base = event_base_new();
	F.evh = evhttp_new(F.base);
	bs = evhttp_bind_socket_with_handle(F.evh, "127.0.0.1", 0);
	assert_non_null(bs);
	getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin,
	    &slen);
	F.port = ntohs(sin.sin_port);
	snprintf(F.url, sizeof(F.url), "http://127.0.0.1:%d/", F.port);
	evhttp_set_gencb(F.evh, fake_cb, NULL);
	F.http = bc_http_new(F.base, &cause);
	assert_non_null(F.http);
	F.tick = event_new(F.base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(F.tick, &tv);
	default_opts(&o);
	new_client(&o);
	return 0;
}

static int
teardown(void **state)
{
	size_t i;

	(void)state;
	bc_tg_free(F.tg);
	bc_http_free(F.http);
	event_free(F.tick);
	evhttp_free(F.evh);
	event_base_free(F.base);
	for (i = 0; i < F.nseen; i++) {
		json_decref(F.seen[i].body);
		free(F.seen[i].raw);
		free(F.seen[i].ctype);
	}
	/* Whatever happened, the token never reached the log. */
	fflush(F.logf);
	if (F.logbuf != NULL && strstr(F.logbuf, TOKEN) != NULL)
		fail_msg("the token is in the log");
	if (F.logbuf != NULL && strstr(F.logbuf, "sEcReT") != NULL)
		fail_msg("part of the token is in the log");
	log_set_stream(NULL);
	fclose(F.logf);
	free(F.logbuf);
	log_redact_clear();
	return 0;
}

/* Where a call's result goes. */
struct got {
	int		 done;
	int		 ok;
	int		 status;
	int		 error_code;
	int		 attempts;
	int64_t		 migrated_to;
	int64_t		 retry_after;
	char		 desc[256];
	int64_t		 t;
	int64_t		 message_id;
};

static void
got_cb(const struct bc_tg_result *r, void *arg)
{
	struct got *g = arg;

	g->done++;
	g->ok = r->ok;
	g->status = r->status;
	g->error_code = r->error_code;
	g->attempts = r->attempts;
	g->migrated_to = r->migrated_to;
	g->retry_after = r->retry_after;
	assert_non_null(r->description);
	bc_strlcpy(g->desc, r->description, sizeof(g->desc));
	g->t = bc_now_ms();
	g->message_id = json_integer_value(json_object_get(r->result,
	    "message_id"));
}

static json_t *
msg(int64_t chat, const char *text)
{
	return json_pack("{s:I,s:s}", "chat_id", (json_int_t)chat, "text",
	    text);
}

/* ---------------------------------------------------------------- calls */

static void
test_get_me(void **state)
{
	struct got g = { 0 };

	(void)state;
	script("getMe", 200, "{\"ok\":true,\"result\":{\"id\":4503599627370497,"
	    "\"is_bot\":true,\"username\":\"fleet_bot\"}}");
	assert_null(bc_tg_me_username(F.tg));
	assert_int_equal(bc_tg_get_me(F.tg, got_cb, &g), 0);
	assert_int_equal(g.done, 0);	/* never from inside the call */
	assert_true(run_until(&g.done, 5000));
	assert_int_equal(g.ok, 1);
	assert_true(bc_tg_me_id(F.tg) == 4503599627370497LL);
	assert_string_equal(bc_tg_me_username(F.tg), "fleet_bot");
	assert_int_equal(count_seen("getMe"), 1);
	assert_string_equal(nth_seen("getMe", 0)->ctype, "application/json");
	assert_true(bc_tg_idle(F.tg));
	/* The bot id is public; the secret part never shows: the URL is
	 * logged at debug level only, and there redacted. */
	assert_non_null(strstr(logged(), "123456"));
	assert_non_null(strstr(logged(), "level=debug"));
	assert_non_null(strstr(logged(), "[redacted]"));
	assert_null(strstr(logged(), "level=info msg=\"http"));
}

static void
test_unauthorized(void **state)
{
	struct got g = { 0 };

	(void)state;
	script("getMe", 401, "{\"ok\":false,\"error_code\":401,"
	    "\"description\":\"Unauthorized\"}");
	bc_tg_get_me(F.tg, got_cb, &g);
	assert_true(run_until(&g.done, 5000));
	assert_int_equal(g.ok, 0);
	assert_int_equal(g.error_code, 401);
	assert_int_equal(g.attempts, 1);
	assert_int_equal(F.fatal_calls, 1);
	/* Stopped: nothing more is accepted. */
	assert_int_equal(bc_tg_call(F.tg, "sendMessage", msg(1, "x"), 0,
	    NULL, NULL), -1);
	assert_non_null(strstr(logged(), "rejected the bot token"));
}

static void
test_bad_options(void **state)
{
	struct bc_tg_opts o;
	char *cause = NULL;

	(void)state;
	default_opts(&o);
	o.token = "not-a-token";
	assert_null(bc_tg_new(F.base, F.http, &o, &cause));
	assert_non_null(cause);
	assert_null(strstr(cause, "not-a-token"));
	free(cause);
	cause = NULL;
	o.token = TOKEN;
	o.allowed_updates = "{\"message\":1}";
	assert_null(bc_tg_new(F.base, F.http, &o, &cause));
	free(cause);
	/* Bad calls are refused at once. */
	assert_int_equal(bc_tg_call(F.tg, "send/Message", NULL, 0, NULL,
	    NULL), -1);
	assert_int_equal(bc_tg_call(F.tg, "sendMessage", json_array(), 0,
	    NULL, NULL), -1);
	assert_int_equal(bc_tg_send_text(F.tg, 1, "", 0, NULL, NULL, NULL),
	    -1);
	assert_int_equal(bc_tg_send_text(F.tg, 1, "\xff", 0, NULL, NULL,
	    NULL), -1);
}

/* 429 pauses every chat for retry_after, then the same call again. */
static void
test_flood_pauses_all(void **state)
{
	struct got a = { 0 }, b = { 0 };
	int64_t t429;

	(void)state;
	script("sendMessage", 429, "{\"ok\":false,\"error_code\":429,"
	    "\"description\":\"Too Many Requests: retry after 1\","
	    "\"parameters\":{\"retry_after\":1}}");
	bc_tg_call(F.tg, "sendMessage", msg(100, "a"), 0, got_cb, &a);
	assert_true(wait_seen("sendMessage", 1, 5000));
	/* Wait for the 429 to be taken in, then queue another chat. */
	run_for(100);
	t429 = nth_seen("sendMessage", 0)->t;
	bc_tg_call(F.tg, "sendMessage", msg(200, "b"), 0, got_cb, &b);
	assert_true(run_until(&b.done, 5000));
	assert_true(run_until(&a.done, 5000));
	assert_int_equal(count_seen("sendMessage"), 3);
	/* Both the retry and the other chat waited the whole second. */
	assert_true(nth_seen("sendMessage", 1)->t - t429 >= 990);
	assert_true(nth_seen("sendMessage", 2)->t - t429 >= 990);
	assert_int_equal(a.ok, 1);
	assert_int_equal(a.attempts, 2);
	assert_int_equal(a.retry_after, 1);
	assert_int_equal(b.ok, 1);
	assert_int_equal(b.attempts, 1);
	assert_non_null(strstr(logged(), "flood control"));
}

/* 5xx and a dropped connection are retried with growing delays. */
static void
test_server_errors_retried(void **state)
{
	struct got g = { 0 };
	int64_t d1, d2, d3;

	(void)state;
	/* The drop first, on a fresh connection: curl itself retries a
	 * request once when a reused connection turns out dead. */
	script_drop("sendMessage");
	script("sendMessage", 502, "<html>Bad Gateway</html>");
	script("sendMessage", 500, "{\"ok\":false,\"error_code\":500,"
	    "\"description\":\"Internal Server Error\"}");
	bc_tg_call(F.tg, "sendMessage", msg(5, "hi"), 0, got_cb, &g);
	assert_true(run_until(&g.done, 10000));
	assert_int_equal(g.ok, 1);
	assert_int_equal(g.attempts, 4);
	assert_int_equal(count_seen("sendMessage"), 4);
	/* 20, 40, 80 ms (+/- 20 %). */
	d1 = nth_seen("sendMessage", 1)->t - nth_seen("sendMessage", 0)->t;
	d2 = nth_seen("sendMessage", 2)->t - nth_seen("sendMessage", 1)->t;
	d3 = nth_seen("sendMessage", 3)->t - nth_seen("sendMessage", 2)->t;
	/* Lower bounds only: a busy machine makes delays longer, never
	 * shorter. */
	assert_true(d1 >= 15);
	assert_true(d2 >= 31);
	assert_true(d3 >= 63);
	assert_non_null(strstr(logged(), "retrying"));
}

static void
test_give_up(void **state)
{
	struct bc_tg_opts o;
	struct got g = { 0 };
	int i;

	(void)state;
	bc_tg_free(F.tg);
	default_opts(&o);
	o.max_attempts = 3;
	new_client(&o);
	for (i = 0; i < 5; i++)
		script("sendMessage", 503, "{\"ok\":false,\"error_code\":503,"
		    "\"description\":\"Service Unavailable\"}");
	bc_tg_call(F.tg, "sendMessage", msg(5, "hi"), 0, got_cb, &g);
	assert_true(run_until(&g.done, 10000));
	run_for(200);
	assert_int_equal(g.done, 1);
	assert_int_equal(g.ok, 0);
	assert_int_equal(g.error_code, 503);
	assert_int_equal(g.attempts, 3);
	assert_int_equal(count_seen("sendMessage"), 3);
	assert_string_equal(g.desc, "Service Unavailable");
	assert_non_null(strstr(logged(), "msg=\"telegram call failed\" "
	    "method=sendMessage status=503"));
	assert_true(bc_tg_idle(F.tg));
}

static void
test_forbidden_not_retried(void **state)
{
	struct got g = { 0 }, h = { 0 };

	(void)state;
	script("sendMessage", 403, "{\"ok\":false,\"error_code\":403,"
	    "\"description\":\"Forbidden: bot was blocked by the user\"}");
	script("sendMessage", 400, "{\"ok\":false,\"error_code\":400,"
	    "\"description\":\"Bad Request: chat not found\"}");
	bc_tg_call(F.tg, "sendMessage", msg(5, "hi"), 0, got_cb, &g);
	bc_tg_call(F.tg, "sendMessage", msg(6, "hi"), 0, got_cb, &h);
	assert_true(run_until(&h.done, 5000));
	assert_true(run_until(&g.done, 5000));
	run_for(100);
	assert_int_equal(count_seen("sendMessage"), 2);
	assert_int_equal(g.ok, 0);
	assert_int_equal(g.error_code, 403);
	assert_int_equal(g.attempts, 1);
	assert_string_equal(g.desc, "Forbidden: bot was blocked by the user");
	assert_int_equal(h.error_code, 400);
	assert_int_equal(h.attempts, 1);
}

static void
test_not_modified_is_ok(void **state)
{
	struct got g = { 0 };

	(void)state;
	script("editMessageText", 400, "{\"ok\":false,\"error_code\":400,"
	    "\"description\":\"Bad Request: message is not modified: "
	    "specified new message content and reply markup are exactly "
	    "the same\"}");
	bc_tg_edit_text(F.tg, 5, 77, "same", BC_TG_HTML, NULL, got_cb, &g);
	assert_true(run_until(&g.done, 5000));
	assert_int_equal(g.ok, 1);
	assert_int_equal(g.error_code, 400);
	assert_string_equal(json_string_value(json_object_get(
	    nth_seen("editMessageText", 0)->body, "parse_mode")), "HTML");
}

static void
test_migrate(void **state)
{
	struct got g = { 0 }, h = { 0 };
	json_t *b;

	(void)state;
	script("sendMessage", 400, "{\"ok\":false,\"error_code\":400,"
	    "\"description\":\"Bad Request: group chat was upgraded to a "
	    "supergroup chat\",\"parameters\":{\"migrate_to_chat_id\":"
	    "-1001234567890123}}");
	bc_tg_call(F.tg, "sendMessage", msg(-555, "hi"), 0, got_cb, &g);
	assert_true(run_until(&g.done, 5000));
	assert_int_equal(g.ok, 1);
	assert_true(g.migrated_to == -1001234567890123LL);
	assert_int_equal(count_seen("sendMessage"), 2);
	b = nth_seen("sendMessage", 1)->body;
	assert_true(json_integer_value(json_object_get(b, "chat_id")) ==
	    -1001234567890123LL);
	assert_string_equal(json_string_value(json_object_get(b, "text")),
	    "hi");
	/* Later calls to the old id go to the new one straight away. */
	bc_tg_send_text(F.tg, -555, "again", 0, NULL, got_cb, &h);
	assert_true(run_until(&h.done, 5000));
	assert_int_equal(count_seen("sendMessage"), 3);
	assert_true(json_integer_value(json_object_get(nth_seen("sendMessage",
	    2)->body, "chat_id")) == -1001234567890123LL);
	assert_true(h.migrated_to == -1001234567890123LL);
}

/* A long text goes in order, keyboard on the last part; one callback. */
static void
test_send_text_split(void **state)
{
	struct got g = { 0 };
	struct bc_tg_kb *kb;
	char *text, *cause = NULL;
	json_t *markup;
	size_t i;

	(void)state;
	text = xmalloc(9001);
	for (i = 0; i < 9000; i++)
		text[i] = i % 100 == 99 ? '\n' : 'a' + (char)(i % 26);
	text[9000] = '\0';
	kb = bc_tg_kb_new();
	bc_tg_kb_button(kb, "More", "more:1");
	markup = bc_tg_kb_finish(kb, &cause);
	assert_non_null(markup);
	assert_int_equal(bc_tg_send_text(F.tg, 42, text, BC_TG_SILENT, markup,
	    got_cb, &g), 0);
	assert_true(run_until(&g.done, 5000));
	run_for(50);
	assert_int_equal(g.done, 1);
	assert_int_equal(g.ok, 1);
	assert_int_equal(count_seen("sendMessage"), 3);
	assert_int_equal(g.message_id, F.next_id);
	for (i = 0; i < 3; i++) {
		json_t *b = nth_seen("sendMessage", i)->body;

		assert_true(json_is_true(json_object_get(b,
		    "disable_notification")));
		assert_int_equal(json_object_get(b, "reply_markup") != NULL,
		    i == 2);
		assert_true(strlen(json_string_value(json_object_get(b,
		    "text"))) <= 4096);
	}
	assert_int_equal(strncmp(json_string_value(json_object_get(
	    nth_seen("sendMessage", 0)->body, "text")), text, 100), 0);
	free(text);
}

/* The first part fails: the rest is not sent, the callback runs once. */
static void
test_send_text_first_fails(void **state)
{
	struct got g = { 0 };
	char *text;

	(void)state;
	text = xmalloc(6001);
	memset(text, 'z', 6000);
	text[3000] = '\n';
	text[6000] = '\0';
	script("sendMessage", 403, "{\"ok\":false,\"error_code\":403,"
	    "\"description\":\"Forbidden: user is deactivated\"}");
	bc_tg_send_text(F.tg, 43, text, 0, NULL, got_cb, &g);
	assert_true(run_until(&g.done, 5000));
	run_for(100);
	assert_int_equal(g.done, 1);
	assert_int_equal(g.error_code, 403);
	assert_int_equal(count_seen("sendMessage"), 1);
	assert_true(bc_tg_idle(F.tg));
	free(text);
}

static void
test_upload(void **state)
{
	struct got g = { 0 }, h = { 0 };
	static const char png[] = "\x89PNG\r\n\x1a\n-fake-image-bytes";
	struct seen *s;

	(void)state;
	assert_int_equal(bc_tg_upload_media(F.tg, BC_TG_PHOTO, 42, png,
	    sizeof(png) - 1, "chart.png", "Weekly <b>chart</b>", BC_TG_HTML,
	    NULL, got_cb, &g), 0);
	assert_true(run_until(&g.done, 5000));
	assert_int_equal(g.ok, 1);
	s = nth_seen("sendPhoto", 0);
	assert_non_null(strstr(s->ctype, "multipart/form-data"));
	assert_non_null(strstr(s->raw,
	    "name=\"photo\"; filename=\"chart.png\""));
	assert_non_null(strstr(s->raw, "-fake-image-bytes"));
	assert_non_null(strstr(s->raw, "name=\"chat_id\""));
	assert_non_null(strstr(s->raw, "Weekly <b>chart</b>"));
	assert_non_null(strstr(s->raw, "name=\"parse_mode\""));
	/* By file_id: plain JSON. */
	bc_tg_send_media(F.tg, BC_TG_DOCUMENT, 42, "BQACAgIAAxkB", NULL, 0,
	    NULL, got_cb, &h);
	assert_true(run_until(&h.done, 5000));
	s = nth_seen("sendDocument", 0);
	assert_string_equal(json_string_value(json_object_get(s->body,
	    "document")), "BQACAgIAAxkB");
}

/* Calls to one chat keep their order, even with retries in between. */
static void
test_chat_order(void **state)
{
	struct got g[6];
	char t[8];
	int i;

	(void)state;
	memset(g, 0, sizeof(g));
	script("sendMessage", 502, "{\"ok\":false,\"error_code\":502,"
	    "\"description\":\"Bad Gateway\"}");
	for (i = 0; i < 6; i++) {
		snprintf(t, sizeof(t), "m%d", i);
		bc_tg_call(F.tg, "sendMessage", msg(77, t), 0, got_cb, &g[i]);
	}
	assert_true(run_until(&g[5].done, 5000));
	assert_int_equal(count_seen("sendMessage"), 7);
	assert_string_equal(json_string_value(json_object_get(
	    nth_seen("sendMessage", 1)->body, "text")), "m0");
	for (i = 1; i < 6; i++) {
		snprintf(t, sizeof(t), "m%d", i);
		assert_string_equal(json_string_value(json_object_get(
		    nth_seen("sendMessage", (size_t)i + 1)->body, "text")), t);
		assert_true(g[i].t >= g[i - 1].t);
	}
}

static void
test_helpers(void **state)
{
	struct got g[5];
	json_t *b;
	int i;

	(void)state;
	memset(g, 0, sizeof(g));
	bc_tg_answer_callback(F.tg, "cbq-1", "Готово", 1, got_cb, &g[0]);
	bc_tg_send_dice(F.tg, 9, NULL, 0, got_cb, &g[1]);
	bc_tg_delete_message(F.tg, 9, 11, got_cb, &g[2]);
	bc_tg_edit_markup(F.tg, 9, 12, NULL, got_cb, &g[3]);
	bc_tg_call(F.tg, "setMyCommands", json_pack("{s:[{s:s,s:s}]}",
	    "commands", "command", "start", "description", "Start"), 0,
	    got_cb, &g[4]);
	for (i = 0; i < 5; i++) {
		assert_true(run_until(&g[i].done, 5000));
		assert_int_equal(g[i].ok, 1);
	}
	b = nth_seen("answerCallbackQuery", 0)->body;
	assert_string_equal(json_string_value(json_object_get(b,
	    "callback_query_id")), "cbq-1");
	assert_true(json_is_true(json_object_get(b, "show_alert")));
	assert_int_equal(json_integer_value(json_object_get(
	    nth_seen("deleteMessage", 0)->body, "message_id")), 11);
	assert_int_equal(count_seen("sendDice"), 1);
	assert_int_equal(count_seen("editMessageReplyMarkup"), 1);
	assert_int_equal(count_seen("setMyCommands"), 1);
}

/* ---------------------------------------------------------------- updates */

struct handler {
	int64_t		 ids[64];
	size_t		 n;
	int64_t		 fail_once;	/* see this id again, once */
	int		 stop_at;	/* stop updates after this many */
};

static int
handler_cb(struct bc_tg *tg, const struct bc_tg_update *u, void *arg)
{
	struct handler *h = arg;

	if (u->update_id == h->fail_once) {
		h->fail_once = -1;
		return -1;
	}
	if (h->n < 64)
		h->ids[h->n++] = u->update_id;
	if (h->stop_at > 0 && (int)h->n == h->stop_at)
		bc_tg_stop_updates(tg);
	return 0;
}

static void
test_polling_offsets(void **state)
{
	struct handler h = { .fail_once = 14 };
	char *cause = NULL;
	json_t *b;

	(void)state;
	script("getUpdates", 200, "{\"ok\":true,\"result\":["
	    "{\"update_id\":10,\"message\":{\"chat\":{\"id\":1},"
	    "\"text\":\"a\"}},"
	    "{\"update_id\":11,\"message\":{\"text\":\"no chat\"}},"
	    "{\"update_id\":12,\"callback_query\":{\"id\":\"q\",\"from\":"
	    "{\"id\":2}}}]}");
	script("getUpdates", 200, "{\"ok\":true,\"result\":["
	    "{\"update_id\":13,\"poll\":{}},"
	    "{\"update_id\":14,\"message\":{\"chat\":{\"id\":1}}},"
	    "{\"update_id\":15,\"message\":{\"chat\":{\"id\":1}}}]}");
	script("getUpdates", 200, "{\"ok\":true,\"result\":["
	    "{\"update_id\":14,\"message\":{\"chat\":{\"id\":1}}},"
	    "{\"update_id\":15,\"message\":{\"chat\":{\"id\":1}}}]}");
	assert_int_equal(bc_tg_start_polling(F.tg, handler_cb, &h, &cause),
	    0);
	assert_int_equal(bc_tg_start_polling(F.tg, handler_cb, &h, &cause),
	    -1);
	free(cause);
	assert_true(wait_seen("getUpdates", 4, 5000));
	run_for(300);
	assert_int_equal(count_seen("deleteWebhook"), 1);
	assert_int_equal(count_seen("getUpdates"), 4);
	/* First poll: no offset yet, explicit allowed_updates and timeout. */
	b = nth_seen("getUpdates", 0)->body;
	assert_int_equal(json_integer_value(json_object_get(b, "offset")), 0);
	assert_int_equal(json_integer_value(json_object_get(b, "timeout")),
	    30);
	assert_int_equal(json_array_size(json_object_get(b,
	    "allowed_updates")), 5);
	/* The malformed 11 was skipped: past 12. */
	assert_int_equal(json_integer_value(json_object_get(nth_seen(
	    "getUpdates", 1)->body, "offset")), 13);
	/* 14 asked to wait: the offset stays before it, 15 not handled. */
	assert_int_equal(json_integer_value(json_object_get(nth_seen(
	    "getUpdates", 2)->body, "offset")), 14);
	assert_int_equal(json_integer_value(json_object_get(nth_seen(
	    "getUpdates", 3)->body, "offset")), 16);
	assert_int_equal(h.n, 5);
	assert_int_equal(h.ids[0], 10);
	assert_int_equal(h.ids[1], 12);
	assert_int_equal(h.ids[2], 13);
	assert_int_equal(h.ids[3], 14);
	assert_int_equal(h.ids[4], 15);
	assert_int_equal(bc_tg_offset(F.tg), 16);
	assert_non_null(strstr(logged(), "malformed telegram update skipped"));
}

/* The batch callback: around each batch; -1 at the end takes the offset
 * back to the batch's start. */
struct batches {
	int	 begins;
	int	 ends;
	size_t	 seen_at_end[8];
	int	 fail_end;	/* fail this end (1-based), once */
	struct handler *h;
};

static int
batch_cb(struct bc_tg *tg, int end, const int64_t *ids, size_t n,
    void *arg)
{
	struct batches *b = arg;

	(void)tg;
	if (!end) {
		/* The batches are 30, 31 each time. */
		assert_int_equal(n, 2);
		assert_int_equal(ids[0], 30);
		assert_int_equal(ids[1], 31);
		b->begins++;
		return 0;
	}
	assert_null(ids);
	assert_int_equal(n, 0);
	if (b->ends < 8)
		b->seen_at_end[b->ends] = b->h->n;
	b->ends++;
	return b->ends == b->fail_end ? -1 : 0;
}

static void
test_polling_batches(void **state)
{
	struct handler h = { .fail_once = -1 };
	struct batches bt = { .fail_end = 1, .h = &h };
	char *cause = NULL;

	(void)state;
	script("getUpdates", 200, "{\"ok\":true,\"result\":["
	    "{\"update_id\":30,\"message\":{\"chat\":{\"id\":1}}},"
	    "{\"update_id\":31,\"message\":{\"chat\":{\"id\":1}}}]}");
	script("getUpdates", 200, "{\"ok\":true,\"result\":["
	    "{\"update_id\":30,\"message\":{\"chat\":{\"id\":1}}},"
	    "{\"update_id\":31,\"message\":{\"chat\":{\"id\":1}}}]}");
	script("getUpdates", 200, "{\"ok\":true,\"result\":[]}");
	bc_tg_set_batch_cb(F.tg, batch_cb, &bt);
	assert_int_equal(bc_tg_start_polling(F.tg, handler_cb, &h, &cause),
	    0);
	assert_true(wait_seen("getUpdates", 4, 5000));
	run_for(100);
	/* Two batches with updates (an empty one calls nothing). */
	assert_int_equal(bt.begins, 2);
	assert_int_equal(bt.ends, 2);
	assert_int_equal(bt.seen_at_end[0], 2);
	assert_int_equal(bt.seen_at_end[1], 4);
	/* The first batch was undone: fetched again with the offset it
	 * was fetched with (none yet: 0). */
	assert_int_equal(json_integer_value(json_object_get(nth_seen(
	    "getUpdates", 1)->body, "offset")), 0);
	assert_int_equal(json_integer_value(json_object_get(nth_seen(
	    "getUpdates", 2)->body, "offset")), 32);
	assert_int_equal(h.ids[2], 30);
	assert_int_equal(h.ids[3], 31);
	assert_int_equal(bc_tg_offset(F.tg), 32);
}

/* Stopping inside the handler: the rest of the batch waits, and the
 * offset reached is confirmed with one short getUpdates. */
static void
test_stop_confirms(void **state)
{
	struct handler h = { .fail_once = -1, .stop_at = 1 };
	char *cause = NULL;
	json_t *b;

	(void)state;
	script("getUpdates", 200, "{\"ok\":true,\"result\":["
	    "{\"update_id\":20,\"message\":{\"chat\":{\"id\":1}}},"
	    "{\"update_id\":21,\"message\":{\"chat\":{\"id\":1}}}]}");
	assert_int_equal(bc_tg_start_polling(F.tg, handler_cb, &h, &cause),
	    0);
	assert_true(wait_seen("getUpdates", 2, 5000));
	run_for(200);
	assert_int_equal(h.n, 1);
	assert_int_equal(count_seen("getUpdates"), 2);
	b = nth_seen("getUpdates", 1)->body;
	assert_int_equal(json_integer_value(json_object_get(b, "offset")), 21);
	assert_int_equal(json_integer_value(json_object_get(b, "timeout")), 0);
	assert_true(bc_tg_idle(F.tg));
}

/* 409: logged loudly, retried after growing delays, never spinning. */
static void
test_conflict_backoff(void **state)
{
	struct handler h = { .fail_once = -1 };
	char *cause = NULL;
	size_t i, n;

	(void)state;
	for (i = 0; i < MAX_SCRIPT - 1; i++)
		script("getUpdates", 409, "{\"ok\":false,\"error_code\":409,"
		    "\"description\":\"Conflict: terminated by other "
		    "getUpdates request; make sure that only one bot instance "
		    "is running\"}");
	assert_int_equal(bc_tg_start_polling(F.tg, handler_cb, &h, &cause),
	    0);
	run_for(1600);
	/* 100, 200, 400, 800 ms (+/- 20 %) fit 4 or 5 polls in 1.6 s. */
	n = count_seen("getUpdates");
	assert_true(n >= 3 && n <= 5);
	for (i = 2; i < n; i++)
		assert_true(nth_seen("getUpdates", i)->t -
		    nth_seen("getUpdates", i - 1)->t >
		    nth_seen("getUpdates", i - 1)->t -
		    nth_seen("getUpdates", i - 2)->t);
	assert_non_null(strstr(logged(), "level=error msg=\"getUpdates "
	    "conflict"));
	assert_int_equal(h.n, 0);
}

/* 5xx on getUpdates and a 401 while polling. */
static void
test_poll_errors(void **state)
{
	struct handler h = { .fail_once = -1 };
	char *cause = NULL;

	(void)state;
	script("getUpdates", 502, "bad gateway");
	script_drop("getUpdates");
	script("getUpdates", 401, "{\"ok\":false,\"error_code\":401,"
	    "\"description\":\"Unauthorized\"}");
	assert_int_equal(bc_tg_start_polling(F.tg, handler_cb, &h, &cause),
	    0);
	assert_true(run_until(&F.fatal_calls, 5000));
	run_for(200);
	assert_int_equal(count_seen("getUpdates"), 3);
	assert_int_equal(F.fatal_calls, 1);
}

/* ---------------------------------------------------------------- webhook */

struct post {
	int		 done;
	long		 status;
};

static void
post_cb(const struct bc_http_resp *r, void *arg)
{
	struct post *p = arg;

	p->status = r->status;
	p->done = 1;
}

/* POST body to the webhook with secret (NULL: no header); the status. */
static long
post_update(int port, const char *secret, const char *body)
{
	struct bc_http_req req = BC_HTTP_REQ_ZERO;
	const char *hdrs[2] = { NULL, NULL };
	struct post p = { 0, 0 };
	char url[64], hdr[300], *cause = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/tg/hook", port);
	if (secret != NULL) {
		snprintf(hdr, sizeof(hdr), "X-Telegram-Bot-Api-Secret-Token: "
		    "%s", secret);
		hdrs[0] = hdr;
	}
	req.method = "POST";
	req.url = url;
	req.headers = hdrs;
	req.body = body;
	req.body_len = strlen(body);
	req.content_type = "application/json";
	assert_non_null(bc_http_start(F.http, &req, post_cb, &p, &cause));
	assert_true(run_until(&p.done, 5000));
	return p.status;
}

static void
test_webhook(void **state)
{
	struct handler h = { .fail_once = 31 };
	struct bc_httpd *srv;
	char *cause = NULL;
	json_t *b;
	int port;
	const char *u30 = "{\"update_id\":30,\"message\":{\"chat\":{\"id\":1},"
	    "\"text\":\"hi\"}}";
	const char *u31 = "{\"update_id\":31,\"message\":{\"chat\":"
	    "{\"id\":1}}}";

	(void)state;
	srv = bc_httpd_new(F.base, "127.0.0.1:0", &cause);
	assert_non_null(srv);
	port = bc_httpd_port(srv);
	assert_int_equal(bc_tg_start_webhook(F.tg, srv, "/tg/hook",
	    "https://bots.example.org/tg/hook", "bad secret!", handler_cb, &h,
	    &cause), -1);
	free(cause);
	cause = NULL;
	assert_int_equal(bc_tg_start_webhook(F.tg, srv, "/tg/hook",
	    "https://bots.example.org/tg/hook", "s3cret-Value_1", handler_cb,
	    &h, &cause), 0);
	run_for(100);
	b = nth_seen("setWebhook", 0)->body;
	assert_string_equal(json_string_value(json_object_get(b, "url")),
	    "https://bots.example.org/tg/hook");
	assert_string_equal(json_string_value(json_object_get(b,
	    "secret_token")), "s3cret-Value_1");
	assert_non_null(json_object_get(b, "allowed_updates"));

	assert_int_equal(post_update(port, "s3cret-Value_1", u30), 200);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.ids[0], 30);
	assert_int_equal(post_update(port, "s3cret-Value_2", u30), 401);
	assert_int_equal(post_update(port, "s3cret-Value_1x", u30), 401);
	assert_int_equal(post_update(port, "", u30), 401);
	assert_int_equal(post_update(port, NULL, u30), 401);
	assert_int_equal(h.n, 1);
	/* The handler asks for a retry: 500, and Telegram redelivers. */
	assert_int_equal(post_update(port, "s3cret-Value_1", u31), 500);
	assert_int_equal(h.n, 1);
	assert_int_equal(post_update(port, "s3cret-Value_1", u31), 200);
	assert_int_equal(h.n, 2);
	/* Out of order is fine on a webhook. */
	assert_int_equal(post_update(port, "s3cret-Value_1", u30), 200);
	assert_int_equal(h.n, 3);
	/* Malformed: dropped (200), logged. */
	assert_int_equal(post_update(port, "s3cret-Value_1", "{nope"), 200);
	assert_int_equal(post_update(port, "s3cret-Value_1", "[]"), 200);
	assert_int_equal(h.n, 3);
	/* The secret never reaches the log. */
	assert_null(strstr(logged(), "s3cret-Value_1"));
	bc_tg_stop_updates(F.tg);
	assert_int_equal(post_update(port, "s3cret-Value_1", u30), 503);
	bc_httpd_free(srv);
}

/* ---------------------------------------------------------------- metrics */

static void
test_metrics(void **state)
{
	struct bc_metrics *m = bc_metrics_new();
	struct bc_tg_opts o;
	struct got g = { 0 }, h = { 0 };
	char *text;

	(void)state;
	bc_tg_free(F.tg);
	default_opts(&o);
	o.metrics = m;
	new_client(&o);
	script("sendMessage", 403, "{\"ok\":false,\"error_code\":403,"
	    "\"description\":\"Forbidden\"}");
	bc_tg_call(F.tg, "sendMessage", msg(1, "a"), 0, got_cb, &g);
	bc_tg_call(F.tg, "sendMessage", msg(2, "b"), 0, got_cb, &h);
	assert_true(run_until(&g.done, 5000));
	assert_true(run_until(&h.done, 5000));
	text = bc_metrics_render(m, NULL);
	assert_non_null(strstr(text,
	    "tg_api_calls_total{method=\"sendMessage\","
	    "result=\"forbidden\"} 1"));
	assert_non_null(strstr(text,
	    "tg_api_calls_total{method=\"sendMessage\","
	    "result=\"ok\"} 1"));
	assert_non_null(strstr(text, "tg_queue_depth 0"));
	free(text);
	bc_tg_free(F.tg);
	F.tg = NULL;
	bc_metrics_free(m);
}

/* ---------------------------------------------------------------- lock */

static void
test_lock(void **state)
{
	char dir[] = "lockXXXXXX", *cause = NULL;
	struct dirent *de;
	int fd, fd2, st, up[2], down[2], files = 0;
	pid_t pid;
	DIR *d;
	char c;

	(void)state;
	assert_non_null(mkdtemp(dir));
	fd = bc_tg_lock_instance(TOKEN, dir, &cause);
	assert_true(fd >= 0);
	/* The file is named after a hash, never the token. */
	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		files++;
		assert_int_equal(strncmp(de->d_name, "tg-", 3), 0);
		assert_int_equal(strlen(de->d_name), 3 + 16 + 5);
		assert_null(strstr(de->d_name, "123456"));
	}
	closedir(d);
	assert_int_equal(files, 1);
	/* Another process cannot take it. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *why = NULL;
		int r = bc_tg_lock_instance(TOKEN, dir, &why);

		_exit(r == -1 && why != NULL &&
		    strstr(why, "another instance of bot 123456 is already "
		    "running (pid ") != NULL && strstr(why, TOKEN) == NULL ?
		    0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* Another token can. */
	fd2 = bc_tg_lock_instance("654321:other", dir, &cause);
	assert_true(fd2 >= 0);
	close(fd2);
	/* A child holds it; once the child exits, it is ours again. */
	close(fd);
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *why = NULL;
		int r = bc_tg_lock_instance(TOKEN, dir, &why);

		c = r >= 0 ? 'y' : 'n';
		if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(2);
		_exit(0);	/* the lock goes with the process */
	}
	assert_int_equal(read(up[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	assert_int_equal(bc_tg_lock_instance(TOKEN, dir, &cause), -1);
	assert_non_null(strstr(cause, "already running"));
	free(cause);
	cause = NULL;
	c = 'x';
	assert_int_equal(write(down[1], &c, 1), 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	fd = bc_tg_lock_instance(TOKEN, dir, &cause);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(bc_tg_lock_instance(NULL, dir, &cause), -1);
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_me, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unauthorized, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_options, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_flood_pauses_all, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_server_errors_retried,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_give_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forbidden_not_retried,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_modified_is_ok, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_text_split, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_send_text_first_fails,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chat_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_helpers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_polling_offsets, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_polling_batches, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stop_confirms, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_conflict_backoff, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_poll_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_webhook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
