/* phase_prog: a task "phases" that waits 600 ms in phase_a, then 400 ms in
 * phase_b, over and over: two chains whose weights a wait profile must
 * keep apart, 3 to 2, when the registry is read at least once a wait.  Prints
 * "phase_prog: pid P registry A ready" and stays alive. */
#include "tasktrace/tasktrace.h"

#include "../../samples/sample.h"

typedef struct phase_a {
	tt_frame frame;
	tt_sleep s;
} phase_a;
static tt_poll phase_a_poll(phase_a *self, tt_cx *cx);
TT_ASYNC_FN(phase_a, phase_a_poll, NULL);
static tt_poll phase_a_poll(phase_a *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->s, tt_sleep_init(&self->s, TT_MS(600))); /* @await:a */
	TT_RETURN(self, 0);
}

typedef struct phase_b {
	tt_frame frame;
	tt_sleep s;
} phase_b;
static tt_poll phase_b_poll(phase_b *self, tt_cx *cx);
TT_ASYNC_FN(phase_b, phase_b_poll, NULL);
static tt_poll phase_b_poll(phase_b *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->s, tt_sleep_init(&self->s, TT_MS(400))); /* @await:b */
	TT_RETURN(self, 0);
}

typedef struct phases {
	tt_frame frame;
	phase_a a;
	phase_b b;
} phases;
static tt_poll phases_poll(phases *self, tt_cx *cx);
TT_ASYNC_FN(phases, phases_poll, NULL);
static void phases_init(phases *p)
{
	tt_frame_init(&p->frame, &phases_fn);
}
static tt_poll phases_poll(phases *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		TT_AWAIT(self, cx, &self->a, self->a = TT_NEW(phase_a)); /* @await:phase_a */
		TT_AWAIT(self, cx, &self->b, self->b = TT_NEW(phase_b)); /* @await:phase_b */
	}
}

static void spawn_tasks(void)
{
	tt_task_detach(TT_SPAWN(NULL, "phases", phases, phases_init));
}

int main(void)
{
	return sample_main("phase_prog", spawn_tasks);
}
