/*
 * botd-alert: one Bot API request for botd's alerts (alert.c), in a
 * process of its own, so that botd itself never maps libcurl and its TLS
 * libraries. botd starts one per message and chat.
 *
 *   botd-alert [-c CONNECT_MS] [-t TIMEOUT_MS]
 *
 * Standard input: the method's URL (API/botTOKEN/METHOD) on the first
 * line, then the JSON body up to the end. The token travels only there:
 * never in argv or the environment, which other users can read. One POST
 * (no redirect, no retry), then one line on standard output, a JSON
 * object:
 *
 *   {"status":429,"error":"ok","ok":false,"retry_after":3,
 *    "description":"Too Many Requests: retry after 3"}
 *
 * status: the HTTP status, 0 when none arrived. error: "ok" when a
 * response arrived, else why not (timeout, connect, network, too big,
 * other: common/http.c's names; usage: bad arguments or input). ok,
 * description (at most DESC_MAX bytes), retry_after (parameters) and
 * message_id (result) come from Telegram's answer when it is JSON of
 * that shape; a member is left out when the answer has no such value.
 * Exit 0 after that line, 100 after a usage line. Nothing is logged: the
 * URL holds the token.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include <botcommon/util.h>

#define SEND_INPUT_MAX		(256 * 1024)	/* URL and body */
#define SEND_ANSWER_MAX		(64 * 1024)	/* Telegram's answer */
#define SEND_DESC_MAX		512
#define SEND_TIMEOUT_MS		30000L
#define SEND_CONNECT_MS		10000L
#define SEND_MS_MAX		600000L

struct answer {
	char		*p;
	size_t		 len;
	int		 toobig;
};

/* Write the result line; answer (may be NULL) is Telegram's JSON. */
static void
put_result(long status, const char *error, json_t *answer)
{
	json_t *o = json_object(), *v;
	char desc[SEND_DESC_MAX + 1];
	size_t n;

	json_object_set_new(o, "status", json_integer(status));
	json_object_set_new(o, "error", json_string(error));
	if (json_is_object(answer)) {
		json_object_set_new(o, "ok", json_boolean(json_is_true(
		    json_object_get(answer, "ok"))));
		v = json_object_get(answer, "description");
		if (json_is_string(v)) {
			/* Cut at a UTF-8 boundary (jansson checked it). */
			n = json_string_length(v);
			if (n > SEND_DESC_MAX) {
				n = SEND_DESC_MAX;
				while (n > 0 && ((unsigned char)
				    json_string_value(v)[n] & 0xc0) == 0x80)
					n--;
			}
			memcpy(desc, json_string_value(v), n);
			desc[n] = '\0';
			json_object_set_new(o, "description",
			    json_stringn(desc, strnlen(desc, n)));
		}
		v = json_object_get(json_object_get(answer, "parameters"),
		    "retry_after");
		if (json_is_integer(v))
			json_object_set(o, "retry_after", v);
		v = json_object_get(json_object_get(answer, "result"),
		    "message_id");
		if (json_is_integer(v))
			json_object_set(o, "message_id", v);
	}
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	fflush(stdout);
	json_decref(o);
}

static void __attribute__((noreturn))
usage(const char *why)
{
	fprintf(stderr, "botd-alert: %s\n"
	    "usage: botd-alert [-c CONNECT_MS] [-t TIMEOUT_MS] <URL-and-body\n",
	    why);
	put_result(0, "usage", NULL);
	exit(BC_EXIT_PERM);
}

static long
parse_ms(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 ||
	    v > SEND_MS_MAX)
		usage("a timeout is 1 to 600000 ms");
	return v;
}

/* All of stdin, NUL-terminated; *len without the NUL. */
static char *
read_input(size_t *len)
{
	char *buf = malloc(SEND_INPUT_MAX + 1);
	ssize_t n;

	if (buf == NULL)
		usage("out of memory");
	*len = 0;
	while (*len < SEND_INPUT_MAX) {
		n = read(STDIN_FILENO, buf + *len, SEND_INPUT_MAX - *len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			usage("cannot read standard input");
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	if (*len == SEND_INPUT_MAX)
		usage("the input is too long");
	buf[*len] = '\0';
	return buf;
}

static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t len = size * n;

	if (len > SEND_ANSWER_MAX - a->len) {
		a->toobig = 1;
		return 0;
	}
	memcpy(a->p + a->len, p, len);
	a->len += len;
	return len;
}

/* common/http.c's error names. */
static const char *
error_name(CURLcode rc, const struct answer *a)
{
	if (a->toobig)
		return "too big";
	switch (rc) {
	case CURLE_OK:
		return "ok";
	case CURLE_OPERATION_TIMEDOUT:
		return "timeout";
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
		return "connect";
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return "network";
	case CURLE_FILESIZE_EXCEEDED:
		return "too big";
	default:
		return "other";
	}
}

/* POST body to url; the result line. */
static void
post(const char *url, const char *body, size_t body_len, long connect_ms,
    long timeout_ms)
{
	struct answer a = { NULL, 0, 0 };
	struct curl_slist *hdrs = NULL;
	json_t *j = NULL;
	CURLcode rc;
	CURL *e;
	long status = 0;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (e = curl_easy_init()) == NULL ||
	    (a.p = malloc(SEND_ANSWER_MAX)) == NULL ||
	    (hdrs = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL) {
		put_result(0, "other", NULL);
		return;
	}
	rc = curl_easy_setopt(e, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, "botfleet");
	rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)body_len);
	rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	rc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)SEND_ANSWER_MAX);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, &a);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(e);
	else
		rc = CURLE_FAILED_INIT;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK && !a.toobig)
		j = json_loadb(a.p, a.len, 0, NULL);
	put_result(status, error_name(rc, &a), j);
	json_decref(j);
	curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	free(a.p);
}

int
main(int argc, char **argv)
{
	long connect_ms = SEND_CONNECT_MS, timeout_ms = SEND_TIMEOUT_MS;
	char *in, *nl;
	size_t len;
	int ch;

	while ((ch = getopt(argc, argv, "c:t:")) != -1) {
		switch (ch) {
		case 'c':
			connect_ms = parse_ms(optarg);
			break;
		case 't':
			timeout_ms = parse_ms(optarg);
			break;
		default:
			usage("unknown option");
		}
	}
	if (optind != argc)
		usage("no arguments are taken: the URL comes on stdin");
	if (connect_ms > timeout_ms)
		connect_ms = timeout_ms;
	in = read_input(&len);
	if ((nl = memchr(in, '\n', len)) == NULL)
		usage("no URL line on standard input");
	*nl = '\0';
	if (nl > in && nl[-1] == '\r')
		nl[-1] = '\0';
	if ((strncmp(in, "http://", 7) != 0 &&
	    strncmp(in, "https://", 8) != 0) || strlen(in) > 4096)
		usage("the first line is not an http:// or https:// URL");
	post(in, nl + 1, len - (size_t)(nl + 1 - in), connect_ms, timeout_ms);
	free(in);
	return BC_EXIT_OK;
}
