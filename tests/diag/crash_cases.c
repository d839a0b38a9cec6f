/* crash_cases MODE [N]: programs that crash in the ways the crash handler
 * must survive, for test_crash.c.
 *
 *   env        a NULL dereference in a poll function; the handler comes from
 *              TASKTRACE_CRASH=1 alone
 *   runtime    a corrupt frame header: the runtime's own poll trampoline
 *              faults calling through it
 *   overflow   unbounded recursion in a poll function (the alternate stack
 *              is what lets the handler run)
 *   nested     the handler itself faults after its first line
 *   abort      abort() in a poll function
 *   many N     N pending tasks, then a crash: the report stays bounded
 *   symbolize  a NULL dereference with the symbolized mode on
 *              (TASKTRACE_BIN names the tasktrace binary, TT_CASES_TIMEOUT_MS
 *              its timeout)
 *   datafd F   a NULL dereference in a program that closed stderr after
 *              installing the handler and opened the data file F, which got
 *              fd 2 (it holds "data\n")
 *   blocking   unbounded recursion in a call on the blocking pool (its
 *              threads get an alternate stack too)
 *   chain      a NULL dereference in a program that had its own SIGSEGV
 *              handler before tasktrace's: it runs after the report and
 *              exits with status 42
 *
 * Prints "crash_cases: pid P ready" before crashing. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasktrace/crash.h"
#include "tasktrace/tasktrace.h"

static const char *mode;
static long many;
static tt_notify never;

static void ready(void)
{
	printf("crash_cases: pid %d ready\n", (int)getpid());
	fflush(stdout);
}

/* ---- the crashing task ---- */

typedef struct faulty {
	tt_frame frame;
	int depth;
	volatile char pad[512];
	int *null;
} faulty;
static tt_poll faulty_poll(faulty *self, tt_cx *cx);
TT_ASYNC_FN(faulty, faulty_poll, NULL);
static void faulty_init(faulty *f) { tt_frame_init(&f->frame, &faulty_fn); }

/* Recursion the compiler cannot turn into a loop: a big frame used after
 * the call. */
static volatile int bottom = -1; /* never reached */
static int __attribute__((noinline)) dive(int n)
{
	volatile char buf[1024];
	if (n == bottom)
		return 0;
	buf[n % 1024] = (char)n;
	return dive(n + 1) + buf[(n * 7) % 1024];
}

static tt_poll faulty_poll(faulty *self, tt_cx *cx)
{
	if (!self->depth++)
		ready();
	if (!strcmp(mode, "overflow") && self->depth == bottom)
		return dive(0) ? TT_READY : TT_PENDING;
	if (!strcmp(mode, "overflow")) {
		/* The poll function recursing into itself, no way out. */
		tt_poll r = faulty_poll(self, cx);
		self->pad[self->depth % 512] = (char)r;
		return r;
	}
	if (!strcmp(mode, "abort"))
		abort(); /* @await:abort */
	return *self->null ? TT_READY : TT_PENDING; /* @await:null */
}

/* ---- a waiter for "many" ---- */

typedef struct parked {
	tt_frame frame;
	tt_notified w;
} parked;
static tt_poll parked_poll(parked *self, tt_cx *cx);
TT_ASYNC_FN(parked, parked_poll, NULL);
static void parked_init(parked *p) { tt_frame_init(&p->frame, &parked_fn); }
static tt_poll parked_poll(parked *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &never));
	TT_RETURN(self, 0);
}

static intptr_t deep_call(void *arg)
{
	(void)arg;
	ready();
	return dive(0);
}

typedef struct cases_main {
	tt_frame frame;
	long i;
	tt_join join;
	tt_sleep nap;
	tt_blocking call;
} cases_main;
static tt_poll cases_main_poll(cases_main *self, tt_cx *cx);
TT_ASYNC_FN(cases_main, cases_main_poll, NULL);

/* The runtime polls a task through its root frame's FUNC: one pointing
 * nowhere makes its trampoline fault. */
static const tt_func *const bogus_func = (const tt_func *)(uintptr_t)0x1000;

static int *volatile null_ptr;

static tt_poll cases_main_poll(cases_main *self, tt_cx *cx)
{
	/* "deep": the root task faults on block_on's own thread (a
	 * current-thread runtime), under 200 frames of the program's own:
	 * more frames than the report keeps, the runtime's among them. */
	if (!strcmp(mode, "deep"))
		return *null_ptr ? TT_READY : TT_PENDING;
	TT_BEGIN(self);
	for (self->i = 0; self->i < many; self->i++)
		tt_task_detach(TT_SPAWN(NULL, "parked", parked, parked_init));
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(many ? 200 : 10)));
	if (!strcmp(mode, "runtime")) {
		static tt_frame corrupt;
		tt_frame_init(&corrupt, &faulty_fn);
		corrupt.func = bogus_func;
		ready();
		tt_spawn_opts o = { "corrupt", NULL, 0 };
		tt_task_detach(tt_spawn_at(NULL, &o, &corrupt, NULL));
		for (;;)
			TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(60)));
	}
	if (!strcmp(mode, "blocking"))
		TT_AWAIT(self, cx, &self->call, tt_blocking_init(&self->call, deep_call, NULL));
	TT_AWAIT(self, cx, &self->join,
		 tt_join_init(&self->join, TT_SPAWN(NULL, "faulty", faulty, faulty_init)));
	TT_RETURN(self, 0);
}

/* The program's own crash handler ("chain"): it sees the fault after the
 * report, with the faulting address. */
static void own_handler(int sig, siginfo_t *si, void *uc)
{
	static const char msg[] = "crash_cases: own handler: SIGSEGV at 0x0\n";
	(void)uc;
	if (sig == SIGSEGV && si->si_addr == NULL)
		(void)!write(2, msg, sizeof(msg) - 1);
	_exit(42);
}

static int __attribute__((noinline)) run_main(tt_runtime *rt)
{
	cases_main m;
	tt_frame_init(&m.frame, &cases_main_fn);
	tt_block_on(rt, &m.frame);
	return 0;
}

/* Recursion the compiler keeps (a value used after the call). */
static int __attribute__((noinline)) deep_main(tt_runtime *rt, int n)
{
	volatile int keep = n;
	int r = n ? deep_main(rt, n - 1) : run_main(rt);
	return r + keep - n;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: crash_cases env|runtime|overflow|nested|abort|many N|"
				"symbolize|chain|blocking|datafd FILE|deep\n");
		return 2;
	}
	mode = argv[1];
	many = argc > 2 ? atol(argv[2]) : 0;
	tt_notify_init(&never);
	/* "deep" on a current-thread runtime: block_on's caller polls. */
	tt_runtime *rt =
	    tt_runtime_new(&(tt_runtime_opts){.workers = strcmp(mode, "deep") ? 2 : 0});
	if (!rt)
		return 1;
	if (!strcmp(mode, "chain")) {
		struct sigaction sa = { .sa_sigaction = own_handler, .sa_flags = SA_SIGINFO };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGSEGV, &sa, NULL);
	}
	if (strcmp(mode, "env") != 0) {
		tt_crash_opts o = { 0 };
		o.test_fault_in_handler = !strcmp(mode, "nested");
		o.symbolize = !strcmp(mode, "symbolize");
		const char *ms = getenv("TT_CASES_TIMEOUT_MS");
		o.symbolize_timeout_ms = ms ? (unsigned)atoi(ms) : 0;
		if (tt_crash_install(&o) < 0)
			return 1;
	}
	if (!strcmp(mode, "datafd")) {
		many = 0;
		close(2);
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd != 2 || write(fd, "data\n", 5) != 5)
			return 3;
	}
	return !strcmp(mode, "deep") ? deep_main(rt, 200) : run_main(rt);
}
