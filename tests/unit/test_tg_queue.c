/*
 * tg queue: the pure rate limiter, on a fake clock. No sleeps: time is a
 * number the test moves to whatever the limiter says is due.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <botcommon/xmalloc.h>

#include "../../common/tg-internal.h"

static const struct tg_lim_conf defaults = {
	.global_rate = 30,
	.chat_interval_s = 1,
	.chat_burst = 3,
	.group_per_min = 20,
	.max_inflight = 32,
};

/*
 * Send every item (already pushed) as soon as the limiter allows, each
 * one done at once; sent[i] gets item i's send time. Returns the time of
 * the last send. Fails on a stall or on asking twice for the same time.
 */
static int64_t
drain(struct tg_lim *lim, struct tg_item *items, size_t n, int64_t *sent,
    int64_t now)
{
	struct tg_item *it;
	size_t left = n;
	int64_t due;

	while (left > 0) {
		it = tg_lim_next(lim, now, &due);
		if (it == NULL) {
			assert_true(due != TG_NEVER);
			assert_true(due > now);
			now = due;
			continue;
		}
		assert_int_equal(it->state, TG_ITEM_SENT);
		sent[it - items] = now;
		tg_lim_done(lim, it, now);
		left--;
	}
	assert_null(tg_lim_next(lim, now, &due));
	assert_true(due == TG_NEVER);
	return now;
}

/* The most sends in any half-open window [t, t + w). */
static size_t
max_in_window(const int64_t *sent, size_t n, int64_t w)
{
	size_t i, j, c, best = 0;

	for (i = 0; i < n; i++) {
		c = 0;
		for (j = 0; j < n; j++)
			if (sent[j] >= sent[i] && sent[j] < sent[i] + w)
				c++;
		if (c > best)
			best = c;
	}
	return best;
}

/* 100 messages to one private chat: a burst of 3, then 1 per second. */
static void
test_one_chat(void **state)
{
	struct tg_item items[100];
	int64_t sent[100];
	struct tg_lim lim;
	size_t i;

	(void)state;
	tg_lim_init(&lim, &defaults);
	for (i = 0; i < 100; i++)
		tg_lim_push(&lim, &items[i], 12345, 0, 0);
	drain(&lim, items, 100, sent, 0);
	/* In order, the burst within the first 100 ms (global spacing). */
	for (i = 1; i < 100; i++)
		assert_true(sent[i] > sent[i - 1]);
	assert_true(sent[2] < 100);
	for (i = 3; i < 100; i++)
		assert_true(sent[i] == (int64_t)(i - 2) * 1000);
	assert_int_equal(max_in_window(sent, 100, 1000), 3);
	assert_int_equal(max_in_window(sent, 100, 10000), 12);
	tg_lim_release(&lim);
}

/* 100 messages to 100 chats: the global 30 per second. */
static void
test_many_chats(void **state)
{
	struct tg_item items[100];
	int64_t sent[100], last;
	struct tg_lim lim;
	size_t i;

	(void)state;
	tg_lim_init(&lim, &defaults);
	for (i = 0; i < 100; i++)
		tg_lim_push(&lim, &items[i], 1000 + (int64_t)i, 0, 0);
	last = drain(&lim, items, 100, sent, 0);
	assert_true(max_in_window(sent, 100, 1000) <= 30);
	assert_true(max_in_window(sent, 100, 1000) >= 29);
	/* About 3.3 s for 100, and first queued first sent. */
	assert_true(last >= 3300 && last <= 3400);
	for (i = 1; i < 100; i++)
		assert_true(sent[i] > sent[i - 1]);
	tg_lim_release(&lim);
}

/*
 * A rate above 1000/s is not capped by the clock's millisecond: 20000/s
 * over 2000 chats sends 20 per ms, 2000 in 100 ms.
 */
static void
test_high_rate(void **state)
{
	static struct tg_item items[2000];
	static int64_t sent[2000];
	struct tg_lim_conf cf = defaults;
	struct tg_lim lim;
	int64_t last;
	size_t i;

	(void)state;
	cf.global_rate = 20000;
	cf.max_inflight = 0;
	tg_lim_init(&lim, &cf);
	for (i = 0; i < 2000; i++)
		tg_lim_push(&lim, &items[i], 1000 + (int64_t)i, 0, 0);
	last = drain(&lim, items, 2000, sent, 0);
	assert_true(last >= 95 && last <= 100);
	assert_true(max_in_window(sent, 2000, 1) <= 21);
	tg_lim_release(&lim);
}

/* A group: at most 20 in any 60 s window. */
static void
test_group(void **state)
{
	struct tg_item items[100];
	int64_t sent[100];
	struct tg_lim lim;
	size_t i;

	(void)state;
	tg_lim_init(&lim, &defaults);
	for (i = 0; i < 100; i++)
		tg_lim_push(&lim, &items[i], -100123, 0, 0);
	drain(&lim, items, 100, sent, 0);
	assert_int_equal(max_in_window(sent, 100, 60000), 20);
	assert_true(max_in_window(sent, 100, 1000) <= 3);
	/* The 21st waits for the first to leave the window. */
	assert_true(sent[20] == sent[0] + 60000);
	assert_true(sent[19] < 20000);
	tg_lim_release(&lim);
}

/* A 429 pause holds every chat, and items without a chat. */
static void
test_pause_all(void **state)
{
	struct tg_item a, b, c, *it;
	struct tg_lim lim;
	int64_t due;

	(void)state;
	tg_lim_init(&lim, &defaults);
	tg_lim_push(&lim, &a, 1, 0, 0);
	tg_lim_push(&lim, &b, 2, 0, 0);
	tg_lim_push(&lim, &c, TG_NOCHAT, 0, 0);
	tg_lim_pause(&lim, 35000);
	tg_lim_pause(&lim, 1000);	/* a shorter pause does not shorten */
	assert_null(tg_lim_next(&lim, 0, &due));
	assert_true(due == 35000);
	assert_null(tg_lim_next(&lim, 34999, &due));
	assert_true(due == 35000);
	assert_non_null(it = tg_lim_next(&lim, 35000, &due));
	tg_lim_done(&lim, it, 35000);
	assert_null(tg_lim_next(&lim, 35000, &due));
	assert_true(due == 35034);
	assert_non_null(it = tg_lim_next(&lim, due, &due));
	tg_lim_done(&lim, it, due);
	assert_non_null(it = tg_lim_next(&lim, 36000, &due));
	tg_lim_done(&lim, it, 36000);
	assert_int_equal(lim.nqueued, 0);
	tg_lim_release(&lim);
}

/* One item per chat on the wire; a retry keeps its place in the chat. */
static void
test_order_and_retry(void **state)
{
	struct tg_item it[3], *p;
	struct tg_lim lim;
	int64_t due;

	(void)state;
	tg_lim_init(&lim, &defaults);
	tg_lim_push(&lim, &it[0], 7, 0, 0);
	tg_lim_push(&lim, &it[1], 7, 0, 0);
	tg_lim_push(&lim, &it[2], 7, 0, 0);
	assert_int_equal(it[1].state, TG_ITEM_WAITING);
	assert_ptr_equal(tg_lim_next(&lim, 0, &due), &it[0]);
	/* it[0] on the wire: nothing else of chat 7 may go. */
	assert_null(tg_lim_next(&lim, 5000, &due));
	assert_true(due == TG_NEVER);
	/* A 5xx: back to the head, not before 8000. */
	tg_lim_retry(&lim, &it[0], 8000, 5000);
	assert_null(tg_lim_next(&lim, 5000, &due));
	assert_true(due == 8000);
	assert_ptr_equal(tg_lim_next(&lim, 8000, &due), &it[0]);
	tg_lim_done(&lim, &it[0], 8100);
	p = tg_lim_next(&lim, 8100, &due);
	assert_ptr_equal(p, &it[1]);
	tg_lim_done(&lim, p, 8100);
	assert_null(tg_lim_next(&lim, 8100, &due));
	/* Chat 7 sent at 0 (failed), 8000 and 8100: the bucket is empty. */
	assert_true(due > 8100);
	assert_ptr_equal(tg_lim_next(&lim, due, &due), &it[2]);
	tg_lim_done(&lim, &it[2], due);
	tg_lim_release(&lim);
}

/* Bulk items wait while normal ones are ready. */
static void
test_bulk_last(void **state)
{
	struct tg_item bulk[10], normal[2], *p;
	struct tg_lim lim;
	int64_t due, now = 0;
	size_t i;

	(void)state;
	tg_lim_init(&lim, &defaults);
	for (i = 0; i < 10; i++)
		tg_lim_push(&lim, &bulk[i], 500 + (int64_t)i, 1, 0);
	tg_lim_push(&lim, &normal[0], 9, 0, 10);
	tg_lim_push(&lim, &normal[1], TG_NOCHAT, 0, 10);
	/* The first bulk item had the clock to itself at 0. */
	assert_ptr_equal(tg_lim_next(&lim, 0, &due), &bulk[0]);
	tg_lim_done(&lim, &bulk[0], 0);
	now = 40;
	p = tg_lim_next(&lim, now, &due);
	assert_ptr_equal(p, &normal[0]);
	tg_lim_done(&lim, p, now);
	assert_null(tg_lim_next(&lim, now, &due));
	now = due;
	p = tg_lim_next(&lim, now, &due);
	assert_ptr_equal(p, &normal[1]);
	tg_lim_done(&lim, p, now);
	for (i = 1; i < 10; i++) {
		if ((p = tg_lim_next(&lim, now, &due)) == NULL) {
			now = due;
			p = tg_lim_next(&lim, now, &due);
		}
		assert_ptr_equal(p, &bulk[i]);
		tg_lim_done(&lim, p, now);
	}
	tg_lim_release(&lim);
}

static void
test_max_inflight(void **state)
{
	struct tg_item it[5];
	struct tg_lim_conf cf = defaults;
	struct tg_lim lim;
	int64_t due;
	size_t i;

	(void)state;
	cf.global_rate = 0;	/* no global limit */
	cf.max_inflight = 2;
	tg_lim_init(&lim, &cf);
	for (i = 0; i < 5; i++)
		tg_lim_push(&lim, &it[i], TG_NOCHAT, 0, 0);
	assert_ptr_equal(tg_lim_next(&lim, 0, &due), &it[0]);
	assert_ptr_equal(tg_lim_next(&lim, 0, &due), &it[1]);
	assert_null(tg_lim_next(&lim, 0, &due));
	assert_true(due == TG_NEVER);
	tg_lim_done(&lim, &it[1], 3);
	assert_ptr_equal(tg_lim_next(&lim, 3, &due), &it[2]);
	tg_lim_done(&lim, &it[0], 3);
	tg_lim_done(&lim, &it[2], 3);
	assert_ptr_equal(tg_lim_next(&lim, 3, &due), &it[3]);
	assert_ptr_equal(tg_lim_next(&lim, 3, &due), &it[4]);
	tg_lim_done(&lim, &it[3], 3);
	tg_lim_done(&lim, &it[4], 3);
	assert_int_equal(lim.inflight, 0);
	tg_lim_release(&lim);
}

/* Idle chats are forgotten once they no longer limit anything. */
static void
test_forget_idle(void **state)
{
	struct tg_item it[50];
	int64_t sent[50], now, due;
	struct tg_lim lim;
	size_t i;

	(void)state;
	tg_lim_init(&lim, &defaults);
	for (i = 0; i < 50; i++)
		tg_lim_push(&lim, &it[i], (i % 2 ? -1 : 1) * (int64_t)(i + 1),
		    0, 0);
	now = drain(&lim, it, 50, sent, 0);
	assert_true(lim.nchats >= 40);
	assert_non_null(tg_lim_chat(&lim, -2));
	/* Private chats go after a second, groups after a minute. */
	for (i = 0; i < 20; i++)
		tg_lim_next(&lim, now + 2000, &due);
	assert_true(lim.nchats >= 25);
	for (i = 0; i < 20; i++)
		tg_lim_next(&lim, now + 61000, &due);
	assert_int_equal(lim.nchats, 0);
	assert_null(tg_lim_chat(&lim, -2));
	tg_lim_release(&lim);
}

/* Many chats, no limits: everything goes, each chat in order. */
static void
test_volume(void **state)
{
	struct tg_lim_conf cf = { 0 };
	struct tg_item *it, *p;
	struct tg_lim lim;
	int64_t *last, due;
	size_t n = 200000, chats = 5000, i, got = 0;

	(void)state;
	tg_lim_init(&lim, &cf);
	it = xcalloc(n, sizeof(*it));
	last = xcalloc(chats, sizeof(*last));
	for (i = 0; i < n; i++)
		tg_lim_push(&lim, &it[i], (int64_t)(i % chats) + 1,
		    i % 3 == 0, 0);
	for (i = 0; i < chats; i++)
		last[i] = -1;
	while ((p = tg_lim_next(&lim, 0, &due)) != NULL) {
		size_t idx = (size_t)(p - it), c = idx % chats;

		assert_true((int64_t)idx > last[c]);
		last[c] = (int64_t)idx;
		tg_lim_done(&lim, p, 0);
		got++;
	}
	assert_int_equal(got, n);
	free(it);
	free(last);
	tg_lim_release(&lim);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_chat),
		cmocka_unit_test(test_many_chats),
		cmocka_unit_test(test_high_rate),
		cmocka_unit_test(test_group),
		cmocka_unit_test(test_pause_all),
		cmocka_unit_test(test_order_and_retry),
		cmocka_unit_test(test_bulk_last),
		cmocka_unit_test(test_max_inflight),
		cmocka_unit_test(test_forget_idle),
		cmocka_unit_test(test_volume),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
