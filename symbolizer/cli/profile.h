/* tasktrace profile: the wait profile of a target, aggregated by await
 * chain (profile.c), and its three file formats (profile_out.c). */
#ifndef TASKTRACE_CLI_PROFILE_H
#define TASKTRACE_CLI_PROFILE_H

#include <stdint.h>
#include <stdio.h>

#include "cli.h"

/* A frame of the profile: an async function at one await site (or the
 * function itself where it is at none), or the pseudo-frame that ends
 * every stack with the task's state or wait kind ("[notify]",
 * "[running]").  Strings are copies, sanitised, owned by the profile. */
typedef struct prof_frame {
	uint64_t hash;	     /* first, as in prof_stack: the tables rehash by it */
	uint64_t func, site; /* the key; func 0: a pseudo-frame, site its code */
	char *name;
	char *file; /* NULL when unknown */
	uint32_t line;
} prof_frame;

typedef struct prof_label {
	char *key, *value;
} prof_label;

/* One distinct stack (frames root first, then the labels): how many
 * task-samples fell on it and the task time they stand for. */
typedef struct prof_stack {
	uint64_t hash;
	uint32_t *frames; /* indices into prof.frames, root first */
	uint32_t nframes;
	prof_label *labels;
	uint32_t nlabels;
	uint64_t samples;
	uint64_t weight_ns;
} prof_stack;

/* A task as the last live read counted it: where it was, and whether it
 * waited (its stamps bound the wait) or was sampled (running, runnable). */
typedef struct prof_seen {
	uint64_t slot_index, id;
	uint32_t stack, wait;
} prof_seen;

typedef struct prof {
	prof_frame *frames;
	size_t nframes, frames_cap;
	uint32_t *frame_slots; /* open addressing: index + 1, 0 empty */
	size_t frame_slots_cap;
	prof_stack *stacks;
	size_t nstacks, stacks_cap;
	uint32_t *stack_slots;
	size_t stack_slots_cap;
	/* the last live read's tasks, in slot order, and this one's */
	prof_seen *seen, *next;
	size_t nseen, seen_cap, nnext, next_cap, seen_at;
	/* what was read */
	uint64_t nsamples;	/* snapshots taken (reads of the registry) */
	uint64_t task_samples;	/* tasks counted, over all snapshots */
	uint64_t bad_records;	/* torn or inconsistent: no moment's chain, left out */
	uint64_t broken_chains; /* a chain the reader could not follow, left out */
	uint64_t no_age;	/* a core's tasks whose wait age is unknown: weight 0 */
	uint64_t start_real_ns, duration_ns;
	uint64_t period_ns;  /* the interval asked for; 0 for a core */
	double rate_hz;	     /* the rate asked for */
	double rate_used_hz; /* lower when a sample cost too much */
	char note[256];	     /* the one line said about a lowered rate, or "" */
	const char *target;  /* "pid 42", "core FILE" */
} prof;

/* Add every task of S, a core's snapshot, to P, each weighted by its own
 * wait age at NOW.  Returns 0 or -1 (out of memory). */
int prof_add_snapshot(prof *p, tt_snapshot *s, const cli_opts *o, uint64_t now);
/* Add every task of S, a live read at T_NOW (CLOCK_MONOTONIC, the clock of
 * the registry's stamps), the last at T_PREV: a task whose slot held
 * still counts under its last stack for the whole interval, a wait is
 * weighted by its stamps, a running or runnable task sampled.  0 or -1. */
int prof_add_read(prof *p, tt_snapshot *s, const cli_opts *o, uint64_t t_prev, uint64_t t_now);
void prof_free(prof *p);

enum { PROF_FOLDED, PROF_SPEEDSCOPE, PROF_PPROF };

/* Write P to F in FORMAT; 0, or -1 with errno set (a write failed). */
int prof_write_folded(const prof *p, FILE *f);
int prof_write_speedscope(const prof *p, FILE *f);
int prof_write_pprof(const prof *p, FILE *f);

#endif
