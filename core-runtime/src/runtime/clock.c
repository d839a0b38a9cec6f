/* The stamp clock: one thread per process copies CLOCK_MONOTONIC_COARSE
 * into tt__stamp_clock once a kernel tick while any worker runs, so that
 * the end of a poll costs a load instead of a vDSO call (about a fifth of
 * a short poll's time; docs/registry-abi.md §5.1, "Clock of the stamps").
 * Go's sysmon is the same idea: a thread that keeps time for the others
 * and sleeps when they all do.
 *
 * The thread sleeps on a futex while no worker runs: an idle process
 * takes no wake-ups from it.  A worker that leaves its park reads the
 * clock itself (tt_worker_run), so the first poll after a sleep is not
 * stamped with the time the process went idle. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>

#include "runtime/internal.h"

_Atomic uint64_t tt__stamp_clock;

/* Workers running polls, over every runtime of the process; the futex
 * word the clock thread sleeps on when it is 0. */
static _Atomic int32_t busy;
static _Atomic int32_t sleeping;
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static int started;

static uint64_t tick_ns(void)
{
	/* The coarse clock moves once a tick: copying it more often only
	 * costs wake-ups.  At least 1 ms, at most 4 ms (HZ=250) so a copy
	 * is never more than about two ticks behind. */
	struct timespec res;
	uint64_t ns = clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0
			  ? (uint64_t)res.tv_sec * 1000000000ull + (uint64_t)res.tv_nsec
			  : 4000000;
	return ns < 1000000 ? 1000000 : ns > 4000000 ? 4000000 : ns;
}

static void *clock_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "tt-clock");
	const uint64_t tick = tick_ns();
	const struct timespec nap = {0, (long)tick};
	for (;;) {
		atomic_store_explicit(&tt__stamp_clock, tt_stamp_ns(), RELAXED);
		if (atomic_load_explicit(&busy, SEQ_CST) == 0) {
			/* Dekker with tt_clock_busy: either it sees SLEEPING, or
			 * this load sees its increment; the futex re-checks 0. */
			atomic_store_explicit(&sleeping, 1, SEQ_CST);
			if (atomic_load_explicit(&busy, SEQ_CST) == 0)
				tt_futex_wait(&busy, 0);
			atomic_store_explicit(&sleeping, 0, RELAXED);
			continue;
		}
		nanosleep(&nap, NULL);
	}
	return NULL;
}

/* A forked child has no clock thread: the next runtime starts one. */
static void after_fork_child(void)
{
	started = 0;
	atomic_store_explicit(&busy, 0, RELAXED);
	atomic_store_explicit(&sleeping, 0, RELAXED);
	pthread_mutex_init(&start_lock, NULL);
}

int tt_clock_start(void)
{
	if (!TT_RECORDING)
		return 0;
	int err = 0;
	pthread_mutex_lock(&start_lock);
	if (!started) {
		atomic_store_explicit(&tt__stamp_clock, tt_stamp_ns(), RELAXED);
		/* Every signal blocked from its first instruction: a process
		 * signal must go to a thread that handles it. */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		pthread_t th;
		err = pthread_create(&th, &attr, clock_main, NULL);
		pthread_attr_destroy(&attr);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		static int registered;
		if (!err && !registered)
			registered = pthread_atfork(NULL, NULL, after_fork_child) == 0;
		started = !err;
	}
	pthread_mutex_unlock(&start_lock);
	return -err;
}

void tt_clock_busy(void)
{
	if (!TT_RECORDING)
		return;
	if (atomic_fetch_add_explicit(&busy, 1, SEQ_CST) == 0 &&
	    atomic_load_explicit(&sleeping, SEQ_CST))
		tt_futex_wake(&busy);
}

void tt_clock_idle(void)
{
	if (TT_RECORDING)
		atomic_fetch_sub_explicit(&busy, 1, RELAXED);
}
