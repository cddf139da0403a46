/*
 * memories: the password-protected weekly diary with reminders
 * (bots-spec.md section 5), on libbotcommon. See memories.h for the files.
 *
 * [memories] keys: key_file (required, or the credential memories.key),
 * create_key, session_idle, max_password_failures, lockout,
 * reminder_check, reminder_grace, confirm_delete, error_delete,
 * encrypt_existing.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/bot.h>
#include <botcommon/conf.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "memories.h"
#include "msg.h"

static struct mem mem;

/* Log a database (or other) failure of a handler; returns -1. */
int
mem_fail(const char *what, char *cause)
{
	log_warnx("%s: %s", what, cause != NULL ? cause : "failed");
	free(cause);
	return -1;
}

int
mem_help(struct bc_router_ctx *ctx)
{
	struct mem *m = ctx->arg;
	char *text;
	int rc;

	xasprintf(&text, MSG_HELP, (long long)(m->session_idle_ms / 60000));
	rc = bc_router_reply(ctx, text, BC_TG_HTML, NULL);
	free(text);
	return rc;
}

static int
cmd_help(struct bc_router_ctx *ctx)
{
	return mem_help(ctx);
}

/* A duration key within [min, max]. */
static int
conf_dur(struct bc_conf *c, const char *key, int64_t def, int64_t min,
    int64_t max, int64_t *out, char **cause)
{
	if (bc_conf_duration(c, "memories", key, def, out, cause) == -1)
		return -1;
	if (*out < min || *out > max) {
		xasprintf(cause, "%s: [memories] %s: out of range",
		    bc_conf_path(c), key);
		return -1;
	}
	return 0;
}

static int
mem_configure(struct bc_bot_env *env, char **cause)
{
	struct mem *m = env->arg;
	struct bc_conf *c = env->conf;

	if (conf_dur(c, "session_idle", 600000, 1000, 86400000,
	    &m->session_idle_ms, cause) == -1 ||
	    conf_dur(c, "lockout", 900000, 1000, 7 * 86400000LL,
	    &m->lockout_ms, cause) == -1 ||
	    bc_conf_int(c, "memories", "max_password_failures", 5, 1, 1000,
	    &m->max_failures, cause) == -1 ||
	    conf_dur(c, "reminder_check", 60000, 100, 3600000,
	    &m->remind_check_ms, cause) == -1 ||
	    conf_dur(c, "reminder_grace", 86400000, 60000, 6 * 86400000LL,
	    &m->remind_grace_ms, cause) == -1 ||
	    conf_dur(c, "confirm_delete", 3000, 0, 600000, &m->confirm_ms,
	    cause) == -1 ||
	    conf_dur(c, "error_delete", 5000, 0, 600000, &m->error_ms,
	    cause) == -1 ||
	    bc_conf_bool(c, "memories", "encrypt_existing", 1,
	    &m->encrypt_existing, cause) == -1)
		return -1;
	return mem_key_load(m, c, 1, cause);
}

static int
mem_setup(struct bc_bot_env *env, char **cause)
{
	struct mem *m = env->arg;

	m->env = env;
	if (mem_key_load(m, env->conf, 0, cause) == -1)
		return -1;
	if (m->encrypt_existing && mem_encrypt_existing(m, cause) == -1)
		return -1;
	m->tidy = tidy_new(m);
	m->backup_timer = bc_timer_new(mem_backup_flush, m);
	tidy_kick(m->tidy);	/* deletions left by the last run */
	return mem_remind_setup(m, cause);
}

static void
mem_teardown(struct bc_bot_env *env)
{
	struct mem *m = env->arg;
	struct mem_backup *b;
	struct mem_post *p;

	mem_remind_teardown(m);
	tidy_free(m->tidy);
	m->tidy = NULL;
	bc_timer_free(m->backup_timer);
	m->backup_timer = NULL;
	while ((b = m->backups) != NULL) {
		m->backups = b->next;
		mem_backup_free(b);
	}
	while ((p = m->posts) != NULL) {
		m->posts = p->next;
		mem_post_free(p);
	}
	explicit_bzero(m->key, sizeof m->key);
}

#define PRIV	BC_CMD_PRIVATE
#define HID	BC_CMD_HIDDEN

static const struct bc_cmd_entry mem_cmds[] = {
	{ "start", { NULL }, PRIV, 0, 20, 0, NULL, cmd_start },
	{ "help", { NULL }, PRIV, 0, 20, 0, NULL, cmd_help },
	{ "weekly", { NULL }, PRIV, 0, 20, 0, NULL, cmd_weekly },
	{ "extra", { NULL }, PRIV, 0, 20, 0, NULL, cmd_extra },
	{ "memories", { NULL }, PRIV, 0, 20, 0, NULL, cmd_memories },
	{ "review", { NULL }, PRIV, 0, 20, 0, NULL, cmd_review },
	{ "stats", { NULL }, PRIV, 0, 20, 0, NULL, cmd_stats },
	{ "backup", { NULL }, PRIV, 0, 5, 0, NULL, cmd_backup },
	{ "setreminder", { NULL }, PRIV, 0, 20, 0, NULL, cmd_setreminder },
	{ "timezone", { NULL }, PRIV, 0, 20, 0, NULL, cmd_timezone },
	{ "lock", { NULL }, PRIV, 0, 20, 0, NULL, cmd_lock },
	{ "next", { NULL }, PRIV, HID, 60, 0, NULL, cmd_review_nav },
	{ "prev", { NULL }, PRIV, HID, 60, 0, NULL, cmd_review_nav },
	{ "first", { NULL }, PRIV, HID, 60, 0, NULL, cmd_review_nav },
	{ "last", { NULL }, PRIV, HID, 60, 0, NULL, cmd_review_nav },
	{ "close", { NULL }, PRIV, HID, 60, 0, NULL, cmd_review_nav },
};

static const struct bc_cb_entry mem_cbs[] = {
	{ "nav_first", 0, cb_nav },
	{ "nav_prev:", 0, cb_nav },
	{ "nav_next:", 0, cb_nav },
	{ "nav_last", 0, cb_nav },
	{ "mem_stats", 0, cb_stats },
	{ "mem_close", 0, cb_close },
};

static const struct bc_conv_entry mem_convs[] = {
	{ "register", conv_register },
	{ "unlock", conv_unlock },
	{ "write", conv_write },
	{ "review", conv_review },
};

static const struct bc_router_texts mem_texts = {
	.unknown = MSG_R_UNKNOWN,
	.private_only = MSG_R_PRIVATE,
	.group_only = MSG_R_GROUP,
	.admin_only = MSG_R_ADMIN,
	.wait = MSG_R_WAIT,
	.error = MSG_R_ERROR,
	.cancelled = MSG_R_CANCELLED,
	.nothing_to_cancel = MSG_R_NOTHING,
};

static const struct bc_bot mem_bot = {
	.name = "memories",
	.cmds = mem_cmds,
	.ncmds = BC_NELEM(mem_cmds),
	.cbs = mem_cbs,
	.ncbs = BC_NELEM(mem_cbs),
	.convs = mem_convs,
	.nconvs = BC_NELEM(mem_convs),
	.texts = &mem_texts,
	.configure = mem_configure,
	.setup = mem_setup,
	.teardown = mem_teardown,
	.arg = &mem,
};

int
main(int argc, char **argv)
{
	return bc_bot_run(argc, argv, &mem_bot);
}
