/*
 * http: the async client against an evhttp server on 127.0.0.1 in the same
 * event loop. Round trips, many in flight, retries and backoff, timeouts,
 * dropped and refused connections, size caps, cancel, free, multipart.
 */

#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include <botcommon/http.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#define WAIT_MS		20000	/* give up on a test after this long */
#define MAXHITS		64

/* ------------------------------------------------------------ server */

/* A reply the server holds back for a while (/slow). */
struct delayed {
	TAILQ_ENTRY(delayed)	 entry;
	struct evhttp_request	*req;
	struct event		*ev;
};

static struct {
	struct evhttp		*http;
	int			 port;
	int			 hits;		/* requests seen */
	int64_t			 hit_ms[MAXHITS];
	int			 flaky;		/* /flaky hits */
	int			 drops;		/* /drop hits */
	int			 pending;	/* delayed replies not sent */
	int			 max_pending;
	TAILQ_HEAD(delayed_list, delayed) delayed;
	char			*method;	/* of the last request */
	char			*ctype;
	char			*body;
	size_t			 body_len;
} S;

static struct event_base *base;
static struct bc_http	 *H;

static const char *
srv_method(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "OTHER";
	}
}

/* Remember what arrived: method, content type, body. */
static void
srv_record(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *ct;

	if (S.hits < MAXHITS)
		S.hit_ms[S.hits] = bc_now_ms();
	S.hits++;
	free(S.method);
	S.method = xstrdup(srv_method(req));
	free(S.ctype);
	ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	S.ctype = ct != NULL ? xstrdup(ct) : NULL;
	free(S.body);
	S.body_len = evbuffer_get_length(in);
	S.body = xmalloc(S.body_len + 1);
	evbuffer_copyout(in, S.body, S.body_len);
	S.body[S.body_len] = '\0';
}

static void
srv_reply(struct evhttp_request *req, int code, const char *body,
    size_t len)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, code < 300 ? "OK" : "Oops", b);
	evbuffer_free(b);
}

/* /echo: the request body back (or "hello"), with telltale headers. */
static void
srv_echo(struct evhttp_request *req)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *x;

	evhttp_add_header(out, "X-Test", "yes");
	evhttp_add_header(out, "X-Method", srv_method(req));
	evhttp_add_header(out, "X-Dup", "first");
	evhttp_add_header(out, "X-Dup", "last");
	if ((x = evhttp_find_header(in, "X-Req")) != NULL)
		evhttp_add_header(out, "X-Echo-Req", x);
	evhttp_add_header(out, "Content-Type",
	    S.ctype != NULL ? S.ctype : "text/plain");
	if (S.body_len > 0)
		srv_reply(req, 200, S.body, S.body_len);
	else
		srv_reply(req, 200, "hello", 5);
}

static void
srv_delayed_fire(evutil_socket_t fd, short what, void *arg)
{
	struct delayed *d = arg;

	(void)fd;
	(void)what;
	TAILQ_REMOVE(&S.delayed, d, entry);
	S.pending--;
	srv_reply(d->req, 200, "slow", 4);
	event_free(d->ev);
	free(d);
}

static void
srv_slow(struct evhttp_request *req, int ms)
{
	struct delayed *d = xcalloc(1, sizeof *d);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	d->req = req;
	d->ev = evtimer_new(base, srv_delayed_fire, d);
	evtimer_add(d->ev, &tv);
	TAILQ_INSERT_TAIL(&S.delayed, d, entry);
	if (++S.pending > S.max_pending)
		S.max_pending = S.pending;
}

/* Close the connection without a word (the reply hits a dead socket). */
static void
srv_drop(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);

	shutdown(bufferevent_getfd(bev), SHUT_RDWR);
	srv_reply(req, 200, "never seen", 10);
}

/* n bytes of 'x', with a Content-Length or chunked. */
static void
srv_big(struct evhttp_request *req, int n, int chunked)
{
	struct evbuffer *b = evbuffer_new();
	char *p = xmalloc((size_t)n + 1);

	memset(p, 'x', (size_t)n);
	evbuffer_add(b, p, (size_t)n);
	free(p);
	if (!chunked)
		evhttp_send_reply(req, 200, "OK", b);
	else {
		evhttp_send_reply_start(req, 200, "OK");
		evhttp_send_reply_chunk(req, b);
		evhttp_send_reply_end(req);
	}
	evbuffer_free(b);
}

static void
srv_code(struct evhttp_request *req, int code, int ra)
{
	char v[32];

	if (ra >= 0) {
		snprintf(v, sizeof v, "%d", ra);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Retry-After", v);
	}
	srv_reply(req, code, "code", 4);
}

static void
srv_cb(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	int n, ra;

	(void)arg;
	srv_record(req);
	if (strcmp(uri, "/echo") == 0 || strcmp(uri, "/upload") == 0)
		srv_echo(req);
	else if (sscanf(uri, "/code/%d", &n) == 1)
		srv_code(req, n, sscanf(uri, "/code/%*d?ra=%d", &ra) == 1 ?
		    ra : -1);
	else if (sscanf(uri, "/flaky/%d", &n) == 1)
		srv_code(req, S.flaky++ < n ? 503 : 200, -1);
	else if (sscanf(uri, "/slow/%d", &n) == 1)
		srv_slow(req, n);
	else if (sscanf(uri, "/drop/%d", &n) == 1) {
		if (S.drops++ < n)
			srv_drop(req);
		else
			srv_reply(req, 200, "ok", 2);
	} else if (sscanf(uri, "/big/%d", &n) == 1)
		srv_big(req, n, 0);
	else if (sscanf(uri, "/chunked/%d", &n) == 1)
		srv_big(req, n, 1);
	else
		srv_reply(req, 404, "no such path", 12);
}

static void
srv_start(void)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;

	memset(&S, 0, sizeof S);
	TAILQ_INIT(&S.delayed);
	S.http = evhttp_new(base);
	assert_non_null(S.http);
	evhttp_set_allowed_methods(S.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_PATCH);
	evhttp_set_gencb(S.http, srv_cb, NULL);
	bs = evhttp_bind_socket_with_handle(S.http, "127.0.0.1", 0);
	assert_non_null(bs);
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &len), 0);
	S.port = ntohs(sin.sin_port);
}

static void
srv_stop(void)
{
	struct delayed *d;

	/* Answer whatever is held back, so evhttp frees every request. */
	while ((d = TAILQ_FIRST(&S.delayed)) != NULL)
		srv_delayed_fire(-1, 0, d);
	evhttp_free(S.http);
	free(S.method);
	free(S.ctype);
	free(S.body);
	memset(&S, 0, sizeof S);
}

/* ------------------------------------------------------------ client side */

#define NHDR	6
static const char *hdr_names[NHDR] = {
	"x-test", "X-DUP", "content-type", "X-Method", "X-Echo-Req",
	"Retry-After"
};

struct result {
	int		 calls;
	long		 status;
	enum bc_http_err error;
	char		*errmsg;
	char		*body;
	size_t		 body_len;
	int		 attempts;
	int64_t		 elapsed_ms;
	char		*hdr[NHDR];
	int		 missing_is_null;
	/* Things to do from inside the callback. */
	struct bc_http_call *cancel;
	struct bc_http_call *self;
	int		 free_client;
	int		 chain;		/* start one more /echo */
	struct result	*chained;
};

static int	ndone;		/* callbacks seen in this test */

static char	*url(const char *, ...) __attribute__((format(printf, 1, 2)));

/* A URL on the test server; caller frees. */
static char *
url(const char *fmt, ...)
{
	va_list ap;
	char *path, *u;

	va_start(ap, fmt);
	xvasprintf(&path, fmt, ap);
	va_end(ap);
	xasprintf(&u, "http://127.0.0.1:%d%s", S.port, path);
	free(path);
	return u;
}

static void	start_echo(struct result *);

static void
result_cb(const struct bc_http_resp *resp, void *arg)
{
	struct result *r = arg;
	const char *v;
	int i;

	r->calls++;
	ndone++;
	r->status = resp->status;
	r->error = resp->error;
	r->errmsg = xstrdup(resp->errmsg);
	r->body = xmalloc(resp->body_len + 1);
	memcpy(r->body, resp->body, resp->body_len + 1);
	r->body_len = resp->body_len;
	r->attempts = resp->attempts;
	r->elapsed_ms = resp->elapsed_ms;
	for (i = 0; i < NHDR; i++)
		if ((v = bc_http_resp_header(resp, hdr_names[i])) != NULL)
			r->hdr[i] = xstrdup(v);
	r->missing_is_null = bc_http_resp_header(resp, "X-Absent") == NULL;
	if (r->cancel != NULL)
		bc_http_cancel(r->cancel);
	if (r->self != NULL)
		bc_http_cancel(r->self);	/* a no-op by contract */
	if (r->chain)
		start_echo(r->chained);
	if (r->free_client) {
		bc_http_free(H);
		H = NULL;
	}
}

static void
result_clear(struct result *r)
{
	int i;

	free(r->errmsg);
	free(r->body);
	for (i = 0; i < NHDR; i++)
		free(r->hdr[i]);
	memset(r, 0, sizeof *r);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Run the loop until *counter reaches want (or WAIT_MS passes). */
static void
run_until(const int *counter, int want)
{
	struct timeval tv = { 0, 20000 };
	struct event *tick;
	int64_t deadline = bc_now_ms() + WAIT_MS;

	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
	while (*counter < want && bc_now_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
	assert_true(*counter >= want);
}

/* Run the loop until *v drops to 0 (or WAIT_MS passes). */
static void
run_until_zero(const int *v)
{
	struct timeval tv = { 0, 20000 };
	struct event *tick;
	int64_t deadline = bc_now_ms() + WAIT_MS;

	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
	while (*v > 0 && bc_now_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
	assert_int_equal(*v, 0);
}

/* Run the loop for about ms milliseconds. */
static void
run_for(int64_t ms)
{
	struct timeval tv = { 0, 20000 };
	struct event *tick;
	int64_t deadline = bc_now_ms() + ms;

	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
	while (bc_now_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
}

static struct bc_http_call *
start(struct bc_http_req *rq, struct result *r)
{
	struct bc_http_call *c;
	char *cause = NULL;

	c = bc_http_start(H, rq, result_cb, r, &cause);
	if (c == NULL)
		fail_msg("bc_http_start: %s", cause);
	return c;
}

/* GET u with max_retries and a small backoff. */
static struct bc_http_call *
start_get(const char *u, int retries, struct result *r)
{
	struct bc_http_req rq = BC_HTTP_REQ_ZERO;

	rq.url = u;
	rq.max_retries = retries;
	rq.backoff_initial_ms = 20;
	rq.backoff_max_ms = 2000;
	return start(&rq, r);
}

static void
start_echo(struct result *r)
{
	char *u = url("/echo");

	start_get(u, 0, r);
	free(u);
}

static int
setup(void **state)
{
	char *cause = NULL;

	(void)state;
	base = event_base_new();
	assert_non_null(base);
	srv_start();
	H = bc_http_new(base, &cause);
	if (H == NULL)
		fail_msg("bc_http_new: %s", cause);
	ndone = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	bc_http_free(H);
	H = NULL;
	srv_stop();
	event_base_free(base);
	base = NULL;
	return 0;
}

/* ------------------------------------------------------------ tests */

static void
test_get_roundtrip(void **state)
{
	struct result r = { 0 };
	char *u = url("/echo");

	(void)state;
	start_get(u, 0, &r);
	assert_int_equal(bc_http_inflight(H), 1);
	assert_int_equal(r.calls, 0);	/* never from inside start */
	run_until(&ndone, 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.error, BC_HTTP_OK);
	assert_string_equal(r.errmsg, "");
	assert_string_equal(r.body, "hello");
	assert_int_equal(r.body_len, 5);
	assert_int_equal(r.attempts, 1);
	assert_true(r.elapsed_ms >= 0 && r.elapsed_ms < WAIT_MS);
	assert_string_equal(r.hdr[0], "yes");		/* x-test */
	assert_string_equal(r.hdr[1], "last");		/* repeated */
	assert_string_equal(r.hdr[2], "text/plain");
	assert_string_equal(r.hdr[3], "GET");
	assert_null(r.hdr[4]);
	assert_true(r.missing_is_null);
	assert_string_equal(S.method, "GET");
	assert_int_equal(bc_http_inflight(H), 0);
	result_clear(&r);
	free(u);
}

static void
test_post_json_roundtrip(void **state)
{
	struct result r = { 0 };
	json_t *in, *out;
	char *cause = NULL, *u = url("/echo");

	(void)state;
	in = json_pack("{s:i, s:s, s:[b,n]}", "chat_id", 42, "text",
	    "привет \"x\"", "a", 1);
	assert_non_null(bc_http_post_json(H, u, in, 5000, 0, result_cb, &r,
	    &cause));
	run_until(&ndone, 1);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.hdr[2], "application/json");
	assert_string_equal(r.hdr[3], "POST");
	assert_string_equal(S.method, "POST");
	assert_string_equal(S.ctype, "application/json");
	out = json_loadb(r.body, r.body_len, 0, NULL);
	assert_non_null(out);
	assert_true(json_equal(in, out));
	json_decref(out);
	json_decref(in);
	/* A missing body is an error, not a crash. */
	assert_null(bc_http_post_json(H, u, NULL, 0, 0, result_cb, &r,
	    &cause));
	assert_non_null(cause);
	free(cause);
	result_clear(&r);
	free(u);
}

static void
test_methods_headers_binary(void **state)
{
	static const char *const hv[] = { "X-Req: abc def", NULL };
	struct bc_http_req rq = BC_HTTP_REQ_ZERO;
	struct result r = { 0 }, r2 = { 0 };
	char *u = url("/echo");

	(void)state;
	rq.method = "PUT";
	rq.url = u;
	rq.headers = hv;
	rq.body = "a\0b\x01";
	rq.body_len = 4;
	rq.content_type = "application/octet-stream";
	start(&rq, &r);
	run_until(&ndone, 1);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.hdr[3], "PUT");
	assert_string_equal(r.hdr[4], "abc def");
	assert_int_equal(r.body_len, 4);
	assert_memory_equal(r.body, "a\0b\x01", 4);
	assert_int_equal(S.body_len, 4);

	/* DELETE without a body, and POST with an empty one. */
	memset(&rq, 0, sizeof rq);
	rq.method = "DELETE";
	rq.url = u;
	start(&rq, &r2);
	run_until(&ndone, 2);
	assert_string_equal(r2.hdr[3], "DELETE");
	result_clear(&r2);
	rq.method = "POST";
	start(&rq, &r2);
	run_until(&ndone, 3);
	assert_string_equal(r2.hdr[3], "POST");
	assert_int_equal(S.body_len, 0);
	result_clear(&r);
	result_clear(&r2);
	free(u);
}

#define MANY	100

static void
test_many_inflight(void **state)
{
	struct result *r = xcalloc(MANY, sizeof *r);
	char *u = url("/slow/300");
	int i;

	(void)state;
	for (i = 0; i < MANY; i++)
		start_get(u, 0, &r[i]);
	assert_int_equal(bc_http_inflight(H), MANY);
	run_until(&ndone, MANY);
	for (i = 0; i < MANY; i++) {
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].status, 200);
		assert_string_equal(r[i].body, "slow");
		result_clear(&r[i]);
	}
	assert_int_equal(S.hits, MANY);
	/* They were really concurrent: the server held many at once. */
	assert_true(S.max_pending >= MANY / 2);
	assert_int_equal(bc_http_inflight(H), 0);
	free(r);
	free(u);
}

static void
test_retry_5xx_then_ok(void **state)
{
	struct result r = { 0 };
	char *u = url("/flaky/2");

	(void)state;
	start_get(u, 5, &r);
	run_until(&ndone, 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(S.hits, 3);
	result_clear(&r);
	free(u);
}

static void
test_retry_5xx_exhausted(void **state)
{
	struct result r = { 0 };
	char *u = url("/code/503");

	(void)state;
	start_get(u, 2, &r);
	run_until(&ndone, 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, 503);
	assert_int_equal(r.error, BC_HTTP_OK);
	assert_string_equal(r.body, "code");
	assert_int_equal(r.attempts, 3);
	assert_int_equal(S.hits, 3);
	result_clear(&r);
	free(u);
}

static void
test_4xx_not_retried(void **state)
{
	struct result r1 = { 0 }, r2 = { 0 };
	char *u1 = url("/code/429?ra=7"), *u2 = url("/code/404");

	(void)state;
	start_get(u1, 3, &r1);
	start_get(u2, 3, &r2);
	run_until(&ndone, 2);
	run_for(100);		/* a retry would show up here */
	assert_int_equal(r1.status, 429);
	assert_int_equal(r1.attempts, 1);
	assert_string_equal(r1.hdr[5], "7");
	assert_int_equal(r2.status, 404);
	assert_int_equal(r2.attempts, 1);
	assert_int_equal(S.hits, 2);
	assert_int_equal(ndone, 2);
	result_clear(&r1);
	result_clear(&r2);
	free(u1);
	free(u2);
}

static void
test_retry_after(void **state)
{
	struct bc_http_req rq = BC_HTTP_REQ_ZERO;
	struct result r1 = { 0 }, r2 = { 0 };
	char *u1 = url("/code/503?ra=1"), *u2 = url("/code/503?ra=3600");

	(void)state;
	/* Retry-After: 1 beats a 10 ms backoff... */
	rq.url = u1;
	rq.max_retries = 1;
	rq.backoff_initial_ms = 10;
	rq.backoff_max_ms = 5000;
	start(&rq, &r1);
	/* ...and an hour is capped at backoff_max. */
	rq.url = u2;
	rq.backoff_max_ms = 300;
	start(&rq, &r2);
	run_until(&ndone, 2);
	assert_int_equal(r1.attempts, 2);
	assert_int_equal(r1.status, 503);
	assert_true(r1.elapsed_ms >= 900);
	assert_int_equal(r2.attempts, 2);
	assert_true(r2.elapsed_ms >= 250);
	assert_true(r2.elapsed_ms < 900);
	result_clear(&r1);
	result_clear(&r2);
	free(u1);
	free(u2);
}

static void
test_backoff_grows(void **state)
{
	struct bc_http_req rq = BC_HTTP_REQ_ZERO;
	struct result r = { 0 };
	char *u = url("/flaky/3");
	int64_t gap1, gap2, gap3;

	(void)state;
	rq.url = u;
	rq.max_retries = 3;
	rq.backoff_initial_ms = 150;
	rq.backoff_max_ms = 10000;
	start(&rq, &r);
	run_until(&ndone, 1);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.attempts, 4);
	assert_int_equal(S.hits, 4);
	gap1 = S.hit_ms[1] - S.hit_ms[0];
	gap2 = S.hit_ms[2] - S.hit_ms[1];
	gap3 = S.hit_ms[3] - S.hit_ms[2];
	/* Nominal 150, 300, 600 ms, each +/- 20 %. */
	assert_true(gap1 >= 100);
	assert_true(gap2 > gap1);
	assert_true(gap3 > gap2);
	assert_true(gap3 < 5000);
	result_clear(&r);
	free(u);
}

static void
test_timeout(void **state)
{
	struct bc_http_req rq = BC_HTTP_REQ_ZERO;
	struct result r = { 0 };
	char *u = url("/slow/1500");

	(void)state;
	rq.url = u;
	rq.timeout_ms = 200;
	start(&rq, &r);
	run_until(&ndone, 1);
	assert_int_equal(r.error, BC_HTTP_ETIMEOUT);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.attempts, 1);
	assert_string_not_equal(r.errmsg, "");
	assert_string_equal(r.body, "");
	assert_true(r.elapsed_ms >= 150 && r.elapsed_ms < 1500);
	assert_string_equal(bc_http_strerror(r.error), "timeout");
	result_clear(&r);
	free(u);
}

static void
test_drop(void **state)
{
	struct result r1 = { 0 }, r2 = { 0 };
	char *u1 = url("/drop/1"), *u2;

	(void)state;
	/* Dropped once, then answered: retried, one callback. */
	start_get(u1, 2, &r1);
	run_until(&ndone, 1);
	assert_int_equal(r1.error, BC_HTTP_OK);
	assert_int_equal(r1.status, 200);
	assert_string_equal(r1.body, "ok");
	assert_int_equal(r1.attempts, 2);
	assert_int_equal(S.drops, 2);

	/* Without retries the drop is the answer. */
	u2 = url("/drop/100");
	start_get(u2, 0, &r2);
	run_until(&ndone, 2);
	assert_int_equal(r2.error, BC_HTTP_ENETWORK);
	assert_int_equal(r2.status, 0);
	assert_int_equal(r2.attempts, 1);
	assert_string_not_equal(r2.errmsg, "");
	result_clear(&r1);
	result_clear(&r2);
	free(u1);
	free(u2);
}

static void
test_refused(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	struct result r = { 0 };
	char *u;
	int fd;

	(void)state;
	/* A port that was just free and is closed again. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	xasprintf(&u, "http://127.0.0.1:%d/x", ntohs(sin.sin_port));
	start_get(u, 1, &r);
	run_until(&ndone, 1);
	assert_int_equal(r.error, BC_HTTP_ECONNECT);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.attempts, 2);
	assert_string_not_equal(r.errmsg, "");
	result_clear(&r);
	free(u);
}

static void
test_too_big(void **state)
{
	struct bc_http_req rq = BC_HTTP_REQ_ZERO;
	struct result r1 = { 0 }, r2 = { 0 }, r3 = { 0 };
	char *u1 = url("/big/100000"), *u2 = url("/chunked/100000");
	char *u3 = url("/big/1000");

	(void)state;
	rq.max_response = 1000;
	rq.max_retries = 2;
	rq.backoff_initial_ms = 10;
	rq.url = u1;		/* Content-Length says too much */
	start(&rq, &r1);
	rq.url = u2;		/* chunked: caught while reading */
	start(&rq, &r2);
	rq.url = u3;		/* exactly the cap is fine */
	start(&rq, &r3);
	run_until(&ndone, 3);
	assert_int_equal(r1.error, BC_HTTP_ETOOBIG);
	assert_int_equal(r1.attempts, 1);
	assert_int_equal(r1.body_len, 0);
	assert_int_equal(r2.error, BC_HTTP_ETOOBIG);
	assert_int_equal(r2.attempts, 1);
	assert_int_equal(r3.error, BC_HTTP_OK);
	assert_int_equal(r3.body_len, 1000);
	assert_int_equal(S.hits, 3);
	result_clear(&r1);
	result_clear(&r2);
	result_clear(&r3);
	free(u1);
	free(u2);
	free(u3);
}

static void
test_cancel(void **state)
{
	struct bc_http_req rq = BC_HTTP_REQ_ZERO;
	struct result ra = { 0 }, rb = { 0 }, rc = { 0 }, rd = { 0 };
	struct result re = { 0 };
	struct bc_http_call *a, *c, *d;
	char *fast = url("/slow/100"), *slow = url("/slow/400");
	char *u503 = url("/code/503");

	(void)state;
	/*
	 * a: cancelled at once; c: cancelled by b's callback; d: cancelled
	 * while waiting to retry (about 600 ms); b and e complete.
	 */
	a = start_get(fast, 0, &ra);
	bc_http_cancel(a);
	rq.url = u503;
	rq.max_retries = 3;
	rq.backoff_initial_ms = 600;
	d = start(&rq, &rd);
	c = start_get(slow, 0, &rc);
	rb.cancel = c;
	start_get(fast, 0, &rb);
	assert_int_equal(bc_http_inflight(H), 3);
	run_until(&ndone, 1);
	assert_int_equal(rb.calls, 1);
	assert_int_equal(rb.status, 200);
	/* d has had its 503 and waits: cancel it there. */
	run_until(&S.hits, 3);
	run_for(100);
	assert_int_equal(bc_http_inflight(H), 1);
	bc_http_cancel(d);
	bc_http_cancel(NULL);
	assert_int_equal(bc_http_inflight(H), 0);
	/* e outlives when a, c and d would have completed or retried. */
	start_get(slow, 0, &re);
	run_until(&ndone, 2);
	run_for(400);
	assert_int_equal(re.calls, 1);
	assert_int_equal(S.hits, 4);	/* b, c, d, e: a never left */
	assert_int_equal(ra.calls, 0);
	assert_int_equal(rc.calls, 0);
	assert_int_equal(rd.calls, 0);
	assert_int_equal(ndone, 2);
	result_clear(&rb);
	result_clear(&re);
	free(fast);
	free(slow);
	free(u503);
}

static void
test_callback_starts_request(void **state)
{
	struct result r1 = { 0 }, r2 = { 0 };

	(void)state;
	r1.chain = 1;
	r1.chained = &r2;
	start_echo(&r1);
	run_until(&ndone, 2);
	assert_int_equal(r1.calls, 1);
	assert_int_equal(r2.calls, 1);
	assert_int_equal(r2.status, 200);
	assert_int_equal(S.hits, 2);
	result_clear(&r1);
	result_clear(&r2);
}

static void
test_self_cancel(void **state)
{
	struct result r = { 0 };
	struct bc_http_call *c;
	char *u = url("/echo");

	(void)state;
	c = start_get(u, 0, &r);
	r.self = c;
	run_until(&ndone, 1);
	run_for(50);
	assert_int_equal(r.calls, 1);
	assert_int_equal(bc_http_inflight(H), 0);
	result_clear(&r);
	free(u);
}

static void
test_free_inflight(void **state)
{
	struct bc_http_req rq = BC_HTTP_REQ_ZERO;
	struct result r[6];
	char *slow = url("/slow/300"), *u503 = url("/code/503");
	int i;

	(void)state;
	memset(r, 0, sizeof r);
	for (i = 0; i < 5; i++)
		start_get(slow, 0, &r[i]);
	rq.url = u503;
	rq.max_retries = 3;
	rq.backoff_initial_ms = 5000;
	start(&rq, &r[5]);
	run_until(&S.hits, 6);
	run_for(30);
	assert_int_equal(bc_http_inflight(H), 6);
	bc_http_free(H);
	H = NULL;
	run_until_zero(&S.pending);
	run_for(400);
	assert_int_equal(ndone, 0);
	free(slow);
	free(u503);
}

static void
test_free_in_callback(void **state)
{
	struct result r[4];
	char *fast = url("/echo"), *slow = url("/slow/300");
	int i;

	(void)state;
	memset(r, 0, sizeof r);
	for (i = 1; i < 4; i++)
		start_get(slow, 0, &r[i]);
	r[0].free_client = 1;
	start_get(fast, 0, &r[0]);
	run_until(&ndone, 1);
	assert_null(H);
	run_for(500);
	assert_int_equal(ndone, 1);
	assert_int_equal(r[0].status, 200);
	for (i = 0; i < 4; i++)
		result_clear(&r[i]);
	free(fast);
	free(slow);
}

static void
test_multipart(void **state)
{
	static const char file[] = "PHOTO\0BYTES\xff\x01end";
	struct bc_http_part parts[3];
	struct bc_http_req rq = BC_HTTP_REQ_ZERO;
	struct result r = { 0 };
	const char *tmp = getenv("TMPDIR");
	char *path, *u = url("/upload"), *cause = NULL;
	FILE *f;

	(void)state;
	xasprintf(&path, "%s/photo.bin", tmp != NULL ? tmp : "/tmp");
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(file, 1, sizeof file - 1, f), sizeof file - 1);
	fclose(f);

	memset(parts, 0, sizeof parts);
	parts[0].name = "chat_id";
	parts[0].value = "42";
	parts[0].value_len = 2;
	parts[1].name = "photo";
	parts[1].path = path;
	parts[1].filename = "p.jpg";
	parts[1].content_type = "image/jpeg";
	parts[2].name = "doc";
	parts[2].value = "in\0memory";
	parts[2].value_len = 9;
	parts[2].filename = "m.txt";
	rq.url = u;
	rq.parts = parts;
	rq.nparts = 3;
	start(&rq, &r);
	run_until(&ndone, 1);
	assert_int_equal(r.status, 200);
	assert_string_equal(S.method, "POST");
	assert_non_null(S.ctype);
	assert_true(strncmp(S.ctype, "multipart/form-data; boundary=",
	    30) == 0);
	assert_non_null(memmem(S.body, S.body_len, "name=\"chat_id\"", 14));
	assert_non_null(memmem(S.body, S.body_len, "\r\n\r\n42\r\n", 8));
	assert_non_null(memmem(S.body, S.body_len,
	    "name=\"photo\"; filename=\"p.jpg\"", 30));
	assert_non_null(memmem(S.body, S.body_len,
	    "Content-Type: image/jpeg", 24));
	assert_non_null(memmem(S.body, S.body_len, file, sizeof file - 1));
	assert_non_null(memmem(S.body, S.body_len, "in\0memory", 9));
	assert_non_null(memmem(S.body, S.body_len, "filename=\"m.txt\"", 16));

	/* A file that is not there is refused up front. */
	parts[1].path = "/nonexistent/photo.jpg";
	assert_null(bc_http_start(H, &rq, result_cb, &r, &cause));
	assert_non_null(strstr(cause, "No such file"));
	free(cause);
	unlink(path);
	free(path);
	free(u);
	result_clear(&r);
}

/* Expect bc_http_start to refuse rq with a message. */
static void
refuse(const struct bc_http_req *rq)
{
	struct result r = { 0 };
	char *cause = NULL;

	assert_null(bc_http_start(H, rq, result_cb, &r, &cause));
	assert_non_null(cause);
	assert_true(strlen(cause) > 0);
	free(cause);
}

static void
test_bad_requests(void **state)
{
	static const char *const nocolon[] = { "X-Bad", NULL };
	static const char *const crlf[] = { "X-A: b\r\nX-Evil: 1", NULL };
	static const char *const spacename[] = { "X A: b", NULL };
	struct bc_http_part part = { .name = NULL };
	struct bc_http_req rq = BC_HTTP_REQ_ZERO;
	struct result r = { 0 };
	char *cause = NULL, *ok = url("/echo");

	(void)state;
	refuse(&rq);				/* no URL */
	rq.url = "";
	refuse(&rq);
	rq.url = "ftp://127.0.0.1/x";
	refuse(&rq);
	rq.url = "file:///etc/passwd";
	refuse(&rq);
	rq.url = "http://127.0.0.1/a b";
	refuse(&rq);
	rq.url = "http://127.0.0.1/a\r\nX: y";
	refuse(&rq);
	rq.url = ok;
	rq.method = "GET /x HTTP/1.1\r\n";
	refuse(&rq);
	rq.method = "";
	refuse(&rq);
	rq.method = NULL;
	rq.headers = nocolon;
	refuse(&rq);
	rq.headers = crlf;
	refuse(&rq);
	rq.headers = spacename;
	refuse(&rq);
	rq.headers = NULL;
	rq.body_len = 5;			/* length without body */
	refuse(&rq);
	rq.body = "x";
	rq.body_len = 1;
	rq.parts = &part;
	rq.nparts = 1;				/* both body and parts */
	refuse(&rq);
	rq.body = NULL;
	rq.body_len = 0;
	refuse(&rq);				/* part without a name */
	rq.parts = NULL;
	refuse(&rq);				/* nparts without parts */
	rq.nparts = 0;
	rq.timeout_ms = -1;
	refuse(&rq);
	rq.timeout_ms = 0;
	rq.max_retries = -1;
	refuse(&rq);
	rq.max_retries = 0;
	rq.content_type = "text/plain\r\nX: y";
	refuse(&rq);
	rq.content_type = NULL;
	assert_null(bc_http_start(H, &rq, NULL, NULL, &cause));	/* no cb */
	free(cause);
	cause = NULL;
	assert_null(bc_http_start(NULL, &rq, result_cb, &r, &cause));
	free(cause);
	cause = NULL;
	assert_null(bc_http_start(H, NULL, result_cb, &r, &cause));
	free(cause);
	assert_int_equal(bc_http_inflight(H), 0);
	assert_int_equal(bc_http_inflight(NULL), 0);
	assert_null(bc_http_resp_header(NULL, "x"));
	bc_http_free(NULL);
	assert_null(bc_http_new(NULL, &cause));
	free(cause);
	/* The client still works after all that. */
	start(&rq, &r);
	run_until(&ndone, 1);
	assert_int_equal(r.status, 200);
	assert_int_equal(S.hits, 1);
	result_clear(&r);
	free(ok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_post_json_roundtrip,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_methods_headers_binary,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_inflight, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retry_5xx_then_ok, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retry_5xx_exhausted,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_4xx_not_retried, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retry_after, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backoff_grows, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_too_big, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_callback_starts_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_cancel, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_free_inflight, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_free_in_callback, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_multipart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
