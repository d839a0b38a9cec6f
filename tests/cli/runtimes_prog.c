/* Fixture: several runtimes in one process, and the child of a fork.
 *
 * Each runtime (2 workers) gets a "sleeper-rtN" asleep on a long timer
 * and a "spinner-rtN" that never leaves its poll (a worker held, a long
 * poll).  Modes:
 *   two       runtimes 1 and 2; prints "runtimes_prog: pid P registry A ready"
 *   fork      runtime 1, then fork: the child prints the ready line (its own
 *             pid, "parent Q") and pauses; the parent waits
 *   fork-new  the same, and the child starts runtime 2 of its own first
 * The child dies with its parent (PR_SET_PDEATHSIG). */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "tasktrace/read/reader.h"
#include "tasktrace/tasktrace.h"

static atomic_int polled; /* first polls done, all runtimes */

typedef struct spinner {
	tt_frame frame;
} spinner;
static tt_poll spinner_poll(spinner *self, tt_cx *cx);
TT_ASYNC_FN(spinner, spinner_poll, NULL);
static void spinner_init(spinner *s)
{
	tt_frame_init(&s->frame, &spinner_fn);
}

static tt_poll spinner_poll(spinner *self, tt_cx *cx)
{
	(void)self;
	(void)cx;
	atomic_fetch_add(&polled, 1);
	for (;;)
		pause(); /* the mistake: its worker never comes back */
	return TT_PENDING;
}

typedef struct sleeper {
	tt_frame frame;
	tt_sleep nap;
} sleeper;
static tt_poll sleeper_poll(sleeper *self, tt_cx *cx);
TT_ASYNC_FN(sleeper, sleeper_poll, NULL);
static void sleeper_init(sleeper *s)
{
	tt_frame_init(&s->frame, &sleeper_fn);
}

static tt_poll sleeper_poll(sleeper *self, tt_cx *cx)
{
	TT_BEGIN(self);
	atomic_fetch_add(&polled, 1);
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(86400)));
	TT_RETURN(self, 0);
}

/* Whether task ID reads idle in our own registry. */
static int idle(uint64_t id)
{
	tt_snapshot *s = NULL;
	int yes = 0;

	if (tt_snapshot_read(tt_mem_self(), (uint64_t)(uintptr_t)tt_registry_root(), NULL, &s, NULL,
			     0) == TT_R_OK) {
		const tt_stask *t = tt_snapshot_find(s, id);
		yes = t && t->raw.state == TT_STATE_IDLE;
	}
	tt_snapshot_free(s);
	return yes;
}

/* A runtime with its two tasks, both polled once, the sleeper asleep (a
 * fork in its first poll would copy it running). */
static void start_runtime(int n)
{
	char name[32];
	int want = atomic_load(&polled) + 2;
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});

	if (!rt) {
		perror("tt_runtime_new");
		_exit(1);
	}
	snprintf(name, sizeof name, "sleeper-rt%d", n);
	tt_handle sl = TT_SPAWN(rt, name, sleeper, sleeper_init);
	uint64_t sleeper_id = tt_task_id(sl);
	tt_task_detach(sl);
	snprintf(name, sizeof name, "spinner-rt%d", n);
	tt_task_detach(TT_SPAWN(rt, name, spinner, spinner_init));
	/* Bounded: 10 s of 1 ms naps. */
	for (int i = 0; i < 10000 && (atomic_load(&polled) < want || !idle(sleeper_id)); i++)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
}

static void ready(const char *extra)
{
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	printf("runtimes_prog: pid %d registry %p ready%s\n", (int)getpid(), tt_registry_root(),
	       extra);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "two";
	char extra[64];

	start_runtime(1);
	if (!strcmp(mode, "two")) {
		start_runtime(2);
		ready("");
	} else {
		pid_t parent = getpid();
		pid_t child = fork();
		if (child < 0) {
			perror("fork");
			return 1;
		}
		if (child == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
			if (getppid() != parent)
				_exit(0);
			if (!strcmp(mode, "fork-new"))
				start_runtime(2);
			snprintf(extra, sizeof extra, " parent %d", (int)parent);
			ready(extra);
		}
	}
	for (;;)
		pause();
}
