/* Stopping and resuming every thread of a live process with ptrace. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tasktrace/read/stop.h"
#include "tasktrace/read/target.h"

#define STOP_TIMEOUT_MS 3000 /* a thread in D state may never stop */
#define MAX_ROUNDS 64        /* rescans for threads created meanwhile */

/* ---- the guard: detach from a signal handler ---- */

static tt_stop *volatile guarded;
static const int guard_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE,
				  SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
#define NGUARD (sizeof(guard_sigs) / sizeof(guard_sigs[0]))
static struct sigaction saved[NGUARD];

static void detach_all(tt_stop *st)
{
	for (size_t i = 0; i < st->n; i++)
		ptrace(PTRACE_DETACH, st->tids[i], NULL,
		       (void *)(intptr_t)st->sigs[i]);
	st->n = 0;
}

/* Async-signal-safe: ptrace and sigaction are system calls.  The target
 * is released first, then the signal does what it would have done. */
static void on_signal(int sig)
{
	tt_stop *st = guarded;

	if (st)
		detach_all(st);
	guarded = NULL;
	signal(sig, SIG_DFL);
	raise(sig);
}

static void guard(tt_stop *st)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask);
	guarded = st;
	for (size_t i = 0; i < NGUARD; i++)
		sigaction(guard_sigs[i], &sa, &saved[i]);
}

static void unguard(tt_stop *st)
{
	if (guarded != st)
		return;
	guarded = NULL;
	for (size_t i = 0; i < NGUARD; i++)
		sigaction(guard_sigs[i], &saved[i], NULL);
}

/* ---- stopping ---- */

static int known(const tt_stop *st, pid_t tid)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->tids[i] == tid)
			return 1;
	return 0;
}

/* Grow with signals blocked: the guard's handler walks the arrays. */
static int add_tid(tt_stop *st, pid_t tid)
{
	if (st->n == st->cap) {
		sigset_t all, old;
		size_t cap = st->cap ? 2 * st->cap : 64;
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, &old);
		pid_t *t = realloc(st->tids, cap * sizeof(*t));
		if (t)
			st->tids = t;
		int *s = t ? realloc(st->sigs, cap * sizeof(*s)) : NULL;
		if (s) {
			st->sigs = s;
			st->cap = cap;
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (!t || !s)
			return -1;
	}
	st->tids[st->n] = tid;
	st->sigs[st->n] = 0;
	st->n++;
	return 0;
}

static long status_field(pid_t pid, const char *key)
{
	char path[64], line[256];
	long v = -1;
	size_t kl = strlen(key);

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

static void permission_error(pid_t pid, char *err, size_t errlen)
{
	long tracer = status_field(pid, "TracerPid");
	int scope = -1;
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");

	if (f) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = -1;
		fclose(f);
	}
	if (tracer > 0)
		snprintf(err, errlen,
			 "pid %d: cannot stop it: already traced by pid %ld (a debugger?); "
			 "detach it, or read with --nonblocking", (int)pid, tracer);
	else if (scope > 0)
		snprintf(err, errlen,
			 "pid %d: permission denied to ptrace it: kernel.yama.ptrace_scope is %d "
			 "(%s); run as root, give tasktrace CAP_SYS_PTRACE, or have the program "
			 "call prctl(PR_SET_PTRACER, ...)", (int)pid, scope,
			 scope == 1 ? "only ancestors may attach" :
			 scope == 2 ? "only CAP_SYS_PTRACE may attach" : "attaching is disabled");
	else
		snprintf(err, errlen,
			 "pid %d: permission denied to ptrace it (run as the same user or root)",
			 (int)pid);
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Wait until the freshly seized threads [from, n) are in a ptrace stop.
 * A signal-delivery stop counts too: that signal is kept for the
 * detach.  Threads that exit meanwhile are dropped. */
static int wait_stopped(tt_stop *st, size_t from, char *err, size_t errlen)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = from; i < st->n;) {
		int status;
		pid_t r = waitpid(st->tids[i], &status, __WALL | WNOHANG);
		if (r == 0) {
			if (elapsed_ms(&t0) > STOP_TIMEOUT_MS) {
				snprintf(err, errlen, "pid %d: thread %d did not stop within %d ms "
					 "(uninterruptible sleep?); try --nonblocking",
					 (int)st->pid, (int)st->tids[i], STOP_TIMEOUT_MS);
				return TT_T_IO;
			}
			struct timespec ms = { 0, 1000000 };
			nanosleep(&ms, NULL);
			continue;
		}
		if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status)) {
			st->tids[i] = st->tids[st->n - 1];
			st->sigs[i] = st->sigs[st->n - 1];
			st->n--;
			continue;
		}
		if (WIFSTOPPED(status) && (status >> 16) != PTRACE_EVENT_STOP &&
		    WSTOPSIG(status) != SIGTRAP)
			st->sigs[i] = WSTOPSIG(status);
		i++;
	}
	return TT_T_OK;
}

/* One pass over /proc/PID/task: seize and interrupt the threads not yet
 * held.  Returns how many were added, or a TT_T_* code on error. */
static int seize_new(tt_stop *st, char *err, size_t errlen)
{
	char path[64];
	struct dirent *de;
	int added = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)st->pid);
	DIR *d = opendir(path);
	if (!d) {
		int e = errno;
		if (e == ENOENT || e == ESRCH) {
			snprintf(err, errlen, "pid %d: no such process", (int)st->pid);
			return TT_T_NO_PROCESS;
		}
		snprintf(err, errlen, "pid %d: cannot list its threads: %s", (int)st->pid,
			 strerror(e));
		return e == EACCES ? TT_T_PERMISSION : TT_T_IO;
	}
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);
		if (tid <= 0 || known(st, tid))
			continue;
		if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0) {
			if (errno == ESRCH)
				continue; /* exited meanwhile */
			int e = errno;
			closedir(d);
			if (e == EPERM || e == EACCES) {
				permission_error(st->pid, err, errlen);
				return TT_T_PERMISSION;
			}
			snprintf(err, errlen, "pid %d: ptrace(SEIZE) of thread %d: %s",
				 (int)st->pid, (int)tid, strerror(e));
			return TT_T_IO;
		}
		if (add_tid(st, tid)) {
			ptrace(PTRACE_DETACH, tid, NULL, NULL);
			closedir(d);
			snprintf(err, errlen, "out of memory");
			return TT_T_IO;
		}
		ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
		added++;
	}
	closedir(d);
	return added;
}

int tt_stop_pid(tt_stop *st, pid_t pid, int flags, char *err, size_t errlen)
{
	int rc = TT_T_OK;

	memset(st, 0, sizeof(*st));
	st->pid = pid;
	st->flags = flags;
	if (pid <= 0) {
		snprintf(err, errlen, "pid %d: no such process", (int)pid);
		return TT_T_NO_PROCESS;
	}
	if (flags & TT_STOP_GUARD)
		guard(st);
	for (int round = 0; round < MAX_ROUNDS; round++) {
		size_t from = st->n;
		int added = seize_new(st, err, errlen);
		if (added < 0) {
			rc = added;
			break;
		}
		if (added == 0)
			break;
		rc = wait_stopped(st, from, err, errlen);
		if (rc != TT_T_OK)
			break;
	}
	if (rc == TT_T_OK && st->n == 0) {
		snprintf(err, errlen, "pid %d: no such process", (int)pid);
		rc = TT_T_NO_PROCESS;
	}
	if (rc != TT_T_OK)
		tt_stop_resume(st);
	return rc;
}

void tt_stop_resume(tt_stop *st)
{
	sigset_t all, old;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	detach_all(st);
	sigprocmask(SIG_SETMASK, &old, NULL);
	unguard(st);
	free(st->tids);
	free(st->sigs);
	st->tids = NULL;
	st->sigs = NULL;
	st->cap = 0;
}
