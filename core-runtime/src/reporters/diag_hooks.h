/* The runtime's calls into the in-process diagnostics (diag_env.c):
 * environment variables, per-worker alternate signal stacks, and the
 * report of tasks still pending at shutdown. */
#ifndef TT_DIAG_HOOKS_H
#define TT_DIAG_HOOKS_H

#include "tasktrace/runtime.h"

/* Once, when the first runtime is created: TASKTRACE_CRASH,
 * TASKTRACE_DUMP_SIGNAL, TASKTRACE_WATCHDOG, TASKTRACE_LEAKS. */
void tt__diag_runtime_new(void);
/* On a worker thread as it starts / before it exits. */
void tt__diag_worker_start(void);
void tt__diag_worker_exit(void);
/* In tt_runtime_free once no worker runs, before pending tasks are
 * abandoned: reports them when diagnostics are enabled. */
void tt__diag_runtime_free(tt_runtime *rt);

#endif
