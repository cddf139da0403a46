/*
 * ctl: the line reader (splits, caps, oversize lines discarded to their
 * newline), request and reply checks, builders, and the blocking client
 * helpers against a forked peer.
 */

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <botcommon/ctl.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

/* Feed all of s (looping as the reader asks) and collect the events as
 * text: "L:<line>" per line, "O" per oversize line, joined by '|'. */
static char *
feed_all(struct bc_ctl_reader *r, const char *s, size_t len, size_t chunk)
{
	static char out[4096];
	size_t off = 0, n, llen, k;
	char *line;
	enum bc_ctl_event ev;

	out[0] = '\0';
	while (off < len) {
		k = len - off < chunk ? len - off : chunk;
		n = bc_ctl_reader_feed(r, s + off, k);
		off += n;
		while ((ev = bc_ctl_reader_next(r, &line, &llen)) !=
		    BC_CTL_AGAIN) {
			if (out[0] != '\0')
				strcat(out, "|");
			if (ev == BC_CTL_OVERSIZE) {
				strcat(out, "O");
				continue;
			}
			assert_int_equal(strlen(line), llen);
			assert_true(strlen(out) + llen + 3 < sizeof(out));
			strcat(out, "L:");
			strcat(out, line);
		}
		if (n == 0)
			assert_int_equal(bc_ctl_reader_pending(r), r->max + 1);
	}
	return out;
}

static void
test_reader_lines(void **state)
{
	struct bc_ctl_reader r = BC_CTL_READER_ZERO;
	const char *in = "{\"a\":1}\n\nsecond\nthird";
	size_t chunk;

	(void)state;
	/* The same events whatever the chunking. */
	for (chunk = 1; chunk <= strlen(in); chunk++) {
		bc_ctl_reader_init(&r, 0);
		assert_string_equal(feed_all(&r, in, strlen(in), chunk),
		    "L:{\"a\":1}|L:|L:second");
		assert_int_equal(bc_ctl_reader_pending(&r), 5);
		assert_string_equal(feed_all(&r, "\n", 1, 1), "L:third");
		assert_int_equal(bc_ctl_reader_pending(&r), 0);
		bc_ctl_reader_release(&r);
	}
	assert_null(r.buf);
}

static void
test_reader_nul_inside(void **state)
{
	struct bc_ctl_reader r;
	char *line;
	size_t len;

	(void)state;
	bc_ctl_reader_init(&r, 0);
	assert_int_equal(bc_ctl_reader_feed(&r, "a\0b\n", 4), 4);
	assert_int_equal(bc_ctl_reader_next(&r, &line, &len), BC_CTL_LINE);
	assert_int_equal(len, 3);
	assert_memory_equal(line, "a\0b", 4);
	assert_int_equal(bc_ctl_reader_next(&r, &line, &len), BC_CTL_AGAIN);
	bc_ctl_reader_release(&r);
}

static void
test_reader_exact_max(void **state)
{
	struct bc_ctl_reader r;
	char in[32];
	size_t chunk;

	(void)state;
	/* max 8: 8 bytes are a line, 9 are too long. */
	memcpy(in, "12345678\n123456789\nok\n", 22);
	for (chunk = 1; chunk <= 22; chunk++) {
		bc_ctl_reader_init(&r, 8);
		assert_string_equal(feed_all(&r, in, 22, chunk),
		    "L:12345678|O|L:ok");
		bc_ctl_reader_release(&r);
	}
}

static void
test_reader_oversize_stream(void **state)
{
	struct bc_ctl_reader r;
	size_t big = 100 * 1024, chunk;
	char *in;
	const char *tail = "\n{\"v\":1}\n";

	(void)state;
	/* 100 KiB without a newline, then a good line: one oversize event
	 * (not one per 64 KiB), then the line. */
	in = xmalloc(big + strlen(tail));
	memset(in, 'x', big);
	memcpy(in + big, tail, strlen(tail));
	for (chunk = 4096; chunk <= big * 2; chunk *= 5) {
		bc_ctl_reader_init(&r, 0);
		assert_string_equal(feed_all(&r, in, big + strlen(tail),
		    chunk), "O|L:{\"v\":1}");
		assert_int_equal(bc_ctl_reader_pending(&r), 0);
		bc_ctl_reader_release(&r);
	}
	/* Oversize reported before the newline ever comes. */
	bc_ctl_reader_init(&r, 0);
	assert_string_equal(feed_all(&r, in, big, 65536), "O");
	assert_int_equal(r.discard, 1);
	assert_string_equal(feed_all(&r, "yyy\nz\n", 6, 6), "L:z");
	bc_ctl_reader_release(&r);
	free(in);
}

static void
test_reader_feed_full(void **state)
{
	struct bc_ctl_reader r;
	char *line;
	size_t len;

	(void)state;
	/* A full buffer takes nothing more until next() makes room. */
	bc_ctl_reader_init(&r, 4);
	assert_int_equal(bc_ctl_reader_feed(&r, "ab\ncdefg\n", 9), 5);
	assert_int_equal(bc_ctl_reader_feed(&r, "efg\n", 4), 0);
	assert_int_equal(bc_ctl_reader_next(&r, &line, &len), BC_CTL_LINE);
	assert_string_equal(line, "ab");
	assert_int_equal(bc_ctl_reader_next(&r, &line, &len), BC_CTL_AGAIN);
	assert_int_equal(bc_ctl_reader_feed(&r, "efg\n", 4), 3);
	assert_int_equal(bc_ctl_reader_next(&r, &line, &len),
	    BC_CTL_OVERSIZE);
	assert_int_equal(bc_ctl_reader_feed(&r, "\nok\n", 4), 4);
	assert_int_equal(bc_ctl_reader_next(&r, &line, &len), BC_CTL_LINE);
	assert_string_equal(line, "ok");
	bc_ctl_reader_release(&r);
}

static void
test_reader_read_fd(void **state)
{
	struct bc_ctl_reader r;
	int sv[2];
	char *line, big[100];
	size_t len;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	bc_ctl_reader_init(&r, 16);
	memset(big, 'q', sizeof(big));
	assert_int_equal(write(sv[1], "hello\nwor", 9), 9);
	assert_int_equal(bc_ctl_reader_read(&r, sv[0]), 9);
	assert_int_equal(bc_ctl_reader_next(&r, &line, &len), BC_CTL_LINE);
	assert_string_equal(line, "hello");
	assert_int_equal(bc_ctl_reader_next(&r, &line, &len), BC_CTL_AGAIN);
	/* "wor" + 100 bytes: oversize, then discarded across reads. */
	assert_int_equal(write(sv[1], big, sizeof(big)), (ssize_t)sizeof(big));
	assert_int_equal(write(sv[1], "zz\nnext\n", 8), 8);
	assert_int_equal(bc_ctl_reader_read(&r, sv[0]), 14);
	assert_int_equal(bc_ctl_reader_next(&r, &line, &len),
	    BC_CTL_OVERSIZE);
	while (bc_ctl_reader_read(&r, sv[0]) > 0 &&
	    bc_ctl_reader_next(&r, &line, &len) == BC_CTL_AGAIN)
		;
	assert_string_equal(line, "next");
	close(sv[1]);
	assert_int_equal(bc_ctl_reader_read(&r, sv[0]), 0);
	close(sv[0]);
	bc_ctl_reader_release(&r);
}

/* Parse a request; returns the cause (static) or "" with *cmdout. */
static const char *
req(const char *line, char *cmdout)
{
	static char msg[512];
	const char *cmd;
	char *cause = NULL;
	json_t *j;

	j = bc_ctl_request_parse(line, strlen(line), &cmd, &cause);
	if (j == NULL) {
		assert_non_null(cause);
		bc_strlcpy(msg, cause, sizeof(msg));
		free(cause);
		return msg;
	}
	assert_null(cause);
	if (cmdout != NULL)
		bc_strlcpy(cmdout, cmd, 64);
	json_decref(j);
	return "";
}

static void
test_request_valid(void **state)
{
	char cmd[64];

	(void)state;
	assert_string_equal(req("{\"v\":1,\"cmd\":\"status\"}", cmd), "");
	assert_string_equal(cmd, "status");
	assert_string_equal(req(" {\"cmd\":\"alert-test\",\"v\":1,"
	    "\"bots\":[\"game\",\"b_2-x\"],\"wait\":true} ", cmd), "");
	assert_string_equal(cmd, "alert-test");
	assert_string_equal(req("{\"v\":1,\"cmd\":\"stop\",\"bots\":[]}",
	    cmd), "");
}

static void
test_request_invalid(void **state)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "", "invalid JSON" },
		{ "{\"v\":1,\"cmd\":\"status\"", "invalid JSON" },
		{ "\xff\xfe garbage", "invalid JSON" },
		{ "{\"v\":1,\"cmd\":\"status\"} trailing", "invalid JSON" },
		{ "{\"v\":1,\"v\":1,\"cmd\":\"status\"}", "invalid JSON" },
		{ "[1,2]", "not a JSON object" },
		{ "\"status\"", "invalid JSON" },
		{ "[]", "not a JSON object" },
		{ "{\"cmd\":\"status\"}", "no protocol version" },
		{ "{\"v\":2,\"cmd\":\"status\"}", "unsupported protocol" },
		{ "{\"v\":\"1\",\"cmd\":\"status\"}", "unsupported protocol" },
		{ "{\"v\":1.0,\"cmd\":\"status\"}", "unsupported protocol" },
		{ "{\"v\":0,\"cmd\":\"status\"}", "unsupported protocol" },
		{ "{\"v\":1}", "no command" },
		{ "{\"v\":1,\"cmd\":7}", "no command" },
		{ "{\"v\":1,\"cmd\":\"\"}", "invalid command name" },
		{ "{\"v\":1,\"cmd\":\"Status\"}", "invalid command name" },
		{ "{\"v\":1,\"cmd\":\"st\\u0000x\"}", "invalid" },
		{ "{\"v\":1,\"cmd\":\"a/../b\"}", "invalid command name" },
		{ "{\"v\":1,\"cmd\":\"abcdefghijabcdefghijabcdefghijabc\"}",
		    "invalid command name" },
		{ "{\"v\":1,\"cmd\":\"stop\",\"bots\":\"game\"}",
		    "must be an array" },
		{ "{\"v\":1,\"cmd\":\"stop\",\"bots\":[\"game\",3]}",
		    "bots[1]" },
		{ "{\"v\":1,\"cmd\":\"stop\",\"bots\":[\"../etc\"]}",
		    "bots[0]" },
		{ "{\"v\":1,\"cmd\":\"stop\",\"bots\":[\"-x\"]}", "bots[0]" },
		{ "{\"v\":1,\"cmd\":\"stop\",\"bots\":[\"\"]}", "bots[0]" },
		{ "{\"v\":1,\"cmd\":\"stop\",\"bots\":[\"GAME\"]}", "bots[0]" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < BC_NELEM(t); i++) {
		const char *got = req(t[i].in, NULL);

		if (strstr(got, t[i].want) == NULL)
			fail_msg("%zu: \"%s\" gave \"%s\", want \"%s\"", i,
			    t[i].in, got, t[i].want);
	}
}

static void
test_request_too_many_bots(void **state)
{
	json_t *j = bc_ctl_request_new("stop"), *a = json_array();
	char *line, *cause = NULL;
	size_t i;

	(void)state;
	for (i = 0; i <= BC_CTL_BOTS_MAX; i++)
		json_array_append_new(a, json_string("b"));
	json_object_set_new(j, "bots", a);
	line = bc_ctl_encode(j, NULL, &cause);
	assert_non_null(line);
	assert_string_equal(req(line, NULL), "too many bots (limit 1024)");
	/* One fewer is fine. */
	json_array_remove(a, 0);
	free(line);
	line = bc_ctl_encode(j, NULL, &cause);
	assert_string_equal(req(line, NULL), "");
	free(line);
	json_decref(j);
}

static void
test_names(void **state)
{
	(void)state;
	assert_true(bc_ctl_name_valid("game"));
	assert_true(bc_ctl_name_valid("a"));
	assert_true(bc_ctl_name_valid("bot_1-x"));
	assert_true(bc_ctl_name_valid("abcdefghijabcdefghijabcdefghijab"));
	assert_false(bc_ctl_name_valid("abcdefghijabcdefghijabcdefghijabc"));
	assert_false(bc_ctl_name_valid(""));
	assert_false(bc_ctl_name_valid("-rf"));
	assert_false(bc_ctl_name_valid("a b"));
	assert_false(bc_ctl_name_valid("a/b"));
	assert_false(bc_ctl_name_valid("Game"));
	assert_true(bc_ctl_cmd_valid("status"));
	assert_true(bc_ctl_cmd_valid("alert-test"));
	assert_false(bc_ctl_cmd_valid("-status"));
	assert_false(bc_ctl_cmd_valid("1status"));
	assert_false(bc_ctl_cmd_valid("sta tus"));
	assert_false(bc_ctl_cmd_valid(""));
}

/* Parse a reply line; returns NULL and sets *why on error. */
static json_t *
rep(const char *line, char **why)
{
	*why = NULL;
	return bc_ctl_reply_parse(line, strlen(line), why);
}

static void
test_reply_parse(void **state)
{
	json_t *j;
	char *why, *cause = NULL;

	(void)state;
	j = rep("{\"v\":1,\"ok\":true,\"bots\":[]}", &why);
	assert_non_null(j);
	assert_int_equal(bc_ctl_reply_status(j, &cause), 0);
	assert_null(cause);
	json_decref(j);
	j = rep("{\"v\":1,\"ok\":false,\"error\":\"unknown bot: x\"}", &why);
	assert_non_null(j);
	assert_int_equal(bc_ctl_reply_status(j, &cause), -1);
	assert_string_equal(cause, "unknown bot: x");
	free(cause);
	json_decref(j);
	j = rep("{\"v\":1,\"event\":\"log\",\"line\":\"x\"}", &why);
	assert_non_null(j);
	assert_int_equal(bc_ctl_reply_status(j, &cause), -1);
	free(cause);
	json_decref(j);
	/* Malformed ones. */
	assert_null(rep("{\"v\":1,\"ok\":false}", &why));
	assert_string_equal(why, "malformed reply from botd");
	free(why);
	assert_null(rep("{\"v\":1,\"ok\":1}", &why));
	free(why);
	assert_null(rep("{\"v\":1,\"ok\":true,\"event\":\"log\"}", &why));
	free(why);
	assert_null(rep("{\"v\":1}", &why));
	free(why);
	assert_null(rep("{\"v\":2,\"ok\":true}", &why));
	assert_non_null(strstr(why, "unsupported protocol version"));
	free(why);
	assert_null(rep("nope", &why));
	assert_non_null(strstr(why, "invalid JSON"));
	free(why);
}

static void
test_builders(void **state)
{
	json_t *j;
	char *line, *cause = NULL;
	size_t len;

	(void)state;
	j = bc_ctl_reply_ok();
	line = bc_ctl_encode(j, &len, &cause);
	assert_string_equal(line, "{\"v\":1,\"ok\":true}\n");
	assert_int_equal(len, strlen(line));
	free(line);
	json_decref(j);

	/* Any error text: newlines escaped, invalid UTF-8 replaced. */
	j = bc_ctl_reply_error("bad %s\n\xff!", "thing");
	line = bc_ctl_encode(j, &len, &cause);
	assert_string_equal(line, "{\"v\":1,\"ok\":false,\"error\":"
	    "\"bad thing\\n\xef\xbf\xbd!\"}\n");
	free(line);
	json_decref(j);

	j = bc_ctl_request_new("status");
	json_object_set_new(j, "bots", json_pack("[s]", "game"));
	line = bc_ctl_encode(j, NULL, &cause);
	assert_string_equal(line, "{\"v\":1,\"cmd\":\"status\",\"bots\":"
	    "[\"game\"]}\n");
	free(line);
	json_decref(j);

	j = bc_ctl_event_new("log");
	json_object_set_new(j, "line", bc_ctl_string("a\0b\xc3\xa9\xc3", 6));
	line = bc_ctl_encode(j, NULL, &cause);
	assert_string_equal(line, "{\"v\":1,\"event\":\"log\",\"line\":"
	    "\"a\xef\xbf\xbd" "b\xc3\xa9\xef\xbf\xbd\"}\n");
	free(line);
	json_decref(j);
}

static void
test_encode_cap(void **state)
{
	json_t *j = bc_ctl_reply_ok();
	char *s, *line, *cause = NULL;
	size_t room = BC_CTL_LINE_MAX -
	    strlen("{\"v\":1,\"ok\":true,\"x\":\"\"}");

	(void)state;
	s = xmalloc(room + 2);
	memset(s, 'a', room + 1);
	s[room] = '\0';
	/* Exactly the cap: fine. */
	json_object_set_new(j, "x", json_string(s));
	line = bc_ctl_encode(j, NULL, &cause);
	assert_non_null(line);
	assert_int_equal(strlen(line), BC_CTL_LINE_MAX + 1);
	free(line);
	/* One more byte: refused. */
	s[room] = 'a';
	s[room + 1] = '\0';
	json_object_set_new(j, "x", json_string(s));
	assert_null(bc_ctl_encode(j, NULL, &cause));
	assert_non_null(strstr(cause, "message too long"));
	free(cause);
	free(s);
	json_decref(j);
}

static void
test_socket_path(void **state)
{
	(void)state;
	unsetenv("BOTD_SOCKET");
	assert_string_equal(bc_ctl_socket_path(), "/run/botd/control.sock");
	setenv("BOTD_SOCKET", "", 1);
	assert_string_equal(bc_ctl_socket_path(), "/run/botd/control.sock");
	setenv("BOTD_SOCKET", "/tmp/x.sock", 1);
	assert_string_equal(bc_ctl_socket_path(), "/tmp/x.sock");
	unsetenv("BOTD_SOCKET");
}

/* A socket path under TMPDIR (static). */
static const char *
sock_path(const char *name)
{
	static char p[108];
	const char *tmp = getenv("TMPDIR");

	snprintf(p, sizeof(p), "%s/%s", tmp != NULL ? tmp : "/tmp", name);
	return p;
}

static void
test_connect_errors(void **state)
{
	char *cause = NULL, longp[200];
	struct sockaddr_un sun;
	int fd;

	(void)state;
	assert_int_equal(bc_ctl_connect(sock_path("none.sock"), &cause), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(cause, "cannot connect to "));
	assert_non_null(strstr(cause,
	    "none.sock: No such file or directory (is botd running?)"));
	free(cause);
	/* A stale socket: nobody listens. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	bc_strlcpy(sun.sun_path, sock_path("stale.sock"),
	    sizeof(sun.sun_path));
	unlink(sun.sun_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(bc_ctl_connect(sun.sun_path, &cause), -1);
	assert_int_equal(errno, ECONNREFUSED);
	assert_non_null(strstr(cause, "Connection refused"));
	free(cause);
	unlink(sun.sun_path);
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(bc_ctl_connect(longp, &cause), -1);
	assert_non_null(strstr(cause, "File name too long"));
	free(cause);
}

/* A peer that answers each request line with a canned line. */
static pid_t
peer_start(const char *path, const char *answer, int nanswers)
{
	struct sockaddr_un sun;
	int lfd, fd, i;
	char c;
	pid_t pid;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	bc_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	unlink(path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	if ((pid = fork()) != 0) {
		close(lfd);
		return pid;
	}
	signal(SIGPIPE, SIG_IGN);
	fd = accept(lfd, NULL, NULL);
	for (i = 0; i < nanswers; i++) {
		while (read(fd, &c, 1) == 1 && c != '\n')
			;
		/* The client may have given up already (EPIPE). */
		(void)!write(fd, answer, strlen(answer));
	}
	/* Then hold the connection until the client closes it. */
	while (read(fd, &c, 1) > 0)
		;
	_exit(0);
}

static void
peer_wait(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
test_call(void **state)
{
	const char *path = sock_path("call.sock");
	json_t *reqj, *r;
	char *cause = NULL;
	pid_t pid;

	(void)state;
	pid = peer_start(path, "{\"v\":1,\"ok\":true,\"bots\":[]}\n", 1);
	reqj = bc_ctl_request_new("status");
	r = bc_ctl_call(path, reqj, 5000, &cause);
	assert_non_null(r);
	assert_true(json_is_array(json_object_get(r, "bots")));
	json_decref(r);
	peer_wait(pid);

	/* A malformed answer is an error, not a crash. */
	pid = peer_start(path, "{\"v\":1,\"ok\":\"yes\"}\n", 1);
	assert_null(bc_ctl_call(path, reqj, 5000, &cause));
	assert_string_equal(cause, "malformed reply from botd");
	free(cause);
	peer_wait(pid);

	/* An answer longer than the cap. */
	{
		char *big = xmalloc(BC_CTL_LINE_MAX + 10);

		memset(big, ' ', BC_CTL_LINE_MAX + 8);
		big[BC_CTL_LINE_MAX + 8] = '\n';
		big[BC_CTL_LINE_MAX + 9] = '\0';
		pid = peer_start(path, big, 1);
		free(big);
		assert_null(bc_ctl_call(path, reqj, 5000, &cause));
		assert_string_equal(cause, "reply from botd longer than 65536 "
		    "bytes");
		free(cause);
		peer_wait(pid);
	}
	json_decref(reqj);
	unlink(path);
}

static void
test_recv_timeout_and_eof(void **state)
{
	const char *path = sock_path("slow.sock");
	struct bc_ctl_reader r;
	json_t *reqj, *j;
	char *cause = NULL;
	int64_t t0;
	pid_t pid;
	int fd;

	(void)state;
	/* Two requests answered, then silence: the third times out. */
	pid = peer_start(path, "{\"v\":1,\"event\":\"log\",\"line\":\"l\"}\n"
	    "{\"v\":1,\"ok\":true}\n", 2);
	fd = bc_ctl_connect(path, &cause);
	assert_true(fd >= 0);
	bc_ctl_reader_init(&r, 0);
	reqj = bc_ctl_request_new("logs");
	assert_int_equal(bc_ctl_send(fd, reqj, 1000, &cause), 0);
	assert_int_equal(bc_ctl_send(fd, reqj, 1000, &cause), 0);
	/* Four messages; the bytes of several arrive together. */
	j = bc_ctl_recv(fd, &r, 5000, &cause);
	assert_string_equal(json_string_value(json_object_get(j, "event")),
	    "log");
	json_decref(j);
	j = bc_ctl_recv(fd, &r, 5000, &cause);
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	j = bc_ctl_recv(fd, &r, 5000, &cause);
	json_decref(j);
	j = bc_ctl_recv(fd, &r, 5000, &cause);
	assert_non_null(j);
	json_decref(j);
	t0 = bc_now_ms();
	assert_null(bc_ctl_recv(fd, &r, 200, &cause));
	assert_true(bc_now_ms() - t0 >= 190);
	assert_string_equal(cause, "timeout waiting for botd");
	free(cause);
	/* The peer gone: EOF. */
	shutdown(fd, SHUT_WR);
	peer_wait(pid);
	assert_null(bc_ctl_recv(fd, &r, 5000, &cause));
	assert_string_equal(cause, "connection closed by botd");
	free(cause);
	/* Sending to a closed peer: an error, no SIGPIPE. */
	assert_int_equal(bc_ctl_send(fd, reqj, 1000, &cause), -1);
	assert_non_null(strstr(cause, "cannot send to botd"));
	free(cause);
	close(fd);
	bc_ctl_reader_release(&r);
	json_decref(reqj);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_lines),
		cmocka_unit_test(test_reader_nul_inside),
		cmocka_unit_test(test_reader_exact_max),
		cmocka_unit_test(test_reader_oversize_stream),
		cmocka_unit_test(test_reader_feed_full),
		cmocka_unit_test(test_reader_read_fd),
		cmocka_unit_test(test_request_valid),
		cmocka_unit_test(test_request_invalid),
		cmocka_unit_test(test_request_too_many_bots),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_reply_parse),
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_encode_cap),
		cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_connect_errors),
		cmocka_unit_test(test_call),
		cmocka_unit_test(test_recv_timeout_and_eof),
	};

	return cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
}
