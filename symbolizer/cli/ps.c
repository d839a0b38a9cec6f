/* tasktrace ps: one row per task, like `info threads`. */
#include <stdlib.h>

#include "cli.h"

static int ps_text(const cli_session *s, const cli_opts *o)
{
	tt_list_opts lo;
	char err[160];
	char *text;

	tt_list_opts_init(&lo);
	lo.all = o->all;
	lo.state = o->state;
	lo.name_regex = o->name;
	lo.group = o->group;
	lo.labels = o->labels;
	lo.nlabels = (size_t)o->nlabels;
	lo.group_label = o->group_label;
	lo.show_labels = o->show_labels;
	if (!(text = tt_task_list(s->snap, s->now_ns, &lo, err, sizeof(err)))) {
		fprintf(stderr, "tasktrace: %s: %s\n", cli_target_name(s), err);
		return -1;
	}
	fputs(text, stdout);
	tt_text_free(text);
	return 0;
}

static void ps_json(const cli_session *s, const tt_stask **v, size_t n)
{
	json_doc_begin(stdout, s, "ps");
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",{" : "{", stdout);
		json_task_fields(stdout, s, v[i]);
		fputc('}', stdout);
	}
	json_doc_end(stdout);
}

static int ps_run(const cli_cmd *cmd, int argc, char **argv)
{
	cli_opts o;
	cli_session s;
	const char *target;
	int rc;
	size_t n;

	if ((rc = cli_parse_single_target(cmd, argc, argv, &o, &target)) >= 0)
		return rc;
	/* Text rows of a target that holds still need no snapshot. */
	o.no_snapshot = !o.json && !o.group && o.state < 0 && !o.name && !o.nlabels &&
			!o.group_label && !o.show_labels && (!cli_is_pid(target) || !o.nonblocking);
	if ((rc = cli_open_target(&s, &o, target)) != EXIT_OK)
		return rc;
	if (o.no_snapshot) {
		rc = ps_stream(&s, &o) ? EXIT_TARGET : EXIT_OK;
		if (rc)
			fprintf(stderr, "tasktrace: %s: out of memory\n", cli_target_name(&s));
		cli_close(&s);
		return rc;
	}
	if (!o.json) {
		rc = ps_text(&s, &o) ? EXIT_TARGET : EXIT_OK;
	} else {
		const tt_stask **v = view_sorted(s.snap, &o, &n);
		if (v)
			ps_json(&s, v, n);
		else
			fprintf(stderr, "tasktrace: %s: out of memory\n", cli_target_name(&s));
		rc = v ? EXIT_OK : EXIT_TARGET;
		free(v);
	}
	cli_close(&s);
	return rc;
}

const cli_cmd cmd_ps = {
    "ps",
    "list the tasks of a process, one line each",
    "Usage: tasktrace ps [OPTIONS] TARGET\n"
    "\n"
    "List the tasks of TARGET (a live pid, or a core file): id, state, what each\n"
    "waits on and for how long, its name, and where it is suspended (file:line\n"
    "and async function) or the worker thread running it.\n"
    "\n"
    "  -a, --all          include the runtime's own (system) tasks\n"
    "      --state S      only tasks in state S (idle, scheduled, running, done,\n"
    "                     cancelled)\n"
    "      --name REGEX   only tasks whose name matches REGEX (POSIX extended)\n"
    "      --label KEY=VALUE  only tasks with label KEY set to VALUE; --label KEY:\n"
    "                     with label KEY; repeat it: all must match\n"
    "  -g, --group        one row per distinct await chain, with a count and the\n"
    "                     first ids (for thousands of tasks)\n"
    "      --group label:KEY  one row per value of label KEY, with a count and\n"
    "                     the first ids\n"
    "      --labels       end each row with the task's labels ({KEY=VALUE ...})\n"
    "  -j, --json         print JSON (schema in docs/cli.md)\n"
    "      --exe FILE     the executable of a core (default: from the core)\n"
    "      --nonblocking  read a live process without stopping it\n"
    "      --stop-budget D  a live target stays stopped at most D (default\n"
    "                     1s); past it, it runs and what was not read is said\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 ok, 1 I/O error, 2 usage error, 3-11 the target could not\n"
    "be read (see docs/cli.md).\n",
    ps_run,
    CLI_TAKES_FILTERS | CLI_TAKES_GROUP,
};
