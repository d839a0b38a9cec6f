/* tasktrace top: the live task list.  One model samples the target and
 * works out each task's rates between two samples of it (top_model.c),
 * filters and sorts the rows (top_view.c) and words them (top_words.c);
 * batch mode (top_batch.c) prints it
 * frame by frame, the interactive view (top_ui.c) draws it with ncurses. */
#ifndef TASKTRACE_CLI_TOP_H
#define TASKTRACE_CLI_TOP_H

#include <regex.h>
#include <stdint.h>

#include "cli.h"
#include "tasktrace/read/diagnose.h"

/* The columns, in the order shown.  XX(NAME, header, width): WIDTH 0 is
 * the last, variable-width column. */
#define TOP_COLUMN_MAP(XX)      \
	XX(ID, "ID", 7)         \
	XX(NAME, "NAME", 17)    \
	XX(STATE, "STATE", 10)  \
	XX(WAIT, "WAIT", 24)    \
	XX(BUSY, "BUSY%", 7)    \
	XX(POLLS, "POLLS/S", 9) \
	XX(WAKES, "WAKES/S", 9) \
	XX(P50, "P50", 10)      \
	XX(P99, "P99", 10)      \
	XX(SCHED, "SCHED", 10)  \
	XX(WHERE, "WHERE", 0)

enum top_col {
#define XX(name, head, width) TOP_COL_##name,
	TOP_COLUMN_MAP(XX)
#undef XX
	    TOP_COL_MAX_
};
extern const char *const top_col_head[TOP_COL_MAX_];

/* The share of a core the diagnosis may take (top_model.c diagnose). */
#define TOP_DIAG_SHARE 0.01

/* A task's numbers over the interval between two samples of it. */
typedef struct top_row {
	const tt_stask *t; /* into the model's snapshot, valid until the next sample */
	int rated;	   /* the task was in the sample before: the rates are known */
	int bad;	   /* torn or inconsistent: no state, wait or rates shown */
	int finding;	   /* a finding of the diagnosis names it */
	double busy_pct, polls_s, wakes_s;
	/* top_row_keys: worked out for the rows shown, or all when sorted by them */
	int p50, p99, sched_p50; /* histogram buckets (tt_fmt_hist_bucket), -1 none */
	uint64_t wait_ns;	 /* how long it has waited (idle) or been runnable */
	const char *where;	 /* sorted by where: its function's name, "" */
} top_row;

/* What the model keeps of a task from one sample to the next. */
typedef struct top_prev {
	uint64_t id, created_ns, spawn_site;
	uint64_t polls, busy_ns, wakes; /* busy_ns: with the poll under way */
} top_prev;

typedef struct top_model {
	cli_session *s;
	const cli_opts *o;
	tt_snapshot *snap;	      /* s->snap, brought up to date by each sample */
	uint64_t now_ns, prev_now_ns; /* the target's clock at this sample and the one before */
	uint64_t frames;	      /* samples taken */
	top_prev *prev;		      /* the sample before, sorted by id */
	size_t nprev;
	top_row *rows; /* every task of the sample (--all: the system ones too) */
	size_t nrows, rows_cap;
	size_t *order; /* the rows shown: filtered, sorted */
	size_t nshown;
	/* the header */
	size_t by_state[TT_STATE_CANCELLED + 1];
	size_t nbad; /* torn or inconsistent records this sample */
	double polls_s, wakes_s;
	unsigned workers_busy, workers;
	tt_diag_report *diag;		     /* the findings, NULL */
	uint64_t diag_now_ns;		     /* the target's clock when they were made */
	uint64_t diag_mono_ns, diag_cost_ns; /* our clock then, and their CPU */
	uint64_t *diag_ids;		     /* the ids they name, sorted */
	size_t ndiag_ids;
	size_t prev_at; /* find_prev's cursor */
	/* the view */
	int sort_col, reverse;
	int state; /* TT_STATE_* shown, -1 every one */
	char filter[128];
	regex_t re;
	int have_re;
	int ended; /* the target exited or its registry went: the last frame stays */
	char ended_msg[320];
} top_model;

/* A model on session S (opened, with its first snapshot).  0 or -1. */
int top_model_init(top_model *m, cli_session *s, const cli_opts *o);
void top_model_free(top_model *m);
/* Take a sample: bring the snapshot up to date, compute the rows and
 * their rates against the sample before, the header and the findings,
 * then filter and sort.  Returns 0, or -1 when the target cannot be read
 * any more (M->ended set, M->ended_msg says why, the last rows kept). */
int top_sample(top_model *m);
/* R's histogram percentiles and wait duration. */
void top_row_keys(const top_model *m, top_row *r);
/* Does column COL sort biggest first (numbers) rather than in order? */
int top_col_descends(int col);
/* Filter and sort again (after a key changed the view). */
void top_model_view(top_model *m);
/* Set the filter regex (name, labels, where); "" clears it.  0, or -1
 * with ERR when the regex does not compile (the old one stays). */
int top_set_filter(top_model *m, const char *re, char *err, size_t errlen);

/* The header lines, without newlines: LINE 0 the tasks by state, LINE 1
 * the rates, workers and findings; the column heads are top_fmt_heads. */
void top_fmt_header(const top_model *m, int line, tt_fbuf *b);
void top_fmt_heads(const top_model *m, tt_fbuf *b);
/* Row R as text (the columns of TOP_COLUMN_MAP). */
void top_fmt_row(const top_model *m, const top_row *r, tt_fbuf *b);
/* One column of R: what the text row and the JSON say. */
void top_fmt_cell(const top_model *m, const top_row *r, int col, tt_fbuf *b);

/* The text panes (top_detail.c), malloc'd (NULL: out of memory): task
 * ID's detail (bt's chain and ancestry, its histograms as bars, its last
 * events from the flight recorder), the findings, and the tasks grouped
 * by await chain, or by label LABEL_KEY when not NULL or "" (ps --group). */
char *top_detail_text(top_model *m, uint64_t id);
char *top_findings_text(top_model *m);
char *top_groups_text(top_model *m, const char *label_key);

/* Batch mode (top_batch.c): N frames (0: until interrupted) every
 * INTERVAL_NS, as text or JSON (o->json).  Returns the exit code. */
int top_batch(top_model *m, uint64_t n, uint64_t interval_ns);
/* The interactive view (top_ui.c).  Returns the exit code. */
int top_ui(top_model *m, uint64_t interval_ns);
/* Sleep until the monotonic clock reaches DEADLINE_NS (or a signal). */
void top_sleep_until(uint64_t deadline_ns);
uint64_t top_mono_ns(void);

#endif
