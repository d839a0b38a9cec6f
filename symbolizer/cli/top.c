/* tasktrace top: a live view of every task, read without stopping the
 * target: the model (top_model.c) in batch mode (top_batch.c) or the
 * interactive view (top_ui.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "top.h"

typedef struct top_args {
	int batch;
	uint64_t frames;      /* -n: 0 until interrupted */
	uint64_t interval_ns; /* -d */
	int sort;
	const char *filter;
} top_args;

static const char *const top_names[] = {"!-b", "!--batch", "-n",     "--iterations",
					"-d",  "--delay",  "--sort", "--filter"};
const cli_own cli_top_own = {top_names, sizeof top_names / sizeof top_names[0]};

/* "busy", "polls/s" or "POLLS/S" for column POLLS: the head's letters
 * before any '/' or '%', in any case. */
static int col_by_word(const char *w)
{
	for (int c = 0; c < TOP_COL_MAX_; c++) {
		size_t n = strcspn(top_col_head[c], "/%");
		if (!strncasecmp(w, top_col_head[c], n) &&
		    (!w[n] || !strcasecmp(w + n, top_col_head[c] + n)))
			return c;
	}
	return -1;
}

static int take_arg(const cli_cmd *cmd, void *ctx, size_t k, const char *v)
{
	top_args *a = ctx;
	char *end;

	switch (k) {
	case 0:
	case 1:
		a->batch = 1;
		break;
	case 2:
	case 3:
		errno = 0;
		a->frames = strtoull(v, &end, 10);
		if (errno || end == v || *end || !a->frames || v[0] == '-')
			return cli_usage(cmd, "-n: '%s' is not a number of frames (1 or more)", v);
		break;
	case 4:
	case 5:
		/* top's -d: seconds, "0.5"; a duration with its unit too. */
		if (tt_diag_parse_duration(v, &a->interval_ns) || a->interval_ns < 10000000ull ||
		    a->interval_ns > 3600000000000ull)
			return cli_usage(cmd, "-d: '%s' is not an interval (0.01 to 3600 seconds)",
					 v);
		break;
	case 6:
		if ((a->sort = col_by_word(v)) < 0)
			return cli_usage(cmd,
					 "--sort: '%s' is not a column (id, name, state, wait, "
					 "busy, polls, wakes, p50, p99, sched, where)",
					 v);
		break;
	default:
		a->filter = v;
	}
	return -1;
}

static int top_run(const cli_cmd *cmd, int argc, char **argv)
{
	top_args a = {0, 0, 1000000000ull, TOP_COL_BUSY, NULL};
	cli_opts o;
	cli_session s;
	top_model m;
	const char *target;
	char err[160];
	int rc;

	if ((rc = cli_take_own(cmd, &argc, argv, top_names, sizeof top_names / sizeof top_names[0],
			       take_arg, &a)) >= 0)
		return rc;
	if ((rc = cli_parse_single_target(cmd, argc, argv, &o, &target)) >= 0)
		return rc;
	if (o.json && !a.batch)
		return cli_usage(cmd, "--json is for batch mode: add -b");
	if (!a.batch && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)))
		return cli_usage(cmd, "the interactive view needs a terminal: use -b for text");
	/* top watches the process run: it is never stopped. */
	o.nonblocking = 1;
	if ((rc = cli_open_target(&s, &o, target)) != EXIT_OK)
		return rc;
	top_model_init(&m, &s, &o);
	m.sort_col = a.sort;
	if (a.filter && top_set_filter(&m, a.filter, err, sizeof(err))) {
		top_model_free(&m);
		cli_close(&s);
		return cli_usage(cmd, "--filter: %s", err);
	}
	rc = a.batch ? top_batch(&m, a.frames, a.interval_ns) : top_ui(&m, a.interval_ns);
	top_model_free(&m);
	cli_close(&s);
	return rc;
}

const cli_cmd cmd_top = {
    "top",
    "a live view of every task: states, busy time, poll rates and latencies",
    "Usage: tasktrace top [OPTIONS] TARGET\n"
    "\n"
    "Show the tasks of TARGET, a live pid read without stopping it, refreshed\n"
    "every second: a header (tasks by state, polls and wakes a second,\n"
    "workers busy, findings of the diagnosis), then one row per task: id,\n"
    "name, state, wait and its duration, busy % and polls and wakes a second\n"
    "over the interval, p50 and p99 poll time and the median wait for a\n"
    "worker (from the task's histograms, since it was spawned), where it is\n"
    "and its labels.  '!' marks a task a finding names.  A core file is one\n"
    "frame, without rates.\n"
    "\n"
    "  -b, --batch        write frames as text (or --json) instead of the\n"
    "                     full-screen view\n"
    "  -n, --iterations N  batch mode: N frames, then exit (default: until\n"
    "                     interrupted)\n"
    "  -d, --delay S      seconds between frames (default 1; 0.5, 250ms)\n"
    "      --sort COL     sort by column COL (default busy): id, name, state,\n"
    "                     wait, busy, polls, wakes, p50, p99, sched, where;\n"
    "                     numbers biggest first\n"
    "      --filter REGEX  only tasks whose name, labels or where match\n"
    "                     REGEX (POSIX extended, any case)\n"
    "      --state S      only tasks in state S\n"
    "      --name REGEX   only tasks whose name matches REGEX\n"
    "      --label KEY=VALUE  only tasks with that label (KEY: any value)\n"
    "  -j, --json         batch mode: one JSON object per frame, one a line\n"
    "  -a, --all          include the runtime's own (system) tasks\n"
    "  -h, --help         show this help\n"
    "\n"
    "Keys of the full-screen view: < > move the sort column, r reverses it,\n"
    "/ filters (a regex over name, labels and where; empty: none), s cycles\n"
    "the state shown, g groups the tasks by await chain (G: by a label),\n"
    "space pauses, arrows/j/k/PgUp/PgDn move, Enter shows the selected\n"
    "task's chain, ancestry, histograms and last events, f the findings,\n"
    "h or ? the help, q (or Esc in a pane) quits.\n"
    "\n"
    "The first frame's rates come from a sample taken one interval before.\n"
    "Torn task records (a task that moved while read) are counted in the\n"
    "header and shown without state or rates, never as fact.\n"
    "\n"
    "Exit status: 0 ok, 1 the target exited or could not be read again, 2\n"
    "usage error, 3-11 the target could not be read (see docs/cli.md).\n",
    top_run,
    CLI_TAKES_FILTERS,
};
