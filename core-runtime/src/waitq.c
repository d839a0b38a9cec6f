/* FIFO queues of waiting futures, shared by the sync primitives.  All
 * functions run under the owning primitive's lock. */
#include "internal.h"

void tt_waitq_push(tt_waitq *q, tt_waiter *w, tt_cx *cx)
{
	if (!w->queued) {
		w->prev = q->tail;
		w->next = NULL;
		if (q->tail)
			q->tail->next = w;
		else
			q->head = w;
		q->tail = w;
		w->queued = 1;
	}
	if (w->waker.task != cx->task) {
		tt_waker_drop(&w->waker);
		w->waker = tt_waker_new(cx);
	}
}

void tt_waitq_push_front(tt_waitq *q, tt_waiter *w, tt_cx *cx)
{
	if (!w->queued) {
		w->prev = NULL;
		w->next = q->head;
		if (q->head)
			q->head->prev = w;
		else
			q->tail = w;
		q->head = w;
		w->queued = 1;
	}
	tt_waitq_push(q, w, cx); /* refresh the waker */
}

void tt_waitq_remove(tt_waitq *q, tt_waiter *w)
{
	if (!w->queued)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		q->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		q->tail = w->prev;
	w->prev = w->next = NULL;
	w->queued = 0;
}

/* Wake the first waiter, marking that it holds a turn.  Waking under the
 * lock matters: once the lock is released the waiter's future may be
 * cancelled and freed by its own worker. */
tt_waiter *tt_waitq_wake_first(tt_waitq *q)
{
	tt_waiter *w = q->head;
	if (!w)
		return NULL;
	tt_waitq_remove(q, w);
	w->woken = 1;
	tt_waker k = w->waker;
	w->waker.task = NULL;
	tt_waker_wake(&k);
	return w;
}

/* Like tt_waitq_wake_first, but the wake itself is left to the caller,
 * who calls tt_waker_wake(OUT) after releasing the primitive's lock: the
 * waker (and its task reference) is moved out under the lock, so the
 * waiter's memory is not touched afterwards, and the wake's scheduling work
 * (run queue push, unparking a worker: possibly a syscall) no longer
 * lengthens the critical section other workers are queueing on.  A waiter
 * that is polled or cancelled before the deferred wake lands sees its turn
 * already (woken), and the late wake is at worst a spurious one. */
tt_waiter *tt_waitq_take_first(tt_waitq *q, tt_waker *out)
{
	tt_waiter *w = q->head;
	if (!w)
		return NULL;
	tt_waitq_remove(q, w);
	w->woken = 1;
	*out = w->waker;
	w->waker.task = NULL;
	return w;
}

/* A waiter leaves (done or cancelled): returns 1 if it held an unused turn
 * the caller should pass on. */
int tt_waiter_leave(tt_waitq *q, tt_waiter *w)
{
	tt_waitq_remove(q, w);
	tt_waker_drop(&w->waker);
	int had_turn = w->woken;
	w->woken = 0;
	return had_turn;
}

void tt_waiter_init(tt_waiter *w)
{
	w->prev = w->next = NULL;
	w->waker.task = NULL;
	w->queued = 0;
	w->woken = 0;
	w->want = 0;
}
