/* diag_bench N: the cost of the in-process reports with N pending tasks.
 *
 *   dump   tt_dump_tasks to /dev/null (every task in `tasktrace bt` form):
 *          median and best of 11 runs, bytes written;
 *   crash  tt_crash_report to /dev/null: its time and size, which must
 *          stay bounded (64 KiB) whatever N;
 *   diag   one watchdog round: snapshot + diagnosis of N tasks.
 *
 * Each task is a 2-deep chain ending in a notify nobody signals (like
 * samples/many_tasks).  Prints one line per measure; a second argument
 * (dump, crash or diag) runs that measure only, RUNS=k sets the runs. */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasktrace/crash.h"
#include "tasktrace/read/diagnose.h"
#include "tasktrace/tasktrace.h"

static tt_notify never;
static atomic_long parked_count;

typedef struct leafy {
	tt_frame frame;
	tt_notified w;
} leafy;
static tt_poll leafy_poll(leafy *self, tt_cx *cx);
TT_ASYNC_FN(leafy, leafy_poll, NULL);
static tt_poll leafy_poll(leafy *self, tt_cx *cx)
{
	TT_BEGIN(self);
	atomic_fetch_add(&parked_count, 1);
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &never));
	TT_RETURN(self, 0);
}

typedef struct outer {
	tt_frame frame;
	leafy in;
} outer;
static tt_poll outer_poll(outer *self, tt_cx *cx);
TT_ASYNC_FN(outer, outer_poll, NULL);
static void outer_init(outer *o) { tt_frame_init(&o->frame, &outer_fn); }
static tt_poll outer_poll(outer *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->in, tt_frame_init(&self->in.frame, &leafy_fn));
	TT_RETURN(self, 0);
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	const char *only = argc > 2 ? argv[2] : NULL;
	int RUNS = getenv("RUNS") ? atoi(getenv("RUNS")) : 11;
	if (RUNS < 1 || RUNS > 1000)
		RUNS = 11;
	uint64_t t[1000];

	tt_notify_init(&never);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){ .workers = 2 });
	for (long i = 0; i < n; i++)
		tt_task_detach(TT_SPAWN(rt, "parked", outer, outer_init));
	while (atomic_load(&parked_count) < n)
		usleep(1000);
	int null = open("/dev/null", O_WRONLY);

	off_t bytes = 0;
	for (int i = 0; i < RUNS && (!only || !strcmp(only, "dump")); i++) {
		char path[] = "/tmp/tt-dump-XXXXXX";
		int fd = i == 0 ? mkstemp(path) : null;
		uint64_t t0 = tt_now_ns();
		int got = tt_dump_tasks(fd);
		t[i] = tt_now_ns() - t0;
		if (got != n)
			fprintf(stderr, "dump wrote %d tasks, expected %ld\n", got, n);
		if (i == 0) {
			bytes = lseek(fd, 0, SEEK_END);
			close(fd);
			unlink(path);
		}
	}
	qsort(t, RUNS, sizeof t[0], cmp);
	if (!only || !strcmp(only, "dump"))
		printf("dump   tasks=%ld median_ms=%.2f best_ms=%.2f bytes=%lld\n", n, t[RUNS / 2] / 1e6,
	       t[0] / 1e6, (long long)bytes);

	size_t size = 0;
	for (int i = 0; i < RUNS && (!only || !strcmp(only, "crash")); i++) {
		uint64_t t0 = tt_now_ns();
		size = tt_crash_report(null, SIGSEGV, NULL);
		t[i] = tt_now_ns() - t0;
	}
	qsort(t, RUNS, sizeof t[0], cmp);
	if (!only || !strcmp(only, "crash"))
		printf("crash  tasks=%ld median_ms=%.2f bytes=%zu (cap 65536)\n", n, t[RUNS / 2] / 1e6, size);

	for (int i = 0; i < RUNS && (!only || !strcmp(only, "diag")); i++) {
		tt_snapshot *s = NULL;
		char err[160];
		uint64_t t0 = tt_now_ns();
		tt_snapshot_read(tt_mem_self(), (uint64_t)(uintptr_t)tt_registry_root(), NULL, &s, err,
				 sizeof err);
		tt_diag_report *r = tt_diagnose(s, tt_now_ns(), NULL);
		t[i] = tt_now_ns() - t0;
		tt_diag_free(r);
		tt_snapshot_free(s);
	}
	qsort(t, RUNS, sizeof t[0], cmp);
	if (!only || !strcmp(only, "diag"))
		printf("diag   tasks=%ld median_ms=%.2f (one watchdog round)\n", n, t[RUNS / 2] / 1e6);
	fflush(stdout);
	_exit(0); /* the tasks stay pending: do not wait on them */
}
