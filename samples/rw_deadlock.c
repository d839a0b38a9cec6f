/* rw_deadlock: a wait-for cycle through a join and a reader-writer lock.
 *
 *   index     read-locks `table`, spawns compact and joins it
 *   compact   waits to write-lock `table`, read-held by index
 *
 * index waits for compact (join), compact waits for index (rwlock).
 * Prints "rw_deadlock: pid P registry A ready" and stays alive. */
#include <stdio.h>
#include <unistd.h>

#include "tasktrace/tasktrace.h"

#include "sample.h"

static tt_rwlock table;

typedef struct compact {
	tt_frame frame;
	tt_write_lock wl;
} compact;
static tt_poll compact_poll(compact *self, tt_cx *cx);
TT_ASYNC_FN(compact, compact_poll, NULL);
static void compact_init(compact *c)
{
	tt_frame_init(&c->frame, &compact_fn);
}

static tt_poll compact_poll(compact *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->wl, tt_write_lock_init(&self->wl, &table)); /* @await:compact-lock */
	tt_rwlock_write_unlock(&table);
	TT_RETURN(self, 0);
}

typedef struct index_task {
	tt_frame frame;
	tt_read_lock rl;
	tt_handle c;
	tt_join join;
} index_task;
static tt_poll index_poll(index_task *self, tt_cx *cx);
TT_ASYNC_FN(index_task, index_poll, NULL);
static void index_init(index_task *t)
{
	tt_frame_init(&t->frame, &index_task_fn);
}

static tt_poll index_poll(index_task *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->rl, tt_read_lock_init(&self->rl, &table));
	self->c = TT_SPAWN(NULL, "compact", compact, compact_init);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->c)); /* @await:index-join */
	tt_rwlock_read_unlock(&table);
	TT_RETURN(self, 0);
}

static void spawn_tasks(void)
{
	tt_task_detach(TT_SPAWN(NULL, "index", index_task, index_init));
}

int main(void)
{
	tt_rwlock_init(&table);
	return sample_main("rw_deadlock", spawn_tasks);
}
