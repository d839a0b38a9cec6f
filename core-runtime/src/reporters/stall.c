/* The stall detector (crash.h, tt_stall_start): a poll that runs past
 * the threshold is reported with where its thread is.
 *
 * A thread of the watchdog reads the worker records as a poll in
 * progress crosses the threshold, and at least once a threshold
 * (stall_main): the poll start and the task each worker publishes anyway,
 * so a poll costs nothing more with the detector on.  When a poll has run past the threshold it
 * sends the worker a signal of its own (rt_tgsigqueueinfo, the worker's slot in the value); the
 * handler walks its own stack with the crash handler's frame-pointer walk (crash_bt.c) into that
 * slot, preallocated, and returns: no malloc, no lock, bounded.  This thread then prints the report
 * -- the task, the native stack pruned and named as the crash log names it, the system call
 * (/proc/self/task/TID/syscall and wchan), the task's chain and ancestry as `tasktrace bt` prints
 * them -- at the threshold and again at 2x, 4x, ... of it, and at most RATE reports a second.  A
 * report again while the thread is still in the same system call reuses the stack instead of
 * interrupting the call once more.  A stall that ends goes into the run's stalls grouped by
 * stack (stall_agg.c); the watchdog's long-poll finding reuses the stack taken
 * (tt__stall_describe). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "reporters/crash_priv.h"
#include "runtime/internal.h"
#include "tasktrace/crash.h"

#define SLOTS 256		      /* worker records watched */
#define ANSWER_NS (50ull * 1000000u)  /* a signalled thread records its stack by then */
#define TICK_MIN_NS (1ull * 1000000u) /* between two looks, at least */
#define TICK_MAX_NS (5ull * 1000000u)
#define RATE 20 /* reports a second, all workers together */

/* One per worker record: the handler's part, then the thread's. */
typedef struct slot {
	_Atomic uint64_t req;  /* the request the handler answers */
	_Atomic uint64_t done; /* the last request answered */
	_Atomic int64_t tid;   /* the thread asked */
	uint64_t task_id;      /* what the handler saw it poll */
	uint64_t poll_start;
	tt_native nb;
	/* The stall thread's own: the stall being followed. */
	uint64_t task, start; /* task id and poll start: one stall */
	uint64_t task_addr;   /* its record, to name the stack's async frames */
	uint64_t stack_ns;    /* when the stack was taken */
	int crossed;	      /* ran past the threshold: a stall, counted as it ends */
	uint32_t worker;      /* of the stall, for its flight recorder events */
	uint64_t stall_tid;
	uint64_t polls;	      /* the task's polls then: the stall is poll polls + 1 */
	char name[TT_TASK_NAME_MAX];
	uint64_t next_ns;     /* report again once the poll is this old */
	int unanswered;	      /* the signal got no answer: ask no more */
	int have_stack;
	char sys[256]; /* the syscall line the stack was taken in */
} slot;

static struct {
	pthread_mutex_t lock; /* start/stop; the thread holds it but while it waits */
	pthread_cond_t cv;    /* on CLOCK_MONOTONIC: stop */
	pthread_t thread;
	int stop;
	uint64_t tick_ns; /* the shortest wait between two looks */
	int running;
	_Atomic int started; /* ever: the dump prints the stalls seen */
	tt_stall_opts o;
	int signo;
	slot *slots; /* allocated once, never freed: a late signal finds it */
	tt_reader r;
	uint64_t window_ns; /* rate limit: this second's start, */
	unsigned in_window; /* reports in it, */
	uint64_t dropped;   /* and reports not printed */
} st = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void on_stall_signal(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	slot *slots = st.slots;
	(void)sig;

	/* Ours only: queued by this process with a slot in the value. */
	if (si->si_code != SI_QUEUE || si->si_pid != getpid() || !slots ||
	    si->si_value.sival_int < 0 || si->si_value.sival_int >= SLOTS)
		goto out;
	slot *s = &slots[si->si_value.sival_int];
	uint64_t req = atomic_load_explicit(&s->req, memory_order_acquire);
	if (atomic_load_explicit(&s->tid, memory_order_relaxed) != gettid_() ||
	    atomic_load_explicit(&s->done, memory_order_relaxed) == req)
		goto out;
	tt_task *t = tt__tls_task;
	s->task_id = t ? atomic_load_explicit(&t->id, memory_order_relaxed) : 0;
	s->poll_start = t ? atomic_load_explicit(&t->poll_start_ns, memory_order_relaxed) : 0;
	uint64_t pc, fp, sp, lo, hi;
	tt_cb_regs(uc, &pc, &fp, &sp);
	tt_cb_thread_stack(&lo, &hi);
	tt_cb_walk(pc, fp, sp, lo, hi, &s->nb);
	atomic_store_explicit(&s->done, req, memory_order_release);
out:
	errno = saved;
}

/* ---- the report ---- */

static void read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = 0;
}

static void proc_file(int64_t tid, const char *what, char *buf, size_t len)
{
	char path[64];
	tt_fbuf b;

	tt_fb_init(&b, path, sizeof(path));
	tt_fb_str(&b, "/proc/self/task/");
	tt_fb_u64(&b, (uint64_t)tid);
	tt_fb_str(&b, "/");
	tt_fb_str(&b, what);
	read_small(path, buf, len);
}

/* Not in a signal handler: an exported symbol that covers PC names it. */
static int dl_name(uint64_t pc, char *buf, size_t len)
{
	Dl_info info;
	const ElfW(Sym) *sym = NULL;

	if (!dladdr1((void *)(uintptr_t)pc, &info, (void **)&sym, RTLD_DL_SYMENT) ||
	    !info.dli_sname || !sym || !sym->st_size)
		return 0;
	uint64_t start = (uint64_t)(uintptr_t)info.dli_saddr;
	if (pc < start || pc >= start + sym->st_size)
		return 0;
	size_t n = strlen(info.dli_sname);
	if (n >= len)
		n = len - 1;
	memcpy(buf, info.dli_sname, n);
	buf[n] = 0;
	return 1;
}

static int out_fd(void)
{
	return st.o.fd >= 0 ? st.o.fd : 2;
}

/* Room for one more report this second? */
static int rate_ok(uint64_t now)
{
	if (now - st.window_ns >= 1000000000ull) {
		if (st.dropped) {
			char mem[128];
			tt_fbuf b;
			tt_rout o;
			tt_fb_init(&b, mem, sizeof(mem));
			tt_fb_str(&b, "tasktrace stall (pid ");
			tt_fb_u64(&b, (uint64_t)getpid());
			tt_fb_str(&b, "): ");
			tt_fb_u64(&b, st.dropped);
			tt_fb_str(&b, " reports not printed (at most 20 a second)");
			tt_rout_init(&o, out_fd(), 4096);
			tt_rout_line(&o, b.p);
			tt_rout_flush(&o);
		}
		st.window_ns = now;
		st.in_window = 0;
		st.dropped = 0;
	}
	if (st.in_window >= RATE) {
		st.dropped++;
		return 0;
	}
	st.in_window++;
	return 1;
}

static void head_line(tt_rout *o, const tt_rworker *w, const tt_rtask *t, uint64_t age)
{
	char mem[512];
	tt_fbuf b;

	tt_fb_init(&b, mem, sizeof(mem));
	tt_fb_str(&b, "\ntasktrace stall (pid ");
	tt_fb_u64(&b, (uint64_t)getpid());
	tt_fb_str(&b, "): task ");
	tt_fb_u64(&b, w->task_id);
	if (t) {
		tt_fb_str(&b, " \"");
		tt_fb_text(&b, t->name);
		tt_fb_str(&b, "\"");
	}
	tt_fb_str(&b, " has been running one poll for ");
	tt_fmt_duration(&b, age);
	tt_fb_str(&b, " on worker ");
	tt_fmt_worker(&b, w->runtime_id, w->index, 0);
	tt_fb_str(&b, " (thread ");
	tt_fb_u64(&b, w->tid);
	tt_fb_str(&b, ")");
	tt_rout_force(o, b.p);
}

/* Ask the worker of slot I for its stack; 1 when it recorded one for
 * this very poll, else 0 with one line in WHY. */
static int ask_stack(size_t i, const tt_rworker *w, tt_fbuf *why)
{
	slot *s = &st.slots[i];
	uint64_t req = atomic_load_explicit(&s->req, memory_order_relaxed) + 1;
	siginfo_t si;

	atomic_store_explicit(&s->tid, (int64_t)w->tid, memory_order_relaxed);
	atomic_store_explicit(&s->req, req, memory_order_release);
	memset(&si, 0, sizeof(si));
	si.si_signo = st.signo;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = (int)i;
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)w->tid, st.signo, &si) != 0) {
		tt_fb_str(why, "thread ");
		tt_fb_u64(why, w->tid);
		tt_fb_str(why, " could not be signalled (");
		tt_fb_str(why, tt_strerror(-errno));
		tt_fb_str(why, "): no native stack");
		return 0;
	}
	uint64_t end = tt_now_ns() + ANSWER_NS;
	struct timespec nap = {0, 100 * 1000};
	while (atomic_load_explicit(&s->done, memory_order_acquire) != req) {
		if (tt_now_ns() >= end) {
			s->unanswered = 1;
			tt_fb_str(why, "thread ");
			tt_fb_u64(why, w->tid);
			tt_fb_str(why, " did not record its stack within 50ms (the stall "
				       "signal is blocked or ignored there): no native stack");
			return 0;
		}
		nanosleep(&nap, NULL);
	}
	if (s->task_id != w->task_id || (s->poll_start && s->poll_start != w->poll_start_ns)) {
		tt_fb_str(why, "the poll ended before its stack was taken");
		return 0;
	}
	return 1;
}

static void report(size_t i, const tt_rworker *w, uint64_t age)
{
	static tt_cb_poll polls[64];
	slot *s = &st.slots[i];
	char sys[256], wchan[64], mem[512], err[160];
	tt_fbuf b, why;
	tt_rout o;
	tt_rtask t;
	int have_task = 0;

	tt_rep *p = tt_rep_open(1, err, sizeof(err));
	if (p && tt_rep_task(p, w->task, &t) == TT_R_OK && t.id == w->task_id) {
		have_task = 1;
		memcpy(s->name, t.name, sizeof(s->name));
		s->name[sizeof(s->name) - 1] = 0;
	}
	tt_rout_init(&o, out_fd(), 64u << 10);
	head_line(&o, w, have_task ? &t : NULL, age);

	proc_file((int64_t)w->tid, "syscall", sys, sizeof(sys));
	proc_file((int64_t)w->tid, "wchan", wchan, sizeof(wchan));
	tt_fb_init(&b, mem, sizeof(mem));
	tt_fb_str(&b, "  ");
	tt_fmt_syscall(&b, sys, wchan);
	tt_rout_force(&o, b.p);

	/* The same call as when the stack was taken: it still holds. */
	char whymem[200];
	tt_fb_init(&why, whymem, sizeof(whymem));
	int reuse = s->have_stack && sys[0] && !strcmp(sys, s->sys) && strncmp(sys, "running", 7);
	if (!reuse && !s->unanswered) {
		/* The stack is the moment of the signal: what the call was
		 * then is what goes with it. */
		s->have_stack = ask_stack(i, w, &why);
		s->stack_ns = tt_now_ns();
		snprintf(s->sys, sizeof(s->sys), "%s", sys);
	} else if (!reuse) {
		s->have_stack = 0;
		tt_fb_str(&why,
			  "the thread did not answer the stall signal before: no native stack");
	}
	if (s->have_stack) {
		size_t np = p && have_task ? tt_cb_chain_polls(p, &t, polls, 64) : 0;
		tt_fb_init(&b, mem, sizeof(mem));
		tt_fb_str(&b, "  native stack of thread ");
		tt_fb_u64(&b, w->tid);
		tt_fb_str(&b, reuse ? " (as taken before: still in the same system call)" : "");
		tt_fb_str(&b, ", innermost first, executor frames pruned:");
		tt_rout_force(&o, b.p);
		tt_rout_section(&o, 16u << 10, 4096);
		tt_cb_print_named(&o, &s->nb, polls, np, dl_name);
	} else {
		tt_fb_init(&b, mem, sizeof(mem));
		tt_fb_str(&b, "  (");
		tt_fb_str(&b, why.p);
		tt_fb_str(&b, ")");
		tt_rout_force(&o, b.p);
	}
	tt_rout_section(&o, 32u << 10, 1024);
	if (have_task) {
		tt_rout_line(&o, "  the task:");
		tt_rep_bt(p, &o, &t);
	} else {
		tt_fb_init(&b, mem, sizeof(mem));
		tt_fb_str(&b, "  (the task could not be read: ");
		tt_fb_text(&b, p ? "it ended or its slot did not decode" : err);
		tt_fb_str(&b, ")");
		tt_rout_force(&o, b.p);
	}
	tt_rout_flush(&o);
	tt_rep_close(p);
}

int tt__stall_describe(uint64_t task_id, uint64_t poll_start, tt_rout *o)
{
	static tt_cb_poll polls[64];
	int done = 0;

	/* The tt-stall thread changes the slots only holding the lock. */
	pthread_mutex_lock(&st.lock);
	for (size_t i = 0; st.running && st.slots && i < SLOTS && !done; i++) {
		slot *s = &st.slots[i];
		if (s->task != task_id || s->start != poll_start || !s->have_stack)
			continue;
		char mem[512], err[160];
		tt_fbuf b;
		tt_rtask t;
		tt_fb_init(&b, mem, sizeof(mem));
		tt_fb_str(&b, "  thread ");
		tt_fb_u64(&b, (uint64_t)atomic_load_explicit(&s->tid, memory_order_relaxed));
		tt_fb_str(&b, " was ");
		tt_fmt_syscall(&b, s->sys, NULL);
		tt_fb_str(&b, " when the stall detector took its stack, ");
		tt_fmt_duration(&b, s->stack_ns - s->start);
		tt_fb_str(&b, " into the poll (innermost first, executor frames pruned):");
		tt_rout_force(o, b.p);
		tt_rep *p = tt_rep_open(1, err, sizeof(err));
		size_t np = 0;
		if (p && tt_rep_task(p, s->task_addr, &t) == TT_R_OK && t.id == task_id)
			np = tt_cb_chain_polls(p, &t, polls, 64);
		tt_cb_print_named(o, &s->nb, polls, np, dl_name);
		tt_rep_close(p);
		done = 1;
	}
	pthread_mutex_unlock(&st.lock);
	return done;
}

/* Slot S's stall has ended (W: its worker now, NULL at stop): into the
 * stalls of the run.  The task's record says when its poll ended as long
 * as it was not polled again since; else it ended before the worker's
 * next poll started, or when the worker is not polling, by NOW (within a
 * look: a threshold). */
static void end_stall(slot *s, const tt_rworker *w, uint64_t now)
{
	tt_rtask t;

	if (!s->task || !s->crossed)
		return;
	uint64_t end = w && w->state == TT_WORKER_POLLING && w->poll_start_ns > s->start
			   ? w->poll_start_ns
			   : now;
	if (w && tt_reader_read_task(&st.r, s->task_addr, &t) == TT_R_OK && t.id == s->task &&
	    t.polls == s->polls + 1 && t.poll_end_ns > s->start && t.poll_end_ns <= end)
		end = t.poll_end_ns;
	tt__stall_agg_add(s->have_stack ? &s->nb : NULL, s->sys, s->task, s->name,
			  end > s->start ? end - s->start : 0);
	uint64_t ms = end > s->start ? (end - s->start) / 1000000 : 0;
	tt_flight_put_foreign(TT_EV_STALL_END, s->task, s->worker, s->stall_tid,
			      ms < UINT32_MAX ? (uint32_t)ms : UINT32_MAX);
	s->crossed = 0;
}

/* Is worker record W in a poll past the threshold that is due a report?
 * Returns when to look at it next: when its poll, if it goes on, is due
 * its next report (UINT64_MAX: not in a poll). */
static uint64_t check(size_t i, const tt_rworker *w, uint64_t now)
{
	slot *s = &st.slots[i];

	if (s->task && (w->state != TT_WORKER_POLLING || s->task != w->task_id ||
			s->start != w->poll_start_ns))
		end_stall(s, w, now);
	if (w->state != TT_WORKER_POLLING || !w->task_id || !w->poll_start_ns ||
	    w->poll_start_ns > now || (int64_t)w->tid <= 0) {
		s->task = 0;
		return UINT64_MAX;
	}
	if (s->task != w->task_id || s->start != w->poll_start_ns) {
		/* A new poll: a new stall, if it lasts. */
		s->task = w->task_id;
		s->task_addr = w->task;
		s->start = w->poll_start_ns;
		s->next_ns = st.o.threshold_ns;
		s->unanswered = 0;
		s->have_stack = 0;
		s->crossed = 0;
		s->name[0] = 0;
		s->sys[0] = 0;
	}
	uint64_t age = now - w->poll_start_ns;
	if (age < s->next_ns)
		return w->poll_start_ns + s->next_ns;
	/* A task between polls keeps the worker's record until the next:
	 * only a task still running is stalled. */
	tt_rtask t;
	if (tt_reader_read_task(&st.r, w->task, &t) != TT_R_OK || t.id != w->task_id ||
	    t.state != TT_STATE_RUNNING)
		return now + st.tick_ns;
	if (!s->crossed) {
		s->polls = t.polls;
		/* Into the flight recorder: a task's history and the trace
		 * show the stall beside its polls. */
		s->worker = w->index;
		s->stall_tid = w->tid;
		tt_flight_put_foreign(TT_EV_STALL_BEGIN, s->task, s->worker, s->stall_tid, 0);
	}
	s->crossed = 1;
	while (s->next_ns <= age)
		s->next_ns *= 2;
	if (rate_ok(now))
		report(i, w, age);
	return w->poll_start_ns + s->next_ns;
}

/* Look at the workers when the first poll in progress would be due a
 * report, and at least once a threshold: a poll that starts after a look
 * is due no earlier than a threshold later, and the next look sees it.
 * So a stall is seen as it crosses the threshold, and a process whose
 * polls are short is looked at about once a threshold (a worker record's
 * poll start is early by what the worker did since its last poll ended,
 * never late). */
static void *stall_main(void *arg)
{
	sigset_t all;
	(void)arg;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_setname_np(pthread_self(), "tt-stall");
	pthread_mutex_lock(&st.lock);
	while (!st.stop) {
		uint64_t now = tt_now_ns(), next = now + st.o.threshold_ns;
		if (tt_reader_refresh(&st.r) == TT_R_OK) {
			uint64_t n = tt_reader_root_u64(&st.r, TT_ROOT_WORKER_COUNT);
			tt_rworker w;
			for (uint32_t i = 0; i < n && i < SLOTS; i++) {
				if (tt_reader_worker(&st.r, i, &w) != TT_R_OK)
					continue;
				uint64_t due = check(i, &w, now);
				if (due < next)
					next = due;
			}
		}
		now = tt_now_ns();
		if (next < now + st.tick_ns)
			next = now + st.tick_ns;
		struct timespec ts = {(time_t)(next / 1000000000u), (long)(next % 1000000000u)};
		while (!st.stop && pthread_cond_timedwait(&st.cv, &st.lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&st.lock);
	return NULL;
}

int tt_stall_start(const tt_stall_opts *opts)
{
	struct sigaction sa, old;
	int err;

	pthread_mutex_lock(&st.lock);
	if (st.running) {
		pthread_mutex_unlock(&st.lock);
		return -EALREADY;
	}
	memset(&st.o, 0, sizeof(st.o));
	st.o.fd = -1;
	if (opts)
		st.o = *opts;
	if (!st.o.threshold_ns)
		st.o.threshold_ns = 100ull * 1000000u;
	st.signo = st.o.signo ? st.o.signo : SIGRTMAX - 1;
	err = -EINVAL;
	if (st.signo < SIGRTMIN || st.signo > SIGRTMAX)
		goto fail;
	err = -ENOMEM;
	if (!st.slots && !(st.slots = calloc(SLOTS, sizeof(slot))))
		goto fail;
	err = -EIO;
	if (tt_reader_open(&st.r, tt_mem_self(), (uint64_t)(uintptr_t)tt_registry_root(), NULL) !=
	    TT_R_OK)
		goto fail;
	if (!tt_cb_modules_captured())
		tt_cb_modules_capture();
	/* The program's own handler for that signal stays: we take none. */
	err = -EBUSY;
	if (sigaction(st.signo, NULL, &old) != 0 ||
	    (!(old.sa_flags & SA_SIGINFO) && old.sa_handler != SIG_DFL &&
	     old.sa_handler != SIG_IGN) ||
	    ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction != on_stall_signal))
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_stall_signal;
	/* SA_RESTART: a read() the signal interrupts goes on by itself. */
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(st.signo, &sa, NULL) != 0) {
		err = -errno;
		goto fail;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st.cv, &ca);
	pthread_condattr_destroy(&ca);
	st.tick_ns = st.o.threshold_ns / 20;
	if (st.tick_ns > TICK_MAX_NS)
		st.tick_ns = TICK_MAX_NS;
	if (st.tick_ns < TICK_MIN_NS)
		st.tick_ns = TICK_MIN_NS;
	st.stop = 0;
	tt__stall_agg_reset(st.o.threshold_ns);
	err = -pthread_create(&st.thread, NULL, stall_main, NULL);
	if (err)
		pthread_cond_destroy(&st.cv);
	st.running = err == 0;
	if (st.running)
		atomic_store(&st.started, 1);
fail:
	pthread_mutex_unlock(&st.lock);
	return err;
}

void tt_stall_stop(void)
{
	pthread_mutex_lock(&st.lock);
	if (st.running) {
		st.stop = 1;
		pthread_cond_broadcast(&st.cv);
		pthread_mutex_unlock(&st.lock);
		pthread_join(st.thread, NULL);
		pthread_mutex_lock(&st.lock);
		pthread_cond_destroy(&st.cv);
		st.running = 0;
		/* The stalls going on count as they are now; then the run's. */
		uint64_t now = tt_now_ns();
		for (size_t i = 0; i < SLOTS; i++)
			end_stall(&st.slots[i], NULL, now);
		tt_rout o;
		tt_rout_init(&o, out_fd(), 1u << 20);
		tt_rout_force(&o, "");
		tt__stall_agg_print(&o, dl_name);
		tt_rout_flush(&o);
		/* The handler stays: a signal still queued finds it. */
	}
	pthread_mutex_unlock(&st.lock);
}

int tt__stall_started(void)
{
	return atomic_load(&st.started);
}
