/* Stale handles as a user meets them: a task handle used after it was
 * given up (a second join, a join after release or detach) is refused --
 * even once another task has taken its slot -- and never reaches that
 * task; a runtime used after tt_runtime_free is refused instead of read
 * from freed memory.  Run with TASKTRACE_STALE_HANDLES=error, so the
 * refusals are return codes; a debug build's default, the abort, is
 * checked last. */
#include <signal.h>

#define TT_TEST_WANT_GATED
#include "test_util.h"

typedef struct valued {
	tt_frame frame;
	intptr_t v;
} valued;
static tt_poll valued_poll(valued *self, tt_cx *cx);
TT_ASYNC_FN(valued, valued_poll, NULL);
static tt_poll valued_poll(valued *self, tt_cx *cx)
{
	TT_RETURN(self, self->v);
}
static void valued_init(valued *f, intptr_t v)
{
	tt_frame_init(&f->frame, &valued_fn);
	f->v = v;
}

static void stale_is_error(void)
{
	setenv("TASKTRACE_STALE_HANDLES", "error", 1);
}

/* Run ROOT on a one-worker runtime: a task's last reference goes within
 * the poll that drops it, and the next spawn takes the slot it freed (the
 * free list is LIFO and nothing else runs), so "the slot was reused" is
 * deterministic and checked. */
static void run_root(tt_frame *root)
{
	tt_runtime *rt = tt_test_runtime(1);
	ck_assert_int_eq(tt_block_on(rt, root), 0);
	tt_runtime_free(rt);
}

/* ---- a second join, and every other use, of a handle whose slot now
 * holds another task ---- */

enum { REUSES = 1000 };
typedef struct reused {
	tt_frame frame;
	tt_notify gate;
	tt_handle a, b, old[REUSES];
	int i, same_slot;
	intptr_t first_join, second_join, b_join, blocking;
	int is_done, cancel, release, detach, group_add, old_stale;
	uint64_t id, b_id;
	const char *name;
	tt_handle ref;
	tt_join join;
} reused;
static tt_poll reused_poll(reused *self, tt_cx *cx);
TT_ASYNC_FN(reused, reused_poll, NULL);
static tt_poll reused_poll(reused *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->a = TT_SPAWN(NULL, "a", valued, valued_init, 111);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->a));
	self->first_join = TT_RESULT(&self->join);
	/* a's slot is free: b takes it, and waits on the gate. */
	self->b = TT_SPAWN(NULL, "b", gated, gated_init, &self->gate, NULL);
	self->same_slot = self->b.task == self->a.task;
	self->b_id = tt_task_id(self->b);
	self->is_done = tt_task_is_done(self->a);
	self->cancel = tt_task_cancel(self->a); /* would cancel b */
	self->id = tt_task_id(self->a);
	self->name = tt_task_name(self->a);
	self->ref = tt_task_ref(self->a);
	tt_notify_one(&self->gate);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->a)); /* again */
	self->second_join = TT_RESULT(&self->join);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, tt_task_ref(self->b)));
	self->b_join = TT_RESULT(&self->join);		 /* b finished, its handle still held */
	self->blocking = tt_task_join_blocking(self->a); /* would return b's result */
	self->release = tt_task_release(self->a);	 /* would drop b's reference */
	self->detach = tt_task_detach(self->a);
	{
		tt_group *g = tt_group_new();
		self->group_add = tt_group_add(g, self->a);
		tt_group_free(g);
	}
	tt_task_release(self->b);
	/* Many tasks through one slot: every earlier handle stays stale. */
	for (self->i = 0; self->i < REUSES; self->i++) {
		self->old[self->i] = TT_SPAWN(NULL, "again", valued, valued_init, self->i);
		self->same_slot &= self->old[self->i].task == self->a.task;
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->old[self->i]));
	}
	self->b = TT_SPAWN(NULL, "last", gated, gated_init, &self->gate, NULL);
	for (self->i = 0; self->i < REUSES; self->i++)
		self->old_stale += tt_task_result(self->old[self->i]) == TT_ESTALE;
	tt_notify_one(&self->gate);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->b));
	TT_RETURN(self, 0);
}

START_TEST(test_stale_after_slot_reuse)
{
	stale_is_error();
	uint64_t live0 = tt_test_tasks_live();
	static reused r; /* 16 KB of handles: not on the check fork's stack */
	tt_frame_init(&r.frame, &reused_fn);
	tt_notify_init(&r.gate);
	run_root(&r.frame);
	ck_assert_msg(r.same_slot, "the slot was not reused: the test proves nothing");
	ck_assert_int_eq(r.first_join, 111);
	ck_assert_int_eq(r.is_done, TT_ESTALE);
	ck_assert_int_eq(r.cancel, TT_ESTALE);
	ck_assert_uint_eq(r.id, 0);
	ck_assert_ptr_null(r.name);
	ck_assert_ptr_null(r.ref.task);
	ck_assert_int_eq(r.second_join, TT_ESTALE);
	ck_assert_int_eq(r.b_join, 7); /* not cancelled through a */
	ck_assert_int_eq(r.blocking, TT_ESTALE);
	ck_assert_int_eq(r.release, TT_ESTALE);
	ck_assert_int_eq(r.detach, TT_ESTALE);
	ck_assert_int_eq(r.group_add, TT_ESTALE);
	ck_assert_int_eq(r.old_stale, REUSES);
	tt_notify_destroy(&r.gate);
	/* No reference was taken from b: everything was freed, once. */
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
}
END_TEST

/* ---- a join after tt_task_release, the task still running ---- */

typedef struct released {
	tt_frame frame;
	tt_notify gate;
	tt_handle a;
	int release, is_done, second_release;
	intptr_t join, blocking;
	tt_join j;
} released;
static tt_poll released_poll(released *self, tt_cx *cx);
TT_ASYNC_FN(released, released_poll, NULL);
static tt_poll released_poll(released *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->a = TT_SPAWN(NULL, "a", gated, gated_init, &self->gate, NULL);
	self->release = tt_task_release(self->a);
	self->is_done = tt_task_is_done(self->a);
	tt_notify_one(&self->gate);
	/* Would take a reference the handle no longer holds. */
	TT_AWAIT(self, cx, &self->j, tt_join_init(&self->j, self->a));
	self->join = TT_RESULT(&self->j);
	self->blocking = tt_task_join_blocking(self->a);
	self->second_release = tt_task_release(self->a);
	TT_RETURN(self, 0);
}

START_TEST(test_join_after_release)
{
	stale_is_error();
	uint64_t live0 = tt_test_tasks_live();
	released r;
	memset(&r, 0, sizeof r);
	tt_frame_init(&r.frame, &released_fn);
	tt_notify_init(&r.gate);
	run_root(&r.frame);
	ck_assert_int_eq(r.release, 0);
	ck_assert_int_eq(r.is_done, TT_ESTALE);
	ck_assert_int_eq(r.blocking, TT_ESTALE);
	ck_assert_int_eq(r.join, TT_ESTALE);
	ck_assert_int_eq(r.second_release, TT_ESTALE);
	tt_notify_destroy(&r.gate);
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
}
END_TEST

/* ---- detach, then join once another task has the slot ---- */

typedef struct detached {
	tt_frame frame;
	tt_handle a, b;
	int same_slot, polls;
	intptr_t join_a, join_b;
	tt_join j;
} detached;
static tt_poll detached_poll(detached *self, tt_cx *cx);
TT_ASYNC_FN(detached, detached_poll, NULL);
static tt_poll detached_poll(detached *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->a = TT_SPAWN(NULL, "a", valued, valued_init, 111);
	tt_task_detach(self->a);
	/* a runs (and its slot is freed) before this task's next poll: it
	 * was queued first; bounded in case it is not. */
	while (tt_test_task_field(self->a, TT_TASK_ID) != 0 && self->polls++ < 1000)
		TT_YIELD(self, cx);
	self->b = TT_SPAWN(NULL, "b", valued, valued_init, 222);
	self->same_slot = self->b.task == self->a.task;
	TT_AWAIT(self, cx, &self->j, tt_join_init(&self->j, self->a));
	self->join_a = TT_RESULT(&self->j);
	TT_AWAIT(self, cx, &self->j, tt_join_init(&self->j, self->b));
	self->join_b = TT_RESULT(&self->j);
	TT_RETURN(self, 0);
}

START_TEST(test_detach_then_join)
{
	stale_is_error();
	detached r;
	memset(&r, 0, sizeof r);
	tt_frame_init(&r.frame, &detached_fn);
	run_root(&r.frame);
	ck_assert_msg(r.same_slot, "the slot was not reused: the test proves nothing");
	ck_assert_int_eq(r.join_a, TT_ESTALE); /* not b's 222 */
	ck_assert_int_eq(r.join_b, 222);
}
END_TEST

/* ---- borrowed handles: name the running task, own nothing ---- */

typedef struct borrower {
	tt_frame frame;
	tt_handle *out;
} borrower;
static tt_poll borrower_poll(borrower *self, tt_cx *cx);
TT_ASYNC_FN(borrower, borrower_poll, NULL);
static tt_poll borrower_poll(borrower *self, tt_cx *cx)
{
	*self->out = tt_current_task();
	TT_RETURN(self, 0);
}
static void borrower_init(borrower *b, tt_handle *out)
{
	tt_frame_init(&b->frame, &borrower_fn);
	b->out = out;
}

typedef struct borrowing {
	tt_frame frame;
	tt_handle me, child_self, child, next;
	uint64_t my_id, cx_id, gone_id;
	const char *my_name;
	int release, detach, ref_null, blocking;
	intptr_t join;
	tt_join j;
} borrowing;
static tt_poll borrowing_poll(borrowing *self, tt_cx *cx);
TT_ASYNC_FN(borrowing, borrowing_poll, NULL);
static tt_poll borrowing_poll(borrowing *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->me = tt_current_task();
	self->my_id = tt_task_id(self->me);
	self->cx_id = tt_task_id(tt_cx_task(cx));
	self->my_name = tt_task_name(self->me);
	self->release = tt_task_release(self->me);
	self->detach = tt_task_detach(self->me);
	self->ref_null = tt_task_ref(self->me).task == NULL;
	self->blocking = (int)tt_task_join_blocking(self->me);
	TT_AWAIT(self, cx, &self->j, tt_join_init(&self->j, self->me));
	self->join = TT_RESULT(&self->j);
	/* A borrowed handle of a task that is gone, its slot reused. */
	self->child = TT_SPAWN(NULL, "child", borrower, borrower_init, &self->child_self);
	TT_AWAIT(self, cx, &self->j, tt_join_init(&self->j, self->child));
	self->next = TT_SPAWN(NULL, "next", valued, valued_init, 1);
	self->gone_id = tt_task_id(self->child_self);
	TT_AWAIT(self, cx, &self->j, tt_join_init(&self->j, self->next));
	TT_RETURN(self, 0);
}

START_TEST(test_borrowed_handles)
{
	stale_is_error();
	borrowing r;
	memset(&r, 0, sizeof r);
	tt_frame_init(&r.frame, &borrowing_fn);
	run_root(&r.frame);
	ck_assert_uint_ne(r.my_id, 0);
	ck_assert_uint_eq(r.cx_id, r.my_id);
	ck_assert_str_eq(r.my_name, "block_on");
	ck_assert_int_eq(r.release, -EINVAL);
	ck_assert_int_eq(r.detach, -EINVAL);
	ck_assert(r.ref_null);
	ck_assert_int_eq(r.blocking, -EINVAL);
	ck_assert_int_eq(r.join, -EINVAL);
	ck_assert_ptr_eq(r.next.task, r.child_self.task);
	ck_assert_uint_eq(r.gone_id, 0);
}
END_TEST

/* ---- a runtime used after tt_runtime_free ---- */

START_TEST(test_spawn_after_runtime_free)
{
	stale_is_error();
	tt_runtime *rt = tt_test_runtime(1);
	tt_runtime_free(rt);
	valued v;
	valued_init(&v, 5);
	tt_spawn_opts o = {"late", NULL, 0};
	errno = 0;
	tt_handle h = tt_spawn_at(rt, &o, &v.frame, NULL); /* read freed memory */
	ck_assert_ptr_null(h.task);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_int_eq(tt_block_on(rt, &v.frame), TT_ESTALE);
	ck_assert_int_eq(tt_runtime_workers(rt), TT_ESTALE);
	tt_fd *f = NULL;
	ck_assert_int_eq(tt_fd_open(rt, 0, &f), TT_ESTALE);
	tt_runtime_free(rt); /* twice: nothing */
	/* A new runtime (likely in the same table entry, maybe at the same
	 * address) is not reachable through the old pointer. */
	tt_runtime *rt2 = tt_test_runtime(1);
	ck_assert_ptr_ne(rt2, rt);
	h = tt_spawn_at(rt, &o, &v.frame, NULL);
	ck_assert_ptr_null(h.task);
	ck_assert_int_eq(tt_block_on(rt2, &v.frame), 5);
	tt_runtime_free(rt2);
}
END_TEST

/* ---- a debug build aborts, naming the call ---- */

START_TEST(test_stale_task_handle_aborts)
{
	unsetenv("TASKTRACE_STALE_HANDLES");
	tt_runtime *rt = tt_test_runtime(1);
	tt_handle h = TT_SPAWN(rt, "a", valued, valued_init, 1);
	tt_task_join_blocking(h);
	tt_task_release(h);
	tt_task_join_blocking(h);
}
END_TEST

START_TEST(test_freed_runtime_aborts)
{
	unsetenv("TASKTRACE_STALE_HANDLES");
	tt_runtime *rt = tt_test_runtime(1);
	tt_runtime_free(rt);
	tt_runtime_workers(rt);
}
END_TEST

static Suite *handles_suite(void)
{
	Suite *s = suite_create("handles");
	TCase *tc = tcase_create("handles");
	tcase_add_test(tc, test_stale_after_slot_reuse);
	tcase_add_test(tc, test_join_after_release);
	tcase_add_test(tc, test_detach_then_join);
	tcase_add_test(tc, test_borrowed_handles);
	tcase_add_test(tc, test_spawn_after_runtime_free);
#ifndef NDEBUG
	tcase_add_test_raise_signal(tc, test_stale_task_handle_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_freed_runtime_aborts, SIGABRT);
#endif
	suite_add_tcase(s, tc);
	return s;
}

TT_TEST_MAIN(handles_suite)
