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

TT_ASYNC(await_reply, int query_id; tt_notified reply;);
TT_POLL(await_reply)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->reply, tt_notified_init(&self->reply, &db_reply)); /* @await:reply */
	TT_RETURN(self, self->query_id);
}

TT_ASYNC(query_db, const char *sql; await_reply wait;);
TT_POLL(query_db)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->wait, self->wait = TT_NEW(await_reply, .query_id = 7)); /* @await:query */
	TT_RETURN(self, TT_RESULT(&self->wait));
}

TT_ASYNC(load_user, int user_id; query_db query;);
TT_POLL(load_user)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->query, self->query = TT_NEW(query_db, .sql = "SELECT * FROM users WHERE id = ?")); /* @await:load */
	TT_RETURN(self, TT_RESULT(&self->query));
}

TT_ASYNC(handle_request, int request_id; load_user user;);
TT_POLL(handle_request)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->user, self->user = TT_NEW(load_user, .user_id = 1000 + self->request_id)); /* @await:handle */
	TT_RETURN(self, TT_RESULT(&self->user));
}

TT_ASYNC(cache_refresh, tt_sleep nap;);
TT_POLL(cache_refresh)
{
	TT_BEGIN(self);
	for (;;)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(3600))); /* @await:sleep */
}

TT_ASYNC(supervisor, tt_handle target; tt_join join;);
TT_POLL(supervisor)
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
	tt_chan_set_name(jobs, "jobs"); /* readers: channel recv "jobs", not its address */
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
					 TT_SET_, TT_NEW(handle_request, .request_id = 42));
	tt_task_detach(TT_SPAWN(NULL, "cache-refresh", cache_refresh, cache_refresh_init));
	tt_task_detach(TT_SPAWN_NEW(NULL, "supervisor", supervisor,
				    .target = tt_task_ref(self->request)));
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
	tt_mutex_set_name(&config_lock, "config");
	tt_semaphore_init(&pool_slots, 1);
	tt_semaphore_set_name(&pool_slots, "pool-slots");
	tt_oneshot_init(&auth_reply);
	tt_oneshot_set_name(&auth_reply, "auth-reply");
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
