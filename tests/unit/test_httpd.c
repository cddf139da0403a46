/* httpd: listening, routing, requests, replies, held replies, bad peers. */

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include <botcommon/httpd.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

static struct event_base	*base;
static char			 bang[] = "!";
static struct bc_httpd		*httpd;

/* ------------------------------------------------------------ client */

/* A raw HTTP client on a bufferevent in the same loop. */
struct client {
	struct bufferevent	*bev;
	struct evbuffer		*in;
	int			 done;	/* EOF or error seen */
	int			 local_port;
};

struct resp {
	int	 status;
	char	*raw;		/* whole response, NUL-terminated */
	size_t	 rawlen;
	char	*body;		/* inside raw */
	size_t	 bodylen;
};

static int	timed_out;

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	timed_out = 1;
	event_base_loopbreak(base);
}

/* Run the loop until *flag is set; fail after 10 s. */
static void
run_until(const int *flag)
{
	struct timeval ten = { 10, 0 };
	struct event *guard;

	timed_out = 0;
	guard = evtimer_new(base, guard_cb, NULL);
	evtimer_add(guard, &ten);
	while (!*flag && !timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(guard);
	assert_false(timed_out);
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	evbuffer_add_buffer(c->in, bufferevent_get_input(bev));
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		evbuffer_add_buffer(c->in, bufferevent_get_input(bev));
		c->done = 1;
	}
}

/* Connect to 127.0.0.1 (or ::1) and start sending len bytes of req. */
static struct client *
client_start_af(int af, int port, const void *req, size_t len)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	struct client *c;
	int fd;

	memset(&ss, 0, sizeof ss);
	if (af == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((in_port_t)port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof *sin;
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((in_port_t)port);
		sin6->sin6_addr = in6addr_loopback;
		sl = sizeof *sin6;
	}
	fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	/* The kernel completes a loopback connect from the backlog. */
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, sl), 0);
	sl = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	c = xcalloc(1, sizeof *c);
	c->local_port = ntohs(af == AF_INET ? sin->sin_port :
	    sin6->sin6_port);
	evutil_make_socket_nonblocking(fd);
	c->in = evbuffer_new();
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, client_read, NULL, client_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	bufferevent_write(c->bev, req, len);
	return c;
}

static struct client *
client_start(const void *req, size_t len)
{
	return client_start_af(AF_INET, bc_httpd_port(httpd), req, len);
}

static void
client_free(struct client *c)
{
	bufferevent_free(c->bev);
	evbuffer_free(c->in);
	free(c);
}

/* Collect what the client got into r. */
static void
client_response(struct client *c, struct resp *r)
{
	char *end;

	memset(r, 0, sizeof *r);
	r->rawlen = evbuffer_get_length(c->in);
	r->raw = xmalloc(r->rawlen + 1);
	evbuffer_remove(c->in, r->raw, r->rawlen);
	r->raw[r->rawlen] = '\0';
	r->status = -1;
	if (sscanf(r->raw, "HTTP/1.%*d %d", &r->status) != 1)
		r->status = -1;
	if ((end = strstr(r->raw, "\r\n\r\n")) != NULL) {
		r->body = end + 4;
		r->bodylen = r->rawlen - (size_t)(r->body - r->raw);
	} else {
		r->body = r->raw + r->rawlen;
		r->bodylen = 0;
	}
}

/* Send raw bytes, wait for the server to close, parse the response. */
static void
roundtrip_raw(const void *req, size_t len, struct resp *r)
{
	struct client *c;

	c = client_start(req, len);
	run_until(&c->done);
	client_response(c, r);
	client_free(c);
}

static void
roundtrip(const char *req, struct resp *r)
{
	roundtrip_raw(req, strlen(req), r);
}

static void
resp_free(struct resp *r)
{
	free(r->raw);
	r->raw = NULL;
}

/* A response header's value (copied into a static buffer) or NULL. */
static const char *
resp_header(const struct resp *r, const char *name)
{
	static char val[256];
	const char *p = strstr(r->raw, "\r\n"), *eol;
	size_t n = strlen(name);

	while (p != NULL && strncmp(p, "\r\n\r\n", 4) != 0) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			p += strspn(p, " ");
			eol = strstr(p, "\r\n");
			snprintf(val, sizeof val, "%.*s", (int)(eol - p), p);
			return val;
		}
		p = strstr(p, "\r\n");
	}
	return NULL;
}

static void
assert_body(const struct resp *r, const char *want)
{
	assert_int_equal(r->bodylen, strlen(want));
	assert_memory_equal(r->body, want, r->bodylen);
}

/* ------------------------------------------------------------ handlers */

static void
h_echo(struct bc_httpd_req *req, void *arg)
{
	char *s;

	xasprintf(&s, "%s %s%s", bc_httpd_method(req), bc_httpd_path(req),
	    arg != NULL ? (const char *)arg : "");
	bc_httpd_reply(req, 200, "text/plain", s, strlen(s));
	free(s);
}

static void
h_query(struct bc_httpd_req *req, void *arg)
{
	static const char *names[] = { "a", "b", "c", "d", "e", "", "f" };
	char out[512] = "";
	const char *v;
	size_t i;

	(void)arg;
	for (i = 0; i < BC_NELEM(names); i++) {
		v = bc_httpd_query(req, names[i]);
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s=%s;",
		    names[i], v != NULL ? v : "(null)");
	}
	bc_httpd_reply(req, 200, "text/plain", out, strlen(out));
}

static char	*got_body;
static size_t	 got_len;
static int	 got_nul;

static void
h_body(struct bc_httpd_req *req, void *arg)
{
	const char *b;
	size_t len;

	(void)arg;
	b = bc_httpd_body(req, &len);
	free(got_body);
	got_body = xmalloc(len + 1);
	memcpy(got_body, b, len);
	got_len = len;
	got_nul = b[len] == '\0';
	bc_httpd_reply(req, 200, "text/plain", "stored", 6);
}

static void
h_header(struct bc_httpd_req *req, void *arg)
{
	const char *v, *missing;
	char *s;

	(void)arg;
	v = bc_httpd_header(req, "x-telegram-bot-api-secret-token");
	missing = bc_httpd_header(req, "X-Not-There");
	xasprintf(&s, "%s|%s", v ? v : "(null)", missing ? missing : "(null)");
	bc_httpd_reply(req, 200, "text/plain", s, strlen(s));
	free(s);
}

static void
h_peer(struct bc_httpd_req *req, void *arg)
{
	const char *p = bc_httpd_peer(req);

	(void)arg;
	bc_httpd_reply(req, 200, "text/plain", p, strlen(p));
}

static void
h_twice(struct bc_httpd_req *req, void *arg)
{
	(void)arg;
	bc_httpd_reply(req, 200, "text/plain", "first", 5);
	bc_httpd_reply(req, 201, "text/plain", "second", 6);
}

static void
h_noreply(struct bc_httpd_req *req, void *arg)
{
	(void)req;
	(void)arg;
}

static void
h_json(struct bc_httpd_req *req, void *arg)
{
	json_t *j;

	(void)arg;
	j = json_pack("{s:i,s:s}", "ok", 1, "text", "привет \"q\"");
	bc_httpd_reply_json(req, 201, j);
	json_decref(j);
}

static void
h_badstatus(struct bc_httpd_req *req, void *arg)
{
	(void)arg;
	bc_httpd_reply(req, 42, NULL, "x", 1);
}

/* Held requests. */
static struct bc_httpd_req	*held;
static int			 held_seen, closed_seen;

static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bc_httpd_req *req = arg;

	(void)fd;
	(void)what;
	bc_httpd_reply(req, 202, "text/plain", "later", 5);
}

static void
h_later(struct bc_httpd_req *req, void *arg)
{
	struct timeval tv = { 0, 20000 };

	(void)arg;
	bc_httpd_hold(req, NULL, NULL);
	event_base_once(base, -1, EV_TIMEOUT, later_cb, req, &tv);
}

static void
on_close(struct bc_httpd_req *req, void *arg)
{
	assert_ptr_equal(req, held);
	assert_ptr_equal(arg, &closed_seen);
	closed_seen++;
}

static void
h_hold(struct bc_httpd_req *req, void *arg)
{
	(void)arg;
	held = req;
	held_seen = 1;
	bc_httpd_hold(req, on_close, &closed_seen);
}

/* ------------------------------------------------------------ fixtures */

static int
setup(void **state)
{
	char *cause = NULL;

	(void)state;
	base = event_base_new();
	httpd = bc_httpd_new(base, "127.0.0.1:0", &cause);
	assert_null(cause);
	assert_non_null(httpd);
	assert_true(bc_httpd_port(httpd) > 0);
	assert_int_equal(bc_httpd_route(httpd, "GET", "/echo", h_echo, NULL),
	    0);
	assert_int_equal(bc_httpd_route(httpd, "GET", "/api/", h_echo, NULL),
	    0);
	assert_int_equal(bc_httpd_route(httpd, "GET", "/api/special", h_echo,
	    bang), 0);
	assert_int_equal(bc_httpd_route(httpd, NULL, "/any", h_echo, NULL), 0);
	assert_int_equal(bc_httpd_route(httpd, "POST", "/hook", h_body, NULL),
	    0);
	assert_int_equal(bc_httpd_route(httpd, "PUT", "/hook", h_echo, NULL),
	    0);
	assert_int_equal(bc_httpd_route(httpd, "GET", "/q", h_query, NULL), 0);
	assert_int_equal(bc_httpd_route(httpd, "GET", "/hdr", h_header, NULL),
	    0);
	assert_int_equal(bc_httpd_route(httpd, "GET", "/peer", h_peer, NULL),
	    0);
	assert_int_equal(bc_httpd_route(httpd, "GET", "/twice", h_twice,
	    NULL), 0);
	assert_int_equal(bc_httpd_route(httpd, "GET", "/noreply", h_noreply,
	    NULL), 0);
	assert_int_equal(bc_httpd_route(httpd, "GET", "/json", h_json, NULL),
	    0);
	assert_int_equal(bc_httpd_route(httpd, "GET", "/badstatus",
	    h_badstatus, NULL), 0);
	assert_int_equal(bc_httpd_route(httpd, "GET", "/later", h_later, NULL),
	    0);
	assert_int_equal(bc_httpd_route(httpd, "GET", "/hold", h_hold, NULL),
	    0);
	held = NULL;
	held_seen = closed_seen = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	bc_httpd_free(httpd);
	httpd = NULL;
	event_base_free(base);
	base = NULL;
	free(got_body);
	got_body = NULL;
	return 0;
}

/* ------------------------------------------------------------ tests */

static void
test_bad_listen(void **state)
{
	const char *bad[] = { "nonsense", "127.0.0.1", "127.0.0.1:",
	    "127.0.0.1:99999", "127.0.0.1:-1", "127.0.0.1:80x", "[::1:80",
	    "::1:80", "[::1]80", "[]:80", "1.2.3.4.5:80", "localhost:80",
	    "[127.0.0.1]:80", "", NULL };
	struct bc_httpd *h;
	char *cause, *listen;
	size_t i;

	(void)state;
	/* setup() created a server: a client leaving cannot kill us. */
	assert_true(signal(SIGPIPE, SIG_DFL) == SIG_IGN);
	for (i = 0; i < BC_NELEM(bad); i++) {
		cause = NULL;
		h = bc_httpd_new(base, bad[i], &cause);
		assert_null(h);
		assert_non_null(cause);
		assert_non_null(strstr(cause, "invalid listen address"));
		free(cause);
	}

	/* The port is taken. */
	xasprintf(&listen, "127.0.0.1:%d", bc_httpd_port(httpd));
	cause = NULL;
	assert_null(bc_httpd_new(base, listen, &cause));
	assert_non_null(cause);
	assert_non_null(strstr(cause, strerror(EADDRINUSE)));
	free(cause);
	free(listen);

	/* Not an address of this host (TEST-NET-1). */
	cause = NULL;
	assert_null(bc_httpd_new(base, "192.0.2.1:0", &cause));
	assert_non_null(strstr(cause, strerror(EADDRNOTAVAIL)));
	free(cause);
}

static void
test_bad_routes(void **state)
{
	(void)state;
	assert_int_equal(bc_httpd_route(httpd, "FOO", "/x", h_echo, NULL),
	    -1);
	assert_int_equal(bc_httpd_route(httpd, "get", "/x", h_echo, NULL),
	    -1);
	assert_int_equal(bc_httpd_route(httpd, "GET", "x", h_echo, NULL), -1);
	assert_int_equal(bc_httpd_route(httpd, "GET", "", h_echo, NULL), -1);
	assert_int_equal(bc_httpd_route(httpd, "GET", NULL, h_echo, NULL), -1);
	assert_int_equal(bc_httpd_route(httpd, "GET", "/x", NULL, NULL), -1);
}

/* Listen on every address, and on ::1 where IPv6 exists. */
static void
test_listen_forms(void **state)
{
	struct bc_httpd *h;
	struct client *c;
	struct resp r;
	char *cause = NULL, want[64];
	int fd;

	(void)state;
	h = bc_httpd_new(base, ":0", &cause);
	assert_non_null(h);
	assert_int_equal(bc_httpd_route(h, "GET", "/peer", h_peer, NULL), 0);
	c = client_start_af(AF_INET, bc_httpd_port(h),
	    "GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 50);
	run_until(&c->done);
	client_response(c, &r);
	assert_int_equal(r.status, 200);
	/* IPv4 through a dual-stack socket still reads as IPv4. */
	snprintf(want, sizeof want, "127.0.0.1:%d", c->local_port);
	assert_body(&r, want);
	resp_free(&r);
	client_free(c);
	bc_httpd_free(h);

	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd == -1)
		return;		/* no IPv6 in this kernel */
	close(fd);
	h = bc_httpd_new(base, "[::1]:0", &cause);
	if (h == NULL) {
		/* IPv6 present but ::1 not configured. */
		assert_non_null(strstr(cause, strerror(EADDRNOTAVAIL)));
		free(cause);
		return;
	}
	assert_int_equal(bc_httpd_route(h, "GET", "/peer", h_peer, NULL), 0);
	c = client_start_af(AF_INET6, bc_httpd_port(h),
	    "GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 50);
	run_until(&c->done);
	client_response(c, &r);
	assert_int_equal(r.status, 200);
	snprintf(want, sizeof want, "[::1]:%d", c->local_port);
	assert_body(&r, want);
	resp_free(&r);
	client_free(c);
	bc_httpd_free(h);
}

static void
test_routing(void **state)
{
	struct resp r;
	json_t *j;

	(void)state;
	roundtrip("GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(resp_header(&r, "Content-Type"), "text/plain");
	assert_body(&r, "GET /echo");
	resp_free(&r);

	/* Prefix routes, first match wins, any method. */
	roundtrip("GET /api/x/y HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_body(&r, "GET /api/x/y");
	resp_free(&r);
	roundtrip("GET /api/special HTTP/1.1\r\nConnection: close\r\n\r\n",
	    &r);
	assert_body(&r, "GET /api/special");
	resp_free(&r);
	roundtrip("DELETE /any HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_body(&r, "DELETE /any");
	resp_free(&r);
	/* The path is decoded before matching; the query is not part of it. */
	roundtrip("GET /ech%6F?x=1 HTTP/1.1\r\nConnection: close\r\n\r\n",
	    &r);
	assert_body(&r, "GET /echo");
	resp_free(&r);

	/* "/api" is not under "/api/"; "/echo/" is not "/echo". */
	roundtrip("GET /api HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(resp_header(&r, "Content-Type"),
	    "application/json");
	j = json_loadb(r.body, r.bodylen, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "error")),
	    "not found");
	json_decref(j);
	resp_free(&r);
	roundtrip("GET /echo/ HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 404);
	resp_free(&r);

	/* Known path, wrong method. */
	roundtrip("GET /hook HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(resp_header(&r, "Allow"), "POST, PUT");
	assert_non_null(strstr(r.body, "method not allowed"));
	resp_free(&r);
}

static void
test_query(void **state)
{
	struct resp r;

	(void)state;
	roundtrip("GET /q?a=1&b=hello%20world&c=x+y&d=%E2%9C%93&e&a=2&=z&"
	    "&%61%3d=%26 HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_body(&r, "a=1;b=hello world;c=x y;d=\xe2\x9c\x93;e=;=z;"
	    "f=(null);");
	resp_free(&r);

	roundtrip("GET /q HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_body(&r, "a=(null);b=(null);c=(null);d=(null);e=(null);"
	    "=(null);f=(null);");
	resp_free(&r);

	/* A bad escape stays as it is. */
	roundtrip("GET /q?a=%zz%4 HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_non_null(strstr(r.body, "a=%zz%4;"));
	resp_free(&r);

	/* NUL bytes in a decoded path or parameter are refused. */
	roundtrip("GET /q?a=x%00y HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 400);
	resp_free(&r);
	roundtrip("GET /ec%00ho HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 400);
	resp_free(&r);
}

static void
test_body_exact(void **state)
{
	unsigned char body[300];
	struct resp r;
	char *req;
	size_t i, hlen;

	(void)state;
	for (i = 0; i < sizeof body; i++)
		body[i] = (unsigned char)(i * 7); /* NUL, 0xff, CR, LF */
	hlen = (size_t)xasprintf(&req, "POST /hook HTTP/1.1\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", sizeof body);
	req = xrealloc(req, hlen + sizeof body);
	memcpy(req + hlen, body, sizeof body);
	roundtrip_raw(req, hlen + sizeof body, &r);
	free(req);
	assert_int_equal(r.status, 200);
	assert_int_equal(got_len, sizeof body);
	assert_memory_equal(got_body, body, sizeof body);
	assert_true(got_nul);
	resp_free(&r);

	/* Chunked, reassembled exactly. */
	roundtrip("POST /hook HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "Connection: close\r\n\r\n3\r\nab\n\r\n4\r\n\r\ncd\r\n"
	    "0\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(got_len, 7);
	assert_memory_equal(got_body, "ab\n\r\ncd", 7);
	resp_free(&r);

	/* No body at all. */
	roundtrip("POST /hook HTTP/1.1\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(got_len, 0);
	assert_true(got_nul);
	resp_free(&r);
}

static void
test_body_too_large(void **state)
{
	char *req, body[1001];
	struct resp r;
	size_t hlen;

	(void)state;
	bc_httpd_set_limits(httpd, 1000, 0);
	/* Refused on the announced length alone. */
	roundtrip("POST /hook HTTP/1.1\r\nContent-Length: 2000000\r\n"
	    "Connection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 413);
	resp_free(&r);

	/* Chunked: refused once it grows past the limit. */
	memset(body, 'a', sizeof body);
	hlen = (size_t)xasprintf(&req, "POST /hook HTTP/1.1\r\n"
	    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n%x\r\n",
	    (unsigned)sizeof body);
	req = xrealloc(req, hlen + sizeof body + 7);
	memcpy(req + hlen, body, sizeof body);
	memcpy(req + hlen + sizeof body, "\r\n0\r\n\r\n", 7);
	roundtrip_raw(req, hlen + sizeof body + 7, &r);
	free(req);
	assert_int_equal(r.status, 413);
	resp_free(&r);

	/* At the limit is fine. */
	got_len = 0;
	hlen = (size_t)xasprintf(&req, "POST /hook HTTP/1.1\r\n"
	    "Content-Length: 1000\r\nConnection: close\r\n\r\n");
	req = xrealloc(req, hlen + 1000);
	memcpy(req + hlen, body, 1000);
	roundtrip_raw(req, hlen + 1000, &r);
	free(req);
	assert_int_equal(r.status, 200);
	assert_int_equal(got_len, 1000);
	resp_free(&r);
}

static void
test_headers_and_peer(void **state)
{
	struct client *c;
	struct resp r;
	char want[64];
	const char *req = "GET /peer HTTP/1.1\r\nConnection: close\r\n\r\n";

	(void)state;
	roundtrip("GET /hdr HTTP/1.1\r\nX-Telegram-Bot-Api-Secret-Token: s3cr"
	    "et\r\nConnection: close\r\n\r\n", &r);
	assert_body(&r, "s3cret|(null)");
	resp_free(&r);

	c = client_start(req, strlen(req));
	run_until(&c->done);
	client_response(c, &r);
	snprintf(want, sizeof want, "127.0.0.1:%d", c->local_port);
	assert_body(&r, want);
	resp_free(&r);
	client_free(c);
}

static void
test_reply_rules(void **state)
{
	struct resp r;
	json_t *j;

	(void)state;
	/* A second reply is ignored. */
	roundtrip("GET /twice HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_body(&r, "first");
	resp_free(&r);

	/* No reply at all: 500 sent for the handler. */
	roundtrip("GET /noreply HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 500);
	resp_free(&r);

	/* An impossible status becomes 500. */
	roundtrip("GET /badstatus HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 500);
	assert_string_equal(resp_header(&r, "Content-Type"),
	    "application/octet-stream");
	resp_free(&r);

	roundtrip("GET /json HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(resp_header(&r, "Content-Type"),
	    "application/json");
	j = json_loadb(r.body, r.bodylen, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "ok")), 1);
	assert_string_equal(json_string_value(json_object_get(j, "text")),
	    "привет \"q\"");
	json_decref(j);
	resp_free(&r);
}

static void
test_keepalive(void **state)
{
	const char *two = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /api/z HTTP/1.1\r\nConnection: close\r\n\r\n";
	struct resp r;

	(void)state;
	/* Two requests on one connection, the second pipelined. */
	roundtrip(two, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.raw, "GET /echo"));
	assert_non_null(strstr(r.raw, "GET /api/z"));
	resp_free(&r);
}

static void
test_hold_timer(void **state)
{
	struct resp r;

	(void)state;
	roundtrip("GET /later HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 202);
	assert_body(&r, "later");
	resp_free(&r);
}

static void
test_hold_client_gone(void **state)
{
	const char *req = "GET /hold HTTP/1.1\r\nX-A: b\r\n\r\n";
	struct client *c;
	struct resp r;

	(void)state;
	c = client_start(req, strlen(req));
	run_until(&held_seen);
	assert_non_null(held);
	assert_string_equal(bc_httpd_header(held, "x-a"), "b");
	assert_int_equal(closed_seen, 0);

	client_free(c);		/* the client goes away */
	run_until(&closed_seen);
	assert_int_equal(closed_seen, 1);
	/* Dead but valid until replied to. */
	assert_null(bc_httpd_header(held, "x-a"));
	assert_string_equal(bc_httpd_path(held), "/hold");
	bc_httpd_reply(held, 200, "text/plain", "too late", 8);
	held = NULL;

	/* The server carries on. */
	roundtrip("GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	assert_int_equal(closed_seen, 1);
}

static void
test_hold_then_reply(void **state)
{
	const char *req = "GET /hold HTTP/1.1\r\nConnection: close\r\n\r\n";
	struct client *c;
	struct resp r;

	(void)state;
	c = client_start(req, strlen(req));
	run_until(&held_seen);
	bc_httpd_reply(held, 200, "text/plain", "done", 4);
	held = NULL;
	run_until(&c->done);
	client_response(c, &r);
	assert_int_equal(r.status, 200);
	assert_body(&r, "done");
	resp_free(&r);
	client_free(c);
	/* Replied: its close is none of on_close's business. */
	assert_int_equal(closed_seen, 0);
}

static void
test_hold_server_freed(void **state)
{
	const char *req = "GET /hold HTTP/1.1\r\n\r\n";
	struct client *c;

	(void)state;
	c = client_start(req, strlen(req));
	run_until(&held_seen);
	bc_httpd_free(httpd);	/* on_close, then freed (ASan watches) */
	httpd = NULL;
	assert_int_equal(closed_seen, 1);
	held = NULL;
	run_until(&c->done);	/* the client sees the close */
	client_free(c);
}

static void
test_garbage(void **state)
{
	static const struct {
		const char	*req;
		size_t		 len;
		int		 status;
	} bad[] = {
#define RAW(s)	{ s, sizeof(s) - 1, 400 }
		RAW("GARBAGE\r\n\r\n"),
		RAW("GET\r\n\r\n"),
		RAW("\x00\x01\x02\xff\r\n\r\n"),
		RAW("GET / HTTP/1.1\r\nBad Header Line\r\n\r\n"),
		RAW("POST /hook HTTP/1.1\r\nContent-Length: -5\r\n\r\n"),
		RAW("POST /hook HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"),
#undef RAW
		/* evhttp answers a corrupt chunk as an oversized body. */
		{ "POST /hook HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		    "\r\nzz\r\n", 55, 413 },
	};
	struct resp r;
	size_t i;

	(void)state;
	for (i = 0; i < BC_NELEM(bad); i++) {
		roundtrip_raw(bad[i].req, bad[i].len, &r);
		assert_int_equal(r.status, bad[i].status);
		resp_free(&r);
		roundtrip("GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n",
		    &r);
		assert_int_equal(r.status, 200);
		resp_free(&r);
	}
}

static void
test_huge_headers(void **state)
{
	struct resp r;
	char *req;
	size_t n = 64 * 1024;

	(void)state;
	req = xmalloc(n + 64);
	strcpy(req, "GET /echo HTTP/1.1\r\nX-Big: ");
	memset(req + strlen(req), 'a', n);
	strcpy(req + 28 + n - 1, "\r\n\r\n");
	roundtrip(req, &r);
	/* Refused, or cut off if the close overtook the reply. */
	assert_true(r.status == -1 || (r.status >= 400 && r.status < 500));
	resp_free(&r);
	free(req);

	roundtrip("GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
}

static void
test_slow_client_timeout(void **state)
{
	const char *part = "GET /echo HTTP/1.1\r\nHo";
	struct client *c;
	struct resp r;
	int64_t start;

	(void)state;
	bc_httpd_set_limits(httpd, 0, 200);
	start = bc_now_ms();
	c = client_start(part, strlen(part));
	run_until(&c->done);	/* the server hangs up on us */
	assert_true(bc_now_ms() - start >= 150);
	client_response(c, &r);
	assert_int_equal(r.rawlen, 0);
	resp_free(&r);
	client_free(c);

	roundtrip("GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_listen, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_routes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_listen_forms, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_exact, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_body_too_large, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_headers_and_peer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reply_rules, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_keepalive, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hold_timer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hold_client_gone, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hold_then_reply, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hold_server_freed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_headers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_slow_client_timeout,
		    setup, teardown),
	};

	return cmocka_run_group_tests_name("httpd", tests, NULL, NULL);
}
