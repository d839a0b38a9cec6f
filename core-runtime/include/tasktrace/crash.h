/* In-process reports: a crash log written from a fatal signal, and a dump
 * of every task on demand.  Both read this process's task registry the
 * way an outside reader does (process_vm_readv, never a raw dereference)
 * and are async-signal-safe.  docs/diagnosis.md shows their output.
 *
 * Environment, read when the first runtime is created:
 *   TASKTRACE_CRASH=1            tt_crash_install(NULL)
 *   TASKTRACE_CRASH=symbolize    ... with .symbolize = 1
 *   TASKTRACE_DUMP_SIGNAL=QUIT   tt_dump_install(SIGQUIT, -1) (or USR1, a number)
 *   TASKTRACE_STALL=50ms         tt_stall_start with that threshold (1: 100 ms)
 *   TASKTRACE_CRASH_DIR=DIR      where a crash report or a dump on a signal
 *                                goes when its fd changed since install
 *                                (default /tmp)
 */
#ifndef TASKTRACE_CRASH_H
#define TASKTRACE_CRASH_H

#include "tasktrace/api.h"

#include <stddef.h>
#include <stdint.h>

#include "tasktrace/read/diagnose.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_crash_opts {
	/* Where the report goes; 0 or -1: stderr.  Only while it is the file
	 * it was at install (device, inode): else to a new file
	 * $TASKTRACE_CRASH_DIR/tasktrace-crash-PID.log (default /tmp), so a
	 * data file that took the fd of a closed stderr is never written. */
	int fd;
	size_t max_bytes; /* total report size; 0: 64 KiB */
	/* Run `tasktrace bt PID ID --crash-pc PC` on the crashing process first
	 * (its output is symbolized with DWARF and counted in max_bytes),
	 * falling back to the in-process chain when it fails or prints
	 * nothing. */
	int symbolize;
	const char *tasktrace_path; /* default: $TASKTRACE_BIN, then PATH */
	unsigned symbolize_timeout_ms; /* default 5000 */
	/* Tests only: fault inside the handler after its first line, to
	 * exercise the second-crash path. */
	int test_fault_in_handler;
} tt_crash_opts;

/* Install the handler for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT
 * (on an alternate stack, allocated now for the calling thread and at
 * start for every worker).  The report goes to the fd; then the handler
 * the program had for that signal before this call gets it, or else the
 * default action runs, so the core dump still shows the original signal.
 * NULL opts: the defaults.  Returns 0 or -errno. */
TT_API int tt_crash_install(const tt_crash_opts *opts);
/* Restore the previous handlers. */
TT_API void tt_crash_uninstall(void);

/* Write the crash report for the calling thread now, as if it had
 * received SIGNO at ADDR (no signal, no exit): for tests and benchmarks.
 * Returns the bytes written. */
TT_API size_t tt_crash_report(int fd, int signo, const void *addr);

/* Write every task to FD in the format of `tasktrace bt`, in slot order
 * (spawn order until slots get reused), without stopping the program.  Async-signal-safe.  Returns the number
 * of tasks written, or -errno. */
TT_API int tt_dump_tasks(int fd);
/* Dump on signal SIGNO (0: SIGQUIT) to FD (-1: stderr) while FD is the
 * file it is now, else to $TASKTRACE_CRASH_DIR/tasktrace-dump-PID.log
 * (default /tmp), as tt_crash_opts.fd.  The handler
 * writes directly with the core reader; a second signal during a dump is
 * dropped with one line.  Returns 0 or -errno. */
TT_API int tt_dump_install(int signo, int fd);

/* Give the calling thread an alternate signal stack (workers get one at
 * start; call this on other threads that poll tasks). 0 or -errno. */
TT_API int tt_crash_thread_init(void);

/* ---- the in-process diagnosis (tasktrace/read/diagnose.h's engine) ---- */

/* The watchdog: a thread that diagnoses this process every INTERVAL and
 * writes each finding once (to FD, default stderr).  Also started by
 * TASKTRACE_WATCHDOG=1 or =interval=1s,long_poll=100ms,starved=1s,
 * idle=60s,idle_io=off,fd=2 when the first runtime is created. */
typedef struct tt_watchdog_opts {
	uint64_t interval_ns; /* 0: 1 s */
	tt_diag_opts diag;    /* set with tt_diag_opts_init first */
	int fd;               /* -1: stderr */
} tt_watchdog_opts;
/* NULL opts: the defaults.  0, or -errno (EALREADY when running). */
TT_API int tt_watchdog_start(const tt_watchdog_opts *opts);
/* Stops the thread and frees the snapshot the rounds keep (tt_watchdog_poll
 * alone keeps one too). */
TT_API void tt_watchdog_stop(void);
/* Run one round now (tests): writes new findings; returns how many. */
TT_API int tt_watchdog_poll(void);

/* The stall detector: a thread of the watchdog that watches every poll
 * and, when one runs past THRESHOLD, has the worker record its own native
 * stack (a real-time signal, SIGNO, whose handler walks the frame
 * pointers into a preallocated buffer) and writes to FD: the task, that
 * stack with the executor's frames pruned, the system call the thread is
 * in (/proc/self/task/TID/syscall, wchan) and the task's chain and
 * ancestry as `tasktrace bt` prints them; again at 2x, 4x... the
 * threshold while the poll goes on, at most 20 reports a second.  It
 * reads the worker records the runtime publishes anyway: a poll costs the
 * same with it on.  Also started by TASKTRACE_STALL=50ms (or =1: 100 ms)
 * when the first runtime is created.  docs/diagnosis.md shows a report. */
typedef struct tt_stall_opts {
	uint64_t threshold_ns; /* 0: 100 ms */
	int fd;		       /* -1: stderr (0 is stdin: not used) */
	int signo;	       /* 0: SIGRTMAX - 1; a real-time signal the
				* program does not handle itself */
} tt_stall_opts;
/* NULL opts: the defaults.  0, or -errno: EALREADY when running, EBUSY
 * when the program handles the signal, EINVAL for a signal that is not
 * real-time. */
TT_API int tt_stall_start(const tt_stall_opts *opts);
/* Stop it, and write to its fd the stalls of the run grouped by native
 * stack, with their count and min/median/p99/max durations (the dump on a
 * signal prints them too; TASKTRACE_STALL calls this at exit). */
TT_API void tt_stall_stop(void);

/* Tasks of RT still pending, as "leaked at shutdown" findings written to
 * FD (-1: stderr); returns how many.  tt_runtime_free does this itself
 * when TASKTRACE_LEAKS=1, TASKTRACE_WATCHDOG or TASKTRACE_CRASH is set:
 * it then cancels them, which is rarely what the program meant.  Both
 * return TT_ESTALE (-ESTALE) for a runtime already freed. */
struct tt_runtime;
TT_API int tt_runtime_report_pending(struct tt_runtime *rt, int fd);
/* Report, then tt_runtime_free. */
TT_API int tt_runtime_free_report(struct tt_runtime *rt, int fd);

#ifdef __cplusplus
}
#endif
#endif
