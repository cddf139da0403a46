/* log: logfmt and JSON output, escaping, redaction, errno, levels. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <botcommon/log.h>

static char	*out;
static size_t	 outlen;
static FILE	*mem;

static int
setup(void **state)
{
	(void)state;
	mem = open_memstream(&out, &outlen);
	log_set_stream(mem);
	log_init("test", LOG_LEVEL_INFO, 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	log_set_stream(NULL);
	fclose(mem);
	free(out);
	out = NULL;
	log_redact_clear();
	return 0;
}

/* What was written so far, as one string. */
static const char *
written(void)
{
	fflush(mem);
	return out;
}

static void
test_logfmt_basic(void **state)
{
	(void)state;
	log_info("connected to %s", "db");
	assert_string_equal(written(), "level=info msg=\"connected to db\"\n");
}

static void
test_kv_quoting(void **state)
{
	(void)state;
	log_kv(LOG_LEVEL_INFO, "x", "plain", "abc", "spaced", "a b",
	    "empty", "", "eq", "a=b", NULL);
	assert_string_equal(written(), "level=info msg=x plain=abc "
	    "spaced=\"a b\" empty=\"\" eq=\"a=b\"\n");
}

static void
test_escape_untrusted(void **state)
{
	(void)state;
	/* A newline, a quote, a control byte and invalid UTF-8. */
	log_kv(LOG_LEVEL_WARN, "chat\nsays \"hi\"", "raw", "a\x01\xff", NULL);
	assert_string_equal(written(), "level=warn msg=\"chat\\nsays "
	    "\\\"hi\\\"\" raw=\"a\\x01\\xff\"\n");
	/* Exactly one line. */
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));
}

static void
test_utf8_kept(void **state)
{
	(void)state;
	log_info("привет 🎰");
	assert_string_equal(written(), "level=info msg=\"привет 🎰\"\n");
}

static void
test_warn_keeps_errno(void **state)
{
	(void)state;
	errno = ENOENT;
	log_warn("open %s", "x");
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(written(),
	    "msg=\"open x\" error=\"No such file or directory\""));
}

static void
test_levels(void **state)
{
	(void)state;
	log_debug("hidden");
	assert_true(out == NULL || strlen(written()) == 0);
	log_init("test", LOG_LEVEL_DEBUG, 0);
	log_debug("shown");
	assert_string_equal(written(), "level=debug msg=shown\n");
}

static void
test_redact(void **state)
{
	(void)state;
	assert_int_equal(log_redact("123456:ABCdef"), 0);
	log_kv(LOG_LEVEL_WARN, "GET /bot123456:ABCdef/getMe failed",
	    "url", "https://x/bot123456:ABCdef/getMe", NULL);
	assert_null(strstr(written(), "ABCdef"));
	assert_non_null(strstr(out, "/bot[redacted]/getMe failed"));
	/* Too short to be a secret: ignored rather than hiding noise. */
	assert_int_equal(log_redact("ab"), 0);
}

static void
test_json(void **state)
{
	json_t *j;
	json_error_t err;

	(void)state;
	log_init("test", LOG_LEVEL_INFO, LOG_JSON | LOG_TIME);
	log_kv(LOG_LEVEL_INFO, "a \"q\"\n\x02\xfe", "k", "v\\", NULL);
	j = json_loads(written(), 0, &err);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "level")),
	    "info");
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
	    "a \"q\"\n\x02\\xfe");
	assert_string_equal(json_string_value(json_object_get(j, "k")), "v\\");
	assert_non_null(json_object_get(j, "ts"));
	json_decref(j);
}

static void
test_env_override(void **state)
{
	(void)state;
	setenv("BOTFLEET_LOG_FORMAT", "json", 1);
	log_init("test", LOG_LEVEL_INFO, 0);
	unsetenv("BOTFLEET_LOG_FORMAT");
	log_info("x");
	assert_string_equal(written(), "{\"level\":\"info\",\"msg\":\"x\"}\n");
}

static void
test_escape_helper(void **state)
{
	char *s;

	(void)state;
	s = log_escape("a\"b\0c", 5);
	assert_string_equal(s, "a\\\"b\\x00c");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_logfmt_basic, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_kv_quoting, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_escape_untrusted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_utf8_kept, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_warn_keeps_errno, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_override, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_escape_helper, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
