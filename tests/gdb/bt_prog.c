/* Tasks whose backtraces exercise the whole printer, for the test that
 * gdb's `task bt all` and `tasktrace bt` print the same text: a select
 * whose branches are a timer and a join_all of two more (branches in
 * branches), a chain of three spawns (an ancestry), and a task running on
 * its worker (blocked in sleep(3) inside its poll function).  Prints
 * "bt_prog: pid P registry A ready" and stays alive. */
#include <unistd.h>

#include "tasktrace/tasktrace.h"

#include "../../samples/sample.h"

/* ---- a future that sleeps for an hour ---- */
typedef struct nap {
	tt_frame frame;
	tt_sleep s;
} nap;
static tt_poll nap_poll(nap *self, tt_cx *cx);
TT_ASYNC_FN(nap, nap_poll, NULL);
static void nap_init(nap *n) { tt_frame_init(&n->frame, &nap_fn); }
static tt_poll nap_poll(nap *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->s, tt_sleep_init(&self->s, TT_SEC(3600)));
	TT_RETURN(self, 0);
}

/* ---- both of two naps ---- */
typedef struct pair {
	tt_frame frame;
	nap n[2];
	tt_frame *children[2];
	tt_join_all all;
} pair;
static tt_poll pair_poll(pair *self, tt_cx *cx);
TT_ASYNC_FN(pair, pair_poll, NULL);
static tt_poll pair_poll(pair *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (int k = 0; k < 2; k++) {
		nap_init(&self->n[k]);
		self->children[k] = &self->n[k].frame;
	}
	TT_AWAIT(self, cx, &self->all, tt_join_all_init(&self->all, self->children, 2));
	TT_RETURN(self, 0);
}

/* ---- the first of a nap and a pair ---- */
typedef struct racer {
	tt_frame frame;
	nap n;
	pair p;
	tt_frame *children[2];
	tt_select sel;
} racer;
static tt_poll racer_poll(racer *self, tt_cx *cx);
TT_ASYNC_FN(racer, racer_poll, NULL);
static void racer_init(racer *r) { tt_frame_init(&r->frame, &racer_fn); }
static tt_poll racer_poll(racer *self, tt_cx *cx)
{
	TT_BEGIN(self);
	nap_init(&self->n);
	tt_frame_init(&self->p.frame, &pair_fn);
	self->children[0] = &self->n.frame;
	self->children[1] = &self->p.frame;
	TT_AWAIT(self, cx, &self->sel, tt_select_init(&self->sel, self->children, 2));
	TT_RETURN(self, 0);
}

/* ---- spawns a task like itself, DEPTH times ---- */
typedef struct spawner {
	tt_frame frame;
	int depth;
	nap n;
} spawner;
static tt_poll spawner_poll(spawner *self, tt_cx *cx);
TT_ASYNC_FN(spawner, spawner_poll, NULL);
static void spawner_init(spawner *s, int depth)
{
	tt_frame_init(&s->frame, &spawner_fn);
	s->depth = depth;
}
static tt_poll spawner_poll(spawner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	if (self->depth > 0)
		tt_task_detach(TT_SPAWN(NULL, "spawned", spawner, spawner_init, self->depth - 1));
	TT_AWAIT(self, cx, &self->n.frame, nap_init(&self->n));
	TT_RETURN(self, 0);
}

/* ---- blocks its worker ---- */
typedef struct cruncher {
	tt_frame frame;
} cruncher;
static tt_poll cruncher_poll(cruncher *self, tt_cx *cx);
TT_ASYNC_FN(cruncher, cruncher_poll, NULL);
static void cruncher_init(cruncher *c) { tt_frame_init(&c->frame, &cruncher_fn); }
static tt_poll cruncher_poll(cruncher *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		sleep(3);
		TT_YIELD(self, cx);
	}
}

static void spawn_tasks(void)
{
	tt_task_detach(TT_SPAWN(NULL, "racer", racer, racer_init));
	tt_task_detach(TT_SPAWN(NULL, "spawner", spawner, spawner_init, 2));
	tt_task_detach(TT_SPAWN(NULL, "cruncher", cruncher, cruncher_init));
}

int main(void)
{
	return sample_main("bt_prog", spawn_tasks);
}
