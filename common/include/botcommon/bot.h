/*
 * The common main of every bot: configuration, the single-instance lock,
 * the database and its migrations, the Telegram client, the router, health
 * and metrics, readiness and heartbeats to botd, and a clean shutdown.
 *
 *   static const struct bc_bot echo = {
 *	.name = "echo", .cmds = cmds, .ncmds = BC_NELEM(cmds),
 *	.on_message = echo_message,
 *   };
 *   int main(int argc, char **argv) { return bc_bot_run(argc, argv, &echo); }
 *
 * Usage: NAME -c FILE [-v] [--check-config]. The configuration file has
 * these sections besides the bot's own ([NAME]):
 *
 *   [telegram]  api_url, token_file, mode (polling | webhook), admins,
 *               poll_timeout, global_rate, chat_interval, chat_burst,
 *               group_per_min, webhook_url, webhook_path,
 *               webhook_secret_file, set_commands (yes: once getMe
 *               answered, setMyCommands with the commands that are
 *               neither hidden nor admin-only, each described by its
 *               usage, a leading "— " left out, or by its name)
 *   [database]  url, connect_timeout, statement_timeout, migrations,
 *               batch_updates
 *   [http]      listen (health, metrics, webhook; off when absent)
 *   [log]       level (error | warn | info | debug), format (logfmt | json)
 *
 * The token comes from token_file (mode 0600) or, without it, from
 * $CREDENTIALS_DIRECTORY/NAME.token. Exit codes: 0 after a clean stop,
 * 100 for a bad configuration, a second instance or a rejected token
 * (botd does not hammer those), 111 for a temporary failure (the database
 * or Telegram unreachable at start).
 */
#ifndef BOTCOMMON_BOT_H
#define BOTCOMMON_BOT_H

#include <stddef.h>

#include <botcommon/router.h>

struct bc_conf;
struct bc_db;
struct bc_tg;
struct bc_http;
struct bc_httpd;
struct bc_metrics;
struct event_base;

/* What a bot's hooks get; everything borrowed for the life of the run. */
struct bc_bot_env {
	const char		*name;
	struct bc_conf		*conf;
	struct event_base	*base;
	struct bc_db		*db;
	struct bc_http		*http;
	struct bc_httpd		*httpd;		/* NULL without [http] listen */
	struct bc_tg		*tg;
	struct bc_router	*router;
	struct bc_metrics	*metrics;
	void			*arg;		/* struct bc_bot's arg */
};

struct bc_bot {
	const char		 *name;		/* section name, lock, tables */
	const struct bc_cmd_entry *cmds;
	size_t			  ncmds;
	const struct bc_cb_entry  *cbs;
	size_t			  ncbs;
	const struct bc_conv_entry *convs;
	size_t			  nconvs;
	bc_cmd_fn		 *on_message;
	bc_cmd_fn		 *on_update;
	const struct bc_router_texts *texts;
	/*
	 * Read the bot's own section (env->conf only; nothing else is set
	 * yet). Runs for --check-config too, so it must not touch the
	 * network or the database. 0, or -1 with *cause: exit 100.
	 */
	int			(*configure)(struct bc_bot_env *, char **cause);
	/*
	 * Everything is up but updates are not flowing yet: add routes,
	 * schedule jobs. 0, or -1 with *cause: exit 111.
	 */
	int			(*setup)(struct bc_bot_env *, char **cause);
	/* Before anything is freed. May be NULL. */
	void			(*teardown)(struct bc_bot_env *);
	void			 *arg;
};

/* Run the bot; returns the process exit code. */
int	bc_bot_run(int argc, char **argv, const struct bc_bot *);

#endif /* BOTCOMMON_BOT_H */
