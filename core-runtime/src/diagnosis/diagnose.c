/* The diagnosis engine (diagnose.h): rules over one snapshot.
 *
 * Every rule errs towards silence: a finding must be something a user
 * should act on, so a hung-looking but legitimate state (a long sleep, a
 * task being polled right now, a chain that could not be read) is never
 * reported as a bug.  The words come from format.c so gdb, the CLI and
 * the watchdog say the same thing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnosis/last_wake.h"
#include "wording/chain.h"
#include "wording/strbuf.h"
#include "wording/waits.h"
#include "tasktrace/read/diagnose.h"
#include "tasktrace/read/format.h"
#include "tasktrace/read/tasklist.h"

#define MS 1000000ull
#define SEC 1000000000ull

struct tt_diag_priv {
	char **strings; /* every allocated text, freed with the report */
	size_t nstrings, capstrings;
	uint64_t **cycles;
	size_t ncycles, capcycles;
};

/* A line of at most 1 KiB built with format.c, appended with a newline. */
typedef struct line {
	tt_fbuf fb;
	char mem[1024];
} line;

static tt_fbuf *line_start(line *l)
{
	tt_fb_init(&l->fb, l->mem, sizeof(l->mem));
	return &l->fb;
}

static void line_end(sb *b, line *l)
{
	sb_add(b, l->mem);
	sb_add(b, "\n");
}

/* The closing "  -> ..." line of a finding. */
static void advise(sb *b, const char *advice)
{
	sb_add(b, "  -> ");
	sb_add(b, advice);
	sb_add(b, "\n");
}

static const char *const kind_advice[TT_DIAG_KIND_MAX_] = {
#define XX(name, value, word, advice) [value] = advice,
	TT_DIAG_KIND_MAP(XX)
#undef XX
};

/* "deadlock: " */
static void title_start(tt_fbuf *fb, uint32_t kind)
{
	tt_fb_str(fb, tt_diag_kind_name(kind));
	tt_fb_str(fb, ": ");
}

/* ---- views of a task ---- */

typedef struct tview {
	const tt_stask *t;
	const tt_sframe *leaf;  /* end of the awaited path */
	const tt_sframe *where; /* innermost async frame with a site */
	int combinator;         /* a combinator on the awaited path */
} tview;

static void view(const tt_stask *t, tview *v)
{
	tt_rpath_ends e;

	memset(v, 0, sizeof(*v));
	v->t = t;
	if (!t->nframes)
		return;
	tt_frames_path_ends(&t->frames[0].raw, sizeof(*t->frames), t->nframes, &e);
	v->leaf = &t->frames[e.leaf];
	v->where = e.where != SIZE_MAX && t->frames[e.where].site ? &t->frames[e.where] : NULL;
	v->combinator = e.combinator;
}

static int leaf_waits(const tview *v)
{
	return v->leaf && v->leaf->raw.kind == TT_FUNC_KIND_LEAF &&
	       v->leaf->raw.wait_kind != TT_WAIT_NONE;
}

static void task_ref(tt_fbuf *b, uint64_t id, const tt_snapshot *s)
{
	const tt_stask *t = tt_snapshot_find(s, id);

	tt_fb_str(b, "task ");
	tt_fb_u64(b, id);
	if (t) {
		tt_fb_str(b, " \"");
		tt_fb_text(b, t->raw.name);
		tt_fb_str(b, "\"");
		if (t->raw.nlabels || t->raw.label_flags) {
			tt_fb_str(b, " ");
			tt_fmt_labels(b, &t->raw);
		}
	}
}

static const char *owner_name(const tt_snapshot *s, uint64_t id)
{
	const tt_stask *t = id ? tt_snapshot_find(s, id) : NULL;
	return t ? t->raw.name : NULL;
}

/* " at samples/x.c:12 (func)" for the innermost async frame. */
static void at_where(tt_fbuf *b, const tview *v)
{
	if (!v->where)
		return;
	tt_fb_str(b, " at ");
	tt_fb_text(b, v->where->site->file);
	tt_fb_str(b, ":");
	tt_fb_u64(b, v->where->site->line);
	tt_fb_str(b, " (");
	tt_fb_text(b, v->where->func->name);
	tt_fb_str(b, ")");
}

/* "waits on notify 0x55.. [for 3.1s] at samples/hung.c:34 (await_reply)" */
static void wait_evidence(tt_fbuf *b, const tview *v, const tt_snapshot *s,
			  uint64_t now)
{
	if (leaf_waits(v)) {
		tt_fmt_leaf_wait(b, &v->leaf->raw,
				 owner_name(s, v->leaf->raw.wait_owner), now);
		tt_fb_str(b, " in ");
		tt_fb_text(b, v->leaf->func->name);
	} else {
		tt_fb_str(b, "suspended (no wait recorded)");
	}
	at_where(b, v);
}

/* ---- the report being built ---- */

typedef struct build {
	const tt_snapshot *s;
	const tt_diag_opts *o;
	uint64_t now;
	tt_diag_report *r;
	size_t cap;
	uint8_t *flagged; /* per task: has a strong finding already */
	uint64_t *woken;  /* hand-off objects with a woken waiter, sorted */
	size_t nwoken;
	int woken_known;
	int torn_seen; /* a task kept changing while read: it may be one */
	tt_reader *rr; /* opened on o->recheck at the first second look */
	int rr_failed;
	tt_snapshot *again; /* the registry read again in bulk (second_look) */
	int oom;
	/* Per task, worked out once (the rules look at each task several
	 * times; at 100k tasks that was most of a watchdog round). */
	tview *views;
	uint8_t *cons; /* T_* bits */
	/* tt_diagnose_update: the snapshot whose memo words say, per task
	 * kept since the last round, when it could first make a finding. */
	tt_snapshot *ms;
	int no_edges;  /* no considered task waits on a task: no cycle to look for */
	size_t *running; /* the considered tasks that read as running */
	size_t nrunning;
	tt_last_wake *quotes; /* findings to quote the flight recorder in */
	size_t nquotes, capquotes;
} build;

/* The bits of build.cons, per task. */
enum {
	T_CONSIDERED = 1,
	T_VIEWED = 2, /* its view is in the table */
	T_EDGES = 4,  /* it waits on tasks */
	T_SKIP = 8,   /* kept, and it cannot make a finding before a time to come */
};

/* T's view, from the table when there is one (worked out at the first
 * look: a task skipped this round is usually never looked at). */
static void tv(const build *b, const tt_stask *t, tview *v)
{
	size_t i = (size_t)(t - b->s->tasks);

	if (!b->views) {
		view(t, v);
		return;
	}
	if (!(b->cons[i] & T_VIEWED)) {
		view(t, &b->views[i]);
		b->cons[i] |= T_VIEWED;
	}
	*v = b->views[i];
}

static char *keep(build *b, char *p)
{
	struct tt_diag_priv *pv = b->r->priv_;

	if (!p) {
		b->oom = 1;
		return NULL;
	}
	if (pv->nstrings == pv->capstrings) {
		size_t cap = pv->capstrings ? 2 * pv->capstrings : 16;
		char **n = realloc(pv->strings, cap * sizeof(*n));
		if (!n) {
			free(p);
			b->oom = 1;
			return NULL;
		}
		pv->strings = n;
		pv->capstrings = cap;
	}
	pv->strings[pv->nstrings++] = p;
	return p;
}

/* Keep IDS with the report (freed with it); 0 when it could not. */
static int keep_ids(build *b, uint64_t *ids)
{
	struct tt_diag_priv *pv = b->r->priv_;

	if (pv->ncycles == pv->capcycles) {
		size_t cap = pv->capcycles ? 2 * pv->capcycles : 4;
		uint64_t **c = realloc(pv->cycles, cap * sizeof(*c));
		if (!c)
			return 0;
		pv->cycles = c;
		pv->capcycles = cap;
	}
	pv->cycles[pv->ncycles++] = ids;
	return 1;
}

static tt_diag_finding *add(build *b, uint32_t kind, uint64_t task,
			    uint64_t other, uint64_t age, sb *text)
{
	tt_diag_report *r = b->r;
	tt_diag_finding *f;

	if (text->oom || !text->p) {
		free(text->p);
		b->oom = 1;
		return NULL;
	}
	if (r->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 16;
		tt_diag_finding *n = realloc(r->findings, cap * sizeof(*n));
		if (!n) {
			free(text->p);
			b->oom = 1;
			return NULL;
		}
		r->findings = n;
		b->cap = cap;
	}
	char *t = keep(b, text->p);
	if (!t)
		return NULL;
	/* The title is the text's first line. */
	char *nl = strchr(t, '\n');
	size_t tl = nl ? (size_t)(nl - t) : strlen(t);
	char *title = malloc(tl + 1);
	if (title) {
		memcpy(title, t, tl);
		title[tl] = 0;
	}
	if (!keep(b, title))
		return NULL;
	f = &r->findings[r->n++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->task_id = task;
	f->other_id = other;
	f->age_ns = age;
	f->text = t;
	f->title = title;
	f->count = 1;
	return f;
}

static int considered_(const build *b, const tt_stask *t)
{
	if (!t->raw.id)
		return 0;
	if (!b->o->all && (t->raw.flags & TT_TASKF_SYSTEM))
		return 0;
	/* A fork's copy of the parent's tasks: frozen, their threads are
	 * not in this process, and nothing about them is a finding here. */
	if (tt_runtimes_inherited(&b->s->runtimes, t->raw.runtime_id))
		return 0;
	return !b->o->runtime_id || t->raw.runtime_id == b->o->runtime_id;
}

static int considered(const build *b, const tt_stask *t)
{
	return b->cons ? b->cons[t - b->s->tasks] & T_CONSIDERED : considered_(b, t);
}

static size_t edges_of(const build *b, const tt_stask *t, tview *v, uint64_t out[TT_RHOLDERS_MAX]);

/* Ask for task I+8's entry and task I+4's first frames early: a pass over
 * 100k tasks is otherwise one cache miss after another (the entries are
 * 576 bytes apart, the frames elsewhere). */
static int skipped(const build *b, size_t i)
{
	return b->cons && (b->cons[i] & T_SKIP);
}

static void prefetch_task(const build *b, size_t i)
{
	const tt_snapshot *s = b->s;

	/* A task skipped this round is not even touched. */
	if (i + 8 < s->ntasks && !skipped(b, i + 8)) {
		__builtin_prefetch(&s->tasks[i + 8].raw);
		__builtin_prefetch(&s->tasks[i + 8].frames);
	}
	if (i + 4 < s->ntasks && !skipped(b, i + 4) && s->tasks[i + 4].frames) {
		const char *f = (const char *)s->tasks[i + 4].frames;
		__builtin_prefetch(f);
		__builtin_prefetch(f + sizeof(tt_sframe));
		__builtin_prefetch(f + sizeof(tt_sframe) + 64);
	}
}

/* ---- what a round may skip (tt_diagnose_update) ----
 *
 * Most findings about a task depend on it alone and on the time: idle
 * past a threshold, a lost waker, woken and not polled.  A task whose
 * slot reads byte for byte as last round (tt_snapshot_memo) can make none
 * of those before the time the rules worked out last round: its word
 * says when, and whether the task is considered.  Only tasks the rules
 * judge by themselves and the clock get one: not a task that waits on
 * tasks (a cycle), one being polled, one whose wait ends with another
 * task (never resolved), nor one read with an error. */

#define NEVER UINT64_MAX
#define MEMO_SET (1ull << 63)
#define MEMO_CONS (1ull << 62)
#define MEMO_DUE (MEMO_CONS - 1) /* the due time; all ones: never */

/* The first NOW at which age(SINCE, NOW) >= LIMIT, SINCE 0 meaning
 * "no such time": 0 at once, or NEVER. */
static uint64_t due(uint64_t since, uint64_t limit)
{
	if (!since)
		return NEVER;
	if (!limit)
		return 0;
	return since > NEVER - limit ? NEVER : since + limit;
}

static int reached(uint64_t due_ns, uint64_t now)
{
	return due_ns != NEVER && now >= due_ns;
}

static uint64_t earlier(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* What the words mean: the options and figures the rules read besides
 * a task and the clock. */
static uint64_t memo_key(const build *b)
{
	const tt_diag_opts *o = b->o;
	const uint64_t v[] = {o->long_poll_ns,
			      o->starved_ns,
			      o->idle_ns,
			      o->idle_io_ns,
			      (uint64_t)o->all,
			      o->runtime_id,
			      b->s->flags,
			      b->s->runtimes.inherited_from,
			      b->s->runtimes.inherited_upto};
	uint64_t h = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		h = (h ^ v[i]) * 0xff51afd7ed558ccdull;
	return h | 1;
}

/* Task I's word after this round's look: the rules' earliest due time
 * NEXT (NEVER, or 0 for "every round"). */
static void memo_put(build *b, size_t i, uint64_t next)
{
	const tt_stask *t = &b->s->tasks[i];
	uint64_t w = 0;

	if (!b->ms)
		return;
	if (!(b->cons[i] & T_CONSIDERED))
		w = MEMO_SET | MEMO_DUE;
	else if (!t->error && !t->raw.running && t->raw.state != TT_STATE_RUNNING &&
		 !(b->cons[i] & T_EDGES) && next && (next == NEVER || next < MEMO_DUE))
		w = MEMO_SET | MEMO_CONS | (next == NEVER ? MEMO_DUE : next);
	tt_snapshot_set_memo(b->ms, i, w);
}

/* The per-task table (views, considered); without memory the rules work
 * them out each time. */
static void per_task(build *b)
{
	size_t n = b->s->ntasks;

	b->views = malloc((n ? n : 1) * sizeof(*b->views));
	b->cons = malloc(n ? n : 1);
	b->running = malloc((n ? n : 1) * sizeof(*b->running));
	if (!b->views || !b->cons || !b->running) {
		free(b->views);
		free(b->cons);
		free(b->running);
		b->views = NULL;
		b->cons = NULL;
		b->running = NULL;
		b->ms = NULL; /* every task looked at, none remembered */
		return;
	}
	/* The words first (compact): the look below skips, and does not
	 * prefetch, the tasks they let off. */
	int kept = b->ms && tt_snapshot_memo_key(b->ms, memo_key(b));
	for (size_t i = 0; i < n; i++) {
		uint64_t m = kept ? tt_snapshot_memo(b->ms, i) : 0;
		uint64_t d = (m & MEMO_DUE) == MEMO_DUE ? NEVER : m & MEMO_DUE;
		b->cons[i] = (m & MEMO_SET) && !reached(d, b->now)
				 ? (uint8_t)(T_SKIP | (m & MEMO_CONS ? T_CONSIDERED : 0))
				 : 0;
	}
	/* One pass: at 100k tasks each pass over them is a few ms of cache
	 * misses. */
	b->no_edges = 1;
	for (size_t i = 0; i < n; i++) {
		uint64_t to[TT_RHOLDERS_MAX];
		tview v;
		if (b->cons[i] & T_SKIP)
			continue;
		prefetch_task(b, i);
		view(&b->s->tasks[i], &b->views[i]);
		b->cons[i] =
		    (uint8_t)(T_VIEWED | (considered_(b, &b->s->tasks[i]) ? T_CONSIDERED : 0));
		if (!(b->cons[i] & T_CONSIDERED))
			continue;
		if (b->s->tasks[i].raw.state == TT_STATE_RUNNING)
			b->running[b->nrunning++] = i;
		if (edges_of(b, &b->s->tasks[i], &v, to)) {
			b->cons[i] |= T_EDGES;
			b->no_edges = 0;
		}
	}
}

static uint64_t age(uint64_t since, uint64_t now)
{
	return since && since <= now ? now - since : 0;
}

static int recording(const build *b)
{
	return (b->s->flags & TT_ROOTF_RECORDING) != 0;
}

/* ---- deadlock: cycles of the wait-for graph ---- */

/* The tasks that can end T's wait (its out-edges) into OUT, and their
 * number; 0 when T is not blocked on tasks: it is not idle, or a
 * combinator (select, join-all) on its path may complete through another
 * branch, or its wait names no task, or not every task that could end it
 * (an incomplete HOLDERS record): no false deadlocks. */
static size_t edges_of(const build *b, const tt_stask *t, tview *v, uint64_t out[TT_RHOLDERS_MAX])
{
	if (skipped(b, (size_t)(t - b->s->tasks)))
		return 0; /* it had none when its word was set */
	tv(b, t, v);
	if (t->error || t->raw.running || t->raw.state != TT_STATE_IDLE || v->combinator ||
	    !leaf_waits(v))
		return 0;
	const tt_rframe *f = &v->leaf->raw;
	switch (tt_fmt_wait_row(f->wait_kind)->edge) {
	case TT_WE_OWNER:
		out[0] = f->wait_owner;
		return f->wait_owner != 0;
	case TT_WE_HOLDERS:
		if (f->wait_holders_state != TT_RHOLD_COMPLETE ||
		    f->wait_nholders > TT_RHOLDERS_MAX)
			return 0;
		memcpy(out, f->wait_holders, f->wait_nholders * sizeof(*out));
		return f->wait_nholders;
	}
	return 0;
}

static int mutex_handed_on(build *b, uint64_t object);

/* An owner that has ended (or is gone) and that the never-resolved rule
 * would report for a wait of KIND on OBJECT: nothing will end the wait. */
static int ended_for_good(build *b, uint64_t id, uint32_t kind, uint64_t object)
{
	const tt_stask *o = tt_snapshot_find(b->s, id);
	const tt_wait_row *w = tt_fmt_wait_row(kind);

	if (!w->orphan)
		return 0;
	if (o && o->raw.state != TT_STATE_DONE && o->raw.state != TT_STATE_CANCELLED)
		return 0;
	if (!o && (!b->s->next_task_id || id >= b->s->next_task_id))
		return 0;
	return !(w->handoff && mutex_handed_on(b, object));
}

/* The wait-for graph of the considered tasks: task i's edges are
 * dst[start[i] .. start[i + 1]) (indices); BLOCKED[i]: i waits only on
 * tasks that are blocked themselves, transitively (a wait any one of
 * several tasks can end is blocked only while all of them are).  With
 * ENDED_OK an owner that ended for good counts as blocked (all asleep);
 * without, only cycles and what leads into them stay (deadlock). */
typedef struct graph {
	size_t *start, *dst;
	uint8_t *blocked;
} graph;

static void graph_free(graph *g)
{
	free(g->start);
	free(g->dst);
	free(g->blocked);
}

/* Reverse the edges into RSTART/RSRC and let every task that is not
 * blocked free the tasks waiting on it, transitively. */
static int graph_prune(graph *g, size_t n)
{
	size_t ne = g->start[n], qn = 0;
	size_t *rstart = calloc(n + 2, sizeof(*rstart));
	size_t *rsrc = calloc(ne ? ne : 1, sizeof(*rsrc));
	size_t *queue = calloc(n ? n : 1, sizeof(*queue));
	int ok = rstart && rsrc && queue;

	if (!ok)
		goto out;
	for (size_t e = 0; e < ne; e++)
		rstart[g->dst[e] + 2]++;
	for (size_t i = 0; i < n; i++)
		rstart[i + 2] += rstart[i + 1];
	for (size_t i = 0; i < n; i++)
		for (size_t e = g->start[i]; e < g->start[i + 1]; e++)
			rsrc[rstart[g->dst[e] + 1]++] = i;
	for (size_t i = 0; i < n; i++)
		if (!g->blocked[i])
			queue[qn++] = i;
	for (size_t q = 0; q < qn; q++)
		for (size_t e = rstart[queue[q]]; e < rstart[queue[q] + 1]; e++)
			if (g->blocked[rsrc[e]]) {
				g->blocked[rsrc[e]] = 0;
				queue[qn++] = rsrc[e];
			}
out:
	free(rstart);
	free(rsrc);
	free(queue);
	return ok;
}

static int graph_build(build *b, graph *g, int ended_ok)
{
	const tt_snapshot *s = b->s;
	size_t n = s->ntasks, ne = 0;
	uint64_t ids[TT_RHOLDERS_MAX];
	tview v;

	memset(g, 0, sizeof(*g));
	g->start = calloc(n + 1, sizeof(*g->start));
	g->dst = malloc((n ? n * TT_RHOLDERS_MAX : 1) * sizeof(*g->dst));
	g->blocked = calloc(n ? n : 1, 1);
	if (!g->start || !g->dst || !g->blocked)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		const tt_stask *t = &s->tasks[i];
		size_t k = considered(b, t) ? edges_of(b, t, &v, ids) : 0;
		int free_ = k == 0;

		g->start[i] = ne;
		for (size_t e = 0; e < k && !free_; e++) {
			const tt_stask *o = tt_snapshot_find(s, ids[e]);
			if (o && considered(b, o) && o->raw.state == TT_STATE_IDLE)
				g->dst[ne++] = (size_t)(o - s->tasks);
			else if (!ended_ok || !ended_for_good(b, ids[e], v.leaf->raw.wait_kind,
							      v.leaf->raw.wait_object))
				free_ = 1;
		}
		if (free_)
			ne = g->start[i];
		else
			g->blocked[i] = 1;
	}
	g->start[n] = ne;
	if (graph_prune(g, n))
		return 1;
oom:
	graph_free(g);
	b->oom = 1;
	return 0;
}

/* "waits on semaphore 0x.. held by task 1 "a" for 2s in tt_acquire at ..":
 * the edge to TO spelled out, whether it came from the wait's owner or
 * from its holders. */
static void edge_evidence(tt_fbuf *fb, const tview *v, const tt_snapshot *s, uint64_t now,
			  uint64_t to)
{
	tt_sframe leaf = *v->leaf;
	tview e = *v;

	leaf.raw.wait_owner = to;
	e.leaf = &leaf;
	wait_evidence(fb, &e, s, now);
}

/* KINDS: a bit per wait kind on the cycle.  The first kind with advice
 * of its own gives it. */
static const char *cycle_advice(uint32_t kinds)
{
	for (uint32_t k = 0; k < TT_WAIT_KIND_MAX_ && k < 32; k++) {
		const char *a = tt_fmt_wait_row(k)->cycle_advice;
		if ((kinds & (1u << k)) && a)
			return a;
	}
	return kind_advice[TT_DIAG_DEADLOCK];
}

static void deadlocks(build *b)
{
	if (b->no_edges)
		return;
	const tt_snapshot *s = b->s;
	size_t n = s->ntasks;
	uint64_t *next = calloc(n ? n : 1, sizeof(*next)); /* index + 1, 0 none */
	uint32_t *mark = calloc(n ? n : 1, sizeof(*mark)); /* walk number */
	tview v;
	graph g;

	if (!next || !mark) {
		b->oom = 1;
		goto out;
	}
	if (!graph_build(b, &g, 0))
		goto out;
	/* A blocked task waits only on blocked tasks: following one edge of
	 * each leads into a cycle of them. */
	for (size_t i = 0; i < n; i++)
		if (g.blocked[i])
			next[i] = (uint64_t)g.dst[g.start[i]] + 1;
	graph_free(&g);
	/* Follow the edges from every start, marking with the start's
	 * number; meeting our own mark closes a cycle, meeting an older one
	 * does not. */
	for (size_t st = 0; st < n; st++) {
		size_t i = st;
		if (mark[st] || !next[st])
			continue;
		while (!mark[i] && next[i]) {
			mark[i] = (uint32_t)st + 1;
			i = (size_t)next[i] - 1;
		}
		if (mark[i] != st + 1)
			continue;
		/* i is on a new cycle: list it from its smallest id. */
		size_t len = 0, lo = i;
		size_t j = i;
		do {
			len++;
			if (s->tasks[j].raw.id < s->tasks[lo].raw.id)
				lo = j;
			j = (size_t)next[j] - 1;
		} while (j != i && len <= n);
		uint64_t *ids = malloc(len * sizeof(*ids));
		sb text = { 0 };
		line l;
		tt_fbuf *fb;
		uint32_t kinds = 0;
		uint64_t oldest = 0;

		if (!ids) {
			b->oom = 1;
			break;
		}
		fb = line_start(&l);
		title_start(fb, TT_DIAG_DEADLOCK);
		tt_fb_u64(fb, len);
		tt_fb_str(fb, len == 1 ? " task waits on itself" :
					 " tasks wait on each other in a cycle");
		line_end(&text, &l);
		j = lo;
		for (size_t k = 0; k < len; k++) {
			const tt_stask *t = &s->tasks[j];
			tv(b, t, &v);
			ids[k] = t->raw.id;
			kinds |= 1u << (v.leaf->raw.wait_kind & 31);
			uint64_t a = age(v.leaf->raw.wait_since_ns, b->now);
			if (a && (!oldest || a < oldest))
				oldest = a;
			fb = line_start(&l);
			tt_fb_str(fb, "  ");
			task_ref(fb, t->raw.id, s);
			tt_fb_str(fb, " ");
			edge_evidence(fb, &v, s, b->now, s->tasks[next[j] - 1].raw.id);
			line_end(&text, &l);
			b->flagged[j] = 1;
			j = (size_t)next[j] - 1;
		}
		fb = line_start(&l);
		tt_fb_str(fb, "  (back to ");
		task_ref(fb, ids[0], s);
		tt_fb_str(fb, ")");
		line_end(&text, &l);
		advise(&text, cycle_advice(kinds));
		tt_diag_finding *f = add(b, TT_DIAG_DEADLOCK, ids[0],
					 len > 1 ? ids[1] : ids[0], oldest, &text);
		if (f && keep_ids(b, ids)) {
			f->cycle = ids;
			f->ncycle = (uint32_t)len;
		} else {
			free(ids);
		}
	}
out:
	free(next);
	free(mark);
}

/* ---- all asleep: Go's global rule ---- */

/* Tasks listed by name in an all-asleep finding; the rest are counted. */
#define ASLEEP_SHOWN 10

/* A considered task that has not ended (its slot may outlive it). */
static int live(const build *b, const tt_stask *t)
{
	return considered(b, t) && t->raw.state != TT_STATE_DONE &&
	       t->raw.state != TT_STATE_CANCELLED;
}

/* Every considered task is blocked on tasks (or on ones that ended for
 * good) and no worker is polling: nothing -- no timer, no fd, no blocking
 * call, no wake in flight -- can wake any of them.  Said once, with the
 * waits, unless the deadlocks found already name every task. */
static void all_asleep(build *b)
{
	const tt_snapshot *s = b->s;
	size_t n = s->ntasks, count = 0, cycled = 0;
	uint64_t *ids;
	graph g;

	for (size_t k = 0; k < s->nworkers; k++)
		if (s->workers[k].state == TT_WORKER_POLLING &&
		    (!b->o->runtime_id || s->workers[k].runtime_id == b->o->runtime_id))
			return;
	/* A live task that waits on no task (a timer, an fd, a notify) can
	 * be woken, and then not all are asleep: no graph needed. */
	for (size_t i = 0; i < n; i++) {
		uint64_t to[TT_RHOLDERS_MAX];
		tview v;
		if (live(b, &s->tasks[i]) && !edges_of(b, &s->tasks[i], &v, to))
			return;
	}
	if (!graph_build(b, &g, 1))
		return;
	for (size_t i = 0; i < n; i++) {
		if (!live(b, &s->tasks[i]))
			continue;
		if (!g.blocked[i]) {
			graph_free(&g);
			return;
		}
		count++;
		cycled += b->flagged[i];
	}
	if (!count || cycled == count || !(ids = malloc(count * sizeof(*ids)))) {
		graph_free(&g);
		return;
	}
	sb text = {0};
	line l;
	tt_fbuf *fb = line_start(&l);
	uint64_t oldest = 0, lo = UINT64_MAX;
	size_t k = 0;
	tview v;

	title_start(fb, TT_DIAG_ALL_ASLEEP);
	tt_fb_u64(fb, count);
	tt_fb_str(fb, count == 1 ? " task waits" : " tasks wait");
	tt_fb_str(fb, " and nothing can wake any of them");
	line_end(&text, &l);
	for (size_t i = 0; i < n; i++) {
		const tt_stask *t = &s->tasks[i];
		if (!live(b, t))
			continue;
		tv(b, t, &v);
		ids[k++] = t->raw.id;
		lo = t->raw.id < lo ? t->raw.id : lo;
		uint64_t a = age(v.leaf->raw.wait_since_ns, b->now);
		if (a && (!oldest || a < oldest))
			oldest = a;
		if (k > ASLEEP_SHOWN)
			continue;
		uint64_t to = g.start[i] < g.start[i + 1] ? s->tasks[g.dst[g.start[i]]].raw.id
							  : v.leaf->raw.wait_owner;
		if (!to && v.leaf->raw.wait_nholders)
			to = v.leaf->raw.wait_holders[0];
		fb = line_start(&l);
		tt_fb_str(fb, "  ");
		task_ref(fb, t->raw.id, s);
		tt_fb_str(fb, " ");
		edge_evidence(fb, &v, s, b->now, to);
		line_end(&text, &l);
	}
	graph_free(&g);
	if (count > ASLEEP_SHOWN) {
		fb = line_start(&l);
		tt_fb_str(fb, "  ... and ");
		tt_fb_u64(fb, count - ASLEEP_SHOWN);
		tt_fb_str(fb, " more");
		line_end(&text, &l);
	}
	advise(&text, kind_advice[TT_DIAG_ALL_ASLEEP]);
	tt_diag_finding *f = add(b, TT_DIAG_ALL_ASLEEP, lo, 0, oldest, &text);
	if (f && keep_ids(b, ids)) {
		f->cycle = ids;
		f->ncycle = (uint32_t)count;
	} else {
		free(ids);
	}
}

/* ---- per-task rules ---- */

/* The memory the flight recorder is read through, NULL: not read. */
static const tt_mem *flight_mem(const build *b)
{
	return b->o->flight ? b->o->flight : b->o->recheck;
}

/* F (just added) quotes its task's last poll and wake (quote_flight). */
static void want_quote(build *b, const tt_diag_finding *f)
{
	if (!f || !flight_mem(b))
		return;
	if (b->nquotes == b->capquotes) {
		size_t cap = b->capquotes ? 2 * b->capquotes : 8;
		tt_last_wake *q = realloc(b->quotes, cap * sizeof(*q));
		if (!q) {
			b->oom = 1;
			return;
		}
		b->quotes = q;
		b->capquotes = cap;
	}
	b->quotes[b->nquotes++] =
	    (tt_last_wake){.id = f->task_id, .finding = (size_t)(f - b->r->findings)};
}

/* The line of each finding want_quote named, before its advice: one pass
 * over the rings for all of them.  A registry without a recorder, or
 * rings that cannot be read, leave the findings as they are. */
static void quote_flight(build *b)
{
	enum { NSYMS = 16 };
	const tt_mem *mem = flight_mem(b);
	tt_last_wakes_info info;
	tt_rsym_cache cache;

	if (!b->nquotes || b->oom)
		return;
	tt_reader *r = calloc(1, sizeof(*r));
	tt_rsym *syms = calloc(NSYMS, sizeof(*syms));
	if (!r || !syms) {
		b->oom = 1;
	} else if (tt_reader_open(r, *mem, b->s->root_addr, NULL) == TT_R_OK &&
		   tt__last_wakes(r, b->quotes, b->nquotes, &info) >= 0) {
		tt_rsym_cache_init(&cache, syms, NSYMS);
		for (size_t i = 0; i < b->nquotes && !b->oom; i++) {
			tt_diag_finding *f = &b->r->findings[b->quotes[i].finding];
			/* Last of the evidence, before the advice. */
			const char *advice = strstr(f->text, "\n  -> ");
			size_t at = advice ? (size_t)(advice - f->text) + 1 : strlen(f->text);
			line l;
			sb text = {0};
			tt__last_wake_words(line_start(&l), r, &cache, b->s, &b->quotes[i], &info,
					    b->now);
			sb_add(&text, f->text);
			if (text.oom)
				goto oom;
			text.len = at;
			text.p[at] = 0;
			line_end(&text, &l);
			sb_add(&text, f->text + at);
		oom:
			if (text.oom) {
				free(text.p);
				b->oom = 1;
			} else if (keep(b, text.p)) {
				f->text = text.p;
			}
		}
	}
	free(syms);
	free(r);
}

/* A wake that lands in the last instants of a poll can leave the task
 * idle with no waker for a moment before it is queued again.  A real lost
 * waker stays idle forever: one idle for less than this is not reported. */
#define LOST_WAKER_MIN_NS (10 * 1000000ull)

/* Each per-task rule returns the first time it could report the task
 * as read (NEVER; 0: every round, it depends on other tasks), which is
 * now or earlier when it reported it. */
static uint64_t lost_waker(build *b, size_t i, const tview *v)
{
	const tt_stask *t = &b->s->tasks[i];
	uint64_t when = due(t->raw.poll_end_ns, LOST_WAKER_MIN_NS);
	sb text = { 0 };
	line l;
	tt_fbuf *fb;

	/* Pending for real: suspended after at least one poll, not being
	 * polled, not queued, and read consistently. */
	if (!recording(b) || t->error || t->raw.running || t->raw.state != TT_STATE_IDLE ||
	    t->raw.wakers != 0 || t->raw.polls == 0 || (t->raw.flags & TT_TASKF_CANCEL_REQUESTED) ||
	    !t->raw.root_frame)
		return NEVER;
	if (!reached(when, b->now))
		return when;
	fb = line_start(&l);
	title_start(fb, TT_DIAG_LOST_WAKER);
	task_ref(fb, t->raw.id, b->s);
	tt_fb_str(fb, " is pending but nothing holds a waker for it");
	line_end(&text, &l);
	fb = line_start(&l);
	tt_fb_str(fb, "  ");
	wait_evidence(fb, v, b->s, b->now);
	line_end(&text, &l);
	fb = line_start(&l);
	tt_fb_str(fb, "  idle ");
	tt_fmt_duration(fb, age(t->raw.poll_end_ns, b->now));
	tt_fb_str(fb, ", ");
	tt_fb_u64(fb, t->raw.polls);
	tt_fb_str(fb, t->raw.polls == 1 ? " poll, " : " polls, ");
	tt_fb_str(fb, "0 live wakers");
	line_end(&text, &l);
	fb = line_start(&l);
	tt_fb_str(fb, "  -> it can never be woken.  The leaf ");
	tt_fb_text(fb, v->leaf ? v->leaf->func->name : "??");
	tt_fb_str(fb, " returned pending without keeping a waker: store "
		      "tt_waker_new(cx) where the event source can reach it and wake it.");
	line_end(&text, &l);
	want_quote(
	    b, add(b, TT_DIAG_LOST_WAKER, t->raw.id, 0, age(t->raw.poll_end_ns, b->now), &text));
	b->flagged[i] = 1;
	return when;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int running(const tt_snapshot *s, uint64_t id)
{
	const tt_stask *t = id ? tt_snapshot_find(s, id) : NULL;

	return t && !t->error && t->raw.state == TT_STATE_RUNNING;
}

/* Is the hand-off object T waits on (in *OBJECT) being handed on: T is
 * woken (scheduled or running), or the owner T names is running -- an
 * unlock takes the next waiter off the queue, lets go of the queue's lock
 * and only then wakes it, so until that poll ends the waiter can still
 * read idle, naming the holder that is letting go. */
static int woken_handoff(const tt_snapshot *s, const tt_stask *t, uint64_t *object)
{
	tview w;

	if (t->error)
		return 0;
	view(t, &w);
	if (!leaf_waits(&w) || !tt_fmt_wait_row(w.leaf->raw.wait_kind)->handoff)
		return 0;
	if (t->raw.state != TT_STATE_SCHEDULED && t->raw.state != TT_STATE_RUNNING &&
	    !running(s, w.leaf->raw.wait_owner))
		return 0;
	*object = w.leaf->raw.wait_object;
	return 1;
}

/* Is another waiter of OBJECT (a mutex, or another kind marked handoff)
 * woken (scheduled or running)?  An unlock wakes the next waiter before it
 * takes the mutex, and until it does the queued waiters' records still name
 * the holder that just left: the mutex is being handed on, not abandoned.
 * The woken waiters' objects are gathered once, sorted: asked per waiter,
 * a scan of every task made N waiters of one abandoned mutex N * N steps
 * (minutes for a hundred thousand). */
static int mutex_handed_on(build *b, uint64_t object)
{
	const tt_snapshot *s = b->s;
	uint64_t obj;

	if (!b->woken_known) {
		size_t n = 0;
		for (size_t j = 0; j < s->ntasks; j++) {
			n += (size_t)woken_handoff(s, &s->tasks[j], &obj);
			b->torn_seen |= s->tasks[j].error == TT_R_TORN;
		}
		b->woken_known = 1;
		if (n && !(b->woken = malloc(n * sizeof(*b->woken)))) {
			b->oom = 1;
			return 0;
		}
		for (size_t j = 0; j < s->ntasks && b->nwoken < n; j++)
			if (woken_handoff(s, &s->tasks[j], &obj))
				b->woken[b->nwoken++] = obj;
		if (b->nwoken > 1)
			qsort(b->woken, b->nwoken, sizeof(*b->woken), cmp_u64);
	}
	/* A torn task (a live target read without stopping it) is one busy
	 * being polled: it may be the woken waiter, and its wait is unknown. */
	return b->torn_seen || (b->nwoken && bsearch(&object, b->woken, b->nwoken,
						    sizeof(*b->woken), cmp_u64) != NULL);
}

/* A timer on another branch of a combinator around T's leaf (the timer
 * of a tt_timeout, a sleep in a select): the wait ends when it fires.
 * The innermost such timer frame, its combinator in *COMB; NULL when
 * none.  Bounded by the task's frames, whatever their parent links say. */
static const tt_sframe *timer_around(const tt_stask *t, const tview *v, const tt_sframe **comb)
{
	size_t cur = (size_t)(v->leaf - t->frames);

	for (size_t steps = 0; cur < t->nframes && steps < t->nframes; steps++) {
		int32_t parent = t->frames[cur].raw.parent;
		if (parent < 0 || (size_t)parent >= cur)
			return NULL;
		if (t->frames[parent].raw.kind == TT_FUNC_KIND_COMBINATOR) {
			for (size_t j = (size_t)parent + 1; j < t->nframes; j++) {
				const tt_rframe *f = &t->frames[j].raw;
				if (f->parent != parent || j == cur || f->kind != TT_FUNC_KIND_LEAF)
					continue;
				if (tt_fmt_wait_row(f->wait_kind)->shape == TT_WS_DEADLINE &&
				    f->wait_detail) {
					*comb = &t->frames[parent];
					return &t->frames[j];
				}
			}
		}
		cur = (size_t)parent;
	}
	return NULL;
}

/* The advice of a never-resolved wait that a timer ends: when, then the
 * fix (ADVICE past its first sentence, which says "never"). */
static void timeout_advice(build *b, sb *text, const char *advice, const tt_sframe *timer,
			   const tt_sframe *comb)
{
	line l;
	tt_fbuf *fb = line_start(&l);
	uint64_t deadline = timer->raw.wait_detail;

	tt_fb_str(fb, "  -> only its ");
	tt_fb_text(fb, comb->func->name);
	if (deadline > b->now) {
		tt_fb_str(fb, " ends the wait, in ");
		tt_fmt_duration(fb, deadline - b->now);
	} else {
		tt_fb_str(fb, " ends the wait: it was due ");
		tt_fmt_duration(fb, b->now - deadline);
		tt_fb_str(fb, " ago and fires when a worker gets to it");
	}
	tt_fb_str(fb, ", with its timeout error.");
	const char *rest = advice ? strstr(advice, ".  ") : NULL;
	if (rest) {
		tt_fb_str(fb, "  ");
		tt_fb_str(fb, rest + 3);
	}
	line_end(text, &l);
}

/* A wait any of its holders can end, all of them ended for good: the
 * first of them (the one the finding names), else 0. */
static uint64_t holders_ended(build *b, const tview *v)
{
	const tt_rframe *f = &v->leaf->raw;

	if (f->wait_holders_state != TT_RHOLD_COMPLETE || !f->wait_nholders ||
	    f->wait_nholders > TT_RHOLDERS_MAX)
		return 0;
	for (uint32_t k = 0; k < f->wait_nholders; k++)
		if (!ended_for_good(b, f->wait_holders[k], f->wait_kind, f->wait_object))
			return 0;
	return f->wait_holders[0];
}

static uint64_t never_resolved(build *b, size_t i, const tview *v)
{
	const tt_stask *t = &b->s->tasks[i];
	sb text = { 0 };
	line l;
	tt_fbuf *fb;

	if (t->error || t->raw.running || t->raw.state != TT_STATE_IDLE ||
	    !leaf_waits(v))
		return NEVER;
	const tt_wait_row *w = tt_fmt_wait_row(v->leaf->raw.wait_kind);
	if (!w->orphan || (w->edge != TT_WE_HOLDERS && !v->leaf->raw.wait_owner))
		return NEVER;
	/* From here on it rests on other tasks: looked at every round. */
	uint64_t owner = w->edge == TT_WE_HOLDERS ? holders_ended(b, v) : v->leaf->raw.wait_owner;
	if (!owner)
		return 0;
	const tt_stask *o = tt_snapshot_find(b->s, owner);
	if (o && (o->error == TT_R_TORN ||
		  (o->raw.state != TT_STATE_DONE && o->raw.state != TT_STATE_CANCELLED)))
		return 0; /* alive, or kept changing while read: not gone */
	/* Not found, but spawned after the read began (a live target read
	 * without stopping it): its slot was read before it took it. */
	if (!o && b->s->next_task_id && owner >= b->s->next_task_id)
		return 0;
	if (w->handoff && mutex_handed_on(b, v->leaf->raw.wait_object))
		return 0;
	fb = line_start(&l);
	title_start(fb, TT_DIAG_NEVER_RESOLVED);
	task_ref(fb, t->raw.id, b->s);
	tt_fb_str(fb, " waits on ");
	tt_fb_str(fb, w->orphan);
	tt_fb_str(fb, ", task ");
	tt_fb_u64(fb, owner);
	tt_fb_str(fb, o ? (o->raw.state == TT_STATE_DONE ? ", has finished" :
							   ", was cancelled") :
			  ", is gone");
	line_end(&text, &l);
	fb = line_start(&l);
	tt_fb_str(fb, "  ");
	wait_evidence(fb, v, b->s, b->now);
	line_end(&text, &l);
	const tt_sframe *comb = NULL, *timer = timer_around(t, v, &comb);
	if (timer)
		timeout_advice(b, &text, w->orphan_advice, timer, comb);
	else
		advise(&text, w->orphan_advice);
	want_quote(b, add(b, TT_DIAG_NEVER_RESOLVED, t->raw.id, owner,
			  age(v->leaf->raw.wait_since_ns, b->now), &text));
	b->flagged[i] = 1;
	return 0;
}

/* "  every worker of its runtime is busy: worker 0 polls task 3 "x" for
 * 1.2s, ..." when each live worker of T's runtime has been in one poll
 * for at least BUSY_NS; returns 0 (and writes nothing) when one is free or
 * no worker record says. */
static int workers_held(build *b, const tt_stask *t, uint64_t busy_ns, sb *text)
{
	const tt_snapshot *s = b->s;
	size_t busy = 0, live = 0;
	line l;

	for (size_t k = 0; k < s->nworkers; k++) {
		const tt_rworker *w = &s->workers[k];
		if (w->runtime_id != t->raw.runtime_id || w->state == TT_WORKER_EXITED ||
		    w->state == TT_WORKER_UNUSED)
			continue;
		live++;
		busy += w->state == TT_WORKER_POLLING && w->task_id && w->task_id != t->raw.id &&
			w->poll_start_ns && age(w->poll_start_ns, b->now) >= busy_ns;
	}
	if (!live || busy < live)
		return 0;
	tt_fbuf *fb = line_start(&l);
	tt_fb_str(fb, live == 1 ? "  the only worker of its runtime is busy:" :
				  "  every worker of its runtime is busy:");
	size_t n = 0;
	for (size_t k = 0; k < s->nworkers; k++) {
		const tt_rworker *w = &s->workers[k];
		if (w->runtime_id != t->raw.runtime_id || w->state != TT_WORKER_POLLING)
			continue;
		tt_fb_str(fb, n++ ? ", worker " : " worker ");
		tt_fmt_worker(fb, w->runtime_id, w->index, s->runtimes.count > 1);
		tt_fb_str(fb, " polls ");
		task_ref(fb, w->task_id, s);
		tt_fb_str(fb, " for ");
		tt_fmt_duration(fb, age(w->poll_start_ns, b->now));
	}
	line_end(text, &l);
	return 1;
}

/* The task's history as its histogram tells it (§5.13), one line, when
 * it holds something beyond a tick's noise (what bt shows): "  its polls:
 * <1ms 11, 16-32ms 5; p50 <1ms, p99 16-32ms". */
static void hist_evidence(sb *text, const tt_rtask *r, int delay)
{
	const uint32_t *h = delay ? r->delay_hist : r->poll_hist;
	line l;

	if (!r->hist_buckets || !tt_hist_reaches(h, r->hist_buckets, TT_HIST_BT_BUCKET))
		return;
	tt_fbuf *fb = line_start(&l);
	tt_fb_str(fb, delay ? "  its earlier waits for a worker: " : "  its earlier polls: ");
	tt_fmt_hist(fb, h, r->hist_buckets);
	line_end(text, &l);
}

/* Woken and not polled since; or its timer overdue while every worker is
 * held by a long poll, so no worker fires it (the task is idle, not
 * scheduled, until one does). */
static uint64_t starved(build *b, size_t i, const tview *v)
{
	const tt_stask *t = &b->s->tasks[i];
	uint64_t a = age(t->raw.wake_ns, b->now), when = NEVER;
	uint64_t busy = b->o->long_poll_ns != TT_DIAG_OFF ? b->o->long_poll_ns : b->o->starved_ns;
	sb text = { 0 };
	line l;
	tt_fbuf *fb;

	if (!recording(b) || b->o->starved_ns == TT_DIAG_OFF || t->raw.running)
		return NEVER;
	if (t->raw.state == TT_STATE_SCHEDULED)
		when = due(t->raw.wake_ns, b->o->starved_ns);
	else if (t->raw.state == TT_STATE_IDLE && leaf_waits(v) &&
		 tt_fmt_wait_row(v->leaf->raw.wait_kind)->shape == TT_WS_DEADLINE &&
		 v->leaf->raw.wait_detail)
		when = due(v->leaf->raw.wait_detail, b->o->starved_ns);
	if (!reached(when, b->now))
		return when;
	if (t->raw.state == TT_STATE_SCHEDULED) {
		fb = line_start(&l);
		title_start(fb, TT_DIAG_STARVED);
		task_ref(fb, t->raw.id, b->s);
		tt_fb_str(fb, " was woken ");
		tt_fmt_duration(fb, a);
		tt_fb_str(fb, " ago and has not been polled since");
		line_end(&text, &l);
		hist_evidence(&text, &t->raw, 1);
		workers_held(b, t, busy, &text);
	} else {
		/* Overdue: a finding as long as every worker stays held. */
		sb held = { 0 };
		a = age(v->leaf->raw.wait_detail, b->now);
		if (!workers_held(b, t, busy, &held)) {
			free(held.p);
			return when;
		}
		fb = line_start(&l);
		title_start(fb, TT_DIAG_STARVED);
		task_ref(fb, t->raw.id, b->s);
		tt_fb_str(fb, " has a timer overdue ");
		tt_fmt_duration(fb, a);
		tt_fb_str(fb, " that no worker is free to fire");
		line_end(&text, &l);
		fb = line_start(&l);
		tt_fb_str(fb, "  ");
		wait_evidence(fb, v, b->s, b->now);
		line_end(&text, &l);
		if (held.p)
			sb_add(&text, held.p);
		text.oom |= held.oom;
		free(held.p);
	}
	advise(&text, kind_advice[TT_DIAG_STARVED]);
	add(b, TT_DIAG_STARVED, t->raw.id, 0, a, &text);
	b->flagged[i] = 1;
	return when;
}

static const char *idle_advice(const tview *v)
{
	const char *a = leaf_waits(v) ? tt_fmt_wait_row(v->leaf->raw.wait_kind)->idle_advice : NULL;

	return a ? a : kind_advice[TT_DIAG_IDLE];
}

/* Waits that are a program's normal rest, not a sign of trouble however
 * long they last: a listener in accept or a connection waiting for its
 * next request (fd read), a task waiting for shutdown (token, signal).  They have
 * their own threshold, idle_io_ns, off by default. */
static const unsigned char rest_wait[TT_WAIT_KIND_MAX_] = {
	[TT_WAIT_FD_READ] = 1,
	[TT_WAIT_TOKEN] = 1,
	[TT_WAIT_SIGNAL] = 1,
};

static uint64_t idle_limit(const build *b, const tview *v)
{
	uint32_t k = leaf_waits(v) ? v->leaf->raw.wait_kind : TT_WAIT_NONE;

	return k < TT_WAIT_KIND_MAX_ && rest_wait[k] ? b->o->idle_io_ns : b->o->idle_ns;
}

static uint64_t idle(build *b, size_t i, const tview *v)
{
	const tt_stask *t = &b->s->tasks[i];
	uint64_t a = age(t->raw.poll_end_ns, b->now), limit = idle_limit(b, v);
	sb text = { 0 };
	line l;
	tt_fbuf *fb;

	if (!recording(b) || limit == TT_DIAG_OFF || t->raw.running ||
	    t->raw.state != TT_STATE_IDLE || !t->raw.poll_end_ns)
		return NEVER;
	uint64_t when = due(t->raw.poll_end_ns, limit);
	/* A timer that has not fired yet wakes the task by itself. */
	if (leaf_waits(v) && tt_fmt_wait_row(v->leaf->raw.wait_kind)->shape == TT_WS_DEADLINE &&
	    v->leaf->raw.wait_detail > when)
		when = v->leaf->raw.wait_detail;
	if (b->flagged[i] || !reached(when, b->now))
		return when;
	fb = line_start(&l);
	title_start(fb, TT_DIAG_IDLE);
	task_ref(fb, t->raw.id, b->s);
	tt_fb_str(fb, " has been suspended for ");
	tt_fmt_duration(fb, a);
	line_end(&text, &l);
	fb = line_start(&l);
	tt_fb_str(fb, "  ");
	wait_evidence(fb, v, b->s, b->now);
	line_end(&text, &l);
	advise(&text, idle_advice(v));
	add(b, TT_DIAG_IDLE, t->raw.id, leaf_waits(v) ? v->leaf->raw.wait_owner : 0,
	    a, &text);
	return when;
}

/* Long polls come from the worker records (the thread is what is
 * blocked), and from running tasks with no worker record. */
static void long_polls(build *b)
{
	const tt_snapshot *s = b->s;

	if (!recording(b) || b->o->long_poll_ns == TT_DIAG_OFF)
		return;
	size_t n = b->running ? b->nrunning : s->ntasks;
	for (size_t j = 0; j < n; j++) {
		size_t i = b->running ? b->running[j] : j;
		const tt_stask *t = &s->tasks[i];
		const tt_rworker *w = NULL;
		uint64_t start = t->raw.poll_start_ns;

		if (!considered(b, t) || t->raw.state != TT_STATE_RUNNING)
			continue;
		for (size_t k = 0; k < s->nworkers; k++) {
			if (s->workers[k].state == TT_WORKER_POLLING &&
			    s->workers[k].task_id == t->raw.id &&
			    s->workers[k].runtime_id == t->raw.runtime_id) {
				w = &s->workers[k];
				if (w->poll_start_ns)
					start = w->poll_start_ns;
			}
		}
		uint64_t a = age(start, b->now);
		if (!start || a < b->o->long_poll_ns)
			continue;
		sb text = { 0 };
		line l;
		tt_fbuf *fb = line_start(&l);
		tview v;

		tv(b, t, &v);
		title_start(fb, TT_DIAG_LONG_POLL);
		task_ref(fb, t->raw.id, s);
		tt_fb_str(fb, " has been running one poll for ");
		tt_fmt_duration(fb, a);
		tt_fb_str(fb, " on worker ");
		tt_fmt_worker(fb, t->raw.runtime_id, t->raw.worker, s->runtimes.count > 1);
		if (w && w->tid) {
			tt_fb_str(fb, " (tid ");
			tt_fb_u64(fb, w->tid);
			tt_fb_str(fb, ")");
		}
		line_end(&text, &l);
		if (v.where) {
			fb = line_start(&l);
			tt_fb_str(fb, "  last suspended");
			at_where(fb, &v);
			line_end(&text, &l);
		}
		hist_evidence(&text, &t->raw, 0);
		advise(&text, kind_advice[TT_DIAG_LONG_POLL]);
		add(b, TT_DIAG_LONG_POLL, t->raw.id, 0, a, &text);
		b->flagged[i] = 1;
	}
}

/* ---- identical findings as one ---- */

/* Ids a grouped finding lists; the rest are counted. */
#define GROUP_SHOWN 8

typedef struct gitem {
	uint64_t hash;
	size_t finding;
	const tt_stask *t;
	uint32_t kind, wait_kind;
	uint64_t object, owner;
} gitem;

/* Same kind (in the hash), same await chain (as ps --group), same wait:
 * kind, object and owner; same runtime.  Items alike end up adjacent. */
static int by_group(const void *x, const void *y)
{
	const gitem *a = x, *b = y;

	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->wait_kind != b->wait_kind)
		return a->wait_kind < b->wait_kind ? -1 : 1;
	if (a->object != b->object)
		return a->object < b->object ? -1 : 1;
	if (a->owner != b->owner)
		return a->owner < b->owner ? -1 : 1;
	if (a->t->raw.runtime_id != b->t->raw.runtime_id)
		return a->t->raw.runtime_id < b->t->raw.runtime_id ? -1 : 1;
	return tt_chain_cmp(a->t, b->t);
}

static int by_id(const void *x, const void *y)
{
	const gitem *a = x, *b = y;
	return a->t->raw.id < b->t->raw.id ? -1 : a->t->raw.id > b->t->raw.id;
}

/* The findings of RUN (N items alike) become the first one's, retitled
 * "idle: 80000 tasks alike, e.g. task 12 ..." with the ids under it. */
static void regroup(build *b, gitem *run, size_t n)
{
	tt_diag_finding *f = &b->r->findings[run[0].finding];
	uint64_t *ids = malloc(n * sizeof(*ids));
	const char *kw = tt_diag_kind_name(f->kind);
	size_t kl = strlen(kw);
	sb text = {0};
	line l;
	tt_fbuf *fb;

	if (!ids) {
		b->oom = 1;
		return;
	}
	qsort(run, n, sizeof(*run), by_id);
	f = &b->r->findings[run[0].finding];
	for (size_t i = 0; i < n; i++) {
		const tt_diag_finding *m = &b->r->findings[run[i].finding];
		ids[i] = run[i].t->raw.id;
		if (m->age_ns > f->age_ns)
			f->age_ns = m->age_ns;
	}
	fb = line_start(&l);
	title_start(fb, f->kind);
	tt_fb_u64(fb, n);
	tt_fb_str(fb, " tasks alike, e.g. ");
	/* The example's title without its "kind: ". */
	tt_fb_text(fb, strncmp(f->title, kw, kl) == 0 && f->title[kl] == ':' ? f->title + kl + 2
									     : f->title);
	line_end(&text, &l);
	fb = line_start(&l);
	tt_fb_str(fb, "  tasks ");
	for (size_t i = 0; i < n && i < GROUP_SHOWN; i++) {
		if (i)
			tt_fb_str(fb, ", ");
		tt_fb_u64(fb, ids[i]);
	}
	tt_fb_str(fb, n > GROUP_SHOWN ? ", ... (" : " (");
	tt_fb_u64(fb, n);
	tt_fb_str(fb, " with the same chain and wait; --all lists each)");
	line_end(&text, &l);
	const char *rest = strchr(f->text, '\n');
	sb_add(&text, rest ? rest + 1 : "");
	if (text.oom || !text.p) {
		free(text.p);
		free(ids);
		b->oom = 1;
		return;
	}
	if (!keep(b, text.p) || !keep_ids(b, ids)) {
		free(ids);
		b->oom = 1;
		return;
	}
	char *nl = strchr(text.p, '\n');
	char *title = strndup(text.p, nl ? (size_t)(nl - text.p) : strlen(text.p));
	if (!keep(b, title))
		return;
	f->text = text.p;
	f->title = title;
	f->task_id = ids[0];
	f->count = n;
	f->ids = ids;
	for (size_t i = 1; i < n; i++)
		b->r->findings[run[i].finding].count = 0; /* merged: dropped below */
}

/* Identical findings about many tasks (100k idle on one chain) as one,
 * with a count and example ids: the reader of a report wants the shapes,
 * not 80,000 copies of one. */
static void group_findings(build *b)
{
	tt_diag_report *r = b->r;
	gitem *it = malloc((r->n ? r->n : 1) * sizeof(*it));
	size_t n = 0, out = 0;
	tview v;

	if (!it) {
		b->oom = 1;
		return;
	}
	for (size_t i = 0; i < r->n; i++) {
		const tt_diag_finding *f = &r->findings[i];
		/* A cycle names its own tasks; a long poll is one per worker
		 * thread, each blocking its own: never many alike. */
		const tt_stask *t = f->ncycle || f->kind == TT_DIAG_LONG_POLL
					? NULL
					: tt_snapshot_find(b->s, f->task_id);
		if (!t)
			continue;
		tv(b, t, &v);
		gitem g = {tt_chain_hash(t) * 31 + f->kind, i, t, f->kind, 0, 0, 0};
		if (leaf_waits(&v)) {
			g.wait_kind = v.leaf->raw.wait_kind;
			g.object = v.leaf->raw.wait_object;
			g.owner = v.leaf->raw.wait_owner;
		}
		it[n++] = g;
	}
	qsort(it, n, sizeof(*it), by_group);
	for (size_t i = 0, j; i < n && !b->oom; i = j) {
		for (j = i + 1; j < n && !by_group(&it[i], &it[j]);)
			j++;
		if (j - i > 1)
			regroup(b, &it[i], j - i);
	}
	for (size_t i = 0; i < r->n; i++)
		if (r->findings[i].count)
			r->findings[out++] = r->findings[i];
	r->n = out;
	free(it);
}

/* A kind's place in a report: its row in TT_DIAG_KIND_MAP. */
static unsigned rank(uint32_t kind)
{
	enum {
#define XX(name, ...) RANK_##name,
		TT_DIAG_KIND_MAP(XX)
#undef XX
	};
	static const uint8_t ranks[TT_DIAG_KIND_MAX_] = {
#define XX(name, value, ...) [value] = RANK_##name,
	    TT_DIAG_KIND_MAP(XX)
#undef XX
	};

	return kind < TT_DIAG_KIND_MAX_ ? ranks[kind] : TT_DIAG_KIND_MAX_;
}

static int by_kind(const void *x, const void *y)
{
	const tt_diag_finding *a = x, *b = y;

	if (a->kind != b->kind)
		return rank(a->kind) < rank(b->kind) ? -1 : 1;
	return a->task_id < b->task_id ? -1 : a->task_id > b->task_id;
}

static void summary(build *b)
{
	sb all = { 0 };
	line l;
	tt_fbuf *fb;

	if (!b->r->n) {
		fb = line_start(&l);
		tt_fb_str(fb, "no problems found in ");
		tt_fb_u64(fb, b->r->ntasks);
		tt_fb_str(fb, b->r->ntasks == 1 ? " task" : " tasks");
		tt_fb_str(fb, ": no deadlock, no lost waker");
		if (b->o->long_poll_ns != TT_DIAG_OFF) {
			tt_fb_str(fb, ", no poll over ");
			tt_fmt_duration(fb, b->o->long_poll_ns);
		}
		if (b->o->idle_ns != TT_DIAG_OFF) {
			tt_fb_str(fb, ", none idle over ");
			tt_fmt_duration(fb, b->o->idle_ns);
		}
		line_end(&all, &l);
	}
	for (size_t i = 0; i < b->r->n; i++) {
		if (i)
			sb_add(&all, "\n");
		sb_add(&all, b->r->findings[i].text);
	}
	if (all.oom || !all.p) {
		free(all.p);
		b->oom = 1;
		return;
	}
	b->r->text = keep(b, all.p);
}

void tt_diag_opts_init(tt_diag_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->long_poll_ns = 100 * MS;
	o->starved_ns = 1 * SEC;
	o->idle_ns = 60 * SEC;
	o->idle_io_ns = TT_DIAG_OFF;
}

/* A live target read without stopping it: its tasks were read one after
 * the other, so a finding that relates several (a waiter and an owner
 * gone, a cycle) may join moments that never coexisted.  It stands only
 * if every task it names is still where it was when read again now,
 * after the whole read: a task that did not move cannot have released
 * anything since, and one that moved is no longer stuck.  A finding on
 * one task needs it too: a wake writes the task's state and wakers
 * outside its seq (docs/registry-abi.md §7), so one copy of the slot can
 * join an idle state from before a wake with a waker count from after it
 * (a lost waker that never was); and ages are measured against a clock
 * read after the whole read: only a task still as read then has rested
 * that long.  What a single task needs is cheap in bulk (second_look). */
/* Does T read the same again through o->recheck (tt_snapshot_recheck)?
 * One reader for every second look of a diagnosis; none to be had reads
 * as "moved": nothing is concluded from what was not read again. */
static int recheck(build *b, const tt_stask *t)
{
	if (b->again) {
		const tt_stask *n = tt_snapshot_find(b->again, t->raw.id);
		return n && tt_stask_same_moment(t, n);
	}
	if (!b->rr && !b->rr_failed) {
		b->rr = malloc(sizeof(*b->rr));
		if (!b->rr || tt_reader_open(b->rr, *b->o->recheck, b->s->root_addr, NULL)) {
			free(b->rr);
			b->rr = NULL;
			b->rr_failed = 1;
		}
	}
	return b->rr && tt_snapshot_recheck_in(b->rr, t) == 1;
}

/* The object a never-resolved finding on a hand-off wait rests on (0:
 * none): "gone" also rests on no other waiter of it having been woken
 * (mutex_handed_on), and those waiters were read at other moments too. */
static uint64_t handoff_object(build *b, const tt_diag_finding *f)
{
	const tt_stask *t = tt_snapshot_find(b->s, f->task_id);
	tview v;

	if (f->kind != TT_DIAG_NEVER_RESOLVED || !t)
		return 0;
	tv(b, t, &v);
	if (!leaf_waits(&v) || !tt_fmt_wait_row(v.leaf->raw.wait_kind)->handoff)
		return 0;
	return v.leaf->raw.wait_object;
}

typedef struct objcheck {
	uint64_t object;
	int moved; /* a waiter of it read differently the second time */
} objcheck;

static int by_object(const void *a, const void *b)
{
	uint64_t x = ((const objcheck *)a)->object, y = ((const objcheck *)b)->object;
	return x < y ? -1 : x > y;
}

static objcheck *objcheck_find(objcheck *o, size_t n, uint64_t object)
{
	objcheck key = { object, 0 };
	return n ? bsearch(&key, o, n, sizeof(*o), by_object) : NULL;
}

/* The hand-off objects of the findings, each with whether any of its
 * waiters moved: every waiter read again once, not once per finding (a
 * mutex abandoned by its holder with 100k waiters is 100k findings). */
static objcheck *check_objects(build *b, size_t *count)
{
	objcheck *o = calloc(b->r->n ? b->r->n : 1, sizeof(*o));
	size_t n = 0, k = 0;
	tview w;

	if (!o)
		return NULL;
	for (size_t i = 0; i < b->r->n; i++)
		if ((o[n].object = handoff_object(b, &b->r->findings[i])))
			n++;
	qsort(o, n, sizeof(*o), by_object);
	for (size_t i = 0; i < n; i++)
		if (!k || o[k - 1].object != o[i].object)
			o[k++] = o[i];
	for (size_t j = 0; k && j < b->s->ntasks; j++) {
		const tt_stask *t = &b->s->tasks[j];
		if (t->error)
			continue;
		tv(b, t, &w);
		objcheck *c = leaf_waits(&w) ? objcheck_find(o, k, w.leaf->raw.wait_object) : NULL;
		if (c && !c->moved && !recheck(b, t))
			c->moved = 1;
	}
	/* A waiter spawned after the read began is one the mutex may be
	 * handed to right now, unseen. */
	for (size_t i = 0; i < k; i++)
		if (!o[i].moved && tt_snapshot_newer_wait(*b->o->recheck, b->s, o[i].object) != 0)
			o[i].moved = 1;
	*count = k;
	return o;
}

/* T and, when its wait is one any of its holders can end, the holders:
 * a finding resting on T rests on them too. */
static int task_holds(build *b, const tt_stask *t)
{
	tview v;

	if (!recheck(b, t))
		return 0;
	tv(b, t, &v);
	if (!leaf_waits(&v) || tt_fmt_wait_row(v.leaf->raw.wait_kind)->edge != TT_WE_HOLDERS)
		return 1;
	for (uint32_t k = 0; k < v.leaf->raw.wait_nholders && k < TT_RHOLDERS_MAX; k++) {
		const tt_stask *h = tt_snapshot_find(b->s, v.leaf->raw.wait_holders[k]);
		if (h && !recheck(b, h))
			return 0;
	}
	return 1;
}

static int still_holds(build *b, const tt_diag_finding *f, objcheck *o, size_t no)
{
	uint64_t two[2] = { f->task_id, f->other_id };
	const uint64_t *ids = f->ncycle ? f->cycle : two;
	size_t n = f->ncycle ? f->ncycle : 2;

	for (size_t i = 0; i < n; i++) {
		const tt_stask *t = ids[i] ? tt_snapshot_find(b->s, ids[i]) : NULL;
		if (t && !task_holds(b, t))
			return 0;
	}
	uint64_t object = handoff_object(b, f);
	objcheck *c = object ? objcheck_find(o, no, object) : NULL;
	return !c || !c->moved;
}

static int labelled(const build *b, uint64_t id)
{
	const tt_stask *t = id ? tt_snapshot_find(b->s, id) : NULL;

	if (!t)
		return 0;
	for (size_t i = 0; i < b->o->nlabels; i++)
		if (!tt_task_has_label(&t->raw, b->o->labels[i]))
			return 0;
	return 1;
}

/* --label: the findings that name a task with the labels. */
static void drop_unlabelled(build *b)
{
	size_t out = 0;

	for (size_t i = 0; i < b->r->n; i++) {
		const tt_diag_finding *f = &b->r->findings[i];
		int keep = labelled(b, f->task_id) || labelled(b, f->other_id);
		for (uint32_t c = 0; c < f->ncycle && !keep; c++)
			keep = labelled(b, f->cycle[c]);
		if (keep)
			b->r->findings[out++] = *f;
	}
	b->r->n = out;
}

/* A second look task by task costs a read of its slot and one per frame
 * (tt_snapshot_recheck_in); the whole registry read again costs about a
 * third of a read per task (slots in batches, frames by the page: 33k
 * reads for 100k parked tasks).  When every task rests past the idle
 * threshold, each is named by a finding: task by task that was 650k
 * reads, 1 to 4 s at top's second frame; the registry read again once is
 * a twentieth of it.  Read in bulk once the findings' tasks would cost
 * more reads than half the registry's tasks.  The same guarantee either
 * way: each named task is read again after the whole first read, and
 * compared. */
#define RECHECK_ONE_BY_ONE 256 /* reads: below this, never read it all */

static void second_look(build *b)
{
	size_t reads = 0;

	for (size_t i = 0; i < b->r->n; i++) {
		const tt_diag_finding *f = &b->r->findings[i];
		uint64_t two[2] = {f->task_id, f->other_id};
		const uint64_t *ids = f->ncycle ? f->cycle : two;
		size_t n = f->ncycle ? f->ncycle : 2;
		for (size_t k = 0; k < n; k++) {
			const tt_stask *t = ids[k] ? tt_snapshot_find(b->s, ids[k]) : NULL;
			reads += t ? 1 + t->nframes : 0;
		}
	}
	if (reads < RECHECK_ONE_BY_ONE || reads <= b->s->ntasks / 2)
		return;
	/* Not read: task by task, as for a few. */
	if (tt_snapshot_read(*b->o->recheck, b->s->root_addr, NULL, &b->again, NULL, 0) != TT_R_OK)
		b->again = NULL;
}

static void drop_moved(build *b)
{
	size_t out = 0, no = 0;

	second_look(b);
	objcheck *o = check_objects(b, &no);

	if (!o) {
		b->oom = 1;
		return;
	}
	for (size_t i = 0; i < b->r->n; i++)
		if (still_holds(b, &b->r->findings[i], o, no))
			b->r->findings[out++] = b->r->findings[i];
	b->r->n = out;
	free(o);
}

/* MS: S itself, for a diagnosis that keeps its words in it. */
static tt_diag_report *diagnose(const tt_snapshot *s, tt_snapshot *ms, uint64_t now_ns,
				const tt_diag_opts *opts)
{
	tt_diag_opts defaults;
	build b = { 0 };
	tview v;

	if (!opts) {
		tt_diag_opts_init(&defaults);
		opts = &defaults;
	}
	b.s = s;
	b.ms = ms;
	b.o = opts;
	b.now = now_ns ? now_ns : s->now_ns;
	b.r = calloc(1, sizeof(*b.r));
	b.flagged = calloc(s->ntasks ? s->ntasks : 1, 1);
	if (!b.r || !b.flagged || !(b.r->priv_ = calloc(1, sizeof(*b.r->priv_)))) {
		free(b.flagged);
		if (b.r)
			free(b.r->priv_);
		free(b.r);
		return NULL;
	}
	b.r->now_ns = b.now;
	per_task(&b);
	deadlocks(&b);
	all_asleep(&b);
	long_polls(&b);
	for (size_t i = 0; i < s->ntasks && !b.oom; i++) {
		if (skipped(&b, i)) {
			b.r->ntasks += considered(&b, &s->tasks[i]);
			continue;
		}
		prefetch_task(&b, i);
		if (!considered(&b, &s->tasks[i])) {
			memo_put(&b, i, NEVER);
			continue;
		}
		b.r->ntasks++;
		if (b.flagged[i]) {
			memo_put(&b, i, 0);
			continue;
		}
		tv(&b, &s->tasks[i], &v);
		uint64_t next = lost_waker(&b, i, &v);
		if (!b.flagged[i])
			next = earlier(next, never_resolved(&b, i, &v));
		if (!b.flagged[i])
			next = earlier(next, starved(&b, i, &v));
		next = earlier(next, idle(&b, i, &v));
		memo_put(&b, i, next);
	}
	quote_flight(&b);
	if (opts->recheck && !b.oom)
		drop_moved(&b);
	/* Filter, then group: a group's example ids are then all labelled. */
	if (opts->nlabels)
		drop_unlabelled(&b);
	if (!opts->each && !b.oom)
		group_findings(&b);
	if (b.r->n > 1)
		qsort(b.r->findings, b.r->n, sizeof(*b.r->findings), by_kind);
	summary(&b);
	free(b.flagged);
	free(b.woken);
	free(b.rr);
	tt_snapshot_free(b.again);
	free(b.views);
	free(b.cons);
	free(b.running);
	free(b.quotes);
	if (b.oom) {
		tt_diag_free(b.r);
		errno = ENOMEM;
		return NULL;
	}
	return b.r;
}

tt_diag_report *tt_diagnose(const tt_snapshot *s, uint64_t now_ns, const tt_diag_opts *opts)
{
	return diagnose(s, NULL, now_ns, opts);
}

tt_diag_report *tt_diagnose_update(tt_snapshot *s, uint64_t now_ns, const tt_diag_opts *opts)
{
	return diagnose(s, s, now_ns, opts);
}

tt_diag_report *tt_diagnose_mem(tt_mem mem, uint64_t root, uint64_t now_ns,
				const tt_diag_opts *o, char *err, size_t errlen)
{
	tt_snapshot *s = NULL;
	int rc = tt_snapshot_read(mem, root, NULL, &s, err, errlen);

	if (rc != TT_R_OK)
		return NULL;
	tt_diag_report *r = tt_diagnose(s, now_ns, o);
	tt_snapshot_free(s);
	if (!r && err && errlen)
		snprintf(err, errlen, "out of memory");
	return r;
}

void tt_diag_free(tt_diag_report *r)
{
	if (!r)
		return;
	if (r->priv_) {
		for (size_t i = 0; i < r->priv_->nstrings; i++)
			free(r->priv_->strings[i]);
		for (size_t i = 0; i < r->priv_->ncycles; i++)
			free(r->priv_->cycles[i]);
		free(r->priv_->strings);
		free(r->priv_->cycles);
		free(r->priv_);
	}
	free(r->findings);
	free(r);
}

const char *tt_diag_kind_name(uint32_t kind)
{
	static const char *const names[TT_DIAG_KIND_MAX_] = {
#define XX(name, value, word, advice) [value] = word,
		TT_DIAG_KIND_MAP(XX)
#undef XX
	};

	return kind < TT_DIAG_KIND_MAX_ && names[kind] ? names[kind] : "?";
}

int tt_diag_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = { { "ns", 1 },	    { "us", 1000 },	    { "ms", MS },
		      { "s", SEC },	    { "m", 60 * SEC },	    { "h", 3600 * SEC },
		      { "", SEC } };
	uint64_t whole = 0, frac = 0, scale = 1;
	const char *p = s;

	if (!s || *p < '0' || *p > '9')
		return -EINVAL;
	while (*p >= '0' && *p <= '9') {
		if (whole > UINT64_MAX / 10 / 3600 / SEC)
			return -ERANGE;
		whole = whole * 10 + (uint64_t)(*p++ - '0');
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (scale < 1000000000ull) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
			p++;
		}
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			*ns = whole * units[i].mul + frac * units[i].mul / scale;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- leaked at shutdown (diag_env.c reports it from tt_runtime_free) ---- */

tt_diag_report *tt_diagnose_leaks(const tt_snapshot *s, uint64_t runtime_id, uint64_t now)
{
	tt_diag_opts o;
	build b = { 0 };
	tview v;

	tt_diag_opts_init(&o);
	o.runtime_id = runtime_id;
	b.s = s;
	b.o = &o;
	b.now = now;
	b.r = calloc(1, sizeof(*b.r));
	if (!b.r || !(b.r->priv_ = calloc(1, sizeof(*b.r->priv_)))) {
		free(b.r);
		return NULL;
	}
	b.r->now_ns = now;
	for (size_t i = 0; i < s->ntasks && !b.oom; i++) {
		const tt_stask *t = &s->tasks[i];
		sb text = { 0 };
		line l;
		tt_fbuf *fb;

		if (!considered(&b, t) || t->raw.state == TT_STATE_DONE ||
		    t->raw.state == TT_STATE_CANCELLED || !t->raw.root_frame)
			continue;
		b.r->ntasks++;
		view(t, &v);
		fb = line_start(&l);
		title_start(fb, TT_DIAG_LEAKED);
		task_ref(fb, t->raw.id, s);
		tt_fb_str(fb, " was still pending when its runtime was freed");
		line_end(&text, &l);
		fb = line_start(&l);
		tt_fb_str(fb, "  ");
		wait_evidence(fb, &v, s, now);
		line_end(&text, &l);
		advise(&text, kind_advice[TT_DIAG_LEAKED]);
		add(&b, TT_DIAG_LEAKED, t->raw.id, 0, age(t->raw.created_ns, now), &text);
	}
	b.flagged = NULL;
	summary(&b);
	if (b.oom) {
		tt_diag_free(b.r);
		return NULL;
	}
	return b.r;
}
