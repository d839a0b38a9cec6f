/* hung: a server-like program whose tasks are stuck in several ways, for
 * the readers to explain.  It prints its pid and stays alive.
 *
 *   request-42     handle_request -> load_user -> query_db -> await_reply,
 *                  waiting on a notify that nobody will ever signal;
 *                  labelled request_id=42 route=/users
 *   cache-refresh  sleeping for an hour
 *   supervisor     joined on request-42
 *
 * and one task per remaining wait kind: a channel receive nobody sends to,
 * a send into a full channel, a mutex held by a sleeping task, a semaphore
 * short of permits, a oneshot whose producer never answers, a pipe read,
 * a task group, and a call on the blocking pool.
 *
 * The "@await:" comments mark the suspension lines the tests look for. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tasktrace/tasktrace.h"

#include "sample.h"

static tt_notify db_reply; /* nobody ever notifies it */

typedef struct await_reply {
	tt_frame frame;
	int query_id;
	tt_notified reply;
} await_reply;
static tt_poll await_reply_poll(await_reply *self, tt_cx *cx);
TT_ASYNC_FN(await_reply, await_reply_poll, NULL);

static tt_poll await_reply_poll(await_reply *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->reply, tt_notified_init(&self->reply, &db_reply)); /* @await:reply */
	TT_RETURN(self, self->query_id);
}

typedef struct query_db {
	tt_frame frame;
	const char *sql;
	await_reply wait;
} query_db;
static tt_poll query_db_poll(query_db *self, tt_cx *cx);
TT_ASYNC_FN(query_db, query_db_poll, NULL);

static tt_poll query_db_poll(query_db *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->wait.query_id = 7;
	TT_AWAIT(self, cx, &self->wait, tt_frame_init(&self->wait.frame, &await_reply_fn)); /* @await:query */
	TT_RETURN(self, TT_RESULT(&self->wait));
}

typedef struct load_user {
	tt_frame frame;
	int user_id;
	query_db query;
} load_user;
static tt_poll load_user_poll(load_user *self, tt_cx *cx);
TT_ASYNC_FN(load_user, load_user_poll, NULL);

static tt_poll load_user_poll(load_user *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->query.sql = "SELECT * FROM users WHERE id = ?";
	TT_AWAIT(self, cx, &self->query, tt_frame_init(&self->query.frame, &query_db_fn)); /* @await:load */
	TT_RETURN(self, TT_RESULT(&self->query));
}

typedef struct handle_request {
	tt_frame frame;
	int request_id;
	load_user user;
} handle_request;
static tt_poll handle_request_poll(handle_request *self, tt_cx *cx);
TT_ASYNC_FN(handle_request, handle_request_poll, NULL);

static void handle_request_init(handle_request *h, int request_id)
{
	tt_frame_init(&h->frame, &handle_request_fn);
	h->request_id = request_id;
}

static tt_poll handle_request_poll(handle_request *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->user.user_id = 1000 + self->request_id;
	TT_AWAIT(self, cx, &self->user, tt_frame_init(&self->user.frame, &load_user_fn)); /* @await:handle */
	TT_RETURN(self, TT_RESULT(&self->user));
}

typedef struct cache_refresh {
	tt_frame frame;
	tt_sleep nap;
} cache_refresh;
static tt_poll cache_refresh_poll(cache_refresh *self, tt_cx *cx);
TT_ASYNC_FN(cache_refresh, cache_refresh_poll, NULL);

static void cache_refresh_init(cache_refresh *c)
{
	tt_frame_init(&c->frame, &cache_refresh_fn);
}

static tt_poll cache_refresh_poll(cache_refresh *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(3600))); /* @await:sleep */
}

typedef struct supervisor {
	tt_frame frame;
	tt_handle target;
	tt_join join;
} supervisor;
static tt_poll supervisor_poll(supervisor *self, tt_cx *cx);
TT_ASYNC_FN(supervisor, supervisor_poll, NULL);

static void supervisor_init(supervisor *s, tt_handle target)
{
	tt_frame_init(&s->frame, &supervisor_fn);
	s->target = target;
}

static tt_poll supervisor_poll(supervisor *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->target)); /* @await:join */
	TT_RETURN(self, TT_RESULT(&self->join));
}

/* ---- one task per wait kind ---- */

static tt_chan *jobs;    /* nobody sends */
static tt_chan *results; /* capacity 1, filled, nobody receives */
static tt_mutex config_lock;
static tt_semaphore pool_slots; /* 1 permit; pool-user wants 2 */
static tt_oneshot auth_reply;   /* producer: auth-server, never answers */
static int pipe_fds[2];         /* nobody writes */

/* A task that awaits one leaf, initialised by INIT, in a loop. */
#define WAITER(NAME, LEAF, INIT)                                            \
	typedef struct NAME {                                                   \
		tt_frame frame;                                                       \
		int item;                                                             \
		LEAF leaf;                                                            \
	} NAME;                                                                 \
	static tt_poll NAME##_poll(NAME *self, tt_cx *cx);                      \
	TT_ASYNC_FN(NAME, NAME##_poll, NULL);                                   \
	static void NAME##_init(NAME *w) { tt_frame_init(&w->frame, &NAME##_fn); } \
	static tt_poll NAME##_poll(NAME *self, tt_cx *cx)                       \
	{                                                                       \
		TT_BEGIN(self);                                                       \
		for (;;)                                                              \
			TT_AWAIT(self, cx, &self->leaf, INIT);                              \
	}

static tt_fd *pipe_in;
static intptr_t resolve_host(void *arg)
{
	(void)arg;
	sleep(3600); /* a stuck getaddrinfo, say */
	return 0;
}

WAITER(job_consumer, tt_recv, tt_recv_init(&self->leaf, jobs, &self->item))
WAITER(result_producer, tt_send, tt_send_init(&self->leaf, results, &self->item))
WAITER(config_reader, tt_lock, tt_lock_init(&self->leaf, &config_lock))
WAITER(pool_user, tt_acquire, tt_acquire_init(&self->leaf, &pool_slots, 2))
WAITER(auth_client, tt_oneshot_recv, tt_oneshot_recv_init(&self->leaf, &auth_reply))
WAITER(pipe_reader, tt_read, tt_read_init(&self->leaf, pipe_in, &self->item, sizeof self->item))
WAITER(dns_lookup, tt_blocking, tt_blocking_init(&self->leaf, resolve_host, NULL))
WAITER(batch_item, tt_sleep, tt_sleep_init(&self->leaf, TT_SEC(3600)))

/* Holds config_lock while it sleeps. */
typedef struct config_holder {
	tt_frame frame;
	tt_lock lk;
	tt_sleep nap;
} config_holder;
static tt_poll config_holder_poll(config_holder *self, tt_cx *cx);
TT_ASYNC_FN(config_holder, config_holder_poll, NULL);
static void config_holder_init(config_holder *c) { tt_frame_init(&c->frame, &config_holder_fn); }
static tt_poll config_holder_poll(config_holder *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->lk, tt_lock_init(&self->lk, &config_lock));
	/* Only now, so the reader cannot take the lock first. */
	tt_task_detach(TT_SPAWN(NULL, "config-reader", config_reader, config_reader_init));
	for (;;)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(3600)));
}

/* Becomes auth_reply's producer, then never answers. */
typedef struct auth_server {
	tt_frame frame;
	tt_sleep nap;
} auth_server;
static tt_poll auth_server_poll(auth_server *self, tt_cx *cx);
TT_ASYNC_FN(auth_server, auth_server_poll, NULL);
static void auth_server_init(auth_server *a) { tt_frame_init(&a->frame, &auth_server_fn); }
static tt_poll auth_server_poll(auth_server *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_oneshot_bind_producer(&auth_reply);
	for (;;)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(3600)));
}

/* Waits on a group of two sleeping children. */
typedef struct batch {
	tt_frame frame;
	tt_group *g;
	tt_group_wait wait;
} batch;
static tt_poll batch_poll(batch *self, tt_cx *cx);
TT_ASYNC_FN(batch, batch_poll, NULL);
static void batch_init(batch *b) { tt_frame_init(&b->frame, &batch_fn); }
static tt_poll batch_poll(batch *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->g = tt_group_new();
	TT_GROUP_SPAWN(self->g, "batch-item", batch_item, batch_item_init);
	TT_GROUP_SPAWN(self->g, "batch-item", batch_item, batch_item_init);
	TT_AWAIT(self, cx, &self->wait, tt_group_wait_init(&self->wait, self->g));
	tt_group_free(self->g);
	TT_RETURN(self, TT_RESULT(&self->wait));
}

static void spawn_wait_kinds(void)
{
	int one = 1;
	jobs = tt_chan_new(sizeof(int), 16);
	results = tt_chan_new(sizeof(int), 1);
	tt_chan_try_send(results, &one);
	if (pipe(pipe_fds) < 0 || tt_fd_open(NULL, pipe_fds[0], &pipe_in) < 0) {
		perror("pipe");
		exit(1);
	}
	tt_task_detach(TT_SPAWN(NULL, "job-consumer", job_consumer, job_consumer_init));
	tt_task_detach(TT_SPAWN(NULL, "result-producer", result_producer, result_producer_init));
	tt_task_detach(TT_SPAWN(NULL, "config-holder", config_holder, config_holder_init));
	tt_task_detach(TT_SPAWN(NULL, "pool-user", pool_user, pool_user_init));
	tt_task_detach(TT_SPAWN(NULL, "auth-server", auth_server, auth_server_init));
	tt_task_detach(TT_SPAWN(NULL, "auth-client", auth_client, auth_client_init));
	tt_task_detach(TT_SPAWN(NULL, "pipe-reader", pipe_reader, pipe_reader_init));
	tt_task_detach(TT_SPAWN(NULL, "batch", batch, batch_init));
	tt_task_detach(TT_SPAWN(NULL, "dns-lookup", dns_lookup, dns_lookup_init));
}

typedef struct server_main {
	tt_frame frame;
	tt_handle request;
	tt_sleep nap;
} server_main;
static tt_poll server_main_poll(server_main *self, tt_cx *cx);
TT_ASYNC_FN(server_main, server_main_poll, NULL);

/* What the readers show with request-42 and filter it by (--label). */
static const tt_label request_labels[] = {{"request_id", "42"}, {"route", "/users"}};

static tt_poll server_main_poll(server_main *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->request = TT_SPAWN_LABELED(NULL, "request-42", request_labels, 2, handle_request,
					 handle_request_init, 42);
	tt_task_detach(TT_SPAWN(NULL, "cache-refresh", cache_refresh, cache_refresh_init));
	tt_task_detach(TT_SPAWN(NULL, "supervisor", supervisor, supervisor_init,
				tt_task_ref(self->request)));
	tt_task_detach(self->request);
	spawn_wait_kinds();
	/* Give every task its first poll before announcing readiness. */
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(50)));
	sample_ready("hung", NULL);
	for (;;)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(86400))); /* @await:main */
}

int main(void)
{
	tt_notify_init(&db_reply);
	tt_mutex_init(&config_lock);
	tt_semaphore_init(&pool_slots, 1);
	tt_oneshot_init(&auth_reply);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	if (!rt) {
		perror("tt_runtime_new");
		return 1;
	}
	server_main m;
	tt_frame_init(&m.frame, &server_main_fn);
	tt_block_on(rt, &m.frame);
	return 0;
}
