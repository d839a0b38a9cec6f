/* Everything an async C program needs from tasktrace's runtime. */
#ifndef TASKTRACE_TASKTRACE_H
#define TASKTRACE_TASKTRACE_H

#include "tasktrace/combinators.h"
#include "tasktrace/future.h"
#include "tasktrace/io.h"
#include "tasktrace/abi/registry.h"
#include "tasktrace/runtime.h"
#include "tasktrace/sync.h"
#include "tasktrace/timer.h"

#endif
