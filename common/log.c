/* Leveled one-line logging in logfmt or JSON lines (OpenBSD log.c API). */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <botcommon/buf.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#define LOG_REDACT_MAX	16
#define LOG_REDACTED	"[redacted]"

static const char *log_names[] = { "error", "warn", "info", "debug" };

static struct {
	const char	*prog;
	enum log_level	 level;
	int		 flags;
	FILE		*stream;
	char		*redact[LOG_REDACT_MAX];
	size_t		 nredact;
} L = { "botfleet", LOG_LEVEL_INFO, 0, NULL, { NULL }, 0 };


void
log_init(const char *prog, enum log_level level, int flags)
{
	const char *e;

	L.prog = prog;
	L.level = level;
	L.flags = flags;
	if ((e = getenv("BOTFLEET_LOG_FORMAT")) != NULL) {
		if (strcmp(e, "json") == 0)
			L.flags |= LOG_JSON;
		else if (strcmp(e, "logfmt") == 0)
			L.flags &= ~LOG_JSON;
	}
	if ((e = getenv("BOTFLEET_LOG_LEVEL")) != NULL) {
		size_t i;

		for (i = 0; i < BC_NELEM(log_names); i++)
			if (strcmp(e, log_names[i]) == 0)
				L.level = (enum log_level)i;
	}
}

const char *
log_prog(void)
{
	return L.prog;
}

void
log_set_stream(FILE *f)
{
	L.stream = f;
}

int
log_enabled(enum log_level level)
{
	return level <= L.level;
}

int
log_redact(const char *secret)
{
	size_t i;

	if (secret == NULL || strlen(secret) < 4)
		return 0;
	for (i = 0; i < L.nredact; i++)
		if (strcmp(L.redact[i], secret) == 0)
			return 0;
	if (L.nredact == LOG_REDACT_MAX)
		return -1;
	L.redact[L.nredact++] = xstrdup(secret);
	return 0;
}

void
log_redact_clear(void)
{
	while (L.nredact > 0) {
		L.nredact--;
		free(L.redact[L.nredact]);
		L.redact[L.nredact] = NULL;
	}
}

/* Copy s with every registered secret replaced. Caller frees. */
static char *
log_apply_redact(const char *s)
{
	struct bc_buf b = BC_BUF_ZERO;
	const char *hit, *best;
	size_t i, blen = 0;

	bc_buf_str(&b, "");
	for (;;) {
		best = NULL;
		for (i = 0; i < L.nredact; i++) {
			hit = strstr(s, L.redact[i]);
			if (hit != NULL && (best == NULL || hit < best)) {
				best = hit;
				blen = strlen(L.redact[i]);
			}
		}
		if (best == NULL)
			break;
		bc_buf_add(&b, s, (size_t)(best - s));
		bc_buf_str(&b, LOG_REDACTED);
		s = best + blen;
	}
	bc_buf_str(&b, s);
	return b.p;
}

/* Escape for logfmt (json == 0) or for a JSON string (json == 1). */
static void
lb_escape(struct bc_buf *b, const char *s, size_t len, int json)
{
	const unsigned char *p = (const unsigned char *)s;
	char hex[8];
	size_t i = 0, n;

	while (i < len) {
		switch (p[i]) {
		case '"':
			bc_buf_str(b, "\\\"");
			i++;
			continue;
		case '\\':
			bc_buf_str(b, "\\\\");
			i++;
			continue;
		case '\n':
			bc_buf_str(b, "\\n");
			i++;
			continue;
		case '\r':
			bc_buf_str(b, "\\r");
			i++;
			continue;
		case '\t':
			bc_buf_str(b, "\\t");
			i++;
			continue;
		}
		if (p[i] < 0x20 || p[i] == 0x7f) {
			snprintf(hex, sizeof hex, json ? "\\u%04x" : "\\x%02x",
			    p[i]);
			bc_buf_str(b, hex);
			i++;
			continue;
		}
		if ((n = bc_utf8_seqlen(p + i, len - i)) == 0) {
			/* Invalid UTF-8: visible, and valid in JSON too. */
			snprintf(hex, sizeof hex, json ? "\\\\x%02x" :
			    "\\x%02x", p[i]);
			bc_buf_str(b, hex);
			i++;
			continue;
		}
		bc_buf_add(b, s + i, n);
		i += n;
	}
}

char *
log_escape(const char *s, size_t len)
{
	struct bc_buf b = BC_BUF_ZERO;

	bc_buf_str(&b, "");
	lb_escape(&b, s, len, 0);
	return b.p;
}

/* Does a logfmt value need quotes? */
static int
log_needs_quotes(const char *s)
{
	if (*s == '\0')
		return 1;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == '=' || c == '"' || c == '\\' ||
		    c == 0x7f || c >= 0x80)
			return 1;
	}
	return 0;
}

/* Append one key and value (value already redacted). */
static void
lb_field(struct bc_buf *b, const char *key, const char *val)
{
	int json = (L.flags & LOG_JSON) != 0;

	if (json) {
		bc_buf_str(b, ",\"");
		lb_escape(b, key, strlen(key), 1);
		bc_buf_str(b, "\":\"");
		lb_escape(b, val, strlen(val), 1);
		bc_buf_str(b, "\"");
		return;
	}
	bc_buf_str(b, " ");
	lb_escape(b, key, strlen(key), 0);
	bc_buf_str(b, "=");
	if (log_needs_quotes(val)) {
		bc_buf_str(b, "\"");
		lb_escape(b, val, strlen(val), 0);
		bc_buf_str(b, "\"");
	} else
		bc_buf_str(b, val);
}

static void
lb_field_redacted(struct bc_buf *b, const char *key, const char *val)
{
	char *r;

	r = log_apply_redact(val != NULL ? val : "");
	lb_field(b, key, r);
	free(r);
}

/* Write one event: level, msg, then key/value pairs from ap. */
static void
log_emit(enum log_level level, const char *msg, const char *errtext,
    va_list ap)
{
	struct bc_buf b = BC_BUF_ZERO;
	FILE *f = L.stream != NULL ? L.stream : stderr;
	const char *k, *v;
	char ts[64];

	bc_buf_str(&b, (L.flags & LOG_JSON) ? "{" : "");
	if (L.flags & LOG_TIME) {
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof ts - 6, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(ts + strlen(ts), 8, ".%03uZ",
		    (unsigned)(now.tv_nsec / 1000000) % 1000);
		lb_field(&b, "ts", ts);
	}
	lb_field(&b, "level", log_names[level]);
	lb_field_redacted(&b, "msg", msg);
	if (errtext != NULL)
		lb_field_redacted(&b, "error", errtext);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		lb_field_redacted(&b, k, v);
	}
	if (L.flags & LOG_JSON) {
		/* The first field was written with a leading comma. */
		memmove(b.p + 1, b.p + 2, b.len - 1);
		b.len--;
		bc_buf_str(&b, "}\n");
	} else {
		memmove(b.p, b.p + 1, b.len);
		b.len--;
		bc_buf_str(&b, "\n");
	}
	fwrite(b.p, 1, b.len, f);
	fflush(f);
	free(b.p);
}

/* Emit with no extra fields (a va_list holding only the terminator). */
static void
log_emit0(enum log_level level, const char *msg, const char *errtext, ...)
{
	va_list ap;

	va_start(ap, errtext);
	log_emit(level, msg, errtext, ap);
	va_end(ap);
}

static void
log_vmsg(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	char *msg;

	if (!log_enabled(level)) {
		errno = saved;
		return;
	}
	xvasprintf(&msg, fmt, ap);
	log_emit0(level, msg, with_errno ? strerror(saved) : NULL,
	    (const char *)NULL);
	free(msg);
	errno = saved;
}

void
log_vkv(enum log_level level, const char *msg, va_list ap)
{
	int saved = errno;

	if (log_enabled(level))
		log_emit(level, msg, NULL, ap);
	errno = saved;
}

void
log_kv(enum log_level level, const char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	log_vkv(level, msg, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_WARN, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_WARN, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(BC_EXIT_TEMP);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(BC_EXIT_TEMP);
}
