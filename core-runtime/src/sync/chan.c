/* Bounded MPMC channel: a ring of fixed-size slots under one lock, with
 * FIFO queues of blocked senders and receivers. */
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

struct tt_chan {
	tt_lockword lock;
	size_t esize, cap, head, len;
	int closed;
	tt_waitq senders, receivers;
	size_t inflight; /* woken operations that have not polled again yet */
	const char *name;
	/* The declared ends: a receive waits on the senders, a send on the
	 * receivers (the waits' HOLDERS). */
	tt_holders senders_h, receivers_h;
	unsigned char buf[];
};

static tt_poll send_poll(tt_chan_op *op, tt_cx *cx);
static tt_poll recv_poll(tt_chan_op *op, tt_cx *cx);
static void send_drop(tt_chan_op *op);
static void recv_drop(tt_chan_op *op);
const tt_func tt_send_fn TT_SECTION_("tasktrace_funcs") = {
	"tt_send", __FILE__, __LINE__, TT_FUNC_KIND_LEAF, "tt_chan_op", sizeof(tt_chan_op),
	0, (tt_poll_fn)send_poll, (tt_drop_fn)send_drop};
const tt_func tt_recv_fn TT_SECTION_("tasktrace_funcs") = {
	"tt_recv", __FILE__, __LINE__, TT_FUNC_KIND_LEAF, "tt_chan_op", sizeof(tt_chan_op),
	0, (tt_poll_fn)recv_poll, (tt_drop_fn)recv_drop};

tt_chan *tt_chan_new(size_t elem_size, size_t capacity)
{
	if (!elem_size || !capacity || elem_size > ((size_t)1 << 20) ||
	    capacity > ((size_t)1 << 30) / elem_size) {
		errno = EINVAL;
		return NULL;
	}
	tt_chan *c = calloc(1, sizeof *c + elem_size * capacity);
	if (!c)
		return NULL;
	tt_lockword_init(&c->lock);
	c->esize = elem_size;
	c->cap = capacity;
	return c;
}

int tt_chan_free(tt_chan *c)
{
	if (!c)
		return -EINVAL;
	tt_lockword_lock(&c->lock);
	/* A woken operation still touches the channel when it runs. */
	int busy = c->senders.head || c->receivers.head || c->inflight;
	tt_lockword_unlock(&c->lock);
	if (busy)
		return -EBUSY;
	free(c);
	return 0;
}

int tt_chan_close(tt_chan *c)
{
	tt_lockword_lock(&c->lock);
	int was = c->closed;
	c->closed = 1;
	while (tt_waitq_wake_first(&c->senders))
		c->inflight++;
	while (tt_waitq_wake_first(&c->receivers))
		c->inflight++;
	tt_lockword_unlock(&c->lock);
	return was ? -EALREADY : 0;
}

size_t tt_chan_len(tt_chan *c)
{
	tt_lockword_lock(&c->lock);
	size_t n = c->len;
	tt_lockword_unlock(&c->lock);
	return n;
}

size_t tt_chan_capacity(const tt_chan *c) { return c->cap; }

static int bind(tt_chan *c, tt_holders *h)
{
	tt_lockword_lock(&c->lock);
	int rc = tt_holders_declare(h, tt__current_id());
	tt_lockword_unlock(&c->lock);
	return rc;
}

int tt_chan_bind_sender(tt_chan *c)
{
	return bind(c, &c->senders_h);
}
int tt_chan_bind_receiver(tt_chan *c)
{
	return bind(c, &c->receivers_h);
}

/* Wakers taken under the lock and woken after it (tt_waitq_take_first):
 * a put or take hands at most two turns. */
typedef struct wakes {
	tt_waker w[2];
	int n;
} wakes;

static void take_first(tt_chan *c, tt_waitq *q, wakes *k)
{
	if (q->head && tt_waitq_take_first(q, &k->w[k->n])) {
		k->n++;
		c->inflight++;
	}
}

static void wake_all(wakes *k)
{
	for (int i = 0; i < k->n; i++)
		tt_waker_wake(&k->w[i]);
}

/* Elements are mostly a pointer or an integer: copy those sizes inline
 * rather than through a libc call. */
static inline void copy_elem(void *dst, const void *src, size_t n)
{
	switch (n) {
	case 4:
		memcpy(dst, src, 4);
		break;
	case 8:
		memcpy(dst, src, 8);
		break;
	case 16:
		memcpy(dst, src, 16);
		break;
	default:
		memcpy(dst, src, n);
	}
}

/* Index of the slot I in the ring, without a division. */
static size_t slot(const tt_chan *c, size_t i) { return i >= c->cap ? i - c->cap : i; }

/* Under the lock.  A sender may go when there is room and it is not
 * jumping the queue (nobody queued, or it was handed the turn). */
static int put(tt_chan *c, const void *elem, int my_turn, wakes *k)
{
	if (c->closed)
		return -EPIPE;
	if (c->len == c->cap || (c->senders.head && !my_turn))
		return -EAGAIN;
	copy_elem(c->buf + slot(c, c->head + c->len) * c->esize, elem, c->esize);
	c->len++;
	tt_holders_use(&c->senders_h, tt__current_id());
	take_first(c, &c->receivers, k);
	if (c->len < c->cap) /* room left: let the next queued sender try */
		take_first(c, &c->senders, k);
	return 0;
}

static int take(tt_chan *c, void *out, int my_turn, wakes *k)
{
	if (c->len == 0 || (c->receivers.head && !my_turn))
		return c->len == 0 && c->closed ? -EPIPE : -EAGAIN;
	copy_elem(out, c->buf + c->head * c->esize, c->esize);
	c->head = slot(c, c->head + 1);
	c->len--;
	tt_holders_use(&c->receivers_h, tt__current_id());
	take_first(c, &c->senders, k);
	if (c->len > 0)
		take_first(c, &c->receivers, k);
	return 0;
}

int tt_chan_try_send(tt_chan *c, const void *elem)
{
	wakes k;
	k.n = 0;
	tt_lockword_lock(&c->lock);
	int r = put(c, elem, 0, &k);
	tt_lockword_unlock(&c->lock);
	wake_all(&k);
	return r;
}

int tt_chan_try_recv(tt_chan *c, void *out)
{
	wakes k;
	k.n = 0;
	tt_lockword_lock(&c->lock);
	int r = take(c, out, 0, &k);
	tt_lockword_unlock(&c->lock);
	wake_all(&k);
	return r;
}

static void op_init(tt_chan_op *op, const tt_func *fn, tt_chan *c, const void *elem)
{
	tt_frame_init(&op->leaf.frame, fn);
	tt_wait_clear(&op->leaf.wait);
	tt_waiter_init(&op->w);
	op->c = c;
	op->elem = (void *)elem;
}

void tt_send_init(tt_send *s, tt_chan *c, const void *elem) { op_init(s, &tt_send_fn, c, elem); }
void tt_recv_init(tt_recv *r, tt_chan *c, void *out) { op_init(r, &tt_recv_fn, c, out); }

int tt_chan_set_name(tt_chan *c, const char *name)
{
	if (!c)
		return -EINVAL;
	c->name = name;
	return 0;
}

static inline __attribute__((always_inline)) tt_poll op_poll(tt_chan_op *op, tt_cx *cx,
							   int sending)
{
	tt_chan *c = op->c;
	tt_waitq *q = sending ? &c->senders : &c->receivers;
	wakes k;
	k.n = 0;
	tt_lockword_lock(&c->lock);
	if (op->w.woken)
		c->inflight--;
	int my_turn = op->w.woken || op->w.queued;
	/* A queued waiter goes only from the head. */
	if (op->w.queued && q->head != &op->w)
		my_turn = 0;
	int r = sending ? put(c, op->elem, my_turn, &k) : take(c, op->elem, my_turn, &k);
	if (r != -EAGAIN) {
		/* Our own waker, if queued, is dropped outside the lock too. */
		tt_waitq_remove(q, &op->w);
		tt_waker mine = op->w.waker;
		op->w.waker.task = NULL;
		op->w.woken = 0;
		tt_lockword_unlock(&c->lock);
		wake_all(&k);
		if (mine.task)
			tt_waker_drop(&mine);
		op->leaf.frame.result = r;
		tt_wait_clear(&op->leaf.wait);
		return TT_READY;
	}
	op->w.woken = 0;
	tt_waitq_push(q, &op->w, cx);
	tt_lockword_unlock(&c->lock);
	if (!op->leaf.wait.kind) {
		tt__wait_set_holders(&op->leaf.wait,
				     sending ? TT_WAIT_CHAN_SEND : TT_WAIT_CHAN_RECV, c, 0, c->cap,
				     sending ? &c->receivers_h : &c->senders_h);
		tt_wait_set_name(&op->leaf.wait, c->name);
	}
	return TT_PENDING;
}

static tt_poll send_poll(tt_chan_op *op, tt_cx *cx) { return op_poll(op, cx, 1); }
static tt_poll recv_poll(tt_chan_op *op, tt_cx *cx) { return op_poll(op, cx, 0); }

static void op_drop(tt_chan_op *op, int sending)
{
	tt_chan *c = op->c;
	tt_lockword_lock(&c->lock);
	tt_waitq *q = sending ? &c->senders : &c->receivers;
	/* A turn we were handed goes to the next in line. */
	if (tt_waiter_leave(q, &op->w)) {
		c->inflight--;
		if (tt_waitq_wake_first(q))
			c->inflight++;
	}
	tt_lockword_unlock(&c->lock);
	tt_wait_clear(&op->leaf.wait);
}

static void send_drop(tt_chan_op *op) { op_drop(op, 1); }
static void recv_drop(tt_chan_op *op) { op_drop(op, 0); }
