/*
 * The control socket: newline-delimited JSON requests from botctl (and
 * bots) on a UNIX stream socket, one reply per request.
 *
 * Nothing a client does can block the loop or hurt another client: every
 * socket is non-blocking (bufferevents), a request line is capped at
 * BC_CTL_LINE_MAX (longer ones get an error and are discarded up to their
 * newline), a client whose unread replies pass CONTROL_OUT_MAX is
 * dropped, idle clients time out, writes that make no progress time out,
 * and the number of clients is capped per uid and in total.
 *
 * Authorization by SO_PEERCRED: root, botd's own uid and members of
 * socket_group may use every command; anyone else may ask for status
 * when status_public is set, and nothing otherwise.
 *
 * The command table works like tmux's cmd_entry: adding a command is one
 * entry and one exec function. An exec function returns the reply, or
 * NULL when it answers later (--wait: when the bots reach the wanted
 * state, which control_bot_changed() checks on every state change).
 */

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include <botcommon/ctl.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "supervisor.h"

#define CONTROL_OUT_MAX		(1024 * 1024)	/* unread output: drop */
#define CONTROL_FOLLOW_HIGH	(256 * 1024)	/* followers skip lines */
#define CONTROL_IDLE_MS		60000	/* no request for this long: drop */
#define CONTROL_WRITE_SEC	30	/* output stuck this long: drop */
#define CONTROL_PER_UID		16	/* connections per uid */
#define CONTROL_CLIENTS_MAX	128	/* connections in all */
#define CONTROL_BACKLOG		64
#define CONTROL_WAIT_DEFAULT_MS	60000
#define CONTROL_WAIT_MAX_MS	(3600 * 1000)
#define CONTROL_LOGS_DEFAULT	20
#define CONTROL_BATCH		32	/* requests per turn of the loop */
#define CONTROL_MUTE_MAX_S	(30 * 86400)	/* longest mute */

enum control_flags {
	CONTROL_MUTATING = (1 << 0),	/* changes state: privileged only */
	CONTROL_PRIVATE = (1 << 1),	/* may show secrets: privileged only */
	CONTROL_ALL = (1 << 2),		/* takes "all": true for every bot */
	CONTROL_NONE_ALL = (1 << 3),	/* no names: every bot */
};

struct control_client;

struct control_cmd {
	const char	*name;
	const char	*usage;		/* for "usage: NAME USAGE" errors */
	int		 minargs;	/* names in "bots" */
	int		 maxargs;	/* -1: no limit */
	int		 flags;
	json_t		*(*exec)(struct control_client *, json_t *req,
			    struct bot **, size_t);
};

enum wait_goal {
	WAIT_UP,			/* RUNNING */
	WAIT_RESTART,			/* RUNNING, started after t0 */
	WAIT_DOWN,			/* no process left */
};

/* A pending --wait: the names of its bots, checked on every change. */
struct control_wait {
	enum wait_goal	 goal;
	int64_t		 t0;		/* monotonic, before the request */
	int64_t		 timeout_ms;
	char		(*names)[BC_CTL_NAME_MAX + 1];
	size_t		 n;
	struct bc_timer	*timer;
};

struct control_client {
	struct bufferevent *bev;
	uid_t		 uid;
	pid_t		 pid;
	int		 priv;		/* may use every command */
	struct bc_ctl_reader rd;
	int		 cmd;		/* table index of a pending request */
	struct control_wait *wait;	/* reading stops while one is set */
	int		 held;		/* alert-test answers later: same */
	char		 follow[BC_CTL_NAME_MAX + 1];	/* logs -f, or "" */
	uint64_t	 dropped;	/* follow lines skipped */
	int		 closing;	/* close once the output is sent */
	int		 dead;		/* freed by the reaper */
	struct event	*kick;		/* resume reading after a wait */
	struct bc_timer	*idle;		/* no request for CONTROL_IDLE_MS */
	TAILQ_ENTRY(control_client) entry;
};
TAILQ_HEAD(control_clients, control_client);

static json_t	*cmd_status(struct control_client *, json_t *, struct bot **,
		    size_t);
static json_t	*cmd_start(struct control_client *, json_t *, struct bot **,
		    size_t);
static json_t	*cmd_stop(struct control_client *, json_t *, struct bot **,
		    size_t);
static json_t	*cmd_restart(struct control_client *, json_t *,
		    struct bot **, size_t);
static json_t	*cmd_logs(struct control_client *, json_t *, struct bot **,
		    size_t);
static json_t	*cmd_reload(struct control_client *, json_t *, struct bot **,
		    size_t);
static json_t	*cmd_mute(struct control_client *, json_t *, struct bot **,
		    size_t);
static json_t	*cmd_unmute(struct control_client *, json_t *, struct bot **,
		    size_t);
static json_t	*cmd_alert_test(struct control_client *, json_t *,
		    struct bot **, size_t);

static const struct control_cmd control_cmds[] = {
	{ "status", "[BOT...]", 0, -1, CONTROL_ALL | CONTROL_NONE_ALL,
	    cmd_status },
	{ "start", "[--wait] BOT...|all", 1, -1,
	    CONTROL_MUTATING | CONTROL_ALL, cmd_start },
	{ "stop", "[--wait] BOT...|all", 1, -1,
	    CONTROL_MUTATING | CONTROL_ALL, cmd_stop },
	{ "restart", "[--wait] BOT...|all", 1, -1,
	    CONTROL_MUTATING | CONTROL_ALL, cmd_restart },
	{ "logs", "BOT", 1, 1, CONTROL_PRIVATE, cmd_logs },
	{ "reload", "", 0, 0, CONTROL_MUTATING, cmd_reload },
	{ "mute", "BOT...|all DURATION", 1, -1,
	    CONTROL_MUTATING | CONTROL_ALL, cmd_mute },
	{ "unmute", "BOT...|all", 1, -1, CONTROL_MUTATING | CONTROL_ALL,
	    cmd_unmute },
	{ "alert-test", "", 0, 0, CONTROL_MUTATING, cmd_alert_test },
};
#define NCMDS		BC_NELEM(control_cmds)
#define CMD_INVALID	NCMDS		/* unparseable or unknown */
#define CMD_CONNECT	(NCMDS + 1)	/* connections refused */

enum control_result {
	RESULT_OK,
	RESULT_ERROR,
	RESULT_DENIED,
	RESULT_MAX
};
static const char *result_names[RESULT_MAX] = { "ok", "error", "denied" };

static struct {
	int		 fd;
	struct event	*ev;
	struct event	*reaper;
	struct bc_timer	*retry;		/* accept again after EMFILE */
	char		*path;
	dev_t		 dev;		/* of our socket, to unlink only it */
	ino_t		 ino;
	int		 has_group;
	gid_t		 gid;
	char		*group;
	int		 status_public;
	struct control_clients clients;
	size_t		 nclients;
	size_t		 nfollowers;
	uint64_t	 counts[NCMDS + 2][RESULT_MAX];
} C = { .fd = -1 };

static void	client_input(struct control_client *);
static void	client_drop(struct control_client *, const char *why);

/* ------------------------------------------------------------ counters */

void
control_counters(control_count_cb *cb, void *arg)
{
	size_t i, r;
	const char *name;

	for (i = 0; i < NCMDS + 2; i++) {
		if (i < NCMDS)
			name = control_cmds[i].name;
		else
			name = i == CMD_INVALID ? "invalid" : "connect";
		for (r = 0; r < RESULT_MAX; r++)
			cb(name, result_names[r], C.counts[i][r], arg);
	}
}

/* ------------------------------------------------------------ replies */

/* Queue one message for c; drop c when it does not read its replies. */
static void
client_send(struct control_client *c, json_t *msg)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char *line, *cause = NULL;
	size_t len;

	if ((line = bc_ctl_encode(msg, &len, &cause)) == NULL) {
		json_t *err = bc_ctl_reply_error("reply too large: %s", cause);

		free(cause);
		line = bc_ctl_encode(err, &len, &cause);
		json_decref(err);
	}
	bufferevent_write(c->bev, line, len);
	free(line);
	if (evbuffer_get_length(out) > CONTROL_OUT_MAX)
		client_drop(c, "too many unread replies");
}

/* Count and send the reply to c's request cmd; takes the reference. */
static void
client_reply(struct control_client *c, size_t cmd, json_t *reply)
{
	const char *err;
	int r = RESULT_OK;

	if (!json_is_true(json_object_get(reply, "ok"))) {
		err = json_string_value(json_object_get(reply, "error"));
		r = err != NULL && strncmp(err, "permission denied", 17) == 0 ?
		    RESULT_DENIED : RESULT_ERROR;
	}
	C.counts[cmd][r]++;
	if (!c->dead)
		client_send(c, reply);
	json_decref(reply);
}

/* ------------------------------------------------------------ clients */

/* Free c and everything it holds. */
static void
client_free(struct control_client *c)
{
	TAILQ_REMOVE(&C.clients, c, entry);
	C.nclients--;
	if (c->follow[0] != '\0' && !c->dead)
		C.nfollowers--;
	if (c->held)
		alert_test_forget(c);
	if (c->wait != NULL) {
		bc_timer_free(c->wait->timer);
		free(c->wait->names);
		free(c->wait);
	}
	if (c->kick != NULL)
		event_free(c->kick);
	bc_timer_free(c->idle);
	bufferevent_free(c->bev);
	bc_ctl_reader_release(&c->rd);
	free(c);
}

/* Free the clients marked dead (from the loop, never inside a call that
 * may still use them). */
static void
control_reap(evutil_socket_t fd, short what, void *arg)
{
	struct control_client *c, *next;

	(void)fd;
	(void)what;
	(void)arg;
	for (c = TAILQ_FIRST(&C.clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->dead)
			client_free(c);
	}
}

/* Stop serving c; it is freed from the loop. */
static void
client_drop(struct control_client *c, const char *why)
{
	if (c->dead)
		return;
	if (why != NULL)
		log_info("control: dropping client uid %u pid %d: %s",
		    (unsigned)c->uid, (int)c->pid, why);
	c->dead = 1;
	if (c->follow[0] != '\0')
		C.nfollowers--;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(C.reaper, EV_TIMEOUT, 0);
}

/* After the client's EOF: drop it once everything it sent is answered
 * and the answers are out. */
static void
client_maybe_close(struct control_client *c)
{
	if (c->dead || !c->closing || c->wait != NULL || c->held ||
	    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0 ||
	    bc_ctl_reader_pending(&c->rd) > 0 ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;
	client_drop(c, NULL);
}

/* The wait of c is over: reply, then read the next request. */
static void
client_wait_done(struct control_client *c, json_t *reply)
{
	struct control_wait *w = c->wait;

	c->wait = NULL;
	bc_timer_free(w->timer);
	free(w->names);
	free(w);
	client_reply(c, (size_t)c->cmd, reply);
	/* Not from here: we may be inside a state change of the core. */
	if (!c->dead)
		event_active(c->kick, EV_READ, 0);
}

static void
client_kick(evutil_socket_t fd, short what, void *arg)
{
	struct control_client *c = arg;

	(void)fd;
	(void)what;
	if (c->dead || c->wait != NULL || c->held)
		return;
	bc_timer_start(c->idle, CONTROL_IDLE_MS);
	if (!c->closing)
		bufferevent_enable(c->bev, EV_READ);
	client_input(c);
	client_maybe_close(c);
}

/* No request for a while (not waiting, not following): drop it. */
static void
client_idle(void *arg)
{
	struct control_client *c = arg;

	if (!c->dead && c->wait == NULL && !c->held && c->follow[0] == '\0')
		client_drop(c, "idle");
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	client_input(arg);
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct control_client *c = arg;
	json_t *ev;

	(void)bev;
	if (c->dead)
		return;
	if (c->closing) {
		client_maybe_close(c);
		return;
	}
	if (c->follow[0] != '\0' && c->dropped > 0) {
		ev = bc_ctl_event_new("dropped");
		json_object_set_new(ev, "lines", json_integer(
		    (json_int_t)c->dropped));
		c->dropped = 0;
		client_send(c, ev);
		json_decref(ev);
	}
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct control_client *c = arg;

	(void)bev;
	if (c->dead)
		return;
	if (what & BEV_EVENT_TIMEOUT) {
		/* A stuck follower only loses lines (counted). */
		if (c->follow[0] != '\0') {
			bufferevent_enable(c->bev, EV_WRITE);
			return;
		}
		client_drop(c, "not reading its replies");
		return;
	}
	if ((what & BEV_EVENT_ERROR) || c->follow[0] != '\0') {
		client_drop(c, NULL);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* The client is done sending: answer what it sent. */
		c->closing = 1;
		client_input(c);
		client_maybe_close(c);
	}
}

/* 1 if the peer may use every command. */
static int
client_privileged(int fd, const struct ucred *cr)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	size_t i;
	int rc = 0;

	if (cr->uid == 0 || cr->uid == geteuid())
		return 1;
	if (!C.has_group)
		return 0;
	if (cr->gid == C.gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1) {
		if (errno != ERANGE || len == 0)
			return 0;
		groups = xmalloc(len);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups,
		    &len) == -1)
			goto out;
	}
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == C.gid)
			rc = 1;
out:
	if (groups != small)
		free(groups);
	return rc;
}

/* Refuse a connection with one error line; closes fd. */
static void
control_refuse(int fd, const char *why)
{
	json_t *r = bc_ctl_reply_error("%s", why);
	char *line, *cause = NULL;
	size_t len;

	C.counts[CMD_CONNECT][RESULT_DENIED]++;
	if ((line = bc_ctl_encode(r, &len, &cause)) != NULL &&
	    send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
		log_debug("control: refusing a client: %s", strerror(errno));
	free(line);
	free(cause);
	json_decref(r);
	close(fd);
}

/* Serve a new connection fd from the peer cr. */
static void
client_new(int fd, const struct ucred *cr)
{
	struct timeval wr = { CONTROL_WRITE_SEC, 0 };
	struct control_client *c;
	size_t n = 0;

	for (c = TAILQ_FIRST(&C.clients); c != NULL; c = TAILQ_NEXT(c, entry))
		if (c->uid == cr->uid && !c->dead)
			n++;
	if (n >= CONTROL_PER_UID || C.nclients >= CONTROL_CLIENTS_MAX) {
		log_warnx("control: refusing a client of uid %u: too many "
		    "connections", (unsigned)cr->uid);
		control_refuse(fd, "too many connections");
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->uid = cr->uid;
	c->pid = cr->pid;
	c->priv = client_privileged(fd, cr);
	bc_ctl_reader_init(&c->rd, 0);
	c->bev = bufferevent_socket_new(bc_ev_base(), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	c->kick = event_new(bc_ev_base(), -1, 0, client_kick, c);
	c->idle = bc_timer_new(client_idle, c);
	if (c->bev == NULL || c->kick == NULL || c->idle == NULL)
		fatalx("control: out of memory for a client");
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	/* Output that makes no progress for this long: the write event's
	 * timeout. Idle input: our own timer (never a read timeout). */
	bufferevent_set_timeouts(c->bev, NULL, &wr);
	bc_timer_start(c->idle, CONTROL_IDLE_MS);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&C.clients, c, entry);
	C.nclients++;
	log_debug("control: client uid %u pid %d%s", (unsigned)c->uid,
	    (int)c->pid, c->priv ? "" : " (status only)");
}

static void
control_retry(void *arg)
{
	(void)arg;
	if (C.ev != NULL)
		event_add(C.ev, NULL);
}

static void
control_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct ucred cr;
	socklen_t len;
	int fd;

	(void)what;
	(void)arg;
	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				log_warn("control: accept");
				/* Level-triggered: pause, or spin. */
				event_del(C.ev);
				bc_timer_start(C.retry, 1000);
			}
			return;
		}
		len = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1) {
			log_warn("control: SO_PEERCRED");
			close(fd);
			continue;
		}
		client_new(fd, &cr);
	}
}

/* ------------------------------------------------------------ requests */

static const struct control_cmd *
cmd_find(const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(control_cmds[i].name, name) == 0) {
			*idx = i;
			return &control_cmds[i];
		}
	return NULL;
}

/*
 * The bots a request names: every bot when all is set, else its "bots"
 * list (duplicates once). *list is an array the caller frees; the bots
 * are borrowed for the request. 0, or -1 with *cause.
 */
static int
request_bots(const json_t *req, int all, struct bot ***list, size_t *n,
    char **cause)
{
	json_t *names = json_object_get(req, "bots"), *v;
	struct bot *b, **l;
	size_t i, j, k = 0, max = json_array_size(names);

	for (b = TAILQ_FIRST(&bots); all && b != NULL; b = TAILQ_NEXT(b, entry))
		max++;
	l = xreallocarray(NULL, max + 1, sizeof(*l));
	for (b = TAILQ_FIRST(&bots); all && b != NULL; b = TAILQ_NEXT(b, entry))
		l[k++] = b;
	for (i = 0; !all && i < json_array_size(names); i++) {
		v = json_array_get(names, i);
		if ((b = bots_find(json_string_value(v))) == NULL) {
			xasprintf(cause, "unknown bot: %s",
			    json_string_value(v));
			free(l);
			return -1;
		}
		for (j = 0; j < k && l[j] != b; j++)
			;
		if (j == k)
			l[k++] = b;
	}
	*list = l;
	*n = k;
	return 0;
}

/* Check what the command takes; 0, or -1 with *cause. */
static int
request_check(const struct control_cmd *cmd, const json_t *req, int *all,
    char **cause)
{
	json_t *a = json_object_get(req, "all");
	size_t n = json_array_size(json_object_get(req, "bots"));

	*all = 0;
	if (a != NULL && !json_is_boolean(a)) {
		xasprintf(cause, "\"all\" must be true or false");
		return -1;
	}
	if (a != NULL && !(cmd->flags & CONTROL_ALL)) {
		xasprintf(cause, "%s does not take \"all\"", cmd->name);
		return -1;
	}
	*all = json_is_true(a);
	if (*all && n > 0) {
		xasprintf(cause, "give bot names or \"all\", not both");
		return -1;
	}
	if (n == 0 && (cmd->flags & CONTROL_NONE_ALL))
		*all = 1;
	if (!*all && ((int)n < cmd->minargs ||
	    (cmd->maxargs >= 0 && (int)n > cmd->maxargs))) {
		xasprintf(cause, "usage: %s%s%s", cmd->name,
		    *cmd->usage != '\0' ? " " : "", cmd->usage);
		return -1;
	}
	return 0;
}

/* May c use cmd? 0, or -1 with *cause. */
static int
request_allowed(const struct control_client *c,
    const struct control_cmd *cmd, char **cause)
{
	if (c->priv)
		return 0;
	if (C.status_public && !(cmd->flags & (CONTROL_MUTATING |
	    CONTROL_PRIVATE)))
		return 0;
	xasprintf(cause, "permission denied: uid %u is not root nor in "
	    "group %s%s", (unsigned)c->uid, C.group != NULL ? C.group : "-",
	    C.status_public ? " (status only)" : "");
	return -1;
}

/* One request line from c. */
static void
client_request(struct control_client *c, const char *line, size_t len)
{
	const struct control_cmd *cmd;
	const char *name;
	struct bot **list = NULL;
	char *cause = NULL;
	json_t *req, *reply;
	size_t idx = CMD_INVALID, n = 0;
	int all = 0;

	bc_timer_start(c->idle, CONTROL_IDLE_MS);
	if ((req = bc_ctl_request_parse(line, len, &name, &cause)) == NULL) {
		client_reply(c, CMD_INVALID, bc_ctl_reply_error("%s", cause));
		free(cause);
		return;
	}
	if ((cmd = cmd_find(name, &idx)) == NULL)
		xasprintf(&cause, "unknown command: %s", name);
	else if (request_allowed(c, cmd, &cause) == 0 &&
	    request_check(cmd, req, &all, &cause) == 0)
		request_bots(req, all, &list, &n, &cause);
	if (cause != NULL) {
		client_reply(c, idx, bc_ctl_reply_error("%s", cause));
		free(cause);
		json_decref(req);
		return;
	}
	c->cmd = (int)idx;
	if ((reply = cmd->exec(c, req, list, n)) != NULL)
		client_reply(c, idx, reply);
	free(list);
	json_decref(req);
}

/*
 * Read and answer what c sent, while it is not waiting; at most
 * CONTROL_BATCH requests, then the rest on a later turn of the loop, so
 * that one client's pile of requests does not starve the others.
 */
static void
client_input(struct control_client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_iovec v;
	char *line;
	size_t len, n;
	int batch = 0;

	for (;;) {
		if (c->dead || c->wait != NULL || c->held)
			return;
		if (c->follow[0] != '\0') {
			evbuffer_drain(in, evbuffer_get_length(in));
			return;
		}
		if (batch == CONTROL_BATCH) {
			event_active(c->kick, EV_READ, 0);
			return;
		}
		switch (bc_ctl_reader_next(&c->rd, &line, &len)) {
		case BC_CTL_LINE:
			batch++;
			client_request(c, line, len);
			continue;
		case BC_CTL_OVERSIZE:
			client_reply(c, CMD_INVALID, bc_ctl_reply_error(
			    "request line too long (limit %d bytes)",
			    BC_CTL_LINE_MAX));
			continue;
		case BC_CTL_AGAIN:
			break;
		}
		if (evbuffer_get_length(in) == 0 ||
		    evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		if ((n = bc_ctl_reader_feed(&c->rd, v.iov_base,
		    v.iov_len)) == 0)
			break;	/* NOTREACHED: next() made room */
		evbuffer_drain(in, n);
	}
	if (c->closing && evbuffer_get_length(in) == 0 &&
	    bc_ctl_reader_pending(&c->rd) > 0) {
		bc_ctl_reader_release(&c->rd);
		client_reply(c, CMD_INVALID, bc_ctl_reply_error("incomplete "
		    "request at end of input (no newline)"));
	}
}

/* ------------------------------------------------------------ commands */

/* {"ok":true,"bots":[status...]} for the bots. */
static json_t *
reply_bots(json_t *reply, struct bot **list, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, bot_status_json(list[i]));
	json_object_set_new(reply, "bots", a);
	return reply;
}

static json_t *
cmd_status(struct control_client *c, json_t *req, struct bot **list,
    size_t n)
{
	(void)c;
	(void)req;
	return reply_bots(bc_ctl_reply_ok(), list, n);
}

/* Where bot name stands for the wait: 1 done, 0 pending, -1 failed
 * (*why says how). */
static int
wait_state(const struct control_wait *w, const char *name, char **why)
{
	struct bot *b = bots_find(name);

	if (b == NULL) {
		xasprintf(why, "%s was removed by a reload", name);
		return -1;
	}
	if (w->goal == WAIT_DOWN) {
		if (b->want == WANT_UP) {
			xasprintf(why, "%s was started again", name);
			return -1;
		}
		return bot_is_down(b) && b->state != STATE_STOPPING;
	}
	if (b->want != WANT_UP) {
		xasprintf(why, "%s was stopped", name);
		return -1;
	}
	if (b->state == STATE_RUNNING && (w->goal == WAIT_UP ||
	    b->started_ms >= w->t0))
		return 1;
	if (b->state == STATE_FATAL && b->state_since >= w->t0) {
		xasprintf(why, "%s is FATAL%s%s", name,
		    b->fatal_reason[0] != '\0' ? ": " : "", b->fatal_reason);
		return -1;
	}
	if (b->state == STATE_EXITED && b->state_since >= w->t0) {
		if (b->exit_signal)
			xasprintf(why, "%s is EXITED (signal %s)", name,
			    config_signame(b->last_code));
		else
			xasprintf(why, "%s is EXITED (code %d)", name,
			    b->last_code);
		return -1;
	}
	return 0;
}

/* The statuses of the wait's bots that still exist. */
static json_t *
wait_bots(const struct control_wait *w, json_t *reply)
{
	json_t *a = json_array();
	struct bot *b;
	size_t i;

	for (i = 0; i < w->n; i++)
		if ((b = bots_find(w->names[i])) != NULL)
			json_array_append_new(a, bot_status_json(b));
	json_object_set_new(reply, "bots", a);
	return reply;
}

/* Check c's wait; answer when it is over (timeout: on the deadline). */
static void
wait_check(struct control_client *c, int timeout)
{
	struct control_wait *w = c->wait;
	char *why = NULL, *pending = NULL, *t;
	size_t i, npend = 0;
	int rc;

	for (i = 0; i < w->n; i++) {
		if ((rc = wait_state(w, w->names[i], &why)) == -1)
			break;
		if (rc == 1 || !timeout)
			continue;
		xasprintf(&t, "%s%s%s is %s", pending != NULL ? pending : "",
		    npend++ > 0 ? ", " : "", w->names[i],
		    state_name(bots_find(w->names[i])->state));
		free(pending);
		pending = t;
	}
	if (why == NULL && pending != NULL)
		xasprintf(&why, "timeout after %.1f s: %s",
		    (double)w->timeout_ms / 1000, pending);
	free(pending);
	if (why != NULL) {
		client_wait_done(c, wait_bots(w, bc_ctl_reply_error("%s",
		    why)));
		free(why);
		return;
	}
	for (i = 0; i < w->n; i++)
		if (wait_state(w, w->names[i], &why) != 1)
			return;
	client_wait_done(c, wait_bots(w, bc_ctl_reply_ok()));
}

static void
wait_timeout(void *arg)
{
	wait_check(arg, 1);
}

/*
 * Make c wait for the bots to reach goal: stop reading its requests and
 * answer from wait_check(). Returns NULL (answered later), or an error
 * reply for a bad "timeout".
 */
static json_t *
wait_start(struct control_client *c, json_t *req, enum wait_goal goal,
    int64_t t0, struct bot **list, size_t n)
{
	json_t *t = json_object_get(req, "timeout");
	struct control_wait *w;
	double secs = CONTROL_WAIT_DEFAULT_MS / 1000.0;
	size_t i;

	if (t != NULL && (!json_is_number(t) || json_number_value(t) <= 0 ||
	    json_number_value(t) > CONTROL_WAIT_MAX_MS / 1000))
		return bc_ctl_reply_error("\"timeout\" must be seconds, "
		    "more than 0 and at most %d", CONTROL_WAIT_MAX_MS / 1000);
	if (t != NULL)
		secs = json_number_value(t);
	w = xcalloc(1, sizeof(*w));
	w->goal = goal;
	w->t0 = t0;
	w->timeout_ms = (int64_t)(secs * 1000);
	w->names = xreallocarray(NULL, n + 1, sizeof(*w->names));
	for (i = 0; i < n; i++)
		bc_strlcpy(w->names[i], list[i]->conf->name,
		    sizeof(w->names[i]));
	w->n = n;
	w->timer = bc_timer_new(wait_timeout, c);
	bc_timer_start(w->timer, w->timeout_ms);
	c->wait = w;
	/* The reply comes later: read nothing more until then. */
	bufferevent_disable(c->bev, EV_READ);
	bc_timer_stop(c->idle);
	wait_check(c, 0);
	return NULL;
}

/* start, stop, restart: act on each bot, then answer or wait. */
static json_t *
cmd_change(struct control_client *c, json_t *req, struct bot **list,
    size_t n, enum wait_goal goal)
{
	int64_t t0 = bc_now_ms();
	json_t *w = json_object_get(req, "wait");
	size_t i;

	if (w != NULL && !json_is_boolean(w))
		return bc_ctl_reply_error("\"wait\" must be true or false");
	child_batch_begin();	/* one /proc scan for all the stops */
	for (i = 0; i < n; i++) {
		log_info("control: %s %s (uid %u)", goal == WAIT_UP ? "start" :
		    goal == WAIT_DOWN ? "stop" : "restart", list[i]->conf->name,
		    (unsigned)c->uid);
		if (goal == WAIT_UP)
			bot_want_up(list[i]);
		else if (goal == WAIT_DOWN)
			bot_want_down(list[i]);
		else
			bot_restart(list[i]);
	}
	child_batch_end();
	if (json_is_true(w))
		return wait_start(c, req, goal, t0, list, n);
	return reply_bots(bc_ctl_reply_ok(), list, n);
}

static json_t *
cmd_start(struct control_client *c, json_t *req, struct bot **list,
    size_t n)
{
	return cmd_change(c, req, list, n, WAIT_UP);
}

static json_t *
cmd_stop(struct control_client *c, json_t *req, struct bot **list,
    size_t n)
{
	return cmd_change(c, req, list, n, WAIT_DOWN);
}

static json_t *
cmd_restart(struct control_client *c, json_t *req, struct bot **list,
    size_t n)
{
	return cmd_change(c, req, list, n, WAIT_RESTART);
}

/* Keep the newest lines of tail whose encoding fits in a reply. */
static void
logs_fit(json_t *tail, size_t *omitted)
{
	size_t i, total = 512, sz;
	char *s;

	*omitted = 0;
	for (i = json_array_size(tail); i > 0; i--) {
		s = json_dumps(json_array_get(tail, i - 1), JSON_ENCODE_ANY);
		sz = s != NULL ? strlen(s) + 1 : BC_CTL_LINE_MAX;
		free(s);
		if (total + sz > BC_CTL_LINE_MAX)
			break;
		total += sz;
	}
	for (*omitted = i; i > 0; i--)
		json_array_remove(tail, 0);
}

static json_t *
cmd_logs(struct control_client *c, json_t *req, struct bot **list,
    size_t n)
{
	json_t *jn = json_object_get(req, "lines"), *f, *tail, *reply;
	json_int_t lines = CONTROL_LOGS_DEFAULT;
	size_t omitted;

	(void)n;
	f = json_object_get(req, "follow");
	if ((jn != NULL && !json_is_integer(jn)) ||
	    (f != NULL && !json_is_boolean(f)))
		return bc_ctl_reply_error("usage: logs BOT, \"lines\" a "
		    "number, \"follow\" true or false");
	if (jn != NULL)
		lines = json_integer_value(jn);
	if (lines < 0)
		lines = 0;
	if (lines > BOTD_TAIL_LINES)
		lines = BOTD_TAIL_LINES;
	tail = list[0]->log != NULL ? logs_tail(list[0]->log, (size_t)lines) :
	    json_array();
	logs_fit(tail, &omitted);
	reply = bc_ctl_reply_ok();
	json_object_set_new(reply, "bot", json_string(list[0]->conf->name));
	json_object_set_new(reply, "lines", tail);
	if (omitted > 0)
		json_object_set_new(reply, "omitted", json_integer(
		    (json_int_t)omitted));
	if (json_is_true(f)) {
		bc_strlcpy(c->follow, list[0]->conf->name, sizeof(c->follow));
		C.nfollowers++;
		/* Followers only listen: no idle timeout. */
		bc_timer_stop(c->idle);
	}
	return reply;
}

static json_t *
cmd_reload(struct control_client *c, json_t *req, struct bot **list,
    size_t n)
{
	char *cause = NULL;
	json_t *reply;

	(void)req;
	(void)list;
	(void)n;
	log_info("control: reload (uid %u)", (unsigned)c->uid);
	if (botd_reload(&cause) == 0)
		return bc_ctl_reply_ok();
	reply = bc_ctl_reply_error("reload failed: %s", cause);
	free(cause);
	return reply;
}

/* mute, unmute: {"bots":[{"name","muted_until","suppressed"}]}. */
static json_t *
mute_reply(struct bot **list, size_t n, int64_t ms)
{
	json_t *reply = bc_ctl_reply_ok(), *a = json_array(), *o;
	uint64_t sup;
	int64_t until;
	size_t i;

	for (i = 0; i < n; i++) {
		until = alert_mute(list[i]->conf->name, ms, &sup);
		o = json_object();
		json_object_set_new(o, "name", json_string(
		    list[i]->conf->name));
		json_object_set_new(o, "muted_until", until > 0 ?
		    json_integer(until / 1000) : json_null());
		json_object_set_new(o, "suppressed", json_integer(
		    (json_int_t)sup));
		json_array_append_new(a, o);
	}
	json_object_set_new(reply, "bots", a);
	return reply;
}

static json_t *
cmd_mute(struct control_client *c, json_t *req, struct bot **list,
    size_t n)
{
	json_t *s = json_object_get(req, "seconds");
	size_t i;

	if (!json_is_number(s) || json_number_value(s) < 1 ||
	    json_number_value(s) > CONTROL_MUTE_MAX_S)
		return bc_ctl_reply_error("\"seconds\" must be a number from "
		    "1 to %d", CONTROL_MUTE_MAX_S);
	for (i = 0; i < n; i++)
		log_info("control: mute %s for %.0f s (uid %u)",
		    list[i]->conf->name, json_number_value(s),
		    (unsigned)c->uid);
	return mute_reply(list, n, (int64_t)(json_number_value(s) * 1000));
}

static json_t *
cmd_unmute(struct control_client *c, json_t *req, struct bot **list,
    size_t n)
{
	size_t i;

	(void)req;
	for (i = 0; i < n; i++)
		log_info("control: unmute %s (uid %u)", list[i]->conf->name,
		    (unsigned)c->uid);
	return mute_reply(list, n, 0);
}

/* The answer of alert-test: reply, then read the next request. */
static void
alert_test_done(void *arg, json_t *reply)
{
	struct control_client *c = arg;

	c->held = 0;
	client_reply(c, (size_t)c->cmd, reply);
	if (!c->dead)
		event_active(c->kick, EV_READ, 0);
}

static json_t *
cmd_alert_test(struct control_client *c, json_t *req, struct bot **list,
    size_t n)
{
	char *cause = NULL;
	json_t *reply;

	(void)req;
	(void)list;
	(void)n;
	log_info("control: alert-test (uid %u)", (unsigned)c->uid);
	if (alert_test(alert_test_done, c, &cause) == -1) {
		reply = bc_ctl_reply_error("%s", cause);
		free(cause);
		return reply;
	}
	c->held = 1;
	bufferevent_disable(c->bev, EV_READ);
	bc_timer_stop(c->idle);
	return NULL;
}

/* ------------------------------------------------------------ events */

void
control_bot_changed(struct bot *b)
{
	struct control_client *c;
	size_t i;

	for (c = TAILQ_FIRST(&C.clients); c != NULL;
	    c = TAILQ_NEXT(c, entry)) {
		if (c->dead || c->wait == NULL)
			continue;
		for (i = 0; i < c->wait->n; i++)
			if (strcmp(c->wait->names[i], b->conf->name) == 0)
				break;
		if (i < c->wait->n)
			wait_check(c, 0);
	}
}

void
control_log_line(struct bot *b, const char *line, size_t len)
{
	struct control_client *c;
	json_t *ev = NULL;

	if (C.nfollowers == 0)
		return;
	for (c = TAILQ_FIRST(&C.clients); c != NULL;
	    c = TAILQ_NEXT(c, entry)) {
		if (c->dead || strcmp(c->follow, b->conf->name) != 0)
			continue;
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
		    CONTROL_FOLLOW_HIGH) {
			c->dropped++;
			continue;
		}
		if (ev == NULL) {
			ev = bc_ctl_event_new("log");
			json_object_set_new(ev, "bot",
			    json_string(b->conf->name));
			json_object_set_new(ev, "line", bc_ctl_string(line,
			    len));
		}
		client_send(c, ev);
	}
	json_decref(ev);
}

/* ------------------------------------------------------------ socket */

/*
 * Make room for our socket at path: refuse when a live botd answers
 * there, remove a stale socket, refuse to remove anything else.
 */
static int
control_clear(const char *path, char **cause)
{
	struct stat st;
	char *err = NULL;
	int fd;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		xasprintf(cause, "%s exists and is not a socket", path);
		return -1;
	}
	if ((fd = bc_ctl_connect(path, &err)) != -1) {
		close(fd);
		xasprintf(cause, "another botd is running: %s answers", path);
		return -1;
	}
	free(err);
	if (errno != ECONNREFUSED) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		xasprintf(cause, "cannot remove stale socket %s: %s", path,
		    strerror(errno));
		return -1;
	}
	log_info("control: removed stale socket %s", path);
	return 0;
}

/* Create the socket's directory (its last component only), 0755. */
static int
control_mkdir(const char *path)
{
	char *dir = xstrdup(path), *slash;
	int rc = -1;

	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		rc = mkdir(dir, 0755) == -1 ? -1 : chmod(dir, 0755);
	}
	free(dir);
	return rc;
}

/* Bind and listen on path, mode 0660 (0666 for public status). */
static int
control_bind(const char *path, char **cause)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (bc_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		xasprintf(cause, "socket path too long: %s", path);
		return -1;
	}
	C.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (C.fd == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0117);
	rc = bind(C.fd, (struct sockaddr *)&sun, sizeof(sun));
	if (rc == -1 && errno == ENOENT && control_mkdir(path) == 0)
		rc = bind(C.fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1 || listen(C.fd, CONTROL_BACKLOG) == -1 ||
	    chmod(path, C.status_public ? 0666 : 0660) == -1 ||
	    (C.has_group && chown(path, (uid_t)-1, C.gid) == -1) ||
	    stat(path, &st) == -1) {
		xasprintf(cause, "cannot listen on %s: %s", path,
		    strerror(errno));
		return -1;
	}
	C.dev = st.st_dev;
	C.ino = st.st_ino;
	return 0;
}

/* Resolve socket_group. */
static int
control_group(const char *name, char **cause)
{
	struct group *gr;

	C.has_group = 0;
	if (name == NULL || *name == '\0')
		return 0;
	errno = 0;
	if ((gr = getgrnam(name)) == NULL) {
		xasprintf(cause, "socket_group %s: %s", name, errno != 0 ?
		    strerror(errno) : "no such group");
		return -1;
	}
	C.gid = gr->gr_gid;
	C.has_group = 1;
	return 0;
}

int
control_listen(const struct botd_conf *conf, char **cause)
{
	if (C.fd != -1) {
		xasprintf(cause, "control socket already open");
		return -1;
	}
	if (conf->socket == NULL || *conf->socket == '\0') {
		xasprintf(cause, "no control socket configured");
		return -1;
	}
	TAILQ_INIT(&C.clients);
	C.status_public = conf->status_public;
	if (control_group(conf->socket_group, cause) == -1 ||
	    control_clear(conf->socket, cause) == -1 ||
	    control_bind(conf->socket, cause) == -1)
		goto fail;
	C.path = xstrdup(conf->socket);
	C.group = conf->socket_group != NULL ? xstrdup(conf->socket_group) :
	    NULL;
	C.ev = event_new(bc_ev_base(), C.fd, EV_READ | EV_PERSIST,
	    control_accept, NULL);
	C.reaper = event_new(bc_ev_base(), -1, 0, control_reap, NULL);
	C.retry = bc_timer_new(control_retry, NULL);
	if (C.ev == NULL || C.reaper == NULL || event_add(C.ev, NULL) == -1) {
		xasprintf(cause, "cannot watch the control socket");
		control_close();
		return -1;
	}
	log_info("control: listening on %s", C.path);
	return 0;
fail:
	if (C.fd != -1) {
		close(C.fd);
		C.fd = -1;
	}
	return -1;
}

void
control_close(void)
{
	struct control_client *c;
	struct stat st;

	while ((c = TAILQ_FIRST(&C.clients)) != NULL)
		client_free(c);
	C.nfollowers = 0;
	if (C.ev != NULL)
		event_free(C.ev);
	if (C.reaper != NULL)
		event_free(C.reaper);
	bc_timer_free(C.retry);
	C.ev = C.reaper = NULL;
	C.retry = NULL;
	if (C.fd != -1) {
		close(C.fd);
		C.fd = -1;
		/* Only our own socket: never one a newer botd made. */
		if (stat(C.path, &st) == 0 && st.st_dev == C.dev &&
		    st.st_ino == C.ino)
			unlink(C.path);
	}
	free(C.path);
	free(C.group);
	C.path = C.group = NULL;
}
