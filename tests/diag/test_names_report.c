/* Task names that are not clean UTF-8 in the reports written from inside
 * the process, the crash log (tt_crash_report) and the dump
 * (tt_dump_tasks): printed by the same sanitiser as the CLI's text
 * (core-runtime/src/wording/untrusted.h), from the signal-safe path. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tasktrace/crash.h"
#include "tasktrace/tasktrace.h"

#define VALID "\xd0\xb7\xd0\xb0\xd0\xb4\xd0\xb0\xd1\x87\xd0\xb0-\xe6\x97\xa5\xe6\x9c\xac"

static const struct {
	const char *raw, *text;
} names[] = {
    {"ovl\xc0\x80-\xe0\x80\x80", "ovl\\xc0\\x80-\\xe0\\x80\\x80"},
    {"sur\xed\xa0\x80", "sur\\xed\\xa0\\x80"},
    {"big\xf4\x90\x80\x80", "big\\xf4\\x90\\x80\\x80"},
    {"cut\xe2\x82", "cut\\xe2\\x82"},
    {"csi\x9b"
     "31m",
     "csi\\x9b31m"},
    {"c1\xc2\x9b"
     "2J",
     "c1\\xc2\\x9b2J"},
    {"esc\x1b[2J", "esc\\x1b[2J"},
    {VALID, VALID},
};
#define NNAMES (sizeof names / sizeof names[0])

/* What FN(fd) wrote, as a string. */
static char *capture(int (*fn)(int fd))
{
	FILE *f = tmpfile();
	ck_assert_ptr_nonnull(f);
	fn(fileno(f));
	long n = lseek(fileno(f), 0, SEEK_END);
	char *text = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(pread(fileno(f), text, (size_t)n, 0), n);
	fclose(f);
	return text;
}

static int crash_report(int fd)
{
	return (int)tt_crash_report(fd, SIGSEGV, NULL);
}

static void clean_text(const char *what, const char *text)
{
	for (const char *p = text; *p;) {
		if (!strncmp(p, VALID, strlen(VALID))) {
			p += strlen(VALID);
			continue;
		}
		unsigned char c = (unsigned char)*p++;
		ck_assert_msg(c == '\n' || (c >= 0x20 && c < 0x7f), "%s: byte 0x%02x at %zu:\n%s",
			      what, c, (size_t)(p - 1 - text), text);
	}
}

START_TEST(crash_log_and_dump)
{
	static tt_notify never;
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 1});
	tt_handle t[NNAMES];
	char *dump = NULL;

	ck_assert_ptr_nonnull(rt);
	tt_notify_init(&never);
	for (size_t i = 0; i < NNAMES; i++) {
		t[i] = TT_SPAWN(rt, names[i].raw, tt_notified, tt_notified_init, &never);
		ck_assert_ptr_nonnull(t[i].task);
	}
	/* Until every task waits on the notify (bounded). */
	for (int tries = 0; tries < 2000; tries++) {
		free(dump);
		dump = capture(tt_dump_tasks);
		size_t n = 0;
		for (const char *p = dump; (p = strstr(p, "[notify")); p++)
			n++;
		if (n == NNAMES)
			break;
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	char *crash = capture(crash_report);
	const char *what[] = {"dump", "crash log"};
	const char *text[] = {dump, crash};
	for (int k = 0; k < 2; k++) {
		clean_text(what[k], text[k]);
		for (size_t i = 0; i < NNAMES; i++)
			ck_assert_msg(strstr(text[k], names[i].text), "%s: no %s in\n%s", what[k],
				      names[i].text, text[k]);
	}
	free(dump);
	free(crash);
	for (size_t i = 0; i < NNAMES; i++) {
		tt_task_cancel(t[i]);
		tt_task_release(t[i]);
	}
	tt_runtime_free(rt);
}
END_TEST

/* A long valid name is cut between characters, never inside one. */
START_TEST(long_name_cut_between_characters)
{
	static tt_notify never;
	/* 20 two-byte characters: 40 bytes for TT_TASK_NAME_MAX - 1 = 31. */
	static const char cyr[] = "\xd0\xb4\xd0\xbb\xd0\xb8\xd0\xbd\xd0\xbd\xd0\xbe\xd0\xb5"
				  "\xd0\xb8\xd0\xbc\xd1\x8f\xd0\xb4\xd0\xbb\xd0\xb8\xd0\xbd"
				  "\xd0\xbd\xd0\xbe\xd0\xb5\xd0\xb8\xd0\xbc\xd1\x8f";
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){ .workers = 1 });

	ck_assert_uint_eq(strlen(cyr), 40);
	tt_notify_init(&never);
	tt_handle t = TT_SPAWN(rt, cyr, tt_notified, tt_notified_init, &never);
	ck_assert_ptr_nonnull(t.task);
	ck_assert_uint_eq(strlen(tt_task_name(t)), 30);
	ck_assert(!memcmp(tt_task_name(t), cyr, 30));
	char *dump = capture(tt_dump_tasks);
	ck_assert_msg(!strstr(dump, "\\x"), "%s", dump);
	free(dump);
	tt_task_cancel(t);
	tt_task_release(t);
	tt_runtime_free(rt);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("names-report");
	TCase *tc = tcase_create("in-process");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, crash_log_and_dump);
	tcase_add_test(tc, long_name_cut_between_characters);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
