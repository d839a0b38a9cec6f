/* `tasktrace hung` against the samples, live: each finding for the sample
 * that has it, at the marked lines, with the documented exit codes; and
 * no false deadlock or lost waker on healthy programs (hung's plain timer
 * waits, echo_server under load). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "diag_util.h"

static run hung(const char *opt1, const char *opt2, pid_t pid)
{
	char p[24];
	snprintf(p, sizeof p, "%d", (int)pid);
	char *argv[6] = { getenv("TT_TASKTRACE"), (char *)"hung" };
	int n = 2;
	if (opt1)
		argv[n++] = (char *)opt1;
	if (opt2)
		argv[n++] = (char *)opt2;
	argv[n++] = p;
	argv[n] = NULL;
	return run_prog(NULL, NULL, 0, argv);
}

static run hung2(const char *o1, const char *v1, const char *o2, const char *v2, pid_t pid)
{
	char p[24];
	snprintf(p, sizeof p, "%d", (int)pid);
	char *argv[] = {getenv("TT_TASKTRACE"),
			(char *)"hung",
			(char *)o1,
			(char *)v1,
			(char *)o2,
			(char *)v2,
			p,
			NULL};
	return run_prog(NULL, NULL, 0, argv);
}

static int exit_code(const run *r)
{
	ck_assert_msg(WIFEXITED(r->status), "tasktrace died");
	return WEXITSTATUS(r->status);
}

START_TEST(deadlock)
{
	sample s;
	sample_start(&s, "deadlock", NULL);
	run r = hung(NULL, NULL, s.pid);
	const char *f = "samples/deadlock.c";
	ck_assert_int_eq(exit_code(&r), 20);
	ck_assert_ptr_nonnull(strstr(r.out, "deadlock: 2 tasks wait on each other in a cycle"));
	const char *l = line_with(r.out, "task 2 \"transfer\" waits on join of task 3 \"audit\"");
	ck_assert_ptr_nonnull(strstr(l, at(f, "transfer-join")));
	l = line_with(r.out, "task 3 \"audit\" waits on mutex");
	ck_assert_ptr_nonnull(strstr(l, "held by task 2 \"transfer\""));
	ck_assert_ptr_nonnull(strstr(l, at(f, "audit-lock")));
	ck_assert_ptr_nonnull(strstr(r.out, "-> none of these tasks can make progress"));
	ck_assert_ptr_null(strstr(r.out, "lost waker:"));
	run_free(&r);

	r = hung("--json", NULL, s.pid);
	ck_assert_int_eq(exit_code(&r), 20);
	assert_schema("hung", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "\"command\":\"hung\""));
	ck_assert_ptr_nonnull(strstr(r.out, "\"findings\":[{\"kind\":\"deadlock\",\"task_id\":2,"
					    "\"other_id\":3"));
	ck_assert_ptr_nonnull(strstr(r.out, "\"cycle\":[2,3]"));
	run_free(&r);
	sample_stop(&s);
}
END_TEST

/* A reader-writer cycle: the writer names the reader holding the lock,
 * so the join and the rwlock close the cycle. */
START_TEST(rw_deadlock)
{
	sample s;
	sample_start(&s, "rw_deadlock", NULL);
	run r = hung(NULL, NULL, s.pid);
	const char *f = "samples/rw_deadlock.c";
	ck_assert_int_eq(exit_code(&r), 20);
	ck_assert_ptr_nonnull(strstr(r.out, "deadlock: 2 tasks wait on each other in a cycle"));
	const char *l = line_with(r.out, "task 2 \"index\" waits on join of task 3 \"compact\"");
	ck_assert_ptr_nonnull(strstr(l, at(f, "index-join")));
	l = line_with(r.out, "task 3 \"compact\" waits on rwlock");
	ck_assert_ptr_nonnull(strstr(l, "held by task 2 \"index\""));
	ck_assert_ptr_nonnull(strstr(l, at(f, "compact-lock")));
	ck_assert_ptr_nonnull(strstr(r.out, "-> none of these tasks can make progress.  Break the "
					    "cycle: do not take a read lock twice"));
	run_free(&r);
	sample_stop(&s);
}
END_TEST

START_TEST(lost_waker)
{
	sample s;
	sample_start(&s, "lost_waker", NULL);
	run r = hung(NULL, NULL, s.pid);
	ck_assert_int_eq(exit_code(&r), 20);
	const char *l = line_with(r.out, "lost waker: task 2 \"device-poller\"");
	ck_assert_ptr_nonnull(strstr(l, "is pending but nothing holds a waker for it"));
	/* The await statement spans two lines; its site is the first. */
	char site[64];
	snprintf(site, sizeof site, "samples/lost_waker.c:%u",
		 marker("samples/lost_waker.c", "lost") - 1);
	ck_assert_ptr_nonnull(strstr(line_with(r.out, "in forgetful_wait"), site));
	/* The flight recorder: its one poll, and no wake since. */
	l = line_with(r.out, "  last poll ");
	ck_assert_msg(l && strstr(l, site) && strstr(l, "; never woken since"), "%s", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "-> it can never be woken"));
	/* The block_on root waits on a timer: it holds a waker. */
	ck_assert_ptr_null(strstr(r.out, "task 1 "));
	run_free(&r);
	sample_stop(&s);
}
END_TEST

START_TEST(long_poll)
{
	sample s;
	sample_start(&s, "blocking", NULL);
	/* cruncher sleeps 3 s per poll and yields between: a read lands in
	 * a poll nearly always; a few tries make it certain. */
	int seen = 0;
	for (int i = 0; i < 20 && !seen; i++) {
		run r = hung("--long-poll", "10ms", s.pid);
		if (strstr(r.out, "long poll: task 3 \"cruncher\" has been running one poll for")) {
			ck_assert_int_eq(exit_code(&r), 20);
			ck_assert_ptr_nonnull(strstr(r.out, "-> it blocks its worker thread"));
			seen = 1;
		}
		run_free(&r);
		if (!seen)
			usleep(100 * 1000);
	}
	ck_assert_msg(seen, "no long poll reported for cruncher");
	sample_stop(&s);
}
END_TEST

START_TEST(hung_sample)
{
	sample s;
	sample_start(&s, "hung", NULL);
	/* Plain waits (timers, a join, a mutex held by a sleeper) are not
	 * problems by default. */
	run r = hung(NULL, NULL, s.pid);
	ck_assert_int_eq(exit_code(&r), 0);
	ck_assert_ptr_nonnull(strstr(r.out, "no problems found in"));
	ck_assert_ptr_null(strchr(strchr(r.out, '\n') + 1, '\n'));
	run_free(&r);
	/* Every idle task with its wait reason, and still no deadlock or
	 * lost waker; sleeping timers are not "idle". */
	r = hung("--idle", "0", s.pid);
	ck_assert_int_eq(exit_code(&r), 20);
	const char *l = line_with(r.out, "idle: task 2 \"request-42\"");
	(void)l;
	ck_assert_ptr_nonnull(strstr(line_with(r.out, "in tt_notified"), at("samples/hung.c", "reply")));
	ck_assert_ptr_nonnull(strstr(line_with(r.out, "idle: task 4 \"supervisor\""), "suspended"));
	ck_assert_ptr_null(strstr(r.out, "deadlock:"));
	ck_assert_ptr_null(strstr(r.out, "all tasks are asleep:"));
	ck_assert_ptr_null(strstr(r.out, "lost waker:"));
	ck_assert_ptr_null(strstr(r.out, "\"cache-refresh\""));
	/* A read from a pipe nobody writes is the rest of a server waiting for
	 * its next request or connection: not idle, whatever --idle says... */
	ck_assert_ptr_null(strstr(r.out, "\"pipe-reader\""));
	run_free(&r);
	/* ... unless asked for. */
	r = hung2("--idle", "0", "--idle-io", "0", s.pid);
	ck_assert_int_eq(exit_code(&r), 20);
	ck_assert_ptr_nonnull(strstr(line_with(r.out, "idle: task"), "suspended"));
	ck_assert_ptr_nonnull(strstr(r.out, "\"pipe-reader\" has been suspended for "));
	run_free(&r);
	/* The same read without stopping it. */
	r = hung("--nonblocking", NULL, s.pid);
	ck_assert_msg(exit_code(&r) == 0, "%s", r.out);
	run_free(&r);
	/* Usage errors. */
	r = hung("--idle", "soon", s.pid);
	ck_assert_int_eq(exit_code(&r), 2);
	ck_assert_ptr_nonnull(strstr(r.err, "not a duration"));
	run_free(&r);
	sample_stop(&s);
}
END_TEST

/* ---- echo_server under load ---- */

static _Atomic int load_stop;
static _Atomic long load_echoes; /* full echoes, all load threads */
static _Atomic int load_up;	 /* load threads that echoed once */
static int echo_port;

static void *load(void *arg)
{
	(void)arg;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)echo_port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return NULL;
	}
	char buf[512] = "ping";
	int first = 0;
	while (!atomic_load(&load_stop)) {
		if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
			break;
		size_t got = 0;
		while (got < sizeof buf) {
			ssize_t n = read(fd, buf + got, sizeof buf - got);
			if (n <= 0)
				goto out;
			got += (size_t)n;
		}
		atomic_fetch_add(&load_echoes, 1);
		if (!first++)
			atomic_fetch_add(&load_up, 1);
	}
out:
	close(fd);
	return NULL;
}

START_TEST(echo_under_load)
{
	sample s;
	pthread_t th[16];
	sample_start(&s, "echo_server", "0");
	ck_assert_ptr_nonnull(strstr(s.line, "port "));
	echo_port = atoi(strstr(s.line, "port ") + 5);
	ck_assert_int_gt(echo_port, 0);
	atomic_store(&load_stop, 0);
	atomic_store(&load_up, 0);
	for (int i = 0; i < 16; i++)
		pthread_create(&th[i], NULL, load, NULL);
	/* Under load: every connection has echoed (bounded wait, no fixed
	 * sleep). */
	for (int i = 0; i < 10000 && atomic_load(&load_up) < 16; i++)
		usleep(1000);
	ck_assert_int_eq(atomic_load(&load_up), 16);
	for (int i = 0; i < 10; i++) {
		long before = atomic_load(&load_echoes);
		run r = hung("--long-poll", "off", s.pid);
		ck_assert_msg(!strstr(r.out, "deadlock:") && !strstr(r.out, "lost waker:"),
			      "false positive under load:\n%s", r.out);
		ck_assert_int_ne(exit_code(&r), 1);
		run_free(&r);
		/* The next read only after more traffic went through. */
		for (int k = 0; k < 10000 && atomic_load(&load_echoes) < before + 64; k++)
			usleep(1000);
	}
	atomic_store(&load_stop, 1);
	for (int i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	sample_stop(&s);
}
END_TEST

/* The same engine on cores made with gcore, through the CLI's core
 * support. */
START_TEST(from_cores)
{
	const char *gcore = getenv("TT_GCORE");
	static const char *const names[] = { "deadlock", "lost_waker" };
	static const char *const want[] = { "deadlock: 2 tasks wait on each other",
					    "lost waker: task 2 \"device-poller\"" };
	ck_assert_msg(gcore && *gcore, "no gcore (it comes with gdb: scripts/install-deps.sh)");
	for (int i = 0; i < 2; i++) {
		sample s;
		char prefix[64], core[96], pid[16], exe[512];
		sample_start(&s, names[i], NULL);
		snprintf(prefix, sizeof prefix, "/tmp/tt-hung-core-%d", (int)getpid());
		snprintf(pid, sizeof pid, "%d", (int)s.pid);
		char *gargv[] = { (char *)gcore, (char *)"-o", prefix, pid, NULL };
		run g = run_prog(NULL, NULL, 0, gargv);
		run_free(&g);
		sample_stop(&s);
		snprintf(core, sizeof core, "%s.%d", prefix, (int)s.pid);
		snprintf(exe, sizeof exe, "%s/%s", getenv("TT_SAMPLES"), names[i]);
		char *argv[] = { getenv("TT_TASKTRACE"), (char *)"hung", (char *)"--exe", exe,
				 core, NULL };
		run r = run_prog(NULL, NULL, 0, argv);
		ck_assert_msg(strstr(r.out, want[i]), "%s core:\n%s%s", names[i], r.out, r.err);
		ck_assert_ptr_nonnull(strstr(r.out, "core "));
		ck_assert_int_eq(exit_code(&r), 20);
		run_free(&r);
		unlink(core);
	}
}
END_TEST

/* Issue 12: a cycle through a semaphore and a channel, spelled out edge by
 * edge, from a stopped read and a nonblocking one. */
START_TEST(semaphore_and_channel_cycle)
{
	static const char *const opts[] = { NULL, "--nonblocking" };
	const char *f = "samples/deadlock.c";
	sample s;
	sample_start(&s, "deadlock", "sem");
	for (int k = 0; k < 2; k++) {
		run r = hung(opts[k], NULL, s.pid);
		ck_assert_msg(exit_code(&r) == 20, "%s", r.out);
		ck_assert_msg(strstr(r.out, "deadlock: 3 tasks wait on each other in a cycle"), "%s",
			      r.out);
		const char *l = line_with(r.out, "task 2 \"producer\" waits on channel send");
		ck_assert_msg(strstr(l, "received by task 3 \"consumer\""), "%s", r.out);
		ck_assert_ptr_nonnull(strstr(l, at(f, "producer-send")));
		l = line_with(r.out, "task 3 \"consumer\" waits on join of task 4 \"checker\"");
		ck_assert_ptr_nonnull(strstr(l, at(f, "consumer-join")));
		l = line_with(r.out, "task 4 \"checker\" waits on semaphore");
		ck_assert_msg(strstr(l, "held by task 2 \"producer\""), "%s", r.out);
		ck_assert_ptr_nonnull(strstr(l, at(f, "checker-acquire")));
		ck_assert_ptr_nonnull(strstr(r.out, "(back to task 2 \"producer\")"));
		run_free(&r);
	}
	sample_stop(&s);
}
END_TEST

/* Each waits to receive what only the other sends. */
START_TEST(channel_cycle)
{
	sample s;
	sample_start(&s, "deadlock", "chan");
	run r = hung(NULL, NULL, s.pid);
	ck_assert_msg(exit_code(&r) == 20, "%s", r.out);
	ck_assert_msg(strstr(r.out, "deadlock: 2 tasks wait on each other in a cycle"), "%s", r.out);
	const char *l = line_with(r.out, "task 2 \"ping\" waits on channel recv");
	ck_assert_msg(strstr(l, "sent by task 3 \"pong\""), "%s", r.out);
	ck_assert_ptr_nonnull(strstr(l, at("samples/deadlock.c", "player-recv")));
	l = line_with(r.out, "task 3 \"pong\" waits on channel recv");
	ck_assert_msg(strstr(l, "sent by task 2 \"ping\""), "%s", r.out);
	run_free(&r);
	sample_stop(&s);
}
END_TEST

/* Every task waits and nothing can wake them: the root joins a reader of
 * a channel whose declared sender returned. */
START_TEST(all_asleep)
{
	sample s;
	sample_start(&s, "deadlock", "asleep");
	run r = hung("--nonblocking", NULL, s.pid);
	ck_assert_msg(exit_code(&r) == 20, "%s", r.out);
	ck_assert_msg(strstr(r.out, "all tasks are asleep: 2 tasks wait and nothing can wake any "
				    "of them\n"),
		      "%s", r.out);
	const char *l = line_with(r.out, "  task 1 \"block_on\" waits on join of task 3 \"reader\"");
	ck_assert_ptr_nonnull(strstr(l, at("samples/deadlock.c", "root-join")));
	ck_assert_msg(strstr(r.out, "never resolved: task 3 \"reader\" waits on a channel whose "
				    "declared senders, task 2, is gone"),
		      "%s", r.out);
	l = line_with(r.out, "  last poll ");
	ck_assert_msg(l && strstr(l, "(reader_poll), waits on channel recv") &&
			  strstr(l, "; never woken since"),
		      "%s", r.out);
	ck_assert_ptr_null(strstr(r.out, "deadlock:"));
	run_free(&r);
	sample_stop(&s);
}
END_TEST

/* Issue 12 item 4: thousands of tasks idle on one chain and one wait are
 * one finding with the exact count; --all lists each. */
START_TEST(grouped_at_scale)
{
	const char *sc = getenv("TT_TEST_SCALE");
	unsigned n = 20000u / (sc && atoi(sc) > 0 ? (unsigned)atoi(sc) : 1);
	char arg[16], want[160];
	snprintf(arg, sizeof arg, "%u", n);
	sample s;
	sample_start(&s, "many_tasks", arg);
	run r = hung("--idle", "0", s.pid);
	ck_assert_int_eq(exit_code(&r), 20);
	snprintf(want, sizeof want, ": 1 problem found (%u tasks; --all lists each)\n", n);
	ck_assert_msg(strstr(r.out, want), "%s", r.out);
	snprintf(want, sizeof want,
		 "\nidle: %u tasks alike, e.g. task 2 \"idle-worker\" has been "
		 "suspended for ",
		 n);
	ck_assert_msg(strstr(r.out, want), "%s", r.out);
	snprintf(want, sizeof want,
		 "  tasks 2, 3, 4, 5, 6, 7, 8, 9, ... (%u with the same chain "
		 "and wait; --all lists each)\n",
		 n);
	ck_assert_msg(strstr(r.out, want), "%s", r.out);
	ck_assert_msg(strstr(r.out, "in tt_notified at samples/many_tasks.c:"), "%s", r.out);
	int lines = 0;
	for (const char *p = r.out; *p; p++)
		lines += *p == '\n';
	ck_assert_msg(lines == 6, "%d lines:\n%s", lines, r.out);
	run_free(&r);

	char p[24];
	snprintf(p, sizeof p, "%d", (int)s.pid);
	char *argv[] = {getenv("TT_TASKTRACE"),
			(char *)"hung",
			(char *)"--all",
			(char *)"--idle",
			(char *)"0",
			p,
			NULL};
	r = run_prog(NULL, NULL, 0, argv);
	ck_assert_int_eq(exit_code(&r), 20);
	snprintf(want, sizeof want, ": %u problems found\n", n);
	ck_assert_msg(strstr(r.out, want), "%.300s", r.out);
	ck_assert_ptr_null(strstr(r.out, "alike"));
	run_free(&r);

	r = hung("--json", "--idle=0", s.pid);
	ck_assert_int_eq(exit_code(&r), 20);
	assert_schema("hung", r.out);
	snprintf(want, sizeof want, "\"count\":%u,\"ids\":[2,3,4,", n);
	ck_assert_msg(strstr(r.out, want), "%.300s", r.out);
	run_free(&r);
	sample_stop(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hung");
	TCase *tc = tcase_create("hung");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, deadlock);
	tcase_add_test(tc, semaphore_and_channel_cycle);
	tcase_add_test(tc, channel_cycle);
	tcase_add_test(tc, all_asleep);
	tcase_add_test(tc, grouped_at_scale);
	tcase_add_test(tc, rw_deadlock);
	tcase_add_test(tc, lost_waker);
	tcase_add_test(tc, long_poll);
	tcase_add_test(tc, hung_sample);
	tcase_add_test(tc, echo_under_load);
	suite_add_tcase(s, tc);
	/* A sanitized process's core holds its shadow memory: terabytes. */
	TCase *cores = tcase_create("hung-cores");
	tcase_set_tags(cores, "unsanitized");
	tcase_set_timeout(cores, 300);
	tcase_add_test(cores, from_cores);
	suite_add_tcase(s, cores);
	return run_suite(s);
}
