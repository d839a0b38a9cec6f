/* Synchronisation between tasks. */
#ifndef TASKTRACE_SYNC_H
#define TASKTRACE_SYNC_H

#include "tasktrace/api.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "tasktrace/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The short internal lock that guards a primitive's wait queue (one
 * 32-bit word: spin briefly, then sleep on a futex; runtime-private). */
typedef struct tt_lockword {
	uint32_t state;
} tt_lockword;

/* Every primitive here keeps its waiting futures in FIFO order.  A waiter
 * that was woken but cancelled before it could use its turn passes the turn
 * on, so cancellation never strands the others. */
typedef struct tt_waiter {
	struct tt_waiter *prev, *next;
	tt_waker waker;
	uint32_t queued;
	uint32_t woken; /* handed a turn it has not used yet */
	uint64_t want;	/* semaphore: permits requested; notify: how it was woken */
} tt_waiter;
typedef struct tt_waitq {
	tt_waiter *head, *tail;
} tt_waitq;

/* The tasks that can end a wait on an object (a semaphore's holders, a
 * channel's declared ends), published to readers as the registry's
 * HOLDERS record (docs/registry-abi.md); runtime-private, changed under
 * the object's lock. */
#define TT_HOLDERS_CAP 4
typedef struct tt_holders {
	uint32_t seq;   /* odd while changed */
	uint32_t count; /* ids in use */
	uint32_t flags; /* TT_HOLDERSF_* */
	uint32_t why;   /* why incomplete: bits of holders.c */
	uint64_t last;  /* the task last seen at this side */
	uint64_t ids[TT_HOLDERS_CAP];
	uint64_t held[TT_HOLDERS_CAP]; /* semaphore: permits each holds */
	uint64_t untracked;	       /* semaphore: permits held by tasks not in ids */
} tt_holders;

/* Names.  Every reader shows a waited object by the name given here
 * (`waits on channel recv "jobs"`) instead of its address.  NAME is kept,
 * not copied: it must stay valid as long as the object (a string literal,
 * or memory that outlives it); NULL takes the name away.  Name an object
 * before tasks wait on it: a wait records the name it began with.
 * tt_chan_set_name, tt_mutex_set_name, tt_semaphore_set_name,
 * tt_notify_set_name, tt_oneshot_set_name, tt_broadcast_set_name,
 * tt_rwlock_set_name, tt_watch_set_name, tt_token_set_name and (in
 * combinators.h) tt_group_set_name: 0, or -EINVAL for a NULL object.  Readers treat the name as untrusted text, like a task name. */

/* ---- notify ---- */

/* Tasks wait until notified.  notify_one wakes the longest waiter or, if
 * none waits, stores one permit for the next waiter (like tokio's Notify);
 * notify_all wakes every current waiter. */
typedef struct tt_notify {
	pthread_mutex_t lock;
	tt_waitq waiters;
	int permit;
	const char *name; /* tt_notify_set_name */
} tt_notify;
TT_API void tt_notify_init(tt_notify *n);
TT_API void tt_notify_destroy(tt_notify *n);
TT_API int tt_notify_set_name(tt_notify *n, const char *name);
TT_API void tt_notify_one(tt_notify *n);
TT_API void tt_notify_all(tt_notify *n);

/* How it was woken lives in w.want, which only a semaphore's waiter
 * uses: 152 bytes, not 160 (a future awaiting a notification two frames
 * down fits a 256-byte malloc chunk instead of 272). */
typedef struct tt_notified {
	tt_leaf leaf;
	tt_notify *notify;
	tt_waiter w;
} tt_notified;
TT_API extern const tt_func tt_notified_fn;
/* TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &n)) */
TT_API void tt_notified_init(tt_notified *w, tt_notify *n);

/* ---- mutex ---- */

/* An async mutex that records its holder task (the owner in the wait
 * records of its waiters).  Like Go's sync.Mutex it stays fast under
 * contention: unlocking wakes the first waiter, but a task that is running
 * may take the free mutex before it ("barging"), which saves a task switch
 * per lock.  A waiter queued for longer than TT_MUTEX_STARVE_NS is handed
 * the mutex directly, in FIFO order, so nobody starves (the unlocks that
 * meet a woken waiter on its way read the coarse clock every 64th time, so
 * the hand-off may come that many short critical sections late).  Uncontended, lock
 * and unlock are one compare-and-swap each on STATE. */
#define TT_MUTEX_STARVE_NS 1000000ull
/* STATE bits next to the holder's id: waiters are queued (so unlocking
 * must look at the queue), and a woken waiter is on its way to retry (so
 * unlocking need not wake another). */
#define TT_MUTEX_QUEUED (1ull << 63)
#define TT_MUTEX_WAKING (1ull << 62)
typedef struct tt_mutex {
	uint64_t state;      /* holder's task id (0 when free) | QUEUED | WAKING */
	uint64_t handoff_at; /* when the head waiter starves (CLOCK_MONOTONIC) */
	uint64_t named;      /* the holder the queued waiters' records name */
	tt_lockword lock;    /* guards the queue and changes to the two bits */
	tt_waitq waiters;
	const char *name; /* tt_mutex_set_name */
} tt_mutex;
TT_API void tt_mutex_init(tt_mutex *m);
/* -EBUSY while held or awaited. */
TT_API int tt_mutex_destroy(tt_mutex *m);
/* Release; -EPERM unless the calling task holds it. */
TT_API int tt_mutex_unlock(tt_mutex *m);
/* 0 if acquired for the calling task, -EBUSY if held, -EPERM outside a
 * task. */
TT_API int tt_mutex_trylock(tt_mutex *m);
TT_API uint64_t tt_mutex_owner(tt_mutex *m);
TT_API int tt_mutex_set_name(tt_mutex *m, const char *name);

/* A lock guard's state (runtime-private): the frame whose end releases
 * the lock, and its place on the holding task's list of held guards. */
typedef struct tt_guard {
	tt_frame *holder;      /* NULL: not a guard */
	struct tt_guard *next; /* the task's other held guards */
	uint32_t held;	       /* the lock is held through it */
	uint32_t kind;	       /* mutex, read or write (guard.c) */
} tt_guard;

typedef struct tt_lock {
	tt_leaf leaf;
	tt_mutex *m;
	tt_waiter w;
	uint64_t since; /* first queued, for the starvation hand-off */
	int granted;    /* handed the mutex by its previous holder */
	tt_guard g;	/* tt_lock_guard_init */
} tt_lock;
TT_API extern const tt_func tt_lock_fn;
/* Result 0 once the calling task holds M. */
TT_API void tt_lock_init(tt_lock *l, tt_mutex *m);

/* A lock guard: like tt_lock_init, but M, once taken, is released by
 * tt_guard_unlock or, at the latest, when HOLDER -- the frame of the async
 * function awaiting it, `&self->frame` -- returns (TT_RETURN) or is
 * cancelled (after its cleanup ran, so a cleanup may still use what M
 * protects), or when its task ends.  A task
 * cancelled while holding M no longer keeps it held forever:
 *
 *   TT_AWAIT(self, cx, &self->lk, tt_lock_guard_init(&self->lk, &m, &self->frame));
 *   ... // M held, also across awaits
 *   tt_guard_unlock(&self->lk);  // optional
 *
 * L must stay where it is (in HOLDER's frame) and not be initialised again
 * while held; release a guarded hold with tt_guard_unlock, not
 * tt_mutex_unlock.  A guard adds no locked instruction: the held guards
 * are a list local to the task, and a returning frame tests one bit.
 * Result 0 once held; -EINVAL at once for a NULL mutex or holder. */
TT_API void tt_lock_guard_init(tt_lock *l, tt_mutex *m, tt_frame *holder);
/* Release M now.  0; -EINVAL NULL or not a guard; -EALREADY not held
 * (released already, or never taken); -EPERM the calling task is not the
 * one holding it. */
TT_API int tt_guard_unlock(tt_lock *l);

/* ---- reader-writer lock ---- */

/* Many readers or one writer.  Fair: the waiters queue in FIFO order and a
 * new reader does not pass a queued writer, so writers are not starved; an
 * unlock hands the lock to the head of the queue directly (a writer, or
 * every reader up to the next queued writer, together).  Uncontended, a
 * read lock and unlock are one compare-and-swap each on STATE, as for
 * tt_mutex.
 *
 * The waiters' wait records (kind "rwlock") name who they wait for: a
 * reader, the writer that holds the lock or the queued writer it yields
 * to; a writer, the writer holding it or one reader holding it -- the
 * one that took it last while it still holds it, 0 ("unknown") once that
 * one let go while others still read.  One owner per record (the
 * registry's single `owner` field): a writer blocked by several readers
 * names one of them, so a deadlock through another reader is not seen.
 *
 *   TT_AWAIT(self, cx, &self->rl, tt_read_lock_init(&self->rl, &rw));
 *   ... read ...
 *   tt_rwlock_read_unlock(&rw);
 *
 * A task must not take a read lock it already holds again while writers
 * may queue: the second read waits behind the queued writer, which waits
 * for the first read (readers see that cycle as a deadlock). */
#define TT_RWLOCK_WRITER (1ull << 62) /* the rest of STATE is the writer's id */
#define TT_RWLOCK_QUEUED (1ull << 63)
typedef struct tt_rwlock {
	uint64_t state;       /* reader count, or WRITER | writer id; | QUEUED */
	uint64_t last_reader; /* a reader holding it, 0 if unknown */
	tt_lockword lock;     /* guards the queue and QUEUED */
	tt_waitq waiters;
	const char *name; /* tt_rwlock_set_name */
} tt_rwlock;
TT_API void tt_rwlock_init(tt_rwlock *rw);
TT_API int tt_rwlock_set_name(tt_rwlock *rw, const char *name);
/* 0; -EBUSY while held or awaited; -EINVAL NULL or destroyed already.
 * A destroyed lock refuses every later use with -EINVAL (until init). */
TT_API int tt_rwlock_destroy(tt_rwlock *rw);
/* Without waiting, for the calling task: 0 taken; -EBUSY held (or, for a
 * read, a writer queued); -EPERM outside a task; -EINVAL NULL or
 * destroyed. */
TT_API int tt_rwlock_try_read(tt_rwlock *rw);
TT_API int tt_rwlock_try_write(tt_rwlock *rw);
/* 0; -EPERM not read-locked (a second release of the last read lock
 * included; a release by a task that holds no read lock while others do
 * is not detected) or outside a task; -EINVAL NULL or destroyed. */
TT_API int tt_rwlock_read_unlock(tt_rwlock *rw);
/* 0; -EPERM unless the calling task holds the write lock; -EINVAL NULL
 * or destroyed. */
TT_API int tt_rwlock_write_unlock(tt_rwlock *rw);
/* The writer's task id, 0 if none holds it. */
TT_API uint64_t tt_rwlock_writer(tt_rwlock *rw);
/* How many read locks are held now. */
TT_API uint64_t tt_rwlock_readers(tt_rwlock *rw);

typedef struct tt_rwlock_op {
	tt_leaf leaf;
	tt_rwlock *rw;
	tt_waiter w;
	int write;
	int polled;   /* the first poll tried the fast path */
	int granted;  /* handed the lock by an unlock (atomic) */
	uint64_t me;  /* the waiting task's id, while queued */
	tt_guard g;   /* tt_read_guard_init, tt_write_guard_init */
} tt_rwlock_op;
typedef tt_rwlock_op tt_read_lock;
typedef tt_rwlock_op tt_write_lock;
TT_API extern const tt_func tt_read_lock_fn, tt_write_lock_fn;
/* Result 0 once the calling task holds a read (write) lock on RW;
 * -EINVAL at once for NULL, or for a lock destroyed before it was
 * taken. */
TT_API void tt_read_lock_init(tt_read_lock *op, tt_rwlock *rw);
TT_API void tt_write_lock_init(tt_write_lock *op, tt_rwlock *rw);

/* Read and write guards: like tt_lock_guard_init for the mutex, the lock,
 * once taken, is released by tt_rwlock_guard_unlock or, at the latest,
 * when HOLDER (`&self->frame`) returns or is cancelled (after its cleanup
 * ran), or when its task ends -- a task cancelled while it reads or
 * writes does not keep the lock forever:
 *
 *   TT_AWAIT(self, cx, &self->rg, tt_read_guard_init(&self->rg, &rw, &self->frame));
 *   ... read, also across awaits ...
 *   tt_rwlock_guard_unlock(&self->rg);  // optional
 *
 * OP must stay where it is (in HOLDER's frame) and not be initialised
 * again while held; release a guarded hold with tt_rwlock_guard_unlock,
 * not tt_rwlock_read_unlock / write_unlock.  A guard adds no locked
 * instruction (a list local to the task).  Result 0 once held; -EINVAL at
 * once for a NULL lock or holder, or a lock destroyed before it was
 * taken. */
TT_API void tt_read_guard_init(tt_read_lock *op, tt_rwlock *rw, tt_frame *holder);
TT_API void tt_write_guard_init(tt_write_lock *op, tt_rwlock *rw, tt_frame *holder);
/* Release the lock now.  0; -EINVAL NULL or not a guard; -EALREADY not
 * held (released already, or never taken); -EPERM the calling task is
 * not the one holding it. */
TT_API int tt_rwlock_guard_unlock(tt_rwlock_op *op);

/* ---- semaphore ---- */

/* Counting semaphore with strict FIFO: a large request at the head is not
 * overtaken by smaller ones behind it.  A permit taken by a task is held by
 * it until it releases it: the registry names up to TT_HOLDERS_CAP such
 * holders for the deadlock diagnosis.  A release by a task that holds no
 * permit (or from outside any task) makes the holders unknown from then on:
 * a semaphore used for signalling has no holders. */
typedef struct tt_semaphore {
	tt_lockword lock;
	uint64_t permits;
	tt_waitq waiters;
	uint64_t granted; /* waiters handed permits that have not run yet */
	const char *name; /* tt_semaphore_set_name */
	tt_holders holders; /* the tasks holding permits */
} tt_semaphore;
TT_API void tt_semaphore_init(tt_semaphore *s, uint64_t permits);
TT_API int tt_semaphore_destroy(tt_semaphore *s); /* -EBUSY while awaited */
TT_API int tt_semaphore_set_name(tt_semaphore *s, const char *name);
TT_API void tt_semaphore_release(tt_semaphore *s, uint64_t n);
/* 0 if N permits were taken, -EAGAIN otherwise (also when others queue). */
TT_API int tt_semaphore_try_acquire(tt_semaphore *s, uint64_t n);
TT_API uint64_t tt_semaphore_available(tt_semaphore *s);

typedef struct tt_acquire {
	tt_leaf leaf;
	tt_semaphore *s;
	tt_waiter w;
} tt_acquire;
TT_API extern const tt_func tt_acquire_fn;
/* Result 0 once N permits are held. */
TT_API void tt_acquire_init(tt_acquire *a, tt_semaphore *s, uint64_t n);

/* ---- oneshot ---- */

/* One value from a producer to one receiver.  The producer is the task
 * that created it unless tt_oneshot_bind_producer says otherwise; if it
 * closes the oneshot without sending, the receiver gets -EPIPE
 * ("abandoned") instead of waiting forever. */
typedef struct tt_oneshot {
	pthread_mutex_t lock;
	int state; /* 0 empty, 1 sent, 2 abandoned, 3 taken */
	intptr_t value;
	uint64_t producer;
	tt_waitq waiters;
	const char *name; /* tt_oneshot_set_name */
} tt_oneshot;
TT_API void tt_oneshot_init(tt_oneshot *o);
TT_API void tt_oneshot_destroy(tt_oneshot *o);
TT_API int tt_oneshot_set_name(tt_oneshot *o, const char *name);
/* Make the calling task the producer. */
TT_API void tt_oneshot_bind_producer(tt_oneshot *o);
/* 0, or -EALREADY if a value was sent or the oneshot closed before. */
TT_API int tt_oneshot_send(tt_oneshot *o, intptr_t value);
/* The producer gives up: a waiting or later receiver gets -EPIPE.
 * -EALREADY if already sent or closed. */
TT_API int tt_oneshot_close(tt_oneshot *o);

typedef struct tt_oneshot_recv {
	tt_leaf leaf;
	tt_oneshot *o;
	tt_waiter w;
} tt_oneshot_recv;
TT_API extern const tt_func tt_oneshot_recv_fn;
/* Result: the value, or -EPIPE if abandoned, -EALREADY if already taken. */
TT_API void tt_oneshot_recv_init(tt_oneshot_recv *r, tt_oneshot *o);

/* ---- channel ---- */

/* Bounded multi-producer multi-consumer channel of fixed-size elements,
 * copied in and out.  A send waits while the channel holds CAPACITY
 * elements; tt_chan_close wakes everyone: sends then fail with -EPIPE,
 * receives drain what is left and then fail with -EPIPE. */
typedef struct tt_chan tt_chan;
/* NULL with errno EINVAL (zero size or capacity) or ENOMEM. */
TT_API tt_chan *tt_chan_new(size_t elem_size, size_t capacity);
/* Free a channel nobody waits on any more (-EBUSY otherwise; -EINVAL for
 * NULL). */
TT_API int tt_chan_free(tt_chan *c);
/* -EALREADY if already closed. */
TT_API int tt_chan_close(tt_chan *c);
TT_API int tt_chan_set_name(tt_chan *c, const char *name);
TT_API size_t tt_chan_len(tt_chan *c);
TT_API size_t tt_chan_capacity(const tt_chan *c);
/* Without waiting: 0, -EAGAIN (full / empty), -EPIPE (closed). */
TT_API int tt_chan_try_send(tt_chan *c, const void *elem);
TT_API int tt_chan_try_recv(tt_chan *c, void *out);
/* The calling task declares itself a sender (receiver) of C: a promise
 * that only declared tasks send (receive) once one is, so the diagnosis
 * finds cycles through C, and a receiver whose declared senders have all
 * ended is "never resolved".  A send or receive by an undeclared task, or
 * from outside any task, voids the promise for that side.  0; -EPERM
 * outside a task; -ENOSPC when TT_HOLDERS_CAP tasks are declared already
 * (that side is then unknown). */
TT_API int tt_chan_bind_sender(tt_chan *c);
TT_API int tt_chan_bind_receiver(tt_chan *c);

typedef struct tt_chan_op {
	tt_leaf leaf;
	tt_chan *c;
	tt_waiter w;
	void *elem;
} tt_chan_op;
typedef tt_chan_op tt_send;
typedef tt_chan_op tt_recv;
TT_API extern const tt_func tt_send_fn, tt_recv_fn;
/* Result 0 once *ELEM is in the channel (ELEM must live until then), or
 * -EPIPE if closed. */
TT_API void tt_send_init(tt_send *s, tt_chan *c, const void *elem);
/* Result 0 with the element copied to OUT, or -EPIPE once closed and
 * drained. */
TT_API void tt_recv_init(tt_recv *r, tt_chan *c, void *out);

/* ---- watch channel ---- */

/* The latest value of something, for any number of receivers: a config, a
 * state, "shutting down".  A send replaces the value and wakes every
 * waiting receiver; each receiver keeps the version it has seen, and a
 * wait ends at once when a newer one exists -- so a send made before the
 * receiver waits is not lost (a tt_notify_all is), and several sends made
 * while a receiver was busy reach it as the latest value only.
 *
 *   tt_watch *state = tt_watch_new(sizeof(int), &(int){RUNNING});
 *   uint64_t seen = 0;   // 0: the current value counts as new
 *   TT_AWAIT(self, cx, &self->wc,
 *            tt_watch_changed_init(&self->wc, state, &self->seen, &self->v));
 *   tt_watch_send(state, &(int){STOPPING});   // any thread
 *
 * Thread-safe; not for signal handlers (it takes a lock). */
typedef struct tt_watch tt_watch;
/* A watch holding SIZE bytes, first a copy of INITIAL (version 1).  NULL
 * with errno EINVAL (size 0 or over 1 MiB, INITIAL NULL) or ENOMEM. */
TT_API tt_watch *tt_watch_new(size_t size, const void *initial);
/* 0; -EBUSY while a receiver waits (or was woken and has not run yet);
 * -EINVAL NULL.  Use after free is not detected. */
TT_API int tt_watch_free(tt_watch *w);
/* Replace the value with a copy of VALUE and wake every receiver.  0;
 * -EPIPE closed; -EINVAL NULL. */
TT_API int tt_watch_send(tt_watch *w, const void *value);
TT_API int tt_watch_set_name(tt_watch *w, const char *name); /* "Names" above */
/* No more values: receivers that have seen the latest get -EPIPE (the
 * latest value is still delivered first to those that have not).  0;
 * -EALREADY closed already; -EINVAL NULL. */
TT_API int tt_watch_close(tt_watch *w);
/* Copy the value to OUT and its version to *VERSION (either may be NULL),
 * without waiting: a receiver that starts from the current value passes
 * VERSION as its SEEN.  1 if closed, 0 if not, -EINVAL NULL. */
TT_API int tt_watch_get(tt_watch *w, void *out, uint64_t *version);

typedef struct tt_watch_changed {
	tt_leaf leaf;
	tt_watch *w;
	tt_waiter q;
	uint64_t *seen;
	void *out;
} tt_watch_changed;
TT_API extern const tt_func tt_watch_changed_fn;
/* Wait for a version newer than *SEEN.  Result 0 with the value copied to
 * OUT (NULL: not copied) and *SEEN set to its version; -EPIPE once closed
 * and *SEEN is the latest; -EINVAL at once for a NULL watch or SEEN.  SEEN
 * and OUT must stay valid while the await lasts (fields of the awaiting
 * frame).  Readers see the wait as "watch". */
TT_API void tt_watch_changed_init(tt_watch_changed *c, tt_watch *w, uint64_t *seen, void *out);

/* ---- broadcast channel ---- */

/* Every value to every receiver (like tokio's broadcast): a ring of the
 * last CAPACITY values of ELEM_SIZE bytes, copied in and out.  A send
 * never waits: it overwrites the oldest value.  Each receiver
 * (tt_broadcast_rx) gets every value sent after it subscribed, in order;
 * one that falls more than CAPACITY values behind gets TT_ELAGGED once,
 * with rx->lagged set to how many it missed, and goes on from the oldest
 * value kept.  tt_broadcast_close wakes every receiver: each gets what is
 * left for it, then -EPIPE.
 *
 *   tt_broadcast *ev = tt_broadcast_new(sizeof(event), 64);
 *   tt_broadcast_subscribe(ev, &self->rx);        // before the sends it wants
 *   TT_AWAIT(self, cx, &self->r, tt_broadcast_recv_init(&self->r, &self->rx, &self->e));
 *   tt_broadcast_send(ev, &e);                    // any thread
 *
 * Thread-safe (one lock); not for signal handlers.  Readers see a waiting
 * receive as "broadcast", and, once the senders are declared
 * (tt_broadcast_bind_sender, as for tt_chan), a receive whose senders
 * have all ended as never resolved. */
#define TT_ELAGGED (-EOVERFLOW) /* a receiver missed values: rx->lagged */
typedef struct tt_broadcast tt_broadcast;
typedef struct tt_broadcast_rx {
	tt_broadcast *b;  /* NULL once unsubscribed */
	uint64_t next;	  /* the number of the next value it gets */
	uint64_t lagged;  /* values missed, set with TT_ELAGGED */
	uint32_t waiting; /* a receive on it is under way (under b's lock) */
	uint32_t reserved;
} tt_broadcast_rx;
/* NULL with errno EINVAL (zero size or capacity, over 1 MiB a value or
 * 1 GiB in all) or ENOMEM. */
TT_API tt_broadcast *tt_broadcast_new(size_t elem_size, size_t capacity);
/* 0; -EBUSY while a receiver is subscribed; -EINVAL NULL.  Use after
 * free is not detected. */
TT_API int tt_broadcast_free(tt_broadcast *b);
/* No more values.  0; -EALREADY closed already; -EINVAL NULL. */
TT_API int tt_broadcast_close(tt_broadcast *b);
TT_API int tt_broadcast_set_name(tt_broadcast *b, const char *name);
/* Copy *ELEM in (overwriting the oldest value once CAPACITY are kept)
 * and wake every waiting receiver.  The number of receivers subscribed
 * (0: nobody gets it); -EPIPE closed; -EINVAL NULL. */
TT_API int tt_broadcast_send(tt_broadcast *b, const void *elem);
/* The calling task declares itself a sender (tt_chan_bind_sender).  0;
 * -EPERM outside a task; -ENOSPC beyond TT_HOLDERS_CAP; -EINVAL NULL. */
TT_API int tt_broadcast_bind_sender(tt_broadcast *b);
/* RX receives the values sent from now on.  0; -EPIPE closed; -EINVAL
 * NULL. */
TT_API int tt_broadcast_subscribe(tt_broadcast *b, tt_broadcast_rx *rx);
/* RX stops receiving (every subscribe needs one before the free).  0;
 * -EALREADY not subscribed (twice); -EBUSY while a receive on it is
 * under way; -EINVAL NULL. */
TT_API int tt_broadcast_unsubscribe(tt_broadcast_rx *rx);
/* Without waiting: 0 with the next value copied to OUT; -EAGAIN none
 * yet; TT_ELAGGED (rx->lagged); -EPIPE closed and nothing left;
 * -EINVAL NULL or not subscribed. */
TT_API int tt_broadcast_try_recv(tt_broadcast_rx *rx, void *out);

typedef struct tt_broadcast_recv {
	tt_leaf leaf;
	tt_broadcast_rx *rx;
	tt_waiter w;
	void *out;
	int using_rx; /* it set rx->waiting */
} tt_broadcast_recv;
TT_API extern const tt_func tt_broadcast_recv_fn;
/* The next value for RX: the results of tt_broadcast_try_recv, waiting
 * instead of -EAGAIN; -EINVAL at once for NULL or an RX not subscribed,
 * -EBUSY for an RX another receive is using.  OUT must stay valid while
 * the await lasts. */
TT_API void tt_broadcast_recv_init(tt_broadcast_recv *r, tt_broadcast_rx *rx, void *out);

/* ---- cancellation token ---- */

/* A shutdown signal for any number of tasks: once cancelled it stays
 * cancelled (a wait that starts later ends at once, unlike a notify), and
 * cancelling a token cancels every token created under it, so a server
 * gives each connection a child of its shutdown token.
 *
 *   tt_token *stop = tt_token_new(NULL);        // main
 *   tt_token *conn = tt_token_new(stop);        // per connection
 *   while (!tt_token_cancelled(self->tok)) ...  // a check: one load
 *   TT_AWAIT(self, cx, &self->tw, tt_token_wait_init(&self->tw, self->tok));
 *   tt_token_cancel(stop);                      // stops them all
 *
 * Tokens are thread-safe; tt_token_cancel may be called from any thread
 * (not from a signal handler: it takes locks). */
typedef struct tt_token tt_token;
/* A token under PARENT (NULL: a root), cancelled already if PARENT is.
 * NULL with errno ENOMEM, or ESTALE if PARENT was freed. */
TT_API tt_token *tt_token_new(tt_token *parent);
/* Cancel T and every token under it, waking their waits.  0; -EALREADY
 * if it was cancelled already; -EINVAL NULL; TT_ESTALE freed. */
TT_API int tt_token_cancel(tt_token *t);
/* See "Names" above; TT_ESTALE for a freed token (detected as for
 * tt_token_cancel). */
TT_API int tt_token_set_name(tt_token *t, const char *name);
/* Give up the creator's reference: T's memory stays while child tokens
 * or waits hold it, and it still passes a parent's cancel to them.  0;
 * -EINVAL NULL; TT_ESTALE freed already (detected while the memory
 * stays, i.e. while a child or a wait holds it). */
TT_API int tt_token_free(tt_token *t);
/* 1 once cancelled, 0 before, -EINVAL for NULL (true: a caller that
 * stops on it stops).  A load of the token's first word. */
static inline int tt_token_cancelled(const tt_token *t)
{
	return t ? (int)(__atomic_load_n((const uint32_t *)(const void *)t, __ATOMIC_ACQUIRE) & 1u)
		 : -EINVAL;
}

typedef struct tt_token_wait {
	tt_leaf leaf;
	tt_token *token;
	tt_waiter w;
	int ref; /* holds a reference to TOKEN while queued */
} tt_token_wait;
TT_API extern const tt_func tt_token_wait_fn;
/* Result 0 once T is cancelled (at once if it is); -EINVAL NULL,
 * TT_ESTALE T freed before the init.  Readers see the wait as "token". */
TT_API void tt_token_wait_init(tt_token_wait *w, tt_token *t);

#ifdef __cplusplus
}
#endif
#endif
