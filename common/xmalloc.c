/* Allocation that aborts on exhaustion (tmux xmalloc.c). */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <botcommon/xmalloc.h>

static void __attribute__((noreturn))
xmalloc_die(const char *what, size_t n)
{
	char buf[128];
	int len;

	/* No logging machinery here: it may allocate. */
	len = snprintf(buf, sizeof buf, "level=error msg=\"%s: out of memory "
	    "allocating %zu bytes\"\n", what, n);
	if (len > 0)
		(void)!write(STDERR_FILENO, buf, (size_t)len);
	abort();
}

void *
xmalloc(size_t size)
{
	void *p;

	if (size == 0)
		size = 1;
	if ((p = malloc(size)) == NULL)
		xmalloc_die("xmalloc", size);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if ((p = calloc(nmemb, size)) == NULL)
		xmalloc_die("xcalloc", nmemb * size);
	return p;
}

void *
xrealloc(void *ptr, size_t size)
{
	return xreallocarray(ptr, 1, size);
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if (size > 0 && nmemb > SIZE_MAX / size)
		xmalloc_die("xreallocarray overflow", SIZE_MAX);
	if ((p = realloc(ptr, nmemb * size)) == NULL)
		xmalloc_die("xreallocarray", nmemb * size);
	return p;
}

char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		xmalloc_die("xstrdup", strlen(s) + 1);
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if ((p = strndup(s, n)) == NULL)
		xmalloc_die("xstrndup", n + 1);
	return p;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = xvasprintf(ret, fmt, ap);
	va_end(ap);
	return n;
}

int
xvasprintf(char **ret, const char *fmt, va_list ap)
{
	int n;

	n = vasprintf(ret, fmt, ap);
	if (n == -1)
		xmalloc_die("xvasprintf", 0);
	return n;
}
