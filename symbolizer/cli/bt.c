/* tasktrace bt: each task as a thread backtrace, innermost first, then
 * the tasks that spawned it. */
#include <stdlib.h>

#include "cli.h"

typedef struct bt {
	const cli_session *s;
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
			view_task_name(b->s->snap, f->raw.wait_owner), b->s->now_ns);
	cli_line(&fb);
}

/* The children of combinator frame I other than the awaited one, each
 * as an indented path of its own. */
static void print_branches(bt *b, size_t i, int indent)
{
	size_t first = view_next_child(b->t, i, i);

	for (size_t c = view_next_child(b->t, i, first); c < b->t->nframes;
	     c = view_next_child(b->t, i, c)) {
		printf("%*s    also awaiting:\n", indent, "");
		print_path(b, c, indent + 8);
	}
}

/* The awaited path from FROM, innermost first.  Only the top level
 * (INDENT 0) is numbered: branches are not on the task's stack. */
static void print_path(bt *b, size_t from, int indent)
{
	size_t n = view_path(b->t, from, b->path + from, b->t->nframes - from);
	size_t *path = b->path + from;

	for (size_t k = n; k-- > 0;) {
		frame_line(b, path[k], indent ? -1 : b->num++, indent);
		if (b->t->frames[path[k]].raw.kind == TT_FUNC_KIND_COMBINATOR)
			print_branches(b, path[k], indent);
	}
}

static void print_ancestry(const cli_session *s, const tt_stask *t)
{
	uint64_t seen[VIEW_MAX_ANCESTRY];
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
		if (n == VIEW_MAX_ANCESTRY) {
			printf("(ancestry deeper than %d tasks, cut)\n", VIEW_MAX_ANCESTRY);
			return;
		}
		seen[n++] = pid;
		const tt_ssite *site = cur->spawn_site;
		tt_fb_init(&fb, line, sizeof(line));
		tt_fmt_ancestor(&fb, pid, view_task_name(s->snap, pid),
				site ? site->file : NULL, site ? site->line : 0,
				site ? site->function : NULL);
		cli_line(&fb);
		cur = tt_snapshot_find(s->snap, pid);
	}
}

static void bt_text(const cli_session *s, const tt_stask *t)
{
	char line[1024];
	tt_fbuf fb;
	tt_fmt_task v;
	bt b = { s, t, NULL, 0 };

	view_task(s, t, &v);
	tt_fb_init(&fb, line, sizeof(line));
	tt_fmt_bt_header(&fb, &v, s->now_ns);
	cli_line(&fb);
	if (t->raw.state == TT_STATE_RUNNING) {
		tt_fb_init(&fb, line, sizeof(line));
		tt_fmt_bt_running(&fb, b.num++, &v);
		cli_line(&fb);
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

static void bt_json(const cli_session *s, const tt_stask *t, int n)
{
	fputs(n ? ",{" : "{", stdout);
	json_task_fields(stdout, s, t);
	fputs(",\"frames\":", stdout);
	if (t->nframes)
		json_frames(stdout, s, t, 0);
	else
		fputs("[]", stdout);
	fputs(",\"ancestry\":", stdout);
	json_ancestry(stdout, s, t);
	fputc('}', stdout);
}

static void bt_one(const cli_session *s, const cli_opts *o, const tt_stask *t,
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
static int bt_ids(const cli_session *s, const cli_opts *o, int argc,
		  char **argv)
{
	int rc = EXIT_OK, n = 0;
	uint64_t id;

	for (int i = 0; i < argc; i++) {
		cli_parse_id(argv[i], &id); /* checked before the target was read */
		const tt_stask *t = tt_snapshot_find(s->snap, id);
		if (!t) {
			fprintf(stderr, "tasktrace: pid %d has no task %s\n",
				(int)s->target.pid, argv[i]);
			rc = EXIT_TARGET;
			continue;
		}
		bt_one(s, o, t, n++);
	}
	return rc;
}

static int bt_all(const cli_session *s, const cli_opts *o)
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
	pid_t pid;
	uint64_t id;
	int first, rc;

	if ((rc = cli_parse(cmd, argc, argv, &o, &first)) >= 0)
		return rc;
	if (argc == first)
		return cli_usage(cmd, "missing PID");
	if ((rc = cli_parse_pid(cmd, argv[first], &pid)) >= 0)
		return rc;
	for (int i = first + 1; i < argc; i++)
		if (cli_parse_id(argv[i], &id))
			return cli_usage(cmd, "'%s' is not a task id", argv[i]);
	if ((rc = cli_open(&s, pid)) != EXIT_OK)
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
	"Usage: tasktrace bt [--all] [--json] PID [ID...]\n"
	"\n"
	"Print each task of live process PID (or only tasks ID...) as a backtrace,\n"
	"innermost first: what the leaf waits on and for how long, each async\n"
	"function at the line where it is suspended, the other branches of\n"
	"combinators indented, then the chain of tasks that spawned it.\n"
	"A running task shows the worker thread running it; its machine stack\n"
	"is not unwound yet.\n"
	"\n"
	"  -a, --all    include the runtime's own (system) tasks (tasks named\n"
	"               by ID are always shown)\n"
	"  -j, --json   print JSON (schema in docs/cli.md)\n"
	"  -h, --help   show this help\n"
	"\n"
	"Exit status: 0 ok, 1 the target could not be read or a task ID is not\n"
	"there, 2 usage error.\n",
	bt_run,
};
