/* The words every front end uses for tasks: the ps row, the bt lines, the
 * tree node, durations and wait reasons.  gdb and the crash handler print
 * the same text, so it lives here, in one place.
 *
 * Everything writes into a caller-provided buffer with no stdio and no
 * allocation, and takes the reader's core-layer records (tt_rtask,
 * tt_rframe) plus already-resolved strings, so the crash handler can
 * use it from a signal handler with strings it fetched itself. */
#ifndef TASKTRACE_FORMAT_H
#define TASKTRACE_FORMAT_H

#include "tasktrace/api.h"

#include <stddef.h>
#include <stdint.h>

#include "tasktrace/read/reader.h"

/* An append-only line buffer.  Appends past the end are dropped; the
 * text stays NUL-terminated.  COL counts characters for column padding. */
typedef struct tt_fbuf {
	char *p;
	size_t len, cap;
} tt_fbuf;

TT_API void tt_fb_init(tt_fbuf *b, char *mem, size_t cap);
TT_API void tt_fb_str(tt_fbuf *b, const char *s);
/* Untrusted text from the target (a name, a file, a message quoting
 * them): control characters and invalid UTF-8 are shown as \xHH per
 * byte and a backslash as \\, so a task name cannot drive the terminal;
 * valid UTF-8 is kept.  NULL prints "??". */
TT_API void tt_fb_text(tt_fbuf *b, const char *s);
TT_API void tt_fb_u64(tt_fbuf *b, uint64_t v);
TT_API void tt_fb_hex(tt_fbuf *b, uint64_t v);
/* Pad with spaces to column COL, always at least one space. */
TT_API void tt_fb_pad(tt_fbuf *b, size_t col);

/* 850ms, 12.3s, 3m12s, 2h5m (and 420us, 75ns below a millisecond). */
TT_API void tt_fmt_duration(tt_fbuf *b, uint64_t ns);

/* One task as every front end sees it, built from whatever reader layer
 * the caller has.  Strings may be NULL when unknown. */
typedef struct tt_fmt_task {
	const tt_rtask *task;
	const tt_rframe *leaf;  /* innermost awaited frame, NULL if none */
	const char *where_func; /* innermost async function with a site */
	const char *where_file;
	uint32_t where_line;
	int64_t tid;        /* thread of the worker running it, -1 unknown */
	const char *error;  /* one line when the chain is incomplete */
	int selected;       /* gdb's selected task: '*' in the ps row */
	/* TT_R_TORN (it kept changing while read) or TT_R_INCONSISTENT (it
	 * contradicts the registry): the record is no task's state, so no
	 * state, wait or where is shown, only the error; else 0. */
	int bad_record;
	/* Several runtimes, fork (tt_runtimes): the task's runtime is
	 * named where the target has more than one; a task copied from the
	 * parent by fork is marked, and its worker has no thread here. */
	uint64_t runtime_id;
	uint32_t runtimes;	 /* distinct runtimes in the target */
	uint64_t inherited_from; /* the parent's pid for such a task, else 0 */
	int labels; /* the ps row ends with the task's labels (ps --labels) */
} tt_fmt_task;

/* A worker as every reader names it: "1", or "2.1" (runtime 2's worker
 * 1) when the target has SEVERAL runtimes; "?" for a negative INDEX. */
TT_API void tt_fmt_worker(tt_fbuf *b, uint64_t runtime_id, int64_t index, int several);
/* The one line said about a registry copied by fork (RT->inherited_from
 * set): whose tasks they are, all of them or those of which runtimes. */
TT_API void tt_fmt_fork_note(tt_fbuf *b, const tt_runtimes *rt);

/* "idle", "running", plus markers: "idle cancelling", "idle system",
 * "idle inherited"; "torn" or "invalid" alone for a bad record
 * (bad_record). */
TT_API void tt_fmt_state(tt_fbuf *b, const tt_fmt_task *v);
/* ps wording: "channel recv 3m12s", "timer 59m58s left", "runnable
 * 1.2s"; "-" when there is no wait.  (tree, like bt's header, also names
 * a named object: "channel recv \"jobs\" 3m12s".) */
TT_API void tt_fmt_wait_short(tt_fbuf *b, const tt_fmt_task *v, uint64_t now);
/* "await_reply at samples/hung.c:28", "running on worker 1 (tid 42)". */
TT_API void tt_fmt_where(tt_fbuf *b, const tt_fmt_task *v);

/* The task's labels, `{request_id=42 route=/users}`, keys and values
 * through the sanitiser; ` ...` ends a list the reader cut, ` ?` one it
 * found damaged; nothing for a task without labels. */
TT_API void tt_fmt_labels(tt_fbuf *b, const tt_rtask *t);

/* A histogram bucket of §5.13 as words: "<1ms", "16-32ms", "512ms-1s",
 * ">=16s" (the last of N buckets is open). */
TT_API void tt_fmt_hist_bucket(tt_fbuf *b, uint32_t i, uint32_t n);
/* The bucket the P-th percentile (1..100) falls in, or -1 when H counts
 * nothing. */
TT_API int tt_hist_percentile(const uint32_t *h, uint32_t n, uint32_t p);
/* `<1ms 40, 16-32ms 5; p50 <1ms, p99 16-32ms`: the buckets in use, then
 * the median and the 99th percentile; nothing for an empty histogram. */
TT_API void tt_fmt_hist(tt_fbuf *b, const uint32_t *h, uint32_t n);
/* Whether H counts anything from THRESHOLD_BUCKET up (bt shows a
 * histogram only then: one tick of the coarse clock is 1-4 ms, so the
 * low buckets hold polls that merely crossed a tick). */
TT_API int tt_hist_reaches(const uint32_t *h, uint32_t n, uint32_t threshold_bucket);
/* bt's (and the crash log's) threshold: 8 ms, two ticks at the least. */
#define TT_HIST_BT_BUCKET 4u

/* ps and gdb's `info tasks`, laid out like `info threads`: the header
 * line and one row (no newlines, no trailing blanks); with v->labels the
 * row ends with the labels, after two spaces. */
TT_API void tt_fmt_ps_header(tt_fbuf *b);
TT_API void tt_fmt_ps_row(tt_fbuf *b, const tt_fmt_task *v, uint64_t now);

/* bt: `task 7 "fetch-user" {tenant=acme} [channel recv, 3m12s]:` */
TT_API void tt_fmt_bt_header(tt_fbuf *b, const tt_fmt_task *v, uint64_t now);
/* `#0  <running on worker 1, tid 42>` */
TT_API void tt_fmt_bt_running(tt_fbuf *b, int num, const tt_fmt_task *v);
/* One frame line.  NUM < 0 prints no number (a non-awaited branch of a
 * combinator), INDENT spaces go first.  FUNC is the async function name;
 * SITE may be NULL; RETURNED: its site is a DONE site ("returned");
 * OWNER_NAME names the task a join/lock waits on. */
TT_API void tt_fmt_bt_frame(tt_fbuf *b, int num, int indent, const tt_rframe *f, const char *func,
			    const char *site_file, uint32_t site_line, int returned,
			    const char *owner_name, uint64_t now);
/* What a leaf waits on: `waits on notify 0x55d0c0a0 [for 3m12s]`. */
TT_API void tt_fmt_leaf_wait(tt_fbuf *b, const tt_rframe *f, const char *owner_name, uint64_t now);
/* `spawned by task 1 "block_on" at samples/hung.c:141 (server_main_poll)`;
 * PARENT_NAME NULL when the parent is gone; FILE NULL when no site. */
TT_API void tt_fmt_ancestor(tt_fbuf *b, uint64_t parent_id, const char *parent_name,
			    const char *file, uint32_t line, const char *function);
/* tree: `7 "fetch-user" {tenant=acme} idle [channel recv 3m12s]` after
 * INDENT spaces. */
TT_API void tt_fmt_tree_node(tt_fbuf *b, int indent, const tt_fmt_task *v, uint64_t now);

/* An error message without the reader's "task N: " prefix (the task is
 * already named where it is printed). */
TT_API const char *tt_fmt_strip_task_prefix(const char *msg);

/* A frame of a real stack, like gdb's: `#3  0x7f12... in sleep () at
 * FILE:LINE`, `... from MODULE` without line information; an INLINED
 * frame has no address and ends with ` [inlined]`.  FUNC NULL prints ??. */
TT_API void tt_fmt_bt_native(tt_fbuf *b, int num, uint64_t pc, int inlined, const char *func,
			     const char *file, uint32_t line, const char *module);

/* A thread's system call in words, from the text of
 * /proc/PID/task/TID/syscall (LINE) and wchan (WCHAN, may be NULL):
 * "blocked in read(5, ...) (wchan pipe_read)", "running (not in a system
 * call)".  Returns 1 when it names a system call.  The common calls are
 * named (tt_syscall_name, NULL for others); an fd argument is decimal. */
TT_API int tt_fmt_syscall(tt_fbuf *b, const char *line, const char *wchan);
TT_API const char *tt_syscall_name(long nr);

/* A thread's system call as data: what tt_fmt_syscall words, from the
 * /proc line (tt_syscall_parse) or from the registers a core or gdb has
 * (tt_syscall_from_regs), for the text and the JSON to say the same. */
enum tt_syscall_state {
	TT_SC_UNKNOWN = 0,   /* no information */
	TT_SC_RUNNING = 1,   /* running (a live thread not stopped) */
	TT_SC_NONE = 2,	     /* stopped outside a system call */
	TT_SC_BLOCKED = 3,   /* in system call NR, or interrupted in it by the stop */
	TT_SC_RETURNING = 4, /* stopped as NR returned RET */
};
typedef struct tt_syscall {
	int32_t state; /* tt_syscall_state */
	int32_t pad_;
	int64_t nr;
	uint64_t args[6];
	int64_t ret;
} tt_syscall;
/* Parse the text of /proc/PID/task/TID/syscall into OUT; LINE NULL or
 * empty is TT_SC_UNKNOWN.  Returns OUT->state. */
TT_API int tt_syscall_parse(const char *line, tt_syscall *out);
/* From a stopped thread's registers (x86-64: orig_rax, rax and the six
 * argument registers; aarch64 and others: the same roles): ORIG_AX < 0 is
 * no system call; AX a -ERESTART* code or -EINTR is a call the stop
 * interrupted (blocked in it); any other AX is the value it returns.
 * Returns OUT->state. */
TT_API int tt_syscall_from_regs(int64_t orig_ax, int64_t ax, const uint64_t args[6],
				tt_syscall *out);
/* SC in words, as tt_fmt_syscall.  Returns 1 when it names a call. */
TT_API int tt_fmt_syscall_of(tt_fbuf *b, const tt_syscall *sc, const char *wchan);
/* The word of SC's state in JSON: "unknown", "running", "none",
 * "blocked", "returning". */
TT_API const char *tt_syscall_state_word(int state);

#endif
