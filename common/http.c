/*
 * Asynchronous HTTP client on the curl multi interface, driven by libevent
 * (curl's "hiperfifo" pattern: CURLMOPT_SOCKETFUNCTION and
 * CURLMOPT_TIMERFUNCTION feed events, curl_multi_socket_action runs them).
 *
 * Reentrancy: user callbacks only ever run from http_check_done() and
 * http_retry_cb(), never from inside a curl callback, so they may start
 * and cancel requests. Every libevent entry point counts itself in
 * h->busy; bc_http_free() called from a callback only marks the client
 * dying, and the outermost entry point destroys it on the way out.
 */

#include <sys/queue.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include <botcommon/backoff.h>
#include <botcommon/http.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#define HTTP_TIMEOUT_MS		30000
#define HTTP_CONNECT_TIMEOUT_MS	10000
#define HTTP_BACKOFF_INITIAL_MS	500
#define HTTP_BACKOFF_MAX_MS	30000
#define HTTP_MAX_RESPONSE	((size_t)16 * 1024 * 1024)
#define HTTP_JITTER		0.2
#define HTTP_MAX_HEADERS	256
#define HTTP_MAX_HEADER_BYTES	(256 * 1024)
#define HTTP_METHOD_MAX		32
#define HTTP_USER_AGENT		"botfleet"
/*
 * Idle connections kept for reuse. curl's default (4 per easy handle
 * added) shrinks the cache whenever fewer calls are in flight, closing
 * keep-alive connections that the next burst must open again.
 */
#define HTTP_MAX_CONNECTS	64L
/* Receive buffer per call (curl's default is 16 KiB): Bot API answers
 * are mostly under 1 KiB, and a full getUpdates comes in a few reads. */
#define HTTP_BUFFER_SIZE	4096L
/*
 * Trust anchors: a hashed certificate directory (c_rehash) lets OpenSSL
 * load only the root a server's chain needs, where the whole bundle
 * (~140 certificates, curl's default) costs about 1 MiB per process.
 */
#define HTTP_CA_DIR		"/etc/ssl/certs"
/* Easy handles of finished calls kept (reset) for the next calls. */
#define HTTP_IDLE_MAX		8

/* A socket curl asked us to watch. */
struct http_sock {
	LIST_ENTRY(http_sock)	 entry;
	struct bc_http		*h;
	curl_socket_t		 fd;
	struct event		*ev;
};

struct http_header {
	char	*name;
	char	*value;
};

enum http_state {
	CALL_ACTIVE,		/* the easy handle is in the multi */
	CALL_WAITING,		/* between attempts, retry timer armed */
	CALL_DONE,		/* its callback is running */
};

struct bc_http_call {
	TAILQ_ENTRY(bc_http_call) entry;
	struct bc_http		*h;
	CURL			*easy;
	struct curl_slist	*hdrs;
	curl_mime		*mime;
	char			*url;
	char			*method;
	char			*body;
	struct event		*retry;
	enum http_state		 state;

	int			 max_retries;
	int64_t			 backoff_initial_ms;
	int64_t			 backoff_max_ms;
	size_t			 max_response;
	bc_http_cb		*cb;
	void			*arg;
	int			 attempts;
	int64_t			 start_ms;

	/* The current attempt's response. */
	char			*rbody;
	size_t			 rlen;
	size_t			 rcap;
	struct http_header	*rhdrs;
	size_t			 nrhdrs;
	size_t			 rhdr_bytes;
	int			 toobig;
	char			 errbuf[CURL_ERROR_SIZE];
};

struct bc_http {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	TAILQ_HEAD(http_calls, bc_http_call) calls;
	LIST_HEAD(http_socks, http_sock) socks;
	size_t			 ncalls;
	int			 busy;
	int			 dying;
	CURL			*idle[HTTP_IDLE_MAX];
	size_t			 nidle;
	const char		*capath;	/* HTTP_CA_DIR, or NULL: curl's
						   default bundle */
};

static const char *http_errnames[] = {
	"ok", "timeout", "connect", "network", "too big", "other"
};

static int	http_attempt(struct bc_http_call *);

/* Set *cause (when the caller wants it) to a formatted message. */
static void __attribute__((format(printf, 2, 3)))
http_cause(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	xvasprintf(cause, fmt, ap);
	va_end(ap);
}

const char *
bc_http_strerror(enum bc_http_err e)
{
	if ((size_t)e >= BC_NELEM(http_errnames))
		return "unknown";
	return http_errnames[e];
}

/* ------------------------------------------------------------ headers */

static void
http_headers_clear(struct bc_http_call *c)
{
	size_t i;

	for (i = 0; i < c->nrhdrs; i++) {
		free(c->rhdrs[i].name);
		free(c->rhdrs[i].value);
	}
	free(c->rhdrs);
	c->rhdrs = NULL;
	c->nrhdrs = 0;
	c->rhdr_bytes = 0;
}

static const char *
http_header_get(const struct bc_http_call *c, const char *name)
{
	size_t i;

	for (i = c->nrhdrs; i > 0; i--)
		if (strcasecmp(c->rhdrs[i - 1].name, name) == 0)
			return c->rhdrs[i - 1].value;
	return NULL;
}

const char *
bc_http_resp_header(const struct bc_http_resp *r, const char *name)
{
	if (r == NULL || r->call == NULL || name == NULL)
		return NULL;
	return http_header_get(r->call, name);
}

static int
http_isspace(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Append a folded continuation line to the last header's value. */
static void
http_header_fold(struct bc_http_call *c, const char *p, size_t len)
{
	struct http_header *last;
	char *v;

	if (c->nrhdrs == 0)
		return;
	last = &c->rhdrs[c->nrhdrs - 1];
	while (len > 0 && http_isspace((unsigned char)*p)) {
		p++;
		len--;
	}
	xasprintf(&v, "%s %.*s", last->value, (int)len, p);
	free(last->value);
	last->value = v;
}

/* Store one "Name: value" line (without its CRLF). */
static void
http_header_add(struct bc_http_call *c, const char *p, size_t len)
{
	struct http_header *hd;
	const char *colon, *v;

	if ((colon = memchr(p, ':', len)) == NULL || colon == p)
		return;
	v = colon + 1;
	while (v < p + len && http_isspace((unsigned char)*v))
		v++;
	c->rhdrs = xreallocarray(c->rhdrs, c->nrhdrs + 1, sizeof *c->rhdrs);
	hd = &c->rhdrs[c->nrhdrs++];
	hd->name = xstrndup(p, (size_t)(colon - p));
	hd->value = xstrndup(v, (size_t)(p + len - v));
}

/* CURLOPT_HEADERFUNCTION: one whole header line per call. */
static size_t
http_header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct bc_http_call *c = arg;
	size_t len = size * n, all = len;

	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* A new status line: 1xx blocks are forgotten. */
		http_headers_clear(c);
		return all;
	}
	c->rhdr_bytes += len;
	if (c->nrhdrs >= HTTP_MAX_HEADERS ||
	    c->rhdr_bytes > HTTP_MAX_HEADER_BYTES) {
		c->toobig = 1;
		return 0;
	}
	while (len > 0 && http_isspace((unsigned char)p[len - 1]))
		len--;
	if (len == 0)
		return all;
	if (p[0] == ' ' || p[0] == '\t')
		http_header_fold(c, p, len);
	else
		http_header_add(c, p, len);
	return all;
}

/* CURLOPT_WRITEFUNCTION: append to the body, within max_response. */
static size_t
http_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct bc_http_call *c = arg;
	size_t len = size * n, want;

	if (len > c->max_response - c->rlen) {
		c->toobig = 1;
		return 0;
	}
	if (c->rlen + len + 1 > c->rcap) {
		want = c->rcap < 4096 ? 4096 : c->rcap;
		while (want < c->rlen + len + 1)
			want *= 2;
		c->rbody = xrealloc(c->rbody, want);
		c->rcap = want;
	}
	memcpy(c->rbody + c->rlen, p, len);
	c->rlen += len;
	c->rbody[c->rlen] = '\0';
	return len;
}

/* ------------------------------------------------------------ checks */

static int
http_is_tchar(int ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return 1;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Is s a non-empty HTTP token (method, header name) of at most max? */
static int
http_is_token(const char *s, size_t len, size_t max)
{
	size_t i;

	if (len == 0 || len > max)
		return 0;
	for (i = 0; i < len; i++)
		if (!http_is_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

static int
http_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return 1;
	return 0;
}

static int
http_check_url(const char *url, char **cause)
{
	const unsigned char *p;

	if (url == NULL || *url == '\0') {
		http_cause(cause, "empty URL");
		return -1;
	}
	if (strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0) {
		http_cause(cause, "URL is not http:// or https://");
		return -1;
	}
	for (p = (const unsigned char *)url; *p != '\0'; p++) {
		if (*p <= ' ' || *p == 0x7f) {
			http_cause(cause, "URL contains a space or control "
			    "character");
			return -1;
		}
	}
	return 0;
}

static int
http_check_headers(const char *const *hv, char **cause)
{
	const char *colon;

	for (; hv != NULL && *hv != NULL; hv++) {
		colon = strchr(*hv, ':');
		if (colon == NULL ||
		    !http_is_token(*hv, (size_t)(colon - *hv), 256) ||
		    http_has_ctl(*hv)) {
			http_cause(cause, "malformed request header");
			return -1;
		}
	}
	return 0;
}

static int
http_check_parts(const struct bc_http_part *pv, size_t n, char **cause)
{
	size_t i;
	int fd;

	if (n > 0 && pv == NULL) {
		http_cause(cause, "nparts set without parts");
		return -1;
	}
	for (i = 0; i < n; i++) {
		const struct bc_http_part *p = &pv[i];

		if (p->name == NULL || *p->name == '\0' ||
		    (p->value == NULL && p->value_len > 0) ||
		    (p->path != NULL && p->value != NULL)) {
			http_cause(cause, "bad multipart part %zu", i);
			return -1;
		}
		if (p->path == NULL)
			continue;
		if ((fd = open(p->path, O_RDONLY | O_CLOEXEC)) == -1) {
			http_cause(cause, "cannot read upload file: %s",
			    strerror(errno));
			return -1;
		}
		close(fd);
	}
	return 0;
}

static int
http_check_numbers(const struct bc_http_req *r, char **cause)
{
	if (r->timeout_ms < 0 || r->connect_timeout_ms < 0 ||
	    r->max_retries < 0 || r->backoff_initial_ms < 0 ||
	    r->backoff_max_ms < 0) {
		http_cause(cause, "negative timeout, retry or backoff value");
		return -1;
	}
	return 0;
}

/* Reject anything curl would choke on or that could inject headers. */
static int
http_check_req(const struct bc_http_req *r, char **cause)
{
	if (r == NULL) {
		http_cause(cause, "no request");
		return -1;
	}
	if (http_check_url(r->url, cause) == -1)
		return -1;
	if (r->method != NULL &&
	    !http_is_token(r->method, strlen(r->method), HTTP_METHOD_MAX)) {
		http_cause(cause, "malformed method");
		return -1;
	}
	if (r->body == NULL && r->body_len > 0) {
		http_cause(cause, "body_len set without body");
		return -1;
	}
	if (r->nparts > 0 && (r->body != NULL || r->content_type != NULL)) {
		http_cause(cause, "parts given with a body or content type");
		return -1;
	}
	if (r->content_type != NULL && http_has_ctl(r->content_type)) {
		http_cause(cause, "malformed content type");
		return -1;
	}
	if (http_check_headers(r->headers, cause) == -1 ||
	    http_check_parts(r->parts, r->nparts, cause) == -1 ||
	    http_check_numbers(r, cause) == -1)
		return -1;
	return 0;
}

/* ------------------------------------------------------------ setup */

static long
http_ms(int64_t v, int64_t dflt)
{
	if (v == 0)
		v = dflt;
	return v > LONG_MAX ? LONG_MAX : (long)v;
}

static int
http_has_header(const char *const *hv, const char *name)
{
	size_t n = strlen(name);

	for (; hv != NULL && *hv != NULL; hv++)
		if (strncasecmp(*hv, name, n) == 0 && (*hv)[n] == ':')
			return 1;
	return 0;
}

/* Build the request header list. Returns -1 on allocation failure. */
static int
http_setup_headers(struct bc_http_call *c, const struct bc_http_req *r)
{
	struct curl_slist *l;
	const char *const *hv;
	char *ct;

	for (hv = r->headers; hv != NULL && *hv != NULL; hv++) {
		if ((l = curl_slist_append(c->hdrs, *hv)) == NULL)
			return -1;
		c->hdrs = l;
	}
	if (r->content_type != NULL &&
	    !http_has_header(r->headers, "Content-Type")) {
		xasprintf(&ct, "Content-Type: %s", r->content_type);
		l = curl_slist_append(c->hdrs, ct);
		free(ct);
		if (l == NULL)
			return -1;
		c->hdrs = l;
	}
	/* Never wait for "100 Continue" before sending a body. */
	if ((r->body != NULL || r->nparts > 0) &&
	    !http_has_header(r->headers, "Expect")) {
		if ((l = curl_slist_append(c->hdrs, "Expect:")) == NULL)
			return -1;
		c->hdrs = l;
	}
	return 0;
}

/* Build the multipart body. */
static int
http_setup_mime(struct bc_http_call *c, const struct bc_http_req *r)
{
	curl_mimepart *mp;
	size_t i;
	int rc = 0;

	if ((c->mime = curl_mime_init(c->easy)) == NULL)
		return -1;
	for (i = 0; i < r->nparts; i++) {
		const struct bc_http_part *p = &r->parts[i];

		if ((mp = curl_mime_addpart(c->mime)) == NULL)
			return -1;
		rc |= curl_mime_name(mp, p->name);
		if (p->path != NULL)
			rc |= curl_mime_filedata(mp, p->path);
		else
			rc |= curl_mime_data(mp, p->value != NULL ?
			    p->value : "", p->value_len);
		if (p->filename != NULL)
			rc |= curl_mime_filename(mp, p->filename);
		if (p->content_type != NULL)
			rc |= curl_mime_type(mp, p->content_type);
	}
	rc |= curl_easy_setopt(c->easy, CURLOPT_MIMEPOST, c->mime);
	return rc == 0 ? 0 : -1;
}

/* Method and body options. */
static int
http_setup_method(struct bc_http_call *c, const struct bc_http_req *r)
{
	CURL *e = c->easy;
	int rc = 0, hasbody = r->body != NULL || r->nparts > 0;

	if (strcmp(c->method, "HEAD") == 0 && !hasbody)
		rc |= curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(c->method, "GET") == 0 && !hasbody)
		rc |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else if (strcmp(c->method, "POST") != 0 || !hasbody)
		rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
	if (r->nparts > 0)
		return rc == 0 ? http_setup_mime(c, r) : -1;
	if (r->body != NULL || strcmp(c->method, "POST") == 0) {
		c->body = xmalloc(r->body_len + 1);
		if (r->body_len > 0)
			memcpy(c->body, r->body, r->body_len);
		c->body[r->body_len] = '\0';
		rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)r->body_len);
		rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
	}
	return rc == 0 ? 0 : -1;
}

/* Options that do not depend on the method. */
static int
http_setup_common(struct bc_http_call *c, const struct bc_http_req *r)
{
	CURL *e = c->easy;
	int rc = 0;

	rc |= curl_easy_setopt(e, CURLOPT_URL, c->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, c);
	rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_BUFFERSIZE, HTTP_BUFFER_SIZE);
	if (c->h->capath != NULL) {
		rc |= curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
		rc |= curl_easy_setopt(e, CURLOPT_CAPATH, c->h->capath);
	}
	rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, HTTP_USER_AGENT);
	rc |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
	rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
	    http_ms(r->timeout_ms, HTTP_TIMEOUT_MS));
	rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    http_ms(r->connect_timeout_ms, HTTP_CONNECT_TIMEOUT_MS));
	rc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	    c->max_response > (size_t)INT64_MAX ? (curl_off_t)INT64_MAX :
	    (curl_off_t)c->max_response);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_header_cb);
	rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
	if (c->hdrs != NULL)
		rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs);
	return rc == 0 ? 0 : -1;
}

static void
http_call_free(struct bc_http_call *c)
{
	struct bc_http *h;

	if (c == NULL)
		return;
	h = c->h;
	if (c->easy != NULL && h != NULL && !h->dying &&
	    h->nidle < HTTP_IDLE_MAX) {
		/* Kept for the next call: fewer allocations per call. */
		curl_easy_reset(c->easy);
		h->idle[h->nidle++] = c->easy;
	} else if (c->easy != NULL)
		curl_easy_cleanup(c->easy);
	curl_mime_free(c->mime);
	curl_slist_free_all(c->hdrs);
	if (c->retry != NULL)
		event_free(c->retry);
	http_headers_clear(c);
	free(c->rbody);
	free(c->url);
	free(c->method);
	free(c->body);
	free(c);
}

static void	http_retry_cb(evutil_socket_t, short, void *);

/* Allocate a call and set up its easy handle from a checked request. */
static struct bc_http_call *
http_call_new(struct bc_http *h, const struct bc_http_req *r, char **cause)
{
	struct bc_http_call *c;
	const char *m = r->method;

	c = xcalloc(1, sizeof *c);
	c->h = h;
	c->url = xstrdup(r->url);
	if (m == NULL)
		m = r->body != NULL || r->nparts > 0 ? "POST" : "GET";
	c->method = xstrdup(m);
	c->max_retries = r->max_retries;
	c->backoff_initial_ms = r->backoff_initial_ms != 0 ?
	    r->backoff_initial_ms : HTTP_BACKOFF_INITIAL_MS;
	c->backoff_max_ms = r->backoff_max_ms != 0 ?
	    r->backoff_max_ms : HTTP_BACKOFF_MAX_MS;
	c->max_response = r->max_response != 0 ?
	    r->max_response : HTTP_MAX_RESPONSE;
	if (h->nidle > 0)
		c->easy = h->idle[--h->nidle];
	if ((c->retry = evtimer_new(h->base, http_retry_cb, c)) == NULL ||
	    (c->easy == NULL && (c->easy = curl_easy_init()) == NULL)) {
		http_cause(cause, "cannot allocate an HTTP request");
		goto fail;
	}
	if (http_setup_headers(c, r) == -1 ||
	    http_setup_common(c, r) == -1 ||
	    http_setup_method(c, r) == -1) {
		http_cause(cause, "cannot set up the HTTP request");
		goto fail;
	}
	return c;

fail:
	http_call_free(c);
	return NULL;
}

/* ------------------------------------------------------------ lifecycle */

/* Remove a call from the client and free it; no callback. */
static void
http_call_cancel(struct bc_http_call *c)
{
	struct bc_http *h = c->h;

	if (c->state == CALL_ACTIVE)
		curl_multi_remove_handle(h->multi, c->easy);
	TAILQ_REMOVE(&h->calls, c, entry);
	h->ncalls--;
	http_call_free(c);
}

/* Deliver the result of the last attempt, then free the call. */
static void
http_finish(struct bc_http_call *c, long status, enum bc_http_err err,
    const char *errmsg)
{
	struct bc_http *h = c->h;
	struct bc_http_resp resp;

	memset(&resp, 0, sizeof resp);
	resp.status = status;
	resp.error = err;
	resp.errmsg = errmsg != NULL ? errmsg : "";
	resp.body = "";
	if (err == BC_HTTP_OK && c->rbody != NULL) {
		resp.body = c->rbody;
		resp.body_len = c->rlen;
	}
	resp.attempts = c->attempts;
	resp.elapsed_ms = bc_now_ms() - c->start_ms;
	resp.call = c;
	log_debug("http: %s %s: status %ld, %s, %d attempt(s), %lld ms",
	    c->method, c->url, status, bc_http_strerror(err), c->attempts,
	    (long long)resp.elapsed_ms);

	c->state = CALL_DONE;
	TAILQ_REMOVE(&h->calls, c, entry);
	h->ncalls--;
	c->cb(&resp, c->arg);
	http_call_free(c);
}

static enum bc_http_err
http_map_error(const struct bc_http_call *c, CURLcode rc)
{
	if (c->toobig)
		return BC_HTTP_ETOOBIG;
	switch (rc) {
	case CURLE_OK:
		return BC_HTTP_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return BC_HTTP_ETIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
		return BC_HTTP_ECONNECT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return BC_HTTP_ENETWORK;
	case CURLE_FILESIZE_EXCEEDED:
		return BC_HTTP_ETOOBIG;
	default:
		return BC_HTTP_EOTHER;
	}
}

/* Delay before the next attempt: Retry-After on a 5xx, else backoff. */
static int64_t
http_retry_delay(const struct bc_http_call *c, long status)
{
	const char *ra;
	int64_t secs = 0;

	if (status >= 500 && (ra = http_header_get(c, "Retry-After")) != NULL &&
	    *ra >= '0' && *ra <= '9') {
		for (; *ra >= '0' && *ra <= '9'; ra++) {
			secs = secs * 10 + (*ra - '0');
			if (secs > c->backoff_max_ms / 1000)
				return c->backoff_max_ms;
		}
		if (*ra == '\0')
			return secs * 1000 > c->backoff_max_ms ?
			    c->backoff_max_ms : secs * 1000;
	}
	return bc_backoff_delay(c->backoff_initial_ms, c->backoff_max_ms,
	    HTTP_JITTER, (unsigned)(c->attempts - 1), bc_random_unit());
}

/* One attempt ended with rc: retry it later or deliver the result. */
static void
http_done(struct bc_http_call *c, CURLcode rc)
{
	struct bc_http *h = c->h;
	enum bc_http_err err;
	struct timeval tv;
	long status = 0;
	int64_t delay;
	const char *msg = "";

	curl_multi_remove_handle(h->multi, c->easy);
	c->state = CALL_WAITING;
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	err = http_map_error(c, rc);
	if (err == BC_HTTP_ETOOBIG)
		msg = "response too large";
	else if (err != BC_HTTP_OK)
		msg = c->errbuf[0] != '\0' ? c->errbuf :
		    curl_easy_strerror(rc);

	if (c->attempts <= c->max_retries && err != BC_HTTP_ETOOBIG &&
	    err != BC_HTTP_EOTHER &&
	    (err != BC_HTTP_OK || (status >= 500 && status <= 599))) {
		delay = http_retry_delay(c, err == BC_HTTP_OK ? status : 0);
		log_debug("http: %s %s: attempt %d failed (status %ld, %s), "
		    "retry in %lld ms", c->method, c->url, c->attempts, status,
		    *msg != '\0' ? msg : "server error", (long long)delay);
		tv.tv_sec = delay / 1000;
		tv.tv_usec = (delay % 1000) * 1000;
		if (evtimer_add(c->retry, &tv) == 0)
			return;
		msg = "cannot arm the retry timer";
	}
	http_finish(c, status, err, msg);
}

/* Start the next attempt. */
static int
http_attempt(struct bc_http_call *c)
{
	http_headers_clear(c);
	c->rlen = 0;
	if (c->rbody != NULL)
		c->rbody[0] = '\0';
	c->toobig = 0;
	c->errbuf[0] = '\0';
	c->attempts++;
	if (curl_multi_add_handle(c->h->multi, c->easy) != CURLM_OK)
		return -1;
	c->state = CALL_ACTIVE;
	return 0;
}

/* Free the client for real: nothing of ours is on the stack. */
static void
http_destroy(struct bc_http *h)
{
	struct http_sock *s;

	while (h->nidle > 0)
		curl_easy_cleanup(h->idle[--h->nidle]);
	curl_multi_cleanup(h->multi);
	while ((s = LIST_FIRST(&h->socks)) != NULL) {
		LIST_REMOVE(s, entry);
		if (s->ev != NULL)
			event_free(s->ev);
		free(s);
	}
	event_free(h->timer);
	free(h);
}

static void
http_enter(struct bc_http *h)
{
	h->busy++;
}

/* Leave an entry point; the last one out destroys a dying client. */
static void
http_leave(struct bc_http *h)
{
	if (--h->busy == 0 && h->dying)
		http_destroy(h);
}

/* Handle every finished transfer. */
static void
http_check_done(struct bc_http *h)
{
	struct bc_http_call *c;
	CURLMsg *m;
	CURLcode rc;
	CURL *e;
	char *priv;
	int left;

	while (!h->dying &&
	    (m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		e = m->easy_handle;
		rc = m->data.result;
		priv = NULL;
		if (curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv) !=
		    CURLE_OK || priv == NULL)
			continue;
		c = (struct bc_http_call *)(void *)priv;
		http_done(c, rc);
	}
}

static void
http_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bc_http_call *c = arg;
	struct bc_http *h = c->h;

	(void)fd;
	(void)what;
	http_enter(h);
	if (http_attempt(c) == -1)
		http_finish(c, 0, BC_HTTP_EOTHER, "cannot start the transfer");
	http_leave(h);
}

/* ------------------------------------------------------------ curl glue */

static void
http_sock_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_sock *s = arg;
	struct bc_http *h = s->h;
	int action = 0, running;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	http_enter(h);
	/* s may be freed inside (CURL_POLL_REMOVE). */
	curl_multi_socket_action(h->multi, fd, action, &running);
	http_check_done(h);
	http_leave(h);
}

static void
http_timer_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bc_http *h = arg;
	int running;

	(void)fd;
	(void)what;
	http_enter(h);
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_check_done(h);
	http_leave(h);
}

static void
http_sock_free(struct http_sock *s)
{
	LIST_REMOVE(s, entry);
	if (s->ev != NULL)
		event_free(s->ev);
	free(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl wants. */
static int
http_socket_fn(CURL *e, curl_socket_t fd, int what, void *userp,
    void *sockp)
{
	struct bc_http *h = userp;
	struct http_sock *s = sockp;
	short kind = EV_PERSIST;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL)
			http_sock_free(s);
		return 0;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof *s);
		s->h = h;
		s->fd = fd;
		LIST_INSERT_HEAD(&h->socks, s, entry);
		curl_multi_assign(h->multi, fd, s);
	}
	if (s->ev != NULL)
		event_free(s->ev);
	s->ev = NULL;
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (kind == EV_PERSIST)
		return 0;
	s->ev = event_new(h->base, fd, kind, http_sock_ev_cb, s);
	if (s->ev == NULL || event_add(s->ev, NULL) == -1) {
		log_warnx("http: cannot watch a socket");
		return -1;
	}
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: (re)arm or stop our single timer. */
static int
http_timer_fn(CURLM *m, long timeout_ms, void *userp)
{
	struct bc_http *h = userp;
	struct timeval tv;

	(void)m;
	if (timeout_ms < 0)
		return event_del(h->timer);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(h->timer, &tv);
}

/* ------------------------------------------------------------ public */

/* Is dir a hashed certificate directory (has a "5ad8a5d6.0" link)? */
static int
http_ca_dir_ok(const char *dir)
{
	struct dirent *d;
	DIR *dp;
	size_t i;
	int ok = 0;

	if ((dp = opendir(dir)) == NULL)
		return 0;
	while (!ok && (d = readdir(dp)) != NULL) {
		for (i = 0; i < 8 && isxdigit((unsigned char)d->d_name[i]); i++)
			;
		ok = i == 8 && strcmp(d->d_name + 8, ".0") == 0;
	}
	closedir(dp);
	return ok;
}

struct bc_http *
bc_http_new(struct event_base *base, char **cause)
{
	static int inited;
	struct bc_http *h;
	CURLMcode rc = CURLM_OK;

	if (base == NULL) {
		http_cause(cause, "no event base");
		return NULL;
	}
	if (!inited) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			http_cause(cause, "cannot initialise libcurl");
			return NULL;
		}
		inited = 1;
	}
	h = xcalloc(1, sizeof *h);
	h->base = base;
	h->capath = http_ca_dir_ok(HTTP_CA_DIR) ? HTTP_CA_DIR : NULL;
	TAILQ_INIT(&h->calls);
	LIST_INIT(&h->socks);
	if ((h->timer = evtimer_new(base, http_timer_ev_cb, h)) == NULL ||
	    (h->multi = curl_multi_init()) == NULL) {
		http_cause(cause, "cannot create the HTTP client");
		goto fail;
	}
	rc |= curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION,
	    http_socket_fn);
	rc |= curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	rc |= curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION,
	    http_timer_fn);
	rc |= curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	rc |= curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS,
	    HTTP_MAX_CONNECTS);
	if (rc != CURLM_OK) {
		http_cause(cause, "cannot set up the HTTP client: %s",
		    curl_multi_strerror(rc));
		goto fail;
	}
	return h;

fail:
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);
	if (h->timer != NULL)
		event_free(h->timer);
	free(h);
	return NULL;
}

void
bc_http_free(struct bc_http *h)
{
	struct bc_http_call *c;

	if (h == NULL || h->dying)
		return;
	while ((c = TAILQ_FIRST(&h->calls)) != NULL)
		http_call_cancel(c);
	if (h->busy > 0) {
		h->dying = 1;
		return;
	}
	http_destroy(h);
}

struct bc_http_call *
bc_http_start(struct bc_http *h, const struct bc_http_req *r, bc_http_cb *cb,
    void *arg, char **cause)
{
	struct bc_http_call *c;

	if (h == NULL || h->dying || cb == NULL) {
		http_cause(cause, "no HTTP client or no callback");
		return NULL;
	}
	if (http_check_req(r, cause) == -1)
		return NULL;
	if ((c = http_call_new(h, r, cause)) == NULL)
		return NULL;
	c->cb = cb;
	c->arg = arg;
	c->start_ms = bc_now_ms();
	if (http_attempt(c) == -1) {
		http_cause(cause, "cannot start the transfer");
		http_call_free(c);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&h->calls, c, entry);
	h->ncalls++;
	log_debug("http: %s %s: started", c->method, c->url);
	return c;
}

void
bc_http_cancel(struct bc_http_call *c)
{
	if (c == NULL || c->state == CALL_DONE)
		return;
	log_debug("http: %s %s: cancelled", c->method, c->url);
	http_call_cancel(c);
}

size_t
bc_http_inflight(const struct bc_http *h)
{
	return h != NULL ? h->ncalls : 0;
}

struct bc_http_call *
bc_http_post_json(struct bc_http *h, const char *url, const json_t *body,
    int64_t timeout_ms, int max_retries, bc_http_cb *cb, void *arg,
    char **cause)
{
	struct bc_http_req r = BC_HTTP_REQ_ZERO;
	struct bc_http_call *c;
	char *s;

	if (body == NULL) {
		http_cause(cause, "no JSON body");
		return NULL;
	}
	if ((s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
		http_cause(cause, "cannot encode the JSON body");
		return NULL;
	}
	r.method = "POST";
	r.url = url;
	r.body = s;
	r.body_len = strlen(s);
	r.content_type = "application/json";
	r.timeout_ms = timeout_ms;
	r.max_retries = max_retries;
	c = bc_http_start(h, &r, cb, arg, cause);
	free(s);
	return c;
}
