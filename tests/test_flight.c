/* The flight recorder (docs/registry-abi.md §5.12) as a reader sees it: the
 * runtime's rings decoded by tt_flight_read through this process's own
 * memory -- a task's polls in order, a wrapped ring, the run-time switch,
 * and hostile rings (a torn event, an absurd capacity, a stamp out of
 * order) that are counted and never delivered. */
#include <check.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tasktrace/read/history.h"
#include "tasktrace/read/reader.h"
#include "tasktrace/tasktrace.h"

typedef struct yielder {
	tt_frame frame;
	int n, count;
} yielder;
static tt_poll yielder_poll(yielder *self, tt_cx *cx);
TT_ASYNC_FN(yielder, yielder_poll, NULL);
static tt_poll yielder_poll(yielder *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->n = 0; self->n < self->count; self->n++)
		TT_YIELD(self, cx);
	TT_RETURN(self, self->n);
}

/* Run a task that yields COUNT times on a current-thread runtime whose
 * rings hold BYTES (0: the default). */
static void run_yielder(int count, long bytes)
{
	tt_runtime_opts o = {.workers = 0, .recorder_bytes = bytes};
	tt_runtime *rt = tt_runtime_new(&o);
	ck_assert_ptr_nonnull(rt);
	yielder y = TT_NEW(yielder, .count = count);
	ck_assert_int_eq(tt_block_on_named(rt, &y.frame, "yielder"), count);
	tt_runtime_free(rt);
}

typedef struct got {
	tt_revent ev[4096];
	size_t n;
} got;

static int keep(void *ctx, const tt_revent *ev)
{
	got *g = ctx;
	if (g->n < sizeof g->ev / sizeof g->ev[0])
		g->ev[g->n++] = *ev;
	return 0;
}

static tt_reader *open_self(void)
{
	tt_reader *r = calloc(1, sizeof *r);
	ck_assert_int_eq(
	    tt_reader_open(r, tt_mem_self(), (uint64_t)(uintptr_t)tt_registry_root(), NULL),
	    TT_R_OK);
	return r;
}

/* The last task that completed: the yielder. */
static uint64_t last_done(const got *g)
{
	for (size_t i = g->n; i-- > 0;)
		if (g->ev[i].kind == TT_EV_DONE)
			return g->ev[i].task;
	ck_abort_msg("no task completed");
	return 0;
}

START_TEST(polls_in_order)
{
	run_yielder(10, 0);
	tt_reader *r = open_self();
	static got g;
	tt_rflight st;
	ck_assert_int_gt(tt_flight_read(r, 0, keep, &g, &st), 0);
	ck_assert_uint_eq(st.skipped, 0);
	uint64_t id = last_done(&g);
	int spawned = 0, yields = 0, done = 0;
	for (size_t i = 0; i < g.n; i++) {
		const tt_revent *e = &g.ev[i];
		if (e->task != id)
			continue;
		if (e->kind == TT_EV_SPAWN) {
			/* (on the foreign ring: block_on spawns from this thread) */
			ck_assert_int_lt(e->worker, 0);
			ck_assert_uint_ne(e->arg2, 0); /* the spawn site */
			spawned++;
		} else if (e->kind == TT_EV_YIELD) {
			ck_assert_int_eq(done, 0);
			ck_assert_int_ge(e->worker, 0);
			ck_assert_uint_ge(e->stamp_ns, e->start_ns);
			yields++;
		} else if (e->kind == TT_EV_DONE) {
			done++;
		}
	}
	ck_assert_int_eq(spawned, 1);
	ck_assert_int_eq(yields, 10);
	ck_assert_int_eq(done, 1);
	/* A task's wakes of itself are its yields, not wake events. */
	for (size_t i = 0; i < g.n; i++)
		ck_assert(!(g.ev[i].task == id && g.ev[i].kind == TT_EV_WAKE));
	/* Only its own events when asked for one task. */
	static got one;
	ck_assert_int_eq(tt_flight_read(r, id, keep, &one, &st), 12);
	free(r);
}
END_TEST

/* A task whose first poll hands out its waker and holds its worker until
 * the main thread has used it; its second poll completes. */
static _Atomic(tt_waker *) held_waker;
static atomic_int held_woken;
typedef struct held {
	tt_frame frame;
	int polls;
	tt_waker w;
} held;
static tt_poll held_poll(held *self, tt_cx *cx)
{
	if (self->polls++) {
		self->frame.result = self->polls;
		return TT_READY;
	}
	self->w = tt_waker_new(cx);
	atomic_store(&held_waker, &self->w);
	while (!atomic_load(&held_woken))
		sched_yield();
	return TT_PENDING;
}
TT_ASYNC_FN(held, held_poll, NULL);
static void held_init(held *h) { tt_frame_init(&h->frame, &held_fn); }

/* Who woke a task is recorded even when the wake came during its poll
 * (the task then runs again when that poll ends): marked so, on the
 * waker's ring, and in the words of `tasktrace history`. */
START_TEST(wake_during_poll_recorded)
{
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 1});
	tt_handle h = TT_SPAWN(rt, "held", held, held_init);
	tt_waker *w;
	while (!(w = atomic_load(&held_waker)))
		sched_yield();
	tt_waker_wake(w);
	atomic_store(&held_woken, 1);
	ck_assert_int_eq(tt_task_join_blocking(h), 2);
	uint64_t id = tt_task_id(h);
	tt_task_release(h);
	tt_runtime_free(rt);

	tt_reader *r = open_self();
	static got g;
	tt_rflight st;
	ck_assert_int_gt(tt_flight_read(r, id, keep, &g, &st), 0);
	int wakes = 0, yields = 0, suspends = 0;
	for (size_t i = 0; i < g.n; i++) {
		const tt_revent *e = &g.ev[i];
		if (e->task != id)
			continue;
		yields += e->kind == TT_EV_YIELD;
		suspends += e->kind == TT_EV_SUSPEND;
		if (e->kind != TT_EV_WAKE)
			continue;
		wakes++;
		ck_assert_int_lt(e->worker, 0); /* the main thread's: the foreign ring */
		ck_assert_uint_eq(e->arg1, 0);
		ck_assert_uint_eq(e->arg2, (uint64_t)syscall(SYS_gettid));
		ck_assert_uint_eq(e->arg3, 1);
		char line[256];
		tt_fbuf b;
		tt_fb_init(&b, line, sizeof line);
		tt_history_event(&b, r, NULL, NULL, NULL, id, e);
		char want[96];
		snprintf(want, sizeof want, "woken by thread %ld during its poll",
			 (long)syscall(SYS_gettid));
		ck_assert_str_eq(line, want);
	}
	ck_assert_int_eq(wakes, 1);
	/* The wake was seen at the poll's end: it yielded, not suspended. */
	ck_assert_int_eq(yields, 1);
	ck_assert_int_eq(suspends, 0);
	free(r);
}
END_TEST

START_TEST(wrapped_ring_keeps_the_newest)
{
	run_yielder(500, 4096); /* a ring of 64 events */
	tt_reader *r = open_self();
	static got g;
	tt_rflight st;
	ck_assert_int_gt(tt_flight_read(r, 0, keep, &g, &st), 0);
	ck_assert_uint_gt(st.lost, 400);
	ck_assert_uint_eq(st.skipped, 0);
	uint64_t id = last_done(&g);
	size_t mine = 0;
	uint64_t prev = 0;
	for (size_t i = 0; i < g.n; i++) {
		if (g.ev[i].task != id || g.ev[i].worker < 0)
			continue;
		ck_assert(!mine || g.ev[i].pos == prev + 1); /* consecutive, no gap */
		prev = g.ev[i].pos;
		mine++;
	}
	ck_assert_uint_le(mine, 63);
	ck_assert_uint_ge(mine, 60);
	free(r);
}
END_TEST

/* The worker ring of the last runtime: its address and fields. */
static uint64_t worker_ring(tt_reader *r)
{
	tt_rworker w;
	ck_assert_int_eq(tt_reader_worker(r, 0, &w), TT_R_OK);
	ck_assert_uint_ne(w.ring, 0);
	return w.ring;
}

static uint64_t *ring_u64(tt_reader *r, uint64_t ring, int field)
{
	ck_assert_uint_eq(r->f_ring[field].size, 8);
	return (uint64_t *)(uintptr_t)(ring + r->f_ring[field].offset);
}

/* The ring of a runtime that ran a task yielding 10 times, to damage:
 * its head, capacity, and the address of FIELD (8 bytes) of event POS. */
typedef struct ring_view {
	tt_reader *r;
	uint64_t head, cap;
	unsigned char *events;
	uint32_t esize;
} ring_view;

static ring_view ring_after_yields(void)
{
	run_yielder(10, 0);
	ring_view v = {.r = open_self()};
	uint64_t ring = worker_ring(v.r);
	v.head = *ring_u64(v.r, ring, TT_RING_HEAD);
	v.cap = *ring_u64(v.r, ring, TT_RING_CAPACITY);
	v.events = (unsigned char *)(uintptr_t)*ring_u64(v.r, ring, TT_RING_EVENTS);
	v.esize = v.r->record_size[TT_REC_EVENT];
	return v;
}

static uint64_t *event_u64(const ring_view *v, uint64_t pos, int field)
{
	ck_assert_uint_eq(v->r->f_event[field].size, 8);
	return (uint64_t *)(v->events + (pos % v->cap) * v->esize + v->r->f_event[field].offset);
}

START_TEST(torn_events_counted_not_delivered)
{
	ring_view v = ring_after_yields();
	ck_assert_uint_ge(v.head, 3);
	/* One event half-written (odd SEQ), one of another lap. */
	*event_u64(&v, v.head - 2, TT_EVENT_SEQ) = 2 * (v.head - 2) + 1;
	*event_u64(&v, v.head - 3, TT_EVENT_SEQ) = 2 * (v.head - 3 + v.cap) + 2;
	static got g;
	tt_rflight st;
	ck_assert_int_ge(tt_flight_read(v.r, 0, keep, &g, &st), 0);
	ck_assert_uint_eq(st.skipped, 2);
	for (size_t i = 0; i < g.n; i++)
		if (g.ev[i].worker >= 0)
			ck_assert(g.ev[i].pos != v.head - 2 && g.ev[i].pos != v.head - 3);
	free(v.r);
}
END_TEST

/* V's ring read with its event at BAD out of order: that event alone is
 * skipped and counted; returns how many of the workers' events after it
 * are still delivered. */
static size_t delivered_after(const ring_view *v, uint64_t bad)
{
	static got g;
	tt_rflight st;
	size_t after = 0;

	g.n = 0;
	ck_assert_int_ge(tt_flight_read(v->r, 0, keep, &g, &st), 0);
	ck_assert_uint_eq(st.skipped, 1);
	for (size_t i = 0; i < g.n; i++) {
		if (g.ev[i].worker < 0)
			continue;
		ck_assert(g.ev[i].pos != bad);
		after += g.ev[i].pos > bad;
	}
	return after;
}

/* A writer's stamps never go back: an event stamped before the one
 * before it in its ring is no event of that ring. */
START_TEST(stamp_out_of_order_counted_not_delivered)
{
	ring_view v = ring_after_yields();
	ck_assert_uint_ge(v.head, 3);
	uint64_t before = *event_u64(&v, v.head - 3, TT_EVENT_STAMP_NS);
	ck_assert_uint_gt(before, 0);
	*event_u64(&v, v.head - 2, TT_EVENT_STAMP_NS) = before - 1;
	/* the next one is in order again */
	ck_assert_uint_eq(delivered_after(&v, v.head - 2), 1);
	free(v.r);
}
END_TEST

/* One event stamped far in the future is dropped alone: the events after
 * it, in order with the ones before, are all still delivered. */
START_TEST(stamp_from_the_future_drops_one_event)
{
	ring_view v = ring_after_yields();
	ck_assert_uint_ge(v.head, 8);
	uint64_t bad = v.head - 6;
	*event_u64(&v, bad, TT_EVENT_STAMP_NS) = UINT64_MAX / 2;
	ck_assert_uint_eq(delivered_after(&v, bad), 5);
	free(v.r);
}
END_TEST

START_TEST(absurd_ring_one_error)
{
	run_yielder(3, 0);
	tt_reader *r = open_self();
	uint64_t ring = worker_ring(r);
	*ring_u64(r, ring, TT_RING_CAPACITY) = 1ull << 40;
	static got g;
	tt_rflight st;
	ck_assert_int_ge(tt_flight_read(r, 0, keep, &g, &st), 0);
	ck_assert_uint_eq(st.bad_rings, 1);
	ck_assert_msg(strstr(st.err, "is absurd"), "%s", st.err);
	for (size_t i = 0; i < g.n; i++)
		ck_assert_int_lt(g.ev[i].worker, 0); /* only the foreign ring's */
	free(r);
}
END_TEST

START_TEST(switched_off_records_nothing)
{
	run_yielder(3, 0);
	tt_reader *r = open_self();
	uint64_t ring = worker_ring(r);
	uint64_t head = *ring_u64(r, ring, TT_RING_HEAD);
	ck_assert_int_eq(tt_recorder_enable(0), 1);
	run_yielder(50, 0);
	ck_assert_uint_eq(*ring_u64(r, ring, TT_RING_HEAD), head);
	ck_assert_int_eq(tt_recorder_enable(1), 0);
	run_yielder(5, 0);
	ck_assert_uint_gt(*ring_u64(r, ring, TT_RING_HEAD), head);
	free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("flight");
	TCase *tc = tcase_create("recorder");
	tcase_add_test(tc, polls_in_order);
	tcase_add_test(tc, wake_during_poll_recorded);
	tcase_add_test(tc, wrapped_ring_keeps_the_newest);
	tcase_add_test(tc, torn_events_counted_not_delivered);
	tcase_add_test(tc, stamp_out_of_order_counted_not_delivered);
	tcase_add_test(tc, stamp_from_the_future_drops_one_event);
	tcase_add_test(tc, absurd_ring_one_error);
	tcase_add_test(tc, switched_off_records_nothing);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
