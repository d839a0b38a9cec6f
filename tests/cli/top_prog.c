/* top_prog: tasks whose rates are known, for tests/cli/top.py:
 *
 *   ticker   wakes on a 10 ms interval timer: about 100 polls and wakes
 *            a second, each poll short
 *   sleeper  sleeps a day: idle, no polls, no wakes
 *   cruncher polls of 1 s each (it blocks its worker, then yields): busy
 *            all the time, though few of its polls end in an interval
 *
 * Prints "top_prog: pid P registry A ready" once both are in place, then
 * stays alive. */
#include <time.h>

#include "tasktrace/tasktrace.h"

#include "../../samples/sample.h"

typedef struct ticker {
	tt_frame frame;
	tt_interval iv;
	tt_sleep tick;
} ticker;
static tt_poll ticker_poll(ticker *self, tt_cx *cx);
TT_ASYNC_FN(ticker, ticker_poll, NULL);
static void ticker_init(ticker *t)
{
	tt_frame_init(&t->frame, &ticker_fn);
	tt_interval_init(&t->iv, TT_MS(10));
}
static tt_poll ticker_poll(ticker *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;)
		TT_AWAIT(self, cx, &self->tick, tt_interval_tick(&self->iv, &self->tick));
}

typedef struct sleeper {
	tt_frame frame;
	tt_sleep nap;
} sleeper;
static tt_poll sleeper_poll(sleeper *self, tt_cx *cx);
TT_ASYNC_FN(sleeper, sleeper_poll, NULL);
static void sleeper_init(sleeper *s)
{
	tt_frame_init(&s->frame, &sleeper_fn);
}
static tt_poll sleeper_poll(sleeper *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(86400)));
}

typedef struct cruncher {
	tt_frame frame;
} cruncher;
static tt_poll cruncher_poll(cruncher *self, tt_cx *cx);
TT_ASYNC_FN(cruncher, cruncher_poll, NULL);
static void cruncher_init(cruncher *c)
{
	tt_frame_init(&c->frame, &cruncher_fn);
}
static tt_poll cruncher_poll(cruncher *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		struct timespec ts = {1, 0};
		while (nanosleep(&ts, &ts))
			;
		TT_YIELD(self, cx);
	}
}

static void spawn_tasks(void)
{
	tt_task_detach(TT_SPAWN(NULL, "ticker", ticker, ticker_init));
	tt_task_detach(TT_SPAWN(NULL, "sleeper", sleeper, sleeper_init));
	tt_task_detach(TT_SPAWN(NULL, "cruncher", cruncher, cruncher_init));
}

int main(void)
{
	return sample_main("top_prog", spawn_tasks);
}
