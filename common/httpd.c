/* A small HTTP server on libevent's evhttp: routes, limits, held replies. */

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include <botcommon/httpd.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#define HTTPD_BACKLOG	128
#define HTTPD_METHODS	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | \
	EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | \
	EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH)

struct httpd_route {
	char			*method;	/* NULL = any */
	char			*path;
	size_t			 pathlen;
	int			 prefix;	/* path ends with '/' */
	bc_httpd_handler	*handler;
	void			*arg;
};

struct httpd_param {
	char	*name;
	char	*value;
};

struct bc_httpd {
	struct event_base	*base;
	struct evhttp		*http;
	int			 port;
	struct httpd_route	*routes;
	size_t			 nroutes;
	struct bc_httpd_req	*held;		/* list of held requests */
};

struct bc_httpd_req {
	struct bc_httpd		*httpd;
	/* ev is NULL once replied to, or once the client went away. */
	struct evhttp_request	*ev;
	struct evhttp_connection *evcon;
	struct event		*watch;	/* sees the client leave */
	const char		*method;
	char			*path;
	struct httpd_param	*params;
	size_t			 nparams;
	char			*body;
	size_t			 bodylen;
	char			 peer[INET6_ADDRSTRLEN + 16];
	bc_httpd_close_cb	*on_close;
	void			*close_arg;
	int			 bad;		/* undecodable */
	int			 in_dispatch;
	int			 held;		/* on httpd->held */
	struct bc_httpd_req	*prev, *next;	/* httpd->held */
	int			 replied;
};

static const struct {
	enum evhttp_cmd_type	 cmd;
	const char		*name;
} httpd_methods[] = {
	{ EVHTTP_REQ_GET, "GET" },
	{ EVHTTP_REQ_POST, "POST" },
	{ EVHTTP_REQ_HEAD, "HEAD" },
	{ EVHTTP_REQ_PUT, "PUT" },
	{ EVHTTP_REQ_DELETE, "DELETE" },
	{ EVHTTP_REQ_OPTIONS, "OPTIONS" },
	{ EVHTTP_REQ_PATCH, "PATCH" },
	{ EVHTTP_REQ_TRACE, "TRACE" },
	{ EVHTTP_REQ_CONNECT, "CONNECT" },
};

static const char *
httpd_method_name(enum evhttp_cmd_type cmd)
{
	size_t i;

	for (i = 0; i < BC_NELEM(httpd_methods); i++)
		if (httpd_methods[i].cmd == cmd)
			return httpd_methods[i].name;
	return "UNKNOWN";
}

/* ------------------------------------------------------------ listening */

struct httpd_addr {
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			any;	/* ":port": every address */
};

/* Parse a decimal port 0..65535 that ends the string. */
static int
httpd_parse_port(const char *s, in_port_t *port)
{
	unsigned long v = 0;
	size_t n;

	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++) {
		v = v * 10 + (unsigned long)(s[n] - '0');
		if (v > 65535)
			return -1;
	}
	if (n == 0 || s[n] != '\0')
		return -1;
	*port = htons((in_port_t)v);
	return 0;
}

/* Parse "host:port", "[v6]:port" or ":port". */
static int
httpd_parse_listen(const char *listen, struct httpd_addr *a)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
	char host[INET6_ADDRSTRLEN];
	const char *hs, *he, *ps;
	in_port_t port;
	int v6;

	memset(a, 0, sizeof *a);
	if ((v6 = (listen[0] == '['))) {
		hs = listen + 1;
		if ((he = strchr(hs, ']')) == NULL || he[1] != ':')
			return -1;
		ps = he + 2;
	} else {
		hs = listen;
		if ((he = strrchr(listen, ':')) == NULL ||
		    memchr(hs, ':', (size_t)(he - hs)) != NULL)
			return -1;
		ps = he + 1;
	}
	if (httpd_parse_port(ps, &port) == -1 ||
	    (size_t)(he - hs) >= sizeof host || (v6 && he == hs))
		return -1;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	if (host[0] == '\0') {
		a->any = 1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		sin6->sin6_addr = in6addr_any;
		a->len = sizeof *sin6;
	} else if (v6) {
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		a->len = sizeof *sin6;
	} else {
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = port;
		a->len = sizeof *sin;
	}
	return 0;
}

/* A listening socket for a, or -1 with errno set. */
static int
httpd_socket(const struct httpd_addr *a)
{
	int fd, on = 1, v6only = !a->any;
	int saved;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1)
		goto fail;
	if (a->ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &v6only, sizeof v6only) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1 ||
	    listen(fd, HTTPD_BACKLOG) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Bind and listen on listen; the port bound goes to *port. */
static int
httpd_listen(const char *listen, int *port, char **cause)
{
	struct httpd_addr a;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int fd;

	if (listen == NULL || httpd_parse_listen(listen, &a) == -1) {
		xasprintf(cause, "invalid listen address \"%s\" (want "
		    "ip:port, [ipv6]:port or :port)", listen ? listen : "");
		return -1;
	}
	fd = httpd_socket(&a);
	if (fd == -1 && a.any && (errno == EAFNOSUPPORT ||
	    errno == EADDRNOTAVAIL)) {
		/* No IPv6 here: every IPv4 address then. */
		struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;
		in_port_t p = ((struct sockaddr_in6 *)&a.ss)->sin6_port;

		memset(&a.ss, 0, sizeof a.ss);
		sin->sin_family = AF_INET;
		sin->sin_port = p;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		a.len = sizeof *sin;
		fd = httpd_socket(&a);
	}
	if (fd == -1) {
		xasprintf(cause, "cannot listen on %s: %s", listen,
		    strerror(errno));
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		xasprintf(cause, "getsockname: %s", strerror(errno));
		close(fd);
		return -1;
	}
	*port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* ------------------------------------------------------------ requests */

/*
 * Percent-decode n bytes of s, '+' as a space when plus is set; a '%' not
 * followed by two hex digits stays as it is. Returns an allocated string,
 * or NULL when the result would hold a NUL byte.
 */
static char *
httpd_decode(const char *s, size_t n, int plus)
{
	char *out = xmalloc(n + 1);
	size_t i, j = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    (hi = bc_hexval((unsigned char)s[i + 1])) != -1 &&
		    (lo = bc_hexval((unsigned char)s[i + 2])) != -1) {
			out[j++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '+' && plus)
			out[j++] = ' ';
		else
			out[j++] = s[i];
		if (out[j - 1] == '\0') {
			free(out);
			return NULL;
		}
	}
	out[j] = '\0';
	return out;
}

/* Split and decode a query string into r->params. */
static int
httpd_parse_query(struct bc_httpd_req *r, const char *q)
{
	const char *end, *eq;
	char *name, *value;

	while (*q != '\0') {
		if ((end = strchr(q, '&')) == NULL)
			end = q + strlen(q);
		if (end > q) {
			eq = memchr(q, '=', (size_t)(end - q));
			name = httpd_decode(q,
			    (size_t)((eq != NULL ? eq : end) - q), 1);
			value = eq ? httpd_decode(eq + 1,
			    (size_t)(end - eq - 1), 1) : xstrdup("");
			if (name == NULL || value == NULL) {
				free(name);
				free(value);
				return -1;
			}
			r->params = xreallocarray(r->params, r->nparams + 1,
			    sizeof *r->params);
			r->params[r->nparams].name = name;
			r->params[r->nparams++].value = value;
		}
		q = *end == '&' ? end + 1 : end;
	}
	return 0;
}

/* Format the peer as "ip:port" or "[ipv6]:port". */
static void
httpd_format_peer(struct bc_httpd_req *r)
{
	const char *addr;
	char *a = NULL;
	ev_uint16_t port = 0;

	evhttp_connection_get_peer(r->evcon, &a, &port);
	addr = a != NULL ? a : "unknown";
	if (strncmp(addr, "::ffff:", 7) == 0 && strchr(addr, '.') != NULL)
		addr += 7;	/* IPv4 on a dual-stack socket */
	snprintf(r->peer, sizeof r->peer, strchr(addr, ':') != NULL ?
	    "[%s]:%u" : "%s:%u", addr, (unsigned)port);
}

/* Wrap an incoming request; r->bad is set when it cannot be decoded. */
static struct bc_httpd_req *
httpd_req_new(struct bc_httpd *h, struct evhttp_request *ev)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	struct evbuffer *in = evhttp_request_get_input_buffer(ev);
	struct bc_httpd_req *r;
	const char *path, *query;

	r = xcalloc(1, sizeof *r);
	r->httpd = h;
	r->ev = ev;
	r->evcon = evhttp_request_get_connection(ev);
	r->method = httpd_method_name(evhttp_request_get_command(ev));
	httpd_format_peer(r);
	r->bodylen = evbuffer_get_length(in);
	r->body = xmalloc(r->bodylen + 1);
	if (evbuffer_copyout(in, r->body, r->bodylen) != (ev_ssize_t)r->bodylen)
		r->bad = 1;
	r->body[r->bodylen] = '\0';

	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL || *path == '\0')
		path = "/";
	if ((r->path = httpd_decode(path, strlen(path), 0)) == NULL) {
		r->path = xstrdup("");
		r->bad = 1;
	}
	query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	if (query != NULL && httpd_parse_query(r, query) == -1)
		r->bad = 1;
	return r;
}

/* Stop watching a held request's connection. */
static void
httpd_unwatch(struct bc_httpd_req *r)
{
	if (r->watch != NULL) {
		event_free(r->watch);
		r->watch = NULL;
	}
	if (r->evcon != NULL && r->held)
		evhttp_connection_set_closecb(r->evcon, NULL, NULL);
}

static void
httpd_req_free(struct bc_httpd_req *r)
{
	size_t i;

	httpd_unwatch(r);
	if (r->held) {
		if (r->prev != NULL)
			r->prev->next = r->next;
		else
			r->httpd->held = r->next;
		if (r->next != NULL)
			r->next->prev = r->prev;
	}
	for (i = 0; i < r->nparams; i++) {
		free(r->params[i].name);
		free(r->params[i].value);
	}
	free(r->params);
	free(r->path);
	free(r->body);
	free(r);
}

const char *
bc_httpd_method(const struct bc_httpd_req *r)
{
	return r->method;
}

const char *
bc_httpd_path(const struct bc_httpd_req *r)
{
	return r->path;
}

const char *
bc_httpd_query(const struct bc_httpd_req *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].name, name) == 0)
			return r->params[i].value;
	return NULL;
}

const char *
bc_httpd_header(const struct bc_httpd_req *r, const char *name)
{
	if (r->ev == NULL)
		return NULL;
	return evhttp_find_header(evhttp_request_get_input_headers(r->ev),
	    name);
}

const char *
bc_httpd_body(const struct bc_httpd_req *r, size_t *len)
{
	if (len != NULL)
		*len = r->bodylen;
	return r->body;
}

const char *
bc_httpd_peer(const struct bc_httpd_req *r)
{
	return r->peer;
}

/* ------------------------------------------------------------ replies */

/* Hand the reply to evhttp; the evhttp request is no longer ours. */
static void
httpd_send(struct bc_httpd_req *r, int status, const char *content_type,
    const char *body, size_t len)
{
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(r->ev);
	char code[16];

	httpd_unwatch(r);
	if (content_type == NULL || evhttp_add_header(hdrs, "Content-Type",
	    content_type) == -1)
		evhttp_add_header(hdrs, "Content-Type",
		    "application/octet-stream");
	if (len > 0 && evbuffer_add(evhttp_request_get_output_buffer(r->ev),
	    body, len) == -1) {
		log_warnx("httpd: no memory for a %zu-byte reply", len);
		status = 500;
	}
	evhttp_send_reply(r->ev, status, NULL, NULL);
	r->ev = NULL;
	r->evcon = NULL;
	snprintf(code, sizeof code, "%d", status);
	log_kv(LOG_LEVEL_DEBUG, "http request", "method", r->method,
	    "path", r->path, "status", code, "peer", r->peer,
	    (const char *)NULL);
}

void
bc_httpd_reply(struct bc_httpd_req *r, int status, const char *content_type,
    const char *body, size_t len)
{
	if (r->replied) {
		log_warnx("httpd: second reply to %s %s ignored", r->method,
		    r->path);
		return;
	}
	r->replied = 1;
	if (status < 100 || status > 599) {
		log_warnx("httpd: invalid status %d, sending 500", status);
		status = 500;
	}
	if (r->ev != NULL)
		httpd_send(r, status, content_type, body, len);
	else
		log_debug("httpd: client of %s %s went away, reply dropped",
		    r->method, r->path);
	if (!r->in_dispatch)
		httpd_req_free(r);
}

void
bc_httpd_reply_json(struct bc_httpd_req *r, int status, const json_t *j)
{
	char *s = NULL;

	if (j != NULL)
		s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s == NULL) {
		log_warnx("httpd: cannot serialise the reply to %s %s",
		    r->method, r->path);
		status = 500;
		s = xstrdup("{\"error\":\"internal error\"}");
	}
	bc_httpd_reply(r, status, "application/json", s, strlen(s));
	free(s);
}

/* Reply {"error": msg}. */
static void
httpd_reply_error(struct bc_httpd_req *r, int status, const char *msg)
{
	json_t *j;

	j = json_pack("{s:s}", "error", msg);
	bc_httpd_reply_json(r, status, j);
	json_decref(j);
}

/* The connection of a held request is going down. */
static void
httpd_closecb(struct evhttp_connection *evcon, void *arg)
{
	struct bc_httpd_req *r = arg;

	(void)evcon;
	if (r->watch != NULL) {
		event_free(r->watch);
		r->watch = NULL;
	}
	r->ev = NULL;
	r->evcon = NULL;
	log_debug("httpd: client of held %s %s went away", r->method,
	    r->path);
	if (r->on_close != NULL)
		r->on_close(r, r->close_arg);
	/* r may be freed now. */
}

/*
 * evhttp stops reading a connection while its request is answered, so it
 * would not notice the client leaving; peek at the socket instead.
 */
static void
httpd_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bc_httpd_req *r = arg;
	ssize_t n;
	char c;

	(void)what;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n > 0) {
		/* A pipelined request: a close behind it cannot be seen. */
		event_free(r->watch);
		r->watch = NULL;
		return;
	}
	/* EOF or an error: free the connection, which runs httpd_closecb. */
	evhttp_connection_free(r->evcon);
}

void
bc_httpd_hold(struct bc_httpd_req *r, bc_httpd_close_cb *on_close, void *arg)
{
	struct bufferevent *bev;

	if (r->replied) {
		log_warnx("httpd: hold after reply to %s %s ignored",
		    r->method, r->path);
		return;
	}
	r->on_close = on_close;
	r->close_arg = arg;
	if (r->held)
		return;
	r->held = 1;
	r->prev = NULL;
	if ((r->next = r->httpd->held) != NULL)
		r->next->prev = r;
	r->httpd->held = r;
	if (r->evcon == NULL)
		return;
	evhttp_connection_set_closecb(r->evcon, httpd_closecb, r);
	bev = evhttp_connection_get_bufferevent(r->evcon);
	r->watch = event_new(r->httpd->base, bufferevent_getfd(bev),
	    EV_READ | EV_PERSIST, httpd_watch_cb, r);
	if (r->watch == NULL || event_add(r->watch, NULL) == -1) {
		log_warnx("httpd: cannot watch the client of %s %s",
		    r->method, r->path);
		if (r->watch != NULL)
			event_free(r->watch);
		r->watch = NULL;
	}
}

/* ------------------------------------------------------------ routing */

static int
httpd_path_match(const struct httpd_route *rt, const char *path)
{
	if (rt->prefix)
		return strncmp(path, rt->path, rt->pathlen) == 0;
	return strcmp(path, rt->path) == 0;
}

/* The route for r, or NULL after replying 404 or 405 to it. */
static const struct httpd_route *
httpd_match(struct bc_httpd *h, struct bc_httpd_req *r)
{
	struct evkeyvalq *hdrs;
	char allow[128] = "";
	size_t i;
	int known = 0;

	for (i = 0; i < h->nroutes; i++) {
		const struct httpd_route *rt = &h->routes[i];

		if (!httpd_path_match(rt, r->path))
			continue;
		if (rt->method == NULL || strcmp(rt->method, r->method) == 0)
			return rt;
		known = 1;
		if (strstr(allow, rt->method) == NULL &&
		    strlen(allow) + strlen(rt->method) + 3 < sizeof allow) {
			if (allow[0] != '\0')
				strcat(allow, ", ");
			strcat(allow, rt->method);
		}
	}
	if (!known) {
		httpd_reply_error(r, 404, "not found");
		return NULL;
	}
	hdrs = evhttp_request_get_output_headers(r->ev);
	evhttp_add_header(hdrs, "Allow", allow);
	httpd_reply_error(r, 405, "method not allowed");
	return NULL;
}

/* evhttp's callback for every well-formed request. */
static void
httpd_dispatch(struct evhttp_request *ev, void *arg)
{
	struct bc_httpd *h = arg;
	const struct httpd_route *rt;
	struct bc_httpd_req *r;

	r = httpd_req_new(h, ev);
	r->in_dispatch = 1;	/* replies here leave freeing to us */
	if (r->bad)
		httpd_reply_error(r, 400, "bad request");
	else if ((rt = httpd_match(h, r)) != NULL) {
		rt->handler(r, rt->arg);
		if (!r->replied && !r->held) {
			log_warnx("httpd: handler for %s %s did not reply",
			    r->method, r->path);
			httpd_reply_error(r, 500, "internal error");
		}
	}
	r->in_dispatch = 0;
	if (r->replied)
		httpd_req_free(r);
}

int
bc_httpd_route(struct bc_httpd *h, const char *method, const char *path,
    bc_httpd_handler *handler, void *arg)
{
	struct httpd_route *rt;
	size_t i;

	if (path == NULL || path[0] != '/' || handler == NULL) {
		log_warnx("httpd: invalid route \"%s\"", path ? path : "");
		return -1;
	}
	if (method != NULL) {
		for (i = 0; i < BC_NELEM(httpd_methods); i++)
			if (strcmp(httpd_methods[i].name, method) == 0 &&
			    (httpd_methods[i].cmd & HTTPD_METHODS))
				break;
		if (i == BC_NELEM(httpd_methods)) {
			log_warnx("httpd: invalid method \"%s\"", method);
			return -1;
		}
	}
	h->routes = xreallocarray(h->routes, h->nroutes + 1,
	    sizeof *h->routes);
	rt = &h->routes[h->nroutes++];
	rt->method = method != NULL ? xstrdup(method) : NULL;
	rt->path = xstrdup(path);
	rt->pathlen = strlen(path);
	rt->prefix = path[rt->pathlen - 1] == '/';
	rt->handler = handler;
	rt->arg = arg;
	return 0;
}

/* ------------------------------------------------------------ server */

struct bc_httpd *
bc_httpd_new(struct event_base *base, const char *listen, char **cause)
{
	struct bc_httpd *h = NULL;
	struct sigaction sa;
	int fd, port;

	if ((fd = httpd_listen(listen, &port, cause)) == -1)
		return NULL;
	/* evhttp writes with writev(2): a client gone must not kill us. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	h = xcalloc(1, sizeof *h);
	h->base = base;
	h->port = port;
	if ((h->http = evhttp_new(base)) == NULL) {
		xasprintf(cause, "cannot create the HTTP server");
		goto fail;
	}
	if (evhttp_accept_socket_with_handle(h->http, fd) == NULL) {
		xasprintf(cause, "cannot accept on %s", listen);
		goto fail;
	}
	fd = -1;	/* evhttp closes it */
	evhttp_set_gencb(h->http, httpd_dispatch, h);
	evhttp_set_allowed_methods(h->http, HTTPD_METHODS);
	evhttp_set_max_headers_size(h->http, BC_HTTPD_MAX_HEADERS);
	bc_httpd_set_limits(h, BC_HTTPD_MAX_BODY, BC_HTTPD_TIMEOUT_MS);
	return h;
fail:
	if (fd != -1)
		close(fd);
	if (h->http != NULL)
		evhttp_free(h->http);
	free(h);
	return NULL;
}

void
bc_httpd_free(struct bc_httpd *h)
{
	struct bc_httpd_req *r;
	size_t i;

	if (h == NULL)
		return;
	/* Held requests get their on_close from here. */
	evhttp_free(h->http);
	while ((r = h->held) != NULL)
		httpd_req_free(r);
	for (i = 0; i < h->nroutes; i++) {
		free(h->routes[i].method);
		free(h->routes[i].path);
	}
	free(h->routes);
	free(h);
}

int
bc_httpd_port(const struct bc_httpd *h)
{
	return h->port;
}

void
bc_httpd_set_limits(struct bc_httpd *h, size_t max_body, int64_t timeout_ms)
{
	struct timeval tv;

	if (max_body > 0) {
		if (max_body > (size_t)INT64_MAX / 2)
			max_body = (size_t)INT64_MAX / 2;
		evhttp_set_max_body_size(h->http, (ev_ssize_t)max_body);
	}
	if (timeout_ms > 0) {
		tv.tv_sec = (time_t)(timeout_ms / 1000);
		tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
		evhttp_set_timeout_tv(h->http, &tv);
	}
}
