/* hello: spawn tasks, sleep, join, print their results. */
#include <stdio.h>

#include "tasktrace/tasktrace.h"

TT_ASYNC(greeter, int n; tt_sleep nap;);
TT_POLL(greeter)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(10 * self->n)));
	printf("hello from task %llu \"%s\" after %d ms\n",
	       (unsigned long long)tt_task_id(tt_cx_task(cx)), tt_task_name(tt_cx_task(cx)),
	       10 * self->n);
	TT_RETURN(self, self->n * self->n);
}

TT_ASYNC(hello_main, int i; intptr_t sum; tt_handle tasks[3]; tt_join join;);
TT_POLL(hello_main)
{
	static const char *names[] = {"alpha", "beta", "gamma"};
	TT_BEGIN(self);
	for (self->i = 0; self->i < 3; self->i++)
		self->tasks[self->i] = TT_SPAWN_NEW(NULL, names[self->i], greeter, .n = self->i + 1);
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
	hello_main m = TT_NEW(hello_main);
	intptr_t r = tt_block_on(rt, &m.frame);
	printf("sum of squares: %ld\n", (long)r);
	tt_runtime_free(rt);
	return r == 14 ? 0 : 1;
}
