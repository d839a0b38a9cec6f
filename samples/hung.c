/* hung: a server-like program whose tasks are stuck in several ways, for
 * the readers to explain.  It prints its pid and stays alive.
 *
 *   request-42     handle_request -> load_user -> query_db -> await_reply,
 *                  waiting on a notify that nobody will ever signal
 *   cache-refresh  sleeping for an hour
 *   supervisor     joined on request-42
 *
 * The "@await:" comments mark the suspension lines the tests look for. */
#include <stdio.h>
#include <unistd.h>

#include "tasktrace/tasktrace.h"

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
	tt_task *target;
	tt_join join;
} supervisor;
static tt_poll supervisor_poll(supervisor *self, tt_cx *cx);
TT_ASYNC_FN(supervisor, supervisor_poll, NULL);

static void supervisor_init(supervisor *s, tt_task *target)
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

typedef struct server_main {
	tt_frame frame;
	tt_task *request;
	tt_sleep nap;
} server_main;
static tt_poll server_main_poll(server_main *self, tt_cx *cx);
TT_ASYNC_FN(server_main, server_main_poll, NULL);

static tt_poll server_main_poll(server_main *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->request = TT_SPAWN(NULL, "request-42", handle_request, handle_request_init, 42);
	tt_task_detach(TT_SPAWN(NULL, "cache-refresh", cache_refresh, cache_refresh_init));
	tt_task_detach(TT_SPAWN(NULL, "supervisor", supervisor, supervisor_init,
				tt_task_ref(self->request)));
	tt_task_detach(self->request);
	/* Give every task its first poll before announcing readiness. */
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(50)));
	printf("hung: pid %d registry %p ready\n", (int)getpid(),
	       (void *)&tasktrace_registry);
	fflush(stdout);
	for (;;)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(86400))); /* @await:main */
}

int main(void)
{
	tt_notify_init(&db_reply);
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
