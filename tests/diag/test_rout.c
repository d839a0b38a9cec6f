/* The crash report's writer (reporters/report.c, tt_rout): a section
 * takes at most its budget in bytes, newlines counted, and the report at
 * most its cap.  Linked against the library's own objects: tt_rout is
 * internal (a signal handler's writer, not exported). */
#include <check.h>
#include <string.h>
#include <unistd.h>

#include "../test_util.h"
#include "reporters/report.h"

static int fds[2];
static tt_rout o;

static void setup(void)
{
	ck_assert_int_eq(pipe(fds), 0);
	tt_rout_init(&o, fds[1], 100);
}

static void teardown(void)
{
	close(fds[0]);
	close(fds[1]);
}

static size_t drained(void)
{
	char buf[256];
	tt_rout_flush(&o);
	close(fds[1]);
	fds[1] = -1;
	ssize_t n = read(fds[0], buf, sizeof buf);
	return n < 0 ? 0 : (size_t)n;
}

/* A section of 10 bytes takes a line of 9 (10 with its newline), not one
 * of 10: the byte past the budget is where a cut report would show. */
START_TEST(section_budget_counts_the_newline)
{
	tt_rout_section(&o, 10, 0);
	ck_assert_int_eq(tt_rout_put(&o, "0123456789", 10), 0);
	ck_assert_int_eq(tt_rout_put(&o, "012345678", 9), 1);
	ck_assert_int_eq(tt_rout_put(&o, "", 0), 0); /* full: not even a newline */
	ck_assert_uint_eq(o.written, 10);
	ck_assert_uint_eq(drained(), 10);
}
END_TEST

/* Sections never reach into the reserve kept for the closing lines, and
 * the whole report stays within its cap. */
START_TEST(reserve_and_cap_hold)
{
	tt_rout_section(&o, 1000, 20);
	char line[30];
	memset(line, 'x', sizeof line);
	int taken = 0;
	while (tt_rout_put(&o, line, 29))
		taken++;
	ck_assert_int_eq(taken, 2); /* 60 bytes; a third would pass 80 */
	tt_rout_section(&o, 1000, 0);
	ck_assert_int_eq(tt_rout_put(&o, line, 29), 1);
	ck_assert_int_eq(tt_rout_put(&o, line, 9), 1); /* 100 exactly */
	ck_assert_int_eq(tt_rout_put(&o, "", 0), 0);
	ck_assert_uint_eq(drained(), 100);
}
END_TEST

static Suite *rout_suite(void)
{
	Suite *s = suite_create("rout");
	TCase *tc = tcase_create("rout");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, section_budget_counts_the_newline);
	tcase_add_test(tc, reserve_and_cap_hold);
	suite_add_tcase(s, tc);
	return s;
}

TT_TEST_MAIN(rout_suite)
