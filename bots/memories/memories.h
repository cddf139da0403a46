/*
 * memories: the password-protected weekly diary (bots-spec.md section 5).
 * The bot's private header: one struct for its state and the prototypes,
 * grouped by file.
 */
#ifndef MEMORIES_H
#define MEMORIES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include <botcommon/bot.h>

#define MEM_KEY_LEN		32	/* AES-256 */
#define MEM_TEXT_MAX		4096	/* characters of one memory */
#define MEM_PASSWORD_MIN	4	/* bytes */
#define MEM_PASSWORD_MAX	256
#define MEM_ZONE_MAX		50	/* memories_users.timezone */
#define MEM_CARD_MAX		3500	/* UTF-16 units of content on a card */
#define MEM_CONV_TTL_MS		(15 * 60 * 1000)

/* What a gated command does once the password is known. */
enum mem_action {
	MEM_ACT_WEEKLY = 0,
	MEM_ACT_EXTRA,
	MEM_ACT_MEMORIES,
	MEM_ACT_REVIEW,
	MEM_ACT_STATS,
	MEM_ACT_BACKUP,
	MEM_ACT_COUNT
};

struct tidy;
struct bc_sched;
struct bc_timer;
struct bc_metric;

struct mem {
	struct bc_bot_env *env;		/* borrowed; set by setup */
	/* [memories] */
	int64_t		 session_idle_ms;
	int64_t		 lockout_ms;
	long long	 max_failures;
	int64_t		 remind_check_ms;
	int64_t		 remind_grace_ms;
	int64_t		 confirm_ms;	/* the countdown before deletion */
	int64_t		 error_ms;	/* a wrong password's error */
	int		 encrypt_existing;
	unsigned char	 key[MEM_KEY_LEN];
	/* runtime */
	struct bc_sched	*remind;
	struct bc_metric *m_checks;	/* reminder checks done */
	struct bc_metric *m_sent;	/* reminders sent */
	struct bc_timer	*remind_now;
	struct tidy	*tidy;
	struct bc_timer	*backup_timer;
	struct mem_backup *backups;	/* uploads waiting for the commit */
	struct mem_post	*posts;		/* calls waiting for the commit */
};

/* A Bot API call holding diary text, sent after the commit. */
struct mem_post {
	char		*method;
	json_t		*params;
	struct mem_post	*next;
};

/* A document to upload after the update's commit. */
struct mem_backup {
	int64_t		 chat_id;
	int64_t		 user_id;
	char		*data;
	size_t		 len;
	char		*filename;
	char		*caption;
	struct mem_backup *next;
};

/* A user's reminder schedule, as read from memories_users. */
struct mem_sched {
	int		 wday;		/* 0 = Sunday ... 6 = Saturday */
	int		 hh, mm;
	const char	*zone;		/* a valid IANA name, or "UTC" */
};

/* main.c */
int	mem_fail(const char *what, char *cause);
int	mem_help(struct bc_router_ctx *);

/* auth.c */
int	cmd_start(struct bc_router_ctx *);
int	cmd_lock(struct bc_router_ctx *);
int	conv_register(struct bc_router_ctx *);
int	conv_unlock(struct bc_router_ctx *);
int	mem_gate(struct bc_router_ctx *, enum mem_action);
int	mem_session_ok(struct bc_router_ctx *, int *ok);
int	mem_registered(struct bc_router_ctx *, int *yes);

/* write.c */
int	cmd_weekly(struct bc_router_ctx *);
int	cmd_extra(struct bc_router_ctx *);
int	conv_write(struct bc_router_ctx *);
int	mem_write_start(struct bc_router_ctx *, enum mem_action);
int	mem_encrypt_existing(struct mem *, char **cause);

/* browse.c */
int	cmd_memories(struct bc_router_ctx *);
int	cmd_review(struct bc_router_ctx *);
int	cmd_stats(struct bc_router_ctx *);
int	cmd_backup(struct bc_router_ctx *);
int	cmd_review_nav(struct bc_router_ctx *);
int	conv_review(struct bc_router_ctx *);
int	cb_nav(struct bc_router_ctx *);
int	cb_stats(struct bc_router_ctx *);
int	cb_close(struct bc_router_ctx *);
int	mem_show_card(struct bc_router_ctx *, int64_t index, int64_t edit_id);
int	mem_review_start(struct bc_router_ctx *);
int	mem_stats(struct bc_router_ctx *, int alert);
int	mem_backup(struct bc_router_ctx *);
void	mem_backup_flush(void *arg);
void	mem_backup_free(struct mem_backup *);
void	mem_post(struct mem *, const char *method, json_t *params);
void	mem_post_free(struct mem_post *);

/* remind.c */
int	cmd_setreminder(struct bc_router_ctx *);
int	cmd_timezone(struct bc_router_ctx *);
int	mem_remind_setup(struct mem *, char **cause);
void	mem_remind_teardown(struct mem *);
int	mem_schedule_reset(struct bc_router_ctx *, const struct mem_sched *);

/* zone.c: time, zones and the weekly occurrence (pure but for the clock) */
int64_t	mem_now_ms(void);
int	mem_zone_ok(const char *zone);
int	mem_local_tm(time_t t, const char *zone, struct tm *tm);
int	mem_parse_day(const char *s);
int	mem_parse_hhmm(const char *s, int *hh, int *mm);
const char *mem_day_name(int wday);
void	mem_ymd(const struct tm *, char date[11]);
int	mem_last_occurrence(time_t now, const struct mem_sched *,
	    time_t *when, char date[11]);
void	mem_sched_from_row(struct mem_sched *, const char *day,
	    const char *hhmm, const char *zone);

/* text.c: validation and formatting */
int	mem_text_valid(const char *s);
char	*mem_truncate16(const char *s, size_t max16);
void	mem_fmt_date(time_t t, const char *zone, char buf[32], int with_time);

/* seal.c: AES-256-GCM of memory text */
int	mem_key_load(struct mem *, struct bc_conf *, int check, char **cause);
char	*mem_seal(const struct mem *, int64_t user_id, const char *plain);
char	*mem_open(const struct mem *, int64_t user_id, const char *stored);
int	mem_is_sealed(const char *stored);

/* tidy.c: messages that delete themselves */
struct tidy *tidy_new(struct mem *);
void	tidy_free(struct tidy *);
int	tidy_user_msg(struct bc_router_ctx *, const char *flow,
	    int64_t message_id);
int	tidy_send(struct bc_router_ctx *, const char *flow, const char *text,
	    int countdown, int64_t delete_ms);
int	tidy_schedule(struct bc_router_ctx *, const char *flow,
	    int64_t delete_ms);
int	tidy_delete_now(struct bc_router_ctx *, int64_t message_id);
void	tidy_kick(struct tidy *);

#endif /* MEMORIES_H */
