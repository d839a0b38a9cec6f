/* The stall detector against a real process (tests/diag/stall_prog.c):
 * a poll blocked in read() on a pipe is reported by the process itself
 * (TASKTRACE_STALL) with the blocking function, the system call and the
 * task's chain, again at twice the threshold, and in one line when the
 * thread cannot be signalled; `tasktrace hung` puts the thread's stack
 * and system call into the long-poll finding. */
#include <fcntl.h>
#include <poll.h>
#include <time.h>

#include "diag_util.h"

#define PROG "tests/diag/stall_prog.c"

typedef struct proc {
	pid_t pid;
	int err; /* its stderr */
	char buf[1 << 16];
	size_t len;
} proc;

static void proc_start(proc *p, const char *mode, const char *stall)
{
	int out[2], err[2];
	char line[256];
	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(pipe(err), 0);
	p->len = 0;
	p->buf[0] = 0;
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		if (stall)
			setenv("TASKTRACE_STALL", stall, 1);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execl(getenv("TT_STALL_PROG"), "stall_prog", mode, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	FILE *f = fdopen(out[0], "r");
	ck_assert_msg(fgets(line, sizeof line, f), "stall_prog printed nothing");
	ck_assert_ptr_nonnull(strstr(line, "ready"));
	fclose(f);
	p->err = err[0];
}

/* Read its stderr until NEEDLE has appeared N times (or 60 s pass: a
 * bound against a hang, not a measurement).  Returns the text. */
static const char *wait_for(proc *p, const char *needle, int n)
{
	for (int waited = 0; waited < 60000;) {
		int seen = 0;
		for (const char *s = p->buf; (s = strstr(s, needle)); s++)
			seen++;
		if (seen >= n)
			return p->buf;
		struct pollfd pf = {p->err, POLLIN, 0};
		if (poll(&pf, 1, 100) <= 0) {
			waited += 100;
			continue;
		}
		ssize_t got = read(p->err, p->buf + p->len, sizeof(p->buf) - 1 - p->len);
		ck_assert_int_gt(got, 0);
		p->len += (size_t)got;
		p->buf[p->len] = 0;
	}
	ck_abort_msg("no '%s' (x%d) in:\n%s", needle, n, p->buf);
	return NULL;
}

/* Does PID have a handler for the stall signal (SigCgt: bit N-1)? */
static int catches_stall_signal(pid_t pid)
{
	char path[64], line[256];
	unsigned long long caught = 0;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "SigCgt:", 7))
			caught = strtoull(line + 7, NULL, 16);
	fclose(f);
	return (caught >> (SIGRTMAX - 2)) & 1;
}

static void proc_stop(proc *p)
{
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	close(p->err);
}

START_TEST(stall_report)
{
	proc p;
	proc_start(&p, "read", "50ms");
	const char *r = wait_for(&p, "tasktrace stall (pid", 1);
	ck_assert(catches_stall_signal(p.pid));
	const char *head = line_with(r, "tasktrace stall (pid");
	ck_assert_ptr_nonnull(
	    strstr(head, "task 2 \"config-loader\" has been running one poll for"));
	ck_assert_ptr_nonnull(strstr(head, "on worker "));
	/* The system call, with its fd. */
	char want[64];
	snprintf(want, sizeof want, "blocked in read(%d, ...)", 3);
	ck_assert_msg(strstr(r, "  blocked in read("), "no system call in:\n%s", r);
	/* The native stack: libc's read, the blocking function (exported),
	 * the async function the registry names; executor frames pruned. */
	ck_assert_ptr_nonnull(strstr(r, "native stack of thread"));
	ck_assert_ptr_nonnull(strstr(line_with(r, "in load_config"), "[stall_prog+0x"));
	const char *l = line_with(r, "(async loader)");
	char site[64];
	snprintf(site, sizeof site, "%s:%u", PROG, marker(PROG, "before-load") + 1);
	ck_assert_ptr_nonnull(strstr(l, site));
	ck_assert_ptr_nonnull(strstr(r, "executor frames pruned)"));
	/* The task as bt prints it: its chain and ancestry. */
	ck_assert_ptr_nonnull(strstr(r, "  the task:"));
	ck_assert_ptr_nonnull(strstr(r, "spawned by task 1"));
	/* Again at 2x the threshold, from the stack already taken (the
	 * read() is not interrupted twice). */
	r = wait_for(&p, "tasktrace stall (pid", 2);
	ck_assert_ptr_nonnull(strstr(r, "(as taken before: still in the same system call)"));
	proc_stop(&p);
}
END_TEST

START_TEST(stall_masked)
{
	proc p;
	proc_start(&p, "masked", "50ms");
	const char *r = wait_for(&p, "did not record its stack within 50ms", 1);
	ck_assert_ptr_nonnull(strstr(r, "  blocked in read("));
	/* Later reports say so in one line and do not signal again. */
	r = wait_for(&p, "tasktrace stall (pid", 2);
	ck_assert_ptr_nonnull(strstr(r, "did not answer the stall signal before"));
	proc_stop(&p);
}
END_TEST

/* Wait until the loader is blocked: its worker's thread is in read(). */
static void wait_blocked(proc *p)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "grep -l '^0 ' /proc/%d/task/*/syscall >/dev/null 2>&1",
		 (int)p->pid);
	for (int i = 0; i < 600 && system(cmd) != 0; i++)
		usleep(50 * 1000);
}

START_TEST(stall_off)
{
	proc p;
	proc_start(&p, "read", NULL);
	/* Without TASKTRACE_STALL: the signal has no handler, so no report
	 * can come. */
	wait_blocked(&p);
	ck_assert(!catches_stall_signal(p.pid));
	proc_stop(&p);
	ck_assert_ptr_null(strstr(p.buf, "tasktrace stall"));
}
END_TEST

/* With the stall detector on, the watchdog's long-poll finding carries
 * the stack and system call the detector took (no second signal). */
START_TEST(watchdog_with_stall)
{
	proc p;
	setenv("TASKTRACE_WATCHDOG", "interval=100ms,long_poll=100ms,idle=off", 1);
	proc_start(&p, "read", "50ms");
	unsetenv("TASKTRACE_WATCHDOG");
	const char *r = wait_for(&p, "tasktrace watchdog (pid", 1);
	const char *f = strstr(r, "tasktrace watchdog (pid");
	ck_assert_msg(strstr(f, "long poll: task 2 \"config-loader\""), "%s", r);
	const char *l = line_with(f, " when the stall detector took its stack, ");
	ck_assert_msg(strstr(l, " was blocked in read("), "%s", l);
	ck_assert_ptr_nonnull(
	    strstr(l, "into the poll (innermost first, executor frames pruned):"));
	/* The finding's lines, then the stack's, in one piece. */
	ck_assert_ptr_nonnull(strstr(line_with(f, "in load_config"), "[stall_prog+0x"));
	ck_assert_ptr_nonnull(strstr(line_with(f, "(async loader)"), PROG));
	proc_stop(&p);
}
END_TEST

/* The stalls of a run grouped by stack, with counts and durations: in
 * the dump (SIGQUIT) while it runs, and at exit (TASKTRACE_STALL). */
START_TEST(stall_summary)
{
	proc p;
	int status;
	setenv("TASKTRACE_DUMP_SIGNAL", "QUIT", 1);
	proc_start(&p, "repeat", "50ms");
	unsetenv("TASKTRACE_DUMP_SIGNAL");
	wait_for(&p, "stall_prog: stalls done", 1);
	kill(p.pid, SIGQUIT);
	const char *r = wait_for(&p, "tasktrace: end of dump", 1);
	const char *d = strstr(r, "tasktrace: dump of pid");
	ck_assert_ptr_nonnull(d);
	d = strstr(d, "tasktrace stalls (pid ");
	ck_assert_msg(d, "no stalls in the dump:\n%s", r);
	ck_assert_ptr_nonnull(strstr(line_with(d, "tasktrace stalls"),
				     "): 5 polls ran past 50ms, in 2 stacks, most stalls first:"));
	const char *three = strstr(d, "\n  3 stalls: min "), *two = strstr(d, "\n  2 stalls: min ");
	ck_assert_msg(three && two && three < two, "%s", d);
	ck_assert_ptr_nonnull(strstr(line_with(three, "3 stalls"), "; first in task 2 \"napper\", "
								   "blocked in clock_nanosleep("));
	ck_assert_ptr_nonnull(strstr(three, "[stall_prog+0x"));

	/* Each stall in the flight recorder, beside the polls of its task. */
	char pid[16];
	snprintf(pid, sizeof pid, "%d", (int)p.pid);
	char *hargv[] = {getenv("TT_TASKTRACE"), (char *)"history", pid, (char *)"2", NULL};
	run h = run_prog(NULL, NULL, 0, hargv);
	ck_assert_msg(WIFEXITED(h.status) && WEXITSTATUS(h.status) == 0, "%s%s", h.out, h.err);
	const char *began = strstr(h.out, "stalled its worker "),
		   *ended = began ? strstr(began, "stall ended after ") : NULL;
	ck_assert_msg(began && ended, "%s", h.out);
	ck_assert_msg(strstr(line_with(began, "stalled its worker"), "(thread "), "%s", h.out);
	run_free(&h);

	kill(p.pid, SIGUSR1);
	r = wait_for(&p, "tasktrace stalls (pid ", 2);
	ck_assert_int_eq(waitpid(p.pid, &status, 0), p.pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(p.err);
	const char *e = strstr(strstr(r, "tasktrace: end of dump"), "tasktrace stalls (pid ");
	ck_assert_ptr_nonnull(e);
	three = strstr(e, "\n  3 stalls: min ");
	two = strstr(e, "\n  2 stalls: min ");
	ck_assert_msg(three && two && three < two, "%s", e);
	/* Each group's stack names its own blocking function (exported). */
	const char *slow = strstr(three, " in slow_step ["),
		   *other = strstr(two, " in other_step [");
	ck_assert_msg(slow && slow < two && other, "%s", e);
	ck_assert_ptr_nonnull(strstr(line_with(three, "3 stalls"), ", median "));
	ck_assert_ptr_nonnull(strstr(line_with(three, "3 stalls"), ", p99 "));
}
END_TEST

static int exit_code(const run *r)
{
	ck_assert_msg(WIFEXITED(r->status), "tasktrace died");
	return WEXITSTATUS(r->status);
}

/* The long-poll finding of `tasktrace hung` on R's output: the thread's
 * stack from libdw names the blocking function at its line. */
static void assert_stalled_stack(const run *r)
{
	ck_assert_int_eq(exit_code(r), 20);
	ck_assert_ptr_nonnull(strstr(r->out, "long poll: task 2 \"config-loader\""));
	ck_assert_ptr_nonnull(
	    strstr(r->out, "native stack (innermost first, executor frames pruned):"));
	const char *l = line_with(r->out, "in load_config () at ");
	ck_assert_msg(strstr(l, at(PROG, "blocking-read")), "not at the read: %s", r->out);
	ck_assert_ptr_nonnull(strstr(line_with(r->out, "in loader_poll () at "), PROG));
}

/* The long poll's "thread" in `hung --json`: the system call read(3)
 * as fields, and the native stack's frames with file, line and
 * module+offset, the blocking function at its line. */
static void assert_stalled_json(const run *r)
{
	ck_assert_int_eq(exit_code(r), 20);
	assert_schema("hung", r->out);
	const char *t = strstr(r->out, "\"kind\":\"long poll\",\"task_id\":2,");
	ck_assert_msg(t, "no long poll of task 2 in:\n%s", r->out);
	t = strstr(t, ",\"thread\":{\"tid\":");
	ck_assert_msg(t, "no thread in the long poll:\n%s", r->out);
	ck_assert_ptr_nonnull(strstr(t, ",\"syscall\":{\"state\":\"blocked\",\"nr\":0,"
					"\"name\":\"read\",\"args\":[\"0x"));
	ck_assert_ptr_nonnull(strstr(t, "\"text\":\"blocked in read("));
	const char *f = strstr(t, "{\"pc\":\"0x");
	ck_assert_msg(f, "no native frames in:\n%s", t);
	char line[32];
	snprintf(line, sizeof line, "\"line\":%u,", marker(PROG, "blocking-read"));
	const char *lc = strstr(f, "\"function\":\"load_config\"");
	ck_assert_msg(lc, "no load_config frame in:\n%s", t);
	const char *end = strchr(lc, '}');
	ck_assert_ptr_nonnull(end);
	char frame[1024];
	snprintf(frame, sizeof frame, "%.*s", (int)(end - lc), lc);
	ck_assert_msg(strstr(frame, PROG + strlen("tests/diag/")), "%s", frame);
	ck_assert_msg(strstr(frame, line), "not at the read: %s", frame);
	ck_assert_msg(strstr(frame, "stall_prog\",\"module_offset\":\"0x"), "%s", frame);
	ck_assert_ptr_nonnull(strstr(t, "\"native_error\":null}"));
}

START_TEST(hung_stalled_thread)
{
	proc p;
	char pid[16];
	proc_start(&p, "read", NULL);
	wait_blocked(&p);
	snprintf(pid, sizeof pid, "%d", (int)p.pid);
	char *argv[] = {getenv("TT_TASKTRACE"),
			(char *)"hung",
			(char *)"--long-poll",
			(char *)"10ms",
			pid,
			NULL};
	run r = run_prog(NULL, NULL, 0, argv);
	assert_stalled_stack(&r);
	ck_assert_ptr_nonnull(strstr(line_with(r.out, "  thread "), " is blocked in read("));
	run_free(&r);
	/* The same in --json: the finding's "thread". */
	char *jargv[] = {getenv("TT_TASKTRACE"),
			 (char *)"hung",
			 (char *)"--json",
			 (char *)"--long-poll",
			 (char *)"10ms",
			 pid,
			 NULL};
	r = run_prog(NULL, NULL, 0, jargv);
	assert_stalled_json(&r);
	run_free(&r);
	proc_stop(&p);
}
END_TEST

/* Both workers blocked in read() while a timer comes due: the ticker is
 * starved, and the finding names the tasks holding the workers. */
START_TEST(starved_all_blocked)
{
	proc p;
	char pid[16];
	proc_start(&p, "both", NULL);
	snprintf(pid, sizeof pid, "%d", (int)p.pid);
	char *argv[] = {getenv("TT_TASKTRACE"),
			(char *)"hung",
			(char *)"--starved",
			(char *)"100ms",
			pid,
			NULL};
	const char *want = "starved: task 4 \"ticker\" has a timer overdue ";
	run r = {0};
	/* Until both loaders block and the tick is 100 ms late. */
	for (int i = 0; i < 300; i++) {
		run_free(&r);
		r = run_prog(NULL, NULL, 0, argv);
		if (strstr(r.out, want))
			break;
		usleep(50 * 1000);
	}
	ck_assert_msg(strstr(r.out, want), "no starved ticker in:\n%s", r.out);
	ck_assert_int_eq(exit_code(&r), 20);
	const char *l = line_with(r.out, "every worker of its runtime is busy: ");
	ck_assert_ptr_nonnull(strstr(l, " polls task 2 \"config-loader\" for "));
	ck_assert_ptr_nonnull(strstr(l, " polls task 3 \"config-loader-2\" for "));
	ck_assert_ptr_nonnull(strstr(r.out, "-> the workers are busy"));
	run_free(&r);
	proc_stop(&p);
}
END_TEST

/* From a core: the thread's stack as the core holds it. */
START_TEST(hung_stalled_core)
{
	proc p;
	char pid[16], prefix[64], core[96];
	proc_start(&p, "read", NULL);
	wait_blocked(&p);
	snprintf(pid, sizeof pid, "%d", (int)p.pid);
	snprintf(prefix, sizeof prefix, "/tmp/tt-stall-core-%d", (int)getpid());
	char *gargv[] = {getenv("TT_GCORE"), (char *)"-o", prefix, pid, NULL};
	run g = run_prog(NULL, NULL, 0, gargv);
	run_free(&g);
	proc_stop(&p);
	snprintf(core, sizeof core, "%s.%d", prefix, (int)p.pid);
	char *argv[] = {getenv("TT_TASKTRACE"),
			(char *)"hung",
			(char *)"--long-poll",
			(char *)"10ms",
			(char *)"--exe",
			getenv("TT_STALL_PROG"),
			core,
			NULL};
	run r = run_prog(NULL, NULL, 0, argv);
	assert_stalled_stack(&r);
	/* The system call from the thread's registers in the core. */
	ck_assert_ptr_nonnull(strstr(line_with(r.out, "  thread "), " is blocked in read("));
	run_free(&r);
	char *jargv[] = {getenv("TT_TASKTRACE"),  (char *)"hung", (char *)"--json",
			 (char *)"--long-poll",	  (char *)"10ms", (char *)"--exe",
			 getenv("TT_STALL_PROG"), core,		  NULL};
	r = run_prog(NULL, NULL, 0, jargv);
	assert_stalled_json(&r);
	run_free(&r);
	unlink(core);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stall");
	TCase *tc = tcase_create("stall");
	tcase_set_timeout(tc, 120);
	/* TSan defers a signal to a thread until it leaves the intercepted
	 * call it is in: a worker blocked in read() never takes it, and the
	 * report says so in one line (what stall_masked checks). */
	const char *sanitize = getenv("TT_SANITIZE");
	if (!sanitize || !strstr(sanitize, "thread"))
		tcase_add_test(tc, stall_report);
	if (!sanitize || !strstr(sanitize, "thread")) {
		tcase_add_test(tc, watchdog_with_stall);
		tcase_add_test(tc, stall_summary);
	}
	tcase_add_test(tc, stall_masked);
	tcase_add_test(tc, stall_off);
	tcase_add_test(tc, hung_stalled_thread);
	tcase_add_test(tc, starved_all_blocked);
	/* A sanitized process's core holds its shadow memory: terabytes. */
	if (!sanitize || !strcmp(sanitize, "none"))
		tcase_add_test(tc, hung_stalled_core);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
