/* Combinators and structured concurrency as a user sees them: select picks
 * the first ready child and cancels the rest exactly once, join_all returns
 * every result, task groups join their children and cancel them together,
 * and the blocking pool delivers results, scales past its thread cap and
 * survives cancelled callers. */
#include <dirent.h>
#include <pthread.h>

#include "sync_util.h"

/* ---- a child future that returns VALUE when its gate is notified ---- */
typedef struct gate {
	tt_frame frame;
	tt_notify *n;
	intptr_t value;
	_Atomic int started, drops;
	tt_notified w;
} gate;
static tt_poll gate_poll(gate *self, tt_cx *cx);
static void gate_drop(gate *self) { atomic_fetch_add(&self->drops, 1); }
TT_ASYNC_FN(gate, gate_poll, gate_drop);
static tt_poll gate_poll(gate *self, tt_cx *cx)
{
	TT_BEGIN(self);
	atomic_store(&self->started, 1);
	if (self->n) /* no gate: ready at once */
		TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, self->n));
	TT_RETURN(self, self->value);
}
static void gate_init(gate *g, tt_notify *n, intptr_t value)
{
	tt_frame_init(&g->frame, &gate_fn);
	g->n = n;
	g->value = value;
	atomic_init(&g->started, 0);
	atomic_init(&g->drops, 0);
}

/* ---- select / join_all over three gates, as one task ---- */
enum { NCH = 3 };
typedef struct combo {
	tt_frame frame;
	int all; /* 0: select, 1: join_all */
	gate ch[NCH];
	tt_frame *children[NCH];
	tt_select sel;
	tt_join_all ja;
	_Atomic int drops;
} combo;
static tt_poll combo_poll(combo *self, tt_cx *cx);
static void combo_drop(combo *self) { atomic_fetch_add(&self->drops, 1); }
TT_ASYNC_FN(combo, combo_poll, combo_drop);
static tt_poll combo_poll(combo *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (int k = 0; k < NCH; k++)
		self->children[k] = &self->ch[k].frame;
	if (self->all) {
		TT_AWAIT(self, cx, &self->ja, tt_join_all_init(&self->ja, self->children, NCH));
		TT_RETURN(self, TT_RESULT(&self->ja));
	}
	TT_AWAIT(self, cx, &self->sel, tt_select_init(&self->sel, self->children, NCH));
	TT_RETURN(self, TT_RESULT(&self->sel));
}

typedef struct sel_ctx {
	int mode;
	tt_notify n[NCH];
	combo c;
	tt_handle t;
} sel_ctx;
static int gate_drops(sel_ctx *x, int k) { return atomic_load(&x->c.ch[k].drops); }

/* mode 0: gate 1 opens: select = 1, the others' cleanups ran once, even
 *         when their gates open later.
 * mode 1: the task awaiting select is cancelled: every child cleaned once.
 * mode 2: children 1 and 2 ready at once, 0 pending: a ready one wins.
 * mode 3: join_all: gates open 2, 0, 1; every result, no cleanup.
 * mode 4: join_all cancelled after gate 0 opened: only 1 and 2 cleaned. */
static int ch_done(sel_ctx *x, int k) { return (x->c.ch[k].frame.state & TT_FRAME_DONE) != 0; }
static int select_step(void *p, int i)
{
	sel_ctx *x = p;
	switch (i) {
	case 0:
		memset(&x->c, 0, sizeof x->c);
		tt_frame_init(&x->c.frame, &combo_fn);
		x->c.all = x->mode >= 3;
		for (int k = 0; k < NCH; k++)
			gate_init(&x->c.ch[k], x->mode == 2 && k ? NULL : &x->n[k], 100 + k);
		x->t = spawn_frame("combo", &x->c.frame);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(x->mode == 2 || task_idle(x->t));
		if (x->mode == 0)
			tt_notify_one(&x->n[1]);
		if (x->mode == 1)
			tt_task_cancel(x->t);
		if (x->mode == 3)
			tt_notify_one(&x->n[2]);
		if (x->mode == 4)
			tt_notify_one(&x->n[0]);
		return STEP_NEXT;
	case 2:
		if (x->mode == 4) { /* gate 0 finished, the others pending */
			WAIT_UNTIL(task_idle(x->t) && ch_done(x, 0));
			tt_task_cancel(x->t);
		}
		if (x->mode == 3) {
			WAIT_UNTIL(task_idle(x->t) && ch_done(x, 2));
			tt_notify_one(&x->n[0]);
		}
		return STEP_NEXT;
	case 3:
		if (x->mode == 3) {
			WAIT_UNTIL(task_idle(x->t) && ch_done(x, 0));
			ck_assert(!ch_done(x, 1));
			tt_notify_one(&x->n[1]);
		}
		return STEP_NEXT;
	case 4:
		WAIT_UNTIL(tt_task_is_done(x->t));
		/* Open every gate now: a cancelled child must not run again. */
		for (int k = 0; k < NCH; k++)
			tt_notify_all(&x->n[k]);
		return STEP_NEXT;
	case 5:
		/* Give anything wrongly woken a chance to run before checking. */
		WAIT_UNTIL(tt_test_task_field(x->t, TT_TASK_WAKERS) == 0);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_select_join_all)
{
	sel_ctx x = {.mode = _i};
	for (int k = 0; k < NCH; k++)
		tt_notify_init(&x.n[k]);
	uint64_t live0 = tt_test_tasks_live();
	run_script(0, select_step, &x);
	intptr_t r = tt_task_result(x.t);
	int d[NCH] = {gate_drops(&x, 0), gate_drops(&x, 1), gate_drops(&x, 2)};
	switch (x.mode) {
	case 0:
		ck_assert_int_eq(r, 1);
		ck_assert_int_eq(TT_RESULT(x.c.children[1]), 101);
		ck_assert(d[0] == 1 && d[1] == 0 && d[2] == 1);
		ck_assert_int_eq(TT_RESULT(x.c.children[0]), TT_ECANCELED);
		break;
	case 1:
		ck_assert_int_eq(r, TT_ECANCELED);
		ck_assert(d[0] == 1 && d[1] == 1 && d[2] == 1);
		ck_assert_int_eq(atomic_load(&x.c.drops), 1);
		break;
	case 2:
		ck_assert_msg(r == 1 || r == 2, "select chose %ld", (long)r);
		ck_assert_int_eq(TT_RESULT(x.c.children[r]), 100 + r);
		ck_assert(d[0] == 1 && d[1] == 0 && d[2] == 0);
		break;
	case 3:
		ck_assert_int_eq(r, 0);
		for (int k = 0; k < NCH; k++) {
			ck_assert_int_eq(TT_RESULT(x.c.children[k]), 100 + k);
			ck_assert_int_eq(d[k], 0);
		}
		break;
	case 4:
		ck_assert_int_eq(r, TT_ECANCELED);
		ck_assert_int_eq(TT_RESULT(x.c.children[0]), 100);
		ck_assert(d[0] == 0 && d[1] == 1 && d[2] == 1);
		break;
	}
	if (x.mode != 1 && x.mode != 4)
		ck_assert_int_eq(atomic_load(&x.c.drops), 0);
	tt_task_release(x.t);
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
	for (int k = 0; k < NCH; k++)
		tt_notify_destroy(&x.n[k]);
}
END_TEST

/* ================= task groups ================= */

typedef struct gchild {
	tt_frame frame;
	tt_notify *gate; /* NULL: finish after the yields */
	intptr_t ret;
	int yields, k;
	_Atomic int started, drops;
	tt_notified w;
} gchild;
static tt_poll gchild_poll(gchild *self, tt_cx *cx);
static void gchild_drop(gchild *self) { atomic_fetch_add(&self->drops, 1); }
TT_ASYNC_FN(gchild, gchild_poll, gchild_drop);
static tt_poll gchild_poll(gchild *self, tt_cx *cx)
{
	TT_BEGIN(self);
	atomic_store(&self->started, 1);
	for (self->k = 0; self->k < self->yields; self->k++)
		TT_YIELD(self, cx);
	if (self->gate)
		TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, self->gate));
	TT_RETURN(self, self->ret);
}

typedef struct gowner {
	tt_frame frame;
	tt_group *g;
	_Atomic int drops;
	tt_group_wait w;
} gowner;
static tt_poll gowner_poll(gowner *self, tt_cx *cx);
static void gowner_drop(gowner *self) { atomic_fetch_add(&self->drops, 1); }
TT_ASYNC_FN(gowner, gowner_poll, gowner_drop);
static tt_poll gowner_poll(gowner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->w, tt_group_wait_init(&self->w, self->g));
	TT_RETURN(self, TT_RESULT(&self->w));
}

enum { NG = 20 };
typedef struct grp_ctx {
	int mode;
	tt_group *g;
	tt_notify gate; /* never opened */
	gchild ch[NG + 2];
	tt_handle ct[NG + 2];
	gowner o;
	tt_handle ot;
	int n;
} grp_ctx;

/* Spawn child K into the group; we keep our own reference to inspect it. */
static int add_child(grp_ctx *x, int k, tt_notify *gn, intptr_t ret, int yields)
{
	gchild *c = &x->ch[k];
	memset(c, 0, sizeof *c);
	tt_frame_init(&c->frame, &gchild_fn);
	c->gate = gn;
	c->ret = ret;
	c->yields = yields;
	x->ct[k] = spawn_frame("child", &c->frame);
	return tt_group_add(x->g, tt_task_ref(x->ct[k]));
}
static void start_owner(grp_ctx *x)
{
	memset(&x->o, 0, sizeof x->o);
	tt_frame_init(&x->o.frame, &gowner_fn);
	x->o.g = x->g;
	x->ot = spawn_frame("owner", &x->o.frame);
}
static int children_done(grp_ctx *x, int from, int to)
{
	for (int k = from; k < to; k++)
		if (!tt_task_is_done(x->ct[k]))
			return 0;
	return 1;
}
/* A cancelled child: -ECANCELED, and its cleanup ran iff it had started. */
static void check_child_cancelled(grp_ctx *x, int k)
{
	ck_assert_int_eq(tt_task_result(x->ct[k]), TT_ECANCELED);
	ck_assert_int_eq(atomic_load(&x->ch[k].drops), atomic_load(&x->ch[k].started));
}

/* mode 0: every child joined, their results kept.
 * mode 1: the first failure cancels the siblings and is the reported error
 *         (a later failure and the siblings' -ECANCELED are not); a task
 *         added to the failed group is cancelled; after the wait, adding
 *         fails with -EINVAL and cancels the task.
 * mode 2: cancelling the task awaiting the group cancels every child. */
static int group_step(void *p, int i)
{
	grp_ctx *x = p;
	switch (x->mode * 10 + i) {
	case 0:
		for (int k = 0; k < NG; k++)
			ck_assert_int_eq(add_child(x, k, NULL, k + 1, k % 3), 0);
		ck_assert_uint_eq(tt_group_size(x->g), NG);
		start_owner(x);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(tt_task_is_done(x->ot));
		ck_assert_int_eq(tt_task_result(x->ot), 0);
		ck_assert(children_done(x, 0, NG)); /* none outlives the wait */
		for (int k = 0; k < NG; k++)
			ck_assert_int_eq(tt_task_result(x->ct[k]), k + 1);
		x->n = NG;
		return STEP_DONE;

	case 10:
		for (int k = 0; k < 8; k++) /* 3 fails first; 6 would fail later */
			ck_assert_int_eq(add_child(x, k, k == 3 ? NULL : &x->gate,
						   k == 3 ? -EIO : k == 6 ? -EINVAL : 1, 2), 0);
		return STEP_NEXT;
	case 11:
		WAIT_UNTIL(children_done(x, 0, 8));
		ck_assert_int_eq(tt_task_result(x->ct[3]), -EIO);
		for (int k = 0; k < 8; k++)
			if (k != 3)
				check_child_cancelled(x, k);
		/* Failed but not yet awaited: a new child is cancelled at once
		 * (it waits on the gate, so it cannot finish by itself first). */
		ck_assert_int_eq(add_child(x, 8, &x->gate, 5, 1), 0);
		return STEP_NEXT;
	case 12:
		WAIT_UNTIL(children_done(x, 8, 9));
		check_child_cancelled(x, 8);
		start_owner(x);
		return STEP_NEXT;
	case 13:
		WAIT_UNTIL(tt_task_is_done(x->ot));
		ck_assert_int_eq(tt_task_result(x->ot), -EIO);
		ck_assert_int_eq(add_child(x, 9, &x->gate, 5, 0), -EINVAL);
		return STEP_NEXT;
	case 14:
		WAIT_UNTIL(children_done(x, 9, 10));
		check_child_cancelled(x, 9);
		x->n = 10;
		return STEP_DONE;

	case 20:
		for (int k = 0; k < 5; k++)
			ck_assert_int_eq(add_child(x, k, &x->gate, 1, 0), 0);
		start_owner(x);
		return STEP_NEXT;
	case 21:
		for (int k = 0; k < 5; k++)
			WAIT_UNTIL(atomic_load(&x->ch[k].started) && task_idle(x->ct[k]));
		WAIT_UNTIL(task_idle(x->ot));
		tt_task_cancel(x->ot);
		return STEP_NEXT;
	case 22:
		WAIT_UNTIL(tt_task_is_done(x->ot));
		ck_assert_int_eq(tt_task_result(x->ot), TT_ECANCELED);
		ck_assert_int_eq(atomic_load(&x->o.drops), 1);
		return STEP_NEXT;
	case 23: /* the cancellation reaches them (asynchronously) */
		WAIT_UNTIL(children_done(x, 0, 5));
		for (int k = 0; k < 5; k++) {
			check_child_cancelled(x, k);
			ck_assert_int_eq(atomic_load(&x->ch[k].drops), 1);
		}
		x->n = 5;
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_groups)
{
	grp_ctx *x = calloc(1, sizeof *x);
	x->mode = _i / 2;
	tt_notify_init(&x->gate);
	x->g = tt_group_new();
	ck_assert_ptr_nonnull(x->g);
	uint64_t live0 = tt_test_tasks_live();
	run_script(_i % 2 ? 2 : 0, group_step, x);
	tt_group_free(x->g);
	for (int k = 0; k < x->n; k++)
		tt_task_release(x->ct[k]);
	tt_task_release(x->ot);
	ck_assert_uint_eq(tt_test_tasks_live(), live0); /* none left behind */
	tt_notify_destroy(&x->gate);
	free(x);
}
END_TEST

/* ================= the blocking-call pool ================= */

typedef struct blk_arg {
	intptr_t in;
	_Atomic pid_t tid;            /* the pool thread it ran on */
	int rendezvous;             /* wait for this many calls to run at once */
	_Atomic int *arrived;
	_Atomic int *release;       /* wait for this flag (cancellation test) */
	_Atomic int *returned;
} blk_arg;

static intptr_t blk_fn(void *p)
{
	blk_arg *a = p;
	a->tid = tt_test_gettid();
	if (a->rendezvous) {
		/* All of them must run concurrently: the pool may not queue one
		 * behind another while it has room for more threads. */
		atomic_fetch_add(a->arrived, 1);
		uint64_t end = tt_now_ns() + TT_SEC(20);
		while (atomic_load(a->arrived) < a->rendezvous)
			if (tt_now_ns() > end)
				return -ETIMEDOUT;
			else
				tt_test_sleep_us(100);
	}
	if (a->release)
		while (!atomic_load(a->release))
			tt_test_sleep_us(200);
	else if (!a->rendezvous && a->in % 4 == 0)
		tt_test_sleep_us(1000); /* a real blocking call, now and then */
	intptr_t r = a->in * 2;
	if (a->returned)
		atomic_store(a->returned, 1);
	return r;
}

typedef struct blk_task {
	tt_frame frame;
	blk_arg *a;
	pid_t tid;
	_Atomic int drops;
	tt_blocking b;
} blk_task;
static tt_poll blk_task_poll(blk_task *self, tt_cx *cx);
static void blk_task_drop(blk_task *self) { atomic_fetch_add(&self->drops, 1); }
TT_ASYNC_FN(blk_task, blk_task_poll, blk_task_drop);
static tt_poll blk_task_poll(blk_task *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->tid = tt_test_gettid();
	TT_AWAIT(self, cx, &self->b, tt_blocking_init(&self->b, blk_fn, self->a));
	TT_RETURN(self, TT_RESULT(&self->b));
}
static void blk_task_init(blk_task *t, blk_arg *a)
{
	memset(t, 0, sizeof *t);
	tt_frame_init(&t->frame, &blk_task_fn);
	t->a = a;
}

/* The result comes back to the task; the call ran on another thread. */
START_TEST(test_blocking_result)
{
	tt_runtime *rt = tt_test_runtime(2);
	blk_arg a = {.in = 21};
	blk_task t;
	blk_task_init(&t, &a);
	ck_assert_int_eq(tt_block_on(rt, &t.frame), 42);
	ck_assert_int_ne(a.tid, t.tid);
	ck_assert_int_ne(a.tid, tt_test_gettid());
	tt_runtime_free(rt);
}
END_TEST

/* 4 x TT_BLOCKING_MAX calls at once all complete with their own results. */
enum { NBLK = 4 * TT_BLOCKING_MAX };
typedef struct blk_many {
	blk_arg a[NBLK];
	blk_task t[NBLK];
} blk_many;
static tt_handle blk_spawn(void *ctx, int i)
{
	blk_many *m = ctx;
	m->a[i].in = i;
	blk_task_init(&m->t[i], &m->a[i]);
	return spawn_frame("blocking", &m->t[i].frame);
}

START_TEST(test_blocking_many)
{
	blk_many *m = calloc(1, sizeof *m);
	intptr_t res[NBLK];
	run_all(4, NBLK, blk_spawn, m, res);
	for (int i = 0; i < NBLK; i++)
		ck_assert_int_eq(res[i], 2 * i);
	free(m);
}
END_TEST

/* Calls that can only finish together (a rendezvous of 32) all finish.
 * One task submits them in a burst (join_all polls them all in one go)
 * while idle pool threads are left over from earlier calls: the pool must
 * start a thread for every queued call beyond the idle ones, not count an
 * idle thread once per submit until it wakes. */
enum { NBURST = 32 };
typedef struct burst {
	tt_frame frame;
	int n, rendezvous;
	blk_arg a[NBURST];
	tt_blocking b[NBURST];
	tt_frame *ch[NBURST];
	_Atomic int arrived;
	tt_join_all ja;
} burst;
static tt_poll burst_poll(burst *self, tt_cx *cx);
TT_ASYNC_FN(burst, burst_poll, NULL);
static tt_poll burst_poll(burst *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (int i = 0; i < self->n; i++) {
		self->a[i].in = i;
		self->a[i].rendezvous = self->rendezvous;
		self->a[i].arrived = &self->arrived;
		tt_blocking_init(&self->b[i], blk_fn, &self->a[i]);
		self->ch[i] = &self->b[i].leaf.frame;
	}
	TT_AWAIT(self, cx, &self->ja, tt_join_all_init(&self->ja, self->ch, (size_t)self->n));
	TT_RETURN(self, 0);
}
static burst *run_burst(tt_runtime *rt, int n, int rendezvous)
{
	burst *b = calloc(1, sizeof *b);
	tt_frame_init(&b->frame, &burst_fn);
	b->n = n;
	b->rendezvous = rendezvous;
	ck_assert_int_eq(tt_block_on(rt, &b->frame), 0);
	for (int i = 0; i < n; i++)
		ck_assert_msg(TT_RESULT(b->ch[i]) == 2 * i, "call %d: %ld (%d of %d ran at once)", i,
			      (long)TT_RESULT(b->ch[i]), atomic_load(&b->arrived), n);
	return b;
}

/* Wait (up to 20 s) until the blocking pool has at least N threads and
 * every one of them is asleep (parked for the next job): the pool's
 * state, read from /proc since the runtime does not publish it. */
static void wait_pool_idle(int n)
{
	uint64_t end = tt_now_ns() + TT_SEC(20);
	int threads = 0, asleep = 0;

	while (tt_now_ns() < end) {
		DIR *d = opendir("/proc/self/task");
		struct dirent *e;
		threads = asleep = 0;
		ck_assert_ptr_nonnull(d);
		while ((e = readdir(d))) {
			char path[300], buf[512];
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
			FILE *f = fopen(path, "r");
			size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
			if (f)
				fclose(f);
			buf[len] = 0;
			const char *close = strrchr(buf, ')');
			if (!strstr(buf, "(tt-blocking)") || !close)
				continue;
			threads++;
			asleep += close[1] == ' ' && close[2] == 'S';
		}
		closedir(d);
		if (threads >= n && asleep == threads)
			return;
		tt_test_sleep_us(1000);
	}
	ck_abort_msg("blocking pool not idle: %d of %d threads asleep, want %d", asleep, threads,
		     n);
}

START_TEST(test_blocking_concurrent)
{
	tt_runtime *rt = tt_test_runtime(2);
	free(run_burst(rt, 4, 4)); /* four pool threads ... */
	wait_pool_idle(4);	   /* ... idle now */
	free(run_burst(rt, NBURST, NBURST));
	tt_runtime_free(rt);
}
END_TEST

/* A caller cancelled while its call runs: -ECANCELED at once, and the call
 * finishing later frees its job without touching the gone future. */
typedef struct blk_cancel_ctx {
	_Atomic int release, returned;
	blk_arg a;
	blk_task t;
	tt_handle task;
} blk_cancel_ctx;
static int blk_cancel_step(void *p, int i)
{
	blk_cancel_ctx *x = p;
	switch (i) {
	case 0:
		x->a.in = 5;
		x->a.release = &x->release;
		x->a.returned = &x->returned;
		blk_task_init(&x->t, &x->a);
		x->task = spawn_frame("blocking", &x->t.frame);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(task_idle(x->task) && x->a.tid != 0);
		tt_task_cancel(x->task);
		return STEP_NEXT;
	case 2:
		WAIT_UNTIL(tt_task_is_done(x->task));
		ck_assert_int_eq(tt_task_result(x->task), TT_ECANCELED);
		ck_assert_int_eq(atomic_load(&x->t.drops), 1);
		ck_assert_int_eq(atomic_load(&x->returned), 0); /* still running */
		ck_assert_uint_eq(tt_test_task_field(x->task, TT_TASK_WAKERS), 0);
		/* Scribble over the finished future: the pool must not use it. */
		memset(&x->t, 0xa5, sizeof x->t);
		atomic_store(&x->release, 1);
		return STEP_NEXT;
	case 3:
		WAIT_UNTIL(atomic_load(&x->returned));
		tt_task_release(x->task);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_blocking_cancel)
{
	blk_cancel_ctx *x = calloc(1, sizeof *x);
	run_script(_i ? 2 : 0, blk_cancel_step, x);
	/* Let the pool thread finish the abandoned job (LSan checks it was
	 * freed at exit), then check the pool still serves calls. */
	wait_pool_idle(1);
	tt_runtime *rt = tt_test_runtime(1);
	blk_arg a = {.in = 8};
	blk_task t;
	blk_task_init(&t, &a);
	ck_assert_int_eq(tt_block_on(rt, &t.frame), 16);
	tt_runtime_free(rt);
	free(x);
}
END_TEST

static Suite *groups_suite(void)
{
	Suite *s = suite_create("groups");
	TCase *tc = tcase_create("groups");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_select_join_all, 0, 5);
	tcase_add_loop_test(tc, test_groups, 0, 6);
	tcase_add_test(tc, test_blocking_result);
	tcase_add_test(tc, test_blocking_many);
	tcase_add_test(tc, test_blocking_concurrent);
	tcase_add_loop_test(tc, test_blocking_cancel, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(groups_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
