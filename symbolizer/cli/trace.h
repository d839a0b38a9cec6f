/* tasktrace trace: the events as the command keeps them (trace.c) and the
 * track per task of their states (trace_tasks.c). */
#ifndef TASKTRACE_CLI_TRACE_H
#define TASKTRACE_CLI_TRACE_H

#include <stdint.h>
#include <stdio.h>

#include "cli.h"

/* An event as this command keeps it: 40 bytes instead of tt_revent's 64,
 * for a million of them must stay under twice the rings' own bytes
 * (bench/trace_core.sh).  What the trace does not print is dropped (the
 * position: a ring's events arrive in order and stay so). */
typedef struct cev {
	uint64_t stamp_ns, task, arg1;
	uint64_t arg2; /* a suspension's object (a task's waiting state names it) */
	uint32_t dur;  /* a poll's length: ns below 2^31, else 64 us units (DUR_LONG) */
	uint16_t ring; /* the worker's index + 1, 0: the foreign ring */
	uint8_t kind;
	uint8_t wait; /* arg3 (a wait kind, a wake's during flag); 255: past any known */
} cev;

#define CEV_NO_POLL UINT32_MAX /* dur of an event that is no poll */

typedef struct seg {
	size_t from, n; /* one ring's events, oldest first */
} seg;

/* Events in blocks of BLOCK, never moved: a growing array's reallocs
 * left 25 MB of freed heap touched (glibc's moving mmap threshold). */
#define BLOCK_SHIFT 15
#define BLOCK (1u << BLOCK_SHIFT)

typedef struct evs {
	cev **blk;
	size_t n, nblk, capblk;
	seg *segs;
	size_t nsegs, capsegs;
	int oom;
} evs;

static inline cev *ev_at(const evs *e, size_t i)
{
	return &e->blk[i >> BLOCK_SHIFT][i & (BLOCK - 1)];
}

/* Where and how the trace is written: stamps print as microseconds
 * since BASE; the events written are those stamped from FROM on (--last);
 * START and END are the first and the last moment the trace shows (the
 * earliest start of those events, the newest stamp). */
typedef struct tout {
	FILE *f;
	const tt_snapshot *s;
	uint64_t base, from, start, end;
} tout;

uint64_t cev_start(const cev *v);
int cev_is_poll(const cev *v); /* a poll's event (it has a start) */
void trace_jstr(FILE *f, const char *s);
void trace_us(FILE *f, const char *key, uint64_t ns, uint64_t base);
/* "task 7 fetch-user" and SUFFIX, as a JSON string. */
void trace_task_name(FILE *f, const tt_snapshot *s, uint64_t id, const char *suffix);

/* The track per task (trace_tasks.c), for the tasks with the most events
 * since O->from (ties: the lower id), at most MAX of them. */
typedef struct ttracks ttracks;
/* NULL on failure of memory; *TOTAL: the tasks that had events. */
ttracks *ttracks_new(const evs *e, const tout *o, size_t max, size_t *total);
/* The "tasks" process and its threads' names. */
void ttracks_meta(ttracks *t, const tout *o);
/* Event V, in time order over all rings, from the oldest held. */
void ttracks_event(ttracks *t, const tout *o, const cev *v);
/* The states still open when the recording ends; frees T. */
void ttracks_end(ttracks *t, const tout *o);

#endif
