/* The registry decoder shared by every reader: the tasktrace CLI, the gdb
 * plugin's tests, the crash handler and the dump-on-signal code.
 *
 * Target memory is hostile.  Every address is checked for alignment and
 * every count against caps before use; chains are walked with cycle and
 * depth limits; a task that cannot be decoded yields one precise error
 * while the others still decode.
 *
 * Two layers:
 *  - the core (tt_reader_*): no allocation, no locks, no stdio; safe in a
 *    signal handler when the read callback is (tt_mem_self is).
 *  - the snapshot (tt_snapshot_*): reads everything in bulk into one
 *    allocated, self-contained structure with strings resolved and cached
 *    per site/function address; for the CLI and tools. */
#ifndef TASKTRACE_READER_H
#define TASKTRACE_READER_H

#include "tasktrace/api.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tasktrace/abi/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Copy LEN bytes at target address ADDR into BUF.  Returns 0, or a
 * negative errno when any byte is unreadable (nothing partial counts);
 * -ETIME: the source reads no more (a live target's stop budget ran out). */
typedef int (*tt_read_mem_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

typedef struct tt_mem {
	tt_read_mem_fn read;
	void *ctx;
} tt_mem;

/* ---- memory sources ---- */

/* This process, through process_vm_readv: a bad address is an error, not
 * a fault.  Async-signal-safe. */
TT_API tt_mem tt_mem_self(void);

/* Another live process through /proc/PID/mem.  Returns 0 or -errno. */
typedef struct tt_mem_pid {
	int fd;
	pid_t pid;
} tt_mem_pid;
TT_API int tt_mem_pid_open(tt_mem_pid *p, pid_t pid, tt_mem *out);
TT_API void tt_mem_pid_close(tt_mem_pid *p);

/* A set of regions held in this process (tests, core images already
 * loaded).  REGIONS must stay valid while used. */
typedef struct tt_mem_region {
	uint64_t addr;
	const void *data;
	size_t len;
} tt_mem_region;
typedef struct tt_mem_image {
	const tt_mem_region *regions;
	size_t count;
} tt_mem_image;
TT_API tt_mem tt_mem_image_source(tt_mem_image *img);

/* A cache in front of another source RAW, for reads that come in runs
 * (slots, frames, static records): blocks of 1 << SHIFT bytes are read
 * whole with the page after them (a record across the block's end is no
 * second read; at the edge of a mapping a block holds what is readable of
 * it: without that page, or the page around the read), direct mapped over
 * NBLOCKS entries (a power of two); what it cannot hold goes to RAW.  The
 * storage is the caller's, tt_mem_cache_size bytes, 8-aligned: malloc'd,
 * mmap'd or static, so a signal handler can use one too (the cache
 * neither allocates nor locks).  For a target that holds still, or with
 * staleness checked by the caller (a seqlock): tt_mem_cache_reset forgets
 * every block.  Init returns 0 with the cached source in *OUT, or
 * -EINVAL. */
typedef struct tt_mem_cache {
	tt_mem raw;
	unsigned shift, nblocks;
	struct tt_mem_block *blocks; /* in the storage */
	unsigned char *data;	     /* in the storage: NBLOCKS << SHIFT bytes */
} tt_mem_cache;
TT_API size_t tt_mem_cache_size(unsigned shift, unsigned nblocks);
/* At least tt_mem_cache_size, as a constant: for static storage. */
#define TT_MEM_CACHE_SIZE(shift, nblocks) ((size_t)(nblocks) * (32 + 4096 + ((size_t)1 << (shift))))
TT_API int tt_mem_cache_init(tt_mem_cache *c, tt_mem raw, unsigned shift, unsigned nblocks,
			     void *storage, size_t size, tt_mem *out);
TT_API void tt_mem_cache_reset(tt_mem_cache *c);

/* ---- errors ----
 *
 * One convention for every function of the reader and target APIs
 * (tasktrace/read/: reader.h, target.h, stop.h, sym.h): 0 on success, or a
 * count or 1 where a function says so, and a negative code on failure.  A
 * code is either a negative errno passed on from the system (a tt_mem read,
 * open(2), ptrace) or one of the table below, whose values lie below -4096,
 * beyond every errno, so the two never meet.  tt_strerror names both.  A
 * function that fails with an object at hand (tt_reader.err, tt_target.err,
 * an ERR buffer) also leaves a more precise line there.  Functions that
 * return an object (a snapshot, a text, a session) return NULL instead,
 * with the line in ERR and, where they take one, the code in *CODE.
 *
 * XX(NAME, number, message): the code is TT_##NAME = -(4096 + number).
 * Reader codes are TT_R_*, target codes TT_T_*; numbers are never reused. */
#define TT_ERROR_MAP(XX)                                                                        \
	XX(R_UNREADABLE, 1, "memory unreadable") /* the read callback failed */                 \
	XX(R_BAD_MAGIC, 2, "not a tasktrace registry (bad magic)")                              \
	XX(R_BAD_VERSION, 3, "unsupported registry ABI version")                                \
	XX(R_BAD_HEADER, 4, "malformed registry header") /* sizes, pointer size... */           \
	XX(R_BAD_LAYOUT, 5, "malformed registry layout table")                                  \
	XX(R_ABSURD, 6, "count or size beyond the reader's caps")                               \
	XX(R_MISALIGNED, 7, "misaligned pointer")                                               \
	XX(R_CYCLE, 8, "await chain loops")                                                     \
	XX(R_TOO_DEEP, 9, "await chain too deep")	/* or more frames than cap */           \
	XX(R_TORN, 10, "task kept changing while read") /* live, nonblocking */                 \
	XX(R_NOMEM, 11, "out of memory")                                                        \
	XX(R_NOT_FOUND, 12, "not found")                                                        \
	XX(R_INCONSISTENT, 13, "record contradicts the registry") /* ids, workers, counts */    \
	XX(T_NO_PROCESS, 33, "no such process")                                                 \
	XX(T_PERMISSION, 34, "permission denied")	      /* /proc/PID/mem, maps, ptrace */ \
	XX(T_NO_REGISTRY, 35, "no tasktrace registry")	      /* no module defines it */        \
	XX(T_BAD_REGISTRY, 36, "no valid tasktrace registry") /* defined, not valid */          \
	XX(T_IO, 37, "cannot read the target")		      /* out of memory, odd /proc */    \
	XX(T_NOT_ELF, 38, "not an ELF file")                                                    \
	XX(T_NOT_CORE, 39, "not a core dump")	   /* ELF, but not a core */                    \
	XX(T_TRUNCATED, 40, "core file truncated") /* shorter than its segments */              \
	XX(T_MISMATCH, 41, "executable does not match the core")                                \
	XX(T_BAD_VERSION, 42, "unsupported registry ABI version")

enum tt_error {
	TT_R_OK = 0,
	TT_T_OK = 0,
#define TT_XX_(name, number, message) TT_##name = -(4096 + number),
	TT_ERROR_MAP(TT_XX_)
#undef TT_XX_
};
/* The message of CODE (a TT_R_* / TT_T_* code or a negative errno), one
 * line.  Async-signal-safe: no strerror(3), no locale. */
TT_API const char *tt_strerror(int code);

/* ---- core layer ---- */

typedef struct tt_reader_limits {
	uint32_t max_depth;	/* frames kept on one await path, default 256 (the
				 * root and the innermost; tt_reader_walk_frames) */
	uint32_t max_frames;    /* frames per task, default 4096 */
	uint32_t max_chunks;    /* default 64 */
	uint64_t max_slots;     /* total task slots, default 1 << 26 */
	uint32_t max_workers;   /* default 4096 */
	uint32_t max_string;    /* default 4096 */
	uint32_t torn_retries;  /* default 16 */
} tt_reader_limits;

/* Optional zero-copy access, for a source whose memory holds still for
 * as long as the reader is used (a core file mapped read-only): a pointer
 * to LEN readable bytes at ADDR, or NULL when they are not all at hand
 * (the reader then copies them with the read callback).  See
 * tt_reader_set_view. */
typedef const void *(*tt_view_mem_fn)(void *ctx, uint64_t addr, size_t len);

#define TT_READER_CACHE 32 /* FUNC and SITE records kept, each */

/* Field location from the layout table; size 0 means absent. */
typedef struct tt_field {
	uint16_t offset;
	uint16_t size;
} tt_field;

/* Decoded records.  Strings are target addresses: fetch them with
 * tt_reader_string.  */
typedef struct tt_rsite {
	uint64_t addr;
	uint64_t function; /* string address */
	uint64_t file;     /* string address */
	uint32_t line;
	uint32_t flags;
	uint64_t resume;
} tt_rsite;

typedef struct tt_rfunc {
	uint64_t addr;
	uint64_t name, file, type_name; /* string addresses */
	uint32_t line;
	uint32_t kind;
	uint32_t frame_size;
	uint64_t poll;
} tt_rfunc;

typedef struct tt_reader {
	tt_mem mem;
	tt_reader_limits lim;
	uint64_t root_addr;
	uint32_t abi_version;
	uint32_t pointer_size;
	uint32_t record_size[TT_REC_MAX_];
	tt_field f_root[TT_ROOT_MAX_];
	tt_field f_chunk[TT_CHUNK_MAX_];
	tt_field f_task[TT_TASK_MAX_];
	tt_field f_frame[TT_FRAME_MAX_];
	tt_field f_wait[TT_WAIT_MAX_];
	tt_field f_site[TT_SITE_MAX_];
	tt_field f_func[TT_FUNC_MAX_];
	tt_field f_worker[TT_WORKER_MAX_];
	tt_field f_label[TT_LABEL_MAX_];
	tt_field f_holders[TT_HOLDERS_MAX_];
	tt_field f_ring[TT_RING_MAX_];
	tt_field f_event[TT_EVENT_MAX_];
	/* Copy of the root record: up to 4096 bytes, the 512 layout rows a
	 * header may count, though a writer keeps it at 1024 or under
	 * today (docs/registry-abi.md §3): a later writer's added rows are
	 * skipped, not refused. */
	unsigned char root[4096];
	char err[160]; /* last error, one line */
	/* Private to the reader: the view of tt_reader_set_view, and FUNC
	 * and SITE records decoded before (static data), direct mapped by
	 * address; open and refresh clear them. */
	tt_view_mem_fn view_;
	void *view_ctx_;
	tt_rfunc func_cache_[TT_READER_CACHE];
	tt_rsite site_cache_[TT_READER_CACHE];
} tt_reader;

/* Validate the header and decode the layout table.  LIMITS may be NULL for
 * the defaults.  Returns TT_R_OK or an error with reader->err set. */
TT_API int tt_reader_open(tt_reader *r, tt_mem mem, uint64_t root_addr,
			  const tt_reader_limits *limits);
/* Of N candidate addresses of a registry root (a symbol, the .tasktrace
 * sections of the modules: the caller finds them, with libelf or from a
 * debugger's symbol tables), the one to read: the first that opens through
 * MEM with its pid set (the runtime started it; an executable that takes
 * &tasktrace_registry gets a copy relocation, and the library's own copy
 * stays pristine, pid 0), else the first that opens.  At most
 * TT_ROOT_CANDIDATES are tried.  Returns TT_R_OK with OUT->chosen, or the
 * first candidate's error (TT_R_NOT_FOUND without candidates); OUT->failed
 * and its error say the first candidate that did not open either way. */
#define TT_ROOT_CANDIDATES 8
typedef struct tt_root_pick_out {
	size_t chosen; /* index into the candidates; SIZE_MAX: none opens */
	uint64_t pid;  /* the chosen root's pid field: 0 in a copy never started */
	size_t failed; /* the first candidate that did not open; SIZE_MAX: none */
	int error;     /* its tt_reader_open error */
	char err[160]; /* and message, one line */
} tt_root_pick_out;
TT_API int tt_root_pick(tt_mem mem, const uint64_t *addrs, size_t n, tt_root_pick_out *out);
/* Give an opened reader a zero-copy VIEW of its memory (NULL: none).
 * Every check stays; only copies are spared, and task slots are read
 * once instead of under the seqlock protocol, since the memory holds
 * still.  tt_reader_open clears it. */
TT_API void tt_reader_set_view(tt_reader *r, tt_view_mem_fn view, void *ctx);
/* Re-read the root (counts, now stamp) of an opened reader. */
TT_API int tt_reader_refresh(tt_reader *r);

/* Root values (0 when the field is absent). */
TT_API uint64_t tt_reader_root_u64(const tt_reader *r, int field);

/* What a frame's wait_holders_state says of its HOLDERS record. */
enum tt_rholders_state {
	TT_RHOLD_NONE = 0,	 /* the wait has no HOLDERS record */
	TT_RHOLD_COMPLETE = 1,	 /* wait_holders are every task that can end it */
	TT_RHOLD_INCOMPLETE = 2, /* flagged so, more than fit, torn, unreadable */
};
#define TT_RHOLDERS_MAX 4
typedef struct tt_rframe {
	uint64_t addr;
	uint64_t func; /* FUNC address */
	uint64_t site; /* SITE address, 0 if not suspended at an await */
	int32_t parent; /* index of the awaiting frame in the task's list, -1 */
	uint32_t depth; /* 0 for the root frame */
	uint32_t kind;  /* func kind, TT_FUNC_KIND_*; leaf frames carry a wait */
	uint32_t wait_kind;
	uint64_t wait_object;
	uint64_t wait_owner;
	uint64_t wait_since_ns;
	uint64_t wait_detail;
	/* the waited object's name (WAIT field NAME), as read: untrusted
	 * bytes, cut to TT_OBJECT_NAME_MAX-1; "" if none or unreadable */
	char wait_name[TT_OBJECT_NAME_MAX];
	/* The wait's HOLDERS record (docs/registry-abi.md): its first ids,
	 * whether it was read and complete (TT_RHOLD_*), and its LAST. */
	uint32_t wait_nholders;
	uint32_t wait_holders_state;
	uint64_t wait_holders[TT_RHOLDERS_MAX];
	uint64_t wait_last;
} tt_rframe;

/* A task label as the target wrote it (NUL-terminated here; printed
 * through the wording's sanitiser). */
typedef struct tt_rlabel {
	char key[TT_LABEL_KEY_MAX];
	char value[TT_LABEL_VALUE_MAX];
} tt_rlabel;

/* tt_rtask.label_flags: why the labels shown are not all the task has. */
enum {
	TT_RLABELS_CUT = 1u << 0, /* more labels, or longer ones, than a reader keeps */
	TT_RLABELS_BAD = 1u << 1, /* a count beyond its array, an empty key */
};

/* tt_rtask.hist_flags */
enum {
	/* The block's address or bucket count is junk, or its counts add up
	 * to more than the polls: no histogram is shown. */
	TT_RHIST_BAD = 1u << 0,
};

typedef struct tt_rtask {
	uint64_t slot_addr;
	uint64_t slot_index;
	uint64_t id;
	uint32_t seq;
	uint32_t state;
	uint32_t flags;
	int32_t worker;
	char name[TT_TASK_NAME_MAX];
	uint64_t parent_id;
	uint64_t spawn_site; /* SITE address */
	uint64_t root_frame; /* FRAME address */
	uint64_t created_ns, poll_start_ns, poll_end_ns, wake_ns;
	uint64_t polls, busy_ns, wakes, self_wakes;
	uint64_t wakers;
	uint64_t runtime_id;
	int running; /* seq was odd: frames may be mid-change */
	uint32_t nlabels;     /* labels[0..nlabels) */
	uint32_t label_flags; /* TT_RLABELS_* */
	tt_rlabel labels[TT_TASK_LABELS_MAX];
	/* The histograms (§5.13), bucket 0 derived; hist_buckets 0: none
	 * published (or, with TT_RHIST_BAD, none readable). */
	uint32_t hist_buckets;
	uint32_t hist_flags; /* TT_RHIST_* */
	uint32_t poll_hist[TT_HIST_BUCKETS];
	uint32_t delay_hist[TT_HIST_BUCKETS];
} tt_rtask;

typedef struct tt_rworker {
	uint64_t tid;
	uint32_t index;
	uint32_t state;
	uint64_t task_id;
	uint64_t task;
	uint64_t poll_start_ns;
	uint64_t runtime_id;
	uint64_t ring; /* its flight recorder RING, 0 */
} tt_rworker;

/* The cross-checks the registry offers against a slot array described
 * wrongly (a stride, a slot pointer, a count from junk), whose slots read
 * as tasks with ids never handed out, workers that do not exist, or far
 * more tasks than tasks_live says.  Take the registry's figures once,
 * after the slots were read (a live target's tasks spawned meanwhile then
 * pass), check each task, then the count. */
typedef struct tt_rcheck {
	uint64_t next_task_id; /* 0: not published, not checked */
	uint64_t worker_count; /* UINT64_MAX: not published */
	uint64_t tasks_live;   /* UINT64_MAX: not published */
} tt_rcheck;
TT_API void tt_rcheck_init(tt_reader *r, tt_rcheck *c);
/* 0, or TT_R_INCONSISTENT with the reason ("id 9 was never handed out
 * (next_task_id 6)") in MSG. */
TT_API int tt_rcheck_task(const tt_rcheck *c, const tt_rtask *t, char *msg, size_t len);
/* 0, or TT_R_INCONSISTENT with one line in MSG when NTASKS consistent
 * tasks cannot be what tasks_live counts (slack for a live target). */
TT_API int tt_rcheck_count(const tt_rcheck *c, uint64_t ntasks, char *msg, size_t len);

/* Iterate slots: the chunk array is read once; each call decodes the next
 * occupied slot into *out (free slots are skipped).  Returns 1 with a task,
 * 0 at the end, or a TT_R_* code for a slot that could not be read (the
 * iteration can continue; out->slot_addr says which).  A run of unreadable
 * slots is one error, and a long run gives up the rest of its chunk with
 * a second one, as the snapshot does. */
typedef struct tt_task_iter {
	uint32_t chunk;
	uint32_t chunk_count;
	uint64_t slot;
	uint64_t slot_count;
	uint64_t slots_addr;
	uint64_t first_index;
	uint64_t total;
	uint32_t bad_run; /* unreadable slots in a row (TT_R_BAD_RUN ends a chunk) */
} tt_task_iter;
TT_API void tt_task_iter_init(tt_reader *r, tt_task_iter *it);
TT_API int tt_task_iter_next(tt_reader *r, tt_task_iter *it, tt_rtask *out);

/* Like tt_task_iter_next, but only finds the next occupied slot: its
 * address, id and flags, read once, without the seqlock or the other
 * fields.  For an index pass over a target that holds still, before the
 * tasks are read with tt_reader_read_task in another order.  Returns as
 * tt_task_iter_next does. */
TT_API int tt_task_iter_next_id(tt_reader *r, tt_task_iter *it, uint64_t *slot_addr, uint64_t *id,
				uint32_t *flags);

/* The slot chunks, for readers that fetch many slots per read (the
 * in-process reports, the snapshot): the published chunk count after the
 * caps (chunk_capacity, max_chunks), then chunk I checked.  TOTAL is the
 * number of slots in the chunks before I; the caps apply to TOTAL + count.
 * TT_R_OK, or an error with the reader's message set. */
typedef struct tt_reader_chunk {
	uint64_t addr;  /* the chunk record */
	uint64_t slots; /* first slot */
	uint64_t count; /* slots in it */
	uint64_t first; /* global index of the first slot */
	uint64_t used;  /* the slots to read: those past it never held a task */
} tt_reader_chunk;
TT_API int tt_reader_chunk_count(tt_reader *r, uint32_t *count);
TT_API int tt_reader_chunk_get(tt_reader *r, uint32_t i, uint64_t total, tt_reader_chunk *out);

/* Decode a task from a slot image already in local memory (bulk reads). */
TT_API int tt_reader_decode_task(tt_reader *r, const void *slot, uint64_t slot_addr, tt_rtask *out);
/* Read one slot at SLOT_ADDR with the seqlock protocol: retries while the
 * sequence is odd-and-changing.  TT_R_TORN if it never settles. */
TT_API int tt_reader_read_task(tt_reader *r, uint64_t slot_addr, tt_rtask *out);

/* Walk the await tree of ROOT_FRAME in pre-order (a frame, then its
 * children; the first child is the awaited one).  Fills up to CAP frames and
 * sets *count.  A path longer than max_depth keeps its first frame (the
 * root, or a branch's first) and its innermost frames, the leaf with them:
 * the first kept innermost frame's depth is more than its parent's plus one
 * by the number elided (the branches of elided combinators go with them).
 * Errors: TT_R_CYCLE, TT_R_TOO_DEEP (past 65536 frames deep or visited, or
 * more than CAP or max_frames), TT_R_MISALIGNED, TT_R_UNREADABLE (frames
 * decoded before the error are kept). */
TT_API int tt_reader_walk_frames(tt_reader *r, uint64_t root_frame, tt_rframe *frames, size_t cap,
				 size_t *count);

/* The ends of a task's awaited path (the first children from the root
 * frame down) in frames as tt_reader_walk_frames writes them: every front
 * end, the signal-safe reporters too, takes a task's leaf and its "where"
 * from here.  The frames lie STRIDE bytes apart, so the snapshot's
 * tt_sframe (which starts with its tt_rframe) serves as it is. */
typedef struct tt_rpath_ends {
	size_t leaf;	/* the innermost frame; SIZE_MAX without frames */
	size_t where;	/* the innermost async frame suspended at an await, or SIZE_MAX */
	int combinator; /* a combinator on the path */
} tt_rpath_ends;
TT_API void tt_frames_path_ends(const tt_rframe *frames, size_t stride, size_t n,
				tt_rpath_ends *out);

TT_API int tt_reader_site(tt_reader *r, uint64_t addr, tt_rsite *out);
TT_API int tt_reader_func(tt_reader *r, uint64_t addr, tt_rfunc *out);
/* FUNC and SITE records with their strings, cached by address over the
 * core layer: what a reader that prints names without a snapshot needs
 * (ps without a snapshot, the crash log and dump).  N entries (a power
 * of two) of caller-owned storage, zeroed (calloc, a fresh mapping, static
 * data), direct mapped; nothing is allocated, so a signal handler can use
 * it.  Init returns 0, or -EINVAL.  A record that does not decode gives an
 * entry with ok 0, "??" names and line 0, which is not kept.  An entry
 * holds until the next lookup in its cache: to hold a func and a site at
 * once, keep them in two caches. */
#define TT_RSYM_TEXT 512
#define TT_RSYM_SITE UINT32_MAX /* kind of a site's entry */
typedef struct tt_rsym {
	uint64_t addr; /* 0: empty */
	uint32_t line;
	uint32_t kind; /* the func's TT_FUNC_KIND_*, or TT_RSYM_SITE */
	uint32_t flags; /* a site's TT_SITEF_* */
	uint64_t poll;
	uint64_t resume;
	int ok;			 /* the record decoded */
	char name[TT_RSYM_TEXT]; /* func name, or the site's C function */
	char file[TT_RSYM_TEXT]; /* the site's file; empty for a func */
} tt_rsym;
typedef struct tt_rsym_cache {
	tt_rsym *ents;
	size_t n;
} tt_rsym_cache;
TT_API int tt_rsym_cache_init(tt_rsym_cache *c, tt_rsym *storage, size_t n);
TT_API const tt_rsym *tt_rsym_func(tt_reader *r, tt_rsym_cache *c, uint64_t addr);
TT_API const tt_rsym *tt_rsym_site(tt_reader *r, tt_rsym_cache *c, uint64_t addr);

/* NUL-terminated string at ADDR into BUF (truncated to LEN-1).  An
 * unreadable string gives TT_R_UNREADABLE and "??" in BUF. */
TT_API int tt_reader_string(tt_reader *r, uint64_t addr, char *buf, size_t len);
/* Worker record I (0 <= I < worker count). */
TT_API int tt_reader_worker(tt_reader *r, uint32_t i, tt_rworker *out);

/* ---- runtimes and fork ---- */

/* Which runtimes a registry's tasks and workers belong to, and which of
 * them a fork copied from the parent (docs/registry-abi.md, "Several
 * runtimes, fork"): the facts every reader needs to name a task's
 * runtime and to tell a frozen copy from a live task.  Plain data, no
 * allocation (the reporters use it in a signal handler too). */
#define TT_RUNTIMES_SEEN 16 /* distinct runtime ids remembered */
typedef struct tt_runtimes {
	uint64_t root_pid;	 /* the registry's pid field */
	uint64_t inherited_from; /* pid of the parent whose tasks were copied, 0: none */
	uint64_t inherited_upto; /* runtime ids 1..this are that parent's */
	uint64_t ids[TT_RUNTIMES_SEEN];
	uint32_t count; /* distinct runtime ids seen (the first TT_RUNTIMES_SEEN kept) */
} tt_runtimes;
/* From R's root (pid, fork_parent_pid, fork_runtimes), with the runtime
 * ids of its worker records seen. */
TT_API void tt_runtimes_init(tt_runtimes *rt, tt_reader *r);
/* The pid of the process being read (a live pid, the pid a core records,
 * getpid() for oneself; 0 unknown).  A registry whose pid field is set
 * and differs was copied from that process by a fork of a runtime that
 * does not mark forks: every task in it is then the parent's. */
TT_API void tt_runtimes_set_target(tt_runtimes *rt, uint64_t target_pid);
/* Count RUNTIME_ID (0: no runtime) among those seen. */
TT_API void tt_runtimes_see(tt_runtimes *rt, uint64_t runtime_id);
/* The parent's pid when tasks and workers of RUNTIME_ID are a frozen copy
 * made by fork, else 0. */
TT_API uint64_t tt_runtimes_inherited(const tt_runtimes *rt, uint64_t runtime_id);
/* The thread of worker INDEX of runtime RUNTIME_ID among the N worker
 * records W (indexes count from 0 in each runtime): -1 when unknown, or
 * when that runtime is a fork's copy (its threads are the parent's). */
TT_API int64_t tt_runtimes_worker_tid(const tt_runtimes *rt, const tt_rworker *w, size_t n,
				      uint64_t runtime_id, int64_t index);

/* The index of the worker polling T, -1 if none: T's worker field where
 * the runtime publishes it, else the one of the N worker records W whose
 * task is T's slot while T is in a poll (docs/registry-abi.md §5.3). */
TT_API int32_t tt_rtask_worker(const tt_reader *r, const tt_rtask *t, const tt_rworker *w,
			       size_t n);

/* ---- the flight recorder (docs/registry-abi.md §5.12) ---- */

/* An event decoded from a ring; fields its kind does not use are 0. */
typedef struct tt_revent {
	uint64_t pos;	   /* its number in its ring */
	uint64_t stamp_ns; /* when it happened (a poll: when it ended) */
	uint64_t start_ns; /* a poll's beginning; 0 */
	uint64_t task, arg1, arg2;
	uint32_t kind, arg3; /* TT_EV_* */
	int32_t worker;	     /* the index of the ring's worker, -1: the foreign ring */
} tt_revent;

/* What reading the rings found, for the one line a front end says. */
typedef struct tt_rflight {
	uint32_t rings;	    /* rings read */
	uint32_t bad_rings; /* rings that could not be read (err says the last) */
	uint64_t events;    /* events delivered */
	uint64_t skipped;   /* torn, overwritten while read, or out of order */
	uint64_t lost;	    /* written before the oldest a ring still holds */
	char err[160];
} tt_rflight;

/* Called per event, oldest first within each ring; nonzero stops. */
typedef int (*tt_revent_fn)(void *ctx, const tt_revent *ev);

/* Decode every ring (the workers', then the foreign one), delivering the
 * events about task TASK_ID (0: all).  Non-blocking on a live target: an
 * event is delivered only if its SEQ matches its position and the ring's
 * head, read again after the copy, has not lapped it; the others are
 * counted in ST->skipped, never delivered.  No allocation, no stdio.
 * Returns the events delivered, or a TT_R_* error when the registry has
 * no recorder (TT_R_NOT_FOUND). */
TT_API int64_t tt_flight_read(tt_reader *r, uint64_t task_id, tt_revent_fn fn, void *ctx,
			      tt_rflight *st);
/* The word for event kind KIND ("suspended"), "?" if unknown. */
TT_API const char *tt_event_kind_name(uint32_t kind);

/* ---- snapshot layer ---- */

typedef struct tt_ssite {
	uint64_t addr;
	const char *function;
	const char *file;
	uint32_t line;
	uint32_t flags;
	uint64_t resume;
} tt_ssite;

typedef struct tt_sfunc {
	uint64_t addr;
	const char *name;
	const char *file;
	const char *type_name;
	uint32_t line;
	uint32_t kind;
	uint32_t frame_size;
	uint64_t poll;
} tt_sfunc;

typedef struct tt_sframe {
	tt_rframe raw;
	const tt_sfunc *func; /* never NULL: "??" names when unreadable */
	const tt_ssite *site; /* NULL when not suspended at an await */
} tt_sframe;

typedef struct tt_stask {
	tt_rtask raw;
	const tt_ssite *spawn_site; /* NULL if none */
	tt_sframe *frames;          /* pre-order, frames[0] is the root */
	size_t nframes;
	int error;          /* TT_R_OK, or why the chain is incomplete */
	char errmsg[160];   /* one line, when error != 0 */
} tt_stask;

typedef struct tt_snapshot {
	uint64_t root_addr;
	uint32_t abi_version;
	uint32_t pointer_size;
	uint64_t now_ns, start_mono_ns, start_real_ns;
	/* next_task_id: read before the slots, so a live target's task with
	 * a higher id was spawned while they were read. */
	uint64_t tasks_live, next_task_id, pid, flags;
	const char *runtime_name;
	tt_stask *tasks; /* in slot order */
	size_t ntasks;
	size_t nerrors; /* tasks with error != 0, and unreadable slots */
	tt_rworker *workers;
	size_t nworkers;
	struct tt_snap_arena *arena_; /* private */
	struct tt_snap_cache *cache_; /* private */
	tt_runtimes runtimes;	      /* of every task and worker; tt_snapshot_set_target */
} tt_snapshot;

/* Read the whole registry.  On a registry-level error returns it with a
 * one-line message in ERR (when non-NULL) and *out NULL. */
TT_API int tt_snapshot_read(tt_mem mem, uint64_t root_addr, const tt_reader_limits *limits,
			    tt_snapshot **out, char *err, size_t errlen);
TT_API void tt_snapshot_free(tt_snapshot *s);
/* Bring S (from tt_snapshot_read, of a live target) up to the registry's
 * state now, through MEM: every slot is read again, but a task whose slot
 * holds the same id and an even, unchanged seq keeps its decoded chain
 * (docs/registry-abi.md §7, "updating a snapshot"); the rest is read as
 * tt_snapshot_read reads it, seqlock checks included.  Pointers into S
 * (tasks, frames, tt_snapshot_find) are invalid after it; call
 * tt_snapshot_set_target again.  Returns the number of tasks whose
 * chains were read (a full read when the snapshot's memory is mostly
 * stale chains), or a TT_R_* error with ERR, S then left with no tasks (the
 * next update reads them all). */
TT_API int tt_snapshot_update(tt_snapshot *s, tt_mem mem, char *err, size_t errlen);
/* A word per task of S for a reader that looks again and again
 * (tt_diagnose_update): what it worked out about tasks[I], kept by
 * tt_snapshot_update while the task's slot reads byte for byte as when
 * the word was set (its chain kept too), 0 once anything in it moved.
 * tt_snapshot_memo_key names what the words mean: a key other than the
 * last one sets every word to 0 (returns 0 then, 1 when they are kept). */
TT_API int tt_snapshot_memo_key(tt_snapshot *s, uint64_t key);
TT_API uint64_t tt_snapshot_memo(const tt_snapshot *s, size_t i);
TT_API void tt_snapshot_set_memo(tt_snapshot *s, size_t i, uint64_t word);
/* The pid of the process S was read from (tt_runtimes_set_target). */
TT_API void tt_snapshot_set_target(tt_snapshot *s, uint64_t target_pid);
TT_API const tt_stask *tt_snapshot_find(const tt_snapshot *s, uint64_t id);
/* Read T of S again through MEM (a live target that was not stopped): 1
 * when it is still the same task at the same moment of its life (id,
 * seq, state, wakes, chain and waits unchanged), 0 when it moved on, or a
 * TT_R_* error.  A conclusion drawn from several tasks read one after the
 * other holds only if each of them still reads the same afterwards. */
TT_API int tt_snapshot_recheck(tt_mem mem, const tt_snapshot *s, const tt_stask *t);
/* The same through R, a reader already open on S's registry: for many
 * tasks, one open (the root and its layout read once). */
TT_API int tt_snapshot_recheck_in(tt_reader *r, const tt_stask *t);
/* The same comparison against NOW, T's task as a later snapshot read it
 * (a second look at many tasks in one read): 1 same moment, 0 moved. */
TT_API int tt_stask_same_moment(const tt_stask *t, const tt_stask *now);
/* Through MEM now: 1 when a task spawned after S's read began (an id at or
 * past s->next_task_id, so S could not see it) waits on OBJECT, 0 when
 * none does, or a TT_R_* error (a slot not read may hold one).  What is
 * concluded from the waiters of an object holds only if none is unseen. */
TT_API int tt_snapshot_newer_wait(tt_mem mem, const tt_snapshot *s, uint64_t object);
/* The innermost frame of the awaited path (follows first children), and
 * the innermost async frame on it suspended at an await (NULL: none), as
 * tt_frames_path_ends finds them. */
TT_API const tt_sframe *tt_stask_leaf(const tt_stask *t);
TT_API const tt_sframe *tt_stask_where(const tt_stask *t);
/* The next child of frame PARENT after frame AFTER (pass PARENT for the
 * first, which is the awaited one); t->nframes when there is none. */
TT_API size_t tt_stask_next_child(const tt_stask *t, size_t parent, size_t after);
/* The awaited path from frame FROM down to its leaf, into PATH (outermost
 * first); returns its length. */
TT_API size_t tt_stask_path(const tt_stask *t, size_t from, size_t *path, size_t cap);
/* Free text the snapshot helpers return (tasklist.h, taskjson.h). */
TT_API void tt_text_free(char *text);
/* Parent links followed for an ancestry, at most. */
#define TT_MAX_ANCESTRY 64

/* The "now" to age a target's stamps against.  The registry's now stamp
 * is refreshed only while workers run, so it is stale in a hung process.
 * A live PID shares this machine's monotonic clock (shifted by time
 * namespaces); a CORE file's mtime, moved onto the monotonic clock through
 * the registry's start stamps, is when it was written.  Either falls back
 * to REGISTRY_NOW, and is never earlier than it. */
TT_API uint64_t tt_live_now(pid_t pid, uint64_t registry_now);
/* The same at LOCAL_MONO_NS, a moment of this process's CLOCK_MONOTONIC:
 * when the target stopped, for a reader that looks at it long after (gdb:
 * attaching reads every library's symbols before the first command, and
 * a poll under way at the stop must not age meanwhile). */
TT_API uint64_t tt_live_now_at(pid_t pid, uint64_t registry_now, uint64_t local_mono_ns);
TT_API uint64_t tt_core_now(const char *core, uint64_t registry_now, uint64_t start_mono,
			    uint64_t start_real);

/* Names for the enums, for every front end to use the same words. */
TT_API const char *tt_state_name(uint32_t state);    /* "idle", "running", ... */
TT_API const char *tt_wait_kind_name(uint32_t kind); /* "channel recv", "timer" */

#ifdef __cplusplus
}
#endif
#endif
