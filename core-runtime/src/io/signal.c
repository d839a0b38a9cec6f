/* Signals as futures: the signals named in tt_runtime_opts.signals are
 * blocked in the thread creating the runtime before its workers start, so
 * every runtime thread inherits the mask, and the runtime reads them from
 * one signalfd on the reactor instead of a handler running on an
 * arbitrary thread.
 *
 * Every waiting tt_signal reads the shared signalfd (a tt_read each, so
 * the fd's readiness is tracked as for any read); whichever reads a
 * signal counts it (sigs->count) and wakes the waits for that number,
 * under sigs->lock.  A wait queues itself before it checks the count, in
 * the same critical section, so a delivery counted by another wait either
 * comes before the check or finds it queued; one that finds no wait of
 * its number is kept for the next (sigs->kept). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "runtime/internal.h"

#include "tasktrace/io.h"

_Static_assert(sizeof(((tt_signal *)0)->buf) % sizeof(struct signalfd_siginfo) == 0,
	       "tt_signal.buf holds whole signalfd_siginfo records");

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

void tt_sigs_init(tt_sigs *g, const int *signals)
{
	memset(g, 0, sizeof *g);
	pthread_mutex_init(&g->lock, NULL);
	/* Checked by tt_signals_block before the runtime exists. */
	for (int n = 0; signals && signals[n] && n < 64; n++)
		if (signals[n] > 0 && signals[n] < TT_NSIG)
			g->owned |= 1ull << (signals[n] - 1);
}

void tt_sigs_destroy(tt_sigs *g)
{
	if (g->fd)
		tt_fd_close(g->fd);
	g->fd = NULL;
	pthread_mutex_destroy(&g->lock);
}

static tt_poll signal_poll(tt_signal *self, tt_cx *cx);
static void signal_drop(tt_signal *self);
TT_LEAF_FN(tt_signal, signal_poll, signal_drop);

void tt_signal_init(tt_signal *s, int signo)
{
	tt_frame_init(&s->leaf.frame, &tt_signal_fn);
	tt_wait_clear(&s->leaf.wait);
	tt_waiter_init(&s->w);
	s->signo = signo;
	s->started = 0;
	s->reading = 0;
	s->seen = 0;
	s->sigs = NULL;
}

/* Under g->lock: make the signalfd read SIGNO too, opening it on first
 * use.  Under its worker's mask: a signal not blocked there is not the
 * runtime's (tt_runtime_opts.signals), and would take its default action
 * before any signalfd saw it. */
static int watch(tt_sigs *g, int signo)
{
	sigset_t set, cur;
	if (!valid_signal(signo) || signo >= TT_NSIG ||
	    pthread_sigmask(SIG_BLOCK, NULL, &cur) != 0 || !sigismember(&cur, signo))
		return -EINVAL;
	/* The first wait opens the signalfd for every signal the runtime
	 * owns, so a later wait for another of them does not change the
	 * mask of an fd a worker may be reading at that moment. */
	uint64_t mask = g->mask | g->owned | 1ull << (signo - 1);
	if (g->fd && mask == g->mask)
		return 0;
	sigemptyset(&set);
	for (int n = 1; n < TT_NSIG; n++)
		if (mask & 1ull << (n - 1))
			sigaddset(&set, n);
	if (g->fd) {
		if (signalfd(tt_fd_raw(g->fd), &set, 0) < 0)
			return -errno;
	} else {
		int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
		if (sfd < 0)
			return -errno;
		int r = tt_fd_open(NULL, sfd, &g->fd);
		if (r < 0) {
			close(sfd);
			g->fd = NULL;
			return r;
		}
	}
	g->mask = mask;
	return 0;
}

/* Under g->lock: count the signals in BUF and wake the waits for them. */
static void dispatch(tt_sigs *g, const unsigned char *buf, size_t len)
{
	for (size_t off = 0; off + sizeof(struct signalfd_siginfo) <= len;
	     off += sizeof(struct signalfd_siginfo)) {
		struct signalfd_siginfo si;
		memcpy(&si, buf + off, sizeof si);
		if (!si.ssi_signo || si.ssi_signo >= TT_NSIG)
			continue;
		g->count[si.ssi_signo]++;
		int woke = 0;
		for (tt_waiter *w = g->waiters.head, *next; w; w = next) {
			next = w->next;
			if (w->want != si.ssi_signo)
				continue;
			tt_waitq_remove(&g->waiters, w);
			tt_waker k = w->waker;
			w->waker.task = NULL;
			tt_waker_wake(&k);
			woke = 1;
		}
		/* Nobody of that number waits (every started wait is queued
		 * until it ends): keep it for the next, as the kernel would
		 * have kept it pending. */
		if (!woke)
			g->kept[si.ssi_signo] = 1;
	}
}

/* "SIGTERM": the name a wait on SIGNO shows (tt_wait_set_name keeps the
 * pointer, so the names live as long as the process). */
static char sig_names[TT_NSIG][16];
static pthread_once_t sig_names_once = PTHREAD_ONCE_INIT;
static void sig_names_init(void)
{
	for (int n = 1; n < TT_NSIG; n++) {
		const char *abbrev = sigabbrev_np(n);
		if (abbrev)
			snprintf(sig_names[n], sizeof sig_names[n], "SIG%s", abbrev);
		else
			snprintf(sig_names[n], sizeof sig_names[n], "signal %d", n);
	}
}

static tt_poll finish(tt_signal *self, intptr_t result)
{
	tt_sigs *g = self->sigs;
	if (g) {
		pthread_mutex_lock(&g->lock);
		tt_waiter_leave(&g->waiters, &self->w);
		pthread_mutex_unlock(&g->lock);
		if (self->reading)
			tt_frame_cancel(&self->rd.op.leaf.frame);
		self->reading = 0;
	}
	tt_wait_clear(&self->leaf.wait);
	self->leaf.frame.result = result;
	return TT_READY;
}

static tt_poll signal_poll(tt_signal *self, tt_cx *cx)
{
	tt_sigs *g = self->sigs;
	if (!self->started) {
		self->started = 1;
		if (!cx || !cx->task)
			return finish(self, -EINVAL);
		g = &cx->task->rt->sigs;
		pthread_mutex_lock(&g->lock);
		int r = watch(g, self->signo);
		if (r == 0) {
			self->seen = g->count[self->signo] - g->kept[self->signo];
			g->kept[self->signo] = 0;
		}
		pthread_mutex_unlock(&g->lock);
		if (r < 0)
			return finish(self, r);
		self->sigs = g;
		self->w.want = (uint64_t)self->signo;
	}
	for (;;) {
		pthread_mutex_lock(&g->lock);
		if (g->count[self->signo] != self->seen) {
			pthread_mutex_unlock(&g->lock);
			return finish(self, self->signo);
		}
		tt_waitq_push(&g->waiters, &self->w, cx);
		pthread_mutex_unlock(&g->lock);
		if (!self->reading) {
			tt_read_init(&self->rd, g->fd, self->buf, sizeof self->buf);
			self->reading = 1;
		}
		if (tt_frame_poll(&self->rd.op.leaf.frame, cx) == TT_PENDING) {
			if (!self->leaf.wait.kind) {
				pthread_once(&sig_names_once, sig_names_init);
				tt_wait_set(&self->leaf.wait, TT_WAIT_SIGNAL, g, 0,
					    (uint64_t)self->signo);
				tt_wait_set_name(&self->leaf.wait, sig_names[self->signo]);
			}
			return TT_PENDING;
		}
		self->reading = 0; /* done: it let go of the fd */
		intptr_t n = TT_RESULT(&self->rd);
		if (n < 0)
			return finish(self, n);
		pthread_mutex_lock(&g->lock);
		dispatch(g, self->buf, (size_t)n);
		pthread_mutex_unlock(&g->lock);
	}
}

static void signal_drop(tt_signal *self)
{
	finish(self, TT_ECANCELED);
}
