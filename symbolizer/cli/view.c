/* Which snapshot tasks the commands show, in what order. */
#include <stdlib.h>

#include "cli.h"

const tt_stask **view_sorted(const tt_snapshot *s, const cli_opts *o,
			     size_t *n)
{
	tt_list_opts lo;
	char err[160];

	tt_list_opts_init(&lo);
	lo.all = o->all;
	lo.state = o->state;
	lo.name_regex = o->name;
	lo.labels = o->labels;
	lo.nlabels = (size_t)o->nlabels;
	/* Their errors are part of the output, unless the user asked for
	 * particular tasks. */
	lo.unreadable = o->state < 0 && !o->name && !o->nlabels;
	return tt_task_select(s, &lo, n, err, sizeof(err));
}
