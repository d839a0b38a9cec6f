/* The tasktrace CLI as a user runs it: the real binary against the real
 * samples/hung process, checking its words against the source lines
 * marked "@await:TAG", its JSON for well-formedness, and its one-line
 * errors and exit codes on bad input. */
#include <check.h>
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_util.h"

/* ---- the tests ---- */

START_TEST(ps_lists_hung_tasks)
{
	sample s;
	char pid[16], line[512];
	sample_start(&s, "hung", NULL);
	snprintf(pid, sizeof pid, "%d", (int)s.pid);
	run r = tasktrace("ps", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.err, "");
	ck_assert_msg(strncmp(r.out, "  Id   State              Wait                  Name             Where\n",
			      70) == 0, "header:\n%s", r.out);

	line_with(r.out, " request-42 ", line, sizeof line);
	in_order(line, "idle", "notify ", "request-42", "await_reply at ", site("reply"), NULL);
	line_with(r.out, " cache-refresh ", line, sizeof line);
	in_order(line, "idle", "timer ", " left", "cache-refresh", "cache_refresh at ",
		 site("sleep"), NULL);
	line_with(r.out, " supervisor ", line, sizeof line);
	in_order(line, "idle", "join ", "supervisor", "supervisor at ", site("join"), NULL);
	line_with(r.out, " block_on ", line, sizeof line);
	in_order(line, "idle", "timer ", "block_on", "server_main at ", site("main"), NULL);
	run_free(&r);
	sample_stop(&s);
}
END_TEST

/* --state, --name and --group pick the rows a user with thousands of
 * tasks wants; hung has two batch-item tasks on the same chain. */
START_TEST(ps_filters_and_groups)
{
	sample s;
	char pid[16], line[512];
	sample_start(&s, "hung", NULL);
	snprintf(pid, sizeof pid, "%d", (int)s.pid);

	run r = tasktrace("ps", "--state", "idle", "--name", "^(request|supervisor)", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	line_with(r.out, " request-42 ", line, sizeof line);
	in_order(line, "idle", "notify ", "await_reply at ", site("reply"), NULL);
	ck_assert_ptr_nonnull(strstr(r.out, " supervisor "));
	ck_assert_ptr_null(strstr(r.out, "cache-refresh"));
	ck_assert_ptr_null(strstr(r.out, "block_on"));
	run_free(&r);

	r = tasktrace("ps", "--state", "running", pid, NULL);
	ck_assert_str_eq(r.out, "No tasks.\n");
	run_free(&r);

	r = tasktrace("bt", "--name", "^request-42$", pid, NULL);
	ck_assert_msg(strncmp(r.out, "task ", 5) == 0 && strstr(r.out, "await_reply () at "),
		      "%s", r.out);
	ck_assert_ptr_null(strstr(r.out, "\"supervisor\""));
	run_free(&r);

	r = tasktrace("ps", "--group", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_msg(strncmp(r.out, "  Count State ", 14) == 0, "%s", r.out);
	/* The biggest group first: the two batch items, with both ids. */
	line_with(r.out, "batch_item at ", line, sizeof line);
	ck_assert_msg(strncmp(line, "  2     idle ", 13) == 0 && strchr(line, ','), "%s", line);
	ck_assert_ptr_eq(strstr(r.out, "\n") + 1, strstr(r.out, line));
	line_with(r.out, "await_reply at ", line, sizeof line);
	ck_assert_msg(strncmp(line, "  1     idle ", 13) == 0, "%s", line);
	run_free(&r);

	r = tasktrace("ps", "--state", "sleepy", pid, NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "'sleepy' is not a state"), "%s", r.err);
	run_free(&r);
	r = tasktrace("ps", "--name", "(", pid, NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	r = tasktrace("tree", "--group", pid, NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "'--group' is not for tree"), "%s", r.err);
	run_free(&r);
	sample_stop(&s);
}
END_TEST

/* ps --group's Ids column is exactly the group's ids, in order: hung's two
 * batch items, as plain ps lists them. */
START_TEST(ps_group_ids_exact)
{
	sample s;
	char pid[16], line[512], ids[64] = "", want[80];
	size_t len = 0;
	sample_start(&s, "hung", NULL);
	snprintf(pid, sizeof pid, "%d", (int)s.pid);

	run r = tasktrace("ps", "--name", "^batch-item$", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	for (const char *p = strchr(r.out, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
		long id = strtol(p + 1, NULL, 10);
		ck_assert_msg(id > 0, "%s", r.out);
		len += (size_t)snprintf(ids + len, sizeof ids - len, "%s%ld", len ? "," : "", id);
	}
	run_free(&r);
	ck_assert_msg(strchr(ids, ',') && !strchr(strchr(ids, ',') + 1, ','), "ids %s", ids);

	r = tasktrace("ps", "--group", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	line_with(r.out, "batch_item at ", line, sizeof line);
	snprintf(want, sizeof want, " %s ", ids);
	ck_assert_msg(strncmp(line, "  2     idle ", 13) == 0 && strstr(line, want),
		      "want ids%s in: %s", want, line);
	run_free(&r);
	sample_stop(&s);
}
END_TEST

START_TEST(bt_prints_chains_innermost_first)
{
	sample s;
	char pid[16], want[128];
	sample_start(&s, "hung", NULL);
	snprintf(pid, sizeof pid, "%d", (int)s.pid);
	run ps = tasktrace("ps", pid, NULL);
	ck_assert_int_eq(ps.status, 0);
	unsigned long req = task_id(ps.out, "request-42");
	unsigned long root = task_id(ps.out, "block_on");

	run r = tasktrace("bt", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	snprintf(want, sizeof want,
		 "task %lu \"request-42\" {request_id=42 route=/users} [notify, ", req);
	char spawned[128];
	snprintf(spawned, sizeof spawned, "spawned by task %lu \"block_on\" at ", root);
	in_order(r.out, want,
		 "\n#0  tt_notified  waits on notify 0x",
		 "\n#1  await_reply () at ", site("reply"),
		 "\n#2  query_db () at ", site("query"),
		 "\n#3  load_user () at ", site("load"),
		 "\n#4  handle_request () at ", site("handle"),
		 "\n", spawned, "samples/hung.c:", " (server_main_poll)\n", NULL);

	/* Objects the program named read by their names (samples/hung.c names
	 * the jobs channel, the config mutex, the pool semaphore, the auth
	 * oneshot; db_reply above stays an address). */
	ck_assert_msg(strstr(r.out, "\"job-consumer\" [channel recv \"jobs\", ") &&
			  strstr(r.out, "  tt_recv  waits on channel recv \"jobs\" [for "),
		      "bt:\n%s", r.out);
	ck_assert_msg(strstr(r.out, "  tt_lock  waits on mutex \"config\" held by task "),
		      "bt:\n%s", r.out);
	ck_assert_msg(strstr(r.out, "waits on semaphore \"pool-slots\""), "bt:\n%s", r.out);
	ck_assert_msg(strstr(r.out, "waits on oneshot \"auth-reply\" owned by task "), "bt:\n%s",
		      r.out);

	in_order(r.out, "\"cache-refresh\" [timer, ", " left]:",
		 "\n#0  tt_sleep  timer, deadline in ",
		 "\n#1  cache_refresh () at ", site("sleep"), "\n", spawned, NULL);
	snprintf(want, sizeof want, "\n#0  tt_join  waits on join of task %lu \"request-42\" [for ",
		 req);
	in_order(r.out, "\"supervisor\" [join, ", want,
		 "\n#1  supervisor () at ", site("join"), "\n", spawned, NULL);
	run_free(&r);

	/* Only the tasks asked for, in that order. */
	char id[32];
	snprintf(id, sizeof id, "%lu", req);
	r = tasktrace("bt", pid, id, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(!strstr(r.out, "supervisor") && strstr(r.out, "request-42"),
		      "bt %s:\n%s", id, r.out);
	run_free(&r);

	r = tasktrace("bt", pid, "999999", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "has no task 999999"), "stderr: %s", r.err);
	run_free(&r);
	run_free(&ps);
	/* Stopped for the read, running again after it. */
	assert_running(s.pid);
	sample_stop(&s);
}
END_TEST

START_TEST(tree_nests_by_parent)
{
	sample s;
	char pid[16], want[128];
	sample_start(&s, "hung", NULL);
	snprintf(pid, sizeof pid, "%d", (int)s.pid);
	run ps = tasktrace("ps", pid, NULL);
	unsigned long req = task_id(ps.out, "request-42");
	unsigned long root = task_id(ps.out, "block_on");

	run r = tasktrace("tree", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	snprintf(want, sizeof want, "%lu \"block_on\" idle [timer ", root);
	ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "tree:\n%s", r.out);
	snprintf(want, sizeof want,
		 "\n  %lu \"request-42\" {request_id=42 route=/users} idle [notify ", req);
	in_order(r.out, want, NULL);
	in_order(r.out, "\n  ", "\"cache-refresh\" idle [timer ", " left]\n", NULL);
	in_order(r.out, "\n  ", "\"supervisor\" idle [join ", NULL);
	run_free(&r);
	run_free(&ps);
	sample_stop(&s);
}
END_TEST

START_TEST(json_is_well_formed)
{
	sample s;
	char pid[16];
	sample_start(&s, "hung", NULL);
	snprintf(pid, sizeof pid, "%d", (int)s.pid);
	static const char *const cmds[] = { "ps", "bt", "tree" };
	for (int i = 0; i < 3; i++) {
		run r = tasktrace(cmds[i], "--json", pid, NULL);
		ck_assert_msg(r.status == 0, "%s: exit %d: %s", cmds[i], r.status, r.err);
		assert_json(r.out);
		assert_schema(cmds[i], r.out);
		in_order(r.out, "\"command\":\"", cmds[i], "\"", NULL);
		in_order(r.out, "\"name\":\"request-42\"", "\"wait\":{\"kind\":\"notify\"", NULL);
		in_order(r.out, "\"name\":\"cache-refresh\"", "\"wait\":{\"kind\":\"timer\"", NULL);
		in_order(r.out, "\"name\":\"supervisor\"", "\"wait\":{\"kind\":\"join\"",
			 "\"owner_name\":\"request-42\"", NULL);
		run_free(&r);
	}
	run r = tasktrace("bt", pid, "--json", NULL);
	in_order(r.out, "\"name\":\"request-42\"", "\"frames\":[",
		 "\"function\":\"tt_notified\"", "\"function\":\"await_reply\"",
		 "\"function\":\"query_db\"", "\"function\":\"load_user\"",
		 "\"function\":\"handle_request\"", "\"ancestry\":[{", "\"name\":\"block_on\"",
		 NULL);
	run_free(&r);
	sample_stop(&s);
}
END_TEST

/* Options go anywhere on the line (docs/cli.md), before the command too:
 * `tasktrace --json ps PID` was rejected. */
START_TEST(options_before_the_command)
{
	sample s;
	char pid[16];
	sample_start(&s, "hung", NULL);
	snprintf(pid, sizeof pid, "%d", (int)s.pid);
	static const char *const cmds[] = { "ps", "bt", "tree", "hung" };
	for (int i = 0; i < 4; i++) {
		run before = tasktrace("--json", cmds[i], pid, NULL);
		run after = tasktrace(cmds[i], pid, "--json", NULL);
		ck_assert_msg(before.status == after.status, "--json %s: exit %d, not %d: %s",
			      cmds[i], before.status, after.status, before.err);
		assert_json(before.out);
		in_order(before.out, "{\"tasktrace_json\":1,\"command\":\"", cmds[i], "\"", NULL);
		if (i < 3)
			assert_schema(cmds[i], before.out);
		run_free(&before);
		run_free(&after);
	}
	/* Options with an argument, before the command, and "--". */
	run r = tasktrace("--name", "^request-", "--stop-budget", "5s", "ps", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_msg(strstr(r.out, "request-42") && !strstr(r.out, "cache-refresh"), "%s", r.out);
	run_free(&r);
	r = tasktrace("--nonblocking", "-a", "--", "tree", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	in_order(r.out, "\"block_on\" idle", NULL);
	run_free(&r);
	r = tasktrace("--json", "symbolize", "--exe", getenv("TT_TASKTRACE"), "0x1000", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_schema("symbolize", r.out);
	run_free(&r);
	r = tasktrace("--core", "x", "--json", "symbolize", NULL);
	ck_assert_int_eq(r.status, 3);
	run_free(&r);
	/* A command's own options too, those with a value included: the
	 * command finder read "-n 1" as a flag and "1" as the command. */
	r = tasktrace("-n", "1", "-d", "0.1", "top", "-b", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_msg(strncmp(r.out, "top - pid ", 10) == 0 &&
			  strstr(r.out, ", frame 1, every 100ms") && !strstr(r.out, ", frame 2,"),
		      "%s", r.out);
	run_free(&r);
	r = tasktrace("-b", "--iterations", "1", "--sort", "id", "top", pid, NULL);
	ck_assert_msg(r.status == 0 && strstr(r.out, ", frame 1, "), "exit %d: %s%s", r.status,
		      r.out, r.err);
	run_free(&r);
	run before = tasktrace("--idle", "1h", "hung", pid, NULL);
	run after = tasktrace("hung", "--idle", "1h", pid, NULL);
	ck_assert_int_eq(before.status, after.status);
	ck_assert_msg(strstr(before.out, "none idle over 1h0m"), "%s%s", before.out, before.err);
	run_free(&before);
	run_free(&after);
	r = tasktrace("-o", "/dev/null", "--last", "1s", "trace", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	run_free(&r);
	r = tasktrace("--duration", "200ms", "--format", "folded", "profile", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	run_free(&r);
	/* An option no table knows, before the command word, is said, not
	 * misread. */
	r = tasktrace("--bogus", "1s", "profile", pid, NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "unknown command '1s' (if it is the value of '--bogus', put "
				    "that option after the command word)"),
		      "%s", r.err);
	run_free(&r);
	/* Still one line for what is wrong. */
	r = tasktrace("--bogus", "ps", pid, NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "tasktrace ps: unknown option '--bogus'"), "%s", r.err);
	run_free(&r);
	r = tasktrace("--json", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "missing COMMAND"), "%s", r.err);
	run_free(&r);
	r = tasktrace("--json", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	in_order(r.out, "Usage: tasktrace COMMAND", NULL);
	run_free(&r);
	sample_stop(&s);
}
END_TEST

START_TEST(target_errors_exit_codes)
{
	char pid[16];

	/* A pid that just died (and was reaped). */
	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	snprintf(pid, sizeof pid, "%d", (int)gone);
	run r = tasktrace("ps", pid, NULL);
	ck_assert_int_eq(r.status, 3);
	one_error_line(&r, "no such process");
	run_free(&r);

	/* A live process that does not use tasktrace. */
	pid_t sl = fork();
	if (sl == 0) {
		execlp("sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	wait_comm(sl, "sleep");
	snprintf(pid, sizeof pid, "%d", (int)sl);
	static const char *const cmds[] = { "ps", "bt", "tree" };
	for (int i = 0; i < 3; i++) {
		r = tasktrace(cmds[i], pid, NULL);
		ck_assert_int_eq(r.status, 8);
		assert_running(sl);
		one_error_line(&r, "does not use tasktrace (no tasktrace_registry symbol or .tasktrace section in its modules)");
		run_free(&r);
	}
	kill(sl, SIGKILL);
	waitpid(sl, NULL, 0);
}
END_TEST

START_TEST(usage_errors_exit_2)
{
	run r = tasktrace("frobnicate", "1", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "unknown command 'frobnicate'"), "%s", r.err);
	run_free(&r);

	r = tasktrace(NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);

	r = tasktrace("ps", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "missing TARGET"), "%s", r.err);
	run_free(&r);

	/* Not a pid, so a core file, which does not exist. */
	r = tasktrace("bt", "12x", NULL);
	ck_assert_int_eq(r.status, 3);
	ck_assert_msg(strstr(r.err, "12x: No such file"), "%s", r.err);
	run_free(&r);

	r = tasktrace("bt", "1", "seven", NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);

	r = tasktrace("tree", "--bogus", "1", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "unknown option '--bogus'"), "%s", r.err);
	run_free(&r);

	static const char *const cmds[] = { "ps", "bt", "tree", "symbolize" };
	for (int i = 0; i < 4; i++) {
		r = tasktrace(cmds[i], "--help", NULL);
		ck_assert_int_eq(r.status, 0);
		in_order(r.out, "Usage: tasktrace ", cmds[i], "--json", NULL);
		run_free(&r);
	}
	r = tasktrace("--help", NULL);
	ck_assert_int_eq(r.status, 0);
	in_order(r.out, "Usage: tasktrace COMMAND", "ps ", "bt ", "tree ", NULL);
	in_order(r.out, "symbolize ", NULL);
	run_free(&r);

	r = tasktrace("symbolize", "0x1000", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "give one of --exe FILE, --pid PID or --core FILE"), "%s", r.err);
	run_free(&r);

	r = tasktrace("bt", "--prune", "(", "1", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "not an extended regex"), "%s", r.err);
	run_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("live");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ps_lists_hung_tasks);
	tcase_add_test(tc, ps_filters_and_groups);
	tcase_add_test(tc, ps_group_ids_exact);
	tcase_add_test(tc, bt_prints_chains_innermost_first);
	tcase_add_test(tc, tree_nests_by_parent);
	tcase_add_test(tc, json_is_well_formed);
	tcase_add_test(tc, options_before_the_command);
	tcase_add_test(tc, target_errors_exit_codes);
	tcase_add_test(tc, usage_errors_exit_2);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
