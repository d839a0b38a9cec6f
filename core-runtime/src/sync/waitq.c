/* FIFO queues of waiting futures, shared by the sync primitives (the
 * small operations are inline in internal.h).  All functions run under the
 * owning primitive's lock. */
#include "runtime/internal.h"

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

/* Waking under the lock matters: once the lock is released the waiter's
 * future may be cancelled and freed by its own worker. */
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

int tt_waiter_leave(tt_waitq *q, tt_waiter *w)
{
	tt_waitq_remove(q, w);
	tt_waker_drop(&w->waker);
	int had_turn = w->woken;
	w->woken = 0;
	return had_turn;
}
