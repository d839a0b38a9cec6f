/* hist_prog: tasks whose polls and waits for a worker have known lengths,
 * for the histogram tests (docs/registry-abi.md §5.13).  One thread (the
 * current-thread runtime), so a task that holds it holds every task up:
 *
 *   poller   5 polls that each block the thread 20 ms, each followed by 3
 *            polls that yield at once; then waits forever
 *   sleeper  3 times: waits on a notify, woken by hog, which then holds
 *            the thread 150 ms: 3 waits for a worker of 128-256 ms
 *   hog      3 times: wakes sleeper, blocks 150 ms, yields; then waits
 *
 * Prints "hist_prog: pid P registry A ready" once all three wait for
 * good, then stays alive.  `hist_prog stuck`: then hog wakes sleeper once
 * more and holds the thread for good (a long poll, a starved task). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tasktrace/tasktrace.h"

#include "../../samples/sample.h"

static tt_notify never, go, go_again;
static int stuck;
static atomic_int finished;

static void block_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts))
		;
}

typedef struct poller {
	tt_frame frame;
	int i, j;
	tt_notified wait;
} poller;
static tt_poll poller_poll(poller *self, tt_cx *cx);
TT_ASYNC_FN(poller, poller_poll, NULL);
static void poller_init(poller *p)
{
	tt_frame_init(&p->frame, &poller_fn);
}
static tt_poll poller_poll(poller *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < 5; self->i++) {
		block_ms(20);
		for (self->j = 0; self->j < 3; self->j++)
			TT_YIELD(self, cx);
	}
	atomic_fetch_add(&finished, 1);
	TT_AWAIT(self, cx, &self->wait, tt_notified_init(&self->wait, &never));
	TT_RETURN(self, 0);
}

typedef struct sleeper {
	tt_frame frame;
	int i;
	tt_notified wait;
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
	for (self->i = 0; self->i < 3; self->i++)
		TT_AWAIT(self, cx, &self->wait, tt_notified_init(&self->wait, &go));
	atomic_fetch_add(&finished, 1);
	TT_AWAIT(self, cx, &self->wait, tt_notified_init(&self->wait, &go_again));
	TT_AWAIT(self, cx, &self->wait, tt_notified_init(&self->wait, &never));
	TT_RETURN(self, 0);
}

typedef struct hog {
	tt_frame frame;
	int i;
	tt_notified wait;
} hog;
static tt_poll hog_poll(hog *self, tt_cx *cx);
TT_ASYNC_FN(hog, hog_poll, NULL);
static void hog_init(hog *h)
{
	tt_frame_init(&h->frame, &hog_fn);
}
static tt_poll hog_poll(hog *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < 3; self->i++) {
		tt_notify_one(&go);
		block_ms(150);
		TT_YIELD(self, cx);
	}
	if (stuck) {
		while (atomic_load(&finished) < 2)
			TT_YIELD(self, cx);
		sample_ready("hist_prog", "stuck");
		tt_notify_one(&go_again);
		for (;;)
			block_ms(1000);
	}
	atomic_fetch_add(&finished, 1);
	TT_AWAIT(self, cx, &self->wait, tt_notified_init(&self->wait, &never));
	TT_RETURN(self, 0);
}

typedef struct root {
	tt_frame frame;
	tt_sleep nap;
} root;
static tt_poll root_poll(root *self, tt_cx *cx);
TT_ASYNC_FN(root, root_poll, NULL);
static tt_poll root_poll(root *self, tt_cx *cx)
{
	TT_BEGIN(self);
	/* In this order on the one queue: sleeper waits before hog wakes it. */
	tt_task_detach(TT_SPAWN(NULL, "sleeper", sleeper, sleeper_init));
	tt_task_detach(TT_SPAWN(NULL, "hog", hog, hog_init));
	tt_task_detach(TT_SPAWN(NULL, "poller", poller, poller_init));
	while (atomic_load(&finished) < 3)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(5)));
	sample_ready("hist_prog", NULL);
	for (;;)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(86400)));
}

int main(int argc, char **argv)
{
	stuck = argc > 1;
	tt_notify_init(&never);
	tt_notify_init(&go);
	tt_notify_init(&go_again);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 0});
	if (!rt)
		return 1;
	root r;
	tt_frame_init(&r.frame, &root_fn);
	tt_block_on(rt, &r.frame);
	return 0;
}
