/* The reader-writer lock as a user sees it: writers exclude everyone,
 * readers share, a queued writer is not starved by new readers, a waiter
 * cancelled at any point strands nobody, the waiters' records name whom
 * they wait for, and bad input gets error codes. */
#include <stdint.h>

#include "sync_util.h"

/* A task that takes RW (read or write), then holds it until RELEASE is
 * set, recording the order it got in. */
typedef struct holder {
	tt_frame frame;
	tt_rwlock *rw;
	int write;
	_Atomic int release, held, drops;
	_Atomic int *order;
	int my_turn;
	tt_rwlock_op op;
} holder;
static tt_poll holder_poll(holder *self, tt_cx *cx);
static void holder_drop(holder *self)
{
	atomic_fetch_add(&self->drops, 1);
}
TT_ASYNC_FN(holder, holder_poll, holder_drop);
static tt_poll holder_poll(holder *self, tt_cx *cx)
{
	TT_BEGIN(self);
	if (self->write)
		TT_AWAIT(self, cx, &self->op, tt_write_lock_init(&self->op, self->rw));
	else
		TT_AWAIT(self, cx, &self->op, tt_read_lock_init(&self->op, self->rw));
	if (TT_RESULT(&self->op) != 0)
		TT_RETURN(self, TT_RESULT(&self->op));
	self->my_turn = self->order ? atomic_fetch_add(self->order, 1) : 0;
	atomic_store(&self->held, 1);
	while (!atomic_load(&self->release))
		TT_YIELD(self, cx);
	CHECK((self->write ? tt_rwlock_write_unlock(self->rw) : tt_rwlock_read_unlock(self->rw)) ==
	      0);
	atomic_store(&self->held, 0);
	TT_RETURN(self, 0);
}

typedef struct rw_ctx {
	tt_rwlock rw;
	holder h[4];
	tt_handle t[4];
	_Atomic int order;
} rw_ctx;

static void start(rw_ctx *x, int k, int write)
{
	memset(&x->h[k], 0, sizeof x->h[k]);
	tt_frame_init(&x->h[k].frame, &holder_fn);
	x->h[k].rw = &x->rw;
	x->h[k].write = write;
	x->h[k].order = &x->order;
	x->t[k] = spawn_frame(write ? "writer" : "reader", &x->h[k].frame);
}
static int idle(rw_ctx *x, int k)
{
	return task_idle(x->t[k]);
}
static int held(rw_ctx *x, int k)
{
	return atomic_load(&x->h[k].held);
}
static void let_go(rw_ctx *x, int k)
{
	atomic_store(&x->h[k].release, 1);
}
static void release_all(rw_ctx *x, int n)
{
	for (int k = 0; k < n; k++)
		tt_task_release(x->t[k]);
}
static uint64_t owner_of(rw_ctx *x, int k)
{
	return x->h[k].op.leaf.wait.owner;
}
static uint64_t id(rw_ctx *x, int k)
{
	return tt_task_id(x->t[k]);
}

/* Readers share: two hold it at once; a writer waits for both, and names
 * one of them; a reader arriving after the writer queues behind it. */
static int share_step(void *p, int i)
{
	rw_ctx *x = p;
	switch (i) {
	case 0:
		start(x, 0, 0);
		start(x, 1, 0);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(held(x, 0) && held(x, 1));
		ck_assert_uint_eq(tt_rwlock_readers(&x->rw), 2);
		ck_assert_uint_eq(tt_rwlock_writer(&x->rw), 0);
		start(x, 2, 1);
		return STEP_NEXT;
	case 2:
		WAIT_UNTIL(idle(x, 2));
		ck_assert_uint_eq(x->h[2].op.leaf.wait.kind, TT_WAIT_RWLOCK);
		ck_assert_uint_eq(x->h[2].op.leaf.wait.detail, 1);
		ck_assert_ptr_eq(x->h[2].op.leaf.wait.object, &x->rw);
		ck_assert(owner_of(x, 2) == id(x, 0) || owner_of(x, 2) == id(x, 1));
		/* Writer preference: a new reader does not pass the writer. */
		ck_assert_int_eq(tt_rwlock_try_read(&x->rw), -EBUSY);
		start(x, 3, 0);
		return STEP_NEXT;
	case 3:
		WAIT_UNTIL(idle(x, 3));
		ck_assert_uint_eq(owner_of(x, 3), id(x, 2)); /* yields to the writer */
		ck_assert_uint_eq(x->h[3].op.leaf.wait.detail, 0);
		let_go(x, 0);
		return STEP_NEXT;
	case 4:
		WAIT_UNTIL(!held(x, 0) && tt_task_is_done(x->t[0]));
		ck_assert(!held(x, 2) && !held(x, 3));
		ck_assert_uint_eq(owner_of(x, 2), id(x, 1)); /* the reader still holding */
		let_go(x, 1);
		return STEP_NEXT;
	case 5:
		WAIT_UNTIL(held(x, 2));
		ck_assert_uint_eq(tt_rwlock_writer(&x->rw), id(x, 2));
		ck_assert(!held(x, 3));
		ck_assert_uint_eq(owner_of(x, 3), id(x, 2)); /* now the holder */
		ck_assert_int_eq(tt_rwlock_try_read(&x->rw), -EBUSY);
		ck_assert_int_eq(tt_rwlock_try_write(&x->rw), -EBUSY);
		let_go(x, 2);
		return STEP_NEXT;
	case 6:
		WAIT_UNTIL(held(x, 3));
		ck_assert_int_eq(x->h[3].my_turn, 3); /* after both readers and the writer */
		ck_assert_int_eq(x->h[2].my_turn, 2);
		let_go(x, 3);
		return STEP_NEXT;
	case 7:
		WAIT_UNTIL(tt_task_is_done(x->t[3]));
		for (int k = 0; k < 4; k++)
			ck_assert_int_eq(tt_task_result(x->t[k]), 0);
		release_all(x, 4);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* FIFO with batching: behind a writer, R W R queue; the writer's unlock
 * lets the first reader in, not the second (it is behind a writer). */
static int fifo_step(void *p, int i)
{
	rw_ctx *x = p;
	switch (i) {
	case 0:
		ck_assert_int_eq(tt_rwlock_try_write(&x->rw), 0);
		ck_assert_uint_eq(tt_rwlock_writer(&x->rw), tt_task_id(tt_current_task()));
		start(x, 0, 0);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(idle(x, 0));
		start(x, 1, 1);
		return STEP_NEXT;
	case 2:
		WAIT_UNTIL(idle(x, 1));
		start(x, 2, 0);
		return STEP_NEXT;
	case 3:
		WAIT_UNTIL(idle(x, 2));
		/* All name the writer holding it. */
		for (int k = 0; k < 3; k++)
			ck_assert_uint_eq(owner_of(x, k), tt_task_id(tt_current_task()));
		ck_assert_int_eq(tt_rwlock_destroy(&x->rw), -EBUSY);
		ck_assert_int_eq(tt_rwlock_write_unlock(&x->rw), 0);
		ck_assert_uint_eq(tt_rwlock_readers(&x->rw), 1); /* handed to reader 0 */
		return STEP_NEXT;
	case 4:
		WAIT_UNTIL(held(x, 0));
		ck_assert(!held(x, 1) && !held(x, 2));
		ck_assert_uint_eq(owner_of(x, 2), id(x, 1));
		let_go(x, 0);
		return STEP_NEXT;
	case 5:
		WAIT_UNTIL(held(x, 1));
		let_go(x, 1);
		return STEP_NEXT;
	case 6:
		WAIT_UNTIL(held(x, 2));
		let_go(x, 2);
		return STEP_NEXT;
	case 7:
		WAIT_UNTIL(tt_task_is_done(x->t[2]));
		for (int k = 0; k < 3; k++)
			ck_assert_int_eq(x->h[k].my_turn, k);
		release_all(x, 3);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* Cancellation: a queued writer cancelled lets the readers behind it in
 * at once (the lock is read-held); a writer handed the lock and cancelled
 * before it ran passes it on. */
static int cancel_step(void *p, int i)
{
	rw_ctx *x = p;
	switch (i) {
	case 0:
		ck_assert_int_eq(tt_rwlock_try_read(&x->rw), 0);
		start(x, 0, 1);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(idle(x, 0));
		start(x, 1, 0);
		return STEP_NEXT;
	case 2:
		WAIT_UNTIL(idle(x, 1));
		ck_assert_uint_eq(owner_of(x, 0), tt_task_id(tt_current_task()));
		tt_task_cancel(x->t[0]);
		return STEP_NEXT;
	case 3:
		WAIT_UNTIL(tt_task_is_done(x->t[0]) && held(x, 1));
		ck_assert_int_eq(tt_task_result(x->t[0]), TT_ECANCELED);
		ck_assert_int_eq(atomic_load(&x->h[0].drops), 1);
		ck_assert_uint_eq(tt_test_task_field(x->t[0], TT_TASK_WAKERS), 0);
		ck_assert_uint_eq(tt_rwlock_readers(&x->rw), 2);
		start(x, 2, 1); /* queues behind both readers */
		return STEP_NEXT;
	case 4:
		WAIT_UNTIL(idle(x, 2));
		start(x, 3, 1);
		return STEP_NEXT;
	case 5:
		WAIT_UNTIL(idle(x, 3));
		let_go(x, 1);
		return STEP_NEXT;
	case 6:
		WAIT_UNTIL(tt_task_is_done(x->t[1]));
		/* Our unlock hands it to writer 2, cancelled before it runs:
		 * writer 3 gets it. */
		ck_assert_int_eq(tt_rwlock_read_unlock(&x->rw), 0);
		ck_assert_uint_eq(tt_rwlock_writer(&x->rw), id(x, 2));
		tt_task_cancel(x->t[2]);
		return STEP_NEXT;
	case 7:
		WAIT_UNTIL(tt_task_is_done(x->t[2]) && held(x, 3));
		ck_assert_int_eq(tt_task_result(x->t[2]), TT_ECANCELED);
		ck_assert_uint_eq(tt_rwlock_writer(&x->rw), id(x, 3));
		let_go(x, 3);
		return STEP_NEXT;
	case 8:
		WAIT_UNTIL(tt_task_is_done(x->t[3]));
		ck_assert_uint_eq(tt_rwlock_writer(&x->rw), 0);
		ck_assert_uint_eq(tt_rwlock_readers(&x->rw), 0);
		release_all(x, 4);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_rwlock_scripts)
{
	static const step_fn steps[] = {share_step, fifo_step, cancel_step};
	rw_ctx x = {0};
	tt_rwlock_init(&x.rw);
	uint64_t live0 = tt_test_tasks_live();
	run_script(0, steps[_i], &x);
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
	ck_assert_int_eq(tt_rwlock_destroy(&x.rw), 0);
}
END_TEST

/* Exclusion under contention on several workers: a writer sees nobody
 * else inside, a reader sees no writer, and the writes all land. */
enum { NTASK = 8 };
typedef struct excl {
	tt_rwlock rw;
	_Atomic int readers_in, writers_in, bad, max_readers;
	long a, b; /* written together under the write lock */
	int per;
} excl;
typedef struct excl_task {
	tt_frame frame;
	excl *e;
	int write, i;
	tt_rwlock_op op;
} excl_task;
static tt_poll excl_poll(excl_task *self, tt_cx *cx);
TT_ASYNC_FN(excl_task, excl_poll, NULL);
static tt_poll excl_poll(excl_task *self, tt_cx *cx)
{
	excl *e = self->e;
	TT_BEGIN(self);
	for (self->i = 0; self->i < e->per; self->i++) {
		if (self->write) {
			TT_AWAIT(self, cx, &self->op, tt_write_lock_init(&self->op, &e->rw));
			CHECK(TT_RESULT(&self->op) == 0);
			if (atomic_fetch_add(&e->writers_in, 1) != 0 || atomic_load(&e->readers_in))
				atomic_fetch_add(&e->bad, 1);
			e->a++;
			e->b++;
			atomic_fetch_sub(&e->writers_in, 1);
			CHECK(tt_rwlock_write_unlock(&e->rw) == 0);
		} else {
			TT_AWAIT(self, cx, &self->op, tt_read_lock_init(&self->op, &e->rw));
			CHECK(TT_RESULT(&self->op) == 0);
			int n = atomic_fetch_add(&e->readers_in, 1) + 1;
			for (int m = atomic_load(&e->max_readers); n > m;)
				if (atomic_compare_exchange_weak(&e->max_readers, &m, n))
					break;
			if (atomic_load(&e->writers_in) || e->a != e->b)
				atomic_fetch_add(&e->bad, 1);
			if (self->i % 4 == 0)
				TT_YIELD(self, cx); /* hold it across a suspension */
			atomic_fetch_sub(&e->readers_in, 1);
			CHECK(tt_rwlock_read_unlock(&e->rw) == 0);
		}
		if (self->i % 8 == 0)
			TT_YIELD(self, cx);
	}
	TT_RETURN(self, 0);
}
static excl_task excl_tasks[NTASK];
static tt_handle excl_spawn(void *ctx, int i)
{
	excl_task *t = &excl_tasks[i];
	tt_frame_init(&t->frame, &excl_task_fn);
	t->e = ctx;
	t->write = i % 4 == 0; /* 2 writers, 6 readers */
	tt_spawn_opts o = {t->write ? "writer" : "reader", NULL, 0};
	return tt_spawn_at(NULL, &o, &t->frame, TT_SPAWN_SITE_());
}

START_TEST(test_rwlock_exclusion)
{
	excl e = {0};
	tt_rwlock_init(&e.rw);
	e.per = tt_test_scaled(4000);
	run_all(2 + _i, NTASK, excl_spawn, &e, NULL);
	ck_assert_int_eq(atomic_load(&e.bad), 0);
	ck_assert_int_eq(e.a, 2L * e.per);
	ck_assert_int_eq(e.b, 2L * e.per);
	ck_assert_uint_eq(tt_rwlock_readers(&e.rw), 0);
	ck_assert_int_eq(tt_rwlock_destroy(&e.rw), 0);
}
END_TEST

/* Writers are not starved: readers that overlap without pause (each
 * holds its read lock across a yield, so the count rarely drops to 0)
 * still let a writer in, again and again; they stop only once it is done. */
enum { NREADERS = 6 };
typedef struct starve {
	tt_rwlock rw;
	_Atomic int stop;
	int writes;
} starve;
typedef struct starve_task {
	tt_frame frame;
	starve *s;
	int write, i;
	tt_rwlock_op op;
} starve_task;
static tt_poll starve_poll(starve_task *self, tt_cx *cx);
TT_ASYNC_FN(starve_task, starve_poll, NULL);
static tt_poll starve_poll(starve_task *self, tt_cx *cx)
{
	starve *s = self->s;
	TT_BEGIN(self);
	if (self->write) {
		for (self->i = 0; self->i < s->writes; self->i++) {
			TT_AWAIT(self, cx, &self->op, tt_write_lock_init(&self->op, &s->rw));
			CHECK(tt_rwlock_write_unlock(&s->rw) == 0);
		}
		atomic_store(&s->stop, 1);
		TT_RETURN(self, 0);
	}
	while (!atomic_load(&s->stop)) {
		TT_AWAIT(self, cx, &self->op, tt_read_lock_init(&self->op, &s->rw));
		TT_YIELD(self, cx);
		CHECK(tt_rwlock_read_unlock(&s->rw) == 0);
	}
	TT_RETURN(self, 0);
}
static starve_task starve_tasks[NREADERS + 1];
static tt_handle starve_spawn(void *ctx, int i)
{
	starve_task *t = &starve_tasks[i];
	tt_frame_init(&t->frame, &starve_task_fn);
	t->s = ctx;
	t->write = i == NREADERS;
	tt_spawn_opts o = {t->write ? "writer" : "reader", NULL, 0};
	return tt_spawn_at(NULL, &o, &t->frame, TT_SPAWN_SITE_());
}

START_TEST(test_rwlock_writer_not_starved)
{
	starve s;
	memset(&s, 0, sizeof s);
	tt_rwlock_init(&s.rw);
	s.writes = tt_test_scaled(200);
	run_all(2, NREADERS + 1, starve_spawn, &s, NULL);
	ck_assert_int_eq(tt_rwlock_destroy(&s.rw), 0);
}
END_TEST

/* Bad input: error codes, never a crash or a corrupted lock. */
static int misuse_step(void *p, int i)
{
	rw_ctx *x = p;
	(void)i;
	ck_assert_int_eq(tt_rwlock_read_unlock(&x->rw), -EPERM); /* not held */
	ck_assert_int_eq(tt_rwlock_write_unlock(&x->rw), -EPERM);
	ck_assert_int_eq(tt_rwlock_try_read(&x->rw), 0);
	ck_assert_int_eq(tt_rwlock_write_unlock(&x->rw), -EPERM); /* read-held */
	ck_assert_int_eq(tt_rwlock_try_write(&x->rw), -EBUSY);
	ck_assert_int_eq(tt_rwlock_destroy(&x->rw), -EBUSY);
	ck_assert_int_eq(tt_rwlock_read_unlock(&x->rw), 0);
	ck_assert_int_eq(tt_rwlock_read_unlock(&x->rw), -EPERM); /* twice */
	ck_assert_int_eq(tt_rwlock_try_write(&x->rw), 0);
	ck_assert_int_eq(tt_rwlock_read_unlock(&x->rw), -EPERM); /* write-held */
	ck_assert_int_eq(tt_rwlock_try_read(&x->rw), -EBUSY);
	ck_assert_int_eq(tt_rwlock_write_unlock(&x->rw), 0);
	ck_assert_int_eq(tt_rwlock_write_unlock(&x->rw), -EPERM); /* twice */
	ck_assert_uint_eq(tt_rwlock_readers(&x->rw), 0);
	ck_assert_uint_eq(tt_rwlock_writer(&x->rw), 0);
	ck_assert_int_eq(tt_rwlock_destroy(&x->rw), 0);
	/* Destroyed: every use says so. */
	ck_assert_int_eq(tt_rwlock_destroy(&x->rw), -EINVAL);
	ck_assert_int_eq(tt_rwlock_try_read(&x->rw), -EINVAL);
	ck_assert_int_eq(tt_rwlock_try_write(&x->rw), -EINVAL);
	ck_assert_int_eq(tt_rwlock_read_unlock(&x->rw), -EINVAL);
	ck_assert_int_eq(tt_rwlock_write_unlock(&x->rw), -EINVAL);
	ck_assert_uint_eq(tt_rwlock_readers(&x->rw), 0);
	ck_assert_uint_eq(tt_rwlock_writer(&x->rw), 0);
	/* NULL */
	ck_assert_int_eq(tt_rwlock_try_read(NULL), -EINVAL);
	ck_assert_int_eq(tt_rwlock_try_write(NULL), -EINVAL);
	ck_assert_int_eq(tt_rwlock_read_unlock(NULL), -EINVAL);
	ck_assert_int_eq(tt_rwlock_write_unlock(NULL), -EINVAL);
	ck_assert_int_eq(tt_rwlock_destroy(NULL), -EINVAL);
	return STEP_DONE;
}

START_TEST(test_rwlock_misuse)
{
	rw_ctx x = {0};
	tt_rwlock_init(&x.rw);
	ck_assert_int_eq(tt_rwlock_try_read(&x.rw), -EPERM); /* outside a task */
	ck_assert_int_eq(tt_rwlock_try_write(&x.rw), -EPERM);
	ck_assert_int_eq(tt_rwlock_read_unlock(&x.rw), -EPERM);
	ck_assert_int_eq(tt_rwlock_write_unlock(&x.rw), -EPERM);
	run_script(0, misuse_step, &x);
	/* NULL lock for an await (x.rw destroyed now: the other one). */
	memset(&x.h[1], 0, sizeof x.h[1]);
	tt_frame_init(&x.h[1].frame, &holder_fn);
	x.h[1].write = 0;
	tt_runtime *rt = tt_test_runtime(0);
	holder *h = &x.h[1];
	h->rw = NULL;
	ck_assert_int_eq(tt_block_on(rt, &h->frame), -EINVAL);
	memset(h, 0, sizeof *h);
	tt_frame_init(&h->frame, &holder_fn);
	h->rw = &x.rw; /* destroyed */
	h->write = 1;
	ck_assert_int_eq(tt_block_on(rt, &h->frame), -EINVAL);
	tt_runtime_free(rt);
}
END_TEST

static Suite *rwlock_suite(void)
{
	Suite *s = suite_create("rwlock");
	TCase *tc = tcase_create("rwlock");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_rwlock_scripts, 0, 3);
	tcase_add_loop_test(tc, test_rwlock_exclusion, 0, 2);
	tcase_add_test(tc, test_rwlock_writer_not_starved);
	tcase_add_test(tc, test_rwlock_misuse);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(rwlock_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
