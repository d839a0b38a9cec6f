/* The watch channel as a user sees it: a value sent before a receiver
 * waits is not lost (the race a flag plus tt_notify_all has), every
 * receiver wakes on a send and sees the latest value, sends coalesce,
 * close ends the waits after the latest value, a cancelled receiver
 * strands nobody, and bad input gets error codes. */
#include <stdint.h>

#include "sync_util.h"

/* A receiver: waits for COUNT changes (or the close), keeping the last
 * value and how many waits ended with a value. */
typedef struct rx {
	tt_frame frame;
	tt_watch *w;
	uint64_t seen;
	long v, last;
	int want;
	_Atomic int got, waiting, drops, backwards;
	tt_watch_changed wc;
} rx;
static tt_poll rx_poll(rx *self, tt_cx *cx);
static void rx_drop(rx *self)
{
	atomic_fetch_add(&self->drops, 1);
}
TT_ASYNC_FN(rx, rx_poll, rx_drop);
static tt_poll rx_poll(rx *self, tt_cx *cx)
{
	TT_BEGIN(self);
	while (atomic_load(&self->got) < self->want) {
		atomic_store(&self->waiting, 1);
		TT_AWAIT(self, cx, &self->wc,
			 tt_watch_changed_init(&self->wc, self->w, &self->seen, &self->v));
		atomic_store(&self->waiting, 0);
		if (TT_RESULT(&self->wc) < 0)
			TT_RETURN(self, TT_RESULT(&self->wc));
		if (self->v < self->last)
			atomic_fetch_add(&self->backwards, 1);
		self->last = self->v;
		atomic_fetch_add(&self->got, 1);
	}
	TT_RETURN(self, 0);
}

typedef struct w_ctx {
	tt_watch *w;
	rx r[4];
	tt_handle t[4];
} w_ctx;

static void start(w_ctx *x, int k, int want, uint64_t seen)
{
	memset(&x->r[k], 0, sizeof x->r[k]);
	tt_frame_init(&x->r[k].frame, &rx_fn);
	x->r[k].w = x->w;
	x->r[k].want = want;
	x->r[k].seen = seen;
	x->r[k].last = -1;
	x->t[k] = spawn_frame("receiver", &x->r[k].frame);
}
static int idle_n(w_ctx *x, int n)
{
	for (int k = 0; k < n; k++)
		if (!task_idle(x->t[k]))
			return 0;
	return 1;
}
static int done_n(w_ctx *x, int from, int to)
{
	for (int k = from; k < to; k++)
		if (!tt_task_is_done(x->t[k]))
			return 0;
	return 1;
}
static void release_n(w_ctx *x, int n)
{
	for (int k = 0; k < n; k++)
		tt_task_release(x->t[k]);
}
static void send_v(w_ctx *x, long v)
{
	ck_assert_int_eq(tt_watch_send(x->w, &v), 0);
}

/* The shutdown race: the value is sent before the receiver waits; the
 * wait still ends (a notify_all here would be lost and the task hang). */
static int before_step(void *p, int i)
{
	w_ctx *x = p;
	uint64_t now;
	switch (i) {
	case 0:
		ck_assert_int_eq(tt_watch_get(x->w, NULL, &now), 0);
		send_v(x, 1);	     /* "stop", before anyone waits */
		start(x, 0, 1, now); /* has seen the initial value */
		start(x, 1, 1, 0);   /* has seen nothing: the current value is new */
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(done_n(x, 0, 2));
		ck_assert_int_eq(tt_task_result(x->t[0]), 0);
		ck_assert_int_eq(x->r[0].v, 1);
		ck_assert_int_eq(x->r[1].v, 1);
		ck_assert_uint_eq(x->r[0].seen, 2);
		release_n(x, 2);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* Every waiting receiver wakes on one send; sends made while they have
 * not run coalesce into the latest. */
static int many_step(void *p, int i)
{
	w_ctx *x = p;
	uint64_t now;
	switch (i) {
	case 0:
		tt_watch_get(x->w, NULL, &now);
		for (int k = 0; k < 4; k++)
			start(x, k, 2, now);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(idle_n(x, 4));
		ck_assert_int_eq(tt_watch_free(x->w), -EBUSY);
		send_v(x, 10);
		send_v(x, 11); /* before any receiver ran: they see 11 only */
		return STEP_NEXT;
	case 2:
		WAIT_UNTIL(idle_n(x, 4));
		for (int k = 0; k < 4; k++) {
			ck_assert_int_eq(atomic_load(&x->r[k].got), 1);
			ck_assert_int_eq(x->r[k].v, 11);
		}
		tt_task_cancel(x->t[3]); /* waiting: leaves, the others still get 12 */
		send_v(x, 12);
		return STEP_NEXT;
	case 3:
		WAIT_UNTIL(done_n(x, 0, 4));
		for (int k = 0; k < 3; k++) {
			ck_assert_int_eq(tt_task_result(x->t[k]), 0);
			ck_assert_int_eq(x->r[k].v, 12);
		}
		ck_assert_int_eq(tt_task_result(x->t[3]), TT_ECANCELED);
		ck_assert_int_eq(atomic_load(&x->r[3].drops), 1);
		ck_assert_uint_eq(tt_test_task_field(x->t[3], TT_TASK_WAKERS), 0);
		release_n(x, 4);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* Close: a receiver behind gets the latest value first, then -EPIPE; one
 * waiting is woken with -EPIPE; a wait after the close ends at once. */
static int close_step(void *p, int i)
{
	w_ctx *x = p;
	uint64_t now;
	switch (i) {
	case 0:
		tt_watch_get(x->w, NULL, &now);
		start(x, 0, 5, now);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(idle_n(x, 1));
		ck_assert_uint_eq(x->r[0].wc.leaf.wait.kind, TT_WAIT_WATCH);
		ck_assert_ptr_eq(x->r[0].wc.leaf.wait.object, x->w);
		send_v(x, 7);
		ck_assert_int_eq(tt_watch_close(x->w), 0);
		ck_assert_int_eq(tt_watch_close(x->w), -EALREADY);
		ck_assert_int_eq(tt_watch_send(x->w, &(long){8}), -EPIPE);
		start(x, 1, 5, 0); /* behind: gets 7, then -EPIPE */
		return STEP_NEXT;
	case 2:
		WAIT_UNTIL(done_n(x, 0, 2));
		for (int k = 0; k < 2; k++) {
			ck_assert_int_eq(tt_task_result(x->t[k]), -EPIPE);
			ck_assert_int_eq(atomic_load(&x->r[k].got), 1);
			ck_assert_int_eq(x->r[k].v, 7);
		}
		long v = 0;
		ck_assert_int_eq(tt_watch_get(x->w, &v, NULL), 1); /* closed */
		ck_assert_int_eq(v, 7);
		release_n(x, 2);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_watch_scripts)
{
	static const step_fn steps[] = {before_step, many_step, close_step};
	w_ctx x = {0};
	x.w = tt_watch_new(sizeof(long), &(long){0});
	ck_assert_ptr_nonnull(x.w);
	uint64_t live0 = tt_test_tasks_live();
	run_script(0, steps[_i], &x);
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
	ck_assert_int_eq(tt_watch_free(x.w), 0);
}
END_TEST

/* Across workers: a sender counts up to N while receivers wait; each
 * receiver sees values that never go back and ends on N. */
enum { NRX = 4 };
typedef struct sender {
	tt_frame frame;
	tt_watch *w;
	long n, i;
} sender;
static tt_poll sender_poll(sender *self, tt_cx *cx);
TT_ASYNC_FN(sender, sender_poll, NULL);
static tt_poll sender_poll(sender *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 1; self->i <= self->n; self->i++) {
		CHECK(tt_watch_send(self->w, &self->i) == 0);
		if (self->i % 16 == 0)
			TT_YIELD(self, cx);
	}
	CHECK(tt_watch_close(self->w) == 0);
	TT_RETURN(self, 0);
}
static rx rxs[NRX];
static sender snd;
static tt_handle spawn_one(void *ctx, int i)
{
	tt_watch *w = ctx;
	tt_spawn_opts o = {i ? "receiver" : "sender", NULL, 0};
	if (i == 0)
		return tt_spawn_at(NULL, &o, &snd.frame, TT_SPAWN_SITE_());
	rx *r = &rxs[i - 1];
	memset(r, 0, sizeof *r);
	tt_frame_init(&r->frame, &rx_fn);
	r->w = w;
	r->want = 1 << 30; /* until closed */
	r->last = -1;
	return tt_spawn_at(NULL, &o, &r->frame, TT_SPAWN_SITE_());
}

START_TEST(test_watch_contention)
{
	tt_watch *w = tt_watch_new(sizeof(long), &(long){0});
	memset(&snd, 0, sizeof snd);
	tt_frame_init(&snd.frame, &sender_fn);
	snd.w = w;
	snd.n = tt_test_scaled(20000);
	intptr_t results[NRX + 1];
	run_all(2, NRX + 1, spawn_one, w, results);
	for (int k = 0; k < NRX; k++) {
		ck_assert_int_eq(results[k + 1], -EPIPE);
		ck_assert_int_eq(rxs[k].last, snd.n);
		ck_assert_int_eq(atomic_load(&rxs[k].backwards), 0);
		ck_assert_int_ge(atomic_load(&rxs[k].got), 1);
	}
	ck_assert_int_eq(tt_watch_free(w), 0);
}
END_TEST

START_TEST(test_watch_misuse)
{
	long v = 1;
	errno = 0;
	ck_assert_ptr_null(tt_watch_new(0, &v));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(tt_watch_new(sizeof v, NULL));
	ck_assert_ptr_null(tt_watch_new((size_t)1 << 21, &v));
	ck_assert_int_eq(tt_watch_send(NULL, &v), -EINVAL);
	ck_assert_int_eq(tt_watch_close(NULL), -EINVAL);
	ck_assert_int_eq(tt_watch_get(NULL, &v, NULL), -EINVAL);
	ck_assert_int_eq(tt_watch_free(NULL), -EINVAL);
	tt_watch *w = tt_watch_new(sizeof v, &v);
	ck_assert_int_eq(tt_watch_send(w, NULL), -EINVAL);
	/* A NULL watch or SEEN: the await ends at once with -EINVAL. */
	tt_runtime *rt = tt_test_runtime(0);
	rx r;
	memset(&r, 0, sizeof r);
	tt_frame_init(&r.frame, &rx_fn);
	r.w = NULL;
	r.want = 1;
	ck_assert_int_eq(tt_block_on(rt, &r.frame), -EINVAL);
	tt_watch_changed c;
	tt_watch_changed_init(&c, w, NULL, NULL);
	ck_assert_int_eq(c.leaf.frame.result, -EINVAL);
	tt_runtime_free(rt);
	ck_assert_int_eq(tt_watch_free(w), 0);
}
END_TEST

static Suite *watch_suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("watch");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_watch_scripts, 0, 3);
	tcase_add_test(tc, test_watch_contention);
	tcase_add_test(tc, test_watch_misuse);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(watch_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
