/* The runtime pieces a server is built from, as a server uses them: a
 * tracker group for its connections (finished ones let go, one failure
 * cancels nobody, a refused spawn leaks nothing), cleanups that run for a
 * task cancelled before its first poll, lock guards released by
 * cancellation, and cancellation tokens for shutdown. */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include "sync_util.h"

static int fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* A read end whose write end is closed: an fd to hand to a task. */
static int new_fd(void)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	close(p[1]);
	return p[0];
}

/* ---- a connection task: it owns FD from its init on ---- */
typedef struct conn {
	tt_frame frame;
	int fd;
	tt_notify *gate; /* NULL: finish at once */
	intptr_t ret;
	_Atomic int *finished;	  /* counts returns */
	_Atomic int *cleanups;	  /* counts cleanups */
	_Atomic int *saw_started; /* what the cleanup saw: 0/1 */
	tt_notified w;
} conn;
static tt_poll conn_poll(conn *self, tt_cx *cx);
static void conn_cleanup(conn *self)
{
	if (self->saw_started)
		atomic_store(self->saw_started, tt_frame_started(&self->frame));
	if (self->cleanups)
		atomic_fetch_add(self->cleanups, 1);
	if (self->fd >= 0)
		close(self->fd);
	self->fd = -1;
}
TT_ASYNC_FN_CLEANUP(conn, conn_poll, conn_cleanup);
static tt_poll conn_poll(conn *self, tt_cx *cx)
{
	TT_BEGIN(self);
	if (self->gate)
		TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, self->gate));
	if (self->fd >= 0)
		close(self->fd);
	self->fd = -1;
	if (self->finished)
		atomic_fetch_add(self->finished, 1);
	TT_RETURN(self, self->ret);
}
static void conn_init(conn *c, int fd, tt_notify *gate, intptr_t ret, _Atomic int *finished)
{
	memset(c, 0, sizeof *c);
	tt_frame_init(&c->frame, &conn_fn);
	c->fd = fd;
	c->gate = gate;
	c->ret = ret;
	c->finished = finished;
}
static void conn_init_watched(conn *c, int fd, tt_notify *gate, _Atomic int *cleanups,
			      _Atomic int *saw_started)
{
	conn_init(c, fd, gate, 0, NULL);
	c->cleanups = cleanups;
	c->saw_started = saw_started;
}

/* ---- a task awaiting a group ---- */
typedef struct gwaiter {
	tt_frame frame;
	tt_group *g;
	tt_group_wait w;
} gwaiter;
static tt_poll gwaiter_poll(gwaiter *self, tt_cx *cx);
TT_ASYNC_FN(gwaiter, gwaiter_poll, NULL);
static tt_poll gwaiter_poll(gwaiter *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->w, tt_group_wait_init(&self->w, self->g));
	TT_RETURN(self, TT_RESULT(&self->w));
}
static void gwaiter_init(gwaiter *w, tt_group *g)
{
	tt_frame_init(&w->frame, &gwaiter_fn);
	w->g = g;
}

/* ================= tracker groups ================= */

/* 10,000 short connections through a tracker, half of them failing, next
 * to one long-lived connection: the finished ones leave (size 0, their
 * slots freed), the long one is never cancelled by their failures, and
 * shutdown (cancel, then wait) ends it with its cleanup. */
typedef struct trk_ctx {
	uint32_t flags;
	tt_group *g;
	tt_notify gate; /* never opened */
	_Atomic int finished, cleanups, saw_started;
	int n, spawned, long_fd;
	size_t peak;
	uint64_t live0;
	gwaiter w;
	tt_handle wt;
} trk_ctx;

static int tracker_step(void *p, int i)
{
	trk_ctx *x = p;
	switch (i) {
	case 0:
		x->live0 = tt_test_tasks_live();
		x->long_fd = new_fd();
		ck_assert_int_eq(TT_GROUP_SPAWN(x->g, "long", conn, conn_init_watched, x->long_fd,
						&x->gate, &x->cleanups, &x->saw_started),
				 0);
		return STEP_NEXT;
	case 1: /* in batches of 500, as connections come and go */
		if (tt_group_size(x->g) == 1 && x->spawned < x->n) { /* the last batch left */
			for (int k = 0; k < 500 && x->spawned < x->n; k++, x->spawned++)
				ck_assert_int_eq(
				    TT_GROUP_SPAWN(x->g, "short", conn, conn_init, new_fd(), NULL,
						   x->spawned % 2 ? -ECONNRESET : 0, &x->finished),
				    0);
		}
		if (tt_group_size(x->g) > x->peak)
			x->peak = tt_group_size(x->g);
		WAIT_UNTIL(x->spawned == x->n && atomic_load(&x->finished) == x->n);
		return STEP_NEXT;
	case 2: /* every short one gone: only the long one is held, and alive */
		WAIT_UNTIL(tt_group_size(x->g) == 1);
		/* The script, the long connection: nothing else holds a slot
		 * (a finished child's slot goes just after its poll). */
		WAIT_UNTIL(tt_test_tasks_live() == x->live0 + 1);
		ck_assert_uint_le(x->peak, 501);
		ck_assert_int_eq(atomic_load(&x->cleanups), 0);
		ck_assert(fd_open(x->long_fd));
		/* Shutdown: cancel the connections, then wait for them. */
		ck_assert_int_eq(tt_group_cancel(x->g), 0);
		gwaiter_init(&x->w, x->g);
		x->wt = spawn_frame("shutdown", &x->w.frame);
		return STEP_NEXT;
	case 3:
		WAIT_UNTIL(tt_task_is_done(x->wt));
		/* The first failure is reported; it cancelled nobody. */
		ck_assert_int_eq(tt_task_result(x->wt), -ECONNRESET);
		ck_assert_int_eq(atomic_load(&x->cleanups), 1);
		ck_assert_int_eq(atomic_load(&x->saw_started), 1);
		ck_assert(!fd_open(x->long_fd));
		ck_assert_uint_eq(tt_group_size(x->g), 0);
		/* Spawning after the shutdown is refused, and leaks nothing. */
		int fd = new_fd();
		ck_assert_int_eq(TT_GROUP_SPAWN(x->g, "late", conn, conn_init, fd, NULL, 0, NULL),
				 -EINVAL);
		ck_assert(!fd_open(fd));
		ck_assert_int_eq(tt_task_release(x->wt), 0);
		return STEP_NEXT;
	case 4:
		WAIT_UNTIL(tt_test_tasks_live() == x->live0);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_tracker)
{
	trk_ctx *x = calloc(1, sizeof *x);
	x->n = tt_test_scaled(10000);
	tt_notify_init(&x->gate);
	x->g = tt_group_new_flags(TT_GROUP_TRACKER);
	ck_assert_ptr_nonnull(x->g);
	run_script(_i ? 2 : 0, tracker_step, x);
	tt_group_free(x->g);
	tt_notify_destroy(&x->gate);
	free(x);
}
END_TEST

/* A spawn into a group that cannot take it never starts the task, and the
 * frame's cleanup releases what its init was given (TT_GROUP_SPAWN used to
 * spawn first and cancel after: the task's fd leaked). */
typedef struct refuse_ctx {
	tt_group *g;
	gwaiter w;
	tt_handle wt;
	uint64_t live0;
	_Atomic int cleanups, saw_started;
} refuse_ctx;

static int refuse_step(void *p, int i)
{
	refuse_ctx *x = p;
	int fd;
	switch (i) {
	case 0:
		x->live0 = tt_test_tasks_live();
		/* A NULL group. */
		fd = new_fd();
		ck_assert_int_eq(TT_GROUP_SPAWN((tt_group *)NULL, "c", conn, conn_init_watched, fd,
						NULL, &x->cleanups, &x->saw_started),
				 -EINVAL);
		ck_assert(!fd_open(fd));
		ck_assert_int_eq(atomic_load(&x->cleanups), 1);
		ck_assert_int_eq(atomic_load(&x->saw_started), 0);
		/* A cancelled group. */
		ck_assert_int_eq(tt_group_cancel(x->g), 0);
		fd = new_fd();
		ck_assert_int_eq(TT_GROUP_SPAWN(x->g, "c", conn, conn_init, fd, NULL, 0, NULL),
				 TT_ECANCELED);
		ck_assert(!fd_open(fd));
		ck_assert_uint_eq(tt_test_tasks_live(), x->live0);
		/* A group whose wait has ended. */
		gwaiter_init(&x->w, x->g);
		x->wt = spawn_frame("wait", &x->w.frame);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(tt_task_is_done(x->wt));
		ck_assert_int_eq(tt_task_result(x->wt), 0);
		tt_task_release(x->wt);
		fd = new_fd();
		ck_assert_int_eq(TT_GROUP_SPAWN(x->g, "c", conn, conn_init, fd, NULL, 0, NULL),
				 -EINVAL);
		ck_assert(!fd_open(fd));
		ck_assert_uint_eq(tt_test_tasks_live(), x->live0);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_group_spawn_refused)
{
	refuse_ctx *x = calloc(1, sizeof *x);
	x->g = tt_group_new_flags(_i ? TT_GROUP_TRACKER : 0);
	run_script(0, refuse_step, x);
	tt_group_free(x->g);
	free(x);
}
END_TEST

/* Bad input to the group calls: an error, never a crash. */
START_TEST(test_group_bad_input)
{
	errno = 0;
	ck_assert_ptr_null(tt_group_new_flags(1u << 7));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(tt_group_cancel(NULL), -EINVAL);
	ck_assert_uint_eq(tt_group_size(NULL), 0);
	tt_group_free(NULL);
	tt_runtime *rt = tt_test_runtime(1);
	conn c;
	conn_init(&c, -1, NULL, 0, NULL);
	ck_assert_int_eq(tt_group_spawn_at(NULL, rt, NULL, &c.frame, NULL), -EINVAL);
	tt_group *g = tt_group_new();
	ck_assert_int_eq(tt_group_spawn_at(g, rt, NULL, NULL, NULL), -EINVAL);
	/* A NULL group leaves the handle with the caller. */
	tt_handle h = tt_spawn_at(rt, NULL, &c.frame, NULL);
	ck_assert_ptr_nonnull(h.task);
	ck_assert_int_eq(tt_group_add(NULL, h), -EINVAL);
	ck_assert_int_eq(tt_task_join_blocking(h), 0);
	ck_assert_int_eq(tt_task_release(h), 0);
	tt_group_free(g);
	tt_runtime_free(rt);
}
END_TEST

/* ================= cleanups that cannot leak ================= */

/* An fd handed to a task at spawn is closed however the task ends:
 * mode 0: cancelled before its first poll (on a current-thread runtime the
 *         script runs on until it yields), the cleanup told it never started;
 * mode 1: cancelled while waiting, the cleanup told it started. */
typedef struct early_ctx {
	int mode, fd;
	tt_notify gate;
	tt_handle t;
	_Atomic int cleanups, saw_started;
} early_ctx;

static int early_step(void *p, int i)
{
	early_ctx *x = p;
	switch (i) {
	case 0:
		x->fd = new_fd();
		atomic_store(&x->saw_started, -1);
		x->t = TT_SPAWN(NULL, "conn", conn, conn_init_watched, x->fd, &x->gate,
				&x->cleanups, &x->saw_started);
		ck_assert_ptr_nonnull(x->t.task);
		if (x->mode == 0)
			ck_assert_int_eq(tt_task_cancel(x->t), 0);
		return STEP_NEXT;
	case 1:
		if (x->mode == 1) {
			WAIT_UNTIL(task_idle(x->t));
			ck_assert_int_eq(tt_task_cancel(x->t), 0);
		}
		return STEP_NEXT;
	case 2:
		WAIT_UNTIL(tt_task_is_done(x->t));
		ck_assert_int_eq(tt_task_result(x->t), TT_ECANCELED);
		ck_assert_int_eq(atomic_load(&x->cleanups), 1);
		ck_assert_int_eq(atomic_load(&x->saw_started), x->mode);
		ck_assert(!fd_open(x->fd));
		tt_task_release(x->t);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_cleanup_before_first_poll)
{
	early_ctx *x = calloc(1, sizeof *x);
	x->mode = _i;
	tt_notify_init(&x->gate);
	run_script(0, early_step, x);
	tt_notify_destroy(&x->gate);
	free(x);
}
END_TEST

/* A task spawned but never polled when its runtime is freed: the cleanup
 * closes its fd too. */
START_TEST(test_cleanup_at_runtime_free)
{
	tt_runtime *rt = tt_test_runtime(0); /* nothing runs without block_on */
	_Atomic int cleanups = 0, saw = -1;
	int fd = new_fd();
	tt_handle t = TT_SPAWN(rt, "conn", conn, conn_init_watched, fd, NULL, &cleanups, &saw);
	ck_assert_ptr_nonnull(t.task);
	tt_runtime_free(rt);
	ck_assert_int_eq(atomic_load(&cleanups), 1);
	ck_assert_int_eq(atomic_load(&saw), 0);
	ck_assert(!fd_open(fd));
	ck_assert_int_eq(tt_task_result(t), TT_ECANCELED);
	tt_task_release(t);
}
END_TEST

/* ================= lock guards ================= */

typedef struct inner_g {
	tt_frame frame;
	tt_mutex *m;
	tt_lock lk;
} inner_g;
static tt_poll inner_g_poll(inner_g *self, tt_cx *cx);
TT_ASYNC_FN(inner_g, inner_g_poll, NULL);
static tt_poll inner_g_poll(inner_g *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->lk, tt_lock_guard_init(&self->lk, self->m, &self->frame));
	TT_RETURN(self, 0); /* still holding it */
}

/* Takes M through a guard and waits on GATE holding it.
 * mode 0: cancelled while holding it;
 * mode 1: returns (the gate opens) without unlocking;
 * mode 2: the guard belongs to an inner async function that returns at
 *         once: M is free while this frame waits on;
 * mode 3: tt_guard_unlock, twice. */
typedef struct holder {
	tt_frame frame;
	int mode;
	tt_mutex *m;
	tt_notify *gate;
	_Atomic int ready, ok, r1, r2;
	tt_lock lk;
	inner_g in;
	tt_notified w;
} holder;
static tt_poll holder_poll(holder *self, tt_cx *cx);
TT_ASYNC_FN(holder, holder_poll, NULL);
static tt_poll holder_poll(holder *self, tt_cx *cx)
{
	TT_BEGIN(self);
	if (self->mode == 2)
		TT_AWAIT(self, cx, &self->in,
			 (tt_frame_init(&self->in.frame, &inner_g_fn), self->in.m = self->m));
	else
		TT_AWAIT(self, cx, &self->lk, tt_lock_guard_init(&self->lk, self->m, &self->frame));
	if (self->mode == 3) {
		atomic_store(&self->r1, tt_guard_unlock(&self->lk));
		atomic_store(&self->r2, tt_guard_unlock(&self->lk));
	}
	atomic_store(&self->ok,
		     tt_mutex_owner(self->m) == (self->mode >= 2 ? 0 : tt_task_id(tt_cx_task(cx))));
	atomic_store(&self->ready, 1);
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, self->gate));
	TT_RETURN(self, 0);
}

typedef struct guard_ctx {
	int mode;
	tt_mutex m;
	tt_notify gate;
	holder h;
	awaiter b;
	tt_handle ht, bt;
} guard_ctx;

static int guard_step(void *p, int i)
{
	guard_ctx *x = p;
	switch (i) {
	case 0:
		memset(&x->h, 0, sizeof x->h);
		tt_frame_init(&x->h.frame, &holder_fn);
		x->h.mode = x->mode;
		x->h.m = &x->m;
		x->h.gate = &x->gate;
		x->ht = spawn_frame("holder", &x->h.frame);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(atomic_load(&x->h.ready) && task_idle(x->ht));
		ck_assert(atomic_load(&x->h.ok));
		if (x->mode == 3) {
			ck_assert_int_eq(atomic_load(&x->h.r1), 0);
			ck_assert_int_eq(atomic_load(&x->h.r2), -EALREADY);
		}
		awaiter_init(&x->b, AW_LOCK, &x->m, 0);
		x->bt = spawn_frame("locker", &x->b.frame);
		return STEP_NEXT;
	case 2:
		if (x->mode <= 1) { /* B waits while the holder holds it */
			WAIT_UNTIL(task_idle(x->bt));
			ck_assert(!atomic_load(&x->b.got));
			if (x->mode == 0)
				tt_task_cancel(x->ht);
			else
				tt_notify_one(&x->gate);
		}
		return STEP_NEXT;
	case 3:
		WAIT_UNTIL(tt_task_is_done(x->bt));
		ck_assert_int_eq(tt_task_result(x->bt), 0);
		ck_assert(atomic_load(&x->b.got));
		if (x->mode >= 2)
			tt_notify_one(&x->gate);
		return STEP_NEXT;
	case 4:
		WAIT_UNTIL(tt_task_is_done(x->ht));
		ck_assert_int_eq(tt_task_result(x->ht), x->mode == 0 ? TT_ECANCELED : 0);
		ck_assert_uint_eq(tt_mutex_owner(&x->m), 0);
		ck_assert_int_eq(tt_mutex_destroy(&x->m), 0);
		tt_task_release(x->ht);
		tt_task_release(x->bt);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_lock_guard)
{
	guard_ctx *x = calloc(1, sizeof *x);
	x->mode = _i / 2;
	tt_mutex_init(&x->m);
	tt_notify_init(&x->gate);
	run_script(_i % 2 ? 2 : 0, guard_step, x);
	tt_notify_destroy(&x->gate);
	free(x);
}
END_TEST

START_TEST(test_guard_bad_input)
{
	tt_mutex m;
	tt_mutex_init(&m);
	tt_lock l;
	ck_assert_int_eq(tt_guard_unlock(NULL), -EINVAL);
	tt_lock_init(&l, &m);
	ck_assert_int_eq(tt_guard_unlock(&l), -EINVAL); /* not a guard */
	tt_frame f;
	tt_frame_init(&f, &inner_g_fn);
	tt_lock_guard_init(&l, &m, &f);
	ck_assert_int_eq(tt_guard_unlock(&l), -EALREADY); /* never taken */
	/* No mutex or no holder: the await ends at once with -EINVAL. */
	tt_lock_guard_init(&l, NULL, &f);
	ck_assert_int_eq(tt_frame_poll(&l.leaf.frame, NULL), TT_READY);
	ck_assert_int_eq(TT_RESULT(&l), -EINVAL);
	tt_lock_guard_init(&l, &m, NULL);
	ck_assert_int_eq(tt_frame_poll(&l.leaf.frame, NULL), TT_READY);
	ck_assert_int_eq(TT_RESULT(&l), -EINVAL);
	ck_assert_int_eq(tt_guard_unlock(&l), -EINVAL);
	ck_assert_int_eq(tt_mutex_destroy(&m), 0);
}
END_TEST

/* ---- rwlock guards ---- */

/* Takes RW through a read (WRITE 0) or write guard and waits on GATE
 * holding it.  mode 0: cancelled while holding it; 1: returns without
 * unlocking; 2: tt_rwlock_guard_unlock, twice. */
typedef struct rw_holder {
	tt_frame frame;
	int mode, write;
	tt_rwlock *rw;
	tt_notify *gate;
	_Atomic int ready, ok, r1, r2;
	tt_rwlock_op op;
	tt_notified w;
} rw_holder;
static tt_poll rw_holder_poll(rw_holder *self, tt_cx *cx);
TT_ASYNC_FN(rw_holder, rw_holder_poll, NULL);
static tt_poll rw_holder_poll(rw_holder *self, tt_cx *cx)
{
	TT_BEGIN(self);
	if (self->write)
		TT_AWAIT(self, cx, &self->op,
			 tt_write_guard_init(&self->op, self->rw, &self->frame));
	else
		TT_AWAIT(self, cx, &self->op,
			 tt_read_guard_init(&self->op, self->rw, &self->frame));
	if (TT_RESULT(&self->op) != 0)
		TT_RETURN(self, TT_RESULT(&self->op));
	if (self->mode == 2) {
		atomic_store(&self->r1, tt_rwlock_guard_unlock(&self->op));
		atomic_store(&self->r2, tt_rwlock_guard_unlock(&self->op));
	}
	atomic_store(&self->ok,
		     self->mode == 2 ? !tt_rwlock_writer(self->rw) && !tt_rwlock_readers(self->rw)
		     : self->write   ? tt_rwlock_writer(self->rw) == tt_task_id(tt_cx_task(cx))
				     : tt_rwlock_readers(self->rw) == 1);
	atomic_store(&self->ready, 1);
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, self->gate));
	TT_RETURN(self, 0);
}

/* A writer that takes RW and lets it go. */
typedef struct rw_writer {
	tt_frame frame;
	tt_rwlock *rw;
	tt_write_lock wl;
} rw_writer;
static tt_poll rw_writer_poll(rw_writer *self, tt_cx *cx);
TT_ASYNC_FN(rw_writer, rw_writer_poll, NULL);
static tt_poll rw_writer_poll(rw_writer *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->wl, tt_write_lock_init(&self->wl, self->rw));
	TT_RETURN(self, tt_rwlock_write_unlock(self->rw));
}

typedef struct rwguard_ctx {
	int mode, write;
	tt_rwlock rw;
	tt_notify gate;
	rw_holder h;
	rw_writer b;
	tt_handle ht, bt;
} rwguard_ctx;

static int rwguard_step(void *p, int i)
{
	rwguard_ctx *x = p;
	switch (i) {
	case 0:
		memset(&x->h, 0, sizeof x->h);
		tt_frame_init(&x->h.frame, &rw_holder_fn);
		x->h.mode = x->mode;
		x->h.write = x->write;
		x->h.rw = &x->rw;
		x->h.gate = &x->gate;
		x->ht = spawn_frame("holder", &x->h.frame);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(atomic_load(&x->h.ready) && task_idle(x->ht));
		ck_assert(atomic_load(&x->h.ok));
		if (x->mode == 2) {
			ck_assert_int_eq(atomic_load(&x->h.r1), 0);
			ck_assert_int_eq(atomic_load(&x->h.r2), -EALREADY);
		}
		tt_frame_init(&x->b.frame, &rw_writer_fn);
		x->b.rw = &x->rw;
		x->bt = spawn_frame("writer", &x->b.frame);
		return STEP_NEXT;
	case 2:
		if (x->mode != 2) { /* the writer waits while the holder holds it */
			WAIT_UNTIL(task_idle(x->bt));
			ck_assert(!tt_task_is_done(x->bt));
			if (x->mode == 0)
				tt_task_cancel(x->ht);
			else
				tt_notify_one(&x->gate);
		}
		return STEP_NEXT;
	case 3:
		WAIT_UNTIL(tt_task_is_done(x->bt));
		ck_assert_int_eq(tt_task_result(x->bt), 0);
		if (x->mode == 2)
			tt_notify_one(&x->gate);
		return STEP_NEXT;
	case 4:
		WAIT_UNTIL(tt_task_is_done(x->ht));
		ck_assert_int_eq(tt_task_result(x->ht), x->mode == 0 ? TT_ECANCELED : 0);
		ck_assert_uint_eq(tt_rwlock_writer(&x->rw), 0);
		ck_assert_uint_eq(tt_rwlock_readers(&x->rw), 0);
		ck_assert_int_eq(tt_rwlock_destroy(&x->rw), 0);
		tt_task_release(x->ht);
		tt_task_release(x->bt);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* _i: bit 0 workers (0 / 2), bit 1 read / write, bits 2.. the mode. */
START_TEST(test_rwlock_guard)
{
	rwguard_ctx *x = calloc(1, sizeof *x);
	x->write = (_i >> 1) & 1;
	x->mode = _i >> 2;
	tt_rwlock_init(&x->rw);
	tt_notify_init(&x->gate);
	run_script(_i % 2 ? 2 : 0, rwguard_step, x);
	tt_notify_destroy(&x->gate);
	free(x);
}
END_TEST

START_TEST(test_rwlock_guard_bad_input)
{
	tt_rwlock rw;
	tt_rwlock_init(&rw);
	tt_rwlock_op op;
	ck_assert_int_eq(tt_rwlock_guard_unlock(NULL), -EINVAL);
	tt_read_lock_init(&op, &rw);
	ck_assert_int_eq(tt_rwlock_guard_unlock(&op), -EINVAL); /* not a guard */
	tt_frame f;
	tt_frame_init(&f, &inner_g_fn);
	tt_write_guard_init(&op, &rw, &f);
	ck_assert_int_eq(tt_rwlock_guard_unlock(&op), -EALREADY); /* never taken */
	/* No lock or no holder: the await ends at once with -EINVAL. */
	tt_read_guard_init(&op, NULL, &f);
	ck_assert_int_eq(tt_frame_poll(&op.leaf.frame, NULL), TT_READY);
	ck_assert_int_eq(TT_RESULT(&op), -EINVAL);
	tt_write_guard_init(&op, &rw, NULL);
	ck_assert_int_eq(tt_frame_poll(&op.leaf.frame, NULL), TT_READY);
	ck_assert_int_eq(TT_RESULT(&op), -EINVAL);
	ck_assert_int_eq(tt_rwlock_guard_unlock(&op), -EINVAL);
	ck_assert_int_eq(tt_rwlock_destroy(&rw), 0);
}
END_TEST

/* ================= cancellation tokens ================= */

START_TEST(test_token_tree)
{
	tt_token *root = tt_token_new(NULL), *a = tt_token_new(root), *b = tt_token_new(a),
		 *c = tt_token_new(root);
	ck_assert(root && a && b && c);
	ck_assert_int_eq(tt_token_cancelled(root) + tt_token_cancelled(a) + tt_token_cancelled(b) +
			     tt_token_cancelled(c),
			 0);
	/* A subtree: its descendants, not its parent or siblings. */
	ck_assert_int_eq(tt_token_cancel(a), 0);
	ck_assert_int_eq(tt_token_cancelled(a), 1);
	ck_assert_int_eq(tt_token_cancelled(b), 1);
	ck_assert_int_eq(tt_token_cancelled(root), 0);
	ck_assert_int_eq(tt_token_cancelled(c), 0);
	ck_assert_int_eq(tt_token_cancel(a), -EALREADY);
	/* The root: everything, and later children are born cancelled. */
	ck_assert_int_eq(tt_token_cancel(root), 0);
	ck_assert_int_eq(tt_token_cancelled(c), 1);
	tt_token *late = tt_token_new(c);
	ck_assert_int_eq(tt_token_cancelled(late), 1);
	/* Bad input. */
	ck_assert_int_eq(tt_token_cancel(NULL), -EINVAL);
	ck_assert_int_eq(tt_token_free(NULL), -EINVAL);
	ck_assert_int_eq(tt_token_cancelled(NULL), -EINVAL);
	/* Freed while a child holds it: a second free and any use are
	 * refused. */
	ck_assert_int_eq(tt_token_free(root), 0);
	ck_assert_int_eq(tt_token_free(root), TT_ESTALE);
	ck_assert_int_eq(tt_token_cancel(root), TT_ESTALE);
	errno = 0;
	ck_assert_ptr_null(tt_token_new(root));
	ck_assert_int_eq(errno, ESTALE);
	tt_token_wait w;
	tt_token_wait_init(&w, root);
	ck_assert_int_eq(TT_RESULT(&w), TT_ESTALE);
	tt_token_wait_init(&w, NULL);
	ck_assert_int_eq(TT_RESULT(&w), -EINVAL);
	ck_assert_int_eq(tt_token_free(late), 0);
	ck_assert_int_eq(tt_token_free(b), 0);
	ck_assert_int_eq(tt_token_free(a), 0);
	ck_assert_int_eq(tt_token_free(c), 0); /* the last: root goes too (ASan: no leak) */
}
END_TEST

typedef struct tok_waiter {
	tt_frame frame;
	tt_token *t;
	tt_token_wait tw;
} tok_waiter;
static tt_poll tok_waiter_poll(tok_waiter *self, tt_cx *cx);
TT_ASYNC_FN(tok_waiter, tok_waiter_poll, NULL);
static tt_poll tok_waiter_poll(tok_waiter *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->tw, tt_token_wait_init(&self->tw, self->t));
	TT_RETURN(self, TT_RESULT(&self->tw) == 0 ? 1 : TT_RESULT(&self->tw));
}

/* Connections wait on children of a shutdown token: cancelling the root
 * ends every wait, including one on a token its creator already freed
 * and one that starts after the cancel (level-triggered: a notify_all
 * there would be lost); a waiter cancelled itself lets go of its token. */
enum { NTOK = 6 };
typedef struct tokw_ctx {
	int workers;
	tt_token *root, *child[NTOK];
	tok_waiter w[NTOK + 1];
	tt_handle t[NTOK + 1];
} tokw_ctx;

static void start_tok_waiter(tokw_ctx *x, int k, tt_token *t)
{
	memset(&x->w[k], 0, sizeof x->w[k]);
	tt_frame_init(&x->w[k].frame, &tok_waiter_fn);
	x->w[k].t = t;
	x->t[k] = spawn_frame("conn", &x->w[k].frame);
}

static int tokw_step(void *p, int i)
{
	tokw_ctx *x = p;
	switch (i) {
	case 0:
		x->root = tt_token_new(NULL);
		for (int k = 0; k < NTOK; k++) {
			x->child[k] = tt_token_new(x->root);
			start_tok_waiter(x, k, x->child[k]);
		}
		return STEP_NEXT;
	case 1:
		for (int k = 0; k < NTOK; k++)
			WAIT_UNTIL(task_idle(x->t[k]));
		/* (Another worker's record: only read on this thread's runtime.) */
		for (int k = 0; k < NTOK && !x->workers; k++)
			ck_assert_uint_eq(x->w[k].tw.leaf.wait.kind, TT_WAIT_TOKEN);
		/* Freed by its creator while awaited: the wait holds it. */
		ck_assert_int_eq(tt_token_free(x->child[0]), 0);
		x->child[0] = NULL;
		/* A waiter cancelled: it lets go of its token. */
		tt_task_cancel(x->t[1]);
		return STEP_NEXT;
	case 2:
		WAIT_UNTIL(tt_task_is_done(x->t[1]));
		ck_assert_int_eq(tt_task_result(x->t[1]), TT_ECANCELED);
		ck_assert_int_eq(tt_token_cancel(x->root), 0);
		return STEP_NEXT;
	case 3:
		for (int k = 0; k < NTOK; k++)
			WAIT_UNTIL(tt_task_is_done(x->t[k]));
		for (int k = 2; k < NTOK; k++)
			ck_assert_int_eq(tt_task_result(x->t[k]), 1);
		ck_assert_int_eq(tt_task_result(x->t[0]), 1);
		start_tok_waiter(x, NTOK, x->child[2]); /* after the cancel */
		return STEP_NEXT;
	case 4:
		WAIT_UNTIL(tt_task_is_done(x->t[NTOK]));
		ck_assert_int_eq(tt_task_result(x->t[NTOK]), 1);
		for (int k = 0; k <= NTOK; k++)
			tt_task_release(x->t[k]);
		for (int k = 1; k < NTOK; k++)
			ck_assert_int_eq(tt_token_free(x->child[k]), 0);
		ck_assert_int_eq(tt_token_free(x->root), 0);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_token_wait)
{
	tokw_ctx *x = calloc(1, sizeof *x);
	x->workers = _i ? 2 : 0;
	run_script(x->workers, tokw_step, x);
	free(x);
}
END_TEST

/* Cancelling from other threads while tasks wait and create children
 * (TSan checks the locking; ASan that no token is left behind). */
static void *cancel_thread(void *p)
{
	tt_token_cancel(p);
	return NULL;
}

START_TEST(test_token_threads)
{
	int rounds = tt_test_scaled(200);
	for (int r = 0; r < rounds; r++) {
		tt_token *root = tt_token_new(NULL), *mid = tt_token_new(root);
		pthread_t th[2];
		pthread_create(&th[0], NULL, cancel_thread, root);
		pthread_create(&th[1], NULL, cancel_thread, mid);
		tt_token *leaf = tt_token_new(mid); /* before or after: cancelled in the end */
		pthread_join(th[0], NULL);
		pthread_join(th[1], NULL);
		ck_assert_int_eq(tt_token_cancelled(leaf), 1);
		ck_assert_int_eq(tt_token_free(mid), 0);
		ck_assert_int_eq(tt_token_free(root), 0);
		ck_assert_int_eq(tt_token_free(leaf), 0);
	}
}
END_TEST

/* ================= signals ================= */

typedef struct sig_waiter {
	tt_frame frame;
	int signo;
	tt_signal sig;
} sig_waiter;
static tt_poll sig_waiter_poll(sig_waiter *self, tt_cx *cx);
TT_ASYNC_FN(sig_waiter, sig_waiter_poll, NULL);
static tt_poll sig_waiter_poll(sig_waiter *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->sig, tt_signal_init(&self->sig, self->signo));
	TT_RETURN(self, TT_RESULT(&self->sig));
}
static void sig_waiter_init(sig_waiter *w, int signo)
{
	tt_frame_init(&w->frame, &sig_waiter_fn);
	w->signo = signo;
}

/* A process-directed SIGUSR1 ends the wait of a task on a worker (which
 * inherited the mask tt_runtime_new set); a signal the runtime does not
 * own is refused, and so is one that cannot be blocked. */
START_TEST(test_signal)
{
	static const int bad[] = {SIGKILL, 0};
	errno = 0;
	ck_assert_ptr_null(tt_runtime_new(&(tt_runtime_opts){.workers = 1, .signals = bad}));
	ck_assert_int_eq(errno, EINVAL);

	static const int sigs[] = {SIGUSR1, 0};
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2, .signals = sigs});
	ck_assert_ptr_nonnull(rt);
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	ck_assert(sigismember(&cur, SIGUSR1));
	tt_handle other = TT_SPAWN(rt, "usr2", sig_waiter, sig_waiter_init, SIGUSR2);
	ck_assert_int_eq(tt_task_join_blocking(other), -EINVAL);
	tt_task_release(other);

	tt_handle h = TT_SPAWN(rt, "usr1", sig_waiter, sig_waiter_init, SIGUSR1);
	ck_assert_ptr_nonnull(h.task);
	while (!task_idle(h)) /* waiting on the runtime's signalfd */
		sched_yield();
	ck_assert_int_eq(tt_task_is_done(h), 0);
	ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
	ck_assert_int_eq(tt_task_join_blocking(h), SIGUSR1);
	tt_task_release(h);

	/* Cancelled while waiting: it ends, and a later signal is still
	 * pending for the next wait. */
	h = TT_SPAWN(rt, "usr1", sig_waiter, sig_waiter_init, SIGUSR1);
	while (!task_idle(h))
		sched_yield();
	tt_task_cancel(h);
	ck_assert_int_eq(tt_task_join_blocking(h), TT_ECANCELED);
	tt_task_release(h);
	ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
	h = TT_SPAWN(rt, "usr1", sig_waiter, sig_waiter_init, SIGUSR1);
	ck_assert_int_eq(tt_task_join_blocking(h), SIGUSR1);
	tt_task_release(h);
	tt_runtime_free(rt);
}
END_TEST

/* Wait (bounded by the hang guard, not a timing assertion) for H to end. */
static int done_soon(tt_handle h)
{
	uint64_t end = tt_now_ns() + HANG_GUARD_NS / 4;
	while (!tt_task_is_done(h) && tt_now_ns() < end)
		sched_yield();
	return tt_task_is_done(h);
}

/* One signalfd per runtime: one SIGTERM ends the wait of every task
 * awaiting it (each used to read a signalfd of its own, and the first
 * read took the signal from the other), not the wait for another signal;
 * the next one reaches a wait begun after the first. */
START_TEST(test_signal_fanout)
{
	static const int sigs[] = {SIGTERM, SIGUSR1, 0};
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2, .signals = sigs});
	ck_assert_ptr_nonnull(rt);
	tt_handle a = TT_SPAWN(rt, "term-a", sig_waiter, sig_waiter_init, SIGTERM);
	tt_handle b = TT_SPAWN(rt, "term-b", sig_waiter, sig_waiter_init, SIGTERM);
	tt_handle u = TT_SPAWN(rt, "usr1", sig_waiter, sig_waiter_init, SIGUSR1);
	while (!task_idle(a) || !task_idle(b) || !task_idle(u))
		sched_yield();
	ck_assert_int_eq(kill(getpid(), SIGTERM), 0);
	ck_assert_msg(done_soon(a) && done_soon(b), "one SIGTERM woke only one of two waits");
	ck_assert_int_eq(tt_task_result(a), SIGTERM);
	ck_assert_int_eq(tt_task_result(b), SIGTERM);
	ck_assert_int_eq(tt_task_is_done(u), 0);
	tt_task_release(a);
	tt_task_release(b);

	/* A SIGTERM while nobody awaits it, read by the SIGUSR1 wait (the
	 * signalfd reads both now): kept for the next SIGTERM wait. */
	ck_assert_int_eq(kill(getpid(), SIGTERM), 0);
	for (;;) {
		sigset_t pend;
		sigpending(&pend);
		if (!sigismember(&pend, SIGTERM))
			break;
		sched_yield();
	}
	a = TT_SPAWN(rt, "term-c", sig_waiter, sig_waiter_init, SIGTERM);
	ck_assert_msg(done_soon(a), "a SIGTERM read while none waited was lost");
	ck_assert_int_eq(tt_task_result(a), SIGTERM);
	tt_task_release(a);
	a = TT_SPAWN(rt, "term-d", sig_waiter, sig_waiter_init, SIGTERM);
	while (!task_idle(a))
		sched_yield();
	ck_assert_int_eq(kill(getpid(), SIGTERM), 0);
	ck_assert_int_eq(tt_task_join_blocking(a), SIGTERM);
	tt_task_release(a);
	ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
	ck_assert_int_eq(tt_task_join_blocking(u), SIGUSR1);
	tt_task_release(u);
	tt_runtime_free(rt);
}
END_TEST

START_TEST(test_signal_bad_input)
{
	/* Outside a task there is no runtime to own the signal. */
	tt_signal s;
	tt_signal_init(&s, SIGTERM);
	ck_assert_int_eq(tt_frame_poll((tt_frame *)&s, NULL), TT_READY);
	ck_assert_int_eq(TT_RESULT(&s), -EINVAL);
	static const int sigs[] = {SIGUSR1, 0};
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 1, .signals = sigs});
	static const int bad[] = {0, -1, SIGSTOP, 65, 1000};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		tt_handle h = TT_SPAWN(rt, "bad", sig_waiter, sig_waiter_init, bad[i]);
		ck_assert_int_eq(tt_task_join_blocking(h), -EINVAL);
		tt_task_release(h);
	}
	tt_runtime_free(rt);
}
END_TEST

static Suite *server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *tc = tcase_create("server");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_tracker, 0, 2);
	tcase_add_loop_test(tc, test_group_spawn_refused, 0, 2);
	tcase_add_test(tc, test_group_bad_input);
	tcase_add_loop_test(tc, test_cleanup_before_first_poll, 0, 2);
	tcase_add_test(tc, test_cleanup_at_runtime_free);
	tcase_add_loop_test(tc, test_lock_guard, 0, 8);
	tcase_add_test(tc, test_guard_bad_input);
	tcase_add_loop_test(tc, test_rwlock_guard, 0, 12);
	tcase_add_test(tc, test_rwlock_guard_bad_input);
	tcase_add_test(tc, test_token_tree);
	tcase_add_loop_test(tc, test_token_wait, 0, 2);
	tcase_add_test(tc, test_token_threads);
	tcase_add_test(tc, test_signal);
	tcase_add_test(tc, test_signal_fanout);
	tcase_add_test(tc, test_signal_bad_input);
	suite_add_tcase(s, tc);
	return s;
}

TT_TEST_MAIN(server_suite)
