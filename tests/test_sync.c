/* Sync primitives as a user sees them: correct under contention across
 * workers, cancellable at every await without stranding anyone, channel
 * backpressure and close, and error codes (never crashes) on bad input. */
#include <stdint.h>

#include "sync_util.h"

/* ---- a task that joins a list of tasks in order (multi-worker roots) ---- */

typedef struct joiner {
	tt_frame frame;
	tt_task **tasks;
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
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->tasks[self->i]));
		if (self->results)
			self->results[self->i] = TT_RESULT(&self->join);
	}
	TT_RETURN(self, 0);
}

/* Block on joining N task handles created by SPAWN(ctx, i) on a
 * WORKERS-thread runtime. */
typedef struct spawn_all {
	tt_frame frame;
	tt_task *(*spawn)(void *ctx, int i);
	void *ctx;
	int n, i;
	tt_task **tasks;
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
		ck_assert_ptr_nonnull(self->tasks[self->i]);
	}
	TT_AWAIT(self, cx, &self->j,
		 (tt_frame_init(&self->j.frame, &joiner_fn), self->j.tasks = self->tasks,
		  self->j.n = self->n, self->j.results = self->results));
	TT_RETURN(self, 0);
}

static void run_all(int workers, int n, tt_task *(*spawn)(void *, int), void *ctx,
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
	ck_assert_int_eq(tt_block_on(rt, &s.frame), 0);
	tt_runtime_free(rt);
	free(s.tasks);
}

/* ================= 1. contention ================= */

/* Channel MPMC: 4 producers x 4 consumers; every value exactly once, and a
 * consumer sees each producer's values in the order they were sent. */
enum { NPROD = 4, NCONS = 4, CHAN_CAP = 8 };
typedef struct mpmc {
	tt_chan *c;
	int per;
	_Atomic int producers_left;
	_Atomic unsigned *seen;
	_Atomic long sum;
	_Atomic int count, len_over, order_bad;
} mpmc;

typedef struct mp_task {
	tt_frame frame;
	mpmc *m;
	int id, i;
	long v, last[NPROD];
	tt_chan_op op;
} mp_task;
static tt_poll producer_poll(mp_task *self, tt_cx *cx);
static tt_poll consumer_poll(mp_task *self, tt_cx *cx);
TT_ASYNC_FN(mp_task, producer_poll, NULL);
static const tt_func consumer_fn = {"consumer", __FILE__, __LINE__, TT_FUNC_KIND_ASYNC,
				    "mp_task", sizeof(mp_task), 0,
				    (tt_poll_fn)consumer_poll, NULL};
static tt_poll producer_poll(mp_task *self, tt_cx *cx)
{
	mpmc *m = self->m;
	TT_BEGIN(self);
	for (self->i = 0; self->i < m->per; self->i++) {
		self->v = (long)self->id * m->per + self->i + 1;
		TT_AWAIT(self, cx, &self->op, tt_send_init(&self->op, m->c, &self->v));
		ck_assert_int_eq(TT_RESULT(&self->op), 0);
		if (tt_chan_len(m->c) > CHAN_CAP)
			atomic_fetch_add(&m->len_over, 1);
	}
	/* The last producer out closes: consumers then drain and stop. */
	if (atomic_fetch_sub(&m->producers_left, 1) == 1)
		ck_assert_int_eq(tt_chan_close(m->c), 0);
	TT_RETURN(self, 0);
}
static tt_poll consumer_poll(mp_task *self, tt_cx *cx)
{
	mpmc *m = self->m;
	TT_BEGIN(self);
	for (;;) {
		TT_AWAIT(self, cx, &self->op, tt_recv_init(&self->op, m->c, &self->v));
		if (TT_RESULT(&self->op) == -EPIPE)
			break;
		ck_assert_int_eq(TT_RESULT(&self->op), 0);
		if (tt_chan_len(m->c) > CHAN_CAP)
			atomic_fetch_add(&m->len_over, 1);
		ck_assert(self->v >= 1 && self->v <= (long)NPROD * m->per);
		atomic_fetch_add(&m->seen[self->v - 1], 1);
		int p = (int)((self->v - 1) / m->per);
		if (self->v <= self->last[p])
			atomic_fetch_add(&m->order_bad, 1);
		self->last[p] = self->v;
		atomic_fetch_add(&m->sum, self->v);
		atomic_fetch_add(&m->count, 1);
	}
	TT_RETURN(self, 0);
}
static tt_task *mpmc_spawn(void *ctx, int i)
{
	mp_task *t = tt_frame_alloc(sizeof *t);
	tt_frame_init(&t->frame, i < NPROD ? &mp_task_fn : &consumer_fn);
	t->m = ctx;
	t->id = i % NPROD;
	tt_spawn_opts o = {i < NPROD ? "producer" : "consumer", tt_frame_free, 0};
	return tt_spawn_at(NULL, &o, &t->frame, TT_SPAWN_SITE_());
}

START_TEST(test_chan_mpmc)
{
	mpmc m = {.per = tt_test_scaled(20000)};
	m.c = tt_chan_new(sizeof(long), CHAN_CAP);
	ck_assert_ptr_nonnull(m.c);
	atomic_init(&m.producers_left, NPROD);
	long total = (long)NPROD * m.per;
	m.seen = calloc((size_t)total, sizeof *m.seen);
	run_all(_i ? 4 : 2, NPROD + NCONS, mpmc_spawn, &m, NULL);
	ck_assert_int_eq(atomic_load(&m.count), total);
	ck_assert_int_eq(atomic_load(&m.sum), total * (total + 1) / 2);
	for (long v = 0; v < total; v++)
		ck_assert_msg(m.seen[v] == 1, "value %ld received %u times", v + 1, m.seen[v]);
	ck_assert_int_eq(atomic_load(&m.len_over), 0);
	ck_assert_int_eq(atomic_load(&m.order_bad), 0);
	ck_assert_int_eq(tt_chan_len(m.c), 0);
	ck_assert_int_eq(tt_chan_free(m.c), 0);
	free(m.seen);
}
END_TEST

/* Mutex around a plain counter, with awaits inside the critical section;
 * the cleanup of a cancelled holder unlocks (async drop), so cancelling
 * some of them never loses the mutex.  _i: 0 no cancels, 1 with cancels. */
typedef struct mtx_test {
	tt_mutex m;
	long counter; /* plain: only the mutex protects it */
	int iters, cancel;
	_Atomic int holders, overlap, owner_bad, increments;
} mtx_test;
typedef struct locker {
	tt_frame frame;
	mtx_test *t;
	int i, holding;
	long v;
	tt_lock lock;
	tt_sleep nap;
} locker;
static tt_poll locker_poll(locker *self, tt_cx *cx);
static void locker_drop(locker *self)
{
	if (self->holding) {
		atomic_fetch_sub(&self->t->holders, 1);
		ck_assert_int_eq(tt_mutex_unlock(&self->t->m), 0);
	}
}
TT_ASYNC_FN(locker, locker_poll, locker_drop);
static tt_poll locker_poll(locker *self, tt_cx *cx)
{
	mtx_test *t = self->t;
	TT_BEGIN(self);
	for (self->i = 0; self->i < t->iters; self->i++) {
		TT_AWAIT(self, cx, &self->lock, tt_lock_init(&self->lock, &t->m));
		ck_assert_int_eq(TT_RESULT(&self->lock), 0);
		self->holding = 1;
		if (atomic_fetch_add(&t->holders, 1) != 0)
			atomic_fetch_add(&t->overlap, 1);
		if (tt_mutex_owner(&t->m) != tt_task_id(tt_cx_task(cx)))
			atomic_fetch_add(&t->owner_bad, 1);
		self->v = t->counter;
		TT_YIELD(self, cx); /* others run meanwhile; they must queue */
		if (self->i % 4 == 0)
			TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_US(1)));
		if (tt_mutex_owner(&t->m) != tt_task_id(tt_cx_task(cx)))
			atomic_fetch_add(&t->owner_bad, 1);
		t->counter = self->v + 1;
		atomic_fetch_add(&t->increments, 1);
		atomic_fetch_sub(&t->holders, 1);
		self->holding = 0;
		ck_assert_int_eq(tt_mutex_unlock(&t->m), 0);
	}
	TT_RETURN(self, 0);
}
enum { NLOCKERS = 32 };
typedef struct canceller {
	tt_frame frame;
	tt_task **victims;
	int n, i;
	tt_sleep nap;
} canceller;
static tt_poll canceller_poll(canceller *self, tt_cx *cx);
TT_ASYNC_FN(canceller, canceller_poll, NULL);
/* Cancels every third victim, at whatever await point it happens to be. */
static tt_poll canceller_poll(canceller *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < self->n; self->i += 3) {
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_US(50)));
		tt_task_cancel(self->victims[self->i]);
	}
	TT_RETURN(self, 0);
}
static tt_task *locker_spawn(void *ctx, int i)
{
	mtx_test *t = ctx;
	static tt_task *victims[NLOCKERS];
	if (i == NLOCKERS) {
		canceller *c = tt_frame_alloc(sizeof *c);
		tt_frame_init(&c->frame, &canceller_fn);
		c->victims = victims;
		c->n = t->cancel ? NLOCKERS : 0;
		tt_spawn_opts o = {"canceller", tt_frame_free, 0};
		return tt_spawn_at(NULL, &o, &c->frame, TT_SPAWN_SITE_());
	}
	locker *l = tt_frame_alloc(sizeof *l);
	tt_frame_init(&l->frame, &locker_fn);
	l->t = t;
	tt_spawn_opts o = {"locker", tt_frame_free, 0};
	victims[i] = tt_spawn_at(NULL, &o, &l->frame, TT_SPAWN_SITE_());
	return victims[i];
}

START_TEST(test_mutex_counter)
{
	mtx_test t = {.iters = tt_test_scaled(300), .cancel = _i};
	tt_mutex_init(&t.m);
	intptr_t res[NLOCKERS + 1];
	run_all(4, NLOCKERS + 1, locker_spawn, &t, res);
	int finished = 0;
	for (int i = 0; i < NLOCKERS; i++) {
		ck_assert(res[i] == 0 || (t.cancel && res[i] == TT_ECANCELED));
		finished += res[i] == 0;
	}
	if (!t.cancel)
		ck_assert_int_eq(t.counter, (long)NLOCKERS * t.iters);
	ck_assert_int_ge(atomic_load(&t.increments), finished * t.iters);
	ck_assert_int_eq(t.counter, atomic_load(&t.increments));
	ck_assert_int_eq(atomic_load(&t.overlap), 0);
	ck_assert_int_eq(atomic_load(&t.owner_bad), 0);
	ck_assert_uint_eq(tt_mutex_owner(&t.m), 0);
	ck_assert_int_eq(tt_mutex_destroy(&t.m), 0);
}
END_TEST

/* Semaphore: holders of 1 or 2 permits never exceed the 3 permits, even
 * when some holders are cancelled (their cleanup releases). */
enum { PERMITS = 3, NSEM = 24 };
typedef struct sem_test {
	tt_semaphore s;
	int iters;
	_Atomic int held, max_held;
} sem_test;
typedef struct sem_user {
	tt_frame frame;
	sem_test *t;
	int i, want, holding;
	tt_acquire acq;
} sem_user;
static tt_poll sem_user_poll(sem_user *self, tt_cx *cx);
static void sem_user_drop(sem_user *self)
{
	if (self->holding) {
		atomic_fetch_sub(&self->t->held, self->want);
		tt_semaphore_release(&self->t->s, (uint64_t)self->want);
	}
}
TT_ASYNC_FN(sem_user, sem_user_poll, sem_user_drop);
static tt_poll sem_user_poll(sem_user *self, tt_cx *cx)
{
	sem_test *t = self->t;
	TT_BEGIN(self);
	for (self->i = 0; self->i < t->iters; self->i++) {
		TT_AWAIT(self, cx, &self->acq, tt_acquire_init(&self->acq, &t->s, (uint64_t)self->want));
		self->holding = 1;
		int now = atomic_fetch_add(&t->held, self->want) + self->want;
		int max = atomic_load(&t->max_held);
		while (now > max && !atomic_compare_exchange_weak(&t->max_held, &max, now))
			;
		TT_YIELD(self, cx);
		atomic_fetch_sub(&t->held, self->want);
		self->holding = 0;
		tt_semaphore_release(&t->s, (uint64_t)self->want);
	}
	TT_RETURN(self, 0);
}
static tt_task *sem_spawn(void *ctx, int i)
{
	sem_user *u = tt_frame_alloc(sizeof *u);
	tt_frame_init(&u->frame, &sem_user_fn);
	u->t = ctx;
	u->want = 1 + i % 2;
	tt_spawn_opts o = {"sem_user", tt_frame_free, 0};
	tt_task *task = tt_spawn_at(NULL, &o, &u->frame, TT_SPAWN_SITE_());
	if (i % 5 == 4) /* cancelled at whatever point it reaches first */
		tt_task_cancel(task);
	return task;
}

START_TEST(test_semaphore_bound)
{
	sem_test t = {.iters = tt_test_scaled(400)};
	tt_semaphore_init(&t.s, PERMITS);
	intptr_t res[NSEM];
	run_all(_i ? 4 : 2, NSEM, sem_spawn, &t, res);
	for (int i = 0; i < NSEM; i++)
		ck_assert_int_eq(res[i], i % 5 == 4 ? TT_ECANCELED : 0);
	ck_assert_int_le(atomic_load(&t.max_held), PERMITS);
	ck_assert_int_ge(atomic_load(&t.max_held), 1);
	ck_assert_int_eq(atomic_load(&t.held), 0);
	ck_assert_uint_eq(tt_semaphore_available(&t.s), PERMITS);
	ck_assert_int_eq(tt_semaphore_destroy(&t.s), 0);
}
END_TEST

#include "test_sync_more.h"
