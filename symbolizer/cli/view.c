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
	lo.unreadable = 1; /* their errors are part of the output */
	return tt_task_select(s, &lo, n, err, sizeof(err));
}
