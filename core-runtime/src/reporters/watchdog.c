/* The watchdog (diagnose.h): a thread that runs the diagnosis engine over
 * this process every interval and writes each finding once.
 *
 * It reads the registry like any outside reader (tt_mem_self), so it
 * never takes a runtime lock and costs the workers nothing but the memory
 * bandwidth of one snapshot per interval.  A finding about how tasks
 * wait (a lost waker, an owner gone, a cycle) is only reported once two
 * rounds in a row see it about the same task with no poll of it in
 * between, on top of the engine's second look at every task it names
 * (tt_diag_opts.recheck): a reader racing the workers must not cry wolf.
 *
 * A round is incremental: the snapshot is kept and brought up to date
 * (tt_snapshot_update), so a task whose slot's id and seq held still
 * since the last round costs a hash of its slot, not a walk of its chain,
 * and the diagnosis (tt_diagnose_update) skips such a task until it could
 * make a finding (bench/RESULTS.md, "The watchdog at 100k tasks"). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reporters/crash_priv.h"
#include "tasktrace/crash.h"
#include "tasktrace/read/diagnose.h"
#include "tasktrace/read/format.h"
#include "tasktrace/runtime.h"

#define MAX_KEYS 4096

typedef struct key {
	uint32_t kind;
	uint64_t task, other;
} key;

static struct {
	pthread_mutex_t lock; /* one round at a time; start/stop */
	pthread_cond_t cv;
	pthread_t thread;
	int running, stop;
	tt_watchdog_opts o;
	key *seen;
	size_t nseen;
	key *suspects; /* wait findings seen last round: polls in other */
	size_t nsuspects;
	tt_snapshot *snap; /* the last round's, updated by the next */
} wd = { .lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static int has(const key *k, size_t n, const key *want)
{
	for (size_t i = 0; i < n; i++)
		if (k[i].kind == want->kind && k[i].task == want->task &&
		    k[i].other == want->other)
			return 1;
	return 0;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* A long poll whose stack the stall detector took: the finding, then
 * that stack and system call, in one write as far as 64 KiB go. */
static void emit_stalled(const tt_diag_finding *f, uint64_t now, const char *text, size_t n)
{
	enum { SIZE = 64u << 10 };
	char *mem = malloc(SIZE);
	tt_rout o;

	tt_rout_init(&o, wd.o.fd >= 0 ? wd.o.fd : 2, 1u << 20);
	tt_rout_set_buffer(&o, mem, SIZE); /* NULL: its own 4 KiB */
	/* A line each: the finding's text ends in '\n'. */
	tt_rout_put(&o, text, n && text[n - 1] == '\n' ? n - 1 : n);
	tt__stall_describe(f->task_id, now - f->age_ns, &o);
	tt_rout_flush(&o);
	free(mem);
}

static void emit(const tt_diag_finding *f, uint64_t now)
{
	char head[64];
	tt_fbuf b;

	tt_fb_init(&b, head, sizeof(head));
	tt_fb_str(&b, "tasktrace watchdog (pid ");
	tt_fb_u64(&b, (uint64_t)getpid());
	tt_fb_str(&b, "): ");
	size_t n = strlen(f->text);
	char *buf = malloc(b.len + n + 1);
	if (!buf)
		return;
	memcpy(buf, head, b.len);
	memcpy(buf + b.len, f->text, n);
	buf[b.len + n] = 0;
	/* One write: the lines of a finding stay together. */
	if (f->kind == TT_DIAG_LONG_POLL)
		emit_stalled(f, now, buf, b.len + n);
	else
		write_all(wd.o.fd >= 0 ? wd.o.fd : 2, buf, b.len + n);
	free(buf);
}

static int round_locked(void)
{
	tt_snapshot *s = NULL;
	char err[160];
	int n = 0;

	if (!wd.seen && !(wd.seen = calloc(MAX_KEYS, sizeof(key))))
		return -ENOMEM;
	if (!wd.suspects && !(wd.suspects = calloc(MAX_KEYS, sizeof(key))))
		return -ENOMEM;
	if (!wd.snap && tt_snapshot_read(tt_mem_self(), (uint64_t)(uintptr_t)tt_registry_root(),
					 NULL, &wd.snap, err, sizeof(err)) != TT_R_OK)
		return -EIO;
	else if (wd.snap && tt_snapshot_update(wd.snap, tt_mem_self(), err, sizeof(err)) < 0)
		return -EIO;
	s = wd.snap;
	tt_snapshot_set_target(s, (uint64_t)getpid());
	/* The workers run on while we read: a finding must hold on a
	 * second look (tt_diag_opts.recheck). */
	tt_mem self = tt_mem_self();
	tt_diag_opts o = wd.o.diag;
	o.recheck = &self;
	tt_diag_report *r = tt_diagnose_update(s, tt_now_ns(), &o);
	if (!r)
		return -ENOMEM;
	key next[256];
	size_t nnext = 0;
	for (size_t i = 0; i < r->n; i++) {
		const tt_diag_finding *f = &r->findings[i];
		key k = { f->kind, f->task_id, f->other_id };
		if (f->kind == TT_DIAG_LOST_WAKER || f->kind == TT_DIAG_NEVER_RESOLVED ||
		    f->kind == TT_DIAG_DEADLOCK || f->kind == TT_DIAG_ALL_ASLEEP) {
			const tt_stask *t = tt_snapshot_find(s, f->task_id);
			key sus = { f->kind, f->task_id, t ? t->raw.polls : 0 };
			if (nnext < 256)
				next[nnext++] = sus;
			if (!has(wd.suspects, wd.nsuspects, &sus))
				continue;
		}
		if (has(wd.seen, wd.nseen, &k))
			continue;
		if (wd.nseen == MAX_KEYS)
			wd.nseen = 0; /* forget the oldest rather than grow */
		wd.seen[wd.nseen++] = k;
		emit(f, r->now_ns);
		n++;
	}
	memcpy(wd.suspects, next, nnext * sizeof(key));
	wd.nsuspects = nnext;
	tt_diag_free(r);
	return n;
}

int tt_watchdog_poll(void)
{
	pthread_mutex_lock(&wd.lock);
	if (!wd.running && !wd.o.interval_ns) {
		tt_diag_opts_init(&wd.o.diag);
		wd.o.fd = -1;
	}
	int n = round_locked();
	pthread_mutex_unlock(&wd.lock);
	return n;
}

static void *watchdog_main(void *arg)
{
	sigset_t all;
	(void)arg;

	/* Signals are for the program's threads, not for us. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_setname_np(pthread_self(), "tt-watchdog");
	pthread_mutex_lock(&wd.lock);
	while (!wd.stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + wd.o.interval_ns;
		ts.tv_sec += (time_t)(ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
		if (pthread_cond_timedwait(&wd.cv, &wd.lock, &ts) == ETIMEDOUT && !wd.stop)
			round_locked();
	}
	pthread_mutex_unlock(&wd.lock);
	return NULL;
}

int tt_watchdog_start(const tt_watchdog_opts *opts)
{
	pthread_mutex_lock(&wd.lock);
	if (wd.running) {
		pthread_mutex_unlock(&wd.lock);
		return -EALREADY;
	}
	if (opts) {
		wd.o = *opts;
	} else {
		memset(&wd.o, 0, sizeof(wd.o));
		tt_diag_opts_init(&wd.o.diag);
		wd.o.fd = -1;
	}
	if (!wd.o.interval_ns)
		wd.o.interval_ns = 1000000000ull;
	wd.stop = 0;
	int err = pthread_create(&wd.thread, NULL, watchdog_main, NULL);
	wd.running = err == 0;
	pthread_mutex_unlock(&wd.lock);
	return -err;
}

void tt_watchdog_stop(void)
{
	pthread_mutex_lock(&wd.lock);
	if (!wd.running) {
		/* Rounds run by tt_watchdog_poll alone keep a snapshot too. */
		tt_snapshot_free(wd.snap);
		wd.snap = NULL;
		pthread_mutex_unlock(&wd.lock);
		return;
	}
	wd.stop = 1;
	pthread_cond_broadcast(&wd.cv);
	pthread_mutex_unlock(&wd.lock);
	pthread_join(wd.thread, NULL);
	pthread_mutex_lock(&wd.lock);
	wd.running = 0;
	wd.nseen = wd.nsuspects = 0;
	tt_snapshot_free(wd.snap);
	wd.snap = NULL;
	pthread_mutex_unlock(&wd.lock);
}
