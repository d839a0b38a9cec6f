/* The track per task of `tasktrace trace`: each task's states as slices
 * on a thread of its own in a process "tasks": running (a poll),
 * scheduled (from the wake or spawn that queued it to the poll), waiting
 * (from a suspension to the next wake, named as `tasktrace history` names
 * what it waits on).  Derived from the events the rings hold and nothing
 * else: a state whose beginning is older than the rings starts at the
 * trace's start and says so (args.truncated); one still going when the
 * recording ends says so too (args.open).
 *
 * A recorded wake is one that queued the task (the runtime records no
 * other), so the task was waiting before it; a poll follows a wake or a
 * spawn.  A wake is stamped with its waker's clock of the poll path (the
 * start of the waker's poll): it can come before, in stamp order, the end
 * of the poll it followed; such a wake is held until that poll's end. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tasktrace/read/history.h"
#include "trace.h"

/* The "tasks" process: above any Linux pid (PID_MAX_LIMIT is 2^22), its
 * threads above the workers' tracks (their indexes, 100000 the foreign
 * ring), so no viewer takes a task for a worker. */
#define TASKS_PID ((1u << 22) + 1)
#define TASK_TID0 200000u

enum { ST_NONE, ST_SCHED, ST_IDLE, ST_ENDED };

/* What a slice's args say besides its state. */
enum {
	F_TRUNC = 1,   /* it began before the rings' oldest event: "truncated" */
	F_OPEN = 2,    /* it had not ended when the recording did: "open" */
	F_UNWOKEN = 4, /* polled with no wake held since it suspended: "wake_missing" */
};

typedef struct tcount {
	uint64_t id; /* 0: a free slot */
	uint32_t n;  /* its events since the trace's start */
	uint32_t track;
} tcount;

typedef struct tstate {
	uint64_t id, since, obj, cursor;
	uint8_t st, wait, trunc, have_early;
	uint8_t yielded; /* ST_SCHED since a poll that ended yielded */
} tstate;

struct ttracks {
	tcount *sel; /* the chosen tasks, track = their index in TS + 1 */
	size_t mask;
	tstate *ts;
	size_t n;
};

static size_t hash(uint64_t id, size_t mask)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 20) & mask;
}

static tcount *find(tcount *t, size_t mask, uint64_t id)
{
	size_t h = hash(id, mask);
	while (t[h].id && t[h].id != id)
		h = (h + 1) & mask;
	return &t[h];
}

/* X gets a track before Y: more events, then the lower id. */
static int before(const tcount *x, const tcount *y)
{
	return x->n != y->n ? x->n > y->n : x->id < y->id;
}

/* Task C offered to TOP[K] (room for MAX), a heap whose root is the
 * last of the tasks that get a track (a sort of every task was a fifth of
 * the cost of the tracks, for 256 of 32k tasks).  Returns the new K. */
static size_t offer(tcount *top, size_t k, size_t max, tcount c)
{
	size_t at;
	if (k < max) { /* up from the bottom */
		for (at = k++; at && before(&top[(at - 1) / 2], &c); at = (at - 1) / 2)
			top[at] = top[(at - 1) / 2];
	} else if (k && before(&c, &top[0])) { /* down from the root */
		for (at = 0;;) {
			size_t ch = 2 * at + 1;
			if (ch >= k)
				break;
			if (ch + 1 < k && before(&top[ch], &top[ch + 1]))
				ch++;
			if (!before(&c, &top[ch]))
				break;
			top[at] = top[ch];
			at = ch;
		}
	} else {
		return k;
	}
	top[at] = c;
	return k;
}

static int by_id(const void *a, const void *b)
{
	const tcount *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The counting table: a task in one u64, its id less the window's lowest
 * plus one in the low KEY_BITS (0: a free slot), its events in the rest,
 * saturating -- 8 bytes a task where 258k tasks of a million events made
 * a 16-byte table the biggest allocation after the events.  A task whose
 * id is 2^40 above the lowest (only a hostile core) is not counted. */
#define KEY_BITS 40
#define KEY_MASK ((1ull << KEY_BITS) - 1)
#define COUNT_MAX ((1ull << (64 - KEY_BITS)) - 1)

static uint64_t *slot_of(uint64_t *t, size_t mask, uint64_t key)
{
	size_t h = hash(key, mask);
	while (t[h] && (t[h] & KEY_MASK) != key)
		h = (h + 1) & mask;
	return &t[h];
}

/* The count of every task with events since O->from, ids from *LO, in an
 * open table of *MASK + 1 slots grown by doubling; *USED tasks. */
static uint64_t *count_tasks(const evs *e, const tout *o, uint64_t *lo, size_t *mask, size_t *used)
{
	*lo = UINT64_MAX;
	for (size_t i = 0; i < e->n; i++) {
		const cev *v = ev_at(e, i);
		if (v->task && v->stamp_ns >= o->from && v->task < *lo)
			*lo = v->task;
	}
	*mask = 1023;
	*used = 0;
	uint64_t *t = calloc(*mask + 1, sizeof *t);
	for (size_t i = 0; t && i < e->n; i++) {
		const cev *v = ev_at(e, i);
		if (!v->task || v->stamp_ns < o->from || v->task - *lo >= KEY_MASK)
			continue;
		uint64_t key = v->task - *lo + 1, *c = slot_of(t, *mask, key);
		if (!*c) {
			if (2 * (*used + 1) > *mask + 1) {
				uint64_t *g = calloc(2 * (*mask + 1), sizeof *g);
				if (!g) {
					free(t);
					return NULL;
				}
				for (size_t k = 0; k <= *mask; k++)
					if (t[k])
						*slot_of(g, 2 * *mask + 1, t[k] & KEY_MASK) = t[k];
				free(t);
				t = g;
				*mask = 2 * *mask + 1;
				c = slot_of(t, *mask, key);
			}
			*c = key;
			++*used;
		}
		if ((*c >> KEY_BITS) < COUNT_MAX)
			*c += 1ull << KEY_BITS;
	}
	return t;
}

ttracks *ttracks_new(const evs *e, const tout *o, size_t max, size_t *total)
{
	uint64_t lo;
	size_t mask, n = 0;
	ttracks *t = calloc(1, sizeof *t);
	uint64_t *tab = t ? count_tasks(e, o, &lo, &mask, total) : NULL;
	tcount *all = tab ? calloc(max ? max : 1, sizeof *all) : NULL;
	if (!all) {
		free(tab);
		free(t);
		*total = 0;
		return NULL;
	}
	for (size_t i = 0; i <= mask; i++)
		if (tab[i])
			n = offer(all, n, max,
				  (tcount){lo + (tab[i] & KEY_MASK) - 1,
					   (uint32_t)(tab[i] >> KEY_BITS), 0});
	free(tab);
	qsort(all, n, sizeof *all, by_id); /* tracks in id order */
	for (t->mask = 15; t->mask + 1 < 2 * n;)
		t->mask = 2 * t->mask + 1;
	t->sel = calloc(t->mask + 1, sizeof *t->sel);
	t->ts = calloc(n ? n : 1, sizeof *t->ts);
	if (!t->sel || !t->ts) {
		free(all);
		free(t->sel);
		free(t->ts);
		free(t);
		return NULL;
	}
	t->n = n;
	for (size_t k = 0; k < n; k++) {
		tcount *c = find(t->sel, t->mask, all[k].id);
		*c = all[k];
		c->track = (uint32_t)k + 1;
		t->ts[k].id = all[k].id;
	}
	free(all);
	return t;
}

void ttracks_meta(ttracks *t, const tout *o)
{
	if (!t->n)
		return;
	fprintf(o->f,
		",\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%u,\"args\":{\"name\":"
		"\"tasktrace pid %" PRIu64 ": tasks\"}}",
		TASKS_PID, o->s->pid);
	for (size_t k = 0; k < t->n; k++) {
		fprintf(
		    o->f,
		    ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%u,\"tid\":%zu,\"args\":{"
		    "\"name\":",
		    TASKS_PID, TASK_TID0 + k);
		trace_task_name(o->f, o->s, t->ts[k].id, NULL);
		fprintf(o->f, "}}");
	}
}

/* A slice of state STATE on K's track, from FROM (F_TRUNC: older than
 * the rings, FROM is the trace's start) to TO; no slice begins before the
 * last one on the track ended (two workers' clocks differ by a tick). */
static void slice(ttracks *t, const tout *o, tstate *k, uint64_t from, uint64_t to, int flags,
		  uint32_t state, const cev *poll)
{
	if (to < o->from) { /* before the --last window, as the polls' slices */
		if (to > k->cursor)
			k->cursor = to;
		return;
	}
	if (from < k->cursor)
		from = k->cursor;
	if (from < o->start) {
		from = o->start;
		flags |= F_TRUNC;
	}
	if (to < from)
		to = from;
	k->cursor = to;
	char buf[160];
	tt_fbuf b;
	tt_fb_init(&b, buf, sizeof buf);
	if (state == TT_STATE_IDLE && k->wait)
		tt_history_wait(&b, k->wait, k->obj);
	else
		tt_fb_str(&b, tt_state_name(state));
	fprintf(o->f, ",\n{\"name\":");
	trace_jstr(o->f, buf);
	trace_us(o->f, ",\"cat\":\"state\",\"ph\":\"X\",\"ts\":", from, o->base);
	trace_us(o->f, ",\"dur\":", to, from);
	fprintf(o->f, ",\"pid\":%u,\"tid\":%zu,\"args\":{\"state\":\"%s\",\"task\":%" PRIu64,
		TASKS_PID, TASK_TID0 + (size_t)(k - t->ts), tt_state_name(state), k->id);
	if (poll)
		fprintf(o->f, ",\"end\":\"%s\",\"worker\":%d", tt_event_kind_name(poll->kind),
			poll->ring - 1);
	if (flags & F_TRUNC)
		fprintf(o->f, ",\"truncated\":true");
	if (flags & F_OPEN)
		fprintf(o->f, ",\"open\":true");
	if (flags & F_UNWOKEN)
		fprintf(o->f, ",\"wake_missing\":true");
	fprintf(o->f, "}}");
}

/* K's current state ends at TO. */
static void close_state(ttracks *t, const tout *o, tstate *k, uint64_t to, int flags)
{
	if (k->st == ST_SCHED || k->st == ST_IDLE)
		slice(t, o, k, k->trunc ? o->start : k->since, to, flags | (k->trunc ? F_TRUNC : 0),
		      k->st == ST_SCHED ? TT_STATE_SCHEDULED : TT_STATE_IDLE, NULL);
}

static void enter(tstate *k, int st, uint64_t since)
{
	k->st = (uint8_t)st;
	k->since = since;
	k->trunc = 0;
	k->yielded = 0;
}

void ttracks_event(ttracks *t, const tout *o, const cev *v)
{
	if (!t->n || !v->task)
		return;
	const tcount *c = find(t->sel, t->mask, v->task);
	if (!c->id)
		return;
	tstate *k = &t->ts[c->track - 1];
	if (k->st == ST_ENDED)
		return;
	if (cev_is_poll(v)) {
		uint64_t start = cev_start(v);
		if (k->st == ST_NONE) { /* queued before the rings' oldest event */
			k->st = ST_SCHED;
			k->trunc = 1;
		}
		/* Waiting until this poll: its wake was torn, or in a ring
		 * that has lost it since; when it came is not known. */
		close_state(t, o, k, start, k->st == ST_IDLE ? F_UNWOKEN : 0);
		slice(t, o, k, start, v->stamp_ns, 0, TT_STATE_RUNNING, v);
		if (v->kind == TT_EV_SUSPEND) {
			enter(k, ST_IDLE, v->stamp_ns);
			k->wait = v->wait == 255 ? 0 : v->wait;
			k->obj = v->arg2;
			if (k->have_early) { /* woken since, by a waker's older stamp */
				close_state(t, o, k, v->stamp_ns, 0);
				enter(k, ST_SCHED, v->stamp_ns);
			}
		} else if (v->kind == TT_EV_YIELD) {
			enter(k, ST_SCHED, v->stamp_ns);
			k->yielded = 1;
		} else {
			k->st = ST_ENDED;
		}
		k->have_early = 0;
		return;
	}
	switch (v->kind) {
	case TT_EV_SPAWN: /* a task's first event (ids are never reused) */
		if (k->st == ST_NONE)
			enter(k, ST_SCHED, v->stamp_ns);
		break;
	case TT_EV_WAKE:
		/* A wake during a poll, stamped after that poll's yielded
		 * end: the wake the yield was (the queued state shown). */
		if (v->wait == 1 && k->st == ST_SCHED && k->yielded)
			break;
		if (k->st == ST_SCHED) { /* its poll in flight ended before this wake */
			k->have_early = 1;
			break;
		}
		if (k->st == ST_NONE) { /* waiting since before the rings' oldest event */
			k->st = ST_IDLE;
			k->trunc = 1;
			k->wait = 0;
		}
		close_state(t, o, k, v->stamp_ns, 0);
		enter(k, ST_SCHED, v->stamp_ns);
		break;
	case TT_EV_CANCEL: /* cancelled outside a poll: the task ends */
		close_state(t, o, k, v->stamp_ns, 0);
		k->st = ST_ENDED;
		break;
	}
}

void ttracks_end(ttracks *t, const tout *o)
{
	for (size_t i = 0; i < t->n; i++) {
		tstate *k = &t->ts[i];
		close_state(t, o, k, o->end, F_OPEN);
	}
	free(t->sel);
	free(t->ts);
	free(t);
}
