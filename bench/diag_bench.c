/* diag_bench N: the cost of the in-process reports with N pending tasks.
 *
 *   dump   tt_dump_tasks to /dev/null (every task in `tasktrace bt` form):
 *          median and best of 11 runs, bytes written;
 *   crash  tt_crash_report to /dev/null: its time and size, which must
 *          stay bounded (64 KiB) whatever N;
 *   diag   a fresh snapshot + diagnosis of N tasks (a round before
 *          rounds were incremental);
 *   round  one watchdog round now: tt_watchdog_poll, the first a full
 *          read, the next ones an update of the kept snapshot; the
 *          calling thread's CPU time per round (median of RUNS);
 *   thread the watchdog thread at its 1 s interval for SECS seconds
 *          (default 20): its CPU time from /proc/self/task/TID/schedstat,
 *          as a share of one core.
 *
 * Each task is a 2-deep chain ending in a notify nobody signals (like
 * samples/many_tasks).  Prints one line per measure; a second argument
 * (dump, crash or diag) runs that measure only, RUNS=k sets the runs. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The tt-watchdog thread's time on a CPU so far (ns), 0 if not found. */
static uint64_t watchdog_cpu_ns(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	uint64_t ns = 0;
	char path[300], buf[64];

	while (d && (e = readdir(d))) {
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		int is = fgets(buf, sizeof buf, f) && !strncmp(buf, "tt-watchdog", 11);
		fclose(f);
		if (!is)
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
		if ((f = fopen(path, "r"))) {
			unsigned long long v = 0;
			if (fscanf(f, "%llu", &v) == 1)
				ns = v;
			fclose(f);
		}
	}
	if (d)
		closedir(d);
	return ns;
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
		printf("diag   tasks=%ld median_ms=%.2f (a fresh snapshot + diagnosis)\n", n,
		       t[RUNS / 2] / 1e6);

	uint64_t first = 0;
	for (int i = 0; i <= RUNS && (!only || !strcmp(only, "round")); i++) {
		uint64_t t0 = thread_cpu_ns();
		tt_watchdog_poll();
		if (i == 0)
			first = thread_cpu_ns() - t0;
		else
			t[i - 1] = thread_cpu_ns() - t0;
	}
	qsort(t, RUNS, sizeof t[0], cmp);
	if (!only || !strcmp(only, "round"))
		printf("round  tasks=%ld first_cpu_ms=%.2f median_cpu_ms=%.2f best_cpu_ms=%.2f\n",
		       n, first / 1e6, t[RUNS / 2] / 1e6, t[0] / 1e6);

	if (only && !strcmp(only, "thread")) {
		int secs = getenv("SECS") ? atoi(getenv("SECS")) : 20;
		tt_watchdog_opts wo = {0};
		tt_diag_opts_init(&wo.diag);
		wo.fd = null;
		wo.interval_ns = 1000000000ull;
		tt_watchdog_start(&wo);
		sleep(2); /* the first round, a full read, is done */
		uint64_t c0 = watchdog_cpu_ns(), w0 = tt_now_ns();
		sleep((unsigned)secs);
		uint64_t c1 = watchdog_cpu_ns(), w1 = tt_now_ns();
		printf("thread tasks=%ld secs=%.1f watchdog_cpu_ms=%.1f share_of_core=%.2f%%\n", n,
		       (w1 - w0) / 1e9, (c1 - c0) / 1e6, 100.0 * (c1 - c0) / (w1 - w0));
	}
	fflush(stdout);
	_exit(0); /* the tasks stay pending: do not wait on them */
}
