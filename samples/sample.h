/* What every long-running sample does once its tasks are in place. */
#ifndef TT_SAMPLE_H
#define TT_SAMPLE_H

#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "tasktrace/registry.h"

/* Let any process of this user read us (gdb, tasktrace) even under Yama's
 * ptrace_scope=1, then print the line tests and demos wait for. */
static inline void sample_ready(const char *name, const char *extra)
{
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	printf("%s: pid %d registry %p ready%s%s\n", name, (int)getpid(), tt_registry_root(),
	       extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}

#endif
