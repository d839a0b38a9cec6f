/* Hung-task diagnosis: one engine behind `tasktrace hung`, gdb's
 * `info tasks -hung` / `task diagnose`, and the in-process watchdog.
 *
 * It works on a snapshot of a registry (tt_snapshot, any memory source:
 * a live pid, a core, gdb's inferior, this process) and a clock, and
 * returns findings, each naming a task, the evidence, and a sentence a
 * user can act on.  docs/diagnosis.md describes every rule.
 *
 *   tt_diag_opts o;
 *   tt_diag_opts_init(&o);
 *   tt_diag_report *r = tt_diagnose(snap, now_ns, &o);
 *   fputs(r->text, stdout);
 *   tt_diag_free(r);
 */
#ifndef TASKTRACE_DIAGNOSE_H
#define TASKTRACE_DIAGNOSE_H

#include "tasktrace/api.h"

#include <stddef.h>
#include <stdint.h>

#include "tasktrace/read/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Kinds of finding, most severe first (the order of a report). */
enum tt_diag_kind {
	TT_DIAG_DEADLOCK = 1,       /* a cycle in the wait-for graph */
	TT_DIAG_LOST_WAKER = 2,     /* pending, nothing can wake it */
	TT_DIAG_NEVER_RESOLVED = 3, /* waits on a oneshot/mutex whose owner is gone */
	TT_DIAG_LONG_POLL = 4,      /* one poll running past the threshold */
	TT_DIAG_STARVED = 5,        /* woken, not polled past the threshold */
	TT_DIAG_IDLE = 6,           /* suspended past the threshold */
	TT_DIAG_LEAKED = 7,         /* pending when its runtime shut down */
	TT_DIAG_KIND_MAX_ = 8
};

/* Thresholds in ns.  TT_DIAG_OFF disables a rule. */
#define TT_DIAG_OFF UINT64_MAX
typedef struct tt_diag_opts {
	uint64_t long_poll_ns; /* default 100 ms */
	uint64_t starved_ns;   /* default 1 s */
	uint64_t idle_ns;      /* default 60 s */
	int all;               /* include the runtime's system tasks */
	uint64_t runtime_id;   /* only tasks of this runtime (0: every one) */
} tt_diag_opts;

TT_API void tt_diag_opts_init(tt_diag_opts *o);

typedef struct tt_diag_finding {
	uint32_t kind;     /* tt_diag_kind */
	uint32_t ncycle;   /* deadlock: tasks in the cycle (ids in cycle[]) */
	uint64_t task_id;  /* the task it is about (a deadlock: the smallest id) */
	uint64_t other_id; /* the owner / producer / next task in the cycle, 0 */
	uint64_t age_ns;   /* how long the condition has lasted, 0 unknown */
	const uint64_t *cycle;
	const char *title; /* one line */
	const char *text;  /* the title, the evidence, then the advice; lines
			    * end in '\n' */
} tt_diag_finding;

typedef struct tt_diag_report {
	tt_diag_finding *findings;
	size_t n;
	size_t ntasks;   /* tasks looked at */
	uint64_t now_ns; /* the clock ages were measured against */
	/* Every finding's text separated by blank lines, or one line saying
	 * nothing was found. */
	const char *text;
	struct tt_diag_priv *priv_;
} tt_diag_report;

/* Diagnose snapshot S at time NOW_NS (0: the registry's own now stamp,
 * right for cores).  NULL opts: the defaults.  NULL on out of memory. */
TT_API tt_diag_report *tt_diagnose(const tt_snapshot *s, uint64_t now_ns, const tt_diag_opts *o);
/* Read the registry at ROOT through MEM and diagnose it: for front ends
 * with only a read callback (gdb's Python through ctypes).  NULL with a
 * one-line ERR when the registry cannot be read. */
TT_API tt_diag_report *tt_diagnose_mem(tt_mem mem, uint64_t root, uint64_t now_ns,
				       const tt_diag_opts *o, char *err, size_t errlen);
TT_API void tt_diag_free(tt_diag_report *r);
/* The tasks of runtime RUNTIME_ID in S still pending at NOW_NS, as "leaked
 * at shutdown" findings: what a runtime reports as it shuts down.  NULL on
 * out of memory. */
TT_API tt_diag_report *tt_diagnose_leaks(const tt_snapshot *s, uint64_t runtime_id,
					 uint64_t now_ns);

/* "deadlock", "lost waker", "never resolved", "long poll", "starved",
 * "idle", "leaked at shutdown". */
TT_API const char *tt_diag_kind_name(uint32_t kind);

/* ---- in process ---- */

/* The watchdog: a thread that diagnoses this process every INTERVAL and
 * writes each finding once (to FD, default stderr).  Also started by
 * TASKTRACE_WATCHDOG=1 or =interval=1s,long_poll=100ms,starved=1s,
 * idle=60s,fd=2 when the first runtime is created. */
typedef struct tt_watchdog_opts {
	uint64_t interval_ns; /* 0: 1 s */
	tt_diag_opts diag;    /* set with tt_diag_opts_init first */
	int fd;               /* -1: stderr */
} tt_watchdog_opts;
/* NULL opts: the defaults.  0, or -errno (EALREADY when running). */
TT_API int tt_watchdog_start(const tt_watchdog_opts *opts);
TT_API void tt_watchdog_stop(void);
/* Run one round now (tests): writes new findings; returns how many. */
TT_API int tt_watchdog_poll(void);

/* Tasks of RT still pending, as "leaked at shutdown" findings written to
 * FD (-1: stderr); returns how many.  tt_runtime_free does this itself
 * when TASKTRACE_LEAKS=1, TASKTRACE_WATCHDOG or TASKTRACE_CRASH is set:
 * it then cancels them, which is rarely what the program meant. */
struct tt_runtime;
TT_API int tt_runtime_report_pending(struct tt_runtime *rt, int fd);
/* Report, then tt_runtime_free. */
TT_API int tt_runtime_free_report(struct tt_runtime *rt, int fd);

/* Parse "DURATION" as 100ms, 1.5s, 2m, 250us, 10ns, or bare seconds. */
TT_API int tt_diag_parse_duration(const char *s, uint64_t *ns);

#ifdef __cplusplus
}
#endif
#endif
