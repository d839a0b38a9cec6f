/* The task list of `tasktrace ps` and gdb's `info tasks`: one
 * implementation over a snapshot, so a task reads the same in both.
 *
 *   tt_list_opts o;
 *   tt_list_opts_init(&o);
 *   o.selected = 7;
 *   char *text = tt_task_list(snap, now_ns, &o, err, sizeof(err));
 *   fputs(text, stdout);
 *   tt_text_free(text);
 */
#ifndef TASKTRACE_TASKLIST_H
#define TASKTRACE_TASKLIST_H

#include "tasktrace/api.h"

#include <stddef.h>
#include <stdint.h>

#include "tasktrace/read/format.h"
#include "tasktrace/read/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_list_opts {
	int all;                /* include the runtime's system tasks */
	int state;              /* only tasks in this TT_STATE_*; -1: any */
	const char *name_regex; /* POSIX extended regex on the name; NULL: any */
	const uint64_t *ids;    /* only these task ids; NULL: any */
	size_t nids;
	uint64_t selected; /* the task marked '*' (gdb's selected task); 0 */
	int group;         /* one row per distinct await chain, with a count */
	int unreadable;    /* tt_task_select: keep the slots the reader could
			    * not decode (id 0, error set) */
	/* Only tasks with every one of these labels: "KEY=VALUE" (the value
	 * exactly, split at the first '='), or "KEY" (any value). */
	const char *const *labels;
	size_t nlabels;
	/* One row per value of label KEY, with a count and the first ids,
	 * tasks without it last (group is ignored); NULL: none. */
	const char *group_label;
	int show_labels; /* each row ends with the task's labels */
} tt_list_opts;

/* Does T carry label SPEC ("KEY=VALUE", or "KEY": any value)? */
TT_API int tt_task_has_label(const tt_rtask *t, const char *spec);

TT_API void tt_list_opts_init(tt_list_opts *o);

/* The tasks of S that pass O's filters (all, state, name_regex, ids,
 * labels, unreadable; the others are ignored), in id order: a malloc'd array of *N (free(3) it).
 * NULL with a one-line ERR for a bad regex or out of memory. */
TT_API const tt_stask **tt_task_select(const tt_snapshot *s, const tt_list_opts *o, size_t *n,
				       char *err, size_t errlen);

/* The list as text, every line ending in '\n': the header, the rows in id
 * order ("No tasks." when none is left), then one line per slot the
 * reader could not decode.  NULL with a one-line ERR for a bad regex or
 * out of memory.  Free with tt_text_free. */
TT_API char *tt_task_list(const tt_snapshot *s, uint64_t now, const tt_list_opts *o, char *err,
			  size_t errlen);

/* The pieces format.h needs for task T of S: its leaf, the innermost
 * async function suspended at an await, the thread of its worker. */
TT_API void tt_snapshot_view(const tt_snapshot *s, const tt_stask *t, tt_fmt_task *out);
/* The thread id of worker INDEX, -1 when unknown.  With several runtimes
 * an index is ambiguous: prefer tt_snapshot_task_tid. */
TT_API int64_t tt_snapshot_worker_tid(const tt_snapshot *s, int32_t index);
/* The thread of the worker polling task T: that index in T's runtime;
 * -1 when unknown, or when T was copied by fork (no such thread here). */
TT_API int64_t tt_snapshot_task_tid(const tt_snapshot *s, const tt_rtask *t);
/* The line to say once when S holds tasks a fork copied from the parent
 * (tt_fmt_fork_note, after tt_snapshot_set_target), into BUF; its length,
 * 0 (BUF empty) when there are none. */
TT_API size_t tt_snapshot_fork_note(const tt_snapshot *s, char *buf, size_t len);
/* The name of task ID, NULL when it is not in S. */
TT_API const char *tt_snapshot_task_name(const tt_snapshot *s, uint64_t id);

#ifdef __cplusplus
}
#endif
#endif
