/* The wait-for graph of the diagnosis on registries built by hand (the
 * reader's synthetic images): every kind of edge, the waits that are no
 * edge, a wait chain that leads into a cycle, several cycles, a task that
 * waits on itself, and the lost-waker rule's exclusions.  samples/deadlock
 * covers only the join+mutex cycle of two tasks. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "reg_image.h"
#include "tasktrace/abi/registry.h"
#include "tasktrace/read/diagnose.h"
#include "tasktrace/read/format.h"

#define NOW (1000ull * 1000000000ull)

typedef struct world {
	img g;
	uint64_t slots;
	uint32_t next;
	uint64_t f_async, f_sel, f_sleep, site;
	uint64_t f_leaf[TT_WAIT_KIND_MAX_];
} world;

static void world_init(world *w)
{
	memset(w, 0, sizeof(*w));
	img_init(&w->g, 1 << 20);
	w->slots = img_chunk(&w->g, 16);
	w->f_async = img_func(&w->g, "serve", TT_FUNC_KIND_ASYNC);
	w->f_sel = img_func(&w->g, "tt_select", TT_FUNC_KIND_COMBINATOR);
	w->f_sleep = img_func(&w->g, "tt_sleep", TT_FUNC_KIND_LEAF);
	for (uint32_t k = 0; k < TT_WAIT_KIND_MAX_; k++)
		w->f_leaf[k] = img_func(&w->g, "leaf", TT_FUNC_KIND_LEAF);
	w->site = img_site(&w->g, "serve", "src/serve.c", 12, TT_SITEF_AWAIT);
}

/* Task ID, idle in `serve` at an await whose leaf waits (KIND) on OWNER;
 * through a select over that leaf and a timer when SEL. */
static uint64_t waiter(world *w, uint64_t id, uint32_t kind, uint64_t owner, int sel)
{
	img *g = &w->g;
	uint64_t leaf = img_frame(g, w->f_leaf[kind], 0, 0, 0);
	img_wait(g, leaf, kind, 0x5000 + 0x100 * id, owner, 0);
	uint64_t child = leaf;
	if (sel) {
		uint64_t timer = img_frame(g, w->f_sleep, 0, 0, 0);
		img_wait(g, timer, TT_WAIT_TIMER, 0, 0, NOW + 1000000000ull);
		img_w(g, leaf + img_off(TT_REC_FRAME, TT_FRAME_SIBLING), timer, 8);
		child = img_frame(g, w->f_sel, w->site, leaf, 0);
	}
	uint64_t root = img_frame(g, w->f_async, w->site, child, 0);
	uint64_t slot = img_slot(w->slots, w->next++);
	img_task(g, slot, id, "t", TT_STATE_IDLE, root);
	img_set(g, TT_REC_TASK, TT_TASK_POLLS, slot, 1);
	img_set(g, TT_REC_TASK, TT_TASK_WAKERS, slot, 1);
	return leaf;
}

/* Task ID waits (KIND) on OBJECT, which any task of HOLDERS (N) can end:
 * a semaphore's holders, a channel's declared other end. */
static uint64_t held_waiter(world *w, uint64_t id, uint32_t kind, uint64_t object,
			    const uint64_t *holders, uint32_t n, uint32_t flags)
{
	uint64_t leaf = waiter(w, id, kind, 0, 0);
	img_set(&w->g, TT_REC_WAIT, TT_WAIT_OBJECT, leaf, object);
	img_wait_holders(&w->g, leaf, img_holders(&w->g, holders, n, flags));
	return leaf;
}

static tt_snapshot *snap(world *w)
{
	tt_snapshot *s = NULL;
	char err[160];
	ck_assert_int_eq(
	    tt_snapshot_read(img_mem(&w->g), w->g.root_addr, NULL, &s, err, sizeof err), TT_R_OK);
	s->flags |= TT_ROOTF_RECORDING;
	return s;
}

static tt_diag_report *diagnose(world *w, tt_snapshot **out)
{
	tt_snapshot *s = snap(w);
	tt_diag_report *r = tt_diagnose(s, NOW, NULL);
	ck_assert_ptr_nonnull(r);
	if (out)
		*out = s;
	else
		tt_snapshot_free(s);
	return r;
}

static size_t count_kind(const tt_diag_report *r, uint32_t kind)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->findings[i].kind == kind;
	return n;
}

static const tt_diag_finding *first_of(const tt_diag_report *r, uint32_t kind)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->findings[i].kind == kind)
			return &r->findings[i];
	ck_abort_msg("no finding of kind %u in:\n%s", kind, r->text);
	return NULL;
}

static const tt_diag_finding *deadlock_with(const tt_diag_report *r, uint64_t id)
{
	for (size_t i = 0; i < r->n; i++) {
		const tt_diag_finding *f = &r->findings[i];
		for (uint32_t k = 0; f->kind == TT_DIAG_DEADLOCK && k < f->ncycle; k++)
			if (f->cycle[k] == id)
				return f;
	}
	return NULL;
}

/* The cycle of F is exactly IDS (in its order: from the smallest id, along
 * the edges). */
static void cycle_is(const tt_diag_finding *f, const uint64_t *ids, uint32_t n, const char *text)
{
	ck_assert_msg(f, "no deadlock in:\n%s", text);
	ck_assert_uint_eq(f->ncycle, n);
	for (uint32_t k = 0; k < n; k++)
		ck_assert_msg(f->cycle[k] == ids[k], "cycle[%u] = %llu, want %llu\n%s", k,
			      (unsigned long long)f->cycle[k], (unsigned long long)ids[k], text);
	ck_assert_uint_eq(f->task_id, ids[0]);
}

START_TEST(oneshot_and_join_close_a_cycle)
{
	world w;
	world_init(&w);
	waiter(&w, 1, TT_WAIT_ONESHOT, 2, 0);
	waiter(&w, 2, TT_WAIT_JOIN, 1, 0);
	tt_diag_report *r = diagnose(&w, NULL);
	ck_assert_uint_eq(count_kind(r, TT_DIAG_DEADLOCK), 1);
	cycle_is(deadlock_with(r, 1), (uint64_t[]){1, 2}, 2, r->text);
	ck_assert_ptr_nonnull(strstr(r->text, "deadlock: 2 tasks wait on each other in a cycle"));
	ck_assert_ptr_nonnull(strstr(r->text, "a task must not (transitively) wait"));
	tt_diag_free(r);
	img_free(&w.g);
}
END_TEST

START_TEST(group_and_mutex_close_a_cycle)
{
	world w;
	world_init(&w);
	waiter(&w, 3, TT_WAIT_GROUP, 4, 0);
	waiter(&w, 4, TT_WAIT_MUTEX, 5, 0);
	waiter(&w, 5, TT_WAIT_JOIN, 3, 0);
	tt_diag_report *r = diagnose(&w, NULL);
	ck_assert_uint_eq(count_kind(r, TT_DIAG_DEADLOCK), 1);
	cycle_is(deadlock_with(r, 4), (uint64_t[]){3, 4, 5}, 3, r->text);
	ck_assert_ptr_nonnull(strstr(r->text, "deadlock: 3 tasks wait on each other in a cycle"));
	/* A mutex in the cycle gets the lock advice. */
	ck_assert_ptr_nonnull(strstr(r->text, "do not hold a mutex while awaiting"));
	tt_diag_free(r);
	img_free(&w.g);
}
END_TEST

/* A select may finish through its other branch: the same cycle through a
 * select is no deadlock. */
START_TEST(a_combinator_is_no_edge)
{
	for (int sel = 0; sel < 2; sel++) {
		world w;
		world_init(&w);
		waiter(&w, 1, TT_WAIT_JOIN, 2, sel);
		waiter(&w, 2, TT_WAIT_JOIN, 1, 0);
		tt_diag_report *r = diagnose(&w, NULL);
		ck_assert_msg(count_kind(r, TT_DIAG_DEADLOCK) == (sel ? 0u : 1u), "select %d:\n%s",
			      sel, r->text);
		tt_diag_free(r);
		img_free(&w.g);
	}
}
END_TEST

/* Channels, semaphores, notifies and the rest record no owner that makes
 * an edge, even when a field holds a task id. */
START_TEST(other_waits_are_no_edge)
{
	static const uint32_t kinds[] = {TT_WAIT_CHAN_RECV, TT_WAIT_CHAN_SEND, TT_WAIT_SEMAPHORE,
					 TT_WAIT_NOTIFY,    TT_WAIT_TIMER,     TT_WAIT_FD_READ,
					 TT_WAIT_BLOCKING,  TT_WAIT_CUSTOM};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		world w;
		world_init(&w);
		waiter(&w, 1, kinds[k], 2, 0);
		waiter(&w, 2, TT_WAIT_JOIN, 1, 0);
		tt_diag_report *r = diagnose(&w, NULL);
		ck_assert_msg(count_kind(r, TT_DIAG_DEADLOCK) == 0, "wait kind %u:\n%s", kinds[k],
			      r->text);
		tt_diag_free(r);
		img_free(&w.g);
	}
}
END_TEST

/* Tasks 6 -> 7 -> 1 lead into the cycle 1 -> 2 -> 1 and are not part of
 * it; a second cycle 8 <-> 9 is reported on its own.  The chain comes
 * first in slot order, so the walk meets the cycle from outside. */
START_TEST(a_chain_into_a_cycle)
{
	world w;
	world_init(&w);
	waiter(&w, 6, TT_WAIT_JOIN, 7, 0);
	waiter(&w, 7, TT_WAIT_MUTEX, 1, 0);
	waiter(&w, 9, TT_WAIT_JOIN, 8, 0);
	waiter(&w, 1, TT_WAIT_JOIN, 2, 0);
	waiter(&w, 2, TT_WAIT_ONESHOT, 1, 0);
	waiter(&w, 8, TT_WAIT_GROUP, 9, 0);
	waiter(&w, 10, TT_WAIT_JOIN, 6, 0); /* another tail, onto the first one */
	tt_diag_report *r = diagnose(&w, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_DEADLOCK) == 2, "%s", r->text);
	cycle_is(deadlock_with(r, 1), (uint64_t[]){1, 2}, 2, r->text);
	cycle_is(deadlock_with(r, 8), (uint64_t[]){8, 9}, 2, r->text);
	ck_assert_ptr_null(deadlock_with(r, 6));
	ck_assert_ptr_null(deadlock_with(r, 7));
	ck_assert_ptr_null(deadlock_with(r, 10));
	tt_diag_free(r);
	img_free(&w.g);
}
END_TEST

START_TEST(a_task_joining_itself)
{
	world w;
	world_init(&w);
	waiter(&w, 5, TT_WAIT_JOIN, 5, 0);
	tt_diag_report *r = diagnose(&w, NULL);
	ck_assert_uint_eq(count_kind(r, TT_DIAG_DEADLOCK), 1);
	cycle_is(deadlock_with(r, 5), (uint64_t[]){5}, 1, r->text);
	ck_assert_ptr_nonnull(strstr(r->text, "deadlock: 1 task waits on itself"));
	tt_diag_free(r);
	img_free(&w.g);
}
END_TEST

/* A cycle whose owner is missing (not in the registry) or not idle is no
 * deadlock: the owner may still finish. */
START_TEST(an_edge_needs_an_idle_owner)
{
	world w;
	world_init(&w);
	waiter(&w, 1, TT_WAIT_JOIN, 2, 0);
	waiter(&w, 2, TT_WAIT_JOIN, 1, 0);
	img_set(&w.g, TT_REC_TASK, TT_TASK_STATE, img_slot(w.slots, 1), TT_STATE_SCHEDULED);
	tt_diag_report *r = diagnose(&w, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_DEADLOCK) == 0, "%s", r->text);
	tt_diag_free(r);
	img_free(&w.g);

	world_init(&w);
	waiter(&w, 1, TT_WAIT_JOIN, 3, 0); /* 3 does not exist */
	waiter(&w, 2, TT_WAIT_JOIN, 1, 0);
	r = diagnose(&w, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_DEADLOCK) == 0, "%s", r->text);
	tt_diag_free(r);
	img_free(&w.g);
}
END_TEST

/* Idle, polled, no live waker, for seconds: a lost waker -- unless it was
 * asked to cancel (the cancellation wakes it), or never polled. */
START_TEST(lost_waker_exclusions)
{
	world w;
	world_init(&w);
	waiter(&w, 1, TT_WAIT_CUSTOM, 0, 0);
	tt_snapshot *s = snap(&w);
	tt_stask *t = &s->tasks[0];
	ck_assert_uint_eq(t->raw.id, 1);
	t->raw.wakers = 0;
	t->raw.poll_end_ns = NOW - 5000000000ull;

	tt_diag_report *r = tt_diagnose(s, NOW, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_LOST_WAKER) == 1, "%s", r->text);
	ck_assert_uint_eq(r->findings[0].task_id, 1);
	ck_assert_uint_eq(r->findings[0].age_ns, 5000000000ull);
	ck_assert_ptr_nonnull(strstr(r->text, "idle 5.0s, 1 poll, 0 live wakers"));
	tt_diag_free(r);

	t->raw.flags |= TT_TASKF_CANCEL_REQUESTED;
	r = tt_diagnose(s, NOW, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_LOST_WAKER) == 0, "cancel requested:\n%s", r->text);
	tt_diag_free(r);

	t->raw.flags &= ~(uint32_t)TT_TASKF_CANCEL_REQUESTED;
	t->raw.polls = 0;
	r = tt_diagnose(s, NOW, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_LOST_WAKER) == 0, "never polled:\n%s", r->text);
	tt_diag_free(r);

	t->raw.polls = 1;
	t->raw.wakers = 1;
	r = tt_diagnose(s, NOW, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_LOST_WAKER) == 0, "a live waker:\n%s", r->text);
	tt_diag_free(r);
	tt_snapshot_free(s);
	img_free(&w.g);
}
END_TEST

/* Task ID of S, to change its fields after the read. */
static tt_stask *task_of(tt_snapshot *s, uint64_t id)
{
	tt_stask *t = (tt_stask *)tt_snapshot_find(s, id);
	ck_assert_msg(t, "no task %llu", (unsigned long long)id);
	return t;
}

/* A cycle has lasted since its last edge formed: the youngest wait. */
START_TEST(a_cycle_lasts_since_its_last_edge)
{
	world w;
	tt_snapshot *s;
	world_init(&w);
	waiter(&w, 1, TT_WAIT_JOIN, 2, 0);
	waiter(&w, 2, TT_WAIT_MUTEX, 3, 0);
	waiter(&w, 3, TT_WAIT_ONESHOT, 1, 0);
	s = snap(&w);
	task_of(s, 1)->frames[1].raw.wait_since_ns = NOW - 9000000000ull;
	task_of(s, 2)->frames[1].raw.wait_since_ns = NOW - 4000000000ull;
	task_of(s, 3)->frames[1].raw.wait_since_ns = NOW - 7000000000ull;
	tt_diag_report *r = tt_diagnose(s, NOW, NULL);
	cycle_is(deadlock_with(r, 1), (uint64_t[]){1, 2, 3}, 3, r->text);
	ck_assert_uint_eq(deadlock_with(r, 1)->age_ns, 4000000000ull);
	ck_assert_uint_eq(deadlock_with(r, 1)->other_id, 2);
	tt_diag_free(r);
	tt_snapshot_free(s);
	img_free(&w.g);
}
END_TEST

/* A oneshot whose producer ended never resolves: finished, cancelled or
 * gone (not in the registry) -- but not while the producer lives, nor
 * when it was spawned after the read began (its id at or past the
 * registry's next id: its slot was read before it took it). */
START_TEST(never_resolved_by_owner_state)
{
	static const struct {
		uint32_t state;
		const char *words;
	} cases[] = {
	    {TT_STATE_DONE, "task 1 \"t\" waits on a oneshot whose producer, task 2, has finished"},
	    {TT_STATE_CANCELLED,
	     "task 1 \"t\" waits on a oneshot whose producer, task 2, was cancelled"},
	    {TT_STATE_IDLE, NULL},
	    {TT_STATE_SCHEDULED, NULL},
	};
	world w;
	world_init(&w);
	waiter(&w, 1, TT_WAIT_ONESHOT, 2, 0);
	waiter(&w, 2, TT_WAIT_TIMER, 0, 0);
	waiter(&w, 3, TT_WAIT_ONESHOT, 7, 0); /* 7 is not in the registry */
	tt_snapshot *s = snap(&w);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		task_of(s, 2)->raw.state = cases[k].state;
		s->next_task_id = 8;
		tt_diag_report *r = tt_diagnose(s, NOW, NULL);
		size_t want = cases[k].words ? 2 : 1;
		ck_assert_msg(count_kind(r, TT_DIAG_NEVER_RESOLVED) == want, "state %u:\n%s",
			      cases[k].state, r->text);
		ck_assert_msg(strstr(r->text, "task 3 \"t\" waits on a oneshot whose producer, "
					      "task 7, is gone"),
			      "%s", r->text);
		if (cases[k].words) {
			ck_assert_msg(strstr(r->text, cases[k].words), "%s", r->text);
			/* All asleep comes first: 1 and 3 wait on tasks that ended. */
			const tt_diag_finding *f = first_of(r, TT_DIAG_NEVER_RESOLVED);
			ck_assert_uint_eq(f->task_id, 1);
			ck_assert_uint_eq(f->other_id, 2);
		}
		tt_diag_free(r);

		/* Owner 7 spawned after the read began: not gone. */
		s->next_task_id = 7;
		r = tt_diagnose(s, NOW, NULL);
		ck_assert_msg(count_kind(r, TT_DIAG_NEVER_RESOLVED) == want - 1, "%s", r->text);
		ck_assert_msg(!strstr(r->text, "task 7, is gone"), "%s", r->text);
		tt_diag_free(r);
	}
	tt_snapshot_free(s);
	img_free(&w.g);
}
END_TEST

/* Idle for two minutes on a timer that has not fired yet is no finding
 * (the timer wakes it); on one past its deadline it is. */
START_TEST(idle_on_a_pending_timer)
{
	world w;
	world_init(&w);
	waiter(&w, 1, TT_WAIT_TIMER, 0, 0);
	tt_snapshot *s = snap(&w);
	tt_stask *t = task_of(s, 1);
	t->raw.poll_end_ns = NOW - 120000000000ull;
	t->frames[1].raw.wait_detail = NOW + 60000000000ull;
	tt_diag_report *r = tt_diagnose(s, NOW, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_IDLE) == 0, "%s", r->text);
	tt_diag_free(r);
	t->frames[1].raw.wait_detail = NOW - 1000000000ull;
	r = tt_diagnose(s, NOW, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_IDLE) == 1, "%s", r->text);
	ck_assert_uint_eq(r->findings[0].age_ns, 120000000000ull);
	tt_diag_free(r);
	tt_snapshot_free(s);
	img_free(&w.g);
}
END_TEST

/* With opts.recheck, a cycle stands only if its tasks are still as read:
 * one whose record moved since (seq) drops the finding. */
START_TEST(recheck_drops_a_moved_cycle)
{
	world w;
	world_init(&w);
	waiter(&w, 1, TT_WAIT_JOIN, 2, 0);
	waiter(&w, 2, TT_WAIT_JOIN, 1, 0);
	tt_snapshot *s = snap(&w);
	tt_mem mem = img_mem(&w.g);
	tt_diag_opts o;
	tt_diag_opts_init(&o);
	o.recheck = &mem;
	tt_diag_report *r = tt_diagnose(s, NOW, &o);
	ck_assert_msg(count_kind(r, TT_DIAG_DEADLOCK) == 1, "unchanged:\n%s", r->text);
	tt_diag_free(r);
	uint64_t slot = img_slot(w.slots, 1);
	img_set(&w.g, TT_REC_TASK, TT_TASK_SEQ, slot,
		img_get(&w.g, TT_REC_TASK, TT_TASK_SEQ, slot) + 2);
	r = tt_diagnose(s, NOW, &o);
	ck_assert_msg(count_kind(r, TT_DIAG_DEADLOCK) == 0, "task 2 moved:\n%s", r->text);
	tt_diag_free(r);
	tt_snapshot_free(s);
	img_free(&w.g);
}
END_TEST

/* An unlock takes the next waiter off the queue and wakes it only after
 * letting go of the queue's lock: until its poll ends that waiter still
 * reads idle, naming the holder letting go, while the queued ones name the
 * holder before (gone).  A waiter whose owner is running: being handed on. */
START_TEST(handed_on_by_a_running_owner)
{
	world w;
	world_init(&w);
	waiter(&w, 1, TT_WAIT_MUTEX, 9, 0); /* 9: gone */
	waiter(&w, 2, TT_WAIT_MUTEX, 5, 0);
	waiter(&w, 5, TT_WAIT_TIMER, 0, 0);
	tt_snapshot *s = snap(&w);
	s->next_task_id = 10;
	task_of(s, 2)->frames[1].raw.wait_object = task_of(s, 1)->frames[1].raw.wait_object;
	tt_diag_report *r = tt_diagnose(s, NOW, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_NEVER_RESOLVED) == 1, "owner 5 idle:\n%s", r->text);
	tt_diag_free(r);
	task_of(s, 5)->raw.state = TT_STATE_RUNNING;
	r = tt_diagnose(s, NOW, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_NEVER_RESOLVED) == 0, "owner 5 running:\n%s", r->text);
	tt_diag_free(r);
	tt_snapshot_free(s);
	img_free(&w.g);
}
END_TEST

/* Many waiters of one abandoned mutex: each is "never resolved", unless
 * another waiter of its mutex was woken (the mutex is being handed on).
 * Asked per waiter by a scan of every task, N waiters were N * N steps:
 * 200,000 of them took minutes, where the whole diagnosis takes a second. */
START_TEST(many_waiters_of_an_abandoned_mutex)
{
	const char *sc = getenv("TT_TEST_SCALE");
	uint32_t n = 200000u / (sc && atoi(sc) > 0 ? (uint32_t)atoi(sc) : 1);
	img g;
	img_init(&g, (size_t)(n + 2) * (IMG_TASK_SIZE + 2 * IMG_LEAF_SIZE) + (1u << 16));
	uint64_t f_serve = img_func(&g, "serve", TT_FUNC_KIND_ASYNC);
	uint64_t f_lock = img_func(&g, "tt_mutex_lock", TT_FUNC_KIND_LEAF);
	uint64_t site = img_site(&g, "serve", "src/serve.c", 12, TT_SITEF_AWAIT);
	uint64_t slots = img_chunk(&g, n + 2);
	const uint64_t gone = 4 * (uint64_t)n, abandoned = 0x5000, handed_on = 0x6000;

	/* Tasks 1..n wait on the abandoned mutex; n+1 (woken) and n+2 on the
	 * one being handed on. */
	for (uint32_t i = 0; i < n + 2; i++) {
		uint64_t leaf = img_frame(&g, f_lock, 0, 0, 0);
		img_wait(&g, leaf, TT_WAIT_MUTEX, i < n ? abandoned : handed_on, gone, 0);
		uint64_t slot = img_slot(slots, i);
		img_task(&g, slot, i + 1, "t", i == n ? TT_STATE_SCHEDULED : TT_STATE_IDLE,
			 img_frame(&g, f_serve, site, leaf, 0));
		img_set(&g, TT_REC_TASK, TT_TASK_POLLS, slot, 1);
		img_set(&g, TT_REC_TASK, TT_TASK_WAKERS, slot, 1);
	}
	img_set(&g, TT_REC_ROOT, TT_ROOT_NEXT_TASK_ID, IMG_ROOT_ADDR, 2 * gone);

	tt_snapshot *s = NULL;
	char err[160];
	ck_assert_int_eq(tt_snapshot_read(img_mem(&g), g.root_addr, NULL, &s, err, sizeof err),
			 TT_R_OK);
	s->flags |= TT_ROOTF_RECORDING;
	tt_diag_opts o;
	tt_diag_opts_init(&o);
	o.each = 1;
	tt_diag_report *r = tt_diagnose(s, NOW, &o);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(count_kind(r, TT_DIAG_NEVER_RESOLVED), n);
	for (size_t i = 0; i < r->n; i++)
		ck_assert_uint_le(r->findings[i].task_id, n);
	tt_diag_free(r);
	/* Grouped (the default): one finding for the n alike, ids in order. */
	r = tt_diagnose(s, NOW, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(count_kind(r, TT_DIAG_NEVER_RESOLVED), 1);
	const tt_diag_finding *f = first_of(r, TT_DIAG_NEVER_RESOLVED);
	ck_assert_uint_eq(f->count, n);
	ck_assert_uint_eq(f->task_id, 1);
	for (uint32_t i = 0; i < n; i++)
		ck_assert_uint_eq(f->ids[i], i + 1);
	ck_assert_msg(strstr(f->title, "never resolved: "), "%s", f->title);
	tt_diag_free(r);
	tt_snapshot_free(s);
	img_free(&g);
}
END_TEST

/* Issue 12's 3-task cycle: 1 holds the semaphore's only permit and waits
 * to send on a full channel whose declared receiver is 2; 2 waits on a
 * join of 3; 3 waits for the permit.  Spelled out edge by edge. */
START_TEST(a_semaphore_and_a_channel_close_a_cycle)
{
	world w;
	world_init(&w);
	held_waiter(&w, 1, TT_WAIT_CHAN_SEND, 0x9000, (uint64_t[]){2}, 1, 0);
	waiter(&w, 2, TT_WAIT_JOIN, 3, 0);
	held_waiter(&w, 3, TT_WAIT_SEMAPHORE, 0xa000, (uint64_t[]){1}, 1, 0);
	tt_diag_report *r = diagnose(&w, NULL);
	ck_assert_uint_eq(count_kind(r, TT_DIAG_DEADLOCK), 1);
	cycle_is(deadlock_with(r, 1), (uint64_t[]){1, 2, 3}, 3, r->text);
	ck_assert_msg(strstr(r->text,
			     "deadlock: 3 tasks wait on each other in a cycle\n"
			     "  task 1 \"t\" waits on channel send 0x9000 received by task "
			     "2 \"t\""),
		      "%s", r->text);
	ck_assert_msg(strstr(r->text, "  task 2 \"t\" waits on join of task 3 \"t\""), "%s",
		      r->text);
	ck_assert_msg(strstr(r->text, "  task 3 \"t\" waits on semaphore 0xa000 held by task 1 "
				      "\"t\""),
		      "%s", r->text);
	ck_assert_msg(strstr(r->text, "(back to task 1"), "%s", r->text);
	ck_assert_msg(strstr(r->text, "do not hold a permit while awaiting"), "%s", r->text);
	/* The cycle is every task: no "all asleep" besides. */
	ck_assert_uint_eq(r->n, 1);
	tt_diag_free(r);
	img_free(&w.g);
}
END_TEST

/* Each waits to receive what only the other sends. */
START_TEST(two_channels_close_a_cycle)
{
	world w;
	world_init(&w);
	held_waiter(&w, 1, TT_WAIT_CHAN_RECV, 0x9000, (uint64_t[]){2}, 1, 0);
	held_waiter(&w, 2, TT_WAIT_CHAN_RECV, 0x9100, (uint64_t[]){1}, 1, 0);
	tt_diag_report *r = diagnose(&w, NULL);
	ck_assert_uint_eq(count_kind(r, TT_DIAG_DEADLOCK), 1);
	cycle_is(deadlock_with(r, 2), (uint64_t[]){1, 2}, 2, r->text);
	ck_assert_msg(strstr(r->text, "task 1 \"t\" waits on channel recv 0x9000 sent by task 2"),
		      "%s", r->text);
	ck_assert_msg(strstr(r->text, "task 2 \"t\" waits on channel recv 0x9100 sent by task 1"),
		      "%s", r->text);
	tt_diag_free(r);
	img_free(&w.g);
}
END_TEST

/* A wait any of several holders can end is blocked only while all of them
 * are; an incomplete or torn holders record, or none, is no edge. */
START_TEST(holders_edges_need_every_holder_blocked)
{
	for (int c = 0; c < 5; c++) {
		world w;
		world_init(&w);
		uint64_t leaf;
		if (c == 0) /* 4 can still release: it waits on a notify */
			leaf =
			    held_waiter(&w, 1, TT_WAIT_SEMAPHORE, 0xa000, (uint64_t[]){2, 4}, 2, 0);
		else if (c == 1)
			leaf = held_waiter(&w, 1, TT_WAIT_SEMAPHORE, 0xa000, (uint64_t[]){2}, 1,
					   TT_HOLDERSF_INCOMPLETE);
		else if (c == 2)
			leaf = held_waiter(&w, 1, TT_WAIT_CHAN_RECV, 0xa000, (uint64_t[]){2}, 1, 0);
		else if (c == 3)
			leaf = held_waiter(&w, 1, TT_WAIT_CHAN_RECV, 0xa000, NULL, 0, 0);
		else
			leaf = waiter(&w, 1, TT_WAIT_SEMAPHORE, 2, 0); /* owner, no holders */
		if (c == 2) /* read while being changed */
			img_set(&w.g, TT_REC_HOLDERS, TT_HOLDERS_SEQ,
				img_get(&w.g, TT_REC_WAIT, TT_WAIT_HOLDERS, leaf), 3);
		waiter(&w, 2, TT_WAIT_JOIN, 1, 0);
		waiter(&w, 4, TT_WAIT_NOTIFY, 0, 0);
		tt_diag_report *r = diagnose(&w, NULL);
		ck_assert_msg(count_kind(r, TT_DIAG_DEADLOCK) == 0, "case %d:\n%s", c, r->text);
		ck_assert_msg(count_kind(r, TT_DIAG_ALL_ASLEEP) == 0, "case %d:\n%s", c, r->text);
		tt_diag_free(r);
		img_free(&w.g);
	}
	/* With 4 blocked too, 1 -> {2, 4}, 2 -> 1, 4 -> 1 all deadlock. */
	world w;
	world_init(&w);
	held_waiter(&w, 1, TT_WAIT_SEMAPHORE, 0xa000, (uint64_t[]){2, 4}, 2, 0);
	waiter(&w, 2, TT_WAIT_JOIN, 1, 0);
	waiter(&w, 4, TT_WAIT_JOIN, 1, 0);
	tt_diag_report *r = diagnose(&w, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_DEADLOCK) == 1, "%s", r->text);
	cycle_is(deadlock_with(r, 1), (uint64_t[]){1, 2}, 2, r->text);
	/* 4 is asleep outside the cycle: all asleep says so. */
	ck_assert_msg(count_kind(r, TT_DIAG_ALL_ASLEEP) == 1, "%s", r->text);
	ck_assert_msg(strstr(r->text, "all tasks are asleep: 3 tasks wait and nothing can wake "
				      "any of them\n"),
		      "%s", r->text);
	tt_diag_free(r);
	img_free(&w.g);
}
END_TEST

/* A channel whose every declared sender has ended never gets a value;
 * with the receiver the only live task, all are asleep. */
START_TEST(a_channel_whose_senders_ended)
{
	world w;
	world_init(&w);
	held_waiter(&w, 1, TT_WAIT_CHAN_RECV, 0x9000, (uint64_t[]){2, 3}, 2, 0);
	waiter(&w, 2, TT_WAIT_NONE, 0, 0);
	waiter(&w, 3, TT_WAIT_NONE, 0, 0);
	tt_snapshot *s = snap(&w);
	s->next_task_id = 4;
	task_of(s, 2)->raw.state = TT_STATE_DONE;
	tt_diag_report *r = tt_diagnose(s, NOW, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_NEVER_RESOLVED) == 0, "3 may still send:\n%s", r->text);
	ck_assert_msg(count_kind(r, TT_DIAG_ALL_ASLEEP) == 0, "%s", r->text);
	tt_diag_free(r);
	task_of(s, 3)->raw.state = TT_STATE_CANCELLED;
	r = tt_diagnose(s, NOW, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_NEVER_RESOLVED) == 1, "%s", r->text);
	ck_assert_msg(strstr(r->text, "task 1 \"t\" waits on a channel whose declared senders, "
				      "task 2, has finished"),
		      "%s", r->text);
	ck_assert_msg(count_kind(r, TT_DIAG_ALL_ASLEEP) == 1, "%s", r->text);
	ck_assert_msg(strstr(r->text,
			     "all tasks are asleep: 1 task waits and nothing can wake "
			     "any of them\n  task 1 \"t\" waits on channel recv 0x9000 sent "
			     "by task 2"),
		      "%s", r->text);
	tt_diag_free(r);
	tt_snapshot_free(s);
	img_free(&w.g);
}
END_TEST

/* Tasks blocked on each other but a timer, an fd or a notify (which a
 * thread outside the tasks may signal) among them: not all asleep. */
START_TEST(not_asleep_with_a_timer_or_a_notify)
{
	static const uint32_t kinds[] = {TT_WAIT_TIMER, TT_WAIT_FD_READ, TT_WAIT_NOTIFY,
					 TT_WAIT_BLOCKING, TT_WAIT_TOKEN};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		world w;
		world_init(&w);
		waiter(&w, 1, TT_WAIT_JOIN, 2, 0);
		waiter(&w, 2, kinds[k], 0, 0);
		waiter(&w, 3, TT_WAIT_MUTEX, 1, 0);
		tt_diag_report *r = diagnose(&w, NULL);
		ck_assert_msg(count_kind(r, TT_DIAG_ALL_ASLEEP) == 0, "kind %u:\n%s", kinds[k],
			      r->text);
		tt_diag_free(r);
		img_free(&w.g);
	}
}
END_TEST

/* A nonblocking read: a holder that moved since takes the cycle with it. */
START_TEST(recheck_covers_the_holders)
{
	world w;
	world_init(&w);
	held_waiter(&w, 1, TT_WAIT_SEMAPHORE, 0xa000, (uint64_t[]){2, 4}, 2, 0);
	waiter(&w, 2, TT_WAIT_JOIN, 1, 0);
	waiter(&w, 4, TT_WAIT_JOIN, 2, 0);
	tt_snapshot *s = snap(&w);
	tt_mem mem = img_mem(&w.g);
	tt_diag_opts o;
	tt_diag_opts_init(&o);
	o.recheck = &mem;
	tt_diag_report *r = tt_diagnose(s, NOW, &o);
	ck_assert_msg(count_kind(r, TT_DIAG_DEADLOCK) == 1, "unchanged:\n%s", r->text);
	tt_diag_free(r);
	/* 4 (a holder, not on the cycle 1 -> 2 -> 1) moved. */
	uint64_t slot = img_slot(w.slots, 2);
	img_set(&w.g, TT_REC_TASK, TT_TASK_SEQ, slot,
		img_get(&w.g, TT_REC_TASK, TT_TASK_SEQ, slot) + 2);
	r = tt_diagnose(s, NOW, &o);
	ck_assert_msg(count_kind(r, TT_DIAG_DEADLOCK) == 0, "task 4 moved:\n%s", r->text);
	ck_assert_msg(count_kind(r, TT_DIAG_ALL_ASLEEP) == 0, "task 4 moved:\n%s", r->text);
	tt_diag_free(r);
	tt_snapshot_free(s);
	img_free(&w.g);
}
END_TEST

/* A nonblocking read of N tasks that all rest past the idle threshold:
 * each is named by a finding, and the second look reads the registry
 * again in bulk, not task by task (100k parked tasks were 650k reads, 4 s,
 * at top's second frame).  Its reads stay those of one more whole read,
 * and a task that moved still loses its finding. */
START_TEST(recheck_of_many_reads_in_bulk)
{
	enum { N = 2000 };
	world w;
	memset(&w, 0, sizeof(w));
	img_init(&w.g, (size_t)N * 1024);
	w.slots = img_chunk(&w.g, N);
	w.f_async = img_func(&w.g, "serve", TT_FUNC_KIND_ASYNC);
	w.f_leaf[TT_WAIT_NOTIFY] = img_func(&w.g, "tt_notified", TT_FUNC_KIND_LEAF);
	w.site = img_site(&w.g, "serve", "src/serve.c", 12, TT_SITEF_AWAIT);
	for (uint64_t id = 1; id <= N; id++) {
		waiter(&w, id, TT_WAIT_NOTIFY, 0, 0);
		img_set(&w.g, TT_REC_TASK, TT_TASK_POLL_END_NS, img_slot(w.slots, (uint32_t)id - 1),
			NOW - 120000000000ull);
	}
	img_counted c = {img_mem(&w.g), 0};
	tt_mem mem = img_counted_mem(&c);
	tt_snapshot *s = snap(&w);
	tt_snapshot *once = NULL;
	ck_assert_int_eq(tt_snapshot_read(mem, w.g.root_addr, NULL, &once, NULL, 0), TT_R_OK);
	size_t whole = c.reads;
	tt_snapshot_free(once);
	tt_diag_opts o;
	tt_diag_opts_init(&o);
	o.recheck = &mem;
	o.each = 1;
	c.reads = 0;
	tt_diag_report *r = tt_diagnose(s, NOW, &o);
	ck_assert_msg(count_kind(r, TT_DIAG_IDLE) == N, "%zu idle of %d",
		      count_kind(r, TT_DIAG_IDLE), N);
	ck_assert_msg(c.reads <= whole + 8 && c.reads < N / 4,
		      "%zu reads to recheck %d tasks (a whole read: %zu)", c.reads, N, whole);
	tt_diag_free(r);
	/* Task 8 moved (polled) since the read. */
	uint64_t slot = img_slot(w.slots, 7);
	img_set(&w.g, TT_REC_TASK, TT_TASK_SEQ, slot,
		img_get(&w.g, TT_REC_TASK, TT_TASK_SEQ, slot) + 2);
	r = tt_diagnose(s, NOW, &o);
	ck_assert_uint_eq(count_kind(r, TT_DIAG_IDLE), N - 1);
	for (size_t i = 0; i < r->n; i++)
		ck_assert_uint_ne(r->findings[i].task_id, 8);
	tt_diag_free(r);
	tt_snapshot_free(s);
	img_free(&w.g);
}
END_TEST

/* Findings alike (kind, chain, wait) are one with a count and every id;
 * another object is another finding; opts.each lists each. */
START_TEST(alike_findings_are_grouped)
{
	world w;
	world_init(&w);
	for (uint64_t id = 1; id <= 4; id++) {
		uint64_t leaf = waiter(&w, id, TT_WAIT_ONESHOT, 9, 0);
		img_set(&w.g, TT_REC_WAIT, TT_WAIT_OBJECT, leaf, id == 4 ? 0x8000 : 0x7000);
	}
	tt_snapshot *s = snap(&w);
	s->next_task_id = 10;
	tt_diag_report *r = tt_diagnose(s, NOW, NULL);
	ck_assert_msg(count_kind(r, TT_DIAG_NEVER_RESOLVED) == 2, "%s", r->text);
	const tt_diag_finding *f = first_of(r, TT_DIAG_NEVER_RESOLVED);
	ck_assert_uint_eq(f->count, 3);
	ck_assert_uint_eq(f->task_id, 1);
	ck_assert_uint_eq(f->ids[0], 1);
	ck_assert_uint_eq(f->ids[1], 2);
	ck_assert_uint_eq(f->ids[2], 3);
	ck_assert_msg(strstr(f->text,
			     "never resolved: 3 tasks alike, e.g. task 1 \"t\" waits on a "
			     "oneshot whose producer, task 9, is gone\n"
			     "  tasks 1, 2, 3 (3 with the same chain and wait; --all lists "
			     "each)\n  waits on oneshot 0x7000"),
		      "%s", f->text);
	ck_assert_uint_eq(r->findings[r->n - 1].count, 1);
	ck_assert_ptr_null(r->findings[r->n - 1].ids);
	tt_diag_free(r);
	tt_diag_opts o;
	tt_diag_opts_init(&o);
	o.each = 1;
	r = tt_diagnose(s, NOW, &o);
	ck_assert_msg(count_kind(r, TT_DIAG_NEVER_RESOLVED) == 4, "%s", r->text);
	ck_assert_ptr_null(strstr(r->text, "alike"));
	tt_diag_free(r);
	tt_snapshot_free(s);
	img_free(&w.g);
}
END_TEST

/* A wait with no edge still says who last used the other side (the
 * HOLDERS record's LAST), as a lead; a torn record says nothing. */
START_TEST(last_seen_at_the_other_end)
{
	world w;
	world_init(&w);
	uint64_t leaf = held_waiter(&w, 1, TT_WAIT_CHAN_RECV, 0x9000, NULL, 0, 0);
	uint64_t h = img_get(&w.g, TT_REC_WAIT, TT_WAIT_HOLDERS, leaf);
	img_set(&w.g, TT_REC_HOLDERS, TT_HOLDERS_LAST, h, 5);
	tt_snapshot *s = snap(&w);
	const tt_sframe *f = tt_stask_leaf(task_of(s, 1));
	char mem[256];
	tt_fbuf fb;
	tt_fb_init(&fb, mem, sizeof mem);
	tt_fmt_leaf_wait(&fb, &f->raw, NULL, NOW);
	ck_assert_msg(strstr(mem, "waits on channel recv 0x9000 (last sent by task 5)"), "%s", mem);
	tt_snapshot_free(s);
	img_free(&w.g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("diag-waitfor");
	TCase *tc = tcase_create("waitfor");
	tcase_add_test(tc, oneshot_and_join_close_a_cycle);
	tcase_add_test(tc, group_and_mutex_close_a_cycle);
	tcase_add_test(tc, a_combinator_is_no_edge);
	tcase_add_test(tc, other_waits_are_no_edge);
	tcase_add_test(tc, a_chain_into_a_cycle);
	tcase_add_test(tc, a_task_joining_itself);
	tcase_add_test(tc, an_edge_needs_an_idle_owner);
	tcase_add_test(tc, lost_waker_exclusions);
	tcase_add_test(tc, a_cycle_lasts_since_its_last_edge);
	tcase_add_test(tc, never_resolved_by_owner_state);
	tcase_add_test(tc, idle_on_a_pending_timer);
	tcase_add_test(tc, recheck_drops_a_moved_cycle);
	tcase_add_test(tc, handed_on_by_a_running_owner);
	tcase_add_test(tc, a_semaphore_and_a_channel_close_a_cycle);
	tcase_add_test(tc, two_channels_close_a_cycle);
	tcase_add_test(tc, holders_edges_need_every_holder_blocked);
	tcase_add_test(tc, a_channel_whose_senders_ended);
	tcase_add_test(tc, not_asleep_with_a_timer_or_a_notify);
	tcase_add_test(tc, recheck_covers_the_holders);
	tcase_add_test(tc, alike_findings_are_grouped);
	tcase_add_test(tc, last_seen_at_the_other_end);
	suite_add_tcase(s, tc);
	tc = tcase_create("scale");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, many_waiters_of_an_abandoned_mutex);
	tcase_add_test(tc, recheck_of_many_reads_in_bulk);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
