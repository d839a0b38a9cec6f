/* Watch channel: the latest value and its version under one lock; a
 * receiver waits for a version newer than the one it has seen, so a send
 * made before it waits is not lost (unlike a notify), and sends made while
 * it was busy coalesce into the latest value. */
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

struct tt_watch {
	tt_lockword lock;
	uint64_t version; /* 1 for the initial value, +1 per send */
	int closed;
	size_t size;
	tt_waitq waiters;
	size_t inflight; /* woken receivers that have not polled again yet */
	const char *name; /* tt_watch_set_name */
	_Alignas(max_align_t) unsigned char value[];
};

static tt_poll changed_poll(tt_watch_changed *c, tt_cx *cx);
static void changed_drop(tt_watch_changed *c);
TT_LEAF_FN(tt_watch_changed, changed_poll, changed_drop);

tt_watch *tt_watch_new(size_t size, const void *initial)
{
	if (!size || size > ((size_t)1 << 20) || !initial) {
		errno = EINVAL;
		return NULL;
	}
	tt_watch *w = calloc(1, sizeof *w + size);
	if (!w)
		return NULL;
	tt_lockword_init(&w->lock);
	w->size = size;
	w->version = 1;
	memcpy(w->value, initial, size);
	return w;
}

int tt_watch_free(tt_watch *w)
{
	if (!w)
		return -EINVAL;
	tt_lockword_lock(&w->lock);
	/* A woken receiver still locks the watch when it runs. */
	int busy = w->waiters.head || w->inflight;
	tt_lockword_unlock(&w->lock);
	if (busy)
		return -EBUSY;
	free(w);
	return 0;
}

/* Under w->lock: every waiting receiver gets a turn. */
static void wake_all(tt_watch *w)
{
	while (tt_waitq_wake_first(&w->waiters))
		w->inflight++;
}

int tt_watch_send(tt_watch *w, const void *value)
{
	if (!w || !value)
		return -EINVAL;
	tt_lockword_lock(&w->lock);
	if (w->closed) {
		tt_lockword_unlock(&w->lock);
		return -EPIPE;
	}
	memcpy(w->value, value, w->size);
	w->version++;
	wake_all(w);
	tt_lockword_unlock(&w->lock);
	return 0;
}

int tt_watch_set_name(tt_watch *w, const char *name)
{
	if (!w)
		return -EINVAL;
	w->name = name;
	return 0;
}

int tt_watch_close(tt_watch *w)
{
	if (!w)
		return -EINVAL;
	tt_lockword_lock(&w->lock);
	int was = w->closed;
	w->closed = 1;
	if (!was)
		wake_all(w);
	tt_lockword_unlock(&w->lock);
	return was ? -EALREADY : 0;
}

int tt_watch_get(tt_watch *w, void *out, uint64_t *version)
{
	if (!w)
		return -EINVAL;
	tt_lockword_lock(&w->lock);
	if (out)
		memcpy(out, w->value, w->size);
	if (version)
		*version = w->version;
	int closed = w->closed;
	tt_lockword_unlock(&w->lock);
	return closed;
}

void tt_watch_changed_init(tt_watch_changed *c, tt_watch *w, uint64_t *seen, void *out)
{
	tt_frame_init(&c->leaf.frame, &tt_watch_changed_fn);
	tt_wait_clear(&c->leaf.wait);
	tt_waiter_init(&c->q);
	c->w = w;
	c->seen = seen;
	c->out = out;
	if (!w || !seen) {
		/* Finished already: the await returns -EINVAL without a poll. */
		c->leaf.frame.state = TT_FRAME_STARTED | TT_FRAME_DONE;
		c->leaf.frame.result = -EINVAL;
	}
}

static tt_poll changed_poll(tt_watch_changed *c, tt_cx *cx)
{
	tt_watch *w = c->w;
	tt_lockword_lock(&w->lock);
	if (c->q.woken) {
		c->q.woken = 0;
		w->inflight--;
	}
	intptr_t r;
	if (w->version > *c->seen) {
		if (c->out)
			memcpy(c->out, w->value, w->size);
		*c->seen = w->version;
		r = 0;
	} else if (w->closed) {
		r = -EPIPE;
	} else {
		tt_waitq_push(&w->waiters, &c->q, cx);
		if (!c->leaf.wait.kind) {
			tt_wait_set(&c->leaf.wait, TT_WAIT_WATCH, w, 0, 0);
			tt_wait_set_name(&c->leaf.wait, w->name);
		}
		tt_lockword_unlock(&w->lock);
		return TT_PENDING;
	}
	tt_waiter_leave(&w->waiters, &c->q);
	tt_lockword_unlock(&w->lock);
	tt_wait_clear(&c->leaf.wait);
	c->leaf.frame.result = r;
	return TT_READY;
}

static void changed_drop(tt_watch_changed *c)
{
	tt_watch *w = c->w;
	tt_lockword_lock(&w->lock);
	if (tt_waiter_leave(&w->waiters, &c->q))
		w->inflight--;
	tt_lockword_unlock(&w->lock);
	tt_wait_clear(&c->leaf.wait);
}
