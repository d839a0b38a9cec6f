/* deep_prog N|crashN: a task "deep" awaiting a chain of N async frames
 * (level) over a bottom frame, deeper than the reader keeps (256).  With N
 * the bottom waits on a notify that is never notified and the program
 * stays alive ("deep_prog: pid P registry A ready"); with crashN the
 * bottom dereferences NULL in its first poll, the crash handler
 * installed. */
#include <stdlib.h>
#include <string.h>

#include "tasktrace/crash.h"
#include "tasktrace/tasktrace.h"

#include "../../samples/sample.h"

static tt_notify never;
static long depth;
static int crash;

typedef struct bottom {
	tt_frame frame;
	tt_notified w;
	int *volatile null;
} bottom;
static tt_poll bottom_poll(bottom *self, tt_cx *cx);
TT_ASYNC_FN(bottom, bottom_poll, NULL);
static void bottom_init(bottom *b)
{
	tt_frame_init(&b->frame, &bottom_fn);
	b->null = NULL;
}
static tt_poll bottom_poll(bottom *self, tt_cx *cx)
{
	TT_BEGIN(self);
	if (crash)
		return *self->null ? TT_READY : TT_PENDING;		  /* @await:crash */
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &never)); /* @await:bottom */
	TT_RETURN(self, 0);
}

typedef struct level {
	tt_frame frame;
	long n;
	struct level *next;
	bottom *b;
} level;
static tt_poll level_poll(level *self, tt_cx *cx);
TT_ASYNC_FN(level, level_poll, NULL);
static void level_init(level *l, long n)
{
	tt_frame_init(&l->frame, &level_fn);
	l->n = n;
}
static tt_poll level_poll(level *self, tt_cx *cx)
{
	TT_BEGIN(self);
	if (self->n > 1) {
		self->next = malloc(sizeof(*self->next));
		/* @await:link (the next line) */
		TT_AWAIT(self, cx, &self->next->frame, level_init(self->next, self->n - 1));
	} else {
		self->b = malloc(sizeof(*self->b));
		TT_AWAIT(self, cx, &self->b->frame, bottom_init(self->b)); /* @await:last */
	}
	TT_RETURN(self, 0);
}

static void spawn_tasks(void)
{
	tt_task_detach(TT_SPAWN(NULL, "deep", level, level_init, depth));
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	crash = !strncmp(argv[1], "crash", 5);
	depth = atol(argv[1] + (crash ? 5 : 0));
	tt_notify_init(&never);
	if (crash && tt_crash_install(NULL) < 0)
		return 1;
	return sample_main("deep_prog", spawn_tasks);
}
