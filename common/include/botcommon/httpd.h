/*
 * A small HTTP server on libevent's evhttp, for Telegram and GitHub
 * webhooks, the mini-app's API and the health and metrics endpoints.
 *
 * Requests are routed by path (exact, or prefix when the route ends with
 * '/') and method; unknown paths get 404 and known paths with another
 * method 405, both as JSON. Bodies over the limit get 413, malformed
 * requests 400; headers are capped at 16 KiB and every connection has a
 * read and write timeout, so a bad or slow peer costs one socket, never
 * the loop.
 *
 * A handler replies exactly once with bc_httpd_reply() or
 * bc_httpd_reply_json(), either before it returns or, after
 * bc_httpd_hold(), later from another callback. A handler that does
 * neither gets a 500 sent for it.
 */
#ifndef BOTCOMMON_HTTPD_H
#define BOTCOMMON_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#define BC_HTTPD_MAX_BODY	(1024 * 1024)	/* default body limit */
#define BC_HTTPD_TIMEOUT_MS	30000	/* default I/O timeout */
#define BC_HTTPD_MAX_HEADERS	16384	/* request line and headers */

struct bc_httpd;
struct bc_httpd_req;

/*
 * Listen on listen: "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080" or
 * ":8080" (every address, IPv6 and IPv4). Addresses are numeric; port 0
 * picks a free port (see bc_httpd_port()). base is borrowed and must
 * outlive the server. libevent writes to clients with writev(2), so
 * SIGPIPE is set to ignored here if it is still at its default. Returns a server the caller frees with
 * bc_httpd_free(), or NULL with *cause set (caller frees) for a bad
 * address or a failed bind.
 */
struct bc_httpd *bc_httpd_new(struct event_base *base, const char *listen,
	    char **cause);

/*
 * Close the socket and every connection. Requests still held get their
 * on_close callback, then are freed: their pointers are dead afterwards.
 * NULL is a no-op. Never call it from a handler.
 */
void	bc_httpd_free(struct bc_httpd *);

/* The bound port. */
int	bc_httpd_port(const struct bc_httpd *);

/*
 * Body limit (default 1 MiB, larger bodies get 413) and the read and write
 * inactivity timeout of each connection (default 30 s). Zero keeps the
 * current value. Applies to connections accepted afterwards.
 */
void	bc_httpd_set_limits(struct bc_httpd *, size_t max_body,
	    int64_t timeout_ms);

/* Handler for a request; req is borrowed (see bc_httpd_hold()). */
typedef void bc_httpd_handler(struct bc_httpd_req *req, void *arg);

/*
 * Route method (NULL = any; "GET", "POST", "PUT", "DELETE", "PATCH",
 * "HEAD", "OPTIONS") and path (starting with '/'; exact match, or prefix
 * match when it ends with '/') to handler. Routes are tried in the order
 * they were added and the first match wins. path is copied; arg is
 * borrowed. Returns 0, or -1 for a bad method or path.
 */
int	bc_httpd_route(struct bc_httpd *, const char *method,
	    const char *path, bc_httpd_handler *handler, void *arg);

/*
 * Request accessors. The strings returned are borrowed and live as long
 * as the request. Once the request is replied to or its client went
 * away, bc_httpd_header() returns NULL; the others keep working.
 */
const char *bc_httpd_method(const struct bc_httpd_req *);   /* "GET", ... */
const char *bc_httpd_path(const struct bc_httpd_req *);     /* decoded */
/* A decoded query parameter ('+' is a space), the first if repeated, or
 * NULL when absent. */
const char *bc_httpd_query(const struct bc_httpd_req *, const char *name);
/* A request header by case-insensitive name, or NULL. */
const char *bc_httpd_header(const struct bc_httpd_req *, const char *name);
/* The body exactly as received (may hold NUL bytes) with a NUL after it;
 * *len (if len is not NULL) gets its length. Never NULL. */
const char *bc_httpd_body(const struct bc_httpd_req *, size_t *len);
/* The peer as "ip:port", or "[ipv6]:port". */
const char *bc_httpd_peer(const struct bc_httpd_req *);

/*
 * Send the reply: status (100..599, anything else becomes 500),
 * content_type (NULL = "application/octet-stream") and len bytes of body
 * (copied). Exactly once per request: a second call while the request is
 * still alive is ignored with a warning. Replying to a held request frees
 * it, and its pointer is dead afterwards; if its client went away, the
 * reply is dropped and the request freed all the same.
 */
void	bc_httpd_reply(struct bc_httpd_req *, int status,
	    const char *content_type, const char *body, size_t len);

/* Reply with json serialised compactly (the reference is not stolen) as
 * application/json; a value that cannot be serialised gets a 500. */
void	bc_httpd_reply_json(struct bc_httpd_req *, int status,
	    const json_t *);

/* Called when the client of a held request goes away (or the server is
 * freed). The request is dead: the callback, or anyone later, must still
 * call bc_httpd_reply() once, which just frees it -- except during
 * bc_httpd_free(), which frees it itself. */
typedef void bc_httpd_close_cb(struct bc_httpd_req *req, void *arg);

/*
 * Keep req after the handler returns, to reply later from another
 * callback (a webhook answers 200 only once the update is durably
 * handled). on_close (may be NULL) and arg (borrowed) are described
 * above. A held request has no timeout: the holder must reply.
 */
void	bc_httpd_hold(struct bc_httpd_req *, bc_httpd_close_cb *on_close,
	    void *arg);

#endif /* BOTCOMMON_HTTPD_H */
