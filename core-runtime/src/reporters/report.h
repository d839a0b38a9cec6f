/* In-process reports (crash log, dump on demand): this process's registry
 * read through the reader's core layer over tt_mem_self, written to an fd
 * with the words of format.c.
 *
 * Everything here is async-signal-safe: no malloc (scratch memory is
 * mmap'd), no stdio, no locks, no recursion; a bad pointer in the
 * registry is a failed process_vm_readv, never a fault. */
#ifndef TT_REPORT_H
#define TT_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "reader/reader_priv.h"
#include "tasktrace/read/format.h"

/* ---- a budgeted writer ---- */

typedef struct tt_rout {
	int fd;
	size_t written; /* bytes handed to write(2) */
	size_t cap;     /* never write more than this in total */
	size_t limit;   /* end of the current section (<= cap) */
	size_t len;
	char *buf;   /* small, or a larger buffer of tt_rout_set_buffer */
	size_t size; /* of buf */
	char small[4096];
} tt_rout;

void tt_rout_init(tt_rout *o, int fd, size_t cap);
/* Buffer in MEM (SIZE bytes, kept valid until the last flush) instead of
 * the 4 KiB inside O: fewer write(2) calls for long reports.  Flushes
 * what O holds first. */
void tt_rout_set_buffer(tt_rout *o, char *mem, size_t size);
/* The next lines may use at most N more bytes (and never beyond the cap
 * minus RESERVE, kept for the lines that close the report). */
void tt_rout_section(tt_rout *o, size_t n, size_t reserve);
/* Write S and a newline if it fits the section; returns 0 when dropped. */
int tt_rout_line(tt_rout *o, const char *s);
/* A line of N bytes at S (S need not end in NUL), as tt_rout_line. */
int tt_rout_put(tt_rout *o, const char *s, size_t n);
/* The same, ignoring the section limit (still within the total cap). */
int tt_rout_force(tt_rout *o, const char *s);
void tt_rout_flush(tt_rout *o);

/* ---- where a report goes ---- */

/* The fd a handler's report was set up for, as that fd was at install:
 * the report is written there only while the fd is still that file (a
 * program that closed stderr may have opened a data file that got fd 2).
 * Else it goes to a new file, DIR/tasktrace-KIND-PID.log. */
typedef struct tt_rdest {
	int fd;
	int known; /* FD was open at install */
	dev_t dev;
	ino_t ino;
	const char *kind; /* "crash", "dump" */
	unsigned next;	  /* suffix to try first for the next new file */
	char dir[512];	  /* $TASKTRACE_CRASH_DIR, else /tmp */
} tt_rdest;

/* At install (not async-signal-safe: reads the environment). */
void tt_rdest_init(tt_rdest *d, int fd, const char *kind);
/* Is D's fd still the file it was at install? */
int tt_rdest_same(const tt_rdest *d);
/* In the handler: the fd to write on, -1 for nowhere.  When it is not
 * d->fd, NOTE (LEN bytes) gets the line that says why and where the
 * report went, and the caller closes the fd; else NOTE is "". */
int tt_rdest_open(tt_rdest *d, char *note, size_t len);

/* ---- this process's registry ---- */

/* A task in the id index: enough to name owners and walk ancestry. */
typedef struct tt_rep_ent {
	uint64_t id;
	uint64_t parent_id;
	uint64_t spawn_site;
	uint64_t slot;
	uint32_t flags;
	uint32_t state;
	char name[TT_TASK_NAME_MAX];
} tt_rep_ent;

/* Resolved FUNC/SITE records (the reader's tt_rsym_cache): they are
 * static const data, so caching them is always right, and it spares a
 * dump of 10k tasks most reads. */
typedef tt_rsym tt_rep_sym;

#define TT_REP_SYMS 256
#define TT_REP_FRAMES 4096
#define TT_REP_WORKERS 256
#define TT_REP_BULK 16 /* slots of the largest record size per read */

typedef struct tt_rep {
	tt_reader r;
	uint64_t now;
	tt_rep_ent *ents; /* sorted by id */
	size_t nents, capents;
	size_t ents_bytes;
	tt_rsym_cache funcs, sites; /* two, so a frame holds one of each */
	tt_rsym func_ents[TT_REP_SYMS], site_ents[TT_REP_SYMS];
	tt_rframe frames[TT_REP_FRAMES];
	size_t path[TT_REP_FRAMES];
	tt_rworker workers[TT_REP_WORKERS]; /* live ones: a task's thread is (runtime, index)'s */
	uint32_t nworkers;
	tt_runtimes runtimes; /* several runtimes named; a fork's copies marked */
	unsigned char bulk[TT_REP_BULK * TT_R_TASK_MAX];
	char line[1024];
	char out[1 << 16]; /* for tt_rout_set_buffer */
	struct tt_rep_batch *batch; /* of tt_rep_bt_all, mapped on first use */
} tt_rep;

/* Map a context and open this process's registry.  Returns NULL when
 * memory cannot be mapped or the registry does not decode (ERR gets one
 * line).  WITH_INDEX builds the id index (names of owners, ancestry). */
tt_rep *tt_rep_open(int with_index, char *err, size_t errlen);
void tt_rep_close(tt_rep *p);

const tt_rep_ent *tt_rep_find(const tt_rep *p, uint64_t id);
/* Read one task (seqlock, retried) at SLOT. */
int tt_rep_task(tt_rep *p, uint64_t slot, tt_rtask *out);
/* Walk T's frames into p->frames; returns the count (error in *ERR, one
 * line in p->r.err).  T is read again if it changed meanwhile. */
size_t tt_rep_walk(tt_rep *p, tt_rtask *t, int *err);
const tt_rep_sym *tt_rep_func(tt_rep *p, uint64_t addr);
const tt_rep_sym *tt_rep_site(tt_rep *p, uint64_t addr);

/* The task as `tasktrace bt` prints it: header, frames innermost first,
 * combinator branches, an error line, its ancestry.  Returns 0 if some
 * line did not fit. */
int tt_rep_bt(tt_rep *p, tt_rout *o, tt_rtask *t);
/* Every task as tt_rep_bt prints it, in slot order, each after a line
 * BEFORE (when non-NULL).  Tasks are read a batch at a time and the
 * seqlock of a batch is checked with one read after all its chains are
 * walked, instead of one read per task; a task that moved meanwhile, or
 * whose chain did not decode, goes through tt_rep_bt.  Returns the number
 * of tasks printed. */
int tt_rep_bt_all(tt_rep *p, tt_rout *o, const char *before);
/* The last TT_REP_HISTORY events of task ID from the flight recorder, in
 * the words of `tasktrace history`, after a heading line; returns how
 * many (0: no recorder, or no event of the task: nothing printed). */
#define TT_REP_HISTORY 8
int tt_rep_history(tt_rep *p, tt_rout *o, uint64_t id);
/* One `tasktrace ps` row. */
int tt_rep_ps_row(tt_rep *p, tt_rout *o, tt_rtask *t);

/* Iterate occupied slots in bulk: call with *STATE zeroed first. */
typedef struct tt_rep_iter {
	uint32_t chunk, nchunks;
	uint64_t slot, count, slots, total;
	uint32_t inbulk, bulkpos;
	int started;
} tt_rep_iter;
/* 1 with a task in OUT, 0 at the end. */
int tt_rep_next(tt_rep *p, tt_rep_iter *it, tt_rtask *out);

#endif
