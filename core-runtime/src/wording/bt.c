/* The task backtrace; see tasktrace/read/bt.h.  No stdio, no allocation,
 * no recursion: the crash handler prints with it from a signal handler. */
#include <string.h>

#include "tasktrace/read/bt.h"

/* Nesting of combinator branches printed; deeper ones get a line saying
 * so (the reader's depth cap keeps real chains far below). */
#define BT_NEST 32

typedef struct bt {
	const tt_bt_src *s;
	const tt_bt_task *t;
	const char *frames; /* t's, at t->stride */
	size_t stride, n;
	tt_fbuf fb;
	int num; /* next frame number */
	int ok;
} bt;

static const tt_rframe *frame(const bt *b, size_t i)
{
	return (const tt_rframe *)(b->frames + i * b->stride);
}

/* Frames come in pre-order with parent indices (from the reader, but
 * kept defensive): the next child of PARENT after AFTER, or nframes. */
static size_t next_child(const bt *b, size_t parent, size_t after)
{
	size_t n = b->n;

	for (size_t j = after + 1; j < n; j++) {
		const tt_rframe *f = frame(b, j);
		if (f->parent >= 0 && (size_t)f->parent == parent)
			return j;
		if (f->depth <= frame(b, parent)->depth)
			break;
	}
	return n;
}

static tt_fbuf *line(bt *b)
{
	tt_fb_init(&b->fb, b->s->buf, b->s->bufcap);
	return &b->fb;
}

static void emit(bt *b)
{
	if (!b->s->line(b->s->ctx, b->fb.p, b->fb.len))
		b->ok = 0;
}

static void native_line(bt *b, int num, const tt_bt_native *n)
{
	tt_fmt_bt_native(line(b), num, n->pc, n->inlined, n->function, n->file, n->line, n->module);
	emit(b);
}

static void frame_line(bt *b, size_t i, int num, int indent)
{
	const tt_rframe *f = frame(b, i);
	tt_bt_names nm = {NULL, NULL, 0, 0};

	b->s->names(b->s->ctx, i, &nm);
	tt_fmt_bt_frame(line(b), num, indent, f, nm.func ? nm.func : "??", nm.file, nm.line,
			nm.returned,
			f->wait_owner ? b->s->task_name(b->s->ctx, f->wait_owner) : NULL,
			b->t->now);
	emit(b);
	if (b->s->frame)
		b->s->frame(b->s->ctx, i, num, indent);
	if (num < 0 || f->kind == TT_FUNC_KIND_LEAF || !b->s->inline_callers)
		return;
	/* A poll function inlined into others: its callers, as gdb shows
	 * inlined frames. */
	const tt_bt_native *nf = NULL;
	int n = b->s->inline_callers(b->s->ctx, i, &nf);
	for (int k = 0; k < n && nf; k++)
		native_line(b, b->num++, &nf[k]);
}

/* Frames the reader let go between frame CHILD and the frame it awaits
 * (a chain deeper than it keeps): one line, where they would be. */
static void gap_line(bt *b, size_t child, int indent)
{
	const tt_rframe *c = frame(b, child);

	if (c->parent < 0 || (size_t)c->parent >= b->n)
		return;
	uint32_t up = frame(b, (size_t)c->parent)->depth;
	if (c->depth <= up + 1)
		return;
	tt_fb_pad(line(b), (size_t)indent + 4);
	tt_fb_str(&b->fb, "... ");
	tt_fb_u64(&b->fb, c->depth - up - 1);
	tt_fb_str(&b->fb, c->depth - up - 1 == 1 ? " frame elided ..." : " frames elided ...");
	emit(b);
}

/* The other branches of combinator frame COMB (printed at INDENT), each
 * an indented path of its own, innermost first, with the branches of the
 * combinators on it; not numbered: branches are not on the task's stack.
 * A level's path is kept in s->path from its first frame's index on: the
 * indices of a branch start past those of the path it branches from.  An
 * explicit stack, bounded, rather than recursion: this runs in signal
 * handlers. */
static void print_branches(bt *b, size_t comb, int indent, int all)
{
	struct {
		size_t from, pos, len, comb, branch;
		int indent, in_branches;
	} st[BT_NEST];
	size_t *path = b->s->path, cap = b->s->pathcap < b->n ? b->s->pathcap : b->n;
	int sp = 0;

	st[0].pos = 0;
	st[0].indent = indent;
	st[0].comb = comb;
	st[0].branch = all ? comb : next_child(b, comb, comb);
	st[0].in_branches = 1;
	while (sp >= 0) {
		if (st[sp].in_branches) {
			size_t c = next_child(b, st[sp].comb, st[sp].branch);
			if (c >= b->n) {
				st[sp].in_branches = 0;
				continue;
			}
			st[sp].branch = c;
			tt_fbuf *fb = line(b);
			tt_fb_pad(fb, (size_t)st[sp].indent + 3);
			tt_fb_str(fb, " also awaiting:");
			emit(b);
			if (sp + 1 == BT_NEST) {
				tt_fb_pad(line(b), (size_t)st[sp].indent + 7);
				tt_fb_str(&b->fb, " (branches nested too deep, cut)");
				emit(b);
				continue;
			}
			int k = sp + 1;
			size_t len = 0;
			for (size_t i = c; i < b->n && c + len < cap; i = next_child(b, i, i))
				path[c + len++] = i;
			st[k].from = c;
			st[k].pos = st[k].len = len;
			st[k].indent = st[sp].indent + 8;
			st[k].in_branches = 0;
			sp = k;
			continue;
		}
		if (st[sp].pos == 0) {
			sp--;
			continue;
		}
		size_t i = path[st[sp].from + --st[sp].pos];
		if (st[sp].pos + 1 < st[sp].len)
			gap_line(b, path[st[sp].from + st[sp].pos + 1], st[sp].indent);
		frame_line(b, i, -1, st[sp].indent);
		if (frame(b, i)->kind == TT_FUNC_KIND_COMBINATOR) {
			st[sp].comb = i;
			st[sp].branch = next_child(b, i, i);
			st[sp].in_branches = st[sp].branch < b->n;
		}
	}
}

/* The awaited path from frame 0, innermost first and numbered, each
 * combinator's other branches after its line. */
static void print_path(bt *b)
{
	size_t *path = b->s->path, cap = b->s->pathcap, len = 0, all;

	for (size_t i = 0; i < b->n && len < cap; i = next_child(b, i, i))
		path[len++] = i;
	all = len;
	while (len-- > 0) {
		size_t i = path[len];
		if (len + 1 < all)
			gap_line(b, path[len + 1], 0);
		frame_line(b, i, b->num++, 0);
		if (frame(b, i)->kind == TT_FUNC_KIND_COMBINATOR)
			print_branches(b, i, 0, 0);
	}
}

/* A running task's machine stack shows the branch being polled, not the
 * others: after it, the outermost combinator on the awaited path with
 * every branch (nested combinators come with theirs), as --json has them. */
static void print_arms(bt *b)
{
	for (size_t i = 0; i < b->n; i = next_child(b, i, i)) {
		if (frame(b, i)->kind == TT_FUNC_KIND_COMBINATOR) {
			frame_line(b, i, -1, 4);
			print_branches(b, i, 0, 1);
			return;
		}
	}
}

static void error_line(bt *b)
{
	if (!b->t->error)
		return;
	tt_fb_str(line(b), "error: ");
	tt_fb_text(&b->fb, tt_fmt_strip_task_prefix(b->t->error));
	emit(b);
}

/* The task's histograms (§5.13) when they hold something worth a look
 * (TT_HIST_BT_BUCKET); a damaged block is one line. */
static void hist_lines(bt *b)
{
	const tt_rtask *r = b->t->view->task;

	if (r->hist_flags & TT_RHIST_BAD) {
		tt_fb_str(line(b), "(histograms unreadable: bad block or counts)");
		emit(b);
		return;
	}
	if (!r->hist_buckets)
		return;
	if (tt_hist_reaches(r->poll_hist, r->hist_buckets, TT_HIST_BT_BUCKET)) {
		tt_fb_str(line(b), "polls: ");
		tt_fmt_hist(&b->fb, r->poll_hist, r->hist_buckets);
		emit(b);
	}
	if (tt_hist_reaches(r->delay_hist, r->hist_buckets, TT_HIST_BT_BUCKET)) {
		tt_fb_str(line(b), "waited for a worker: ");
		tt_fmt_hist(&b->fb, r->delay_hist, r->hist_buckets);
		emit(b);
	}
}

static void ancestry(bt *b)
{
	uint64_t seen[TT_MAX_ANCESTRY];
	uint64_t parent = b->t->view->task->parent_id;
	const char *file = b->t->spawn_file, *function = b->t->spawn_function;
	uint32_t at = b->t->spawn_line;
	int n = 0;

	while (parent) {
		for (int i = 0; i < n; i++) {
			if (seen[i] == parent) {
				tt_fb_str(line(b), "(spawn cycle back to task ");
				tt_fb_u64(&b->fb, parent);
				tt_fb_str(&b->fb, ": corrupt registry)");
				emit(b);
				return;
			}
		}
		if (n == TT_MAX_ANCESTRY) {
			tt_fb_str(line(b), "(ancestry deeper than ");
			tt_fb_u64(&b->fb, TT_MAX_ANCESTRY);
			tt_fb_str(&b->fb, " tasks, cut)");
			emit(b);
			return;
		}
		seen[n++] = parent;
		tt_bt_link up = {NULL, 0, NULL, NULL, 0};
		int have = b->s->task(b->s->ctx, parent, &up);
		tt_fmt_ancestor(line(b), parent, have ? up.name : NULL, file, at, function);
		emit(b);
		if (!have)
			return;
		parent = up.parent_id;
		file = up.file;
		function = up.function;
		at = up.line;
	}
}

/* A running task's machine stack: 1 when printed, else 0 with the reason
 * printed (the chain follows). */
static int print_native(bt *b)
{
	const tt_bt_native *nf = NULL;
	char err[256] = "";

	int n = b->s->native(b->s->ctx, &nf, err, sizeof(err));
	if (n > 0 && nf) {
		for (int k = 0; k < n; k++)
			native_line(b, k, &nf[k]);
		return 1;
	}
	tt_fmt_bt_running(line(b), 0, b->t->view);
	emit(b);
	tt_fb_str(line(b), "    (no machine stack: ");
	tt_fb_text(&b->fb, n < 0 ? err : "every frame was pruned");
	tt_fb_str(&b->fb, ")");
	emit(b);
	return 0;
}

int tt_bt_print(const tt_bt_src *s, const tt_bt_task *t)
{
	bt b = {s, t, t->frames, t->stride, t->nframes, {0}, 0, 1};

	tt_fmt_bt_header(line(&b), t->view, t->now);
	emit(&b);
	/* A bad record's state, stack and parents are no task's: the reason
	 * alone. */
	if (t->view->bad_record) {
		tt_fb_str(line(&b), "error: ");
		tt_fb_text(&b.fb, tt_fmt_strip_task_prefix(t->error ? t->error : "bad record"));
		emit(&b);
		return b.ok;
	}
	if (t->view->task->state == TT_STATE_RUNNING) {
		if (s->native) {
			if (print_native(&b)) {
				if (t->nframes && s->pathcap)
					print_arms(&b);
				error_line(&b);
				hist_lines(&b);
				ancestry(&b);
				return b.ok;
			}
		} else {
			tt_fmt_bt_running(line(&b), 0, t->view);
			emit(&b);
		}
		b.num++;
	}
	if (t->nframes && s->pathcap)
		print_path(&b);
	error_line(&b);
	hist_lines(&b);
	ancestry(&b);
	return b.ok;
}

static const char default_prune[] =
    "^(tt_frame_poll|tt_task_poll[a-z_]*|tt_worker_run|worker_main|tt_block_on|"
    "tt_schedule|tt_waker_[a-z_]+|tt_cx_[a-z_]+|start_thread|clone3?|"
    "__clone3?|__GI___clone3?)$";

const char *tt_bt_default_prune(void)
{
	return default_prune;
}
