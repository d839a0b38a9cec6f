/* Timers as a user sees them: sleeps finish in deadline order and never
 * early, a due sleep does not suspend, intervals stay on their grid and skip
 * what they missed, and the heap survives many concurrent timers.  No
 * assertion bounds how late anything is: this machine is noisy. */
#include "tasktrace/read/reader.h"
#include "test_util.h"

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* ---- completion order ---- */

enum { ORDER_TASKS = 300, ORDER_BATCH = 100 };

typedef struct order_run {
	uint64_t deadline[ORDER_TASKS];
	int done[ORDER_TASKS], ndone;
	uint64_t last_first_poll, early;
} order_run;

typedef struct order_sleeper {
	tt_frame frame;
	order_run *r;
	int i;
	tt_sleep nap;
} order_sleeper;
static tt_poll order_sleeper_poll(order_sleeper *self, tt_cx *cx);
TT_ASYNC_FN(order_sleeper, order_sleeper_poll, NULL);
static void order_sleeper_init(order_sleeper *s, order_run *r, int i)
{
	tt_frame_init(&s->frame, &order_sleeper_fn);
	s->r = r;
	s->i = i;
}
static tt_poll order_sleeper_poll(order_sleeper *self, tt_cx *cx)
{
	order_run *r = self->r;
	TT_BEGIN(self);
	r->last_first_poll = tt_now_ns();
	TT_AWAIT(self, cx, &self->nap, tt_sleep_until_init(&self->nap, r->deadline[self->i]));
	if (tt_now_ns() < r->deadline[self->i])
		r->early++;
	r->done[r->ndone++] = self->i;
	TT_RETURN(self, 0);
}

typedef struct order_root {
	tt_frame frame;
	order_run *r;
	int i;
	tt_handle h[ORDER_TASKS];
	tt_join join;
} order_root;
static tt_poll order_root_poll(order_root *self, tt_cx *cx);
TT_ASYNC_FN(order_root, order_root_poll, NULL);
static tt_poll order_root_poll(order_root *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < ORDER_TASKS; self->i++) {
		self->h[self->i] = TT_SPAWN(NULL, "sleeper", order_sleeper, order_sleeper_init,
					    self->r, self->i);
		/* Yield after each batch: the batch registers its timers, in spawn
		 * order, before the next is spawned (a full run queue would
		 * overflow out of order). */
		if (self->i % ORDER_BATCH == ORDER_BATCH - 1)
			TT_YIELD(self, cx);
	}
	for (self->i = 0; self->i < ORDER_TASKS; self->i++)
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->h[self->i]));
	TT_RETURN(self, 0);
}

static int order_cmp(const void *a, const void *b, void *arg)
{
	const order_run *r = arg;
	int i = *(const int *)a, j = *(const int *)b;
	if (r->deadline[i] != r->deadline[j])
		return r->deadline[i] < r->deadline[j] ? -1 : 1;
	return i - j; /* equal deadlines: first registered, first woken */
}

START_TEST(test_sleep_order)
{
	static order_run r;
	static order_root root;
	tt_runtime *rt = tt_test_runtime(0);
	/* Deadlines start MARGIN after now, so every timer is registered before
	 * the first is due; a run where that did not hold is retried with a
	 * larger margin rather than asserted on. */
	int valid = 0;
	for (uint64_t margin = TT_MS(20); !valid && margin <= TT_MS(640); margin *= 2) {
		memset(&r, 0, sizeof r);
		uint32_t seed = 12345;
		uint64_t base = tt_now_ns() + margin;
		for (int i = 0; i < ORDER_TASKS; i++)
			r.deadline[i] = base + TT_MS(lcg(&seed) % 41); /* 0..40 ms: many ties */
		tt_frame_init(&root.frame, &order_root_fn);
		root.r = &r;
		ck_assert_int_eq(tt_block_on(rt, &root.frame), 0);
		valid = r.last_first_poll < base;
	}
	ck_assert_msg(valid, "could not register 300 timers within 640 ms");
	ck_assert_int_eq(r.ndone, ORDER_TASKS);
	ck_assert_uint_eq(r.early, 0);
	int want[ORDER_TASKS];
	for (int i = 0; i < ORDER_TASKS; i++)
		want[i] = i;
	qsort_r(want, ORDER_TASKS, sizeof want[0], order_cmp, &r);
	for (int i = 0; i < ORDER_TASKS; i++)
		ck_assert_msg(r.done[i] == want[i],
			      "completion %d: task %d (deadline +%llu us), expected task %d "
			      "(deadline +%llu us)",
			      i, r.done[i], (unsigned long long)(r.deadline[r.done[i]] - r.deadline[want[0]]) / 1000,
			      want[i], (unsigned long long)(r.deadline[want[i]] - r.deadline[want[0]]) / 1000);
	tt_runtime_free(rt);
}
END_TEST

/* ---- never early, many concurrent sleepers on several workers ---- */

static _Atomic int early_wakes, sleeps_done;

typedef struct punctual {
	tt_frame frame;
	uint32_t seed;
	int n;
	uint64_t want;
	tt_sleep nap;
} punctual;
static tt_poll punctual_poll(punctual *self, tt_cx *cx);
TT_ASYNC_FN(punctual, punctual_poll, NULL);
static void punctual_init(punctual *p, uint32_t seed)
{
	tt_frame_init(&p->frame, &punctual_fn);
	p->seed = seed;
}
static tt_poll punctual_poll(punctual *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->n = 0; self->n < 5; self->n++) {
		/* Microsecond durations: deadlines fall between the driver's
		 * millisecond epoll timeouts. */
		uint64_t d = TT_US(lcg(&self->seed) % 3000);
		self->want = tt_now_ns() + d;
		if (self->n % 2)
			TT_AWAIT(self, cx, &self->nap, tt_sleep_until_init(&self->nap, self->want));
		else
			TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, d));
		uint64_t now = tt_now_ns();
		if (now < self->want || now < self->nap.node.deadline ||
		    self->nap.node.deadline < self->want)
			atomic_fetch_add(&early_wakes, 1);
		atomic_fetch_add(&sleeps_done, 1);
	}
	TT_RETURN(self, self->n);
}

START_TEST(test_sleep_never_early)
{
	uint64_t live0 = tt_test_tasks_live();
	tt_runtime *rt = tt_test_runtime(4);
	int n = tt_test_scaled(2000);
	tt_handle *h = calloc((size_t)n, sizeof *h);
	atomic_store(&early_wakes, 0);
	atomic_store(&sleeps_done, 0);
	for (int i = 0; i < n; i++)
		h[i] = TT_SPAWN(rt, "punctual", punctual, punctual_init, (uint32_t)i * 7919u + 1);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(tt_task_join_blocking(h[i]), 5);
	ck_assert_int_eq(atomic_load(&sleeps_done), 5 * n);
	ck_assert_int_eq(atomic_load(&early_wakes), 0);
	tt_runtime_free(rt);
	/* No timer still holds a waker (read once no wake can be in flight). */
	for (int i = 0; i < n; i++) {
		ck_assert_uint_eq(tt_test_task_field(h[i], TT_TASK_WAKERS), 0);
		tt_task_release(h[i]);
	}
	free(h);
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
}
END_TEST

/* ---- a sleep that is already due does not suspend ---- */

typedef struct due_now {
	tt_frame frame;
	int polls;
	tt_sleep nap;
} due_now;
static tt_poll due_now_poll(due_now *self, tt_cx *cx);
TT_ASYNC_FN(due_now, due_now_poll, NULL);
static tt_poll due_now_poll(due_now *self, tt_cx *cx)
{
	self->polls++;
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, 0));
	TT_AWAIT(self, cx, &self->nap, tt_sleep_until_init(&self->nap, tt_now_ns() - TT_MS(5)));
	TT_AWAIT(self, cx, &self->nap, tt_sleep_until_init(&self->nap, 0));
	TT_AWAIT(self, cx, &self->nap, tt_sleep_until_init(&self->nap, tt_now_ns()));
	TT_RETURN(self, self->polls);
}

START_TEST(test_sleep_zero_does_not_suspend)
{
	tt_runtime *rt = tt_test_runtime(_i ? 2 : 0);
	due_now d = {0};
	tt_frame_init(&d.frame, &due_now_fn);
	/* Through block_on for the current-thread runtime, and as a plain task
	 * (whose registry record we can read) on the multi-thread one. */
	if (!_i) {
		ck_assert_int_eq(tt_block_on(rt, &d.frame), 1);
	} else {
		tt_spawn_opts o = {"due", NULL, 0};
		tt_handle t = tt_spawn_at(rt, &o, &d.frame, NULL);
		ck_assert_int_eq(tt_task_join_blocking(t), 1);
		/* The worker counts the poll after the task completes: read the
		 * record once the workers are gone. */
		tt_runtime_free(rt);
		rt = NULL;
		ck_assert_uint_eq(tt_test_task_field(t, TT_TASK_POLLS), 1);
		ck_assert_uint_eq(tt_test_task_field(t, TT_TASK_WAKERS), 0);
		/* As a reader sees it (wakes derived from polls, registry-abi.md
		 * §5.3). */
		tt_reader r;
		tt_rtask rt_;
		ck_assert_int_eq(tt_reader_open(&r, tt_mem_self(),
						(uint64_t)(uintptr_t)tt_registry_root(), NULL),
				 TT_R_OK);
		ck_assert_int_eq(tt_reader_read_task(&r, (uint64_t)(uintptr_t)t.task, &rt_), TT_R_OK);
		ck_assert_uint_eq(rt_.polls, 1);
		ck_assert_uint_eq(rt_.wakes, 0);
		tt_task_release(t);
	}
	ck_assert_int_eq(d.polls, 1);
	tt_runtime_free(rt);
}
END_TEST

/* ---- a sleep polled on every wake, as select and timeout poll theirs ---- */

static _Atomic int busy_early;

typedef struct busy_sleeper {
	tt_frame frame;
	uint32_t seed;
	int n;
	tt_sleep nap;
} busy_sleeper;
static tt_poll busy_sleeper_poll(busy_sleeper *self, tt_cx *cx);
TT_ASYNC_FN(busy_sleeper, busy_sleeper_poll, NULL);
static void busy_sleeper_init(busy_sleeper *b, uint32_t seed)
{
	tt_frame_init(&b->frame, &busy_sleeper_fn);
	b->seed = seed;
}
static tt_poll busy_sleeper_poll(busy_sleeper *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->n = 0; self->n < 20; self->n++) {
		tt_sleep_init(&self->nap, TT_US(50 + lcg(&self->seed) % 500));
		self->frame.child = &self->nap.leaf.frame;
		/* Polled again and again, also once due but before the driver
		 * fired it, while other tasks keep the heap moving. */
		while (tt_frame_poll(&self->nap.leaf.frame, cx) == TT_PENDING)
			TT_YIELD(self, cx);
		self->frame.child = NULL;
		if (tt_now_ns() < self->nap.node.deadline)
			atomic_fetch_add(&busy_early, 1);
	}
	TT_RETURN(self, self->n);
}

START_TEST(test_sleep_polled_while_due)
{
	uint64_t live0 = tt_test_tasks_live();
	tt_runtime *rt = tt_test_runtime(2);
	enum { SLEEPERS = 64 };
	tt_handle h[SLEEPERS];
	atomic_store(&busy_early, 0);
	for (int round = 0; round < tt_test_scaled(10); round++) {
		for (int i = 0; i < SLEEPERS; i++)
			h[i] = TT_SPAWN(rt, "busy-sleeper", busy_sleeper, busy_sleeper_init,
					(uint32_t)(round * SLEEPERS + i));
		for (int i = 0; i < SLEEPERS; i++) {
			ck_assert_int_eq(tt_task_join_blocking(h[i]), 20);
			tt_task_release(h[i]);
		}
	}
	ck_assert_int_eq(atomic_load(&busy_early), 0);
	tt_runtime_free(rt);
	/* Each due sleep left the heap with its waker: no slot stays behind. */
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
}
END_TEST

/* ---- intervals ---- */

enum { TICKS = 14, STALL_AFTER = 10 };

typedef struct ticker {
	tt_frame frame;
	uint64_t period, start;
	int k;
	uint64_t deadline[TICKS], woke[TICKS], before_tick[TICKS];
	tt_interval iv;
	tt_sleep nap;
} ticker;
static tt_poll ticker_poll(ticker *self, tt_cx *cx);
TT_ASYNC_FN(ticker, ticker_poll, NULL);
static tt_poll ticker_poll(ticker *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_interval_init(&self->iv, self->period);
	self->start = self->iv.next - self->period;
	for (self->k = 0; self->k < TICKS; self->k++) {
		if (self->k == STALL_AFTER) {
			/* Hog the worker for more than five periods past the last
			 * tick: the interval has missed several ticks. */
			while (tt_now_ns() < self->deadline[STALL_AFTER - 1] + 11 * self->period / 2)
				;
		}
		self->before_tick[self->k] = tt_now_ns();
		TT_AWAIT(self, cx, &self->nap, tt_interval_tick(&self->iv, &self->nap));
		self->deadline[self->k] = self->nap.node.deadline;
		self->woke[self->k] = tt_now_ns();
	}
	TT_RETURN(self, 0);
}

START_TEST(test_interval_grid_and_skip)
{
	tt_runtime *rt = tt_test_runtime(_i ? 2 : 0);
	ticker t;
	memset(&t, 0, sizeof t);
	tt_frame_init(&t.frame, &ticker_fn);
	t.period = TT_MS(4);
	ck_assert_int_eq(tt_block_on(rt, &t.frame), 0);
	uint64_t p = t.period;
	ck_assert_uint_eq(t.deadline[0], t.start + p); /* first tick one period in */
	for (int k = 0; k < TICKS; k++) {
		ck_assert_msg((t.deadline[k] - t.start) % p == 0, "tick %d off the grid", k);
		ck_assert_uint_ge(t.woke[k], t.deadline[k]); /* never early */
		/* Never a tick that is more than a period stale. */
		ck_assert_uint_gt(t.deadline[k] + p, t.before_tick[k]);
		if (k > 0)
			ck_assert_uint_gt(t.deadline[k], t.deadline[k - 1]);
	}
	/* After the stall the missed ticks were skipped, not delivered in a burst. */
	ck_assert_uint_ge(t.deadline[STALL_AFTER] - t.deadline[STALL_AFTER - 1], 5 * p);
	tt_runtime_free(rt);
}
END_TEST

/* ---- many concurrent timers ---- */

static _Atomic int many_done, many_early;

typedef struct many_sleeper {
	tt_frame frame;
	uint64_t d;
	tt_sleep nap;
} many_sleeper;
static tt_poll many_sleeper_poll(many_sleeper *self, tt_cx *cx);
TT_ASYNC_FN(many_sleeper, many_sleeper_poll, NULL);
static void many_sleeper_init(many_sleeper *s, uint64_t d)
{
	tt_frame_init(&s->frame, &many_sleeper_fn);
	s->d = d;
}
static tt_poll many_sleeper_poll(many_sleeper *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, self->d));
	if (tt_now_ns() < self->nap.node.deadline)
		atomic_fetch_add(&many_early, 1);
	atomic_fetch_add(&many_done, 1);
	TT_RETURN(self, 1);
}

typedef struct many_root {
	tt_frame frame;
	int n, i;
	intptr_t sum;
	tt_handle *h;
	tt_join join;
} many_root;
static tt_poll many_root_poll(many_root *self, tt_cx *cx);
TT_ASYNC_FN(many_root, many_root_poll, NULL);
static tt_poll many_root_poll(many_root *self, tt_cx *cx)
{
	TT_BEGIN(self);
	{
		uint32_t seed = 99;
		for (self->i = 0; self->i < self->n; self->i++)
			self->h[self->i] = TT_SPAWN(NULL, "many", many_sleeper, many_sleeper_init,
						    TT_US(1000 + lcg(&seed) % 19000));
	}
	for (self->i = 0; self->i < self->n; self->i++) {
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->h[self->i]));
		self->sum += TT_RESULT(&self->join);
	}
	TT_RETURN(self, self->sum);
}

START_TEST(test_many_timers)
{
	uint64_t live0 = tt_test_tasks_live();
	tt_runtime *rt = tt_test_runtime(2);
	many_root root;
	tt_frame_init(&root.frame, &many_root_fn);
	root.n = tt_test_scaled(10000);
	root.sum = 0;
	root.h = calloc((size_t)root.n, sizeof *root.h);
	atomic_store(&many_done, 0);
	atomic_store(&many_early, 0);
	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(tt_block_on(rt, &root.frame), (round + 1) * (intptr_t)root.n);
		tt_frame_init(&root.frame, &many_root_fn);
	}
	ck_assert_int_eq(atomic_load(&many_done), 3 * root.n);
	ck_assert_int_eq(atomic_load(&many_early), 0);
	tt_runtime_free(rt);
	free(root.h);
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
}
END_TEST

static Suite *timer_suite(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tcase_create("timer");
	tcase_add_test(tc, test_sleep_order);
	tcase_add_test(tc, test_sleep_never_early);
	tcase_add_loop_test(tc, test_sleep_zero_does_not_suspend, 0, 2);
	tcase_add_test(tc, test_sleep_polled_while_due);
	tcase_add_loop_test(tc, test_interval_grid_and_skip, 0, 2);
	tcase_add_test(tc, test_many_timers);
	suite_add_tcase(s, tc);
	return s;
}

TT_TEST_MAIN(timer_suite)
