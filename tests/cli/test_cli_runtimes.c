/* Two runtimes in one process, and the child of a fork, read by the CLI
 * for real (tests/cli/runtimes_prog.c).  With two runtimes each has its
 * worker 0: a reader must say which runtime a task and a worker are of.
 * A forked child holds a copy of the parent's tasks whose threads it does
 * not have: they must be marked as the parent's, said so once, and never
 * diagnosed (a long poll on a thread that does not exist). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_util.h"

static sample prog;
static pid_t child;
static char pid_s[16], child_s[16];

static void start(const char *mode)
{
	ck_assert_msg(getenv("TT_RUNTIMES_PROG"), "TT_RUNTIMES_PROG not set");
	sample_start_path(&prog, getenv("TT_RUNTIMES_PROG"), mode);
	snprintf(pid_s, sizeof pid_s, "%d", (int)prog.pid);
	child = 0;
	const char *p = strstr(prog.line, " parent ");
	if (p) {
		/* The ready line is the child's: "pid C ... parent P". */
		child = (pid_t)strtol(strstr(prog.line, "pid ") + 4, NULL, 10);
		ck_assert_int_eq(strtol(p + 8, NULL, 10), prog.pid);
		snprintf(child_s, sizeof child_s, "%d", (int)child);
	}
}

static void stop(void)
{
	if (child)
		kill(child, SIGKILL);
	sample_stop(&prog);
}

/* The line of TEXT holding NEEDLE, in BUF. */
static const char *row_of(const char *text, const char *needle, char *buf, size_t len)
{
	ck_assert_msg(line_with(text, needle, buf, len), "no line with %s in:\n%s", needle, text);
	return buf;
}

static void one_warning(const run *r, const char *needle)
{
	ck_assert_msg(r->err[0] && strchr(r->err, '\n') == r->err + strlen(r->err) - 1,
		      "not one line on stderr:\n%s", r->err);
	in_order(r->err, "tasktrace: warning: ", needle, NULL);
}

/* The worker objects of JSON document DOC with INDEX and RUNTIME_ID. */
static int workers_with(const char *doc, unsigned index, unsigned runtime_id)
{
	const char *p = strstr(doc, "\"workers\":["), *end = strstr(doc, "\"tasks\":[");
	int n = 0;

	ck_assert(p && end);
	while ((p = strstr(p, "{\"index\":")) && p < end) {
		unsigned i = 0, rt = 0;
		const char *q = strstr(p, "\"runtime_id\":"), *close = strchr(p, '}');
		sscanf(p, "{\"index\":%u", &i);
		if (q && q < close)
			sscanf(q, "\"runtime_id\":%u", &rt);
		n += i == index && rt == runtime_id;
		p = close;
	}
	return n;
}

START_TEST(two_runtimes_told_apart)
{
	char line[512], want[64];

	start("two");
	run r = tasktrace("ps", pid_s, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	in_order(row_of(r.out, "sleeper-rt1", line, sizeof line), "rt 1: sleeper", NULL);
	in_order(row_of(r.out, "sleeper-rt2", line, sizeof line), "rt 2: sleeper", NULL);
	/* Each spinner on its own runtime's worker, with that worker's thread. */
	in_order(row_of(r.out, "spinner-rt1", line, sizeof line), "running on worker 1.", "(tid ",
		 NULL);
	char tid1[32], tid2[32];
	sscanf(strstr(line, "(tid ") + 5, "%31[0-9]", tid1);
	in_order(row_of(r.out, "spinner-rt2", line, sizeof line), "running on worker 2.", "(tid ",
		 NULL);
	sscanf(strstr(line, "(tid ") + 5, "%31[0-9]", tid2);
	ck_assert_msg(strcmp(tid1, tid2) != 0, "both spinners on thread %s:\n%s", tid1, r.out);
	run_free(&r);

	r = tasktrace("bt", pid_s, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	in_order(r.out, "\"sleeper-rt1\" (rt 1) [", NULL);
	in_order(r.out, "\"spinner-rt2\" (rt 2) [running on worker 2.", NULL);
	run_free(&r);

	r = tasktrace("tree", pid_s, NULL);
	in_order(r.out, "\"sleeper-rt2\" (rt 2) idle", NULL);
	run_free(&r);

	r = tasktrace("ps", "--json", pid_s, NULL);
	ck_assert_int_eq(r.status, 0);
	assert_schema("ps", r.out);
	in_order(r.out, "\"name\":\"sleeper-rt1\"", NULL);
	snprintf(want, sizeof want, "\"tid\":%s,\"runtime_id\":1", tid1);
	in_order(r.out, "\"name\":\"spinner-rt1\"", want, NULL);
	snprintf(want, sizeof want, "\"tid\":%s,\"runtime_id\":2", tid2);
	in_order(r.out, "\"name\":\"spinner-rt2\"", want, NULL);
	/* Workers: each runtime has its worker 0, told apart by runtime_id. */
	ck_assert_int_eq(workers_with(r.out, 0, 1), 1);
	ck_assert_int_eq(workers_with(r.out, 0, 2), 1);
	run_free(&r);

	/* The long polls name the worker with its runtime. */
	r = tasktrace("hung", "--long-poll=1ms", pid_s, NULL);
	in_order(r.out, "has been running one poll for ", " on worker 1.", NULL);
	in_order(r.out, "has been running one poll for ", " on worker 2.", NULL);
	run_free(&r);
	assert_running(prog.pid);
	stop();
}
END_TEST

START_TEST(fork_child_reads_as_copy)
{
	char line[512], want[200];

	start("fork");
	ck_assert(child > 0);
	snprintf(want, sizeof want,
		 "registry inherited from parent PID %d through fork: its tasks are the parent's, "
		 "frozen",
		 (int)prog.pid);
	run r = tasktrace("ps", child_s, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	one_warning(&r, want);
	in_order(row_of(r.out, "sleeper-rt1", line, sizeof line), "idle inherited", NULL);
	/* Its worker is a thread of the parent: no tid of this process. */
	in_order(row_of(r.out, "spinner-rt1", line, sizeof line), "running inherited",
		 "running on worker ", " of pid ", pid_s, NULL);
	ck_assert_msg(!strstr(line, "tid"), "%s", line);
	run_free(&r);

	r = tasktrace("bt", child_s, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	one_warning(&r, want);
	snprintf(want, sizeof want, "\"spinner-rt1\" (inherited from pid %d) [running on worker",
		 (int)prog.pid);
	in_order(r.out, want, NULL);
	run_free(&r);

	r = tasktrace("ps", "--json", child_s, NULL);
	assert_schema("ps", r.out);
	snprintf(want, sizeof want, "\"inherited_from_pid\":%d", (int)prog.pid);
	in_order(r.out, "\"warnings\":[\"pid ", "registry inherited from parent PID ",
		 "\"name\":\"spinner-rt1\"", "\"tid\":null", want, NULL);
	run_free(&r);

	/* The parent's spinner is a long poll there, and nothing here. */
	r = tasktrace("hung", "--long-poll=1ms", pid_s, NULL);
	in_order(r.out, "\"spinner-rt1\"", "has been running one poll", NULL);
	run_free(&r);
	r = tasktrace("hung", "--long-poll=1ms", child_s, NULL);
	ck_assert_msg(!strstr(r.out, "running one poll") && !strstr(r.out, "spinner"),
		      "exit %d:\n%s", r.status, r.out);
	one_warning(&r, "inherited from parent PID");
	run_free(&r);
	assert_running(child);
	stop();
}
END_TEST

/* A child that starts a runtime of its own: its tasks are live, the
 * copies of the parent's are not, and the line says which runtime. */
START_TEST(fork_child_with_own_runtime)
{
	char line[512], want[200];

	start("fork-new");
	ck_assert(child > 0);
	snprintf(want, sizeof want,
		 "the tasks of runtime 1 were inherited from parent PID %d through fork",
		 (int)prog.pid);
	run r = tasktrace("ps", child_s, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	one_warning(&r, want);
	in_order(row_of(r.out, "sleeper-rt1", line, sizeof line), "idle inherited", NULL);
	ck_assert_msg(!strstr(row_of(r.out, "sleeper-rt2", line, sizeof line), "inherited"), "%s",
		      line);
	in_order(row_of(r.out, "spinner-rt2", line, sizeof line), "running on worker 2.", "(tid ",
		 NULL);
	run_free(&r);

	r = tasktrace("hung", "--long-poll=1ms", child_s, NULL);
	in_order(r.out, "\"spinner-rt2\"", "has been running one poll", NULL);
	ck_assert_msg(!strstr(r.out, "spinner-rt1"), "%s", r.out);
	run_free(&r);
	stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli-runtimes");
	TCase *tc = tcase_create("runtimes");
	tcase_set_timeout(tc, 100);
	tcase_add_test(tc, two_runtimes_told_apart);
	tcase_add_test(tc, fork_child_reads_as_copy);
	tcase_add_test(tc, fork_child_with_own_runtime);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
