/* What every long-running sample does once its tasks are in place. */
#ifndef TT_SAMPLE_H
#define TT_SAMPLE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "tasktrace/tasktrace.h"

/* Let any process of this user read us (gdb, tasktrace) even under Yama's
 * ptrace_scope=1, then print the line tests and demos wait for. */
static inline void sample_ready(const char *name, const char *extra)
{
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	printf("%s: pid %d registry %p ready%s%s\n", name, (int)getpid(), tt_registry_root(),
	       extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}

/* How long an accept loop rests after accept failed with ERR (a negative
 * errno), having rested LAST the time before (0: it had not): 0 to retry
 * at once.  Out of descriptors or memory the pending connection stays
 * queued and the listener readable, so a retry at once fails at once: the
 * loop would spin in one poll, its worker lost and a stop never seen.
 * 5 ms doubling to 1 s, as Go's net/http Server rests. */
static inline uint64_t sample_accept_backoff(intptr_t err, uint64_t last)
{
	if (err != -EMFILE && err != -ENFILE && err != -ENOBUFS && err != -ENOMEM)
		return 0;
	return !last ? TT_MS(5) : last >= TT_SEC(1) / 2 ? TT_SEC(1) : 2 * last;
}

/* The root of a sample that only sets tasks up: SPAWN them, give them
 * their first polls, print the ready line, then wait forever. */
typedef struct sample_root {
	tt_frame frame;
	const char *name;
	void (*spawn)(void);
	tt_sleep nap;
} sample_root;
static tt_poll sample_root_poll(sample_root *self, tt_cx *cx);
TT_ASYNC_FN(sample_root, sample_root_poll, NULL);

static tt_poll sample_root_poll(sample_root *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->spawn();
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(50)));
	sample_ready(self->name, NULL);
	for (;;)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(86400)));
}

/* main() of such a sample: two workers, SPAWN run by the root task. */
static inline int sample_main(const char *name, void (*spawn)(void))
{
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	if (!rt) {
		perror("tt_runtime_new");
		return 1;
	}
	sample_root r;
	tt_frame_init(&r.frame, &sample_root_fn);
	r.name = name;
	r.spawn = spawn;
	tt_block_on(rt, &r.frame);
	return 0;
}

#endif
