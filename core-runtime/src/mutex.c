/* Async mutex: FIFO hand-off, and the holder's task id recorded so that
 * readers can draw the wait-for edge from each waiter to the holder. */
#include "internal.h"

static tt_poll lock_poll(tt_lock *l, tt_cx *cx);
static void lock_drop(tt_lock *l);
TT_LEAF_FN(tt_lock, lock_poll, lock_drop);

void tt_mutex_init(tt_mutex *m)
{
	pthread_mutex_init(&m->lock, NULL);
	m->owner = 0;
	m->waiters.head = m->waiters.tail = NULL;
}

int tt_mutex_destroy(tt_mutex *m)
{
	pthread_mutex_lock(&m->lock);
	int busy = m->owner || m->waiters.head;
	pthread_mutex_unlock(&m->lock);
	if (busy)
		return -EBUSY;
	pthread_mutex_destroy(&m->lock);
	return 0;
}

static uint64_t id_of(tt_task *t) { return atomic_load_explicit(&t->id, RELAXED); }

static uint64_t current_id(void)
{
	tt_task *t = tt__tls_task;
	return t ? id_of(t) : 0;
}

/* Hand the mutex to the first waiter, or free it.  The waiter's waker is
 * moved to *WAKE for the caller to wake once it has released m->lock. */
static void grant_next(tt_mutex *m, tt_waker *wake)
{
	tt_waiter *w = m->waiters.head;
	if (!w) {
		m->owner = 0;
		return;
	}
	m->owner = id_of(w->waker.task);
	tt_waitq_take_first(&m->waiters, wake);
	/* The wait descriptors of those still queued name the new holder. */
	if (TT_RECORDING)
		for (tt_waiter *o = m->waiters.head; o; o = o->next)
			tt_container_of(o, tt_lock, w)->leaf.wait.owner = m->owner;
}

int tt_mutex_unlock(tt_mutex *m)
{
	uint64_t me = current_id();
	tt_waker wake = {NULL};
	pthread_mutex_lock(&m->lock);
	if (!me || m->owner != me) {
		pthread_mutex_unlock(&m->lock);
		return -EPERM;
	}
	grant_next(m, &wake);
	pthread_mutex_unlock(&m->lock);
	if (wake.task)
		tt_waker_wake(&wake);
	return 0;
}

int tt_mutex_trylock(tt_mutex *m)
{
	uint64_t me = current_id();
	if (!me)
		return -EPERM;
	pthread_mutex_lock(&m->lock);
	int ok = m->owner == 0 && !m->waiters.head;
	if (ok)
		m->owner = me;
	pthread_mutex_unlock(&m->lock);
	return ok ? 0 : -EBUSY;
}

uint64_t tt_mutex_owner(tt_mutex *m)
{
	pthread_mutex_lock(&m->lock);
	uint64_t o = m->owner;
	pthread_mutex_unlock(&m->lock);
	return o;
}

void tt_lock_init(tt_lock *l, tt_mutex *m)
{
	tt_frame_init(&l->leaf.frame, &tt_lock_fn);
	tt_wait_clear(&l->leaf.wait);
	tt_waiter_init(&l->w);
	l->m = m;
}

static tt_poll lock_poll(tt_lock *l, tt_cx *cx)
{
	tt_mutex *m = l->m;
	pthread_mutex_lock(&m->lock);
	if (l->w.woken || (m->owner == 0 && !m->waiters.head)) {
		/* Handed over by unlock (owner already set), or free. */
		if (!l->w.woken)
			m->owner = id_of(cx->task);
		tt_waitq_remove(&m->waiters, &l->w);
		tt_waker mine = l->w.waker;
		l->w.waker.task = NULL;
		l->w.woken = 0;
		pthread_mutex_unlock(&m->lock);
		if (mine.task)
			tt_waker_drop(&mine);
		tt_wait_clear(&l->leaf.wait);
		return TT_READY;
	}
	tt_waitq_push(&m->waiters, &l->w, cx);
	if (!l->leaf.wait.kind)
		tt_wait_set(&l->leaf.wait, TT_WAIT_MUTEX, m, m->owner, 0);
	pthread_mutex_unlock(&m->lock);
	return TT_PENDING;
}

static void lock_drop(tt_lock *l)
{
	tt_mutex *m = l->m;
	tt_waker wake = {NULL};
	pthread_mutex_lock(&m->lock);
	/* Cancelled after the hand-off: we own it, so pass it on. */
	if (tt_waiter_leave(&m->waiters, &l->w))
		grant_next(m, &wake);
	pthread_mutex_unlock(&m->lock);
	tt_waker_wake(&wake);
	tt_wait_clear(&l->leaf.wait);
}
