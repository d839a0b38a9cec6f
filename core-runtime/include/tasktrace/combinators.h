/* Futures that await several children: select, join_all, task groups, and
 * blocking calls on a thread pool.  The children are initialised by the
 * caller and stored wherever it likes (usually in its own frame); readers
 * see them as the combinator's child list, so the chain is a tree. */
#ifndef TASKTRACE_COMBINATORS_H
#define TASKTRACE_COMBINATORS_H

#include "tasktrace/api.h"

#include <stddef.h>
#include <stdint.h>

#include "tasktrace/future.h"
#include "tasktrace/runtime.h"
#include "tasktrace/sync.h"

#ifdef __cplusplus
extern "C" {
#endif

/* First of N children to finish wins: result = its index (its own result
 * is TT_RESULT(children[i])); the others are cancelled, cleanups run. */
typedef struct tt_select {
	tt_frame frame;
	tt_frame **children;
	size_t n;
} tt_select;
TT_API extern const tt_func tt_select_fn;
TT_API void tt_select_init(tt_select *s, tt_frame **children, size_t n);

/* All N children: result 0 once every one has finished; their results are
 * TT_RESULT(children[i]). */
typedef struct tt_join_all {
	tt_frame frame;
	tt_frame **children;
	size_t n;
} tt_join_all;
TT_API extern const tt_func tt_join_all_fn;
TT_API void tt_join_all_init(tt_join_all *j, tt_frame **children, size_t n);

/* Task groups (structured concurrency).  Tasks spawned into a group are
 * its children: awaiting tt_group_wait joins them all and yields the first
 * negative result among them (0 if none); the first child to fail cancels
 * its siblings; cancelling the awaiting future cancels every child, so none
 * outlives the scope that awaited the group.
 *
 *   self->g = tt_group_new();
 *   TT_GROUP_SPAWN(self->g, "fetch", fetch, fetch_init, url);   // ...
 *   TT_AWAIT(self, cx, &self->wait, tt_group_wait_init(&self->wait, self->g));
 *   tt_group_free(self->g); */
typedef struct tt_group tt_group;
TT_API tt_group *tt_group_new(void);
/* Release the creator's reference (children hold their own). */
TT_API void tt_group_free(tt_group *g);
/* Add T (an owned join handle; the group takes it over) to G.  If G has
 * already failed, T is cancelled at once.  -EINVAL after the wait ended
 * or for a borrowed handle, TT_ESTALE for a stale one. */
TT_API int tt_group_add(tt_group *g, tt_handle t);
TT_API void tt_group_cancel(tt_group *g);
TT_API size_t tt_group_size(tt_group *g);

#define TT_GROUP_SPAWN(g, name, T, init, ...)                               \
	({                                                                        \
		tt_handle tt_gt_ = TT_SPAWN(NULL, name, T, init, ##__VA_ARGS__);        \
		int tt_gr_ = tt_gt_.task ? tt_group_add((g), tt_gt_) : -errno;          \
		tt_gr_;                                                                 \
	})

typedef struct tt_group_wait {
	tt_leaf leaf;
	tt_group *g;
	tt_waiter w;
} tt_group_wait;
TT_API extern const tt_func tt_group_wait_fn;
TT_API void tt_group_wait_init(tt_group_wait *w, tt_group *g);

/* Run FN(ARG) on the blocking-call pool (threads created on demand, at
 * most TT_BLOCKING_MAX, retired after 10 s idle) and await its result.
 * Cancelling the future does not interrupt FN; its result is dropped. */
#define TT_BLOCKING_MAX 64
typedef intptr_t (*tt_blocking_fn)(void *arg);
typedef struct tt_blocking_job tt_blocking_job;
typedef struct tt_blocking {
	tt_leaf leaf;
	tt_blocking_fn fn;
	void *arg;
	tt_blocking_job *job;
} tt_blocking;
TT_API extern const tt_func tt_blocking_fn_desc;
TT_API void tt_blocking_init(tt_blocking *b, tt_blocking_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
