/* Runtime-private structures shared by the core-runtime sources. */
#ifndef TT_INTERNAL_H
#define TT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "tasktrace/runtime.h"
#include "tasktrace/sync.h"
#include "tasktrace/timer.h"
#include "tasktrace_config.h"

#define TT_LIKELY(x) __builtin_expect(!!(x), 1)
#define TT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TT_RECORD(stmt)                                                    \
	do {                                                                     \
		if (TT_RECORDING) {                                                    \
			stmt;                                                                \
		}                                                                      \
	} while (0)

/* The runtime's dispatch, the frames between a thread's start and a task's
 * poll function (the worker loop, a task's poll, the combinators' polls,
 * the blocking pool), lives in a section of its own: the crash handler
 * tells executor frames from the program's by its bounds, which a static
 * link keeps (reporters/crash_bt.c). */
#define TT_DISPATCH __attribute__((section("tasktrace_text")))

#define RELAXED memory_order_relaxed
#define ACQUIRE memory_order_acquire
#define RELEASE memory_order_release
#define ACQ_REL memory_order_acq_rel
#define SEQ_CST memory_order_seq_cst

/* Fences for handshakes.  TSan does not model fences, so under it a
 * seq_cst read-modify-write of the flag itself stands in (slower, same
 * guarantee); the seqlock's release fence only orders stores for readers
 * outside the C memory model (other processes), which TSan never sees. */
#if defined(__SANITIZE_THREAD__)
#define tt_dekker_load(p) atomic_fetch_add_explicit((p), 0, SEQ_CST)
#define tt_seqlock_fence() ((void)0)
#define tt_dekker_fence() ((void)0)
#else
#define tt_dekker_load(p) (atomic_thread_fence(SEQ_CST), atomic_load_explicit((p), RELAXED))
#define tt_seqlock_fence() atomic_thread_fence(RELEASE)
#define tt_dekker_fence() atomic_thread_fence(SEQ_CST)
#endif

typedef struct tt_worker tt_worker;

/* ---- lockword.c: the sync primitives' internal lock (sync.h) ----
 * Uncontended: one CAS to lock, one exchange to unlock, inlined. */
void tt_lockword_lock_slow(tt_lockword *l);
void tt_lockword_wake(tt_lockword *l);
static inline void tt_lockword_init(tt_lockword *l)
{
	__atomic_store_n(&l->state, 0, __ATOMIC_RELAXED);
}
static inline void tt_lockword_lock(tt_lockword *l)
{
	uint32_t free = 0;
	if (TT_UNLIKELY(!__atomic_compare_exchange_n(&l->state, &free, 1, 0, __ATOMIC_ACQUIRE,
						     __ATOMIC_RELAXED)))
		tt_lockword_lock_slow(l);
}
static inline void tt_lockword_unlock(tt_lockword *l)
{
	if (TT_UNLIKELY(__atomic_exchange_n(&l->state, 0, __ATOMIC_RELEASE) == 2))
		tt_lockword_wake(l);
}

/* tt_task.sched: scheduling state bits in the low half, the task's
 * reference count in the high half -- one word, so that a poll that leaves
 * its task idle clears RUNNING and drops the run queue's reference in one
 * atomic operation. */
#define SCHED_NOTIFIED (1ull << 0) /* in a run queue, or to be re-queued */
#define SCHED_RUNNING (1ull << 1)
#define SCHED_COMPLETE (1ull << 2)
#define SCHED_REF (1ull << 32) /* one reference */
/* tt_task.done */
#define TASK_DONE 1u
#define TASK_WAITED 2u

/* A slot's labels, out of line (docs/registry-abi.md §5.10): how many
 * records the block holds, then the records. */
struct tt_label_rec {
	char key[TT_LABEL_KEY_MAX];
	char value[TT_LABEL_VALUE_MAX];
};
struct tt_label_block {
	uint32_t capacity;
	uint32_t reserved;
	struct tt_label_rec rec[TT_TASK_LABELS_MAX];
};

/* A slot's histograms (docs/registry-abi.md §5.13, TASK.HIST): log2
 * buckets of the poll duration and of the scheduled delay (wake to poll)
 * as the coarse clock measures them.  Bucket 0 (under a tick) is never
 * written: readers derive it from the poll count, so a poll in which the
 * clock did not move writes nothing here. */
struct tt_hist_block {
	uint32_t buckets;
	uint32_t reserved;
	_Atomic uint32_t poll[TT_HIST_BUCKETS];
	_Atomic uint32_t delay[TT_HIST_BUCKETS];
};

/* A task slot.  The first part is the registry record whose field offsets
 * the layout table publishes; the rest is private to the runtime.  Fields a
 * reader in another process sees are written with plain (relaxed) stores:
 * that reader synchronises through the seq number, not the C memory model. */
struct tt_task {
	_Atomic uint64_t id;
	_Atomic uint32_t seq;
	_Atomic uint32_t state;
	_Atomic uint32_t flags;
	/* Not published (readers derive the worker from the worker records,
	 * the wakes from polls: docs/registry-abi.md §5.3); their room in the
	 * slot is free. */
	/* In the room of the unpublished worker index: the poll count (low
	 * 32 bits) when a wake last queued the task, so that the first poll
	 * after it knows it is (the scheduled delay, §5.13). */
	_Atomic uint32_t wake_polls;
	char name[TT_TASK_NAME_MAX];
	uint64_t parent_id;
	const tt_site *spawn_site;
	tt_frame *_Atomic root;
	uint64_t created_ns;
	_Atomic uint64_t poll_start_ns;
	_Atomic uint64_t poll_end_ns;
	_Atomic uint64_t wake_ns;
	_Atomic uint64_t polls;
	_Atomic uint64_t busy_ns;
	/* In the room of the unpublished wake count (no slot growth):
	 * the slot's histograms (§5.13), allocated at its first bucket
	 * above 0 and kept with the slot for good, like its label block. */
	struct tt_hist_block *hist;
	_Atomic uint64_t self_wakes;
	_Atomic uint64_t wakers;
	uint64_t runtime_id;
	/* Written only under seq: at spawn, and by the task itself inside
	 * its poll (tt_task_set_label). */
	_Atomic uint32_t label_count;
	/* (Private, in what was padding: the slot is 256 bytes.) */
	uint32_t group_index; /* its place in the group's array, under its lock */
	/* Out of the slot (192 bytes most tasks never use): allocated at the
	 * slot's first label and kept with the slot for good, so a reader's
	 * pointer never dangles and the slot's seq covers its contents. */
	struct tt_label_block *labels;

	/* private */
	_Atomic uint64_t sched; /* SCHED_* bits | references * SCHED_REF */
	/* Futex word for blocking joins: TASK_DONE, and TASK_WAITED once a
	 * thread sleeps on it (only then does completion make the futex
	 * call). */
	_Atomic uint32_t done;
	uint32_t index; /* global slot index */
	tt_runtime *rt;
	tt_task *_Atomic next; /* run/injection queue and free-list link */
	/* Two fields a word each, one before the task completes and one
	 * after (16 bytes a slot less). */
	union {
		void (*free_root)(void *); /* until complete() calls it */
		/* From complete() on: a root frame of tt_frame_alloc, freed
		 * with the slot rather than at the end of the last poll, so on
		 * the joiner's worker -- usually the spawner's, whose frame
		 * cache the next spawn takes it from (freed on the worker that
		 * ran the task, the spawner's cache ran dry and the other's
		 * overflowed: both went to malloc).  NULL: nothing to free. */
		void *spent_root;
	};
	union {
		tt_join *joiners; /* join futures waiting, under join_lock */
		/* Stored under join_lock, before SCHED_COMPLETE; read once
		 * COMPLETE is seen (no join registers from then on). */
		intptr_t result;
	};
	struct tt_group *_Atomic group; /* reported to when it completes */
	/* Owned handles (handle.c): the generation they carry, bumped when the
	 * last one is given up (how many there are: handles, below). */
	_Atomic uint64_t gen;
	/* Lock guards held (guard.c): touched only by the thread polling the
	 * task, like its frames. */
	tt_guard *guards;
	/* The 4-byte fields together, after the pointers: no padding. */
	_Atomic uint32_t handles;
	/* A lock word, not a pthread mutex: two inline atomics per locked
	 * join poll and completion instead of two library calls, and 36
	 * bytes less per slot. */
	tt_lockword join_lock;
};

/* Registry worker record (published) + nothing private.  Per poll only
 * `task` changes: readers take the task's id and the poll's start from
 * that slot (docs/registry-abi.md §5.8). */
/* ---- flight.c: the flight recorder (docs/registry-abi.md §5.12) ---- */
typedef struct tt_flight_event {
	_Atomic uint64_t seq;
	_Atomic uint64_t stamp_ns;
	_Atomic uint64_t task;
	_Atomic uint64_t arg1;
	_Atomic uint64_t arg2;
	_Atomic uint32_t kind;
	_Atomic uint32_t arg3;
	_Atomic uint64_t start_ns;
} tt_flight_event;
typedef struct tt_flight_ring {
	uint64_t capacity; /* a power of two here (readers do not assume it) */
	_Atomic uint64_t head;
	tt_flight_event *events;
	int32_t worker;
	uint32_t reserved;
} tt_flight_ring;

typedef struct tt_worker_record {
	_Atomic uint64_t tid;
	uint32_t index;
	_Atomic uint32_t state;
	tt_task *_Atomic task;
	uint64_t runtime_id;
	tt_flight_ring *_Atomic ring;
} tt_worker_record;

/* The run-time switch (tt_recorder_enable): every event site tests it
 * first, so a recorder switched off costs a load and a branch. */
extern _Atomic int tt__flight_on __attribute__((visibility("hidden")));
static inline int tt_flight_on(void)
{
	return TT_RECORDING && TT_UNLIKELY(atomic_load_explicit(&tt__flight_on, RELAXED));
}
/* Append an event to RING, whose only writer is the caller: the fields,
 * then SEQ = 2*pos+2, then HEAD = pos+1.  A reader takes an event only
 * if its SEQ is the one its position calls for and the position is
 * within CAPACITY-1 of HEAD read after the copy: the slot being written
 * is always the one of position HEAD-CAPACITY, which that excludes, so
 * a torn or overwritten event is never taken for one (§5.12). */
static inline tt_flight_event *tt_flight_slot(tt_flight_ring *r, uint64_t *pos)
{
	*pos = atomic_load_explicit(&r->head, RELAXED);
	return &r->events[*pos & (r->capacity - 1)];
}
static inline void tt_flight_commit(tt_flight_ring *r, tt_flight_event *e, uint64_t pos)
{
	atomic_store_explicit(&e->seq, 2 * pos + 2, RELEASE);
	atomic_store_explicit(&r->head, pos + 1, RELEASE);
}
static inline void tt_flight_put(tt_flight_ring *r, uint32_t kind, uint64_t stamp,
				 uint64_t task, uint64_t a1, uint64_t a2, uint32_t a3,
				 uint64_t start)
{
	uint64_t pos;
	tt_flight_event *e = tt_flight_slot(r, &pos);
	atomic_store_explicit(&e->stamp_ns, stamp, RELAXED);
	atomic_store_explicit(&e->task, task, RELAXED);
	atomic_store_explicit(&e->arg1, a1, RELAXED);
	atomic_store_explicit(&e->arg2, a2, RELAXED);
	atomic_store_explicit(&e->kind, kind, RELAXED);
	atomic_store_explicit(&e->arg3, a3, RELAXED);
	atomic_store_explicit(&e->start_ns, start, RELAXED);
	tt_flight_commit(r, e, pos);
}
/* An event from a thread that is not a worker (or has no ring): into the
 * process's foreign ring, under its writers' lock.  Stamped here. */
void tt_flight_put_foreign(uint32_t kind, uint64_t task, uint64_t a1, uint64_t a2, uint32_t a3);
/* The ring for a worker record of RUNTIME_ID's runtime: kept with the
 * record across runtimes; NULL when the recorder is off (size 0). */
tt_flight_ring *tt_flight_ring_for(int32_t worker, size_t bytes);
/* Bytes per ring: OPTS_BYTES (> 0), else TASKTRACE_RECORDER, else the
 * default; 0 when off. */
size_t tt_flight_bytes(long opts_bytes);
const void *tt_flight_foreign_ring(void);
/* In the child of a fork (registry.c's atfork handler). */
void tt_flight_forked(void);

/* ---- registry.c ---- */
tt_task *tt_slot_alloc(void);
void tt_slot_free(tt_task *t);
uint64_t tt_next_task_id(void);
tt_worker_record *tt_worker_record_claim(uint64_t runtime_id, uint32_t index, size_t ring_bytes);
void tt_worker_record_release(tt_worker_record *rec);
uint64_t tt_next_runtime_id(void);
void tt_registry_set_now(uint64_t now);
void tt_registry_tasks_live(int delta);
/* SIZE bytes, zeroed, 8-aligned, never freed nor unmapped (a slot's label
 * block); NULL when out of memory. */
void *tt_label_block_alloc(size_t size);
/* Visit every task slot that holds a task (for shutdown). */
void tt_registry_for_each(void (*fn)(tt_task *t, void *arg), void *arg);

/* ---- queue.c ---- */
#define TT_RING_CAP 256u
typedef struct tt_ring {
	_Atomic uint32_t head; /* advanced by the owner's pop and by stealers */
	_Atomic uint32_t tail; /* written by the owner only */
	tt_task *_Atomic buf[TT_RING_CAP];
} tt_ring;
/* The owner alone writes tail; head moves by CAS, from the owner's pop and
 * from stealers.  Slot contents are read before the CAS that claims them
 * and are only overwritten once head has moved past them, so a stealer
 * whose CAS succeeds read what it claimed.  Push, pop and len run on every
 * wake and poll: inline. */

/* Owner: push, or 0 when full (the caller overflows to the injector). */
static inline int tt_ring_push(tt_ring *q, tt_task *t)
{
	uint32_t tail = atomic_load_explicit(&q->tail, RELAXED);
	uint32_t head = atomic_load_explicit(&q->head, ACQUIRE);
	if (tail - head >= TT_RING_CAP)
		return 0;
	atomic_store_explicit(&q->buf[tail % TT_RING_CAP], t, RELAXED);
	atomic_store_explicit(&q->tail, tail + 1, RELEASE);
	return 1;
}

static inline tt_task *tt_ring_pop(tt_ring *q)
{
	uint32_t head = atomic_load_explicit(&q->head, ACQUIRE);
	for (;;) {
		uint32_t tail = atomic_load_explicit(&q->tail, RELAXED);
		if (head == tail)
			return NULL;
		tt_task *t = atomic_load_explicit(&q->buf[head % TT_RING_CAP], RELAXED);
		if (atomic_compare_exchange_weak_explicit(&q->head, &head, head + 1, ACQ_REL,
							  ACQUIRE))
			return t;
	}
}

static inline uint32_t tt_ring_len(tt_ring *q)
{
	uint32_t tail = atomic_load_explicit(&q->tail, ACQUIRE);
	uint32_t head = atomic_load_explicit(&q->head, ACQUIRE);
	return tail - head;
}

/* Owner, its ring full: claim up to half of it with one compare-and-swap
 * (not one per task) and link those tasks after T through ->next, oldest
 * first: the list T..*LAST for the injector; its length. */
size_t tt_ring_take_half(tt_ring *q, tt_task *t, tt_task **last);

/* Move up to half of SRC into DST (DST owned by the caller, empty); returns
 * one of the stolen tasks to run now, or NULL. */
tt_task *tt_ring_steal(tt_ring *src, tt_ring *dst);

typedef struct tt_injector {
	pthread_mutex_t lock;
	tt_task *head, *tail;
	_Atomic size_t len;
} tt_injector;
void tt_injector_init(tt_injector *q);
void tt_injector_push(tt_injector *q, tt_task *t);
/* Push N tasks linked through ->next from HEAD to TAIL. */
void tt_injector_push_list(tt_injector *q, tt_task *head, tt_task *tail,
			   size_t n);
tt_task *tt_injector_pop(tt_injector *q);
/* The first task, and up to MAX-1 more moved into DST (the caller's own
 * ring, as much as it has room for), under one lock. */
tt_task *tt_injector_pop_batch(tt_injector *q, tt_ring *dst, uint32_t max);

/* ---- park.c ---- */
typedef struct tt_parker {
	_Atomic int32_t state;
} tt_parker;
void tt_parker_park(tt_parker *p);
/* FUTEX_WAIT while *ADDR is VAL, and FUTEX_WAKE of one waiter. */
void tt_futex_wait(_Atomic int32_t *addr, int32_t val);
void tt_futex_wake(_Atomic int32_t *addr);
void tt_parker_unpark(tt_parker *p);
/* Consume a pending unpark without sleeping; 1 if there was one. */
int tt_parker_take(tt_parker *p);

/* ---- driver.c: epoll, the wakeup eventfd and timers ---- */
typedef struct tt_driver {
	int epfd;
	int evfd;
	pthread_mutex_t lock; /* held by the worker driving it */
	_Atomic int owner;    /* worker index holding lock, -1 */
	pthread_mutex_t timer_lock;
	tt_timer_node **heap;
	uint32_t heap_len, heap_cap;
	uint64_t timer_seq;
} tt_driver;
int tt_driver_init(tt_driver *d);
void tt_driver_destroy(tt_driver *d);
/* Poll I/O and fire due timers; block until something happens when
 * BLOCK (bounded by the next timer).  Caller holds d->lock. */
void tt_driver_turn(tt_driver *d, int block);
void tt_driver_kick(tt_driver *d);
/* Timer heap (timer.c uses these). */
void tt_timer_register(tt_driver *d, tt_timer_node *n, tt_cx *cx);
void tt_timer_deregister(tt_driver *d, tt_timer_node *n);

/* ---- group.c ---- */
struct tt_group;
/* T, a child of G, finished with RESULT (from its completion). */
void tt_group_child_done(struct tt_group *g, tt_task *t, intptr_t result);

/* ---- signal.c ---- */
/* Block the 0-terminated SIGNALS in the calling thread: 0, -EINVAL. */
int tt_signals_block(const int *signals);
/* A runtime's signal handling: one signalfd for every tt_signal. */
#define TT_NSIG 65 /* signal numbers 1..64 */
typedef struct tt_sigs {
	pthread_mutex_t lock;
	struct tt_fd *fd;	 /* the signalfd, opened by the first tt_signal */
	uint64_t mask;		 /* bit N-1: it reads signal N */
	uint64_t owned;		 /* tt_runtime_opts.signals, same bits */
	uint64_t count[TT_NSIG]; /* deliveries of each signal read so far */
	uint8_t kept[TT_NSIG];	 /* one read while none of its number waited */
	tt_waitq waiters;	 /* waiting tt_signals, their number in WANT */
} tt_sigs;
/* SIGNALS: the runtime's (tt_runtime_opts.signals, 0-terminated; NULL). */
void tt_sigs_init(tt_sigs *g, const int *signals);
/* Before the driver goes: closes the signalfd. */
void tt_sigs_destroy(tt_sigs *g);

/* ---- io.c ---- */
typedef struct tt_fd tt_fd;
typedef struct tt_io_pool {
	pthread_mutex_t lock;
	tt_fd *free, *free_tail; /* closed, reusable: oldest first */
	size_t nfree;
	tt_fd *all; /* every one allocated, freed with the runtime */
} tt_io_pool;
void tt_io_pool_init(tt_io_pool *p);
void tt_io_pool_destroy(tt_io_pool *p);
/* Readiness reported by epoll for F (called by the driver). */
void tt_fd_event(tt_fd *f, uint32_t events);

/* ---- frame.c: a worker's cache of freed frames ----
 * glibc's per-thread cache holds 7 blocks a size: a burst of spawns (and
 * then of completions) goes through its locked arena path, ~300
 * instructions a spawn+join.  Each worker keeps the blocks it frees, by
 * size class, up to TT_FCACHE_BYTES, and serves its own allocations from
 * them.  Off under ASan, whose use-after-free checks need free(). */
#define TT_FCACHE_CLASSES 32 /* 16-byte classes: blocks up to 504 bytes */
#define TT_FCACHE_BYTES (256u * 1024u)
typedef struct tt_frame_cache {
	void *head[TT_FCACHE_CLASSES];
	size_t bytes;
} tt_frame_cache;
/* Give every cached block back to malloc (the runtime's free). */
void tt_frame_cache_drain(tt_frame_cache *c);

/* ---- registry.c: a worker's free slots ----
 * Slots a worker released, taken again by its next spawns without the
 * global free list's compare-and-swap (both workers of a spawn-join
 * benchmark hit that cache line on every spawn and every completion).  A
 * batch of 1,000 spawns fits. */
#define TT_SLOT_CACHE 1024u
typedef struct tt_slot_cache {
	tt_task *head;
	uint32_t n;
} tt_slot_cache;
/* Back to the global free list (the runtime's free). */
void tt_slot_cache_drain(tt_slot_cache *c);

/* ---- executor.c ---- */
struct tt_worker {
	tt_runtime *rt;
	uint32_t index;
	pthread_t thread;
	tt_ring ring;
	tt_parker parker;
	tt_worker_record *rec;
	tt_worker_record spare; /* when the registry's table is full */
	uint32_t tick;
	uint32_t rng;
	uint64_t now;           /* tt_stamp_ns() at the end of the last poll or park */
	uint64_t now_published; /* last value stored in the registry root */
	/* The ring of rec while the recorder is on, else NULL: what the poll
	 * path tests, refreshed at the worker's maintenance (so a switch
	 * takes effect within MAINTENANCE_INTERVAL polls). */
	tt_flight_ring *fr;
	void (*poll)(tt_worker *w, tt_task *t); /* tt_task_poll, or _recorded with fr */
	int idle;		/* in rt->idle, under idle_lock */
	/* Touched only by the thread running this worker (tt__tls_worker). */
	tt_frame_cache frames;
	tt_slot_cache slots;
	/* Spawns on this worker, and the clock read at every
	 * TT_SPAWN_RESTAMP-th (task.c's spawn_stamp). */
	uint32_t spawns;
	uint64_t spawn_now;
};
#define TT_SPAWN_RESTAMP 64u
/* Set W's fr from the switch and its record (out of line: the worker
 * loop calls it rarely and keeps its registers). */
void tt_flight_refresh(tt_worker *w);

struct tt_runtime {
	uint64_t id;
	size_t flight_bytes; /* per worker ring, 0: none */
	uint32_t nworkers;
	int current_thread; /* no threads: block_on drives worker 0 */
	char name[16];
	tt_worker *workers;
	tt_injector inject;
	pthread_mutex_t idle_lock;
	uint32_t *idle_stack;
	uint32_t nidle_stack;
	_Atomic uint32_t num_idle;
	_Atomic int shutdown;
	_Atomic uint32_t foreign_wakes; /* tt_schedule calls from other threads under way */
	tt_driver driver;
	tt_io_pool io_pool;
	tt_sigs sigs;
};

struct tt_cx {
	tt_task *task;
	tt_worker *worker;
};

/* The worker whose thread this is, or NULL. */
/* initial-exec: these are read on every wake and spawn, and the
 * general-dynamic model costs a __tls_get_addr call each time.  Two
 * pointers fit the static TLS surplus even when the library is dlopen'ed. */
#define TT_TLS __thread __attribute__((tls_model("initial-exec")))
extern TT_TLS tt_worker *tt__tls_worker;
extern TT_TLS tt_task *tt__tls_task;

/* An event on the calling thread's worker ring, stamped with its cached
 * clock, or on the foreign ring off a worker. */
static inline void tt_flight_here(uint32_t kind, uint64_t task, uint64_t a1, uint64_t a2,
				  uint32_t a3)
{
	tt_worker *w = tt__tls_worker;
	if (!w)
		tt_flight_put_foreign(kind, task, a1, a2, a3);
	else if (w->fr) /* (a worker without one: its runtime records nothing) */
		tt_flight_put(w->fr, kind, w->now, task, a1, a2, a3, 0);
}

/* A task's id, and the polling task's (0 outside a task): what the locks
 * record as their owner. */
static inline uint64_t tt_task_id_of(tt_task *t)
{
	return atomic_load_explicit(&t->id, RELAXED);
}
static inline uint64_t tt_current_id(void)
{
	tt_task *t = tt__tls_task;
	return t ? tt_task_id_of(t) : 0;
}

/* Lock guards (guard.c), inline: a guard must add no more than a few
 * plain loads and stores to a lock and unlock.  G's lock was just taken
 * by task T: put it on T's list. */
static inline void tt_guard_arm(tt_guard *g, tt_task *t)
{
	g->held = 1;
	g->next = t->guards;
	t->guards = g;
	g->holder->state |= TT_FRAME_GUARDS;
}
/* Take G off the calling task's list for an early release: 0 and the
 * task's id in *ME, or -EINVAL / -EALREADY / -EPERM (tt_guard_unlock).
 * The usual one is of the guard taken last: the list's head. */
int tt_guard_disarm_slow(tt_guard *g, uint64_t *me);
static inline int tt_guard_disarm(tt_guard *g, uint64_t *me)
{
	tt_task *t = tt__tls_task;
	if (TT_LIKELY(t && t->guards == g)) { /* on the list: held (and a guard) */
		t->guards = g->next;
		g->next = NULL;
		g->held = 0;
		*me = tt_task_id_of(t);
		return 0;
	}
	return tt_guard_disarm_slow(g, me);
}

/* The clock of every recording stamp (task and worker timestamps, wait
 * descriptors, the registry's "now"): CLOCK_MONOTONIC_COARSE.  It is the
 * kernel's last tick, read from the vDSO page without touching the TSC:
 * ~6 ns where CLOCK_MONOTONIC costs 30-50 ns on a VM; a poll does not
 * read it but loads the clock thread's copy (tt_stamp_recent).  Its resolution is one tick (1-4 ms): plenty for ages shown as
 * "waiting 1.2s" and for the diagnosis thresholds (100 ms and up), and it
 * is never ahead of CLOCK_MONOTONIC, so an age measured against either
 * clock is never negative.  Timers and the mutex's 1 ms starvation
 * hand-off need the precise clock and use tt_now_ns(). */
static inline uint64_t tt_stamp_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- clock.c: the stamp clock ---- */
/* tt_stamp_ns() as the clock thread last read it: at most about two ticks
 * behind while a worker runs.  The end of a poll loads it (§5.1). */
extern _Atomic uint64_t tt__stamp_clock;
static inline uint64_t tt_stamp_recent(void)
{
	return atomic_load_explicit(&tt__stamp_clock, RELAXED);
}
/* Start the process's clock thread if it is not running (0 or -errno). */
int tt_clock_start(void);
/* A worker begins or ends a run of polls: the clock thread ticks while
 * any worker runs and sleeps otherwise. */
void tt_clock_busy(void);
void tt_clock_idle(void);

/* On a worker, the later of the stamp its last poll ended and the clock
 * thread's copy, instead of reading the clock again: a wake or a wait
 * late in a long poll is not stamped with the poll's start. */
static inline uint64_t tt_clock_cached(void)
{
	tt_worker *w = tt__tls_worker;
	if (!w)
		return tt_stamp_ns();
	uint64_t recent = tt_stamp_recent();
	return recent > w->now ? recent : w->now;
}

/* Put a notified task on a queue (the caller holds its queue reference). */
void tt_schedule(tt_task *t);
/* Run tasks on the calling thread's worker until *stop becomes true
 * (current-thread block_on) or the runtime shuts down. */
void tt_worker_run(tt_worker *w, _Atomic uint32_t *stop);

/* ---- handle.c: task and runtime handles ---- */
/* A borrowed handle's gen: this bit and the task id (an owned gen, a
 * per-slot count, never gets there). */
#define TT_HANDLE_BORROWED (1ull << 63)
enum { TT_HANDLE_READ, TT_HANDLE_OWNED };
/* The slot H names, or NULL (errno set) if it is null, stale, or borrowed
 * where USE is TT_HANDLE_OWNED; FN names the caller in the report.  The
 * valid case, on every join and release, inline. */
tt_task *tt_handle_get_slow(tt_handle h, int use, const char *fn);
static inline tt_task *tt_handle_get(tt_handle h, int use, const char *fn)
{
	if (TT_LIKELY(h.task && atomic_load_explicit(&h.task->gen, ACQUIRE) == h.gen))
		return h.task;
	return tt_handle_get_slow(h, use, fn);
}
/* Give up an owned handle the runtime keeps as a bare slot (block_on,
 * joins).  The last handle (the usual case: one per task) is alone:
 * nobody can add a handle without one, so the count and the generation
 * change without a locked instruction. */
static inline void tt_handle_drop(tt_task *t)
{
	if (atomic_load_explicit(&t->handles, ACQUIRE) == 1 ||
	    atomic_fetch_sub_explicit(&t->handles, 1, ACQ_REL) == 1) {
		atomic_store_explicit(&t->handles, 0, RELAXED);
		atomic_store_explicit(&t->gen, atomic_load_explicit(&t->gen, RELAXED) + 1, RELEASE);
	}
}
/* Give up owned handle H: the caller now holds the task reference it
 * held.  NULL (errno set) as tt_handle_get. */
static inline tt_task *tt_handle_take(tt_handle h, const char *fn)
{
	tt_task *t = tt_handle_get(h, TT_HANDLE_OWNED, fn);
	if (t)
		tt_handle_drop(t);
	return t;
}
static inline tt_handle tt_handle_borrow(tt_task *t)
{
	return t ? (tt_handle){t, TT_HANDLE_BORROWED | atomic_load_explicit(&t->id, RELAXED)}
		 : (tt_handle){NULL, 0};
}
/* Misuse of a handle: abort with a message naming FN (debug builds, or
 * TASKTRACE_STALE_HANDLES=abort), else ERR (negative errno). */
int tt_handle_misuse(const char *fn, const char *what, int err);
/* Live runtimes: the opaque pointer tt_runtime_new hands out, and back. */
tt_runtime *tt_runtime_handle_new(tt_runtime *rt);
tt_runtime *tt_runtime_from_handle(const tt_runtime *h, const char *fn);
/* Unpublish H (tt_runtime_free): later lookups fail. */
tt_runtime *tt_runtime_handle_retire(tt_runtime *h);

/* ---- guard.c: lock guards of mutex.c and rwlock.c ---- */
enum { TT_GUARD_MUTEX, TT_GUARD_READ, TT_GUARD_WRITE };
/* Release the lock guards T holds for frame F (NULL: all of them, when T
 * ends). */
void tt_guards_release(tt_task *t, tt_frame *f);
/* Let go of a guarded lock as task ME (mutex.c, rwlock.c). */
int tt__mutex_guard_release(tt_lock *l, uint64_t me);
int tt__rwlock_guard_release(tt_rwlock_op *op, uint64_t me);

/* ---- task.c ---- */
/* Spawn on RT (the real runtime; NULL: the current task's); the task has
 * one owned handle, {t, t->gen}, and the reference it holds.  GROUP (or
 * NULL): linked before the task can run, so its completion reports there. */
tt_task *tt_spawn_task(tt_runtime *rt, const tt_spawn_opts *opts, tt_frame *root,
		       const tt_site *spawn_site, struct tt_group *group);
void tt_task_request_cancel(tt_task *t);
/* Block the calling thread (not a worker) until T is done; its result. */
intptr_t tt_task_wait(tt_task *t);
static inline int tt_task_done(const tt_task *t)
{
	return (atomic_load_explicit(&((tt_task *)t)->sched, ACQUIRE) & SCHED_COMPLETE) != 0;
}
void tt_task_poll(tt_worker *w, tt_task *t);
void tt_task_poll_recorded(tt_worker *w, tt_task *t);
void tt_task_unref(tt_task *t);
/* Cancel a task that will never be polled again (runtime shutdown). */
void tt_task_abandon(tt_task *t);

static inline uint32_t tt_min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* ---- inline versions of the leaf helpers (future.h) for the runtime's
 * own hot paths; the exported functions remain for everyone else. */
static inline void tt__wait_clear(tt_wait *w)
{
	w->kind = TT_WAIT_NONE;
	w->object = NULL;
	w->owner = 0;
	w->since_ns = 0;
	w->detail = 0;
	w->name = NULL;
	w->holders = NULL;
}
#define tt_wait_clear(w) tt__wait_clear(w)

static inline void tt__wait_set_holders(tt_wait *w, uint32_t kind, const void *object,
					uint64_t owner, uint64_t detail, const tt_holders *h)
{
	if (!TT_RECORDING)
		return;
	w->object = object;
	w->owner = owner;
	w->detail = detail;
	w->holders = h;
	w->since_ns = tt_clock_cached();
	w->name = NULL;
	w->kind = kind;
}
/* The object's name, NAME (may be NULL), for the wait just set. */
static inline void tt__wait_name(tt_wait *w, const char *name)
{
	if (TT_RECORDING)
		w->name = name;
}
#define tt_wait_set_name(w, name) tt__wait_name(w, name)
#define tt__wait_set(w, kind, object, owner, detail) \
	tt__wait_set_holders(w, kind, object, owner, detail, NULL)
#define tt_wait_set(w, kind, object, owner, detail) tt__wait_set(w, kind, object, owner, detail)

/* The holder sets of sync/holders.c (the HOLDERS record), under the
 * owning object's lock.  ID 0: no task (for a semaphore, permits granted
 * to a waiter that has not run yet: counted, not named). */
uint64_t tt__current_id(void);
void tt_holders_add(tt_holders *h, uint64_t id, uint64_t n);
void tt_holders_remove(tt_holders *h, uint64_t id, uint64_t n);
/* A declared end: 0, or -ENOSPC when the set is full (it is marked
 * incomplete then). */
int tt_holders_declare(tt_holders *h, uint64_t id);
/* ID used the side H describes: kept as LAST, and a use by a task not
 * declared (when some are) makes the set incomplete. */
void tt_holders_use(tt_holders *h, uint64_t id);

/* A waker holds a task reference; the registry counts live wakers. */
static inline tt_waker tt__waker_new(tt_cx *cx)
{
	tt_task *t = cx->task;
	atomic_fetch_add_explicit(&t->sched, SCHED_REF, RELAXED);
	atomic_fetch_add_explicit(&t->wakers, 1, RELAXED);
	return (tt_waker){t};
}
#define tt_waker_new(cx) tt__waker_new(cx)

/* ---- waitq.c: FIFO queues of waiting futures, shared by the sync
 * primitives.  All of them run under the owning primitive's lock; the small
 * ones, on every channel and lock operation, are inline here. */
static inline void tt_waiter_init(tt_waiter *w)
{
	w->prev = w->next = NULL;
	w->waker.task = NULL;
	w->queued = 0;
	w->woken = 0;
	w->want = 0;
}

static inline void tt_waitq_push(tt_waitq *q, tt_waiter *w, tt_cx *cx)
{
	if (!w->queued) {
		w->prev = q->tail;
		w->next = NULL;
		if (q->tail)
			q->tail->next = w;
		else
			q->head = w;
		q->tail = w;
		w->queued = 1;
	}
	if (w->waker.task != cx->task) {
		if (w->waker.task)
			tt_waker_drop(&w->waker);
		w->waker = tt_waker_new(cx);
	}
}

void tt_waitq_push_front(tt_waitq *q, tt_waiter *w, tt_cx *cx);

static inline void tt_waitq_remove(tt_waitq *q, tt_waiter *w)
{
	if (!w->queued)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		q->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		q->tail = w->prev;
	w->prev = w->next = NULL;
	w->queued = 0;
}

/* Wake the first waiter, marking that it holds a turn (under the lock:
 * once it is released the waiter's future may be cancelled and freed). */
tt_waiter *tt_waitq_wake_first(tt_waitq *q);

/* Like tt_waitq_wake_first, but the wake itself is left to the caller,
 * who calls tt_waker_wake(OUT) after releasing the primitive's lock: the
 * waker (and its task reference) is moved out under the lock, so the
 * waiter's memory is not touched afterwards, and the wake's scheduling work
 * (run queue push, unparking a worker: possibly a syscall) no longer
 * lengthens the critical section other workers are queueing on.  A waiter
 * that is polled or cancelled before the deferred wake lands sees its turn
 * already (woken), and the late wake is at worst a spurious one. */
static inline tt_waiter *tt_waitq_take_first(tt_waitq *q, tt_waker *out)
{
	tt_waiter *w = q->head;
	if (!w)
		return NULL;
	tt_waitq_remove(q, w);
	w->woken = 1;
	*out = w->waker;
	w->waker.task = NULL;
	return w;
}

/* A waiter leaves (done or cancelled): returns 1 if it held an unused turn
 * the caller should pass on. */
int tt_waiter_leave(tt_waitq *q, tt_waiter *w);
#define tt_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
