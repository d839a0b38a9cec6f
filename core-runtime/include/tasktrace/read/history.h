/* A task's history from the flight recorder (docs/registry-abi.md §5.12):
 * `tasktrace history` and gdb's `task history`, gdb calling it through
 * ctypes, so both print the same words. */
#ifndef TASKTRACE_HISTORY_H
#define TASKTRACE_HISTORY_H

#include "tasktrace/api.h"

#include <stddef.h>
#include <stdint.h>

#include "tasktrace/read/format.h"
#include "tasktrace/read/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_HISTORY_DEFAULT 64

/* The name of task ID, NULL if unknown. */
typedef const char *(*tt_history_name_fn)(void *ctx, uint64_t id);

/* One event EV about task ID in words, without its age, into B: the one
 * wording of `tasktrace history`, gdb's `task history` and the crash log.
 * SITES resolves the events' sites; NAME (may be NULL) names tasks.
 * Async-signal-safe: no allocation, no stdio. */
TT_API void tt_history_event(tt_fbuf *b, tt_reader *r, tt_rsym_cache *sites,
			     tt_history_name_fn name, void *ctx, uint64_t id, const tt_revent *ev); /* events shown when the caller says 0 */

/* Events as tt_flight_read delivers them, kept in a growing array: pass
 * tt_revents_keep and a zeroed tt_revents; free V after.  OOM is set (and
 * the read stopped) when memory ran out. */
typedef struct tt_revents {
	tt_revent *v;
	size_t n, cap;
	int oom;
} tt_revents;
TT_API int tt_revents_keep(void *ctx, const tt_revent *ev);

/* Task ID's events V[N] (as tt_flight_read delivers them) in the order
 * history prints them, newest last: by stamp; within one tick, a ring's
 * in their order, and across rings the task's spawn, then wakes, then
 * the rest (the coarse clock orders rings only to a tick). */
TT_API void tt_history_order(tt_revent *v, size_t n, uint64_t id);

/* What a suspension event waits on (its wait KIND and OBJECT, §5.12):
 * `waits on mutex 0x55d0c0a0`; the words of tt_history_event, which
 * `tasktrace trace` names a task's waiting state with. */
TT_API void tt_history_wait(tt_fbuf *b, uint32_t kind, uint64_t object);

/* Task ID's last MAX events (0: TT_HISTORY_DEFAULT) in S's registry,
 * read through MEM, newest last, ages against NOW: when it was spawned,
 * each poll with its worker, duration and how it ended (where it
 * suspended, on what), who woke it, the tasks it woke and spawned, then
 * what it is doing now (from S).  *FOUND (may be NULL) gets the events
 * shown.  Returns malloc'd text (free it), NULL with errno on failure of
 * memory; a registry without a recorder gives one line saying so. */
TT_API char *tt_history_text(tt_mem mem, const tt_snapshot *s, uint64_t id, size_t max,
			     uint64_t now, size_t *found);

#ifdef __cplusplus
}
#endif
#endif
