/* Signals as futures: the signals named in tt_runtime_opts.signals are
 * blocked in the thread creating the runtime before its workers start, so
 * every runtime thread inherits the mask, and a tt_signal reads its
 * signal from a signalfd on the reactor instead of a handler running on
 * an arbitrary thread. */
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "runtime/internal.h"

#include "tasktrace/io.h"

_Static_assert(sizeof(struct signalfd_siginfo) == sizeof(((tt_signal *)0)->info),
	       "tt_signal.info holds one signalfd_siginfo");

static int valid_signal(int signo)
{
	return signo > 0 && signo < NSIG && signo != SIGKILL && signo != SIGSTOP;
}

int tt_signals_block(const int *signals)
{
	sigset_t set;
	sigemptyset(&set);
	int n = 0;
	for (; signals && signals[n]; n++) {
		if (n >= 64 || !valid_signal(signals[n]))
			return -EINVAL;
		sigaddset(&set, signals[n]);
	}
	return n ? -pthread_sigmask(SIG_BLOCK, &set, NULL) : 0;
}

static tt_poll signal_poll(tt_signal *self, tt_cx *cx);
static void signal_cleanup(tt_signal *self)
{
	if (self->fd)
		tt_fd_close(self->fd);
	self->fd = NULL;
}
TT_ASYNC_FN(tt_signal, signal_poll, signal_cleanup);

void tt_signal_init(tt_signal *s, int signo)
{
	tt_frame_init(&s->frame, &tt_signal_fn);
	s->signo = signo;
	s->fd = NULL;
}

/* Under its worker's mask: a signal not blocked there is not the
 * runtime's (tt_runtime_opts.signals), and would take its default action
 * before any signalfd saw it. */
static int open_signalfd(int signo, tt_fd **out)
{
	sigset_t set, cur;
	if (!valid_signal(signo) || pthread_sigmask(SIG_BLOCK, NULL, &cur) != 0 ||
	    !sigismember(&cur, signo))
		return -EINVAL;
	sigemptyset(&set);
	sigaddset(&set, signo);
	int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		return -errno;
	int r = tt_fd_open(NULL, sfd, out);
	if (r < 0)
		close(sfd);
	return r;
}

static tt_poll signal_poll(tt_signal *self, tt_cx *cx)
{
	TT_BEGIN(self);
	{
		int r = open_signalfd(self->signo, &self->fd);
		if (r < 0) {
			self->fd = NULL;
			TT_RETURN(self, r);
		}
	}
	TT_AWAIT(self, cx, &self->rd,
		 tt_read_exact_init(&self->rd, self->fd, self->info, sizeof self->info));
	tt_fd_close(self->fd);
	self->fd = NULL;
	TT_RETURN(self, TT_RESULT(&self->rd) == (intptr_t)sizeof self->info ? self->signo
									    : TT_RESULT(&self->rd));
}
