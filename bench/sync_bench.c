/* Channel ping-pong and mutex contention, with the same workloads as the
 * Go (bench/go) and tokio (bench/tokio) programs that bench/compare.sh runs
 * side by side with this one.
 *
 *   pingpong N      two tasks, a bounded channel (capacity 1) each way; the
 *                   pinger sends i and waits for the pong, N round trips
 *   mutex K M       K tasks each lock, increment a shared counter, unlock,
 *                   M times (no await inside the critical section)
 *
 * Both workloads run as spawned tasks joined by the root; the time is taken
 * around block_on (runtime creation excluded).  Output, one line:
 *   tasktrace-wW WORKLOAD n=OPS ns=TOTAL ns_per_op=X
 * where an op is one round trip (pingpong) or one lock+unlock (mutex).
 *
 * usage: sync_bench pingpong|mutex WORKERS [N | K M] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasktrace/tasktrace.h"

/* ---- ping-pong ---- */

typedef struct pinger {
	tt_frame frame;
	tt_chan *out, *in;
	long n, i, v, got;
	tt_send send;
	tt_recv recv;
} pinger;
static tt_poll pinger_poll(pinger *self, tt_cx *cx);
TT_ASYNC_FN(pinger, pinger_poll, NULL);
static tt_poll pinger_poll(pinger *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < self->n; self->i++) {
		self->v = self->i;
		TT_AWAIT(self, cx, &self->send, tt_send_init(&self->send, self->out, &self->v));
		if (TT_RESULT(&self->send) < 0)
			TT_RETURN(self, TT_RESULT(&self->send));
		TT_AWAIT(self, cx, &self->recv, tt_recv_init(&self->recv, self->in, &self->got));
		if (TT_RESULT(&self->recv) < 0 || self->got != self->i)
			TT_RETURN(self, -1);
	}
	tt_chan_close(self->out);
	TT_RETURN(self, self->i);
}

typedef struct ponger {
	tt_frame frame;
	tt_chan *in, *out;
	long v;
	tt_recv recv;
	tt_send send;
} ponger;
static tt_poll ponger_poll(ponger *self, tt_cx *cx);
TT_ASYNC_FN(ponger, ponger_poll, NULL);
static tt_poll ponger_poll(ponger *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		TT_AWAIT(self, cx, &self->recv, tt_recv_init(&self->recv, self->in, &self->v));
		if (TT_RESULT(&self->recv) < 0)
			break; /* closed: done */
		TT_AWAIT(self, cx, &self->send, tt_send_init(&self->send, self->out, &self->v));
	}
	TT_RETURN(self, 0);
}

typedef struct pingpong {
	tt_frame frame;
	pinger ping;
	ponger pong;
	tt_handle tp, tq;
	intptr_t r;
	tt_join join;
} pingpong;
static tt_poll pingpong_poll(pingpong *self, tt_cx *cx);
TT_ASYNC_FN(pingpong, pingpong_poll, NULL);
static tt_poll pingpong_poll(pingpong *self, tt_cx *cx)
{
	TT_BEGIN(self);
	{
		tt_spawn_opts po = {"pong", NULL, 0}, pi = {"ping", NULL, 0};
		self->tq = tt_spawn_at(NULL, &po, &self->pong.frame, TT_SPAWN_SITE_());
		self->tp = tt_spawn_at(NULL, &pi, &self->ping.frame, TT_SPAWN_SITE_());
		if (!self->tq.task || !self->tp.task)
			TT_RETURN(self, -1);
	}
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->tp));
	self->r = TT_RESULT(&self->join);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->tq));
	TT_RETURN(self, self->r);
}

/* ---- mutex ---- */

typedef struct locker {
	tt_frame frame;
	tt_mutex *m;
	uint64_t *counter;
	long n, i;
	tt_lock lock;
} locker;
static tt_poll locker_poll(locker *self, tt_cx *cx);
TT_ASYNC_FN(locker, locker_poll, NULL);
static tt_poll locker_poll(locker *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < self->n; self->i++) {
		TT_AWAIT(self, cx, &self->lock, tt_lock_init(&self->lock, self->m));
		(*self->counter)++;
		tt_mutex_unlock(self->m);
	}
	TT_RETURN(self, 0);
}

typedef struct contend {
	tt_frame frame;
	long k, i;
	locker *lockers;
	tt_handle *tasks;
	tt_join join;
} contend;
static tt_poll contend_poll(contend *self, tt_cx *cx);
TT_ASYNC_FN(contend, contend_poll, NULL);
static tt_poll contend_poll(contend *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (self->i = 0; self->i < self->k; self->i++) {
		tt_spawn_opts o = {"locker", NULL, 0};
		self->tasks[self->i] =
		    tt_spawn_at(NULL, &o, &self->lockers[self->i].frame, TT_SPAWN_SITE_());
		if (!self->tasks[self->i].task)
			TT_RETURN(self, -1);
	}
	for (self->i = 0; self->i < self->k; self->i++)
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->tasks[self->i]));
	TT_RETURN(self, 0);
}

static void report(int workers, const char *what, long ops, uint64_t ns)
{
	printf("tasktrace-w%d %s n=%ld ns=%llu ns_per_op=%.1f\n", workers, what, ops,
	       (unsigned long long)ns, (double)ns / (double)ops);
}

static void usage(void)
{
	fprintf(stderr, "usage: sync_bench pingpong WORKERS [N] | mutex WORKERS [K M]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	int workers = atoi(argv[2]);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = workers});
	if (!rt) {
		perror("tt_runtime_new");
		return 1;
	}
	int rc = 0;
	if (strcmp(argv[1], "pingpong") == 0) {
		long n = argc > 3 ? atol(argv[3]) : 200000;
		pingpong pp;
		memset(&pp, 0, sizeof pp);
		tt_frame_init(&pp.frame, &pingpong_fn);
		tt_frame_init(&pp.ping.frame, &pinger_fn);
		tt_frame_init(&pp.pong.frame, &ponger_fn);
		tt_chan *a = tt_chan_new(sizeof(long), 1), *b = tt_chan_new(sizeof(long), 1);
		pp.ping.out = pp.pong.in = a;
		pp.ping.in = pp.pong.out = b;
		pp.ping.n = n;
		uint64_t t0 = tt_now_ns();
		intptr_t r = tt_block_on(rt, &pp.frame);
		uint64_t ns = tt_now_ns() - t0;
		if (r != n) {
			fprintf(stderr, "sync_bench: pingpong failed (%ld)\n", (long)r);
			rc = 1;
		}
		report(workers, "pingpong", n, ns);
		tt_runtime_free(rt);
		tt_chan_free(a);
		tt_chan_free(b);
	} else if (strcmp(argv[1], "mutex") == 0) {
		long k = argc > 3 ? atol(argv[3]) : 16, m = argc > 4 ? atol(argv[4]) : 20000;
		if (k <= 0 || m <= 0)
			usage();
		tt_mutex mx;
		tt_mutex_init(&mx);
		uint64_t counter = 0;
		contend c;
		memset(&c, 0, sizeof c);
		tt_frame_init(&c.frame, &contend_fn);
		c.k = k;
		c.lockers = calloc((size_t)k, sizeof *c.lockers);
		c.tasks = calloc((size_t)k, sizeof *c.tasks);
		for (long i = 0; i < k; i++) {
			tt_frame_init(&c.lockers[i].frame, &locker_fn);
			c.lockers[i].m = &mx;
			c.lockers[i].counter = &counter;
			c.lockers[i].n = m;
		}
		uint64_t t0 = tt_now_ns();
		intptr_t r = tt_block_on(rt, &c.frame);
		uint64_t ns = tt_now_ns() - t0;
		if (r != 0 || counter != (uint64_t)(k * m)) {
			fprintf(stderr, "sync_bench: mutex failed (%ld, counter %llu)\n", (long)r,
				(unsigned long long)counter);
			rc = 1;
		}
		report(workers, "mutex", k * m, ns);
		tt_runtime_free(rt);
		free(c.lockers);
		free(c.tasks);
		tt_mutex_destroy(&mx);
	} else {
		usage();
	}
	return rc;
}
