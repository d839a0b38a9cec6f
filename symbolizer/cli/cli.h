/* What the subcommands of the tasktrace CLI share: option parsing, the
 * session on a target, and views of snapshot tasks for format.c. */
#ifndef TASKTRACE_CLI_H
#define TASKTRACE_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "tasktrace/read/bt.h"
#include "tasktrace/read/format.h"
#include "tasktrace/read/reader.h"
#include "tasktrace/read/taskjson.h"
#include "tasktrace/read/tasklist.h"
#include "tasktrace/read/stop.h"
#include "tasktrace/read/sym.h"
#include "tasktrace/read/target.h"

/* Exit codes, documented in docs/cli.md.  EXIT_TARGET covers target
 * errors without a code of their own (I/O, out of memory) and a task id
 * that is not there; the others name one cause each. */
enum {
	EXIT_OK = 0,
	EXIT_TARGET = 1,
	EXIT_USAGE = 2,
	EXIT_NO_PROCESS = 3, /* no such process, or no such file */
	EXIT_PERMISSION = 4,
	EXIT_NOT_ELF = 5,
	EXIT_NOT_CORE = 6,
	EXIT_TRUNCATED = 7,
	EXIT_NO_REGISTRY = 8,
	EXIT_BAD_REGISTRY = 9,
	EXIT_BAD_VERSION = 10,
	EXIT_MISMATCH = 11
};
/* The exit code of a TT_T_* error. */
int cli_exit_code(int target_err);

#define CLI_MAX_PRUNE 16
#define CLI_MAX_LABELS 8

typedef struct cli_opts {
	int all;  /* include TT_TASKF_SYSTEM tasks */
	int json;
	int nonblocking;     /* read a live target without stopping it */
	const char *exe;     /* the executable of a core */
	int no_prune;        /* show the executor's frames of running tasks */
	const char *prune[CLI_MAX_PRUNE]; /* more frames to hide (regexes) */
	int nprune;
	int no_snapshot;     /* set by commands that stream (ps) */
	int state;           /* --state: only tasks in this TT_STATE_*, -1 any */
	const char *name;    /* --name: only tasks whose name matches (ERE) */
	int group;           /* --group: one row per distinct await chain */
	const char *group_label; /* --group label:KEY: one row per value of KEY */
	const char *labels[CLI_MAX_LABELS]; /* --label KEY[=VALUE]: all must match */
	int nlabels;
	int show_labels;     /* --labels: ps rows end with the labels */
	uint64_t stop_budget_ns; /* --stop-budget: longest a live target stays stopped */
	uint64_t crash_pc;   /* --crash-pc: a stack holding this PC starts there */
} cli_opts;

#define CLI_STOP_BUDGET_NS 1000000000ull /* the default: 1 s */

/* A subcommand: NAME, one-line SUMMARY for the tool's help, full HELP. */
typedef struct cli_cmd {
	const char *name;
	const char *summary;
	const char *help;
	int (*run)(const struct cli_cmd *cmd, int argc, char **argv);
	unsigned takes; /* CLI_TAKES_*: options beyond the common ones */
} cli_cmd;
#define CLI_TAKES_FILTERS 1u /* --state, --name, --label */
#define CLI_TAKES_GROUP 2u   /* --group, --labels */
#define CLI_TAKES_LABEL 4u   /* --label alone (hung) */

extern const cli_cmd cmd_ps, cmd_bt, cmd_tree, cmd_symbolize;

/* A command's own options, the NAMES its cli_take_own takes (one table,
 * which cli_command_index reads too). */
typedef struct cli_own {
	const char *const *names;
	size_t n;
} cli_own;
extern const cli_own cli_top_own, cli_hung_own, cli_trace_own, cli_profile_own;
/* The index in ARGV of the command word: options of every command may
 * come before it (`tasktrace --json ps PID`, `tasktrace -n 2 top -b
 * PID`): an option that takes a value in the common table, symbolize's or
 * one of OWN (N tables) takes the next word with it; ARGC when there is
 * no command word. */
int cli_command_index(int argc, char **argv, const cli_own *const *own, size_t n);
/* symbolize's options (symbolize.c), which cli_command_index skips too. */
extern const struct option cli_symbolize_longs[];
/* Parse the common options.  Returns -1 to go on with *FIRST the index
 * of the first operand, or an exit code (0 after --help, 2 on misuse). */
int cli_parse(const cli_cmd *cmd, int argc, char **argv, cli_opts *o,
	      int *first);
/* A command's own options, taken out of ARGV before the common parser
 * sees the rest (so every command still takes --exe, --nonblocking...):
 * NAMES[k] as "NAME V" or "NAME=V" (a two-letter name, e.g. -o, also as
 * "-oV"); TAKE(cmd, ctx, k, V) checks and stores V and returns -1 to go
 * on or an exit code.  A NAME starting with '!' ("!--batch") is a flag
 * without a value: TAKE gets V "".  Everything after "--" is left alone.  Returns -1
 * with *ARGC the arguments left, or an exit code. */
typedef int (*cli_take_fn)(const cli_cmd *cmd, void *ctx, size_t k, const char *v);
int cli_take_own(const cli_cmd *cmd, int *argc, char **argv, const char *const *names,
		 size_t n, cli_take_fn take, void *ctx);
/* A usage error: one line on stderr and a hint; returns EXIT_USAGE. */
int cli_usage(const cli_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int cli_parse_pid(const cli_cmd *cmd, const char *s, pid_t *pid);
/* A TARGET operand: a pid or an existing path; usage error otherwise. */
int cli_parse_target(const cli_cmd *cmd, const char *s);
int cli_parse_id(const char *s, uint64_t *id);
/* cli_parse for a command whose first operand is TARGET, checked: returns
 * -1 with *FIRST its index, or an exit code. */
int cli_parse_with_target(const cli_cmd *cmd, int argc, char **argv, cli_opts *o, int *first);
/* cli_parse for a command whose one operand is TARGET: returns -1 with
 * *TARGET set, or an exit code. */
int cli_parse_single_target(const cli_cmd *cmd, int argc, char **argv, cli_opts *o,
			    const char **target);

#define CLI_MAX_WARNINGS 4

/* A target (live pid or core) read once. */
typedef struct cli_session {
	tt_target target; /* pid (the core's for a core), root, err */
	tt_snapshot *snap;
	uint64_t now_ns; /* the clock ages are measured against */
	const char *core; /* the core file, NULL for a live pid */
	tt_sym *sym;      /* symbols and stacks; NULL until cli_sym */
	tt_stop stop;     /* the threads held while reading a live pid */
	int stopped;
	tt_mem stopped_mem;	/* the target's memory under target.mem's budget check */
	uint64_t deadline_ns;	/* CLOCK_MONOTONIC: resume the target past it */
	uint64_t budget_misses; /* reads refused after the budget ran out */
	const cli_opts *opts;
	char warnings[CLI_MAX_WARNINGS][1024]; /* said once on stderr, and in --json */
	int nwarnings;
} cli_session;

/* Open TARGET (a pid, or a core file with O->exe), stop it unless
 * O->nonblocking, and snapshot it; on failure prints one line and returns
 * the exit code.  A stopped target stays stopped for O->stop_budget_ns at
 * most: past it the target is resumed, the reads still to come fail
 * (their records are reported unreadable, never guessed) and cli_close
 * says so in one line.  A live target is resumed by cli_close, or by a signal
 * handler should tasktrace die first. */
int cli_open_target(cli_session *s, const cli_opts *o, const char *target);
void cli_close(cli_session *s);
/* The symbolizer session of S's target, opened on first use; NULL (and
 * one warning on stderr, once) when it cannot be had. */
tt_sym *cli_sym(cli_session *s);
/* Does TARGET look like a pid (digits only)? Else it is a file. */
int cli_is_pid(const char *target);
/* A warning about the whole target (what a core lacks, a registry
 * inherited through fork): one line on stderr now, and in --json's
 * "warnings" later. */
void cli_warn(cli_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "pid 42" or "core FILE", for messages. */
const char *cli_target_name(const cli_session *s);
/* Print B's text and a newline on stdout. */
void cli_line(const tt_fbuf *b);
/* *P, an array of *CAP elements of SIZE bytes, made twice as long (FIRST
 * elements when empty): 0, or -1 without memory (*P as it was). */
int cli_grow(void **p, size_t *cap, size_t size, size_t first);

/* ---- views of snapshot tasks (view.c) ---- */

/* Visible tasks sorted by id, in a malloc'd array (NULL if none). */
const tt_stask **view_sorted(const tt_snapshot *s, const cli_opts *o,
			     size_t *n);

/* ---- the flight recorder (flight.c) ---- */
/* tt_flight_read of S's registry through R; a failure (no recorder, the
 * recorder off) is one line on stderr, the same for every command. */
int64_t cli_flight_read(cli_session *s, tt_reader *r, uint64_t task_id, tt_revent_fn fn,
			void *ctx, tt_rflight *st);
/* The line about events torn or rings unreadable, if any. */
void cli_flight_note(const tt_rflight *st);

/* ---- JSON (json.c) ---- */

void json_doc_begin(FILE *f, const cli_session *s, const char *command);
void json_doc_end(FILE *f);
/* The fields common to every task object, without the braces. */
void json_task_fields(FILE *f, const cli_session *s, const tt_stask *t);
/* Task T's awaited path as a JSON array, innermost first, with the
 * inline callers of each async frame. */
void json_frames(FILE *f, cli_session *s, const tt_stask *t);
/* ,"native":[...] (or null) and ,"native_error" of a running task. */
void json_native(FILE *f, cli_session *s, const tt_stask *t);
/* One symbolized frame object. */
void json_sym_frame(FILE *f, uint64_t pc, const tt_sym_frame *fr);

/* ps rows straight from the reader's core layer, without a snapshot:
 * for cores and stopped processes (ps_stream.c).  Returns 0 or -1. */
int ps_stream(const cli_session *s, const cli_opts *o);

/* ---- native frames (native.c) ---- */

/* Frames of a real stack or an inline chain, after pruning. */
typedef tt_sym_at native_frame;

/* The pruned, symbolized stack of running task T's worker thread into
 * OUT; returns the count, or -1 with ERR set when it cannot be had. */
int native_stack(cli_session *s, const tt_stask *t, native_frame *out,
		 int cap, char *err, size_t errlen);
/* The inline callers of the async function suspended at SITE: the frames
 * around the site's resume PC outside the function itself (none unless
 * the poll function was inlined somewhere).  Returns the count. */
int native_site_callers(cli_session *s, const tt_ssite *site,
			native_frame *out, int cap);
#define NATIVE_MAX 256

#endif
