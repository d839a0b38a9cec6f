/* ring_prog MODE: a process whose flight recorder holds events written by
 * hand (through the layout the readers use), for what a live run cannot
 * time: "script" the timeline of tests/cli/trace.py's rings test, "absurd"
 * the same with worker 0's ring of an absurd capacity, "order" with one
 * of its stamps out of order.  Prints "ring_prog: pid P base B ready"
 * (B: the stamps' origin, ns) and stays alive.
 *
 * The script, in ms from B (ids not in the registry: named "task N"):
 *   worker 0: 1 spawn 1001; 2-3 poll 1001 suspended on notify 0xabc0;
 *             7.5-8 poll 1002 completed; 5-9 poll 1001 suspended;
 *             10-11 poll 1001 completed;
 *             12 spawn 1003; 12.5-14 poll 1003 yielded; 15-16 poll 1003
 *             completed; 17 spawn 1004; 18-20 poll 1004 yielded;
 *             21-22 poll 1004 completed; 23 spawn 1005; 24-26 poll 1005
 *             yielded; 27-28 poll 1005 suspended on notify 0xabc0
 *   foreign:  4 wake 1001 (leads to the 5-9 poll); 6 wake 1001, stamped
 *             before that poll's end by its waker's older clock (leads to
 *             the 10-11 poll); 7 wake 1002 (first seen: its wait began
 *             before the rings); 13 wake 1003 during its 12.5-14 poll
 *             (leads to the 15-16 poll); 17.5 wake 1004 during its 18-20
 *             poll, stamped before that poll's start by an older clock
 *             (leads to the 21-22 poll); 26.5 wake 1005 during its 24-26
 *             poll, stamped after that poll's end by a newer clock (the
 *             yield's: leads to the 27-28 poll, after which 1005 waits) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tasktrace/read/reader.h"
#include "tasktrace/tasktrace.h"

typedef struct nop {
	tt_frame frame;
} nop;
static tt_poll nop_poll(nop *self, tt_cx *cx);
TT_ASYNC_FN(nop, nop_poll, NULL);
static tt_poll nop_poll(nop *self, tt_cx *cx)
{
	(void)cx;
	TT_BEGIN(self);
	TT_RETURN(self, 0);
}

static tt_reader r;

static void put(uint64_t ring, uint64_t pos, int kind, uint64_t stamp, uint64_t start,
		uint64_t task, uint64_t a1, uint64_t a2, uint32_t a3)
{
	uint64_t *rf = (uint64_t *)(uintptr_t)(ring + r.f_ring[TT_RING_EVENTS].offset);
	uint64_t capacity = *(uint64_t *)(uintptr_t)(ring + r.f_ring[TT_RING_CAPACITY].offset);
	unsigned char *e =
	    (unsigned char *)(uintptr_t)*rf + (pos % capacity) * r.record_size[TT_REC_EVENT];
	const tt_field *f = r.f_event;
	memset(e, 0, r.record_size[TT_REC_EVENT]);
	*(uint64_t *)(e + f[TT_EVENT_STAMP_NS].offset) = stamp;
	*(uint64_t *)(e + f[TT_EVENT_KIND].offset) = (uint64_t)kind;
	*(uint64_t *)(e + f[TT_EVENT_TASK].offset) = task;
	*(uint64_t *)(e + f[TT_EVENT_ARG1].offset) = a1;
	*(uint64_t *)(e + f[TT_EVENT_ARG2].offset) = a2;
	*(uint32_t *)(e + f[TT_EVENT_ARG3].offset) = a3;
	*(uint64_t *)(e + f[TT_EVENT_START_NS].offset) = start;
	*(uint64_t *)(e + f[TT_EVENT_SEQ].offset) = 2 * pos + 2;
	uint64_t *head = (uint64_t *)(uintptr_t)(ring + r.f_ring[TT_RING_HEAD].offset);
	if (*head < pos + 1)
		*head = pos + 1;
}

#define MS(x) (base + (uint64_t)((x)*1000000.0))

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "script";
	tt_runtime_opts o = {.workers = 0, .recorder_bytes = 4096};
	tt_runtime *rt = tt_runtime_new(&o);
	nop n = TT_NEW(nop);
	if (!rt || tt_block_on_named(rt, &n.frame, "nop") != 0)
		return 1;
	tt_recorder_enable(0); /* the rings are ours from here on */
	if (tt_reader_open(&r, tt_mem_self(), (uint64_t)(uintptr_t)tt_registry_root(), NULL) !=
	    TT_R_OK)
		return 1;
	tt_rworker w;
	uint64_t foreign = tt_reader_root_u64(&r, TT_ROOT_FOREIGN_RING);
	if (tt_reader_worker(&r, 0, &w) != TT_R_OK || !w.ring || !foreign ||
	    r.f_event[TT_EVENT_ARG3].size != 4 || r.f_event[TT_EVENT_STAMP_NS].size != 8)
		return 1;
	uint64_t ring = w.ring;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t base = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	/* After what the runtime wrote: its events are older than ours. */
	uint64_t p0 = *(uint64_t *)(uintptr_t)(ring + r.f_ring[TT_RING_HEAD].offset);
	uint64_t f0 = *(uint64_t *)(uintptr_t)(foreign + r.f_ring[TT_RING_HEAD].offset);
	put(ring, p0 + 0, TT_EV_SPAWN, MS(1), 0, 1001, 0, 0, 0);
	put(ring, p0 + 1, TT_EV_SUSPEND, MS(3), MS(2), 1001, 0, 0xabc0, TT_WAIT_NOTIFY);
	put(ring, p0 + 2, TT_EV_DONE, MS(8), MS(7.5), 1002, 0, 0, 0);
	put(ring, p0 + 3, TT_EV_SUSPEND, MS(9), MS(5), 1001, 0, 0xabc0, TT_WAIT_NOTIFY);
	put(ring, p0 + 4, TT_EV_DONE, MS(11), MS(10), 1001, 0, 0, 0);
	put(foreign, f0 + 0, TT_EV_WAKE, MS(4), 0, 1001, 0, 4242, 0);
	put(foreign, f0 + 1, TT_EV_WAKE, MS(6), 0, 1001, 0, 4242, 0);
	put(foreign, f0 + 2, TT_EV_WAKE, MS(7), 0, 1002, 0, 4242, 0);
	put(ring, p0 + 5, TT_EV_SPAWN, MS(12), 0, 1003, 0, 0, 0);
	put(ring, p0 + 6, TT_EV_YIELD, MS(14), MS(12.5), 1003, 0, 0, 0);
	put(ring, p0 + 7, TT_EV_DONE, MS(16), MS(15), 1003, 0, 0, 0);
	put(ring, p0 + 8, TT_EV_SPAWN, MS(17), 0, 1004, 0, 0, 0);
	put(ring, p0 + 9, TT_EV_YIELD, MS(20), MS(18), 1004, 0, 0, 0);
	put(ring, p0 + 10, TT_EV_DONE, MS(22), MS(21), 1004, 0, 0, 0);
	put(ring, p0 + 11, TT_EV_SPAWN, MS(23), 0, 1005, 0, 0, 0);
	put(ring, p0 + 12, TT_EV_YIELD, MS(26), MS(24), 1005, 0, 0, 0);
	put(ring, p0 + 13, TT_EV_SUSPEND, MS(28), MS(27), 1005, 0, 0xabc0, TT_WAIT_NOTIFY);
	put(foreign, f0 + 3, TT_EV_WAKE, MS(13), 0, 1003, 0, 4242, 1);
	put(foreign, f0 + 4, TT_EV_WAKE, MS(17.5), 0, 1004, 0, 4242, 1);
	put(foreign, f0 + 5, TT_EV_WAKE, MS(26.5), 0, 1005, 0, 4242, 1);
	if (!strcmp(mode, "absurd"))
		*(uint64_t *)(uintptr_t)(ring + r.f_ring[TT_RING_CAPACITY].offset) = 1ull << 40;
	else if (!strcmp(mode, "order"))
		put(ring, p0 + 2, TT_EV_DONE, MS(2.5), MS(2.5), 1002, 0, 0, 0);
	printf("ring_prog: pid %d base %llu ready\n", (int)getpid(), (unsigned long long)base);
	fflush(stdout);
	for (;;)
		pause();
}
