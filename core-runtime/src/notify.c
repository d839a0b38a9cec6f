/* Notify: FIFO waiters, one stored permit, notify_one / notify_all. */
#include "internal.h"

#include "tasktrace/sync.h"

enum { NOTIFIED_ONE = 1, NOTIFIED_ALL = 2 };

static tt_poll notified_poll(tt_notified *w, tt_cx *cx);
static void notified_drop(tt_notified *w);
TT_LEAF_FN(tt_notified, notified_poll, notified_drop);

void tt_notify_init(tt_notify *n)
{
	pthread_mutex_init(&n->lock, NULL);
	n->head = n->tail = NULL;
	n->permit = 0;
}

void tt_notify_destroy(tt_notify *n)
{
	pthread_mutex_destroy(&n->lock);
}

void tt_notified_init(tt_notified *w, tt_notify *n)
{
	tt_frame_init(&w->leaf.frame, &tt_notified_fn);
	tt_wait_clear(&w->leaf.wait);
	w->notify = n;
	w->prev = w->next = NULL;
	w->waker.task = NULL;
	w->queued = 0;
	w->notified = 0;
}

static void unlink_waiter(tt_notify *n, tt_notified *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		n->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		n->tail = w->prev;
	w->prev = w->next = NULL;
	w->queued = 0;
}

/* Under the lock: the woken future may be freed by its worker as soon as
 * the lock is released. */
static void wake_waiter(tt_notify *n, tt_notified *w, int how)
{
	unlink_waiter(n, w);
	w->notified = how;
	tt_waker k = w->waker;
	w->waker.task = NULL;
	tt_waker_wake(&k);
}

static void notify_one_locked(tt_notify *n)
{
	if (n->head)
		wake_waiter(n, n->head, NOTIFIED_ONE);
	else
		n->permit = 1;
}

void tt_notify_one(tt_notify *n)
{
	pthread_mutex_lock(&n->lock);
	notify_one_locked(n);
	pthread_mutex_unlock(&n->lock);
}

void tt_notify_all(tt_notify *n)
{
	pthread_mutex_lock(&n->lock);
	while (n->head)
		wake_waiter(n, n->head, NOTIFIED_ALL);
	pthread_mutex_unlock(&n->lock);
}

static tt_poll notified_poll(tt_notified *w, tt_cx *cx)
{
	tt_notify *n = w->notify;
	pthread_mutex_lock(&n->lock);
	if (!w->notified && !w->queued && n->permit) {
		n->permit = 0;
		w->notified = NOTIFIED_ONE;
	}
	if (w->notified) {
		pthread_mutex_unlock(&n->lock);
		tt_wait_clear(&w->leaf.wait);
		return TT_READY;
	}
	if (!w->queued) {
		w->prev = n->tail;
		w->next = NULL;
		if (n->tail)
			n->tail->next = w;
		else
			n->head = w;
		n->tail = w;
		w->queued = 1;
	}
	if (w->waker.task != cx->task) {
		tt_waker_drop(&w->waker);
		w->waker = tt_waker_new(cx);
	}
	pthread_mutex_unlock(&n->lock);
	if (!w->leaf.wait.kind)
		tt_wait_set(&w->leaf.wait, TT_WAIT_NOTIFY, n, 0, 0);
	return TT_PENDING;
}

static void notified_drop(tt_notified *w)
{
	tt_notify *n = w->notify;
	tt_waker k = {NULL};
	pthread_mutex_lock(&n->lock);
	if (w->queued)
		unlink_waiter(n, w);
	else if (w->notified == NOTIFIED_ONE)
		notify_one_locked(n); /* pass on a notification we never used */
	k = w->waker;
	w->waker.task = NULL;
	pthread_mutex_unlock(&n->lock);
	tt_waker_drop(&k);
	tt_wait_clear(&w->leaf.wait);
}
