/* The runtime's calls out to the in-process reporters (crash handler,
 * dump, watchdog, leak report), through a table they fill: the runtime
 * names no reporter, and runs without them.  reporters/diag_env.c fills
 * it from a constructor, before main.
 *
 * A static archive member is linked only when something refers to it, and
 * nothing in the runtime refers to the reporters: a static link pulls them
 * in with -Wl,-u,tt__reporters_register, which tasktrace.pc's Libs.private
 * carries (pkg-config --static). */
#ifndef TT_HOOKS_H
#define TT_HOOKS_H

#include "tasktrace/runtime.h"

typedef struct tt_rt_hooks {
	/* Once per runtime created (the reporters read their environment
	 * variables the first time). */
	void (*runtime_new)(void);
	/* On a worker or blocking-pool thread as it starts / before it exits. */
	void (*worker_start)(void);
	void (*worker_exit)(void);
	/* In tt_runtime_free once no worker runs, before pending tasks are
	 * abandoned. */
	void (*runtime_free)(tt_runtime *rt);
} tt_rt_hooks;

/* Written before main, read-only afterwards. */
extern tt_rt_hooks tt__rt_hooks;

static inline void tt_hook_runtime_new(void)
{
	if (tt__rt_hooks.runtime_new)
		tt__rt_hooks.runtime_new();
}

static inline void tt_hook_worker_start(void)
{
	if (tt__rt_hooks.worker_start)
		tt__rt_hooks.worker_start();
}

static inline void tt_hook_worker_exit(void)
{
	if (tt__rt_hooks.worker_exit)
		tt__rt_hooks.worker_exit();
}

static inline void tt_hook_runtime_free(tt_runtime *rt)
{
	if (tt__rt_hooks.runtime_free)
		tt__rt_hooks.runtime_free(rt);
}

#endif
