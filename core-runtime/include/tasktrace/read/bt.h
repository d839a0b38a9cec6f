/* The task backtrace: the one printer behind `tasktrace bt`, the crash
 * log and the dump on signal, and gdb's `task bt`.
 *
 * tt_bt_print is allocation-free and async-signal-safe (no malloc, no
 * stdio, no locks): it works over the reader's core-layer frames and asks
 * its caller, through callbacks, for the strings it has resolved, the
 * names of other tasks, the ancestry, and the real frames only the caller
 * can have (a running task's machine stack, the callers a poll function
 * was inlined into).  Lines go out through a callback, without '\n'.
 *
 * tt_bt_snapshot and tt_bt_text are the same printer over a snapshot
 * (the CLI and gdb), with the native frames still the caller's. */
#ifndef TASKTRACE_BT_H
#define TASKTRACE_BT_H

#include "tasktrace/api.h"

#include <stddef.h>
#include <stdint.h>

#include "tasktrace/read/format.h"
#include "tasktrace/read/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A frame of a real stack (see tt_fmt_bt_native); strings may be NULL. */
typedef struct tt_bt_native {
	uint64_t pc;
	int inlined;
	const char *function, *file;
	uint32_t line;
	const char *module;
} tt_bt_native;

/* Frame I of the task: its async function's name and the site it is
 * suspended at (file NULL when it has none). */
typedef struct tt_bt_names {
	const char *func, *file;
	uint32_t line;
	int returned; /* suspended at a DONE site: the future has returned */
} tt_bt_names;

/* A task of the ancestry: its name, and how it came to be (its parent and
 * the site that spawned it, file NULL when unknown). */
typedef struct tt_bt_link {
	const char *name;
	uint64_t parent_id;
	const char *file, *function;
	uint32_t line;
} tt_bt_link;

typedef struct tt_bt_src {
	void *ctx;
	/* Required. */
	void (*names)(void *ctx, size_t i, tt_bt_names *out);
	/* The name of task ID (a join's or lock's owner), NULL if unknown. */
	const char *(*task_name)(void *ctx, uint64_t id);
	/* Task ID, for the ancestry: 1 with *OUT filled, 0 when it is gone. */
	int (*task)(void *ctx, uint64_t id, tt_bt_link *out);
	/* Each line; 0 when it was not taken (tt_bt_print then returns 0). */
	int (*line)(void *ctx, const char *s, size_t n);
	/* Optional.  A running task's machine stack, already pruned: the
	 * number of frames at *OUT (the caller's storage), 0 when every
	 * frame was pruned, -1 with ERR when it cannot be had.  NULL: the
	 * task's chain follows a `<running on ...>` line. */
	int (*native)(void *ctx, const tt_bt_native **out, char *err, size_t errlen);
	/* The callers async frame I's poll function was inlined into,
	 * innermost first, at *OUT; NULL or 0: none. */
	int (*inline_callers)(void *ctx, size_t i, const tt_bt_native **out);
	/* After the line of async frame I (numbered NUM, -1 in a branch, after
	 * INDENT spaces): a front end's own lines about it go here (gdb's
	 * `task bt -full`, `task frame N`).  NULL: nothing. */
	void (*frame)(void *ctx, size_t i, int num, int indent);
	/* Scratch: one line of text, and one index per frame. */
	char *buf;
	size_t bufcap;
	size_t *path;
	size_t pathcap;
} tt_bt_src;

/* What is printed of one task. */
typedef struct tt_bt_task {
	const tt_fmt_task *view; /* the task and its leaf (tt_snapshot_view) */
	const void *frames;	 /* NFRAMES records, each starting with a tt_rframe */
	size_t stride, nframes;	 /* bytes from one record to the next */
	const char *error;	 /* why the chain is incomplete; NULL */
	const char *spawn_file;	 /* the site that spawned the task */
	const char *spawn_function;
	uint32_t spawn_line;
	uint64_t now;
} tt_bt_task;

/* Header, frames (a running task's machine stack, else the awaited path
 * innermost first with the inline callers and the other branches of
 * combinators), the error line, the ancestry.  1, or 0 when a line was
 * not taken. */
TT_API int tt_bt_print(const tt_bt_src *s, const tt_bt_task *t);

/* The real frames only a front end has, for tt_bt_snapshot.  CTX is the
 * caller's; either may be NULL. */
typedef struct tt_bt_hooks {
	void *ctx;
	int (*native)(void *ctx, const tt_stask *t, const tt_bt_native **out, char *err,
		      size_t errlen);
	int (*inline_callers)(void *ctx, const tt_stask *t, const tt_ssite *site,
			      const tt_bt_native **out);
	/* As tt_bt_src's frame, for frame I of T. */
	void (*frame)(void *ctx, const tt_stask *t, size_t i, int num, int indent);
} tt_bt_hooks;

/* Task T of S through tt_bt_print, each line (with its '\n') to OUT.
 * Returns 1, 0 when OUT refused a line, -1 out of memory. */
TT_API int tt_bt_snapshot(const tt_snapshot *s, const tt_stask *t, uint64_t now,
			  const tt_bt_hooks *h, int (*out)(void *ctx, const char *s, size_t n),
			  void *out_ctx);

/* The backtraces of tasks IDS[0..NIDS) (those there, in that order), or
 * with IDS NULL of the tasks `tasktrace bt` shows by default, as one text
 * with a blank line between two tasks.  NULL when out of memory.  Free
 * with tt_text_free. */
TT_API char *tt_bt_text(const tt_snapshot *s, uint64_t now, const uint64_t *ids, size_t nids,
			const tt_bt_hooks *h);

/* What `tasktrace hung` and gdb's `task diagnose` print after a long
 * poll's finding about its worker thread TID: the system call SC (NULL:
 * not known there, no line) with WCHAN (may be NULL), then the native
 * stack NF[0..N) (pruned by the caller), or with N < 0 one line saying
 * ERR.  Each line without '\n' to OUT.  Returns 1, 0 when OUT refused a
 * line. */
TT_API int tt_bt_stalled_thread(int64_t tid, const tt_syscall *sc, const char *wchan,
				const tt_bt_native *nf, int n, const char *err,
				int (*out)(void *ctx, const char *s, size_t n), void *ctx);

/* gdb's `task` line: `[Current task is 7 "fetch-user" (WHERE)]`, WHERE as
 * in the ps row, else the state; into BUF (always NUL-terminated). */
TT_API void tt_bt_describe(const tt_snapshot *s, const tt_stask *t, char *buf, size_t cap);

/* The machine frames a backtrace hides by default: the runtime's run
 * loop, poll trampolines, waker plumbing and thread start (a POSIX
 * extended regex on function names). */
TT_API const char *tt_bt_default_prune(void);

#ifdef __cplusplus
}
#endif

#endif
