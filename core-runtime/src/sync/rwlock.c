/* Async reader-writer lock: fair (FIFO with direct hand-off), fast when
 * uncontended, and its waiters name whom they wait for (sync.h).
 *
 * rw->state holds the reader count, or WRITER and the writer's id, and
 * QUEUED while the queue is not empty.  The fast paths are one
 * compare-and-swap and never touch rw->lock: a read lock while neither
 * WRITER nor QUEUED is set (so a queued writer stops new readers), a
 * write lock from 0, and the unlocks while QUEUED is clear.  With QUEUED
 * set, whoever lets go last comes through rw->lock and hands the lock to
 * the head of the queue (dispatch): its state is set for the waiters
 * before they are woken, so a woken waiter already holds what it waited
 * for and nobody can take it in between.
 *
 * Who may change what: a holder its part of STATE (the count, or WRITER
 * and its id); a compare-and-swap from a compatible state takes it; QUEUED,
 * the queue and a grant only under rw->lock.  While QUEUED is set and the
 * lock is free, nothing but the thread holding rw->lock can change STATE.
 *
 * last_reader is not a count of anything: each reader stores its id on
 * taking the lock and clears it on letting go if it still names itself
 * (relaxed stores, no locked instruction).  So a non-zero value is a task
 * that holds a read lock; 0 means unknown. */
#include "runtime/internal.h"

#define WRITER TT_RWLOCK_WRITER
#define QUEUED TT_RWLOCK_QUEUED
#define LOW (~(WRITER | QUEUED)) /* the count, or the writer's id */
#define DEAD UINT64_MAX		 /* destroyed: no fast path takes it */

static tt_poll op_poll(tt_rwlock_op *op, tt_cx *cx);
static void op_drop(tt_rwlock_op *op);
TT_LEAF_FN(tt_read_lock, op_poll, op_drop);
TT_LEAF_FN(tt_write_lock, op_poll, op_drop);

static uint64_t load_state(tt_rwlock *rw)
{
	return __atomic_load_n(&rw->state, __ATOMIC_RELAXED);
}

static int cas_state(tt_rwlock *rw, uint64_t *s, uint64_t to, int order)
{
	return __atomic_compare_exchange_n(&rw->state, s, to, 0, order, __ATOMIC_RELAXED);
}

static tt_rwlock_op *op_of(tt_waiter *w)
{
	return tt_container_of(w, tt_rwlock_op, w);
}

static void reader_in(tt_rwlock *rw, uint64_t me)
{
	if (TT_RECORDING)
		__atomic_store_n(&rw->last_reader, me, __ATOMIC_RELAXED);
}

/* Before the count drops: a writer queueing after it must not name us. */
static void reader_out(tt_rwlock *rw, uint64_t me)
{
	if (TT_RECORDING && __atomic_load_n(&rw->last_reader, __ATOMIC_RELAXED) == me)
		__atomic_store_n(&rw->last_reader, 0, __ATOMIC_RELAXED);
}

static int try_read(tt_rwlock *rw, uint64_t me)
{
	uint64_t s = load_state(rw);
	while (!(s & (WRITER | QUEUED)))
		if (cas_state(rw, &s, s + 1, __ATOMIC_ACQUIRE)) {
			reader_in(rw, me);
			return 1;
		}
	return 0;
}

static int try_write(tt_rwlock *rw, uint64_t me)
{
	uint64_t s = 0;
	return cas_state(rw, &s, me | WRITER, __ATOMIC_ACQUIRE);
}

/* Under rw->lock: every waiter's record names whom it waits for. */
static void rename_waiters(tt_rwlock *rw)
{
	if (!TT_RECORDING)
		return;
	uint64_t s = load_state(rw);
	uint64_t holder =
	    (s & WRITER) ? (s & LOW) : __atomic_load_n(&rw->last_reader, __ATOMIC_RELAXED);
	uint64_t writer_ahead = 0;
	for (tt_waiter *w = rw->waiters.head; w; w = w->next) {
		tt_rwlock_op *op = op_of(w);
		/* A reader waits for the writer holding it, else for the queued
		 * writer it yields to. */
		uint64_t owner = op->write || (s & WRITER) ? holder : writer_ahead;
		op->leaf.wait.owner = owner;
		if (op->write && !writer_ahead && w->waker.task)
			writer_ahead = tt_task_id_of(w->waker.task);
	}
}

/* Under rw->lock, after the queue changed: QUEUED follows it. */
static void queue_changed(tt_rwlock *rw)
{
	if (rw->waiters.head)
		__atomic_fetch_or(&rw->state, QUEUED, __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(&rw->state, ~QUEUED, __ATOMIC_RELAXED);
}

/* Under rw->lock: OP holds the lock now; wake it (under the lock: once it
 * is released the waiter may be cancelled and freed by its worker). */
static void grant(tt_rwlock *rw, tt_rwlock_op *op)
{
	tt_waitq_remove(&rw->waiters, &op->w);
	__atomic_store_n(&op->granted, 1, __ATOMIC_RELEASE);
	tt_waker k = op->w.waker;
	op->w.waker.task = NULL;
	tt_waker_wake(&k);
}

/* Under rw->lock: hand the lock to the head of the queue while it is
 * compatible -- one writer, or the readers up to the next writer. */
static void dispatch(tt_rwlock *rw)
{
	tt_waiter *h;
	while ((h = rw->waiters.head)) {
		tt_rwlock_op *op = op_of(h);
		uint64_t s = load_state(rw);
		uint64_t id = tt_task_id_of(h->waker.task);
		if (op->write) {
			if (s & ~QUEUED)
				break;
			/* Free with QUEUED set: nobody else changes STATE now. */
			__atomic_store_n(&rw->state, id | WRITER | QUEUED, __ATOMIC_RELEASE);
			grant(rw, op);
			break;
		}
		if (s & WRITER)
			break;
		__atomic_fetch_add(&rw->state, 1, __ATOMIC_ACQ_REL);
		reader_in(rw, id);
		grant(rw, op);
	}
	queue_changed(rw);
	rename_waiters(rw);
}

void tt_rwlock_init(tt_rwlock *rw)
{
	if (!rw)
		return;
	tt_lockword_init(&rw->lock);
	__atomic_store_n(&rw->state, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&rw->last_reader, 0, __ATOMIC_RELAXED);
	rw->waiters.head = rw->waiters.tail = NULL;
	rw->name = NULL;
}

int tt_rwlock_set_name(tt_rwlock *rw, const char *name)
{
	if (!rw)
		return -EINVAL;
	rw->name = name;
	return 0;
}

int tt_rwlock_destroy(tt_rwlock *rw)
{
	if (!rw)
		return -EINVAL;
	uint64_t s = 0;
	if (cas_state(rw, &s, DEAD, __ATOMIC_ACQUIRE))
		return 0;
	return s == DEAD ? -EINVAL : -EBUSY;
}

int tt_rwlock_try_read(tt_rwlock *rw)
{
	if (!rw)
		return -EINVAL;
	uint64_t me = tt_current_id();
	if (!me)
		return -EPERM;
	if (try_read(rw, me))
		return 0;
	return load_state(rw) == DEAD ? -EINVAL : -EBUSY;
}

int tt_rwlock_try_write(tt_rwlock *rw)
{
	if (!rw)
		return -EINVAL;
	uint64_t me = tt_current_id();
	if (!me)
		return -EPERM;
	if (try_write(rw, me))
		return 0;
	return load_state(rw) == DEAD ? -EINVAL : -EBUSY;
}

uint64_t tt_rwlock_writer(tt_rwlock *rw)
{
	uint64_t s = rw ? __atomic_load_n(&rw->state, __ATOMIC_ACQUIRE) : 0;
	return (s & WRITER) && s != DEAD ? s & LOW : 0;
}

uint64_t tt_rwlock_readers(tt_rwlock *rw)
{
	uint64_t s = rw ? __atomic_load_n(&rw->state, __ATOMIC_ACQUIRE) : 0;
	return (s & WRITER) ? 0 : s & LOW;
}

/* The last holder let go with waiters queued (or a reader that waiters
 * may name did): hand on or rename, under the lock. */
__attribute__((noinline)) static void released_queued(tt_rwlock *rw)
{
	tt_lockword_lock(&rw->lock);
	dispatch(rw);
	tt_lockword_unlock(&rw->lock);
}

/* Let go as task ME (the caller, or a guard's task as it ends). */
static int read_unlock_as(tt_rwlock *rw, uint64_t me)
{
	uint64_t s = load_state(rw);
	if ((s & WRITER) || !(s & LOW) || !me)
		return s == DEAD ? -EINVAL : -EPERM;
	reader_out(rw, me);
	while (!cas_state(rw, &s, s - 1, __ATOMIC_RELEASE))
		if ((s & WRITER) || !(s & LOW))
			return s == DEAD ? -EINVAL : -EPERM;
	if (TT_UNLIKELY(s & QUEUED))
		released_queued(rw);
	return 0;
}

static int write_unlock_as(tt_rwlock *rw, uint64_t me)
{
	uint64_t s = me | WRITER;
	if (TT_LIKELY(me) && cas_state(rw, &s, 0, __ATOMIC_RELEASE))
		return 0;
	if (s == DEAD)
		return -EINVAL;
	if (!me || !(s & WRITER) || (s & LOW) != me)
		return -EPERM;
	/* QUEUED: the queue is ours to hand on, under the lock (nobody else
	 * changes STATE while we hold it and waiters are queued). */
	tt_lockword_lock(&rw->lock);
	__atomic_store_n(&rw->state, load_state(rw) & QUEUED, __ATOMIC_RELEASE);
	dispatch(rw);
	tt_lockword_unlock(&rw->lock);
	return 0;
}

int tt_rwlock_read_unlock(tt_rwlock *rw)
{
	if (TT_UNLIKELY(!rw))
		return -EINVAL;
	return read_unlock_as(rw, tt_current_id());
}

int tt_rwlock_write_unlock(tt_rwlock *rw)
{
	if (TT_UNLIKELY(!rw))
		return -EINVAL;
	return write_unlock_as(rw, tt_current_id());
}

static void op_init(tt_rwlock_op *op, tt_rwlock *rw, const tt_func *fn, int write)
{
	tt_frame_init(&op->leaf.frame, fn);
	tt_wait_clear(&op->leaf.wait);
	tt_waiter_init(&op->w);
	op->rw = rw;
	op->write = write;
	op->polled = 0;
	op->granted = 0;
	op->me = 0;
	op->g.holder = NULL; /* not a guard: the rest of G is unused */
	if (!rw) {
		/* Finished already: the await returns -EINVAL without a poll. */
		op->leaf.frame.state = TT_FRAME_STARTED | TT_FRAME_DONE;
		op->leaf.frame.result = -EINVAL;
	}
}

void tt_read_lock_init(tt_read_lock *op, tt_rwlock *rw)
{
	op_init(op, rw, &tt_read_lock_fn, 0);
}

void tt_write_lock_init(tt_write_lock *op, tt_rwlock *rw)
{
	op_init(op, rw, &tt_write_lock_fn, 1);
}

/* ---- guards (guard.c) ---- */

static void guard_init(tt_rwlock_op *op, tt_frame *holder, uint32_t kind)
{
	if (op->leaf.frame.state & TT_FRAME_DONE)
		return; /* refused by op_init */
	if (!holder) {
		op->leaf.frame.state = TT_FRAME_STARTED | TT_FRAME_DONE;
		op->leaf.frame.result = -EINVAL;
		return;
	}
	op->g = (tt_guard){holder, NULL, 0, kind};
}

void tt_read_guard_init(tt_read_lock *op, tt_rwlock *rw, tt_frame *holder)
{
	op_init(op, rw, &tt_read_lock_fn, 0);
	guard_init(op, holder, TT_GUARD_READ);
}

void tt_write_guard_init(tt_write_lock *op, tt_rwlock *rw, tt_frame *holder)
{
	op_init(op, rw, &tt_write_lock_fn, 1);
	guard_init(op, holder, TT_GUARD_WRITE);
}

int tt__rwlock_guard_release(tt_rwlock_op *op, uint64_t me)
{
	return op->write ? write_unlock_as(op->rw, me) : read_unlock_as(op->rw, me);
}

int tt_rwlock_guard_unlock(tt_rwlock_op *op)
{
	if (!op)
		return -EINVAL;
	uint64_t me;
	int r = tt_guard_disarm(&op->g, &me);
	return r < 0 ? r : tt__rwlock_guard_release(op, me);
}

static tt_poll op_slow(tt_rwlock_op *op, tt_cx *cx, uint64_t me)
{
	tt_rwlock *rw = op->rw;
	tt_lockword_lock(&rw->lock);
	if (__atomic_load_n(&op->granted, __ATOMIC_ACQUIRE)) {
		tt_lockword_unlock(&rw->lock);
		tt_wait_clear(&op->leaf.wait);
		op->leaf.frame.result = 0;
		return TT_READY;
	}
	if (op->w.queued) { /* polled again before its turn */
		tt_waitq_push(&rw->waiters, &op->w, cx);
		tt_lockword_unlock(&rw->lock);
		return TT_PENDING;
	}
	/* Take it if it is compatible and nobody queues, else set QUEUED --
	 * in one compare-and-swap, so a holder letting go meanwhile either
	 * frees it for us or sees QUEUED and comes here to hand it on. */
	uint64_t s = load_state(rw);
	int taken = 0;
	for (;;) {
		if (s == DEAD) {
			tt_lockword_unlock(&rw->lock);
			op->leaf.frame.result = -EINVAL;
			return TT_READY;
		}
		int free = op->write ? !(s & ~QUEUED) : !(s & WRITER);
		uint64_t to = op->write ? me | WRITER : s + 1;
		if (free && !rw->waiters.head) {
			if (cas_state(rw, &s, to, __ATOMIC_ACQUIRE)) {
				taken = 1;
				break;
			}
		} else if (cas_state(rw, &s, s | QUEUED, __ATOMIC_RELAXED)) {
			break;
		}
	}
	if (taken) {
		if (!op->write)
			reader_in(rw, me);
		tt_lockword_unlock(&rw->lock);
		op->leaf.frame.result = 0;
		return TT_READY;
	}
	op->me = me;
	tt_waitq_push(&rw->waiters, &op->w, cx);
	tt_wait_set(&op->leaf.wait, TT_WAIT_RWLOCK, rw, 0, (uint64_t)op->write);
	tt_wait_set_name(&op->leaf.wait, rw->name);
	rename_waiters(rw);
	tt_lockword_unlock(&rw->lock);
	return TT_PENDING;
}

static tt_poll op_take(tt_rwlock_op *op, tt_cx *cx, uint64_t me)
{
	if (!op->polled) {
		op->polled = 1;
		if (op->write ? try_write(op->rw, me) : try_read(op->rw, me)) {
			op->leaf.frame.result = 0;
			return TT_READY;
		}
	}
	return op_slow(op, cx, me);
}

static tt_poll op_poll(tt_rwlock_op *op, tt_cx *cx)
{
	tt_poll r = op_take(op, cx, tt_task_id_of(cx->task));
	if (TT_UNLIKELY(op->g.holder) && r == TT_READY && op->leaf.frame.result == 0)
		tt_guard_arm(&op->g, cx->task);
	return r;
}

/* Cancelled while waiting: leave the queue, and give back a lock handed
 * to us that we never used; either may let the next waiters in. */
static void op_drop(tt_rwlock_op *op)
{
	tt_rwlock *rw = op->rw;
	tt_lockword_lock(&rw->lock);
	tt_waiter_leave(&rw->waiters, &op->w);
	if (__atomic_load_n(&op->granted, __ATOMIC_ACQUIRE)) {
		uint64_t s = load_state(rw);
		if (op->write) {
			__atomic_store_n(&rw->state, s & QUEUED, __ATOMIC_RELEASE);
		} else {
			reader_out(rw, op->me); /* not the caller's: a runtime's free may cancel */
			__atomic_fetch_sub(&rw->state, 1, __ATOMIC_RELEASE);
		}
		op->granted = 0;
	}
	dispatch(rw);
	tt_lockword_unlock(&rw->lock);
	tt_wait_clear(&op->leaf.wait);
}
