/*
 * Request parameters, as Telegram takes them: the query string, then a body
 * in application/json, application/x-www-form-urlencoded or
 * multipart/form-data (uploads are recorded by name and size only). The
 * result is one JSON object; form values are strings, which the getters
 * below convert as Telegram does ("123" is a number, "true" a boolean,
 * reply_markup may be a JSON string).
 */

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include <botcommon/log.h>
#include <botcommon/xmalloc.h>

#include "tgfake.h"

#define UTF8_ERR	"Bad Request: strings must be encoded in UTF-8"

/* Percent-decode n bytes of s ('+' is a space) as a JSON string. */
static json_t *
form_decode(const char *s, size_t n)
{
	json_t *v;
	char *tmp, *dec;
	size_t len;

	tmp = xstrndup(s, n);
	if ((dec = evhttp_uridecode(tmp, 1, &len)) == NULL)
		fatalx("out of memory");
	v = json_stringn(dec, len);
	free(tmp);
	free(dec);
	return v;
}

/*
 * Add the pairs of a urlencoded string to o (a key without '=' gets "").
 * 0, or -1 with *cause set when a key or value is not UTF-8.
 */
static int
params_form(const char *s, json_t *o, char **cause)
{
	const char *amp, *eq;
	json_t *k, *v;
	size_t n;
	int ret = 0;

	for (; *s != '\0' && ret == 0; s = *amp != '\0' ? amp + 1 : amp) {
		amp = s + strcspn(s, "&");
		if ((n = (size_t)(amp - s)) == 0)
			continue;
		eq = memchr(s, '=', n);
		k = form_decode(s, eq != NULL ? (size_t)(eq - s) : n);
		v = eq != NULL ? form_decode(eq + 1, (size_t)(amp - eq - 1)) :
		    json_string("");
		if (k == NULL || v == NULL) {
			*cause = xstrdup(UTF8_ERR);
			ret = -1;
		} else if (*json_string_value(k) != '\0')
			json_object_set(o, json_string_value(k), v);
		json_decref(k);
		json_decref(v);
	}
	return ret;
}

/* The value of attribute name in a header like `a; name="v"`. Caller frees. */
static char *
header_attr(const char *h, const char *name)
{
	size_t nlen = strlen(name), n;
	const char *p = h, *v;

	while ((p = strcasestr(p, name)) != NULL) {
		if ((p == h || p[-1] == ';' || p[-1] == ' ' ||
		    p[-1] == '\t') && p[nlen] == '=')
			break;
		p += nlen;
	}
	if (p == NULL)
		return NULL;
	v = p + nlen + 1;
	if (*v == '"') {
		v++;
		n = strcspn(v, "\"");
	} else
		n = strcspn(v, "; \t\r\n");
	return xstrndup(v, n);
}

/* Parse one part's headers and content into o. */
static int
params_part(const char *p, size_t len, json_t *o)
{
	const char *hend, *cd;
	char *hdrs, *name, *file, *ctype = NULL;
	size_t hlen;
	json_t *v;
	int ret;

	if ((hend = memmem(p, len, "\r\n\r\n", 4)) == NULL)
		return -1;
	hlen = (size_t)(hend - p);
	hdrs = xstrndup(p, hlen);
	if (strlen(hdrs) != hlen || (cd = strcasestr(hdrs,
	    "content-disposition:")) == NULL ||
	    (name = header_attr(cd, "name")) == NULL) {
		free(hdrs);
		return -1;
	}
	file = header_attr(cd, "filename");
	if ((cd = strcasestr(hdrs, "content-type:")) != NULL) {
		cd += strlen("content-type:");
		cd += strspn(cd, " \t");
		ctype = xstrndup(cd, strcspn(cd, "\r\n"));
	}
	p = hend + 4;
	len -= hlen + 4;
	if (file != NULL)
		v = json_pack("{sb ss sI ss*}", "upload", 1, "filename", file,
		    "size", (json_int_t)len, "content_type", ctype);
	else
		v = json_stringn(p, len);
	ret = json_object_set_new(o, name, v);
	free(hdrs);
	free(name);
	free(file);
	free(ctype);
	return ret;
}

/* multipart/form-data (RFC 7578). 0, or -1 when malformed. */
static int
params_multipart(const char *body, size_t len, const char *ctype, json_t *o)
{
	const char *p, *end = body + len, *next;
	char *boundary, *delim;
	size_t dlen;
	int ret = -1;

	if ((boundary = header_attr(ctype, "boundary")) == NULL)
		return -1;
	xasprintf(&delim, "\r\n--%s", boundary);
	dlen = strlen(delim);
	/* The first delimiter may start the body without the CRLF. */
	if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0)
		p = body + dlen - 2;
	else if ((p = memmem(body, len, delim, dlen)) != NULL)
		p += dlen;
	else
		goto fail;
	for (;;) {
		if (end - p >= 2 && memcmp(p, "--", 2) == 0)
			break;
		if (end - p < 2 || memcmp(p, "\r\n", 2) != 0)
			goto fail;
		p += 2;
		if ((next = memmem(p, (size_t)(end - p), delim, dlen)) == NULL)
			goto fail;
		if (params_part(p, (size_t)(next - p), o) == -1)
			goto fail;
		p = next + dlen;
	}
	ret = 0;
fail:
	free(boundary);
	free(delim);
	return ret;
}

/* Merge a JSON object body into o. */
static int
params_json(const char *body, size_t len, json_t *o, char **cause)
{
	json_error_t jerr;
	json_t *j;

	if ((j = json_loadb(body, len, 0, &jerr)) == NULL) {
		xasprintf(cause, "Bad Request: can't parse JSON object: %s",
		    jerr.text);
		return -1;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		*cause = xstrdup("Bad Request: JSON body must be an object");
		return -1;
	}
	json_object_update(o, j);
	json_decref(j);
	return 0;
}

/* The request body as one NUL-terminated string, or NULL when empty. */
static char *
body_copy(struct evhttp_request *req, size_t *len)
{
	struct evbuffer *in;
	char *b;

	in = evhttp_request_get_input_buffer(req);
	if ((*len = evbuffer_get_length(in)) == 0)
		return NULL;
	b = xmalloc(*len + 1);
	evbuffer_copyout(in, b, *len);
	b[*len] = '\0';
	return b;
}

/*
 * Parameters of req as a new object, or NULL with *cause set (a Telegram
 * description, caller frees).
 */
json_t *
params_parse(struct evhttp_request *req, char **cause)
{
	const char *query, *ctype;
	char *body;
	size_t len;
	json_t *o;
	int ret = 0;

	o = json_object();
	query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (query != NULL && params_form(query, o, cause) == -1) {
		json_decref(o);
		return NULL;
	}
	if ((body = body_copy(req, &len)) == NULL)
		return o;
	ctype = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	if (ctype == NULL)
		ctype = "";
	if (strncasecmp(ctype, "application/json", 16) == 0)
		ret = params_json(body, len, o, cause);
	else if (strncasecmp(ctype, "application/x-www-form-urlencoded",
	    33) == 0) {
		if (strlen(body) != len) {
			*cause = xstrdup("Bad Request: can't parse parameters");
			ret = -1;
		} else
			ret = params_form(body, o, cause);
	} else if (strncasecmp(ctype, "multipart/form-data", 19) == 0) {
		if (params_multipart(body, len, ctype, o) == -1) {
			*cause = xstrdup("Bad Request: can't parse "
			    "multipart/form-data body (or not UTF-8)");
			ret = -1;
		}
	}
	free(body);
	if (ret == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Integer parameter: 1 found, 0 absent (or null), -1 not an integer. */
int
p_i64(json_t *p, const char *key, int64_t *out)
{
	json_t *v = json_object_get(p, key);
	const char *s;
	char *end;
	long long n;
	double d;

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 1;
	}
	if (json_is_real(v)) {
		d = json_real_value(v);
		if (!(d > -9.2e18 && d < 9.2e18) || d != (double)(int64_t)d)
			return -1;
		*out = (int64_t)d;
		return 1;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return 0;	/* Telegram treats "" as absent */
	errno = 0;
	n = strtoll(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno != 0 || *end != '\0')
		return -1;
	*out = n;
	return 1;
}

/*
 * String parameter, borrowed from p; numbers and booleans are converted
 * (the converted string replaces the value in p). NULL when absent.
 */
const char *
p_str(json_t *p, const char *key)
{
	json_t *v = json_object_get(p, key);
	char *s;

	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_object(v) || json_is_array(v))
		return NULL;
	s = json_dumps(v, JSON_ENCODE_ANY);
	json_object_set_new(p, key, json_string(s != NULL ? s : ""));
	free(s);
	return json_string_value(json_object_get(p, key));
}

/* Boolean parameter: 1 found, 0 absent, -1 not a boolean. */
int
p_bool(json_t *p, const char *key, int *out)
{
	json_t *v = json_object_get(p, key);
	const char *s;

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 1;
	}
	if (json_is_integer(v)) {
		*out = json_integer_value(v) != 0;
		return 1;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = 1;
	else if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0 ||
	    *s == '\0')
		*out = 0;
	else
		return -1;
	return 1;
}

/*
 * A structured parameter (object or array), given as JSON or as a string
 * holding JSON. Returns a new reference, or NULL when absent (*bad = 0) or
 * unparsable (*bad = 1).
 */
json_t *
p_json(json_t *p, const char *key, int *bad)
{
	json_t *v = json_object_get(p, key), *j;
	const char *s;

	*bad = 0;
	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_object(v) || json_is_array(v))
		return json_incref(v);
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	s = json_string_value(v);
	if (*s == '\0')
		return NULL;
	if ((j = json_loads(s, JSON_DECODE_ANY, NULL)) == NULL ||
	    (!json_is_object(j) && !json_is_array(j))) {
		json_decref(j);
		*bad = 1;
		return NULL;
	}
	return j;
}

/* 1 if v is an uploaded file (multipart part with a filename). */
int
p_is_upload(json_t *v)
{
	return json_is_object(v) && json_is_true(json_object_get(v, "upload"));
}
