/* tt_bt_print over a snapshot: what the CLI's `tasktrace bt` and gdb's
 * `task bt` print, so the two cannot drift.  See tasktrace/read/bt.h. */
#include <stdlib.h>
#include <string.h>

#include "tasktrace/read/bt.h"
#include "tasktrace/read/tasklist.h"
#include "wording/strbuf.h"

typedef struct snap_bt {
	const tt_snapshot *s;
	const tt_stask *t;
	const tt_bt_hooks *h;
	int (*out)(void *ctx, const char *s, size_t n);
	void *out_ctx;
} snap_bt;

static void names(void *ctx, size_t i, tt_bt_names *out)
{
	const tt_sframe *f = &((snap_bt *)ctx)->t->frames[i];

	out->func = f->func ? f->func->name : NULL;
	out->file = f->site ? f->site->file : NULL;
	out->line = f->site ? f->site->line : 0;
	out->returned = f->site && (f->site->flags & TT_SITEF_DONE);
}

static const char *task_name(void *ctx, uint64_t id)
{
	return tt_snapshot_task_name(((snap_bt *)ctx)->s, id);
}

static int task(void *ctx, uint64_t id, tt_bt_link *out)
{
	const tt_stask *t = tt_snapshot_find(((snap_bt *)ctx)->s, id);

	if (!t)
		return 0;
	out->name = t->raw.name;
	out->parent_id = t->raw.parent_id;
	out->file = t->spawn_site ? t->spawn_site->file : NULL;
	out->line = t->spawn_site ? t->spawn_site->line : 0;
	out->function = t->spawn_site ? t->spawn_site->function : NULL;
	return 1;
}

/* The line with its newline, in one piece for the writer: S is the
 * buffer of tt_bt_snapshot, with room for both. */
static int line(void *ctx, const char *s, size_t n)
{
	snap_bt *b = ctx;
	char *p = (char *)s;

	p[n] = '\n';
	p[n + 1] = 0;
	return b->out(b->out_ctx, p, n + 1);
}

static int native(void *ctx, const tt_bt_native **out, char *err, size_t errlen)
{
	snap_bt *b = ctx;

	return b->h->native(b->h->ctx, b->t, out, err, errlen);
}

static int inline_callers(void *ctx, size_t i, const tt_bt_native **out)
{
	snap_bt *b = ctx;
	const tt_ssite *site = b->t->frames[i].site;

	return site ? b->h->inline_callers(b->h->ctx, b->t, site, out) : 0;
}

static void frame(void *ctx, size_t i, int num, int indent)
{
	snap_bt *b = ctx;

	b->h->frame(b->h->ctx, b->t, i, num, indent);
}

int tt_bt_snapshot(const tt_snapshot *s, const tt_stask *t, uint64_t now, const tt_bt_hooks *h,
		   int (*out)(void *ctx, const char *s, size_t n), void *out_ctx)
{
	static const tt_bt_hooks none = {0};
	char buf[1026];
	tt_fmt_task v;
	size_t path1;
	snap_bt b = {s, t, h ? h : &none, out, out_ctx};
	tt_bt_src src = {.ctx = &b,
			 .names = names,
			 .task_name = task_name,
			 .task = task,
			 .line = line,
			 .buf = buf,
			 .bufcap = sizeof(buf) - 2, /* for line()'s "\n" */
			 .path = &path1,
			 .pathcap = 1};

	src.native = b.h->native ? native : NULL;
	src.inline_callers = b.h->inline_callers ? inline_callers : NULL;
	src.frame = b.h->frame ? frame : NULL;
	if (t->nframes > 1) {
		src.path = malloc(t->nframes * sizeof(*src.path));
		if (!src.path)
			return -1;
		src.pathcap = t->nframes;
	}
	tt_snapshot_view(s, t, &v);
	tt_bt_task bt = {
	    &v,
	    t->frames,
	    sizeof(*t->frames),
	    t->nframes,
	    t->error ? t->errmsg : NULL,
	    t->spawn_site ? t->spawn_site->file : NULL,
	    t->spawn_site ? t->spawn_site->function : NULL,
	    t->spawn_site ? t->spawn_site->line : 0,
	    now,
	};
	int rc = tt_bt_print(&src, &bt);
	if (src.path != &path1)
		free(src.path);
	return rc;
}

static int to_sb(void *ctx, const char *s, size_t n)
{
	(void)n;
	sb_add(ctx, s);
	return !((sb *)ctx)->oom;
}

char *tt_bt_text(const tt_snapshot *s, uint64_t now, const uint64_t *ids, size_t nids,
		 const tt_bt_hooks *h)
{
	const tt_stask **v = NULL;
	size_t n = 0;
	sb out = {0};
	int ok = 1;

	if (!ids) {
		tt_list_opts lo;
		char err[160];
		tt_list_opts_init(&lo);
		lo.unreadable = 1;
		v = tt_task_select(s, &lo, &n, err, sizeof(err));
		if (!v)
			return NULL;
	}
	for (size_t i = 0, k = 0; ok && i < (ids ? nids : n); i++) {
		const tt_stask *t = ids ? tt_snapshot_find(s, ids[i]) : v[i];
		if (!t)
			continue;
		if (k++)
			sb_add(&out, "\n");
		if (tt_bt_snapshot(s, t, now, h, to_sb, &out) != 1)
			ok = 0;
	}
	free(v);
	if (ok && !out.p)
		sb_add(&out, "");
	if (!ok || out.oom) {
		free(out.p);
		return NULL;
	}
	return out.p;
}

void tt_bt_describe(const tt_snapshot *s, const tt_stask *t, char *buf, size_t cap)
{
	tt_fmt_task v;
	tt_fbuf b;

	tt_snapshot_view(s, t, &v);
	tt_fb_init(&b, buf, cap);
	tt_fb_str(&b, "[Current task is ");
	tt_fb_u64(&b, t->raw.id);
	tt_fb_str(&b, " \"");
	tt_fb_text(&b, t->raw.name);
	tt_fb_str(&b, "\" (");
	size_t at = b.len;
	tt_fmt_where(&b, &v);
	if (b.len == at)
		tt_fmt_state(&b, &v);
	tt_fb_str(&b, ")]");
}
