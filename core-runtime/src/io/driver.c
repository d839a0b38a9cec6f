/* The driver: one epoll instance per runtime that a worker with nothing to
 * do blocks in, bounded by the earliest timer.  An eventfd in the set lets
 * any thread interrupt it (new work, an earlier timer, shutdown).  Timers
 * live in a binary min-heap keyed by (deadline, registration order). */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "runtime/internal.h"

int tt_driver_init(tt_driver *d)
{
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return -1;
	d->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->evfd < 0) {
		close(d->epfd);
		return -1;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->evfd, &ev) < 0) {
		close(d->evfd);
		close(d->epfd);
		return -1;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->timer_lock, NULL);
	atomic_init(&d->owner, -1);
	d->heap = NULL;
	d->heap_len = d->heap_cap = 0;
	d->timer_seq = 0;
	return 0;
}

void tt_driver_destroy(tt_driver *d)
{
	close(d->evfd);
	close(d->epfd);
	free(d->heap);
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->timer_lock);
}

void tt_driver_kick(tt_driver *d)
{
	uint64_t one = 1;
	ssize_t r = write(d->evfd, &one, sizeof one);
	(void)r; /* EAGAIN: the counter is already non-zero, it will wake */
}

/* ---- heap ---- */

static int node_less(const tt_timer_node *a, const tt_timer_node *b)
{
	return a->deadline < b->deadline ||
	       (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(tt_driver *d, uint32_t i, tt_timer_node *n)
{
	d->heap[i] = n;
	n->slot = i + 1;
}

static void sift_up(tt_driver *d, uint32_t i)
{
	tt_timer_node *n = d->heap[i];
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!node_less(n, d->heap[p]))
			break;
		heap_set(d, i, d->heap[p]);
		i = p;
	}
	heap_set(d, i, n);
}

static void sift_down(tt_driver *d, uint32_t i)
{
	tt_timer_node *n = d->heap[i];
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= d->heap_len)
			break;
		if (c + 1 < d->heap_len && node_less(d->heap[c + 1], d->heap[c]))
			c++;
		if (!node_less(d->heap[c], n))
			break;
		heap_set(d, i, d->heap[c]);
		i = c;
	}
	heap_set(d, i, n);
}

static void heap_remove(tt_driver *d, tt_timer_node *n)
{
	uint32_t i = n->slot - 1;
	n->slot = 0;
	tt_timer_node *last = d->heap[--d->heap_len];
	if (last == n)
		return;
	heap_set(d, i, last);
	sift_down(d, i);
	sift_up(d, last->slot - 1);
}

void tt_timer_register(tt_driver *d, tt_timer_node *n, tt_cx *cx)
{
	int earliest = 0;
	pthread_mutex_lock(&d->timer_lock);
	if (n->waker.task != cx->task) {
		tt_waker_drop(&n->waker);
		n->waker = tt_waker_new(cx);
	}
	if (!n->slot) {
		if (d->heap_len == d->heap_cap) {
			uint32_t cap = d->heap_cap ? d->heap_cap * 2 : 64;
			tt_timer_node **h = realloc(d->heap, cap * sizeof *h);
			if (!h) {
				/* Keep the task alive rather than lose the wakeup:
				 * retry on its next poll. */
				pthread_mutex_unlock(&d->timer_lock);
				tt_cx_wake_self(cx);
				return;
			}
			d->heap = h;
			d->heap_cap = cap;
		}
		n->seq = d->timer_seq++;
		n->driver = d;
		d->heap[d->heap_len++] = n;
		sift_up(d, d->heap_len - 1);
		earliest = n->slot == 1;
	}
	pthread_mutex_unlock(&d->timer_lock);
	/* Ordered after the heap lock: a driver that took ownership before our
	 * insert is seen here; one that took it after sees our timer. */
	if (earliest && atomic_load_explicit(&d->owner, SEQ_CST) >= 0)
		tt_driver_kick(d);
}

void tt_timer_deregister(tt_driver *d, tt_timer_node *n)
{
	tt_waker w = {NULL};
	pthread_mutex_lock(&d->timer_lock);
	if (n->slot)
		heap_remove(d, n);
	w = n->waker;
	n->waker.task = NULL;
	pthread_mutex_unlock(&d->timer_lock);
	tt_waker_drop(&w);
}

/* Fire due timers; returns ms until the next one (-1: none).  *FIRED
 * counts the timers fired. */
static int fire_timers(tt_driver *d, int *fired)
{
	enum { BATCH = 64 };
	tt_waker due[BATCH];
	for (;;) {
		uint64_t now = tt_now_ns();
		int n = 0, more = 0, timeout = -1;
		pthread_mutex_lock(&d->timer_lock);
		while (d->heap_len && d->heap[0]->deadline <= now) {
			if (n == BATCH) {
				more = 1;
				break;
			}
			tt_timer_node *t = d->heap[0];
			heap_remove(d, t);
			/* Move the waker out: once we unlock, the frame holding the
			 * node may be cancelled and freed. */
			due[n++] = t->waker;
			t->waker.task = NULL;
		}
		if (!more && d->heap_len) {
			uint64_t left = d->heap[0]->deadline - now;
			uint64_t ms = (left + 999999) / 1000000;
			timeout = ms > 60000 ? 60000 : (int)ms;
		}
		pthread_mutex_unlock(&d->timer_lock);
		for (int i = 0; i < n; i++)
			tt_waker_wake(&due[i]);
		*fired += n;
		if (!more)
			return timeout;
	}
}

void tt_driver_turn(tt_driver *d, int block)
{
	enum { EVENTS = 64 };
	struct epoll_event ev[EVENTS];
	int fired = 0;
	int timeout = fire_timers(d, &fired);
	/* A fired timer may have queued its task on this very worker without
	 * waking anyone (the LIFO rule in tt_schedule): then this turn must not
	 * block, or that task waits for the next unrelated event. */
	int n = epoll_wait(d->epfd, ev, EVENTS, block && !fired ? timeout : 0);
	/* The wakes below are stamped with the worker's clock, which dates
	 * from before it slept here: with the flight recorder on, read it
	 * again (the worker would after parking anyway). */
	tt_worker *w = tt__tls_worker;
	if (block && w && w->fr)
		w->now = tt_stamp_ns();
	for (int i = 0; i < n; i++) {
		if (ev[i].data.ptr == NULL) {
			uint64_t v;
			ssize_t r = read(d->evfd, &v, sizeof v);
			(void)r;
		} else {
			tt_fd_event(ev[i].data.ptr, ev[i].events);
		}
	}
	if (block || n > 0)
		fire_timers(d, &fired);
}
