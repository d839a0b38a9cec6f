/* The flight recorder's rings (docs/registry-abi.md §5.12): their sizes, their
 * memory, the foreign ring, and the run-time switch.  The writer itself is
 * tt_flight_put (internal.h), inline on the poll path.
 *
 * A ring is mmap'd once and never unmapped: a reader in the process (the
 * crash handler) or out of it may hold its address at any time, and a
 * core carries it like the task slots.  Pages are touched as events fill
 * them, so a ring costs its bytes only once it has wrapped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/internal.h"

/* A few seconds of a busy server: a worker polling 20k tasks a second
 * writes about 60k events (poll, suspend, wake), 2.9 MB a second. */
#define TT_FLIGHT_DEFAULT_BYTES (8u << 20)
#define TT_FLIGHT_MIN_EVENTS 64u
#define TT_FLIGHT_MAX_BYTES (1ull << 32)

_Atomic int tt__flight_on = 1;

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static size_t env_bytes = TT_FLIGHT_DEFAULT_BYTES;

static tt_flight_ring foreign;
static tt_lockword foreign_lock;
static pthread_once_t foreign_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t rings_lock = PTHREAD_MUTEX_INITIALIZER;

/* "off", "0", or a size in bytes with an optional K, M or G suffix; a
 * value that is none of these leaves the default (and says so once). */
static void env_read(void)
{
	const char *s = getenv("TASKTRACE_RECORDER");
	if (!s || !*s)
		return;
	if (!strcmp(s, "off") || !strcmp(s, "0")) {
		env_bytes = 0;
		atomic_store_explicit(&tt__flight_on, 0, RELAXED);
		return;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;
	if (*end == 'K' || *end == 'k')
		shift = 10, end++;
	else if (*end == 'M' || *end == 'm')
		shift = 20, end++;
	else if (*end == 'G' || *end == 'g')
		shift = 30, end++;
	if (errno || *end || end == s || v > (TT_FLIGHT_MAX_BYTES >> shift)) {
		static const char msg[] = "tasktrace: TASKTRACE_RECORDER: expected off or a "
					  "size (4M, 512K, bytes); using the default\n";
		ssize_t rc = write(2, msg, sizeof msg - 1);
		(void)rc;
		return;
	}
	env_bytes = (size_t)(v << shift);
}

size_t tt_flight_bytes(long opts_bytes)
{
	if (!TT_RECORDING || opts_bytes < 0)
		return 0;
	if (opts_bytes > 0)
		return (size_t)opts_bytes < TT_FLIGHT_MAX_BYTES ? (size_t)opts_bytes
								: TT_FLIGHT_MAX_BYTES;
	pthread_once(&env_once, env_read);
	return env_bytes;
}

/* Events in BYTES, rounded down to a power of two (the writer masks). */
static uint64_t capacity_of(size_t bytes)
{
	uint64_t cap = bytes / sizeof(tt_flight_event);
	if (cap < TT_FLIGHT_MIN_EVENTS)
		return TT_FLIGHT_MIN_EVENTS;
	return 1ull << (63 - __builtin_clzll(cap));
}

/* The ring's memory, in huge pages where it holds at least one: the
 * writer streams through it, and 4 KiB pages cost a page fault every 73
 * events until the ring has wrapped once (a tenth of spawn-join's time in
 * a fresh runtime) and a TLB miss as often after that. */
#define TT_HUGE_PAGE (2ul << 20)
static void *ring_map(size_t len)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	if (len < TT_HUGE_PAGE) {
		void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
		return mem == MAP_FAILED ? NULL : mem;
	}
	/* Aligned to a huge page: map one more and trim both ends. */
	char *mem = mmap(NULL, len + TT_HUGE_PAGE, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (mem == MAP_FAILED)
		return NULL;
	char *start = (char *)(((uintptr_t)mem + TT_HUGE_PAGE - 1) & ~(TT_HUGE_PAGE - 1));
	if (start > mem)
		munmap(mem, (size_t)(start - mem));
	munmap(start + len, (size_t)(mem + TT_HUGE_PAGE - start));
#ifdef MADV_HUGEPAGE
	/* Advice only: where transparent huge pages are off it changes nothing. */
	madvise(start, len, MADV_HUGEPAGE);
#endif
	return start;
}

static int ring_init(tt_flight_ring *r, int32_t worker, size_t bytes)
{
	uint64_t cap = capacity_of(bytes);
	void *mem = ring_map(cap * sizeof(tt_flight_event));
	if (!mem)
		return -1;
	r->worker = worker;
	r->capacity = cap;
	r->events = mem;
	atomic_store_explicit(&r->head, 0, RELAXED);
	return 0;
}

/* One ring per worker record, kept across the runtimes that claim the
 * record: its writer is whichever worker holds the record.  A runtime
 * asking for another size gets a new ring; the old one stays mapped (a
 * reader may hold it) and is reused by a later runtime of its size. */
static tt_flight_ring ring_pool[256][2];

tt_flight_ring *tt_flight_ring_for(int32_t worker, size_t bytes)
{
	if (!bytes || worker < 0 || worker >= 256)
		return NULL;
	uint64_t cap = capacity_of(bytes);
	tt_flight_ring *got = NULL;
	pthread_mutex_lock(&rings_lock);
	for (int i = 0; i < 2 && !got; i++) {
		tt_flight_ring *r = &ring_pool[worker][i];
		if (r->capacity == cap || (!r->capacity && ring_init(r, worker, bytes) == 0))
			got = r;
	}
	pthread_mutex_unlock(&rings_lock);
	return got;
}

static void foreign_init(void)
{
	size_t bytes = tt_flight_bytes(0);
	if (bytes)
		ring_init(&foreign, -1, bytes / 4);
}

const void *tt_flight_foreign_ring(void)
{
	pthread_once(&foreign_once, foreign_init);
	return foreign.capacity ? &foreign : NULL;
}

static uint64_t thread_id(void)
{
	static TT_TLS uint64_t tid;
	if (!tid)
		tid = (uint64_t)syscall(SYS_gettid);
	return tid;
}

void tt_flight_put_foreign(uint32_t kind, uint64_t task, uint64_t a1, uint64_t a2, uint32_t a3)
{
	if (!tt_flight_on() || !tt_flight_foreign_ring())
		return;
	if (kind == TT_EV_WAKE || kind == TT_EV_BLOCKING_START || kind == TT_EV_BLOCKING_END)
		a2 = thread_id();
	/* Foreign events are rare (a wake from a thread of the program's, the
	 * end of a blocking call): a lock among their writers keeps the ring
	 * single-writer at a time.  The runtime's lock word, not a spin lock:
	 * a writer preempted while it holds it must not make the others spin
	 * through their time slices. */
	tt_lockword_lock(&foreign_lock);
	tt_flight_put(&foreign, kind, tt_stamp_ns(), task, a1, a2, a3, 0);
	tt_lockword_unlock(&foreign_lock);
}

void tt_flight_forked(void)
{
	/* A writer of the parent's that held the lock is not in the child. */
	tt_lockword_init(&foreign_lock);
}

int tt_recorder_enable(int on)
{
	return atomic_exchange_explicit(&tt__flight_on, on != 0, RELAXED);
}

void tt_flight_refresh(tt_worker *w)
{
	w->fr = tt_flight_on() && w->rec ? atomic_load_explicit(&w->rec->ring, RELAXED) : NULL;
	w->poll = w->fr ? tt_task_poll_recorded : tt_task_poll;
}
