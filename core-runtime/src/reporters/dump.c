/* Dump every task on demand (crash.h): the format of `tasktrace bt`,
 * written by the core reader straight from the signal handler.
 *
 * Why in the handler and not on a helper thread: the dump is most wanted
 * when the process is wedged -- a thread stuck holding malloc's lock, a
 * worker spinning -- and a helper thread that allocates or needs the
 * scheduler could hang with it.  The core reader needs neither, so the
 * interrupted thread writes the dump itself (a few ms for 10k tasks) while
 * every other thread keeps running. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reporters/crash_priv.h"
#include "reporters/report.h"
#include "tasktrace/crash.h"

static _Atomic int dumping;
/* The fd of tt_dump_install, checked before each dump (report.h). */
static tt_rdest dest = {.fd = 2};

/* SIGPIPE from a reader that went away must not kill the program: block
 * it while writing and swallow one we caused. */
static void pipe_guard(int on, sigset_t *old, int *was_pending)
{
	sigset_t s, pend;
	struct timespec zero = { 0, 0 };

	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	if (on) {
		sigprocmask(SIG_BLOCK, &s, old);
		sigpending(&pend);
		*was_pending = sigismember(&pend, SIGPIPE);
		return;
	}
	sigpending(&pend);
	if (sigismember(&pend, SIGPIPE) && !*was_pending)
		sigtimedwait(&s, NULL, &zero);
	sigprocmask(SIG_SETMASK, old, NULL);
}

/* NOTE: a line saying where the dump went instead of its fd, or "". */
static int dump(int fd, const char *note)
{
	char err[160], line[256];
	tt_rout o;
	tt_fbuf b;
	int n = 0;
	tt_rep *p = tt_rep_open(1, err, sizeof(err));

	tt_rout_init(&o, fd, SIZE_MAX);
	if (!p) {
		tt_fb_init(&b, line, sizeof(line));
		tt_fb_str(&b, "tasktrace: dump failed: ");
		tt_fb_text(&b, err);
		tt_rout_line(&o, b.p);
		tt_rout_flush(&o);
		return -EIO;
	}
	tt_fb_init(&b, line, sizeof(line));
	tt_fb_str(&b, "tasktrace: dump of pid ");
	tt_fb_u64(&b, tt_reader_root_u64(&p->r, TT_ROOT_PID));
	tt_fb_str(&b, ": ");
	tt_fb_u64(&b, p->nents);
	tt_fb_str(&b, p->nents == 1 ? " task" : " tasks");
	tt_rout_line(&o, b.p);
	if (note[0])
		tt_rout_line(&o, note);
	/* 64 KiB writes, from the context's mapping (not this stack). */
	tt_rout_set_buffer(&o, p->out, sizeof(p->out));
	/* In slot order (spawn order until slots are reused): slots are read
	 * a batch at a time, neighbouring tasks share frame pages and a
	 * batch's seqlock is checked with one read, which keeps 10k tasks
	 * well under 25 ms. */
	n = tt_rep_bt_all(p, &o, "");
	/* The stalls seen so far (tasktrace/crash.h, tt_stall_start). */
	if (tt__stall_started()) {
		tt_rout_force(&o, "");
		tt__stall_agg_print(&o, NULL);
	}
	tt_rout_line(&o, "tasktrace: end of dump");
	tt_rout_flush(&o);
	tt_rep_close(p);
	return n;
}

int tt_dump_tasks(int fd)
{
	sigset_t old;
	int pending = 0;

	pipe_guard(1, &old, &pending);
	int n = dump(fd, "");
	pipe_guard(0, &old, &pending);
	return n;
}

static void on_dump(int sig)
{
	static char note[800];
	int saved = errno;
	(void)sig;

	if (atomic_exchange(&dumping, 1)) {
		static const char busy[] = "tasktrace: dump already in progress; signal ignored\n";
		if (tt_rdest_same(&dest)) {
			ssize_t r = write(dest.fd, busy, sizeof(busy) - 1);
			(void)r;
		}
	} else {
		sigset_t old;
		int pending = 0;
		int fd = tt_rdest_open(&dest, note, sizeof(note));
		if (fd >= 0) {
			pipe_guard(1, &old, &pending);
			dump(fd, note);
			pipe_guard(0, &old, &pending);
			if (note[0])
				close(fd);
		}
		atomic_store(&dumping, 0);
	}
	errno = saved;
}

int tt_dump_install(int signo, int fd)
{
	struct sigaction sa;

	if (!signo)
		signo = SIGQUIT;
	tt_rdest_init(&dest, fd >= 0 ? fd : 2, "dump");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_dump;
	sa.sa_flags = SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(signo, &sa, NULL) != 0)
		return -errno;
	return 0;
}
