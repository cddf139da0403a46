/*
 * Asynchronous HTTP client: one libcurl multi handle driven by a libevent
 * event_base (curl_multi_socket_action), many requests in flight at once.
 *
 * Each request has its own timeouts and retry policy. Network errors
 * (timeouts, refused or dropped connections) and 5xx statuses are retried
 * with exponential backoff and jitter on an event timer; a 5xx carrying
 * Retry-After (seconds) waits that long instead, capped at backoff_max_ms.
 * Every other status (3xx, 4xx including 429) goes to the caller as it is.
 * Redirects are not followed. The completion callback runs exactly once per
 * started request, after its last attempt, unless the request is cancelled
 * or the client freed first; it is never called from inside
 * bc_http_start().
 *
 * URLs are logged at debug level only (register tokens with log_redact()).
 * This is the only module that talks to libcurl.
 */
#ifndef BOTCOMMON_HTTP_H
#define BOTCOMMON_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct event_base;
struct bc_http;
struct bc_http_call;

enum bc_http_err {
	BC_HTTP_OK = 0,		/* a complete response arrived */
	BC_HTTP_ETIMEOUT,	/* the attempt (or its connect) took too long */
	BC_HTTP_ECONNECT,	/* name resolution or connection failed */
	BC_HTTP_ENETWORK,	/* connection dropped, empty or cut reply */
	BC_HTTP_ETOOBIG,	/* body over max_response (or huge headers) */
	BC_HTTP_EOTHER,		/* anything else (TLS certificate, ...) */
};

/* One part of a multipart/form-data upload. */
struct bc_http_part {
	const char	*name;		/* form field name, required */
	const char	*value;		/* bytes to send (copied), or NULL */
	size_t		 value_len;
	const char	*filename;	/* NULL: none (or path's base name) */
	const char	*content_type;	/* NULL: curl's guess */
	const char	*path;		/* file to upload instead of value */
};

/*
 * A request. Everything is copied by bc_http_start(): the caller's strings
 * and arrays need only live until it returns. Zero means the default.
 */
struct bc_http_req {
	const char	*method;	/* NULL: GET, or POST with body/parts */
	const char	*url;		/* http:// or https:// */
	const char *const *headers;	/* NULL-terminated "Name: value" list */
	const char	*body;		/* may contain NULs */
	size_t		 body_len;
	const char	*content_type;	/* e.g. "application/json" */
	int64_t		 timeout_ms;	/* one whole attempt; 0 = 30000 */
	int64_t		 connect_timeout_ms; /* 0 = 10000 */
	int		 max_retries;	/* extra attempts; 0 = none */
	int64_t		 backoff_initial_ms; /* 0 = 500 */
	int64_t		 backoff_max_ms; /* 0 = 30000 */
	size_t		 max_response;	/* body cap in bytes; 0 = 16 MiB */
	const struct bc_http_part *parts; /* multipart body, or NULL */
	size_t		 nparts;
};
#define BC_HTTP_REQ_ZERO	{ .method = NULL }

/*
 * What the callback gets; everything is borrowed and valid only during
 * the callback. A usable response is error == BC_HTTP_OK, whatever the
 * status. On an error, status is what the last attempt received (0 if
 * nothing) and body is empty.
 */
struct bc_http_resp {
	long		 status;	/* HTTP status, 0 when none arrived */
	enum bc_http_err error;		/* of the last attempt */
	const char	*errmsg;	/* curl's text for the error, or "" */
	const char	*body;		/* NUL-terminated, body_len bytes */
	size_t		 body_len;
	int		 attempts;	/* 1 + retries made */
	int64_t		 elapsed_ms;	/* since the start, retries included */
	const struct bc_http_call *call; /* private: header storage */
};

typedef void bc_http_cb(const struct bc_http_resp *, void *arg);

/*
 * Create a client bound to base (borrowed; it must outlive the client).
 * Initialises libcurl once per process. Returns a client the caller frees
 * with bc_http_free(), or NULL with *cause set (caller frees).
 */
struct bc_http *bc_http_new(struct event_base *base, char **cause);

/*
 * Cancel everything in flight (no callback is called) and free the
 * client. NULL is a no-op. It may be called from a completion callback:
 * the client then goes away once that callback returns, and no other
 * callback runs.
 */
void	bc_http_free(struct bc_http *);

/*
 * Start a request; cb(resp, arg) runs later from the event loop. Returns a
 * handle owned by the module, valid until the callback returns or until
 * bc_http_cancel(); or NULL with *cause set (caller frees) for a bad
 * request: empty or non-HTTP URL, malformed method or header, unreadable
 * upload file, negative timeouts, a body together with parts, no cb.
 */
struct bc_http_call *bc_http_start(struct bc_http *,
	    const struct bc_http_req *, bc_http_cb *cb, void *arg,
	    char **cause);

/*
 * Abort a request; its callback is not called and the handle is freed.
 * NULL is a no-op, and so is cancelling a call from its own callback.
 */
void	bc_http_cancel(struct bc_http_call *);

/* Requests started and not yet completed or cancelled (retry waits too). */
size_t	bc_http_inflight(const struct bc_http *);

/*
 * POST body (borrowed, not stolen) as compact JSON with Content-Type
 * application/json. timeout_ms 0 and max_retries as in bc_http_req.
 * Returns as bc_http_start().
 */
struct bc_http_call *bc_http_post_json(struct bc_http *, const char *url,
	    const json_t *body, int64_t timeout_ms, int max_retries,
	    bc_http_cb *cb, void *arg, char **cause);

/*
 * The value of response header name (case-insensitive; the last one wins
 * when repeated), or NULL. Borrowed, valid during the callback.
 */
const char *bc_http_resp_header(const struct bc_http_resp *,
	    const char *name);

/* A short name for an error: "ok", "timeout", "connect", ... Static. */
const char *bc_http_strerror(enum bc_http_err);

#endif /* BOTCOMMON_HTTP_H */
