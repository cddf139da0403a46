/*
 * Allocation that never returns NULL: on exhaustion the process logs and
 * aborts (tmux, smtpd). Everything returned is owned by the caller and
 * released with free(3).
 */
#ifndef BOTCOMMON_XMALLOC_H
#define BOTCOMMON_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 xvasprintf(char **, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));

#endif /* BOTCOMMON_XMALLOC_H */
