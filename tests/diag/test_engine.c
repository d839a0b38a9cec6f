/* The diagnosis engine, the watchdog, the leaked-task report and the dump
 * in process, on scenarios the samples do not have: a starved task next
 * to a long poll, a oneshot whose producer is gone, tasks leaked at
 * shutdown, a watchdog that reports once, a dump on a signal. */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tasktrace/crash.h"
#include "tasktrace/read/diagnose.h"
#include "tasktrace/tasktrace.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* This process's registry, read as a reader outside it would. */
static tt_snapshot *self_snapshot(void)
{
	tt_snapshot *s = NULL;
	char err[160];
	int rc = tt_snapshot_read(tt_mem_self(), (uint64_t)(uintptr_t)tt_registry_root(), NULL, &s,
				  err, sizeof err);
	ck_assert_msg(rc == TT_R_OK, "%s", err);
	return s;
}

/* Whether a task of this process reads running in its registry. */
static int any_running(void)
{
	tt_snapshot *s = self_snapshot();
	int yes = 0;
	for (size_t i = 0; i < s->ntasks; i++)
		yes |= s->tasks[i].raw.state == TT_STATE_RUNNING;
	tt_snapshot_free(s);
	return yes;
}

/* Wait (bounded) until N tasks wait in Q, guarded by LOCK, and no task is
 * in a poll: a waiter is queued inside the poll that then returns pending,
 * and a task still in it makes no finding, and a wake then is one during
 * its poll.  Sleeping a fixed time is not enough on a loaded machine. */
static void wait_for_waiters(pthread_mutex_t *lock, tt_waitq *q, int n)
{
	for (int i = 0; i < 5000; i++) {
		int waiting = 0;
		pthread_mutex_lock(lock);
		for (tt_waiter *w = q->head; w; w = w->next)
			waiting++;
		pthread_mutex_unlock(lock);
		if (waiting >= n && !any_running())
			return;
		sleep_ms(1);
	}
	ck_abort_msg("fewer than %d tasks ever waited, or a task never left its poll", n);
}

static tt_diag_report *diagnose(const tt_diag_opts *o)
{
	tt_snapshot *s = self_snapshot();
	tt_diag_report *r = tt_diagnose(s, tt_now_ns(), o);
	ck_assert_ptr_nonnull(r);
	tt_snapshot_free(s);
	return r;
}

static const tt_diag_finding *find(const tt_diag_report *r, uint32_t kind, uint64_t task)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->findings[i].kind == kind && r->findings[i].task_id == task)
			return &r->findings[i];
	return NULL;
}

/* All of FD's bytes (FD nonblocking or at EOF). */
static char *drain(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t n;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = 0;
	return buf;
}

static int count(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Wait (bounded) until task ID is in STATE in this process's registry. */
static int wait_state(uint64_t id, uint32_t state)
{
	for (int i = 0; i < 5000; i++) {
		tt_snapshot *s = self_snapshot();
		const tt_stask *t = tt_snapshot_find(s, id);
		int in = t && t->raw.state == state;
		tt_snapshot_free(s);
		if (in)
			return 1;
		sleep_ms(1);
	}
	return 0;
}

/* The finding of KIND on task ID, diagnosing again for up to 5 s: the
 * poll that registered a task's waiter goes on until it returns (to a
 * timer, say), and a task still running is no finding yet.  *R: the last
 * report, to free. */
static const tt_diag_finding *find_soon(tt_diag_report **r, uint32_t kind, uint64_t id)
{
	const tt_diag_finding *f = NULL;
	*r = NULL;
	for (int i = 0; i < 5000 && !f; i++) {
		tt_diag_free(*r);
		*r = diagnose(NULL);
		if (!(f = find(*r, kind, id)))
			sleep_ms(1);
	}
	return f;
}

/* ---- futures ---- */

typedef struct hog {
	tt_frame frame;
} hog;
static tt_poll hog_poll(hog *self, tt_cx *cx);
TT_ASYNC_FN(hog, hog_poll, NULL);
static void hog_init(hog *h) { tt_frame_init(&h->frame, &hog_fn); }
static tt_poll hog_poll(hog *self, tt_cx *cx)
{
	(void)cx;
	uint64_t end = tt_now_ns() + 400 * 1000000ull;
	while (tt_now_ns() < end)
		; /* the mistake: CPU work inside a poll */
	TT_RETURN(self, 0);
}

static tt_notify never;

typedef struct parked {
	tt_frame frame;
	tt_notified w;
} parked;
static tt_poll parked_poll(parked *self, tt_cx *cx);
TT_ASYNC_FN(parked, parked_poll, NULL);
static void parked_init(parked *p) { tt_frame_init(&p->frame, &parked_fn); }
static tt_poll parked_poll(parked *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &never));
	TT_RETURN(self, 0);
}

static tt_oneshot answer;

typedef struct producer {
	tt_frame frame;
} producer;
static tt_poll producer_poll(producer *self, tt_cx *cx);
TT_ASYNC_FN(producer, producer_poll, NULL);
static void producer_init(producer *p) { tt_frame_init(&p->frame, &producer_fn); }
static tt_poll producer_poll(producer *self, tt_cx *cx)
{
	(void)cx;
	tt_oneshot_bind_producer(&answer);
	TT_RETURN(self, 0); /* the bug: neither sends nor closes */
}

typedef struct consumer {
	tt_frame frame;
	tt_oneshot_recv r;
} consumer;
static tt_poll consumer_poll(consumer *self, tt_cx *cx);
TT_ASYNC_FN(consumer, consumer_poll, NULL);
static void consumer_init(consumer *c) { tt_frame_init(&c->frame, &consumer_fn); }
static tt_poll consumer_poll(consumer *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->r, tt_oneshot_recv_init(&self->r, &answer));
	TT_RETURN(self, TT_RESULT(&self->r));
}

/* The same wait inside a tt_timeout: it ends when the timeout fires. */
typedef struct timed_consumer {
	tt_frame frame;
	tt_oneshot_recv r;
	tt_timeout t;
} timed_consumer;
static tt_poll timed_consumer_poll(timed_consumer *self, tt_cx *cx);
TT_ASYNC_FN(timed_consumer, timed_consumer_poll, NULL);
static void timed_consumer_init(timed_consumer *c)
{
	tt_frame_init(&c->frame, &timed_consumer_fn);
}
static tt_poll timed_consumer_poll(timed_consumer *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_oneshot_recv_init(&self->r, &answer);
	TT_AWAIT(self, cx, &self->t, tt_timeout_init(&self->t, &self->r.leaf.frame, TT_SEC(30)));
	TT_RETURN(self, TT_RESULT(&self->t));
}

/* A leaf that forgets its waker (as samples/lost_waker.c). */
typedef struct forgetful {
	tt_leaf leaf;
} forgetful;
static tt_poll forgetful_poll(forgetful *self, tt_cx *cx);
TT_LEAF_FN(forgetful, forgetful_poll, NULL);
static tt_poll forgetful_poll(forgetful *self, tt_cx *cx)
{
	(void)cx;
	tt_wait_set(&self->leaf.wait, TT_WAIT_CUSTOM, self, 0, 0);
	return TT_PENDING;
}

typedef struct loser {
	tt_frame frame;
	forgetful f;
} loser;
static tt_poll loser_poll(loser *self, tt_cx *cx);
TT_ASYNC_FN(loser, loser_poll, NULL);
static void loser_init(loser *l) { tt_frame_init(&l->frame, &loser_fn); }
static tt_poll loser_poll(loser *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->f, tt_frame_init(&self->f.leaf.frame, &forgetful_fn));
	TT_RETURN(self, 0);
}

/* Waits on GATE, then on a leaf that forgets its waker. */
static tt_notify gate, gate2;
typedef struct turncoat {
	tt_frame frame;
	tt_notified w;
	forgetful f;
} turncoat;
static tt_poll turncoat_poll(turncoat *self, tt_cx *cx);
TT_ASYNC_FN(turncoat, turncoat_poll, NULL);
static void turncoat_init(turncoat *t)
{
	tt_frame_init(&t->frame, &turncoat_fn);
}
static tt_poll turncoat_poll(turncoat *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &gate));
	TT_AWAIT(self, cx, &self->f, tt_frame_init(&self->f.leaf.frame, &forgetful_fn));
	TT_RETURN(self, 0);
}

/* Waits on GATE2, then returns. */
typedef struct early {
	tt_frame frame;
	tt_notified w;
} early;
static tt_poll early_poll(early *self, tt_cx *cx);
TT_ASYNC_FN(early, early_poll, NULL);
static void early_init(early *e)
{
	tt_frame_init(&e->frame, &early_fn);
}
static tt_poll early_poll(early *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &gate2));
	TT_RETURN(self, 0);
}

/* Spawns two parked children, for ancestry in the dump. */
typedef struct parent {
	tt_frame frame;
	tt_notified w;
} parent;
static tt_poll parent_poll(parent *self, tt_cx *cx);
TT_ASYNC_FN(parent, parent_poll, NULL);
static void parent_init(parent *p) { tt_frame_init(&p->frame, &parent_fn); }
static tt_poll parent_poll(parent *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_task_detach(TT_SPAWN(NULL, "child", parked, parked_init));
	tt_task_detach(TT_SPAWN(NULL, "child", parked, parked_init));
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &never));
	TT_RETURN(self, 0);
}

/* ---- tests ---- */

/* ---- issue 12: cycles through a channel and a semaphore, in process ---- */

static tt_chan *xch;
static tt_semaphore xsem;

/* Declared receiver of xch: receives forever. */
typedef struct xrecv {
	tt_frame frame;
	tt_recv rx;
	long v;
} xrecv;
static tt_poll xrecv_poll(xrecv *self, tt_cx *cx);
TT_ASYNC_FN(xrecv, xrecv_poll, NULL);
static void xrecv_init(xrecv *r)
{
	tt_frame_init(&r->frame, &xrecv_fn);
}
static tt_poll xrecv_poll(xrecv *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_chan_bind_receiver(xch);
	for (;;)
		TT_AWAIT(self, cx, &self->rx, tt_recv_init(&self->rx, xch, &self->v));
}

/* Declared sender of xch, which joins the receiver before sending. */
typedef struct xsend {
	tt_frame frame;
	tt_join join;
} xsend;
static tt_poll xsend_poll(xsend *self, tt_cx *cx);
TT_ASYNC_FN(xsend, xsend_poll, NULL);
static void xsend_init(xsend *s)
{
	tt_frame_init(&s->frame, &xsend_fn);
}
static tt_poll xsend_poll(xsend *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_chan_bind_sender(xch);
	TT_AWAIT(self, cx, &self->join,
		 tt_join_init(&self->join, TT_SPAWN(NULL, "xrecv", xrecv, xrecv_init)));
	TT_RETURN(self, 0);
}

/* Takes a permit of xsem, then joins a task that wants one. */
typedef struct xwant {
	tt_frame frame;
	tt_acquire acq;
} xwant;
static tt_poll xwant_poll(xwant *self, tt_cx *cx);
TT_ASYNC_FN(xwant, xwant_poll, NULL);
static void xwant_init(xwant *w)
{
	tt_frame_init(&w->frame, &xwant_fn);
}
static tt_poll xwant_poll(xwant *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->acq, tt_acquire_init(&self->acq, &xsem, 1));
	tt_semaphore_release(&xsem, 1);
	TT_RETURN(self, 0);
}

typedef struct xhold {
	tt_frame frame;
	tt_acquire acq;
	tt_join join;
} xhold;
static tt_poll xhold_poll(xhold *self, tt_cx *cx);
TT_ASYNC_FN(xhold, xhold_poll, NULL);
static void xhold_init(xhold *h)
{
	tt_frame_init(&h->frame, &xhold_fn);
}
static tt_poll xhold_poll(xhold *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->acq, tt_acquire_init(&self->acq, &xsem, 1));
	TT_AWAIT(self, cx, &self->join,
		 tt_join_init(&self->join, TT_SPAWN(NULL, "xwant", xwant, xwant_init)));
	tt_semaphore_release(&xsem, 1);
	TT_RETURN(self, 0);
}

/* The report once it has a deadlock (bounded), else the last one. */
static tt_diag_report *until_deadlock(void)
{
	for (int i = 0; i < 5000; i++) {
		tt_diag_report *r = diagnose(NULL);
		for (size_t k = 0; k < r->n; k++)
			if (r->findings[k].kind == TT_DIAG_DEADLOCK)
				return r;
		if (i == 4999)
			return r;
		tt_diag_free(r);
		sleep_ms(1);
	}
	return NULL;
}

/* The sender joins the receiver, which waits for what only the sender
 * sends: found by the engine and by the watchdog.  A send from a thread
 * outside the tasks voids the senders' promise: no edge from then on. */
START_TEST(channel_cycle_and_a_foreign_sender)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	xch = tt_chan_new(sizeof(long), 1);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	tt_handle snd = TT_SPAWN(rt, "xsend", xsend, xsend_init);
	tt_diag_report *r = until_deadlock();
	ck_assert_msg(strstr(r->text, "deadlock: 2 tasks wait on each other in a cycle"), "%s",
		      r->text);
	ck_assert_msg(strstr(r->text, "waits on channel recv"), "%s", r->text);
	char want[96];
	snprintf(want, sizeof want, "sent by task %llu \"xsend\"",
		 (unsigned long long)tt_task_id(snd));
	ck_assert_msg(strstr(r->text, want), "%s", r->text);
	const tt_diag_finding *f = &r->findings[0];
	uint64_t rcv = f->cycle[0] == tt_task_id(snd) ? f->cycle[1] : f->cycle[0];
	tt_diag_free(r);

	/* The watchdog: a deadlock is said after two rounds saw it. */
	tt_watchdog_opts o;
	memset(&o, 0, sizeof o);
	tt_diag_opts_init(&o.diag);
	o.interval_ns = 3600 * 1000000000ull;
	o.fd = fds[1];
	ck_assert_int_eq(tt_watchdog_start(&o), 0);
	for (int i = 0; i < 3; i++)
		tt_watchdog_poll();
	tt_watchdog_stop();
	char *out = drain(fds[0]);
	ck_assert_msg(count(out, "deadlock: 2 tasks wait on each other in a cycle") == 1, "%s",
		      out);
	free(out);

	long v = 7;
	ck_assert_int_eq(tt_chan_try_send(xch, &v), 0);
	for (int i = 0; i < 5000 && tt_chan_len(xch); i++)
		sleep_ms(1);
	ck_assert(wait_state(rcv, TT_STATE_IDLE)); /* waits to receive again */
	r = diagnose(NULL);
	ck_assert_msg(!strstr(r->text, "deadlock:"), "after a foreign send:\n%s", r->text);
	tt_diag_free(r);
	tt_task_cancel(snd);
	tt_task_join_blocking(snd);
	tt_task_release(snd);
	tt_runtime_free(rt);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* The holder of the only permit joins a task that wants it; the
 * semaphore names its holder.  A release from outside any task leaves
 * the holders unknown from then on. */
START_TEST(semaphore_cycle_and_its_holders)
{
	tt_semaphore_init(&xsem, 1);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	tt_handle h = TT_SPAWN(rt, "xhold", xhold, xhold_init);
	tt_diag_report *r = until_deadlock();
	char want[96];
	snprintf(want, sizeof want, "held by task %llu \"xhold\"",
		 (unsigned long long)tt_task_id(h));
	ck_assert_msg(strstr(r->text, want), "%s", r->text);
	tt_diag_free(r);
	/* Its lock orders the holders' last change before these reads. */
	ck_assert_uint_eq(tt_semaphore_available(&xsem), 0);
	ck_assert_uint_eq(xsem.holders.count, 1);
	ck_assert_uint_eq(xsem.holders.ids[0], tt_task_id(h));
	ck_assert_uint_eq(xsem.holders.flags, 0);
	tt_semaphore_release(&xsem, 1); /* not the holder: the cycle ends */
	ck_assert_int_eq(tt_task_join_blocking(h), 0);
	tt_task_release(h);
	ck_assert_uint_eq(tt_semaphore_available(&xsem), 2); /* 1 and the one released above */
	ck_assert_uint_eq(xsem.holders.flags, TT_HOLDERSF_INCOMPLETE);
	tt_runtime_free(rt);
}
END_TEST

/* The watchdog groups alike findings too: 40 tasks parked on one notify
 * are one idle report with the count. */
START_TEST(watchdog_groups)
{
	enum { N = 40 };
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	tt_notify_init(&never);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	tt_handle t[N];
	for (int i = 0; i < N; i++)
		t[i] = TT_SPAWN(rt, "parked", parked, parked_init);
	wait_for_waiters(&never.lock, &never.waiters, N);
	tt_watchdog_opts o;
	memset(&o, 0, sizeof o);
	tt_diag_opts_init(&o.diag);
	o.diag.idle_ns = 1;
	o.interval_ns = 3600 * 1000000000ull;
	o.fd = fds[1];
	ck_assert_int_eq(tt_watchdog_start(&o), 0);
	ck_assert_int_eq(tt_watchdog_poll(), 1);
	tt_watchdog_stop();
	char *out = drain(fds[0]);
	char want[64];
	snprintf(want, sizeof want, "idle: %d tasks alike, e.g. task ", N);
	ck_assert_msg(count(out, want) == 1, "%s", out);
	ck_assert_msg(count(out, "idle: ") == 1, "%s", out);
	free(out);
	for (int i = 0; i < N; i++) {
		tt_task_cancel(t[i]);
		tt_task_join_blocking(t[i]);
		tt_task_release(t[i]);
	}
	tt_runtime_free(rt);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* Incremental rounds skip a task kept since the last round until it
 * could make a finding: 40 parked tasks with --idle 500ms are looked at
 * once, then rounds say nothing until they are idle that long, and one
 * says it then, once. */
START_TEST(watchdog_idle_after_quiet_rounds)
{
	enum { N = 40 };
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	tt_notify_init(&never);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	tt_handle t[N];
	for (int i = 0; i < N; i++)
		t[i] = TT_SPAWN(rt, "parked", parked, parked_init);
	wait_for_waiters(&never.lock, &never.waiters, N);
	tt_watchdog_opts o;
	memset(&o, 0, sizeof o);
	tt_diag_opts_init(&o.diag);
	o.diag.idle_ns = 500 * 1000000ull;
	o.interval_ns = 3600 * 1000000000ull;
	o.fd = fds[1];
	ck_assert_int_eq(tt_watchdog_start(&o), 0);
	int n = 0;
	/* Rounds until the time comes (bounded: 60 s of them). */
	for (int i = 0; i < 6000 && n == 0; i++) {
		n = tt_watchdog_poll();
		if (n == 0)
			poll(NULL, 0, 10);
	}
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(tt_watchdog_poll(), 0); /* said once */
	tt_watchdog_stop();
	char *out = drain(fds[0]);
	/* The tasks parked one after the other (far apart under the
	 * sanitizers): the first ones past the threshold make the finding. */
	ck_assert_msg(count(out, "idle: ") == 1, "%s", out);
	ck_assert_msg(count(out, "\"parked\" has been suspended for") == 1, "%s", out);
	free(out);
	for (int i = 0; i < N; i++) {
		tt_task_cancel(t[i]);
		tt_task_join_blocking(t[i]);
		tt_task_release(t[i]);
	}
	tt_runtime_free(rt);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(starved_next_to_long_poll)
{
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){ .workers = 1 });
	tt_handle h = TT_SPAWN(rt, "hog", hog, hog_init);
	ck_assert_msg(wait_state(tt_task_id(h), TT_STATE_RUNNING), "hog never ran");
	tt_handle v = TT_SPAWN(rt, "victim", parked, parked_init);
	tt_diag_opts o;
	tt_diag_opts_init(&o);
	o.long_poll_ns = o.starved_ns = 50 * 1000000ull;
	/* Both findings hold from 50 ms on until hog's 400 ms poll ends. */
	tt_diag_report *r = NULL;
	for (int i = 0; i < 400; i++) {
		r = diagnose(&o);
		if (find(r, TT_DIAG_LONG_POLL, tt_task_id(h)) &&
		    find(r, TT_DIAG_STARVED, tt_task_id(v)))
			break;
		tt_diag_free(r);
		r = NULL;
		sleep_ms(1);
	}
	ck_assert_msg(r, "never both a long poll and a starved task");
	const tt_diag_finding *f = find(r, TT_DIAG_LONG_POLL, tt_task_id(h));
	ck_assert_msg(f, "no long poll in:\n%s", r->text);
	ck_assert_ptr_nonnull(strstr(f->text, "long poll: task 1 \"hog\" has been running one poll for"));
	f = find(r, TT_DIAG_STARVED, tt_task_id(v));
	ck_assert_msg(f, "no starved task in:\n%s", r->text);
	ck_assert_ptr_nonnull(strstr(f->text, "starved: task 2 \"victim\" was woken"));
	ck_assert_uint_ge(f->age_ns, 50 * 1000000ull);
	tt_diag_free(r);
	tt_task_join_blocking(h);
	tt_task_release(h);
	tt_task_release(v);
	tt_runtime_free(rt);
}
END_TEST

START_TEST(oneshot_producer_gone)
{
	tt_oneshot_init(&answer);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){ .workers = 2 });
	tt_handle p = TT_SPAWN(rt, "producer", producer, producer_init);
	uint64_t pid = tt_task_id(p);
	tt_task_join_blocking(p);
	tt_task_release(p); /* its slot goes: the owner is absent */
	tt_handle c = TT_SPAWN(rt, "consumer", consumer, consumer_init);
	wait_for_waiters(&answer.lock, &answer.waiters, 1);
	tt_diag_report *r;
	const tt_diag_finding *f = find_soon(&r, TT_DIAG_NEVER_RESOLVED, tt_task_id(c));
	ck_assert_msg(f, "no never-resolved finding in:\n%s", r->text);
	ck_assert_uint_eq(f->other_id, pid);
	ck_assert_ptr_nonnull(strstr(f->text, "waits on a oneshot whose producer, task"));
	ck_assert_ptr_nonnull(strstr(f->text, "tt_oneshot_close()"));
	ck_assert_ptr_null(find(r, TT_DIAG_LOST_WAKER, tt_task_id(c)));
	tt_diag_free(r);
	tt_oneshot_close(&answer);
	ck_assert_int_eq(tt_task_join_blocking(c), -EPIPE);
	tt_task_release(c);
	tt_runtime_free(rt);
}
END_TEST

/* Never resolved, but inside a tt_timeout: the finding says when the
 * timeout ends the wait instead of "it will never get a value". */
START_TEST(oneshot_producer_gone_timeout)
{
	tt_oneshot_init(&answer);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){ .workers = 2 });
	tt_handle p = TT_SPAWN(rt, "producer", producer, producer_init);
	tt_task_join_blocking(p);
	tt_task_release(p);
	tt_handle c = TT_SPAWN(rt, "timed-consumer", timed_consumer, timed_consumer_init);
	wait_for_waiters(&answer.lock, &answer.waiters, 1);
	tt_diag_report *r;
	const tt_diag_finding *f = find_soon(&r, TT_DIAG_NEVER_RESOLVED, tt_task_id(c));
	ck_assert_msg(f, "no never-resolved finding in:\n%s", r->text);
	ck_assert_ptr_nonnull(strstr(f->text, "waits on a oneshot whose producer, task"));
	ck_assert_msg(strstr(f->text, "-> only its tt_timeout ends the wait, in "), "%s", f->text);
	ck_assert_ptr_null(strstr(f->text, "never get a value"));
	/* The fix is still said. */
	ck_assert_ptr_nonnull(strstr(f->text, "tt_oneshot_close()"));
	tt_diag_free(r);
	tt_oneshot_close(&answer);
	ck_assert_int_eq(tt_task_join_blocking(c), -EPIPE);
	tt_task_release(c);
	tt_runtime_free(rt);
}
END_TEST

/* States a healthy program passes through for an instant, in a snapshot
 * made by hand.  Tasks 5 and 6 wait on mutex M, whose holder, task 9, is
 * gone.  Task 6 being woken means the unlock is handing M on (the waiters'
 * records name the last holder until the next one takes it): no finding.
 * With nobody woken, task 5's wait is never resolved. */
START_TEST(transient_states_are_not_findings)
{
	static const tt_sfunc lock_fn = { 0x1000, "tt_lock", "mutex.c", "tt_lock", 1,
					  TT_FUNC_KIND_LEAF, 0, 0 };
	tt_sframe frames[2];
	tt_stask tasks[2];
	tt_snapshot s;
	uint64_t now = 100 * 1000000000ull;

	memset(frames, 0, sizeof(frames));
	memset(tasks, 0, sizeof(tasks));
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 2; i++) {
		frames[i].func = &lock_fn;
		frames[i].raw.addr = 0x2000 + 0x100 * (uint64_t)i;
		frames[i].raw.parent = -1;
		frames[i].raw.kind = TT_FUNC_KIND_LEAF;
		frames[i].raw.wait_kind = TT_WAIT_MUTEX;
		frames[i].raw.wait_object = 0x5000;
		frames[i].raw.wait_owner = 9;
		frames[i].raw.wait_since_ns = now - 5000000000ull;
		tasks[i].raw.id = 5 + (uint64_t)i;
		tasks[i].raw.worker = -1;
		tasks[i].raw.polls = 1;
		tasks[i].raw.wakers = 1;
		tasks[i].raw.root_frame = frames[i].raw.addr;
		tasks[i].frames = &frames[i];
		tasks[i].nframes = 1;
	}
	tasks[0].raw.state = TT_STATE_IDLE;
	tasks[1].raw.state = TT_STATE_SCHEDULED;
	tasks[1].raw.wake_ns = now - 1000000ull;
	s.tasks = tasks;
	s.ntasks = 2;
	s.now_ns = now;

	tt_diag_report *r = tt_diagnose(&s, now, NULL);
	ck_assert_msg(!find(r, TT_DIAG_NEVER_RESOLVED, 5), "%s", r->text);
	tt_diag_free(r);

	tasks[1].raw.state = TT_STATE_IDLE;
	r = tt_diagnose(&s, now, NULL);
	const tt_diag_finding *f = find(r, TT_DIAG_NEVER_RESOLVED, 5);
	ck_assert_msg(f, "%s", r->text);
	ck_assert_uint_eq(f->other_id, 9);
	ck_assert_ptr_nonnull(strstr(f->text, "waits on a mutex whose holder, task 9, is gone"));
	tt_diag_free(r);

	/* Idle with no waker: a lost waker, unless it went idle an instant
	 * ago (a wake racing the end of its poll is still on its way). */
	s.flags = TT_ROOTF_RECORDING;
	tasks[0].raw.wakers = 0;
	tasks[0].raw.poll_end_ns = now - 1000000ull;
	r = tt_diagnose(&s, now, NULL);
	ck_assert_msg(!find(r, TT_DIAG_LOST_WAKER, 5), "%s", r->text);
	tt_diag_free(r);
	tasks[0].raw.poll_end_ns = now - 2000000000ull;
	r = tt_diagnose(&s, now, NULL);
	ck_assert_msg(find(r, TT_DIAG_LOST_WAKER, 5), "%s", r->text);
	tt_diag_free(r);
}
END_TEST

START_TEST(leaked_at_shutdown)
{
	int fds[2];
	tt_notify_init(&never);
	ck_assert_int_eq(pipe(fds), 0);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){ .workers = 2 });
	tt_task_detach(TT_SPAWN(rt, "leaky", parked, parked_init));
	wait_for_waiters(&never.lock, &never.waiters, 1);
	ck_assert_int_eq(tt_runtime_free_report(rt, fds[1]), 1);
	close(fds[1]);
	char *out = drain(fds[0]);
	ck_assert_msg(strstr(out, "leaked at shutdown: task "), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "\"leaky\" was still pending when its runtime was freed"));
	ck_assert_ptr_nonnull(strstr(out, "waits on notify"));
	free(out);
	close(fds[0]);
}
END_TEST

START_TEST(watchdog_once)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){ .workers = 2 });
	tt_handle l = TT_SPAWN(rt, "loser", loser, loser_init);
	tt_watchdog_opts o;
	memset(&o, 0, sizeof o);
	tt_diag_opts_init(&o.diag);
	o.interval_ns = 30 * 1000000ull;
	o.fd = fds[1];
	ck_assert_int_eq(tt_watchdog_start(&o), 0);
	ck_assert_int_eq(tt_watchdog_start(&o), -EALREADY);
	/* The first report, then ten more rounds that must not repeat it. */
	char *out = NULL;
	for (int i = 0; i < 5000; i++) {
		struct pollfd p = {fds[0], POLLIN, 0};
		if (poll(&p, 1, 1) == 1)
			break;
	}
	/* Ten more rounds, run now instead of waited for (a fixed sleep is
	 * no synchronisation): none may write it again. */
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(tt_watchdog_poll(), 0);
	tt_watchdog_stop();
	out = drain(fds[0]);
	char want[96];
	snprintf(want, sizeof want, "lost waker: task %llu \"loser\"",
		 (unsigned long long)tt_task_id(l));
	ck_assert_msg(count(out, want) == 1, "expected one report:\n%s", out);
	ck_assert_ptr_nonnull(strstr(out, "tasktrace watchdog (pid "));
	ck_assert_msg(strstr(out, "  last poll ") && strstr(out, "(loser_poll), waits on custom"),
		      "%s", out);
	ck_assert_msg(strstr(out, "; never woken since\n"), "%s", out);
	free(out);
	tt_task_cancel(l);
	tt_task_join_blocking(l);
	tt_task_release(l);
	tt_runtime_free(rt);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

static uint64_t slot_of(uint64_t id)
{
	tt_snapshot *s = self_snapshot();
	const tt_stask *t = tt_snapshot_find(s, id);
	uint64_t slot = t ? t->raw.slot_addr : 0;
	tt_snapshot_free(s);
	return slot;
}

/* Watchdog rounds until one writes a finding (bounded). */
static int rounds_until_finding(void)
{
	for (int i = 0; i < 5000; i++) {
		int n = tt_watchdog_poll();
		if (n)
			return n;
		sleep_ms(1);
	}
	return 0;
}

/* Rounds are incremental (tt_snapshot_update): a task kept from round to
 * round while it waits that then moves on into a lost waker is seen with
 * its new chain, and a task that takes the slot of one that ended is
 * itself, not the old one with its chain. */
START_TEST(watchdog_sees_changes_after_cached_rounds)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	tt_notify_init(&gate);
	tt_notify_init(&gate2);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	tt_handle tc = TT_SPAWN(rt, "turncoat", turncoat, turncoat_init);
	tt_handle e = TT_SPAWN(rt, "early", early, early_init);
	wait_for_waiters(&gate.lock, &gate.waiters, 1);
	wait_for_waiters(&gate2.lock, &gate2.waiters, 1);
	tt_watchdog_opts o;
	memset(&o, 0, sizeof o);
	tt_diag_opts_init(&o.diag);
	o.interval_ns = 3600 * 1000000000ull;
	o.fd = fds[1];
	ck_assert_int_eq(tt_watchdog_start(&o), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(tt_watchdog_poll(), 0);

	tt_notify_one(&gate);
	ck_assert_int_eq(rounds_until_finding(), 1);
	char *out = drain(fds[0]);
	char want[96];
	snprintf(want, sizeof want, "lost waker: task %llu \"turncoat\"",
		 (unsigned long long)tt_task_id(tc));
	ck_assert_msg(count(out, want) == 1, "%s", out);
	ck_assert_msg(strstr(out, "The leaf forgetful"), "not its new chain:\n%s", out);
	ck_assert_msg(!strstr(out, "notify"), "its old chain:\n%s", out);
	/* The flight recorder's word on it: the main thread's wake, then the
	 * poll that lost the waker, and nothing since. */
	ck_assert_msg(strstr(out, "; never woken since (last woken "), "%s", out);
	ck_assert_msg(strstr(out, ": woken by thread "), "%s", out);
	free(out);

	/* "early" ends; a lost waker takes its slot.  A slot whose last
	 * reference a worker drops goes to that worker's cache, not to the
	 * main thread's next spawn: until a spawn takes it, start over with
	 * a new "early", kept over cached rounds again. */
	uint64_t slot, early_id;
	tt_handle l;
	for (int tries = 0;; tries++) {
		ck_assert_msg(tries < 100, "no spawn took the slot of a task that ended");
		if (tries) {
			e = TT_SPAWN(rt, "early", early, early_init);
			wait_for_waiters(&gate2.lock, &gate2.waiters, 1);
			for (int i = 0; i < 2; i++)
				ck_assert_int_eq(tt_watchdog_poll(), 0);
		}
		slot = slot_of(tt_task_id(e));
		early_id = tt_task_id(e);
		tt_notify_one(&gate2);
		ck_assert_int_eq(tt_task_join_blocking(e), 0);
		tt_task_release(e);
		l = TT_SPAWN(rt, "loser", loser, loser_init);
		if (slot_of(tt_task_id(l)) == slot)
			break;
		tt_task_cancel(l);
		tt_task_join_blocking(l);
		tt_task_release(l);
	}
	ck_assert_int_eq(rounds_until_finding(), 1);
	tt_watchdog_stop();
	out = drain(fds[0]);
	snprintf(want, sizeof want, "lost waker: task %llu \"loser\"",
		 (unsigned long long)tt_task_id(l));
	ck_assert_msg(count(out, want) == 1, "%s", out);
	snprintf(want, sizeof want, "task %llu ", (unsigned long long)early_id);
	ck_assert_msg(!strstr(out, want) && !strstr(out, "early"), "the slot's old task:\n%s", out);
	free(out);
	tt_task_cancel(tc);
	tt_task_cancel(l);
	tt_task_join_blocking(tc);
	tt_task_join_blocking(l);
	tt_task_release(tc);
	tt_task_release(l);
	tt_runtime_free(rt);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(dump)
{
	tt_notify_init(&never);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){ .workers = 2 });
	tt_task_detach(TT_SPAWN(rt, "parent", parent, parent_init));
	wait_for_waiters(&never.lock, &never.waiters, 3);
	FILE *f = tmpfile();
	ck_assert_int_eq(tt_dump_tasks(fileno(f)), 3);
	fflush(f);
	rewind(f);
	char buf[8192];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	ck_assert_msg(strstr(buf, "task 1 \"parent\" [notify,"), "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "#0  tt_notified  waits on notify 0x"));
	ck_assert_ptr_nonnull(strstr(buf, "#1  parent () at tests/diag/test_engine.c:"));
	ck_assert_ptr_nonnull(strstr(buf, "task 3 \"child\""));
	ck_assert_ptr_nonnull(strstr(buf, "spawned by task 1 \"parent\" at tests/diag/test_engine.c:"));

	/* On a signal, from the handler itself. */
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(tt_dump_install(SIGUSR1, fds[1]), 0);
	raise(SIGUSR1);
	char *out = drain(fds[0]);
	ck_assert_msg(strstr(out, "tasktrace: dump of pid"), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "task 2 \"child\""));
	ck_assert_ptr_nonnull(strstr(out, "tasktrace: end of dump"));
	free(out);
	/* A reader that went away costs the program nothing. */
	close(fds[0]);
	ck_assert_int_eq(tt_dump_tasks(fds[1]), 3);
	close(fds[1]);

	/* The dump's fd closed and taken by a data file since the install:
	 * the data is left alone, the dump goes to a file of its own. */
	char dir[] = "/tmp/tt-dump-XXXXXX", data[64], path[96];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("TASKTRACE_CRASH_DIR", dir, 1);
	int fd = open("/dev/null", O_WRONLY);
	ck_assert_int_eq(tt_dump_install(SIGUSR1, fd), 0);
	unsetenv("TASKTRACE_CRASH_DIR");
	close(fd);
	snprintf(data, sizeof data, "%s/data", dir);
	ck_assert_int_eq(open(data, O_RDWR | O_CREAT | O_TRUNC, 0600), fd);
	raise(SIGUSR1);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	out = drain(fd);
	ck_assert_msg(!out[0], "the data file got:\n%s", out);
	free(out);
	close(fd);
	snprintf(path, sizeof path, "%s/tasktrace-dump-%d.log", dir, (int)getpid());
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "no %s", path);
	out = drain(fd);
	close(fd);
	char want[200];
	snprintf(want, sizeof want,
		 "refers to another file than when the handler was "
		 "installed: this report is written to %s instead",
		 path);
	ck_assert_msg(strstr(out, want), "no '%s' in:\n%s", want, out);
	ck_assert_ptr_nonnull(strstr(out, "task 2 \"child\""));
	ck_assert_ptr_nonnull(strstr(out, "tasktrace: end of dump"));
	free(out);
	unlink(path);
	unlink(data);
	rmdir(dir);

	/* The crash report, without crashing. */
	f = tmpfile();
	ck_assert_uint_gt(tt_crash_report(fileno(f), SIGSEGV, NULL), 0);
	fflush(f);
	rewind(f);
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	ck_assert_msg(strstr(buf, "tasktrace: fatal signal SIGSEGV"), "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "other tasks (3):"));
	ck_assert_ptr_nonnull(strstr(buf, "tasktrace: end of crash report"));
	tt_runtime_free(rt);
}
END_TEST

START_TEST(durations)
{
	uint64_t ns;
	ck_assert_int_eq(tt_diag_parse_duration("100ms", &ns), 0);
	ck_assert_uint_eq(ns, 100000000ull);
	ck_assert_int_eq(tt_diag_parse_duration("1.5s", &ns), 0);
	ck_assert_uint_eq(ns, 1500000000ull);
	ck_assert_int_eq(tt_diag_parse_duration("2m", &ns), 0);
	ck_assert_uint_eq(ns, 120000000000ull);
	ck_assert_int_eq(tt_diag_parse_duration("3", &ns), 0);
	ck_assert_uint_eq(ns, 3000000000ull);
	ck_assert_int_eq(tt_diag_parse_duration("0", &ns), 0);
	ck_assert_uint_eq(ns, 0);
	ck_assert_int_lt(tt_diag_parse_duration("soon", &ns), 0);
	ck_assert_int_lt(tt_diag_parse_duration("5 parsecs", &ns), 0);
	ck_assert_str_eq(tt_diag_kind_name(TT_DIAG_DEADLOCK), "deadlock");
	ck_assert_str_eq(tt_diag_kind_name(99), "?");
}
END_TEST

/* The tables as data (what gdb's Python and the docs test read). */
START_TEST(enum_rows)
{
	size_t n;
	const tt_enum_row *r = tt_enum_rows(TT_ENUM_WAIT_KIND, &n);

	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(n, TT_WAIT_KIND_MAX_);
	ck_assert_uint_eq(r[TT_WAIT_CHAN_RECV].value, TT_WAIT_CHAN_RECV);
	ck_assert_str_eq(r[TT_WAIT_CHAN_RECV].name, "CHAN_RECV");
	ck_assert_str_eq(r[TT_WAIT_CHAN_RECV].word, "channel recv");
	r = tt_enum_rows(TT_ENUM_TASK_FLAG, &n);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(r[2].value, TT_TASKF_CANCEL_REQUESTED);
	ck_assert_str_eq(r[2].word, "cancel_requested");
	r = tt_enum_rows(TT_ENUM_DIAG_KIND, &n);
	ck_assert_uint_eq(n, TT_DIAG_KIND_MAX_ - 1);
	ck_assert_uint_eq(r[0].value, TT_DIAG_DEADLOCK);
	ck_assert_str_eq(tt_enum_word(TT_ENUM_WORKER_STATE, TT_WORKER_POLLING), "polling");
	ck_assert_str_eq(tt_enum_word(TT_ENUM_FUNC_KIND, TT_FUNC_KIND_COMBINATOR), "combinator");
	ck_assert_str_eq(tt_enum_word(TT_ENUM_TASK_STATE, TT_STATE_CANCELLED), "cancelled");
	ck_assert_ptr_null(tt_enum_word(TT_ENUM_DIAG_KIND, 0));
	ck_assert_ptr_null(tt_enum_word(TT_ENUM_WAIT_KIND, TT_WAIT_KIND_MAX_));
	n = 7;
	ck_assert_ptr_null(tt_enum_rows(TT_ENUM_MAX_, &n));
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(tt_enum_rows(-1, &n));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("diag-engine");
	TCase *tc = tcase_create("engine");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, starved_next_to_long_poll);
	tcase_add_test(tc, oneshot_producer_gone_timeout);
	tcase_add_test(tc, oneshot_producer_gone);
	tcase_add_test(tc, channel_cycle_and_a_foreign_sender);
	tcase_add_test(tc, semaphore_cycle_and_its_holders);
	tcase_add_test(tc, watchdog_groups);
	tcase_add_test(tc, watchdog_idle_after_quiet_rounds);
	tcase_add_test(tc, transient_states_are_not_findings);
	tcase_add_test(tc, leaked_at_shutdown);
	tcase_add_test(tc, watchdog_once);
	tcase_add_test(tc, watchdog_sees_changes_after_cached_rounds);
	tcase_add_test(tc, dump);
	tcase_add_test(tc, durations);
	tcase_add_test(tc, enum_rows);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
