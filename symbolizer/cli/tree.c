/* tasktrace tree: the spawn tree, by parent id. */
#include <stdlib.h>

#include "cli.h"

/* Deeper spawn nesting is not recursed into here: those subtrees are
 * printed afterwards as roots of their own, which keeps the stack small
 * whatever the target's memory says. */
#define TREE_MAX_DEPTH 64

typedef struct tree {
	const cli_session *s;
	const tt_stask **v; /* visible tasks, by id */
	size_t n;
	size_t *kids;       /* indices into v, by parent id then id */
	char *done;         /* printed already, per entry of v */
	int json_items;
} tree;

static int find_id(const tree *t, uint64_t id, size_t *at)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->v[mid]->raw.id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return lo < t->n && t->v[lo]->raw.id == id;
}

static const tree *sort_tree; /* qsort has no context argument */

static int by_parent(const void *a, const void *b)
{
	const tt_rtask *x = &sort_tree->v[*(const size_t *)a]->raw;
	const tt_rtask *y = &sort_tree->v[*(const size_t *)b]->raw;

	if (x->parent_id != y->parent_id)
		return x->parent_id < y->parent_id ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* First position in kids of the children of task ID. */
static size_t first_kid(const tree *t, uint64_t id)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->v[t->kids[mid]]->raw.parent_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Is V[I] a root: its parent is not among the visible tasks? */
static int is_root(const tree *t, size_t i)
{
	uint64_t p = t->v[i]->raw.parent_id;
	size_t at;

	return !p || p == t->v[i]->raw.id || !find_id(t, p, &at);
}

static void node(tree *t, size_t i, int depth, int json);

static void children(tree *t, size_t i, int depth, int json)
{
	uint64_t id = t->v[i]->raw.id;

	if (depth >= TREE_MAX_DEPTH)
		return;
	for (size_t k = first_kid(t, id);
	     k < t->n && t->v[t->kids[k]]->raw.parent_id == id; k++)
		if (!t->done[t->kids[k]])
			node(t, t->kids[k], depth + 1, json);
}

static void node(tree *t, size_t i, int depth, int json)
{
	char line[1024];
	tt_fbuf b;
	tt_fmt_task ft;

	t->done[i] = 1;
	if (json) {
		fputs(t->json_items++ ? ",{" : "{", stdout);
		json_task_fields(stdout, t->s, t->v[i]);
		fputs(",\"children\":[", stdout);
		t->json_items = 0;
		children(t, i, depth, json);
		fputs("]}", stdout);
		t->json_items = 1;
		return;
	}
	tt_snapshot_view(t->s->snap, t->v[i], &ft);
	tt_fb_init(&b, line, sizeof(line));
	tt_fmt_tree_node(&b, 2 * depth, &ft, t->s->now_ns);
	cli_line(&b);
	children(t, i, depth, json);
}

/* Roots first; whatever is left sits on a parent cycle (corrupt memory)
 * or below the depth cap, and is printed as roots too, so no task goes
 * missing. */
static void tree_print(tree *t, int json)
{
	t->json_items = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < t->n; i++) {
			if (t->done[i] || (pass == 0 && !is_root(t, i)))
				continue;
			node(t, i, 0, json);
		}
	}
}

static int tree_build(tree *t, const cli_session *s, const cli_opts *o)
{
	t->s = s;
	t->v = view_sorted(s->snap, o, &t->n);
	t->done = calloc(t->n ? t->n : 1, 1);
	t->kids = malloc((t->n ? t->n : 1) * sizeof(*t->kids));
	if (!t->v || !t->done || !t->kids)
		return -1;
	for (size_t i = 0; i < t->n; i++)
		t->kids[i] = i;
	sort_tree = t;
	qsort(t->kids, t->n, sizeof(*t->kids), by_parent);
	return 0;
}

static void tree_free(tree *t)
{
	free(t->kids);
	free(t->done);
	free(t->v);
}

static int tree_run(const cli_cmd *cmd, int argc, char **argv)
{
	cli_opts o;
	cli_session s;
	const char *target;
	int rc;
	tree t;

	if ((rc = cli_parse_single_target(cmd, argc, argv, &o, &target)) >= 0)
		return rc;
	if ((rc = cli_open_target(&s, &o, target)) != EXIT_OK)
		return rc;
	if (tree_build(&t, &s, &o)) {
		fprintf(stderr, "tasktrace: out of memory\n");
		rc = EXIT_TARGET;
	} else {
		if (o.json)
			json_doc_begin(stdout, &s, "tree");
		tree_print(&t, o.json);
		if (o.json)
			json_doc_end(stdout);
	}
	tree_free(&t);
	cli_close(&s);
	return rc;
}

const cli_cmd cmd_tree = {
    "tree",
    "show the spawn tree of a process's tasks",
    "Usage: tasktrace tree [OPTIONS] TARGET\n"
    "\n"
    "Show the tasks of TARGET (a live pid, or a core file) as a tree: each task\n"
    "under the task that spawned it, with its state and what it waits on.\n"
    "\n"
    "  -a, --all          include the runtime's own (system) tasks\n"
    "  -j, --json         print JSON (schema in docs/cli.md)\n"
    "      --exe FILE     the executable of a core (default: from the core)\n"
    "      --nonblocking  read a live process without stopping it\n"
    "      --stop-budget D  a live target stays stopped at most D (default\n"
    "                     1s); past it, it runs and what was not read is said\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 ok, 1 I/O error, 2 usage error, 3-11 the target could not\n"
    "be read (see docs/cli.md).\n",
    tree_run,
    0,
};
