/* tg updates: parsing of good, strange and malformed Update objects. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <botcommon/tg.h>

/* Parse text as an update; the JSON stays in *j for the caller. */
static int
parse(const char *text, json_t **j, struct bc_tg_update *u, char **cause)
{
	json_error_t err;

	*j = json_loads(text, JSON_DECODE_ANY, &err);
	assert_non_null(*j);
	return bc_tg_update_parse(*j, u, cause);
}

static void
done(json_t *j, struct bc_tg_update *u, char *cause)
{
	bc_tg_update_release(u);
	json_decref(j);
	free(cause);
}

static void
test_message(void **state)
{
	struct bc_tg_update u;
	char *cause = NULL;
	json_t *j;

	(void)state;
	assert_int_equal(parse("{\"update_id\":4503599627370496,"
	    "\"message\":{\"message_id\":7,\"date\":1700000000,"
	    "\"chat\":{\"id\":-1001234567890123,\"type\":\"supergroup\","
	    "\"title\":\"Fleet\"},\"from\":{\"id\":4503599627370495,"
	    "\"is_bot\":false,\"first_name\":\"Ann\",\"username\":\"ann\","
	    "\"language_code\":\"ru\"},\"text\":\"hello\","
	    "\"reply_to_message\":{\"message_id\":5,\"from\":{\"id\":"
	    "2147483649}},\"photo\":[{\"file_id\":\"small\"},"
	    "{\"file_id\":\"big\"}]}}", &j, &u, &cause), 0);
	assert_null(cause);
	/* 2^52 and ids above 2^31 round-trip. */
	assert_true(u.update_id == 4503599627370496LL);
	assert_int_equal(u.type, BC_TG_UPDATE_MESSAGE);
	assert_string_equal(bc_tg_update_type_name(u.type), "message");
	assert_true(u.message.chat.id == -1001234567890123LL);
	assert_string_equal(u.message.chat.type, "supergroup");
	assert_string_equal(u.message.chat.title, "Fleet");
	assert_true(u.message.from.id == 4503599627370495LL);
	assert_string_equal(u.message.from.first_name, "Ann");
	assert_null(u.message.from.last_name);
	assert_string_equal(u.message.from.username, "ann");
	assert_string_equal(u.message.text, "hello");
	assert_null(u.message.command);
	assert_int_equal(u.message.reply_to_message_id, 5);
	assert_true(u.message.reply_to_from_id == 2147483649LL);
	assert_string_equal(u.message.photo_file_id, "big");
	assert_null(u.message.web_app_data);
	assert_true(bc_tg_update_chat_id(&u) == -1001234567890123LL);
	assert_true(bc_tg_update_user_id(&u) == 4503599627370495LL);
	done(j, &u, cause);
}

static void
test_command(void **state)
{
	struct bc_tg_update u;
	char *cause = NULL;
	json_t *j;

	(void)state;
	assert_int_equal(parse("{\"update_id\":1,\"message\":{"
	    "\"message_id\":1,\"chat\":{\"id\":5,\"type\":\"private\"},"
	    "\"text\":\"/start@MyBot  привет мир  \",\"entities\":"
	    "[{\"type\":\"bold\",\"offset\":0,\"length\":3},"
	    "{\"type\":\"bot_command\",\"offset\":0,\"length\":12}]}}",
	    &j, &u, &cause), 0);
	assert_string_equal(u.message.command, "start");
	assert_string_equal(u.message.command_bot, "MyBot");
	assert_string_equal(u.message.args, "привет мир");
	done(j, &u, cause);

	/* @otherbot is parsed as it is: the router decides. No args. */
	assert_int_equal(parse("{\"update_id\":2,\"message\":{"
	    "\"chat\":{\"id\":-5},\"text\":\"/top@otherbot\",\"entities\":"
	    "[{\"type\":\"bot_command\",\"offset\":0,\"length\":13}]}}",
	    &j, &u, &cause), 0);
	assert_string_equal(u.message.command, "top");
	assert_string_equal(u.message.command_bot, "otherbot");
	assert_string_equal(u.message.args, "");
	assert_string_equal(u.message.chat.type, "");
	done(j, &u, cause);

	/* No bot, args; and a command entity not at offset 0 is ignored. */
	assert_int_equal(parse("{\"update_id\":3,\"message\":{"
	    "\"chat\":{\"id\":5},\"text\":\"/bet 100\",\"entities\":"
	    "[{\"type\":\"bot_command\",\"offset\":0,\"length\":4}]}}",
	    &j, &u, &cause), 0);
	assert_string_equal(u.message.command, "bet");
	assert_null(u.message.command_bot);
	assert_string_equal(u.message.args, "100");
	done(j, &u, cause);
	assert_int_equal(parse("{\"update_id\":4,\"message\":{"
	    "\"chat\":{\"id\":5},\"text\":\"hi /bet\",\"entities\":"
	    "[{\"type\":\"bot_command\",\"offset\":3,\"length\":4}]}}",
	    &j, &u, &cause), 0);
	assert_null(u.message.command);
	done(j, &u, cause);

	/* An entity longer than the text, or a bogus one: no crash. */
	assert_int_equal(parse("{\"update_id\":5,\"message\":{"
	    "\"chat\":{\"id\":5},\"text\":\"/x\",\"entities\":"
	    "[{\"type\":\"bot_command\",\"offset\":0,\"length\":400},"
	    "\"junk\"]}}", &j, &u, &cause), 0);
	assert_string_equal(u.message.command, "x");
	done(j, &u, cause);
	assert_int_equal(parse("{\"update_id\":6,\"message\":{"
	    "\"chat\":{\"id\":5},\"text\":\"/x\",\"entities\":7}}",
	    &j, &u, &cause), 0);
	assert_null(u.message.command);
	done(j, &u, cause);
}

static void
test_malformed(void **state)
{
	static const char *bad[] = {
		"[1,2]",
		"\"update\"",
		"{\"message\":{\"chat\":{\"id\":1}}}",
		"{\"update_id\":\"12\",\"message\":{\"chat\":{\"id\":1}}}",
		"{\"update_id\":1.5}",
		"{\"update_id\":-3}",
		"{\"update_id\":null}",
	};
	struct bc_tg_update u;
	char *cause;
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cause = NULL;
		assert_int_equal(parse(bad[i], &j, &u, &cause), -1);
		assert_non_null(cause);
		assert_true(u.update_id == -1);
		done(j, &u, cause);
	}
}

/* The update_id is known but the message is unusable. */
static void
test_message_without_chat(void **state)
{
	static const char *bad[] = {
		"{\"update_id\":9,\"message\":{\"text\":\"hi\"}}",
		"{\"update_id\":9,\"message\":{\"chat\":{\"id\":\"5\"}}}",
		"{\"update_id\":9,\"message\":{\"chat\":[]}}",
		"{\"update_id\":9,\"message\":\"text\"}",
		"{\"update_id\":9,\"edited_message\":{\"chat\":null}}",
		"{\"update_id\":9,\"callback_query\":{\"from\":{\"id\":1}}}",
		"{\"update_id\":9,\"callback_query\":{\"id\":\"q\"}}",
		"{\"update_id\":9,\"my_chat_member\":{\"chat\":{\"id\":1}}}",
		"{\"update_id\":9,\"chat_member\":{\"new_chat_member\":"
		    "{\"status\":\"member\"}}}",
	};
	struct bc_tg_update u;
	char *cause;
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cause = NULL;
		assert_int_equal(parse(bad[i], &j, &u, &cause), -1);
		assert_non_null(cause);
		assert_int_equal(u.update_id, 9);
		done(j, &u, cause);
	}
}

static void
test_wrong_types_absent(void **state)
{
	struct bc_tg_update u;
	char *cause = NULL;
	json_t *j;

	(void)state;
	assert_int_equal(parse("{\"update_id\":1,\"message\":{"
	    "\"chat\":{\"id\":5,\"type\":7},\"text\":42,\"caption\":[],"
	    "\"from\":\"me\",\"message_id\":\"x\",\"photo\":{},"
	    "\"web_app_data\":{\"data\":1}}}", &j, &u, &cause), 0);
	assert_null(u.message.text);
	assert_null(u.message.caption);
	assert_null(u.message.command);
	assert_int_equal(u.message.from.id, 0);
	assert_string_equal(u.message.from.first_name, "");
	assert_string_equal(u.message.chat.type, "");
	assert_int_equal(u.message.message_id, 0);
	assert_null(u.message.photo_file_id);
	assert_null(u.message.web_app_data);
	done(j, &u, cause);
}

static void
test_other_types(void **state)
{
	struct bc_tg_update u;
	char *cause = NULL;
	json_t *j;

	(void)state;
	assert_int_equal(parse("{\"update_id\":11,\"channel_post\":"
	    "{\"chat\":{\"id\":-100}},\"poll\":{}}", &j, &u, &cause), 0);
	assert_int_equal(u.type, BC_TG_UPDATE_OTHER);
	assert_string_equal(bc_tg_update_type_name(u.type), "other");
	assert_int_equal(bc_tg_update_chat_id(&u), 0);
	assert_int_equal(bc_tg_update_user_id(&u), 0);
	assert_non_null(u.raw);
	done(j, &u, cause);
	assert_int_equal(parse("{\"update_id\":12}", &j, &u, &cause), 0);
	assert_int_equal(u.type, BC_TG_UPDATE_OTHER);
	done(j, &u, cause);
}

static void
test_callback(void **state)
{
	struct bc_tg_update u;
	char *cause = NULL;
	json_t *j;

	(void)state;
	assert_int_equal(parse("{\"update_id\":20,\"callback_query\":{"
	    "\"id\":\"4382bfdwdsb323b2d9\",\"from\":{\"id\":77,"
	    "\"first_name\":\"Bo\"},\"data\":\"buy:3\",\"message\":"
	    "{\"message_id\":99,\"chat\":{\"id\":77,\"type\":\"private\"},"
	    "\"text\":\"/shop\",\"entities\":[{\"type\":\"bot_command\","
	    "\"offset\":0,\"length\":5}]}}}", &j, &u, &cause), 0);
	assert_int_equal(u.type, BC_TG_UPDATE_CALLBACK_QUERY);
	assert_string_equal(u.callback.id, "4382bfdwdsb323b2d9");
	assert_int_equal(u.callback.from.id, 77);
	assert_string_equal(u.callback.data, "buy:3");
	assert_int_equal(u.callback.has_message, 1);
	assert_int_equal(u.callback.message.message_id, 99);
	assert_string_equal(u.callback.message.command, "shop");
	assert_int_equal(bc_tg_update_chat_id(&u), 77);
	assert_int_equal(bc_tg_update_user_id(&u), 77);
	done(j, &u, cause);

	/* Inline message, no data, a broken message: still a callback. */
	assert_int_equal(parse("{\"update_id\":21,\"callback_query\":{"
	    "\"id\":\"q\",\"from\":{\"id\":1},\"inline_message_id\":\"im\","
	    "\"message\":{\"text\":\"x\"}}}", &j, &u, &cause), 0);
	assert_string_equal(u.callback.data, "");
	assert_int_equal(u.callback.has_message, 0);
	assert_string_equal(u.callback.inline_message_id, "im");
	assert_int_equal(bc_tg_update_chat_id(&u), 0);
	done(j, &u, cause);
}

static void
test_member_and_webapp(void **state)
{
	struct bc_tg_update u;
	char *cause = NULL;
	json_t *j;

	(void)state;
	assert_int_equal(parse("{\"update_id\":30,\"my_chat_member\":{"
	    "\"chat\":{\"id\":-42,\"type\":\"group\"},\"from\":{\"id\":8},"
	    "\"date\":1700000001,\"old_chat_member\":{\"status\":"
	    "\"member\",\"user\":{\"id\":9}},\"new_chat_member\":{"
	    "\"status\":\"kicked\",\"user\":{\"id\":9,\"is_bot\":true}}}}",
	    &j, &u, &cause), 0);
	assert_int_equal(u.type, BC_TG_UPDATE_MY_CHAT_MEMBER);
	assert_int_equal(u.member.chat.id, -42);
	assert_int_equal(u.member.from.id, 8);
	assert_int_equal(u.member.member.id, 9);
	assert_int_equal(u.member.member.is_bot, 1);
	assert_string_equal(u.member.old_status, "member");
	assert_string_equal(u.member.new_status, "kicked");
	assert_int_equal(u.member.date, 1700000001);
	assert_int_equal(bc_tg_update_chat_id(&u), -42);
	done(j, &u, cause);

	assert_int_equal(parse("{\"update_id\":31,\"edited_message\":{"
	    "\"chat\":{\"id\":3},\"web_app_data\":{\"data\":\"{\\\"a\\\":1}\","
	    "\"button_text\":\"Play\"},\"migrate_to_chat_id\":"
	    "-1009999999999}}", &j, &u, &cause), 0);
	assert_int_equal(u.type, BC_TG_UPDATE_EDITED_MESSAGE);
	assert_string_equal(u.message.web_app_data, "{\"a\":1}");
	assert_true(u.message.migrate_to_chat_id == -1009999999999LL);
	done(j, &u, cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_command),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_message_without_chat),
		cmocka_unit_test(test_wrong_types_absent),
		cmocka_unit_test(test_other_types),
		cmocka_unit_test(test_callback),
		cmocka_unit_test(test_member_and_webapp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
