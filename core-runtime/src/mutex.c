/* Async mutex: barging with a starvation hand-off (see sync.h), and the
 * holder's task id recorded so that readers can draw the wait-for edge from
 * each waiter to the holder.
 *
 * m->state holds the holder's id and the QUEUED bit.  Without waiters,
 * lock is a compare-and-swap 0 -> id and unlock id -> 0, and the lock word
 * is never touched.  Everything else runs under m->lock: queueing (which
 * sets QUEUED, so the holder's unlock cannot take the fast path and will
 * wait for m->lock to wake someone), wakes, hand-offs and cancellation.
 * Under m->lock, QUEUED is only changed with m->lock held, and a task id
 * only by its owner or, while the id is 0, by a compare-and-swap: a store
 * of the whole word is safe whenever the storer is the holder. */
#include "internal.h"

#define ID_MASK (~TT_MUTEX_QUEUED)

static tt_poll lock_poll(tt_lock *l, tt_cx *cx);
static void lock_drop(tt_lock *l);
TT_LEAF_FN(tt_lock, lock_poll, lock_drop);

static uint64_t load_state(tt_mutex *m)
{
	return __atomic_load_n(&m->state, __ATOMIC_RELAXED);
}

/* Take a free mutex (id 0 in *S) for ME, keeping the QUEUED bit. */
static int try_take(tt_mutex *m, uint64_t *s, uint64_t me)
{
	return __atomic_compare_exchange_n(&m->state, s, *s | me, 0, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

void tt_mutex_init(tt_mutex *m)
{
	tt_lockword_init(&m->lock);
	__atomic_store_n(&m->state, 0, __ATOMIC_RELAXED);
	m->waiters.head = m->waiters.tail = NULL;
	m->waking = 0;
}

int tt_mutex_destroy(tt_mutex *m)
{
	tt_lockword_lock(&m->lock);
	int busy = load_state(m) || m->waiters.head || m->waking;
	tt_lockword_unlock(&m->lock);
	return busy ? -EBUSY : 0;
}

static uint64_t id_of(tt_task *t)
{
	return atomic_load_explicit(&t->id, RELAXED);
}

static uint64_t current_id(void)
{
	tt_task *t = tt__tls_task;
	return t ? id_of(t) : 0;
}

static tt_lock *lock_of(tt_waiter *w)
{
	return tt_container_of(w, tt_lock, w);
}

/* The wait descriptors of those still queued name the holder. */
static void name_owner(tt_mutex *m, uint64_t owner)
{
	if (TT_RECORDING)
		for (tt_waiter *o = m->waiters.head; o; o = o->next)
			lock_of(o)->leaf.wait.owner = owner;
}

/* Under m->lock: QUEUED says whether anyone is queued (a read-modify-write,
 * as a barging compare-and-swap may change the id meanwhile). */
static void sync_queued(tt_mutex *m)
{
	if (m->waiters.head)
		__atomic_fetch_or(&m->state, TT_MUTEX_QUEUED, __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(&m->state, ID_MASK, __ATOMIC_RELAXED);
}

/* The holder lets go (under m->lock).  A starving head waiter is handed the
 * mutex; otherwise it is freed and the head woken to compete for it, unless
 * a woken waiter is already on its way.  The waker to wake once m->lock is
 * released goes to *WAKE. */
static void release(tt_mutex *m, tt_waker *wake)
{
	tt_waiter *head = m->waiters.head;
	uint64_t next = 0;
	if (head && tt_now_ns() - lock_of(head)->since > TT_MUTEX_STARVE_NS) {
		next = id_of(head->waker.task);
		lock_of(head)->granted = 1;
		tt_waitq_take_first(&m->waiters, wake);
		head->woken = 0; /* it owns the mutex; it is not competing */
	} else if (head && !m->waking) {
		m->waking = 1;
		tt_waitq_take_first(&m->waiters, wake);
	}
	/* The caller holds the id, so no compare-and-swap can race this. */
	__atomic_store_n(&m->state, next | (m->waiters.head ? TT_MUTEX_QUEUED : 0),
			 __ATOMIC_RELEASE);
	name_owner(m, next);
}

int tt_mutex_unlock(tt_mutex *m)
{
	uint64_t me = current_id();
	uint64_t s = me;
	if (TT_LIKELY(me) &&
	    __atomic_compare_exchange_n(&m->state, &s, 0, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		return 0;
	if (!me || (s & ID_MASK) != me)
		return -EPERM;
	/* Waiters are queued: wake or hand over under the lock. */
	tt_waker wake = {NULL};
	tt_lockword_lock(&m->lock);
	release(m, &wake);
	tt_lockword_unlock(&m->lock);
	if (wake.task)
		tt_waker_wake(&wake);
	return 0;
}

int tt_mutex_trylock(tt_mutex *m)
{
	uint64_t me = current_id();
	if (!me)
		return -EPERM;
	uint64_t s = 0;
	if (try_take(m, &s, me))
		return 0;
	if (s & ID_MASK)
		return -EBUSY;
	/* Free with waiters queued: barge, under the lock so they name us. */
	int ok = 0;
	tt_lockword_lock(&m->lock);
	s = load_state(m);
	while (!(s & ID_MASK) && !(ok = try_take(m, &s, me)))
		;
	if (ok)
		name_owner(m, me);
	tt_lockword_unlock(&m->lock);
	return ok ? 0 : -EBUSY;
}

uint64_t tt_mutex_owner(tt_mutex *m)
{
	return __atomic_load_n(&m->state, __ATOMIC_ACQUIRE) & ID_MASK;
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

static tt_poll lock_slow(tt_lock *l, tt_cx *cx, uint64_t me)
{
	tt_mutex *m = l->m;
	tt_lockword_lock(&m->lock);
	int retry = l->w.woken; /* woken by an unlock to compete */
	if (retry) {
		l->w.woken = 0;
		m->waking = 0;
	}
	uint64_t s = load_state(m);
	if (l->granted)
		goto acquired; /* handed over: the id in STATE is ours already */
	for (;;) {
		if (!(s & ID_MASK)) {
			if (try_take(m, &s, me))
				goto acquired;
		} else if ((s & TT_MUTEX_QUEUED) ||
			   __atomic_compare_exchange_n(&m->state, &s, s | TT_MUTEX_QUEUED, 0,
						       __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			break; /* held, and its unlock will come through m->lock */
		}
	}
	if (!l->since)
		l->since = tt_now_ns(); /* the hand-off needs a fine clock */
	/* Beaten to it after a wake-up: back to the front, not the end. */
	if (retry && !l->w.queued)
		tt_waitq_push_front(&m->waiters, &l->w, cx);
	else
		tt_waitq_push(&m->waiters, &l->w, cx);
	if (!l->leaf.wait.kind)
		tt_wait_set(&l->leaf.wait, TT_WAIT_MUTEX, m, s & ID_MASK, 0);
	else if (TT_RECORDING)
		l->leaf.wait.owner = s & ID_MASK;
	tt_lockword_unlock(&m->lock);
	return TT_PENDING;

acquired:
	tt_waitq_remove(&m->waiters, &l->w);
	sync_queued(m);
	if (!l->granted)
		name_owner(m, me);
	tt_waker mine = l->w.waker;
	l->w.waker.task = NULL;
	tt_lockword_unlock(&m->lock);
	if (mine.task)
		tt_waker_drop(&mine);
	tt_wait_clear(&l->leaf.wait);
	return TT_READY;
}

static tt_poll lock_poll(tt_lock *l, tt_cx *cx)
{
	uint64_t me = id_of(cx->task);
	/* First poll of a free mutex nobody waits for: one compare-and-swap. */
	if (!l->w.queued && !l->w.woken && !l->granted) {
		uint64_t s = 0;
		if (try_take(l->m, &s, me))
			return TT_READY;
	}
	return lock_slow(l, cx, me);
}

static void lock_drop(tt_lock *l)
{
	tt_mutex *m = l->m;
	tt_waker wake = {NULL};
	tt_lockword_lock(&m->lock);
	int woken = l->w.woken;
	tt_waiter_leave(&m->waiters, &l->w);
	if (l->granted) {
		release(m, &wake); /* handed the mutex, never used it */
	} else {
		if (woken) {
			/* Pass the wake-up on: the next one competes.  (No hand-off
			 * here: with the mutex free, a barging task may take it at
			 * any moment; the next unlock hands over to a starving head.) */
			m->waking = 0;
			if (!(load_state(m) & ID_MASK) && m->waiters.head) {
				m->waking = 1;
				tt_waitq_take_first(&m->waiters, &wake);
			}
		}
		sync_queued(m);
	}
	tt_lockword_unlock(&m->lock);
	tt_waker_wake(&wake);
	tt_wait_clear(&l->leaf.wait);
}
