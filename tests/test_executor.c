/* The executor as a user sees it: spawn/join at scale, work stealing, the
 * current-thread runtime, wakes from foreign threads, shutdown with pending
 * tasks, and what a handle reports (names, parents). */
#include <pthread.h>
#include <semaphore.h>

#define TT_TEST_WANT_GATED /* the gated future below */
#include "test_util.h"

/* ---- a child that returns a value derived from its index ---- */

static intptr_t child_value(int i) { return 3 * (intptr_t)i + 1; }

typedef struct valued {
	tt_frame frame;
	int i;
} valued;
static tt_poll valued_poll(valued *self, tt_cx *cx);
TT_ASYNC_FN(valued, valued_poll, NULL);
static void valued_init(valued *v, int i)
{
	tt_frame_init(&v->frame, &valued_fn);
	v->i = i;
}
static tt_poll valued_poll(valued *self, tt_cx *cx)
{
	TT_BEGIN(self);
	/* A quarter finish on a second poll, through a self-wake and a requeue. */
	if (self->i % 4 == 0)
		TT_YIELD(self, cx);
	TT_RETURN(self, child_value(self->i));
}

/* ---- 10^6 spawns and joins from inside a task ---- */

enum { FANOUT = 1000 };

typedef struct fanout {
	tt_frame frame;
	int rounds, round, i;
	intptr_t sum;
	tt_handle h[FANOUT];
	tt_join join;
} fanout;
static tt_poll fanout_poll(fanout *self, tt_cx *cx);
TT_ASYNC_FN(fanout, fanout_poll, NULL);
static tt_poll fanout_poll(fanout *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->round = 0; self->round < self->rounds; self->round++) {
		/* 1000 local spawns in one poll overflow the 256-slot ring into
		 * the injector: both paths get exercised. */
		for (self->i = 0; self->i < FANOUT; self->i++) {
			self->h[self->i] = TT_SPAWN(NULL, "child", valued, valued_init, self->i);
			if (!self->h[self->i].task)
				TT_RETURN(self, -1);
		}
		for (self->i = 0; self->i < FANOUT; self->i++) {
			TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->h[self->i]));
			self->sum += TT_RESULT(&self->join);
		}
	}
	TT_RETURN(self, self->sum);
}

static const intptr_t FANOUT_SUM = 3 * (FANOUT * (FANOUT - 1) / 2) + FANOUT;

START_TEST(test_million_spawn_join)
{
	uint64_t live0 = tt_test_tasks_live();
	tt_runtime *rt = tt_test_runtime(2 + _i); /* 2, 3 and 4 workers */
	static fanout root; /* 8 KB of handles: not on the check fork's stack */
	tt_frame_init(&root.frame, &fanout_fn);
	root.rounds = tt_test_scaled(1000) / 3 + 1;
	root.sum = 0;
	ck_assert_int_eq(tt_block_on(rt, &root.frame), root.rounds * FANOUT_SUM);
	tt_runtime_free(rt);
	/* Every child's slot came back: handles, wakers and queue entries all
	 * let go. */
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
}
END_TEST

/* ---- spawns from the main thread, joined blocking; detached tasks ---- */

static _Atomic int detached_done;
static int detached_target;
static sem_t detached_sem;

typedef struct counted {
	tt_frame frame;
} counted;
static tt_poll counted_poll(counted *self, tt_cx *cx);
TT_ASYNC_FN(counted, counted_poll, NULL);
static void counted_init(counted *c) { tt_frame_init(&c->frame, &counted_fn); }
static tt_poll counted_poll(counted *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_YIELD(self, cx);
	if (atomic_fetch_add(&detached_done, 1) + 1 == detached_target)
		sem_post(&detached_sem);
	TT_RETURN(self, 0);
}

START_TEST(test_spawn_from_main_thread)
{
	uint64_t live0 = tt_test_tasks_live();
	tt_runtime *rt = tt_test_runtime(3);
	int batches = tt_test_scaled(20);
	tt_handle h[FANOUT];
	for (int b = 0; b < batches; b++) {
		for (int i = 0; i < FANOUT; i++) {
			h[i] = TT_SPAWN(rt, "from-main", valued, valued_init, i);
			ck_assert_ptr_nonnull(h[i].task);
		}
		intptr_t sum = 0;
		for (int i = 0; i < FANOUT; i++) {
			sum += tt_task_join_blocking(h[i]);
			ck_assert(tt_task_is_done(h[i]));
			ck_assert_int_eq(tt_task_result(h[i]), child_value(i));
			tt_task_release(h[i]);
		}
		ck_assert_int_eq(sum, FANOUT_SUM);
	}

	/* Detached tasks run to completion with nobody holding a handle. */
	detached_target = tt_test_scaled(20000);
	atomic_store(&detached_done, 0);
	sem_init(&detached_sem, 0, 0);
	for (int i = 0; i < detached_target; i++) {
		tt_handle t = TT_SPAWN(rt, "detached", counted, counted_init);
		ck_assert_ptr_nonnull(t.task);
		tt_task_detach(t);
	}
	sem_wait(&detached_sem);
	ck_assert_int_eq(atomic_load(&detached_done), detached_target);
	tt_runtime_free(rt);
	sem_destroy(&detached_sem);
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
}
END_TEST

/* ---- work stealing ---- */

enum { STEAL_CHILDREN = 200 }; /* < ring capacity: none overflow to the injector */

typedef struct spinner {
	tt_frame frame;
	pid_t *tid;
} spinner;
static tt_poll spinner_poll(spinner *self, tt_cx *cx);
TT_ASYNC_FN(spinner, spinner_poll, NULL);
static void spinner_init(spinner *s, pid_t *tid)
{
	tt_frame_init(&s->frame, &spinner_fn);
	s->tid = tid;
}
static tt_poll spinner_poll(spinner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_test_spin_ns(TT_US(200));
	*self->tid = tt_test_gettid();
	TT_RETURN(self, 0);
}

typedef struct stealer_root {
	tt_frame frame;
	int i;
	pid_t tids[STEAL_CHILDREN];
	tt_handle h[STEAL_CHILDREN];
	tt_join join;
} stealer_root;
static tt_poll stealer_root_poll(stealer_root *self, tt_cx *cx);
TT_ASYNC_FN(stealer_root, stealer_root_poll, NULL);
static tt_poll stealer_root_poll(stealer_root *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < STEAL_CHILDREN; self->i++)
		self->h[self->i] = TT_SPAWN(NULL, "spinner", spinner, spinner_init,
					    &self->tids[self->i]);
	/* Keep this worker busy: the children sit in its own ring, so the other
	 * worker can only get them by stealing. */
	tt_test_spin_ns(TT_MS(5));
	for (self->i = 0; self->i < STEAL_CHILDREN; self->i++)
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->h[self->i]));
	TT_RETURN(self, 0);
}

START_TEST(test_work_stealing)
{
	tt_runtime *rt = tt_test_runtime(2);
	static stealer_root root;
	int distinct = 1;
	/* A broken stealer never gets here; a healthy one nearly always does on
	 * the first try: the retries only absorb a descheduled second worker. */
	for (int attempt = 0; attempt < 20 && distinct < 2; attempt++) {
		tt_frame_init(&root.frame, &stealer_root_fn);
		memset(root.tids, 0, sizeof root.tids);
		ck_assert_int_eq(tt_block_on(rt, &root.frame), 0);
		for (int i = 0; i < STEAL_CHILDREN; i++) {
			ck_assert_int_ne(root.tids[i], 0);
			if (root.tids[i] != root.tids[0])
				distinct = 2;
		}
	}
	ck_assert_msg(distinct > 1, "children spawned on one worker never ran on the other");
	tt_runtime_free(rt);
}
END_TEST

/* ---- the current-thread runtime ---- */

enum { CT_CHILDREN = 50 };

typedef struct ct_child {
	tt_frame frame;
	pid_t *tids; /* two entries: before and after suspending */
	int i;
	tt_sleep nap;
} ct_child;
static tt_poll ct_child_poll(ct_child *self, tt_cx *cx);
TT_ASYNC_FN(ct_child, ct_child_poll, NULL);
static void ct_child_init(ct_child *c, pid_t *tids, int i)
{
	tt_frame_init(&c->frame, &ct_child_fn);
	c->tids = tids;
	c->i = i;
}
static tt_poll ct_child_poll(ct_child *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->tids[0] = tt_test_gettid();
	TT_YIELD(self, cx);
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(1)));
	self->tids[1] = tt_test_gettid();
	TT_RETURN(self, self->i);
}

typedef struct ct_root {
	tt_frame frame;
	pid_t tid;
	int i;
	intptr_t sum;
	pid_t tids[CT_CHILDREN][2];
	tt_handle h[CT_CHILDREN];
	tt_join join;
} ct_root;
static tt_poll ct_root_poll(ct_root *self, tt_cx *cx);
TT_ASYNC_FN(ct_root, ct_root_poll, NULL);
static tt_poll ct_root_poll(ct_root *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->tid = tt_test_gettid();
	for (self->i = 0; self->i < CT_CHILDREN; self->i++)
		self->h[self->i] = TT_SPAWN(NULL, "ct-child", ct_child, ct_child_init,
					    self->tids[self->i], self->i);
	for (self->i = 0; self->i < CT_CHILDREN; self->i++) {
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->h[self->i]));
		self->sum += TT_RESULT(&self->join);
	}
	TT_RETURN(self, self->sum);
}

START_TEST(test_current_thread_runs_on_caller)
{
	tt_runtime *rt = tt_test_runtime(0);
	static ct_root root;
	memset(&root, 0, sizeof root);
	tt_frame_init(&root.frame, &ct_root_fn);
	ck_assert_int_eq(tt_block_on(rt, &root.frame), CT_CHILDREN * (CT_CHILDREN - 1) / 2);
	pid_t me = tt_test_gettid();
	ck_assert_int_eq(root.tid, me);
	for (int i = 0; i < CT_CHILDREN; i++) {
		ck_assert_int_eq(root.tids[i][0], me);
		ck_assert_int_eq(root.tids[i][1], me);
	}
	/* Outside block_on nothing runs and no task is current. */
	ck_assert_ptr_null(tt_current_task().task);
	tt_runtime_free(rt);
}
END_TEST

/* Two tasks that yield to each other alternate exactly on one thread. */
typedef struct pinger {
	tt_frame frame;
	char tag;
	int n;
	char *log;
	int *pos;
} pinger;
static tt_poll pinger_poll(pinger *self, tt_cx *cx);
TT_ASYNC_FN(pinger, pinger_poll, NULL);
static void pinger_init(pinger *p, char tag, char *log, int *pos)
{
	tt_frame_init(&p->frame, &pinger_fn);
	p->tag = tag;
	p->log = log;
	p->pos = pos;
}
static tt_poll pinger_poll(pinger *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->n = 0; self->n < 5; self->n++) {
		self->log[(*self->pos)++] = (char)(self->tag + self->n);
		TT_YIELD(self, cx);
	}
	TT_RETURN(self, 0);
}

typedef struct pingpong {
	tt_frame frame;
	char log[32];
	int pos;
	tt_handle a, b;
	tt_join join;
} pingpong;
static tt_poll pingpong_poll(pingpong *self, tt_cx *cx);
TT_ASYNC_FN(pingpong, pingpong_poll, NULL);
static tt_poll pingpong_poll(pingpong *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->a = TT_SPAWN(NULL, "ping", pinger, pinger_init, 'a', self->log, &self->pos);
	self->b = TT_SPAWN(NULL, "pong", pinger, pinger_init, 'A', self->log, &self->pos);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->a));
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->b));
	TT_RETURN(self, 0);
}

START_TEST(test_current_thread_yield_interleaves)
{
	tt_runtime *rt = tt_test_runtime(0);
	pingpong root;
	memset(&root, 0, sizeof root);
	tt_frame_init(&root.frame, &pingpong_fn);
	ck_assert_int_eq(tt_block_on(rt, &root.frame), 0);
	ck_assert_str_eq(root.log, "aAbBcCdDeE");
	tt_runtime_free(rt);
}
END_TEST

/* ---- a wake from a thread that is not a worker ---- */

typedef struct xwait {
	tt_frame frame;
	tt_notify *n;
	int rounds, k;
	tt_notified w;
} xwait;
static tt_poll xwait_poll(xwait *self, tt_cx *cx);
TT_ASYNC_FN(xwait, xwait_poll, NULL);
static tt_poll xwait_poll(xwait *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->k = 0; self->k < self->rounds; self->k++)
		TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, self->n));
	TT_RETURN(self, self->k);
}

typedef struct xthread_arg {
	tt_notify *n;
	int rounds;
} xthread_arg;

static void *notifier_main(void *p)
{
	xthread_arg *a = p;
	for (int k = 0; k < a->rounds; k++) {
		/* Notify only a suspended waiter, so every round is a real
		 * cross-thread wake of a sleeping task, never a stored permit. */
		for (;;) {
			pthread_mutex_lock(&a->n->lock);
			int queued = a->n->waiters.head != NULL;
			pthread_mutex_unlock(&a->n->lock);
			if (queued)
				break;
			sched_yield();
		}
		tt_notify_one(a->n);
	}
	return NULL;
}

START_TEST(test_cross_thread_wake)
{
	/* _i = 0: the caller of block_on sleeps in epoll and must be kicked;
	 * _i = 1: two workers, parked or in epoll. */
	tt_runtime *rt = tt_test_runtime(_i ? 2 : 0);
	tt_notify n;
	tt_notify_init(&n);
	xthread_arg arg = {&n, tt_test_scaled(3000)};
	xwait root;
	tt_frame_init(&root.frame, &xwait_fn);
	root.n = &n;
	root.rounds = arg.rounds;
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, notifier_main, &arg), 0);
	ck_assert_int_eq(tt_block_on(rt, &root.frame), arg.rounds);
	pthread_join(th, NULL);
	ck_assert_int_eq(n.permit, 0);
	ck_assert_ptr_null(n.waiters.head);
	tt_runtime_free(rt);
	tt_notify_destroy(&n);
}
END_TEST

/* ---- tt_runtime_free with tasks still pending ---- */

enum { K_NOTIFY, K_SLEEP, K_YIELD, K_JOIN, K_DETACHED, K_KINDS };
enum { PER_KIND = 8, N_PENDING = K_KINDS * PER_KIND };

static tt_notify never; /* nobody notifies it */
static _Atomic int started, drop_seq;
static _Atomic int outer_drops[N_PENDING], inner_drops[N_PENDING];
static int outer_drop_at[N_PENDING], inner_drop_at[N_PENDING];
static tt_handle pending_h[N_PENDING];

typedef struct pend_inner {
	tt_frame frame;
	int id;
	tt_notified w;
} pend_inner;
static tt_poll pend_inner_poll(pend_inner *self, tt_cx *cx);
static void pend_inner_drop(pend_inner *self)
{
	inner_drop_at[self->id] = atomic_fetch_add(&drop_seq, 1);
	atomic_fetch_add(&inner_drops[self->id], 1);
}
TT_ASYNC_FN(pend_inner, pend_inner_poll, pend_inner_drop);
static tt_poll pend_inner_poll(pend_inner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &never));
	TT_RETURN(self, 0);
}

typedef struct pend_outer {
	tt_frame frame;
	int id, kind;
	pend_inner inner;
	tt_sleep nap;
	tt_join join;
} pend_outer;
static tt_poll pend_outer_poll(pend_outer *self, tt_cx *cx);
static void pend_outer_drop(pend_outer *self)
{
	outer_drop_at[self->id] = atomic_fetch_add(&drop_seq, 1);
	atomic_fetch_add(&outer_drops[self->id], 1);
}
TT_ASYNC_FN(pend_outer, pend_outer_poll, pend_outer_drop);
static void pend_outer_init(pend_outer *p, int id)
{
	tt_frame_init(&p->frame, &pend_outer_fn);
	p->id = id;
	p->kind = id / PER_KIND;
}
static tt_poll pend_outer_poll(pend_outer *self, tt_cx *cx)
{
	TT_BEGIN(self);
	atomic_fetch_add(&started, 1);
	switch (self->kind) {
	case K_NOTIFY:
	case K_DETACHED:
		self->inner.id = self->id;
		TT_AWAIT(self, cx, &self->inner, tt_frame_init(&self->inner.frame, &pend_inner_fn));
		break;
	case K_SLEEP:
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(3600)));
		break;
	case K_YIELD: /* always queued or running: never idle */
		for (;;)
			TT_YIELD(self, cx);
	case K_JOIN: /* waits for a K_NOTIFY task */
		TT_AWAIT(self, cx, &self->join,
			 tt_join_init(&self->join, tt_task_ref(pending_h[self->id % PER_KIND])));
		break;
	}
	TT_RETURN(self, 1);
}

START_TEST(test_free_cancels_pending)
{
	uint64_t live0 = tt_test_tasks_live();
	tt_notify_init(&never);
	atomic_store(&started, 0);
	atomic_store(&drop_seq, 0);
	for (int i = 0; i < N_PENDING; i++) {
		atomic_store(&outer_drops[i], 0);
		atomic_store(&inner_drops[i], 0);
	}
	tt_runtime *rt = tt_test_runtime(2);
	for (int i = 0; i < N_PENDING; i++) {
		pending_h[i] = TT_SPAWN(rt, "pending", pend_outer, pend_outer_init, i);
		ck_assert_ptr_nonnull(pending_h[i].task);
	}
	for (int i = K_DETACHED * PER_KIND; i < N_PENDING; i++)
		tt_task_detach(pending_h[i]);
	/* Every frame has started (so has something to clean up); some are
	 * mid-poll or queued when the runtime goes away. */
	while (atomic_load(&started) < N_PENDING)
		tt_test_sleep_us(100);
	tt_runtime_free(rt);

	for (int i = 0; i < N_PENDING; i++) {
		int kind = i / PER_KIND;
		int nested = kind == K_NOTIFY || kind == K_DETACHED;
		ck_assert_int_eq(atomic_load(&outer_drops[i]), 1);
		ck_assert_int_eq(atomic_load(&inner_drops[i]), nested);
		if (nested) /* innermost first */
			ck_assert_int_lt(inner_drop_at[i], outer_drop_at[i]);
		if (kind == K_DETACHED)
			continue;
		ck_assert(tt_task_is_done(pending_h[i]));
		ck_assert_int_eq(tt_task_result(pending_h[i]), TT_ECANCELED);
		ck_assert_int_eq(tt_task_join_blocking(pending_h[i]), TT_ECANCELED);
		tt_task_release(pending_h[i]);
	}
	/* The notify lost its waiters with their frames. */
	ck_assert_ptr_null(never.waiters.head);
	tt_notify_destroy(&never);
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
}
END_TEST

/* ---- a join polled again while the joined task completes ---- */

/* Polls its join on every wake, as select or join_all poll all their
 * children, so the join sees the target complete while the target's worker
 * is still waking the other joiners. */
typedef struct busy_joiner {
	tt_frame frame;
	tt_handle target;
	tt_join join;
} busy_joiner;
static tt_poll busy_joiner_poll(busy_joiner *self, tt_cx *cx);
TT_ASYNC_FN(busy_joiner, busy_joiner_poll, NULL);
static void busy_joiner_init(busy_joiner *b, tt_handle target)
{
	tt_frame_init(&b->frame, &busy_joiner_fn);
	b->target = target;
}
static tt_poll busy_joiner_poll(busy_joiner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_join_init(&self->join, self->target);
	self->frame.child = &self->join.leaf.frame;
	while (tt_frame_poll(&self->join.leaf.frame, cx) == TT_PENDING)
		TT_YIELD(self, cx);
	self->frame.child = NULL;
	TT_RETURN(self, TT_RESULT(&self->join));
}

START_TEST(test_join_polled_while_completing)
{
	uint64_t live0 = tt_test_tasks_live();
	tt_runtime *rt = tt_test_runtime(4);
	tt_notify gate;
	tt_notify_init(&gate);
	enum { JOINERS = 64 };
	for (int round = 0; round < tt_test_scaled(300); round++) {
		tt_handle target = TT_SPAWN(rt, "target", gated, gated_init, &gate, NULL);
		tt_handle j[JOINERS];
		for (int i = 0; i < JOINERS; i++)
			j[i] = TT_SPAWN(rt, "busy-joiner", busy_joiner, busy_joiner_init,
					tt_task_ref(target));
		/* Every join is registered with the target before it completes. */
		for (int i = 0; i < JOINERS; i++)
			while (tt_test_task_field(j[i], TT_TASK_WAKERS) == 0)
				sched_yield();
		/* Not done: no result yet, whatever the slot holds meanwhile
		 * (its joins, in the same word). */
		ck_assert_int_eq(tt_task_result(target), 0);
		tt_notify_one(&gate);
		for (int i = 0; i < JOINERS; i++) {
			ck_assert_int_eq(tt_task_join_blocking(j[i]), 7);
			tt_task_release(j[i]);
		}
		tt_task_release(target);
	}
	tt_runtime_free(rt);
	tt_notify_destroy(&gate);
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
}
END_TEST

/* ---- names and parents ---- */

typedef struct family {
	tt_frame frame;
	int depth;
	uint64_t *ids; /* [0] this task, [1] its child's parent id, ... */
	tt_handle child;
	tt_join join;
} family;
static tt_poll family_poll(family *self, tt_cx *cx);
TT_ASYNC_FN(family, family_poll, NULL);
static void family_init(family *f, int depth, uint64_t *ids)
{
	tt_frame_init(&f->frame, &family_fn);
	f->depth = depth;
	f->ids = ids;
}
static tt_poll family_poll(family *self, tt_cx *cx)
{
	TT_BEGIN(self);
	/* tt_current_task() is the task being polled (0 would fail below). */
	self->ids[0] =
	    tt_current_task().task == tt_cx_task(cx).task ? tt_task_id(tt_cx_task(cx)) : 0;
	if (self->depth > 0) {
		self->child = TT_SPAWN(NULL, "family", family, family_init, self->depth - 1,
				       self->ids + 2);
		self->ids[1] = tt_test_task_field(self->child, TT_TASK_PARENT_ID);
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->child));
	}
	TT_RETURN(self, 0);
}

START_TEST(test_names_and_parents)
{
	tt_runtime *rt = tt_test_runtime(2);
	char name[64];
	memset(name, 'x', sizeof name - 1);
	name[sizeof name - 1] = 0;
	memcpy(name, "0123456789abcdefghijklmnopqrstuvwxyz", 36);
	tt_spawn_opts o = {name, NULL, 0};
	family f;
	uint64_t ids[8] = {0};
	family_init(&f, 0, ids);
	tt_handle t = tt_spawn_at(rt, &o, &f.frame, NULL);
	ck_assert_ptr_nonnull(t.task);
	memset(name, 'y', 20); /* the runtime kept its own copy */
	tt_task_join_blocking(t);
	ck_assert_int_eq(strlen(tt_task_name(t)), TT_TASK_NAME_MAX - 1);
	ck_assert_str_eq(tt_task_name(t), "0123456789abcdefghijklmnopqrstu");
	ck_assert_uint_eq(tt_test_task_field(t, TT_TASK_PARENT_ID), 0); /* spawned by main */
	ck_assert_uint_eq(tt_task_id(t), ids[0]);
	tt_task_release(t);

	family g;
	tt_spawn_opts anon = {NULL, NULL, 0};
	family_init(&g, 0, ids);
	t = tt_spawn_at(rt, &anon, &g.frame, NULL);
	tt_task_join_blocking(t);
	ck_assert_str_eq(tt_task_name(t), "");
	tt_task_release(t);

	/* Cut between characters: a two-byte U+0430 across the last byte
	 * goes whole, and a shorter name in a reused slot has no tail of
	 * the last one. */
	const char *cyr = "0123456789abcdefghijklmnopqrst\xd0\xb0zz";
	tt_spawn_opts oc = {cyr, NULL, 0};
	family_init(&g, 0, ids);
	t = tt_spawn_at(rt, &oc, &g.frame, NULL);
	tt_task_join_blocking(t);
	ck_assert_str_eq(tt_task_name(t), "0123456789abcdefghijklmnopqrst");
	tt_task_release(t);
	tt_spawn_opts os = {"ab", NULL, 0};
	family_init(&g, 0, ids);
	t = tt_spawn_at(rt, &os, &g.frame, NULL);
	tt_task_join_blocking(t);
	ck_assert_str_eq(tt_task_name(t), "ab");
	ck_assert_mem_eq(tt_task_name(t), "ab\0\0\0\0\0\0", 8);
	tt_task_release(t);

	/* Three generations: each child's parent is the task that spawned it. */
	memset(ids, 0, sizeof ids);
	family_init(&f, 3, ids);
	ck_assert_int_eq(tt_block_on(rt, &f.frame), 0);
	for (int d = 0; d < 3; d++) {
		ck_assert_uint_ne(ids[2 * d], 0);
		ck_assert_uint_eq(ids[2 * d + 1], ids[2 * d]);
		ck_assert_uint_ne(ids[2 * d + 2], ids[2 * d]);
	}
	ck_assert_ptr_null(tt_current_task().task);
	tt_runtime_free(rt);
}
END_TEST

/* ---- what the workers keep for their next spawns ---- */

enum { REUSE_N = 100 };
static tt_task *reuse_slots[REUSE_N];

typedef struct reuser {
	tt_frame frame;
	int i;
	tt_handle h[REUSE_N];
	tt_join join;
} reuser;
static tt_poll reuser_poll(reuser *self, tt_cx *cx);
TT_ASYNC_FN(reuser, reuser_poll, NULL);
static tt_poll reuser_poll(reuser *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < REUSE_N; self->i++) {
		self->h[self->i] = TT_SPAWN(NULL, "child", valued, valued_init, self->i);
		reuse_slots[self->i] = self->h[self->i].task;
	}
	for (self->i = 0; self->i < REUSE_N; self->i++)
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->h[self->i]));
	TT_RETURN(self, 0);
}

/* Slots freed on a worker wait in its cache for its next spawns; a freed
 * runtime gives them back, so spawns elsewhere take them again instead of
 * growing the registry (which a reader walks, and which never shrinks). */
START_TEST(test_freed_runtime_gives_slots_back)
{
	tt_runtime *rt = tt_test_runtime(2);
	static reuser r;
	tt_frame_init(&r.frame, &reuser_fn);
	ck_assert_int_eq(tt_block_on(rt, &r.frame), 0);
	tt_runtime_free(rt);

	rt = tt_test_runtime(2);
	tt_handle h[REUSE_N / 2];
	for (int i = 0; i < REUSE_N / 2; i++) {
		h[i] = TT_SPAWN(rt, "again", valued, valued_init, 1);
		ck_assert_ptr_nonnull(h[i].task);
	}
	/* From the main thread: the global free list.  The block_on task's
	 * slot is in it (freed on this thread); so must the children's be. */
	int reused = 0;
	for (int i = 0; i < REUSE_N / 2; i++) {
		for (int j = 0; j < REUSE_N; j++)
			reused += h[i].task == reuse_slots[j];
		tt_task_join_blocking(h[i]);
		tt_task_release(h[i]);
	}
	ck_assert_int_ge(reused, REUSE_N / 2 - 1);
	tt_runtime_free(rt);
}
END_TEST

/* ---- a reused slot's histograms start empty ---- */

/* One poll of two coarse-clock milliseconds or more: bucket 1 and up. */
typedef struct hog {
	tt_frame frame;
} hog;
static tt_poll hog_poll(hog *self, tt_cx *cx);
TT_ASYNC_FN(hog, hog_poll, NULL);
static void hog_init(hog *h)
{
	tt_frame_init(&h->frame, &hog_fn);
}
static uint64_t coarse_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static tt_poll hog_poll(hog *self, tt_cx *cx)
{
	(void)cx;
	/* Long enough for the poll's end stamp (the clock thread's copy of
	 * the coarse clock, up to two ticks behind) to move. */
	uint64_t start = coarse_ns();
	while (coarse_ns() - start < 20000000)
		;
	TT_RETURN(self, 0);
}

/* The poll buckets above 0 of the histogram block at BLOCK (§5.13). */
static uint64_t hist_poll_counts(uint64_t block)
{
	const uint32_t *b = (const uint32_t *)(uintptr_t)block;
	uint64_t sum = 0;
	for (uint32_t i = 1; i < b[0]; i++)
		sum += __atomic_load_n(&b[2 + i], __ATOMIC_RELAXED);
	return sum;
}

typedef struct hist_reuse {
	tt_frame frame;
	tt_handle h;
	tt_task *slot;
	uint64_t block;
	tt_join join;
} hist_reuse;
static tt_poll hist_reuse_poll(hist_reuse *self, tt_cx *cx);
TT_ASYNC_FN(hist_reuse, hist_reuse_poll, NULL);
static tt_poll hist_reuse_poll(hist_reuse *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->h = TT_SPAWN(NULL, "hog", hog, hog_init);
	self->slot = self->h.task;
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->h));
	/* Freed: the registry's memory stays, and so does the block. */
	self->block = tt_test_read_field(self->slot, TT_REC_TASK, TT_TASK_HIST);
	ck_assert_uint_ne(self->block, 0);
	ck_assert_uint_ge(hist_poll_counts(self->block), 1);
	/* The worker's next spawn takes the slot it freed last. */
	self->h = TT_SPAWN(NULL, "next", valued, valued_init, 1);
	ck_assert_ptr_eq(self->h.task, self->slot);
	ck_assert_uint_eq(tt_test_task_field(self->h, TT_TASK_HIST), self->block);
	ck_assert_uint_eq(hist_poll_counts(self->block), 0);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->h));
	TT_RETURN(self, 0);
}

/* A slot keeps its histogram block for good; a new task in it must not
 * show its predecessor's long polls as its own. */
START_TEST(test_reused_slot_histograms_empty)
{
	tt_runtime *rt = tt_test_runtime(0);
	hist_reuse r;
	memset(&r, 0, sizeof r);
	tt_frame_init(&r.frame, &hist_reuse_fn);
	ck_assert_int_eq(tt_block_on(rt, &r.frame), 0);
	tt_runtime_free(rt);
}
END_TEST

/* ---- a spawned frame goes back to the joiner's worker ---- */

/* Records its frame and the thread that polled it. */
typedef struct where {
	tt_frame frame;
	int i;
} where;
static void *where_frame[2];
static _Atomic pid_t where_tid[2];
static tt_poll where_poll(where *self, tt_cx *cx);
TT_ASYNC_FN(where, where_poll, NULL);
static void where_init(where *w, int i)
{
	tt_frame_init(&w->frame, &where_fn);
	w->i = i;
}
static tt_poll where_poll(where *self, tt_cx *cx)
{
	(void)cx;
	where_frame[self->i] = self;
	atomic_store(&where_tid[self->i], tt_test_gettid());
	TT_RETURN(self, 0);
}

/* Every other worker record of this runtime idle: each poll it began
 * has returned, references dropped. */
static int others_idle(tt_handle me)
{
	uint64_t rid = tt_test_task_field(me, TT_TASK_RUNTIME_ID);
	const void *root = tt_registry_root();
	const char *recs =
	    (const char *)(uintptr_t)tt_test_read_field(root, TT_REC_ROOT, TT_ROOT_WORKERS);
	uint64_t n = tt_test_read_field(root, TT_REC_ROOT, TT_ROOT_WORKER_COUNT);
	size_t size = tt_test_layout(TT_REC_WORKER, TT_F_SIZEOF)->size;
	for (uint64_t i = 0; i < n; i++) {
		const char *r = recs + i * size;
		if (tt_test_read_field(r, TT_REC_WORKER, TT_WORKER_RUNTIME_ID) != rid ||
		    tt_test_read_field(r, TT_REC_WORKER, TT_WORKER_TASK) == (uintptr_t)me.task)
			continue;
		if (tt_test_read_field(r, TT_REC_WORKER, TT_WORKER_STATE) != TT_WORKER_IDLE)
			return 0;
	}
	return 1;
}

typedef struct frame_home {
	tt_frame frame;
	int i, other;
	pid_t me;
	tt_handle h[2];
	tt_join join;
} frame_home;
static tt_poll frame_home_poll(frame_home *self, tt_cx *cx);
TT_ASYNC_FN(frame_home, frame_home_poll, NULL);
static tt_poll frame_home_poll(frame_home *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->me = tt_test_gettid();
	/* Two queued tasks wake the other worker, which steals one. */
	for (self->i = 0; self->i < 2; self->i++)
		self->h[self->i] = TT_SPAWN(NULL, "where", where, where_init, self->i);
	uint64_t end = tt_now_ns() + 10000000000ull;
	self->other = -1;
	while (self->other < 0 && tt_now_ns() < end) {
		for (int i = 0; i < 2; i++)
			if (atomic_load(&where_tid[i]) && atomic_load(&where_tid[i]) != self->me)
				self->other = i;
	}
	ck_assert_int_ge(self->other, 0);
	/* Its poll has returned on the other worker: the join below drops
	 * the last reference, on this one. */
	while (!others_idle(tt_cx_task(cx)) && tt_now_ns() < end)
		;
	ck_assert(others_idle(tt_cx_task(cx)));
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->h[self->other]));
	{
		/* This worker's cache hands the frame out again (no cache
		 * under ASan, frame.c). */
		void *p = tt_frame_alloc(sizeof(where));
		if (!TT_TEST_ASAN)
			ck_assert_ptr_eq(p, where_frame[self->other]);
		tt_frame_free(p);
	}
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->h[1 - self->other]));
	TT_RETURN(self, 0);
}

/* A task that ran on another worker: its frame (TT_SPAWN's) is freed
 * where the task is joined, so the spawner's next spawn reuses it, not
 * malloc (the spawn-join benchmark's frames went from one worker's cache
 * to the other's and both overflowed to malloc). */
START_TEST(test_frame_freed_on_joiner)
{
	tt_runtime *rt = tt_test_runtime(2);
	frame_home f;
	memset(&f, 0, sizeof f);
	tt_frame_init(&f.frame, &frame_home_fn);
	ck_assert_int_eq(tt_block_on(rt, &f.frame), 0);
	tt_runtime_free(rt);
}
END_TEST

static _Atomic int own_frees;
static void own_free(void *frame)
{
	(void)frame;
	atomic_fetch_add(&own_frees, 1);
}

/* A program's own free_root runs when its task ends (runtime.h), not
 * when the handle goes, as TT_SPAWN's frames now are. */
START_TEST(test_own_free_root_at_end)
{
	tt_runtime *rt = tt_test_runtime(2);
	static where w;
	where_init(&w, 0);
	tt_spawn_opts o = {"own", own_free, 0};
	tt_handle h = tt_spawn_at(rt, &o, &w.frame, NULL);
	ck_assert_ptr_nonnull(h.task);
	uint64_t end = tt_now_ns() + 10000000000ull;
	while (tt_task_is_done(h) != 1 && tt_now_ns() < end)
		;
	ck_assert_int_eq(tt_task_is_done(h), 1);
	ck_assert_int_eq(atomic_load(&own_frees), 1);
	tt_task_release(h);
	ck_assert_int_eq(atomic_load(&own_frees), 1);
	tt_runtime_free(rt);
}
END_TEST

/* ---- a spawn late in a long poll is stamped when it happens ---- */

enum { LATE_SPAWNS = 128 }; /* two of the runtime's restamp periods */
typedef struct late_spawner {
	tt_frame frame;
	int i;
	uint64_t after;
	tt_handle h[LATE_SPAWNS];
	tt_join join;
} late_spawner;
static tt_poll late_spawner_poll(late_spawner *self, tt_cx *cx);
TT_ASYNC_FN(late_spawner, late_spawner_poll, NULL);
static tt_poll late_spawner_poll(late_spawner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	{
		/* A long poll: the coarse clock moves on by 10 ms. */
		uint64_t start = coarse_ns();
		while (coarse_ns() - start < 10000000)
			;
		self->after = coarse_ns();
		for (int i = 0; i < LATE_SPAWNS; i++)
			self->h[i] = TT_SPAWN(NULL, "late", valued, valued_init, 1);
		ck_assert_uint_ge(tt_test_task_field(self->h[LATE_SPAWNS - 1], TT_TASK_CREATED_NS),
				  self->after);
	}
	for (self->i = 0; self->i < LATE_SPAWNS; self->i++)
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->h[self->i]));
	TT_RETURN(self, 0);
}

/* The worker's cached clock is the end of its last poll: tasks spawned
 * late in a long poll were stamped with its start (ages too old, and a
 * scheduled delay -- a histogram block -- for each). */
START_TEST(test_late_spawn_stamped_then)
{
	tt_runtime *rt = tt_test_runtime(0);
	static late_spawner s;
	memset(&s, 0, sizeof s);
	tt_frame_init(&s.frame, &late_spawner_fn);
	ck_assert_int_eq(tt_block_on(rt, &s.frame), 0);
	tt_runtime_free(rt);
}
END_TEST

typedef struct frame_reuse {
	tt_frame frame;
} frame_reuse;
static tt_poll frame_reuse_poll(frame_reuse *self, tt_cx *cx);
TT_ASYNC_FN(frame_reuse, frame_reuse_poll, NULL);
static tt_poll frame_reuse_poll(frame_reuse *self, tt_cx *cx)
{
	(void)cx;
	/* On a worker, where a freed frame is kept for the next allocation. */
	for (size_t size = 8; size <= 600; size += 24) {
		unsigned char *p = tt_frame_alloc(size);
		ck_assert_ptr_nonnull(p);
		memset(p, 0xa5, size);
		tt_frame_free(p);
		unsigned char *q = tt_frame_alloc(size);
		ck_assert_ptr_nonnull(q);
		for (size_t i = 0; i < size; i++)
			ck_assert_uint_eq(q[i], 0);
		memset(q, 0x5a, size); /* all SIZE bytes are the caller's */
		tt_frame_free(q);
	}
	TT_RETURN(self, 0);
}

/* tt_frame_alloc gives zeroed memory, as TT_SPAWN's frames rely on, even
 * when a worker hands out a frame it freed a moment ago. */
START_TEST(test_frame_alloc_zeroed_on_reuse)
{
	tt_runtime *rt = tt_test_runtime(0);
	frame_reuse f;
	tt_frame_init(&f.frame, &frame_reuse_fn);
	ck_assert_int_eq(tt_block_on(rt, &f.frame), 0);
	tt_runtime_free(rt);
}
END_TEST

static Suite *executor_suite(void)
{
	Suite *s = suite_create("executor");
	TCase *tc = tcase_create("executor");
	tcase_add_loop_test(tc, test_million_spawn_join, 0, 3);
	tcase_add_test(tc, test_spawn_from_main_thread);
	tcase_add_test(tc, test_work_stealing);
	tcase_add_test(tc, test_current_thread_runs_on_caller);
	tcase_add_test(tc, test_current_thread_yield_interleaves);
	tcase_add_loop_test(tc, test_cross_thread_wake, 0, 2);
	tcase_add_test(tc, test_free_cancels_pending);
	tcase_add_test(tc, test_join_polled_while_completing);
	tcase_add_test(tc, test_names_and_parents);
	tcase_add_test(tc, test_freed_runtime_gives_slots_back);
	tcase_add_test(tc, test_frame_alloc_zeroed_on_reuse);
	tcase_add_test(tc, test_reused_slot_histograms_empty);
	tcase_add_test(tc, test_frame_freed_on_joiner);
	tcase_add_test(tc, test_own_free_root_at_end);
	tcase_add_test(tc, test_late_spawn_stamped_then);
	suite_add_tcase(s, tc);
	return s;
}

TT_TEST_MAIN(executor_suite)
