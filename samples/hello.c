/* hello: spawn tasks, sleep, join, print their results. */
#include <stdio.h>

#include "tasktrace/tasktrace.h"

typedef struct greeter {
	tt_frame frame;
	int n;
	tt_sleep nap;
} greeter;
static tt_poll greeter_poll(greeter *self, tt_cx *cx);
TT_ASYNC_FN(greeter, greeter_poll, NULL);

static void greeter_init(greeter *g, int n)
{
	tt_frame_init(&g->frame, &greeter_fn);
	g->n = n;
}

static tt_poll greeter_poll(greeter *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(10 * self->n)));
	printf("hello from task %llu \"%s\" after %d ms\n",
	       (unsigned long long)tt_task_id(tt_cx_task(cx)), tt_task_name(tt_cx_task(cx)),
	       10 * self->n);
	TT_RETURN(self, self->n * self->n);
}

typedef struct hello_main {
	tt_frame frame;
	int i;
	intptr_t sum;
	tt_handle tasks[3];
	tt_join join;
} hello_main;
static tt_poll hello_main_poll(hello_main *self, tt_cx *cx);
TT_ASYNC_FN(hello_main, hello_main_poll, NULL);

static tt_poll hello_main_poll(hello_main *self, tt_cx *cx)
{
	static const char *names[] = {"alpha", "beta", "gamma"};
	TT_BEGIN(self);
	for (self->i = 0; self->i < 3; self->i++)
		self->tasks[self->i] = TT_SPAWN(NULL, names[self->i], greeter, greeter_init,
						self->i + 1);
	for (self->i = 0; self->i < 3; self->i++) {
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->tasks[self->i]));
		self->sum += TT_RESULT(&self->join);
	}
	TT_RETURN(self, self->sum);
}

int main(void)
{
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	if (!rt) {
		perror("tt_runtime_new");
		return 1;
	}
	hello_main m;
	tt_frame_init(&m.frame, &hello_main_fn);
	m.sum = 0;
	intptr_t r = tt_block_on(rt, &m.frame);
	printf("sum of squares: %ld\n", (long)r);
	tt_runtime_free(rt);
	return r == 14 ? 0 : 1;
}
