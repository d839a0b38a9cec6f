/* Async mutex: barging with a starvation hand-off (see sync.h), and the
 * holder's task id recorded so that readers can draw the wait-for edge from
 * each waiter to the holder.
 *
 * m->state holds the holder's id and two bits, QUEUED and WAKING (sync.h).
 * Lock is a compare-and-swap of a free id (0) to the caller's, unlock of
 * the caller's id back to 0, and neither touches m->lock unless there is
 * something to do: a waiter to queue, one to wake (QUEUED without WAKING),
 * one to hand the mutex to (the head has waited TT_MUTEX_STARVE_NS), or
 * queued waiters to tell who holds the mutex now.  So a task that keeps
 * taking a contended mutex pays for one wake per woken waiter, not for
 * every unlock.
 *
 * Who may change what: the id, by its holder, or, while it is 0, by a
 * compare-and-swap (barging); the two bits, HANDOFF_AT and NAMED only with
 * m->lock held.  Changes to STATE are read-modify-writes of the whole word,
 * except that a holder with m->lock held may store it (nobody else can
 * change it then). */
#include "runtime/internal.h"

#define ID_MASK (~(TT_MUTEX_QUEUED | TT_MUTEX_WAKING))
#define NEVER UINT64_MAX

static tt_poll lock_poll(tt_lock *l, tt_cx *cx);
static void lock_drop(tt_lock *l);
TT_LEAF_FN(tt_lock, lock_poll, lock_drop);

static uint64_t load_state(tt_mutex *m)
{
	return __atomic_load_n(&m->state, __ATOMIC_RELAXED);
}

static int cas_state(tt_mutex *m, uint64_t *s, uint64_t to, int order)
{
	return __atomic_compare_exchange_n(&m->state, s, to, 0, order, __ATOMIC_RELAXED);
}

static tt_lock *lock_of(tt_waiter *w)
{
	return tt_container_of(w, tt_lock, w);
}

/* Under m->lock: the queued waiters' wait records name OWNER. */
static void name_owner(tt_mutex *m, uint64_t owner)
{
	if (!TT_RECORDING)
		return;
	for (tt_waiter *o = m->waiters.head; o; o = o->next)
		lock_of(o)->leaf.wait.owner = owner;
	__atomic_store_n(&m->named, owner, __ATOMIC_RELAXED);
}

/* The holder ME took the mutex while waiters were queued: unless they
 * already name ME (a task that keeps re-taking it), tell them. */
__attribute__((noinline)) static void name_me_locked(tt_mutex *m, uint64_t me)
{
	tt_lockword_lock(&m->lock);
	name_owner(m, me);
	tt_lockword_unlock(&m->lock);
}
static inline void name_me(tt_mutex *m, uint64_t me)
{
	if (TT_RECORDING && __atomic_load_n(&m->named, __ATOMIC_RELAXED) != me)
		name_me_locked(m, me);
}

/* Under m->lock, after the queue changed: QUEUED and HANDOFF_AT follow it. */
static void queue_changed(tt_mutex *m)
{
	tt_waiter *head = m->waiters.head;
	__atomic_store_n(&m->handoff_at, head ? lock_of(head)->since + TT_MUTEX_STARVE_NS : NEVER,
			 __ATOMIC_RELAXED);
	if (head)
		__atomic_fetch_or(&m->state, TT_MUTEX_QUEUED, __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(&m->state, ~TT_MUTEX_QUEUED, __ATOMIC_RELAXED);
}

/* Take the mutex for ME if it is free -- ahead of any waiter ("barging"). */
static int take(tt_mutex *m, uint64_t me)
{
	uint64_t s = load_state(m);
	while (!(s & ID_MASK))
		if (cas_state(m, &s, s | me, __ATOMIC_ACQUIRE)) {
			if (s & TT_MUTEX_QUEUED)
				name_me(m, me);
			return 1;
		}
	return 0;
}

void tt_mutex_init(tt_mutex *m)
{
	tt_lockword_init(&m->lock);
	__atomic_store_n(&m->state, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&m->handoff_at, NEVER, __ATOMIC_RELAXED);
	__atomic_store_n(&m->named, 0, __ATOMIC_RELAXED);
	m->waiters.head = m->waiters.tail = NULL;
	m->name = NULL;
}

int tt_mutex_set_name(tt_mutex *m, const char *name)
{
	if (!m)
		return -EINVAL;
	m->name = name;
	return 0;
}

int tt_mutex_destroy(tt_mutex *m)
{
	tt_lockword_lock(&m->lock);
	int busy = load_state(m) || m->waiters.head;
	tt_lockword_unlock(&m->lock);
	return busy ? -EBUSY : 0;
}

/* The holder lets go (under m->lock).  A head waiter queued for longer
 * than TT_MUTEX_STARVE_NS is handed the mutex; otherwise it is freed and
 * the head woken to compete for it, unless a woken waiter is already on
 * its way.  The waker to wake once m->lock is released goes to *WAKE. */
static void release(tt_mutex *m, tt_waker *wake)
{
	tt_waiter *head = m->waiters.head;
	uint64_t next = 0, waking = load_state(m) & TT_MUTEX_WAKING;
	if (head && tt_now_ns() - lock_of(head)->since > TT_MUTEX_STARVE_NS) {
		next = tt_task_id_of(head->waker.task);
		lock_of(head)->granted = 1;
		tt_waitq_take_first(&m->waiters, wake);
		head->woken = 0; /* it owns the mutex; it is not competing */
	} else if (head && !waking) {
		waking = TT_MUTEX_WAKING;
		tt_waitq_take_first(&m->waiters, wake);
	}
	queue_changed(m);
	__atomic_store_n(&m->state, next | waking | (m->waiters.head ? TT_MUTEX_QUEUED : 0),
			 __ATOMIC_RELEASE);
	name_owner(m, next);
}

static int unlock_contended(tt_mutex *m, uint64_t me, uint64_t s);

/* Has the head waiter of M waited past its hand-off time?  Asked by the
 * unlocks that let go while a woken waiter is on its way, which under
 * contention is most of them: they read the coarse clock every 64th time
 * on the thread and reuse its last reading otherwise, so a starving head
 * is served up to 63 such unlocks (about a microsecond when they come
 * that fast, against a clock tick of 1-4 ms) and a clock tick late;
 * release() checks precisely. */
static TT_TLS uint32_t starve_asks;
static TT_TLS uint64_t starve_stamp;
__attribute__((noinline)) static uint64_t starve_clock(void)
{
	return starve_stamp = tt_stamp_ns();
}
static inline int head_starving(tt_mutex *m)
{
	uint64_t now = (starve_asks++ & 63) == 0 ? starve_clock() : starve_stamp;
	return now >= __atomic_load_n(&m->handoff_at, __ATOMIC_RELAXED);
}

/* Release M held by task ME (the caller's id, or a guard's task).  The
 * uncontended case inline, the rest out of line so that it costs the fast
 * path no registers. */
static inline __attribute__((always_inline)) int unlock_as(tt_mutex *m, uint64_t me)
{
	/* Look before the compare-and-swap: under contention the word mostly
	 * carries QUEUED and WAKING too, and a compare-and-swap expecting the
	 * bare id would be a locked instruction spent on failing.  The line is
	 * this thread's already (the lock's compare-and-swap took it). */
	uint64_t s = load_state(m);
	if (TT_LIKELY(me) && TT_LIKELY(s == me) && cas_state(m, &s, 0, __ATOMIC_RELEASE))
		return 0;
	/* A woken waiter is on its way: let go (keeping the two bits) unless
	 * the head starves.  Inline, because with a task that keeps re-taking
	 * a contended mutex this is nearly every unlock. */
	const uint64_t woken = TT_MUTEX_QUEUED | TT_MUTEX_WAKING;
	if (TT_LIKELY(me) && s == (me | woken) && !head_starving(m) &&
	    cas_state(m, &s, woken, __ATOMIC_RELEASE))
		return 0;
	return unlock_contended(m, me, s);
}

/* Wake or hand over, under the lock: out of line, so that the unlocks
 * that only let go save no registers for it. */
__attribute__((noinline)) static int unlock_release(tt_mutex *m)
{
	tt_waker wake = {NULL};
	tt_lockword_lock(&m->lock);
	release(m, &wake);
	tt_lockword_unlock(&m->lock);
	if (wake.task)
		tt_waker_wake(&wake);
	return 0;
}

__attribute__((noinline)) static int unlock_contended(tt_mutex *m, uint64_t me, uint64_t s)
{
	if (!me || (s & ID_MASK) != me)
		return -EPERM;
	/* Let go without m->lock when nobody is queued, or when a woken waiter
	 * is on its way and the head is not starving yet. */
	int starving = -1;
	for (;;) {
		if ((s & TT_MUTEX_QUEUED) && !(s & TT_MUTEX_WAKING))
			break;
		if ((s & TT_MUTEX_QUEUED) &&
		    (starving < 0 ? (starving = head_starving(m)) : starving))
			break;
		if (cas_state(m, &s, s & ~ID_MASK, __ATOMIC_RELEASE))
			return 0;
	}
	return unlock_release(m);
}

int tt_mutex_unlock(tt_mutex *m)
{
	return unlock_as(m, tt_current_id());
}

int tt_mutex_trylock(tt_mutex *m)
{
	uint64_t me = tt_current_id();
	if (!me)
		return -EPERM;
	return take(m, me) ? 0 : -EBUSY;
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
	l->g.holder = NULL; /* not a guard: the rest of G is unused */
}

/* ---- lock guards (guard.c) ---- */

void tt_lock_guard_init(tt_lock *l, tt_mutex *m, tt_frame *holder)
{
	tt_lock_init(l, m);
	l->g = (tt_guard){holder, NULL, 0, TT_GUARD_MUTEX};
	if (!m || !holder) {
		/* Finished already: the await returns -EINVAL without a poll, so
		 * the lock's fast path checks nothing more. */
		l->g.holder = NULL;
		l->leaf.frame.state = TT_FRAME_STARTED | TT_FRAME_DONE;
		l->leaf.frame.result = -EINVAL;
	}
}

int tt__mutex_guard_release(tt_lock *l, uint64_t me)
{
	return unlock_as(l->m, me);
}

int tt_guard_unlock(tt_lock *l)
{
	if (!l)
		return -EINVAL;
	uint64_t me;
	int r = tt_guard_disarm(&l->g, &me);
	return r < 0 ? r : unlock_as(l->m, me);
}

/* Out of line: the first poll that finds the mutex free saves no
 * registers for it. */
__attribute__((noinline)) static tt_poll lock_slow(tt_lock *l, tt_cx *cx, uint64_t me)
{
	tt_mutex *m = l->m;
	tt_lockword_lock(&m->lock);
	/* Woken by an unlock to compete: WAKING is ours to clear. */
	int retry = l->w.woken;
	uint64_t clear = retry ? TT_MUTEX_WAKING : 0;
	l->w.woken = 0;
	int ours = l->granted; /* a granted waiter's id was stored by its giver */
	/* Take it if free, else set QUEUED -- decided on the id in the same
	 * compare-and-swap, so a holder letting go meanwhile either frees it
	 * for us or sees QUEUED and comes through m->lock to wake us. */
	uint64_t s = load_state(m);
	while (!ours) {
		uint64_t to = (s & ~clear) | ((s & ID_MASK) ? TT_MUTEX_QUEUED : me);
		if (cas_state(m, &s, to, __ATOMIC_ACQUIRE)) {
			ours = !(s & ID_MASK);
			break;
		}
	}
	if (ours) {
		tt_waitq_remove(&m->waiters, &l->w);
		queue_changed(m);
		if (m->waiters.head && __atomic_load_n(&m->named, __ATOMIC_RELAXED) != me)
			name_owner(m, me);
		tt_waker mine = l->w.waker;
		l->w.waker.task = NULL;
		tt_lockword_unlock(&m->lock);
		if (mine.task)
			tt_waker_drop(&mine);
		tt_wait_clear(&l->leaf.wait);
		return TT_READY;
	}
	if (!l->since)
		l->since = tt_now_ns(); /* the hand-off needs the precise clock */
	/* Beaten to it after a wake-up: back to the front, not the end. */
	if (retry && !l->w.queued)
		tt_waitq_push_front(&m->waiters, &l->w, cx);
	else
		tt_waitq_push(&m->waiters, &l->w, cx);
	queue_changed(m);
	uint64_t owner = s & ID_MASK;
	if (!l->leaf.wait.kind) {
		tt_wait_set(&l->leaf.wait, TT_WAIT_MUTEX, m, owner, 0);
		tt_wait_set_name(&l->leaf.wait, m->name);
	}
	if (TT_RECORDING) {
		l->leaf.wait.owner = owner;
		if (__atomic_load_n(&m->named, __ATOMIC_RELAXED) != owner)
			name_owner(m, owner);
	}
	tt_lockword_unlock(&m->lock);
	return TT_PENDING;
}

/* Every poll but a first one of a plain lock that finds the mutex free. */
__attribute__((noinline)) static tt_poll lock_poll_rest(tt_lock *l, tt_cx *cx, uint64_t me)
{
	tt_poll r = !l->w.queued && !l->w.woken && !l->granted && take(l->m, me)
			? TT_READY
			: lock_slow(l, cx, me);
	if (TT_UNLIKELY(l->g.holder) && r == TT_READY)
		tt_guard_arm(&l->g, cx->task);
	return r;
}

__attribute__((noinline)) static tt_poll took_named(tt_mutex *m, uint64_t me)
{
	name_me_locked(m, me);
	return TT_READY;
}

static tt_poll lock_poll(tt_lock *l, tt_cx *cx)
{
	uint64_t me = tt_task_id_of(cx->task);
	tt_mutex *m = l->m;
	/* The first poll of a plain lock that finds the mutex free takes it
	 * here with one compare-and-swap: take() inline, every call a tail
	 * call, so the path saves no registers (the mutex against Go, issue
	 * 13: 115 -> 89 instructions per uncontended lock+unlock). */
	if (TT_LIKELY(!l->w.queued && !l->w.woken && !l->granted && !l->g.holder)) {
		uint64_t s = load_state(m);
		if (TT_LIKELY(!(s & ID_MASK)) && cas_state(m, &s, s | me, __ATOMIC_ACQUIRE)) {
			if (TT_UNLIKELY(s & TT_MUTEX_QUEUED) && TT_RECORDING &&
			    __atomic_load_n(&m->named, __ATOMIC_RELAXED) != me)
				return took_named(m, me);
			return TT_READY;
		}
	}
	return lock_poll_rest(l, cx, me);
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
			/* Pass the wake-up on if the mutex is free (no hand-off here:
			 * a barging task may take it at any moment; the next unlock
			 * hands over to a starving head); else drop WAKING, in one
			 * compare-and-swap with the id so that a holder letting go
			 * meanwhile is seen. */
			uint64_t s = load_state(m);
			for (;;) {
				if (!(s & ID_MASK) && m->waiters.head) {
					tt_waitq_take_first(&m->waiters, &wake);
					break;
				}
				if (cas_state(m, &s, s & ~TT_MUTEX_WAKING, __ATOMIC_RELAXED))
					break;
			}
		}
		queue_changed(m);
	}
	tt_lockword_unlock(&m->lock);
	tt_waker_wake(&wake);
	tt_wait_clear(&l->leaf.wait);
}
