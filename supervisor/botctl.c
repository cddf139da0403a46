/*
 * botctl: the command-line client of botd's control socket (as smtpctl
 * and ntpctl are of their daemons).
 *
 *   botctl [-s SOCKET] status [--json] [BOT...]
 *   botctl [-s SOCKET] start|stop|restart [--wait] [--timeout SEC] BOT...|all
 *   botctl [-s SOCKET] logs [-n N] [-f] BOT
 *   botctl [-s SOCKET] reload
 *   botctl [-s SOCKET] mute BOT...|all DURATION   (30m, 2h, 1d12h, 90s)
 *   botctl [-s SOCKET] unmute BOT...|all
 *   botctl [-s SOCKET] alert-test
 *
 * mute: no Telegram alerts about the bots for DURATION (at most 30 days;
 * kept in memory: a restart of botd forgets it); unmute ends it early and
 * says how many alerts the mute suppressed. alert-test sends a test
 * message to every admin chat of [botd] alert_chat_ids and prints
 * Telegram's answer for each: exit 0 only if every chat accepted it.
 *
 * Exit codes: 0 done (status: every listed bot RUNNING), 1 an error
 * (cannot connect, permission denied, botd refused or timed out), 2 a
 * usage error, 3 status: some listed bot is not RUNNING.
 *
 * The commands come from one table (tmux's cmd_entry): a new command that
 * only sends its arguments and reports the result is one entry using
 * exec_simple.
 */

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <botcommon/ctl.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#define EXIT_ERROR		1
#define EXIT_USAGE		2
#define EXIT_NOTRUNNING		3

#define REPLY_TIMEOUT_MS	30000	/* botd answers at once */
#define WAIT_DEFAULT_SEC	60.0	/* botd's default --timeout */
#define WAIT_MAX_SEC		3600.0
#define WAIT_SLACK_MS		10000	/* beyond --timeout: botd is stuck */
#define LOGS_DEFAULT		20

enum botctl_flags {
	F_JSON = (1 << 0),		/* --json */
	F_WAIT = (1 << 1),		/* --wait, --timeout SEC */
	F_LOGS = (1 << 2),		/* -n N, -f */
	F_ALL = (1 << 3),		/* "all" for every bot */
	F_NAMES = (1 << 4),		/* the arguments are bot names */
	F_DURATION = (1 << 5),		/* the last argument is a duration */
};

#define MUTE_MAX_SEC		(30 * 86400)

struct botctl_opts {
	int		 json;
	int		 wait;
	double		 timeout;	/* seconds; 0: botd's default */
	long		 lines;
	int		 follow;
};

struct botctl_cmd {
	const char	*name;
	const char	*usage;
	int		 minargs;
	int		 maxargs;	/* -1: no limit */
	int		 flags;
	int		 (*exec)(const struct botctl_cmd *, json_t *req,
			    const struct botctl_opts *);
};

static int	exec_status(const struct botctl_cmd *, json_t *,
		    const struct botctl_opts *);
static int	exec_simple(const struct botctl_cmd *, json_t *,
		    const struct botctl_opts *);
static int	exec_logs(const struct botctl_cmd *, json_t *,
		    const struct botctl_opts *);
static int	exec_mute(const struct botctl_cmd *, json_t *,
		    const struct botctl_opts *);
static int	exec_alert_test(const struct botctl_cmd *, json_t *,
		    const struct botctl_opts *);

static const struct botctl_cmd botctl_cmds[] = {
	{ "status", "[--json] [BOT...]", 0, -1, F_JSON | F_NAMES,
	    exec_status },
	{ "start", "[--wait] [--timeout SEC] BOT...|all", 1, -1,
	    F_WAIT | F_ALL | F_NAMES, exec_simple },
	{ "stop", "[--wait] [--timeout SEC] BOT...|all", 1, -1,
	    F_WAIT | F_ALL | F_NAMES, exec_simple },
	{ "restart", "[--wait] [--timeout SEC] BOT...|all", 1, -1,
	    F_WAIT | F_ALL | F_NAMES, exec_simple },
	{ "logs", "[-n N] [-f] BOT", 1, 1, F_LOGS | F_NAMES, exec_logs },
	{ "reload", "", 0, 0, 0, exec_simple },
	{ "mute", "BOT...|all DURATION", 2, -1, F_ALL | F_NAMES | F_DURATION,
	    exec_mute },
	{ "unmute", "BOT...|all", 1, -1, F_ALL | F_NAMES, exec_mute },
	{ "alert-test", "", 0, 0, 0, exec_alert_test },
};

static const char *socket_path;
static int fd = -1;
static struct bc_ctl_reader rd = BC_CTL_READER_ZERO;

static void __attribute__((noreturn))
usage(FILE *f, int code)
{
	size_t i;

	fprintf(f, "usage: botctl [-s SOCKET] COMMAND [ARGS]\n");
	for (i = 0; i < BC_NELEM(botctl_cmds); i++)
		fprintf(f, "       botctl [-s SOCKET] %s%s%s\n",
		    botctl_cmds[i].name, *botctl_cmds[i].usage != '\0' ?
		    " " : "", botctl_cmds[i].usage);
	fprintf(f, "The socket is $%s, else %s.\n", BC_CTL_SOCKET_ENV,
	    BC_CTL_SOCKET_DEFAULT);
	exit(code);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
usage_error(const struct botctl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	if (cmd != NULL)
		fprintf(stderr, "usage: botctl %s%s%s\n", cmd->name,
		    *cmd->usage != '\0' ? " " : "", cmd->usage);
	exit(EXIT_USAGE);
}

/* ------------------------------------------------------------ talking */

/* Connect, send req, and return botd's reply (exits on failure). */
static json_t *
call(json_t *req, int timeout_ms)
{
	char *cause = NULL, *why = NULL;
	json_t *reply;

	if ((fd = bc_ctl_connect(socket_path, &cause)) == -1)
		errx(EXIT_ERROR, "%s", cause);
	bc_ctl_reader_init(&rd, 0);
	if (bc_ctl_send(fd, req, REPLY_TIMEOUT_MS, &cause) == -1) {
		/* botd may have refused us with a reason, then closed. */
		if ((reply = bc_ctl_recv(fd, &rd, 1000, &why)) == NULL)
			errx(EXIT_ERROR, "%s", cause);
		free(cause);
	} else if ((reply = bc_ctl_recv(fd, &rd, timeout_ms, &cause)) ==
	    NULL)
		errx(EXIT_ERROR, "%s", cause);
	free(why);
	cause = NULL;
	if (bc_ctl_reply_status(reply, &cause) == -1) {
		json_decref(reply);
		errx(EXIT_ERROR, "%s", cause);
	}
	return reply;
}

/* How long botd may take to answer req. */
static int
reply_timeout(const struct botctl_opts *o)
{
	if (!o->wait)
		return REPLY_TIMEOUT_MS;
	return (int)((o->timeout > 0 ? o->timeout : WAIT_DEFAULT_SEC) * 1000) +
	    WAIT_SLACK_MS;
}

/* ------------------------------------------------------------ status */

/* Untrusted text (a bot's STATUS=) made printable. */
static void
print_text(const char *s)
{
	for (; *s != '\0'; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* A duration in ms as "1d02h", "3h04m", "5m06s", "7s", "0.4s". */
static void
fmt_ms(char *buf, size_t sz, int64_t ms)
{
	int64_t s = ms / 1000;

	if (ms < 0)
		snprintf(buf, sz, "-");
	else if (ms < 10000)
		snprintf(buf, sz, "%.1fs", (double)ms / 1000);
	else if (s < 60)
		snprintf(buf, sz, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, sz, "%lldm%02llds", (long long)s / 60,
		    (long long)s % 60);
	else if (s < 86400)
		snprintf(buf, sz, "%lldh%02lldm", (long long)s / 3600,
		    (long long)s % 3600 / 60);
	else
		snprintf(buf, sz, "%lldd%02lldh", (long long)s / 86400,
		    (long long)s % 86400 / 3600);
}

/* An integer member in ms as a duration, or "-". */
static void
fmt_member_ms(char *buf, size_t sz, const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		fmt_ms(buf, sz, json_integer_value(v));
	else
		snprintf(buf, sz, "-");
}

/* "code 1, 5m06s ago", "signal KILL, 3s ago" or "-". */
static void
fmt_exit(char *buf, size_t sz, const json_t *o)
{
	json_t *code = json_object_get(o, "last_exit_code");
	const char *sig = json_string_value(json_object_get(o,
	    "last_exit_signal"));
	const char *when = json_string_value(json_object_get(o,
	    "last_exit_time"));
	char what[48], ago[32] = "";
	struct tm tm;
	int64_t secs;

	if (json_is_integer(code))
		snprintf(what, sizeof(what), "code %lld",
		    (long long)json_integer_value(code));
	else if (sig != NULL)
		snprintf(what, sizeof(what), "signal %.32s", sig);
	else {
		snprintf(buf, sz, "-");
		return;
	}
	memset(&tm, 0, sizeof(tm));
	if (when != NULL && strptime(when, "%Y-%m-%dT%H:%M:%SZ", &tm) !=
	    NULL) {
		/* The time has whole seconds: no "0.4s ago". */
		secs = (int64_t)time(NULL) - (int64_t)timegm(&tm);
		if (secs < 10)
			snprintf(ago, sizeof(ago) - 5, "%llds",
			    (long long)(secs < 0 ? 0 : secs));
		else
			fmt_ms(ago, sizeof(ago) - 5, secs * 1000);
		strcat(ago, " ago");
	}
	snprintf(buf, sz, "%s%s%s", what, *ago != '\0' ? ", " : "", ago);
}

/* Bytes as "12.3M". */
static void
fmt_bytes(char *buf, size_t sz, const json_t *v)
{
	double b;
	const char *u = "KMGT";

	if (!json_is_integer(v)) {
		snprintf(buf, sz, "-");
		return;
	}
	b = (double)json_integer_value(v) / 1024;
	while (b >= 1024 && u[1] != '\0') {
		b /= 1024;
		u++;
	}
	snprintf(buf, sz, "%.1f%c", b, *u);
}

/* One row of the status table. */
static void
print_row(const json_t *o, int w)
{
	char pid[16] = "-", up[24], ex[96], bo[24], mem[24];
	json_t *p = json_object_get(o, "pid");
	const char *note;

	if (json_is_integer(p))
		snprintf(pid, sizeof(pid), "%lld",
		    (long long)json_integer_value(p));
	fmt_member_ms(up, sizeof(up), o, "uptime_ms");
	fmt_member_ms(bo, sizeof(bo), o, "backoff_ms");
	fmt_exit(ex, sizeof(ex), o);
	fmt_bytes(mem, sizeof(mem), json_object_get(o, "memory_bytes"));
	printf("%-*s %-8s %-6s %-7s %-7s %-5s %8lld  %-22s %-7s %-7s ", w,
	    json_string_value(json_object_get(o, "name")),
	    json_string_value(json_object_get(o, "state")),
	    json_string_value(json_object_get(o, "wanted")), pid, up,
	    !json_is_integer(p) ? "-" :
	    json_is_true(json_object_get(o, "ready")) ? "yes" : "no",
	    (long long)json_integer_value(json_object_get(o, "restarts")),
	    ex, bo, mem);
	note = json_string_value(json_object_get(o, "fatal_reason"));
	if (note == NULL || *note == '\0')
		note = json_string_value(json_object_get(o, "status"));
	print_text(note != NULL ? note : "");
	putchar('\n');
}

static int
exec_status(const struct botctl_cmd *cmd, json_t *req,
    const struct botctl_opts *o)
{
	json_t *reply = call(req, REPLY_TIMEOUT_MS), *list, *b, *out;
	const char *state, *name;
	size_t i;
	int w = 4, rc = 0;

	(void)cmd;
	list = json_object_get(reply, "bots");
	if (!json_is_array(list))
		errx(EXIT_ERROR, "malformed reply from botd: no \"bots\"");
	for (i = 0; i < json_array_size(list); i++) {
		b = json_array_get(list, i);
		state = json_string_value(json_object_get(b, "state"));
		name = json_string_value(json_object_get(b, "name"));
		if (state == NULL || name == NULL)
			errx(EXIT_ERROR, "malformed reply from botd");
		if (strcmp(state, "RUNNING") != 0)
			rc = EXIT_NOTRUNNING;
		if ((int)strlen(name) > w)
			w = (int)strlen(name);
	}
	if (o->json) {
		out = json_pack("{sO}", "bots", list);
		json_dumpf(out, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(out);
	} else {
		printf("%-*s %-8s %-6s %-7s %-7s %-5s %8s  %-22s %-7s %-7s "
		    "STATUS\n", w, "NAME", "STATE", "WANTED", "PID", "UPTIME",
		    "READY", "RESTARTS", "LAST EXIT", "BACKOFF", "MEMORY");
		for (i = 0; i < json_array_size(list); i++)
			print_row(json_array_get(list, i), w);
	}
	json_decref(reply);
	return rc;
}

/* ------------------------------------------------------------ others */

/* Send the request; botd's "ok" is success, its error is printed. */
static int
exec_simple(const struct botctl_cmd *cmd, json_t *req,
    const struct botctl_opts *o)
{
	(void)cmd;
	json_decref(call(req, reply_timeout(o)));
	return 0;
}

/* One log line event (or a drop notice) while following. */
static int
logs_event(const json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "event"));
	const char *line = json_string_value(json_object_get(ev, "line"));

	if (type != NULL && strcmp(type, "log") == 0 && line != NULL) {
		printf("%s\n", line);
		return 0;
	}
	if (type != NULL && strcmp(type, "dropped") == 0) {
		fflush(stdout);
		warnx("%lld lines skipped: reading too slowly",
		    (long long)json_integer_value(json_object_get(ev,
		    "lines")));
		return 0;
	}
	warnx("unexpected message from botd");
	return -1;
}

static int
exec_logs(const struct botctl_cmd *cmd, json_t *req,
    const struct botctl_opts *o)
{
	json_t *reply = call(req, REPLY_TIMEOUT_MS), *lines, *l, *ev;
	char *cause = NULL;
	size_t i;

	(void)cmd;
	lines = json_object_get(reply, "lines");
	if (json_is_integer(json_object_get(reply, "omitted")))
		warnx("%lld older lines omitted: too long for one reply",
		    (long long)json_integer_value(json_object_get(reply,
		    "omitted")));
	for (i = 0; i < json_array_size(lines); i++)
		if (json_is_string(l = json_array_get(lines, i)))
			printf("%s\n", json_string_value(l));
	json_decref(reply);
	if (!o->follow)
		return 0;
	for (;;) {
		fflush(stdout);
		if ((ev = bc_ctl_recv(fd, &rd, -1, &cause)) == NULL)
			errx(EXIT_ERROR, "%s", cause);
		if (logs_event(ev) == -1) {
			json_decref(ev);
			return EXIT_ERROR;
		}
		json_decref(ev);
	}
}

/* mute, unmute: one line per bot. */
static int
exec_mute(const struct botctl_cmd *cmd, json_t *req,
    const struct botctl_opts *o)
{
	json_t *reply = call(req, REPLY_TIMEOUT_MS), *list, *b, *until;
	long long sup;
	char when[32];
	struct tm tm;
	time_t t;
	size_t i;

	(void)o;
	list = json_object_get(reply, "bots");
	for (i = 0; i < json_array_size(list); i++) {
		b = json_array_get(list, i);
		until = json_object_get(b, "muted_until");
		sup = (long long)json_integer_value(json_object_get(b,
		    "suppressed"));
		if (json_is_integer(until)) {
			t = (time_t)json_integer_value(until);
			localtime_r(&t, &tm);
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z",
			    &tm);
			printf("%s: alerts muted until %s", json_string_value(
			    json_object_get(b, "name")), when);
			if (sup > 0)
				printf(" (%lld suppressed so far)", sup);
		} else
			printf("%s: alerts on (%lld suppressed while muted)",
			    json_string_value(json_object_get(b, "name")), sup);
		putchar('\n');
	}
	json_decref(reply);
	return strcmp(cmd->name, "mute") == 0 && i == 0 ? EXIT_ERROR : 0;
}

/* alert-test: Telegram's answer for each admin chat. */
static int
exec_alert_test(const struct botctl_cmd *cmd, json_t *req,
    const struct botctl_opts *o)
{
	json_t *reply = call(req, REPLY_TIMEOUT_MS * 2), *list, *r, *e;
	size_t i;
	int rc = 0;

	(void)cmd;
	(void)o;
	list = json_object_get(reply, "results");
	if (!json_is_array(list) || json_array_size(list) == 0)
		errx(EXIT_ERROR, "malformed reply from botd: no \"results\"");
	for (i = 0; i < json_array_size(list); i++) {
		r = json_array_get(list, i);
		printf("chat %lld: ", (long long)json_integer_value(
		    json_object_get(r, "chat_id")));
		if (json_is_true(json_object_get(r, "ok"))) {
			printf("ok, message %lld\n", (long long)
			    json_integer_value(json_object_get(r,
			    "message_id")));
			continue;
		}
		rc = EXIT_ERROR;
		e = json_object_get(r, "error");
		printf("failed: HTTP %lld, ", (long long)json_integer_value(
		    json_object_get(r, "status")));
		print_text(json_is_string(e) ? json_string_value(e) :
		    "no answer");
		putchar('\n');
	}
	json_decref(reply);
	return rc;
}

/* ------------------------------------------------------------ main */

/*
 * A duration: groups of digits and a unit, d h m s, largest first
 * ("1d12h", "30m", "90s"), or bare seconds. -1 when malformed.
 */
static double
parse_duration(const char *s)
{
	static const char units[] = "dhms";
	static const double secs[] = { 86400, 3600, 60, 1 };
	const char *p = s, *u;
	double total = 0;
	long long v;
	int last = -1;

	if (*s == '\0')
		return -1;
	while (*p != '\0') {
		if (*p < '0' || *p > '9')
			return -1;
		for (v = 0; *p >= '0' && *p <= '9'; p++)
			if ((v = v * 10 + (*p - '0')) > MUTE_MAX_SEC)
				return -1;
		if (*p == '\0' && last == -1)
			return (double)v;
		if (*p == '\0' || (u = strchr(units, *p)) == NULL ||
		    u - units <= last)
			return -1;
		last = (int)(u - units);
		total += (double)v * secs[last];
		p++;
	}
	return total;
}

static const struct botctl_cmd *
cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < BC_NELEM(botctl_cmds); i++)
		if (strcmp(botctl_cmds[i].name, name) == 0)
			return &botctl_cmds[i];
	return NULL;
}

/* A number in [min, max], or a usage error. */
static double
parse_num(const struct botctl_cmd *cmd, const char *what, const char *s,
    double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(v) ||
	    v < min || v > max)
		usage_error(cmd, "invalid %s: %s", what, s);
	return v;
}

/* The command's options; returns the index of its first argument. */
static int
parse_opts(const struct botctl_cmd *cmd, int argc, char **argv,
    struct botctl_opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "lines", required_argument, NULL, 'n' },
		{ "follow", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, need;

	memset(o, 0, sizeof(*o));
	o->lines = LOGS_DEFAULT;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "+jwt:n:f", longopts,
	    NULL)) != -1) {
		need = ch == 'j' ? F_JSON : ch == 'w' || ch == 't' ? F_WAIT :
		    ch == 'n' || ch == 'f' ? F_LOGS : -1;
		if (need == -1 || !(cmd->flags & need))
			usage_error(cmd, "%s: invalid option", cmd->name);
		if (ch == 'j')
			o->json = 1;
		else if (ch == 'w')
			o->wait = 1;
		else if (ch == 't') {
			o->timeout = parse_num(cmd, "timeout", optarg, 0.001,
			    WAIT_MAX_SEC);
			o->wait = 1;
		} else if (ch == 'n')
			o->lines = (long)parse_num(cmd, "line count", optarg,
			    0, 100000);
		else
			o->follow = 1;
	}
	return optind;
}

/* The request for cmd with its options and arguments. */
static json_t *
build_request(const struct botctl_cmd *cmd, const struct botctl_opts *o,
    int argc, char **argv)
{
	json_t *req = bc_ctl_request_new(cmd->name), *names;
	double secs;
	int i;

	if (cmd->flags & F_DURATION) {
		secs = parse_duration(argv[argc - 1]);
		if (secs < 1 || secs > MUTE_MAX_SEC)
			usage_error(cmd, "invalid duration: %s (1s to 30d, "
			    "like 30m, 2h or 1d12h)", argv[argc - 1]);
		json_object_set_new(req, "seconds", json_real(secs));
		argc--;
	}

	if ((cmd->flags & F_ALL) && argc == 1 && strcmp(argv[0], "all") == 0)
		json_object_set_new(req, "all", json_true());
	else if (cmd->flags & F_NAMES) {
		names = json_array();
		for (i = 0; i < argc; i++) {
			if ((cmd->flags & F_ALL) && strcmp(argv[i], "all") == 0)
				usage_error(cmd, "all cannot go with names");
			if (!bc_ctl_name_valid(argv[i]))
				usage_error(cmd, "invalid bot name: %s",
				    argv[i]);
			json_array_append_new(names, json_string(argv[i]));
		}
		json_object_set_new(req, "bots", names);
	}
	if (o->wait)
		json_object_set_new(req, "wait", json_true());
	if (o->wait && o->timeout > 0)
		json_object_set_new(req, "timeout", json_real(o->timeout));
	if (cmd->flags & F_LOGS) {
		json_object_set_new(req, "lines", json_integer(o->lines));
		json_object_set_new(req, "follow", json_boolean(o->follow));
	}
	return req;
}

int
main(int argc, char **argv)
{
	const struct botctl_cmd *cmd;
	struct botctl_opts o;
	json_t *req;
	int ch, first, rc;

	socket_path = bc_ctl_socket_path();
	while ((ch = getopt(argc, argv, "+s:h")) != -1) {
		switch (ch) {
		case 's':
			socket_path = optarg;
			break;
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage(stderr, EXIT_USAGE);
	if ((cmd = cmd_find(argv[0])) == NULL) {
		warnx("unknown command: %s", argv[0]);
		usage(stderr, EXIT_USAGE);
	}
	first = parse_opts(cmd, argc, argv, &o);
	argc -= first;
	argv += first;
	if (argc < cmd->minargs || (cmd->maxargs >= 0 && argc > cmd->maxargs))
		usage_error(cmd, "%s: wrong number of arguments", cmd->name);
	req = build_request(cmd, &o, argc, argv);
	rc = cmd->exec(cmd, req, &o);
	json_decref(req);
	if (fd != -1)
		close(fd);
	bc_ctl_reader_release(&rd);
	if (fflush(stdout) == EOF)
		err(EXIT_ERROR, "stdout");
	return rc;
}
