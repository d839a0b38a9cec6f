/* The reporters are started by the environment alone in a statically
 * linked program too (nothing in the runtime refers to them; the static
 * link pulls them in, runtime/hooks.h): TASKTRACE_DUMP_SIGNAL dumps on the
 * signal, TASKTRACE_WATCHDOG reports the idle tasks of samples/hung.
 * TASKTRACE_CRASH is test_crash's env_install, run on the static programs
 * as crash-static. */
#include <check.h>
#include <fcntl.h>
#include <time.h>

#include "../sample.h"

/* Wait up to 10 s for WHAT in the file at FD; its text in BUF. */
static int wait_for(int fd, const char *what, char *buf, size_t len)
{
	for (int i = 0; i < 1000; i++) {
		ssize_t n = pread(fd, buf, len - 1, 0);
		buf[n > 0 ? n : 0] = 0;
		if (strstr(buf, what))
			return 1;
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	return 0;
}

START_TEST(dump_signal_and_watchdog)
{
	static char buf[1 << 20];
	char path[] = "/tmp/tt-reporters-env-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	setenv("TASKTRACE_DUMP_SIGNAL", "USR1", 1);
	setenv("TASKTRACE_WATCHDOG", "interval=100ms,idle=100ms", 1);
	/* The sample writes its reports to the stderr it inherits. */
	int saved = dup(2);
	dup2(fd, 2);
	sample s;
	sample_start(&s, "hung", NULL);
	dup2(saved, 2);
	close(saved);

	ck_assert_msg(wait_for(fd, "tasktrace watchdog (pid", buf, sizeof buf),
		      "no watchdog report: %s", buf);
	ck_assert_ptr_nonnull(
	    strstr(buf, "idle: task 2 \"request-42\" {request_id=42 route=/users}"));
	kill(s.pid, SIGUSR1);
	ck_assert_msg(wait_for(fd, "tasktrace: dump of pid", buf, sizeof buf), "no dump: %s", buf);
	ck_assert_msg(wait_for(fd, "#1  await_reply () at samples/hung.c:", buf, sizeof buf),
		      "no stack in the dump: %s", buf);
	ck_assert_msg(strstr(strstr(buf, "tasktrace: dump of pid"),
			     "task 2 \"request-42\" {request_id=42 route=/users} [notify, "),
		      "no labels in the dump: %s", buf);
	sample_stop(&s);
	close(fd);
}
END_TEST

/* idle_io is --idle-io: a task resting on an fd read is reported only
 * when it is given (samples/hung's pipe-reader waits on a pipe). */
START_TEST(watchdog_idle_io)
{
	static char buf[1 << 20];
	char path[] = "/tmp/tt-reporters-env-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	unsetenv("TASKTRACE_DUMP_SIGNAL");
	setenv("TASKTRACE_WATCHDOG", "interval=100ms,idle=off,idle_io=100ms", 1);
	int saved = dup(2);
	dup2(fd, 2);
	sample s;
	sample_start(&s, "hung", NULL);
	dup2(saved, 2);
	close(saved);

	ck_assert_msg(wait_for(fd, "\"pipe-reader\"", buf, sizeof buf),
		      "no idle finding for the fd read: %s", buf);
	ck_assert_msg(strstr(buf, "idle: task") && !strstr(buf, "\"request-42\""),
		      "idle=off reported a non-I/O wait: %s", buf);
	sample_stop(&s);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reporters-env");
	TCase *tc = tcase_create("env");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dump_signal_and_watchdog);
	tcase_add_test(tc, watchdog_idle_io);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
