/* tasktrace bt: each task as a thread backtrace, innermost first, then
 * the tasks that spawned it. */
#include <stdlib.h>

#include "cli.h"

typedef struct bt {
	cli_session *s;
	const tt_stask *t;
	size_t *path;
	int num; /* next frame number */
} bt;

static void print_path(bt *b, size_t from, int indent);

static void frame_line(bt *b, size_t i, int num, int indent)
{
	const tt_sframe *f = &b->t->frames[i];
	char line[1024];
	tt_fbuf fb;

	tt_fb_init(&fb, line, sizeof(line));
	tt_fmt_bt_frame(&fb, num, indent, &f->raw, f->func->name,
			f->site ? f->site->file : NULL, f->site ? f->site->line : 0,
			tt_snapshot_task_name(b->s->snap, f->raw.wait_owner), b->s->now_ns);
	cli_line(&fb);
	if (num < 0 || f->raw.kind == TT_FUNC_KIND_LEAF)
		return;
	/* A poll function inlined into others: its callers, as gdb shows
	 * inlined frames. */
	native_frame nf[16];
	int n = native_site_callers(b->s, f->site, nf, 16);
	for (int k = 0; k < n; k++) {
		tt_fb_init(&fb, line, sizeof(line));
		tt_fmt_bt_native(&fb, b->num++, nf[k].pc, nf[k].f.inlined, nf[k].f.function,
				 nf[k].f.file, nf[k].f.line, nf[k].f.module);
		cli_line(&fb);
	}
}

/* The children of combinator frame I other than the awaited one, each
 * as an indented path of its own. */
static void print_branches(bt *b, size_t i, int indent)
{
	size_t first = tt_stask_next_child(b->t, i, i);

	for (size_t c = tt_stask_next_child(b->t, i, first); c < b->t->nframes;
	     c = tt_stask_next_child(b->t, i, c)) {
		printf("%*s    also awaiting:\n", indent, "");
		print_path(b, c, indent + 8);
	}
}

/* The awaited path from FROM, innermost first.  Only the top level
 * (INDENT 0) is numbered: branches are not on the task's stack. */
static void print_path(bt *b, size_t from, int indent)
{
	size_t n = tt_stask_path(b->t, from, b->path + from, b->t->nframes - from);
	size_t *path = b->path + from;

	for (size_t k = n; k-- > 0;) {
		frame_line(b, path[k], indent ? -1 : b->num++, indent);
		if (b->t->frames[path[k]].raw.kind == TT_FUNC_KIND_COMBINATOR)
			print_branches(b, path[k], indent);
	}
}

static void print_ancestry(const cli_session *s, const tt_stask *t)
{
	uint64_t seen[TT_MAX_ANCESTRY];
	char line[1024];
	tt_fbuf fb;
	int n = 0;

	for (const tt_stask *cur = t; cur && cur->raw.parent_id;) {
		uint64_t pid = cur->raw.parent_id;
		for (int i = 0; i < n; i++) {
			if (seen[i] == pid) {
				printf("(spawn cycle back to task %llu: corrupt registry)\n",
				       (unsigned long long)pid);
				return;
			}
		}
		if (n == TT_MAX_ANCESTRY) {
			printf("(ancestry deeper than %d tasks, cut)\n", TT_MAX_ANCESTRY);
			return;
		}
		seen[n++] = pid;
		const tt_ssite *site = cur->spawn_site;
		tt_fb_init(&fb, line, sizeof(line));
		tt_fmt_ancestor(&fb, pid, tt_snapshot_task_name(s->snap, pid),
				site ? site->file : NULL, site ? site->line : 0,
				site ? site->function : NULL);
		cli_line(&fb);
		cur = tt_snapshot_find(s->snap, pid);
	}
}

/* A running task: its worker's real stack, pruned.  Returns 0 when it
 * could not be had (the reason is printed; the chain follows instead). */
static int print_native(cli_session *s, const tt_stask *t, const tt_fmt_task *v)
{
	static native_frame nf[NATIVE_MAX];
	char line[1024], err[256];
	tt_fbuf fb;

	int n = native_stack(s, t, nf, NATIVE_MAX, err, sizeof(err));
	if (n <= 0) {
		tt_fb_init(&fb, line, sizeof(line));
		tt_fmt_bt_running(&fb, 0, v);
		cli_line(&fb);
		printf("    (no machine stack: %s)\n", n < 0 ? err : "every frame was pruned");
		return 0;
	}
	for (int k = 0; k < n; k++) {
		tt_fb_init(&fb, line, sizeof(line));
		tt_fmt_bt_native(&fb, k, nf[k].pc, nf[k].f.inlined, nf[k].f.function,
				 nf[k].f.file, nf[k].f.line, nf[k].f.module);
		cli_line(&fb);
	}
	return 1;
}

static void bt_text(cli_session *s, const tt_stask *t)
{
	char line[1024];
	tt_fbuf fb;
	tt_fmt_task v;
	bt b = { s, t, NULL, 0 };

	tt_snapshot_view(s->snap, t, &v);
	tt_fb_init(&fb, line, sizeof(line));
	tt_fmt_bt_header(&fb, &v, s->now_ns);
	cli_line(&fb);
	if (t->raw.state == TT_STATE_RUNNING) {
		if (print_native(s, t, &v)) {
			print_ancestry(s, t);
			return;
		}
		b.num++;
	}
	b.path = malloc((t->nframes ? t->nframes : 1) * sizeof(*b.path));
	if (b.path && t->nframes)
		print_path(&b, 0, 0);
	free(b.path);
	if (t->error) {
		tt_fb_init(&fb, line, sizeof(line));
		tt_fb_str(&fb, "error: ");
		tt_fb_text(&fb, tt_fmt_strip_task_prefix(t->errmsg));
		cli_line(&fb);
	}
	print_ancestry(s, t);
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

	if ((rc = cli_parse(cmd, argc, argv, &o, &first)) >= 0)
		return rc;
	if (argc == first)
		return cli_usage(cmd, "missing TARGET (a pid or a core file)");
	if ((rc = cli_parse_target(cmd, argv[first])) >= 0)
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
	"bt", "print the logical backtrace of tasks",
	"Usage: tasktrace bt [OPTIONS] TARGET [ID...]\n"
	"\n"
	"Print each task of TARGET (a live pid, or a core file) as a backtrace\n"
	"(or only tasks ID...), innermost first.  A suspended task: what its leaf\n"
	"waits on and for how long, each async function at the line where it is\n"
	"suspended (and the functions it was inlined into, from DWARF), the other\n"
	"branches of combinators indented.  A running task: the real stack of the\n"
	"worker thread running it, with the executor's frames pruned.  Then the\n"
	"chain of tasks that spawned it.\n"
	"\n"
	"  -a, --all          include the runtime's own (system) tasks (tasks named\n"
	"                     by ID are always shown)\n"
	"      --state S      only tasks in state S (idle, scheduled, running, done,\n"
	"                     cancelled)\n"
	"      --name REGEX   only tasks whose name matches REGEX (POSIX extended)\n"
	"  -j, --json         print JSON (schema in docs/cli.md)\n"
	"      --exe FILE     the executable of a core (default: from the core)\n"
	"      --nonblocking  read a live process without stopping it (running\n"
	"                     tasks then show no machine stack)\n"
	"      --prune REGEX  also hide frames whose function matches REGEX\n"
	"      --no-prune     show every frame of running tasks\n"
	"  -h, --help         show this help\n"
	"\n"
	"Exit status: 0 ok, 1 a task ID is not there or an I/O error, 2 usage\n"
	"error, 3-11 the target could not be read (see docs/cli.md).\n",
	bt_run,
	CLI_TAKES_FILTERS,
};
