/* A task that blocks its worker in read() on a pipe nobody writes, inside
 * a poll: what the stall detector (TASKTRACE_STALL) and `tasktrace hung`
 * must point at.  Modes (argv[1]):
 *   read     one "config-loader" blocks one worker; the other runs on
 *   masked   the same, with the stall signal blocked in the worker: the
 *            report says so in one line, nothing hangs
 *   both     two loaders block both workers (at 150 ms) before a "ticker"
 *            task's 300 ms timer is due, so no worker fires it: starved,
 *            with the tasks holding the workers
 * Prints "stall_prog: pid P registry A ready" first (50 ms after the
 * spawn); the loaders block 100 ms later. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "tasktrace/tasktrace.h"

#include "../../samples/sample.h"

static int pipe_fds[2];
static const char *mode = "read";

/* Exported (the program links with -rdynamic), so the in-process report
 * names it; `tasktrace hung` names it from DWARF either way. */
void load_config(void);
__attribute__((noinline)) void load_config(void)
{
	char c;
	if (read(pipe_fds[0], &c, 1) < 0) /* @await:blocking-read */
		_exit(3);
}

typedef struct loader {
	tt_frame frame;
	tt_sleep nap;
} loader;
static tt_poll loader_poll(loader *self, tt_cx *cx);
TT_ASYNC_FN(loader, loader_poll, NULL);
static void loader_init(loader *l)
{
	tt_frame_init(&l->frame, &loader_fn);
}

static tt_poll loader_poll(loader *self, tt_cx *cx)
{
	TT_BEGIN(self);
	/* @await:before-load (the next line) */
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(150)));
	if (!strcmp(mode, "masked")) {
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGRTMAX - 1);
		pthread_sigmask(SIG_BLOCK, &s, NULL);
	}
	load_config();
	TT_RETURN(self, 0);
}

typedef struct ticker {
	tt_frame frame;
	tt_sleep tick;
} ticker;
static tt_poll ticker_poll(ticker *self, tt_cx *cx);
TT_ASYNC_FN(ticker, ticker_poll, NULL);
static void ticker_init(ticker *t)
{
	tt_frame_init(&t->frame, &ticker_fn);
}

static tt_poll ticker_poll(ticker *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;)
		TT_AWAIT(self, cx, &self->tick, tt_sleep_init(&self->tick, TT_MS(300)));
}

static void spawn_tasks(void)
{
	tt_task_detach(TT_SPAWN(NULL, "config-loader", loader, loader_init));
	if (!strcmp(mode, "both")) {
		tt_task_detach(TT_SPAWN(NULL, "config-loader-2", loader, loader_init));
		tt_task_detach(TT_SPAWN(NULL, "ticker", ticker, ticker_init));
	}
}

int main(int argc, char **argv)
{
	if (argc > 1)
		mode = argv[1];
	if (pipe(pipe_fds) != 0)
		return 2;
	return sample_main("stall_prog", spawn_tasks);
}
