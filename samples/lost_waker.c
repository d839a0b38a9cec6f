/* lost_waker: a hand-written leaf that returns pending without keeping a
 * waker, so nothing can ever wake its task -- the bug the "lost waker"
 * diagnosis finds.  Prints "lost_waker: pid P registry A ready" and stays
 * alive. */
#include <stdio.h>
#include <unistd.h>

#include "tasktrace/tasktrace.h"

#include "sample.h"

/* The buggy leaf: it records what it waits for, but forgets the waker. */
typedef struct forgetful_wait {
	tt_leaf leaf;
	int ready;
} forgetful_wait;
static tt_poll forgetful_wait_poll(forgetful_wait *self, tt_cx *cx);
TT_LEAF_FN(forgetful_wait, forgetful_wait_poll, NULL);

static tt_poll forgetful_wait_poll(forgetful_wait *self, tt_cx *cx)
{
	if (self->ready)
		return TT_READY;
	tt_wait_set(&self->leaf.wait, TT_WAIT_CUSTOM, self, 0, 0);
	return TT_PENDING; /* BUG: no tt_waker_new(cx) kept anywhere */
}

typedef struct poll_device {
	tt_frame frame;
	forgetful_wait w;
} poll_device;
static tt_poll poll_device_poll(poll_device *self, tt_cx *cx);
TT_ASYNC_FN(poll_device, poll_device_poll, NULL);
static void poll_device_init(poll_device *p) { tt_frame_init(&p->frame, &poll_device_fn); }

static tt_poll poll_device_poll(poll_device *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->w, (tt_frame_init(&self->w.leaf.frame, &forgetful_wait_fn),
				      tt_wait_clear(&self->w.leaf.wait), self->w.ready = 0)); /* @await:lost */
	TT_RETURN(self, 0);
}

static void spawn_tasks(void)
{
	tt_task_detach(TT_SPAWN(NULL, "device-poller", poll_device, poll_device_init));
}

int main(void)
{
	return sample_main("lost_waker", spawn_tasks);
}
