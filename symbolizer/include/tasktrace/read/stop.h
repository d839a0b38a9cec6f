/* Stopping a live process for a consistent read: every thread is seized
 * with ptrace (PTRACE_SEIZE + PTRACE_INTERRUPT, which, unlike
 * PTRACE_ATTACH, sends no SIGSTOP the process could notice) and released
 * with PTRACE_DETACH, re-delivering any signal that arrived meanwhile.
 *
 * With TT_STOP_GUARD, fatal and terminal signals (Ctrl-C, SIGTERM,
 * SIGSEGV...) reaching this process first detach from the target, so it
 * is left running whatever happens to the reader.  Only one stop may be
 * guarded at a time. */
#ifndef TASKTRACE_STOP_H
#define TASKTRACE_STOP_H

#include "tasktrace/api.h"

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { TT_STOP_GUARD = 1 };

typedef struct tt_stop {
	pid_t pid;
	pid_t *tids;  /* stopped threads */
	int *sigs;    /* signal to re-deliver at detach, per thread */
	size_t n, cap;
	int flags;
} tt_stop;

/* Stop every thread of PID.  Returns TT_T_OK, or a TT_T_* code with ERR
 * set (one line), in which case nothing is left stopped. */
TT_API int tt_stop_pid(tt_stop *st, pid_t pid, int flags, char *err, size_t errlen);
/* Let the threads run again; safe to call twice or after a failure. */
TT_API void tt_stop_resume(tt_stop *st);

#ifdef __cplusplus
}
#endif
#endif
