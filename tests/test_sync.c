/* Sync primitives as a user sees them: correct under contention across
 * workers, cancellable at every await without stranding anyone, channel
 * backpressure and close, and error codes (never crashes) on bad input. */
#include <stdint.h>

#include "sync_util.h"

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
		CHECK(TT_RESULT(&self->op) == 0);
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
		CHECK(TT_RESULT(&self->op) == 0);
		if (tt_chan_len(m->c) > CHAN_CAP)
			atomic_fetch_add(&m->len_over, 1);
		CHECK(self->v >= 1 && self->v <= (long)NPROD * m->per);
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
static tt_handle mpmc_spawn(void *ctx, int i)
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
		if (m.seen[v] != 1)
			ck_abort_msg("value %ld received %u times", v + 1, m.seen[v]);
	ck_assert_int_eq(atomic_load(&m.len_over), 0);
	ck_assert_int_eq(atomic_load(&m.order_bad), 0);
	ck_assert_int_eq(tt_chan_len(m.c), 0);
	ck_assert_int_eq(tt_chan_free(m.c), 0);
	ck_assert_int_eq(tt_chan_free(NULL), -EINVAL);
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
		CHECK(tt_mutex_unlock(&self->t->m) == 0);
	}
}
TT_ASYNC_FN(locker, locker_poll, locker_drop);
static tt_poll locker_poll(locker *self, tt_cx *cx)
{
	mtx_test *t = self->t;
	TT_BEGIN(self);
	for (self->i = 0; self->i < t->iters; self->i++) {
		TT_AWAIT(self, cx, &self->lock, tt_lock_init(&self->lock, &t->m));
		CHECK(TT_RESULT(&self->lock) == 0);
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
		CHECK(tt_mutex_unlock(&t->m) == 0);
	}
	TT_RETURN(self, 0);
}
enum { NLOCKERS = 32 };
typedef struct canceller {
	tt_frame frame;
	tt_handle *victims;
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
static tt_handle locker_spawn(void *ctx, int i)
{
	mtx_test *t = ctx;
	static tt_handle victims[NLOCKERS];
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

/* A task that re-takes a contended mutex within one poll, never yielding,
 * still hands it to the waiter queued longer than TT_MUTEX_STARVE_NS: its
 * loop ends because its own lock waits, not at the cap.  (The unlocks
 * check for a starving head with a clock read every few times.) */
typedef struct hog_test {
	tt_mutex m;
	_Atomic int waiter_got;
	int handed;
} hog_test;
typedef struct hog {
	tt_frame frame;
	hog_test *t;
	int waiter;
	uint64_t until;
	tt_lock lock;
} hog;
static tt_poll hog_poll(hog *self, tt_cx *cx);
TT_ASYNC_FN(hog, hog_poll, NULL);
static tt_poll hog_poll(hog *self, tt_cx *cx)
{
	hog_test *t = self->t;
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->lock, tt_lock_init(&self->lock, &t->m));
	if (self->waiter) {
		atomic_store(&t->waiter_got, 1);
		CHECK(tt_mutex_unlock(&t->m) == 0);
		TT_RETURN(self, 0);
	}
	TT_YIELD(self, cx); /* the two waiters queue behind it */
	CHECK(tt_mutex_unlock(&t->m) == 0);
	self->until = tt_now_ns() + 5000000000ull;
	while (!atomic_load(&t->waiter_got) && tt_now_ns() < self->until) {
		TT_AWAIT(self, cx, &self->lock, tt_lock_init(&self->lock, &t->m));
		CHECK(tt_mutex_unlock(&t->m) == 0);
	}
	t->handed = atomic_load(&t->waiter_got);
	TT_RETURN(self, 0);
}
static tt_handle hog_spawn(void *ctx, int i)
{
	hog *h = tt_frame_alloc(sizeof *h);
	tt_frame_init(&h->frame, &hog_fn);
	h->t = ctx;
	h->waiter = i > 0;
	tt_spawn_opts o = {i ? "waiter" : "hog", tt_frame_free, 0};
	return tt_spawn_at(NULL, &o, &h->frame, TT_SPAWN_SITE_());
}

START_TEST(test_mutex_starving_handoff)
{
	hog_test t = {.waiter_got = 0, .handed = 0};
	tt_mutex_init(&t.m);
	intptr_t res[3];
	run_all(1, 3, hog_spawn, &t, res);
	ck_assert_msg(t.handed, "the hog kept the mutex for 5 s past a starving waiter");
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
static tt_handle sem_spawn(void *ctx, int i)
{
	sem_user *u = tt_frame_alloc(sizeof *u);
	tt_frame_init(&u->frame, &sem_user_fn);
	u->t = ctx;
	u->want = 1 + i % 2;
	tt_spawn_opts o = {"sem_user", tt_frame_free, 0};
	tt_handle task = tt_spawn_at(NULL, &o, &u->frame, TT_SPAWN_SITE_());
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
	/* A task cancelled right after its spawn may already have been
	 * stolen by another worker and finished: a loaded machine's
	 * scheduler decides.  Most are cancelled, none fails otherwise. */
	int cancelled = 0;
	for (int i = 0; i < NSEM; i++) {
		if (i % 5 == 4 && res[i] == TT_ECANCELED)
			cancelled++;
		else
			ck_assert_int_eq(res[i], 0);
	}
	ck_assert_int_ge(cancelled, 1);
	ck_assert_int_le(atomic_load(&t.max_held), PERMITS);
	ck_assert_int_ge(atomic_load(&t.max_held), 1);
	ck_assert_int_eq(atomic_load(&t.held), 0);
	ck_assert_uint_eq(tt_semaphore_available(&t.s), PERMITS);
	ck_assert_int_eq(tt_semaphore_destroy(&t.s), 0);
}
END_TEST

/* Notify as an event signal: producers publish items then notify_one;
 * consumers drain what is there, then wait.  A lost notification leaves
 * items nobody takes and the root's wait never ends (hang guard). */
enum { NNOTIFY = 4 };
typedef struct ntf_test {
	tt_notify n;
	int per;
	_Atomic long avail;
	_Atomic int consumed, stop, exited;
} ntf_test;
typedef struct ntf_task {
	tt_frame frame;
	ntf_test *t;
	int i;
	uint64_t deadline;
	tt_notified w;
	tt_sleep nap;
} ntf_task;
static tt_poll ntf_producer_poll(ntf_task *self, tt_cx *cx);
static tt_poll ntf_consumer_poll(ntf_task *self, tt_cx *cx);
static tt_poll ntf_root_poll(ntf_task *self, tt_cx *cx);
TT_ASYNC_FN(ntf_task, ntf_producer_poll, NULL);
static const tt_func ntf_consumer_fn = {"ntf_consumer", __FILE__, __LINE__, TT_FUNC_KIND_ASYNC,
					"ntf_task", sizeof(ntf_task), 0,
					(tt_poll_fn)ntf_consumer_poll, NULL};
static tt_poll ntf_producer_poll(ntf_task *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < self->t->per; self->i++) {
		atomic_fetch_add(&self->t->avail, 1);
		tt_notify_one(&self->t->n);
		if (self->i % 16 == 0)
			TT_YIELD(self, cx);
	}
	TT_RETURN(self, 0);
}
static tt_poll ntf_consumer_poll(ntf_task *self, tt_cx *cx)
{
	ntf_test *t = self->t;
	TT_BEGIN(self);
	while (!atomic_load(&t->stop)) {
		long a = atomic_load(&t->avail);
		if (a > 0) {
			if (atomic_compare_exchange_strong(&t->avail, &a, a - 1))
				atomic_fetch_add(&t->consumed, 1);
			continue;
		}
		TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &t->n));
	}
	atomic_fetch_add(&t->exited, 1);
	TT_RETURN(self, 0);
}
static tt_poll ntf_root_poll(ntf_task *self, tt_cx *cx)
{
	ntf_test *t = self->t;
	TT_BEGIN(self);
	for (self->i = 0; self->i < 2 * NNOTIFY; self->i++) {
		ntf_task *c = tt_frame_alloc(sizeof *c);
		tt_frame_init(&c->frame, self->i < NNOTIFY ? &ntf_task_fn : &ntf_consumer_fn);
		c->t = t;
		tt_spawn_opts o = {"notify", tt_frame_free, 0};
		tt_task_detach(tt_spawn_at(NULL, &o, &c->frame, TT_SPAWN_SITE_()));
	}
	self->deadline = tt_now_ns() + HANG_GUARD_NS;
	while (atomic_load(&t->consumed) < NNOTIFY * t->per) {
		ck_assert_msg(tt_now_ns() < self->deadline, "notification lost: %d of %d consumed",
			      atomic_load(&t->consumed), NNOTIFY * t->per);
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_US(200)));
	}
	/* Stop the consumers (notify_all reaches only those already waiting,
	 * so repeat until all left). */
	atomic_store(&t->stop, 1);
	while (atomic_load(&t->exited) < NNOTIFY) {
		tt_notify_all(&t->n);
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_US(200)));
	}
	TT_RETURN(self, 0);
}

START_TEST(test_notify_contention)
{
	ntf_test t = {.per = tt_test_scaled(20000)};
	tt_notify_init(&t.n);
	tt_runtime *rt = tt_test_runtime(_i ? 4 : 2);
	ntf_task root;
	tt_frame_init(&root.frame, &ntf_task_fn);
	static const tt_func root_fn = {"ntf_root", __FILE__, __LINE__, TT_FUNC_KIND_ASYNC,
					"ntf_task", sizeof(ntf_task), 0, (tt_poll_fn)ntf_root_poll, NULL};
	root.frame.func = &root_fn;
	root.t = &t;
	ck_assert_int_eq(tt_block_on(rt, &root.frame), 0);
	tt_runtime_free(rt);
	ck_assert_int_eq(atomic_load(&t.consumed), NNOTIFY * t.per);
	ck_assert_int_eq(atomic_load(&t.avail), 0);
	tt_notify_destroy(&t.n);
}
END_TEST

/* Oneshot across workers: each of many receivers gets its own sender's
 * value exactly. */
enum { NONESHOT = 400 };
typedef struct os_sender {
	tt_frame frame;
	tt_oneshot *o;
	intptr_t v;
} os_sender;
static tt_poll os_sender_poll(os_sender *self, tt_cx *cx);
TT_ASYNC_FN(os_sender, os_sender_poll, NULL);
static tt_poll os_sender_poll(os_sender *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_YIELD(self, cx); /* usually lets the receiver wait first */
	tt_oneshot_bind_producer(self->o);
	TT_RETURN(self, tt_oneshot_send(self->o, self->v));
}
typedef struct os_test {
	tt_oneshot o[NONESHOT];
	awaiter rx[NONESHOT];
} os_test;
static tt_handle oneshot_spawn(void *ctx, int i)
{
	os_test *t = ctx;
	int k = i / 2;
	if (i % 2 == 0) {
		awaiter_init(&t->rx[k], AW_ONESHOT, &t->o[k], 0);
		return spawn_frame("os_recv", &t->rx[k].frame);
	}
	os_sender *s = tt_frame_alloc(sizeof *s);
	tt_frame_init(&s->frame, &os_sender_fn);
	s->o = &t->o[k];
	s->v = 1000 + k;
	tt_spawn_opts o = {"os_send", tt_frame_free, 0};
	return tt_spawn_at(NULL, &o, &s->frame, TT_SPAWN_SITE_());
}

START_TEST(test_oneshot_contention)
{
	os_test *t = calloc(1, sizeof *t);
	for (int k = 0; k < NONESHOT; k++)
		tt_oneshot_init(&t->o[k]);
	intptr_t res[2 * NONESHOT];
	run_all(4, 2 * NONESHOT, oneshot_spawn, t, res);
	for (int k = 0; k < NONESHOT; k++) {
		ck_assert_int_eq(res[2 * k], 1000 + k);   /* receiver */
		ck_assert_int_eq(res[2 * k + 1], 0);      /* sender */
		ck_assert_int_eq(t->rx[k].val, 1000 + k);
		tt_oneshot_destroy(&t->o[k]);
	}
	free(t);
}
END_TEST

/* ================= 3. backpressure ================= */

/* A send wrapper that reports each time the send had to suspend. */
enum { BP_CAP = 4 };
typedef struct bp_test {
	tt_chan *c;
	int n;
	_Atomic int blocked, pending_polls, len_over;
} bp_test;
typedef struct counted_send {
	tt_frame frame;
	bp_test *b;
	tt_send send;
} counted_send;
static tt_poll counted_send_poll(counted_send *self, tt_cx *cx)
{
	self->frame.child = &self->send.leaf.frame;
	if (tt_frame_poll(&self->send.leaf.frame, cx) == TT_PENDING) {
		atomic_fetch_add(&self->b->pending_polls, 1);
		atomic_store(&self->b->blocked, 1);
		return TT_PENDING;
	}
	self->frame.child = NULL;
	self->frame.result = TT_RESULT(&self->send);
	return TT_READY;
}
TT_ASYNC_FN(counted_send, counted_send_poll, NULL);
typedef struct bp_producer {
	tt_frame frame;
	bp_test *b;
	long i;
	counted_send cs;
} bp_producer;
static tt_poll bp_producer_poll(bp_producer *self, tt_cx *cx);
TT_ASYNC_FN(bp_producer, bp_producer_poll, NULL);
static tt_poll bp_producer_poll(bp_producer *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < self->b->n; self->i++) {
		TT_AWAIT(self, cx, &self->cs,
			 (tt_frame_init(&self->cs.frame, &counted_send_fn), self->cs.b = self->b,
			  tt_send_init(&self->cs.send, self->b->c, &self->i)));
		CHECK(TT_RESULT(&self->cs) == 0);
		if (tt_chan_len(self->b->c) > BP_CAP)
			atomic_fetch_add(&self->b->len_over, 1);
	}
	TT_RETURN(self, 0);
}
/* The slow consumer: before each receive it waits until the producer is
 * seen suspended in its send (its counter says so and the registry shows
 * the task idle) whenever the producer still has more than fits. */
typedef struct bp_consumer {
	tt_frame frame;
	bp_test *b;
	bp_producer prod;
	tt_handle pt;
	long k, v;
	int observed;
	uint64_t deadline;
	tt_recv rx;
	tt_sleep nap;
	tt_join join;
} bp_consumer;
static tt_poll bp_consumer_poll(bp_consumer *self, tt_cx *cx);
TT_ASYNC_FN(bp_consumer, bp_consumer_poll, NULL);
static tt_poll bp_consumer_poll(bp_consumer *self, tt_cx *cx)
{
	bp_test *b = self->b;
	TT_BEGIN(self);
	tt_frame_init(&self->prod.frame, &bp_producer_fn);
	self->prod.b = b;
	self->pt = spawn_frame("producer", &self->prod.frame);
	for (self->k = 0; self->k < b->n; self->k++) {
		if (b->n - self->k > BP_CAP) {
			self->deadline = tt_now_ns() + HANG_GUARD_NS;
			while (!atomic_load(&b->blocked) || !task_idle(self->pt)) {
				ck_assert_msg(tt_now_ns() < self->deadline,
					      "producer never suspended with %ld to go", b->n - self->k);
				TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_US(100)));
			}
			/* It suspends only when the channel is full. */
			CHECK(tt_chan_len(b->c) == BP_CAP);
			atomic_store(&b->blocked, 0);
			self->observed++;
		}
		TT_AWAIT(self, cx, &self->rx, tt_recv_init(&self->rx, b->c, &self->v));
		CHECK(TT_RESULT(&self->rx) == 0);
		CHECK(self->v == self->k); /* FIFO */
		CHECK(tt_chan_len(b->c) <= BP_CAP);
	}
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->pt));
	ck_assert_int_eq(TT_RESULT(&self->join), 0);
	TT_RETURN(self, self->observed);
}

START_TEST(test_chan_backpressure)
{
	bp_test b = {.n = tt_test_scaled(400) + 2 * BP_CAP};
	b.c = tt_chan_new(sizeof(long), BP_CAP);
	ck_assert_uint_eq(tt_chan_capacity(b.c), BP_CAP);
	tt_runtime *rt = tt_test_runtime(2);
	bp_consumer c;
	tt_frame_init(&c.frame, &bp_consumer_fn);
	c.b = &b;
	c.observed = 0;
	intptr_t observed = tt_block_on(rt, &c.frame);
	tt_runtime_free(rt);
	ck_assert_int_eq(observed, b.n - BP_CAP);
	ck_assert_int_ge(atomic_load(&b.pending_polls), b.n - BP_CAP);
	ck_assert_int_eq(atomic_load(&b.len_over), 0);
	ck_assert_int_eq(tt_chan_free(b.c), 0);
}
END_TEST

/* ================= 2. cancellation at each await =================
 * Scripts on a current-thread runtime: between two steps nothing else runs,
 * so "woken with a turn, then cancelled before it could use it" is exact. */

typedef struct cx_ctx {
	tt_chan *c;
	tt_mutex m;
	tt_semaphore s;
	tt_oneshot o, o2;
	tt_notify n;
	awaiter a[4];
	tt_handle t[4];
} cx_ctx;

static void start(cx_ctx *x, int k, int kind, void *obj, intptr_t val)
{
	awaiter_init(&x->a[k], kind, obj, val);
	x->t[k] = spawn_frame("waiter", &x->a[k].frame);
}
static int idle_all(cx_ctx *x, int from, int to)
{
	for (int k = from; k < to; k++)
		if (!task_idle(x->t[k]))
			return 0;
	return 1;
}
static int done_all(cx_ctx *x, int from, int to)
{
	for (int k = from; k < to; k++)
		if (!tt_task_is_done(x->t[k]))
			return 0;
	return 1;
}
/* A cancelled waiter: result, its cleanup ran once, it let go of every
 * waker, and the handle is released. */
static void check_cancelled(cx_ctx *x, int k)
{
	ck_assert_int_eq(tt_task_result(x->t[k]), TT_ECANCELED);
	ck_assert_int_eq(atomic_load(&x->a[k].drops), 1);
	ck_assert_int_eq(atomic_load(&x->a[k].got), 0);
	ck_assert_uint_eq(tt_test_task_field(x->t[k], TT_TASK_WAKERS), 0);
}
static void release_all(cx_ctx *x, int n)
{
	for (int k = 0; k < n; k++)
		tt_task_release(x->t[k]);
}

/* A task that takes the mutex while others are queued ("barging", the
 * lock's inline first poll) must be named as the owner in their wait
 * records, or the deadlock detector draws their edges to the previous
 * holder.  A holder keeps the mutex until notified. */
typedef struct barger {
	tt_frame frame;
	tt_mutex *m;
	tt_notify *start, *go;
	const tt_wait *queued; /* a waiter's wait record, read as it takes */
	uint64_t named;
	tt_lock lock;
	tt_notified nt;
} barger;
static tt_poll barger_poll(barger *self, tt_cx *cx);
TT_ASYNC_FN(barger, barger_poll, NULL);
static tt_poll barger_poll(barger *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->nt, tt_notified_init(&self->nt, self->start));
	TT_AWAIT(self, cx, &self->lock, tt_lock_init(&self->lock, self->m));
	self->named = self->queued->owner; /* before the woken waiter runs */
	TT_AWAIT(self, cx, &self->nt, tt_notified_init(&self->nt, self->go));
	CHECK(tt_mutex_unlock(self->m) == 0);
	TT_RETURN(self, 0);
}

typedef struct barge_ctx {
	cx_ctx x;
	barger b;
	tt_notify start;
	tt_handle bt;
	uint64_t script_id;
} barge_ctx;

static int barge_step(void *p, int i)
{
	barge_ctx *c = p;
	cx_ctx *x = &c->x;
	switch (i) {
	case 0: ck_assert_int_eq(tt_mutex_trylock(&x->m), 0); /* the script holds it */
		c->script_id = tt_task_id(tt_current_task());
		for (int k = 0; k < 2; k++)
			start(x, k, AW_LOCK, &x->m, 0);
		tt_frame_init(&c->b.frame, &barger_fn);
		c->bt = spawn_frame("barger", &c->b.frame);
		return STEP_NEXT;
	case 1: WAIT_UNTIL(idle_all(x, 0, 2) && task_idle(c->bt));
		ck_assert_uint_eq(x->a[1].u.lock.leaf.wait.owner, c->script_id);
		/* Wakes the barger, then a[0]: in this order they run, so the
		 * barger's first lock poll finds the mutex free with a[1]
		 * queued. */
		tt_notify_one(&c->start);
		ck_assert_int_eq(tt_mutex_unlock(&x->m), 0);
		return STEP_NEXT;
	case 2: WAIT_UNTIL(tt_mutex_owner(&x->m) != 0);
		ck_assert_uint_eq(tt_mutex_owner(&x->m), tt_task_id(c->bt));
		ck_assert_int_eq(atomic_load(&x->a[0].got), 0);
		ck_assert_uint_eq(c->b.named, tt_task_id(c->bt));
		WAIT_UNTIL(idle_all(x, 0, 2));
		ck_assert_uint_eq(x->a[1].u.lock.leaf.wait.owner, tt_task_id(c->bt));
		tt_notify_one(c->b.go);
		return STEP_NEXT;
	case 3: WAIT_UNTIL(done_all(x, 0, 2) && tt_task_is_done(c->bt));
		ck_assert_int_eq(tt_task_result(x->t[0]), 0);
		ck_assert_int_eq(tt_task_result(x->t[1]), 0);
		ck_assert_int_eq(tt_task_result(c->bt), 0);
		release_all(x, 2);
		tt_task_release(c->bt);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_mutex_barger_named_owner)
{
	static barge_ctx c;
	memset(&c, 0, sizeof c);
	tt_mutex_init(&c.x.m);
	tt_notify_init(&c.x.n);
	tt_notify_init(&c.start);
	c.b.m = &c.x.m;
	c.b.start = &c.start;
	c.b.go = &c.x.n;
	c.b.queued = &c.x.a[1].u.lock.leaf.wait;
	run_script(0, barge_step, &c);
	ck_assert_int_eq(tt_mutex_destroy(&c.x.m), 0);
	tt_notify_destroy(&c.x.n);
	tt_notify_destroy(&c.start);
}
END_TEST

/* recv: the receiver woken by a send is cancelled; the value goes to the
 * next receiver. */
static int recv_cancel_step(void *p, int i)
{
	cx_ctx *x = p;
	intptr_t v = 42;
	switch (i) {
	case 0: start(x, 0, AW_RECV, x->c, 0); start(x, 1, AW_RECV, x->c, 0); return STEP_NEXT;
	case 1: WAIT_UNTIL(idle_all(x, 0, 2));
		ck_assert_int_eq(tt_chan_try_send(x->c, &v), 0); /* wakes a[0] */
		tt_task_cancel(x->t[0]);
		return STEP_NEXT;
	case 2: WAIT_UNTIL(done_all(x, 0, 2));
		check_cancelled(x, 0);
		ck_assert_int_eq(tt_task_result(x->t[1]), 0);
		ck_assert_int_eq(x->a[1].val, 42);
		ck_assert_uint_eq(tt_chan_len(x->c), 0);
		release_all(x, 2);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* send: the sender woken by a receive is cancelled; the next sender's value
 * goes in, the cancelled one's never does. */
static int send_cancel_step(void *p, int i)
{
	cx_ctx *x = p;
	intptr_t v = 1;
	switch (i) {
	case 0: ck_assert_int_eq(tt_chan_try_send(x->c, &v), 0);
		for (int k = 1; k < 4; k++) /* capacity 4: full now */
			ck_assert_int_eq(tt_chan_try_send(x->c, &v), 0);
		start(x, 0, AW_SEND, x->c, 2); start(x, 1, AW_SEND, x->c, 3);
		return STEP_NEXT;
	case 1: WAIT_UNTIL(idle_all(x, 0, 2));
		ck_assert_int_eq(tt_chan_try_recv(x->c, &v), 0); /* wakes a[0] */
		tt_task_cancel(x->t[0]);
		return STEP_NEXT;
	case 2: WAIT_UNTIL(done_all(x, 0, 2));
		check_cancelled(x, 0);
		ck_assert_int_eq(tt_task_result(x->t[1]), 0);
		for (int k = 0; k < 3; k++)
			ck_assert_int_eq(tt_chan_try_recv(x->c, &v), 0);
		ck_assert_int_eq(tt_chan_try_recv(x->c, &v), 0);
		ck_assert_int_eq(v, 3);
		ck_assert_int_eq(tt_chan_try_recv(x->c, &v), -EAGAIN);
		release_all(x, 2);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_cancel_chan_waiters)
{
	cx_ctx x = {0};
	x.c = tt_chan_new(sizeof(intptr_t), 4);
	run_script(0, _i ? send_cancel_step : recv_cancel_step, &x);
	ck_assert_int_eq(tt_chan_free(x.c), 0);
}
END_TEST

/* lock: a queued waiter cancelled leaves the queue; the waiter handed the
 * mutex by unlock and then cancelled passes it on. */
static int lock_cancel_step(void *p, int i)
{
	cx_ctx *x = p;
	switch (i) {
	case 0: ck_assert_int_eq(tt_mutex_trylock(&x->m), 0); /* the script holds it */
		for (int k = 0; k < 3; k++)
			start(x, k, AW_LOCK, &x->m, 0);
		return STEP_NEXT;
	case 1: WAIT_UNTIL(idle_all(x, 0, 3));
		tt_task_cancel(x->t[1]); /* queued in the middle, never handed */
		return STEP_NEXT;
	case 2: WAIT_UNTIL(done_all(x, 1, 2));
		check_cancelled(x, 1);
		/* Queued past the starvation bound: unlock hands it over. */
		tt_test_sleep_us(2 * TT_MUTEX_STARVE_NS / 1000);
		ck_assert_int_eq(tt_mutex_unlock(&x->m), 0);
		ck_assert_uint_eq(tt_mutex_owner(&x->m), tt_task_id(x->t[0])); /* handed */
		tt_task_cancel(x->t[0]);
		return STEP_NEXT;
	case 3: WAIT_UNTIL(done_all(x, 0, 3));
		check_cancelled(x, 0);
		ck_assert_int_eq(tt_task_result(x->t[2]), 0);
		ck_assert_int_eq(atomic_load(&x->a[2].owner_ok), 1);
		ck_assert_uint_eq(tt_mutex_owner(&x->m), 0);
		release_all(x, 3);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* acquire: strict FIFO (a small request does not overtake a large one);
 * a granted-then-cancelled waiter returns its permits to the next. */
static int acquire_cancel_step(void *p, int i)
{
	cx_ctx *x = p;
	switch (i) {
	case 0: start(x, 0, AW_ACQUIRE, &x->s, 3);
		start(x, 1, AW_ACQUIRE, &x->s, 1);
		start(x, 2, AW_ACQUIRE, &x->s, 1);
		return STEP_NEXT;
	case 1: WAIT_UNTIL(idle_all(x, 0, 3));
		/* 1 permit free, but a[1] queues behind a[0]'s request for 3. */
		ck_assert_uint_eq(tt_semaphore_available(&x->s), 1);
		ck_assert_int_eq(tt_semaphore_try_acquire(&x->s, 1), -EAGAIN);
		ck_assert_int_eq(tt_semaphore_destroy(&x->s), -EBUSY);
		tt_task_cancel(x->t[2]); /* queued, never granted */
		return STEP_NEXT;
	case 2: WAIT_UNTIL(done_all(x, 2, 3));
		check_cancelled(x, 2);
		ck_assert(!tt_task_is_done(x->t[1]));
		tt_semaphore_release(&x->s, 2); /* grants a[0] its 3 */
		ck_assert_uint_eq(tt_semaphore_available(&x->s), 0);
		tt_task_cancel(x->t[0]);
		return STEP_NEXT;
	case 3: WAIT_UNTIL(done_all(x, 0, 2));
		check_cancelled(x, 0);
		ck_assert_int_eq(tt_task_result(x->t[1]), 0);
		ck_assert_uint_eq(tt_semaphore_available(&x->s), 3);
		release_all(x, 3);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* oneshot recv: a cancelled receiver leaves; the value still reaches a
 * later one. */
static int oneshot_cancel_step(void *p, int i)
{
	cx_ctx *x = p;
	switch (i) {
	case 0: start(x, 0, AW_ONESHOT, &x->o, 0); return STEP_NEXT;
	case 1: WAIT_UNTIL(idle_all(x, 0, 1)); tt_task_cancel(x->t[0]); return STEP_NEXT;
	case 2: WAIT_UNTIL(done_all(x, 0, 1));
		check_cancelled(x, 0);
		ck_assert_ptr_null(x->o.waiters.head);
		ck_assert_int_eq(tt_oneshot_send(&x->o, 77), 0);
		start(x, 1, AW_ONESHOT, &x->o, 0);
		return STEP_NEXT;
	case 3: WAIT_UNTIL(done_all(x, 1, 2));
		ck_assert_int_eq(tt_task_result(x->t[1]), 77);
		release_all(x, 2);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* notified: notify_one handed to a waiter that is then cancelled goes to
 * the next one, and is not also stored as a permit. */
static int notify_cancel_step(void *p, int i)
{
	cx_ctx *x = p;
	switch (i) {
	case 0: start(x, 0, AW_NOTIFIED, &x->n, 0); start(x, 1, AW_NOTIFIED, &x->n, 0);
		start(x, 2, AW_NOTIFIED, &x->n, 0);
		return STEP_NEXT;
	case 1: WAIT_UNTIL(idle_all(x, 0, 3));
		tt_notify_one(&x->n);
		tt_task_cancel(x->t[0]);
		return STEP_NEXT;
	case 2: WAIT_UNTIL(done_all(x, 0, 2));
		check_cancelled(x, 0);
		ck_assert_int_eq(tt_task_result(x->t[1]), 0);
		ck_assert(!tt_task_is_done(x->t[2])); /* one notification, one waiter */
		ck_assert_int_eq(x->n.permit, 0);
		tt_notify_all(&x->n);
		return STEP_NEXT;
	case 3: WAIT_UNTIL(done_all(x, 2, 3));
		ck_assert_int_eq(x->n.permit, 0); /* notify_all stores nothing */
		release_all(x, 3);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_cancel_sync_waiters)
{
	static const step_fn steps[] = {lock_cancel_step, acquire_cancel_step, oneshot_cancel_step,
					notify_cancel_step};
	cx_ctx x = {0};
	tt_mutex_init(&x.m);
	tt_semaphore_init(&x.s, 1);
	tt_oneshot_init(&x.o);
	tt_notify_init(&x.n);
	uint64_t live0 = tt_test_tasks_live();
	run_script(0, steps[_i], &x);
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
	ck_assert_int_eq(tt_mutex_destroy(&x.m), 0);
	ck_assert_int_eq(tt_semaphore_destroy(&x.s), 0);
	tt_oneshot_destroy(&x.o);
	tt_notify_destroy(&x.n);
}
END_TEST

/* ================= 4. channel close ================= */

static int close_step(void *p, int i)
{
	cx_ctx *x = p;
	intptr_t v = 0;
	switch (i) {
	case 0: /* two receivers wait on an empty channel */
		ck_assert_int_eq(tt_chan_try_recv(x->c, &v), -EAGAIN);
		start(x, 0, AW_RECV, x->c, 0); start(x, 1, AW_RECV, x->c, 0);
		return STEP_NEXT;
	case 1: WAIT_UNTIL(idle_all(x, 0, 2));
		ck_assert_int_eq(tt_chan_free(x->c), -EBUSY); /* still awaited */
		ck_assert_int_eq(tt_chan_close(x->c), 0);
		ck_assert_int_eq(tt_chan_close(x->c), -EALREADY);
		return STEP_NEXT;
	case 2: WAIT_UNTIL(done_all(x, 0, 2));
		for (int k = 0; k < 2; k++)
			ck_assert_int_eq(tt_task_result(x->t[k]), -EPIPE);
		ck_assert_int_eq(tt_chan_try_send(x->c, &v), -EPIPE);
		ck_assert_int_eq(tt_chan_try_recv(x->c, &v), -EPIPE);
		release_all(x, 2);
		return STEP_DONE;
	}
	return STEP_DONE;
}

static int close_drain_step(void *p, int i)
{
	cx_ctx *x = p;
	intptr_t v;
	switch (i) {
	case 0: /* capacity 4, filled with 10..13; two senders wait */
		for (v = 10; v < 14; v++)
			ck_assert_int_eq(tt_chan_try_send(x->c, &v), 0);
		ck_assert_int_eq(tt_chan_try_send(x->c, &v), -EAGAIN);
		start(x, 0, AW_SEND, x->c, 20); start(x, 1, AW_SEND, x->c, 21);
		return STEP_NEXT;
	case 1: WAIT_UNTIL(idle_all(x, 0, 2));
		ck_assert_int_eq(tt_chan_close(x->c), 0);
		return STEP_NEXT;
	case 2: WAIT_UNTIL(done_all(x, 0, 2));
		for (int k = 0; k < 2; k++)
			ck_assert_int_eq(tt_task_result(x->t[k]), -EPIPE);
		release_all(x, 2);
		ck_assert_uint_eq(tt_chan_len(x->c), 4);
		ck_assert_int_eq(tt_chan_try_send(x->c, &v), -EPIPE);
		ck_assert_int_eq(tt_chan_try_recv(x->c, &v), 0); /* drains in order */
		ck_assert_int_eq(v, 10);
		start(x, 0, AW_RECV, x->c, 0); start(x, 1, AW_RECV, x->c, 0);
		start(x, 2, AW_SEND, x->c, 30); /* a new send fails at once */
		return STEP_NEXT;
	case 3: WAIT_UNTIL(done_all(x, 0, 3));
		ck_assert_int_eq(x->a[0].val, 11);
		ck_assert_int_eq(x->a[1].val, 12);
		ck_assert_int_eq(tt_task_result(x->t[2]), -EPIPE);
		ck_assert_int_eq(tt_chan_try_recv(x->c, &v), 0);
		ck_assert_int_eq(v, 13);
		ck_assert_int_eq(tt_chan_try_recv(x->c, &v), -EPIPE);
		start(x, 3, AW_RECV, x->c, 0);
		return STEP_NEXT;
	case 4: WAIT_UNTIL(done_all(x, 3, 4));
		ck_assert_int_eq(tt_task_result(x->t[3]), -EPIPE);
		release_all(x, 4);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_chan_close)
{
	cx_ctx x = {0};
	x.c = tt_chan_new(sizeof(intptr_t), 4);
	run_script(0, _i ? close_drain_step : close_step, &x);
	ck_assert_int_eq(tt_chan_free(x.c), 0);
}
END_TEST

/* ================= 5. bad input ================= */

/* Free right after close: the receivers close woke have not run yet and
 * still touch the channel, so the free must wait for them (-EBUSY). */
typedef struct closer {
	tt_frame frame;
	tt_chan *c;
	int i, busy_before, freed_after;
	tt_handle rx[3];
	tt_join join;
} closer;
typedef struct close_rx {
	tt_frame frame;
	tt_chan *c;
	intptr_t v;
	tt_recv r;
} close_rx;
static tt_poll close_rx_poll(close_rx *self, tt_cx *cx);
TT_ASYNC_FN(close_rx, close_rx_poll, NULL);
static void close_rx_init(close_rx *r, tt_chan *c)
{
	tt_frame_init(&r->frame, &close_rx_fn);
	r->c = c;
}
static tt_poll close_rx_poll(close_rx *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->r, tt_recv_init(&self->r, self->c, &self->v));
	TT_RETURN(self, TT_RESULT(&self->r));
}
static tt_poll closer_poll(closer *self, tt_cx *cx);
TT_ASYNC_FN(closer, closer_poll, NULL);
static tt_poll closer_poll(closer *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < 3; self->i++)
		self->rx[self->i] = TT_SPAWN(NULL, "rx", close_rx, close_rx_init, self->c);
	TT_YIELD(self, cx); /* current thread: all three are now waiting */
	ck_assert_int_eq(tt_chan_close(self->c), 0);
	self->busy_before = tt_chan_free(self->c) == -EBUSY;
	for (self->i = 0; self->i < 3; self->i++) {
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->rx[self->i]));
		ck_assert_int_eq(TT_RESULT(&self->join), -EPIPE);
	}
	self->freed_after = tt_chan_free(self->c) == 0;
	TT_RETURN(self, 0);
}

START_TEST(test_chan_free_after_close)
{
	tt_runtime *rt = tt_test_runtime(0);
	closer c = {0};
	tt_frame_init(&c.frame, &closer_fn);
	c.c = tt_chan_new(sizeof(intptr_t), 2);
	ck_assert_int_eq(tt_block_on(rt, &c.frame), 0);
	ck_assert_int_eq(c.busy_before, 1);
	ck_assert_int_eq(c.freed_after, 1);
	tt_runtime_free(rt);
}
END_TEST

START_TEST(test_chan_bad_sizes)
{
	errno = 0;
	ck_assert_ptr_null(tt_chan_new(0, 4));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(tt_chan_new(8, 0));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(tt_chan_new(8, SIZE_MAX));
	ck_assert_ptr_null(tt_chan_new(SIZE_MAX, 2));
	ck_assert_ptr_null(tt_chan_new((size_t)1 << 32, (size_t)1 << 32)); /* product wraps */
	ck_assert_ptr_null(tt_chan_new(1, (size_t)1 << 40));
	tt_chan *c = tt_chan_new(8, 3);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(tt_chan_capacity(c), 3);
	ck_assert_uint_eq(tt_chan_len(c), 0);
	ck_assert_int_eq(tt_chan_free(c), 0);
}
END_TEST

typedef struct unlocker {
	tt_frame frame;
	tt_mutex *m;
} unlocker;
static tt_poll unlocker_poll(unlocker *self, tt_cx *cx)
{
	(void)cx;
	self->frame.result = tt_mutex_unlock(self->m);
	return TT_READY;
}
TT_ASYNC_FN(unlocker, unlocker_poll, NULL);
static int mutex_misuse_step(void *p, int i)
{
	cx_ctx *x = p;
	static unlocker u;
	switch (i) {
	case 0: ck_assert_int_eq(tt_mutex_unlock(&x->m), -EPERM); /* free */
		ck_assert_int_eq(tt_mutex_trylock(&x->m), 0);
		ck_assert_uint_eq(tt_mutex_owner(&x->m), tt_task_id(tt_current_task()));
		ck_assert_int_eq(tt_mutex_trylock(&x->m), -EBUSY); /* not recursive */
		ck_assert_int_eq(tt_mutex_destroy(&x->m), -EBUSY);
		tt_frame_init(&u.frame, &unlocker_fn);
		u.m = &x->m;
		x->t[0] = spawn_frame("unlocker", &u.frame);
		return STEP_NEXT;
	case 1: WAIT_UNTIL(tt_task_is_done(x->t[0]));
		ck_assert_int_eq(tt_task_result(x->t[0]), -EPERM); /* not the holder */
		ck_assert_uint_eq(tt_mutex_owner(&x->m), tt_task_id(tt_current_task()));
		ck_assert_int_eq(tt_mutex_unlock(&x->m), 0);
		ck_assert_int_eq(tt_mutex_unlock(&x->m), -EPERM); /* twice */
		tt_task_release(x->t[0]);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_sync_misuse)
{
	cx_ctx x = {0};
	tt_mutex_init(&x.m);
	/* Outside any task. */
	ck_assert_int_eq(tt_mutex_unlock(&x.m), -EPERM);
	ck_assert_int_eq(tt_mutex_trylock(&x.m), -EPERM);
	run_script(2, mutex_misuse_step, &x);
	ck_assert_uint_eq(tt_mutex_owner(&x.m), 0);
	ck_assert_int_eq(tt_mutex_destroy(&x.m), 0);

	/* Oneshot: one value, once. */
	tt_oneshot_init(&x.o);
	ck_assert_int_eq(tt_oneshot_send(&x.o, 5), 0);
	ck_assert_int_eq(tt_oneshot_send(&x.o, 6), -EALREADY);
	ck_assert_int_eq(tt_oneshot_close(&x.o), -EALREADY);
	tt_oneshot_destroy(&x.o);
	tt_oneshot_init(&x.o);
	ck_assert_int_eq(tt_oneshot_close(&x.o), 0);
	ck_assert_int_eq(tt_oneshot_close(&x.o), -EALREADY);
	ck_assert_int_eq(tt_oneshot_send(&x.o, 5), -EALREADY);
	tt_oneshot_destroy(&x.o);

	/* Semaphore: a request larger than what is free fails without waiting. */
	tt_semaphore_init(&x.s, 2);
	ck_assert_int_eq(tt_semaphore_try_acquire(&x.s, 3), -EAGAIN);
	ck_assert_int_eq(tt_semaphore_try_acquire(&x.s, 2), 0);
	ck_assert_int_eq(tt_semaphore_try_acquire(&x.s, 1), -EAGAIN);
	tt_semaphore_release(&x.s, 2);
	ck_assert_uint_eq(tt_semaphore_available(&x.s), 2);
	ck_assert_int_eq(tt_semaphore_destroy(&x.s), 0);
}
END_TEST

/* Oneshot receive outcomes: the value once, then -EALREADY; -EPIPE after the
 * producer closed it, also for a receiver already waiting. */
static int oneshot_outcomes_step(void *p, int i)
{
	cx_ctx *x = p;
	switch (i) {
	case 0: ck_assert_int_eq(tt_oneshot_send(&x->o, 9), 0);
		start(x, 0, AW_ONESHOT, &x->o, 0);
		return STEP_NEXT;
	case 1: WAIT_UNTIL(done_all(x, 0, 1));
		ck_assert_int_eq(tt_task_result(x->t[0]), 9);
		start(x, 1, AW_ONESHOT, &x->o, 0); /* taken already */
		start(x, 2, AW_ONESHOT, &x->o2, 0); /* waits */
		return STEP_NEXT;
	case 2: WAIT_UNTIL(done_all(x, 1, 2) && idle_all(x, 2, 3));
		ck_assert_int_eq(tt_task_result(x->t[1]), -EALREADY);
		ck_assert_int_eq(tt_oneshot_close(&x->o2), 0);
		return STEP_NEXT;
	case 3: WAIT_UNTIL(done_all(x, 2, 3));
		ck_assert_int_eq(tt_task_result(x->t[2]), -EPIPE);
		start(x, 3, AW_ONESHOT, &x->o2, 0); /* after close */
		return STEP_NEXT;
	case 4: WAIT_UNTIL(done_all(x, 3, 4));
		ck_assert_int_eq(tt_task_result(x->t[3]), -EPIPE);
		release_all(x, 4);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_oneshot_outcomes)
{
	cx_ctx x = {0};
	tt_oneshot_init(&x.o);
	tt_oneshot_init(&x.o2);
	run_script(0, oneshot_outcomes_step, &x);
	tt_oneshot_destroy(&x.o);
	tt_oneshot_destroy(&x.o2);
}
END_TEST

static Suite *sync_suite(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = tcase_create("sync");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_chan_mpmc, 0, 2);
	tcase_add_loop_test(tc, test_mutex_counter, 0, 2);
	tcase_add_loop_test(tc, test_semaphore_bound, 0, 2);
	tcase_add_loop_test(tc, test_notify_contention, 0, 2);
	tcase_add_test(tc, test_oneshot_contention);
	tcase_add_test(tc, test_mutex_starving_handoff);
	tcase_add_test(tc, test_mutex_barger_named_owner);
	tcase_add_loop_test(tc, test_cancel_chan_waiters, 0, 2);
	tcase_add_loop_test(tc, test_cancel_sync_waiters, 0, 4);
	tcase_add_test(tc, test_chan_backpressure);
	tcase_add_loop_test(tc, test_chan_close, 0, 2);
	tcase_add_test(tc, test_chan_free_after_close);
	tcase_add_test(tc, test_chan_bad_sizes);
	tcase_add_test(tc, test_sync_misuse);
	tcase_add_test(tc, test_oneshot_outcomes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sync_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
