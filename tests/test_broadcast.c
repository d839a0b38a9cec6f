/* The broadcast channel as a user sees it: every receiver gets every
 * value sent after it subscribed, a receiver that falls behind learns how
 * many it missed and goes on from the oldest kept, close wakes every
 * receiver, a cancelled receive strands nobody, a receive whose declared
 * senders have all ended is "never resolved", and bad input gets error
 * codes. */
#include <pthread.h>
#include <stdint.h>

#include "sync_util.h"
#include "tasktrace/read/diagnose.h"

/* A receiver task: receives until -EPIPE, checking the values come in
 * order (each one more than the last, unless it lagged). */
typedef struct rxt {
	tt_frame frame;
	tt_broadcast *b;
	tt_broadcast_rx rx;
	long v, last;
	_Atomic long got, lagged, disorder;
	_Atomic int drops;
	tt_broadcast_recv r;
} rxt;
static tt_poll rxt_poll(rxt *self, tt_cx *cx);
static void rxt_drop(rxt *self)
{
	atomic_fetch_add(&self->drops, 1);
}
TT_ASYNC_FN(rxt, rxt_poll, rxt_drop);
static tt_poll rxt_poll(rxt *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		TT_AWAIT(self, cx, &self->r, tt_broadcast_recv_init(&self->r, &self->rx, &self->v));
		if (TT_RESULT(&self->r) == TT_ELAGGED) {
			atomic_fetch_add(&self->lagged, (long)self->rx.lagged);
			self->last += (long)self->rx.lagged;
			continue;
		}
		if (TT_RESULT(&self->r) < 0)
			break;
		if (self->v != self->last + 1)
			atomic_fetch_add(&self->disorder, 1);
		self->last = self->v;
		atomic_fetch_add(&self->got, 1);
	}
	TT_RETURN(self, TT_RESULT(&self->r));
}

/* Subscribed by the caller, so that it gets every value sent after. */
static tt_handle start_rx(tt_runtime *rt, rxt *r, tt_broadcast *b)
{
	memset(r, 0, sizeof *r);
	tt_frame_init(&r->frame, &rxt_fn);
	r->b = b;
	r->last = -1;
	ck_assert_int_eq(tt_broadcast_subscribe(b, &r->rx), 0);
	tt_spawn_opts o = {"bcast-rx", NULL, 0};
	tt_handle t = tt_spawn_at(rt, &o, &r->frame, TT_SPAWN_SITE_());
	ck_assert_ptr_nonnull(t.task);
	return t;
}

static void until_idle(tt_handle t)
{
	while (!task_idle(t))
		sched_yield();
}

/* No runtime needed: try_recv shows the numbering, the lag and close. */
START_TEST(test_ring)
{
	tt_broadcast *b = tt_broadcast_new(sizeof(long), 4);
	ck_assert_ptr_nonnull(b);
	tt_broadcast_rx early, late;
	long v;
	ck_assert_int_eq(tt_broadcast_subscribe(b, &early), 0);
	ck_assert_int_eq(tt_broadcast_send(b, &(long){0}), 1);
	ck_assert_int_eq(tt_broadcast_subscribe(b, &late), 0);
	for (long i = 1; i < 10; i++)
		ck_assert_int_eq(tt_broadcast_send(b, &i), 2);
	/* EARLY wanted 0..9 and the ring keeps 6..9: 6 missed. */
	ck_assert_int_eq(tt_broadcast_try_recv(&early, &v), TT_ELAGGED);
	ck_assert_uint_eq(early.lagged, 6);
	/* LATE subscribed after 0: it missed 1..5. */
	ck_assert_int_eq(tt_broadcast_try_recv(&late, &v), TT_ELAGGED);
	ck_assert_uint_eq(late.lagged, 5);
	for (long i = 6; i < 10; i++) {
		ck_assert_int_eq(tt_broadcast_try_recv(&early, &v), 0);
		ck_assert_int_eq(v, i);
		ck_assert_int_eq(tt_broadcast_try_recv(&late, &v), 0);
		ck_assert_int_eq(v, i);
	}
	ck_assert_int_eq(tt_broadcast_try_recv(&early, &v), -EAGAIN);
	ck_assert_int_eq(tt_broadcast_send(b, &(long){10}), 2);
	ck_assert_int_eq(tt_broadcast_close(b), 0);
	ck_assert_int_eq(tt_broadcast_close(b), -EALREADY);
	ck_assert_int_eq(tt_broadcast_send(b, &(long){11}), -EPIPE);
	/* What is left, then -EPIPE. */
	ck_assert_int_eq(tt_broadcast_try_recv(&early, &v), 0);
	ck_assert_int_eq(v, 10);
	ck_assert_int_eq(tt_broadcast_try_recv(&early, &v), -EPIPE);
	ck_assert_int_eq(tt_broadcast_free(b), -EBUSY); /* still subscribed */
	ck_assert_int_eq(tt_broadcast_unsubscribe(&early), 0);
	ck_assert_int_eq(tt_broadcast_unsubscribe(&late), 0);
	ck_assert_int_eq(tt_broadcast_free(b), 0);
}
END_TEST

/* Three waiting receivers each get every value; close ends all three. */
START_TEST(test_every_receiver)
{
	tt_runtime *rt = tt_test_runtime(_i ? 2 : 1);
	tt_broadcast *b = tt_broadcast_new(sizeof(long), 8);
	tt_broadcast_set_name(b, "events");
	rxt *r = calloc(3, sizeof *r);
	tt_handle t[3];
	for (int k = 0; k < 3; k++)
		t[k] = start_rx(rt, &r[k], b);
	for (int k = 0; k < 3; k++)
		until_idle(t[k]);
	for (long i = 0; i < 4; i++) {
		ck_assert_int_eq(tt_broadcast_send(b, &i), 3);
		/* One at a time: nobody lags. */
		for (int k = 0; k < 3; k++)
			while (atomic_load(&r[k].got) < i + 1)
				sched_yield();
	}
	ck_assert_int_eq(tt_broadcast_close(b), 0);
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(tt_task_join_blocking(t[k]), -EPIPE);
		ck_assert_int_eq(atomic_load(&r[k].got), 4);
		ck_assert_int_eq(atomic_load(&r[k].disorder), 0);
		ck_assert_int_eq(tt_broadcast_unsubscribe(&r[k].rx), 0);
		tt_task_release(t[k]);
	}
	ck_assert_int_eq(tt_broadcast_free(b), 0);
	free(r);
	tt_runtime_free(rt);
}
END_TEST

/* A receiver cancelled while waiting leaves the queue: the others still
 * get the value, and its subscription can be given up. */
START_TEST(test_cancel_while_waiting)
{
	tt_runtime *rt = tt_test_runtime(2);
	tt_broadcast *b = tt_broadcast_new(sizeof(long), 2);
	rxt *r = calloc(2, sizeof *r);
	tt_handle t0 = start_rx(rt, &r[0], b), t1 = start_rx(rt, &r[1], b);
	until_idle(t0);
	until_idle(t1);
	ck_assert_int_eq(tt_broadcast_unsubscribe(&r[0].rx), -EBUSY); /* a receive uses it */
	tt_task_cancel(t0);
	ck_assert_int_eq(tt_task_join_blocking(t0), TT_ECANCELED);
	ck_assert_int_eq(atomic_load(&r[0].drops), 1);
	ck_assert_int_eq(tt_broadcast_unsubscribe(&r[0].rx), 0);
	ck_assert_int_eq(tt_broadcast_unsubscribe(&r[0].rx), -EALREADY);
	ck_assert_int_eq(tt_broadcast_send(b, &(long){0}), 1);
	while (atomic_load(&r[1].got) < 1)
		sched_yield();
	tt_broadcast_close(b);
	ck_assert_int_eq(tt_task_join_blocking(t1), -EPIPE);
	ck_assert_int_eq(tt_broadcast_unsubscribe(&r[1].rx), 0);
	ck_assert_int_eq(tt_broadcast_free(b), 0);
	tt_task_release(t0);
	tt_task_release(t1);
	free(r);
	tt_runtime_free(rt);
}
END_TEST

/* A sender thread against four receivers on two workers (run under TSan
 * in CI): each receiver gets every value in order or says how many it
 * missed; none is lost or repeated. */
static void *send_many(void *p)
{
	tt_broadcast *b = p;
	for (long i = 0; i < 20000; i++)
		CHECK(tt_broadcast_send(b, &i) == 4);
	tt_broadcast_close(b);
	return NULL;
}

START_TEST(test_threads)
{
	tt_runtime *rt = tt_test_runtime(2);
	tt_broadcast *b = tt_broadcast_new(sizeof(long), 16);
	rxt *r = calloc(4, sizeof *r);
	tt_handle t[4];
	for (int k = 0; k < 4; k++)
		t[k] = start_rx(rt, &r[k], b);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, send_many, b), 0);
	pthread_join(th, NULL);
	for (int k = 0; k < 4; k++) {
		ck_assert_int_eq(tt_task_join_blocking(t[k]), -EPIPE);
		ck_assert_int_eq(atomic_load(&r[k].disorder), 0);
		ck_assert_int_eq(atomic_load(&r[k].got) + atomic_load(&r[k].lagged), 20000);
		ck_assert_int_eq(r[k].last, 19999);
		tt_broadcast_unsubscribe(&r[k].rx);
		tt_task_release(t[k]);
	}
	ck_assert_int_eq(tt_broadcast_free(b), 0);
	free(r);
	tt_runtime_free(rt);
}
END_TEST

/* ---- never resolved: the declared sender is gone ---- */

static tt_broadcast *nb;
typedef struct sender {
	tt_frame frame;
} sender;
static tt_poll sender_poll(sender *self, tt_cx *cx);
TT_ASYNC_FN(sender, sender_poll, NULL);
static void sender_init(sender *s)
{
	tt_frame_init(&s->frame, &sender_fn);
}
static tt_poll sender_poll(sender *self, tt_cx *cx)
{
	TT_BEGIN(self);
	ck_assert_int_eq(tt_broadcast_bind_sender(nb), 0);
	tt_broadcast_send(nb, &(long){1});
	TT_RETURN(self, 0); /* and never closes it */
}

static tt_diag_report *diagnose(void)
{
	tt_snapshot *s = NULL;
	char err[160];
	ck_assert_int_eq(tt_snapshot_read(tt_mem_self(), (uint64_t)(uintptr_t)tt_registry_root(),
					  NULL, &s, err, sizeof err),
			 TT_R_OK);
	tt_diag_report *r = tt_diagnose(s, tt_now_ns(), NULL);
	ck_assert_ptr_nonnull(r);
	tt_snapshot_free(s);
	return r;
}

START_TEST(test_never_resolved)
{
	tt_runtime *rt = tt_test_runtime(2);
	nb = tt_broadcast_new(sizeof(long), 4);
	tt_broadcast_set_name(nb, "events");
	rxt *r = calloc(1, sizeof *r);
	tt_handle rt_ = start_rx(rt, r, nb);
	tt_handle s = TT_SPAWN(rt, "sender", sender, sender_init);
	uint64_t sid = tt_task_id(s);
	ck_assert_int_eq(tt_task_join_blocking(s), 0);
	tt_task_release(s);
	while (atomic_load(&r->got) < 1 || !task_idle(rt_))
		sched_yield();
	tt_diag_report *d = diagnose();
	const tt_diag_finding *f = NULL;
	for (size_t i = 0; i < d->n; i++)
		if (d->findings[i].kind == TT_DIAG_NEVER_RESOLVED &&
		    d->findings[i].task_id == tt_task_id(rt_))
			f = &d->findings[i];
	ck_assert_msg(f, "no never-resolved finding in:\n%s", d->text);
	ck_assert_uint_eq(f->other_id, sid);
	ck_assert_msg(strstr(f->text, "waits on a broadcast channel whose declared senders"), "%s",
		      f->text);
	ck_assert_msg(strstr(f->text, "tt_broadcast_close()"), "%s", f->text);
	/* The wait kind and the name, as every reader words them. */
	ck_assert_msg(strstr(f->text, "waits on broadcast \"events\" (last sent by task"), "%s",
		      f->text);
	tt_diag_free(d);
	tt_broadcast_close(nb);
	ck_assert_int_eq(tt_task_join_blocking(rt_), -EPIPE);
	tt_task_release(rt_);
	tt_broadcast_unsubscribe(&r->rx);
	ck_assert_int_eq(tt_broadcast_free(nb), 0);
	free(r);
	tt_runtime_free(rt);
}
END_TEST

START_TEST(test_bad_input)
{
	errno = 0;
	ck_assert_ptr_null(tt_broadcast_new(0, 4));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(tt_broadcast_new(8, 0));
	ck_assert_ptr_null(tt_broadcast_new((size_t)1 << 21, 1));
	ck_assert_ptr_null(tt_broadcast_new(1 << 20, 1 << 20));
	ck_assert_int_eq(tt_broadcast_free(NULL), -EINVAL);
	ck_assert_int_eq(tt_broadcast_close(NULL), -EINVAL);
	ck_assert_int_eq(tt_broadcast_set_name(NULL, "x"), -EINVAL);
	ck_assert_int_eq(tt_broadcast_send(NULL, &(long){1}), -EINVAL);
	ck_assert_int_eq(tt_broadcast_bind_sender(NULL), -EINVAL);
	tt_broadcast *b = tt_broadcast_new(sizeof(long), 2);
	ck_assert_int_eq(tt_broadcast_send(b, NULL), -EINVAL);
	ck_assert_int_eq(tt_broadcast_send(b, &(long){1}), 0); /* nobody listens */
	ck_assert_int_eq(tt_broadcast_bind_sender(b), -EPERM); /* outside a task */
	tt_broadcast_rx rx = {0};
	long v;
	ck_assert_int_eq(tt_broadcast_subscribe(NULL, &rx), -EINVAL);
	ck_assert_int_eq(tt_broadcast_subscribe(b, NULL), -EINVAL);
	ck_assert_int_eq(tt_broadcast_unsubscribe(NULL), -EINVAL);
	ck_assert_int_eq(tt_broadcast_unsubscribe(&rx), -EALREADY); /* never subscribed */
	ck_assert_int_eq(tt_broadcast_try_recv(NULL, &v), -EINVAL);
	ck_assert_int_eq(tt_broadcast_try_recv(&rx, &v), -EINVAL);
	/* A receive on NULL or an unsubscribed receiver ends at once. */
	tt_broadcast_recv r;
	tt_broadcast_recv_init(&r, NULL, &v);
	ck_assert_int_eq(tt_frame_poll(&r.leaf.frame, NULL), TT_READY);
	ck_assert_int_eq(TT_RESULT(&r), -EINVAL);
	tt_broadcast_recv_init(&r, &rx, &v);
	ck_assert_int_eq(tt_frame_poll(&r.leaf.frame, NULL), TT_READY);
	ck_assert_int_eq(TT_RESULT(&r), -EINVAL);
	ck_assert_int_eq(tt_broadcast_subscribe(b, &rx), 0);
	ck_assert_int_eq(tt_broadcast_try_recv(&rx, &v), -EAGAIN);
	ck_assert_int_eq(tt_broadcast_close(b), 0);
	tt_broadcast_rx rx2;
	ck_assert_int_eq(tt_broadcast_subscribe(b, &rx2), -EPIPE);
	ck_assert_int_eq(tt_broadcast_try_recv(&rx, &v), -EPIPE);
	ck_assert_int_eq(tt_broadcast_unsubscribe(&rx), 0);
	ck_assert_int_eq(tt_broadcast_unsubscribe(&rx), -EALREADY);
	ck_assert_int_eq(tt_broadcast_free(b), 0);
}
END_TEST

static Suite *broadcast_suite(void)
{
	Suite *s = suite_create("broadcast");
	TCase *tc = tcase_create("broadcast");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_ring);
	tcase_add_loop_test(tc, test_every_receiver, 0, 2);
	tcase_add_test(tc, test_cancel_while_waiting);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_never_resolved);
	tcase_add_test(tc, test_bad_input);
	suite_add_tcase(s, tc);
	return s;
}

TT_TEST_MAIN(broadcast_suite)
