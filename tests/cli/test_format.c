/* The shared wording (core-runtime/src/wording/format.c) on synthetic records:
 * durations, and the states no sample shows yet (running, scheduled,
 * torn, owners of locks). */
#include <check.h>
#include <string.h>

#include "tasktrace/read/format.h"

static char buf[512];

static const char *dur(uint64_t ns)
{
	tt_fbuf b;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_duration(&b, ns);
	return buf;
}

START_TEST(durations)
{
	ck_assert_str_eq(dur(75), "75ns");
	ck_assert_str_eq(dur(420000), "420us");
	ck_assert_str_eq(dur(850000000ull), "850ms");
	ck_assert_str_eq(dur(12345000000ull), "12.3s");
	ck_assert_str_eq(dur(192000000000ull), "3m12s");
	ck_assert_str_eq(dur(7500000000000ull), "2h5m");
	ck_assert_str_eq(dur(0), "0ns");
}
END_TEST

static tt_rtask task(uint32_t state)
{
	tt_rtask t;
	memset(&t, 0, sizeof t);
	t.id = 7;
	t.state = state;
	t.worker = -1;
	strcpy(t.name, "fetch-user");
	return t;
}

static tt_rframe leaf(uint32_t kind, uint64_t since)
{
	tt_rframe f;
	memset(&f, 0, sizeof f);
	f.kind = TT_FUNC_KIND_LEAF;
	f.wait_kind = kind;
	f.wait_object = 0x55d0c0a0;
	f.wait_since_ns = since;
	return f;
}

#define NOW (1000 * 1000000000ull)

START_TEST(ps_rows)
{
	tt_rtask t = task(TT_STATE_IDLE);
	tt_rframe l = leaf(TT_WAIT_CHAN_RECV, NOW - 192000000000ull);
	tt_fmt_task v = { &t, &l, "await_reply", "samples/hung.c", 28, -1, NULL, 0 };
	tt_fbuf b;

	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ps_row(&b, &v, NOW);
	ck_assert_str_eq(buf, "  7    idle               channel recv 3m12s    fetch-user       await_reply at samples/hung.c:28");
	v.selected = 1; /* gdb's selected task; no trailing blanks without a where */
	v.where_func = NULL;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ps_row(&b, &v, NOW);
	ck_assert_str_eq(buf, "* 7    idle               channel recv 3m12s    fetch-user");
	v.selected = 0;
	v.where_func = "await_reply";

	t = task(TT_STATE_RUNNING);
	t.worker = 1;
	v.tid = 4242;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ps_row(&b, &v, NOW);
	ck_assert_str_eq(buf, "  7    running            -                     fetch-user       running on worker 1 (tid 4242)");
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_bt_running(&b, 0, &v);
	ck_assert_str_eq(buf, "#0  <running on worker 1, tid 4242>");
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_bt_header(&b, &v, NOW);
	ck_assert_str_eq(buf, "task 7 \"fetch-user\" [running on worker 1, tid 4242]:");

	t = task(TT_STATE_SCHEDULED);
	t.wake_ns = NOW - 1200000000ull;
	v.error = "task 7: kept changing while read (17 tries)";
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ps_row(&b, &v, NOW);
	ck_assert_str_eq(buf, "  7    scheduled          runnable 1.2s         fetch-user       await_reply at samples/hung.c:28 (error: kept changing while read (17 tries))");
}
END_TEST

START_TEST(leaf_words)
{
	tt_fbuf b;
	tt_rframe l = leaf(TT_WAIT_MUTEX, NOW - 5000000000ull);
	l.wait_owner = 5;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_bt_frame(&b, 0, 0, &l, "tt_lock", NULL, 0, "writer", NOW);
	ck_assert_str_eq(buf, "#0  tt_lock  waits on mutex 0x55d0c0a0 held by task 5 \"writer\" [for 5.0s]");

	l = leaf(TT_WAIT_TIMER, 0);
	l.wait_detail = NOW + 3598000000000ull;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_bt_frame(&b, 0, 0, &l, "tt_sleep", NULL, 0, NULL, NOW);
	ck_assert_str_eq(buf, "#0  tt_sleep  timer, deadline in 59m58s");

	tt_rframe a;
	memset(&a, 0, sizeof a);
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_bt_frame(&b, 12, 0, &a, "await_reply", "samples/hung.c", 28, NULL, NOW);
	ck_assert_str_eq(buf, "#12 await_reply () at samples/hung.c:28");

	/* A hostile name cannot carry escape sequences to the terminal. */
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ancestor(&b, 1, "evil\033[2J", "x.c", 3, "f");
	ck_assert_str_eq(buf, "spawned by task 1 \"evil?[2J\" at x.c:3 (f)");
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ancestor(&b, 9, NULL, NULL, 0, NULL);
	ck_assert_str_eq(buf, "spawned by task 9 (gone)");
}
END_TEST

START_TEST(buffer_never_overflows)
{
	char small[8];
	tt_fbuf b;
	tt_fb_init(&b, small, sizeof small);
	tt_fb_str(&b, "a much longer text than fits");
	tt_fb_u64(&b, 123456789);
	tt_fb_pad(&b, 100);
	ck_assert_uint_eq(strlen(small), 7);
	ck_assert_str_eq(small, "a much ");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("words");
	tcase_add_test(tc, durations);
	tcase_add_test(tc, ps_rows);
	tcase_add_test(tc, leaf_words);
	tcase_add_test(tc, buffer_never_overflows);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
