/* The wait profile's aggregation: every task of a snapshot counted under
 * its await chain -- the awaited path the snapshot walks (tt_stask_path,
 * as bt shows it), root function first, then a pseudo-frame for what the
 * leaf waits on -- and its labels. */
#include <stdlib.h>
#include <string.h>

#include "profile.h"

#define PROF_MAX_PATH 256 /* the reader keeps no deeper path (max_depth) */
#define TEXT_MAX 512

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 1099511628211ull;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = mix(h, (unsigned char)*s);
	return mix(h, 0xff);
}

static char *clean_copy(const char *s)
{
	char buf[TEXT_MAX];
	tt_fbuf b;

	tt_fb_init(&b, buf, sizeof(buf));
	tt_fb_text(&b, s);
	return strdup(buf);
}

/* Grow an open-addressing table of indices + 1 to twice N's slots. */
static int rehash(uint32_t **slots, size_t *cap, size_t n, const void *items, size_t size)
{
	size_t ncap = *cap ? *cap * 2 : 256;
	uint32_t *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint64_t h = *(const uint64_t *)((const char *)items + i * size);
		size_t k = (size_t)h & (ncap - 1);
		while (ns[k])
			k = (k + 1) & (ncap - 1);
		ns[k] = (uint32_t)i + 1;
	}
	free(*slots);
	*slots = ns;
	*cap = ncap;
	return 0;
}

static uint64_t frame_key(uint64_t func, uint64_t site)
{
	return mix(mix(1469598103934665603ull, func), site);
}

/* Enter the last of N ITEMS (each SIZE bytes, starting with its hash)
 * into the table, grown to keep it at most half full. */
static int add_slot(uint32_t **slots, size_t *cap, size_t n, const void *items, size_t size)
{
	if (2 * n > *cap)
		return rehash(slots, cap, n, items, size);
	uint64_t h = *(const uint64_t *)((const char *)items + (n - 1) * size);
	size_t k = (size_t)h & (*cap - 1);
	while ((*slots)[k])
		k = (k + 1) & (*cap - 1);
	(*slots)[k] = (uint32_t)n;
	return 0;
}

/* The index of frame (FUNC, SITE), -1 when not interned yet. */
static int64_t frame_find(const prof *p, uint64_t func, uint64_t site)
{
	uint64_t h = frame_key(func, site);

	if (!p->frame_slots_cap)
		return -1;
	for (size_t k = (size_t)h & (p->frame_slots_cap - 1);;
	     k = (k + 1) & (p->frame_slots_cap - 1)) {
		uint32_t i = p->frame_slots[k];
		if (!i)
			return -1;
		const prof_frame *f = &p->frames[i - 1];
		if (f->func == func && f->site == site)
			return i - 1;
	}
}

/* The index of frame (FUNC, SITE), added with NAME, FILE, LINE when new;
 * -1 when out of memory.  Frames are keyed by their addresses: the names
 * are copied once, when a frame is first seen. */
static int64_t frame_intern(prof *p, uint64_t func, uint64_t site, const char *name,
			    const char *file, uint32_t line)
{
	int64_t found = frame_find(p, func, site);

	if (found >= 0)
		return found;
	if (p->nframes == p->frames_cap &&
	    cli_grow((void **)&p->frames, &p->frames_cap, sizeof(*p->frames), 64))
		return -1;
	prof_frame *f = &p->frames[p->nframes];
	f->hash = frame_key(func, site);
	f->func = func;
	f->site = site;
	f->name = clean_copy(name);
	f->file = file ? clean_copy(file) : NULL;
	f->line = line;
	if (!f->name || (file && !f->file)) {
		free(f->name);
		free(f->file);
		return -1;
	}
	p->nframes++;
	if (add_slot(&p->frame_slots, &p->frame_slots_cap, p->nframes, p->frames,
		     sizeof(*p->frames)))
		return -1;
	return (int64_t)p->nframes - 1;
}

/* The pseudo-frame that ends a stack: what the task is doing at the
 * leaf.  Codes: (1 << 32) | wait kind, or (2 << 32) | state. */
static int64_t state_frame(prof *p, const tt_stask *t)
{
	const tt_sframe *leaf = tt_stask_leaf(t);
	const char *word;
	uint64_t code;

	if (t->raw.state == TT_STATE_IDLE && leaf && leaf->raw.kind == TT_FUNC_KIND_LEAF &&
	    leaf->raw.wait_kind != TT_WAIT_NONE) {
		code = (1ull << 32) | leaf->raw.wait_kind;
		word = tt_wait_kind_name(leaf->raw.wait_kind);
	} else {
		code = (2ull << 32) | t->raw.state;
		/* ps's word for a woken task waiting for a worker */
		word =
		    t->raw.state == TT_STATE_SCHEDULED ? "runnable" : tt_state_name(t->raw.state);
	}
	int64_t k = frame_find(p, 0, code);
	if (k >= 0)
		return k; /* named when first seen, not each sample */
	char name[96];
	snprintf(name, sizeof(name), "[%s]", word);
	return frame_intern(p, 0, code, name, NULL, 0);
}

static int64_t path_frame(prof *p, const tt_sframe *f)
{
	const char *file = f->site ? f->site->file : f->func->file;
	uint32_t line = f->site ? f->site->line : f->func->line;

	return frame_intern(p, f->raw.func, f->raw.site, f->func->name, file, line);
}

/* Since when T has been doing what it does now (0 when unknown); *WAIT:
 * it is waiting (idle), a state its stamps bound, rather than running or
 * runnable, which are sampled. */
static uint64_t state_since(const tt_stask *t, int *wait)
{
	const tt_sframe *leaf = tt_stask_leaf(t);

	*wait = 0;
	if (t->raw.state == TT_STATE_RUNNING)
		return t->raw.poll_start_ns;
	if (t->raw.state == TT_STATE_SCHEDULED)
		return t->raw.wake_ns;
	*wait = 1;
	if (leaf && leaf->raw.kind == TT_FUNC_KIND_LEAF && leaf->raw.wait_kind != TT_WAIT_NONE)
		return leaf->raw.wait_since_ns;
	return t->raw.poll_end_ns;
}

/* What a core's task has been doing for how long; 0 when unknown. */
static uint64_t wait_age(const tt_stask *t, uint64_t now)
{
	int wait;
	uint64_t since = state_since(t, &wait);

	return since && since <= now ? now - since : 0;
}

static int same_stack(const prof_stack *st, const uint32_t *ids, uint32_t n, char **lab,
		      uint32_t nlab)
{
	if (st->nframes != n || st->nlabels != nlab || memcmp(st->frames, ids, n * sizeof(*ids)))
		return 0;
	for (uint32_t i = 0; i < nlab; i++)
		if (strcmp(st->labels[i].key, lab[2 * i]) ||
		    strcmp(st->labels[i].value, lab[2 * i + 1]))
			return 0;
	return 1;
}

static prof_stack *stack_intern(prof *p, const uint32_t *ids, uint32_t n, char **lab, uint32_t nlab)
{
	uint64_t h = 1469598103934665603ull;

	for (uint32_t i = 0; i < n; i++)
		h = mix(h, ids[i]);
	for (uint32_t i = 0; i < 2 * nlab; i++)
		h = mix_str(h, lab[i]);
	if (p->stack_slots_cap) {
		for (size_t k = (size_t)h & (p->stack_slots_cap - 1);;
		     k = (k + 1) & (p->stack_slots_cap - 1)) {
			uint32_t i = p->stack_slots[k];
			if (!i)
				break;
			if (p->stacks[i - 1].hash == h &&
			    same_stack(&p->stacks[i - 1], ids, n, lab, nlab))
				return &p->stacks[i - 1];
		}
	}
	if (p->nstacks == p->stacks_cap &&
	    cli_grow((void **)&p->stacks, &p->stacks_cap, sizeof(*p->stacks), 64))
		return NULL;
	prof_stack *st = &p->stacks[p->nstacks];
	memset(st, 0, sizeof(*st));
	st->hash = h;
	st->frames = malloc((n ? n : 1) * sizeof(*ids));
	st->labels = calloc(nlab ? nlab : 1, sizeof(*st->labels));
	if (!st->frames || !st->labels) {
		free(st->frames);
		free(st->labels);
		return NULL;
	}
	memcpy(st->frames, ids, n * sizeof(*ids));
	st->nframes = n;
	for (uint32_t i = 0; i < nlab; i++) {
		st->labels[i].key = strdup(lab[2 * i]);
		st->labels[i].value = strdup(lab[2 * i + 1]);
		st->nlabels = i + 1;
		if (!st->labels[i].key || !st->labels[i].value) {
			p->nstacks++; /* freed with the rest */
			return NULL;
		}
	}
	p->nstacks++;
	if (add_slot(&p->stack_slots, &p->stack_slots_cap, p->nstacks, p->stacks,
		     sizeof(*p->stacks)))
		return NULL;
	return st;
}

/* The index of T's stack, or -1 (out of memory). */
static int64_t task_stack(prof *p, const tt_stask *t)
{
	size_t path[PROF_MAX_PATH];
	uint32_t ids[PROF_MAX_PATH + 1];
	char labbuf[TT_TASK_LABELS_MAX][2][TEXT_MAX];
	char *lab[2 * TT_TASK_LABELS_MAX];
	size_t n = tt_stask_path(t, 0, path, PROF_MAX_PATH);
	uint32_t nlab = 0;

	for (size_t i = 0; i < n; i++) {
		int64_t k = path_frame(p, &t->frames[path[i]]);
		if (k < 0)
			return -1;
		ids[i] = (uint32_t)k;
		/* Which child of a combinator a running task is polling the
		 * registry does not say: its chain ends there, not in the
		 * first child's last wait. */
		if (t->raw.state == TT_STATE_RUNNING &&
		    t->frames[path[i]].raw.kind == TT_FUNC_KIND_COMBINATOR)
			n = i + 1;
	}
	int64_t k = state_frame(p, t);
	if (k < 0)
		return -1;
	ids[n++] = (uint32_t)k;
	for (uint32_t i = 0; i < t->raw.nlabels && i < TT_TASK_LABELS_MAX; i++, nlab++) {
		for (int j = 0; j < 2; j++) {
			tt_fbuf b;
			tt_fb_init(&b, labbuf[i][j], TEXT_MAX);
			tt_fb_text(&b, j ? t->raw.labels[i].value : t->raw.labels[i].key);
			lab[2 * i + j] = labbuf[i][j];
		}
	}
	prof_stack *st = stack_intern(p, ids, (uint32_t)n, lab, nlab);
	return st ? st - p->stacks : -1;
}

static void count(prof *p, uint32_t stack, uint64_t weight_ns)
{
	/* The first live read counts nothing: it only tells where tasks are. */
	if (!weight_ns && p->nsamples == 1 && p->period_ns)
		return;
	p->stacks[stack].samples++;
	p->stacks[stack].weight_ns += weight_ns;
	p->task_samples++;
}

/* The task last read at slot INDEX if it was task ID; the reads list the
 * slots in the same order, so one cursor finds it. */
static const prof_seen *seen_find(prof *p, uint64_t index, uint64_t id)
{
	while (p->seen_at < p->nseen && p->seen[p->seen_at].slot_index < index)
		p->seen_at++;
	if (p->seen_at < p->nseen && p->seen[p->seen_at].slot_index == index &&
	    p->seen[p->seen_at].id == id)
		return &p->seen[p->seen_at];
	return NULL;
}

static int seen_push(prof *p, const tt_stask *t, uint32_t stack, uint32_t wait)
{
	if (p->nnext == p->next_cap &&
	    cli_grow((void **)&p->next, &p->next_cap, sizeof(*p->next), 1024))
		return -1;
	p->next[p->nnext++] = (prof_seen){t->raw.slot_index, t->raw.id, stack, wait};
	return 0;
}

/* Live: T, under STACK now, read at T_NOW, last read at T_PREV.  A wait is
 * weighted by its stamps: from its start (or the last read) to now, and
 * when it began after the last read, the wait seen then gets the time up
 * to the task's last wake.  Running and runnable tasks are sampled: the
 * whole interval.  Returns whether T waits.  See docs/cli.md, "How a live
 * profile is counted". */
static int count_live(prof *p, const tt_stask *t, uint32_t stack, uint64_t t_prev, uint64_t t_now)
{
	int wait;
	uint64_t since = state_since(t, &wait);

	if (!wait || since <= t_prev) {
		count(p, stack, t_now - t_prev);
		return wait;
	}
	if (since > t_now)
		since = t_now;
	count(p, stack, t_now - since);
	const prof_seen *o = seen_find(p, t->raw.slot_index, t->raw.id);
	if (!o || !o->wait)
		return wait; /* new, or sampled when last read */
	uint64_t end = t->raw.wake_ns;
	if (end <= t_prev || end > since)
		end = since; /* no wake stamp between: all of it */
	p->stacks[o->stack].weight_ns += end - t_prev;
	return wait;
}

/* What the memo words of a snapshot mean to a profile: the index + 1 of
 * the stack a task was counted under, and (bit 32) whether it waits: its
 * slot unchanged since, it is still that. */
static uint64_t memo_key(const prof *p, const cli_opts *o)
{
	return 0x70726f66ull ^ ((uint64_t)(uintptr_t)p << 1) ^ (uint64_t)(o->all != 0);
}

/* Every task of S counted: LIVE, weighted for the interval T_PREV to
 * T_NOW (count_live), else by its wait age at T_NOW. */
static int add_tasks(prof *p, tt_snapshot *s, const cli_opts *o, int live, uint64_t t_prev,
		     uint64_t t_now)
{
	/* A live target's task whose slot reads as at the last read is
	 * counted under last read's stack: no walk, no lookup, no text. */
	int kept = live && tt_snapshot_memo_key(s, memo_key(p, o));

	p->nsamples++;
	p->nnext = 0;
	p->seen_at = 0;
	for (size_t i = 0; i < s->ntasks; i++) {
		const tt_stask *t = &s->tasks[i];
		uint64_t m = kept ? tt_snapshot_memo(s, i) : 0;
		uint32_t k = (uint32_t)m;
		if (k && k <= p->nstacks) {
			count(p, k - 1, t_now - t_prev);
			if (seen_push(p, t, k - 1, (uint32_t)(m >> 32)))
				return -1;
			continue;
		}
		if (!t->raw.id) {
			p->bad_records += t->error != 0; /* an unreadable slot */
			continue;
		}
		if (t->raw.state == TT_STATE_DONE || t->raw.state == TT_STATE_CANCELLED ||
		    (!o->all && (t->raw.flags & TT_TASKF_SYSTEM)) ||
		    tt_runtimes_inherited(&s->runtimes, t->raw.runtime_id))
			continue;
		/* A torn record is no moment's chain, an inconsistent one no
		 * task's (as ps words them): never counted as fact. */
		if (t->error == TT_R_TORN || t->error == TT_R_INCONSISTENT) {
			p->bad_records++;
			continue;
		}
		/* A chain too deep keeps its root and innermost frames, which
		 * is a stack still; a loop or an unreadable frame is none. */
		if ((t->error && t->error != TT_R_TOO_DEEP) || !t->nframes) {
			p->broken_chains++;
			continue;
		}
		int64_t st = task_stack(p, t);
		if (st < 0)
			return -1;
		if (!live) {
			uint64_t age = wait_age(t, t_now);
			p->no_age += !age;
			count(p, (uint32_t)st, age);
			continue;
		}
		int wait = count_live(p, t, (uint32_t)st, t_prev, t_now);
		if (seen_push(p, t, (uint32_t)st, (uint32_t)wait))
			return -1;
		tt_snapshot_set_memo(s, i, (uint64_t)wait << 32 | (uint64_t)(st + 1));
	}
	/* This read's tasks are the next one's last. */
	prof_seen *sw = p->seen;
	size_t cap = p->seen_cap;
	p->seen = p->next;
	p->seen_cap = p->next_cap;
	p->nseen = p->nnext;
	p->next = sw;
	p->next_cap = cap;
	p->nnext = 0;
	return 0;
}

int prof_add_snapshot(prof *p, tt_snapshot *s, const cli_opts *o, uint64_t now)
{
	return add_tasks(p, s, o, 0, 0, now);
}

int prof_add_read(prof *p, tt_snapshot *s, const cli_opts *o, uint64_t t_prev, uint64_t t_now)
{
	return add_tasks(p, s, o, 1, t_prev, t_now);
}

void prof_free(prof *p)
{
	for (size_t i = 0; i < p->nframes; i++) {
		free(p->frames[i].name);
		free(p->frames[i].file);
	}
	for (size_t i = 0; i < p->nstacks; i++) {
		for (uint32_t j = 0; j < p->stacks[i].nlabels; j++) {
			free(p->stacks[i].labels[j].key);
			free(p->stacks[i].labels[j].value);
		}
		free(p->stacks[i].labels);
		free(p->stacks[i].frames);
	}
	free(p->frames);
	free(p->frame_slots);
	free(p->stacks);
	free(p->stack_slots);
	free(p->seen);
	free(p->next);
	memset(p, 0, sizeof(*p));
}
