/* A finding's last poll and last wake in words (diagnosis/last_wake.c),
 * from events written here: where the coarse clocks of two threads
 * disagree, the words follow what the runtime knows, not the stamps.
 * Linked against the library's own objects: the words are internal. */
#include <check.h>
#include <string.h>

#include "../test_util.h"
#include "diagnosis/last_wake.h"

#define MS 1000000ull

/* W's line: its last poll, a 10 ms poll on worker 1 that ended pending
 * at 100 ms, and a wake from thread 4242 at WAKE_MS (DURING: during a
 * poll); read at 200 ms, with every ring whole. */
static const char *words(uint64_t wake_ms, uint32_t during)
{
	static char line[512];
	tt_last_wake w = {.id = 7};
	w.poll = (tt_revent){.kind = TT_EV_SUSPEND, .worker = 1, .task = 7,
			     .stamp_ns = 100 * MS, .start_ns = 90 * MS};
	w.wake = (tt_revent){.kind = TT_EV_WAKE, .worker = -1, .task = 7, .arg2 = 4242,
			     .arg3 = during, .stamp_ns = wake_ms * MS};
	tt_last_wakes_info info = {0};
	tt_fbuf b;
	tt_fb_init(&b, line, sizeof line);
	tt__last_wake_words(&b, NULL, NULL, NULL, &w, &info, 200 * MS);
	return line;
}

/* A wake stamped after the last poll woke the task since. */
START_TEST(wake_after_the_poll)
{
	ck_assert_str_eq(words(102, 0), "  last poll 100ms ago: polled on worker 1 for 10ms, "
					"suspended; last woken 98ms ago: woken by thread 4242");
}
END_TEST

/* A wake before it led to it (or an earlier one). */
START_TEST(wake_before_the_poll)
{
	ck_assert_str_eq(words(95, 0), "  last poll 100ms ago: polled on worker 1 for 10ms, "
				       "suspended; never woken since (last woken 105ms ago: "
				       "woken by thread 4242)");
}
END_TEST

/* A wake during a poll queued the task for the poll after it: for a
 * task that waits, that came before its last poll, even when the
 * waker's clock, ahead of the poller's, stamped it later. */
START_TEST(wake_during_a_poll_stamped_after_it)
{
	ck_assert_str_eq(words(102, 1), "  last poll 100ms ago: polled on worker 1 for 10ms, "
					"suspended; never woken since (last woken 98ms ago: "
					"woken by thread 4242 during its poll)");
}
END_TEST

static Suite *last_wake_suite(void)
{
	Suite *s = suite_create("last_wake");
	TCase *tc = tcase_create("words");
	tcase_add_test(tc, wake_after_the_poll);
	tcase_add_test(tc, wake_before_the_poll);
	tcase_add_test(tc, wake_during_a_poll_stamped_after_it);
	suite_add_tcase(s, tc);
	return s;
}

TT_TEST_MAIN(last_wake_suite)
