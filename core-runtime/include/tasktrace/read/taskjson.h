/* Tasks as JSON, in the schema of docs/cli.md: the `tasktrace` CLI's
 * --json and gdb's MI commands (-task-list, -task-info, -task-backtrace)
 * write the same objects with these.  Strings come from target memory:
 * they are escaped and invalid UTF-8 is replaced, so the document parses
 * whatever the target holds. */
#ifndef TASKTRACE_TASKJSON_H
#define TASKTRACE_TASKJSON_H

#include "tasktrace/api.h"

#include <stdint.h>
#include <stdio.h>

#include "tasktrace/read/format.h"
#include "tasktrace/read/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

TT_API void tt_json_str(FILE *f, const char *s); /* NULL: null */
TT_API void tt_json_hex(FILE *f, uint64_t v);	 /* "0x2a" */
/* A count or id, or null for 0 ("unknown"). */
TT_API void tt_json_u64_or_null(FILE *f, uint64_t v);
/* {"file","line","function"}, or null. */
TT_API void tt_json_site(FILE *f, const tt_ssite *site);

/* A thread's system call (tasktrace/read/format.h), or null for SC NULL:
 * {"state","nr","name","args","ret","wchan","text"}; "state" is
 * tt_syscall_state_word's, "nr"/"name"/"args" null outside a call, "ret"
 * null unless "returning", "text" the words tt_fmt_syscall_of prints. */
TT_API void tt_json_syscall(FILE *f, const tt_syscall *sc, const char *wchan);

/* The fields of task T, without the braces: id, name, state, flags,
 * parent_id, worker, tid, spawn_site, wait, where, created_ns, polls,
 * busy_ns, wakes, wakers, torn, error.  NOW ages the waits. */
TT_API void tt_json_task_fields(FILE *f, const tt_snapshot *s, uint64_t now, const tt_stask *t);

/* Called after the fields of each async or combinator frame, to add
 * fields of the caller's own (the CLI adds inline callers from DWARF). */
typedef void (*tt_json_frame_fn)(FILE *f, const tt_stask *t, size_t i,
				 void *ctx);
/* The awaited path from frame FROM as an array, innermost first; a
 * combinator's other children under its "branches". MORE may be NULL. */
TT_API void tt_json_frames(FILE *f, const tt_snapshot *s, uint64_t now, const tt_stask *t,
			   size_t from, tt_json_frame_fn more, void *ctx);
/* The tasks that spawned T, nearest first: [{"id","name","spawn_site"}]. */
TT_API void tt_json_ancestry(FILE *f, const tt_snapshot *s, const tt_stask *t);

/* For bindings without a FILE (gdb's Python): {"now_ns":N,"tasks":[...]}
 * with every task in id order (ALL: the system ones too), or only task ID
 * when ID is not 0 (an empty list when there is none); FRAMES adds each
 * task's "frames" and "ancestry".  Malloc'd; NULL when out of memory.
 * Free with tt_text_free. */
TT_API char *tt_json_tasks(const tt_snapshot *s, uint64_t now, int all, uint64_t id, int frames);

#ifdef __cplusplus
}
#endif
#endif
