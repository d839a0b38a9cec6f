/* blocking: a task that blocks its worker thread for seconds at a time
 * (sleep(3) inside its poll function instead of awaiting a timer), next to
 * a ticker that it starves.  Prints "blocking: pid P registry A ready" and
 * stays alive. */
#include <stdio.h>
#include <unistd.h>

#include "tasktrace/tasktrace.h"

#include "sample.h"

static void checksum_disk(void) { sleep(3); } /* the mistake: a blocking call */

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
		checksum_disk();
		TT_YIELD(self, cx);
	}
}

typedef struct ticker {
	tt_frame frame;
	tt_interval iv;
	tt_sleep tick;
	long n;
} ticker;
static tt_poll ticker_poll(ticker *self, tt_cx *cx);
TT_ASYNC_FN(ticker, ticker_poll, NULL);
static void ticker_init(ticker *t)
{
	tt_frame_init(&t->frame, &ticker_fn);
	tt_interval_init(&t->iv, TT_MS(100));
}

static tt_poll ticker_poll(ticker *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		TT_AWAIT(self, cx, &self->tick, tt_interval_tick(&self->iv, &self->tick));
		self->n++;
	}
}

static void spawn_tasks(void)
{
	tt_task_detach(TT_SPAWN(NULL, "ticker", ticker, ticker_init));
	tt_task_detach(TT_SPAWN(NULL, "cruncher", cruncher, cruncher_init));
}

int main(void)
{
	return sample_main("blocking", spawn_tasks);
}
