/* sleep, timeout and interval futures on the driver's timer heap. */
#include "runtime/internal.h"

static tt_poll sleep_poll(tt_sleep *s, tt_cx *cx);
static void sleep_drop(tt_sleep *s);
TT_LEAF_FN(tt_sleep, sleep_poll, sleep_drop);

void tt_sleep_until_init(tt_sleep *s, uint64_t deadline)
{
	tt_frame_init(&s->leaf.frame, &tt_sleep_fn);
	tt_wait_clear(&s->leaf.wait);
	s->node = (tt_timer_node){.deadline = deadline};
}

void tt_sleep_init(tt_sleep *s, uint64_t duration)
{
	tt_sleep_until_init(s, tt_now_ns() + duration);
}

static tt_poll sleep_poll(tt_sleep *s, tt_cx *cx)
{
	tt_driver *d = &cx->task->rt->driver;
	if (tt_now_ns() >= s->node.deadline) {
		/* slot and waker belong to the heap lock (other registrations
		 * move our slot, the driver takes our waker): only the lock can
		 * say whether we are still in the heap.  driver is ours. */
		if (s->node.driver)
			tt_timer_deregister(d, &s->node);
		tt_wait_clear(&s->leaf.wait);
		return TT_READY;
	}
	if (!s->leaf.wait.kind)
		tt_wait_set(&s->leaf.wait, TT_WAIT_TIMER, s, 0, s->node.deadline);
	tt_timer_register(d, &s->node, cx);
	return TT_PENDING;
}

static void sleep_drop(tt_sleep *s)
{
	if (s->node.driver)
		tt_timer_deregister(s->node.driver, &s->node);
	tt_wait_clear(&s->leaf.wait);
}

/* ---- timeout ---- */

static tt_poll timeout_poll(tt_timeout *t, tt_cx *cx);
const tt_func tt_timeout_fn TT_SECTION_("tasktrace_funcs") = {
	"tt_timeout", __FILE__, __LINE__, TT_FUNC_KIND_COMBINATOR, "tt_timeout",
	sizeof(tt_timeout), 0, (tt_poll_fn)timeout_poll, NULL};

void tt_timeout_init(tt_timeout *t, tt_frame *inner, uint64_t duration)
{
	tt_frame_init(&t->frame, &tt_timeout_fn);
	t->inner = inner;
	t->duration = duration;
}

TT_DISPATCH static tt_poll timeout_poll(tt_timeout *t, tt_cx *cx)
{
	if (!t->frame.child) {
		/* First poll: the clock starts now, and both children become
		 * visible to readers (inner first: it is what we await). */
		tt_sleep_init(&t->timer, t->duration);
		t->inner->sibling = &t->timer.leaf.frame;
		t->frame.child = t->inner;
	}
	if (tt_frame_poll(t->inner, cx) == TT_READY) {
		tt_frame_cancel(&t->timer.leaf.frame);
		t->frame.result = t->inner->result;
	} else if (tt_frame_poll(&t->timer.leaf.frame, cx) == TT_READY) {
		tt_frame_cancel(t->inner);
		t->frame.result = TT_ETIMEDOUT;
	} else {
		return TT_PENDING;
	}
	t->inner->sibling = NULL;
	t->frame.child = NULL;
	return TT_READY;
}

/* ---- interval ---- */

void tt_interval_init(tt_interval *iv, uint64_t period)
{
	iv->period = period ? period : 1;
	iv->next = tt_now_ns() + iv->period;
}

void tt_interval_tick(tt_interval *iv, tt_sleep *s)
{
	uint64_t now = tt_now_ns();
	if (iv->next + iv->period <= now) /* skip missed ticks, stay on grid */
		iv->next += (now - iv->next) / iv->period * iv->period;
	tt_sleep_until_init(s, iv->next);
	iv->next += iv->period;
}
