/* Cancellation as a user sees it: a task stops at any await point, each
 * pending frame's cleanup runs exactly once (innermost first), and nothing
 * it waited on keeps a reference to it afterwards. */
#define TT_TEST_WANT_GATED /* the gated future below */
#include "test_util.h"

/* ---- a three-deep chain with a numbered await point at every suspension ----
 *
 *   point  frame   awaits
 *   0      outer   notify gate 0
 *   1      middle  notify gate 1
 *   2      inner   notify gate 2
 *   3      inner   TT_YIELD
 *   4      inner   sleep
 *   5      middle  tt_timeout(notify gate 5, 1 h)
 *   6      middle  sleep
 *   7      outer   notify gate 7
 * A sleep lasts 1 ms, or an hour at the point the run cancels at. */
enum { NPOINTS = 8 };
static const int point_in_inner[NPOINTS] = {0, 0, 1, 1, 1, 0, 0, 0};
static const int point_in_middle[NPOINTS] = {0, 1, 1, 1, 1, 1, 1, 0};
static const int point_is_gate[NPOINTS] = {1, 1, 1, 0, 0, 1, 0, 1};
enum { YIELD_POINT = 3 };

typedef struct chain_run {
	tt_notify gate[NPOINTS];
	int target;       /* the point this run cancels at */
	_Atomic int at;   /* the point the chain is at or about to suspend at */
	_Atomic int drops[3]; /* inner, middle, outer */
	char order[4];    /* cleanup order, e.g. "IMO" */
	_Atomic int norder;
} chain_run;

static void record_drop(chain_run *r, int which)
{
	atomic_fetch_add(&r->drops[which], 1);
	r->order[atomic_fetch_add(&r->norder, 1) % 3] = "IMO"[which];
}

static uint64_t nap_for(chain_run *r, int point)
{
	return point == r->target ? TT_SEC(3600) : TT_MS(1);
}

typedef struct inner_fn {
	tt_frame frame;
	chain_run *r;
	tt_notified w;
	tt_sleep nap;
} inner_fn;
static tt_poll inner_fn_poll(inner_fn *self, tt_cx *cx);
static void inner_fn_drop(inner_fn *self) { record_drop(self->r, 0); }
TT_ASYNC_FN(inner_fn, inner_fn_poll, inner_fn_drop);
static tt_poll inner_fn_poll(inner_fn *self, tt_cx *cx)
{
	chain_run *r = self->r;
	TT_BEGIN(self);
	atomic_store(&r->at, 2);
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &r->gate[2]));
	atomic_store(&r->at, 3);
	TT_YIELD(self, cx);
	atomic_store(&r->at, 4);
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, nap_for(r, 4)));
	TT_RETURN(self, 100);
}

typedef struct middle_fn {
	tt_frame frame;
	chain_run *r;
	tt_notified w;
	inner_fn inner;
	tt_timeout to;
	tt_sleep nap;
} middle_fn;
static tt_poll middle_fn_poll(middle_fn *self, tt_cx *cx);
static void middle_fn_drop(middle_fn *self) { record_drop(self->r, 1); }
TT_ASYNC_FN(middle_fn, middle_fn_poll, middle_fn_drop);
static tt_poll middle_fn_poll(middle_fn *self, tt_cx *cx)
{
	chain_run *r = self->r;
	TT_BEGIN(self);
	atomic_store(&r->at, 1);
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &r->gate[1]));
	self->inner.r = r;
	TT_AWAIT(self, cx, &self->inner, tt_frame_init(&self->inner.frame, &inner_fn_fn));
	atomic_store(&r->at, 5);
	TT_AWAIT(self, cx, &self->to,
		 (tt_notified_init(&self->w, &r->gate[5]),
		  tt_timeout_init(&self->to, &self->w.leaf.frame, TT_SEC(3600))));
	atomic_store(&r->at, 6);
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, nap_for(r, 6)));
	TT_RETURN(self, TT_RESULT(&self->inner) + 20);
}

typedef struct outer_fn {
	tt_frame frame;
	chain_run *r;
	tt_notified w;
	middle_fn middle;
} outer_fn;
static tt_poll outer_fn_poll(outer_fn *self, tt_cx *cx);
static void outer_fn_drop(outer_fn *self) { record_drop(self->r, 2); }
TT_ASYNC_FN(outer_fn, outer_fn_poll, outer_fn_drop);
static void outer_fn_init(outer_fn *o, chain_run *r)
{
	tt_frame_init(&o->frame, &outer_fn_fn);
	o->r = r;
}
static tt_poll outer_fn_poll(outer_fn *self, tt_cx *cx)
{
	chain_run *r = self->r;
	TT_BEGIN(self);
	atomic_store(&r->at, 0);
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &r->gate[0]));
	self->middle.r = r;
	TT_AWAIT(self, cx, &self->middle, tt_frame_init(&self->middle.frame, &middle_fn_fn));
	atomic_store(&r->at, 7);
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &r->gate[7]));
	TT_RETURN(self, TT_RESULT(&self->middle) + 3);
}
enum { CHAIN_RESULT = 123 };

/* The driver: a task on the same current-thread runtime.  While it runs the
 * chain is suspended, so "at == k" means suspended at point k.  It walks the
 * chain to its target (opening each gate it passes), then cancels it, or with
 * target == NPOINTS lets it finish and cancels the finished task. */
typedef struct driver_fn {
	tt_frame frame;
	chain_run *r;
	int k;
	tt_handle victim; /* a reference kept for the test */
	tt_join join;
} driver_fn;
static tt_poll driver_fn_poll(driver_fn *self, tt_cx *cx);
TT_ASYNC_FN(driver_fn, driver_fn_poll, NULL);
static tt_poll driver_fn_poll(driver_fn *self, tt_cx *cx)
{
	chain_run *r = self->r;
	TT_BEGIN(self);
	self->victim = TT_SPAWN(NULL, "chain", outer_fn, outer_fn_init, r);
	/* A gate point holds the chain until opened; yield and 1 ms sleep
	 * points it passes by itself. */
	for (self->k = 0; self->k < r->target; self->k++) {
		while (atomic_load(&r->at) < self->k)
			TT_YIELD(self, cx); /* also lets a 1 ms sleep run out */
		if (point_is_gate[self->k])
			tt_notify_one(&r->gate[self->k]);
	}
	if (r->target < NPOINTS) {
		while (atomic_load(&r->at) < r->target)
			TT_YIELD(self, cx);
	} else {
		while (!tt_task_is_done(self->victim))
			TT_YIELD(self, cx);
	}
	tt_task_cancel(self->victim);
	tt_task_ref(self->victim);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->victim));
	TT_RETURN(self, TT_RESULT(&self->join));
}

static void run_chain(int workers, int target)
{
	uint64_t live0 = tt_test_tasks_live();
	chain_run r;
	memset(&r, 0, sizeof r);
	for (int i = 0; i < NPOINTS; i++)
		tt_notify_init(&r.gate[i]);
	r.target = target;
	atomic_store(&r.at, -1);
	tt_runtime *rt = tt_test_runtime(workers);
	driver_fn d;
	tt_frame_init(&d.frame, &driver_fn_fn);
	d.r = &r;
	intptr_t res = tt_block_on(rt, &d.frame);
	if (target == NPOINTS) { /* cancelling a finished task changes nothing */
		ck_assert_int_eq(res, CHAIN_RESULT);
		ck_assert_int_eq(atomic_load(&r.norder), 0);
	} else {
		ck_assert_msg(res == TT_ECANCELED, "point %d: result %ld", target, (long)res);
		int in = point_in_inner[target], mid = point_in_middle[target];
		ck_assert_int_eq(atomic_load(&r.drops[0]), in);
		ck_assert_int_eq(atomic_load(&r.drops[1]), mid);
		ck_assert_int_eq(atomic_load(&r.drops[2]), 1);
		const char *want = in ? "IMO" : mid ? "MO" : "O";
		ck_assert_int_eq(atomic_load(&r.norder), (int)strlen(want));
		r.order[strlen(want)] = 0;
		ck_assert_str_eq(r.order, want);
	}
	/* Each opened gate was consumed; a cancelled waiter left the queue. */
	for (int i = 0; i < NPOINTS; i++) {
		ck_assert_ptr_null(r.gate[i].waiters.head);
		ck_assert_int_eq(r.gate[i].permit, 0);
	}
	tt_runtime_free(rt);
	/* Whatever the chain waited on let go of the task (read once no worker
	 * can be in the middle of a wake). */
	ck_assert_uint_eq(tt_test_task_field(d.victim, TT_TASK_WAKERS), 0);
	tt_task_release(d.victim);
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
	for (int i = 0; i < NPOINTS; i++)
		tt_notify_destroy(&r.gate[i]);
}

START_TEST(test_cancel_at_every_point)
{
	/* _i = point (NPOINTS: after completion). */
	run_chain(0, _i);
}
END_TEST

START_TEST(test_cancel_at_every_point_multi_thread)
{
	/* On two workers the driver may cancel while the chain is still being
	 * polled on its way into point k: it must stop there all the same.  The
	 * yield point cannot be caught from another thread: main() leaves it
	 * out of the loop rather than have an iteration pass unchecked. */
	ck_assert_int_ne(_i, YIELD_POINT);
	for (int rep = 0; rep < tt_test_scaled(20); rep++)
		run_chain(2, _i);
}
END_TEST

/* ---- cancelling a running task ---- */

typedef struct looper {
	tt_frame frame;
	int n, cancel_at;
	_Atomic int iterations, saw_cancel, drops, spinning;
} looper;
static tt_poll looper_poll(looper *self, tt_cx *cx);
static void looper_drop(looper *self) { atomic_fetch_add(&self->drops, 1); }
TT_ASYNC_FN(looper, looper_poll, looper_drop);
static tt_poll looper_poll(looper *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->n = 0;; self->n++) {
		atomic_store(&self->iterations, self->n + 1);
		if (self->n == self->cancel_at) {
			tt_task_cancel(tt_cx_task(cx)); /* from inside its own poll */
			atomic_store(&self->saw_cancel, tt_cx_cancelled(cx));
		}
		if (self->cancel_at < 0 && self->n == 10) {
			/* Cancelled from another thread during this long poll. */
			atomic_store(&self->spinning, 1);
			while (!tt_cx_cancelled(cx))
				;
			atomic_store(&self->saw_cancel, 1);
		}
		TT_YIELD(self, cx);
	}
}

START_TEST(test_cancel_self_while_running)
{
	tt_runtime *rt = tt_test_runtime(_i ? 2 : 0);
	looper *l = tt_frame_alloc(sizeof *l);
	tt_frame_init(&l->frame, &looper_fn);
	l->cancel_at = 5;
	intptr_t r = tt_block_on(rt, &l->frame);
	ck_assert_int_eq(r, TT_ECANCELED);
	ck_assert_int_eq(atomic_load(&l->saw_cancel), 1);
	/* It stopped at the await right after the request. */
	ck_assert_int_eq(atomic_load(&l->iterations), 6);
	ck_assert_int_eq(atomic_load(&l->drops), 1);
	tt_runtime_free(rt);
	tt_frame_free(l);
}
END_TEST

START_TEST(test_cancel_from_other_thread)
{
	tt_runtime *rt = tt_test_runtime(2);
	looper *l = tt_frame_alloc(sizeof *l);
	tt_frame_init(&l->frame, &looper_fn);
	l->cancel_at = -1;
	tt_spawn_opts o = {"looper", NULL, 0};
	tt_handle t = tt_spawn_at(rt, &o, &l->frame, NULL);
	while (!atomic_load(&l->spinning))
		tt_test_sleep_us(100);
	tt_task_cancel(t); /* the task sees it within its current poll */
	ck_assert_int_eq(tt_task_join_blocking(t), TT_ECANCELED);
	ck_assert_int_eq(tt_task_result(t), TT_ECANCELED);
	ck_assert_int_eq(atomic_load(&l->saw_cancel), 1);
	ck_assert_int_eq(atomic_load(&l->iterations), 11); /* stopped at that yield */
	ck_assert_int_eq(atomic_load(&l->drops), 1);
	tt_task_release(t);
	tt_runtime_free(rt);
	tt_frame_free(l);
}
END_TEST

/* A yielding task cancelled from another thread at a random moment. */
typedef struct yielder {
	tt_frame frame;
	_Atomic int *iterations, *drops;
} yielder;
static tt_poll yielder_poll(yielder *self, tt_cx *cx);
static void yielder_drop(yielder *self) { atomic_fetch_add(self->drops, 1); }
TT_ASYNC_FN(yielder, yielder_poll, yielder_drop);
static void yielder_init(yielder *y, _Atomic int *iterations, _Atomic int *drops)
{
	tt_frame_init(&y->frame, &yielder_fn);
	y->iterations = iterations;
	y->drops = drops;
}
static tt_poll yielder_poll(yielder *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		atomic_fetch_add(self->iterations, 1);
		TT_YIELD(self, cx);
	}
}

START_TEST(test_cancel_yield_loop_from_other_thread)
{
	tt_runtime *rt = tt_test_runtime(2);
	for (int rep = 0; rep < tt_test_scaled(500); rep++) {
		_Atomic int iterations = 0, drops = 0;
		tt_handle t = TT_SPAWN(rt, "yielder", yielder, yielder_init, &iterations, &drops);
		while (atomic_load(&iterations) < 1 + rep % 20)
			;
		tt_task_cancel(t);
		ck_assert_int_eq(tt_task_join_blocking(t), TT_ECANCELED);
		int n = atomic_load(&iterations);
		ck_assert_int_eq(atomic_load(&drops), 1);
		tt_task_release(t);
		/* Nothing polls it any more. */
		tt_test_sleep_us(rep % 50 == 0 ? 2000 : 0);
		ck_assert_int_eq(atomic_load(&iterations), n);
	}
	tt_runtime_free(rt);
}
END_TEST

/* ---- tt_timeout ---- */

enum { TO_INNER_FIRST, TO_INNER_SLOW, TO_JOIN_FIRST, TO_JOIN_SLOW, TO_MODES };

/* Awaits tt_timeout around a gated future, or around a join of OTHER. */
typedef struct timeout_user {
	tt_frame frame;
	int mode;
	tt_notify *gate;
	_Atomic int *drops;
	_Atomic int waiting;
	tt_handle other;
	gated inner;
	tt_join join;
	tt_timeout to;
} timeout_user;
static tt_poll timeout_user_poll(timeout_user *self, tt_cx *cx);
TT_ASYNC_FN(timeout_user, timeout_user_poll, NULL);
static void timeout_user_init(timeout_user *u, int mode, tt_notify *gate, _Atomic int *drops,
			      tt_handle other)
{
	tt_frame_init(&u->frame, &timeout_user_fn);
	u->mode = mode;
	u->gate = gate;
	u->drops = drops;
	u->other = other;
	atomic_init(&u->waiting, 0);
}
static tt_poll timeout_user_poll(timeout_user *self, tt_cx *cx)
{
	int first = self->mode == TO_INNER_FIRST || self->mode == TO_JOIN_FIRST;
	TT_BEGIN(self);
	if (self->mode == TO_INNER_FIRST || self->mode == TO_INNER_SLOW)
		gated_init(&self->inner, self->gate, self->drops);
	else
		tt_join_init(&self->join, self->other); /* takes this reference */
	atomic_store(&self->waiting, 1);
	TT_AWAIT(self, cx, &self->to,
		 tt_timeout_init(&self->to,
				 self->mode <= TO_INNER_SLOW ? &self->inner.frame
							     : &self->join.leaf.frame,
				 first ? TT_SEC(3600) : TT_MS(5)));
	TT_RETURN(self, TT_RESULT(&self->to));
}

typedef struct timeout_harness {
	tt_frame frame;
	int mode;
	tt_notify gate;
	_Atomic int inner_drops, other_drops;
	timeout_user *user; /* owned by its task, valid while we hold the handle */
	tt_handle t, other; /* t: a reference kept for the test */
	intptr_t result, other_result;
	tt_join join;
} timeout_harness;
static tt_poll timeout_harness_poll(timeout_harness *self, tt_cx *cx);
TT_ASYNC_FN(timeout_harness, timeout_harness_poll, NULL);
static tt_poll timeout_harness_poll(timeout_harness *self, tt_cx *cx)
{
	TT_BEGIN(self);
	if (self->mode >= TO_JOIN_FIRST)
		self->other = TT_SPAWN(NULL, "other", gated, gated_init, &self->gate,
				       &self->other_drops);
	self->user = tt_frame_alloc(sizeof *self->user);
	timeout_user_init(self->user, self->mode, &self->gate, &self->inner_drops,
			  self->other.task ? tt_task_ref(self->other) : (tt_handle){NULL, 0});
	self->t = tt_spawn_at(NULL, &(tt_spawn_opts){"timeout", tt_frame_free, 0},
			      &self->user->frame, NULL);
	if (self->mode == TO_INNER_FIRST || self->mode == TO_JOIN_FIRST) {
		/* Let the timer get registered, then finish the inner future. */
		while (!atomic_load(&self->user->waiting))
			TT_YIELD(self, cx);
		TT_YIELD(self, cx);
		tt_notify_one(&self->gate);
	}
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, tt_task_ref(self->t)));
	self->result = TT_RESULT(&self->join);
	if (self->mode == TO_JOIN_SLOW) {
		/* Timing out a join leaves the joined task alone. */
		self->other_result = tt_task_is_done(self->other) ? -1 : 0;
		tt_notify_one(&self->gate);
	}
	if (self->other.task) {
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->other));
		self->other_result += TT_RESULT(&self->join);
	}
	TT_RETURN(self, 0);
}

START_TEST(test_timeout)
{
	int mode = _i % TO_MODES, workers = _i / TO_MODES ? 2 : 0;
	uint64_t live0 = tt_test_tasks_live();
	tt_runtime *rt = tt_test_runtime(workers);
	static timeout_harness h;
	memset(&h, 0, sizeof h);
	tt_frame_init(&h.frame, &timeout_harness_fn);
	h.mode = mode;
	tt_notify_init(&h.gate);
	ck_assert_int_eq(tt_block_on(rt, &h.frame), 0);
	switch (mode) {
	case TO_INNER_FIRST:
		ck_assert_int_eq(h.result, 7);
		ck_assert_int_eq(atomic_load(&h.inner_drops), 0);
		break;
	case TO_INNER_SLOW:
		ck_assert_int_eq(h.result, TT_ETIMEDOUT);
		ck_assert_int_eq(atomic_load(&h.inner_drops), 1); /* cleaned up once */
		break;
	case TO_JOIN_FIRST:
		ck_assert_int_eq(h.result, 7);
		ck_assert_int_eq(h.other_result, 7);
		break;
	case TO_JOIN_SLOW:
		ck_assert_int_eq(h.result, TT_ETIMEDOUT);
		ck_assert_int_eq(h.other_result, 7); /* not done at the timeout, then 7 */
		ck_assert_int_eq(atomic_load(&h.other_drops), 0);
		break;
	}
	ck_assert_ptr_null(h.gate.waiters.head);
	tt_runtime_free(rt);
	/* Timer and inner wait let go of the task: nothing can wake it late. */
	ck_assert_uint_eq(tt_test_task_field(h.t, TT_TASK_WAKERS), 0);
	tt_task_release(h.t);
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
	tt_notify_destroy(&h.gate);
}
END_TEST

/* ---- cancelling a task that awaits a join of another task ---- */

typedef struct joiner {
	tt_frame frame;
	tt_handle target;
	_Atomic int *drops;
	tt_join join;
} joiner;
static tt_poll joiner_poll(joiner *self, tt_cx *cx);
static void joiner_drop(joiner *self) { atomic_fetch_add(self->drops, 1); }
TT_ASYNC_FN(joiner, joiner_poll, joiner_drop);
static void joiner_init(joiner *j, tt_handle target, _Atomic int *drops)
{
	tt_frame_init(&j->frame, &joiner_fn);
	j->target = target;
	j->drops = drops;
}
static tt_poll joiner_poll(joiner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->target));
	TT_RETURN(self, TT_RESULT(&self->join));
}

START_TEST(test_cancel_joiner_spares_joined)
{
	uint64_t live0 = tt_test_tasks_live();
	tt_runtime *rt = tt_test_runtime(2);
	tt_notify gate;
	tt_notify_init(&gate);
	_Atomic int target_drops = 0, joiner_drops = 0;
	tt_handle target = TT_SPAWN(rt, "target", gated, gated_init, &gate, &target_drops);
	enum { JOINERS = 4 };
	tt_handle j[JOINERS];
	for (int i = 0; i < JOINERS; i++)
		j[i] = TT_SPAWN(rt, "joiner", joiner, joiner_init, tt_task_ref(target),
				&joiner_drops);
	/* Wait until every joiner is suspended in its join. */
	for (int i = 0; i < JOINERS; i++)
		while (tt_test_task_field(j[i], TT_TASK_WAKERS) == 0)
			tt_test_sleep_us(100);
	for (int i = 0; i < JOINERS - 1; i++) {
		tt_task_cancel(j[i]);
		ck_assert_int_eq(tt_task_join_blocking(j[i]), TT_ECANCELED);
	}
	ck_assert_int_eq(atomic_load(&joiner_drops), JOINERS - 1);
	ck_assert(!tt_task_is_done(target));
	tt_notify_one(&gate);
	ck_assert_int_eq(tt_task_join_blocking(target), 7);
	ck_assert_int_eq(atomic_load(&target_drops), 0);
	/* The joiner that stayed gets the result. */
	ck_assert_int_eq(tt_task_join_blocking(j[JOINERS - 1]), 7);
	for (int i = 0; i < JOINERS; i++)
		tt_task_release(j[i]);
	tt_task_release(target);
	tt_runtime_free(rt);
	/* The cancelled joins released their references to the target. */
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
	tt_notify_destroy(&gate);
}
END_TEST

/* ---- a notification given to a waiter cancelled before it used it ---- */

typedef struct notify_pass {
	tt_frame frame;
	int second_waiter;
	tt_notify n;
	_Atomic int drops[2];
	tt_handle w[2];
	intptr_t r[2];
	int permit_after;
	tt_join join;
} notify_pass;
static tt_poll notify_pass_poll(notify_pass *self, tt_cx *cx);
TT_ASYNC_FN(notify_pass, notify_pass_poll, NULL);
static tt_poll notify_pass_poll(notify_pass *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->w[0] = TT_SPAWN(NULL, "first", gated, gated_init, &self->n, &self->drops[0]);
	if (self->second_waiter)
		self->w[1] = TT_SPAWN(NULL, "second", gated, gated_init, &self->n, &self->drops[1]);
	TT_YIELD(self, cx); /* current-thread: both are now queued on the notify */
	/* The first waiter is woken with the notification, and cancelled before
	 * it runs: the notification must not die with it. */
	tt_notify_one(&self->n);
	tt_task_cancel(self->w[0]);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->w[0]));
	self->r[0] = TT_RESULT(&self->join);
	if (self->second_waiter) {
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->w[1]));
		self->r[1] = TT_RESULT(&self->join);
	}
	self->permit_after = self->n.permit;
	TT_RETURN(self, 0);
}

START_TEST(test_notify_passed_on)
{
	tt_runtime *rt = tt_test_runtime(0);
	notify_pass p;
	memset(&p, 0, sizeof p);
	tt_frame_init(&p.frame, &notify_pass_fn);
	p.second_waiter = _i == 0;
	tt_notify_init(&p.n);
	ck_assert_int_eq(tt_block_on(rt, &p.frame), 0);
	ck_assert_int_eq(p.r[0], TT_ECANCELED);
	ck_assert_int_eq(atomic_load(&p.drops[0]), 1);
	if (p.second_waiter) {
		ck_assert_int_eq(p.r[1], 7); /* the next waiter got it */
		ck_assert_int_eq(atomic_load(&p.drops[1]), 0);
		ck_assert_int_eq(p.permit_after, 0);
	} else {
		ck_assert_int_eq(p.permit_after, 1); /* kept for the next waiter */
	}
	ck_assert_ptr_null(p.n.waiters.head);
	tt_runtime_free(rt);
	tt_notify_destroy(&p.n);
}
END_TEST

static Suite *cancel_suite(void)
{
	Suite *s = suite_create("cancel");
	TCase *tc = tcase_create("cancel");
	tcase_add_loop_test(tc, test_cancel_at_every_point, 0, NPOINTS + 1);
	tcase_add_loop_test(tc, test_cancel_at_every_point_multi_thread, 0, YIELD_POINT);
	tcase_add_loop_test(tc, test_cancel_at_every_point_multi_thread, YIELD_POINT + 1,
			    NPOINTS + 1);
	tcase_add_loop_test(tc, test_cancel_self_while_running, 0, 2);
	tcase_add_test(tc, test_cancel_from_other_thread);
	tcase_add_test(tc, test_cancel_yield_loop_from_other_thread);
	tcase_add_loop_test(tc, test_timeout, 0, 2 * TO_MODES);
	tcase_add_test(tc, test_cancel_joiner_spares_joined);
	tcase_add_loop_test(tc, test_notify_passed_on, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

TT_TEST_MAIN(cancel_suite)
