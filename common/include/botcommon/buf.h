/*
 * A growing byte string, always NUL-terminated (skalibs' stralloc). A value
 * struct: initialise with BC_BUF_ZERO; the buffer owns p until
 * bc_buf_release() frees it or bc_buf_detach() hands it to the caller.
 * Allocation failure aborts (xmalloc).
 */
#ifndef BOTCOMMON_BUF_H
#define BOTCOMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct bc_buf {
	char	*p;	/* NULL until the first append */
	size_t	 len;	/* bytes, not counting the NUL */
	size_t	 cap;
};

#define BC_BUF_ZERO	{ NULL, 0, 0 }

void	bc_buf_add(struct bc_buf *, const void *, size_t);
void	bc_buf_str(struct bc_buf *, const char *);
void	bc_buf_printf(struct bc_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	bc_buf_vprintf(struct bc_buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));

/* Empty it, keeping the allocation. */
void	bc_buf_reset(struct bc_buf *);

/* Free the contents; the struct is BC_BUF_ZERO again. */
void	bc_buf_release(struct bc_buf *);

/* The contents as a string the caller frees ("" when empty); the buffer is
 * BC_BUF_ZERO again. */
char	*bc_buf_detach(struct bc_buf *);

/*
 * A message template filled in: each "{name}" of tmpl is replaced by the
 * value that follows name in the NULL-terminated list of name, value
 * pairs (all strings); an unknown name, or a '{' without a '}', stays as
 * it is. Returns a string the caller frees.
 */
char	*bc_tmpl(const char *tmpl, ...) __attribute__((sentinel));
char	*bc_vtmpl(const char *tmpl, va_list);

#endif /* BOTCOMMON_BUF_H */
