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

/* The inline forms.  Declare the combinator with room for its N children
 * (TT_SELECT_OF(N) sel; in the frame), then await it with the children
 * given as TT_CASE(child, init) -- INIT initialises CHILD, a future in the
 * frame -- in one statement; TT_SELECTED tells which child won:
 *
 *   TT_ASYNC(ticker, tt_sleep tick; tt_token_wait stop; TT_SELECT_OF(2) sel;);
 *   ...
 *   TT_SELECT(self, cx, &self->sel,
 *             TT_CASE(&self->tick, tt_sleep_init(&self->tick, TT_MS(100))),
 *             TT_CASE(&self->stop, tt_token_wait_init(&self->stop, tok)));
 *   if (TT_SELECTED(&self->sel, &self->stop))
 *       break;
 *
 * Checked at compile time: the number of cases is N; each child is a
 * pointer to a complete type at least as large as a frame (a future's
 * frame is its first member).  TT_JOIN_ALL / TT_JOIN_ALL_OF likewise; each
 * child's result is TT_RESULT(child). */
#define TT_SELECT_OF(N)                                                              \
	struct {                                                                           \
		tt_select s;                                                                     \
		tt_frame *kids[N];                                                               \
	}
#define TT_JOIN_ALL_OF(N)                                                            \
	struct {                                                                           \
		tt_join_all s;                                                                   \
		tt_frame *kids[N];                                                               \
	}
#define TT_CASE(CHILD, INIT) ((void)(INIT), TT_AS_FRAME_(CHILD))
#define TT_AS_FRAME_(P)                                                              \
	({                                                                                 \
		_Static_assert(sizeof(*(P)) >= sizeof(tt_frame),                                 \
			       "a child must point at a future (its frame first)");                \
		(tt_frame *)(void *)(P);                                                         \
	})
#define TT_SELECT(SELF, CX, SEL, ...)                                                \
	TT_AWAIT(SELF, CX, &(SEL)->s, TT_KIDS_INIT_(tt_select_init, SEL, __VA_ARGS__))
#define TT_JOIN_ALL(SELF, CX, JOIN, ...)                                             \
	TT_AWAIT(SELF, CX, &(JOIN)->s, TT_KIDS_INIT_(tt_join_all_init, JOIN, __VA_ARGS__))
#define TT_KIDS_INIT_(INIT, C, ...)                                                  \
	({                                                                                 \
		tt_frame *tt_k_[] = {__VA_ARGS__};                                               \
		_Static_assert(sizeof tt_k_ == sizeof((C)->kids),                                \
			       "as many cases as the combinator was declared with");               \
		for (size_t tt_i_ = 0; tt_i_ < sizeof tt_k_ / sizeof *tt_k_; tt_i_++)            \
			(C)->kids[tt_i_] = tt_k_[tt_i_];                                               \
		INIT(&(C)->s, (C)->kids, sizeof tt_k_ / sizeof *tt_k_);                          \
	})
/* Whether CHILD is the case that won the finished select SEL. */
#define TT_SELECTED(SEL, CHILD)                                                      \
	((SEL)->kids[TT_RESULT(&(SEL)->s)] == TT_AS_FRAME_(CHILD))

/* Task groups (structured concurrency).  Tasks spawned into a group are
 * its children: awaiting tt_group_wait joins them all and yields the first
 * negative result among them (0 if none); the first child to fail cancels
 * its siblings; cancelling the awaiting future cancels every child, so none
 * outlives the scope that awaited the group.
 *
 *   self->g = tt_group_new();
 *   TT_GROUP_SPAWN(self->g, "fetch", fetch, fetch_init, url);   // ...
 *   TT_AWAIT(self, cx, &self->wait, tt_group_wait_init(&self->wait, self->g));
 *   tt_group_free(self->g);
 *
 * A server's connections want the other mode, a tracker:
 * tt_group_new_flags(TT_GROUP_TRACKER) -- finished children leave at once
 * (their slots are freed; tt_group_size counts the ones still running) and
 * one child's failure cancels nobody.  Shutdown is tt_group_cancel, then
 * the wait (docs/guide.md, "Writing a server"). */
typedef struct tt_group tt_group;
enum tt_group_flags {
	/* Finished children are dropped at once instead of kept until the
	 * group is freed. */
	TT_GROUP_DROP_FINISHED = 1u << 0,
	/* A failing child does not cancel its siblings nor later children
	 * (the wait still yields the first negative result). */
	TT_GROUP_KEEP_SIBLINGS = 1u << 1,
	TT_GROUP_TRACKER = TT_GROUP_DROP_FINISHED | TT_GROUP_KEEP_SIBLINGS
};
/* NULL with errno ENOMEM. */
TT_API tt_group *tt_group_new(void);
/* A group with FLAGS (tt_group_flags; 0 is tt_group_new).  NULL with errno
 * EINVAL for an unknown flag, ENOMEM. */
TT_API tt_group *tt_group_new_flags(uint32_t flags);
/* The name readers show for a wait on the group (`waits on group
 * "connections"`), as for the objects of sync.h ("Names").  0, or -EINVAL
 * for NULL. */
TT_API int tt_group_set_name(tt_group *g, const char *name);
/* Release the creator's reference (children hold their own).  NULL is
 * ignored; a second free is undefined (the group may be gone). */
TT_API void tt_group_free(tt_group *g);
/* Add T (an owned join handle; the group takes it over) to G.  If G has
 * already failed or been cancelled, T is cancelled at once.  Returns 0;
 * -EINVAL for a NULL group (T stays the caller's); after the wait ended
 * (T is cancelled and given up) or for a borrowed handle; TT_ESTALE for a
 * stale one.  Prefer tt_group_spawn_at / TT_GROUP_SPAWN: a task refused
 * here has already started. */
TT_API int tt_group_add(tt_group *g, tt_handle t);
/* Spawn ROOT (as tt_spawn_at) straight into G: the group holds the only
 * handle.  0; on failure nothing was spawned and ROOT is still the
 * caller's: -EINVAL NULL group or root, or the wait ended; TT_ECANCELED
 * the group was cancelled or failed; tt_spawn_at's errors as -errno. */
TT_API int tt_group_spawn_at(tt_group *g, tt_runtime *rt, const tt_spawn_opts *opts,
			     tt_frame *root, const tt_site *spawn_site);
/* Cancel every unfinished child; children added or spawned later are
 * cancelled or refused too.  0, -EINVAL for NULL. */
TT_API int tt_group_cancel(tt_group *g);
/* Children held: all of them, or for a tracker the unfinished ones (0 for
 * NULL). */
TT_API size_t tt_group_size(tt_group *g);

/* Spawn a T initialised with INIT(frame, args...) into G; 0 or a negative
 * errno as tt_group_spawn_at.  A refused frame is never polled: its
 * cleanup runs (tt_frame_discard: a TT_ASYNC_FN_CLEANUP function releases
 * what INIT gave it) and it is freed.  -ENOMEM before INIT ran: the
 * arguments were not taken. */
#define TT_GROUP_SPAWN(g, name, T, init, ...)                                        \
	({                                                                                 \
		T *tt_gf_ = (T *)tt_frame_alloc(sizeof(T));                                      \
		int tt_gr_ = -ENOMEM;                                                            \
		if (tt_gf_) {                                                                    \
			init(tt_gf_, ##__VA_ARGS__);                                                   \
			tt_spawn_opts tt_go_ = {(name), tt_frame_free, 0};                             \
			tt_gr_ = tt_group_spawn_at((g), NULL, &tt_go_, (tt_frame *)tt_gf_,             \
						   TT_SPAWN_SITE_());                                  \
			if (tt_gr_ < 0)                                                                \
				tt_frame_discard((tt_frame *)tt_gf_);                                        \
		}                                                                                \
		tt_gr_;                                                                          \
	})
/* The same for an async function of the short form (TT_ASYNC): the new
 * frame is TT_NEW(T, FIELDS...), e.g.
 * TT_GROUP_SPAWN_NEW(conns, "conn", conn, .fd = fd). */
#define TT_GROUP_SPAWN_NEW(g, name, T, ...) TT_GROUP_SPAWN(g, name, T, TT_SET_, TT_NEW(T, __VA_ARGS__))

typedef struct tt_group_wait {
	tt_leaf leaf;
	tt_group *g;
	tt_waiter w;
} tt_group_wait;
TT_API extern const tt_func tt_group_wait_fn;
/* Result: the first negative result of a child, else 0 (-EINVAL for a
 * NULL group).  Once it ends (or is cancelled) the group takes no more
 * children. */
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
	void (*release)(void *arg);
	tt_blocking_job *job;
} tt_blocking;
TT_API extern const tt_func tt_blocking_fn_desc;
/* ARG must stay valid until FN has returned, which may be after the
 * future was cancelled: use tt_blocking_init_owned for an ARG that lives
 * in the awaiting frame's memory or must be freed. */
TT_API void tt_blocking_init(tt_blocking *b, tt_blocking_fn fn, void *arg);
/* The same, and ARG is the job's once the future is cancelled while
 * waiting: RELEASE(ARG) then runs exactly once, after FN has returned (on
 * the pool's thread) or when it will never run (not started yet).  Not
 * cancelled (it returned a result, or was never polled), ARG stays the
 * caller's and RELEASE is not called. */
TT_API void tt_blocking_init_owned(tt_blocking *b, tt_blocking_fn fn, void *arg,
				   void (*release)(void *arg));

#ifdef __cplusplus
}
#endif
#endif
