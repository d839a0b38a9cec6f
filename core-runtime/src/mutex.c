/* Async mutex: barging with a starvation hand-off (see sync.h), and the
 * holder's task id recorded so that readers can draw the wait-for edge from
 * each waiter to the holder. */
#include "internal.h"

static tt_poll lock_poll(tt_lock *l, tt_cx *cx);
static void lock_drop(tt_lock *l);
TT_LEAF_FN(tt_lock, lock_poll, lock_drop);

void tt_mutex_init(tt_mutex *m)
{
	pthread_mutex_init(&m->lock, NULL);
	m->owner = 0;
	m->waiters.head = m->waiters.tail = NULL;
	m->waking = 0;
}

int tt_mutex_destroy(tt_mutex *m)
{
	pthread_mutex_lock(&m->lock);
	int busy = m->owner || m->waiters.head || m->waking;
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

static tt_lock *lock_of(tt_waiter *w) { return tt_container_of(w, tt_lock, w); }

/* The wait descriptors of those still queued name the holder. */
static void name_owner(tt_mutex *m)
{
	if (TT_RECORDING)
		for (tt_waiter *o = m->waiters.head; o; o = o->next)
			lock_of(o)->leaf.wait.owner = m->owner;
}

/* The holder lets go (under m->lock).  A starving head waiter is handed the
 * mutex; otherwise it is freed and the head woken to compete for it, unless
 * a woken waiter is already on its way.  The waker to wake once m->lock is
 * released goes to *WAKE. */
static void release(tt_mutex *m, tt_waker *wake)
{
	tt_waiter *head = m->waiters.head;
	m->owner = 0;
	if (head && tt_now_ns() - lock_of(head)->since > TT_MUTEX_STARVE_NS) {
		m->owner = id_of(head->waker.task);
		lock_of(head)->granted = 1;
		tt_waitq_take_first(&m->waiters, wake);
		head->woken = 0; /* it owns the mutex; it is not competing */
	} else if (head && !m->waking) {
		m->waking = 1;
		tt_waitq_take_first(&m->waiters, wake);
	}
	name_owner(m);
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
	release(m, &wake);
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
	int ok = m->owner == 0;
	if (ok) {
		m->owner = me;
		name_owner(m);
	}
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
	l->since = 0;
	l->granted = 0;
}

static tt_poll lock_poll(tt_lock *l, tt_cx *cx)
{
	tt_mutex *m = l->m;
	pthread_mutex_lock(&m->lock);
	int retry = l->w.woken; /* woken by an unlock to compete */
	if (retry) {
		l->w.woken = 0;
		m->waking = 0;
	}
	if (l->granted || m->owner == 0) {
		if (!l->granted) {
			m->owner = id_of(cx->task);
			name_owner(m);
		}
		tt_waitq_remove(&m->waiters, &l->w);
		tt_waker mine = l->w.waker;
		l->w.waker.task = NULL;
		pthread_mutex_unlock(&m->lock);
		if (mine.task)
			tt_waker_drop(&mine);
		tt_wait_clear(&l->leaf.wait);
		return TT_READY;
	}
	if (!l->since)
		l->since = tt_clock_cached();
	/* Beaten to it after a wake-up: back to the front, not the end. */
	if (retry && !l->w.queued)
		tt_waitq_push_front(&m->waiters, &l->w, cx);
	else
		tt_waitq_push(&m->waiters, &l->w, cx);
	if (!l->leaf.wait.kind)
		tt_wait_set(&l->leaf.wait, TT_WAIT_MUTEX, m, m->owner, 0);
	else if (TT_RECORDING)
		l->leaf.wait.owner = m->owner;
	pthread_mutex_unlock(&m->lock);
	return TT_PENDING;
}

static void lock_drop(tt_lock *l)
{
	tt_mutex *m = l->m;
	tt_waker wake = {NULL};
	pthread_mutex_lock(&m->lock);
	int woken = l->w.woken;
	tt_waiter_leave(&m->waiters, &l->w);
	if (l->granted) {
		release(m, &wake); /* handed the mutex, never used it */
	} else if (woken) {
		m->waking = 0; /* pass the wake-up on */
		if (m->owner == 0)
			release(m, &wake);
	}
	pthread_mutex_unlock(&m->lock);
	tt_waker_wake(&wake);
	tt_wait_clear(&l->leaf.wait);
}
