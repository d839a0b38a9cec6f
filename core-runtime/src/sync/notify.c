/* Notify: FIFO waiters, one stored permit, notify_one / notify_all. */
#include "runtime/internal.h"

/* tt_notified.w.want (sync.h): how the waiter was woken. */
enum { WAITING = 0, NOTIFIED_ONE = 1, NOTIFIED_ALL = 2 };
_Static_assert(sizeof(tt_notified) == sizeof(tt_leaf) + sizeof(void *) + sizeof(tt_waiter),
	       "no word of its own for how it was woken");

static tt_poll notified_poll(tt_notified *n, tt_cx *cx);
static void notified_drop(tt_notified *n);
TT_LEAF_FN(tt_notified, notified_poll, notified_drop);

void tt_notify_init(tt_notify *n)
{
	pthread_mutex_init(&n->lock, NULL);
	n->waiters.head = n->waiters.tail = NULL;
	n->permit = 0;
	n->name = NULL;
}

int tt_notify_set_name(tt_notify *n, const char *name)
{
	if (!n)
		return -EINVAL;
	n->name = name;
	return 0;
}

void tt_notify_destroy(tt_notify *n) { pthread_mutex_destroy(&n->lock); }

void tt_notified_init(tt_notified *w, tt_notify *n)
{
	tt_frame_init(&w->leaf.frame, &tt_notified_fn);
	tt_wait_clear(&w->leaf.wait);
	tt_waiter_init(&w->w);
	w->notify = n;
	w->w.want = WAITING;
}

static void notify_one_locked(tt_notify *n)
{
	tt_waiter *w = tt_waitq_wake_first(&n->waiters);
	if (w)
		w->want = NOTIFIED_ONE;
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
	/* Only the waiters present now: a re-queued one waits for the next. */
	tt_waitq now = n->waiters;
	n->waiters.head = n->waiters.tail = NULL;
	tt_waiter *w;
	while ((w = tt_waitq_wake_first(&now)))
		w->want = NOTIFIED_ALL;
	pthread_mutex_unlock(&n->lock);
}

static tt_poll notified_poll(tt_notified *self, tt_cx *cx)
{
	tt_notify *n = self->notify;
	pthread_mutex_lock(&n->lock);
	if (self->w.want == WAITING && !self->w.queued && n->permit) {
		n->permit = 0;
		self->w.want = NOTIFIED_ONE;
	}
	if (self->w.want != WAITING) {
		tt_waiter_leave(&n->waiters, &self->w);
		pthread_mutex_unlock(&n->lock);
		tt_wait_clear(&self->leaf.wait);
		return TT_READY;
	}
	tt_waitq_push(&n->waiters, &self->w, cx);
	pthread_mutex_unlock(&n->lock);
	if (!self->leaf.wait.kind) {
		tt_wait_set(&self->leaf.wait, TT_WAIT_NOTIFY, n, 0, 0);
		tt_wait_set_name(&self->leaf.wait, n->name);
	}
	return TT_PENDING;
}

static void notified_drop(tt_notified *self)
{
	tt_notify *n = self->notify;
	pthread_mutex_lock(&n->lock);
	/* A notify_one we were handed but never used goes to the next. */
	if (tt_waiter_leave(&n->waiters, &self->w) && self->w.want == NOTIFIED_ONE)
		notify_one_locked(n);
	pthread_mutex_unlock(&n->lock);
	tt_wait_clear(&self->leaf.wait);
}
