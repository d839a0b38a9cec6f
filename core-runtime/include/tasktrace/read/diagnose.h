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

/* Kinds of finding, most severe first (the order of a report: the
 * rows' order, not their values); each finding's title starts with its
 * word.  docs/diagnosis.md lists exactly
 * these rows (tests/docs checks it).
 * XX(NAME, value, word, advice): ADVICE is the sentence the finding ends
 * with, 0 where the rule words it from what it found. */
#define TT_DIAG_KIND_MAP(XX)                                                               \
	/* a cycle in the wait-for graph */                                                \
	XX(DEADLOCK, 1, "deadlock",                                                        \
	   "none of these tasks can make progress.  Break the cycle: a task must "         \
	   "not (transitively) wait for a task that waits for it.")                        \
	/* every task waits on another task or on one that ended: nothing */              \
	/* (no timer, fd, blocking call, wake in flight) can wake any of them */          \
	XX(ALL_ASLEEP, 8, "all tasks are asleep",                                          \
	   "nothing can wake any of them: each waits on another task of the program, "     \
	   "or on one that ended without releasing what it held.  Follow the waits to "    \
	   "the task that should have sent, released or finished.")                        \
	/* pending, nothing can wake it */                                                 \
	XX(LOST_WAKER, 2, "lost waker", 0)                                                 \
	/* waits on a oneshot/mutex whose owner is gone */                                 \
	XX(NEVER_RESOLVED, 3, "never resolved", 0)                                         \
	/* one poll running past the threshold */                                          \
	XX(LONG_POLL, 4, "long poll",                                                      \
	   "it blocks its worker thread: every task queued there waits.  Move "            \
	   "blocking or CPU-heavy work to the blocking pool (tt_blocking), or "            \
	   "await instead of blocking.")                                                   \
	/* woken, not polled past the threshold */                                         \
	XX(STARVED, 5, "starved",                                                          \
	   "the workers are busy: look for long polls (blocking calls in a poll "          \
	   "function), or give the runtime more workers.")                                 \
	/* suspended past the threshold */                                                 \
	XX(IDLE, 6, "idle", "if it should have finished by now, follow what it waits on.") \
	/* pending when its runtime shut down */                                           \
	XX(LEAKED, 7, "leaked at shutdown",                                                \
	   "it is cancelled now (its cleanups run) instead of finishing.  Join or "        \
	   "cancel it before freeing the runtime, or spawn it in a task group.")

enum tt_diag_kind {
#define TT_XX_(name, value, ...) TT_DIAG_##name = value,
	TT_DIAG_KIND_MAP(TT_XX_)
#undef TT_XX_
#define TT_XX_(...) +1
	    TT_DIAG_KIND_MAX_ = 1 TT_DIAG_KIND_MAP(TT_XX_) /* the values are 1..MAX_-1 */
#undef TT_XX_
};

/* Thresholds in ns.  TT_DIAG_OFF disables a rule. */
#define TT_DIAG_OFF UINT64_MAX
typedef struct tt_diag_opts {
	uint64_t long_poll_ns; /* default 100 ms */
	uint64_t starved_ns;   /* default 1 s */
	uint64_t idle_ns;      /* default 60 s */
	int all;               /* include the runtime's system tasks */
	uint64_t runtime_id;   /* only tasks of this runtime (0: every one) */
	/* The snapshot is of a live target read without stopping it: each
	 * finding stands only if every task it names reads the same again
	 * through this source afterwards (tt_snapshot_recheck).  NULL: the
	 * target held still (a core, a stopped process). */
	const tt_mem *recheck;
	/* Only findings naming a task that carries every one of these labels
	 * ("KEY=VALUE" or "KEY", as tt_task_has_label); the diagnosis still
	 * looks at every task (a cycle may pass through unlabelled ones). */
	const char *const *labels;
	size_t nlabels;
	/* The idle threshold of a task resting on an fd read (accept, a
	 * peer's next request) or a cancellation token: default TT_DIAG_OFF,
	 * a server's listener is not "hung".  (Appended: layout kept.) */
	uint64_t idle_io_ns;
	/* One finding per task: identical findings (same kind, same await
	 * chain, same wait) are otherwise one, with a count and example ids. */
	int each;
	/* The target's memory, to read its flight recorder through: a lost
	 * waker or a never-resolved wait then quotes the task's last wake
	 * and last poll from the rings (docs/diagnosis.md).  NULL: recheck's
	 * source when set, else the rings are not read.  (Appended.) */
	const tt_mem *flight;
} tt_diag_opts;

TT_API void tt_diag_opts_init(tt_diag_opts *o);

typedef struct tt_diag_finding {
	uint32_t kind;     /* tt_diag_kind */
	uint32_t ncycle;   /* deadlock: tasks in the cycle (ids in cycle[]); all
			    * asleep: every task asleep */
	uint64_t task_id;  /* the task it is about (a deadlock: the smallest id) */
	uint64_t other_id; /* the owner / producer / next task in the cycle, 0 */
	uint64_t age_ns;   /* how long the condition has lasted, 0 unknown */
	const uint64_t *cycle;
	const char *title; /* one line */
	const char *text;  /* the title, the evidence, then the advice; lines
			    * end in '\n' */
	/* The identical findings this one stands for (opts.each unset),
	 * itself included: 1, or COUNT with every task's id in IDS (the
	 * example, task_id, first); IDS NULL when COUNT is 1. */
	uint64_t count;
	const uint64_t *ids;
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
/* The same findings, for a snapshot kept up to date by
 * tt_snapshot_update (the watchdog's rounds): a task whose slot held still
 * since the last call and that the rules judge by itself and the clock
 * is not looked at again until it could make a finding (its idle, lost
 * waker or starved threshold), a time kept in S (tt_snapshot_memo).
 * docs/diagnosis.md, "Incremental rounds". */
TT_API tt_diag_report *tt_diagnose_update(tt_snapshot *s, uint64_t now_ns, const tt_diag_opts *o);
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

/* The word of a finding kind ("deadlock"), "?" for an unknown kind. */
TT_API const char *tt_diag_kind_name(uint32_t kind);

/* The rows of the enum tables (tasktrace/abi/registry.h and TT_DIAG_KIND_MAP above), for
 * front ends that cannot include a C header (gdb's Python) and for the
 * test that the docs list them: a front end takes its words and numbers
 * from here instead of keeping a copy. */
enum tt_enum {
	TT_ENUM_TASK_STATE = 0,	  /* TT_TASK_STATE_MAP */
	TT_ENUM_TASK_FLAG = 1,	  /* TT_TASK_FLAG_MAP: values are bits */
	TT_ENUM_WAIT_KIND = 2,	  /* TT_WAIT_KIND_MAP */
	TT_ENUM_FUNC_KIND = 3,	  /* TT_FUNC_KIND_MAP */
	TT_ENUM_WORKER_STATE = 4, /* TT_WORKER_STATE_MAP */
	TT_ENUM_DIAG_KIND = 5,	  /* TT_DIAG_KIND_MAP */
	TT_ENUM_MAX_ = 6
};
typedef struct tt_enum_row {
	uint32_t value;
	const char *name; /* the C name without its prefix: "CHAN_RECV" */
	const char *word; /* what readers print: "channel recv" */
} tt_enum_row;
/* The rows of table E in the table's order and their count in *N; NULL
 * (and *N 0) for an unknown E. */
TT_API const tt_enum_row *tt_enum_rows(int e, size_t *n);
/* The word of VALUE in table E ("polling"), NULL when it has no row. */
TT_API const char *tt_enum_word(int e, uint32_t value);

/* Parse "DURATION" as 100ms, 1.5s, 2m, 250us, 10ns, or bare seconds. */
TT_API int tt_diag_parse_duration(const char *s, uint64_t *ns);

/* For bindings that mirror the structs they pass (gdb's Python through
 * ctypes), to check their copy against the library they loaded: sizeof
 * tt_snapshot, tt_stask, tt_sframe, tt_ssite, tt_sfunc, tt_rworker,
 * tt_list_opts, tt_diag_opts, tt_rpath_ends, tt_root_pick_out,
 * tt_diag_finding, tt_diag_report, tt_enum_row, tt_bt_native,
 * tt_bt_hooks and tt_syscall, in that order, into OUT. */
#define TT_BINDING_STRUCTS 16
TT_API void tt_snapshot_struct_sizes(size_t out[TT_BINDING_STRUCTS]);

#ifdef __cplusplus
}
#endif
#endif
