/* The diagnosis in gdb: `task diagnose`, `info tasks -hung` and
 * -task-diagnose through the MI client, on live samples and on a core
 * made with gcore.  gdb runs the same C engine as `tasktrace hung`
 * (libtasktrace through ctypes), so the words are the same. */
#include "diag_util.h"
#include "ttmi.h"

#define TIMEOUT_MS 60000

static ttmi_record *expect(ttmi *g, ttmi_record *r, const char *klass, const char *what)
{
	ck_assert_msg(r, "%s: no answer (%s)", what, ttmi_error(g));
	ck_assert_msg(r->klass && strcmp(r->klass, klass) == 0, "%s: ^%s %s\n%s", what,
		      r->klass ? r->klass : "?",
		      ttmi_str(r->results, "msg") ? ttmi_str(r->results, "msg") : "",
		      ttmi_console(g));
	/* Whatever the target holds, MI strings are strict UTF-8. */
	const char *bad = ttmi_bad_utf8(r->results);
	ck_assert_msg(!bad, "%s: not UTF-8: %s", what, bad);
	return r;
}

static void ok(ttmi *g, ttmi_record *r, const char *what)
{
	ttmi_record_free(expect(g, r, "done", what));
}

static ttmi *gdb_start(const char *const *args)
{
	ttmi *g = ttmi_spawn(args, TIMEOUT_MS);
	ck_assert_ptr_nonnull(g);
	ok(g, ttmi_cli(g, "python import sys; sys.path.insert(0, '%s/gdb-plugin/python')",
		       getenv("TT_SOURCE_ROOT")),
	   "sys.path");
	ok(g, ttmi_cli(g, "python import tasktrace_gdb"), "import");
	return g;
}

static ttmi *gdb_attach(pid_t pid)
{
	ttmi *g = gdb_start(NULL);
	ok(g, ttmi_command(g, "-target-attach %d", (int)pid), "attach");
	ttmi_record_free(ttmi_wait_async(g, "stopped"));
	return g;
}

START_TEST(deadlock_live)
{
	sample s;
	sample_start(&s, "deadlock", NULL);
	ttmi *g = gdb_attach(s.pid);
	ok(g, ttmi_cli(g, "task diagnose"), "task diagnose");
	const char *c = ttmi_console(g);
	ck_assert_msg(strstr(c, "deadlock: 2 tasks wait on each other in a cycle"), "%s", c);
	ck_assert_ptr_nonnull(strstr(line_with(c, "task 2 \"transfer\" waits on join of task 3"),
				     at("samples/deadlock.c", "transfer-join")));
	ck_assert_ptr_nonnull(strstr(line_with(c, "task 3 \"audit\" waits on mutex"),
				     at("samples/deadlock.c", "audit-lock")));

	ok(g, ttmi_cli(g, "info tasks -hung 0"), "info tasks -hung");
	c = ttmi_console(g);
	ck_assert_ptr_nonnull(strstr(c, "transfer"));
	ck_assert_ptr_nonnull(strstr(c, "audit"));
	ck_assert_ptr_null(strstr(c, "block_on")); /* sleeping on a timer: not hung */
	ck_assert_ptr_nonnull(strstr(c, "deadlock: 2 tasks"));

	ttmi_record *r = expect(g, ttmi_command(g, "-task-diagnose"), "done", "-task-diagnose");
	ck_assert_str_eq(ttmi_str(r->results, "findings[0].kind"), "deadlock");
	ck_assert_str_eq(ttmi_str(r->results, "findings[0].cycle[0]"), "2");
	ck_assert_str_eq(ttmi_str(r->results, "findings[0].cycle[1]"), "3");
	ttmi_record_free(r);
	ttmi_close(g);
	sample_stop(&s);
}
END_TEST

/* Issue 12 in gdb: the semaphore+channel cycle edge by edge, and
 * identical findings as one group unless -all. */
START_TEST(holders_and_groups_live)
{
	sample s;
	sample_start(&s, "deadlock", "sem");
	ttmi *g = gdb_attach(s.pid);
	ok(g, ttmi_cli(g, "task diagnose"), "task diagnose");
	const char *c = ttmi_console(g);
	ck_assert_msg(strstr(c, "deadlock: 3 tasks wait on each other in a cycle"), "%s", c);
	ck_assert_msg(strstr(line_with(c, "task 2 \"producer\" waits on channel send"),
			     "received by task 3 \"consumer\""),
		      "%s", c);
	ck_assert_msg(strstr(line_with(c, "task 4 \"checker\" waits on semaphore"),
			     "held by task 2 \"producer\""),
		      "%s", c);
	ttmi_close(g);
	sample_stop(&s);

	sample_start(&s, "many_tasks", "2000");
	g = gdb_attach(s.pid);
	ok(g, ttmi_cli(g, "task diagnose -idle 0"), "task diagnose grouped");
	c = ttmi_console(g);
	ck_assert_msg(strstr(c, "idle: 2000 tasks alike, e.g. task 2 \"idle-worker\""), "%.500s",
		      c);
	ok(g, ttmi_cli(g, "task diagnose -idle 0 -all"), "task diagnose -all");
	c = ttmi_console(g);
	int n = 0;
	for (const char *p = c; (p = strstr(p, "idle: task ")); p++)
		n++;
	ck_assert_msg(n == 2000, "%d findings", n);
	ck_assert_ptr_null(strstr(c, "alike"));
	ttmi_close(g);
	sample_stop(&s);
}
END_TEST

START_TEST(lost_waker_live_and_core)
{
	sample s;
	char core[128], exe[512];
	sample_start(&s, "lost_waker", NULL);
	ttmi *g = gdb_attach(s.pid);
	ok(g, ttmi_cli(g, "task diagnose"), "task diagnose");
	ck_assert_msg(strstr(ttmi_console(g), "lost waker: task 2 \"device-poller\""), "%s",
		      ttmi_console(g));
	ck_assert_msg(strstr(ttmi_console(g), "; never woken since"), "%s", ttmi_console(g));
	snprintf(core, sizeof core, "/tmp/tt-diag-gdb-%d.core", (int)s.pid);
	ok(g, ttmi_cli(g, "gcore %s", core), "gcore");
	ttmi_close(g);
	sample_stop(&s);

	/* The engine on the core, through gdb's memory of it. */
	snprintf(exe, sizeof exe, "%s/lost_waker", getenv("TT_SAMPLES"));
	const char *args[] = { exe, core, NULL };
	g = gdb_start(args);
	ok(g, ttmi_cli(g, "task diagnose"), "task diagnose on a core");
	ck_assert_msg(strstr(ttmi_console(g), "lost waker: task 2 \"device-poller\""), "%s",
		      ttmi_console(g));
	/* The same words as the CLI's, from the core's rings. */
	ck_assert_msg(strstr(ttmi_console(g), "  last poll ") &&
			  strstr(ttmi_console(g), "(poll_device_poll), waits on custom") &&
			  strstr(ttmi_console(g), "; never woken since"),
		      "%s", ttmi_console(g));
	ok(g, ttmi_cli(g, "task diagnose 1"), "task diagnose 1");
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "no problems found for task 1"));
	ttmi_close(g);
	unlink(core);
}
END_TEST

START_TEST(long_poll_and_hung)
{
	sample s;
	sample_start(&s, "blocking", NULL);
	int seen = 0;
	for (int i = 0; i < 5 && !seen; i++) {
		ttmi *g = gdb_attach(s.pid);
		ok(g, ttmi_cli(g, "task diagnose -long-poll 10ms"), "task diagnose");
		seen = strstr(ttmi_console(g), "long poll: task 3 \"cruncher\"") != NULL;
		ttmi_close(g);
	}
	ck_assert_msg(seen, "no long poll for cruncher");
	sample_stop(&s);

	sample_start(&s, "hung", NULL);
	ttmi *g = gdb_attach(s.pid);
	ok(g, ttmi_cli(g, "info tasks -hung 0"), "info tasks -hung 0");
	const char *c = ttmi_console(g);
	ck_assert_ptr_nonnull(strstr(c, "request-42"));
	ck_assert_ptr_nonnull(strstr(c, "idle: task 2 \"request-42\""));
	ck_assert_ptr_null(strstr(c, "deadlock:"));
	ck_assert_ptr_null(strstr(c, "lost waker:"));
	/* A task resting on an fd read is not hung (a listener in accept)... */
	ck_assert_msg(!strstr(c, "pipe-reader"), "%s", c);
	/* ... unless asked for. */
	ok(g, ttmi_cli(g, "task diagnose -idle 0 -idle-io 0"), "task diagnose -idle-io 0");
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "\"pipe-reader\" has been suspended"));
	ok(g, ttmi_cli(g, "task diagnose"), "task diagnose default");
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "no problems found in"));
	ttmi_record *r = expect(g, ttmi_cli(g, "task diagnose -idle soon"), "error", "bad duration");
	ck_assert_ptr_nonnull(strstr(ttmi_str(r->results, "msg"), "not a duration"));
	ttmi_record_free(r);
	ttmi_close(g);
	sample_stop(&s);
}
END_TEST

/* tests/diag/stall_prog.c read: its loader blocked in read(), the pid. */
static pid_t stall_start(void)
{
	int out[2];
	char line[256];
	ck_assert_int_eq(pipe(out), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(out[1], 1);
		execl(getenv("TT_STALL_PROG"), "stall_prog", "read", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	FILE *f = fdopen(out[0], "r");
	ck_assert_msg(fgets(line, sizeof line, f), "stall_prog printed nothing");
	fclose(f);
	/* Until a thread of it is in read() (system call 0). */
	snprintf(line, sizeof line, "grep -l '^0 ' /proc/%d/task/*/syscall >/dev/null 2>&1",
		 (int)pid);
	for (int i = 0; i < 600 && system(line) != 0; i++)
		usleep(50 * 1000);
	return pid;
}

/* The lines after the long poll of task 2 in C: its thread's system call
 * and native stack, up to the next blank line (a copy to free). */
static char *stalled_block(const char *c)
{
	const char *p = strstr(c, "long poll: task 2 \"config-loader\"");
	ck_assert_msg(p, "no long poll in:\n%s", c);
	p = strstr(p, "\n  thread ");
	ck_assert_msg(p, "no thread line in:\n%s", c);
	p++;
	const char *end = strstr(p, "\n\n");
	return strndup(p, end ? (size_t)(end - p) + 1 : strlen(p));
}

static void assert_stalled(const char *block)
{
	const char *prog = "tests/diag/stall_prog.c";
	ck_assert_msg(strstr(line_with(block, "  thread "), " is blocked in read("), "%s", block);
	ck_assert_ptr_nonnull(strstr(block, "  native stack (innermost first, executor frames "
					    "pruned):\n"));
	ck_assert_msg(strstr(line_with(block, "in load_config () at "), at(prog, "blocking-read")),
		      "%s", block);
	ck_assert_ptr_nonnull(strstr(line_with(block, "in loader_poll () at "), "stall_prog.c:"));
}

/* A long poll's worker thread in `task diagnose`: its system call (from
 * the registers gdb has) and native stack, live and on a core, in the
 * words of `tasktrace hung` (the same C code); on the core the very same
 * lines (the same unwinder). */
START_TEST(stalled_thread_live_and_core)
{
	char core[128], pid[16];
	pid_t p = stall_start();
	ttmi *g = gdb_attach(p);
	ok(g, ttmi_cli(g, "task diagnose -long-poll 10ms"), "task diagnose");
	char *b = stalled_block(ttmi_console(g));
	assert_stalled(b);
	free(b);
	snprintf(core, sizeof core, "/tmp/tt-diag-gdb-stall-%d.core", (int)p);
	ok(g, ttmi_cli(g, "gcore %s", core), "gcore");
	ttmi_close(g);
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);

	const char *args[] = {getenv("TT_STALL_PROG"), core, NULL};
	g = gdb_start(args);
	ok(g, ttmi_cli(g, "task diagnose -long-poll 10ms"), "task diagnose on a core");
	b = stalled_block(ttmi_console(g));
	assert_stalled(b);
	/* MI: the long poll's finding carries the same lines as `thread`. */
	ttmi_record *mi = expect(g, ttmi_command(g, "-task-diagnose --long-poll 10ms"), "done",
				 "-task-diagnose");
	char path[64], mi_block[8192] = "";
	int k = 0;
	for (; k < 16; k++) {
		snprintf(path, sizeof path, "findings[%d].kind", k);
		const char *kind = ttmi_str(mi->results, path);
		ck_assert_msg(kind, "no long poll among the MI findings");
		if (!strcmp(kind, "long poll"))
			break;
	}
	for (int i = 0; i < 200; i++) {
		snprintf(path, sizeof path, "findings[%d].thread[%d]", k, i);
		const char *l = ttmi_str(mi->results, path);
		if (!l)
			break;
		strncat(mi_block, l, sizeof mi_block - strlen(mi_block) - 2);
		strcat(mi_block, "\n");
	}
	ck_assert_str_eq(mi_block, b);
	ttmi_record_free(mi);
	ttmi_close(g);
	snprintf(pid, sizeof pid, "%d", (int)p);
	char *argv[] = {getenv("TT_TASKTRACE"),
			(char *)"hung",
			(char *)"--long-poll",
			(char *)"10ms",
			(char *)"--exe",
			getenv("TT_STALL_PROG"),
			core,
			NULL};
	run r = run_prog(NULL, NULL, 0, argv);
	char *cli = stalled_block(r.out);
	ck_assert_str_eq(b, cli);
	free(cli);
	free(b);
	run_free(&r);
	unlink(core);
}
END_TEST

/* gdb's "now" is the moment the target stopped, as the CLI's is (it
 * reads within ms of its stop): gdb answers long after -- an attach reads
 * every library's symbols first -- and what was under way at the stop must
 * not age meanwhile (issue 18: `long poll ... 232ms` on a healthy server). */
START_TEST(now_is_the_stop)
{
	sample s;
	sample_start(&s, "blocking", NULL);
	ttmi *g = gdb_start(NULL);
	ok(g, ttmi_cli(g, "python import time; t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)"),
	   "t0");
	ok(g, ttmi_command(g, "-target-attach %d", (int)s.pid), "attach");
	ttmi_record_free(ttmi_wait_async(g, "stopped"));
	/* The attach: now is when it stopped the target, not this command. */
	ok(g, ttmi_cli(g, "python time.sleep(0.6)"), "sleep");
	ok(g,
	   ttmi_cli(g, "python from tasktrace_gdb import registry as R; "
		       "print('now-t0 %%d ms' %% ((R.snapshot().now_ns - t0) // 1000000))"),
	   "now");
	const char *c = strstr(ttmi_console(g), "now-t0 ");
	ck_assert_ptr_nonnull(c);
	long ms = strtol(c + 7, NULL, 10);
	ck_assert_msg(ms >= 0 && ms < 500, "attach: now is %ld ms after the attach began", ms);
	/* A breakpoint in a poll: the worker's poll started just before the
	 * stop; however long gdb waits, it is no long poll. */
	ok(g, ttmi_cli(g, "break ticker_poll"), "break");
	ttmi_record_free(expect(g, ttmi_command(g, "-exec-continue"), "running", "continue"));
	ttmi_record_free(ttmi_wait_async(g, "stopped"));
	ok(g, ttmi_cli(g, "python time.sleep(0.3)"), "sleep");
	ok(g, ttmi_cli(g, "task diagnose -long-poll 100ms -idle off -starved off"), "diagnose");
	c = ttmi_console(g);
	for (const char *l = strstr(c, "long poll: "); l; l = strstr(l + 1, "long poll: ")) {
		const char *end = strchr(l, '\n');
		const char *t = strstr(l, "\"ticker\"");
		ck_assert_msg(!t || (end && t > end), "%s", c);
	}
	ttmi_close(g);
	sample_stop(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("diag-gdb");
	/* gdb loads libtasktrace, which a sanitizer build makes unloadable. */
	TCase *tc = tcase_create("gdb");
	tcase_set_tags(tc, "unsanitized");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, deadlock_live);
	tcase_add_test(tc, holders_and_groups_live);
	tcase_add_test(tc, lost_waker_live_and_core);
	tcase_add_test(tc, long_poll_and_hung);
	tcase_add_test(tc, stalled_thread_live_and_core);
	tcase_add_test(tc, now_is_the_stop);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
