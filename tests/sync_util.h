/* Helpers for the sync / io / groups tests: a scripted driver task, a
 * generic waiter future for every sync primitive, and task-state waits. */
#ifndef TT_SYNC_UTIL_H
#define TT_SYNC_UTIL_H

#include <errno.h>

#include "test_util.h"

/* Hang guard (not a timing assertion): a wait that should end at once on
 * a correct runtime aborts the test with a message instead of hanging. */
#ifndef HANG_GUARD_NS
#define HANG_GUARD_NS TT_SEC(60)
#endif

/* An assertion for hot loops: check's ck_assert records its location with
 * a syscall each time, which would slow the loop and change interleavings. */
#define CHECK(cond)                                                     \
	do {                                                                  \
		if (!(cond))                                                        \
			ck_abort_msg("%s:%d: check failed: %s", __FILE__, __LINE__, #cond); \
	} while (0)

/* Spawn FRAME (owned by the caller, so the test can inspect it after the
 * task ended) from inside a task. */
static inline tt_handle spawn_frame(const char *name, tt_frame *f)
{
	tt_spawn_opts o = {name, NULL, 0};
	tt_handle t = tt_spawn_at(NULL, &o, f, TT_SPAWN_SITE_());
	ck_assert_ptr_nonnull(t.task);
	return t;
}

static inline uint32_t task_state(tt_handle t)
{
	return (uint32_t)tt_test_task_field(t, TT_TASK_STATE);
}

/* Suspended at an await (its last poll returned pending, nothing woke it). */
static inline int task_idle(tt_handle t)
{
	return task_state(t) == TT_STATE_IDLE;
}

/* ---- the scripted driver ----
 *
 * A task that runs STEP(ctx, i) for i = 0, 1, ...: a step returns NEXT to
 * go on, WAIT to be called again after a yield (so that, on a
 * current-thread runtime, every other ready task runs first), or DONE.
 * Writing each test as a linear switch over its steps keeps cancellation
 * scenarios deterministic: between two steps nothing else runs unless the
 * step waits for it. */
enum { STEP_NEXT, STEP_WAIT, STEP_DONE };
typedef int (*step_fn)(void *ctx, int i);
typedef struct script {
	tt_frame frame;
	step_fn step;
	void *ctx;
	int i;
	uint64_t deadline;
} script;
static tt_poll script_poll(script *self, tt_cx *cx);
TT_ASYNC_FN(script, script_poll, NULL);
static tt_poll script_poll(script *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->deadline = tt_now_ns() + HANG_GUARD_NS;
	for (;;) {
		int r = self->step(self->ctx, self->i);
		if (r == STEP_DONE)
			break;
		if (r == STEP_NEXT) {
			self->i++;
			self->deadline = tt_now_ns() + HANG_GUARD_NS;
			continue;
		}
		if (tt_now_ns() >= self->deadline)
			ck_abort_msg("script step %d never became ready", self->i);
		TT_YIELD(self, cx);
	}
	TT_RETURN(self, 0);
}

/* Run a script on a runtime with WORKERS workers (0: current thread). */
static inline void run_script(int workers, step_fn step, void *ctx)
{
	tt_runtime *rt = tt_test_runtime(workers);
	script s;
	tt_frame_init(&s.frame, &script_fn);
	s.step = step;
	s.ctx = ctx;
	s.i = 0;
	ck_assert_int_eq(tt_block_on(rt, &s.frame), 0);
	tt_runtime_free(rt);
}

#define WAIT_UNTIL(cond) \
	do {                 \
		if (!(cond))     \
			return STEP_WAIT; \
	} while (0)

/* ---- a generic waiter: one await on one primitive ---- */
enum { AW_RECV, AW_SEND, AW_LOCK, AW_ACQUIRE, AW_ONESHOT, AW_NOTIFIED };
typedef struct awaiter {
	tt_frame frame;
	int kind;
	void *obj;
	intptr_t val;       /* send: the value sent; recv: the value received;
			       acquire (at init): the permits wanted */
	uint64_t n;         /* acquire: permits */
	_Atomic int drops;  /* our own cleanup ran (cancelled while pending) */
	_Atomic int got;    /* the await completed successfully */
	_Atomic int owner_ok; /* lock: tt_mutex_owner named us while held */
	union {
		tt_chan_op op;
		tt_lock lock;
		tt_acquire acq;
		tt_oneshot_recv os;
		tt_notified nt;
	} u;
} awaiter;
static tt_poll awaiter_poll(awaiter *self, tt_cx *cx);
static void awaiter_drop(awaiter *self) { atomic_fetch_add(&self->drops, 1); }
TT_ASYNC_FN(awaiter, awaiter_poll, awaiter_drop);
static tt_poll awaiter_poll(awaiter *self, tt_cx *cx)
{
	TT_BEGIN(self);
	switch (self->kind) {
	case AW_RECV:
		TT_AWAIT(self, cx, &self->u.op, tt_recv_init(&self->u.op, self->obj, &self->val));
		break;
	case AW_SEND:
		TT_AWAIT(self, cx, &self->u.op, tt_send_init(&self->u.op, self->obj, &self->val));
		break;
	case AW_LOCK:
		TT_AWAIT(self, cx, &self->u.lock, tt_lock_init(&self->u.lock, self->obj));
		atomic_store(&self->owner_ok,
			     tt_mutex_owner(self->obj) == tt_task_id(tt_cx_task(cx)));
		CHECK(tt_mutex_unlock(self->obj) == 0);
		break;
	case AW_ACQUIRE:
		TT_AWAIT(self, cx, &self->u.acq, tt_acquire_init(&self->u.acq, self->obj, self->n));
		tt_semaphore_release(self->obj, self->n);
		break;
	case AW_ONESHOT:
		TT_AWAIT(self, cx, &self->u.os, tt_oneshot_recv_init(&self->u.os, self->obj));
		self->val = TT_RESULT(&self->u.os);
		break;
	case AW_NOTIFIED:
		TT_AWAIT(self, cx, &self->u.nt, tt_notified_init(&self->u.nt, self->obj));
		break;
	}
	/* Every union member starts with its leaf frame. */
	atomic_store(&self->got, TT_RESULT(&self->u) >= 0);
	TT_RETURN(self, TT_RESULT(&self->u));
}

static inline void awaiter_init(awaiter *a, int kind, void *obj, intptr_t val)
{
	memset(a, 0, sizeof *a);
	tt_frame_init(&a->frame, &awaiter_fn);
	a->kind = kind;
	a->obj = obj;
	a->val = val;
	a->n = kind == AW_ACQUIRE && val > 0 ? (uint64_t)val : 1; /* permits */
}

/* ---- a task that joins a list of tasks in order (multi-worker roots) ---- */

typedef struct joiner {
	tt_frame frame;
	tt_handle *tasks;
	int n, i;
	intptr_t *results;
	tt_join join;
} joiner;
static tt_poll joiner_poll(joiner *self, tt_cx *cx);
TT_ASYNC_FN(joiner, joiner_poll, NULL);
static tt_poll joiner_poll(joiner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < self->n; self->i++) {
		/* The join takes a reference of its own: the handle stays ours. */
		TT_AWAIT(self, cx, &self->join,
			 tt_join_init(&self->join, tt_task_ref(self->tasks[self->i])));
		if (self->results)
			self->results[self->i] = TT_RESULT(&self->join);
	}
	TT_RETURN(self, 0);
}

/* Block on joining N task handles created by SPAWN(ctx, i) on a
 * WORKERS-thread runtime. */
typedef struct spawn_all {
	tt_frame frame;
	tt_handle (*spawn)(void *ctx, int i);
	void *ctx;
	int n, i;
	tt_handle *tasks;
	intptr_t *results;
	joiner j;
} spawn_all;
static tt_poll spawn_all_poll(spawn_all *self, tt_cx *cx);
TT_ASYNC_FN(spawn_all, spawn_all_poll, NULL);
static tt_poll spawn_all_poll(spawn_all *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < self->n; self->i++) {
		self->tasks[self->i] = self->spawn(self->ctx, self->i);
		ck_assert_ptr_nonnull(self->tasks[self->i].task);
	}
	TT_AWAIT(self, cx, &self->j,
		 (tt_frame_init(&self->j.frame, &joiner_fn), self->j.tasks = self->tasks,
		  self->j.n = self->n, self->j.results = self->results));
	TT_RETURN(self, 0);
}

static inline void run_all(int workers, int n, tt_handle (*spawn)(void *, int), void *ctx,
			   intptr_t *results)
{
	tt_runtime *rt = tt_test_runtime(workers);
	spawn_all s;
	tt_frame_init(&s.frame, &spawn_all_fn);
	s.spawn = spawn;
	s.ctx = ctx;
	s.n = n;
	s.tasks = calloc((size_t)n, sizeof *s.tasks);
	s.results = results;
	/* Not tt_block_on: a lost wakeup must fail with a message naming the
	 * stuck tasks, not hang until the test's timeout. */
	ck_assert_int_gt(workers, 0);
	tt_spawn_opts o = {"run_all", NULL, 0};
	tt_handle root = tt_spawn_at(rt, &o, &s.frame, TT_SPAWN_SITE_());
	ck_assert_ptr_nonnull(root.task);
	uint64_t deadline = tt_now_ns() + HANG_GUARD_NS;
	while (!tt_task_is_done(root)) {
		if (tt_now_ns() > deadline) {
			int stuck = 0, first = -1;
			for (int i = 0; i < n; i++)
				if (s.tasks[i].task && !tt_task_is_done(s.tasks[i]) && stuck++ == 0)
					first = i;
			ck_abort_msg("%d of %d tasks never finished (first: #%d, state %u)", stuck, n,
				     first, first >= 0 ? task_state(s.tasks[first]) : 0);
		}
		tt_test_sleep_us(1000);
	}
	ck_assert_int_eq(tt_task_result(root), 0);
	tt_task_release(root);
	for (int i = 0; i < n; i++)
		tt_task_release(s.tasks[i]);
	tt_runtime_free(rt);
	free(s.tasks);
}

#endif
