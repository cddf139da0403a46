/* The common main of every bot: bc_bot_run(). */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <botcommon/bot.h>
#include <botcommon/conf.h>
#include <botcommon/db.h>
#include <botcommon/ev.h>
#include <botcommon/http.h>
#include <botcommon/httpd.h>
#include <botcommon/log.h>
#include <botcommon/metrics.h>
#include <botcommon/notify.h>
#include <botcommon/router.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#ifndef BC_SQLDIR
#define BC_SQLDIR	"/usr/local/share/botfleet/sql"
#endif

#define BOT_STOP_TIMEOUT_MS	5000
#define BOT_ADMINS_MAX		64

/* Everything read from the common sections. */
struct bot_conf {
	const char	*api_url;
	char		*token;
	int		 webhook;
	int64_t		 admins[BOT_ADMINS_MAX];
	size_t		 nadmins;
	long long	 poll_timeout;
	long long	 chat_burst, group_per_min;
	long long	 global_rate;
	int64_t		 chat_interval_ms;
	const char	*webhook_url, *webhook_path;
	char		*webhook_secret;
	const char	*db_url, *migrations;
	int64_t		 connect_timeout_ms, statement_timeout_ms;
	long long	 batch_updates;
	int		 set_commands;
	const char	*listen;
	int64_t		 stop_timeout_ms;
};

/* One run of a bot. */
struct bot {
	const struct bc_bot	*def;
	struct bc_bot_env	 env;
	struct bot_conf		 c;
	int			 lockfd;
	int			 exitcode;
	int			 ready;
	int			 stopping;
	struct bc_timer		*flush;
	int64_t			 stop_deadline;
};

static void
bot_usage(const char *name)
{
	fprintf(stderr, "usage: %s -c FILE [-v] [--check-config]\n", name);
}

/* Read [log]; the level and format apply at once. */
static int
bot_conf_log(struct bot *b, char **cause)
{
	struct bc_conf *cf = b->env.conf;
	const char *level, *format;
	enum log_level lv = LOG_LEVEL_INFO;
	int flags = 0;

	if (bc_conf_str(cf, "log", "level", "info", &level, cause) == -1 ||
	    bc_conf_str(cf, "log", "format", "logfmt", &format, cause) == -1)
		return -1;
	if (strcmp(level, "error") == 0)
		lv = LOG_LEVEL_ERROR;
	else if (strcmp(level, "warn") == 0)
		lv = LOG_LEVEL_WARN;
	else if (strcmp(level, "debug") == 0)
		lv = LOG_LEVEL_DEBUG;
	else if (strcmp(level, "info") != 0) {
		xasprintf(cause, "%s: [log] level: '%s' is not one of error, "
		    "warn, info, debug", bc_conf_path(cf), level);
		return -1;
	}
	if (strcmp(format, "json") == 0)
		flags |= LOG_JSON;
	else if (strcmp(format, "logfmt") != 0) {
		xasprintf(cause, "%s: [log] format: '%s' is not logfmt or "
		    "json", bc_conf_path(cf), format);
		return -1;
	}
	if (log_enabled(LOG_LEVEL_DEBUG))
		lv = LOG_LEVEL_DEBUG;	/* -v wins */
	log_init(b->def->name, lv, flags);
	return 0;
}

/* Parse [telegram] admins into b->c.admins. */
static int
bot_conf_admins(struct bot *b, char **cause)
{
	char **list, *end;
	size_t n, i;
	long long v;
	int rc = -1;

	if (bc_conf_list(b->env.conf, "telegram", "admins", &list, &n,
	    cause) == -1)
		return -1;
	if (n > BOT_ADMINS_MAX) {
		xasprintf(cause, "%s: [telegram] admins: more than %d ids",
		    bc_conf_path(b->env.conf), BOT_ADMINS_MAX);
		goto out;
	}
	for (i = 0; i < n; i++) {
		errno = 0;
		v = strtoll(list[i], &end, 10);
		if (errno != 0 || *end != '\0' || v <= 0) {
			xasprintf(cause, "%s: [telegram] admins: '%s' is not "
			    "a user id", bc_conf_path(b->env.conf), list[i]);
			goto out;
		}
		b->c.admins[i] = v;
	}
	b->c.nadmins = n;
	rc = 0;
out:
	bc_conf_list_free(list, n);
	return rc;
}

/* Read [telegram]. */
static int
bot_conf_telegram(struct bot *b, char **cause)
{
	struct bc_conf *cf = b->env.conf;
	struct bot_conf *c = &b->c;
	const char *mode;
	char *cred;
	int rc;

	xasprintf(&cred, "%s.token", b->def->name);
	rc = bc_conf_secret(cf, "telegram", "token_file", cred, 1, &c->token,
	    cause);
	free(cred);
	if (rc == -1)
		return -1;
	if (bc_conf_str(cf, "telegram", "api_url", "https://api.telegram.org",
	    &c->api_url, cause) == -1 ||
	    bc_conf_str(cf, "telegram", "mode", "polling", &mode, cause) == -1 ||
	    bc_conf_bool(cf, "telegram", "set_commands", 1, &c->set_commands,
	    cause) == -1 ||
	    bc_conf_int(cf, "telegram", "poll_timeout", 30, 1, 50,
	    &c->poll_timeout, cause) == -1 ||
	    bc_conf_int(cf, "telegram", "global_rate", 30, 1, 1000000,
	    &c->global_rate, cause) == -1 ||
	    bc_conf_duration(cf, "telegram", "chat_interval", 1000,
	    &c->chat_interval_ms, cause) == -1 ||
	    bc_conf_int(cf, "telegram", "chat_burst", 3, 1, 1000,
	    &c->chat_burst, cause) == -1 ||
	    bc_conf_int(cf, "telegram", "group_per_min", 20, 1, 100000,
	    &c->group_per_min, cause) == -1 ||
	    bc_conf_str(cf, "telegram", "webhook_url", NULL, &c->webhook_url,
	    cause) == -1 ||
	    bc_conf_str(cf, "telegram", "webhook_path", "/telegram",
	    &c->webhook_path, cause) == -1 ||
	    bot_conf_admins(b, cause) == -1)
		return -1;
	if (strcmp(mode, "webhook") == 0)
		c->webhook = 1;
	else if (strcmp(mode, "polling") != 0) {
		xasprintf(cause, "%s: [telegram] mode: '%s' is not polling or "
		    "webhook", bc_conf_path(cf), mode);
		return -1;
	}
	if (!c->webhook)
		return 0;
	if (c->webhook_url == NULL) {
		xasprintf(cause, "%s: [telegram] mode = webhook needs "
		    "webhook_url", bc_conf_path(cf));
		return -1;
	}
	return bc_conf_secret(cf, "telegram", "webhook_secret_file",
	    "webhook.secret", 1, &c->webhook_secret, cause) == -1 ? -1 : 0;
}

/* Read [database], [http] and [bot]. */
static int
bot_conf_rest(struct bot *b, char **cause)
{
	struct bc_conf *cf = b->env.conf;
	struct bot_conf *c = &b->c;

	if (bc_conf_str(cf, "database", "url", NULL, &c->db_url,
	    cause) == -1 ||
	    bc_conf_str(cf, "database", "migrations", BC_SQLDIR,
	    &c->migrations, cause) == -1 ||
	    bc_conf_duration(cf, "database", "connect_timeout", 5000,
	    &c->connect_timeout_ms, cause) == -1 ||
	    bc_conf_duration(cf, "database", "statement_timeout", 10000,
	    &c->statement_timeout_ms, cause) == -1 ||
	    bc_conf_int(cf, "database", "batch_updates", 50, 0, 50,
	    &c->batch_updates, cause) == -1 ||
	    bc_conf_str(cf, "http", "listen", NULL, &c->listen, cause) == -1 ||
	    bc_conf_duration(cf, "bot", "stop_timeout", BOT_STOP_TIMEOUT_MS,
	    &c->stop_timeout_ms, cause) == -1)
		return -1;
	if (c->db_url == NULL) {
		xasprintf(cause, "%s: [database] url is required",
		    bc_conf_path(cf));
		return -1;
	}
	if (c->webhook && c->listen == NULL) {
		xasprintf(cause, "%s: [telegram] mode = webhook needs [http] "
		    "listen", bc_conf_path(cf));
		return -1;
	}
	return 0;
}

/* Load and check the whole configuration. 0, or -1 with *cause. */
static int
bot_configure(struct bot *b, const char *path, char **cause)
{
	const char *known[] = { "telegram", "database", "http", "log", "bot",
	    NULL, NULL };

	if ((b->env.conf = bc_conf_load(path, cause)) == NULL)
		return -1;
	if (bot_conf_log(b, cause) == -1 ||
	    bot_conf_telegram(b, cause) == -1 ||
	    bot_conf_rest(b, cause) == -1)
		return -1;
	if (b->def->configure != NULL && b->def->configure(&b->env,
	    cause) == -1)
		return -1;
	known[5] = b->def->name;
	if (bc_conf_unknown_sections(b->env.conf, known, cause) == -1)
		return -1;
	return bc_conf_check_unused(b->env.conf, cause);
}

/* /health/ready: the database answers and getMe succeeded. */
static int
bot_ready(void *arg, char **why)
{
	struct bot *b = arg;

	if (!b->ready) {
		*why = xstrdup("starting");
		return 0;
	}
	if (b->stopping) {
		*why = xstrdup("stopping");
		return 0;
	}
	if (bc_db_in_tx(b->env.db))
		return 1;	/* in a handler right now: it is alive */
	if (bc_db_ping(b->env.db) == -1) {
		*why = xstrdup("database unreachable");
		return 0;
	}
	return 1;
}

/* A 401 from Telegram: the token is wrong or revoked. */
static void
bot_fatal(struct bc_tg *tg, const char *reason, void *arg)
{
	struct bot *b = arg;

	(void)tg;
	log_warnx("telegram rejected the token: %s", reason);
	b->exitcode = BC_EXIT_PERM;
	bc_ev_stop();
}

/* Nothing left to send, or time is up: leave the loop. */
static void
bot_flush(void *arg)
{
	struct bot *b = arg;

	if ((bc_tg_idle(b->env.tg) &&
	    bc_router_outbox_inflight(b->env.router) == 0) ||
	    bc_now_ms() >= b->stop_deadline) {
		if (!bc_tg_idle(b->env.tg))
			log_warnx("stop timeout: %zu calls not sent",
			    bc_tg_queued(b->env.tg) + bc_tg_inflight(b->env.tg));
		bc_ev_stop();
		return;
	}
	bc_timer_start(b->flush, 20);
}

/* SIGTERM or SIGINT: stop updates, flush what can be flushed. */
static void
bot_signal(int signo, void *arg)
{
	struct bot *b = arg;

	if (b->stopping) {
		log_info("second signal %d: stopping now", signo);
		bc_ev_stop();
		return;
	}
	log_info("signal %d: stopping", signo);
	b->stopping = 1;
	bc_notify_status("stopping");
	bc_tg_stop_updates(b->env.tg);
	b->stop_deadline = bc_now_ms() + b->c.stop_timeout_ms;
	bot_flush(b);
}

static void
bot_commands_done(const struct bc_tg_result *res, void *arg)
{
	(void)arg;
	if (!res->ok)
		log_warnx("setMyCommands failed: %s", res->description);
}

/*
 * The command menu Telegram shows: every command that is neither hidden
 * nor for admins, its description the usage text (a leading "— " left
 * out) or, without one, its name; at most 100, as Telegram allows.
 */
static void
bot_set_commands(struct bot *b)
{
	const struct bc_cmd_entry *e;
	json_t *list;
	const char *d;
	char desc[257];
	size_t i, n;

	list = json_array();
	for (i = 0; i < b->def->ncmds && json_array_size(list) < 100; i++) {
		e = &b->def->cmds[i];
		if (e->flags & (BC_CMD_HIDDEN | BC_CMD_ADMIN))
			continue;
		d = e->usage != NULL ? e->usage : "";
		if (strncmp(d, "\xe2\x80\x94", 3) == 0)	/* "—" */
			d += 3;
		while (*d == ' ')
			d++;
		if (*d == '\0')
			d = e->name;
		/* Telegram counts characters; 256 bytes stay under 256. */
		if (bc_strlcpy(desc, d, sizeof desc) >= sizeof desc) {
			/* Cut before a character that did not fit whole. */
			n = sizeof desc - 1;
			while (n > 0 && ((unsigned char)d[n] & 0xc0) == 0x80)
				n--;
			desc[n] = '\0';
		}
		json_array_append_new(list, json_pack("{ss ss}", "command",
		    e->name, "description", desc));
	}
	if (json_array_size(list) == 0) {
		json_decref(list);
		return;
	}
	if (bc_tg_call(b->env.tg, "setMyCommands", json_pack("{so}",
	    "commands", list), 0, bot_commands_done, b) == -1)
		log_warnx("cannot queue setMyCommands");
}

/* getMe answered: start receiving updates. */
static void
bot_me(const struct bc_tg_result *res, void *arg)
{
	struct bot *b = arg;
	char *cause = NULL;
	int rc;

	if (!res->ok) {
		if (b->exitcode == 0)
			log_warnx("getMe failed: %s", res->description);
		if (b->exitcode == 0)
			b->exitcode = res->error_code == 401 ||
			    res->error_code == 404 ? BC_EXIT_PERM : BC_EXIT_TEMP;
		bc_ev_stop();
		return;
	}
	bc_router_set_username(b->env.router, bc_tg_me_username(b->env.tg));
	if (bc_router_start(b->env.router, &cause) == -1) {
		log_warnx("router: %s", cause);
		free(cause);
		cause = NULL;
	}
	if (b->c.webhook)
		rc = bc_tg_start_webhook(b->env.tg, b->env.httpd,
		    b->c.webhook_path, b->c.webhook_url, b->c.webhook_secret,
		    bc_router_update_cb, b->env.router, &cause);
	else {
		bc_tg_set_batch_cb(b->env.tg, bc_router_batch_cb,
		    b->env.router);
		rc = bc_tg_start_polling(b->env.tg, bc_router_update_cb,
		    b->env.router, &cause);
	}
	if (rc == -1) {
		log_warnx("%s", cause);
		free(cause);
		b->exitcode = BC_EXIT_TEMP;
		bc_ev_stop();
		return;
	}
	if (b->c.set_commands)
		bot_set_commands(b);
	b->ready = 1;
	bc_notify_ready();
	bc_notify_status("running as @%s (%s)", bc_tg_me_username(b->env.tg),
	    b->c.webhook ? "webhook" : "polling");
	log_kv(LOG_LEVEL_INFO, "ready", "bot", bc_tg_me_username(b->env.tg),
	    "mode", b->c.webhook ? "webhook" : "polling", NULL);
}

/* Open the database and apply the migrations. */
static int
bot_open_db(struct bot *b, char **cause)
{
	struct bc_db_opts o = { 0 };

	o.connect_timeout_ms = b->c.connect_timeout_ms;
	o.statement_timeout_ms = b->c.statement_timeout_ms;
	o.application_name = b->def->name;
	if ((b->env.db = bc_db_open(b->c.db_url, &o, cause)) == NULL)
		return -1;
	bc_db_set_metrics(b->env.db, b->env.metrics);
	return bc_db_migrate(b->env.db, b->c.migrations, cause);
}

/* The Telegram client and the router. */
static int
bot_open_tg(struct bot *b, char **cause)
{
	struct bc_tg_opts to = { 0 };
	struct bc_router_opts ro = { 0 };
	const struct bc_bot *d = b->def;

	to.api_url = b->c.api_url;
	to.token = b->c.token;
	to.mode = b->c.webhook ? BC_TG_MODE_WEBHOOK : BC_TG_MODE_POLLING;
	to.admins = b->c.admins;
	to.nadmins = b->c.nadmins;
	to.poll_timeout_s = (int)b->c.poll_timeout;
	to.global_rate = (double)b->c.global_rate;
	to.chat_interval_s = (double)b->c.chat_interval_ms / 1000.0;
	to.chat_burst = (int)b->c.chat_burst;
	to.group_per_min = (int)b->c.group_per_min;
	to.metrics = b->env.metrics;
	to.on_fatal = bot_fatal;
	to.fatal_arg = b;
	if ((b->env.tg = bc_tg_new(b->env.base, b->env.http, &to,
	    cause)) == NULL)
		return -1;
	ro.bot = d->name;
	ro.db = b->env.db;
	ro.tg = b->env.tg;
	ro.cmds = d->cmds;
	ro.ncmds = d->ncmds;
	ro.cbs = d->cbs;
	ro.ncbs = d->ncbs;
	ro.convs = d->convs;
	ro.nconvs = d->nconvs;
	ro.on_message = d->on_message;
	ro.on_update = d->on_update;
	ro.admins = b->c.admins;
	ro.nadmins = b->c.nadmins;
	ro.texts = d->texts;
	ro.metrics = b->env.metrics;
	ro.batch_max = (size_t)b->c.batch_updates;
	ro.arg = d->arg;
	b->env.router = bc_router_new(&ro, cause);
	return b->env.router == NULL ? -1 : 0;
}

/* Bring everything up. -1 with *cause and b->exitcode set. */
static int
bot_start(struct bot *b, char **cause)
{
	char port[16];

	b->exitcode = BC_EXIT_PERM;
	if ((b->lockfd = bc_tg_lock_instance(b->c.token, NULL, cause)) == -1)
		return -1;
	b->exitcode = BC_EXIT_TEMP;
	if (bc_ev_init() == -1) {
		*cause = xstrdup("cannot create the event loop");
		return -1;
	}
	b->env.base = bc_ev_base();
	bc_notify_init();
	b->env.metrics = bc_metrics_new();
	if (b->c.listen != NULL) {
		b->exitcode = BC_EXIT_PERM;
		if ((b->env.httpd = bc_httpd_new(b->env.base, b->c.listen,
		    cause)) == NULL)
			return -1;
		/* With port 0 in listen, this line is the only way to know. */
		snprintf(port, sizeof port, "%d", bc_httpd_port(b->env.httpd));
		log_kv(LOG_LEVEL_INFO, "http listening", "listen", b->c.listen,
		    "port", port, NULL);
		b->exitcode = BC_EXIT_TEMP;
		bc_metrics_serve(b->env.metrics, b->env.httpd, bot_ready, b);
	}
	if ((b->env.http = bc_http_new(b->env.base, cause)) == NULL ||
	    bot_open_db(b, cause) == -1 || bot_open_tg(b, cause) == -1)
		return -1;
	if (b->def->setup != NULL && b->def->setup(&b->env, cause) == -1)
		return -1;
	bc_ev_on_signal(SIGTERM, bot_signal, b);
	bc_ev_on_signal(SIGINT, bot_signal, b);
	b->flush = bc_timer_new(bot_flush, b);
	bc_notify_start_watchdog(b->env.base);
	bc_notify_status("starting");
	if (bc_tg_get_me(b->env.tg, bot_me, b) == -1) {
		*cause = xstrdup("cannot queue getMe");
		return -1;
	}
	b->exitcode = 0;
	return 0;
}

/* Free everything, in reverse order. */
static void
bot_stop(struct bot *b)
{
	if (b->def->teardown != NULL && b->env.base != NULL)
		b->def->teardown(&b->env);
	bc_timer_free(b->flush);
	bc_notify_close();
	bc_httpd_free(b->env.httpd);
	bc_tg_free(b->env.tg);
	bc_router_free(b->env.router);
	bc_http_free(b->env.http);
	bc_db_close(b->env.db);
	bc_metrics_free(b->env.metrics);
	bc_ev_free();
	bc_conf_free(b->env.conf);
	bc_conf_secret_free(b->c.token);
	bc_conf_secret_free(b->c.webhook_secret);
	if (b->lockfd != -1)
		close(b->lockfd);
}

int
bc_bot_run(int argc, char **argv, const struct bc_bot *def)
{
	static const struct option longopts[] = {
		{ "check-config", no_argument, NULL, 'C' },
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct bot b;
	const char *path = NULL;
	char *cause = NULL;
	int ch, check = 0;

	memset(&b, 0, sizeof b);
	b.def = def;
	b.env.name = def->name;
	b.env.arg = def->arg;
	b.lockfd = -1;
	log_init(def->name, LOG_LEVEL_INFO, 0);
	while ((ch = getopt_long(argc, argv, "c:v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'v':
			log_init(def->name, LOG_LEVEL_DEBUG, 0);
			break;
		case 'C':
			check = 1;
			break;
		default:
			bot_usage(def->name);
			return BC_EXIT_PERM;
		}
	}
	if (path == NULL || optind != argc) {
		bot_usage(def->name);
		return BC_EXIT_PERM;
	}
	if (bot_configure(&b, path, &cause) == -1) {
		log_kv(LOG_LEVEL_ERROR, "bad configuration", "error", cause,
		    NULL);
		b.exitcode = BC_EXIT_PERM;
	} else if (check) {
		log_info("configuration ok");
	} else if (bot_start(&b, &cause) == -1) {
		log_kv(LOG_LEVEL_ERROR, "cannot start", "error", cause, NULL);
	} else {
		bc_ev_run();
		log_info("stopped");
	}
	free(cause);
	bot_stop(&b);
	return b.exitcode;
}
