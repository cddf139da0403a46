/*
 * Leveled one-line logging to stderr, in logfmt or JSON lines.
 *
 *   level=info msg="connected to database" db=game
 *   {"level":"info","msg":"connected to database","db":"game"}
 *
 * The API is OpenBSD's log.c: log_warn() appends the errno text as an
 * error= field, log_warnx() does not; fatal()/fatalx() log and exit, and
 * are for programs only, never for library code. Every function saves and
 * restores errno.
 *
 * Untrusted text (chat content, API error bodies) may go into messages and
 * values as it is: everything is escaped, so one event is always one line.
 * Strings registered with log_redact() (tokens, passwords) are replaced by
 * "[redacted]" wherever they appear in a message or value.
 */
#ifndef BOTCOMMON_LOG_H
#define BOTCOMMON_LOG_H

#include <stdarg.h>
#include <stdio.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

enum log_flags {
	LOG_JSON = (1 << 0),	/* JSON lines instead of logfmt */
	LOG_TIME = (1 << 1),	/* add ts= (botd timestamps its bots' lines) */
};

/*
 * Set the program name, the most verbose level shown and the flags.
 * BOTFLEET_LOG_FORMAT=json and BOTFLEET_LOG_LEVEL=debug in the environment
 * override the arguments. Before log_init() everything at info and above
 * goes out in logfmt.
 */
void	log_init(const char *prog, enum log_level, int flags);
const char *log_prog(void);

/* Send output to another stream (tests); NULL means stderr. Borrowed. */
void	log_set_stream(FILE *);

/*
 * Hide every occurrence of secret (copied; at least 4 bytes, shorter ones
 * are ignored) in later output. Returns 0, or -1 when the table is full.
 */
int	log_redact(const char *secret);
void	log_redact_clear(void);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * One event with fields: key and value strings in pairs after msg, ending
 * with NULL. A NULL value inside the list prints as an empty string.
 *   log_kv(LOG_LEVEL_INFO, "update handled", "update_id", id, "ms", ms,
 *       NULL);
 */
void	log_kv(enum log_level, const char *msg, ...)
	    __attribute__((sentinel));
void	log_vkv(enum log_level, const char *msg, va_list);

int	log_enabled(enum log_level);

/*
 * Escape s (len bytes) as a logfmt quoted value body: \" \\ \n \t and \xNN
 * for control bytes and invalid UTF-8. Returns a string the caller frees.
 */
char	*log_escape(const char *s, size_t len);

#endif /* BOTCOMMON_LOG_H */
