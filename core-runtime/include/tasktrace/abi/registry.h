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
	TT_REC_MAX_ = 9
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
	TT_ROOT_MAX_ = 19
};
enum tt_chunk_field {
	TT_CHUNK_SLOTS = 1,       /* ptr: first slot; slots are TASK-sized */
	TT_CHUNK_SLOT_COUNT = 2,  /* slots in this chunk */
	TT_CHUNK_FIRST_INDEX = 3, /* global index of the first slot */
	TT_CHUNK_MAX_ = 4
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
	TT_TASK_MAX_ = 20
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
	TT_WAIT_MAX_ = 6
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
	TT_WORKER_MAX_ = 8
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

enum tt_task_state {
	TT_STATE_IDLE = 0,      /* suspended, waiting to be woken */
	TT_STATE_SCHEDULED = 1, /* woken, in a run queue */
	TT_STATE_RUNNING = 2,   /* being polled by a worker */
	TT_STATE_DONE = 3,
	TT_STATE_CANCELLED = 4
};

enum tt_task_flags {
	TT_TASKF_SYSTEM = 1u << 0, /* runtime-internal; hidden by default */
	TT_TASKF_DETACHED = 1u << 1,
	TT_TASKF_CANCEL_REQUESTED = 1u << 2,
	TT_TASKF_BLOCK_ON = 1u << 3 /* the root of a block_on call */
};

enum tt_wait_kind {
	TT_WAIT_NONE = 0,
	TT_WAIT_TIMER = 1,
	TT_WAIT_FD_READ = 2,
	TT_WAIT_FD_WRITE = 3,
	TT_WAIT_CHAN_SEND = 4,
	TT_WAIT_CHAN_RECV = 5,
	TT_WAIT_ONESHOT = 6,
	TT_WAIT_MUTEX = 7,
	TT_WAIT_SEMAPHORE = 8,
	TT_WAIT_NOTIFY = 9,
	TT_WAIT_JOIN = 10,
	TT_WAIT_GROUP = 11,
	TT_WAIT_BLOCKING = 12,
	TT_WAIT_CUSTOM = 13,
	TT_WAIT_KIND_MAX_ = 14
};

enum tt_func_kind {
	TT_FUNC_KIND_ASYNC = 0, /* an async function written with TT_BEGIN */
	TT_FUNC_KIND_LEAF = 1,  /* waits on something; has a WAIT record */
	TT_FUNC_KIND_COMBINATOR = 2 /* awaits several children */
};

enum tt_site_flags {
	TT_SITEF_AWAIT = 1u << 0, /* a suspension point */
	TT_SITEF_SPAWN = 1u << 1, /* where a task was spawned */
	TT_SITEF_DONE = 1u << 2   /* the "returned" sentinel */
};

enum tt_worker_state {
	TT_WORKER_UNUSED = 0,
	TT_WORKER_IDLE = 1, /* searching or parked */
	TT_WORKER_POLLING = 2,
	TT_WORKER_EXITED = 3
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
