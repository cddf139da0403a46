/* The control protocol: line framing, messages, blocking client helpers. */

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <botcommon/buf.h>
#include <botcommon/ctl.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

/* ------------------------------------------------------------ reader */

void
bc_ctl_reader_init(struct bc_ctl_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max == 0 ? BC_CTL_LINE_MAX : max;
}

void
bc_ctl_reader_release(struct bc_ctl_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->start = r->end = r->scanned = 0;
	r->discard = 0;
}

/* Allocate the buffer and move unconsumed bytes to its front. */
static void
reader_compact(struct bc_ctl_reader *r)
{
	if (r->buf == NULL)
		r->buf = xmalloc(r->max + 1);
	if (r->start == 0)
		return;
	memmove(r->buf, r->buf + r->start, r->end - r->start);
	r->end -= r->start;
	r->start = 0;
}

size_t
bc_ctl_reader_feed(struct bc_ctl_reader *r, const void *data, size_t len)
{
	const char *p = data, *nl;
	size_t taken = 0, n;

	while (r->discard && taken < len) {
		if ((nl = memchr(p + taken, '\n', len - taken)) == NULL)
			return len;
		taken = (size_t)(nl - p) + 1;
		r->discard = 0;
	}
	if (taken == len)
		return taken;
	reader_compact(r);
	n = r->max + 1 - r->end;
	if (n > len - taken)
		n = len - taken;
	memcpy(r->buf + r->end, p + taken, n);
	r->end += n;
	return taken + n;
}

ssize_t
bc_ctl_reader_read(struct bc_ctl_reader *r, int fd)
{
	ssize_t n;
	char *nl;

	reader_compact(r);
	if (r->end == r->max + 1) {
		errno = ENOBUFS;
		return -1;
	}
	n = read(fd, r->buf + r->end, r->max + 1 - r->end);
	if (n <= 0)
		return n;
	if (!r->discard) {
		r->end += (size_t)n;
		return n;
	}
	/* Discarding: the buffer was empty, so these bytes are at 0. */
	if ((nl = memchr(r->buf, '\n', (size_t)n)) != NULL) {
		r->discard = 0;
		r->start = (size_t)(nl - r->buf) + 1;
		r->end = (size_t)n;
	} else
		r->start = r->end = 0;
	r->scanned = 0;
	return n;
}

enum bc_ctl_event
bc_ctl_reader_next(struct bc_ctl_reader *r, char **line, size_t *len)
{
	char *p, *nl;
	size_t avail;

	if (r->buf == NULL || r->start == r->end)
		return BC_CTL_AGAIN;
	p = r->buf + r->start;
	avail = r->end - r->start;
	nl = memchr(p + r->scanned, '\n', avail - r->scanned);
	if (nl != NULL) {
		*nl = '\0';
		*line = p;
		*len = (size_t)(nl - p);
		r->start += *len + 1;
		r->scanned = 0;
		if (r->start == r->end)
			r->start = r->end = 0;
		return BC_CTL_LINE;
	}
	r->scanned = avail;
	if (avail <= r->max)
		return BC_CTL_AGAIN;
	/* max + 1 bytes and no newline: drop them and the rest of it. */
	r->start = r->end = r->scanned = 0;
	r->discard = 1;
	return BC_CTL_OVERSIZE;
}

size_t
bc_ctl_reader_pending(const struct bc_ctl_reader *r)
{
	return r->end - r->start;
}

/* ------------------------------------------------------------ messages */

json_t *
bc_ctl_string(const char *s, size_t len)
{
	struct bc_buf b = BC_BUF_ZERO;
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	json_t *j;

	while (i < len) {
		n = bc_utf8_seqlen(u + i, len - i);
		if (n == 0 || u[i] == '\0') {
			bc_buf_add(&b, "\xef\xbf\xbd", 3);
			i++;
			continue;
		}
		bc_buf_add(&b, u + i, n);
		i += n;
	}
	j = json_stringn(b.p != NULL ? b.p : "", b.len);
	bc_buf_release(&b);
	if (j == NULL)
		abort();
	return j;
}

/* {"v":1}, aborting on OOM. */
static json_t *
msg_new(void)
{
	json_t *j;

	if ((j = json_object()) == NULL ||
	    json_object_set_new(j, "v", json_integer(BC_CTL_VERSION)) != 0)
		abort();
	return j;
}

/* Set key to a new value, aborting on OOM. */
static void
msg_set(json_t *j, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(j, key, v) != 0)
		abort();
}

json_t *
bc_ctl_request_new(const char *cmd)
{
	json_t *j = msg_new();

	msg_set(j, "cmd", json_string(cmd));
	return j;
}

json_t *
bc_ctl_reply_ok(void)
{
	json_t *j = msg_new();

	msg_set(j, "ok", json_true());
	return j;
}

json_t *
bc_ctl_reply_error(const char *fmt, ...)
{
	json_t *j = msg_new();
	va_list ap;
	char *s;

	va_start(ap, fmt);
	xvasprintf(&s, fmt, ap);
	va_end(ap);
	msg_set(j, "ok", json_false());
	msg_set(j, "error", bc_ctl_string(s, strlen(s)));
	free(s);
	return j;
}

json_t *
bc_ctl_event_new(const char *event)
{
	json_t *j = msg_new();

	msg_set(j, "event", json_string(event));
	return j;
}

char *
bc_ctl_encode(const json_t *msg, size_t *len, char **cause)
{
	char *s, *line;
	size_t n;

	if ((s = json_dumps(msg, JSON_COMPACT)) == NULL) {
		xasprintf(cause, "cannot encode the message as JSON");
		return NULL;
	}
	n = strlen(s);
	if (n > BC_CTL_LINE_MAX) {
		xasprintf(cause, "message too long (%zu bytes, limit %d)", n,
		    BC_CTL_LINE_MAX);
		free(s);
		return NULL;
	}
	line = xmalloc(n + 2);
	memcpy(line, s, n);
	line[n] = '\n';
	line[n + 1] = '\0';
	free(s);
	if (len != NULL)
		*len = n + 1;
	return line;
}

int
bc_ctl_name_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= BC_CTL_NAME_MAX)
			return 0;
		if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		    (s[i] == '-' && i > 0))
			continue;
		return 0;
	}
	return i > 0;
}

int
bc_ctl_cmd_valid(const char *s)
{
	size_t i;

	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= BC_CTL_CMD_MAX)
			return 0;
		if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-')
			continue;
		return 0;
	}
	return 1;
}

/* Parse len bytes as one JSON object with the right "v". */
static json_t *
msg_parse(const char *line, size_t len, const char *what, char **cause)
{
	json_error_t e;
	json_t *j, *v;

	j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL) {
		xasprintf(cause, "invalid JSON at column %d: %s", e.column,
		    e.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		xasprintf(cause, "%s is not a JSON object", what);
		goto fail;
	}
	if ((v = json_object_get(j, "v")) == NULL) {
		xasprintf(cause, "%s has no protocol version \"v\"", what);
		goto fail;
	}
	if (!json_is_integer(v) || json_integer_value(v) != BC_CTL_VERSION) {
		xasprintf(cause, "unsupported protocol version (this side "
		    "speaks %d)", BC_CTL_VERSION);
		goto fail;
	}
	return j;
fail:
	json_decref(j);
	return NULL;
}

/* Check the "bots" member of a request, if any. */
static int
request_check_bots(const json_t *req, char **cause)
{
	json_t *bots, *b;
	size_t i;

	if ((bots = json_object_get(req, "bots")) == NULL)
		return 0;
	if (!json_is_array(bots)) {
		xasprintf(cause, "\"bots\" must be an array of bot names");
		return -1;
	}
	if (json_array_size(bots) > BC_CTL_BOTS_MAX) {
		xasprintf(cause, "too many bots (limit %d)", BC_CTL_BOTS_MAX);
		return -1;
	}
	json_array_foreach(bots, i, b) {
		if (!json_is_string(b) ||
		    strlen(json_string_value(b)) != json_string_length(b) ||
		    !bc_ctl_name_valid(json_string_value(b))) {
			xasprintf(cause, "invalid bot name at bots[%zu]", i);
			return -1;
		}
	}
	return 0;
}

json_t *
bc_ctl_request_parse(const char *line, size_t len, const char **cmd,
    char **cause)
{
	json_t *j, *c;

	if ((j = msg_parse(line, len, "request", cause)) == NULL)
		return NULL;
	c = json_object_get(j, "cmd");
	if (c == NULL || !json_is_string(c)) {
		xasprintf(cause, "request has no command \"cmd\"");
		goto fail;
	}
	if (strlen(json_string_value(c)) != json_string_length(c) ||
	    !bc_ctl_cmd_valid(json_string_value(c))) {
		xasprintf(cause, "invalid command name");
		goto fail;
	}
	if (request_check_bots(j, cause) == -1)
		goto fail;
	*cmd = json_string_value(c);
	return j;
fail:
	json_decref(j);
	return NULL;
}

json_t *
bc_ctl_reply_parse(const char *line, size_t len, char **cause)
{
	json_t *j, *ok, *ev;

	if ((j = msg_parse(line, len, "reply", cause)) == NULL)
		return NULL;
	ok = json_object_get(j, "ok");
	ev = json_object_get(j, "event");
	if (ok != NULL && ev == NULL) {
		if (json_is_true(ok))
			return j;
		if (json_is_false(ok) &&
		    json_is_string(json_object_get(j, "error")))
			return j;
	} else if (ok == NULL && json_is_string(ev))
		return j;
	xasprintf(cause, "malformed reply from botd");
	json_decref(j);
	return NULL;
}

int
bc_ctl_reply_status(const json_t *reply, char **cause)
{
	json_t *ok = json_object_get(reply, "ok");
	const char *err;

	if (json_is_true(ok))
		return 0;
	if (json_is_false(ok) &&
	    (err = json_string_value(json_object_get(reply, "error"))) != NULL)
		xasprintf(cause, "%s", err);
	else
		xasprintf(cause, "malformed reply from botd");
	return -1;
}

/* ------------------------------------------------------------ clients */

const char *
bc_ctl_socket_path(void)
{
	const char *s = getenv(BC_CTL_SOCKET_ENV);

	return s != NULL && *s != '\0' ? s : BC_CTL_SOCKET_DEFAULT;
}

/* A hint for a failed connect(2). */
static const char *
connect_hint(int e)
{
	switch (e) {
	case ENOENT:
	case ECONNREFUSED:
		return " (is botd running?)";
	case EACCES:
	case EPERM:
		return " (is your user in botd's socket group?)";
	default:
		return "";
	}
}

int
bc_ctl_connect(const char *path, char **cause)
{
	struct sockaddr_un sun;
	int fd = -1, fl, e;

	if (path == NULL)
		path = bc_ctl_socket_path();
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (bc_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    (fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		goto fail;
	return fd;
fail:
	e = errno;
	xasprintf(cause, "cannot connect to %s: %s%s", path, strerror(e),
	    connect_hint(e));
	if (fd != -1)
		close(fd);
	errno = e;
	return -1;
}

/* Milliseconds left until deadline (-1: none), at least 0. */
static int
left_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - bc_now_ms();
	if (left < 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Wait for events on fd until the deadline: 1 ready, 0 timeout, -1. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int n;

	for (;;) {
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, left_ms(deadline));
		if (n == -1 && errno == EINTR)
			continue;
		return n;
	}
}

int
bc_ctl_send(int fd, const json_t *msg, int timeout_ms, char **cause)
{
	int64_t deadline = timeout_ms < 0 ? -1 : bc_now_ms() + timeout_ms;
	size_t len, off = 0;
	ssize_t n;
	char *line;

	if ((line = bc_ctl_encode(msg, &len, cause)) == NULL)
		return -1;
	while (off < len) {
		n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((n = wait_fd(fd, POLLOUT, deadline)) > 0)
				continue;
			if (n == 0)
				xasprintf(cause, "timeout sending to botd");
			else
				xasprintf(cause, "poll: %s", strerror(errno));
			goto fail;
		}
		xasprintf(cause, "cannot send to botd: %s", strerror(errno));
		goto fail;
	}
	free(line);
	return 0;
fail:
	free(line);
	return -1;
}

json_t *
bc_ctl_recv(int fd, struct bc_ctl_reader *r, int timeout_ms, char **cause)
{
	int64_t deadline = timeout_ms < 0 ? -1 : bc_now_ms() + timeout_ms;
	char *line;
	size_t len;
	ssize_t n;

	for (;;) {
		switch (bc_ctl_reader_next(r, &line, &len)) {
		case BC_CTL_LINE:
			return bc_ctl_reply_parse(line, len, cause);
		case BC_CTL_OVERSIZE:
			xasprintf(cause, "reply from botd longer than "
			    "%zu bytes", r->max);
			return NULL;
		case BC_CTL_AGAIN:
			break;
		}
		n = bc_ctl_reader_read(r, fd);
		if (n > 0)
			continue;
		if (n == 0) {
			xasprintf(cause, "connection closed by botd");
			return NULL;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			xasprintf(cause, "cannot read from botd: %s",
			    strerror(errno));
			return NULL;
		}
		if ((n = wait_fd(fd, POLLIN, deadline)) > 0)
			continue;
		if (n == 0)
			xasprintf(cause, "timeout waiting for botd");
		else
			xasprintf(cause, "poll: %s", strerror(errno));
		return NULL;
	}
}

json_t *
bc_ctl_call(const char *path, const json_t *req, int timeout_ms,
    char **cause)
{
	struct bc_ctl_reader r;
	json_t *reply = NULL;
	char *why = NULL;
	int fd;

	if ((fd = bc_ctl_connect(path, cause)) == -1)
		return NULL;
	bc_ctl_reader_init(&r, 0);
	if (bc_ctl_send(fd, req, timeout_ms, cause) == 0)
		reply = bc_ctl_recv(fd, &r, timeout_ms, cause);
	else if ((reply = bc_ctl_recv(fd, &r, 1000, &why)) != NULL) {
		/* Refused before we asked ("too many connections"). */
		free(*cause);
		*cause = NULL;
	}
	free(why);
	bc_ctl_reader_release(&r);
	close(fd);
	return reply;
}
