/* Await chains deeper than the reader keeps (256 frames on a path): the
 * root and the innermost frames are shown, the gap counted, so the leaf
 * -- what the task waits on, or the function that crashed -- is never the
 * part cut off.  tests/cli/deep_prog.c makes the chains. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"

static const char *prog(void)
{
	const char *p = getenv("TT_DEEP_PROG");
	ck_assert_msg(p, "TT_DEEP_PROG not set");
	return p;
}

static const char *at(const char *tag)
{
	static char buf[4][64];
	static int k;
	char *b = buf[k++ % 4];
	unsigned line = marker_line_in("tests/cli/deep_prog.c", tag);
	snprintf(b, 64, "tests/cli/deep_prog.c:%u", line + !strcmp(tag, "link"));
	return b;
}

/* deep_prog N: N levels over the bottom over its notify wait. */
static void live(long n)
{
	sample s;
	char arg[32], pid[16], buf[512], want[160];
	long frames = n + 2, elided = frames - 256;

	snprintf(arg, sizeof arg, "%ld", n);
	/* Its stderr, for the dump on SIGUSR1. */
	FILE *err = tmpfile();
	int saved = dup(2);
	ck_assert(err && saved >= 0);
	dup2(fileno(err), 2);
	setenv("TASKTRACE_DUMP_SIGNAL", "USR1", 1);
	sample_start_path(&s, prog(), arg);
	unsetenv("TASKTRACE_DUMP_SIGNAL");
	dup2(saved, 2);
	close(saved);
	snprintf(pid, sizeof pid, "%d", (int)s.pid);

	/* ps: the leaf's wait and the innermost await. */
	run r = tasktrace("ps", pid, NULL);
	ck_assert_int_eq(r.status, 0);
	line_with(r.out, " deep ", buf, sizeof buf);
	ck_assert_msg(strstr(buf, "notify") && strstr(buf, at("bottom")), "ps row: %s", buf);
	run_free(&r);

	/* bt: the leaf and the innermost frames, the gap, the root. */
	r = tasktrace("bt", pid, "2", NULL);
	ck_assert_int_eq(r.status, 0);
	snprintf(want, sizeof want, "#1  bottom () at %s\n#2  level () at %s\n", at("bottom"),
		 at("last"));
	char gap[96];
	snprintf(gap, sizeof gap,
		 "#254 level () at %s\n    ... %ld frames elided ...\n#255 level () at ",
		 at("link"), elided);
	in_order(r.out, "task 2 \"deep\" [notify, ", "#0  tt_notified  waits on notify 0x", want,
		 gap, "spawned by task 1", NULL);
	ck_assert_ptr_null(strstr(r.out, "error:"));
	run_free(&r);

	/* JSON: the same frames, the gap a field. */
	r = tasktrace("bt", "--json", pid, "2", NULL);
	ck_assert_int_eq(r.status, 0);
	assert_schema("bt", r.out);
	snprintf(want, sizeof want, "\"depth\":%ld,\"elided\":%ld,", frames - 255, elided);
	ck_assert_msg(strstr(r.out, want), "no %s in %.3000s", want, r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "\"wait\":{\"kind\":\"notify\""));
	run_free(&r);

	/* hung: the wait found, not "no wait recorded". */
	r = tasktrace("hung", "--idle", "1ms", pid, NULL);
	ck_assert_int_eq(r.status, 20);
	in_order(r.out, "idle: task 2 \"deep\"", "waits on notify 0x", at("bottom"), NULL);
	ck_assert_ptr_null(strstr(r.out, "no wait recorded"));
	run_free(&r);

	/* The dump: the same frames, printed in the process. */
	kill(s.pid, SIGUSR1);
	char *d = NULL;
	for (int i = 0; i < 1000 && !(d && strstr(d, "tasktrace: end of dump")); i++) {
		free(d);
		usleep(10000);
		d = slurp_keep(err);
	}
	snprintf(want, sizeof want, "#1  bottom () at %s\n", at("bottom"));
	ck_assert_msg(strstr(d, want), "dump has no %s (%zu bytes)", want, strlen(d));
	ck_assert_ptr_nonnull(strstr(d, "#0  tt_notified  waits on notify 0x"));
	ck_assert_ptr_nonnull(strstr(d, gap));
	free(d);
	fclose(err);
	sample_stop(&s);
}

START_TEST(deep_300)
{
	live(300);
}
END_TEST

START_TEST(deep_5000)
{
	live(5000);
}
END_TEST

/* NEEDLE in TEXT after AFTER; a short message (the check library cuts a
 * long one, and a crash log is long). */
static const char *after(const char *text, const char *from, const char *needle)
{
	const char *p = strstr(from, needle);
	ck_assert_msg(p, "'%s' not in the crash log after byte %zu (of %zu)", needle,
		      (size_t)(from - text), strlen(text));
	return p + strlen(needle);
}

/* The crash log: the function that crashed, innermost, and the gap. */
START_TEST(crash_deep)
{
	char *argv[] = {(char *)"deep_prog", (char *)"crash300", NULL};
	char want[96];

	setenv("ASAN_OPTIONS", "handle_segv=0:detect_leaks=0", 1);
	/* The NULL load is the crash to report, not UBSan's to stop at. */
	setenv("UBSAN_OPTIONS", "halt_on_error=0:print_stacktrace=0", 1);
	run r = run_prog(prog(), argv);
	ck_assert_int_eq(r.status, 128 + SIGSEGV);
	const char *e = r.err, *p;
	p = after(e, e, "polling task 2 \"deep\"");
	p = after(e, p, "task 2 \"deep\" [running on worker ");
	p = after(e, p, "#1  bottom () (not suspended at an await)\n");
	/* 300 levels and the bottom: 256 kept, the root last. */
	snprintf(want, sizeof want, "    ... %d frames elided ...\n#256 level () at ", 301 - 256);
	p = after(e, p, want);
	after(e, p, "tasktrace: end of crash report");
	run_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli-deep");
	TCase *tc = tcase_create("deep");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, deep_300);
	tcase_add_test(tc, deep_5000);
	tcase_add_test(tc, crash_deep);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
