/* The registry as a reader in another process sees it: start the real
 * samples, read their memory through /proc/PID/mem, decode with the reader
 * library, and check chains, sites, states and waits against the source. */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tasktrace/read/reader.h"
#include "tasktrace/tasktrace.h"

#include "sample.h"

static int all_idle(const tt_snapshot *snap)
{
	for (size_t i = 0; i < snap->ntasks; i++)
		if (snap->tasks[i].raw.state != TT_STATE_IDLE)
			return 0;
	return 1;
}

/* The sample prints "ready" just before its last await: read until every
 * task has settled (bounded), so the test sees the steady state. */
static tt_snapshot *snapshot_of(sample *s, tt_mem_pid *mp)
{
	tt_mem mem;
	ck_assert_int_eq(tt_mem_pid_open(mp, s->pid, &mem), 0);
	tt_snapshot *snap = NULL;
	for (int tries = 0; tries < 500; tries++) {
		char err[256] = "";
		int rc = tt_snapshot_read(mem, s->registry, NULL, &snap, err, sizeof err);
		ck_assert_msg(rc == TT_R_OK, "snapshot failed: %s", err);
		if (all_idle(snap))
			break;
		tt_snapshot_free(snap);
		snap = NULL;
		usleep(10000);
	}
	ck_assert_msg(snap, "tasks never settled");
	return snap;
}

static const tt_stask *find_named(const tt_snapshot *s, const char *name)
{
	const tt_stask *found = NULL;
	for (size_t i = 0; i < s->ntasks; i++) {
		if (strcmp(s->tasks[i].raw.name, name) == 0) {
			ck_assert_msg(!found, "two tasks named %s", name);
			found = &s->tasks[i];
		}
	}
	ck_assert_msg(found, "no task named %s", name);
	return found;
}

static void assert_frame(const tt_stask *t, size_t i, const char *func,
			 const char *tag, uint32_t depth)
{
	ck_assert_uint_gt(t->nframes, i);
	const tt_sframe *f = &t->frames[i];
	ck_assert_str_eq(f->func->name, func);
	ck_assert_uint_eq(f->raw.depth, depth);
	if (tag) {
		ck_assert_msg(f->site, "%s has no suspension site", func);
		ck_assert_uint_eq(f->site->line, marker_line(tag));
		ck_assert_msg(strstr(f->site->file, "samples/hung.c"), "file %s",
			      f->site->file);
		char poll[64];
		snprintf(poll, sizeof poll, "%s_poll", func);
		ck_assert_str_eq(f->site->function, poll);
	}
}

START_TEST(hung_chain_sites_and_waits)
{
	sample s;
	tt_mem_pid mp;
	sample_start(&s, "hung", NULL);
	tt_snapshot *snap = snapshot_of(&s, &mp);
	ck_assert_uint_eq(snap->nerrors, 0);
	ck_assert_uint_eq(snap->pid, (uint64_t)s.pid);
	ck_assert_uint_ge(snap->nworkers, 2);

	/* request-42: four async functions, innermost waiting on the notify. */
	const tt_stask *req = find_named(snap, "request-42");
	ck_assert_int_eq(req->error, 0);
	ck_assert_uint_eq(req->raw.state, TT_STATE_IDLE);
	ck_assert_uint_eq(req->nframes, 5);
	assert_frame(req, 0, "handle_request", "handle", 0);
	assert_frame(req, 1, "load_user", "load", 1);
	assert_frame(req, 2, "query_db", "query", 2);
	assert_frame(req, 3, "await_reply", "reply", 3);
	assert_frame(req, 4, "tt_notified", NULL, 4);
	const tt_sframe *leaf = tt_stask_leaf(req);
	ck_assert_ptr_eq(leaf, &req->frames[4]);
	ck_assert_uint_eq(leaf->raw.kind, TT_FUNC_KIND_LEAF);
	ck_assert_uint_eq(leaf->raw.wait_kind, TT_WAIT_NOTIFY);
	ck_assert_str_eq(tt_wait_kind_name(leaf->raw.wait_kind), "notify");
	ck_assert_uint_ge(req->raw.wakers, 1);

	/* Spawned by the block_on root, at the TT_SPAWN line in server_main. */
	const tt_stask *root = find_named(snap, "block_on");
	ck_assert_uint_eq(req->raw.parent_id, root->raw.id);
	ck_assert_msg(req->spawn_site, "no spawn site");
	ck_assert_str_eq(req->spawn_site->function, "server_main_poll");
	assert_frame(root, 0, "server_main", "main", 0);
	ck_assert_uint_eq(root->frames[1].raw.wait_kind, TT_WAIT_TIMER);

	/* cache-refresh: a timer whose deadline is an hour away. */
	const tt_stask *cache = find_named(snap, "cache-refresh");
	ck_assert_uint_eq(cache->nframes, 2);
	assert_frame(cache, 0, "cache_refresh", "sleep", 0);
	assert_frame(cache, 1, "tt_sleep", NULL, 1);
	ck_assert_uint_eq(cache->frames[1].raw.wait_kind, TT_WAIT_TIMER);
	ck_assert_uint_gt(cache->frames[1].raw.wait_detail, snap->now_ns + TT_SEC(3000));

	/* supervisor: joined on request-42, which is the task that can
	 * release it. */
	const tt_stask *sup = find_named(snap, "supervisor");
	assert_frame(sup, 0, "supervisor", "join", 0);
	assert_frame(sup, 1, "tt_join", NULL, 1);
	ck_assert_uint_eq(sup->frames[1].raw.wait_kind, TT_WAIT_JOIN);
	ck_assert_uint_eq(sup->frames[1].raw.wait_owner, req->raw.id);
	ck_assert_uint_eq(sup->frames[1].raw.wait_object, req->raw.slot_addr);

	/* Nobody is running: every task suspended with a poll behind it. */
	for (size_t i = 0; i < snap->ntasks; i++) {
		ck_assert_uint_eq(snap->tasks[i].raw.state, TT_STATE_IDLE);
		ck_assert_uint_ge(snap->tasks[i].raw.polls, 1);
		ck_assert_uint_eq(snap->tasks[i].raw.seq % 2, 0);
	}
	tt_snapshot_free(snap);
	tt_mem_pid_close(&mp);
	sample_stop(&s);
}
END_TEST

static const tt_rframe *leaf_of(const tt_snapshot *snap, const char *name,
				const char *leaf_func, uint32_t kind)
{
	const tt_stask *t = find_named(snap, name);
	const tt_sframe *leaf = tt_stask_leaf(t);
	ck_assert_msg(leaf, "%s has no frames", name);
	ck_assert_str_eq(leaf->func->name, leaf_func);
	ck_assert_msg(leaf->raw.wait_kind == kind, "%s waits on %s, not %s", name,
		      tt_wait_kind_name(leaf->raw.wait_kind), tt_wait_kind_name(kind));
	ck_assert_uint_ne(leaf->raw.wait_object, 0);
	return &leaf->raw;
}

START_TEST(hung_every_wait_kind)
{
	sample s;
	tt_mem_pid mp;
	sample_start(&s, "hung", NULL);
	tt_snapshot *snap = snapshot_of(&s, &mp);
	const tt_rframe *recv = leaf_of(snap, "job-consumer", "tt_recv", TT_WAIT_CHAN_RECV);
	const tt_rframe *send = leaf_of(snap, "result-producer", "tt_send", TT_WAIT_CHAN_SEND);
	ck_assert_uint_ne(recv->wait_object, send->wait_object);
	ck_assert_uint_eq(send->wait_detail, 1); /* capacity */

	/* The mutex edge points at the task holding it. */
	const tt_rframe *mx = leaf_of(snap, "config-reader", "tt_lock", TT_WAIT_MUTEX);
	ck_assert_uint_eq(mx->wait_owner, find_named(snap, "config-holder")->raw.id);

	const tt_rframe *sem = leaf_of(snap, "pool-user", "tt_acquire", TT_WAIT_SEMAPHORE);
	ck_assert_uint_eq(sem->wait_detail, 2); /* permits wanted */

	/* The oneshot edge points at its producer. */
	const tt_rframe *os = leaf_of(snap, "auth-client", "tt_oneshot_recv", TT_WAIT_ONESHOT);
	ck_assert_uint_eq(os->wait_owner, find_named(snap, "auth-server")->raw.id);

	const tt_rframe *fd = leaf_of(snap, "pipe-reader", "tt_read", TT_WAIT_FD_READ);
	ck_assert_uint_gt(fd->wait_detail, 2); /* the pipe's fd number */

	/* The group edge points at one of its children, whose parent it is. */
	const tt_stask *batch = find_named(snap, "batch");
	const tt_rframe *grp = leaf_of(snap, "batch", "tt_group_wait", TT_WAIT_GROUP);
	ck_assert_uint_eq(grp->wait_detail, 2); /* children left */
	const tt_stask *child = tt_snapshot_find(snap, grp->wait_owner);
	ck_assert_ptr_nonnull(child);
	ck_assert_str_eq(child->raw.name, "batch-item");
	ck_assert_uint_eq(child->raw.parent_id, batch->raw.id);

	leaf_of(snap, "dns-lookup", "tt_blocking", TT_WAIT_BLOCKING);
	tt_snapshot_free(snap);
	tt_mem_pid_close(&mp);
	sample_stop(&s);
}
END_TEST

START_TEST(many_tasks_all_pending)
{
	sample s;
	tt_mem_pid mp;
	sample_start(&s, "many_tasks", "20000");
	tt_snapshot *snap = snapshot_of(&s, &mp);
	ck_assert_uint_eq(snap->nerrors, 0);
	size_t idle = 0;
	for (size_t i = 0; i < snap->ntasks; i++) {
		const tt_stask *t = &snap->tasks[i];
		if (strcmp(t->raw.name, "idle-worker") != 0)
			continue;
		ck_assert_uint_eq(t->nframes, 3);
		ck_assert_str_eq(t->frames[0].func->name, "idle_worker");
		ck_assert_str_eq(t->frames[1].func->name, "park_forever");
		ck_assert_uint_eq(t->frames[2].raw.wait_kind, TT_WAIT_NOTIFY);
		idle++;
	}
	ck_assert_uint_eq(idle, 20000);
	ck_assert_uint_eq(snap->tasks_live, snap->ntasks);
	tt_snapshot_free(snap);
	tt_mem_pid_close(&mp);
	sample_stop(&s);
}
END_TEST

/* A memory source that counts the reads touching the never-used ends of
 * the chunks (past each chunk's `used` mark). */
typedef struct tail_watch {
	tt_mem inner;
	uint64_t lo[64], hi[64];
	uint32_t n;
	uint64_t reads_in_tails, bytes;
} tail_watch;

static int watch_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	tail_watch *w = ctx;
	for (uint32_t i = 0; i < w->n; i++)
		if (addr < w->hi[i] && addr + len > w->lo[i])
			w->reads_in_tails++;
	w->bytes += len;
	return w->inner.read(w->inner.ctx, addr, buf, len);
}

/* 20,000 tasks fill 20,001 slots of chunks holding 32,512: a snapshot
 * reads the slots that were handed out and not one byte of the 3 MB
 * past them, and still finds every task. */
START_TEST(snapshot_reads_only_used_slots)
{
	sample s;
	tt_mem_pid mp;
	tt_reader r;
	tail_watch w = {0};
	uint32_t nchunks;
	uint64_t total = 0, unused = 0;

	sample_start(&s, "many_tasks", "20000");
	tt_snapshot_free(snapshot_of(&s, &mp));
	tt_mem_pid_close(&mp);
	ck_assert_int_eq(tt_mem_pid_open(&mp, s.pid, &w.inner), 0);
	ck_assert_int_eq(tt_reader_open(&r, w.inner, s.registry, NULL), TT_R_OK);
	ck_assert_int_eq(tt_reader_chunk_count(&r, &nchunks), TT_R_OK);
	for (uint32_t i = 0; i < nchunks && i < 64; i++) {
		tt_reader_chunk c;
		ck_assert_int_eq(tt_reader_chunk_get(&r, i, total, &c), TT_R_OK);
		total += c.count;
		ck_assert_uint_le(c.used, c.count);
		uint64_t stride = r.record_size[TT_REC_TASK];
		w.lo[w.n] = c.slots + c.used * stride;
		w.hi[w.n++] = c.slots + c.count * stride;
		unused += c.count - c.used;
	}
	ck_assert_uint_ge(unused, 10000);
	tt_snapshot *snap = NULL;
	char err[256] = "";
	tt_mem mem = {watch_read, &w};
	ck_assert_msg(tt_snapshot_read(mem, s.registry, NULL, &snap, err, sizeof err) == TT_R_OK,
		      "%s", err);
	ck_assert_uint_eq(w.reads_in_tails, 0);
	ck_assert_uint_eq(snap->tasks_live, snap->ntasks);
	ck_assert_uint_ge(snap->ntasks, 20000);
	uint64_t before = w.bytes;
	ck_assert_int_ge(tt_snapshot_update(snap, mem, err, sizeof err), 0);
	ck_assert_uint_eq(w.reads_in_tails, 0);
	ck_assert_uint_gt(w.bytes, before);
	tt_snapshot_free(snap);
	tt_mem_pid_close(&mp);
	sample_stop(&s);
}
END_TEST

/* This process's registry, read as another process would read it. */
static tt_snapshot *snapshot_self(void)
{
	tt_snapshot *snap = NULL;
	char err[256];
	int rc = tt_snapshot_read(tt_mem_self(), (uint64_t)(uintptr_t)tt_registry_root(), NULL,
				  &snap, err, sizeof err);
	ck_assert_msg(rc == TT_R_OK, "snapshot failed: %s", err);
	return snap;
}

/* A task reading the registry of its own process while it is polled: it
 * shows as running, on the worker whose record names it. */
typedef struct self_reader {
	tt_frame frame;
	int seen;
} self_reader;
static tt_poll self_reader_poll(self_reader *self, tt_cx *cx);
TT_ASYNC_FN(self_reader, self_reader_poll, NULL);

static tt_poll self_reader_poll(self_reader *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_snapshot *snap = snapshot_self();
	uint64_t me = tt_task_id(tt_cx_task(cx));
	const tt_stask *t = tt_snapshot_find(snap, me);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->raw.state, TT_STATE_RUNNING);
	ck_assert_int_eq(t->raw.running, 1);
	for (size_t i = 0; i < snap->nworkers; i++)
		if (snap->workers[i].task_id == me && snap->workers[i].state == TT_WORKER_POLLING)
			self->seen++;
	tt_snapshot_free(snap);
	TT_RETURN(self, self->seen);
}

START_TEST(self_read_running_task)
{
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 0});
	ck_assert_ptr_nonnull(rt);
	self_reader r;
	tt_frame_init(&r.frame, &self_reader_fn);
	r.seen = 0;
	ck_assert_int_eq(tt_block_on(rt, &r.frame), 1);
	tt_runtime_free(rt);
}
END_TEST

/* The stamps move while a poll runs and stop costing wake-ups while
 * nothing runs: the clock thread (runtime/clock.c) copies the coarse clock
 * for the poll path.  A task that computes for 120 ms in one poll shows
 * that time as busy; a poll's end reads the copy, not the clock. */
typedef struct cruncher {
	tt_frame frame;
	uint64_t busy_ns;
} cruncher;
static tt_poll cruncher_poll(cruncher *self, tt_cx *cx);
TT_ASYNC_FN(cruncher, cruncher_poll, NULL);

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static tt_poll cruncher_poll(cruncher *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (uint64_t end = mono_ns() + 120000000; mono_ns() < end;)
		;
	TT_YIELD(self, cx);
	tt_snapshot *snap = snapshot_self();
	const tt_stask *t = tt_snapshot_find(snap, tt_task_id(tt_cx_task(cx)));
	ck_assert_ptr_nonnull(t);
	self->busy_ns = t->raw.busy_ns;
	tt_snapshot_free(snap);
	TT_RETURN(self, 0);
}

/* The voluntary context switches of this process's clock thread, or -1. */
static long clock_thread_switches(void)
{
	char path[300], line[256];
	DIR *dir = opendir("/proc/self/task");
	ck_assert_ptr_nonnull(dir);
	for (struct dirent *d; (d = readdir(dir));) {
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", d->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		int is_clock = fgets(line, sizeof line, f) && strcmp(line, "tt-clock\n") == 0;
		fclose(f);
		if (!is_clock)
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/status", d->d_name);
		f = fopen(path, "r");
		long n = -1;
		while (f && fgets(line, sizeof line, f))
			if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
				break;
		if (f)
			fclose(f);
		closedir(dir);
		return n;
	}
	closedir(dir);
	return -1;
}

START_TEST(clock_moves_in_long_poll_and_sleeps_when_idle)
{
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	ck_assert_ptr_nonnull(rt);
	cruncher c;
	tt_frame_init(&c.frame, &cruncher_fn);
	c.busy_ns = 0;
	ck_assert_int_eq(tt_block_on(rt, &c.frame), 0);
	/* Ticks of at most 4 ms: the last one before the poll ended is at
	 * most a few ticks late even on a loaded machine. */
	ck_assert_msg(c.busy_ns >= 60000000, "busy %llu ns after 120 ms of computing",
		      (unsigned long long)c.busy_ns);
	long before = clock_thread_switches();
	ck_assert_msg(before >= 0, "no tt-clock thread");
	usleep(300000); /* the workers are parked */
	long after = clock_thread_switches();
	/* Ticking on, it would have woken 75 times or more. */
	ck_assert_msg(after - before <= 3, "the clock thread woke %ld times while idle",
		      after - before);
	tt_runtime_free(rt);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("registry-live");
	TCase *tc = tcase_create("live");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, hung_chain_sites_and_waits);
	tcase_add_test(tc, hung_every_wait_kind);
	tcase_add_test(tc, many_tasks_all_pending);
	tcase_add_test(tc, snapshot_reads_only_used_slots);
	tcase_add_test(tc, self_read_running_task);
	tcase_add_test(tc, clock_moves_in_long_poll_and_sleeps_when_idle);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
