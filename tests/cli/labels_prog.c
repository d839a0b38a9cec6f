/* labels_prog N: labelled tasks for the readers' label tests.
 *
 *   block_on   labels itself tenant=acme (every task below inherits it)
 *   request    N of them, spawned with request_id=I and route=/users,
 *              /orders or /health (I mod 3); each spawns a db-query that
 *              inherits all three and waits forever, and joins it
 *   worker     spawned with tenant=globex: overrides the inherited value
 *
 * So label route=/users is on 2 * ceil(N/3) tasks, and so on; two tasks
 * (block_on, worker) have no route.  Prints "labels_prog: pid P registry
 * A ready N" once every task is suspended, then stays alive. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "tasktrace/tasktrace.h"

#include "../../samples/sample.h"

static tt_notify never;
static atomic_long suspended;

typedef struct db_query {
	tt_frame frame;
	tt_notified wait;
} db_query;
static tt_poll db_query_poll(db_query *self, tt_cx *cx);
TT_ASYNC_FN(db_query, db_query_poll, NULL);
static void db_query_init(db_query *q)
{
	tt_frame_init(&q->frame, &db_query_fn);
}
static tt_poll db_query_poll(db_query *self, tt_cx *cx)
{
	TT_BEGIN(self);
	atomic_fetch_add(&suspended, 1);
	TT_AWAIT(self, cx, &self->wait, tt_notified_init(&self->wait, &never));
	TT_RETURN(self, 0);
}

typedef struct request {
	tt_frame frame;
	tt_join join;
} request;
static tt_poll request_poll(request *self, tt_cx *cx);
TT_ASYNC_FN(request, request_poll, NULL);
static void request_init(request *r)
{
	tt_frame_init(&r->frame, &request_fn);
}
static tt_poll request_poll(request *self, tt_cx *cx)
{
	TT_BEGIN(self);
	atomic_fetch_add(&suspended, 1);
	TT_AWAIT(self, cx, &self->join,
		 tt_join_init(&self->join, TT_SPAWN(NULL, "db-query", db_query, db_query_init)));
	TT_RETURN(self, 0);
}

typedef struct spawner {
	tt_frame frame;
	long n, i;
	tt_sleep nap;
} spawner;
static tt_poll spawner_poll(spawner *self, tt_cx *cx);
TT_ASYNC_FN(spawner, spawner_poll, NULL);

static const char *const routes[] = {"/users", "/orders", "/health"};

static tt_poll spawner_poll(spawner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	if (tt_task_set_label(tt_current_task(), "tenant", "acme")) {
		fprintf(stderr, "labels_prog: tt_task_set_label failed\n");
		exit(1);
	}
	for (self->i = 0; self->i < self->n; self->i++) {
		char id[24];
		snprintf(id, sizeof id, "%ld", self->i);
		tt_label l[] = {{"request_id", id}, {"route", routes[self->i % 3]}};
		tt_handle t = TT_SPAWN_LABELED(NULL, "request", l, 2, request, request_init);
		if (!t.task) {
			perror("spawn");
			exit(1);
		}
		tt_task_detach(t);
	}
	static const tt_label globex[] = {{"tenant", "globex"}};
	tt_task_detach(TT_SPAWN_LABELED(NULL, "worker", globex, 1, db_query, db_query_init));
	while (atomic_load(&suspended) < 2 * self->n + 1)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(5)));
	char count[32];
	snprintf(count, sizeof count, "%ld", self->n);
	sample_ready("labels_prog", count);
	for (;;)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(86400)));
}

int main(int argc, char **argv)
{
	if (argc != 2 || atol(argv[1]) <= 0) {
		fprintf(stderr, "usage: labels_prog N\n");
		return 2;
	}
	tt_notify_init(&never);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	if (!rt)
		return 1;
	spawner s;
	tt_frame_init(&s.frame, &spawner_fn);
	s.n = atol(argv[1]);
	tt_block_on(rt, &s.frame);
	return 0;
}
