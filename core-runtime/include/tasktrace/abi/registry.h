/* The task registry ABI: what a runtime publishes and any reader (gdb, the
 * tasktrace CLI, the crash handler) decodes without running code in the
 * process.  docs/registry-abi.md is the normative spec; this header is the
 * C rendering of it used by our own runtime.
 *
 * Readers must not compile these struct layouts in: they take every size and
 * offset from the layout table that the root carries, so a runtime built
 * with another compiler, or a later ABI minor revision, still decodes. */
#ifndef TASKTRACE_REGISTRY_H
#define TASKTRACE_REGISTRY_H

#include "tasktrace/api.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TT_REGISTRY_MAGIC 0x31474552544b5354ull /* "TSKTREG1" little-endian */
#define TT_REGISTRY_ABI_VERSION 1u
#define TT_REGISTRY_SYMBOL "tasktrace_registry"
#define TT_REGISTRY_SECTION ".tasktrace"
#define TT_SITES_SECTION "tasktrace_sites"
#define TT_FUNCS_SECTION "tasktrace_funcs"
#define TT_TASK_NAME_MAX 32
/* Labels (TASK.labels, record LABEL): our runtime keeps this many per
 * task, each key and value NUL-terminated within these bytes (so a key
 * has at most 15 bytes, a value 31); readers keep as many (§5.10). */
#define TT_TASK_LABELS_MAX 4
#define TT_LABEL_KEY_MAX 16
#define TT_LABEL_VALUE_MAX 32
#define TT_OBJECT_NAME_MAX 32 /* what readers keep of an object's name */

/* Record types of the layout table.  Numbers are frozen; new ones are
 * appended. */
enum tt_record {
	TT_REC_ROOT = 1,
	TT_REC_CHUNK = 2,
	TT_REC_TASK = 3,
	TT_REC_FRAME = 4,
	TT_REC_WAIT = 5, /* offsets relative to the start of a leaf frame */
	TT_REC_SITE = 6,
	TT_REC_FUNC = 7,
	TT_REC_WORKER = 8,
	TT_REC_LABEL = 9, /* an element of TASK.labels */
	TT_REC_HOLDERS = 10, /* the tasks that can end a wait (WAIT.HOLDERS) */
	TT_REC_RING = 11,    /* a flight recorder ring (WORKER.RING, ROOT.FOREIGN_RING) */
	TT_REC_EVENT = 12,   /* an element of RING.EVENTS */
	TT_REC_MAX_ = 13
};

/* Field numbers, per record.  Field 0 of every record is its size (the
 * stride of arrays of it).  Numbers are frozen; new ones are appended. */
enum { TT_F_SIZEOF = 0 };
enum tt_root_field {
	TT_ROOT_CHUNKS = 1,         /* ptr: array of chunk_capacity chunk pointers */
	TT_ROOT_CHUNK_COUNT = 2,    /* published chunks (release-stored last) */
	TT_ROOT_CHUNK_CAPACITY = 3, /* length of the chunks array */
	TT_ROOT_WORKERS = 4,        /* ptr: array of worker records */
	TT_ROOT_WORKER_COUNT = 5,   /* records in use (high-water mark) */
	TT_ROOT_WORKER_CAPACITY = 6,
	TT_ROOT_NOW_NS = 7,        /* CLOCK_MONOTONIC, refreshed by workers */
	TT_ROOT_START_MONO_NS = 8, /* the same clock when the registry started */
	TT_ROOT_START_REAL_NS = 9, /* CLOCK_REALTIME at that moment */
	TT_ROOT_TASKS_LIVE = 10,   /* tasks currently holding a slot */
	TT_ROOT_NEXT_TASK_ID = 11, /* ids below this have been handed out */
	TT_ROOT_RUNTIME_NAME = 12, /* ptr: NUL-terminated implementation name */
	TT_ROOT_PID = 13,
	TT_ROOT_SITES_START = 14, /* ptr range of the runtime's site section */
	TT_ROOT_SITES_STOP = 15,
	TT_ROOT_FUNCS_START = 16,
	TT_ROOT_FUNCS_STOP = 17,
	TT_ROOT_FLAGS = 18, /* TT_ROOTF_* */
	/* Set in the child of a fork: the tasks of runtimes 1..FORK_RUNTIMES
	 * are process FORK_PARENT_PID's, copied and frozen (0: no fork). */
	TT_ROOT_FORK_PARENT_PID = 19,
	TT_ROOT_FORK_RUNTIMES = 20,
	/* ptr: the RING of events recorded on threads that are not workers
	 * (wakes from foreign threads, blocking-pool ends); 0: none */
	TT_ROOT_FOREIGN_RING = 21,
	TT_ROOT_MAX_ = 22
};
enum tt_chunk_field {
	TT_CHUNK_SLOTS = 1,       /* ptr: first slot; slots are TASK-sized */
	TT_CHUNK_SLOT_COUNT = 2,  /* slots in this chunk */
	TT_CHUNK_FIRST_INDEX = 3, /* global index of the first slot */
	/* slots handed out so far, from the first: the rest never held a
	 * task (readers need not read them) */
	TT_CHUNK_USED = 4,
	TT_CHUNK_MAX_ = 5
};
enum tt_task_field {
	TT_TASK_ID = 1,  /* 0: free slot.  Never reused within a process. */
	TT_TASK_SEQ = 2, /* odd while the task's frames are being mutated */
	TT_TASK_STATE = 3,
	TT_TASK_FLAGS = 4,
	TT_TASK_NAME = 5, /* char[TT_TASK_NAME_MAX], NUL-padded */
	TT_TASK_PARENT_ID = 6,
	TT_TASK_SPAWN_SITE = 7, /* ptr: SITE */
	TT_TASK_ROOT_FRAME = 8, /* ptr: FRAME */
	TT_TASK_WORKER = 9,     /* index of the worker polling it, -1 if none */
	TT_TASK_CREATED_NS = 10,
	TT_TASK_POLL_START_NS = 11,
	TT_TASK_POLL_END_NS = 12,
	TT_TASK_WAKE_NS = 13,
	TT_TASK_POLLS = 14,
	TT_TASK_BUSY_NS = 15,
	TT_TASK_WAKES = 16,
	TT_TASK_SELF_WAKES = 17,
	TT_TASK_WAKERS = 18, /* live wakers held by leaves */
	TT_TASK_RUNTIME_ID = 19,
	TT_TASK_LABEL_COUNT = 20, /* LABEL records in use, from the first */
	TT_TASK_LABELS = 21,      /* LABEL[size / LABEL size], inline in the slot */
	/* ptr: the slot's label block (u32 capacity, u32 0, LABEL[capacity]),
	 * 0 until its first label; it stays with the slot (registry-abi.md
	 * 5.10).  A runtime publishes this or LABELS. */
	TT_TASK_LABEL_BLOCK = 22,
	/* ptr: the slot's histogram block (u32 buckets, u32 0, u32
	 * poll[buckets], u32 delay[buckets]), 0 until a bucket above 0 is
	 * counted; it stays with the slot (registry-abi.md §5.13) */
	TT_TASK_HIST = 23,
	TT_TASK_MAX_ = 24
};
enum tt_frame_field {
	TT_FRAME_FUNC = 1,    /* ptr: FUNC */
	TT_FRAME_SITE = 2,    /* ptr: SITE where suspended; 0 before first await */
	TT_FRAME_CHILD = 3,   /* ptr: first awaited child FRAME */
	TT_FRAME_SIBLING = 4, /* ptr: next child of the same parent */
	TT_FRAME_MAX_ = 5
};
enum tt_wait_field {
	TT_WAIT_KIND = 1,
	TT_WAIT_OBJECT = 2, /* address of what is waited on */
	TT_WAIT_OWNER = 3,  /* task id that can release it, 0 if unknown */
	TT_WAIT_SINCE_NS = 4,
	TT_WAIT_DETAIL = 5, /* kind-specific: deadline ns, fd, count... */
	/* ptr: NUL-terminated name the program gave the object (0: none);
	 * untrusted text, read at most TT_OBJECT_NAME_MAX-1 bytes of it */
	TT_WAIT_NAME = 6,
	/* ptr: a HOLDERS record naming the tasks any one of which can end
	 * the wait (a semaphore's holders, a channel's other end); 0: none */
	TT_WAIT_HOLDERS = 7,
	TT_WAIT_MAX_ = 8
};
enum tt_site_field {
	TT_SITE_FUNCTION = 1, /* ptr: NUL-terminated C function name */
	TT_SITE_FILE = 2,     /* ptr: NUL-terminated source file */
	TT_SITE_LINE = 3,
	TT_SITE_FLAGS = 4,  /* TT_SITEF_* */
	TT_SITE_RESUME = 5, /* code address of the resume label */
	TT_SITE_MAX_ = 6
};
enum tt_func_field {
	TT_FUNC_NAME = 1, /* ptr: async function name */
	TT_FUNC_FILE = 2,
	TT_FUNC_LINE = 3,
	TT_FUNC_KIND = 4,      /* TT_FUNC_KIND_* */
	TT_FUNC_TYPE_NAME = 5, /* ptr: C type of the frame (for gdb casts) */
	TT_FUNC_FRAME_SIZE = 6,
	TT_FUNC_POLL = 7, /* code address of the poll function */
	TT_FUNC_MAX_ = 8
};
enum tt_worker_field {
	TT_WORKER_TID = 1,
	TT_WORKER_INDEX = 2,
	TT_WORKER_STATE = 3, /* TT_WORKER_* */
	TT_WORKER_TASK_ID = 4,
	TT_WORKER_TASK = 5, /* ptr: the TASK slot being polled */
	TT_WORKER_POLL_START_NS = 6,
	TT_WORKER_RUNTIME_ID = 7,
	TT_WORKER_RING = 8, /* ptr: the worker's flight recorder RING; 0: none */
	TT_WORKER_MAX_ = 9
};
/* A bounded set of task ids kept by a synchronisation object and changed
 * under its lock. */
enum tt_holders_field {
	TT_HOLDERS_SEQ = 1,   /* odd while the record is being changed */
	TT_HOLDERS_COUNT = 2, /* ids in use at the start of IDS */
	TT_HOLDERS_FLAGS = 3, /* TT_HOLDERSF_* */
	TT_HOLDERS_LAST = 4,  /* the task last seen using this side, 0 */
	TT_HOLDERS_IDS = 5,   /* u64[size / 8]: the field's size is the capacity */
	TT_HOLDERS_MAX_ = 6
};
enum tt_holders_flags {
	/* The ids may not name every task that can end the wait (more
	 * holders than fit, a permit released by a task that did not take
	 * it, a send by an undeclared sender, a grant not yet taken up):
	 * readers draw no edge through it. */
	TT_HOLDERSF_INCOMPLETE = 1u << 0
};

enum tt_label_field {
	TT_LABEL_KEY = 1,   /* char[], NUL-terminated unless it fills the field */
	TT_LABEL_VALUE = 2, /* char[], likewise */
	TT_LABEL_MAX_ = 3
};

/* A task's histograms (TASK.HIST, docs/registry-abi.md §5.13): u32
 * counts in log2 buckets of milliseconds -- bucket 0 is under 1 ms (never
 * written: it is POLLS minus the others), bucket i >= 1 is [2^(i-1), 2^i)
 * ms, the last one open.  Our runtime keeps this many; readers as many. */
#define TT_HIST_BUCKETS 16

/* The flight recorder (docs/registry-abi.md §5.12): a ring of EVENT records
 * with one writer, which stores an event's SEQ odd (2*pos+1) before its
 * fields and even (2*pos+2) after them, pos being the event's number in
 * the ring from 0, then HEAD = pos+1. */
enum tt_ring_field {
	TT_RING_CAPACITY = 1, /* EVENT records in EVENTS */
	TT_RING_HEAD = 2,     /* events ever written; event pos is at pos % CAPACITY */
	TT_RING_EVENTS = 3,   /* ptr: EVENT[CAPACITY] */
	TT_RING_WORKER = 4,   /* index of the WORKER record it belongs to, -1: foreign */
	TT_RING_MAX_ = 5
};
enum tt_event_field {
	TT_EVENT_SEQ = 1,      /* 2*pos+2 when complete, odd while written */
	TT_EVENT_STAMP_NS = 2, /* the recording clock (§5.3), coarse */
	TT_EVENT_KIND = 3,     /* TT_EVENT_KIND_MAP */
	TT_EVENT_TASK = 4,     /* the task it is about (id) */
	TT_EVENT_ARG1 = 5,     /* kind-specific, see TT_EVENT_KIND_MAP */
	TT_EVENT_ARG2 = 6,
	TT_EVENT_ARG3 = 7,
	TT_EVENT_START_NS = 8, /* a poll's beginning (its end is STAMP_NS); 0 */
	TT_EVENT_MAX_ = 9
};

/* One row of the layout table: record type, field, byte offset, byte size.
 * For field TT_F_SIZEOF, size holds the record size and offset is 0. */
typedef struct tt_layout_entry {
	uint16_t record;
	uint16_t field;
	uint16_t offset;
	uint16_t size;
} tt_layout_entry;

/* The fixed 32-byte prefix every registry root starts with.  Everything
 * after it is described by the layout table (record TT_REC_ROOT). */
typedef struct tt_registry_header {
	uint64_t magic;
	uint32_t abi_version;
	uint32_t root_size;     /* bytes of the root, header included */
	uint8_t pointer_size;   /* 8 or 4 */
	uint8_t little_endian;  /* 1 */
	uint16_t layout_count;  /* rows of the layout table */
	uint32_t layout_offset; /* from the root's start; table lies inside */
	uint64_t reserved;
} tt_registry_header;

/* The registry's enumerations, one table each (docs/registry-abi.md §6).
 * The numbers are the ABI; everything else a reader knows about a value
 * (its word, how it is worded, what the diagnosis makes of it) is a
 * column of its row, so a new value is one new row.  Each table is an
 * X-macro: define XX with the table's columns and expand TT_..._MAP(XX).
 * docs/registry-abi.md lists exactly these rows (tests/docs checks it). */

/* XX(NAME, value, word) */
#define TT_TASK_STATE_MAP(XX)                                              \
	XX(IDLE, 0, "idle")	      /* suspended, waiting to be woken */ \
	XX(SCHEDULED, 1, "scheduled") /* woken, in a run queue */          \
	XX(RUNNING, 2, "running")     /* being polled by a worker */       \
	XX(DONE, 3, "done")                                                \
	XX(CANCELLED, 4, "cancelled")

/* XX(NAME, value, word) */
#define TT_TASK_FLAG_MAP(XX)                                                    \
	XX(SYSTEM, 1u << 0, "system") /* runtime-internal; hidden by default */ \
	XX(DETACHED, 1u << 1, "detached")                                       \
	XX(CANCEL_REQUESTED, 1u << 2, "cancel_requested")                       \
	XX(BLOCK_ON, 1u << 3, "block_on") /* the root of a block_on call */

/* XX(NAME, value, word, shape, link, edge, handoff, idle_advice, orphan,
 *    orphan_advice, cycle_advice)
 *   word     what every reader prints for the kind ("channel recv")
 *   shape    how a wait of the kind reads: NONE ("not waiting"), DEADLINE
 *            (detail is a deadline: "timer, deadline in 2s"), FD (detail is
 *            a file descriptor: "waits on fd 7 readable"), JOIN (names the
 *            owner task: "waits on join of task 3"), OBJECT (the object,
 *            then its owner: "waits on mutex 0x.. held by task 2"), CALL
 *            (the word alone: "waits on blocking call")
 *   link     the word between the wait and what it names: the owner for
 *            OBJECT and JOIN ("held by", "of"), the readiness for FD
 *   edge     OWNER (1): OWNER is a wait-for edge, so cycles of them are
 *            deadlocks; HOLDERS (2): each task of the HOLDERS record is
 *            one (any of them can end the wait), and a complete record
 *            whose tasks have all ended is never resolved; 0: none
 *   handoff  1: a woken waiter takes the object over from its owner, so
 *            while one is woken the others' owner may name the last one
 *   idle_advice    what an idle finding on such a wait advises (0: the
 *                  finding's own advice)
 *   orphan, orphan_advice   what a "never resolved" finding says when
 *            the owner is gone ("a oneshot whose producer"); 0: the wait
 *            is not such a finding
 *   cycle_advice   what a deadlock through such a wait advises (0: the
 *                  finding's own advice) */
#define TT_WAIT_KIND_MAP(XX)                                                               \
	XX(NONE, 0, "none", NONE, 0, 0, 0, 0, 0, 0, 0)                                     \
	XX(TIMER, 1, "timer", DEADLINE, 0, 0, 0, 0, 0, 0, 0)                               \
	XX(FD_READ, 2, "fd read", FD, "readable", 0, 0,                                    \
	   "the peer has been silent that long; add a timeout if that is not "             \
	   "expected.",                                                                    \
	   0, 0, 0)                                                                        \
	XX(FD_WRITE, 3, "fd write", FD, "writable", 0, 0,                                  \
	   "the peer has been silent that long; add a timeout if that is not "             \
	   "expected.",                                                                    \
	   0, 0, 0)                                                                        \
	XX(CHAN_SEND, 4, "channel send", OBJECT, "received by", 2, 0,                      \
	   "check that the other side of the channel is still running (a cycle "           \
	   "through a channel is found only when its ends are declared: "                  \
	   "tt_chan_bind_receiver).",                                                      \
	   "a full channel whose declared receivers",                                      \
	   "nothing will make room.  Keep a receiver running, or tt_chan_close() the "     \
	   "channel when the last one ends.",                                              \
	   0)                                                                              \
	XX(CHAN_RECV, 5, "channel recv", OBJECT, "sent by", 2, 0,                          \
	   "check that the other side of the channel is still running (a cycle "           \
	   "through a channel is found only when its ends are declared: "                  \
	   "tt_chan_bind_sender).",                                                        \
	   "a channel whose declared senders",                                             \
	   "it will never get a value.  tt_chan_close() the channel when the last "        \
	   "sender ends (a cleanup on cancellation too).",                                 \
	   0)                                                                              \
	XX(ONESHOT, 6, "oneshot", OBJECT, "owned by", 1, 0, 0, "a oneshot whose producer", \
	   "it will never get a value.  Make the producer send or "                        \
	   "tt_oneshot_close() on every path before it ends (a cleanup on "                \
	   "cancellation too).",                                                           \
	   0)                                                                              \
	XX(MUTEX, 7, "mutex", OBJECT, "held by", 1, 1, 0, "a mutex whose holder",          \
	   "the mutex will never be released.  Unlock it on every path out of the "        \
	   "holder, its cancellation cleanup included.",                                   \
	   "none of these tasks can make progress.  Break the cycle: do not hold a "       \
	   "mutex while awaiting a task that needs it (unlock before the join), or "       \
	   "take locks in one global order.")                                              \
	XX(SEMAPHORE, 8, "semaphore", OBJECT, "held by", 2, 0,                             \
	   "check who holds the permits (their holders are recorded only while "           \
	   "each permit is released by the task that took it).",                           \
	   "a semaphore whose holders",                                                    \
	   "its permits will never be released.  Release them on every path out "          \
	   "of the holder, its cancellation cleanup included.",                            \
	   "none of these tasks can make progress.  Break the cycle: do not hold a "       \
	   "permit while awaiting what needs one, or release it first.")                   \
	XX(NOTIFY, 9, "notify", OBJECT, "owned by", 0, 0,                                  \
	   "if it should have been woken by now, find the code that should notify "        \
	   "it.",                                                                          \
	   0, 0, 0)                                                                        \
	XX(JOIN, 10, "join", JOIN, "of", 1, 0, 0, 0, 0, 0)                                 \
	XX(GROUP, 11, "group", OBJECT, "owned by", 1, 0, 0, 0, 0, 0)                       \
	XX(BLOCKING, 12, "blocking call", CALL, 0, 0, 0,                                   \
	   "the blocking call itself has not returned; look at its thread in the "         \
	   "blocking pool.",                                                               \
	   0, 0, 0)                                                                        \
	XX(CUSTOM, 13, "custom", OBJECT, "owned by", 0, 0, 0, 0, 0, 0)                     \
	XX(TOKEN, 14, "token", OBJECT, "owned by", 0, 0,                                   \
	   "it waits for a cancellation token (usually shutdown): expected while "         \
	   "nothing cancels it.",                                                          \
	   0, 0, 0)                                                                        \
	XX(RWLOCK, 15, "rwlock", OBJECT, "held by", 1, 1, 0, "a rwlock whose holder",      \
	   "the lock will never be released.  Unlock it on every path out of the "         \
	   "holder, its cancellation cleanup included.",                                   \
	   "none of these tasks can make progress.  Break the cycle: do not take a "       \
	   "read lock twice or await a task that needs the lock while holding it.")        \
	XX(WATCH, 16, "watch", OBJECT, "owned by", 0, 0,                                   \
	   "it waits for a new value on a watch channel (often a state or shutdown): "     \
	   "expected while nothing sends one.",                                            \
	   0, 0, 0)                                                                        \
	XX(BROADCAST, 17, "broadcast", OBJECT, "sent by", 2, 0,                            \
	   "it waits for the next value on a broadcast channel; check that a sender "      \
	   "still runs (declare them with tt_broadcast_bind_sender).",                     \
	   "a broadcast channel whose declared senders",                                   \
	   "it will never get a value.  tt_broadcast_close() the channel when the "        \
	   "last sender ends (a cleanup on cancellation too).",                            \
	   0)                                                                              \
	XX(SIGNAL, 18, "signal", OBJECT, "owned by", 0, 0,                                 \
	   "it waits for a signal (tt_signal; SIGTERM and SIGINT usually mean "            \
	   "shutdown): expected while none is sent.",                                      \
	   0, 0, 0)

/* XX(NAME, value, word) */
#define TT_FUNC_KIND_MAP(XX)                                                          \
	XX(ASYNC, 0, "async")		/* an async function written with TT_BEGIN */ \
	XX(LEAF, 1, "leaf")		/* waits on something; has a WAIT record */   \
	XX(COMBINATOR, 2, "combinator") /* awaits several children */

/* XX(NAME, value, word) */
#define TT_WORKER_STATE_MAP(XX)                       \
	XX(UNUSED, 0, "unused")                       \
	XX(IDLE, 1, "idle") /* searching or parked */ \
	XX(POLLING, 2, "polling")                     \
	XX(EXITED, 3, "exited")

/* Events of the flight recorder.  XX(NAME, value, word); the comment
 * says what ARG1, ARG2 and ARG3 hold (0 when not listed).  A poll is one
 * event, written when it ends (SUSPEND, YIELD, DONE, or CANCEL with a
 * START_NS): STAMP_NS is its end, START_NS its beginning. */
#define TT_EVENT_KIND_MAP(XX)                                                          \
	XX(SPAWN, 1, "spawned") /* arg1 the parent id, arg2 ptr SITE of the spawn */   \
	XX(SUSPEND, 2, "suspended") /* a poll ended pending: arg1 ptr SITE of the      \
				       innermost await, arg2 the leaf's object,    \
				       arg3 its wait kind */                       \
	XX(YIELD, 3, "yielded")	    /* a poll ended, woken during it */                \
	XX(DONE, 4, "completed")    /* a poll ended with the task's result */          \
	XX(CANCEL, 5, "cancelled")  /* the task ended cancelled (in a poll if          \
				       START_NS is set) */                         \
	XX(WAKE, 6, "woken")	    /* queued by task arg1 (0: none) on thread arg2    \
				       (a tid, foreign ring only); arg3 1: woken   \
				       during a poll, queued when it ends */       \
	XX(BLOCKING_START, 7, "blocking call started") /* arg1 the job, arg2 tid */    \
	XX(BLOCKING_END, 8, "blocking call returned")  /* arg1 the job, arg2 tid */    \
	XX(STALL_BEGIN, 9, "stalled its worker") /* a poll past the stall              \
				       detector's threshold: arg1 the worker's         \
				       index, arg2 its tid */                          \
	XX(STALL_END, 10, "stall ended") /* arg1, arg2 the same, arg3 the              \
				       stall's length in ms */

enum tt_event_kind {
#define TT_XX_(name, value, ...) TT_EV_##name = value,
	TT_EVENT_KIND_MAP(TT_XX_)
#undef TT_XX_
};

enum tt_task_state {
#define TT_XX_(name, value, ...) TT_STATE_##name = value,
	TT_TASK_STATE_MAP(TT_XX_)
#undef TT_XX_
};

enum tt_task_flags {
#define TT_XX_(name, value, ...) TT_TASKF_##name = value,
	TT_TASK_FLAG_MAP(TT_XX_)
#undef TT_XX_
};

enum tt_wait_kind {
#define TT_XX_(name, value, ...) TT_WAIT_##name = value,
	TT_WAIT_KIND_MAP(TT_XX_)
#undef TT_XX_
#define TT_XX_(...) +1
	    TT_WAIT_KIND_MAX_ = 0 TT_WAIT_KIND_MAP(TT_XX_) /* the values are 0..MAX_-1 */
#undef TT_XX_
};

enum tt_func_kind {
#define TT_XX_(name, value, ...) TT_FUNC_KIND_##name = value,
	TT_FUNC_KIND_MAP(TT_XX_)
#undef TT_XX_
};

enum tt_site_flags {
	TT_SITEF_AWAIT = 1u << 0, /* a suspension point */
	TT_SITEF_SPAWN = 1u << 1, /* where a task was spawned */
	TT_SITEF_DONE = 1u << 2   /* the "returned" sentinel */
};

enum tt_worker_state {
#define TT_XX_(name, value, ...) TT_WORKER_##name = value,
	TT_WORKER_STATE_MAP(TT_XX_)
#undef TT_XX_
};

enum tt_root_flags {
	TT_ROOTF_RECORDING = 1u << 0 /* timestamps, counters, waits are kept */
};

/* Address of the root this process's runtime publishes (for in-process
 * readers and for tools that are told it).  Programs should not take the
 * address of the `tasktrace_registry` symbol itself: in a PIE that creates
 * a copy relocation, and a copy outside the .tasktrace section is not the
 * live root. */
TT_API const void *tt_registry_root(void);

#ifdef __cplusplus
}
#endif
#endif
