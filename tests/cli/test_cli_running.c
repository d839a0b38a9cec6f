/* `tasktrace bt` of a task running inside a tt_select (tests/cli/
 * select_prog.c): the text shows the select's other branches, as --json
 * does, and in a stripped executable the registry names the poll
 * functions libdw cannot. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

static const char *at(const char *tag)
{
	static char buf[4][64];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, 64, "tests/cli/select_prog.c:%u",
		 marker_line_in("tests/cli/select_prog.c", tag));
	return b;
}

/* bt of the racer, read until it is caught running (it sleeps 3 s in
 * its poll, then yields for a moment). */
static run bt_running(const char *exe)
{
	sample s;
	char pid[16];
	run r = {0};

	sample_start_path(&s, exe, NULL);
	snprintf(pid, sizeof pid, "%d", (int)s.pid);
	for (int i = 0; i < 20; i++) {
		if (i)
			run_free(&r);
		r = tasktrace("bt", pid, "2", NULL);
		if (strstr(r.out, "[running on worker "))
			break;
	}
	sample_stop(&s);
	ck_assert_msg(strstr(r.out, "[running on worker "), "never running:\n%s", r.out);
	return r;
}

START_TEST(running_in_select_shows_branches)
{
	char path[512];
	snprintf(path, sizeof path, "%s/select_prog", getenv("TT_FIXTURES"));
	run r = bt_running(path);
	char want[128];
	snprintf(want, sizeof want, "        nap () at %s\n", at("nap"));
	in_order(r.out, " in cruncher_poll () at ", " in racer_poll () at ",
		 "\n    tt_select () (not suspended at an await)\n    also awaiting:\n"
		 "        tt_sleep  timer, deadline in ",
		 want, "    also awaiting:\n        cruncher () ", "spawned by task 1", NULL);
	run_free(&r);
}
END_TEST

START_TEST(stripped_named_from_registry)
{
	char cmd[1200], path[512];
	const char *dir = getenv("TT_FIXTURES");
	snprintf(path, sizeof path, "%s/select_stripped", dir);
	/* Next to the original: its runpath is relative to it. */
	snprintf(cmd, sizeof cmd, "objcopy --strip-all '%s/select_prog' '%s'", dir, path);
	ck_assert_int_eq(system(cmd), 0);
	run r = bt_running(path);
	unlink(path);
	char want[128];
	snprintf(want, sizeof want, " in racer_poll () at %s\n", at("sel"));
	/* cruncher_poll before its first yield: the async function "cruncher" */
	in_order(r.out, " in cruncher", " () at tests/cli/select_prog.c:", want,
		 "    tt_select () ", NULL);
	ck_assert_msg(!strstr(r.out, "?? () from"), "nameless frames:\n%s", r.out);
	run_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli-running");
	TCase *tc = tcase_create("running");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, running_in_select_shows_branches);
	tcase_add_test(tc, stripped_named_from_registry);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
