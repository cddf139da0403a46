/*
 * The love bot's two data files: the reasons (one a line, blank lines and
 * lines starting with '#' skipped) and the quiz (an INI file, one
 * [question N] section a question with text, a to d and answer). Both
 * are read once at start, checked, and a bad one is a configuration
 * error.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/conf.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "love.h"

/* 1 when s (len bytes) is valid UTF-8 without control characters. */
static int
love_text_ok(const char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return 0;
		if ((n = bc_utf8_seqlen((const unsigned char *)s + i,
		    len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

int
love_reasons_load(struct love *l, const char *path, char **cause)
{
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	FILE *f;
	int rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if ((size_t)n > LOVE_LINE_MAX || !love_text_ok(line,
		    (size_t)n)) {
			xasprintf(cause, "%s:%zu: too long, or not UTF-8 text",
			    path, lineno);
			goto out;
		}
		if (l->nreasons == LOVE_REASONS_MAX) {
			xasprintf(cause, "%s: more than %d reasons", path,
			    LOVE_REASONS_MAX);
			goto out;
		}
		l->reasons = xreallocarray(l->reasons, l->nreasons + 1,
		    sizeof *l->reasons);
		l->reasons[l->nreasons++] = xstrdup(line);
	}
	if (l->nreasons == 0)
		xasprintf(cause, "%s: no reasons in it", path);
	else
		rc = 0;
out:
	free(line);
	fclose(f);
	return rc;
}

/* One [question N] section into q. */
static int
love_question(struct bc_conf *cf, const char *sec, struct love_question *q,
    char **cause)
{
	static const char *const keys[LOVE_OPTS_MAX] = { "a", "b", "c", "d" };
	const char *v, *answer;
	int i;

	if (bc_conf_str(cf, sec, "text", NULL, &v, cause) == -1 ||
	    bc_conf_str(cf, sec, "answer", NULL, &answer, cause) == -1)
		return -1;
	if (v == NULL || answer == NULL || !love_text_ok(v, strlen(v)) ||
	    strlen(v) > LOVE_LINE_MAX) {
		xasprintf(cause, "%s: [%s] needs text and answer (UTF-8)",
		    bc_conf_path(cf), sec);
		return -1;
	}
	q->text = xstrdup(v);
	q->answer = -1;
	for (i = 0; i < LOVE_OPTS_MAX; i++) {
		if (bc_conf_str(cf, sec, keys[i], NULL, &v, cause) == -1)
			return -1;
		if (v == NULL)
			break;
		if (*v == '\0' || strlen(v) > 200 || !love_text_ok(v,
		    strlen(v))) {
			xasprintf(cause, "%s: [%s] %s: empty, too long or not "
			    "UTF-8", bc_conf_path(cf), sec, keys[i]);
			return -1;
		}
		q->opts[q->nopts++] = xstrdup(v);
		if (strcmp(answer, keys[i]) == 0)
			q->answer = i;
	}
	if (q->nopts < 2 || q->answer == -1) {
		xasprintf(cause, "%s: [%s] needs options a and b (up to d) and "
		    "answer naming one of them", bc_conf_path(cf), sec);
		return -1;
	}
	return 0;
}

int
love_quiz_load(struct love *l, const char *path, char **cause)
{
	static const char *const known[] = { "question ", NULL };
	struct bc_conf *cf;
	size_t i, n;
	int rc = -1;

	if ((cf = bc_conf_load(path, cause)) == NULL)
		return -1;
	if (bc_conf_unknown_sections(cf, known, cause) == -1)
		goto out;
	if ((n = bc_conf_nsections(cf)) == 0 || n > LOVE_QUIZ_MAX) {
		xasprintf(cause, "%s: want 1 to %d [question N] sections",
		    path, LOVE_QUIZ_MAX);
		goto out;
	}
	l->quiz = xcalloc(n, sizeof *l->quiz);
	for (i = 0; i < n; i++) {
		l->nquiz = i + 1;
		if (love_question(cf, bc_conf_section(cf, i), &l->quiz[i],
		    cause) == -1)
			goto out;
	}
	rc = bc_conf_check_unused(cf, cause);
out:
	bc_conf_free(cf);
	return rc;
}

void
love_data_free(struct love *l)
{
	size_t i;
	int j;

	for (i = 0; i < l->nreasons; i++)
		free(l->reasons[i]);
	free(l->reasons);
	for (i = 0; i < l->nquiz; i++) {
		free(l->quiz[i].text);
		for (j = 0; j < l->quiz[i].nopts; j++)
			free(l->quiz[i].opts[j]);
	}
	free(l->quiz);
	l->reasons = NULL;
	l->quiz = NULL;
	l->nreasons = l->nquiz = 0;
}
