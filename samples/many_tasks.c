/* many_tasks N: N tasks, all pending on a notify nobody signals, for scale
 * work.  Prints "many_tasks: pid P registry A ready N" once all N are
 * suspended, then stays alive. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tasktrace/tasktrace.h"

#include "sample.h"

static tt_notify never;
static atomic_long suspended;

typedef struct park_forever {
	tt_frame frame;
	int counted;
	tt_notified wait;
} park_forever;
static tt_poll park_forever_poll(park_forever *self, tt_cx *cx);
TT_ASYNC_FN(park_forever, park_forever_poll, NULL);

static tt_poll park_forever_poll(park_forever *self, tt_cx *cx)
{
	TT_BEGIN(self);
	atomic_fetch_add(&suspended, 1);
	TT_AWAIT(self, cx, &self->wait, tt_notified_init(&self->wait, &never));
	TT_RETURN(self, 0);
}

typedef struct idle_worker {
	tt_frame frame;
	long n;
	park_forever park;
} idle_worker;
static tt_poll idle_worker_poll(idle_worker *self, tt_cx *cx);
TT_ASYNC_FN(idle_worker, idle_worker_poll, NULL);

static void idle_worker_init(idle_worker *w, long n)
{
	tt_frame_init(&w->frame, &idle_worker_fn);
	w->n = n;
}

static tt_poll idle_worker_poll(idle_worker *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->park, tt_frame_init(&self->park.frame, &park_forever_fn));
	TT_RETURN(self, self->n);
}

typedef struct spawner {
	tt_frame frame;
	long n, i;
	tt_sleep nap;
} spawner;
static tt_poll spawner_poll(spawner *self, tt_cx *cx);
TT_ASYNC_FN(spawner, spawner_poll, NULL);

static tt_poll spawner_poll(spawner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < self->n; self->i++) {
		tt_handle t = TT_SPAWN(NULL, "idle-worker", idle_worker, idle_worker_init, self->i);
		if (!t.task) {
			perror("spawn");
			exit(1);
		}
		tt_task_detach(t);
	}
	while (atomic_load(&suspended) < self->n)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(5)));
	char count[32];
	snprintf(count, sizeof count, "%ld", self->n);
	sample_ready("many_tasks", count);
	for (;;)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(86400)));
}

int main(int argc, char **argv)
{
	if (argc != 2 || atol(argv[1]) <= 0) {
		fprintf(stderr, "usage: many_tasks N\n  spawn N tasks that stay pending, print a ready line, stay alive\n");
		return 2;
	}
	tt_notify_init(&never);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	if (!rt) {
		perror("tt_runtime_new");
		return 1;
	}
	spawner s;
	tt_frame_init(&s.frame, &spawner_fn);
	s.n = atol(argv[1]);
	tt_block_on(rt, &s.frame);
	return 0;
}
