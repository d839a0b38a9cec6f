/* tasktrace ps: one row per task, like `info threads`. */
#include <stdlib.h>

#include "cli.h"

static void ps_text(const cli_session *s, const tt_stask **v, size_t n)
{
	char line[1024];
	tt_fbuf b;
	tt_fmt_task ft;

	tt_fb_init(&b, line, sizeof(line));
	tt_fmt_ps_header(&b);
	cli_line(&b);
	for (size_t i = 0; i < n; i++) {
		view_task(s, v[i], &ft);
		tt_fb_init(&b, line, sizeof(line));
		tt_fmt_ps_row(&b, &ft, s->now_ns);
		cli_line(&b);
	}
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
	pid_t pid;
	int first, rc;
	size_t n;

	if ((rc = cli_parse(cmd, argc, argv, &o, &first)) >= 0)
		return rc;
	if (argc - first != 1)
		return cli_usage(cmd, argc == first ? "missing PID" : "too many arguments");
	if ((rc = cli_parse_pid(cmd, argv[first], &pid)) >= 0)
		return rc;
	if ((rc = cli_open(&s, pid)) != EXIT_OK)
		return rc;
	const tt_stask **v = view_sorted(s.snap, &o, &n);
	if (o.json)
		ps_json(&s, v, n);
	else
		ps_text(&s, v, n);
	free(v);
	cli_close(&s);
	return EXIT_OK;
}

const cli_cmd cmd_ps = {
	"ps", "list the tasks of a process, one line each",
	"Usage: tasktrace ps [--all] [--json] PID\n"
	"\n"
	"List the tasks of live process PID: id, state, what each waits on and for\n"
	"how long, its name, and where it is suspended (file:line and async function)\n"
	"or the worker thread running it.\n"
	"\n"
	"  -a, --all    include the runtime's own (system) tasks\n"
	"  -j, --json   print JSON (schema in docs/cli.md)\n"
	"  -h, --help   show this help\n"
	"\n"
	"Exit status: 0 ok, 1 the target could not be read, 2 usage error.\n",
	ps_run,
};
