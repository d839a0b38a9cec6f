/* `tasktrace trace TARGET [-o FILE] [--last D]`: the flight recorder's
 * events (docs/registry-abi.md §5.12) as a Chrome trace-event JSON file,
 * which Perfetto's UI and chrome://tracing open: one track per worker
 * (and one for the foreign ring) with each poll a slice named by its task
 * and, for a suspension, the async function it suspended in; a track per
 * task (up to --tasks) of its states (trace_tasks.c); flows from a wake to
 * the woken task's next poll; instant events for spawns. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tasktrace/read/diagnose.h"
#include "trace.h"

#define FOREIGN_TID 100000 /* the track of the foreign ring */

#define DUR_LONG (1u << 31)
#define DUR_SHIFT 16
#define TASKS_DEFAULT 256 /* task tracks */
#define TASKS_MAX 100000

static uint32_t dur_code(uint64_t ns)
{
	if (ns < DUR_LONG)
		return (uint32_t)ns;
	uint64_t u = ns >> DUR_SHIFT;
	return DUR_LONG | (uint32_t)(u < DUR_LONG ? u : DUR_LONG - 1);
}

static uint64_t dur_ns(uint32_t code)
{
	return code & DUR_LONG ? (uint64_t)(code & ~DUR_LONG) << DUR_SHIFT : code;
}

static long tid_of(const cev *e)
{
	return e->ring ? e->ring - 1 : FOREIGN_TID;
}

static int keep(void *ctx, const tt_revent *ev)
{
	evs *e = ctx;
	uint16_t ring = ev->worker < 0		      ? 0
			: ev->worker < UINT16_MAX - 1 ? (uint16_t)(ev->worker + 1)
						      : UINT16_MAX - 1;
	if (e->n == e->nblk * BLOCK) {
		if ((e->nblk == e->capblk &&
		     cli_grow((void **)&e->blk, &e->capblk, sizeof *e->blk, 64)) ||
		    !(e->blk[e->nblk] = malloc(BLOCK * sizeof(cev)))) {
			e->oom = 1;
			return 1;
		}
		e->nblk++;
	}
	if (e->nsegs == e->capsegs && cli_grow((void **)&e->segs, &e->capsegs, sizeof *e->segs, 16)) {
		e->oom = 1;
		return 1;
	}
	/* tt_flight_read delivers ring after ring. */
	if (!e->nsegs || ev_at(e, e->segs[e->nsegs - 1].from)->ring != ring)
		e->segs[e->nsegs++] = (seg){e->n, 0};
	e->segs[e->nsegs - 1].n++;
	cev *c = ev_at(e, e->n++);
	*c = (cev){
	    .stamp_ns = ev->stamp_ns,
	    .task = ev->task,
	    .arg1 = ev->arg1,
	    .arg2 = ev->kind == TT_EV_SUSPEND ? ev->arg2 : 0,
	    .dur = ev->start_ns ? dur_code(ev->stamp_ns - ev->start_ns) : 0,
	    .ring = ring,
	    .kind = (uint8_t)(ev->kind < 255 ? ev->kind : 255),
	    .wait = (uint8_t)(ev->arg3 < 255 ? ev->arg3 : 255),
	};
	if (!ev->start_ns)
		c->dur = CEV_NO_POLL;
	return 0;
}

static int tie_rank(const cev *v)
{
	return v->kind == TT_EV_SPAWN ? 2 : v->kind == TT_EV_WAKE;
}

/* The next event in time over all rings (a tie: the lower track first,
 * the foreign ring's before worker 0's), each ring's in order: a merge,
 * not a sort, so no second copy of the events. */
static const cev *next_event(evs *e, size_t *at, size_t *index)
{
	size_t best = SIZE_MAX;
	for (size_t k = 0; k < e->nsegs; k++) {
		if (at[k] == e->segs[k].n)
			continue;
		const cev *c = ev_at(e, e->segs[k].from + at[k]);
		if (best == SIZE_MAX)
			best = k;
		else {
			const cev *b = ev_at(e, e->segs[best].from + at[best]);
			/* In one tick of the coarse clock a wake on one worker
			 * and the poll it led to on another carry the same
			 * stamp: the wake goes first, or its flow would start
			 * after the poll that ends it and never end; a spawn
			 * before both, or the task's track would begin after
			 * its first poll. */
			int cw = tie_rank(c), bw = tie_rank(b);
			if (c->stamp_ns < b->stamp_ns ||
			    (c->stamp_ns == b->stamp_ns &&
			     (cw > bw || (cw == bw && c->ring < b->ring))))
				best = k;
		}
	}
	if (best == SIZE_MAX)
		return NULL;
	*index = e->segs[best].from + at[best]++;
	return ev_at(e, *index);
}

/* Wakes waiting for the woken task's next poll, where their flows end:
 * per task a list of flow ids, in a table of the tasks with a wake
 * pending (the old scan of every wake at every poll was quadratic: 5 s
 * of a million events), a task leaving it at its poll, so the table is
 * as big as the wakes pending at one time, not as all of them. */
struct fslot {
	uint64_t task;	     /* 0: free */
	uint32_t head, tail; /* flow ids (1-based) */
	int passed;	     /* the head came during a poll that has ended since */
};

/* A flow's start is written with its end, at the woken task's poll: a
 * wake whose poll the rings do not hold has no flow (an arrow that
 * never lands), only its instant. */
typedef struct flows {
	struct fslot *slot;
	uint32_t *next; /* per flow id */
	size_t *wake;	/* per flow id: the wake's event */
	size_t mask, used, nflows;
	int oom;
} flows;

static size_t fhash(const flows *fl, uint64_t task)
{
	return (size_t)((task * 0x9e3779b97f4a7c15ull) >> 20) & fl->mask;
}

static int flows_init(flows *fl, const evs *e)
{
	size_t wakes = 0;
	for (size_t i = 0; i < e->n; i++)
		wakes += ev_at(e, i)->kind == TT_EV_WAKE;
	fl->mask = 255;
	fl->used = fl->nflows = 0;
	fl->oom = 0;
	fl->slot = calloc(fl->mask + 1, sizeof *fl->slot);
	fl->next = calloc(wakes + 1, sizeof *fl->next);
	fl->wake = calloc(wakes + 1, sizeof *fl->wake);
	return fl->slot && fl->next && fl->wake ? 0 : -1;
}

static struct fslot *flows_find(flows *fl, uint64_t task)
{
	size_t h = fhash(fl, task);
	while (fl->slot[h].task && fl->slot[h].task != task)
		h = (h + 1) & fl->mask;
	return &fl->slot[h];
}

static int flows_grow(flows *fl)
{
	struct fslot *old = fl->slot;
	size_t n = fl->mask + 1;
	if (!(fl->slot = calloc(2 * n, sizeof *fl->slot))) {
		fl->slot = old;
		return -1;
	}
	fl->mask = 2 * n - 1;
	for (size_t i = 0; i < n; i++)
		if (old[i].task)
			*flows_find(fl, old[i].task) = old[i];
	free(old);
	return 0;
}

/* A wake of TASK, event WAKE: its flow id, 0 when memory ran out. */
static uint32_t flows_add(flows *fl, uint64_t task, size_t wake)
{
	if (2 * (fl->used + 1) > fl->mask + 1 && flows_grow(fl))
		return 0;
	struct fslot *s = flows_find(fl, task);
	uint32_t id = (uint32_t)++fl->nflows;
	fl->wake[id] = wake;
	if (!s->task) {
		s->task = task;
		fl->used++;
	}
	if (s->tail)
		fl->next[s->tail] = id;
	else
		s->head = id;
	s->tail = id;
	return id;
}

/* S leaves the table; the entries after it in its probe run move back
 * over the hole if their home is not between (linear probing's delete). */
static void flows_del(flows *fl, struct fslot *s)
{
	size_t i = (size_t)(s - fl->slot), j = i;
	for (;;) {
		j = (j + 1) & fl->mask;
		if (!fl->slot[j].task)
			break;
		size_t k = fhash(fl, fl->slot[j].task);
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			fl->slot[i] = fl->slot[j];
			i = j;
		}
	}
	fl->slot[i] = (struct fslot){0};
	fl->used--;
}

/* A JSON string of untrusted text (names and files from the target). */
void trace_jstr(FILE *f, const char *s)
{
	char buf[1024];
	tt_fbuf b;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fb_text(&b, s); /* controls and bad UTF-8 as \xHH: no raw control left */
	fputc('"', f);
	for (const char *p = buf; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

int cev_is_poll(const cev *v)
{
	uint32_t k = v->kind;
	return k == TT_EV_SUSPEND || k == TT_EV_YIELD || k == TT_EV_DONE ||
	       (k == TT_EV_CANCEL && v->dur != CEV_NO_POLL);
}

/* NS - BASE in microseconds with three decimals (printf's %.3f of a
 * double was a fifth of the time). */
void trace_us(FILE *f, const char *key, uint64_t ns, uint64_t base)
{
	uint64_t d = ns > base ? ns - base : 0;
	fprintf(f, "%s%" PRIu64 ".%03u", key, d / 1000, (unsigned)(d % 1000));
}

void trace_task_name(FILE *f, const tt_snapshot *s, uint64_t id, const char *suffix)
{
	const tt_stask *t = tt_snapshot_find(s, id);
	char name[96];
	snprintf(name, sizeof name, "task %" PRIu64 "%s%s%s", id, t && t->raw.name[0] ? " " : "",
		 t ? t->raw.name : "", suffix ? suffix : "");
	trace_jstr(f, name);
}

static void labels(FILE *f, const tt_snapshot *s, uint64_t id)
{
	const tt_stask *t = tt_snapshot_find(s, id);
	fprintf(f, ",\"task\":%" PRIu64, id);
	if (!t)
		return;
	for (uint32_t i = 0; i < t->raw.nlabels && i < TT_TASK_LABELS_MAX; i++) {
		char key[TT_LABEL_KEY_MAX + 8];
		snprintf(key, sizeof key, "label.%s", t->raw.labels[i].key);
		fputc(',', f);
		trace_jstr(f, key);
		fputc(':', f);
		trace_jstr(f, t->raw.labels[i].value);
	}
}

uint64_t cev_start(const cev *v)
{
	return v->dur == CEV_NO_POLL ? v->stamp_ns : v->stamp_ns - dur_ns(v->dur);
}

/* *TASKS: the tasks that had events in the trace, *TRACKS: those given
 * a track. */
static int write_trace(FILE *f, tt_reader *r, const cli_session *cs, evs *e, uint64_t last_ns,
		       size_t max_tasks, size_t *tasks, size_t *tracks)
{
	const tt_snapshot *s = cs->snap;
	/* Time 0: the registry's start, or the oldest stamp when the coarse
	 * clock put one before it. */
	uint64_t base = s->start_mono_ns, newest = 0, oldest = UINT64_MAX;
	for (size_t i = 0; i < e->n; i++) {
		const cev *v = ev_at(e, i);
		uint64_t t = cev_start(v);
		if (t < oldest)
			oldest = t;
		if (v->stamp_ns > newest)
			newest = v->stamp_ns;
	}
	if (oldest < base)
		base = oldest;
	uint64_t from = last_ns && newest > last_ns ? newest - last_ns : 0;
	/* The trace's start: the earliest start of the events it shows (a
	 * poll that ended in the --last window may have begun before it). */
	uint64_t shown = UINT64_MAX;
	for (size_t i = 0; i < e->n; i++) {
		const cev *v = ev_at(e, i);
		if (v->stamp_ns >= from && cev_start(v) < shown)
			shown = cev_start(v);
	}
	tout o = {f, s, base, from, shown, newest};
	if (shown == UINT64_MAX)
		o.start = o.end = base;
	tt_rsym syms[16];
	tt_rsym_cache cache;
	memset(syms, 0, sizeof syms);
	tt_rsym_cache_init(&cache, syms, 16);
	flows fl;
	size_t *at = calloc(e->nsegs ? e->nsegs : 1, sizeof *at);
	ttracks *tt = NULL;
	*tasks = *tracks = 0;
	if (flows_init(&fl, e) || !at || !(tt = ttracks_new(e, &o, max_tasks, tasks))) {
		free(fl.slot);
		free(fl.next);
		free(fl.wake);
		free(at);
		return -1;
	}
	*tracks = *tasks < max_tasks ? *tasks : max_tasks;

	fprintf(f, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
	fprintf(f,
		"{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%" PRIu64
		",\"args\":{\"name\":\"tasktrace pid %" PRIu64 "\"}}",
		s->pid, s->pid);
	/* A name per ring, once: a ring's events may come in several
	 * segments. */
	for (size_t j = 0; j < e->nsegs; j++) {
		long tid = tid_of(ev_at(e, e->segs[j].from));
		size_t i = 0;
		while (i < j && tid_of(ev_at(e, e->segs[i].from)) != tid)
			i++;
		if (i < j)
			continue;
		if (tid == FOREIGN_TID)
			fprintf(f,
				",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%" PRIu64
				",\"tid\":%ld,\"args\":{\"name\":\"off the workers\"}}",
				s->pid, tid);
		else
			fprintf(f,
				",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%" PRIu64
				",\"tid\":%ld,\"args\":{\"name\":\"worker %ld\"}}",
				s->pid, tid, tid);
	}
	ttracks_meta(tt, &o);
	size_t index;
	for (const cev *v; (v = next_event(e, at, &index));) {
		ttracks_event(tt, &o, v); /* older events too: they set the states */
		if (v->stamp_ns < from)
			continue;
		long tid = tid_of(v);
		uint64_t start = cev_start(v);
		if (cev_is_poll(v)) {
			const tt_rsym *site = v->kind == TT_EV_SUSPEND && v->arg1
						  ? tt_rsym_site(r, &cache, v->arg1)
						  : NULL;
			char fn[TT_RSYM_TEXT + 4] = "";
			if (site && site->ok)
				snprintf(fn, sizeof fn, ": %s", site->name);
			fprintf(f, ",\n{\"name\":");
			trace_task_name(f, s, v->task, fn);
			trace_us(f, ",\"cat\":\"poll\",\"ph\":\"X\",\"ts\":", start, base);
			trace_us(f, ",\"dur\":", v->stamp_ns, start);
			fprintf(f, ",\"pid\":%" PRIu64 ",\"tid\":%ld,\"args\":{\"end\":\"%s\"",
				s->pid, tid, tt_event_kind_name(v->kind));
			labels(f, s, v->task);
			if (site && site->ok) {
				char where[2 * TT_RSYM_TEXT];
				snprintf(where, sizeof where, "%s:%u", site->file, site->line);
				fprintf(f, ",\"site\":");
				trace_jstr(f, where);
			}
			if (v->kind == TT_EV_SUSPEND && v->wait)
				fprintf(f, ",\"wait\":\"%s\"", tt_wait_kind_name(v->wait));
			fprintf(f, "}}");
			/* The flow of the wake that led to this poll ends here:
			 * the task's wakes in order, one per poll that follows
			 * (a wake stamped by its waker's older clock comes,
			 * in stamp order, before the end of the poll it
			 * followed: it is the next poll's, not this one's). */
			struct fslot *p = v->task ? flows_find(&fl, v->task) : NULL;
			const cev *w = p && p->task ? ev_at(e, fl.wake[p->head]) : NULL;
			/* A wake during this poll queues the task when it
			 * ends: it leads to the next poll.  Its stamp, from
			 * another clock, may be a tick before this poll's
			 * start; a poll it came during ended yielded, or
			 * (the wake came as it was leaving) suspended. */
			if (w && w->wait == 1 && !p->passed &&
			    (v->kind == TT_EV_YIELD || w->stamp_ns >= start)) {
				p->passed = 1;
				w = NULL;
			}
			if (w) {
				uint32_t id = p->head;
				fprintf(f,
					",\n{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"s\","
					"\"id\":%" PRIu32,
					id);
				trace_us(f, ",\"ts\":", w->stamp_ns, base);
				fprintf(f, ",\"pid\":%" PRIu64 ",\"tid\":%ld}", s->pid, tid_of(w));
				fprintf(f,
					",\n{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"f\","
					"\"bp\":\"e\",\"id\":%" PRIu32,
					id);
				/* In the poll, not before its wake: a worker's
				 * clock of the poll path can be a tick behind. */
				trace_us(f, ",\"ts\":", w->stamp_ns > start ? w->stamp_ns : start,
					 base);
				fprintf(f, ",\"pid\":%" PRIu64 ",\"tid\":%ld}", s->pid, tid);
				p->passed = 0;
				if (!(p->head = fl.next[id]))
					flows_del(&fl, p);
			}
		} else if (v->kind == TT_EV_WAKE) {
			/* no poll of task 0 ends a flow */
			if (v->task && !flows_add(&fl, v->task, index))
				fl.oom = 1;
			fprintf(f, ",\n{\"name\":");
			trace_task_name(f, s, v->task, " woken");
			trace_us(f,
				 ",\"cat\":\"wake\",\"ph\":\"i\",\"s\":\"t\",\"ts\":", v->stamp_ns,
				 base);
			fprintf(f,
				",\"pid\":%" PRIu64 ",\"tid\":%ld,\"args\":{\"by\":%" PRIu64 "}}",
				s->pid, tid, v->arg1);
		} else {
			fprintf(f, ",\n{\"name\":");
			char what[64];
			snprintf(what, sizeof what, " %s", tt_event_kind_name(v->kind));
			trace_task_name(f, s, v->task, what);
			fprintf(f, ",\"cat\":\"%s\",\"ph\":\"i\",\"s\":\"t\"",
				v->kind == TT_EV_SPAWN ? "spawn"
				: v->kind == TT_EV_STALL_BEGIN || v->kind == TT_EV_STALL_END
				    ? "stall"
				    : "event");
			trace_us(f, ",\"ts\":", v->stamp_ns, base);
			fprintf(f, ",\"pid\":%" PRIu64 ",\"tid\":%ld,\"args\":{\"parent\":%" PRIu64,
				s->pid, tid, v->kind == TT_EV_SPAWN ? v->arg1 : 0);
			labels(f, s, v->task);
			fprintf(f, "}}");
		}
	}
	ttracks_end(tt, &o);
	fprintf(f, "\n]}\n");
	free(fl.slot);
	free(fl.next);
	free(fl.wake);
	free(at);
	return fl.oom ? -1 : 0;
}

/* Our own options (cli_take_own). */
struct trace_args {
	const char *out;
	uint64_t last_ns;
	size_t tasks;
};
static const char *const trace_names[] = {"--last", "--tasks", "--output", "-o"};
const cli_own cli_trace_own = {trace_names, sizeof trace_names / sizeof trace_names[0]};

static int take_arg(const cli_cmd *cmd, void *ctx, size_t k, const char *v)
{
	struct trace_args *a = ctx;
	char *end;

	if (k > 1) {
		a->out = v;
	} else if (k == 1) {
		errno = 0;
		unsigned long long n = strtoull(v, &end, 10);
		if (errno || end == v || *end || *v == '-' || n > TASKS_MAX)
			return cli_usage(cmd, "--tasks: '%s' is not a count from 0 to %d", v,
					 TASKS_MAX);
		a->tasks = (size_t)n;
	} else if (tt_diag_parse_duration(v, &a->last_ns) || !a->last_ns) {
		return cli_usage(cmd, "--last: '%s' is not a duration (1s, 500ms)", v);
	}
	return -1;
}

static int trace_run(const cli_cmd *cmd, int argc, char **argv)
{
	struct trace_args a = {NULL, 0, TASKS_DEFAULT};
	char **rest = calloc((size_t)argc + 1, sizeof *rest);
	int n = argc;
	if (!rest)
		return EXIT_TARGET;
	memcpy(rest, argv, (size_t)argc * sizeof *rest);
	cli_opts o;
	const char *target;
	int rc = cli_take_own(cmd, &n, rest, trace_names,
			      sizeof trace_names / sizeof trace_names[0], take_arg, &a);
	if (rc < 0)
		rc = cli_parse_single_target(cmd, n, rest, &o, &target);
	if (rc >= 0) {
		free(rest);
		return rc;
	}
	const char *out = a.out;
	uint64_t last_ns = a.last_ns;
	/* An output that cannot be written is said before anything is read. */
	FILE *f = out ? fopen(out, "w") : stdout;
	if (!f) {
		fprintf(stderr, "tasktrace: %s: %s\n", out, strerror(errno));
		free(rest);
		return EXIT_TARGET;
	}
	cli_session s;
	if ((rc = cli_open_target(&s, &o, target)) != EXIT_OK) {
		if (out)
			fclose(f);
		free(rest);
		return rc;
	}
	tt_reader *r = calloc(1, sizeof *r);
	evs e = {0};
	tt_rflight st;
	size_t tasks, tracks;
	if (!r || cli_flight_read(&s, r, 0, keep, &e, &st) < 0) {
		rc = EXIT_TARGET;
	} else if (e.oom || write_trace(f, r, &s, &e, last_ns, a.tasks, &tasks, &tracks)) {
		fprintf(stderr, "tasktrace: out of memory\n");
		rc = EXIT_TARGET;
	} else {
		cli_flight_note(&st);
		if (tracks < tasks)
			fprintf(stderr,
				"tasktrace: task tracks for %zu of %zu tasks (those with the most "
				"events); %zu dropped (--tasks N)\n",
				tracks, tasks, tasks - tracks);
	}
	if (out && fclose(f)) {
		fprintf(stderr, "tasktrace: %s: %s\n", out, strerror(errno));
		rc = EXIT_TARGET;
	}
	for (size_t i = 0; i < e.nblk; i++)
		free(e.blk[i]);
	free(e.blk);
	free(e.segs);
	free(r);
	cli_close(&s);
	free(rest);
	return rc;
}

const cli_cmd cmd_trace = {
    "trace",
    "write the flight recorder's events as a Chrome/Perfetto trace",
    "Usage: tasktrace trace [OPTIONS] TARGET [-o FILE] [--last DURATION] [--tasks N]\n"
    "\n"
    "Write what the flight recorder of TARGET (a live pid, or a core file)\n"
    "holds as Chrome trace-event JSON (ui.perfetto.dev, chrome://tracing): a\n"
    "track per worker with each poll a slice named by its task (and the async\n"
    "function it suspended in), a track per task of its states (running,\n"
    "scheduled, waiting and on what), flow arrows from each wake to the woken\n"
    "task's next poll, instant events for spawns; task labels as arguments.\n"
    "\n"
    "  -o, --output FILE  write to FILE (default: standard output); checked\n"
    "                     before the target is read\n"
    "      --last D       only the last D of events (500ms, 2s)\n"
    "      --tasks N      a track for at most N tasks, those with the most\n"
    "                     events (default 256; 0: none); the others are counted\n"
    "      --exe FILE     the executable of a core (default: from the core)\n"
    "      --nonblocking  read a live process without stopping it\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 ok, 1 I/O error, 2 usage error, 3-11 the target could not\n"
    "be read (see docs/cli.md).\n",
    trace_run,
    0,
};
