/* Oneshot: one value, one receiver, and an explicit "abandoned" outcome
 * so a receiver never waits for a producer that is gone. */
#include "runtime/internal.h"

enum { EMPTY = 0, SENT = 1, ABANDONED = 2, TAKEN = 3 };

static tt_poll recv_poll(tt_oneshot_recv *r, tt_cx *cx);
static void recv_drop(tt_oneshot_recv *r);
TT_LEAF_FN(tt_oneshot_recv, recv_poll, recv_drop);

void tt_oneshot_init(tt_oneshot *o)
{
	pthread_mutex_init(&o->lock, NULL);
	o->state = EMPTY;
	o->value = 0;
	o->producer = tt__tls_task ? atomic_load_explicit(&tt__tls_task->id, RELAXED) : 0;
	o->waiters.head = o->waiters.tail = NULL;
	o->name = NULL;
}

int tt_oneshot_set_name(tt_oneshot *o, const char *name)
{
	if (!o)
		return -EINVAL;
	o->name = name;
	return 0;
}

void tt_oneshot_destroy(tt_oneshot *o) { pthread_mutex_destroy(&o->lock); }

void tt_oneshot_bind_producer(tt_oneshot *o)
{
	pthread_mutex_lock(&o->lock);
	o->producer = tt__tls_task ? atomic_load_explicit(&tt__tls_task->id, RELAXED) : 0;
	for (tt_waiter *w = o->waiters.head; w; w = w->next)
		tt_container_of(w, tt_oneshot_recv, w)->leaf.wait.owner = o->producer;
	pthread_mutex_unlock(&o->lock);
}

static int finish(tt_oneshot *o, int state, intptr_t value)
{
	pthread_mutex_lock(&o->lock);
	if (o->state != EMPTY) {
		pthread_mutex_unlock(&o->lock);
		return -EALREADY;
	}
	o->state = state;
	o->value = value;
	while (tt_waitq_wake_first(&o->waiters))
		;
	pthread_mutex_unlock(&o->lock);
	return 0;
}

int tt_oneshot_send(tt_oneshot *o, intptr_t value) { return finish(o, SENT, value); }
int tt_oneshot_close(tt_oneshot *o) { return finish(o, ABANDONED, 0); }

void tt_oneshot_recv_init(tt_oneshot_recv *r, tt_oneshot *o)
{
	tt_frame_init(&r->leaf.frame, &tt_oneshot_recv_fn);
	tt_wait_clear(&r->leaf.wait);
	tt_waiter_init(&r->w);
	r->o = o;
}

static tt_poll recv_poll(tt_oneshot_recv *r, tt_cx *cx)
{
	tt_oneshot *o = r->o;
	pthread_mutex_lock(&o->lock);
	if (o->state == EMPTY) {
		tt_waitq_push(&o->waiters, &r->w, cx);
		if (!r->leaf.wait.kind) {
			tt_wait_set(&r->leaf.wait, TT_WAIT_ONESHOT, o, o->producer, 0);
			tt_wait_set_name(&r->leaf.wait, o->name);
		}
		pthread_mutex_unlock(&o->lock);
		return TT_PENDING;
	}
	if (o->state == SENT) {
		r->leaf.frame.result = o->value;
		o->state = TAKEN;
	} else {
		r->leaf.frame.result = o->state == ABANDONED ? -EPIPE : -EALREADY;
	}
	tt_waiter_leave(&o->waiters, &r->w);
	pthread_mutex_unlock(&o->lock);
	tt_wait_clear(&r->leaf.wait);
	return TT_READY;
}

static void recv_drop(tt_oneshot_recv *r)
{
	pthread_mutex_lock(&r->o->lock);
	tt_waiter_leave(&r->o->waiters, &r->w);
	pthread_mutex_unlock(&r->o->lock);
	tt_wait_clear(&r->leaf.wait);
}
