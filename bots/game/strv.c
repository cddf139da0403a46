/*
 * Lists of strings, as kept in pisunchik_data's text[] columns (read and
 * written as JSON arrays), and the "key:value" entries of characteristics
 * and player_stocks.
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <botcommon/xmalloc.h>

#include "game.h"

void
strv_clear(struct strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

void
strv_add(struct strv *sv, const char *s)
{
	sv->v = xreallocarray(sv->v, sv->n + 1, sizeof *sv->v);
	sv->v[sv->n++] = xstrdup(s);
}

/* Remove the first copy of s: 0, or -1 when there is none. */
int
strv_remove(struct strv *sv, const char *s)
{
	size_t i;

	for (i = 0; i < sv->n; i++) {
		if (strcmp(sv->v[i], s) != 0)
			continue;
		free(sv->v[i]);
		memmove(&sv->v[i], &sv->v[i + 1],
		    (sv->n - i - 1) * sizeof *sv->v);
		sv->n--;
		return 0;
	}
	return -1;
}

size_t
strv_count(const struct strv *sv, const char *s)
{
	size_t i, n = 0;

	for (i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			n++;
	return n;
}

/* Replace sv by the strings of a JSON array (other values skipped). */
int
strv_from_json(struct strv *sv, const char *text)
{
	json_t *a, *v;
	size_t i;

	strv_clear(sv);
	if (text == NULL)
		return 0;
	if ((a = json_loads(text, 0, NULL)) == NULL)
		return -1;
	if (json_is_array(a))
		json_array_foreach(a, i, v)
			if (json_is_string(v))
				strv_add(sv, json_string_value(v));
	json_decref(a);
	return 0;
}

/* The list as a JSON array text; caller frees. */
char *
strv_to_json(const struct strv *sv)
{
	json_t *a;
	char *s;
	size_t i;

	a = json_array();
	for (i = 0; i < sv->n; i++)
		json_array_append_new(a, json_string(sv->v[i]));
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (s == NULL)
		s = xstrdup("[]");
	return s;
}

/* Find "key:N"; its index, or -1. */
static ssize_t
strv_kv_find(const struct strv *sv, const char *key)
{
	size_t i, kl = strlen(key);

	for (i = 0; i < sv->n; i++)
		if (strncmp(sv->v[i], key, kl) == 0 && sv->v[i][kl] == ':')
			return (ssize_t)i;
	return -1;
}

/* The value N of "key:N", 0 when absent or not a number. */
int64_t
strv_kv_get(const struct strv *sv, const char *key)
{
	ssize_t i;
	char *end;
	long long v;

	if ((i = strv_kv_find(sv, key)) == -1)
		return 0;
	v = strtoll(sv->v[i] + strlen(key) + 1, &end, 10);
	return *end == '\0' ? v : 0;
}

/* Set "key:v", removing the entry when v is 0. */
void
strv_kv_set(struct strv *sv, const char *key, int64_t v)
{
	ssize_t i;
	char *s;

	xasprintf(&s, "%s:%" PRId64, key, v);
	if ((i = strv_kv_find(sv, key)) == -1) {
		if (v != 0)
			strv_add(sv, s);
		free(s);
		return;
	}
	if (v == 0) {
		strv_remove(sv, sv->v[i]);
		free(s);
		return;
	}
	free(sv->v[i]);
	sv->v[i] = s;
}
