/* crash: a SIGSEGV four async calls deep on a worker thread, for the
 * crash handler to explain.
 *
 *   block_on root  crash_main   spawns "request-7" and joins it
 *   request-7      handle_request -> parse_body -> decode_field -> read_byte
 *                  read_byte dereferences a NULL pointer after a short nap;
 *                  labelled service=api (from its parent) and request_id=7
 *
 * The crash handler is installed with tt_crash_install (TASKTRACE_CRASH=1
 * does the same for any program); it prints the crashing thread's pruned
 * backtrace, request-7's chain and ancestry and the other tasks, then the
 * default action writes a core.  Prints "crash: pid P registry A ready"
 * just before.  The "@await:" comments mark the lines tests look for. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tasktrace/crash.h"
#include "tasktrace/tasktrace.h"

#include "sample.h"

typedef struct record {
	const unsigned char *bytes; /* NULL: the bug */
	size_t len;
} record;

typedef struct read_byte {
	tt_frame frame;
	const record *rec;
	size_t at;
	tt_sleep nap;
} read_byte;
static tt_poll read_byte_poll(read_byte *self, tt_cx *cx);
TT_ASYNC_FN(read_byte, read_byte_poll, NULL);

static tt_poll read_byte_poll(read_byte *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(20))); /* @await:nap */
	sample_ready("crash", NULL);
	TT_RETURN(self, self->rec->bytes[self->at]); /* the crash: bytes is NULL */
}

typedef struct decode_field {
	tt_frame frame;
	const record *rec;
	read_byte rb;
} decode_field;
static tt_poll decode_field_poll(decode_field *self, tt_cx *cx);
TT_ASYNC_FN(decode_field, decode_field_poll, NULL);

static tt_poll decode_field_poll(decode_field *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->rb.rec = self->rec;
	self->rb.at = 3;
	TT_AWAIT(self, cx, &self->rb, tt_frame_init(&self->rb.frame, &read_byte_fn)); /* @await:decode */
	TT_RETURN(self, TT_RESULT(&self->rb));
}

typedef struct parse_body {
	tt_frame frame;
	const record *rec;
	decode_field field;
} parse_body;
static tt_poll parse_body_poll(parse_body *self, tt_cx *cx);
TT_ASYNC_FN(parse_body, parse_body_poll, NULL);

static tt_poll parse_body_poll(parse_body *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->field.rec = self->rec;
	TT_AWAIT(self, cx, &self->field, tt_frame_init(&self->field.frame, &decode_field_fn)); /* @await:parse */
	TT_RETURN(self, TT_RESULT(&self->field));
}

typedef struct handle_request {
	tt_frame frame;
	record rec;
	parse_body body;
} handle_request;
static tt_poll handle_request_poll(handle_request *self, tt_cx *cx);
TT_ASYNC_FN(handle_request, handle_request_poll, NULL);

static void handle_request_init(handle_request *h)
{
	tt_frame_init(&h->frame, &handle_request_fn);
	h->rec.bytes = NULL;
	h->rec.len = 16;
}

static tt_poll handle_request_poll(handle_request *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->body.rec = &self->rec;
	TT_AWAIT(self, cx, &self->body, tt_frame_init(&self->body.frame, &parse_body_fn)); /* @await:handle */
	TT_RETURN(self, TT_RESULT(&self->body));
}

/* A bystander, so the report has another task to list. */
typedef struct heartbeat {
	tt_frame frame;
	tt_sleep nap;
} heartbeat;
static tt_poll heartbeat_poll(heartbeat *self, tt_cx *cx);
TT_ASYNC_FN(heartbeat, heartbeat_poll, NULL);
static void heartbeat_init(heartbeat *h) { tt_frame_init(&h->frame, &heartbeat_fn); }

static tt_poll heartbeat_poll(heartbeat *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;)
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(3600)));
}

typedef struct crash_main {
	tt_frame frame;
	tt_join join;
} crash_main;
static tt_poll crash_main_poll(crash_main *self, tt_cx *cx);
TT_ASYNC_FN(crash_main, crash_main_poll, NULL);

static const tt_label request_labels[] = {{"request_id", "7"}};

static tt_poll crash_main_poll(crash_main *self, tt_cx *cx)
{
	TT_BEGIN(self);
	/* Every task it spawns inherits it: the crash log shows it on each. */
	tt_task_set_label(tt_current_task(), "service", "api");
	tt_task_detach(TT_SPAWN(NULL, "heartbeat", heartbeat, heartbeat_init));
	TT_AWAIT(self, cx, &self->join,
		 tt_join_init(&self->join, TT_SPAWN_LABELED(NULL, "request-7", request_labels, 1, handle_request, handle_request_init))); /* @await:spawn */
	TT_RETURN(self, TT_RESULT(&self->join));
}

int main(void)
{
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	if (!rt)
		return 1;
	if (tt_crash_install(NULL) < 0)
		return 1;
	crash_main m;
	tt_frame_init(&m.frame, &crash_main_fn);
	tt_block_on(rt, &m.frame);
	return 0;
}
