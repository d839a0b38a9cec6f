/* Shared by crash.c (the handler) and crash_bt.c (native backtraces). */
#ifndef TT_CRASH_PRIV_H
#define TT_CRASH_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "reporters/report.h"

/* Capture the loaded modules (dl_iterate_phdr is not signal-safe, so
 * this runs at install time; modules loaded later print as "??"). */
void tt_cb_modules_capture(void);
int tt_cb_modules_captured(void);
/* The executor calls this as a worker thread exits. */
void tt__crash_thread_exit(void);

#define TT_NATIVE_MAX 128
typedef struct tt_native {
	uint64_t pc[TT_NATIVE_MAX]; /* [0] the faulting pc, then return addresses */
	size_t n;
	size_t more; /* frames walked beyond the array */
	const char *stop; /* why the walk ended, NULL at the outermost frame */
	int scanned;      /* frames past #0 were found by a stack scan */
} tt_native;

/* Walk the frame-pointer chain from FP, bounded by the stack [LO, HI)
 * when known (0 otherwise), reading through tt_mem_self so a corrupt
 * chain ends the walk instead of faulting. */
void tt_cb_walk(uint64_t pc, uint64_t fp, uint64_t sp, uint64_t lo,
		uint64_t hi, tt_native *out);

/* An async function of the crashing task's chain, to name its frames. */
typedef struct tt_cb_poll {
	uint64_t poll;      /* the poll function's entry */
	const char *name;   /* async function */
	const char *cfunc;  /* C poll function (the site's), may be NULL */
	const char *file;   /* the await it is suspended at, may be NULL */
	uint32_t line;
} tt_cb_poll;

/* The async functions of T's chain from the registry, to name native
 * frames: each frame's poll, with the await it is suspended at. */
size_t tt_cb_chain_polls(tt_rep *p, tt_rtask *t, tt_cb_poll *out, size_t cap);

/* Print the walk, executor frames pruned. */
void tt_cb_print(tt_rout *o, const tt_native *nb, const tt_cb_poll *polls,
		 size_t npolls);
/* The same, naming a frame outside the chain's poll functions with NAMER
 * when it gives a name (1) for the pc (the stall report: not in a signal
 * handler, so dladdr may be used). */
typedef int (*tt_cb_namer)(uint64_t pc, char *buf, size_t len);
void tt_cb_print_named(tt_rout *o, const tt_native *nb, const tt_cb_poll *polls,
		       size_t npolls, tt_cb_namer namer);

/* The stack the stall detector (stall.c) took of the poll of task
 * TASK_ID that started at POLL_START (the worker record's clock), if it
 * is running and took one: the system call then and the native stack, as
 * lines into O, for the watchdog's long-poll finding.  Returns 1, or 0
 * (nothing written) when it has none. */
int tt__stall_describe(uint64_t task_id, uint64_t poll_start, tt_rout *o);

/* The stalls of a run grouped by stack (stall_agg.c).  Reset at
 * tt_stall_start; ADD (the tt-stall thread only) one stall that lasted
 * DUR_NS, its stack NB (NULL: none taken), the /proc syscall line SYS it
 * was taken in, its task; PRINT (async-signal-safe with NAMER NULL: the
 * dump) the groups, most stalls first.  Returns the stalls counted. */
void tt__stall_agg_reset(uint64_t threshold_ns);
void tt__stall_agg_add(const tt_native *nb, const char *sys, uint64_t task_id, const char *name,
		       uint64_t dur_ns);
int tt__stall_agg_print(tt_rout *o, tt_cb_namer namer);
/* Has the stall detector been started in this process (the dump then
 * prints the stalls seen)? */
int tt__stall_started(void);

/* PC, frame pointer and SP of a signal's ucontext_t (0 when the
 * architecture is not known). */
void tt_cb_regs(const void *ucontext, uint64_t *pc, uint64_t *fp, uint64_t *sp);
/* The calling thread's stack [LO, HI), 0 when not known: recorded by
 * tt_crash_thread_init, which every worker runs at start. */
void tt_cb_thread_stack(uint64_t *lo, uint64_t *hi);

#endif
