/* The executor: tasks, join handles, cancellation, block_on. */
#ifndef TASKTRACE_RUNTIME_H
#define TASKTRACE_RUNTIME_H

#include "tasktrace/api.h"

#include <errno.h>
#include <stdint.h>

#include "tasktrace/future.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_ECANCELED (-ECANCELED)
#define TT_ETIMEDOUT (-ETIMEDOUT)
/* A handle (task or runtime) used after its release: see tt_handle. */
#define TT_ESTALE (-ESTALE)

typedef struct tt_runtime tt_runtime;

typedef struct tt_runtime_opts {
	/* Worker threads: > 0 that many; 0 the current-thread runtime (tasks
	 * run only inside tt_block_on on the calling thread); < 0 one per CPU. */
	int workers;
	const char *name; /* prefix of worker thread names, default "tt-worker" */
	/* Signals for tt_signal, 0-terminated (io.h): blocked in the calling
	 * thread before the workers start, so every runtime thread inherits
	 * the mask.  NULL: the mask is left alone. */
	const int *signals;
	/* The flight recorder (docs/registry-abi.md §5.12): bytes of each
	 * worker's ring of recent events.  0: TASKTRACE_RECORDER (a size such
	 * as 4M, or off), else 8 MiB; < 0: no rings. */
	long recorder_bytes;
} tt_runtime_opts;

/* NULL opts means one worker per CPU.  Returns NULL with errno set
 * (EMFILE: more than 1024 runtimes alive at once; EINVAL: more than 128
 * workers, or a signal in opts->signals that cannot be blocked).
 *
 * The pointer is an opaque handle, not an address: it names an entry of
 * the table of live runtimes and its generation, so that a call with a
 * runtime already freed is refused instead of reading freed memory -- or
 * reaching a newer runtime that took the same entry.  Every function
 * taking a runtime refuses a freed one: tt_spawn_at returns a null handle
 * with errno ESTALE, tt_block_on and tt_runtime_workers TT_ESTALE, a
 * second tt_runtime_free does nothing; a debug build aborts first, with
 * a message naming the call (docs/guide.md, "Stale handles"). */
TT_API tt_runtime *tt_runtime_new(const tt_runtime_opts *opts);
/* Switch the flight recorder on (ON != 0) or off in the whole process, at
 * any time; rings keep what they hold.  Returns the previous setting. */
TT_API int tt_recorder_enable(int on);
/* Cancel every task still alive (their cleanups run), stop the workers and
 * free the runtime.  Join handles stay valid until released.  Spawning
 * concurrently with the free is a race the caller must avoid; once it has
 * returned, RT is refused everywhere (above). */
TT_API void tt_runtime_free(tt_runtime *rt);
TT_API int tt_runtime_workers(const tt_runtime *rt);

/* Run ROOT to completion and return its result.  ROOT is borrowed (it may
 * live on the caller's stack).  On a multi-thread runtime it runs as a task
 * on the workers while the caller waits; on a current-thread runtime the
 * caller's thread drives every task until ROOT finishes.  From inside a
 * task it returns -EDEADLK: await the future instead. */
TT_API intptr_t tt_block_on(tt_runtime *rt, tt_frame *root);
/* The same, with the root task named NAME (copied as a spawn's name;
 * NULL or "" is "block_on") instead of "block_on": readers show
 * `task 1 "main"`.  Readers still tell the root by its block_on flag. */
TT_API intptr_t tt_block_on_named(tt_runtime *rt, tt_frame *root, const char *name);

/* A task label: KEY=VALUE, shown by every reader and matched by their
 * --label filters (docs/guide.md, "Labels").  A key is 1 to
 * TT_LABEL_KEY_MAX-1 (15) bytes, none of them '=', a space or a control
 * character; a value at most TT_LABEL_VALUE_MAX-1 (31) bytes; a task holds
 * at most TT_TASK_LABELS_MAX (4). */
typedef struct tt_label {
	const char *key;
	const char *value;
} tt_label;

typedef struct tt_spawn_opts {
	const char *name;         /* copied, cut to TT_TASK_NAME_MAX-1 bytes between UTF-8 characters */
	void (*free_root)(void *); /* called on the root frame when the task ends */
	uint32_t flags;           /* TT_TASKF_SYSTEM, TT_TASKF_DETACHED */
} tt_spawn_opts;

/* Spawn ROOT as a task; returns its join handle (one reference).  From
 * inside a task the runtime may be NULL: the current task's runtime is used,
 * and the current task becomes the parent (and passes its labels on).
 * Returns the null handle (.task NULL) with errno set: EINVAL no runtime or
 * a bad label, ECANCELED the runtime is shutting down, ESTALE it was freed,
 * ENOMEM no slot (or no label block for its labels), ENAMETOOLONG/ENOSPC a
 * label too long/too many. */
TT_API tt_handle tt_spawn_at(tt_runtime *rt, const tt_spawn_opts *opts, tt_frame *root,
			     const tt_site *spawn_site);
/* The same with NLABELS labels on the new task, copied.  It inherits its
 * parent's labels first; these add to them or replace the value of a key
 * it inherited.  A bad one fails the spawn with errno EINVAL, ENAMETOOLONG
 * or ENOSPC, as tt_task_set_label says. */
TT_API tt_handle tt_spawn_labeled_at(tt_runtime *rt, const tt_spawn_opts *opts,
				     const tt_label *labels, size_t nlabels, tt_frame *root,
				     const tt_site *spawn_site);

#define TT_SPAWN_SITE_()                                                    \
	({                                                                        \
		static const tt_site tt_spawn_site_ TT_SECTION_("tasktrace_sites") = \
		    {__func__, __FILE__, __LINE__, TT_SITEF_SPAWN, 0};                \
		&tt_spawn_site_;                                                        \
	})

/* Allocate a future of type T with malloc, initialise it with
 * INIT(ptr, args...), and spawn it named NAME; the runtime frees it.  If
 * the spawn fails the frame is discarded (tt_frame_discard, errno kept): a
 * cleanup defined with TT_ASYNC_FN_CLEANUP releases what INIT gave it. */
#define TT_SPAWN(rt, name, T, init, ...) TT_SPAWN_LABELED(rt, name, NULL, 0, T, init, ##__VA_ARGS__)
/* The same with NLABELS labels (an array of tt_label) on the new task. */
#define TT_SPAWN_LABELED(rt, name, labels, nlabels, T, init, ...)           \
	({                                                                        \
		T *tt_f_ = (T *)tt_frame_alloc(sizeof(T));                              \
		tt_handle tt_t_ = {NULL, 0};                                            \
		if (tt_f_) {                                                            \
			init(tt_f_, ##__VA_ARGS__);                                           \
			tt_spawn_opts tt_o_ = {(name), tt_frame_free, 0};                     \
			tt_t_ = tt_spawn_labeled_at((rt), &tt_o_, (labels), (nlabels),        \
						    (tt_frame *)tt_f_, TT_SPAWN_SITE_());     \
			if (!tt_t_.task)                                                      \
				tt_frame_discard((tt_frame *)tt_f_);                                \
		}                                                                       \
		tt_t_;                                                                  \
	})

/* The same for an async function of the short form (TT_ASYNC): the new
 * frame is TT_NEW(T, FIELDS...), e.g.
 * TT_SPAWN_NEW(NULL, "conn", conn, .fd = fd). */
#define TT_SPAWN_NEW(rt, name, T, ...) TT_SPAWN(rt, name, T, TT_SET_, TT_NEW(T, __VA_ARGS__))
#define TT_SET_(P, V) (*(P) = (V))

TT_API void *tt_frame_alloc(size_t size);
TT_API void tt_frame_free(void *frame);
/* Give up a frame from tt_frame_alloc that will never be polled: its
 * cleanup runs as for a cancelled task (tt_frame_cancel), then it is
 * freed.  errno is kept.  NULL is ignored. */
TT_API void tt_frame_discard(tt_frame *f);

/* Join handles.  A handle is owned (from a spawn or tt_task_ref: it holds
 * a reference, given up by exactly one of tt_task_release, tt_task_detach,
 * tt_join_init or tt_group_add) or borrowed (tt_current_task, tt_cx_task:
 * it names the running task and holds nothing).  Once every owned handle
 * of a task has been given up, all of them are stale, whether or not the
 * task still runs.  A stale handle is refused by every function below:
 * 0 from tt_task_id, NULL from tt_task_name, the null handle from
 * tt_task_ref, TT_ESTALE from the others (a debug build aborts first).  A
 * borrowed handle is refused (-EINVAL) where an owned one is needed:
 * tt_task_ref, release, detach, joins and tt_group_add.  Two owned handles
 * of one task (tt_task_ref) share a generation: one of them used twice
 * while the other is still held cannot be told apart. */
TT_API uint64_t tt_task_id(tt_handle h);
/* The name, valid while H is. */
TT_API const char *tt_task_name(tt_handle h);
/* Another owned handle to the same task. */
TT_API tt_handle tt_task_ref(tt_handle h);
/* Give up H.  0, or TT_ESTALE / -EINVAL; the null handle is ignored (0). */
TT_API int tt_task_release(tt_handle h);
/* Give up H and let the task run on by itself (same returns). */
TT_API int tt_task_detach(tt_handle h);
/* Ask the task to stop at its next await point; its pending frames are
 * cancelled innermost first with their cleanups and it finishes with
 * TT_ECANCELED.  No effect on a finished task.  0 or TT_ESTALE. */
TT_API int tt_task_cancel(tt_handle h);
/* 1 done, 0 not yet, TT_ESTALE. */
TT_API int tt_task_is_done(tt_handle h);
/* The result, valid once done; TT_ESTALE for a stale handle. */
TT_API intptr_t tt_task_result(tt_handle h);
/* Wait from a thread that is not a worker (e.g. main) and return the
 * result; H stays owned (release it after).  TT_ESTALE, -EINVAL for a
 * borrowed handle. */
TT_API intptr_t tt_task_join_blocking(tt_handle h);

/* Set label KEY of the task H names to VALUE (copied), or remove it when
 * VALUE is NULL (0 also when it had none).  A task labels itself: H must
 * name the task the calling thread is polling (tt_current_task(), or an
 * owned handle of it), because the label is written inside that poll's
 * sequence window, where readers look for changes (docs/registry-abi.md
 * §5.10); another task's labels are given when spawning it.  No lock;
 * no allocation but the slot's label block, once per slot.  0, or -EINVAL
 * (NULL or bad key, the null handle), -ENAMETOOLONG (key or value too
 * long), -ENOSPC (no room for another label), -ENOMEM (no label block),
 * -EPERM (H is not the calling thread's task), TT_ESTALE. */
TT_API int tt_task_set_label(tt_handle h, const char *key, const char *value);
/* The value of label KEY of the task H names, NULL if it has none (or H
 * is stale).  Valid until the task changes that label or ends. */
TT_API const char *tt_task_label(tt_handle h, const char *key);

/* The task the calling thread is polling, as a borrowed handle, or the
 * null handle.  Valid while that task lives; for its id, name and
 * cancellation, from the task itself. */
TT_API tt_handle tt_current_task(void);

/* Await another task: TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join,
 * handle)).  The join future takes over the handle's reference (the handle
 * is given up at once); joining a stale or borrowed handle finishes at
 * once with TT_ESTALE / -EINVAL. */
typedef struct tt_join {
	tt_leaf leaf;
	tt_task *task; /* the slot, with the reference the handle held */
	tt_waker waker;
	struct tt_join *prev, *next; /* the task's waiting joins */
} tt_join;
TT_API extern const tt_func tt_join_fn;
TT_API void tt_join_init(tt_join *j, tt_handle handle);

#ifdef __cplusplus
}
#endif
#endif
