/* Task groups: children joined together, the first failure cancelling the
 * rest, and cancellation of the waiting scope reaching every child. */
#include <stdlib.h>

#include "runtime/internal.h"

#include "tasktrace/combinators.h"

struct tt_group {
	pthread_mutex_t lock;
	_Atomic uint32_t refs; /* creator + unfinished children */
	tt_task **tasks;       /* the children's slots, with their handles' references */
	size_t n, cap, done;
	intptr_t first_error;
	int failed, closed;
	tt_waitq waiters;
};

static tt_poll group_wait_poll(tt_group_wait *w, tt_cx *cx);
static void group_wait_drop(tt_group_wait *w);
TT_LEAF_FN(tt_group_wait, group_wait_poll, group_wait_drop);

tt_group *tt_group_new(void)
{
	tt_group *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	pthread_mutex_init(&g->lock, NULL);
	atomic_init(&g->refs, 1);
	return g;
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

static void child_done_locked(tt_group *g, intptr_t result)
{
	g->done++;
	if (result < 0 && !g->failed) {
		g->failed = 1;
		g->first_error = result;
		cancel_unfinished(g);
	}
	if (g->done == g->n)
		while (tt_waitq_wake_first(&g->waiters))
			;
}

void tt_group_child_done(tt_group *g, intptr_t result)
{
	pthread_mutex_lock(&g->lock);
	child_done_locked(g, result);
	pthread_mutex_unlock(&g->lock);
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
	tt_task *t = tt_handle_take(h, "tt_group_add");
	if (!t)
		return -errno;
	pthread_mutex_lock(&g->lock);
	if (g->closed) {
		pthread_mutex_unlock(&g->lock);
		return refuse(t, -EINVAL);
	}
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		tt_task **a = realloc(g->tasks, cap * sizeof *a);
		if (!a) {
			pthread_mutex_unlock(&g->lock);
			return refuse(t, -ENOMEM);
		}
		g->tasks = a;
		g->cap = cap;
	}
	g->tasks[g->n++] = t;
	atomic_fetch_add_explicit(&g->refs, 1, RELAXED);
	if (g->failed)
		tt_task_request_cancel(t);
	/* The child may have finished already: whoever takes the link back
	 * (its completion or us) reports it, exactly once. */
	atomic_store_explicit(&t->group, g, SEQ_CST);
	int finished = (atomic_load_explicit(&t->sched, SEQ_CST) & SCHED_COMPLETE) &&
		       atomic_exchange_explicit(&t->group, NULL, SEQ_CST) == g;
	if (finished)
		child_done_locked(g, t->result);
	pthread_mutex_unlock(&g->lock);
	if (finished)
		group_unref(g);
	return 0;
}

void tt_group_cancel(tt_group *g)
{
	pthread_mutex_lock(&g->lock);
	cancel_unfinished(g);
	pthread_mutex_unlock(&g->lock);
}

size_t tt_group_size(tt_group *g)
{
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
	pthread_mutex_lock(&g->lock);
	if (g->done == g->n) {
		g->closed = 1;
		tt_waiter_leave(&g->waiters, &w->w);
		w->leaf.frame.result = g->failed ? g->first_error : 0;
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
	pthread_mutex_unlock(&g->lock);
	return TT_PENDING;
}

static void group_wait_drop(tt_group_wait *w)
{
	tt_group *g = w->g;
	pthread_mutex_lock(&g->lock);
	tt_waiter_leave(&g->waiters, &w->w);
	g->closed = 1;
	cancel_unfinished(g);
	pthread_mutex_unlock(&g->lock);
	tt_wait_clear(&w->leaf.wait);
}
