/* A growing byte string. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/buf.h>
#include <botcommon/xmalloc.h>

/* Make room for n more bytes and the NUL. */
static void
bc_buf_grow(struct bc_buf *b, size_t n)
{
	if (b->len + n + 1 <= b->cap)
		return;
	if (n > SIZE_MAX / 2 - b->len - 1)
		b->cap = b->len + n + 1;
	else
		b->cap = (b->len + n + 1) * 2;
	b->p = xrealloc(b->p, b->cap);
}

void
bc_buf_add(struct bc_buf *b, const void *s, size_t n)
{
	bc_buf_grow(b, n);
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
bc_buf_str(struct bc_buf *b, const char *s)
{
	bc_buf_add(b, s, strlen(s));
}

void
bc_buf_vprintf(struct bc_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	bc_buf_grow(b, (size_t)n);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void
bc_buf_printf(struct bc_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bc_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void
bc_buf_reset(struct bc_buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void
bc_buf_release(struct bc_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *
bc_buf_detach(struct bc_buf *b)
{
	char *p = b->p != NULL ? b->p : xstrdup("");

	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

char *
bc_vtmpl(const char *tmpl, va_list ap)
{
	struct bc_buf out = BC_BUF_ZERO;
	const char *p, *end, *k, *val, *v;
	va_list aq;
	size_t n;

	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '{' || (end = strchr(p, '}')) == NULL) {
			bc_buf_add(&out, p, 1);
			continue;
		}
		n = (size_t)(end - p - 1);
		v = NULL;
		va_copy(aq, ap);
		while (v == NULL && (k = va_arg(aq, const char *)) != NULL) {
			val = va_arg(aq, const char *);
			if (strlen(k) == n && strncmp(k, p + 1, n) == 0)
				v = val;
		}
		va_end(aq);
		if (v == NULL) {
			bc_buf_add(&out, p, 1);
			continue;
		}
		bc_buf_str(&out, v);
		p = end;
	}
	return bc_buf_detach(&out);
}

char *
bc_tmpl(const char *tmpl, ...)
{
	va_list ap;
	char *s;

	va_start(ap, tmpl);
	s = bc_vtmpl(tmpl, ap);
	va_end(ap);
	return s;
}
