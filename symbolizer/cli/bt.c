/* tasktrace bt: each task as a thread backtrace, innermost first, then
 * the tasks that spawned it. */
#include <stdlib.h>

#include "cli.h"

/* The real frames only the CLI has (libdw), in tt_bt_native form. */
typedef struct bt_frames {
	cli_session *s;
	native_frame nf[NATIVE_MAX];
	tt_bt_native out[NATIVE_MAX];
} bt_frames;

static int to_bt(bt_frames *b, int n)
{
	for (int k = 0; k < n; k++) {
		const native_frame *f = &b->nf[k];
		b->out[k] = (tt_bt_native){f->pc,     f->f.inlined, f->f.function,
					   f->f.file, f->f.line,    f->f.module};
	}
	return n;
}

/* A running task: its worker's real stack, pruned. */
static int bt_native(void *ctx, const tt_stask *t, const tt_bt_native **out, char *err,
		     size_t errlen)
{
	bt_frames *b = ctx;
	int n = native_stack(b->s, t, b->nf, NATIVE_MAX, err, errlen);

	*out = b->out;
	return n <= 0 ? n : to_bt(b, n);
}

/* A poll function inlined into others: its callers, from DWARF. */
static int bt_inlined(void *ctx, const tt_stask *t, const tt_ssite *site, const tt_bt_native **out)
{
	bt_frames *b = ctx;

	*out = b->out;
	return to_bt(b, native_site_callers(b->s, site, b->nf, 16));
}

static int bt_stdout(void *ctx, const char *s, size_t n)
{
	return fwrite(s, 1, n, stdout) == n;
}

static void bt_text(cli_session *s, const tt_stask *t)
{
	static bt_frames frames;
	tt_bt_hooks h = {.ctx = &frames, .native = bt_native, .inline_callers = bt_inlined};

	frames.s = s;
	tt_bt_snapshot(s->snap, t, s->now_ns, &h, bt_stdout, NULL);
}

static void bt_json(cli_session *s, const tt_stask *t, int n)
{
	fputs(n ? ",{" : "{", stdout);
	json_task_fields(stdout, s, t);
	if (t->raw.state == TT_STATE_RUNNING)
		json_native(stdout, s, t);
	fputs(",\"frames\":", stdout);
	if (t->nframes)
		json_frames(stdout, s, t);
	else
		fputs("[]", stdout);
	fputs(",\"ancestry\":", stdout);
	tt_json_ancestry(stdout, s->snap, t);
	fputc('}', stdout);
}

static void bt_one(cli_session *s, const cli_opts *o, const tt_stask *t,
		   int n)
{
	if (o->json) {
		bt_json(s, t, n);
	} else {
		if (n)
			putchar('\n');
		bt_text(s, t);
	}
}

/* The tasks named on the command line, in that order; a missing one is
 * reported and makes the exit status 1. */
static int bt_ids(cli_session *s, const cli_opts *o, int argc,
		  char **argv)
{
	int rc = EXIT_OK, n = 0;
	uint64_t id;

	for (int i = 0; i < argc; i++) {
		cli_parse_id(argv[i], &id); /* checked before the target was read */
		const tt_stask *t = tt_snapshot_find(s->snap, id);
		if (!t) {
			fprintf(stderr, "tasktrace: %s has no task %s\n",
				cli_target_name(s), argv[i]);
			rc = EXIT_TARGET;
			continue;
		}
		bt_one(s, o, t, n++);
	}
	return rc;
}

static int bt_all(cli_session *s, const cli_opts *o)
{
	size_t n;
	const tt_stask **v = view_sorted(s->snap, o, &n);

	for (size_t i = 0; i < n; i++)
		bt_one(s, o, v[i], (int)i);
	free(v);
	return EXIT_OK;
}

static int bt_run(const cli_cmd *cmd, int argc, char **argv)
{
	cli_opts o;
	cli_session s;
	uint64_t id;
	int first, rc;

	if ((rc = cli_parse_with_target(cmd, argc, argv, &o, &first)) >= 0)
		return rc;
	for (int i = first + 1; i < argc; i++)
		if (cli_parse_id(argv[i], &id))
			return cli_usage(cmd, "'%s' is not a task id", argv[i]);
	if ((rc = cli_open_target(&s, &o, argv[first])) != EXIT_OK)
		return rc;
	if (o.json)
		json_doc_begin(stdout, &s, "bt");
	if (argc - first > 1)
		rc = bt_ids(&s, &o, argc - first - 1, argv + first + 1);
	else
		rc = bt_all(&s, &o);
	if (o.json)
		json_doc_end(stdout);
	cli_close(&s);
	return rc;
}

const cli_cmd cmd_bt = {
    "bt",
    "print the logical backtrace of tasks",
    "Usage: tasktrace bt [OPTIONS] TARGET [ID...]\n"
    "\n"
    "Print each task of TARGET (a live pid, or a core file) as a backtrace\n"
    "(or only tasks ID...), innermost first.  A suspended task: what its leaf\n"
    "waits on and for how long, each async function at the line where it is\n"
    "suspended (and the functions it was inlined into, from DWARF), the other\n"
    "branches of combinators indented.  A running task: the real stack of the\n"
    "worker thread running it, with the executor's frames pruned (poll\n"
    "functions of a stripped executable named from the registry), then the\n"
    "branches of its combinator.  A chain deeper than 256 frames: its root\n"
    "and innermost frames, the number elided between.  Then the chain of\n"
    "tasks that spawned it.\n"
    "\n"
    "  -a, --all          include the runtime's own (system) tasks (tasks named\n"
    "                     by ID are always shown)\n"
    "      --state S      only tasks in state S (idle, scheduled, running, done,\n"
    "                     cancelled)\n"
    "      --name REGEX   only tasks whose name matches REGEX (POSIX extended)\n"
    "      --label KEY=VALUE  only tasks with label KEY set to VALUE; --label KEY:\n"
    "                     with label KEY; repeat it: all must match\n"
    "  -j, --json         print JSON (schema in docs/cli.md)\n"
    "      --exe FILE     the executable of a core (default: from the core)\n"
    "      --nonblocking  read a live process without stopping it (running\n"
    "                     tasks then show no machine stack)\n"
    "      --stop-budget D  a live target stays stopped at most D (default\n"
    "                     1s); past it, it runs and what was not read is said\n"
    "      --prune REGEX  also hide frames whose function matches REGEX\n"
    "      --no-prune     show every frame of running tasks\n"
    "      --crash-pc PC  the process crashed at PC (its crash handler runs\n"
    "                     this): the crashing thread's stack starts at PC\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 ok, 1 a task ID is not there or an I/O error, 2 usage\n"
    "error, 3-11 the target could not be read (see docs/cli.md).\n",
    bt_run,
    CLI_TAKES_FILTERS,
};
