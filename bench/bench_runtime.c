/* Runtime micro-benchmarks, built against a library with recording on and
 * one with it off (bench/recording.sh runs both side by side).
 *
 *   spawn-join  spawn and join tiny tasks in batches, 2 workers
 *   await-chain a 4-deep chain of async functions whose leaf yields: every
 *               resume re-enters all four frames (the per-await path)
 *   sleep       many short timers at once, 2 workers
 *   spawn-join-labels  spawn-join with 4 labels on the spawner, which every
 *               task inherits (the spawn's copy of them)
 *   set-label   one task setting a label, a new value each time
 *   burst       100,000 spawns, then their joins: all pending before the
 *               first join, 2 workers
 *   mem         memory per pending task: the RSS of 1,000,000 tasks parked
 *               on a notify behind a 3-frame chain (outer -> middle ->
 *               tt_notified), minus the RSS before the first spawn; prints
 *               bytes_per_task= and leaves without ending them (not in all)
 *
 * bench/compare.sh runs spawn-join, burst and mem beside their Go and tokio
 * twins (bench/go, bench/tokio).
 *
 * usage: bench_runtime [spawn-join|await-chain|sleep|spawn-join-labels|set-label|burst|all] [scale]
 *        bench_runtime await-chain 1 YIELDS   (an exact count: tests/perf)
 *        bench_runtime mem [tasks] */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tasktrace/tasktrace.h"

static long scale = 1;
static long yields; /* await-chain: instead of 1e6 * scale */

typedef struct leaf_yield {
	tt_frame frame;
	long n, i;
} leaf_yield;
static tt_poll leaf_yield_poll(leaf_yield *self, tt_cx *cx);
TT_ASYNC_FN(leaf_yield, leaf_yield_poll, NULL);
static tt_poll leaf_yield_poll(leaf_yield *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < self->n; self->i++)
		TT_YIELD(self, cx);
	TT_RETURN(self, self->i);
}

#define LEVEL(NAME, CHILD, CHILD_FN)                                                            \
	typedef struct NAME {                                                                   \
		tt_frame frame;                                                                 \
		long n;                                                                         \
		CHILD child;                                                                    \
	} NAME;                                                                                 \
	static tt_poll NAME##_poll(NAME *self, tt_cx *cx);                                      \
	TT_ASYNC_FN(NAME, NAME##_poll, NULL);                                                   \
	static tt_poll NAME##_poll(NAME *self, tt_cx *cx)                                       \
	{                                                                                       \
		TT_BEGIN(self);                                                                 \
		self->child.n = self->n;                                                        \
		TT_AWAIT(self, cx, &self->child, tt_frame_init(&self->child.frame, &CHILD_FN)); \
		TT_RETURN(self, TT_RESULT(&self->child));                                       \
	}
LEVEL(level3, leaf_yield, leaf_yield_fn)
LEVEL(level2, level3, level3_fn)
LEVEL(level1, level2, level2_fn)

typedef struct noop {
	tt_frame frame;
	long v;
} noop;
static tt_poll noop_poll(noop *self, tt_cx *cx);
TT_ASYNC_FN(noop, noop_poll, NULL);
static tt_poll noop_poll(noop *self, tt_cx *cx) { TT_RETURN(self, self->v); }
static void noop_init(noop *n, long v)
{
	tt_frame_init(&n->frame, &noop_fn);
	n->v = v;
}

enum { BATCH = 1000 };
typedef struct spawner {
	tt_frame frame;
	int labels;
	long rounds, r, i, sum;
	tt_handle tasks[BATCH];
	tt_join join;
} spawner;
static tt_poll spawner_poll(spawner *self, tt_cx *cx);
TT_ASYNC_FN(spawner, spawner_poll, NULL);
static tt_poll spawner_poll(spawner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	if (self->labels) {
		tt_handle me = tt_current_task();
		tt_task_set_label(me, "tenant", "acme");
		tt_task_set_label(me, "request_id", "1234567");
		tt_task_set_label(me, "route", "/users/profile");
		tt_task_set_label(me, "region", "eu-west-1");
	}
	for (self->r = 0; self->r < self->rounds; self->r++) {
		for (self->i = 0; self->i < BATCH; self->i++)
			self->tasks[self->i] = TT_SPAWN(NULL, "noop", noop, noop_init, self->i);
		for (self->i = 0; self->i < BATCH; self->i++) {
			TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->tasks[self->i]));
			self->sum += TT_RESULT(&self->join);
		}
	}
	TT_RETURN(self, self->sum);
}

typedef struct sleeper {
	tt_frame frame;
	tt_sleep nap;
	uint64_t d;
} sleeper;
static tt_poll sleeper_poll(sleeper *self, tt_cx *cx);
TT_ASYNC_FN(sleeper, sleeper_poll, NULL);
static tt_poll sleeper_poll(sleeper *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, self->d));
	TT_RETURN(self, 1);
}
static void sleeper_init(sleeper *s, uint64_t d)
{
	tt_frame_init(&s->frame, &sleeper_fn);
	s->d = d;
}

typedef struct sleep_all {
	tt_frame frame;
	long n, i, done;
	tt_handle *tasks;
	tt_join join;
} sleep_all;
static tt_poll sleep_all_poll(sleep_all *self, tt_cx *cx);
TT_ASYNC_FN(sleep_all, sleep_all_poll, NULL);
static tt_poll sleep_all_poll(sleep_all *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < self->n; self->i++)
		self->tasks[self->i] = TT_SPAWN(NULL, "sleeper", sleeper, sleeper_init,
						TT_US(self->i % 1000));
	for (self->i = 0; self->i < self->n; self->i++) {
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->tasks[self->i]));
		self->done += TT_RESULT(&self->join);
	}
	TT_RETURN(self, self->done);
}

static void report(const char *name, long ops, uint64_t ns)
{
	/* ns_per_op= for bench/compare.sh */
	printf("%-12s %9ld ops %10.1f ns/op ns_per_op=%.1f\n", name, ops, (double)ns / (double)ops,
	       (double)ns / (double)ops);
}

typedef struct burster {
	tt_frame frame;
	long n, i, sum;
	tt_handle *tasks;
	tt_join join;
} burster;
static tt_poll burster_poll(burster *self, tt_cx *cx);
TT_ASYNC_FN(burster, burster_poll, NULL);
static tt_poll burster_poll(burster *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < self->n; self->i++)
		self->tasks[self->i] = TT_SPAWN(NULL, "noop", noop, noop_init, self->i);
	for (self->i = 0; self->i < self->n; self->i++) {
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->tasks[self->i]));
		self->sum += TT_RESULT(&self->join);
	}
	TT_RETURN(self, self->sum);
}

static void bench_burst(void)
{
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	burster b;
	memset(&b, 0, sizeof b);
	tt_frame_init(&b.frame, &burster_fn);
	b.n = 100000 * scale;
	b.tasks = calloc((size_t)b.n, sizeof *b.tasks);
	uint64_t t0 = tt_now_ns();
	tt_block_on(rt, &b.frame);
	report("burst", b.n, tt_now_ns() - t0);
	if (b.sum != b.n * (b.n - 1) / 2)
		abort();
	free(b.tasks);
	tt_runtime_free(rt);
}

/* mem: outer -> middle -> tt_notified, as tokio's twin nests two async
 * functions around Notify::notified(). */
static tt_notify never;
static atomic_long parked;

typedef struct middle {
	tt_frame frame;
	tt_notified wait;
} middle;
static tt_poll middle_poll(middle *self, tt_cx *cx);
TT_ASYNC_FN(middle, middle_poll, NULL);
static tt_poll middle_poll(middle *self, tt_cx *cx)
{
	TT_BEGIN(self);
	atomic_fetch_add_explicit(&parked, 1, memory_order_relaxed);
	TT_AWAIT(self, cx, &self->wait, tt_notified_init(&self->wait, &never));
	TT_RETURN(self, 1);
}

typedef struct outer {
	tt_frame frame;
	middle m;
} outer;
static tt_poll outer_poll(outer *self, tt_cx *cx);
TT_ASYNC_FN(outer, outer_poll, NULL);
static tt_poll outer_poll(outer *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->m, tt_frame_init(&self->m.frame, &middle_fn));
	TT_RETURN(self, TT_RESULT(&self->m) + 1);
}
static void outer_init(outer *o)
{
	tt_frame_init(&o->frame, &outer_fn);
}

typedef struct mem_spawner {
	tt_frame frame;
	long n;
} mem_spawner;
static tt_poll mem_spawner_poll(mem_spawner *self, tt_cx *cx);
TT_ASYNC_FN(mem_spawner, mem_spawner_poll, NULL);
static tt_poll mem_spawner_poll(mem_spawner *self, tt_cx *cx)
{
	(void)cx;
	for (long i = 0; i < self->n; i++)
		if (tt_task_detach(TT_SPAWN(NULL, "outer", outer, outer_init)) < 0)
			abort();
	TT_RETURN(self, 0);
}

static long rss_kb(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%ld %ld", &size, &resident) != 2)
		abort();
	fclose(f);
	return resident * 4;
}

static void bench_mem(long n)
{
	tt_notify_init(&never);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	long before = rss_kb();
	mem_spawner s;
	tt_frame_init(&s.frame, &mem_spawner_fn);
	s.n = n;
	tt_block_on(rt, &s.frame);
	while (atomic_load(&parked) < n)
		nanosleep(&(struct timespec){0, 5000000}, NULL);
	long after = rss_kb();
	printf("tt-w2 mem n=%ld rss_before_kb=%ld rss_after_kb=%ld bytes_per_task=%.1f\n", n,
	       before, after, (double)(after - before) * 1024.0 / (double)n);
	fflush(stdout);
	_exit(0); /* the tasks stay pending */
}

static void bench_spawn_join(int labels)
{
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	spawner s;
	memset(&s, 0, sizeof s);
	tt_frame_init(&s.frame, &spawner_fn);
	s.rounds = 200 * scale;
	s.labels = labels;
	uint64_t t0 = tt_now_ns();
	tt_block_on(rt, &s.frame);
	report(labels ? "spawn-join-labels" : "spawn-join", s.rounds * BATCH, tt_now_ns() - t0);
	tt_runtime_free(rt);
}

typedef struct labeller {
	tt_frame frame;
	long n;
} labeller;
static tt_poll labeller_poll(labeller *self, tt_cx *cx);
TT_ASYNC_FN(labeller, labeller_poll, NULL);
static tt_poll labeller_poll(labeller *self, tt_cx *cx)
{
	static const char *const values[] = {"/users", "/orders/recent"};
	tt_handle me = tt_current_task();
	tt_task_set_label(me, "tenant", "acme");
	for (long i = 0; i < self->n; i++)
		tt_task_set_label(me, "route", values[i & 1]);
	TT_RETURN(self, self->n);
}

static void bench_set_label(void)
{
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 0});
	labeller l;
	tt_frame_init(&l.frame, &labeller_fn);
	l.n = 1000000 * scale;
	uint64_t t0 = tt_now_ns();
	tt_block_on(rt, &l.frame);
	report("set-label", l.n, tt_now_ns() - t0);
	tt_runtime_free(rt);
}

static void bench_await_chain(void)
{
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 0});
	level1 l;
	tt_frame_init(&l.frame, &level1_fn);
	l.n = yields ? yields : 1000000 * scale;
	uint64_t t0 = tt_now_ns();
	tt_block_on(rt, &l.frame);
	report("await-chain", l.n, tt_now_ns() - t0);
	tt_runtime_free(rt);
}

static void bench_sleep(void)
{
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	sleep_all s;
	memset(&s, 0, sizeof s);
	tt_frame_init(&s.frame, &sleep_all_fn);
	s.n = 100000 * scale;
	s.tasks = calloc((size_t)s.n, sizeof *s.tasks);
	uint64_t t0 = tt_now_ns();
	tt_block_on(rt, &s.frame);
	report("sleep", s.n, tt_now_ns() - t0);
	free(s.tasks);
	tt_runtime_free(rt);
}

int main(int argc, char **argv)
{
	const char *which = argc > 1 ? argv[1] : "all";
	if (argc > 2)
		scale = atol(argv[2]) > 0 ? atol(argv[2]) : 1;
	if (argc > 3)
		yields = atol(argv[3]) > 0 ? atol(argv[3]) : 0;
	if (strcmp(which, "mem") == 0) {
		bench_mem(argc > 2 && atol(argv[2]) > 0 ? atol(argv[2]) : 1000000);
		return 0;
	}
	int all = strcmp(which, "all") == 0;
	if (all || strcmp(which, "spawn-join") == 0)
		bench_spawn_join(0);
	if (all || strcmp(which, "spawn-join-labels") == 0)
		bench_spawn_join(1);
	if (all || strcmp(which, "set-label") == 0)
		bench_set_label();
	if (all || strcmp(which, "await-chain") == 0)
		bench_await_chain();
	if (all || strcmp(which, "sleep") == 0)
		bench_sleep();
	if (all || strcmp(which, "burst") == 0)
		bench_burst();
	return 0;
}
