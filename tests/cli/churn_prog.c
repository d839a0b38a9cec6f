/* churn_prog: tasks spawned and finished as fast as two workers can, so
 * that slots are freed and taken again while a reader looks.  Each task's
 * chain follows from its name by construction, which is what lets the
 * churn test tell a consistent read from a torn one:
 *
 *   "d2"  churn_d2 -> churn_leaf
 *   "d3"  churn_d3 -> churn_mid -> churn_leaf
 *   "d4"  churn_d4 -> churn_mid2 -> churn_mid -> churn_leaf
 *
 * churn_leaf yields twice, so a task is seen scheduled at its leaf too.
 * Two "spawner" tasks spawn batches of 32 and join each task of a batch. */
#include <stdio.h>
#include <stdlib.h>

#include "tasktrace/tasktrace.h"

#include "../../samples/sample.h"

typedef struct churn_leaf {
	tt_frame frame;
} churn_leaf;
static tt_poll churn_leaf_poll(churn_leaf *self, tt_cx *cx);
TT_ASYNC_FN(churn_leaf, churn_leaf_poll, NULL);

static tt_poll churn_leaf_poll(churn_leaf *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_YIELD(self, cx);
	TT_YIELD(self, cx);
	TT_RETURN(self, 1);
}

/* One async function of NAME awaiting a child of type CHILD. */
#define CHURN_LEVEL(NAME, CHILD)                                                             \
	typedef struct NAME {                                                                \
		tt_frame frame;                                                              \
		CHILD child;                                                                 \
	} NAME;                                                                              \
	static tt_poll NAME##_poll(NAME *self, tt_cx *cx);                                   \
	TT_ASYNC_FN(NAME, NAME##_poll, NULL);                                                \
	static tt_poll NAME##_poll(NAME *self, tt_cx *cx)                                    \
	{                                                                                    \
		TT_BEGIN(self);                                                              \
		TT_AWAIT(self, cx, &self->child,                                             \
			 tt_frame_init(&self->child.frame, &CHILD##_fn));                    \
		TT_RETURN(self, TT_RESULT(&self->child) + 1);                                \
	}                                                                                    \
	static inline void NAME##_init(NAME *f) { tt_frame_init(&f->frame, &NAME##_fn); }

CHURN_LEVEL(churn_mid, churn_leaf)
CHURN_LEVEL(churn_mid2, churn_mid)
CHURN_LEVEL(churn_d2, churn_leaf)
CHURN_LEVEL(churn_d3, churn_mid)
CHURN_LEVEL(churn_d4, churn_mid2)

#define BATCH 32

typedef struct spawner {
	tt_frame frame;
	int i;
	tt_handle batch[BATCH];
	tt_join join;
} spawner;
static tt_poll spawner_poll(spawner *self, tt_cx *cx);
TT_ASYNC_FN(spawner, spawner_poll, NULL);

static tt_handle spawn_one(int i)
{
	switch (i % 3) {
	case 0:
		return TT_SPAWN(NULL, "d2", churn_d2, churn_d2_init);
	case 1:
		return TT_SPAWN(NULL, "d3", churn_d3, churn_d3_init);
	default:
		return TT_SPAWN(NULL, "d4", churn_d4, churn_d4_init);
	}
}

static tt_poll spawner_poll(spawner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		for (self->i = 0; self->i < BATCH; self->i++)
			if (!(self->batch[self->i] = spawn_one(self->i)).task) {
				perror("spawn");
				exit(1);
			}
		for (self->i = 0; self->i < BATCH; self->i++)
			TT_AWAIT(self, cx, &self->join,
				 tt_join_init(&self->join, self->batch[self->i]));
	}
}

static void spawner_init(spawner *s) { tt_frame_init(&s->frame, &spawner_fn); }

static void spawn_all(void)
{
	for (int i = 0; i < 2; i++)
		tt_task_detach(TT_SPAWN(NULL, "spawner", spawner, spawner_init));
}

int main(void)
{
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	if (!rt) {
		perror("tt_runtime_new");
		return 1;
	}
	sample_root root = {.name = "churn_prog", .spawn = spawn_all};
	tt_frame_init(&root.frame, &sample_root_fn);
	tt_block_on(rt, &root.frame);
	return 0;
}
