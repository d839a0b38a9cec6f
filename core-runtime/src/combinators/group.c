/* Task groups: children joined together, the first failure cancelling the
 * rest, and cancellation of the waiting scope reaching every child.  A
 * tracker (TT_GROUP_DROP_FINISHED) lets finished children go at once, so a
 * server's group of connections stays as large as the connections open. */
#include <stdlib.h>

#include "runtime/internal.h"

#include "tasktrace/combinators.h"

struct tt_group {
	pthread_mutex_t lock;
	_Atomic uint32_t refs; /* creator + unfinished children */
	uint32_t flags;	       /* tt_group_flags */
	tt_task **tasks;       /* the children's slots, with their handles' references */
	size_t n, cap, done;   /* a tracker keeps only unfinished ones: done stays 0 */
	intptr_t first_error;
	int failed;    /* a child failed and cancelled its siblings */
	int cancelled; /* tt_group_cancel: later children are refused or cancelled */
	int closed;    /* the wait ended or was cancelled: no more children */
	tt_waitq waiters;
	const char *name; /* tt_group_set_name */
};

#define GROUP_FLAGS (TT_GROUP_DROP_FINISHED | TT_GROUP_KEEP_SIBLINGS)

static tt_poll group_wait_poll(tt_group_wait *w, tt_cx *cx);
static void group_wait_drop(tt_group_wait *w);
TT_LEAF_FN(tt_group_wait, group_wait_poll, group_wait_drop);

tt_group *tt_group_new_flags(uint32_t flags)
{
	if (flags & ~(uint32_t)GROUP_FLAGS) {
		errno = EINVAL;
		return NULL;
	}
	tt_group *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	pthread_mutex_init(&g->lock, NULL);
	atomic_init(&g->refs, 1);
	g->flags = flags;
	return g;
}

tt_group *tt_group_new(void)
{
	return tt_group_new_flags(0);
}

static void group_unref(tt_group *g)
{
	if (atomic_fetch_sub_explicit(&g->refs, 1, ACQ_REL) != 1)
		return;
	for (size_t i = 0; i < g->n; i++)
		tt_task_unref(g->tasks[i]);
	free(g->tasks);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void tt_group_free(tt_group *g)
{
	if (g)
		group_unref(g);
}

/* Under the lock. */
static void cancel_unfinished(tt_group *g)
{
	for (size_t i = 0; i < g->n; i++)
		if (!tt_task_done(g->tasks[i]))
			tt_task_request_cancel(g->tasks[i]);
}

/* Room for one more child (under the lock); a tracker's array also
 * shrinks back as connections close, so a burst does not pin memory. */
static int grow(tt_group *g)
{
	if (g->n < g->cap)
		return 0;
	size_t cap = g->cap ? g->cap * 2 : 8;
	tt_task **a = realloc(g->tasks, cap * sizeof *a);
	if (!a)
		return -ENOMEM;
	g->tasks = a;
	g->cap = cap;
	return 0;
}

static void shrink(tt_group *g)
{
	if (g->cap <= 64 || g->n > g->cap / 4)
		return;
	tt_task **a = realloc(g->tasks, g->cap / 2 * sizeof *a);
	if (a) {
		g->tasks = a;
		g->cap /= 2;
	}
}

/* Under the lock.  Returns the task whose reference the caller drops once
 * the lock is let go (a tracker's finished child), or NULL. */
static tt_task *child_done_locked(tt_group *g, tt_task *t, intptr_t result)
{
	tt_task *drop = NULL;
	if (g->flags & TT_GROUP_DROP_FINISHED) {
		uint32_t i = t->group_index;
		g->tasks[i] = g->tasks[--g->n];
		g->tasks[i]->group_index = i;
		shrink(g);
		drop = t;
	} else {
		g->done++;
	}
	if (result < 0 && !g->first_error)
		g->first_error = result;
	if (result < 0 && !g->failed && !(g->flags & TT_GROUP_KEEP_SIBLINGS)) {
		g->failed = 1;
		cancel_unfinished(g);
	}
	if (g->done == g->n)
		while (tt_waitq_wake_first(&g->waiters))
			;
	return drop;
}

void tt_group_child_done(tt_group *g, tt_task *t, intptr_t result)
{
	pthread_mutex_lock(&g->lock);
	tt_task *drop = child_done_locked(g, t, result);
	pthread_mutex_unlock(&g->lock);
	if (drop)
		tt_task_unref(drop);
	group_unref(g);
}

static int refuse(tt_task *t, int err)
{
	tt_task_request_cancel(t);
	tt_task_unref(t);
	return err;
}

int tt_group_add(tt_group *g, tt_handle h)
{
	if (!g) /* the handle stays the caller's */
		return -EINVAL;
	tt_task *t = tt_handle_take(h, "tt_group_add");
	if (!t)
		return -errno;
	pthread_mutex_lock(&g->lock);
	int err = g->closed ? -EINVAL : grow(g);
	if (err) {
		pthread_mutex_unlock(&g->lock);
		return refuse(t, err);
	}
	t->group_index = (uint32_t)g->n;
	g->tasks[g->n++] = t;
	atomic_fetch_add_explicit(&g->refs, 1, RELAXED);
	if (g->failed || g->cancelled)
		tt_task_request_cancel(t);
	/* The child may have finished already: whoever takes the link back
	 * (its completion or us) reports it, exactly once. */
	atomic_store_explicit(&t->group, g, SEQ_CST);
	int finished = (atomic_load_explicit(&t->sched, SEQ_CST) & SCHED_COMPLETE) &&
		       atomic_exchange_explicit(&t->group, NULL, SEQ_CST) == g;
	tt_task *drop = finished ? child_done_locked(g, t, t->result) : NULL;
	pthread_mutex_unlock(&g->lock);
	if (drop)
		tt_task_unref(drop);
	if (finished)
		group_unref(g);
	return 0;
}

/* The task is linked to the group before it can run and entered in the
 * array before its completion can take the lock, so no step can fail with
 * the task running: a refused child is never spawned at all. */
int tt_group_spawn_at(tt_group *g, tt_runtime *rt, const tt_spawn_opts *opts, tt_frame *root,
		      const tt_site *spawn_site)
{
	if (!g || !root)
		return -EINVAL;
	if (rt && !(rt = tt_runtime_from_handle(rt, "tt_group_spawn_at")))
		return -errno;
	pthread_mutex_lock(&g->lock);
	int err = g->closed ? -EINVAL : (g->failed || g->cancelled) ? TT_ECANCELED : grow(g);
	tt_task *t = err ? NULL : tt_spawn_task(rt, opts, root, spawn_site, g);
	if (!err && !t)
		err = -errno;
	if (t) {
		tt_handle_drop(t); /* the group keeps its reference, as tt_group_add */
		t->group_index = (uint32_t)g->n;
		g->tasks[g->n++] = t;
		atomic_fetch_add_explicit(&g->refs, 1, RELAXED);
	}
	pthread_mutex_unlock(&g->lock);
	return err;
}

int tt_group_set_name(tt_group *g, const char *name)
{
	if (!g)
		return -EINVAL;
	g->name = name;
	return 0;
}

int tt_group_cancel(tt_group *g)
{
	if (!g)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	g->cancelled = 1;
	cancel_unfinished(g);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

size_t tt_group_size(tt_group *g)
{
	if (!g)
		return 0;
	pthread_mutex_lock(&g->lock);
	size_t n = g->n;
	pthread_mutex_unlock(&g->lock);
	return n;
}

void tt_group_wait_init(tt_group_wait *w, tt_group *g)
{
	tt_frame_init(&w->leaf.frame, &tt_group_wait_fn);
	tt_wait_clear(&w->leaf.wait);
	tt_waiter_init(&w->w);
	w->g = g;
}

TT_DISPATCH static tt_poll group_wait_poll(tt_group_wait *w, tt_cx *cx)
{
	tt_group *g = w->g;
	if (!g) {
		w->leaf.frame.result = -EINVAL;
		return TT_READY;
	}
	pthread_mutex_lock(&g->lock);
	if (g->done == g->n) {
		g->closed = 1;
		tt_waiter_leave(&g->waiters, &w->w);
		w->leaf.frame.result = g->first_error;
		pthread_mutex_unlock(&g->lock);
		tt_wait_clear(&w->leaf.wait);
		return TT_READY;
	}
	tt_waitq_push(&g->waiters, &w->w, cx);
	/* The edge for readers: the first child still running. */
	uint64_t owner = 0;
	for (size_t i = 0; i < g->n && !owner; i++)
		if (!tt_task_done(g->tasks[i]))
			owner = atomic_load_explicit(&g->tasks[i]->id, RELAXED);
	tt_wait_set(&w->leaf.wait, TT_WAIT_GROUP, g, owner, g->n - g->done);
	tt_wait_set_name(&w->leaf.wait, g->name);
	pthread_mutex_unlock(&g->lock);
	return TT_PENDING;
}

static void group_wait_drop(tt_group_wait *w)
{
	tt_group *g = w->g;
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	tt_waiter_leave(&g->waiters, &w->w);
	g->closed = 1;
	cancel_unfinished(g);
	pthread_mutex_unlock(&g->lock);
	tt_wait_clear(&w->leaf.wait);
}
