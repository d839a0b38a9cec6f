/* Counting semaphore with strict FIFO grants. */
#include <string.h>

#include "runtime/internal.h"

static tt_poll acquire_poll(tt_acquire *a, tt_cx *cx);
static void acquire_drop(tt_acquire *a);
TT_LEAF_FN(tt_acquire, acquire_poll, acquire_drop);

void tt_semaphore_init(tt_semaphore *s, uint64_t permits)
{
	tt_lockword_init(&s->lock);
	s->permits = permits;
	s->waiters.head = s->waiters.tail = NULL;
	s->granted = 0;
	s->name = NULL;
	memset(&s->holders, 0, sizeof(s->holders));
}

int tt_semaphore_set_name(tt_semaphore *s, const char *name)
{
	if (!s)
		return -EINVAL;
	s->name = name;
	return 0;
}

int tt_semaphore_destroy(tt_semaphore *s)
{
	tt_lockword_lock(&s->lock);
	int busy = s->waiters.head != NULL || s->granted; /* granted: still to run */
	tt_lockword_unlock(&s->lock);
	if (busy)
		return -EBUSY;
	return 0;
}

/* Grant from the head while it fits; a head that does not fit blocks the
 * rest (no overtaking, so a large request cannot starve). */
static void grant(tt_semaphore *s)
{
	while (s->waiters.head && s->permits >= s->waiters.head->want) {
		s->permits -= s->waiters.head->want;
		/* Held by nobody known until the waiter runs and takes them. */
		tt_holders_add(&s->holders, 0, s->waiters.head->want);
		tt_waitq_wake_first(&s->waiters);
		s->granted++;
	}
}

void tt_semaphore_release(tt_semaphore *s, uint64_t n)
{
	tt_lockword_lock(&s->lock);
	s->permits += n;
	tt_holders_remove(&s->holders, tt__current_id(), n);
	grant(s);
	tt_lockword_unlock(&s->lock);
}

int tt_semaphore_try_acquire(tt_semaphore *s, uint64_t n)
{
	tt_lockword_lock(&s->lock);
	int ok = !s->waiters.head && s->permits >= n;
	if (ok) {
		s->permits -= n;
		tt_holders_add(&s->holders, tt__current_id(), n);
	}
	tt_lockword_unlock(&s->lock);
	return ok ? 0 : -EAGAIN;
}

uint64_t tt_semaphore_available(tt_semaphore *s)
{
	tt_lockword_lock(&s->lock);
	uint64_t n = s->permits;
	tt_lockword_unlock(&s->lock);
	return n;
}

void tt_acquire_init(tt_acquire *a, tt_semaphore *s, uint64_t n)
{
	tt_frame_init(&a->leaf.frame, &tt_acquire_fn);
	tt_wait_clear(&a->leaf.wait);
	tt_waiter_init(&a->w);
	a->w.want = n;
	a->s = s;
}

static tt_poll acquire_poll(tt_acquire *a, tt_cx *cx)
{
	tt_semaphore *s = a->s;
	tt_lockword_lock(&s->lock);
	int ready = a->w.woken; /* permits were taken for us by grant() */
	if (ready) {
		s->granted--;
		tt_holders_remove(&s->holders, 0, a->w.want);
	}
	if (!ready && !a->w.queued && !s->waiters.head && s->permits >= a->w.want) {
		s->permits -= a->w.want;
		ready = 1;
	}
	if (ready) {
		tt_holders_add(&s->holders, tt__current_id(), a->w.want);
		tt_waiter_leave(&s->waiters, &a->w);
		tt_lockword_unlock(&s->lock);
		tt_wait_clear(&a->leaf.wait);
		return TT_READY;
	}
	tt_waitq_push(&s->waiters, &a->w, cx);
	tt_lockword_unlock(&s->lock);
	if (!a->leaf.wait.kind) {
		tt__wait_set_holders(&a->leaf.wait, TT_WAIT_SEMAPHORE, s, 0, a->w.want,
				     &s->holders);
		tt_wait_set_name(&a->leaf.wait, s->name);
	}
	return TT_PENDING;
}

static void acquire_drop(tt_acquire *a)
{
	tt_semaphore *s = a->s;
	tt_lockword_lock(&s->lock);
	if (tt_waiter_leave(&s->waiters, &a->w)) {
		s->permits += a->w.want; /* granted but never used */
		s->granted--;
		tt_holders_remove(&s->holders, 0, a->w.want);
	}
	grant(s); /* our leaving may unblock those behind us */
	tt_lockword_unlock(&s->lock);
	tt_wait_clear(&a->leaf.wait);
}
