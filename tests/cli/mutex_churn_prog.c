/* mutex_churn_prog: 40 tasks taking and releasing one mutex in a loop,
 * and 20 tasks each spawning, over and over, a short task that takes it
 * once.  Nothing here is stuck, so any "never resolved", deadlock or lost
 * waker finding about it is a wrong answer: the owners a waiter names
 * change and finish all the time, which is what tempts a reader that
 * does not stop the process into joining moments that never coexisted. */
#include <stdio.h>
#include <stdlib.h>

#include "tasktrace/tasktrace.h"

#include "../../samples/sample.h"

static tt_mutex shared;

typedef struct take_once {
	tt_frame frame;
	tt_lock lock;
} take_once;
static tt_poll take_once_poll(take_once *self, tt_cx *cx);
TT_ASYNC_FN(take_once, take_once_poll, NULL);

static tt_poll take_once_poll(take_once *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->lock, tt_lock_init(&self->lock, &shared));
	TT_YIELD(self, cx);
	tt_mutex_unlock(&shared);
	TT_RETURN(self, 0);
}

static void take_once_init(take_once *t) { tt_frame_init(&t->frame, &take_once_fn); }

typedef struct locker {
	tt_frame frame;
	tt_lock lock;
} locker;
static tt_poll locker_poll(locker *self, tt_cx *cx);
TT_ASYNC_FN(locker, locker_poll, NULL);

static tt_poll locker_poll(locker *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		TT_AWAIT(self, cx, &self->lock, tt_lock_init(&self->lock, &shared));
		TT_YIELD(self, cx);
		tt_mutex_unlock(&shared);
		TT_YIELD(self, cx);
	}
}

static void locker_init(locker *l) { tt_frame_init(&l->frame, &locker_fn); }

typedef struct respawner {
	tt_frame frame;
	tt_join join;
} respawner;
static tt_poll respawner_poll(respawner *self, tt_cx *cx);
TT_ASYNC_FN(respawner, respawner_poll, NULL);

static tt_poll respawner_poll(respawner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		tt_handle t = TT_SPAWN(NULL, "take-once", take_once, take_once_init);
		if (!t.task) {
			perror("spawn");
			exit(1);
		}
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, t));
	}
}

static void respawner_init(respawner *r) { tt_frame_init(&r->frame, &respawner_fn); }

static void spawn_all(void)
{
	for (int i = 0; i < 40; i++)
		tt_task_detach(TT_SPAWN(NULL, "locker", locker, locker_init));
	for (int i = 0; i < 20; i++)
		tt_task_detach(TT_SPAWN(NULL, "respawner", respawner, respawner_init));
}

int main(void)
{
	tt_mutex_init(&shared);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	if (!rt) {
		perror("tt_runtime_new");
		return 1;
	}
	sample_root root = {.name = "mutex_churn_prog", .spawn = spawn_all};
	tt_frame_init(&root.frame, &sample_root_fn);
	tt_block_on(rt, &root.frame);
	return 0;
}
