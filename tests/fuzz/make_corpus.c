/* The fuzz target's seed corpus (tests/fuzz/corpus/): registry images
 * built with the reader tests' image builders (tests/reader/reg_image.h),
 * written in the fuzz input format (fuzz_image.h).
 *
 *   make_corpus DIR     writes DIR/NAME for each seed below */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../reader/reg_image.h"
#include "fuzz_image.h"

static const char *dir;

static void put(FILE *f, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		fputc((int)(v >> 8 * i & 0xff), f);
}

/* The root first (the fuzz target takes it from the first region), then
 * the part of the heap in use. */
static void save(img *g, const char *name, unsigned opts)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputc((int)opts, f);
	put(f, g->root_addr, 8);
	put(f, IMG_ROOT_SIZE, 4);
	fwrite(g->root, 1, IMG_ROOT_SIZE, f);
	put(f, g->heap_addr, 8);
	put(f, g->used, 4);
	fwrite(g->heap, 1, g->used, f);
	if (fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	img_free(g);
}

static void workers(img *g, unsigned n, uint64_t busy_task)
{
	uint64_t w = img_alloc(g, 32 * n);

	for (unsigned i = 0; i < n; i++) {
		img_set(g, TT_REC_WORKER, TT_WORKER_TID, w + 32 * i, 1000 + i);
		img_set(g, TT_REC_WORKER, TT_WORKER_INDEX, w + 32 * i, i);
		img_set(g, TT_REC_WORKER, TT_WORKER_STATE, w + 32 * i,
			i == 0 && busy_task ? TT_WORKER_POLLING : TT_WORKER_IDLE);
		if (i == 0 && busy_task)
			img_set(g, TT_REC_WORKER, TT_WORKER_TASK_ID, w, busy_task);
	}
	img_set(g, TT_REC_ROOT, TT_ROOT_WORKERS, IMG_ROOT_ADDR, w);
	img_set(g, TT_REC_ROOT, TT_ROOT_WORKER_COUNT, IMG_ROOT_ADDR, n);
	img_set(g, TT_REC_ROOT, TT_ROOT_WORKER_CAPACITY, IMG_ROOT_ADDR, n);
}

/* A server: a 4-deep chain on a channel, a select over a timer and a
 * join, a running task, a finished one, a system task. */
static void server(unsigned opts, const char *name)
{
	img g;
	img_init(&g, 1 << 14);
	uint64_t f_serve = img_func(&g, "conn_serve", TT_FUNC_KIND_ASYNC);
	uint64_t f_read = img_func(&g, "read_request", TT_FUNC_KIND_ASYNC);
	uint64_t f_recv = img_func(&g, "tt_chan_recv", TT_FUNC_KIND_LEAF);
	uint64_t f_sel = img_func(&g, "tt_select", TT_FUNC_KIND_COMBINATOR);
	uint64_t f_sleep = img_func(&g, "tt_sleep", TT_FUNC_KIND_LEAF);
	uint64_t f_join = img_func(&g, "tt_join", TT_FUNC_KIND_LEAF);
	uint64_t s_serve = img_site(&g, "conn_serve", "src/server.c", 10, TT_SITEF_AWAIT);
	uint64_t s_read = img_site(&g, "read_request", "src/server.c", 20, TT_SITEF_AWAIT);
	uint64_t s_watch = img_site(&g, "watchdog", "src/watch.c", 40, TT_SITEF_AWAIT);
	uint64_t s_done = img_site(&g, "done", "rt.c", 0, TT_SITEF_DONE);
	uint64_t slots = img_chunk(&g, 6);

	uint64_t leaf = img_frame(&g, f_recv, 0, 0, 0);
	img_wait(&g, leaf, TT_WAIT_CHAN_RECV, img_alloc(&g, 64), 0, 0);
	uint64_t mid = img_frame(&g, f_read, s_read, leaf, 0);
	img_task(&g, img_slot(slots, 0), 1, "conn#1", TT_STATE_IDLE,
		 img_frame(&g, f_serve, s_serve, mid, 0));
	img_set(&g, TT_REC_TASK, TT_TASK_SPAWN_SITE, img_slot(slots, 0), s_watch);

	uint64_t join = img_frame(&g, f_join, 0, 0, 0);
	img_wait(&g, join, TT_WAIT_JOIN, img_slot(slots, 0), 1, 0);
	uint64_t sleep = img_frame(&g, f_sleep, 0, 0, join);
	img_wait(&g, sleep, TT_WAIT_TIMER, 0, 0, 9000000000ull);
	img_task(&g, img_slot(slots, 1), 2, "watchdog", TT_STATE_SCHEDULED,
		 img_frame(&g, f_sel, s_watch, sleep, 0));
	img_set(&g, TT_REC_TASK, TT_TASK_PARENT_ID, img_slot(slots, 1), 1);

	img_task(&g, img_slot(slots, 2), 3, "busy", TT_STATE_RUNNING,
		 img_frame(&g, f_serve, 0, 0, 0));
	img_set(&g, TT_REC_TASK, TT_TASK_WORKER, img_slot(slots, 2), 0);
	img_set(&g, TT_REC_TASK, TT_TASK_SEQ, img_slot(slots, 2), 7);
	img_set(&g, TT_REC_TASK, TT_TASK_PARENT_ID, img_slot(slots, 2), 1);

	img_task(&g, img_slot(slots, 4), 5, "finished", TT_STATE_DONE,
		 img_frame(&g, f_serve, s_done, 0, 0));
	img_set(&g, TT_REC_TASK, TT_TASK_POLLS, img_slot(slots, 4), 77);
	img_task(&g, img_slot(slots, 5), 6, "tt-system", TT_STATE_IDLE,
		 img_frame(&g, f_sleep, 0, 0, 0));
	img_set(&g, TT_REC_TASK, TT_TASK_FLAGS, img_slot(slots, 5), TT_TASKF_SYSTEM);
	workers(&g, 2, 3);
	save(&g, name, opts);
}

/* Findings: a join cycle (deadlock), a mutex whose holder is gone (never
 * resolved), a notify nobody owns (lost waker). */
static void hung(void)
{
	img g;
	img_init(&g, 1 << 14);
	uint64_t f_main = img_func(&g, "worker_main", TT_FUNC_KIND_ASYNC);
	uint64_t f_join = img_func(&g, "tt_join", TT_FUNC_KIND_LEAF);
	uint64_t f_lock = img_func(&g, "tt_mutex_lock", TT_FUNC_KIND_LEAF);
	uint64_t f_notified = img_func(&g, "tt_notified", TT_FUNC_KIND_LEAF);
	uint64_t site = img_site(&g, "worker_main", "src/hung.c", 33, TT_SITEF_AWAIT);
	uint64_t slots = img_chunk(&g, 4);
	uint64_t mutex = img_alloc(&g, 32), notify = img_alloc(&g, 32);

	for (unsigned i = 0; i < 2; i++) {
		uint64_t leaf = img_frame(&g, f_join, 0, 0, 0);
		img_wait(&g, leaf, TT_WAIT_JOIN, img_slot(slots, 1 - i), 2 - i, 0);
		img_task(&g, img_slot(slots, i), 1 + i, i ? "b" : "a", TT_STATE_IDLE,
			 img_frame(&g, f_main, site, leaf, 0));
	}
	uint64_t lock = img_frame(&g, f_lock, 0, 0, 0);
	img_wait(&g, lock, TT_WAIT_MUTEX, mutex, 41, 0);
	img_task(&g, img_slot(slots, 2), 3, "locker", TT_STATE_IDLE,
		 img_frame(&g, f_main, site, lock, 0));
	uint64_t nf = img_frame(&g, f_notified, 0, 0, 0);
	img_wait(&g, nf, TT_WAIT_NOTIFY, notify, 0, 0);
	img_task(&g, img_slot(slots, 3), 4, "waiter", TT_STATE_IDLE,
		 img_frame(&g, f_main, site, nf, 0));
	img_set(&g, TT_REC_ROOT, TT_ROOT_NEXT_TASK_ID, IMG_ROOT_ADDR, 50);
	img_set(&g, TT_REC_ROOT, TT_ROOT_NOW_NS, IMG_ROOT_ADDR, 900000000000ull);
	workers(&g, 1, 0);
	/* Their last events, in a wrapped ring of 16 (the foreign one): every
	 * kind, a torn event and one stamped out of order among them. */
	uint64_t ring = img_ring(&g, 16);
	uint64_t t = 899000000000ull;
	const struct {
		uint32_t kind;
		uint64_t task, a1, a2;
		uint32_t a3;
	} ev[] = {
	    {TT_EV_SPAWN, 1, 0, site, 0},	    {TT_EV_SPAWN, 2, 1, site, 0},
	    {TT_EV_SUSPEND, 1, site, img_slot(slots, 1), TT_WAIT_JOIN},
	    {TT_EV_SUSPEND, 2, site, img_slot(slots, 0), TT_WAIT_JOIN},
	    {TT_EV_WAKE, 3, 41, 0, 1},		    {TT_EV_YIELD, 3, 0, 0, 0},
	    {TT_EV_SUSPEND, 3, site, mutex, TT_WAIT_MUTEX},
	    {TT_EV_BLOCKING_START, 41, 7, 1234, 0}, {TT_EV_BLOCKING_END, 41, 7, 1234, 0},
	    {TT_EV_DONE, 41, 0, 0, 0},		    {TT_EV_STALL_BEGIN, 4, 0, 1000, 0},
	    {TT_EV_STALL_END, 4, 0, 1000, 250},	    {TT_EV_SUSPEND, 4, site, notify, TT_WAIT_NOTIFY},
	    {TT_EV_CANCEL, 42, 0, 0, 0},	    {TT_EV_WAKE, 4, 0, 77, 0},
	    {TT_EV_SUSPEND, 4, site, notify, TT_WAIT_NOTIFY},
	};
	for (unsigned i = 0; i < sizeof ev / sizeof ev[0]; i++) {
		uint64_t pos = 6 + i, stamp = t + i * 1000000ull;
		if (i == 9)
			stamp = t; /* out of order */
		img_event(&g, ring, pos, ev[i].kind, stamp, ev[i].task, ev[i].a1, ev[i].a2,
			  ev[i].a3, stamp - 500000);
	}
	/* Event 12 torn: a seq of another lap. */
	img_set(&g, TT_REC_EVENT, TT_EVENT_SEQ,
		img_get(&g, TT_REC_RING, TT_RING_EVENTS, ring) + (12 % 16) * 64, 2 * (12 + 16) + 2);
	save(&g, "hung", FZ_ALL);
}

/* A chain deeper than the reader's depth cap. */
static void deep(void)
{
	img g;
	img_init(&g, 300 * IMG_LEAF_SIZE + 4096);
	uint64_t f = img_func(&g, "deep", TT_FUNC_KIND_ASYNC);
	uint64_t site = img_site(&g, "deep", "deep.c", 1, TT_SITEF_AWAIT);
	uint64_t leaf = img_frame(&g, img_func(&g, "tt_sleep", TT_FUNC_KIND_LEAF), 0, 0, 0);
	uint64_t child = leaf;

	img_wait(&g, leaf, TT_WAIT_TIMER, 0, 0, 1000);
	for (unsigned i = 0; i < 280; i++)
		child = img_frame(&g, f, site, child, 0);
	img_task(&g, img_slot(img_chunk(&g, 1), 0), 1, "deep", TT_STATE_IDLE, child);
	save(&g, "deep", 0);
}

/* Several chunks, names in UTF-8 and with control bytes, tasks sharing
 * chains (ps --group). */
static void chunks(void)
{
	static const char *names[] = {
	    "plain",	   "caf\xc3\xa9", "\xe2\x9c\x93-ok",	   "tab\there",
	    "esc\x1b[31m", "c1\xc2\x9b",  "emoji\xf0\x9f\x98\x80", ""};
	img g;
	img_init(&g, 1 << 14);
	uint64_t f_main = img_func(&g, "handler", TT_FUNC_KIND_ASYNC);
	uint64_t f_recv = img_func(&g, "tt_chan_recv", TT_FUNC_KIND_LEAF);
	uint64_t site = img_site(&g, "handler", "src/h.c", 5, TT_SITEF_AWAIT);
	uint64_t chan = img_alloc(&g, 64);
	uint64_t id = 1;

	for (unsigned c = 0; c < 3; c++) {
		uint64_t slots = img_chunk(&g, 4);
		for (unsigned i = 0; i < 4; i += 1 + (c == 1)) {
			uint64_t leaf = img_frame(&g, f_recv, 0, 0, 0);
			img_wait(&g, leaf, TT_WAIT_CHAN_RECV, chan, 0, 0);
			img_task(&g, img_slot(slots, i), id, names[id % 8], TT_STATE_IDLE,
				 img_frame(&g, f_main, site, leaf, 0));
			img_set(&g, TT_REC_TASK, TT_TASK_PARENT_ID, img_slot(slots, i), id / 2);
			id++;
		}
	}
	workers(&g, 3, 0);
	save(&g, "chunks", FZ_GROUP);
}

static void empty(void)
{
	img g;
	img_init(&g, 256);
	save(&g, "empty", 0);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_corpus DIR\n");
		return 2;
	}
	dir = argv[1];
	server(0, "server");
	server(FZ_VIEW | FZ_BT_IDS | FZ_ALL, "server-view");
	server(FZ_CACHE | FZ_TIGHT, "server-tight");
	hung();
	deep();
	chunks();
	empty();
	return 0;
}
