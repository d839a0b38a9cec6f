/* A task that blocks its worker in read() on a pipe nobody writes, inside
 * a poll: what the stall detector (TASKTRACE_STALL) and `tasktrace hung`
 * must point at.  Modes (argv[1]):
 *   read     one "config-loader" blocks one worker; the other runs on
 *   masked   the same, with the stall signal blocked in the worker: the
 *            report says so in one line, nothing hangs
 *   both     two loaders block both workers (at 150 ms) before a "ticker"
 *            task's 300 ms timer is due, so no worker fires it: starved,
 *            with the tasks holding the workers
 *   repeat   a "napper" blocks its worker 3 times 120 ms in slow_step and
 *            2 times 80 ms in other_step, prints "stall_prog: stalls
 *            done" on stderr, and exits (exit(0)) on SIGUSR1
 * Prints "stall_prog: pid P registry A ready" first (50 ms after the
 * spawn); the loaders block 100 ms later. */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* Block the thread MS milliseconds, however often a signal interrupts. */
__attribute__((noinline)) static void block_for(long ms)
{
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_nsec += ms * 1000000;
	end.tv_sec += end.tv_nsec / 1000000000;
	end.tv_nsec %= 1000000000;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) != 0)
		;
}

void slow_step(void);
__attribute__((noinline)) void slow_step(void)
{
	block_for(120);
	__asm__ volatile(""); /* a frame of its own: no tail call */
}

void other_step(void);
__attribute__((noinline)) void other_step(void)
{
	block_for(80);
	__asm__ volatile("");
}

static atomic_int quit;
static void on_usr1(int sig)
{
	(void)sig;
	atomic_store(&quit, 1);
}

typedef struct napper {
	tt_frame frame;
	tt_sleep nap;
	int i;
} napper;
static tt_poll napper_poll(napper *self, tt_cx *cx);
TT_ASYNC_FN(napper, napper_poll, NULL);
static void napper_init(napper *n)
{
	tt_frame_init(&n->frame, &napper_fn);
}

static tt_poll napper_poll(napper *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(150)));
	for (self->i = 0; self->i < 5; self->i++) {
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(20)));
		if (self->i < 3)
			slow_step();
		else
			other_step();
	}
	/* Idle a while: the detector sees the last stall end. */
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(200)));
	if (write(2, "stall_prog: stalls done\n", 24) < 0)
		_exit(3);
	while (!atomic_load(&quit))
		TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(10)));
	exit(0);
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
	if (!strcmp(mode, "repeat")) {
		tt_task_detach(TT_SPAWN(NULL, "napper", napper, napper_init));
		return;
	}
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
	signal(SIGUSR1, on_usr1);
	return sample_main("stall_prog", spawn_tasks);
}
