/* Run queues: each worker owns a bounded FIFO ring that it pushes to and
 * pops from and that idle workers steal half of; a mutex-protected list
 * takes the overflow and wakes from threads that are not workers. */
#include "runtime/internal.h"

/* Push, pop and len are inline in internal.h. */

tt_task *tt_ring_steal(tt_ring *src, tt_ring *dst)
{
	uint32_t dtail = atomic_load_explicit(&dst->tail, RELAXED);
	uint32_t head = atomic_load_explicit(&src->head, ACQUIRE);
	for (;;) {
		uint32_t tail = atomic_load_explicit(&src->tail, ACQUIRE);
		uint32_t avail = tail - head;
		if (avail == 0 || avail > TT_RING_CAP)
			return NULL; /* empty, or a stale head: nothing safe */
		uint32_t n = avail - avail / 2;
		/* dst is empty (only its owner, the caller, pushes to it). */
		for (uint32_t i = 0; i < n; i++) {
			tt_task *t = atomic_load_explicit(&src->buf[(head + i) % TT_RING_CAP],
							  RELAXED);
			atomic_store_explicit(&dst->buf[(dtail + i) % TT_RING_CAP], t, RELAXED);
		}
		if (atomic_compare_exchange_weak_explicit(&src->head, &head, head + n,
							  ACQ_REL, ACQUIRE)) {
			/* Keep the last one to run now; publish the rest. */
			tt_task *run = atomic_load_explicit(
			    &dst->buf[(dtail + n - 1) % TT_RING_CAP], RELAXED);
			if (n > 1)
				atomic_store_explicit(&dst->tail, dtail + n - 1, RELEASE);
			return run;
		}
	}
}

size_t tt_ring_take_half(tt_ring *q, tt_task *t, tt_task **last)
{
	tt_task *took[TT_RING_CAP / 2];
	uint32_t head = atomic_load_explicit(&q->head, ACQUIRE);
	uint32_t n;
	for (;;) {
		uint32_t tail = atomic_load_explicit(&q->tail, RELAXED);
		n = tt_min_u32((tail - head) / 2, TT_RING_CAP / 2);
		/* Read before the claim, as a stealer does: once head moves
		 * past them the owner may overwrite them. */
		for (uint32_t i = 0; i < n; i++)
			took[i] = atomic_load_explicit(&q->buf[(head + i) % TT_RING_CAP], RELAXED);
		if (atomic_compare_exchange_weak_explicit(&q->head, &head, head + n, ACQ_REL,
							  ACQUIRE))
			break;
	}
	/* Ours now: linked for the injector, T first. */
	tt_task *prev = t;
	for (uint32_t i = 0; i < n; i++) {
		atomic_store_explicit(&prev->next, took[i], RELAXED);
		prev = took[i];
	}
	*last = prev;
	return (size_t)n + 1;
}

void tt_injector_init(tt_injector *q)
{
	pthread_mutex_init(&q->lock, NULL);
	q->head = q->tail = NULL;
	atomic_init(&q->len, 0);
}

void tt_injector_push_list(tt_injector *q, tt_task *head, tt_task *tail, size_t n)
{
	atomic_store_explicit(&tail->next, NULL, RELAXED);
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		atomic_store_explicit(&q->tail->next, head, RELAXED);
	else
		q->head = head;
	q->tail = tail;
	atomic_fetch_add_explicit(&q->len, n, RELEASE);
	pthread_mutex_unlock(&q->lock);
}

void tt_injector_push(tt_injector *q, tt_task *t)
{
	tt_injector_push_list(q, t, t, 1);
}

tt_task *tt_injector_pop(tt_injector *q)
{
	if (atomic_load_explicit(&q->len, ACQUIRE) == 0)
		return NULL;
	pthread_mutex_lock(&q->lock);
	tt_task *t = q->head;
	if (t) {
		q->head = atomic_load_explicit(&t->next, RELAXED);
		if (!q->head)
			q->tail = NULL;
		atomic_fetch_sub_explicit(&q->len, 1, RELAXED);
	}
	pthread_mutex_unlock(&q->lock);
	return t;
}

/* Under one lock, the first task and up to MAX-1 more into DST, the
 * caller's own ring: a burst of spawns overflows to the injector by
 * halves of a ring, and taking them back one lock at a time cost ~85
 * instructions a task (tokio's workers take a batch too). */
tt_task *tt_injector_pop_batch(tt_injector *q, tt_ring *dst, uint32_t max)
{
	if (atomic_load_explicit(&q->len, ACQUIRE) == 0)
		return NULL;
	uint32_t tail = atomic_load_explicit(&dst->tail, RELAXED);
	uint32_t room = TT_RING_CAP - (tail - atomic_load_explicit(&dst->head, ACQUIRE));
	pthread_mutex_lock(&q->lock);
	tt_task *t = q->head;
	uint32_t n = 0;
	if (t) {
		tt_task *next = atomic_load_explicit(&t->next, RELAXED);
		for (; next && n + 1 < max && n < room; n++) {
			atomic_store_explicit(&dst->buf[(tail + n) % TT_RING_CAP], next, RELAXED);
			next = atomic_load_explicit(&next->next, RELAXED);
		}
		q->head = next;
		if (!next)
			q->tail = NULL;
		atomic_fetch_sub_explicit(&q->len, n + 1, RELAXED);
	}
	pthread_mutex_unlock(&q->lock);
	if (n)
		atomic_store_explicit(&dst->tail, tail + n, RELEASE);
	return t;
}
