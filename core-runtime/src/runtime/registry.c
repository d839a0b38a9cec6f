/* The registry root, its layout table, and task slot allocation.
 *
 * Slots live in chunks that are mmap'd once and never unmapped, so a reader
 * can hold slot addresses across reads and fetch a chunk in one read.  Chunk
 * k holds TT_CHUNK_BASE << k slots, so a million tasks need 12 chunks and
 * the chunk table stays tiny.  A slot is claimed from a lock-free free list
 * (tagged Treiber stack) or by bumping the high-water index: O(1), no lock
 * except the rare chunk allocation. */
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "runtime/internal.h"

#define TT_CHUNK_BASE 256u
#define TT_MAX_CHUNKS 24u
#define TT_MAX_WORKERS 256u

typedef struct tt_chunk {
	tt_task *slots;
	uint64_t slot_count;
	uint64_t first_index;
	/* The high-water mark of the slots claimed, so that a reader copying
	 * the registry every round (a profile, top) skips the never-used end
	 * of the last chunk: on average a quarter of all slot bytes. */
	_Atomic uint64_t used;
} tt_chunk;

#define N_LAYOUT 105

struct tt_registry_root {
	tt_registry_header hdr;
	tt_chunk *_Atomic *chunks;
	_Atomic uint32_t chunk_count;
	uint32_t chunk_capacity;
	tt_worker_record *workers;
	_Atomic uint32_t worker_count;
	uint32_t worker_capacity;
	_Atomic uint64_t now_ns;
	uint64_t start_mono_ns;
	uint64_t start_real_ns;
	_Atomic uint64_t tasks_live;
	_Atomic uint64_t next_task_id;
	const char *runtime_name;
	uint64_t pid;
	const void *sites_start, *sites_stop;
	const void *funcs_start, *funcs_stop;
	uint64_t flags;
	uint64_t fork_parent_pid;
	uint64_t fork_runtimes;
	const void *foreign_ring;
	tt_layout_entry layout[N_LAYOUT];
};

#define L_(rec, fld, type, member)                                                                \
	{                                                                                         \
		rec, fld, (uint16_t)offsetof(type, member), (uint16_t)sizeof(((type *)0)->member) \
	}
#define SZ_(rec, type)                                      \
	{                                                   \
		rec, TT_F_SIZEOF, 0, (uint16_t)sizeof(type) \
	}
#define R_(f, m) L_(TT_REC_ROOT, f, struct tt_registry_root, m)
#define C_(f, m) L_(TT_REC_CHUNK, f, tt_chunk, m)
#define T_(f, m) L_(TT_REC_TASK, f, struct tt_task, m)
#define F_(f, m) L_(TT_REC_FRAME, f, tt_frame, m)
#define W_(f, m) L_(TT_REC_WAIT, f, tt_leaf, wait.m)
#define S_(f, m) L_(TT_REC_SITE, f, tt_site, m)
#define U_(f, m) L_(TT_REC_FUNC, f, tt_func, m)
#define K_(f, m) L_(TT_REC_WORKER, f, tt_worker_record, m)
#define H_(f, m) L_(TT_REC_HOLDERS, f, tt_holders, m)

/* The runtime's own sections, not a program's of the same name. */
#define TT_SECTION_BOUND __attribute__((visibility("hidden")))
extern const tt_site __start_tasktrace_sites[] TT_SECTION_BOUND,
    __stop_tasktrace_sites[] TT_SECTION_BOUND;
extern const tt_func __start_tasktrace_funcs[] TT_SECTION_BOUND,
    __stop_tasktrace_funcs[] TT_SECTION_BOUND;

/* gdb_scripts.c: its .debug_gdb_scripts section goes wherever the registry
 * goes, a static link included. */
extern const char tt__gdb_script_anchor;
static const char *const gdb_script __attribute__((used)) = &tt__gdb_script_anchor;

static tt_chunk *_Atomic chunk_table[TT_MAX_CHUNKS];
static tt_chunk chunk_records[TT_MAX_CHUNKS];
static tt_worker_record worker_records[TT_MAX_WORKERS];

/* Exported by symbol and placed alone in its section, so readers find it
 * in stripped binaries too. */
__attribute__((visibility("default"), section(TT_REGISTRY_SECTION), used,
	       aligned(64))) struct tt_registry_root tasktrace_registry = {
	.hdr = {.magic = TT_REGISTRY_MAGIC,
		.abi_version = TT_REGISTRY_ABI_VERSION,
		.root_size = sizeof(struct tt_registry_root),
		.pointer_size = sizeof(void *),
		.little_endian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
		.layout_count = N_LAYOUT,
		.layout_offset = offsetof(struct tt_registry_root, layout)},
	.chunks = chunk_table,
	.chunk_capacity = TT_MAX_CHUNKS,
	.workers = worker_records,
	.worker_capacity = TT_MAX_WORKERS,
	.next_task_id = 1,
	.runtime_name = "tasktrace " "0.1",
	.sites_start = __start_tasktrace_sites,
	.sites_stop = __stop_tasktrace_sites,
	.funcs_start = __start_tasktrace_funcs,
	.funcs_stop = __stop_tasktrace_funcs,
	.flags = TT_RECORDING ? TT_ROOTF_RECORDING : 0,
	.layout = {
		SZ_(TT_REC_ROOT, struct tt_registry_root),
		R_(TT_ROOT_CHUNKS, chunks),
		R_(TT_ROOT_CHUNK_COUNT, chunk_count),
		R_(TT_ROOT_CHUNK_CAPACITY, chunk_capacity),
		R_(TT_ROOT_WORKERS, workers),
		R_(TT_ROOT_WORKER_COUNT, worker_count),
		R_(TT_ROOT_WORKER_CAPACITY, worker_capacity),
		R_(TT_ROOT_NOW_NS, now_ns),
		R_(TT_ROOT_START_MONO_NS, start_mono_ns),
		R_(TT_ROOT_START_REAL_NS, start_real_ns),
		R_(TT_ROOT_TASKS_LIVE, tasks_live),
		R_(TT_ROOT_NEXT_TASK_ID, next_task_id),
		R_(TT_ROOT_RUNTIME_NAME, runtime_name),
		R_(TT_ROOT_PID, pid),
		R_(TT_ROOT_SITES_START, sites_start),
		R_(TT_ROOT_SITES_STOP, sites_stop),
		R_(TT_ROOT_FUNCS_START, funcs_start),
		R_(TT_ROOT_FUNCS_STOP, funcs_stop),
		R_(TT_ROOT_FLAGS, flags),
		R_(TT_ROOT_FORK_PARENT_PID, fork_parent_pid),
		R_(TT_ROOT_FORK_RUNTIMES, fork_runtimes),
		R_(TT_ROOT_FOREIGN_RING, foreign_ring),
		SZ_(TT_REC_CHUNK, tt_chunk),
		C_(TT_CHUNK_SLOTS, slots),
		C_(TT_CHUNK_SLOT_COUNT, slot_count),
		C_(TT_CHUNK_FIRST_INDEX, first_index),
		C_(TT_CHUNK_USED, used),
		SZ_(TT_REC_TASK, struct tt_task),
		T_(TT_TASK_ID, id),
		T_(TT_TASK_SEQ, seq),
		T_(TT_TASK_STATE, state),
		T_(TT_TASK_FLAGS, flags),
		T_(TT_TASK_NAME, name),
		T_(TT_TASK_PARENT_ID, parent_id),
		T_(TT_TASK_SPAWN_SITE, spawn_site),
		T_(TT_TASK_ROOT_FRAME, root),
		T_(TT_TASK_CREATED_NS, created_ns),
		T_(TT_TASK_POLL_START_NS, poll_start_ns),
		T_(TT_TASK_POLL_END_NS, poll_end_ns),
		T_(TT_TASK_WAKE_NS, wake_ns),
		T_(TT_TASK_POLLS, polls),
		T_(TT_TASK_BUSY_NS, busy_ns),
		T_(TT_TASK_SELF_WAKES, self_wakes),
		T_(TT_TASK_WAKERS, wakers),
		T_(TT_TASK_RUNTIME_ID, runtime_id),
		T_(TT_TASK_LABEL_COUNT, label_count),
		T_(TT_TASK_LABEL_BLOCK, labels),
		T_(TT_TASK_HIST, hist),
		SZ_(TT_REC_LABEL, struct tt_label_rec),
		L_(TT_REC_LABEL, TT_LABEL_KEY, struct tt_label_rec, key),
		L_(TT_REC_LABEL, TT_LABEL_VALUE, struct tt_label_rec, value),
		SZ_(TT_REC_FRAME, tt_frame),
		F_(TT_FRAME_FUNC, func),
		F_(TT_FRAME_SITE, site),
		F_(TT_FRAME_CHILD, child),
		F_(TT_FRAME_SIBLING, sibling),
		SZ_(TT_REC_WAIT, tt_leaf),
		W_(TT_WAIT_KIND, kind),
		W_(TT_WAIT_OBJECT, object),
		W_(TT_WAIT_OWNER, owner),
		W_(TT_WAIT_SINCE_NS, since_ns),
		W_(TT_WAIT_DETAIL, detail),
		W_(TT_WAIT_NAME, name),
		W_(TT_WAIT_HOLDERS, holders),
		SZ_(TT_REC_SITE, tt_site),
		S_(TT_SITE_FUNCTION, function),
		S_(TT_SITE_FILE, file),
		S_(TT_SITE_LINE, line),
		S_(TT_SITE_FLAGS, flags),
		S_(TT_SITE_RESUME, resume),
		SZ_(TT_REC_FUNC, tt_func),
		U_(TT_FUNC_NAME, name),
		U_(TT_FUNC_FILE, file),
		U_(TT_FUNC_LINE, line),
		U_(TT_FUNC_KIND, kind),
		U_(TT_FUNC_TYPE_NAME, type_name),
		U_(TT_FUNC_FRAME_SIZE, frame_size),
		U_(TT_FUNC_POLL, poll),
		SZ_(TT_REC_WORKER, tt_worker_record),
		K_(TT_WORKER_TID, tid),
		K_(TT_WORKER_INDEX, index),
		K_(TT_WORKER_STATE, state),
		K_(TT_WORKER_TASK, task),
		K_(TT_WORKER_RUNTIME_ID, runtime_id),
		K_(TT_WORKER_RING, ring),
		SZ_(TT_REC_HOLDERS, tt_holders),
		H_(TT_HOLDERS_SEQ, seq),
		H_(TT_HOLDERS_COUNT, count),
		H_(TT_HOLDERS_FLAGS, flags),
		H_(TT_HOLDERS_LAST, last),
		H_(TT_HOLDERS_IDS, ids),
		SZ_(TT_REC_RING, tt_flight_ring),
		L_(TT_REC_RING, TT_RING_CAPACITY, tt_flight_ring, capacity),
		L_(TT_REC_RING, TT_RING_HEAD, tt_flight_ring, head),
		L_(TT_REC_RING, TT_RING_EVENTS, tt_flight_ring, events),
		L_(TT_REC_RING, TT_RING_WORKER, tt_flight_ring, worker),
		SZ_(TT_REC_EVENT, tt_flight_event),
		L_(TT_REC_EVENT, TT_EVENT_SEQ, tt_flight_event, seq),
		L_(TT_REC_EVENT, TT_EVENT_STAMP_NS, tt_flight_event, stamp_ns),
		L_(TT_REC_EVENT, TT_EVENT_KIND, tt_flight_event, kind),
		L_(TT_REC_EVENT, TT_EVENT_TASK, tt_flight_event, task),
		L_(TT_REC_EVENT, TT_EVENT_ARG1, tt_flight_event, arg1),
		L_(TT_REC_EVENT, TT_EVENT_ARG2, tt_flight_event, arg2),
		L_(TT_REC_EVENT, TT_EVENT_ARG3, tt_flight_event, arg3),
		L_(TT_REC_EVENT, TT_EVENT_START_NS, tt_flight_event, start_ns),
	}};

/* The library reaches its root through this hidden alias, never through
 * the GOT: an executable that took the exported symbol's address would get
 * a copy relocation, and the library would then fill the copy while the
 * .tasktrace section (which stripped-binary readers use) went stale. */
extern struct tt_registry_root root
    __attribute__((alias("tasktrace_registry"), visibility("hidden")));

const void *tt_registry_root(void) { return &root; }

/* Keep the section bounds defined even in a program with no await. */
static const tt_site anchor_site __attribute__((section("tasktrace_sites"),
						 used, aligned(8))) = {
	"tasktrace", __FILE__, 0, TT_SITEF_DONE, NULL};
const tt_site tt_site_done = {"tasktrace", __FILE__, 0, TT_SITEF_DONE, NULL};
static const tt_func anchor_func __attribute__((section("tasktrace_funcs"),
						 used, aligned(8))) = {
	"tasktrace", __FILE__, 0, TT_FUNC_KIND_ASYNC, "", 0, 0, NULL, NULL};

_Static_assert(sizeof(root.layout) / sizeof(tt_layout_entry) ==
		   N_LAYOUT,
	       "layout count");
/* Readers take a root of up to 4096 bytes; older ones refuse over 1024.
 * Raising this bound for a new root row drops those readers: a decision
 * to take here, not an accident (registry-abi.md §3). */
_Static_assert(sizeof(struct tt_registry_root) <= 1024, "root over 1024: older readers refuse it");

static pthread_mutex_t chunk_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t next_index;
/* Free list head: low 32 bits slot index + 1 (0 = empty), high 32 a tag. */
static _Atomic uint64_t free_head;
static _Atomic uint64_t runtime_ids;
static pthread_once_t start_once = PTHREAD_ONCE_INIT;

/* The child of a fork has a copy of every task, but none of the threads
 * that polled them: they are the parent's and stay frozen.  Readers tell
 * them by runtime id; the child's own runtimes get ids above the mark. */
static void registry_forked(void)
{
	root.fork_parent_pid = root.pid;
	root.fork_runtimes = atomic_load_explicit(&runtime_ids, RELAXED);
	root.pid = (uint64_t)getpid();
	tt_flight_forked();
}

static void registry_start(void)
{
	struct timespec m, r;
	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	root.start_mono_ns = (uint64_t)m.tv_sec * 1000000000ull + m.tv_nsec;
	root.start_real_ns = (uint64_t)r.tv_sec * 1000000000ull + r.tv_nsec;
	root.now_ns = tt_stamp_ns(); /* the clock of all recording stamps */
	root.pid = (uint64_t)getpid();
	root.foreign_ring = tt_flight_foreign_ring();
	pthread_atfork(NULL, NULL, registry_forked);
}

static unsigned chunk_of(uint64_t index, uint64_t *first)
{
	/* chunk k starts at BASE * (2^k - 1) */
	unsigned k = 63 - __builtin_clzll(index / TT_CHUNK_BASE + 1);
	*first = (uint64_t)TT_CHUNK_BASE * ((1ull << k) - 1);
	return k;
}

static tt_task *slot_at(uint64_t index)
{
	uint64_t first;
	unsigned k = chunk_of(index, &first);
	tt_chunk *c = atomic_load_explicit(&chunk_table[k], ACQUIRE);
	return &c->slots[index - first];
}

static int chunk_ensure(unsigned k)
{
	if (atomic_load_explicit(&chunk_table[k], ACQUIRE))
		return 0;
	pthread_mutex_lock(&chunk_lock);
	/* Publish in order: a reader walks chunk_table[0 .. chunk_count). */
	for (unsigned i = 0; i <= k; i++) {
		if (atomic_load_explicit(&chunk_table[i], RELAXED))
			continue;
		uint64_t n = (uint64_t)TT_CHUNK_BASE << i;
		void *mem = mmap(NULL, n * sizeof(struct tt_task),
				 PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED) {
			pthread_mutex_unlock(&chunk_lock);
			return -1;
		}
#ifdef MADV_HUGEPAGE
		/* Readers copy the slots in bulk every round (the watchdog):
		 * with huge pages the kernel walks 512 times fewer pages. */
		if (n * sizeof(struct tt_task) >= (2u << 20))
			madvise(mem, n * sizeof(struct tt_task), MADV_HUGEPAGE);
#endif
		chunk_records[i].slots = mem;
		chunk_records[i].slot_count = n;
		chunk_records[i].first_index = (uint64_t)TT_CHUNK_BASE * ((1ull << i) - 1);
		atomic_store_explicit(&chunk_table[i], &chunk_records[i], RELEASE);
		atomic_store_explicit(&root.chunk_count, i + 1, RELEASE);
	}
	pthread_mutex_unlock(&chunk_lock);
	return 0;
}

tt_task *tt_slot_alloc(void)
{
	tt_worker *w = tt__tls_worker;
	if (w && w->slots.head) {
		tt_task *t = w->slots.head;
		w->slots.head = atomic_load_explicit(&t->next, RELAXED);
		w->slots.n--;
		return t;
	}
	pthread_once(&start_once, registry_start);
	uint64_t head = atomic_load_explicit(&free_head, ACQUIRE);
	while ((uint32_t)head) {
		tt_task *t = slot_at((uint32_t)head - 1);
		tt_task *next = atomic_load_explicit(&t->next, RELAXED);
		uint64_t nh = (head & 0xffffffff00000000ull) + (1ull << 32) +
			      (next ? next->index + 1 : 0);
		if (atomic_compare_exchange_weak_explicit(&free_head, &head, nh,
							  ACQUIRE, ACQUIRE))
			return t;
	}
	uint64_t index = atomic_fetch_add_explicit(&next_index, 1, RELAXED);
	uint64_t first;
	if (index >= UINT32_MAX - 1 || chunk_of(index, &first) >= TT_MAX_CHUNKS ||
	    chunk_ensure(chunk_of(index, &first)) < 0)
		return NULL;
	/* Before the slot can hold a task: a reader that takes the mark and
	 * then the slots misses only tasks spawned after it took the mark. */
	tt_chunk *c = &chunk_records[chunk_of(index, &first)];
	uint64_t used = atomic_load_explicit(&c->used, RELAXED);
	while (used < index - first + 1 &&
	       !atomic_compare_exchange_weak_explicit(&c->used, &used, index - first + 1, RELEASE,
						      RELAXED))
		;
	tt_task *t = slot_at(index);
	t->index = (uint32_t)index;
	tt_lockword_init(&t->join_lock);
	return t;
}

/* To the global free list. */
static void slot_push(tt_task *t)
{
	uint64_t head = atomic_load_explicit(&free_head, RELAXED);
	for (;;) {
		tt_task *next = (uint32_t)head ? slot_at((uint32_t)head - 1) : NULL;
		atomic_store_explicit(&t->next, next, RELAXED);
		uint64_t nh = (head & 0xffffffff00000000ull) + (1ull << 32) +
			      t->index + 1;
		if (atomic_compare_exchange_weak_explicit(&free_head, &head, nh,
							  RELEASE, RELAXED))
			return;
	}
}

void tt_slot_free(tt_task *t)
{
	atomic_store_explicit(&t->id, 0, RELEASE);
	tt_worker *w = tt__tls_worker;
	if (w && w->slots.n < TT_SLOT_CACHE) {
		atomic_store_explicit(&t->next, w->slots.head, RELAXED);
		w->slots.head = t;
		w->slots.n++;
		return;
	}
	slot_push(t);
}

void tt_slot_cache_drain(tt_slot_cache *c)
{
	while (c->head) {
		tt_task *t = c->head;
		c->head = atomic_load_explicit(&t->next, RELAXED);
		slot_push(t);
	}
	c->n = 0;
}

/* Label blocks: bump-allocated from mmap'd arenas that, like the chunks,
 * stay for the life of the process.  Rare (a slot's first label), so one
 * lock; not malloc, whose leak checker would not look inside the chunks
 * for the pointers. */
#define LABEL_ARENA (64u * 1024u)
static pthread_mutex_t label_lock = PTHREAD_MUTEX_INITIALIZER;
static char *label_arena;
static size_t label_left;

void *tt_label_block_alloc(size_t size)
{
	void *p = NULL;
	size = (size + 7) & ~(size_t)7;
	if (size > LABEL_ARENA)
		return NULL;
	pthread_mutex_lock(&label_lock);
	if (label_left < size) {
		/* Populated here, under the lock: a block's first touch is a
		 * load-and-store of a count (hist_note), and a load of a fresh
		 * page maps the zero page, whose store then faults again and
		 * flushes the TLB of every CPU running the process (a sixth of
		 * the sleep benchmark's time with 100k tasks timing their
		 * delays). */
		void *mem = mmap(NULL, LABEL_ARENA, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (mem != MAP_FAILED) {
			label_arena = mem;
			label_left = LABEL_ARENA;
		}
	}
	if (label_left >= size) {
		p = label_arena;
		label_arena += size;
		label_left -= size;
	}
	pthread_mutex_unlock(&label_lock);
	return p;
}

uint64_t tt_next_task_id(void)
{
	return atomic_fetch_add_explicit(&root.next_task_id, 1, RELAXED);
}

uint64_t tt_next_runtime_id(void)
{
	pthread_once(&start_once, registry_start);
	return atomic_fetch_add_explicit(&runtime_ids, 1, RELAXED) + 1;
}

void tt_registry_set_now(uint64_t now)
{
	atomic_store_explicit(&root.now_ns, now, RELAXED);
}

void tt_registry_tasks_live(int delta)
{
	atomic_fetch_add_explicit(&root.tasks_live, (uint64_t)(int64_t)delta,
				  RELAXED);
}

tt_worker_record *tt_worker_record_claim(uint64_t runtime_id, uint32_t index, size_t ring_bytes)
{
	for (uint32_t i = 0; i < TT_MAX_WORKERS; i++) {
		tt_worker_record *rec = &worker_records[i];
		uint32_t expect = TT_WORKER_UNUSED;
		uint32_t exited = TT_WORKER_EXITED;
		if (atomic_compare_exchange_strong(&rec->state, &expect, TT_WORKER_IDLE) ||
		    atomic_compare_exchange_strong(&rec->state, &exited, TT_WORKER_IDLE)) {
			rec->index = index;
			rec->runtime_id = runtime_id;
			atomic_store(&rec->task, NULL);
			atomic_store(&rec->ring, tt_flight_ring_for((int32_t)i, ring_bytes));
			atomic_store(&rec->tid, (uint64_t)gettid());
			uint32_t count = atomic_load(&root.worker_count);
			while (count < i + 1 &&
			       !atomic_compare_exchange_weak(&root.worker_count,
							     &count, i + 1))
				;
			return rec;
		}
	}
	return NULL;
}

void tt_worker_record_release(tt_worker_record *rec)
{
	if (!rec)
		return;
	atomic_store(&rec->task, NULL);
	atomic_store(&rec->state, TT_WORKER_EXITED);
}

void tt_registry_for_each(void (*fn)(tt_task *t, void *arg), void *arg)
{
	uint32_t n = atomic_load_explicit(&root.chunk_count, ACQUIRE);
	uint64_t hw = atomic_load_explicit(&next_index, ACQUIRE);
	for (uint32_t k = 0; k < n; k++) {
		tt_chunk *c = atomic_load_explicit(&chunk_table[k], ACQUIRE);
		for (uint64_t i = 0; i < c->slot_count && c->first_index + i < hw; i++) {
			tt_task *t = &c->slots[i];
			if (atomic_load_explicit(&t->id, ACQUIRE))
				fn(t, arg);
		}
	}
}
