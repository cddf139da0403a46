/* botd.ini: the [botd] section and one [bot NAME] section per bot. */

#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <botcommon/conf.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "supervisor.h"

#define CONFIG_ENV_MAX		(64 * 1024)	/* bytes of an env file */
#define CONFIG_ARGS_MAX		256		/* words in args */

static const struct {
	const char	*name;
	int		 sig;
} config_signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ILL", SIGILL }, { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
	{ "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
	{ "SYS", SIGSYS }, { "WINCH", SIGWINCH }, { "PWR", SIGPWR },
};

/* The signals a bot may be stopped with. */
static const int config_stop_signals[] = {
	SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGKILL, SIGABRT,
	SIGPWR, SIGWINCH,
};

const char *
config_signame(int sig)
{
	static char buf[16];
	size_t i;

	for (i = 0; i < BC_NELEM(config_signals); i++)
		if (config_signals[i].sig == sig)
			return config_signals[i].name;
	snprintf(buf, sizeof buf, "SIG%d", sig);
	return buf;
}

/* "TERM", "SIGTERM", "term" or a number: the signal, or -1. */
static int
config_parse_signal(const char *s)
{
	const char *p = s;
	size_t i, j;
	int sig = -1;

	if (strncasecmp(p, "SIG", 3) == 0)
		p += 3;
	if (isdigit((unsigned char)*p)) {
		char *end;
		long n = strtol(p, &end, 10);

		if (*end == '\0' && n > 0 && n < NSIG)
			sig = (int)n;
	} else {
		for (i = 0; i < BC_NELEM(config_signals); i++)
			if (strcasecmp(p, config_signals[i].name) == 0)
				sig = config_signals[i].sig;
	}
	for (j = 0; j < BC_NELEM(config_stop_signals); j++)
		if (config_stop_signals[j] == sig)
			return sig;
	return -1;
}

/*
 * "FILE:LINE: [sec] key" for a key that is present. The conf module
 * reports a key's place only in its own errors, so ask it for one that
 * cannot succeed (an integer in the empty range) and keep the place.
 */
static char *
config_where(struct bc_conf *conf, const char *sec, const char *key)
{
	char *cause = NULL, *needle, *p;
	long long dummy;

	xasprintf(&needle, "[%s] %s: ", sec, key);
	if (bc_conf_int(conf, sec, key, 0, 1, 0, &dummy, &cause) == 0 ||
	    cause == NULL || (p = strstr(cause, needle)) == NULL) {
		free(cause);
		xasprintf(&cause, "%s: [%s] %s", bc_conf_path(conf), sec, key);
	} else
		p[strlen(needle) - 2] = '\0';
	free(needle);
	return cause;
}

/*
 * "FILE:LINE: [sec]" for a section that exists: the conf module names the
 * place of a section only when it is unknown, so ask with a list of
 * known sections that holds every other one.
 */
static char *
config_where_section(const struct bc_conf *conf, const char *sec)
{
	const char **others;
	char *cause = NULL, *where, *p;
	size_t i, j = 0, n = bc_conf_nsections(conf);

	others = xcalloc(n + 1, sizeof *others);
	for (i = 0; i < n; i++)
		if (strcmp(bc_conf_section(conf, i), sec) != 0)
			others[j++] = bc_conf_section(conf, i);
	if (bc_conf_unknown_sections(conf, others, &cause) == -1 &&
	    (p = strstr(cause, ": unknown section [")) != NULL)
		xasprintf(&where, "%.*s: [%s]", (int)(p - cause), cause, sec);
	else
		xasprintf(&where, "%s: [%s]", bc_conf_path(conf), sec);
	free(others);
	free(cause);
	return where;
}

/* Set *cause to "WHERE: reason" for key (or the section when NULL). */
static int __attribute__((format(printf, 5, 6)))
config_err(struct bc_conf *conf, const char *sec, const char *key,
    char **cause, const char *fmt, ...)
{
	va_list ap;
	char *where, *msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	where = key != NULL ? config_where(conf, sec, key) :
	    config_where_section(conf, sec);
	xasprintf(cause, "%s: %s", where, msg);
	free(where);
	free(msg);
	return -1;
}

/* Split args like a shell without expansion: quotes and backslashes. */
static int
config_split_args(const char *s, char ***out, size_t *outn, char **err)
{
	char **v = NULL, *w = xmalloc(strlen(s) + 1);
	size_t n = 0, len;
	int inword, q;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		len = 0;
		inword = 1;
		q = 0;
		while (inword && *s != '\0') {
			if (q == 0 && (*s == ' ' || *s == '\t'))
				inword = 0;
			else if (q == 0 && (*s == '\'' || *s == '"'))
				q = *s++;
			else if (q != 0 && *s == q) {
				q = 0;
				s++;
			} else if (*s == '\\' && q != '\'' && s[1] != '\0') {
				w[len++] = s[1];
				s += 2;
			} else
				w[len++] = *s++;
		}
		if (q != 0) {
			*err = xstrdup("unterminated quote");
			goto fail;
		}
		if (n + 2 > CONFIG_ARGS_MAX) {
			xasprintf(err, "more than %d words", CONFIG_ARGS_MAX);
			goto fail;
		}
		v = xreallocarray(v, n + 2, sizeof *v);
		v[n++] = xstrndup(w, len);
		v[n] = NULL;
	}
	free(w);
	*out = v;
	*outn = n;
	return 0;
fail:
	free(w);
	config_env_free(v, n);
	return -1;
}

void
config_env_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Read a whole small file into a NUL-terminated string. */
static char *
config_slurp(const char *path, size_t max, char **cause)
{
	struct stat st;
	char *buf = NULL;
	ssize_t r;
	size_t len = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		xasprintf(cause, "%s: not a regular file", path);
		goto fail;
	}
	buf = xmalloc(max + 2);
	while ((r = read(fd, buf + len, max + 1 - len)) > 0)
		if ((len += (size_t)r) > max)
			break;
	if (r == -1 || len > max) {
		xasprintf(cause, "%s: %s", path, r == -1 ? strerror(errno) :
		    "file too large");
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	return buf;
fail:
	if (fd != -1)
		close(fd);
	free(buf);
	return NULL;
}

/* One env file line (no newline): 0 with *kv set or nothing, -1. */
static int
config_env_line(char *line, char **kv, const char **why)
{
	char *p, *eq;
	size_t len = strlen(line);

	*kv = NULL;
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	for (p = line; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '\0' || *p == '#' || *p == ';')
		return 0;
	if (strncmp(p, "export ", 7) == 0)
		p += 7;
	if ((eq = strchr(p, '=')) == NULL) {
		*why = "expected KEY=VALUE";
		return -1;
	}
	if (!(isalpha((unsigned char)*p) || *p == '_') || eq == p) {
		*why = "bad variable name";
		return -1;
	}
	for (line = p; line < eq; line++)
		if (!isalnum((unsigned char)*line) && *line != '_') {
			*why = "bad variable name";
			return -1;
		}
	if (memchr(p, '\0', (size_t)(eq - p)) != NULL) {
		*why = "NUL byte";
		return -1;
	}
	*kv = xstrdup(p);
	return 0;
}

int
config_read_env(const char *path, char ***out, size_t *outn, char **cause)
{
	char *text, *line, *next, *kv, **v = NULL;
	const char *why = NULL;
	size_t n = 0;
	int lineno = 0;

	if ((text = config_slurp(path, CONFIG_ENV_MAX, cause)) == NULL)
		return -1;
	for (line = text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		lineno++;
		if (config_env_line(line, &kv, &why) == -1) {
			xasprintf(cause, "%s:%d: %s", path, lineno, why);
			config_env_free(v, n);
			free(text);
			return -1;
		}
		if (kv != NULL) {
			v = xreallocarray(v, n + 1, sizeof *v);
			v[n++] = kv;
		}
	}
	free(text);
	*out = v;
	*outn = n;
	return 0;
}

/* A file that botd can execute. */
static int
config_check_exec(const char *path, const char **why)
{
	struct stat st;

	if (path[0] != '/') {
		*why = "must be an absolute path";
		return -1;
	}
	if (stat(path, &st) == -1) {
		*why = strerror(errno);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
		*why = "not an executable file";
		return -1;
	}
	return 0;
}

/* The string keys of a bot section. */
static int
config_bot_strings(struct bc_conf *conf, const char *sec,
    struct bot_conf *bc, char **cause)
{
	const char *exec, *args, *user, *envf, *wd, *why;
	char **argv, **env, *err;
	size_t argc, n, i;

	if (bc_conf_str(conf, sec, "exec", NULL, &exec, cause) == -1 ||
	    bc_conf_str(conf, sec, "args", "", &args, cause) == -1 ||
	    bc_conf_str(conf, sec, "user", NULL, &user, cause) == -1 ||
	    bc_conf_str(conf, sec, "env_file", NULL, &envf, cause) == -1 ||
	    bc_conf_str(conf, sec, "workdir", NULL, &wd, cause) == -1)
		return -1;
	if (exec == NULL)
		return config_err(conf, sec, NULL, cause, "exec is required");
	if (config_check_exec(exec, &why) == -1)
		return config_err(conf, sec, "exec", cause, "%s: %s", exec,
		    why);
	if (config_split_args(args, &argv, &argc, &err) == -1) {
		config_err(conf, sec, "args", cause, "%s", err);
		free(err);
		return -1;
	}
	bc->exec = xstrdup(exec);
	bc->argv = xcalloc(argc + 2, sizeof *bc->argv);
	bc->argv[0] = xstrdup(exec);
	for (i = 0; i < argc; i++)
		bc->argv[i + 1] = argv[i];
	free(argv);
	if (user != NULL && getpwnam(user) == NULL)
		return config_err(conf, sec, "user", cause,
		    "no such user '%s'", user);
	bc->user = user != NULL ? xstrdup(user) : NULL;
	if (envf != NULL && envf[0] != '/')
		return config_err(conf, sec, "env_file", cause,
		    "must be an absolute path");
	if (envf != NULL && config_read_env(envf, &env, &n, &err) == -1) {
		config_err(conf, sec, "env_file", cause, "%s", err);
		free(err);
		return -1;
	}
	if (envf != NULL)
		config_env_free(env, n);
	bc->env_file = envf != NULL ? xstrdup(envf) : NULL;
	if (wd != NULL && wd[0] != '/')
		return config_err(conf, sec, "workdir", cause,
		    "must be an absolute path");
	bc->workdir = wd != NULL ? xstrdup(wd) : NULL;
	return 0;
}

/* The enumerated keys of a bot section. */
static int
config_bot_enums(struct bc_conf *conf, const char *sec, struct bot_conf *bc,
    char **cause)
{
	const char *restart, *ready, *sig;

	if (bc_conf_str(conf, sec, "restart", "always", &restart,
	    cause) == -1 ||
	    bc_conf_str(conf, sec, "ready", "notify", &ready, cause) == -1 ||
	    bc_conf_str(conf, sec, "stop_signal", "TERM", &sig, cause) == -1)
		return -1;
	if (strcmp(restart, "always") == 0)
		bc->restart = RESTART_ALWAYS;
	else if (strcmp(restart, "on-failure") == 0)
		bc->restart = RESTART_ON_FAILURE;
	else if (strcmp(restart, "never") == 0)
		bc->restart = RESTART_NEVER;
	else
		return config_err(conf, sec, "restart", cause, "'%s' is not "
		    "always, on-failure or never", restart);
	if (strcmp(ready, "notify") == 0)
		bc->ready = READY_NOTIFY;
	else if (strcmp(ready, "none") == 0)
		bc->ready = READY_NONE;
	else
		return config_err(conf, sec, "ready", cause,
		    "'%s' is not notify or none", ready);
	if ((bc->stop_signal = config_parse_signal(sig)) == -1)
		return config_err(conf, sec, "stop_signal", cause,
		    "'%s' is not a signal to stop with", sig);
	return 0;
}

/* The durations of a bot section. */
static int
config_bot_durations(struct bc_conf *conf, const char *sec,
    struct bot_conf *bc, char **cause)
{
	if (bc_conf_duration(conf, sec, "backoff_initial", 1000,
	    &bc->backoff_initial_ms, cause) == -1 ||
	    bc_conf_duration(conf, sec, "backoff_max", 60000,
	    &bc->backoff_max_ms, cause) == -1 ||
	    bc_conf_duration(conf, sec, "backoff_reset_after", 60000,
	    &bc->backoff_reset_ms, cause) == -1 ||
	    bc_conf_duration(conf, sec, "crashloop_window", 60000,
	    &bc->crashloop_window_ms, cause) == -1 ||
	    bc_conf_duration(conf, sec, "fatal_retry", 600000,
	    &bc->fatal_retry_ms, cause) == -1 ||
	    bc_conf_duration(conf, sec, "start_seconds", 1000,
	    &bc->start_seconds_ms, cause) == -1 ||
	    bc_conf_duration(conf, sec, "start_timeout", 30000,
	    &bc->start_timeout_ms, cause) == -1 ||
	    bc_conf_duration(conf, sec, "watchdog", 30000,
	    &bc->watchdog_ms, cause) == -1 ||
	    bc_conf_duration(conf, sec, "stop_timeout", 10000,
	    &bc->stop_timeout_ms, cause) == -1)
		return -1;
	if (bc->backoff_max_ms < bc->backoff_initial_ms)
		return config_err(conf, sec, "backoff_max", cause,
		    "smaller than backoff_initial");
	if (bc->start_timeout_ms == 0 && bc->ready == READY_NOTIFY)
		return config_err(conf, sec, "start_timeout", cause,
		    "must not be 0 with ready = notify");
	if (bc->crashloop_window_ms == 0)
		return config_err(conf, sec, "crashloop_window", cause,
		    "must not be 0");
	if (bc->stop_timeout_ms == 0)
		return config_err(conf, sec, "stop_timeout", cause,
		    "must not be 0");
	return 0;
}

/* The numbers and sizes of a bot section. */
static int
config_bot_numbers(struct bc_conf *conf, const char *sec,
    struct bot_conf *bc, char **cause)
{
	long long deaths, files;

	if (bc_conf_bool(conf, sec, "autostart", 1, &bc->autostart,
	    cause) == -1 ||
	    bc_conf_int(conf, sec, "crashloop_deaths", 5, 1, 64, &deaths,
	    cause) == -1 ||
	    bc_conf_size(conf, sec, "log_max_bytes", 10 * 1024 * 1024,
	    &bc->log_max_bytes, cause) == -1 ||
	    bc_conf_int(conf, sec, "log_files", 5, 0, LOGS_FILES_MAX, &files,
	    cause) == -1 ||
	    bc_conf_size(conf, sec, "memory_max", 0, &bc->memory_max,
	    cause) == -1 ||
	    bc_conf_size(conf, sec, "nofile", 1024, &bc->nofile,
	    cause) == -1)
		return -1;
	bc->crashloop_deaths = (int)deaths;
	bc->log_files = (int)files;
	if (bc->log_max_bytes < LOGS_MIN_BYTES)
		return config_err(conf, sec, "log_max_bytes", cause,
		    "at least %d bytes", LOGS_MIN_BYTES);
	if (bc->memory_max != 0 && bc->memory_max < 1024 * 1024)
		return config_err(conf, sec, "memory_max", cause,
		    "at least 1M (or 0 for no limit)");
	if (bc->nofile > 1024 * 1024)
		return config_err(conf, sec, "nofile", cause,
		    "at most 1048576");
	return 0;
}

/* Parse [bot NAME] into bc (zeroed by the caller). */
static int
config_bot(struct bc_conf *conf, const char *sec, struct bot_conf *bc,
    char **cause)
{
	const char *name = sec + 4, *p;

	if (strlen(name) == 0 || strlen(name) > BOTD_NAME_MAX)
		return config_err(conf, sec, NULL, cause, "a bot name has 1 "
		    "to %d characters", BOTD_NAME_MAX);
	for (p = name; *p != '\0'; p++)
		if (!islower((unsigned char)*p) &&
		    !isdigit((unsigned char)*p) && *p != '_' && *p != '-')
			return config_err(conf, sec, NULL, cause, "a bot name "
			    "has only a-z, 0-9, '_' and '-'");
	bc_strlcpy(bc->name, name, sizeof bc->name);
	if (config_bot_strings(conf, sec, bc, cause) == -1 ||
	    config_bot_enums(conf, sec, bc, cause) == -1 ||
	    config_bot_durations(conf, sec, bc, cause) == -1 ||
	    config_bot_numbers(conf, sec, bc, cause) == -1)
		return -1;
	return bc_conf_check_unused_section(conf, sec, cause);
}

/* An absolute path setting of [botd], copied. */
static int
config_path(struct bc_conf *conf, const char *key, const char *def,
    char **out, char **cause)
{
	const char *v;

	if (bc_conf_str(conf, "botd", key, def, &v, cause) == -1)
		return -1;
	if (v == NULL) {
		*out = NULL;
		return 0;
	}
	if (v[0] != '/')
		return config_err(conf, "botd", key, cause,
		    "must be an absolute path");
	*out = xstrdup(v);
	return 0;
}

/* The [botd] section. */
static int
config_main(struct bc_conf *conf, struct botd_conf *c, char **cause)
{
	const char *grp, *cg;

	if (config_path(conf, "socket", "/run/botd/control.sock", &c->socket,
	    cause) == -1 ||
	    config_path(conf, "log_dir", "/var/log/botd", &c->log_dir,
	    cause) == -1 ||
	    config_path(conf, "state_dir", "/var/lib/botd", &c->state_dir,
	    cause) == -1 ||
	    config_path(conf, "lock_file", NULL, &c->lock_file, cause) == -1 ||
	    bc_conf_str(conf, "botd", "socket_group", NULL, &grp,
	    cause) == -1 ||
	    bc_conf_bool(conf, "botd", "status_public", 1, &c->status_public,
	    cause) == -1 ||
	    bc_conf_size(conf, "botd", "log_total_max", 1024ULL * 1024 * 1024,
	    &c->log_total_max, cause) == -1 ||
	    bc_conf_str(conf, "botd", "cgroup", "auto", &cg, cause) == -1)
		return -1;
	if (strlen(c->socket) >= 100)
		return config_err(conf, "botd", "socket", cause,
		    "longer than 99 bytes");
	if (c->lock_file == NULL)
		xasprintf(&c->lock_file, "%s/botd.lock", c->state_dir);
	if (grp != NULL && getgrnam(grp) == NULL)
		return config_err(conf, "botd", "socket_group", cause,
		    "no such group '%s'", grp);
	c->socket_group = grp != NULL ? xstrdup(grp) : NULL;
	if (strcmp(cg, "auto") != 0 && strcmp(cg, "no") != 0 && cg[0] != '/')
		return config_err(conf, "botd", "cgroup", cause,
		    "'%s' is not auto, no or an absolute path", cg);
	c->cgroup = xstrdup(cg);
	return 0;
}

/* A Telegram bot token: digits, ':', then [A-Za-z0-9_-]. */
static int
config_token_valid(const char *t)
{
	const char *p = t;

	while (isdigit((unsigned char)*p))
		p++;
	if (p == t || *p++ != ':' || *p == '\0')
		return 0;
	for (; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return 0;
	return 1;
}

/* alert_chat_ids: non-zero integers. */
static int
config_alert_chats(struct bc_conf *conf, struct botd_conf *c, char **cause)
{
	char **v = NULL, *end;
	size_t i, n = 0;
	long long id;

	bc_conf_list(conf, "botd", "alert_chat_ids", &v, &n, cause);
	c->alert_chats = xcalloc(n == 0 ? 1 : n, sizeof *c->alert_chats);
	for (i = 0; i < n; i++) {
		errno = 0;
		id = strtoll(v[i], &end, 10);
		if (*end != '\0' || errno != 0 || id == 0) {
			config_err(conf, "botd", "alert_chat_ids", cause,
			    "'%s' is not a chat id", v[i]);
			bc_conf_list_free(v, n);
			return -1;
		}
		c->alert_chats[c->nalert_chats++] = id;
	}
	bc_conf_list_free(v, n);
	return 0;
}

/* The alert_* keys of [botd]. */
static int
config_alerts(struct bc_conf *conf, struct botd_conf *c, char **cause)
{
	const char *url;
	long long lines;
	size_t len;
	int r;

	if ((r = bc_conf_secret(conf, "botd", "alert_token_file",
	    "alert-token", 0, &c->alert_token, cause)) == -1 ||
	    config_alert_chats(conf, c, cause) == -1 ||
	    bc_conf_str(conf, "botd", "alert_api_url",
	    "https://api.telegram.org", &url, cause) == -1 ||
	    bc_conf_duration(conf, "botd", "alert_min_interval", 60000,
	    &c->alert_interval_ms, cause) == -1 ||
	    bc_conf_duration(conf, "botd", "alert_delay", 2000,
	    &c->alert_delay_ms, cause) == -1 ||
	    bc_conf_int(conf, "botd", "alert_log_lines", 20, 0,
	    BOTD_TAIL_LINES, &lines, cause) == -1 ||
	    config_path(conf, "alert_helper", NULL, &c->alert_helper,
	    cause) == -1)
		return -1;
	c->alert_log_lines = (int)lines;
	if (c->alert_token != NULL && !config_token_valid(c->alert_token))
		return config_err(conf, "botd", "alert_token_file", cause,
		    "the file does not hold a bot token (DIGITS:CHARS)");
	if (c->alert_token != NULL && c->nalert_chats == 0)
		return config_err(conf, "botd", "alert_token_file", cause,
		    "alert_chat_ids is missing");
	if (c->alert_token == NULL && c->nalert_chats > 0)
		return config_err(conf, "botd", "alert_chat_ids", cause,
		    "alert_token_file is missing");
	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0)
		return config_err(conf, "botd", "alert_api_url", cause,
		    "not an http:// or https:// URL");
	if (c->alert_interval_ms > 86400000 || c->alert_delay_ms > 600000)
		return config_err(conf, "botd", c->alert_delay_ms > 600000 ?
		    "alert_delay" : "alert_min_interval", cause,
		    "too long (at most 1d, alert_delay 10m)");
	c->alert_api_url = xstrdup(url);
	len = strlen(c->alert_api_url);
	while (len > 0 && c->alert_api_url[len - 1] == '/')
		c->alert_api_url[--len] = '\0';
	return 0;
}

/* 1 if the host part of HOST:PORT is a loopback address. */
static int
config_loopback(const char *listen)
{
	char host[64];
	const char *colon;
	struct in6_addr a6;
	struct in_addr a4;
	size_t n;

	if (listen[0] == '[') {
		if ((colon = strchr(listen, ']')) == NULL)
			return 0;
		n = (size_t)(colon - listen - 1);
		if (n >= sizeof host)
			return 0;
		memcpy(host, listen + 1, n);
		host[n] = '\0';
		return inet_pton(AF_INET6, host, &a6) == 1 &&
		    IN6_IS_ADDR_LOOPBACK(&a6);
	}
	if ((colon = strrchr(listen, ':')) == NULL ||
	    (n = (size_t)(colon - listen)) >= sizeof host)
		return 0;
	memcpy(host, listen, n);
	host[n] = '\0';
	return inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127;
}

/* metrics_listen and metrics_public. */
static int
config_metrics(struct bc_conf *conf, struct botd_conf *c, char **cause)
{
	const char *l;

	if (bc_conf_str(conf, "botd", "metrics_listen", NULL, &l,
	    cause) == -1 ||
	    bc_conf_bool(conf, "botd", "metrics_public", 0,
	    &c->metrics_public, cause) == -1)
		return -1;
	if (l == NULL || *l == '\0' || strcmp(l, "no") == 0)
		return 0;
	if (!c->metrics_public && !config_loopback(l))
		return config_err(conf, "botd", "metrics_listen", cause,
		    "'%s' is not a loopback address (127.0.0.1:PORT, "
		    "[::1]:PORT); set metrics_public = yes to allow it", l);
	c->metrics_listen = xstrdup(l);
	return 0;
}

/* Merge includes, then check the section names. */
static int
config_sections(struct bc_conf *conf, char **cause)
{
	static const char *const known[] = { "botd", "bot ", NULL };
	const char *inc;

	if (bc_conf_str(conf, "botd", "include", NULL, &inc, cause) == -1)
		return -1;
	if (inc != NULL && bc_conf_include(conf, inc, cause) == -1)
		return -1;
	return bc_conf_unknown_sections(conf, known, cause);
}

struct botd_conf *
config_load(const char *path, char **cause)
{
	struct botd_conf *c = xcalloc(1, sizeof *c);
	const char *sec;
	size_t i, n;

	c->path = xstrdup(path);
	if ((c->conf = bc_conf_load(path, cause)) == NULL ||
	    config_sections(c->conf, cause) == -1 ||
	    config_main(c->conf, c, cause) == -1 ||
	    config_alerts(c->conf, c, cause) == -1 ||
	    config_metrics(c->conf, c, cause) == -1 ||
	    bc_conf_check_unused_section(c->conf, "botd", cause) == -1)
		goto fail;
	n = bc_conf_nsections(c->conf);
	c->bots = xcalloc(n == 0 ? 1 : n, sizeof *c->bots);
	for (i = 0; i < n; i++) {
		sec = bc_conf_section(c->conf, i);
		if (strncmp(sec, "bot ", 4) != 0)
			continue;
		c->nbots++;
		if (config_bot(c->conf, sec, &c->bots[c->nbots - 1],
		    cause) == -1)
			goto fail;
	}
	return c;
fail:
	config_free(c);
	return NULL;
}

/* Free what a bot_conf owns, not the struct. */
static void
config_bot_release(struct bot_conf *bc)
{
	char **a;

	free(bc->exec);
	if (bc->argv != NULL)
		for (a = bc->argv; *a != NULL; a++)
			free(*a);
	free(bc->argv);
	free(bc->user);
	free(bc->env_file);
	free(bc->workdir);
}

void
config_free(struct botd_conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nbots; i++)
		config_bot_release(&c->bots[i]);
	free(c->bots);
	free(c->path);
	free(c->socket);
	free(c->socket_group);
	free(c->log_dir);
	free(c->state_dir);
	free(c->lock_file);
	free(c->cgroup);
	bc_conf_secret_free(c->alert_token);
	free(c->alert_chats);
	free(c->alert_api_url);
	free(c->alert_helper);
	free(c->metrics_listen);
	bc_conf_free(c->conf);
	free(c);
}

const struct bot_conf *
config_find(const struct botd_conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nbots; i++)
		if (strcmp(c->bots[i].name, name) == 0)
			return &c->bots[i];
	return NULL;
}

int
config_bot_equal(const struct botd_conf *a, const struct botd_conf *b,
    const char *name)
{
	char *sec;
	int r;

	xasprintf(&sec, "bot %s", name);
	r = bc_conf_section_equal(a->conf, b->conf, sec);
	free(sec);
	return r;
}

struct bot_conf *
config_bot_dup(const struct bot_conf *bc)
{
	struct bot_conf *d = xmalloc(sizeof *d);
	size_t n = 0, i;

	*d = *bc;
	d->exec = xstrdup(bc->exec);
	while (bc->argv[n] != NULL)
		n++;
	d->argv = xcalloc(n + 1, sizeof *d->argv);
	for (i = 0; i < n; i++)
		d->argv[i] = xstrdup(bc->argv[i]);
	d->user = bc->user != NULL ? xstrdup(bc->user) : NULL;
	d->env_file = bc->env_file != NULL ? xstrdup(bc->env_file) : NULL;
	d->workdir = bc->workdir != NULL ? xstrdup(bc->workdir) : NULL;
	return d;
}

void
config_bot_free(struct bot_conf *bc)
{
	if (bc == NULL)
		return;
	config_bot_release(bc);
	free(bc);
}
