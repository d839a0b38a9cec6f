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

typedef struct tt_runtime tt_runtime;

typedef struct tt_runtime_opts {
	/* Worker threads: > 0 that many; 0 the current-thread runtime (tasks
	 * run only inside tt_block_on on the calling thread); < 0 one per CPU. */
	int workers;
	const char *name; /* prefix of worker thread names, default "tt-worker" */
} tt_runtime_opts;

/* NULL opts means one worker per CPU.  Returns NULL with errno set. */
TT_API tt_runtime *tt_runtime_new(const tt_runtime_opts *opts);
/* Cancel every task still alive (their cleanups run), stop the workers and
 * free the runtime.  Join handles stay valid until released. */
TT_API void tt_runtime_free(tt_runtime *rt);
TT_API int tt_runtime_workers(const tt_runtime *rt);

/* Run ROOT to completion and return its result.  ROOT is borrowed (it may
 * live on the caller's stack).  On a multi-thread runtime it runs as a task
 * on the workers while the caller waits; on a current-thread runtime the
 * caller's thread drives every task until ROOT finishes.  From inside a
 * task it returns -EDEADLK: await the future instead. */
TT_API intptr_t tt_block_on(tt_runtime *rt, tt_frame *root);

typedef struct tt_spawn_opts {
	const char *name;         /* copied, cut to TT_TASK_NAME_MAX-1 bytes between UTF-8 characters */
	void (*free_root)(void *); /* called on the root frame when the task ends */
	uint32_t flags;           /* TT_TASKF_SYSTEM, TT_TASKF_DETACHED */
} tt_spawn_opts;

/* Spawn ROOT as a task; returns its join handle (one reference).  From
 * inside a task the runtime may be NULL: the current task's runtime is used,
 * and the current task becomes the parent.  Returns NULL with errno set. */
TT_API tt_task *tt_spawn_at(tt_runtime *rt, const tt_spawn_opts *opts, tt_frame *root,
			    const tt_site *spawn_site);

#define TT_SPAWN_SITE_()                                                    \
	({                                                                        \
		static const tt_site tt_spawn_site_ TT_SECTION_("tasktrace_sites") = \
		    {__func__, __FILE__, __LINE__, TT_SITEF_SPAWN, 0};                \
		&tt_spawn_site_;                                                        \
	})

/* Allocate a future of type T with malloc, initialise it with
 * INIT(ptr, args...), and spawn it named NAME; the runtime frees it. */
#define TT_SPAWN(rt, name, T, init, ...)                                    \
	({                                                                        \
		T *tt_f_ = (T *)tt_frame_alloc(sizeof(T));                              \
		tt_task *tt_t_ = NULL;                                                  \
		if (tt_f_) {                                                            \
			init(tt_f_, ##__VA_ARGS__);                                           \
			tt_spawn_opts tt_o_ = {(name), tt_frame_free, 0};                     \
			tt_t_ = tt_spawn_at((rt), &tt_o_, (tt_frame *)tt_f_,                  \
					    TT_SPAWN_SITE_());                                \
		}                                                                       \
		tt_t_;                                                                  \
	})

TT_API void *tt_frame_alloc(size_t size);
TT_API void tt_frame_free(void *frame);

/* Join handles. */
TT_API uint64_t tt_task_id(const tt_task *t);
TT_API const char *tt_task_name(const tt_task *t);
TT_API tt_task *tt_task_ref(tt_task *t);
TT_API void tt_task_release(tt_task *t);
/* Release the handle and let the task run on by itself. */
TT_API void tt_task_detach(tt_task *t);
/* Ask the task to stop at its next await point; its pending frames are
 * cancelled innermost first with their cleanups and it finishes with
 * TT_ECANCELED.  No effect on a finished task. */
TT_API void tt_task_cancel(tt_task *t);
TT_API int tt_task_is_done(const tt_task *t);
/* The result, valid once done. */
TT_API intptr_t tt_task_result(const tt_task *t);
/* Wait from a thread that is not a worker (e.g. main). */
TT_API intptr_t tt_task_join_blocking(tt_task *t);

/* The task the calling thread is polling, or NULL. */
TT_API tt_task *tt_current_task(void);

/* Await another task: TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join,
 * handle)).  The join future takes over the handle's reference. */
typedef struct tt_join {
	tt_leaf leaf;
	tt_task *task;
	tt_waker waker;
	struct tt_join *prev, *next; /* the task's waiting joins */
} tt_join;
TT_API extern const tt_func tt_join_fn;
TT_API void tt_join_init(tt_join *j, tt_task *handle);

#ifdef __cplusplus
}
#endif
#endif
