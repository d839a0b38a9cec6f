/* The registry reader against synthetic and corrupted images: exact
 * decoding of a good registry, one precise error per kind of damage, and
 * a fuzz loop that must never crash or hang. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reg_image.h"
#include "tasktrace/read/history.h"
#include "tasktrace/read/bt.h"
#include "tasktrace/read/tasklist.h"

/* ---- the good image ---- */

struct good {
	uint64_t slots;
	uint64_t t1_frames[4], t2_frames[3], t5_frame;
	uint64_t site[4], chan;
	uint64_t workers;
};

static void build_good(img *g, struct good *k)
{
	uint64_t f_async = img_func(g, "conn_serve", TT_FUNC_KIND_ASYNC);
	uint64_t f_read = img_func(g, "read_request", TT_FUNC_KIND_ASYNC);
	uint64_t f_parse = img_func(g, "parse_header", TT_FUNC_KIND_ASYNC);
	uint64_t f_recv = img_func(g, "tt_chan_recv", TT_FUNC_KIND_LEAF);
	uint64_t f_sel = img_func(g, "tt_select", TT_FUNC_KIND_COMBINATOR);
	uint64_t f_sleep = img_func(g, "tt_sleep", TT_FUNC_KIND_LEAF);
	uint64_t f_join = img_func(g, "tt_join", TT_FUNC_KIND_LEAF);
	uint64_t s_done = img_site(g, "done", "rt.c", 0, TT_SITEF_DONE);

	memset(k, 0, sizeof(*k));
	k->site[0] = img_site(g, "conn_serve", "src/server.c", 10, TT_SITEF_AWAIT);
	k->site[1] = img_site(g, "read_request", "src/server.c", 20, TT_SITEF_AWAIT);
	k->site[2] = img_site(g, "parse_header", "src/http.c", 30, TT_SITEF_AWAIT);
	k->site[3] = img_site(g, "watchdog", "src/watch.c", 40, TT_SITEF_AWAIT);
	k->chan = img_alloc(g, 64);
	k->slots = img_chunk(g, 4);

	/* Task 1: a 4-deep chain ending in a channel receive. */
	k->t1_frames[3] = img_frame(g, f_recv, 0, 0, 0);
	img_wait(g, k->t1_frames[3], TT_WAIT_CHAN_RECV, k->chan, 0, 0);
	k->t1_frames[2] = img_frame(g, f_parse, k->site[2], k->t1_frames[3], 0);
	k->t1_frames[1] = img_frame(g, f_read, k->site[1], k->t1_frames[2], 0);
	k->t1_frames[0] = img_frame(g, f_async, k->site[0], k->t1_frames[1], 0);
	img_task(g, img_slot(k->slots, 0), 1, "conn#1", TT_STATE_IDLE,
		 k->t1_frames[0]);
	img_set(g, TT_REC_TASK, TT_TASK_SPAWN_SITE, img_slot(k->slots, 0),
		k->site[3]);

	/* Task 2: a combinator over a timer and a join on task 1. */
	k->t2_frames[2] = img_frame(g, f_join, 0, 0, 0);
	img_wait(g, k->t2_frames[2], TT_WAIT_JOIN, img_slot(k->slots, 0), 1, 0);
	k->t2_frames[1] = img_frame(g, f_sleep, 0, 0, k->t2_frames[2]);
	img_wait(g, k->t2_frames[1], TT_WAIT_TIMER, 0, 0, 9000000000ull);
	k->t2_frames[0] = img_frame(g, f_sel, k->site[3], k->t2_frames[1], 0);
	img_task(g, img_slot(k->slots, 1), 2, "watchdog", TT_STATE_SCHEDULED,
		 k->t2_frames[0]);
	img_set(g, TT_REC_TASK, TT_TASK_PARENT_ID, img_slot(k->slots, 1), 1);
	img_set(g, TT_REC_TASK, TT_TASK_WORKER, img_slot(k->slots, 1), 1);

	/* Slot 2 stays free.  Task 5 has returned. */
	k->t5_frame = img_frame(g, f_async, s_done, 0, 0);
	img_task(g, img_slot(k->slots, 3), 5, "finished", TT_STATE_DONE,
		 k->t5_frame);
	img_set(g, TT_REC_TASK, TT_TASK_POLLS, img_slot(k->slots, 3), 77);
	img_set(g, TT_REC_ROOT, TT_ROOT_NEXT_TASK_ID, IMG_ROOT_ADDR, 6);

	k->workers = img_alloc(g, 2 * 32);
	img_set(g, TT_REC_WORKER, TT_WORKER_TID, k->workers + 32, 1234);
	img_set(g, TT_REC_WORKER, TT_WORKER_INDEX, k->workers + 32, 1);
	img_set(g, TT_REC_WORKER, TT_WORKER_STATE, k->workers + 32,
		TT_WORKER_POLLING);
	img_set(g, TT_REC_WORKER, TT_WORKER_TASK_ID, k->workers + 32, 2);
	img_set(g, TT_REC_ROOT, TT_ROOT_WORKERS, IMG_ROOT_ADDR, k->workers);
	img_set(g, TT_REC_ROOT, TT_ROOT_WORKER_COUNT, IMG_ROOT_ADDR, 2);
	img_set(g, TT_REC_ROOT, TT_ROOT_WORKER_CAPACITY, IMG_ROOT_ADDR, 2);
}

static img G;
static struct good K;

static void setup(void)
{
	img_init(&G, 1 << 16);
	build_good(&G, &K);
}

static void teardown(void)
{
	img_free(&G);
}

static int open_g(tt_reader *r)
{
	return tt_reader_open(r, img_mem(&G), IMG_ROOT_ADDR, NULL);
}

/* ---- good image ---- */

START_TEST(test_good_core)
{
	tt_reader r;
	tt_task_iter it;
	tt_rtask t;
	tt_rframe fr[16];
	size_t n;
	char buf[64];
	tt_rsite site;

	ck_assert_int_eq(open_g(&r), TT_R_OK);
	ck_assert_uint_eq(tt_reader_root_u64(&r, TT_ROOT_PID), 4242);
	ck_assert_uint_eq(tt_reader_root_u64(&r, TT_ROOT_CHUNK_COUNT), 1);
	ck_assert_uint_eq(tt_reader_root_u64(&r, TT_ROOT_START_REAL_NS), 0);
	ck_assert_uint_eq(r.record_size[TT_REC_TASK], IMG_TASK_SIZE);

	tt_task_iter_init(&r, &it);
	ck_assert_int_eq(tt_task_iter_next(&r, &it, &t), 1);
	ck_assert_uint_eq(t.id, 1);
	ck_assert_str_eq(t.name, "conn#1");
	ck_assert_uint_eq(t.state, TT_STATE_IDLE);
	ck_assert_uint_eq(t.slot_index, 0);
	ck_assert_uint_eq(t.slot_addr, img_slot(K.slots, 0));
	ck_assert_int_eq(t.worker, -1); /* 0xffff in a 2-byte field */
	ck_assert_uint_eq(t.spawn_site, K.site[3]);
	ck_assert_int_eq(t.running, 0);

	ck_assert_int_eq(tt_reader_walk_frames(&r, t.root_frame, fr, 16, &n),
			 TT_R_OK);
	ck_assert_uint_eq(n, 4);
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_uint_eq(fr[i].addr, K.t1_frames[i]);
		ck_assert_uint_eq(fr[i].depth, i);
		ck_assert_int_eq(fr[i].parent, (int)i - 1);
	}
	ck_assert_uint_eq(fr[0].site, K.site[0]);
	ck_assert_uint_eq(fr[3].kind, TT_FUNC_KIND_LEAF);
	ck_assert_uint_eq(fr[3].wait_kind, TT_WAIT_CHAN_RECV);
	ck_assert_uint_eq(fr[3].wait_object, K.chan);
	ck_assert_uint_eq(fr[3].wait_since_ns, 1000);
	ck_assert_uint_eq(fr[2].wait_kind, 0);
	ck_assert_int_eq(tt_reader_site(&r, fr[2].site, &site), TT_R_OK);
	ck_assert_uint_eq(site.line, 30);
	ck_assert_uint_eq(site.flags, TT_SITEF_AWAIT);
	ck_assert_int_eq(tt_reader_string(&r, site.file, buf, sizeof(buf)),
			 TT_R_OK);
	ck_assert_str_eq(buf, "src/http.c");

	ck_assert_int_eq(tt_task_iter_next(&r, &it, &t), 1);
	ck_assert_uint_eq(t.id, 2);
	ck_assert_int_eq(t.worker, 1);
	ck_assert_uint_eq(t.parent_id, 1);
	ck_assert_int_eq(tt_reader_walk_frames(&r, t.root_frame, fr, 16, &n),
			 TT_R_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(fr[0].kind, TT_FUNC_KIND_COMBINATOR);
	ck_assert_uint_eq(fr[1].addr, K.t2_frames[1]);
	ck_assert_uint_eq(fr[2].addr, K.t2_frames[2]);
	ck_assert_int_eq(fr[1].parent, 0);
	ck_assert_int_eq(fr[2].parent, 0);
	ck_assert_uint_eq(fr[1].depth, 1);
	ck_assert_uint_eq(fr[2].depth, 1);
	ck_assert_uint_eq(fr[1].wait_kind, TT_WAIT_TIMER);
	ck_assert_uint_eq(fr[1].wait_detail, 9000000000ull);
	ck_assert_uint_eq(fr[2].wait_kind, TT_WAIT_JOIN);
	ck_assert_uint_eq(fr[2].wait_owner, 1);
	ck_assert_uint_eq(fr[2].wait_object, img_slot(K.slots, 0));

	/* The free slot is skipped. */
	ck_assert_int_eq(tt_task_iter_next(&r, &it, &t), 1);
	ck_assert_uint_eq(t.id, 5);
	ck_assert_uint_eq(t.slot_index, 3);
	ck_assert_uint_eq(t.polls, 77);
	ck_assert_uint_eq(t.state, TT_STATE_DONE);
	ck_assert_int_eq(tt_task_iter_next(&r, &it, &t), 0);
	ck_assert_int_eq(tt_task_iter_next(&r, &it, &t), 0);
}
END_TEST

START_TEST(test_good_snapshot)
{
	tt_snapshot *s;
	char err[160];
	const tt_stask *t;
	const tt_sframe *leaf;

	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s,
					  err, sizeof(err)),
			 TT_R_OK);
	ck_assert_uint_eq(s->ntasks, 3);
	ck_assert_uint_eq(s->nerrors, 0);
	ck_assert_str_eq(s->runtime_name, "testrt");
	ck_assert_uint_eq(s->pid, 4242);
	ck_assert_uint_eq(s->now_ns, 5000000000ull);
	ck_assert_uint_eq(s->next_task_id, 6);
	ck_assert_uint_eq(s->tasks_live, 3);
	ck_assert_uint_eq(s->tasks[0].raw.id, 1);
	ck_assert_uint_eq(s->tasks[1].raw.id, 2);
	ck_assert_uint_eq(s->tasks[2].raw.id, 5);

	t = tt_snapshot_find(s, 1);
	ck_assert_ptr_eq(t, &s->tasks[0]);
	ck_assert_uint_eq(t->nframes, 4);
	ck_assert_str_eq(t->frames[0].func->name, "conn_serve");
	ck_assert_str_eq(t->frames[0].site->file, "src/server.c");
	ck_assert_uint_eq(t->frames[0].site->line, 10);
	ck_assert_str_eq(t->frames[1].site->function, "read_request");
	ck_assert_uint_eq(t->frames[2].site->line, 30);
	ck_assert_ptr_null(t->frames[3].site);
	ck_assert_str_eq(t->frames[3].func->name, "tt_chan_recv");
	ck_assert_str_eq(t->spawn_site->function, "watchdog");
	/* Cached per address: the same site is the same object. */
	ck_assert_ptr_eq(t->spawn_site, s->tasks[1].frames[0].site);
	/* Interned per string address: both funcs share "src/x.c"? no -
	 * each func has its own string, but a func is decoded once. */
	ck_assert_ptr_eq(t->frames[0].func, s->tasks[2].frames[0].func);
	leaf = tt_stask_leaf(t);
	ck_assert_ptr_eq(leaf, &t->frames[3]);
	ck_assert_uint_eq(leaf->raw.wait_kind, TT_WAIT_CHAN_RECV);
	ck_assert_ptr_eq(tt_stask_where(t), &t->frames[2]);

	t = tt_snapshot_find(s, 2);
	ck_assert_uint_eq(t->nframes, 3);
	leaf = tt_stask_leaf(t);
	ck_assert_ptr_eq(leaf, &t->frames[1]); /* the first child */
	ck_assert_ptr_eq(tt_stask_where(t), t->frames[0].site ? &t->frames[0] : NULL);
	ck_assert_uint_eq(t->frames[2].raw.wait_owner, 1);
	ck_assert_str_eq(t->frames[0].func->name, "tt_select");

	t = tt_snapshot_find(s, 5);
	ck_assert_uint_eq(t->nframes, 1);
	ck_assert_uint_eq(t->frames[0].site->flags, TT_SITEF_DONE);
	ck_assert_ptr_null(tt_snapshot_find(s, 3));

	ck_assert_uint_eq(s->nworkers, 2);
	ck_assert_uint_eq(s->workers[1].tid, 1234);
	ck_assert_uint_eq(s->workers[1].state, TT_WORKER_POLLING);
	ck_assert_uint_eq(s->workers[1].task_id, 2);
	tt_snapshot_free(s);
}
END_TEST

/* A runtime that leaves out what readers can derive (registry-abi.md
 * §5.3 and §5.8, "Derived"), as tasktrace does to write less per poll:
 * the task's worker from the worker record pointing at its slot, that
 * record's task id and poll start from the slot, wakes from polls, and
 * the end and wake stamps a poll within one clock tick did not write. */
START_TEST(test_derived_fields)
{
	uint64_t s0 = img_slot(K.slots, 0), s1 = img_slot(K.slots, 1), s2 = img_slot(K.slots, 2);
	uint64_t w0 = K.workers, w1 = K.workers + 32;

	img_set(&G, TT_REC_TASK, TT_TASK_POLLS, s0, 3); /* idle */
	img_set(&G, TT_REC_TASK, TT_TASK_POLL_START_NS, s0, 3000);
	img_set(&G, TT_REC_TASK, TT_TASK_POLL_END_NS, s0, 2000);
	img_set(&G, TT_REC_TASK, TT_TASK_SEQ, s1, 5); /* in its fifth poll */
	img_set(&G, TT_REC_TASK, TT_TASK_POLLS, s1, 4);
	img_set(&G, TT_REC_TASK, TT_TASK_POLL_START_NS, s1, 5000);
	img_task(&G, s2, 3, "yielder", TT_STATE_SCHEDULED, 0);
	img_set(&G, TT_REC_TASK, TT_TASK_POLLS, s2, 2);
	img_set(&G, TT_REC_TASK, TT_TASK_POLL_START_NS, s2, 6000);
	img_set(&G, TT_REC_TASK, TT_TASK_WAKE_NS, s2, 1000);
	img_set(&G, TT_REC_TASK, TT_TASK_SELF_WAKES, s2, 9);
	img_set(&G, TT_REC_WORKER, TT_WORKER_TASK, w1, s1);
	/* Worker 0 points at a slot whose poll has ended (a live read). */
	img_set(&G, TT_REC_WORKER, TT_WORKER_STATE, w0, TT_WORKER_POLLING);
	img_set(&G, TT_REC_WORKER, TT_WORKER_TASK, w0, s0);
	img_set(&G, TT_REC_WORKER, TT_WORKER_TASK_ID, w0, 1);
	/* The image has no TASK wakes nor WORKER poll_start_ns rows. */
	img_row(&G, TT_REC_TASK, TT_TASK_WORKER)->record = 0;
	img_row(&G, TT_REC_WORKER, TT_WORKER_TASK_ID)->record = 0;

	tt_reader r;
	tt_rtask t;
	tt_rworker w[2];
	ck_assert_int_eq(open_g(&r), TT_R_OK);
	ck_assert_int_eq(tt_reader_worker(&r, 0, &w[0]), TT_R_OK);
	ck_assert_int_eq(tt_reader_worker(&r, 1, &w[1]), TT_R_OK);
	ck_assert_uint_eq(w[0].task, 0);
	ck_assert_uint_eq(w[0].task_id, 0);
	ck_assert_uint_eq(w[1].task, s1);
	ck_assert_uint_eq(w[1].task_id, 2);
	ck_assert_uint_eq(w[1].poll_start_ns, 5000);

	ck_assert_int_eq(tt_reader_read_task(&r, s0, &t), TT_R_OK);
	ck_assert_uint_eq(t.poll_end_ns, 3000);
	ck_assert_uint_eq(t.wakes, 2);
	ck_assert_int_eq(tt_rtask_worker(&r, &t, w, 2), -1);
	ck_assert_int_eq(tt_reader_read_task(&r, s1, &t), TT_R_OK);
	ck_assert_uint_eq(t.state, TT_STATE_RUNNING);
	ck_assert_uint_eq(t.wakes, 4);
	ck_assert_int_eq(tt_rtask_worker(&r, &t, w, 2), 1);
	ck_assert_int_eq(tt_reader_read_task(&r, s2, &t), TT_R_OK);
	ck_assert_uint_eq(t.poll_end_ns, 6000);
	ck_assert_uint_eq(t.wake_ns, 6000);
	ck_assert_uint_eq(t.wakes, 2);
	ck_assert_uint_eq(t.self_wakes, 2);

	/* The snapshot, and so every reader's words, the same. */
	tt_snapshot *s;
	char err[160];
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s, err, sizeof(err)),
			 TT_R_OK);
	ck_assert_int_eq(tt_snapshot_find(s, 2)->raw.worker, 1);
	ck_assert_int_eq(tt_snapshot_find(s, 1)->raw.worker, -1);
	ck_assert_uint_eq(tt_snapshot_find(s, 3)->raw.wake_ns, 6000);
	ck_assert_uint_eq(s->workers[1].task_id, 2);
	ck_assert_uint_eq(s->workers[1].poll_start_ns, 5000);
	ck_assert_uint_eq(s->workers[0].task_id, 0);
	tt_snapshot_free(s);
}
END_TEST

/* ---- header and layout ---- */

static int open_err(tt_reader *r)
{
	return open_g(r);
}

START_TEST(test_truncated_root)
{
	tt_reader r;
	tt_snapshot *s = (void *)1;
	char err[160];
	tt_mem m = img_mem(&G);

	G.regs[0].len = 100; /* the header reads, the root does not */
	ck_assert_int_eq(tt_reader_open(&r, m, IMG_ROOT_ADDR, NULL),
			 TT_R_UNREADABLE);
	ck_assert_ptr_nonnull(strstr(r.err, "unreadable"));
	ck_assert_int_eq(tt_snapshot_read(m, IMG_ROOT_ADDR, NULL, &s, err,
					  sizeof(err)),
			 TT_R_UNREADABLE);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err, "root"));
	G.regs[0].len = 16;
	ck_assert_int_eq(tt_reader_open(&r, m, IMG_ROOT_ADDR, NULL),
			 TT_R_UNREADABLE);
	ck_assert_int_eq(tt_reader_open(&r, m, IMG_ROOT_ADDR + 4, NULL),
			 TT_R_MISALIGNED);
}
END_TEST

START_TEST(test_bad_magic_version)
{
	tt_reader r;

	G.root[0] ^= 1;
	ck_assert_int_eq(open_err(&r), TT_R_BAD_MAGIC);
	G.root[0] ^= 1;
	img_w(&G, IMG_ROOT_ADDR + 8, 7, 4);
	ck_assert_int_eq(open_err(&r), TT_R_BAD_VERSION);
	ck_assert_ptr_nonnull(strstr(r.err, "version 7"));
	ck_assert_ptr_nonnull(strstr(r.err, "supports 1"));
	img_w(&G, IMG_ROOT_ADDR + 8, 1, 4);
	G.root[16] = 4;
	ck_assert_int_eq(open_err(&r), TT_R_BAD_HEADER);
	G.root[16] = 8;
	G.root[17] = 0;
	ck_assert_int_eq(open_err(&r), TT_R_BAD_HEADER);
	G.root[17] = 1;
	img_w(&G, IMG_ROOT_ADDR + 12, 4104, 4); /* root_size > 4096 */
	ck_assert_int_eq(open_err(&r), TT_R_BAD_HEADER);
	img_w(&G, IMG_ROOT_ADDR + 12, 16, 4);
	ck_assert_int_eq(open_err(&r), TT_R_BAD_HEADER);
	img_w(&G, IMG_ROOT_ADDR + 12, IMG_ROOT_SIZE, 4);
	ck_assert_int_eq(open_err(&r), TT_R_OK);
}
END_TEST

/* A later writer's root, grown past 1024 bytes with rows this reader does
 * not know (one of them a ROOT field past the old bound): read, its new
 * rows skipped, its known fields as before. */
START_TEST(test_larger_root)
{
	tt_reader r;
	const unsigned size = 1536, rows = (size - IMG_LAYOUT_OFF) / 8;

	for (unsigned i = G.nrows; i < rows; i++) {
		unsigned char *p = G.root + IMG_LAYOUT_OFF + 8 * i;
		unsigned rec = i + 1 < rows ? 200 : TT_REC_ROOT, fld = 60000;
		p[0] = rec & 0xff, p[1] = rec >> 8, p[2] = fld & 0xff, p[3] = fld >> 8;
		p[4] = (size - 8) & 0xff, p[5] = (size - 8) >> 8, p[6] = 8, p[7] = 0;
	}
	img_w(&G, IMG_ROOT_ADDR + 12, size, 4);
	img_w(&G, IMG_ROOT_ADDR + 18, rows, 2);
	ck_assert_int_eq(open_err(&r), TT_R_OK);
	ck_assert_uint_eq(tt_reader_root_u64(&r, TT_ROOT_PID), 4242);
	ck_assert_uint_eq(tt_reader_root_u64(&r, TT_ROOT_NOW_NS), 5000000000ull);
}
END_TEST

START_TEST(test_layout_bounds)
{
	tt_reader r;
	tt_layout_entry *e;

	/* The table must lie inside the root. */
	img_w(&G, IMG_ROOT_ADDR + 20, IMG_ROOT_SIZE - 8, 4);
	ck_assert_int_eq(open_err(&r), TT_R_BAD_HEADER);
	img_w(&G, IMG_ROOT_ADDR + 20, 8, 4); /* over the header */
	ck_assert_int_eq(open_err(&r), TT_R_BAD_HEADER);
	img_w(&G, IMG_ROOT_ADDR + 20, IMG_LAYOUT_OFF, 4);
	img_w(&G, IMG_ROOT_ADDR + 18, 600, 2);
	ck_assert_int_eq(open_err(&r), TT_R_BAD_HEADER);
	img_w(&G, IMG_ROOT_ADDR + 18, G.nrows, 2);
	ck_assert_int_eq(open_err(&r), TT_R_OK);

	/* A field overflowing its record. */
	e = img_row(&G, TT_REC_TASK, TT_TASK_ID);
	e->offset = IMG_TASK_SIZE - 4;
	ck_assert_int_eq(open_err(&r), TT_R_BAD_LAYOUT);
	ck_assert_ptr_nonnull(strstr(r.err, "task.id"));
	e->offset = 8;
	/* A root field past root_size. */
	e = img_row(&G, TT_REC_ROOT, TT_ROOT_NOW_NS);
	e->offset = IMG_ROOT_SIZE - 4;
	ck_assert_int_eq(open_err(&r), TT_R_BAD_LAYOUT);
	e->offset = 80;
	/* Overlapping fields. */
	e = img_row(&G, TT_REC_FRAME, TT_FRAME_CHILD);
	e->offset = 4;
	ck_assert_int_eq(open_err(&r), TT_R_BAD_LAYOUT);
	ck_assert_ptr_nonnull(strstr(r.err, "overlaps"));
	e->offset = 8;
	/* A pointer that is not pointer-sized. */
	e->size = 4;
	ck_assert_int_eq(open_err(&r), TT_R_BAD_LAYOUT);
	e->size = 3;
	ck_assert_int_eq(open_err(&r), TT_R_BAD_LAYOUT);
	e->size = 8;
	/* An essential field missing (its row becomes an unknown record). */
	e->record = 77;
	ck_assert_int_eq(open_err(&r), TT_R_BAD_LAYOUT);
	ck_assert_ptr_nonnull(strstr(r.err, "child"));
	/* Listed twice. */
	e->record = TT_REC_FRAME;
	e->field = TT_FRAME_SIBLING;
	ck_assert_int_eq(open_err(&r), TT_R_BAD_LAYOUT);
	e->field = TT_FRAME_CHILD;
	/* Record sizes. */
	e = img_row(&G, TT_REC_TASK, 0);
	e->size = 8192;
	ck_assert_int_eq(open_err(&r), TT_R_ABSURD);
	e->size = 132; /* slots would be misaligned */
	ck_assert_int_eq(open_err(&r), TT_R_BAD_LAYOUT);
	e->size = IMG_TASK_SIZE;
	e = img_row(&G, TT_REC_SITE, 0);
	e->record = 77;
	ck_assert_int_eq(open_err(&r), TT_R_BAD_LAYOUT);
	ck_assert_ptr_nonnull(strstr(r.err, "site"));
	e->record = TT_REC_SITE;
	ck_assert_int_eq(open_err(&r), TT_R_OK);
}
END_TEST

/* Offsets come from the table: moving a field moves what is read. */
START_TEST(test_layout_is_used)
{
	tt_reader r;
	tt_rtask t;
	tt_layout_entry *e = img_row(&G, TT_REC_TASK, TT_TASK_POLLS);
	uint64_t slot = img_slot(K.slots, 3);

	img_w(&G, slot + 104, 99, 8);
	e->offset = 104;
	ck_assert_int_eq(open_g(&r), TT_R_OK);
	ck_assert_int_eq(tt_reader_read_task(&r, slot, &t), TT_R_OK);
	ck_assert_uint_eq(t.polls, 99);
	/* An absent optional field reads as 0. */
	e->record = 99;
	ck_assert_int_eq(open_g(&r), TT_R_OK);
	ck_assert_int_eq(tt_reader_read_task(&r, slot, &t), TT_R_OK);
	ck_assert_uint_eq(t.polls, 0);
	ck_assert_uint_eq(t.id, 5);
}
END_TEST

/* ---- the flight recorder's rings ---- */

static int ring_keep(void *ctx, const tt_revent *ev)
{
	uint64_t *got = ctx;
	if (got[0] < 31)
		got[1 + got[0]++] = ev->pos;
	return 0;
}

/* A wrapped ring in the image's own layout (event fields shuffled, 64
 * bytes apart): the lost, the torn and the out-of-order are counted, the
 * rest delivered in order, each field from its table offset. */
START_TEST(test_ring_from_the_table)
{
	uint64_t ring = img_ring(&G, 16), got[32] = {0};
	for (uint64_t pos = 6; pos < 22; pos++)
		img_event(&G, ring, pos, TT_EV_SUSPEND, 1000 + (pos == 15 ? 0 : pos), 7, 0x10,
			  0x20, TT_WAIT_NOTIFY, 900 + pos);
	img_set(&G, TT_REC_EVENT, TT_EVENT_SEQ,
		img_get(&G, TT_REC_RING, TT_RING_EVENTS, ring) + (12 % 16) * 64, 2 * 28 + 2);
	tt_reader r;
	tt_rflight st;
	ck_assert_int_eq(open_g(&r), TT_R_OK);
	ck_assert_int_eq(tt_flight_read(&r, 0, ring_keep, got, &st), 13);
	ck_assert_uint_eq(st.lost, 7);
	ck_assert_uint_eq(st.skipped, 2);
	ck_assert_uint_eq(st.rings, 1);
	uint64_t want[] = {7, 8, 9, 10, 11, 13, 14, 16, 17, 18, 19, 20, 21};
	for (unsigned i = 0; i < 13; i++)
		ck_assert_uint_eq(got[1 + i], want[i]);
	/* A task none of them names has a history of none (no array to
	 * order: the fuzzer's find, a null pointer passed to qsort_r). */
	tt_snapshot *s = NULL;
	char err[160];
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s, err, sizeof err),
			 TT_R_OK);
	char *text = tt_history_text(img_mem(&G), s, 99, 0, 2000, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strstr(text, "task 99: 0 events from the flight recorder"), "%s", text);
	free(text);
	tt_snapshot_free(s);
}
END_TEST

/* ---- counts ---- */

START_TEST(test_absurd_counts)
{
	tt_reader r;
	tt_task_iter it;
	tt_rtask t;
	tt_snapshot *s;
	char err[160];
	tt_reader_limits lim = { .max_chunks = 4 };

	img_set(&G, TT_REC_ROOT, TT_ROOT_CHUNK_COUNT, IMG_ROOT_ADDR, 1000);
	ck_assert_int_eq(open_g(&r), TT_R_OK);
	tt_task_iter_init(&r, &it);
	ck_assert_int_eq(tt_task_iter_next(&r, &it, &t), TT_R_ABSURD);
	ck_assert_int_eq(tt_task_iter_next(&r, &it, &t), 0);
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s,
					  err, sizeof(err)),
			 TT_R_ABSURD);
	ck_assert_ptr_nonnull(strstr(err, "chunk_count 1000"));

	/* Within capacity but beyond the reader's cap. */
	img_set(&G, TT_REC_ROOT, TT_ROOT_CHUNK_COUNT, IMG_ROOT_ADDR, 6);
	ck_assert_int_eq(tt_reader_open(&r, img_mem(&G), IMG_ROOT_ADDR, &lim),
			 TT_R_OK);
	tt_task_iter_init(&r, &it);
	ck_assert_int_eq(tt_task_iter_next(&r, &it, &t), TT_R_ABSURD);
	img_set(&G, TT_REC_ROOT, TT_ROOT_CHUNK_COUNT, IMG_ROOT_ADDR, 1);

	/* An absurd slot count costs its chunk only. */
	uint64_t slots2 = img_chunk(&G, 2);
	img_task(&G, img_slot(slots2, 1), 9, "second", TT_STATE_IDLE, 0);
	uint64_t c0 = img_r(&G, G.chunks, 8);
	img_set(&G, TT_REC_CHUNK, TT_CHUNK_SLOT_COUNT, c0, 0xffffffffu);
	ck_assert_int_eq(open_g(&r), TT_R_OK);
	tt_task_iter_init(&r, &it);
	ck_assert_int_eq(tt_task_iter_next(&r, &it, &t), TT_R_ABSURD);
	ck_assert_uint_eq(t.slot_addr, c0);
	ck_assert_int_eq(tt_task_iter_next(&r, &it, &t), 1);
	ck_assert_uint_eq(t.id, 9);
	ck_assert_uint_eq(t.slot_index, 5);
	ck_assert_int_eq(tt_task_iter_next(&r, &it, &t), 0);
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s,
					  err, sizeof(err)),
			 TT_R_OK);
	ck_assert_uint_eq(s->ntasks, 2);
	ck_assert_uint_eq(s->nerrors, 1);
	ck_assert_int_eq(s->tasks[0].error, TT_R_ABSURD);
	ck_assert_uint_eq(s->tasks[1].raw.id, 9);
	tt_snapshot_free(s);

	img_set(&G, TT_REC_CHUNK, TT_CHUNK_SLOT_COUNT, c0, 0);
	ck_assert_int_eq(open_g(&r), TT_R_OK);
	tt_task_iter_init(&r, &it);
	ck_assert_int_eq(tt_task_iter_next(&r, &it, &t), TT_R_ABSURD);

	/* Slots misaligned. */
	img_set(&G, TT_REC_CHUNK, TT_CHUNK_SLOT_COUNT, c0, 4);
	img_set(&G, TT_REC_CHUNK, TT_CHUNK_SLOTS, c0, K.slots + 4);
	tt_task_iter_init(&r, &it);
	ck_assert_int_eq(tt_task_iter_next(&r, &it, &t), TT_R_MISALIGNED);

	/* Workers beyond capacity. */
	tt_rworker w;
	img_set(&G, TT_REC_ROOT, TT_ROOT_WORKER_COUNT, IMG_ROOT_ADDR, 3);
	ck_assert_int_eq(open_g(&r), TT_R_OK);
	ck_assert_int_eq(tt_reader_worker(&r, 0, &w), TT_R_ABSURD);
	img_set(&G, TT_REC_ROOT, TT_ROOT_WORKER_COUNT, IMG_ROOT_ADDR, 2);
	ck_assert_int_eq(open_g(&r), TT_R_OK);
	ck_assert_int_eq(tt_reader_worker(&r, 1, &w), TT_R_OK);
	ck_assert_uint_eq(w.tid, 1234);
	ck_assert_int_eq(tt_reader_worker(&r, 2, &w), TT_R_NOT_FOUND);
}
END_TEST

/* ---- chains ---- */

static int walk(uint64_t root, tt_rframe *fr, size_t cap, size_t *n,
		const tt_reader_limits *lim, tt_reader *r)
{
	ck_assert_int_eq(tt_reader_open(r, img_mem(&G), IMG_ROOT_ADDR, lim),
			 TT_R_OK);
	return tt_reader_walk_frames(r, root, fr, cap, n);
}

START_TEST(test_misaligned_frame)
{
	tt_reader r;
	tt_rframe fr[8];
	size_t n;

	img_set(&G, TT_REC_FRAME, TT_FRAME_CHILD, K.t1_frames[1],
		K.t1_frames[2] + 4);
	ck_assert_int_eq(walk(K.t1_frames[0], fr, 8, &n, NULL, &r),
			 TT_R_MISALIGNED);
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "misaligned"));
	ck_assert_int_eq(walk(K.t1_frames[0] + 2, fr, 8, &n, NULL, &r),
			 TT_R_MISALIGNED);
	ck_assert_uint_eq(n, 0);
	/* A misaligned func pointer. */
	img_set(&G, TT_REC_FRAME, TT_FRAME_FUNC, K.t5_frame, 0x1001);
	ck_assert_int_eq(walk(K.t5_frame, fr, 8, &n, NULL, &r),
			 TT_R_MISALIGNED);
}
END_TEST

START_TEST(test_cycle)
{
	tt_snapshot *s;
	char err[160];

	/* A.child = B, B.child = A: the first two frames of task 1. */
	img_set(&G, TT_REC_FRAME, TT_FRAME_CHILD, K.t1_frames[1],
		K.t1_frames[0]);
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s,
					  err, sizeof(err)),
			 TT_R_OK);
	ck_assert_uint_eq(s->ntasks, 3);
	ck_assert_uint_eq(s->nerrors, 1);
	ck_assert_int_eq(s->tasks[0].error, TT_R_CYCLE);
	ck_assert_uint_eq(s->tasks[0].nframes, 2);
	ck_assert_ptr_nonnull(strstr(s->tasks[0].errmsg, "task 1: await chain loops at frame 0x"));
	ck_assert_int_eq(s->tasks[1].error, 0);
	ck_assert_uint_eq(s->tasks[1].nframes, 3);
	ck_assert_int_eq(s->tasks[2].error, 0);
	tt_snapshot_free(s);
}
END_TEST

START_TEST(test_self_sibling)
{
	tt_reader r;
	tt_rframe fr[8];
	size_t n;

	img_set(&G, TT_REC_FRAME, TT_FRAME_SIBLING, K.t2_frames[2],
		K.t2_frames[2]);
	ck_assert_int_eq(walk(K.t2_frames[0], fr, 8, &n, NULL, &r), TT_R_CYCLE);
	ck_assert_uint_eq(n, 3);
	/* The root's sibling means nothing and is not followed. */
	img_set(&G, TT_REC_FRAME, TT_FRAME_SIBLING, K.t2_frames[2], 0);
	img_set(&G, TT_REC_FRAME, TT_FRAME_SIBLING, K.t2_frames[0],
		K.t2_frames[0]);
	ck_assert_int_eq(walk(K.t2_frames[0], fr, 8, &n, NULL, &r), TT_R_OK);
	ck_assert_uint_eq(n, 3);
}
END_TEST

/* A chain of N frames in a fresh image; returns its root. */
static uint64_t long_chain(img *g, unsigned n, uint64_t *frames)
{
	uint64_t f = img_func(g, "deep", TT_FUNC_KIND_ASYNC);
	uint64_t site = img_site(g, "deep", "deep.c", 1, TT_SITEF_AWAIT);
	uint64_t child = 0;

	for (unsigned i = n; i-- > 0;) {
		child = img_frame(g, f, site, child, 0);
		if (frames)
			frames[i] = child;
	}
	return child;
}

START_TEST(test_too_deep)
{
	tt_reader r;
	static tt_rframe fr[20000];
	static uint64_t addrs[10000];
	size_t n;
	uint64_t root;
	struct timespec t0, t1;
	tt_reader_limits big = { .max_depth = 20000, .max_frames = 20000 };

	img_free(&G);
	img_init(&G, 10000 * IMG_LEAF_SIZE + 4096);
	root = long_chain(&G, 10000, addrs);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Past the depth cap the root and the innermost frames are kept:
	 * the depths say how many were elided between. */
	ck_assert_int_eq(walk(root, fr, 20000, &n, NULL, &r), TT_R_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_uint_eq(n, 256);
	ck_assert_uint_eq(fr[0].addr, addrs[0]);
	ck_assert_uint_eq(fr[1].addr, addrs[10000 - 255]);
	ck_assert_int_eq(fr[1].parent, 0);
	ck_assert_uint_eq(fr[1].depth, 10000 - 255);
	ck_assert_uint_eq(fr[255].addr, addrs[9999]);
	ck_assert_uint_eq(fr[255].depth, 9999);
	ck_assert_int_eq(fr[255].parent, 254);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 2);
	/* The frame cap also stops it. */
	ck_assert_int_eq(walk(root, fr, 100, &n, &big, &r), TT_R_TOO_DEEP);
	ck_assert_uint_eq(n, 100);
	/* With the caps raised the whole chain decodes: the cycle check
	 * must not mistake a long chain for a loop. */
	ck_assert_int_eq(walk(root, fr, 20000, &n, &big, &r), TT_R_OK);
	ck_assert_uint_eq(n, 10000);
	ck_assert_uint_eq(fr[9999].depth, 9999);
	ck_assert_uint_eq(fr[9999].addr, addrs[9999]);
	/* A loop far down the chain: back into the hashed part, then into
	 * the linearly checked part. */
	img_set(&G, TT_REC_FRAME, TT_FRAME_CHILD, addrs[9999], addrs[100]);
	ck_assert_int_eq(walk(root, fr, 20000, &n, &big, &r), TT_R_CYCLE);
	ck_assert_uint_eq(n, 10000);
	img_set(&G, TT_REC_FRAME, TT_FRAME_CHILD, addrs[9999], addrs[5000]);
	ck_assert_int_eq(walk(root, fr, 20000, &n, &big, &r), TT_R_CYCLE);
	img_set(&G, TT_REC_FRAME, TT_FRAME_CHILD, addrs[9999], addrs[9]);
	ck_assert_int_eq(walk(root, fr, 20000, &n, &big, &r), TT_R_CYCLE);

	/* The snapshot grows its frame buffer for a long chain, and stops at
	 * max_frames with the frames so far. */
	tt_snapshot *s;
	char err[160];
	tt_reader_limits mid = { .max_depth = 20000, .max_frames = 3000 };
	img_set(&G, TT_REC_FRAME, TT_FRAME_CHILD, addrs[9999], 0);
	img_task(&G, img_slot(img_chunk(&G, 1), 0), 1, "deep", TT_STATE_IDLE,
		 addrs[5000]);
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, &big, &s,
					  err, sizeof(err)),
			 TT_R_OK);
	ck_assert_uint_eq(s->tasks[0].nframes, 5000);
	ck_assert_int_eq(s->tasks[0].error, 0);
	ck_assert_uint_eq(s->tasks[0].frames[4999].raw.addr, addrs[9999]);
	ck_assert_ptr_eq(tt_stask_leaf(&s->tasks[0]), &s->tasks[0].frames[4999]);
	tt_snapshot_free(s);
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, &mid, &s,
					  err, sizeof(err)),
			 TT_R_OK);
	ck_assert_uint_eq(s->tasks[0].nframes, 3000);
	ck_assert_int_eq(s->tasks[0].error, TT_R_TOO_DEEP);
	ck_assert_uint_eq(s->nerrors, 1);
	tt_snapshot_free(s);
}
END_TEST

/* A chain of N awaits ending in a channel receive, with a select at
 * depth SEL (0: none) whose second arm is a timer; returns its root. */
static uint64_t deep_waiting(img *g, unsigned n, unsigned sel, uint64_t *frames)
{
	uint64_t f = img_func(g, "deep", TT_FUNC_KIND_ASYNC);
	uint64_t fs = img_func(g, "tt_select", TT_FUNC_KIND_COMBINATOR);
	uint64_t fl = img_func(g, "tt_chan_recv", TT_FUNC_KIND_LEAF);
	uint64_t ft = img_func(g, "tt_sleep", TT_FUNC_KIND_LEAF);
	uint64_t site = img_site(g, "deep_poll", "deep.c", 7, TT_SITEF_AWAIT);
	uint64_t child = img_frame(g, fl, 0, 0, 0);

	img_wait(g, child, TT_WAIT_CHAN_RECV, 0x7f0000abc000ull, 0, 0);
	frames[n - 1] = child;
	for (unsigned i = n - 1; i-- > 0;) {
		if (sel && i == sel) {
			uint64_t arm = img_frame(g, ft, 0, 0, 0);
			img_wait(g, arm, TT_WAIT_TIMER, 0, 0, 9000000000ull);
			img_set(g, TT_REC_FRAME, TT_FRAME_SIBLING, child, arm);
			child = img_frame(g, fs, 0, child, 0);
		} else {
			child = img_frame(g, f, site, child, 0);
		}
		frames[i] = child;
	}
	return child;
}

/* Deeper than the reader keeps: the root and the innermost frames, the
 * leaf's wait with them (what ps, hung and bt show), the gap counted. */
START_TEST(test_deep_keeps_leaf)
{
	static const unsigned depths[] = {300, 5000};
	static uint64_t addrs[5000];
	static tt_rframe fr[4096];
	tt_reader r;
	size_t n;

	for (unsigned k = 0; k < 2; k++) {
		unsigned d = depths[k];
		img_free(&G);
		img_init(&G, (d + 8) * IMG_LEAF_SIZE + 4096);
		uint64_t root = deep_waiting(&G, d, d - 3, addrs);
		ck_assert_int_eq(walk(root, fr, 4096, &n, NULL, &r), TT_R_OK);
		/* root, 255 innermost of the path, the select's other arm */
		ck_assert_uint_eq(n, 257);
		ck_assert_uint_eq(fr[0].addr, root);
		ck_assert_uint_eq(fr[1].depth, d - 255);
		ck_assert_int_eq(fr[1].parent, 0);
		ck_assert_uint_eq(fr[255].addr, addrs[d - 1]);
		ck_assert_uint_eq(fr[255].wait_kind, TT_WAIT_CHAN_RECV);
		ck_assert_uint_eq(fr[256].kind, TT_FUNC_KIND_LEAF);
		ck_assert_uint_eq(fr[256].wait_kind, TT_WAIT_TIMER);
		ck_assert_uint_eq(fr[fr[256].parent].addr, addrs[d - 3]);
		tt_rpath_ends e;
		tt_frames_path_ends(fr, sizeof(*fr), n, &e);
		ck_assert_uint_eq(e.leaf, 255);

		img_task(&G, img_slot(img_chunk(&G, 1), 0), 1, "deep", TT_STATE_IDLE, root);
		tt_snapshot *s;
		char err[160];
		ck_assert_int_eq(
		    tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s, err, sizeof(err)),
		    TT_R_OK);
		ck_assert_int_eq(s->tasks[0].error, 0);
		ck_assert_ptr_eq(tt_stask_leaf(&s->tasks[0]), &s->tasks[0].frames[255]);
		tt_list_opts lo;
		tt_list_opts_init(&lo);
		char *ps = tt_task_list(s, s->now_ns, &lo, err, sizeof(err));
		ck_assert_ptr_nonnull(ps);
		ck_assert_msg(strstr(ps, "channel recv"), "ps: %s", ps);
		tt_text_free(ps);
		char *bt = tt_bt_text(s, s->now_ns, NULL, 0, NULL);
		char want[64];
		snprintf(want, sizeof(want), "    ... %u frames elided ...\n#255 ", d - 256);
		ck_assert_msg(strstr(bt, want), "bt: %s", bt);
		ck_assert_msg(strstr(bt, "#0  tt_chan_recv"), "bt: %s", bt);
		ck_assert_msg(strstr(bt, "also awaiting:"), "bt: %s", bt);
		tt_text_free(bt);
		tt_snapshot_free(s);

		/* A loop far down is still a loop: back into the ring, into
		 * the part the ring let go (Brent's), to the root. */
		const unsigned to[] = {d - 100, d / 2, 5, 0};
		for (unsigned j = 0; j < 4; j++) {
			img_set(&G, TT_REC_FRAME, TT_FRAME_CHILD, addrs[d - 2], addrs[to[j]]);
			ck_assert_int_eq(walk(root, fr, 4096, &n, NULL, &r), TT_R_CYCLE);
			ck_assert_ptr_nonnull(strstr(r.err, "await chain loops"));
			ck_assert_uint_le(n, 257);
		}
	}
}
END_TEST

/* N combinators nested in one another, each with a sibling branch still
 * to visit: the walk keeps at most 128 such branches, and refuses the
 * 129th with an error rather than writing past its list. */
static uint64_t nested_selects(img *g, int n)
{
	uint64_t f_async = img_func(g, "branch", TT_FUNC_KIND_ASYNC);
	uint64_t f_sel = img_func(g, "tt_select", TT_FUNC_KIND_COMBINATOR);
	uint64_t child = img_frame(g, f_async, 0, 0, 0);

	for (int i = 0; i < n; i++)
		child = img_frame(g, f_sel, 0, child, img_frame(g, f_async, 0, 0, 0));
	return img_frame(g, f_async, 0, child, 0);
}

START_TEST(test_nested_combinators)
{
	tt_reader r;
	static tt_rframe fr[1024];
	size_t n;

	img_free(&G);
	img_init(&G, 1 << 20);
	ck_assert_int_eq(walk(nested_selects(&G, 128), fr, 1024, &n, NULL, &r), TT_R_OK);
	ck_assert_uint_eq(n, 1 + 128 + 1 + 128);
	ck_assert_int_eq(walk(nested_selects(&G, 129), fr, 1024, &n, NULL, &r), TT_R_TOO_DEEP);
	ck_assert_msg(strstr(r.err, "more than 128 nested combinators"), "%s", r.err);
	ck_assert_uint_eq(n, 1 + 129); /* the root and the combinators read */
}
END_TEST

/* A task name with terminal control bytes (escape, DEL) reads as the
 * target wrote it: the wording escapes them where it prints (test_format's
 * hostile_names), and --name matches the real bytes. */
START_TEST(test_name_control_bytes)
{
	tt_reader r;
	tt_rtask t;
	uint64_t slot = img_slot(K.slots, 0);

	img_task(&G, slot, 1, "a\x1b[2Jb\x7f", TT_STATE_IDLE, K.t1_frames[0]);
	ck_assert_int_eq(open_g(&r), TT_R_OK);
	ck_assert_int_eq(tt_reader_read_task(&r, slot, &t), TT_R_OK);
	ck_assert_str_eq(t.name, "a\x1b[2Jb\x7f");
}
END_TEST

START_TEST(test_wild_pointer)
{
	tt_snapshot *s;
	char err[160];

	img_set(&G, TT_REC_FRAME, TT_FRAME_CHILD, K.t1_frames[2],
		0x5555deadbee8ull);
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s,
					  err, sizeof(err)),
			 TT_R_OK);
	ck_assert_uint_eq(s->nerrors, 1);
	ck_assert_int_eq(s->tasks[0].error, TT_R_UNREADABLE);
	ck_assert_uint_eq(s->tasks[0].nframes, 3);
	ck_assert_str_eq(s->tasks[0].errmsg,
			 "task 1: frame 0x5555deadbee8: unreadable (Bad address)");
	ck_assert_uint_eq(s->tasks[1].nframes, 3);
	ck_assert_int_eq(s->tasks[2].error, 0);
	tt_snapshot_free(s);

	/* A wild func pointer. */
	img_set(&G, TT_REC_FRAME, TT_FRAME_CHILD, K.t1_frames[2],
		K.t1_frames[3]);
	img_set(&G, TT_REC_FRAME, TT_FRAME_FUNC, K.t1_frames[1], 0x10000);
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s,
					  err, sizeof(err)),
			 TT_R_OK);
	ck_assert_int_eq(s->tasks[0].error, TT_R_UNREADABLE);
	ck_assert_uint_eq(s->tasks[0].nframes, 1);
	ck_assert_ptr_nonnull(strstr(s->tasks[0].errmsg, "func 0x10000"));
	tt_snapshot_free(s);

	/* An unreadable slot. */
	uint64_t c0 = img_r(&G, G.chunks, 8);
	img_set(&G, TT_REC_CHUNK, TT_CHUNK_SLOTS, c0, 0x900000000ull);
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s,
					  err, sizeof(err)),
			 TT_R_OK);
	/* A run of unreadable slots is one entry. */
	ck_assert_uint_eq(s->ntasks, 1);
	ck_assert_uint_eq(s->nerrors, 1);
	ck_assert_int_eq(s->tasks[0].error, TT_R_UNREADABLE);
	ck_assert_uint_eq(s->tasks[0].raw.slot_addr, 0x900000000ull);
	ck_assert_uint_eq(s->tasks[0].raw.id, 0);
	tt_snapshot_free(s);

	/* The last slot hangs off the mapping: the bulk read fails, the
	 * slots that can be read still are. */
	uint64_t moved = IMG_HEAP_ADDR + G.heap_size - 3 * IMG_TASK_SIZE;
	memcpy(img_ptr(&G, moved), img_ptr(&G, K.slots), 3 * IMG_TASK_SIZE);
	img_set(&G, TT_REC_CHUNK, TT_CHUNK_SLOTS, c0, moved);
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s,
					  err, sizeof(err)),
			 TT_R_OK);
	ck_assert_uint_eq(s->ntasks, 3);
	ck_assert_uint_eq(s->nerrors, 2); /* task 1's func is still wild */
	ck_assert_uint_eq(s->tasks[0].raw.id, 1);
	ck_assert_uint_eq(s->tasks[0].nframes, 1);
	ck_assert_uint_eq(s->tasks[1].raw.id, 2);
	ck_assert_uint_eq(s->tasks[1].nframes, 3);
	ck_assert_int_eq(s->tasks[1].error, 0);
	ck_assert_int_eq(s->tasks[2].error, TT_R_UNREADABLE);
	ck_assert_uint_eq(s->tasks[2].raw.slot_index, 3);
	ck_assert_uint_eq(s->tasks[2].raw.slot_addr, moved + 3 * IMG_TASK_SIZE);
	tt_snapshot_free(s);
}
END_TEST

START_TEST(test_strings)
{
	tt_reader r;
	char buf[64];
	tt_snapshot *s;
	char err[160];
	uint64_t tail = IMG_HEAP_ADDR + G.heap_size - 5;

	/* Unterminated at the end of the mapping. */
	memcpy(img_ptr(&G, tail), "abcde", 5);
	ck_assert_int_eq(open_g(&r), TT_R_OK);
	ck_assert_int_eq(tt_reader_string(&r, tail, buf, sizeof(buf)),
			 TT_R_UNREADABLE);
	ck_assert_str_eq(buf, "??");
	ck_assert_int_eq(tt_reader_string(&r, 0x42, buf, sizeof(buf)),
			 TT_R_UNREADABLE);
	ck_assert_str_eq(buf, "??");
	ck_assert_int_ne(tt_reader_string(&r, 0, buf, sizeof(buf)), TT_R_OK);
	ck_assert_str_eq(buf, "??");
	/* No NUL within max_string. */
	uint64_t big = img_alloc(&G, 5000);
	memset(img_ptr(&G, big), 'x', 5000);
	ck_assert_int_eq(tt_reader_string(&r, big, buf, sizeof(buf)),
			 TT_R_ABSURD);
	ck_assert_str_eq(buf, "??");
	/* Truncated to the buffer; bytes as the target wrote them (the
	 * wording sanitises what it prints, wording/untrusted.h). */
	uint64_t hello = img_str(&G, "hel\033lo");
	ck_assert_int_eq(tt_reader_string(&r, hello, buf, 4), TT_R_OK);
	ck_assert_str_eq(buf, "hel");
	ck_assert_int_eq(tt_reader_string(&r, hello, buf, sizeof(buf)), TT_R_OK);
	ck_assert_str_eq(buf, "hel\033lo");
	/* A string crossing a page boundary. */
	uint64_t cross = ((IMG_HEAP_ADDR + G.used + 4096) & ~4095ull) - 3;
	memcpy(img_ptr(&G, cross), "pagecross", 10);
	ck_assert_int_eq(tt_reader_string(&r, cross, buf, sizeof(buf)), TT_R_OK);
	ck_assert_str_eq(buf, "pagecross");

	/* In a snapshot, bad strings become "??". */
	img_set(&G, TT_REC_SITE, TT_SITE_FILE, K.site[0], tail);
	img_set(&G, TT_REC_SITE, TT_SITE_FUNCTION, K.site[0], 0x77770000);
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s,
					  err, sizeof(err)),
			 TT_R_OK);
	ck_assert_str_eq(s->tasks[0].frames[0].site->file, "??");
	ck_assert_str_eq(s->tasks[0].frames[0].site->function, "??");
	ck_assert_uint_eq(s->tasks[0].frames[0].site->line, 10);
	ck_assert_uint_eq(s->nerrors, 0);
	tt_snapshot_free(s);
}
END_TEST

/* ---- seqlock ---- */

struct torn {
	tt_mem inner;
	img *g;
	uint64_t slot;
	unsigned reads;
	int stop_after; /* stop bumping after this many reads; -1 never */
};

static int torn_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct torn *t = ctx;
	unsigned off = img_off(TT_REC_TASK, TT_TASK_SEQ);

	t->reads++;
	if (t->stop_after < 0 || (int)t->reads <= t->stop_after)
		img_w(t->g, t->slot + off, img_r(t->g, t->slot + off, 4) + 2, 4);
	return t->inner.read(t->inner.ctx, addr, buf, len);
}

START_TEST(test_torn)
{
	tt_reader r;
	tt_rtask t;
	struct torn tc = { img_mem(&G), &G, img_slot(K.slots, 0), 0, -1 };
	tt_mem m = { torn_read, &tc };
	tt_reader_limits lim = { .torn_retries = 5 };
	tt_snapshot *s;
	char err[160];

	ck_assert_int_eq(tt_reader_open(&r, m, IMG_ROOT_ADDR, &lim), TT_R_OK);
	tc.reads = 0;
	ck_assert_int_eq(tt_reader_read_task(&r, tc.slot, &t), TT_R_TORN);
	ck_assert_uint_eq(tc.reads, 3 * 6);
	ck_assert_ptr_nonnull(strstr(r.err, "kept changing"));

	/* Settles after a few reads: decoded. */
	tc.reads = 0;
	tc.stop_after = 7;
	ck_assert_int_eq(tt_reader_read_task(&r, tc.slot, &t), TT_R_OK);
	ck_assert_uint_eq(t.id, 1);
	ck_assert_uint_eq(t.seq, img_get(&G, TT_REC_TASK, TT_TASK_SEQ, tc.slot));

	/* Odd and stable: a stopped process caught mid-poll. */
	img_set(&G, TT_REC_TASK, TT_TASK_SEQ, tc.slot, 41);
	tc.stop_after = 0;
	tc.reads = 0;
	ck_assert_int_eq(tt_reader_read_task(&r, tc.slot, &t), TT_R_OK);
	ck_assert_int_eq(t.running, 1);

	/* The snapshot re-checks and marks the ever-changing task torn. */
	tc.stop_after = -1;
	ck_assert_int_eq(tt_snapshot_read(m, IMG_ROOT_ADDR, &lim, &s, err,
					  sizeof(err)),
			 TT_R_OK);
	ck_assert_uint_eq(s->ntasks, 3);
	ck_assert_int_eq(s->tasks[0].error, TT_R_TORN);
	ck_assert_int_eq(s->tasks[1].error, 0);
	ck_assert_uint_eq(s->nerrors, 1);
	tt_snapshot_free(s);
}
END_TEST

/* tt_reader_read_task takes a slot address from its caller: one off the
 * record alignment is refused, not decoded from the middle of a slot. */
START_TEST(test_misaligned_slot)
{
	tt_reader r;
	tt_rtask t;
	uint64_t slot = img_slot(K.slots, 0);

	ck_assert_int_eq(open_g(&r), TT_R_OK);
	ck_assert_int_eq(tt_reader_read_task(&r, slot + 4, &t), TT_R_MISALIGNED);
	ck_assert_msg(strstr(r.err, "misaligned"), "%s", r.err);
	ck_assert_uint_eq(t.id, 0);
	ck_assert_int_eq(tt_reader_read_task(&r, slot, &t), TT_R_OK);
	ck_assert_uint_eq(t.id, 1);
}
END_TEST

/* worker_count is capped by the reader's limit even when the registry's
 * own capacity allows it: at the limit it reads, one past it is absurd. */
START_TEST(test_worker_cap)
{
	tt_reader r;
	tt_rworker w;
	tt_reader_limits lim = {.max_workers = 2};

	ck_assert_int_eq(tt_reader_open(&r, img_mem(&G), IMG_ROOT_ADDR, &lim), TT_R_OK);
	ck_assert_int_eq(tt_reader_worker(&r, 1, &w), TT_R_OK);
	ck_assert_uint_eq(w.tid, 1234);
	img_set(&G, TT_REC_ROOT, TT_ROOT_WORKER_CAPACITY, IMG_ROOT_ADDR, 3);
	img_set(&G, TT_REC_ROOT, TT_ROOT_WORKER_COUNT, IMG_ROOT_ADDR, 3);
	ck_assert_int_eq(tt_reader_open(&r, img_mem(&G), IMG_ROOT_ADDR, &lim), TT_R_OK);
	ck_assert_int_eq(tt_reader_worker(&r, 1, &w), TT_R_ABSURD);
	ck_assert_msg(strstr(r.err, "worker_count 3 is absurd"), "%s", r.err);
}
END_TEST

/* The two halves of the seqlock check, each alone.  The read is: seq,
 * the whole record, seq again.  A writer that starts after the copy took
 * the seq field (it changes the rest of the record, then bumps seq) is
 * caught only by the second seq read; a copy that holds a writer's odd
 * seq while both seq reads agree (memory read in pieces that are no one
 * moment, as a process's memory is) only by comparing the copy's seq. */
struct seq_model {
	tt_mem inner;
	img *g;
	uint64_t slot;
	unsigned reads;
	int copy_odd; /* 1: the first copy holds an odd seq and junk polls */
};

static void field_put(unsigned char *buf, int field, uint64_t v)
{
	const tt_layout_entry *e = img_row(&G, TT_REC_TASK, field);

	for (unsigned i = 0; i < e->size; i++)
		buf[e->offset + i] = (unsigned char)(v >> (8 * i));
}

static int seq_model_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct seq_model *m = ctx;
	int rc = m->inner.read(m->inner.ctx, addr, buf, len);

	if (rc || addr != m->slot || len < IMG_TASK_SIZE || ++m->reads != 1)
		return rc;
	if (m->copy_odd) {
		uint64_t seq = img_get(m->g, TT_REC_TASK, TT_TASK_SEQ, m->slot);
		field_put(buf, TT_TASK_SEQ, seq + 1);
		field_put(buf, TT_TASK_POLLS, 999999);
	} else {
		/* The writer, after the copy: new polls, seq moved by two. */
		img_set(m->g, TT_REC_TASK, TT_TASK_POLLS, m->slot, 12);
		img_set(m->g, TT_REC_TASK, TT_TASK_SEQ, m->slot,
			img_get(m->g, TT_REC_TASK, TT_TASK_SEQ, m->slot) + 2);
	}
	return rc;
}

static void seq_half(int copy_odd)
{
	tt_reader r;
	tt_rtask t;
	uint64_t slot = img_slot(K.slots, 0);
	struct seq_model m = {img_mem(&G), &G, slot, 0, copy_odd};
	tt_mem mem = {seq_model_read, &m};

	img_set(&G, TT_REC_TASK, TT_TASK_SEQ, slot, 40);
	img_set(&G, TT_REC_TASK, TT_TASK_POLLS, slot, 11);
	ck_assert_int_eq(tt_reader_open(&r, mem, IMG_ROOT_ADDR, NULL), TT_R_OK);
	m.reads = 0;
	ck_assert_int_eq(tt_reader_read_task(&r, slot, &t), TT_R_OK);
	/* Read again once, and decoded from the second, whole copy. */
	ck_assert_uint_eq(m.reads, 2);
	ck_assert_uint_eq(t.id, 1);
	ck_assert_uint_eq(t.seq, copy_odd ? 40 : 42);
	ck_assert_uint_eq(t.polls, copy_odd ? 11 : 12);
	ck_assert_int_eq(t.running, 0);
}

START_TEST(test_torn_after_copy)
{
	seq_half(0);
}
END_TEST

START_TEST(test_torn_copy_only)
{
	seq_half(1);
}
END_TEST

/* A slot freed between the bulk read and the re-check disappears. */
struct freeing {
	tt_mem inner;
	img *g;
	uint64_t slot;
	unsigned bulk_reads;
};

static int freeing_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct freeing *f = ctx;
	int rc = f->inner.read(f->inner.ctx, addr, buf, len);

	/* Between the batch's read of the slots and its check (not at the
	 * root's read: that is before the slots are read at all). */
	if (addr == K.slots && len >= 4 * IMG_TASK_SIZE && ++f->bulk_reads == 1) {
		img_set(f->g, TT_REC_TASK, TT_TASK_SEQ, f->slot, 1000);
		img_set(f->g, TT_REC_TASK, TT_TASK_ID, f->slot, 0);
	}
	return rc;
}

START_TEST(test_freed_meanwhile)
{
	struct freeing fc = { img_mem(&G), &G, img_slot(K.slots, 1), 0 };
	tt_mem m = { freeing_read, &fc };
	tt_snapshot *s;
	char err[160];

	ck_assert_int_eq(tt_snapshot_read(m, IMG_ROOT_ADDR, NULL, &s, err,
					  sizeof(err)),
			 TT_R_OK);
	ck_assert_uint_eq(s->ntasks, 2);
	ck_assert_uint_eq(s->tasks[0].raw.id, 1);
	ck_assert_uint_eq(s->tasks[1].raw.id, 5);
	ck_assert_ptr_null(tt_snapshot_find(s, 2));
	tt_snapshot_free(s);
}
END_TEST

/* A slot freed and taken by another task during the read, by a runtime
 * that restarts seq per task (the ABI allows it): seq alone looks
 * unchanged, the id does not -- the slot is read again. */
static int reusing_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct freeing *f = ctx;
	int rc = f->inner.read(f->inner.ctx, addr, buf, len);

	/* After the first read of the slot array (the batch), before the
	 * second (its check). */
	if (addr == K.slots && len >= 4 * IMG_TASK_SIZE && ++f->bulk_reads == 1) {
		uint64_t seq = img_get(f->g, TT_REC_TASK, TT_TASK_SEQ, f->slot);
		img_task(f->g, f->slot, 7, "reborn", TT_STATE_IDLE, K.t5_frame);
		img_set(f->g, TT_REC_TASK, TT_TASK_SEQ, f->slot, seq);
	}
	return rc;
}

START_TEST(test_reused_same_seq)
{
	struct freeing fc = {img_mem(&G), &G, img_slot(K.slots, 1), 0};
	tt_mem m = {reusing_read, &fc};
	tt_snapshot *s;
	char err[160];

	ck_assert_int_eq(tt_snapshot_read(m, IMG_ROOT_ADDR, NULL, &s, err, sizeof(err)), TT_R_OK);
	ck_assert_uint_eq(s->ntasks, 3);
	ck_assert_ptr_null(tt_snapshot_find(s, 2));
	const tt_stask *t = tt_snapshot_find(s, 7);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->raw.name, "reborn");
	ck_assert_uint_eq(t->raw.slot_addr, img_slot(K.slots, 1));
	tt_snapshot_free(s);
}
END_TEST

/* The registry's own cross-checks: ids never handed out, an id twice, a
 * worker that does not exist, far more tasks than tasks_live.  Each such
 * task is marked (never shown as a plain task), and the count is one
 * registry-level entry. */
static const tt_stask *snap_task(tt_snapshot *s, uint64_t slot)
{
	for (size_t i = 0; i < s->ntasks; i++)
		if (s->tasks[i].raw.slot_addr == slot)
			return &s->tasks[i];
	ck_abort_msg("no task at slot %#llx", (unsigned long long)slot);
	return NULL;
}

static void expect_marked(uint64_t slot, const char *needle)
{
	tt_snapshot *s;
	char err[160];

	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s, err, sizeof(err)),
			 TT_R_OK);
	const tt_stask *t = snap_task(s, slot);
	ck_assert_int_eq(t->error, TT_R_INCONSISTENT);
	ck_assert_msg(strstr(t->errmsg, needle), "%s", t->errmsg);
	ck_assert_uint_eq(s->nerrors, 1);
	tt_snapshot_free(s);
}

START_TEST(test_inconsistent)
{
	uint64_t s1 = img_slot(K.slots, 1), s3 = img_slot(K.slots, 3);

	img_set(&G, TT_REC_TASK, TT_TASK_ID, s3, 9);
	expect_marked(s3, "id 9 was never handed out (next_task_id 6)");
	img_set(&G, TT_REC_TASK, TT_TASK_ID, s3, 2);
	expect_marked(s3, "id 2 is also the task in slot 0x");
	img_set(&G, TT_REC_TASK, TT_TASK_ID, s3, 5);
	img_set(&G, TT_REC_TASK, TT_TASK_PARENT_ID, s3, 77);
	expect_marked(s3, "parent id 77 was never handed out");
	img_set(&G, TT_REC_TASK, TT_TASK_PARENT_ID, s3, 1);
	img_set(&G, TT_REC_TASK, TT_TASK_WORKER, s1, 97);
	expect_marked(s1, "worker 97 of 2 workers");
	img_set(&G, TT_REC_TASK, TT_TASK_WORKER, s1, 1);

	/* 100 more tasks in a second chunk, and tasks_live still says 3. */
	uint64_t more = img_chunk(&G, 100);
	for (uint32_t i = 0; i < 100; i++)
		img_task(&G, img_slot(more, i), 10 + i, "more", TT_STATE_IDLE, K.t5_frame);
	img_set(&G, TT_REC_ROOT, TT_ROOT_TASKS_LIVE, IMG_ROOT_ADDR, 3);
	tt_snapshot *s;
	char err[160];
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s, err, sizeof(err)),
			 TT_R_OK);
	ck_assert_uint_eq(s->nerrors, 1);
	const tt_stask *last = &s->tasks[s->ntasks - 1];
	ck_assert_int_eq(last->error, TT_R_INCONSISTENT);
	ck_assert_msg(strstr(last->errmsg, "103 tasks in the slots, tasks_live says 3"), "%s",
		      last->errmsg);
	tt_snapshot_free(s);
	/* The same 103 with a truthful count are no error. */
	img_set(&G, TT_REC_ROOT, TT_ROOT_TASKS_LIVE, IMG_ROOT_ADDR, 103);
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &s, err, sizeof(err)),
			 TT_R_OK);
	ck_assert_uint_eq(s->nerrors, 0);
	tt_snapshot_free(s);
}
END_TEST

/* ---- fuzz ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

START_TEST(test_fuzz)
{
	const char *sc = getenv("TT_TEST_SCALE");
	unsigned iters = 20000 / (sc && atoi(sc) > 0 ? (unsigned)atoi(sc) : 1);
	size_t total = IMG_ROOT_SIZE + G.used;
	unsigned decoded = 0, failed = 0;

	for (unsigned it = 0; it < iters; it++) {
		img c;
		tt_snapshot *s;
		char err[160];
		tt_reader r;
		tt_task_iter ti;
		tt_rtask t;
		tt_rframe fr[64];
		size_t n;
		unsigned flips = 1 + rnd() % 8;

		img_copy(&c, &G);
		for (unsigned k = 0; k < flips; k++) {
			size_t at = rnd() % total;
			unsigned char v = (unsigned char)rnd();
			/* Favour the header and layout: they gate everything. */
			if (rnd() % 4 == 0)
				at = rnd() % IMG_ROOT_SIZE;
			if (at < IMG_ROOT_SIZE)
				c.root[at] = rnd() % 2 ? v : c.root[at] ^ (1u << (v % 8));
			else
				c.heap[at - IMG_ROOT_SIZE] = v;
		}
		tt_mem m = img_mem(&c);
		if (tt_snapshot_read(m, IMG_ROOT_ADDR, NULL, &s, err,
				     sizeof(err)) == TT_R_OK) {
			decoded++;
			for (size_t i = 0; i < s->ntasks; i++) {
				const tt_stask *st = &s->tasks[i];
				for (size_t j = 0; j < st->nframes; j++) {
					ck_assert_ptr_nonnull(st->frames[j].func);
					ck_assert_ptr_nonnull(st->frames[j].func->name);
				}
				tt_stask_leaf(st);
			}
			tt_snapshot_free(s);
		} else {
			failed++;
			ck_assert_ptr_null(s);
			ck_assert_uint_gt(strlen(err), 0);
		}
		if (tt_reader_open(&r, m, IMG_ROOT_ADDR, NULL) == TT_R_OK) {
			int rc, guard = 0;
			tt_task_iter_init(&r, &ti);
			/* A flipped slot_count may legitimately ask for
			 * millions of (failing) slots: sample the start. */
			while ((rc = tt_task_iter_next(&r, &ti, &t)) != 0 &&
			       guard++ < 1000) {
				if (rc == 1)
					tt_reader_walk_frames(&r, t.root_frame,
							      fr, 64, &n);
			}
		}
		img_free(&c);
	}
	/* Both outcomes must be exercised or the fuzz proves little. */
	ck_assert_uint_gt(decoded, iters / 10);
	ck_assert_uint_gt(failed, iters / 20);
}
END_TEST

/* ---- memory sources ---- */

static void *mmap_two_pages_second_unmapped(void)
{
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	munmap(p + 4096, 4096);
	return p;
}

START_TEST(test_mem_self)
{
	tt_mem m = tt_mem_self();
	static const char src[] = "registry bytes";
	char buf[sizeof(src)];
	void *page;

	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(m.read(m.ctx, (uintptr_t)src, buf, sizeof(src)), 0);
	ck_assert_str_eq(buf, src);
	errno = 1234;
	ck_assert_int_lt(m.read(m.ctx, 16, buf, 8), 0);
	ck_assert_int_eq(errno, 1234);
	ck_assert_int_lt(m.read(m.ctx, 0xffff800000000000ull, buf, 8), 0);
	ck_assert_int_lt(m.read(m.ctx, UINT64_MAX - 3, buf, 8), 0);
	/* Half readable is unreadable. */
	page = mmap_two_pages_second_unmapped();
	ck_assert_int_eq(m.read(m.ctx, (uintptr_t)page + 4090, buf, 6), 0);
	ck_assert_int_lt(m.read(m.ctx, (uintptr_t)page + 4090, buf, 8), 0);
}
END_TEST

START_TEST(test_mem_pid)
{
	static char secret[64] = "child's registry";
	/* Big enough for a bulk read (process_vm_readv rather than the fd). */
	static unsigned char bulk[64 << 10];
	static unsigned char got[sizeof bulk];
	int pipefd[2];
	pid_t pid;
	tt_mem_pid mp;
	tt_mem m;
	char buf[64], c;
	/* Six pages, the last unmapped. */
	unsigned char *six = mmap(NULL, 6 * 4096, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(six, MAP_FAILED);
	munmap(six + 5 * 4096, 4096);
	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Change it after the fork: the parent must see the child's. */
		strcpy(secret, "changed in child");
		for (size_t i = 0; i < sizeof bulk; i++)
			bulk[i] = (unsigned char)(i * 7 + 1);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
	ck_assert_int_eq(tt_mem_pid_open(&mp, pid, &m), 0);
	ck_assert_int_eq(m.read(m.ctx, (uintptr_t)secret, buf, 17), 0);
	ck_assert_str_eq(buf, "changed in child");
	ck_assert_int_lt(m.read(m.ctx, 16, buf, 8), 0);
	ck_assert_int_lt(m.read(m.ctx, 0xffffffffff600000ull + 0x100000, buf, 8), 0);
	ck_assert_int_eq(m.read(m.ctx, (uintptr_t)bulk, got, sizeof got), 0);
	for (size_t i = 0; i < sizeof got; i++)
		ck_assert_uint_eq(got[i], (unsigned char)(i * 7 + 1));
	/* A bulk read that runs into an unmapped page fails whole. */
	ck_assert_int_eq(m.read(m.ctx, (uintptr_t)six, got, 5 * 4096), 0);
	ck_assert_int_lt(m.read(m.ctx, (uintptr_t)six + 8, got, 5 * 4096), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* Gone: no read, bulk or small, returns what its memory held. */
	ck_assert_int_lt(m.read(m.ctx, (uintptr_t)bulk, got, sizeof got), 0);
	ck_assert_int_lt(m.read(m.ctx, (uintptr_t)secret, buf, 17), 0);
	tt_mem_pid_close(&mp);
	ck_assert_int_eq(mp.fd, -1);
	close(pipefd[0]);
	close(pipefd[1]);
	ck_assert_int_lt(tt_mem_pid_open(&mp, pid, &m), 0);
	ck_assert_int_eq(tt_mem_pid_open(&mp, -5, &m), -ESRCH);
}
END_TEST

START_TEST(test_mem_image)
{
	static const char a[16] = "0123456789abcdef", b[8] = "ABCDEFGH";
	tt_mem_region regs[2] = { { 0x1000, a, 16 }, { 0x1010, b, 8 } };
	tt_mem_image mi = { regs, 2 };
	tt_mem m = tt_mem_image_source(&mi);
	char buf[16];

	ck_assert_int_eq(m.read(m.ctx, 0x1004, buf, 12), 0);
	ck_assert_int_eq(memcmp(buf, "456789abcdef", 12), 0);
	ck_assert_int_eq(m.read(m.ctx, 0x1010, buf, 8), 0);
	/* Adjacent regions still do not make one read. */
	ck_assert_int_eq(m.read(m.ctx, 0x100c, buf, 8), -EFAULT);
	ck_assert_int_eq(m.read(m.ctx, 0x1014, buf, 8), -EFAULT);
	ck_assert_int_eq(m.read(m.ctx, 0xfff, buf, 2), -EFAULT);
	ck_assert_int_eq(m.read(m.ctx, UINT64_MAX, buf, 2), -EFAULT);
}
END_TEST

/* The one definition of a task's leaf and "where": first children from
 * the root down; "where" is the innermost non-leaf frame with a site. */
static tt_rframe pf(int32_t parent, uint32_t depth, uint32_t kind, uint64_t site)
{
	tt_rframe f = {0};

	f.parent = parent;
	f.depth = depth;
	f.kind = kind;
	f.site = site;
	f.func = 0x1000 + depth;
	return f;
}

START_TEST(test_path_ends)
{
	tt_rpath_ends e;
	tt_rframe fr[6] = {0};

	tt_frames_path_ends(fr, sizeof(*fr), 0, &e);
	ck_assert_uint_eq(e.leaf, SIZE_MAX);
	ck_assert_uint_eq(e.where, SIZE_MAX);
	ck_assert_int_eq(e.combinator, 0);

	/* async at A -> async at B -> leaf (a leaf's site is no "where") */
	fr[0] = pf(-1, 0, TT_FUNC_KIND_ASYNC, 0xa0);
	fr[1] = pf(0, 1, TT_FUNC_KIND_ASYNC, 0xb0);
	fr[2] = pf(1, 2, TT_FUNC_KIND_LEAF, 0xc0);
	tt_frames_path_ends(fr, sizeof(*fr), 3, &e);
	ck_assert_uint_eq(e.leaf, 2);
	ck_assert_uint_eq(e.where, 1);
	ck_assert_int_eq(e.combinator, 0);

	/* The innermost async frame not at an await: "where" stays outer. */
	fr[1].site = 0;
	tt_frames_path_ends(fr, sizeof(*fr), 3, &e);
	ck_assert_uint_eq(e.where, 0);
	/* Only the first N frames count. */
	fr[1].site = 0xb0;
	tt_frames_path_ends(fr, sizeof(*fr), 1, &e);
	ck_assert_uint_eq(e.leaf, 0);
	ck_assert_uint_eq(e.where, 0);

	/* A combinator: the path follows its first child only. */
	fr[0] = pf(-1, 0, TT_FUNC_KIND_COMBINATOR, 0xa0);
	fr[1] = pf(0, 1, TT_FUNC_KIND_LEAF, 0);
	fr[2] = pf(0, 1, TT_FUNC_KIND_ASYNC, 0xd0);
	fr[3] = pf(2, 2, TT_FUNC_KIND_LEAF, 0);
	tt_frames_path_ends(fr, sizeof(*fr), 4, &e);
	ck_assert_uint_eq(e.leaf, 1);
	ck_assert_uint_eq(e.where, 0);
	ck_assert_int_eq(e.combinator, 1);

	/* A frame after the root that is not its child ends the path. */
	fr[0] = pf(-1, 0, TT_FUNC_KIND_ASYNC, 0xa0);
	fr[1] = pf(5, 1, TT_FUNC_KIND_ASYNC, 0xb0);
	tt_frames_path_ends(fr, sizeof(*fr), 2, &e);
	ck_assert_uint_eq(e.leaf, 0);
	ck_assert_uint_eq(e.where, 0);

	/* Strided: the snapshot's frames are read in place. */
	tt_sframe sf[3];
	tt_sfunc fn = {0};
	memset(sf, 0, sizeof(sf));
	for (int i = 0; i < 3; i++) {
		sf[i].raw = pf(i - 1, (uint32_t)i, i == 2 ? TT_FUNC_KIND_LEAF : TT_FUNC_KIND_ASYNC,
			       i == 1 ? 0xb0 : 0);
		sf[i].func = &fn;
	}
	tt_frames_path_ends(&sf[0].raw, sizeof(*sf), 3, &e);
	ck_assert_uint_eq(e.leaf, 2);
	ck_assert_uint_eq(e.where, 1);
}
END_TEST

/* Of several roots (a copy relocation leaves the library's copy pristine,
 * pid 0), the started one; else the first that opens; a candidate that
 * does not open is reported, never chosen. */
START_TEST(test_root_pick)
{
	img g2;
	tt_mem_region regs[4];
	tt_mem_image mi = {regs, 4};
	tt_root_pick_out pick;
	const uint64_t bad = 0x7e0000000000ull;

	img_init_real(&g2, 1 << 12);
	img_set(&g2, TT_REC_ROOT, TT_ROOT_PID, IMG_ROOT_ADDR, 0);
	img_mem(&G);
	img_mem(&g2);
	regs[0] = G.regs[0];
	regs[1] = G.regs[1];
	regs[2] = g2.regs[0];
	regs[3] = g2.regs[1];
	tt_mem mem = tt_mem_image_source(&mi);

	uint64_t c3[] = {g2.root_addr, bad, IMG_ROOT_ADDR};
	ck_assert_int_eq(tt_root_pick(mem, c3, 3, &pick), TT_R_OK);
	ck_assert_uint_eq(pick.chosen, 2);
	ck_assert_uint_eq(pick.pid, 4242);
	ck_assert_uint_eq(pick.failed, 1);
	ck_assert_int_eq(pick.error, TT_R_UNREADABLE);
	ck_assert_ptr_nonnull(strstr(pick.err, "7e0000000000"));

	/* Neither started: the first that opens. */
	img_set(&G, TT_REC_ROOT, TT_ROOT_PID, IMG_ROOT_ADDR, 0);
	uint64_t c2[] = {bad, IMG_ROOT_ADDR, g2.root_addr};
	ck_assert_int_eq(tt_root_pick(mem, c2, 3, &pick), TT_R_OK);
	ck_assert_uint_eq(pick.chosen, 1);
	ck_assert_uint_eq(pick.pid, 0);
	ck_assert_uint_eq(pick.failed, 0);

	/* None opens: the first one's error. */
	uint64_t c1[] = {bad, bad + 4096};
	ck_assert_int_eq(tt_root_pick(mem, c1, 2, &pick), TT_R_UNREADABLE);
	ck_assert_uint_eq(pick.chosen, SIZE_MAX);
	ck_assert_uint_eq(pick.failed, 0);
	ck_assert_int_eq(tt_root_pick(mem, c1, 0, &pick), TT_R_NOT_FOUND);
	ck_assert_uint_eq(pick.chosen, SIZE_MAX);
	img_free(&g2);
}
END_TEST

/* The caching source: whole blocks, the page at the edge of a mapping,
 * the raw source for what it cannot hold, never a partial copy. */
START_TEST(test_mem_cache)
{
	/* 3 pages and a half of a 16 KiB block at 0x10000 are readable. */
	static unsigned char data[3 * 4096 + 2048];
	tt_mem_region reg = {0x10000, data, sizeof(data)};
	tt_mem_image im = {&reg, 1};
	img_counted cn = {tt_mem_image_source(&im), 0};
	tt_mem_cache c;
	tt_mem mem;
	size_t size = tt_mem_cache_size(14, 4);
	void *storage = malloc(size);
	unsigned char buf[64];
	uint64_t v;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	ck_assert_int_eq(
	    tt_mem_cache_init(&c, img_counted_mem(&cn), 14, 3, storage, size, &mem),
	    -EINVAL);
	ck_assert_int_eq(
	    tt_mem_cache_init(&c, img_counted_mem(&cn), 14, 4, storage, size - 1, &mem),
	    -EINVAL);
	ck_assert_int_eq(
	    tt_mem_cache_init(&c, img_counted_mem(&cn), 14, 4, storage, size, &mem), 0);

	/* The block is not wholly readable: its pages are kept one at a time. */
	ck_assert_int_eq(mem.read(mem.ctx, 0x10008, &v, 8), 0);
	ck_assert_mem_eq(&v, data + 8, 8);
	size_t after_first = cn.reads; /* the block with its tail, without, its page */
	ck_assert_uint_eq(after_first, 3);
	ck_assert_int_eq(mem.read(mem.ctx, 0x10100, buf, 64), 0);
	ck_assert_mem_eq(buf, data + 0x100, 64);
	ck_assert_uint_eq(cn.reads, after_first); /* a hit */
	ck_assert_int_eq(mem.read(mem.ctx, 0x11010, buf, 16), 0);
	ck_assert_mem_eq(buf, data + 0x1010, 16);
	ck_assert_uint_eq(cn.reads, after_first + 1); /* the next page, not the block again */
	/* The half page at the end: unreadable as a page, read through. */
	ck_assert_int_eq(mem.read(mem.ctx, 0x13000, buf, 16), 0);
	ck_assert_mem_eq(buf, data + 0x3000, 16);
	ck_assert_int_eq(mem.read(mem.ctx, 0x137f8, buf, 16), -EFAULT);
	/* Beyond the mapping, and across a block edge: the raw source's answer. */
	ck_assert_int_eq(mem.read(mem.ctx, 0x20000, buf, 8), -EFAULT);
	ck_assert_int_eq(mem.read(mem.ctx, 0xfff8, buf, 16), -EFAULT);

	/* A wholly readable block is read once, with the page after it:
	 * a read across the block's end is served too. */
	static unsigned char big[(1 << 14) + 4096];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 13 + 1);
	tt_mem_region r2 = {0x40000, big, sizeof(big)};
	im.regions = &r2;
	tt_mem_cache_reset(&c);
	cn.reads = 0;
	for (uint64_t a = 0x40000; a + 64 <= 0x44000; a += 1000) {
		ck_assert_int_eq(mem.read(mem.ctx, a, buf, 64), 0);
		ck_assert_mem_eq(buf, big + (a - 0x40000), 64);
	}
	ck_assert_int_eq(mem.read(mem.ctx, 0x43ff8, buf, 16), 0);
	ck_assert_mem_eq(buf, big + 0x3ff8, 16);
	ck_assert_uint_eq(cn.reads, 1);
	/* Reset forgets the bytes: the next read goes to the source again. */
	big[0] ^= 0xff;
	tt_mem_cache_reset(&c);
	ck_assert_int_eq(mem.read(mem.ctx, 0x40000, buf, 1), 0);
	ck_assert_uint_eq(buf[0], big[0]);
	ck_assert_uint_eq(cn.reads, 2);
	/* A block at the end of its mapping is held without the tail, and
	 * that is remembered across a reset. */
	r2.len = 1 << 14;
	tt_mem_cache_reset(&c);
	ck_assert_int_eq(mem.read(mem.ctx, 0x40010, buf, 16), 0);
	ck_assert_mem_eq(buf, big + 0x10, 16);
	ck_assert_uint_eq(cn.reads, 4);
	tt_mem_cache_reset(&c);
	ck_assert_int_eq(mem.read(mem.ctx, 0x40020, buf, 16), 0);
	ck_assert_int_eq(mem.read(mem.ctx, 0x43ff0, buf, 16), 0);
	ck_assert_mem_eq(buf, big + 0x3ff0, 16);
	ck_assert_uint_eq(cn.reads, 5);
	ck_assert_int_eq(mem.read(mem.ctx, 0x43ff8, buf, 16), -EFAULT);
	free(storage);
}
END_TEST

/* FUNC and SITE records with their strings, cached: a second lookup
 * reads nothing; an unreadable record is "??" and is not kept. */
static unsigned rsym_reads;
static tt_mem rsym_raw;

static int rsym_counted(void *ctx, uint64_t addr, void *buf, size_t len)
{
	rsym_reads++;
	return rsym_raw.read(rsym_raw.ctx, addr, buf, len);
}

START_TEST(test_rsym_cache)
{
	tt_reader r;
	tt_rsym_cache fc, sc;
	tt_rsym *ents = calloc(16, sizeof(*ents));
	tt_rframe fr[16];
	size_t n;

	rsym_raw = img_mem(&G);
	ck_assert_int_eq(tt_reader_open(&r, (tt_mem){rsym_counted, NULL}, IMG_ROOT_ADDR, NULL),
			 TT_R_OK);
	ck_assert_int_eq(tt_rsym_cache_init(&fc, ents, 6), -EINVAL);
	ck_assert_int_eq(tt_rsym_cache_init(&fc, ents, 8), 0);
	ck_assert_int_eq(tt_rsym_cache_init(&sc, ents + 8, 8), 0);
	ck_assert_int_eq(tt_reader_walk_frames(&r, K.t1_frames[0], fr, 16, &n), TT_R_OK);

	const tt_rsym *f = tt_rsym_func(&r, &fc, fr[1].func);
	const tt_rsym *st = tt_rsym_site(&r, &sc, fr[1].site);
	ck_assert_int_eq(f->ok, 1);
	ck_assert_str_eq(f->name, "read_request");
	ck_assert_uint_eq(f->kind, TT_FUNC_KIND_ASYNC);
	ck_assert_str_eq(st->name, "read_request");
	ck_assert_str_eq(st->file, "src/server.c");
	ck_assert_uint_eq(st->line, 20);
	ck_assert_uint_eq(st->kind, TT_RSYM_SITE);
	unsigned before = rsym_reads;
	ck_assert_ptr_eq(tt_rsym_func(&r, &fc, fr[1].func), f);
	ck_assert_ptr_eq(tt_rsym_site(&r, &sc, fr[1].site), st);
	ck_assert_uint_eq(rsym_reads, before);
	/* A site's address looked up as a func is no hit. */
	ck_assert_uint_ne(tt_rsym_func(&r, &sc, fr[1].site)->kind, TT_RSYM_SITE);
	ck_assert_uint_gt(rsym_reads, before);

	const uint64_t bad = 0x7e0000000000ull;
	f = tt_rsym_func(&r, &fc, bad);
	ck_assert_int_eq(f->ok, 0);
	ck_assert_str_eq(f->name, "??");
	ck_assert_uint_eq(f->line, 0);
	st = tt_rsym_site(&r, &sc, bad);
	ck_assert_str_eq(st->file, "??");
	ck_assert_uint_eq(st->line, 0);
	before = rsym_reads;
	tt_rsym_func(&r, &fc, bad);
	ck_assert_uint_gt(rsym_reads, before); /* tried again */
	free(ents);
}
END_TEST

/* An object's name (WAIT field NAME) is read from the target like any
 * string: kept raw (the wording escapes it), cut to 31 bytes; a pointer
 * that cannot be read costs the name only -- the frame reads, and the
 * reader's last error is left alone. */
START_TEST(test_object_names)
{
	tt_reader r;
	tt_rframe fr[16];
	size_t n;
	uint64_t leaf = K.t1_frames[3];

	img_set(&G, TT_REC_WAIT, TT_WAIT_NAME, leaf, img_str(&G, "jobs\033[2J"));
	ck_assert_int_eq(open_g(&r), TT_R_OK);
	ck_assert_int_eq(tt_reader_walk_frames(&r, K.t1_frames[0], fr, 16, &n), TT_R_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(fr[3].wait_name, "jobs\033[2J");
	ck_assert_str_eq(fr[2].wait_name, ""); /* not a leaf */

	img_set(&G, TT_REC_WAIT, TT_WAIT_NAME, leaf,
		img_str(&G, "a-name-far-longer-than-thirty-one-bytes"));
	ck_assert_int_eq(tt_reader_walk_frames(&r, K.t1_frames[0], fr, 16, &n), TT_R_OK);
	ck_assert_str_eq(fr[3].wait_name, "a-name-far-longer-than-thirty-o");

	strcpy(r.err, "before");
	img_set(&G, TT_REC_WAIT, TT_WAIT_NAME, leaf, 0x10);
	ck_assert_int_eq(tt_reader_walk_frames(&r, K.t1_frames[0], fr, 16, &n), TT_R_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(fr[3].wait_name, "");
	ck_assert_uint_eq(fr[3].wait_object, K.chan);
	ck_assert_str_eq(r.err, "before");

	/* A layout without the field (an older runtime): no name. */
	img_set(&G, TT_REC_WAIT, TT_WAIT_NAME, leaf, img_str(&G, "jobs"));
	img_row(&G, TT_REC_WAIT, TT_WAIT_NAME)->field = 250;
	ck_assert_int_eq(open_g(&r), TT_R_OK);
	ck_assert_int_eq(tt_reader_walk_frames(&r, K.t1_frames[0], fr, 16, &n), TT_R_OK);
	ck_assert_str_eq(fr[3].wait_name, "");
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(tt_state_name(TT_STATE_IDLE), "idle");
	ck_assert_str_eq(tt_state_name(TT_STATE_CANCELLED), "cancelled");
	ck_assert_str_eq(tt_state_name(99), "?");
	ck_assert_str_eq(tt_wait_kind_name(TT_WAIT_CHAN_RECV), "channel recv");
	ck_assert_str_eq(tt_wait_kind_name(TT_WAIT_BLOCKING), "blocking call");
	ck_assert_str_eq(tt_wait_kind_name(TT_WAIT_CUSTOM), "custom");
	ck_assert_str_eq(tt_wait_kind_name(TT_WAIT_KIND_MAX_), "?");
	ck_assert_str_eq(tt_strerror(TT_R_CYCLE), "await chain loops");
	ck_assert_str_eq(tt_strerror(TT_R_TORN), "task kept changing while read");
	ck_assert_str_eq(tt_strerror(1000), "unknown reader error");
}
END_TEST

/* One convention: every code is negative, beyond every errno, distinct and
 * named; a negative errno is named too; what the reader returns on bad
 * input is such a code. */
START_TEST(test_error_codes)
{
	static const struct {
		int code;
		const char *message;
	} codes[] = {
#define XX(name, number, message) { TT_##name, message },
		TT_ERROR_MAP(XX)
#undef XX
	};
	size_t n = sizeof(codes) / sizeof(codes[0]);

	for (size_t i = 0; i < n; i++) {
		ck_assert_int_lt(codes[i].code, -4096);
		ck_assert_str_eq(tt_strerror(codes[i].code), codes[i].message);
		for (size_t j = 0; j < i; j++)
			ck_assert_int_ne(codes[i].code, codes[j].code);
	}
	ck_assert_str_eq(tt_strerror(TT_R_OK), "success");
	ck_assert_str_eq(tt_strerror(-EFAULT), "Bad address");
	ck_assert_str_eq(tt_strerror(TT_T_NO_REGISTRY), "no tasktrace registry");
	ck_assert_str_eq(tt_strerror(-4096 - 1000), "unknown reader error");

	unsigned char junk[256] = { 0 };
	tt_mem_region reg = { 0x10000, junk, sizeof(junk) };
	tt_mem_image im = { &reg, 1 };
	tt_reader r;
	ck_assert_int_eq(tt_reader_open(&r, tt_mem_image_source(&im), 0x10000, NULL), TT_R_BAD_MAGIC);
	ck_assert_int_eq(tt_reader_open(&r, tt_mem_image_source(&im), 0x20000, NULL), TT_R_UNREADABLE);
	ck_assert_int_lt(TT_R_BAD_MAGIC, 0);
}
END_TEST

/* ---- labels (registry-abi.md §5.9), by this image's layout ---- */

static void put_label(uint64_t slot, int i, const char *key, size_t klen, const char *value,
		      size_t vlen)
{
	uint64_t rec = slot + img_off(TT_REC_TASK, TT_TASK_LABELS) + 7u * (unsigned)i;
	memcpy(img_ptr(&G, rec + img_off(TT_REC_LABEL, TT_LABEL_KEY)), key, klen);
	memcpy(img_ptr(&G, rec + img_off(TT_REC_LABEL, TT_LABEL_VALUE)), value, vlen);
}

static tt_rtask read_slot(uint64_t slot)
{
	tt_reader r;
	tt_rtask t;
	ck_assert_int_eq(open_g(&r), TT_R_OK);
	ck_assert_int_eq(tt_reader_read_task(&r, slot, &t), TT_R_OK);
	return t;
}

START_TEST(test_labels)
{
	uint64_t slot = img_slot(K.slots, 0);
	tt_rtask t = read_slot(slot);
	ck_assert_uint_eq(t.nlabels, 0);
	ck_assert_uint_eq(t.label_flags, 0);

	/* Two labels; a key and a value filling their fields have no NUL and
	 * are whole. */
	put_label(slot, 0, "ab", 3, "xyz", 4);
	put_label(slot, 1, "ful", 3, "four", 4);
	img_set(&G, TT_REC_TASK, TT_TASK_LABEL_COUNT, slot, 2);
	t = read_slot(slot);
	ck_assert_uint_eq(t.nlabels, 2);
	ck_assert_str_eq(t.labels[0].key, "ab");
	ck_assert_str_eq(t.labels[0].value, "xyz");
	ck_assert_str_eq(t.labels[1].key, "ful");
	ck_assert_str_eq(t.labels[1].value, "four");
	ck_assert_uint_eq(t.label_flags, 0);
	ck_assert_str_eq(t.name, "conn#1");

	/* A count beyond the array: what fits, marked; the task is whole. */
	img_set(&G, TT_REC_TASK, TT_TASK_LABEL_COUNT, slot, 60000);
	t = read_slot(slot);
	ck_assert_uint_eq(t.nlabels, 2);
	ck_assert_uint_eq(t.label_flags, TT_RLABELS_BAD);
	ck_assert_uint_eq(t.id, 1);
	img_set(&G, TT_REC_TASK, TT_TASK_LABEL_COUNT, slot, 2);

	/* An empty key, then a key twice: dropped, marked. */
	put_label(slot, 1, "\0", 1, "v", 2);
	t = read_slot(slot);
	ck_assert_uint_eq(t.nlabels, 1);
	ck_assert_uint_eq(t.label_flags, TT_RLABELS_BAD);
	put_label(slot, 1, "ab", 3, "2nd", 4);
	t = read_slot(slot);
	ck_assert_uint_eq(t.nlabels, 1);
	ck_assert_str_eq(t.labels[0].value, "xyz");
	ck_assert_uint_eq(t.label_flags, TT_RLABELS_BAD);

	/* Layout: labels without their record, a LABEL string over 64. */
	tt_reader r;
	tt_layout_entry *e = img_row(&G, TT_REC_LABEL, TT_LABEL_KEY);
	e->record = 77;
	ck_assert_int_eq(open_err(&r), TT_R_BAD_LAYOUT);
	ck_assert_ptr_nonnull(strstr(r.err, "task.labels"));
	e->record = TT_REC_LABEL;
	e = img_row(&G, TT_REC_LABEL, 0);
	e->size = 80;
	e = img_row(&G, TT_REC_LABEL, TT_LABEL_VALUE);
	e->size = 65;
	ck_assert_int_eq(open_err(&r), TT_R_BAD_LAYOUT);
	ck_assert_ptr_nonnull(strstr(r.err, "label.value"));
	e->size = 4;
	img_row(&G, TT_REC_LABEL, 0)->size = 7;
	ck_assert_int_eq(open_err(&r), TT_R_OK);
}
END_TEST

/* ---- histograms (registry-abi.md §5.13): TASK.HIST in the room of the
 * image's field from the future, a block as the runtime writes it ---- */

static uint64_t hist_block(uint32_t buckets, uint32_t n_alloc)
{
	uint64_t b = img_alloc(&G, 8 + 8u * n_alloc);
	img_w(&G, b, buckets, 4);
	return b;
}

static void set_hist(uint64_t slot, uint64_t block)
{
	img_w(&G, slot + img_off(TT_REC_TASK, 200), block, 8);
}

START_TEST(test_hist)
{
	uint64_t slot = img_slot(K.slots, 0);
	tt_rtask t;

	img_row(&G, TT_REC_TASK, 200)->field = TT_TASK_HIST;
	img_set(&G, TT_REC_TASK, TT_TASK_POLLS, slot, 10);
	/* No block: every poll under a tick. */
	t = read_slot(slot);
	ck_assert_uint_eq(t.hist_buckets, TT_HIST_BUCKETS);
	ck_assert_uint_eq(t.hist_flags, 0);
	ck_assert_uint_eq(t.poll_hist[0], 10);
	ck_assert_uint_eq(t.delay_hist[0], 10);

	/* poll[5] = 3, delay[8] = 2; bucket 0 derived. */
	uint64_t b = hist_block(TT_HIST_BUCKETS, TT_HIST_BUCKETS);
	img_w(&G, b + 8 + 4 * 5, 3, 4);
	img_w(&G, b + 8 + 4 * TT_HIST_BUCKETS + 4 * 8, 2, 4);
	set_hist(slot, b);
	t = read_slot(slot);
	ck_assert_uint_eq(t.hist_flags, 0);
	ck_assert_uint_eq(t.poll_hist[0], 7);
	ck_assert_uint_eq(t.poll_hist[5], 3);
	ck_assert_uint_eq(t.delay_hist[0], 8);
	ck_assert_uint_eq(t.delay_hist[8], 2);

	/* More buckets than a reader keeps: the rest in its last one. */
	b = hist_block(20, 20);
	img_w(&G, b + 8 + 4 * 18, 1, 4);
	set_hist(slot, b);
	t = read_slot(slot);
	ck_assert_uint_eq(t.hist_flags, 0);
	ck_assert_uint_eq(t.poll_hist[TT_HIST_BUCKETS - 1], 1);
	ck_assert_uint_eq(t.poll_hist[0], 9);

	/* Junk: an unreadable or misaligned address, a bucket count of 0 or
	 * absurd, counts beyond the polls.  One flag, no numbers, no crash. */
	uint64_t bad_addr[] = {0xdead00000000ull, b + 2, ~0ull & ~7ull};
	for (size_t i = 0; i < sizeof bad_addr / sizeof bad_addr[0]; i++) {
		set_hist(slot, bad_addr[i]);
		t = read_slot(slot);
		ck_assert_uint_eq(t.hist_flags, TT_RHIST_BAD);
		ck_assert_uint_eq(t.hist_buckets, 0);
	}
	uint32_t bad_count[] = {0, 65, 0xffffffffu};
	for (size_t i = 0; i < sizeof bad_count / sizeof bad_count[0]; i++) {
		b = hist_block(bad_count[i], 1);
		set_hist(slot, b);
		t = read_slot(slot);
		ck_assert_uint_eq(t.hist_flags, TT_RHIST_BAD);
		ck_assert_uint_eq(t.hist_buckets, 0);
	}
	b = hist_block(TT_HIST_BUCKETS, TT_HIST_BUCKETS);
	img_w(&G, b + 8 + 4 * 3, 0xffffffffu, 4);
	set_hist(slot, b);
	t = read_slot(slot);
	ck_assert_uint_eq(t.hist_flags, TT_RHIST_BAD);
	ck_assert_uint_eq(t.poll_hist[3], 0);
	ck_assert_uint_eq(t.poll_hist[0], 0);
}
END_TEST


static Suite *reader_suite(void)
{
	Suite *s = suite_create("reader");
	TCase *tc = tcase_create("image");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_good_core);
	tcase_add_test(tc, test_good_snapshot);
	tcase_add_test(tc, test_derived_fields);
	tcase_add_test(tc, test_truncated_root);
	tcase_add_test(tc, test_bad_magic_version);
	tcase_add_test(tc, test_larger_root);
	tcase_add_test(tc, test_layout_bounds);
	tcase_add_test(tc, test_labels);
	tcase_add_test(tc, test_hist);
	tcase_add_test(tc, test_layout_is_used);
	tcase_add_test(tc, test_ring_from_the_table);
	tcase_add_test(tc, test_absurd_counts);
	tcase_add_test(tc, test_misaligned_frame);
	tcase_add_test(tc, test_cycle);
	tcase_add_test(tc, test_self_sibling);
	tcase_add_test(tc, test_too_deep);
	tcase_add_test(tc, test_deep_keeps_leaf);
	tcase_add_test(tc, test_nested_combinators);
	tcase_add_test(tc, test_wild_pointer);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_name_control_bytes);
	tcase_add_test(tc, test_object_names);
	tcase_add_test(tc, test_torn);
	tcase_add_test(tc, test_torn_after_copy);
	tcase_add_test(tc, test_worker_cap);
	tcase_add_test(tc, test_misaligned_slot);
	tcase_add_test(tc, test_torn_copy_only);
	tcase_add_test(tc, test_freed_meanwhile);
	tcase_add_test(tc, test_reused_same_seq);
	tcase_add_test(tc, test_inconsistent);
	tcase_add_test(tc, test_fuzz);
	tcase_add_test(tc, test_root_pick);
	tcase_add_test(tc, test_rsym_cache);
	suite_add_tcase(s, tc);

	tc = tcase_create("mem");
	tcase_add_test(tc, test_mem_self);
	tcase_add_test(tc, test_mem_pid);
	tcase_add_test(tc, test_mem_image);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_error_codes);
	tcase_add_test(tc, test_path_ends);
	tcase_add_test(tc, test_mem_cache);
	suite_add_tcase(s, tc);
	return s;
}


int main(void)
{
	SRunner *sr = srunner_create(reader_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
