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
