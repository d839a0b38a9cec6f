/* Views of snapshot tasks: which to show, in what order, and the walk
 * down a task's frames (tasktrace/tasklist.h makes the format.c view). */
#include <stdlib.h>

#include "cli.h"

int view_visible(const tt_stask *t, const cli_opts *o)
{
	return o->all || !(t->raw.flags & TT_TASKF_SYSTEM);
}

static int by_id(const void *a, const void *b)
{
	uint64_t x = (*(const tt_stask *const *)a)->raw.id;
	uint64_t y = (*(const tt_stask *const *)b)->raw.id;

	return x < y ? -1 : x > y;
}

const tt_stask **view_sorted(const tt_snapshot *s, const cli_opts *o,
			     size_t *n)
{
	const tt_stask **v = malloc((s->ntasks ? s->ntasks : 1) * sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < s->ntasks; i++)
		if (view_visible(&s->tasks[i], o))
			v[(*n)++] = &s->tasks[i];
	qsort(v, *n, sizeof(*v), by_id);
	return v;
}

/* Frames come in pre-order with parent indices, so the children of P are
 * the later frames naming P as parent, the awaited one first.  The
 * indices come from target memory through the reader: check them. */
size_t view_next_child(const tt_stask *t, size_t parent, size_t after)
{
	for (size_t j = after + 1; j < t->nframes; j++) {
		int32_t p = t->frames[j].raw.parent;
		if (p >= 0 && (size_t)p == parent)
			return j;
		/* Pre-order: once a frame at P's depth or above shows up,
		 * P's subtree is over. */
		if (t->frames[j].raw.depth <= t->frames[parent].raw.depth)
			break;
	}
	return t->nframes;
}

size_t view_path(const tt_stask *t, size_t from, size_t *path, size_t cap)
{
	size_t n = 0;

	for (size_t i = from; i < t->nframes && n < cap;
	     i = view_next_child(t, i, i))
		path[n++] = i;
	return n;
}
