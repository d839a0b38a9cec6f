/* Broadcast channel: a ring of the last CAP values under one lock, each
 * value numbered (the Nth sent is N-1, kept in slot N % CAP); a receiver
 * is just the number of the next value it wants, so a send costs the same
 * with one receiver or a thousand, and a receiver that fell behind the
 * ring's oldest value learns how many it missed from the numbers alone. */
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

struct tt_broadcast {
	tt_lockword lock;
	size_t esize, cap;
	uint64_t sent; /* values ever sent: the next one's number */
	uint64_t subscribers;
	int closed;
	tt_waitq waiters;
	const char *name;
	tt_holders senders_h; /* the declared senders (a receive's HOLDERS) */
	_Alignas(max_align_t) unsigned char buf[];
};

static tt_poll recv_poll(tt_broadcast_recv *r, tt_cx *cx);
static void recv_drop(tt_broadcast_recv *r);
TT_LEAF_FN(tt_broadcast_recv, recv_poll, recv_drop);

tt_broadcast *tt_broadcast_new(size_t elem_size, size_t capacity)
{
	if (!elem_size || !capacity || elem_size > ((size_t)1 << 20) ||
	    capacity > ((size_t)1 << 30) / elem_size) {
		errno = EINVAL;
		return NULL;
	}
	tt_broadcast *b = calloc(1, sizeof *b + elem_size * capacity);
	if (!b)
		return NULL;
	tt_lockword_init(&b->lock);
	b->esize = elem_size;
	b->cap = capacity;
	return b;
}

int tt_broadcast_free(tt_broadcast *b)
{
	if (!b)
		return -EINVAL;
	tt_lockword_lock(&b->lock);
	/* Every waiting or woken receive holds a subscription. */
	int busy = b->subscribers != 0;
	tt_lockword_unlock(&b->lock);
	if (busy)
		return -EBUSY;
	free(b);
	return 0;
}

/* Under b->lock: every waiting receiver gets a look. */
static void wake_all(tt_broadcast *b)
{
	while (tt_waitq_wake_first(&b->waiters))
		;
}

int tt_broadcast_close(tt_broadcast *b)
{
	if (!b)
		return -EINVAL;
	tt_lockword_lock(&b->lock);
	int was = b->closed;
	b->closed = 1;
	if (!was)
		wake_all(b);
	tt_lockword_unlock(&b->lock);
	return was ? -EALREADY : 0;
}

int tt_broadcast_set_name(tt_broadcast *b, const char *name)
{
	if (!b)
		return -EINVAL;
	b->name = name;
	return 0;
}

int tt_broadcast_send(tt_broadcast *b, const void *elem)
{
	if (!b || !elem)
		return -EINVAL;
	tt_lockword_lock(&b->lock);
	if (b->closed) {
		tt_lockword_unlock(&b->lock);
		return -EPIPE;
	}
	memcpy(b->buf + (b->sent % b->cap) * b->esize, elem, b->esize);
	b->sent++;
	tt_holders_use(&b->senders_h, tt_current_id());
	uint64_t n = b->subscribers;
	wake_all(b);
	tt_lockword_unlock(&b->lock);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

int tt_broadcast_bind_sender(tt_broadcast *b)
{
	if (!b)
		return -EINVAL;
	tt_lockword_lock(&b->lock);
	int rc = tt_holders_declare(&b->senders_h, tt_current_id());
	tt_lockword_unlock(&b->lock);
	return rc;
}

int tt_broadcast_subscribe(tt_broadcast *b, tt_broadcast_rx *rx)
{
	if (!b || !rx)
		return -EINVAL;
	tt_lockword_lock(&b->lock);
	int closed = b->closed;
	if (!closed) {
		rx->b = b;
		rx->next = b->sent;
		rx->lagged = 0;
		rx->waiting = 0;
		b->subscribers++;
	}
	tt_lockword_unlock(&b->lock);
	return closed ? -EPIPE : 0;
}

int tt_broadcast_unsubscribe(tt_broadcast_rx *rx)
{
	if (!rx)
		return -EINVAL;
	tt_broadcast *b = rx->b;
	if (!b)
		return -EALREADY;
	tt_lockword_lock(&b->lock);
	int busy = rx->waiting != 0;
	if (!busy) {
		rx->b = NULL;
		b->subscribers--;
	}
	tt_lockword_unlock(&b->lock);
	return busy ? -EBUSY : 0;
}

/* Under b->lock: the next value for RX, as tt_broadcast_try_recv. */
static int take(tt_broadcast *b, tt_broadcast_rx *rx, void *out)
{
	uint64_t oldest = b->sent > b->cap ? b->sent - b->cap : 0;
	if (rx->next < oldest) {
		rx->lagged = oldest - rx->next;
		rx->next = oldest;
		return TT_ELAGGED;
	}
	if (rx->next == b->sent)
		return b->closed ? -EPIPE : -EAGAIN;
	if (out)
		memcpy(out, b->buf + (rx->next % b->cap) * b->esize, b->esize);
	rx->next++;
	return 0;
}

int tt_broadcast_try_recv(tt_broadcast_rx *rx, void *out)
{
	if (!rx || !rx->b)
		return -EINVAL;
	tt_broadcast *b = rx->b;
	tt_lockword_lock(&b->lock);
	int r = take(b, rx, out);
	tt_lockword_unlock(&b->lock);
	return r;
}

void tt_broadcast_recv_init(tt_broadcast_recv *r, tt_broadcast_rx *rx, void *out)
{
	tt_frame_init(&r->leaf.frame, &tt_broadcast_recv_fn);
	tt_wait_clear(&r->leaf.wait);
	tt_waiter_init(&r->w);
	r->rx = rx;
	r->out = out;
	r->using_rx = 0;
	if (!rx || !rx->b) {
		/* Finished already: the await returns -EINVAL without a poll. */
		r->leaf.frame.state = TT_FRAME_STARTED | TT_FRAME_DONE;
		r->leaf.frame.result = -EINVAL;
	}
}

/* Under b->lock: the receive is over. */
static void leave(tt_broadcast *b, tt_broadcast_recv *r)
{
	tt_waiter_leave(&b->waiters, &r->w);
	if (r->using_rx)
		r->rx->waiting = 0;
	r->using_rx = 0;
}

static tt_poll recv_poll(tt_broadcast_recv *r, tt_cx *cx)
{
	tt_broadcast *b = r->rx->b;
	if (!b) { /* unsubscribed since the init */
		r->leaf.frame.result = -EINVAL;
		return TT_READY;
	}
	tt_lockword_lock(&b->lock);
	if (!r->using_rx) {
		if (r->rx->waiting) {
			tt_lockword_unlock(&b->lock);
			r->leaf.frame.result = -EBUSY;
			return TT_READY;
		}
		r->rx->waiting = 1;
		r->using_rx = 1;
	}
	r->w.woken = 0;
	int res = take(b, r->rx, r->out);
	if (res == -EAGAIN) {
		tt_waitq_push(&b->waiters, &r->w, cx);
		tt_lockword_unlock(&b->lock);
		if (!r->leaf.wait.kind) {
			tt__wait_set_holders(&r->leaf.wait, TT_WAIT_BROADCAST, b, 0, b->cap,
					     &b->senders_h);
			tt_wait_set_name(&r->leaf.wait, b->name);
		}
		return TT_PENDING;
	}
	leave(b, r);
	tt_lockword_unlock(&b->lock);
	tt_wait_clear(&r->leaf.wait);
	r->leaf.frame.result = res;
	return TT_READY;
}

static void recv_drop(tt_broadcast_recv *r)
{
	tt_broadcast *b = r->rx->b;
	if (b) {
		tt_lockword_lock(&b->lock);
		leave(b, r);
		tt_lockword_unlock(&b->lock);
	}
	tt_wait_clear(&r->leaf.wait);
}
