/* Handles: task handles carry a generation, runtime pointers are entries
 * of a table of live runtimes; a stale one of either is refused.
 *
 * Why a generation: a task's slot goes back to the free list when its last
 * reference goes and the next spawn takes it (LIFO, so at once).  A handle
 * that was only a slot pointer, used after its release (a second join, a
 * join after tt_task_release or tt_task_detach), then reached the task that
 * took the slot: it joined it, returned its result, stole its reference.
 *
 * Why a struct by value {slot, gen} and not generation bits in the
 * pointer: x86-64 leaves 16 bits above a user address and 3 below a
 * slot's alignment -- a generation that wraps after 2^19 (~500,000) reuses
 * of one slot, which a spawn loop reaches in well under a second (the free
 * list hands the same slot back each time).  A 64-bit generation never
 * wraps.  The cost is one more register per handle (returned in rdx) and a
 * source change for programs (h.task instead of comparing the pointer with
 * NULL); the compiler points at every place to change.
 *
 * Owned handles: the slot keeps a count of them and the generation they
 * carry; the generation goes up when the count drops to 0, so every one of
 * them is refused from then on -- also while the task still runs (a join
 * after release would otherwise take a reference someone else holds).  A
 * slot is only freed once every reference, the handles' included, is gone,
 * so the generation has moved on before any reuse: per slot it only grows,
 * and a new task's handle never carries an old one's.  New owned handles
 * come only from a valid owned handle (spawn, tt_task_ref), so the count
 * never comes back from 0 and its drop to 0 races with no increment.
 *
 * Borrowed handles (tt_current_task, tt_cx_task) hold nothing: they carry
 * the task id (unique for the process's life) with the top bit set, and
 * are valid while the slot holds that task.
 *
 * The check is exact for a handle used after its release on the same
 * thread, or after any synchronisation with the release; a handle used
 * concurrently with its own release is a race the check may miss. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

int tt_handle_misuse(const char *fn, const char *what, int err)
{
	const char *mode = getenv("TASKTRACE_STALE_HANDLES");
#ifdef NDEBUG
	int fatal = mode && strcmp(mode, "abort") == 0;
#else
	int fatal = !(mode && strcmp(mode, "error") == 0);
#endif
	if (fatal) {
		fprintf(stderr,
			"tasktrace: %s: %s (TASKTRACE_STALE_HANDLES=error returns %s "
			"instead of aborting)\n",
			fn, what, err == -ESTALE ? "TT_ESTALE" : "-EINVAL");
		abort();
	}
	errno = -err;
	return err;
}

tt_task *tt_handle_get_slow(tt_handle h, int use, const char *fn)
{
	tt_task *t = h.task;
	if (!t) {
		errno = EINVAL;
		return NULL;
	}
	if (h.gen & TT_HANDLE_BORROWED) {
		uint64_t id = h.gen & ~TT_HANDLE_BORROWED;
		if (atomic_load_explicit(&t->id, ACQUIRE) == id) {
			if (use == TT_HANDLE_READ)
				return t;
			tt_handle_misuse(fn,
					 "a borrowed handle (tt_current_task, tt_cx_task) "
					 "cannot be joined, released, detached or referenced",
					 -EINVAL);
			return NULL;
		}
		tt_handle_misuse(fn, "stale task handle: the task it borrowed is gone", -ESTALE);
		return NULL;
	}
	tt_handle_misuse(fn, "stale task handle: already joined, released or detached", -ESTALE);
	return NULL;
}

/* ---- live runtimes ----
 *
 * After tt_runtime_free the runtime's memory is gone, so a check inside it
 * would itself read freed memory, and a new runtime may be allocated at the
 * same address.  The pointer a program holds is therefore not an address:
 * it is (generation << RT_INDEX_BITS | index) into a static table that is
 * never freed.  An entry's generation is odd while its runtime lives and
 * goes up at the free, so a freed runtime's pointer matches no entry again
 * (52 bits: never wraps), even once a new runtime takes the entry.  The
 * runtime itself uses the real address (tasks, workers, fds). */
#define RT_INDEX_BITS 10
#define RT_MAX (1u << RT_INDEX_BITS)

static struct {
	_Atomic uint64_t gen;
	tt_runtime *_Atomic rt;
} live[RT_MAX];
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

tt_runtime *tt_runtime_handle_new(tt_runtime *rt)
{
	pthread_mutex_lock(&live_lock);
	for (uint32_t i = 0; i < RT_MAX; i++) {
		if (atomic_load_explicit(&live[i].rt, RELAXED))
			continue;
		atomic_store_explicit(&live[i].rt, rt, RELEASE);
		uint64_t gen = atomic_fetch_add_explicit(&live[i].gen, 1, RELEASE) + 1;
		pthread_mutex_unlock(&live_lock);
		return (tt_runtime *)(uintptr_t)(gen << RT_INDEX_BITS | i);
	}
	pthread_mutex_unlock(&live_lock);
	errno = EMFILE;
	return NULL;
}

static uint32_t rt_index(const tt_runtime *h)
{
	return (uint32_t)((uintptr_t)h & (RT_MAX - 1));
}
static uint64_t rt_gen(const tt_runtime *h)
{
	return (uint64_t)(uintptr_t)h >> RT_INDEX_BITS;
}

tt_runtime *tt_runtime_from_handle(const tt_runtime *h, const char *fn)
{
	if (!h) { /* no runtime: not a stale one */
		errno = EINVAL;
		return NULL;
	}
	uint32_t i = rt_index(h);
	uint64_t gen = rt_gen(h);
	if (TT_LIKELY((gen & 1) && atomic_load_explicit(&live[i].gen, ACQUIRE) == gen)) {
		/* Read again after the pointer: a free and a new runtime taking
		 * the entry in between would give that one's pointer. */
		tt_runtime *rt = atomic_load_explicit(&live[i].rt, ACQUIRE);
		if (TT_LIKELY(rt && atomic_load_explicit(&live[i].gen, RELAXED) == gen))
			return rt;
	}
	tt_handle_misuse(fn, "runtime already freed (or not a runtime)", -ESTALE);
	return NULL;
}

tt_runtime *tt_runtime_handle_retire(tt_runtime *h)
{
	uint32_t i = rt_index(h);
	uint64_t gen = rt_gen(h);
	pthread_mutex_lock(&live_lock);
	tt_runtime *rt = NULL;
	if ((gen & 1) && atomic_load_explicit(&live[i].gen, RELAXED) == gen) {
		rt = atomic_load_explicit(&live[i].rt, RELAXED);
		atomic_store_explicit(&live[i].gen, gen + 1, RELEASE);
		atomic_store_explicit(&live[i].rt, NULL, RELAXED);
	}
	pthread_mutex_unlock(&live_lock);
	if (!rt)
		tt_handle_misuse("tt_runtime_free", "runtime already freed (or not a runtime)",
				 -ESTALE);
	return rt;
}
