/* What the subcommands of the tasktrace CLI share: option parsing, the
 * session on a target, and views of snapshot tasks for format.c. */
#ifndef TASKTRACE_CLI_H
#define TASKTRACE_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "tasktrace/format.h"
#include "tasktrace/reader.h"
#include "tasktrace/target.h"

/* Exit codes, documented in docs/cli.md. */
enum { EXIT_OK = 0, EXIT_TARGET = 1, EXIT_USAGE = 2 };

typedef struct cli_opts {
	int all;  /* include TT_TASKF_SYSTEM tasks */
	int json;
} cli_opts;

/* A subcommand: NAME, one-line SUMMARY for the tool's help, full HELP. */
typedef struct cli_cmd {
	const char *name;
	const char *summary;
	const char *help;
	int (*run)(const struct cli_cmd *cmd, int argc, char **argv);
} cli_cmd;

extern const cli_cmd cmd_ps, cmd_bt, cmd_tree;

/* Parse the common options.  Returns -1 to go on with *FIRST the index
 * of the first operand, or an exit code (0 after --help, 2 on misuse). */
int cli_parse(const cli_cmd *cmd, int argc, char **argv, cli_opts *o,
	      int *first);
/* A usage error: one line on stderr and a hint; returns EXIT_USAGE. */
int cli_usage(const cli_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int cli_parse_pid(const cli_cmd *cmd, const char *s, pid_t *pid);
int cli_parse_id(const char *s, uint64_t *id);

/* A live target read once. */
typedef struct cli_session {
	tt_target target;
	tt_snapshot *snap;
	uint64_t now_ns; /* the clock ages are measured against */
} cli_session;

/* Open PID and snapshot it; on failure prints one line and returns
 * EXIT_TARGET. */
int cli_open(cli_session *s, pid_t pid);
void cli_close(cli_session *s);
/* Print B's text and a newline on stdout. */
void cli_line(const tt_fbuf *b);

/* ---- views of snapshot tasks (view.c) ---- */

int view_visible(const tt_stask *t, const cli_opts *o);
/* Visible tasks sorted by id, in a malloc'd array (NULL if none). */
const tt_stask **view_sorted(const tt_snapshot *s, const cli_opts *o,
			     size_t *n);
void view_task(const cli_session *s, const tt_stask *t, tt_fmt_task *out);
/* The thread of worker INDEX, -1 when unknown. */
int64_t view_tid(const tt_snapshot *s, int32_t index);
/* The name of task ID, NULL when it is not in the snapshot. */
const char *view_task_name(const tt_snapshot *s, uint64_t id);
/* Next child of frame PARENT after frame AFTER (pass PARENT for the
 * first, which is the awaited one); t->nframes when there is none. */
size_t view_next_child(const tt_stask *t, size_t parent, size_t after);
/* The awaited path from frame FROM down to its leaf, into PATH (outermost
 * first); returns its length. */
size_t view_path(const tt_stask *t, size_t from, size_t *path, size_t cap);
/* Parent ids to walk for ancestry at most. */
#define VIEW_MAX_ANCESTRY 64

/* ---- JSON (json.c) ---- */

void json_str(FILE *f, const char *s);
void json_doc_begin(FILE *f, const cli_session *s, const char *command);
void json_doc_end(FILE *f);
/* The fields common to every task object, without the braces. */
void json_task_fields(FILE *f, const cli_session *s, const tt_stask *t);
/* One frame object for frame I of T, with its branches when it is a
 * combinator (through json_frames). */
void json_frame(FILE *f, const cli_session *s, const tt_stask *t, size_t i);
/* The awaited path from frame FROM as a JSON array, innermost first. */
void json_frames(FILE *f, const cli_session *s, const tt_stask *t,
		 size_t from);
void json_ancestry(FILE *f, const cli_session *s, const tt_stask *t);

#endif
