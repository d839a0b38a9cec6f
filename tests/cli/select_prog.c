/* select_prog: a task "racer" in a tt_select of a nap (an hour's timer)
 * and a cruncher that blocks its worker in its poll (sleep(3), then a
 * yield, forever), so `bt` finds it running inside the select.  Prints
 * "select_prog: pid P registry A ready" and stays alive. */
#include <unistd.h>

#include "tasktrace/tasktrace.h"

#include "../../samples/sample.h"

typedef struct nap {
	tt_frame frame;
	tt_sleep s;
} nap;
static tt_poll nap_poll(nap *self, tt_cx *cx);
TT_ASYNC_FN(nap, nap_poll, NULL);
static tt_poll nap_poll(nap *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->s, tt_sleep_init(&self->s, TT_SEC(3600))); /* @await:nap */
	TT_RETURN(self, 0);
}

typedef struct cruncher {
	tt_frame frame;
} cruncher;
static tt_poll cruncher_poll(cruncher *self, tt_cx *cx);
TT_ASYNC_FN(cruncher, cruncher_poll, NULL);
static tt_poll cruncher_poll(cruncher *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		sleep(3);
		TT_YIELD(self, cx); /* @await:crunch */
	}
}

typedef struct racer {
	tt_frame frame;
	nap n;
	cruncher c;
	tt_frame *arms[2];
	tt_select sel;
} racer;
static tt_poll racer_poll(racer *self, tt_cx *cx);
TT_ASYNC_FN(racer, racer_poll, NULL);
static void racer_init(racer *r)
{
	tt_frame_init(&r->frame, &racer_fn);
}
static tt_poll racer_poll(racer *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_frame_init(&self->n.frame, &nap_fn);
	tt_frame_init(&self->c.frame, &cruncher_fn);
	self->arms[0] = &self->n.frame;
	self->arms[1] = &self->c.frame;
	TT_AWAIT(self, cx, &self->sel, tt_select_init(&self->sel, self->arms, 2)); /* @await:sel */
	TT_RETURN(self, 0);
}

static void spawn_tasks(void)
{
	tt_task_detach(TT_SPAWN(NULL, "racer", racer, racer_init));
}

int main(void)
{
	return sample_main("select_prog", spawn_tasks);
}
