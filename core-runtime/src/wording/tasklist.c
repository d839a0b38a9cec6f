/* The task list (tasktrace/read/tasklist.h): `tasktrace ps` and gdb's
 * `info tasks` are this function, gdb calling it through ctypes. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wording/chain.h"
#include "wording/strbuf.h"
#include "tasktrace/read/tasklist.h"

#define LINE_MAX_ 1024
#define GROUP_IDS 8 /* member ids shown in a group row */

void tt_list_opts_init(tt_list_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->state = -1;
}

int64_t tt_snapshot_worker_tid(const tt_snapshot *s, int32_t index)
{
	if (index < 0)
		return -1;
	for (size_t i = 0; i < s->nworkers; i++)
		if (s->workers[i].index == (uint32_t)index)
			return (int64_t)s->workers[i].tid;
	return -1;
}

int64_t tt_snapshot_task_tid(const tt_snapshot *s, const tt_rtask *t)
{
	return tt_runtimes_worker_tid(&s->runtimes, s->workers, s->nworkers, t->runtime_id,
				      t->worker);
}

size_t tt_snapshot_fork_note(const tt_snapshot *s, char *buf, size_t len)
{
	tt_fbuf b;

	if (!len)
		return 0;
	tt_fb_init(&b, buf, len);
	if (s->runtimes.inherited_from)
		tt_fmt_fork_note(&b, &s->runtimes);
	return b.len;
}

const char *tt_snapshot_task_name(const tt_snapshot *s, uint64_t id)
{
	const tt_stask *t = id ? tt_snapshot_find(s, id) : NULL;

	return t ? t->raw.name : NULL;
}

void tt_snapshot_view(const tt_snapshot *s, const tt_stask *t,
		      tt_fmt_task *out)
{
	memset(out, 0, sizeof(*out));
	out->task = &t->raw;
	out->runtime_id = t->raw.runtime_id;
	out->runtimes = s->runtimes.count;
	out->inherited_from = tt_runtimes_inherited(&s->runtimes, t->raw.runtime_id);
	out->tid = tt_snapshot_task_tid(s, &t->raw);
	out->error = t->error ? t->errmsg : NULL;
	/* A torn record's state and chain are no moment's, an inconsistent
	 * one's no task's: none is shown. */
	if (t->error == TT_R_TORN || t->error == TT_R_INCONSISTENT)
		out->bad_record = t->error;
	if (!t->nframes || out->bad_record)
		return;
	tt_rpath_ends e;
	tt_frames_path_ends(&t->frames[0].raw, sizeof(*t->frames), t->nframes, &e);
	out->leaf = &t->frames[e.leaf].raw;
	/* A future that returned keeps its frame until its caller moves on
	 * (a running task caught between the two): the caller is where the
	 * task is.  Bounded: parents have smaller indices. */
	size_t w = e.where;
	while (w != SIZE_MAX && t->frames[w].site &&
	       (t->frames[w].site->flags & TT_SITEF_DONE))
		w = t->frames[w].raw.parent >= 0 && (size_t)t->frames[w].raw.parent < w ?
			    (size_t)t->frames[w].raw.parent :
			    SIZE_MAX;
	if (w != SIZE_MAX && t->frames[w].site) {
		const tt_sframe *f = &t->frames[w];
		out->where_func = f->func->name;
		out->where_file = f->site->file;
		out->where_line = f->site->line;
	}
}

/* ---- the output text ---- */

static void text_line(sb *x, const char *line)
{
	sb_add(x, line);
	sb_add(x, "\n");
}

/* ---- which tasks ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int by_id(const void *a, const void *b)
{
	return cmp_u64(&(*(const tt_stask *const *)a)->raw.id,
		       &(*(const tt_stask *const *)b)->raw.id);
}

int tt_task_has_label(const tt_rtask *t, const char *spec)
{
	const char *eq = strchr(spec, '=');
	size_t klen = eq ? (size_t)(eq - spec) : strlen(spec);

	for (uint32_t i = 0; i < t->nlabels && i < TT_TASK_LABELS_MAX; i++) {
		const tt_rlabel *l = &t->labels[i];
		if (strncmp(l->key, spec, klen) || l->key[klen])
			continue;
		return !eq || !strcmp(l->value, eq + 1);
	}
	return 0;
}

static int visible(const tt_stask *t, const tt_list_opts *o, const regex_t *re,
		   const uint64_t *ids)
{
	if (!t->raw.id)
		return o->unreadable && t->error; /* tt_task_list: at the end */
	if (!o->all && (t->raw.flags & TT_TASKF_SYSTEM))
		return 0;
	if (o->state >= 0 && t->raw.state != (uint32_t)o->state)
		return 0;
	if (re && regexec(re, t->raw.name, 0, NULL, 0) != 0)
		return 0;
	for (size_t i = 0; i < o->nlabels; i++)
		if (!tt_task_has_label(&t->raw, o->labels[i]))
			return 0;
	return !ids || bsearch(&t->raw.id, ids, o->nids, sizeof(*ids), cmp_u64);
}

/* ---- -group: tasks with the same await chain ---- */

/* A frame's part of the chain key: where it is suspended, or what it is
 * when it is not at an await. */
static uint64_t key_of(const tt_sframe *f)
{
	return f->raw.site ? f->raw.site : f->raw.func;
}

typedef struct keyed {
	uint64_t hash;
	const tt_stask *t;
} keyed;

uint64_t tt_chain_hash(const tt_stask *t)
{
	uint64_t h = 1469598103934665603ull ^ t->nframes;

	for (size_t i = 0; i < t->nframes; i++)
		h = (h ^ key_of(&t->frames[i])) * 1099511628211ull;
	return h;
}

int tt_chain_cmp(const tt_stask *a, const tt_stask *b)
{
	if (a->nframes != b->nframes)
		return a->nframes < b->nframes ? -1 : 1;
	for (size_t i = 0; i < a->nframes; i++) {
		uint64_t x = key_of(&a->frames[i]), y = key_of(&b->frames[i]);
		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

static int same_chain(const tt_stask *a, const tt_stask *b)
{
	return !tt_chain_cmp(a, b);
}

/* By chain (hash, then the keys), then id: a group's members end up
 * together, its smallest id first. */
static int by_chain(const void *pa, const void *pb)
{
	const keyed *a = pa, *b = pb;

	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	int c = tt_chain_cmp(a->t, b->t);
	return c ? c : cmp_u64(&a->t->raw.id, &b->t->raw.id);
}

typedef struct group {
	size_t first, count; /* a run of the chain-sorted array */
	uint64_t first_id;
} group;

/* Biggest group first, then by smallest id. */
static int by_size(const void *pa, const void *pb)
{
	const group *a = pa, *b = pb;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return cmp_u64(&a->first_id, &b->first_id);
}

static void group_row(sb *x, const tt_snapshot *s, const keyed *k,
		      const group *g, uint64_t now)
{
	char line[LINE_MAX_];
	tt_fbuf b;
	tt_fmt_task v;

	tt_snapshot_view(s, k[g->first].t, &v);
	tt_fb_init(&b, line, sizeof(line));
	tt_fb_str(&b, "  ");
	tt_fb_u64(&b, g->count);
	tt_fb_pad(&b, 8);
	tt_fmt_state(&b, &v);
	tt_fb_pad(&b, 27);
	tt_fmt_wait_short(&b, &v, now);
	tt_fb_pad(&b, 49);
	for (size_t i = 0; i < g->count && i < GROUP_IDS; i++) {
		if (i)
			tt_fb_str(&b, ",");
		tt_fb_u64(&b, k[g->first + i].t->raw.id);
	}
	if (g->count > GROUP_IDS)
		tt_fb_str(&b, ",...");
	tt_fb_pad(&b, 62);
	tt_fmt_where(&b, &v);
	while (b.len && b.p[b.len - 1] == ' ')
		b.p[--b.len] = 0;
	text_line(x, line);
}

static int group_rows(sb *x, const tt_snapshot *s, const tt_stask **v,
		      size_t n, uint64_t now)
{
	keyed *k = malloc((n ? n : 1) * sizeof(*k));
	group *g = malloc((n ? n : 1) * sizeof(*g));
	size_t ng = 0;

	if (!k || !g) {
		free(k);
		free(g);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		k[i].t = v[i];
		k[i].hash = tt_chain_hash(v[i]);
	}
	qsort(k, n, sizeof(*k), by_chain);
	for (size_t i = 0; i < n; i++) {
		if (ng && same_chain(k[g[ng - 1].first].t, k[i].t)) {
			g[ng - 1].count++;
		} else {
			g[ng].first = i;
			g[ng].first_id = k[i].t->raw.id;
			g[ng++].count = 1;
		}
	}
	qsort(g, ng, sizeof(*g), by_size);
	text_line(x, "  Count State              Wait                  Ids          Where");
	for (size_t i = 0; i < ng; i++)
		group_row(x, s, k, &g[i], now);
	free(k);
	free(g);
	return 0;
}

/* ---- -group label:KEY: tasks with the same value of a label ---- */

typedef struct valued {
	const char *value; /* NULL: the task has no such label */
	const tt_stask *t;
} valued;

static const char *label_value(const tt_rtask *t, const char *key)
{
	for (uint32_t i = 0; i < t->nlabels && i < TT_TASK_LABELS_MAX; i++)
		if (!strcmp(t->labels[i].key, key))
			return t->labels[i].value;
	return NULL;
}

/* By value (tasks without the label last), then id. */
static int by_value(const void *pa, const void *pb)
{
	const valued *a = pa, *b = pb;

	if (!a->value != !b->value)
		return a->value ? -1 : 1;
	int c = a->value ? strcmp(a->value, b->value) : 0;
	return c ? c : cmp_u64(&a->t->raw.id, &b->t->raw.id);
}

typedef struct vgroup {
	size_t first, count;
	const char *value;
} vgroup;

/* Biggest first, then by value; the tasks without the label last. */
static int by_vsize(const void *pa, const void *pb)
{
	const vgroup *a = pa, *b = pb;

	if (!a->value != !b->value)
		return a->value ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return a->value ? strcmp(a->value, b->value) : 0;
}

static int label_group_rows(sb *x, const tt_stask **v, size_t n, const char *key)
{
	valued *k = malloc((n ? n : 1) * sizeof(*k));
	vgroup *g = malloc((n ? n : 1) * sizeof(*g));
	size_t ng = 0;
	char line[LINE_MAX_];
	tt_fbuf b;

	if (!k || !g) {
		free(k);
		free(g);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		k[i].t = v[i];
		k[i].value = label_value(&v[i]->raw, key);
	}
	qsort(k, n, sizeof(*k), by_value);
	for (size_t i = 0; i < n; i++) {
		const char *val = k[i].value;
		if (ng && !g[ng - 1].value == !val && (!val || !strcmp(g[ng - 1].value, val))) {
			g[ng - 1].count++;
		} else {
			g[ng].first = i;
			g[ng].value = val;
			g[ng++].count = 1;
		}
	}
	qsort(g, ng, sizeof(*g), by_vsize);
	text_line(x, "  Count Label                                   Ids");
	for (size_t i = 0; i < ng; i++) {
		tt_fb_init(&b, line, sizeof(line));
		tt_fb_str(&b, "  ");
		tt_fb_u64(&b, g[i].count);
		tt_fb_pad(&b, 8);
		if (g[i].value) {
			tt_fb_text(&b, key);
			tt_fb_str(&b, "=");
			tt_fb_text(&b, g[i].value);
		} else {
			tt_fb_str(&b, "(no ");
			tt_fb_text(&b, key);
			tt_fb_str(&b, " label)");
		}
		tt_fb_pad(&b, 48);
		for (size_t j = 0; j < g[i].count && j < GROUP_IDS; j++) {
			if (j)
				tt_fb_str(&b, ",");
			tt_fb_u64(&b, k[g[i].first + j].t->raw.id);
		}
		if (g[i].count > GROUP_IDS)
			tt_fb_str(&b, ",...");
		text_line(x, line);
	}
	free(k);
	free(g);
	return 0;
}

static void rows(sb *x, const tt_snapshot *s, const tt_stask **v, size_t n, uint64_t now,
		 uint64_t selected, int labels)
{
	char line[LINE_MAX_];
	tt_fbuf b;
	tt_fmt_task ft;

	tt_fb_init(&b, line, sizeof(line));
	tt_fmt_ps_header(&b);
	text_line(x, line);
	for (size_t i = 0; i < n; i++) {
		tt_snapshot_view(s, v[i], &ft);
		ft.selected = selected && v[i]->raw.id == selected;
		ft.labels = labels;
		tt_fb_init(&b, line, sizeof(line));
		tt_fmt_ps_row(&b, &ft, now);
		text_line(x, line);
	}
}

static void unreadable_rows(sb *x, const tt_snapshot *s)
{
	char line[LINE_MAX_];
	tt_fbuf b;

	for (size_t i = 0; i < s->ntasks; i++) {
		if (s->tasks[i].raw.id || !s->tasks[i].error)
			continue;
		tt_fb_init(&b, line, sizeof(line));
		tt_fb_str(&b, "  ?    unreadable         ");
		tt_fb_text(&b, s->tasks[i].errmsg);
		text_line(x, line);
	}
}

const tt_stask **tt_task_select(const tt_snapshot *s, const tt_list_opts *o,
				size_t *n, char *err, size_t errlen)
{
	regex_t re;
	int have_re = 0, rc;
	uint64_t *ids = NULL;
	const tt_stask **v = NULL;

	*n = 0;
	if (o->name_regex) {
		if ((rc = regcomp(&re, o->name_regex, REG_EXTENDED | REG_NOSUB))) {
			char why[128];
			regerror(rc, &re, why, sizeof(why));
			snprintf(err, errlen, "bad -name pattern: %s", why);
			return NULL;
		}
		have_re = 1;
	}
	if (o->ids && (ids = malloc((o->nids ? o->nids : 1) * sizeof(*ids)))) {
		memcpy(ids, o->ids, o->nids * sizeof(*ids));
		qsort(ids, o->nids, sizeof(*ids), cmp_u64);
	}
	if ((!o->ids || ids) && (v = malloc((s->ntasks ? s->ntasks : 1) * sizeof(*v)))) {
		for (size_t i = 0; i < s->ntasks; i++)
			if (visible(&s->tasks[i], o, have_re ? &re : NULL, ids))
				v[(*n)++] = &s->tasks[i];
		qsort(v, *n, sizeof(*v), by_id);
	} else {
		snprintf(err, errlen, "out of memory listing %zu tasks", s->ntasks);
	}
	if (have_re)
		regfree(&re);
	free(ids);
	return v;
}

char *tt_task_list(const tt_snapshot *s, uint64_t now, const tt_list_opts *o,
		   char *err, size_t errlen)
{
	size_t n;
	const tt_stask **v = tt_task_select(s, o, &n, err, errlen);
	sb x = { 0 };

	if (!v)
		return NULL;
	if (!n)
		text_line(&x, "No tasks.");
	else if (o->group_label) {
		if (label_group_rows(&x, v, n, o->group_label))
			x.oom = 1;
	} else if (!o->group)
		rows(&x, s, v, n, now, o->selected, o->show_labels);
	else if (group_rows(&x, s, v, n, now))
		x.oom = 1;
	unreadable_rows(&x, s);
	free(v);
	if (x.oom) {
		snprintf(err, errlen, "out of memory listing %zu tasks", s->ntasks);
		free(x.p);
		return NULL;
	}
	return x.p;
}
