/* Tasks: spawn, poll, wake, join, cancel, and their slot's lifetime.
 *
 * References to a task: its join handle, the runtime while it is not
 * complete ("alive"), the run queue while it is notified, and each waker.
 * The slot returns to the free list when the last one goes.  A pending task
 * that nothing references but the runtime is exactly a lost wakeup: it stays
 * in the registry, where the readers can say so. */
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/internal.h"

TT_TLS tt_task *tt__tls_task;

static void task_ref(tt_task *t, uint32_t n)
{
	atomic_fetch_add_explicit(&t->sched, n * SCHED_REF, RELAXED);
}

static void slot_release(tt_task *t)
{
	/* (Complete: the word holds the frame, not free_root.) */
	if (t->spent_root) {
		tt_frame_free(t->spent_root);
		t->spent_root = NULL;
	}
	TT_RECORD(tt_registry_tasks_live(-1));
	tt_slot_free(t);
}

void tt_task_unref(tt_task *t)
{
	if ((atomic_fetch_sub_explicit(&t->sched, SCHED_REF, ACQ_REL) >> 32) == 1)
		slot_release(t);
}

/* seq and the poll counters have one writer, the thread that owns the
 * slot (the poller, or the spawn filling it), and readers in other
 * processes that synchronise through seq, not through the C memory model
 * (docs/registry-abi.md §7).  On x86-64 each is one add to memory, with
 * no lock prefix: a store is never reordered with an earlier store there,
 * and the asm's "memory" clobber keeps the compiler from moving other
 * stores across seq's, which makes it as strong as the release store
 * (and fence) §7 asks for.  Elsewhere, and under TSan (which does not see
 * through asm), a relaxed load and a release store. */
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
static inline void seq_bump(tt_task *t)
{
	__asm__ volatile("addl $1, %0" : "+m"(*(uint32_t *)&t->seq) : : "memory", "cc");
}
/* A counter: readers accept any of its values, so no ordering. */
static inline void bump(_Atomic uint64_t *field, uint64_t by)
{
	__asm__ volatile("addq %1, %0" : "+m"(*(uint64_t *)field) : "er"(by) : "cc");
}
#else
static inline void seq_bump(tt_task *t)
{
	atomic_store_explicit(&t->seq, atomic_load_explicit(&t->seq, RELAXED) + 1, RELEASE);
	tt_seqlock_fence();
}
static inline void bump(_Atomic uint64_t *field, uint64_t by)
{
	atomic_store_explicit(field, atomic_load_explicit(field, RELAXED) + by, RELAXED);
}
#endif

static inline void seq_enter(tt_task *t)
{
	if (TT_RECORDING)
		seq_bump(t);
}

static inline void seq_leave(tt_task *t)
{
	if (TT_RECORDING)
		seq_bump(t);
}

/* A spawn's stamp (created_ns, and its first wake_ns).  A worker's
 * cached clock is the end of its last poll, so a poll that spawns
 * thousands of tasks stamped them all with its start: ages too old, and
 * each task's first poll on another worker (stamped afresh) measured a
 * scheduled delay as long as that poll -- a histogram block (§5.13, 136
 * bytes) for nearly every task of a burst.  Every TT_SPAWN_RESTAMP-th
 * spawn on a worker reads the clock (one read per 64 spawns, a few
 * microseconds of them, below the coarse clock's tick): the clock
 * thread's copy alone may be two ticks behind. */
static inline uint64_t spawn_stamp(void)
{
	if (!TT_RECORDING)
		return 0;
	tt_worker *w = tt__tls_worker;
	if (!w)
		return tt_stamp_ns();
	if (TT_UNLIKELY(++w->spawns % TT_SPAWN_RESTAMP == 0))
		w->spawn_now = tt_stamp_ns();
	uint64_t cached = tt_clock_cached();
	return cached > w->spawn_now ? cached : w->spawn_now;
}

/* ---- labels ----
 *
 * Inline in the slot, at most TT_TASK_LABELS_MAX, so setting one is a
 * few stores and no allocation.  They are written only inside the slot's
 * seq window by the thread that owns it: the spawn filling the record, or
 * the task itself during its poll.  A set from another thread would race
 * the poller's seq (one writer, plain stores) and the child's copy at
 * spawn; Go's pprof labels are set the same way, by the goroutine itself. */

static int label_key_check(const char *key)
{
	if (!key || !*key)
		return -EINVAL;
	size_t n = 0;
	for (; key[n]; n++) {
		unsigned char c = (unsigned char)key[n];
		/* '=' ends a key in `--label KEY=VALUE`; blanks and controls
		 * would make `{k=v k2=v2}` ambiguous. */
		if (c <= ' ' || c == '=' || c == 0x7f)
			return -EINVAL;
		if (n + 1 >= TT_LABEL_KEY_MAX)
			return -ENAMETOOLONG;
	}
	return 0;
}

static int label_check(const char *key, const char *value)
{
	int rc = label_key_check(key);
	if (rc)
		return rc;
	if (value && strnlen(value, TT_LABEL_VALUE_MAX) >= TT_LABEL_VALUE_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* The slot's label block, allocated at its first label from memory that
 * is never freed or unmapped (registry.c): a reader in another process
 * may hold the slot's pointer to it, like a slot address.  0 or -ENOMEM. */
static int labels_ensure(tt_task *t)
{
	if (TT_LIKELY(t->labels))
		return 0;
	struct tt_label_block *b = tt_label_block_alloc(sizeof *b);
	if (!b)
		return -ENOMEM;
	b->capacity = TT_TASK_LABELS_MAX;
	t->labels = b;
	return 0;
}

static int label_find(const tt_task *t, uint32_t n, const char *key)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(t->labels->rec[i].key, key) == 0)
			return (int)i;
	return -1;
}

/* Checked: KEY and VALUE fit. */
static int label_put(tt_task *t, const char *key, const char *value)
{
	uint32_t n = atomic_load_explicit(&t->label_count, RELAXED);
	int i = label_find(t, n, key);
	if (!value) {
		if (i >= 0) {
			if ((uint32_t)i != n - 1)
				t->labels->rec[i] = t->labels->rec[n - 1];
			atomic_store_explicit(&t->label_count, n - 1, RELAXED);
		}
		return 0;
	}
	if (i < 0) {
		if (n == TT_TASK_LABELS_MAX)
			return -ENOSPC;
		if (labels_ensure(t))
			return -ENOMEM;
		i = (int)n;
		memset(t->labels->rec[i].key, 0, sizeof t->labels->rec[i].key);
		memcpy(t->labels->rec[i].key, key, strlen(key));
	}
	memset(t->labels->rec[i].value, 0, sizeof t->labels->rec[i].value);
	memcpy(t->labels->rec[i].value, value, strlen(value));
	if ((uint32_t)i == n)
		atomic_store_explicit(&t->label_count, n + 1, RELAXED);
	return 0;
}

/* Before a slot is taken: would the parent's labels plus these fit? */
static int spawn_labels_check(const tt_task *parent, const tt_label *l, size_t n)
{
	uint32_t have = parent ? atomic_load_explicit(&parent->label_count, RELAXED) : 0;
	uint32_t count = have;
	if (!l)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int rc = label_check(l[i].key, l[i].value);
		if (rc)
			return rc;
		if (!l[i].value || (parent && label_find(parent, have, l[i].key) >= 0))
			continue;
		int dup = 0;
		for (size_t j = 0; j < i; j++)
			dup |= l[j].value && strcmp(l[j].key, l[i].key) == 0;
		if (!dup && ++count > TT_TASK_LABELS_MAX)
			return -ENOSPC;
	}
	return 0;
}

_Static_assert(offsetof(struct tt_hist_block, delay) ==
		   offsetof(struct tt_hist_block, poll) + sizeof(((struct tt_hist_block *)0)->poll),
	       "the spawn empties both histograms with one memset");

/* Both histograms to 0 in eight 16-byte stores (a memset of 128 bytes
 * is a `rep stos`, ~30 cycles to start). */
static inline void hist_empty(struct tt_hist_block *h)
{
	typedef uint64_t zero16 __attribute__((vector_size(16), aligned(8), may_alias));
	zero16 *z = (zero16 *)(void *)h->poll;
	_Static_assert((sizeof h->poll + sizeof h->delay) % sizeof(zero16) == 0, "whole stores");
#pragma GCC unroll 8
	for (size_t i = 0; i < (sizeof h->poll + sizeof h->delay) / sizeof(zero16); i++)
		z[i] = (zero16){0, 0};
}

/* Inlined in tt_spawn_at, the hot path, and in tt_spawn_task. */
static inline __attribute__((always_inline)) tt_task *
spawn(tt_runtime *rt, const tt_spawn_opts *opts, tt_frame *root, const tt_site *spawn_site,
      struct tt_group *group, const tt_label *labels, size_t nlabels)
{
	tt_task *parent = tt__tls_task;
	if (!rt)
		rt = parent ? parent->rt : NULL;
	if (!rt || atomic_load_explicit(&rt->shutdown, RELAXED)) {
		errno = rt ? ECANCELED : EINVAL;
		return NULL;
	}
	if (nlabels) {
		int rc = spawn_labels_check(parent, labels, nlabels);
		if (rc) {
			errno = -rc;
			return NULL;
		}
	}
	tt_task *t = tt_slot_alloc();
	uint32_t nl = parent ? atomic_load_explicit(&parent->label_count, RELAXED) : 0;
	if (!t || (TT_UNLIKELY(nl || nlabels) && labels_ensure(t))) {
		if (t)
			tt_slot_free(t); /* never published: id is 0 */
		errno = ENOMEM;
		return NULL;
	}
	/* seq goes on from the slot's last task instead of starting again at
	 * 0, and moves by two while the record is filled: a reader that
	 * copied the slot before it was freed and taken again sees seq move
	 * (docs/registry-abi.md §7). */
	seq_enter(t);
	/* Two vector stores and a byte loop: a task name is a few bytes, and
	 * strnlen and memcpy were two library calls a spawn. */
	memset(t->name, 0, sizeof t->name);
	if (opts && opts->name) {
		const char *name = opts->name;
		size_t n = 0;
		for (; n < sizeof t->name - 1 && name[n]; n++)
			t->name[n] = name[n];
		/* Cut between characters: half a UTF-8 sequence would print
		 * as bytes (\xd0) in every reader. */
		if (name[n])
			while (n && ((unsigned char)name[n] & 0xc0) == 0x80)
				t->name[--n] = 0;
	}
	t->parent_id = parent ? atomic_load_explicit(&parent->id, RELAXED) : 0;
	/* Inherited: the parent is the calling thread's task, so nobody
	 * changes its labels during the copy. */
	if (TT_UNLIKELY(nl))
		memcpy(t->labels, parent->labels, nl * sizeof t->labels->rec[0]);
	atomic_store_explicit(&t->label_count, nl, RELAXED);
	for (size_t i = 0; i < nlabels; i++)
		label_put(t, labels[i].key, labels[i].value);
	t->spawn_site = spawn_site;
	atomic_store_explicit(&t->root, root, RELAXED);
	atomic_store_explicit(&t->state, TT_STATE_SCHEDULED, RELAXED);
	atomic_store_explicit(&t->flags, opts ? opts->flags : 0, RELAXED);
	t->created_ns = spawn_stamp();
	atomic_store_explicit(&t->poll_start_ns, 0, RELAXED);
	atomic_store_explicit(&t->poll_end_ns, 0, RELAXED);
	atomic_store_explicit(&t->wake_ns, t->created_ns, RELAXED);
	atomic_store_explicit(&t->polls, 0, RELAXED);
	atomic_store_explicit(&t->wake_polls, 0, RELAXED);
	/* A reused slot keeps its histogram block (§5.13): emptied, with a
	 * few vector stores (a loop of 32 atomic stores was ~110
	 * instructions a spawn, and in a long run nearly every slot has a
	 * block: one delay across a clock tick is enough).  Plain stores:
	 * the slot is not published, and the readers of the block are
	 * outside the C memory model (seq, §7). */
	if (TT_UNLIKELY(t->hist))
		hist_empty(t->hist);
	atomic_store_explicit(&t->busy_ns, 0, RELAXED);
	atomic_store_explicit(&t->self_wakes, 0, RELAXED);
	atomic_store_explicit(&t->wakers, 0, RELAXED);
	t->runtime_id = rt->id;
	t->rt = rt;
	t->free_root = opts ? opts->free_root : NULL;
	t->joiners = NULL;
	t->guards = NULL;
	/* Linked before it can run: its completion reports to the group. */
	atomic_store_explicit(&t->group, group, RELAXED);
	atomic_store_explicit(&t->done, 0, RELAXED);
	atomic_store_explicit(&t->handles, 1, RELAXED);
	/* handle + alive + queued */
	atomic_store_explicit(&t->sched, 3 * SCHED_REF | SCHED_NOTIFIED, RELAXED);
	TT_RECORD(tt_registry_tasks_live(1));
	seq_leave(t);
	/* Publishing the id makes the slot visible to readers: last. */
	uint64_t id = tt_next_task_id();
	atomic_store_explicit(&t->id, id, RELEASE);
	if (tt_flight_on())
		tt_flight_here(TT_EV_SPAWN, id, t->parent_id, (uintptr_t)spawn_site, 0);
	tt_schedule(t);
	return t;
}

tt_task *tt_spawn_task(tt_runtime *rt, const tt_spawn_opts *opts, tt_frame *root,
		       const tt_site *spawn_site, struct tt_group *group)
{
	return spawn(rt, opts, root, spawn_site, group, NULL, 0);
}

tt_handle tt_spawn_at(tt_runtime *rt, const tt_spawn_opts *opts, tt_frame *root,
		      const tt_site *spawn_site)
{
	tt_task *t = NULL;
	if (!rt || (rt = tt_runtime_from_handle(rt, "tt_spawn_at")))
		t = spawn(rt, opts, root, spawn_site, NULL, NULL, 0);
	return t ? (tt_handle){t, atomic_load_explicit(&t->gen, RELAXED)} : (tt_handle){NULL, 0};
}

tt_handle tt_spawn_labeled_at(tt_runtime *rt, const tt_spawn_opts *opts, const tt_label *labels,
			      size_t nlabels, tt_frame *root, const tt_site *spawn_site)
{
	tt_task *t = NULL;
	if (!rt || (rt = tt_runtime_from_handle(rt, "tt_spawn_labeled_at")))
		t = spawn(rt, opts, root, spawn_site, NULL, labels, nlabels);
	return t ? (tt_handle){t, atomic_load_explicit(&t->gen, RELAXED)} : (tt_handle){NULL, 0};
}

int tt_task_set_label(tt_handle h, const char *key, const char *value)
{
	tt_task *t = tt_handle_get(h, TT_HANDLE_READ, "tt_task_set_label");
	if (!t)
		return -errno;
	int rc = label_check(key, value);
	if (rc)
		return rc;
	if (t != tt__tls_task)
		return -EPERM;
	/* We are inside T's poll, seq odd: moving it on by two (still odd)
	 * before the stores tells a reader that copied the slot meanwhile
	 * that the copy is stale, as a new poll would (registry-abi.md §7). */
	if (TT_RECORDING) {
		atomic_store_explicit(&t->seq, atomic_load_explicit(&t->seq, RELAXED) + 2, RELAXED);
		tt_seqlock_fence();
	}
	return label_put(t, key, value);
}

const char *tt_task_label(tt_handle h, const char *key)
{
	tt_task *t = tt_handle_get(h, TT_HANDLE_READ, "tt_task_label");
	if (!t || label_key_check(key))
		return NULL;
	int i = label_find(t, atomic_load_explicit(&t->label_count, RELAXED), key);
	return i >= 0 ? t->labels->rec[i].value : NULL;
}

/* ---- handles (handle.c says why they carry a generation) ----
 *
 * What a borrowed handle reads may belong to the task's successor if the
 * slot is reused meanwhile: the read is checked again after. */

static int borrowed_gone(tt_handle h, tt_task *t)
{
	return (h.gen & TT_HANDLE_BORROWED) &&
	       atomic_load_explicit(&t->id, ACQUIRE) != (h.gen & ~TT_HANDLE_BORROWED);
}

uint64_t tt_task_id(tt_handle h)
{
	tt_task *t = tt_handle_get(h, TT_HANDLE_READ, "tt_task_id");
	if (!t)
		return 0;
	return (h.gen & TT_HANDLE_BORROWED) ? h.gen & ~TT_HANDLE_BORROWED
					    : atomic_load_explicit(&t->id, RELAXED);
}

const char *tt_task_name(tt_handle h)
{
	tt_task *t = tt_handle_get(h, TT_HANDLE_READ, "tt_task_name");
	return t ? t->name : NULL;
}

tt_handle tt_current_task(void)
{
	return tt_handle_borrow(tt__tls_task);
}

tt_handle tt_task_ref(tt_handle h)
{
	tt_task *t = tt_handle_get(h, TT_HANDLE_OWNED, "tt_task_ref");
	if (!t)
		return (tt_handle){NULL, 0};
	atomic_fetch_add_explicit(&t->handles, 1, RELAXED);
	task_ref(t, 1);
	return h;
}

int tt_task_release(tt_handle h)
{
	if (!h.task)
		return 0;
	tt_task *t = tt_handle_take(h, "tt_task_release");
	if (!t)
		return -errno;
	tt_task_unref(t);
	return 0;
}

int tt_task_detach(tt_handle h)
{
	if (!h.task)
		return 0;
	tt_task *t = tt_handle_take(h, "tt_task_detach");
	if (!t)
		return -errno;
	atomic_fetch_or_explicit(&t->flags, TT_TASKF_DETACHED, RELAXED);
	tt_task_unref(t);
	return 0;
}

int tt_task_is_done(tt_handle h)
{
	tt_task *t = tt_handle_get(h, TT_HANDLE_READ, "tt_task_is_done");
	if (!t)
		return -errno;
	int done = tt_task_done(t);
	return borrowed_gone(h, t)
		   ? tt_handle_misuse("tt_task_is_done", "stale task handle", TT_ESTALE)
		   : done;
}

intptr_t tt_task_result(tt_handle h)
{
	tt_task *t = tt_handle_get(h, TT_HANDLE_READ, "tt_task_result");
	if (!t)
		return -errno;
	/* Before completion the word holds the joins, not a result. */
	intptr_t r = tt_task_done(t) ? t->result : 0;
	return borrowed_gone(h, t)
		   ? tt_handle_misuse("tt_task_result", "stale task handle", TT_ESTALE)
		   : r;
}

/* ---- waking ---- */

/* Notify T.  BY_VAL: the caller gives up a waker, whose task reference
 * becomes the run queue's if T gets queued (and is dropped otherwise), so
 * a wake costs no reference-count traffic of its own.  The live-waker count
 * goes down before T is queued: once queued, T may run, finish and free its
 * slot on another worker before this thread would get to it. */
static void wake(tt_task *t, int by_val)
{
	uint64_t s = atomic_load_explicit(&t->sched, ACQUIRE);
	for (;;) {
		if (s & (SCHED_COMPLETE | SCHED_NOTIFIED))
			goto no_queue;
		if (atomic_compare_exchange_weak_explicit(&t->sched, &s, s | SCHED_NOTIFIED,
							  ACQ_REL, ACQUIRE))
			break;
	}
	/* (The wake itself is counted by the poll it leads to: see wakes in
	 * tt_task_poll.) */
	if (s & SCHED_RUNNING) {
		/* Its worker re-queues it after this poll, and stamps wake_ns
		 * then: it is runnable from the end of the poll, not before.
		 * Only T's own poller can be T, and only it writes self_wakes. */
		if (TT_RECORDING && tt__tls_task == t)
			bump(&t->self_wakes, 1);
		else if (TT_RECORDING && tt_flight_on()) /* (its YIELD says a self-wake) */
			tt_flight_here(TT_EV_WAKE, tt_task_id_of(t), tt_current_id(), 0, 1);
		goto no_queue;
	}
	if (TT_RECORDING) {
		atomic_store_explicit(&t->wake_ns, tt_clock_cached(), RELAXED);
		atomic_store_explicit(&t->wake_polls,
				      (uint32_t)atomic_load_explicit(&t->polls, RELAXED), RELAXED);
		atomic_store_explicit(&t->state, TT_STATE_SCHEDULED, RELAXED);
		if (tt_flight_on())
			tt_flight_here(TT_EV_WAKE, tt_task_id_of(t), tt_current_id(), 0, 0);
	}
	if (by_val)
		atomic_fetch_sub_explicit(&t->wakers, 1, RELAXED);
	else
		task_ref(t, 1);
	tt_schedule(t);
	return;
no_queue:
	if (by_val) {
		atomic_fetch_sub_explicit(&t->wakers, 1, RELAXED);
		tt_task_unref(t);
	}
}

tt_waker(tt_waker_new)(tt_cx *cx)
{
	return tt__waker_new(cx);
}

void tt_waker_drop(tt_waker *w)
{
	tt_task *t = w->task;
	if (!t)
		return;
	w->task = NULL;
	atomic_fetch_sub_explicit(&t->wakers, 1, RELAXED);
	tt_task_unref(t);
}

void tt_waker_wake_by_ref(const tt_waker *w)
{
	if (w->task)
		wake(w->task, 0);
}

void tt_waker_wake(tt_waker *w)
{
	tt_task *t = w->task;
	if (!t)
		return;
	w->task = NULL;
	wake(t, 1);
}

tt_handle tt_cx_task(tt_cx *cx)
{
	return tt_handle_borrow(cx->task);
}

int tt_cx_cancelled(tt_cx *cx)
{
	return (atomic_load_explicit(&cx->task->flags, RELAXED) &
		TT_TASKF_CANCEL_REQUESTED) != 0;
}

/* Inside T's own poll: T is RUNNING and cannot complete meanwhile, so the
 * wake is only the NOTIFIED bit (its worker re-queues it after the poll)
 * and, when that bit is new, a self-wake. */
void tt_cx_wake_self(tt_cx *cx)
{
	tt_task *t = cx->task;
	uint64_t s = atomic_load_explicit(&t->sched, RELAXED);
	if (s & SCHED_NOTIFIED)
		return;
	/* Another thread's wake between the load and the OR would be counted
	 * here too: at worst a self-wake too many (readers cap self_wakes at
	 * wakes), for no branch on the OR's result. */
	atomic_fetch_or_explicit(&t->sched, SCHED_NOTIFIED, ACQ_REL);
	if (TT_RECORDING)
		bump(&t->self_wakes, 1);
}

void tt_task_request_cancel(tt_task *t)
{
	atomic_fetch_or_explicit(&t->flags, TT_TASKF_CANCEL_REQUESTED, RELEASE);
	wake(t, 0);
}

int tt_task_cancel(tt_handle h)
{
	tt_task *t = tt_handle_get(h, TT_HANDLE_READ, "tt_task_cancel");
	if (!t)
		return -errno;
	tt_task_request_cancel(t);
	return 0;
}

/* ---- completion and join ---- */

static void futex_wake_all(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* Called inside the odd-seq window: the root frame disappears for
 * readers together with the state change. */
static void complete(tt_task *t, intptr_t result, int cancelled)
{
	/* Guards whose frame never ended (one polled by hand and abandoned):
	 * a mutex held by a task that is gone is never released otherwise. */
	if (TT_UNLIKELY(t->guards))
		tt_guards_release(t, NULL);
	tt_frame *root = atomic_load_explicit(&t->root, RELAXED);
	atomic_store_explicit(&t->root, NULL, RELAXED);
	/* TT_SPAWN's frame: freed with the slot (spent_root); a program's
	 * own free_root runs now, when the task ends, as runtime.h says. */
	void *spent = NULL;
	if (t->free_root == tt_frame_free)
		spent = root;
	else if (t->free_root)
		t->free_root(root);
	t->spent_root = spent;
	atomic_store_explicit(&t->state, cancelled ? TT_STATE_CANCELLED : TT_STATE_DONE,
			      RELAXED);
	/* Under the lock: a join future may be cancelled and freed by its own
	 * worker as soon as we let go of it. */
	tt_lockword_lock(&t->join_lock);
	tt_join *joiners = t->joiners;
	t->result = result; /* (in the joiners' room) */
	atomic_fetch_or_explicit(&t->sched, SCHED_COMPLETE, SEQ_CST);
	for (tt_join *j = joiners, *next; j; j = next) {
		next = j->next;
		j->prev = j->next = NULL;
		tt_waker w = j->waker;
		j->waker.task = NULL;
		tt_waker_wake(&w);
	}
	tt_lockword_unlock(&t->join_lock);
	/* The system call only for a thread asleep in tt_task_wait: most
	 * tasks are joined by a task, or never. */
	if (atomic_exchange_explicit(&t->done, TASK_DONE, ACQ_REL) & TASK_WAITED)
		futex_wake_all(&t->done);
	struct tt_group *g = atomic_exchange_explicit(&t->group, NULL, SEQ_CST);
	if (g)
		tt_group_child_done(g, t, result);
}

/* The histograms (§5.13).  Only a measure of a tick or more gets here: a
 * poll in which the coarse clock did not move is bucket 0, which readers
 * derive, so the usual poll writes nothing.  Inside T's seq window (its
 * poll), where the slot's block pointer is published too. */
static __attribute__((noinline, cold)) void hist_note(tt_task *t, int delay, uint64_t ns)
{
	uint64_t ms = ns / 1000000;
	if (!ms)
		return;
	unsigned b = 64 - (unsigned)__builtin_clzll(ms);
	if (b >= TT_HIST_BUCKETS)
		b = TT_HIST_BUCKETS - 1;
	struct tt_hist_block *h = t->hist;
	if (!h) {
		/* Zeroed, never freed or unmapped: a reader may hold the
		 * pointer.  Out of memory: the count is lost, not the task. */
		h = tt_label_block_alloc(sizeof *h);
		if (!h)
			return;
		h->buckets = TT_HIST_BUCKETS;
		t->hist = h;
	}
	_Atomic uint32_t *c = delay ? &h->delay[b] : &h->poll[b];
	atomic_store_explicit(c, atomic_load_explicit(c, RELAXED) + 1, RELAXED);
}

/* The scheduled delay of a poll that ends pending or done, when its start
 * stamp is not its wake stamp (the clock moved between): counted if this
 * poll is the first since the wake (a yield in between would add its
 * polls to the delay) and the stamps are in order (a foreign thread's
 * wake reads the clock afresh, a worker's start stamp may be a poll old). */
static __attribute__((noinline, cold)) void hist_delay(tt_task *t)
{
	uint64_t start = atomic_load_explicit(&t->poll_start_ns, RELAXED);
	uint64_t wake = atomic_load_explicit(&t->wake_ns, RELAXED);
	uint32_t polls = (uint32_t)atomic_load_explicit(&t->polls, RELAXED);
	if (start > wake && polls == atomic_load_explicit(&t->wake_polls, RELAXED) + 1)
		hist_note(t, 1, start - wake);
}

static inline __attribute__((always_inline)) void delay_end(tt_task *t)
{
	if (TT_RECORDING && TT_UNLIKELY(atomic_load_explicit(&t->poll_start_ns, RELAXED) !=
					atomic_load_explicit(&t->wake_ns, RELAXED)))
		hist_delay(t);
}

/* The end of a poll, recorded: the poll count, and when the clock moved,
 * the end stamp and busy time.  The clock is the clock thread's copy of
 * the coarse clock (a load, not a call): it moves once a tick, so most
 * polls end in the tick they began, and then the end stamp equals the
 * start stamp already stored (readers take the later of the two, §5.3)
 * and adds no busy time.  The copy may be behind the worker's own read
 * after a park: the stamp then waits for the copy to catch up. */
static inline __attribute__((always_inline)) void poll_end(tt_worker *w, tt_task *t)
{
	if (!TT_RECORDING)
		return;
	uint64_t end = tt_stamp_recent();
	if (TT_UNLIKELY(end > w->now)) {
		uint64_t start = w->now;
		w->now = end;
		atomic_store_explicit(&t->poll_end_ns, end, RELAXED);
		bump(&t->busy_ns, end - start);
		/* After the count: a reader never sees more in the buckets
		 * than polls. */
		bump(&t->polls, 1);
		hist_note(t, 0, end - start);
	} else {
		bump(&t->polls, 1);
	}
	atomic_store_explicit(&w->rec->task, NULL, RELAXED);
}

/* A poll of T that ended pending, recorded on W's ring R with where T
 * waits: the innermost frame's await site, its leaf's object and wait
 * kind (out of line: the frame walk is the recorder's longest step). */
static __attribute__((noinline)) void flight_suspend(tt_flight_ring *r, tt_worker *w, tt_task *t)
{
	const tt_site *site = NULL;
	const tt_wait *wait = NULL;
	tt_frame *f = atomic_load_explicit(&t->root, RELAXED);
	/* Bounded: a frame chain deeper than this is cut, not walked. */
	for (int depth = 0; f && depth < 256; depth++) {
		if (f->func && f->func->kind == TT_FUNC_KIND_LEAF) {
			wait = &((tt_leaf *)f)->wait;
			break;
		}
		if (f->site)
			site = f->site;
		f = f->child;
	}
	tt_flight_put(r, TT_EV_SUSPEND, w->now, tt_task_id_of(t), (uintptr_t)site,
		      wait ? (uintptr_t)wait->object : 0, wait ? wait->kind : 0,
		      atomic_load_explicit(&t->poll_start_ns, RELAXED));
}

/* A poll of T that ended otherwise (KIND: YIELD, DONE, CANCEL): the
 * event's arguments are not written, readers ignore them (§5.12). */
static inline __attribute__((always_inline)) void flight_poll(tt_flight_ring *r, tt_worker *w,
							     tt_task *t, uint32_t kind)
{
	uint64_t pos;
	tt_flight_event *e = tt_flight_slot(r, &pos);
	atomic_store_explicit(&e->stamp_ns, w->now, RELAXED);
	atomic_store_explicit(&e->task, tt_task_id_of(t), RELAXED);
	atomic_store_explicit(&e->kind, kind, RELAXED);
	atomic_store_explicit(&e->start_ns, atomic_load_explicit(&t->poll_start_ns, RELAXED),
			      RELAXED);
	tt_flight_commit(r, e, pos);
}

/* FR: W's flight recorder ring, or NULL; constant in each copy below. */
static inline __attribute__((always_inline)) void tt_task_poll_inline(tt_worker *w, tt_task *t,
							  tt_flight_ring *fr)
{
	uint64_t s = atomic_load_explicit(&t->sched, ACQUIRE);
	while (!atomic_compare_exchange_weak_explicit(
	    &t->sched, &s, (s & ~SCHED_NOTIFIED) | SCHED_RUNNING, ACQ_REL, ACQUIRE))
		;
	if (s & SCHED_COMPLETE) { /* a stale queue entry */
		atomic_fetch_and_explicit(&t->sched, ~SCHED_RUNNING, RELEASE);
		tt_task_unref(t);
		return;
	}
	/* What a poll records, and no more (docs/registry-abi.md §7, "What
	 * a poll writes"): seq, the start stamp, the worker's task pointer,
	 * and at the end the poll count and, when the coarse clock moved, the
	 * end stamp and busy time.  Readers derive the rest: running from the
	 * odd seq, the task's worker from the worker record that points at
	 * the slot, that record's task id and start from the slot, wakes from
	 * polls, a yield's wake time from the poll's end. */
	seq_enter(t);
	if (TT_RECORDING) {
		atomic_store_explicit(&t->poll_start_ns, w->now, RELAXED);
		atomic_store_explicit(&w->rec->task, t, RELAXED);
	}
	tt_cx cx = {t, w};
	tt_frame *root = atomic_load_explicit(&t->root, RELAXED);
	tt__tls_task = t;
	int ready, cancelled = 0;
	if (atomic_load_explicit(&t->flags, ACQUIRE) & TT_TASKF_CANCEL_REQUESTED) {
		tt_frame_cancel(root);
		ready = cancelled = 1;
	} else {
		ready = tt_frame_poll(root, &cx) == TT_READY;
	}
	tt__tls_task = NULL;
	if (TT_UNLIKELY(ready)) {
		complete(t, cancelled ? TT_ECANCELED : root->result, cancelled);
		poll_end(w, t);
		delay_end(t);
		if (fr)
			flight_poll(fr, w, t, cancelled ? TT_EV_CANCEL : TT_EV_DONE);
		seq_leave(t);
		/* Clear RUNNING (set: subtracting clears it) and drop the alive
		 * and queue references. */
		s = atomic_fetch_sub_explicit(&t->sched, SCHED_RUNNING + 2 * SCHED_REF, ACQ_REL);
		if ((s >> 32) == 2)
			slot_release(t);
		return;
	}
	poll_end(w, t);
	/* Woken during the poll (a yield, or a wake from elsewhere): T keeps
	 * the queue reference and goes back to a queue.  NOTIFIED is set and
	 * stays set until T is polled again, and COMPLETE cannot be (T is not
	 * ready), so clearing RUNNING is the only change to make.  The state
	 * field was SCHEDULED when this poll began and a poll leaves it so:
	 * nothing more to record. */
	s = atomic_load_explicit(&t->sched, RELAXED);
	if (s & SCHED_NOTIFIED) {
		if (fr)
			flight_poll(fr, w, t, TT_EV_YIELD);
		seq_leave(t);
		atomic_fetch_and_explicit(&t->sched, ~SCHED_RUNNING, ACQ_REL);
		tt_schedule(t);
		return;
	}
	/* Pending: back to idle, dropping the queue reference -- unless woken
	 * meanwhile: then we still own the queue reference and pass it on.
	 * The seqlock window closes before RUNNING is cleared: from then on
	 * a wake may queue T and another worker begin polling it (and enter
	 * the window itself). */
	if (fr)
		flight_suspend(fr, w, t);
	delay_end(t);
	TT_RECORD(atomic_store_explicit(&t->state, TT_STATE_IDLE, RELAXED));
	seq_leave(t);
	uint64_t to;
	do
		to = (s & ~SCHED_RUNNING) - ((s & SCHED_NOTIFIED) ? 0 : SCHED_REF);
	while (!atomic_compare_exchange_weak_explicit(&t->sched, &s, to, ACQ_REL, RELAXED));
	if (s & SCHED_NOTIFIED) {
		/* Woken after the window closed: not queued yet, so nobody else
		 * polls T before tt_schedule. */
		TT_RECORD(atomic_store_explicit(&t->state, TT_STATE_SCHEDULED, RELAXED));
		tt_schedule(t);
	} else if ((to >> 32) == 0) { /* (the alive reference makes this unlikely) */
		slot_release(t);
	}
}

/* Runs one poll of T on worker W, consuming the queue reference: without
 * the flight recorder, and with it (on W's ring).  The worker calls the
 * one its fr says through a pointer (tt_flight_refresh), so a recorder
 * switched off costs the poll path no instruction at all. */
TT_DISPATCH void tt_task_poll(tt_worker *w, tt_task *t)
{
	tt_task_poll_inline(w, t, NULL);
}

TT_DISPATCH void tt_task_poll_recorded(tt_worker *w, tt_task *t)
{
	tt_task_poll_inline(w, t, w->fr);
}

void tt_task_abandon(tt_task *t)
{
	uint64_t s = atomic_fetch_or_explicit(&t->sched, SCHED_RUNNING, ACQ_REL);
	if (s & (SCHED_COMPLETE | SCHED_RUNNING))
		return;
	tt_task *prev = tt__tls_task;
	tt__tls_task = t;
	seq_enter(t);
	atomic_fetch_or_explicit(&t->flags, TT_TASKF_CANCEL_REQUESTED, RELAXED);
	tt_frame_cancel(atomic_load_explicit(&t->root, RELAXED));
	complete(t, TT_ECANCELED, 1);
	seq_leave(t);
	if (tt_flight_on())
		tt_flight_here(TT_EV_CANCEL, tt_task_id_of(t), 0, 0, 0);
	tt__tls_task = prev;
	atomic_fetch_and_explicit(&t->sched, ~SCHED_RUNNING, RELEASE);
	tt_task_unref(t); /* alive */
}

intptr_t tt_task_join_blocking(tt_handle h)
{
	/* Owned: the handle's reference keeps the slot, and its done word,
	 * from being reused while we wait. */
	tt_task *t = tt_handle_get(h, TT_HANDLE_OWNED, "tt_task_join_blocking");
	return t ? tt_task_wait(t) : -errno;
}

intptr_t tt_task_wait(tt_task *t)
{
	uint32_t d = atomic_load_explicit(&t->done, ACQUIRE);
	while (!(d & TASK_DONE)) {
		/* Say we sleep before sleeping: completion's exchange then
		 * sees TASK_WAITED, or we see TASK_DONE here. */
		if (d & TASK_WAITED || atomic_compare_exchange_weak_explicit(
					   &t->done, &d, TASK_WAITED, ACQ_REL, ACQUIRE)) {
			syscall(SYS_futex, &t->done, FUTEX_WAIT_PRIVATE, TASK_WAITED, NULL, NULL,
				0);
			d = atomic_load_explicit(&t->done, ACQUIRE);
		}
	}
	return t->result;
}

static tt_poll join_poll(tt_join *j, tt_cx *cx);
static void join_drop(tt_join *j);
TT_LEAF_FN(tt_join, join_poll, join_drop);

void tt_join_init(tt_join *j, tt_handle handle)
{
	tt_frame_init(&j->leaf.frame, &tt_join_fn);
	tt_wait_clear(&j->leaf.wait);
	/* The handle is given up now, so a second join of it is refused here
	 * rather than joining whatever task holds the slot by then. */
	j->task = tt_handle_take(handle, "tt_join_init");
	if (!j->task)
		j->leaf.frame.result = -errno;
	j->waker.task = NULL;
	j->prev = j->next = NULL;
}

static void unlink_waiter(tt_task *t, tt_join *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else if (t->joiners == w)
		t->joiners = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->next = w->prev = NULL;
}

TT_DISPATCH static tt_poll join_poll(tt_join *j, tt_cx *cx)
{
	tt_task *t = j->task;
	tt_join *w = j;
	if (!t) /* a refused handle (tt_join_init), or polled again once ready */
		return TT_READY;
	/* Under the lock even when T looks complete: complete() sets COMPLETE
	 * before it unlinks the registered joins and takes back their wakers,
	 * and a join polled again meanwhile (select, timeout, join_all) must not
	 * return ready -- and have its frame freed or reused -- until T's
	 * completing thread has let go of it. */
	tt_lockword_lock(&t->join_lock);
	if (!(atomic_load_explicit(&t->sched, ACQUIRE) & SCHED_COMPLETE)) {
		if (!w->waker.task) {
			w->waker = tt_waker_new(cx);
			w->prev = NULL;
			w->next = t->joiners;
			if (w->next)
				w->next->prev = w;
			t->joiners = w;
		}
		tt_lockword_unlock(&t->join_lock);
		if (!j->leaf.wait.kind)
			tt_wait_set(&j->leaf.wait, TT_WAIT_JOIN, t,
				    atomic_load_explicit(&t->id, RELAXED), 0);
		return TT_PENDING;
	}
	tt_lockword_unlock(&t->join_lock);
	j->leaf.frame.result = t->result;
	/* Set only by a pending poll: a join of a task already done (the
	 * usual one) finds the record tt_join_init cleared. */
	if (j->leaf.wait.kind)
		tt_wait_clear(&j->leaf.wait);
	j->task = NULL;
	tt_task_unref(t);
	return TT_READY;
}

static void join_drop(tt_join *j)
{
	tt_task *t = j->task;
	if (!t)
		return;
	tt_join *w = j;
	tt_waker waker = {NULL};
	tt_lockword_lock(&t->join_lock);
	if (w->waker.task) {
		unlink_waiter(t, w);
		waker = w->waker;
		w->waker.task = NULL;
	}
	tt_lockword_unlock(&t->join_lock);
	tt_waker_drop(&waker);
	tt_wait_clear(&j->leaf.wait);
	j->task = NULL;
	tt_task_unref(t);
}
