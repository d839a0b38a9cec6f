/* Stackless futures.  An async function is a struct that starts with a
 * tt_frame and holds the locals that live across awaits plus storage for the
 * child it awaits; its poll function is written with TT_BEGIN / TT_AWAIT /
 * TT_RETURN and resumes through a computed goto.
 *
 *   typedef struct { tt_frame frame; int n; tt_sleep nap; } ticker;
 *   static tt_poll ticker_poll(ticker *self, tt_cx *cx);
 *   TT_ASYNC_FN(ticker, ticker_poll, NULL);
 *   static tt_poll ticker_poll(ticker *self, tt_cx *cx) {
 *       TT_BEGIN(self);
 *       for (self->n = 0; self->n < 3; self->n++)
 *           TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(10)));
 *       TT_RETURN(self, self->n);
 *   }
 *   void ticker_init(ticker *t) { tt_frame_init(&t->frame, &ticker_fn); }
 *
 * Each await stores one pointer (the static site descriptor, which is both
 * "where it is suspended" for readers and "where to resume" for the poll
 * function) and links the child frame so readers can walk the chain. */
#ifndef TASKTRACE_FUTURE_H
#define TASKTRACE_FUTURE_H

#include "tasktrace/api.h"

#include <stddef.h>
#include <stdint.h>

#include "tasktrace/abi/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tt_poll { TT_PENDING = 0, TT_READY = 1 } tt_poll;

typedef struct tt_cx tt_cx;
typedef struct tt_task tt_task;
typedef struct tt_frame tt_frame;

/* A task handle, passed by value.  TASK is the task's registry slot; GEN
 * the generation the handle was issued for.  A slot is reused once its
 * task is gone, so a handle kept past its release would otherwise reach
 * whatever task took the slot: every function taking a handle compares GEN
 * with the slot's and refuses a stale handle (TT_ESTALE; in a debug build
 * it aborts with a message, see docs/guide.md).  TASK is NULL in the null
 * handle a failed spawn returns (errno says why). */
typedef struct tt_handle {
	tt_task *task;
	uint64_t gen;
} tt_handle;

typedef tt_poll (*tt_poll_fn)(void *self, tt_cx *cx);
/* Cleanup of a future cancelled while pending ("async drop").  Children
 * are cancelled first, innermost first, so a cleanup sees finished
 * children. */
typedef void (*tt_drop_fn)(void *self);

typedef struct tt_site {
	const char *function;
	const char *file;
	uint32_t line;
	uint32_t flags;
	const void *resume;
} tt_site;

typedef struct tt_func {
	const char *name;
	const char *file;
	uint32_t line;
	uint32_t kind;
	const char *type_name;
	uint32_t frame_size;
	uint32_t flags; /* tt_func_flags (the runtime's; readers do not see it) */
	tt_poll_fn poll;
	tt_drop_fn drop;
} tt_func;

enum tt_func_flags {
	/* DROP also runs for a frame that ends without ever being polled: a
	 * task cancelled before its first poll, a spawn refused
	 * (tt_frame_discard).  It tells the two cases apart with
	 * tt_frame_started().  Set by TT_ASYNC_FN_CLEANUP. */
	TT_FUNC_DROP_UNSTARTED = 1u << 0
};

enum tt_frame_state {
	TT_FRAME_STARTED = 1u << 0,
	TT_FRAME_DONE = 1u << 1,
	TT_FRAME_CANCELLED = 1u << 2,
	TT_FRAME_GUARDS = 1u << 3 /* holds lock guards, released when it ends */
};

struct tt_frame {
	const tt_func *func;
	const tt_site *site;
	tt_frame *child;
	tt_frame *sibling;
	intptr_t result; /* the value of TT_RETURN; negative errno on error */
	uint32_t state;  /* tt_frame_state */
	uint32_t reserved;
};

/* What a leaf waits on: the edges of the wait-for graph. */
typedef struct tt_wait {
	uint32_t kind; /* tt_wait_kind */
	uint32_t reserved;
	const void *object;
	uint64_t owner; /* id of the task that can release it, 0 if unknown */
	uint64_t since_ns;
	uint64_t detail;
	/* the waited object's name (tt_chan_set_name...), NULL if none */
	const char *name;
	/* A tt_holders naming the tasks any one of which can end the wait
	 * (a semaphore's holders, a channel's declared other end), NULL. */
	const void *holders;
} tt_wait;

typedef struct tt_leaf {
	tt_frame frame;
	tt_wait wait;
} tt_leaf;

/* Sentinel site of a frame that has returned. */
TT_API extern const tt_site tt_site_done;

#if defined(__APPLE__)
#error "tasktrace needs ELF named sections"
#endif
#define TT_SECTION_(name) __attribute__((section(name), used, aligned(8)))

#define TT_CAT_(a, b) a##b
#define TT_CAT(a, b) TT_CAT_(a, b)

/* Define the descriptor `NAME_fn` of async function NAME (a struct type
 * named NAME whose first member is `tt_frame frame`). */
#define TT_ASYNC_FN(NAME, POLL, DROP)                                      \
	const tt_func TT_CAT(NAME, _fn) TT_SECTION_("tasktrace_funcs") = {       \
		#NAME, __FILE__, __LINE__, TT_FUNC_KIND_ASYNC, #NAME, sizeof(NAME), \
		0,     (tt_poll_fn)(POLL), (tt_drop_fn)(DROP)}

/* The same, with a cleanup that runs however a frame ends without
 * returning -- cancelled while pending, or before its first poll (a task
 * cancelled at once, a spawn refused) -- so what the init function handed
 * the frame (an fd, a buffer) is never leaked:
 *
 *   static void conn_cleanup(conn *self) {
 *       if (!tt_frame_started(&self->frame)) { close(self->fd); return; }
 *       ...  // the state TT_BEGIN onwards set up
 *   } */
#define TT_ASYNC_FN_CLEANUP(NAME, POLL, CLEANUP)                           \
	const tt_func TT_CAT(NAME, _fn) TT_SECTION_("tasktrace_funcs") = {       \
		#NAME,                  __FILE__,                                       \
		__LINE__,               TT_FUNC_KIND_ASYNC,                             \
		#NAME,                  sizeof(NAME),                                   \
		TT_FUNC_DROP_UNSTARTED, (tt_poll_fn)(POLL),                             \
		(tt_drop_fn)(CLEANUP)}

/* The same for a leaf future; NAME's first member must be `tt_leaf leaf`. */
#define TT_LEAF_FN(NAME, POLL, DROP)                                       \
	const tt_func TT_CAT(NAME, _fn) TT_SECTION_("tasktrace_funcs") = {       \
		#NAME, __FILE__, __LINE__, TT_FUNC_KIND_LEAF, #NAME, sizeof(NAME),  \
		0,     (tt_poll_fn)(POLL), (tt_drop_fn)(DROP)}

/* The short form: one line declares the struct NAME (a tt_frame, then
 * FIELDS, each ending in ';'), the poll function NAME_poll, the descriptor
 * NAME_fn and NAME_init(NAME *) (zero fields, frame ready); TT_POLL(NAME)
 * then opens the poll function's body, and TT_NEW builds a frame with its
 * fields set, for a child's INIT or a spawn:
 *
 *   TT_ASYNC(ticker, int n; tt_sleep nap;);
 *   TT_POLL(ticker) {
 *       TT_BEGIN(self);
 *       for (self->n = 0; self->n < 3; self->n++)
 *           TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(10)));
 *       TT_RETURN(self, self->n);
 *   }
 *   TT_AWAIT(self, cx, &self->tick, self->tick = TT_NEW(ticker, .n = 1));
 *
 * Like TT_ASYNC_FN it defines NAME_fn, so it goes in one .c file.
 * TT_ASYNC_CLEANUP also declares `static void NAME_cleanup(NAME *self)`,
 * which the user defines; it runs as TT_ASYNC_FN_CLEANUP's does. */
#define TT_ASYNC(NAME, ...) TT_ASYNC_DECL_(NAME, TT_ASYNC_FN, NULL, __VA_ARGS__)
#define TT_ASYNC_CLEANUP(NAME, ...)                                        \
	struct NAME;                                                             \
	static void NAME##_cleanup(struct NAME *self);                           \
	TT_ASYNC_DECL_(NAME, TT_ASYNC_FN_CLEANUP, NAME##_cleanup, __VA_ARGS__)
#define TT_ASYNC_DECL_(NAME, DEFINE, DROP, ...)                            \
	typedef struct NAME {                                                    \
		tt_frame frame;                                                        \
		__VA_ARGS__                                                            \
	} NAME;                                                                  \
	static tt_poll NAME##_poll(NAME *self, tt_cx *cx);                       \
	DEFINE(NAME, NAME##_poll, DROP);                                         \
	static inline __attribute__((unused)) void NAME##_init(NAME *self)       \
	{                                                                        \
		*self = (NAME){.frame = {.func = &NAME##_fn}};                         \
	}                                                                        \
	struct NAME
/* Head of NAME's poll function (arguments `self` and `cx`). */
#define TT_POLL(NAME) static tt_poll NAME##_poll(NAME *self, tt_cx *cx)
/* A NAME frame, ready to poll, with the designated FIELDS set (the others
 * zero), e.g. TT_NEW(greeter, .n = 2). */
#define TT_NEW(NAME, ...) ((NAME){.frame = {.func = &NAME##_fn}, __VA_ARGS__})

static inline void tt_frame_init(tt_frame *f, const tt_func *func)
{
	f->func = func;
	f->site = NULL;
	f->child = NULL;
	f->sibling = NULL;
	f->result = 0;
	f->state = 0;
	f->reserved = 0;
}

/* Release the lock guards F holds (tt_lock_guard_init): it is returning
 * (TT_RETURN) or cancelled (tt_frame_cancel). */
TT_API void tt_frame_release_guards(tt_frame *f);

/* Poll a frame; once it is done, it stays ready with its result. */
static inline tt_poll tt_frame_poll(tt_frame *f, tt_cx *cx)
{
	if (f->state & TT_FRAME_DONE)
		return TT_READY;
	f->state |= TT_FRAME_STARTED;
	tt_poll r = f->func->poll(f, cx);
	if (r == TT_READY)
		f->state |= TT_FRAME_DONE;
	return r;
}

/* Cancel a frame that may be pending: its awaited children are cancelled
 * first, then its own drop runs.  Runs each cleanup at most once; a frame
 * that already finished has nothing to clean, nor has one that never
 * started unless its function was defined with TT_ASYNC_FN_CLEANUP. */
TT_API void tt_frame_cancel(tt_frame *f);

/* Whether F has been polled (for a cleanup: what the poll function set up
 * exists only then). */
static inline int tt_frame_started(const tt_frame *f)
{
	return (f->state & TT_FRAME_STARTED) != 0;
}

/* Resume where the last await suspended, or finish if already done. */
#define TT_BEGIN(SELF)                                                     \
	do {                                                                     \
		const tt_site *tt_at_ = (SELF)->frame.site;                            \
		if (tt_at_) {                                                          \
			if (!tt_at_->resume)                                                 \
				return TT_READY;                                                   \
			goto *tt_at_->resume;                                                \
		}                                                                      \
	} while (0)

#define TT_SITE_AT_(LABEL)                                                 \
	static const tt_site TT_CAT(LABEL, _site)                                \
	    TT_SECTION_("tasktrace_sites") = {__func__, __FILE__, __LINE__,       \
					      TT_SITEF_AWAIT, &&LABEL}

/* Await CHILD (a pointer to a future stored in SELF), running INIT first to
 * initialise it.  Returns TT_PENDING from the enclosing poll function while
 * the child is pending; afterwards TT_RESULT(CHILD) is its result. */
#define TT_AWAIT(SELF, CX, CHILD, INIT)                                    \
	TT_AWAIT_(SELF, CX, CHILD, INIT, TT_CAT(tt_resume_, __COUNTER__))
#define TT_AWAIT_(SELF, CX, CHILD, INIT, LABEL)                            \
	do {                                                                     \
		TT_SITE_AT_(LABEL);                                                    \
		INIT;                                                                  \
		(SELF)->frame.child = (tt_frame *)(CHILD);                             \
		(SELF)->frame.site = &TT_CAT(LABEL, _site);                            \
	LABEL:                                                                   \
		if (tt_frame_poll((tt_frame *)(CHILD), (CX)) == TT_PENDING)            \
			return TT_PENDING;                                                   \
		(SELF)->frame.child = NULL;                                            \
	} while (0)

/* Suspend once, letting other tasks run (cooperative yield). */
#define TT_YIELD(SELF, CX) TT_YIELD_(SELF, CX, TT_CAT(tt_resume_, __COUNTER__))
#define TT_YIELD_(SELF, CX, LABEL)                                         \
	do {                                                                     \
		TT_SITE_AT_(LABEL);                                                    \
		(SELF)->frame.site = &TT_CAT(LABEL, _site);                            \
		tt_cx_wake_self(CX);                                                   \
		return TT_PENDING;                                                     \
	LABEL:;                                                                  \
	} while (0)

/* (A frame holding lock guards lets them go as it returns: a test of
 * its state here, not on every await.) */
#define TT_RETURN(SELF, VALUE)                                             \
	do {                                                                     \
		if ((SELF)->frame.state & TT_FRAME_GUARDS)                             \
			tt_frame_release_guards(&(SELF)->frame);                             \
		(SELF)->frame.result = (intptr_t)(VALUE);                              \
		(SELF)->frame.site = &tt_site_done;                                    \
		(SELF)->frame.child = NULL;                                            \
		return TT_READY;                                                       \
	} while (0)

/* Result of a finished child future. */
#define TT_RESULT(child) (((tt_frame *)(child))->result)

/* ---- task context and wakers ---- */

typedef struct tt_waker {
	tt_task *task;
} tt_waker;

/* The task being polled, as a borrowed handle (see tt_current_task). */
TT_API tt_handle tt_cx_task(tt_cx *cx);
/* True once the task has been asked to stop: long loops may bail early. */
TT_API int tt_cx_cancelled(tt_cx *cx);
/* Ask to be polled again soon (used by TT_YIELD). */
TT_API void tt_cx_wake_self(tt_cx *cx);

/* A new waker for the current task; a leaf keeps it while pending.  The
 * registry counts live wakers: a pending task with none can never wake. */
TT_API tt_waker tt_waker_new(tt_cx *cx);
/* Wake and release. */
TT_API void tt_waker_wake(tt_waker *w);
TT_API void tt_waker_wake_by_ref(const tt_waker *w);
TT_API void tt_waker_drop(tt_waker *w);
static inline int tt_waker_is_set(const tt_waker *w) { return w->task != NULL; }

/* Leaf helpers: set and clear the wait descriptor. */
TT_API uint64_t tt_now_ns(void);
TT_API void tt_wait_set(tt_wait *w, uint32_t kind, const void *object, uint64_t owner,
			uint64_t detail);
TT_API void tt_wait_clear(tt_wait *w);
/* Name the object of W's current wait for the readers (after
 * tt_wait_set, which clears it; NAME must live as long as the wait). */
TT_API void tt_wait_set_name(tt_wait *w, const char *name);

#ifdef __cplusplus
}
#endif
#endif
