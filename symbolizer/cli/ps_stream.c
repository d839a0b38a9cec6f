/* ps without a snapshot, for targets that cannot change under us (a core,
 * a stopped process): a million tasks cost a million snapshot entries
 * (~376 B each plus their frames), while a ps row needs only the task,
 * its leaf and its innermost site.
 *
 * Two passes over the slots through the reader's core layer: the first
 * collects (id, slot) of the visible tasks, sorted by id; the second
 * decodes each task again, walks its chain into a small buffer and prints
 * its row.  Reads go through a block cache (slots and frames are mostly
 * sequential), names through a per-address cache.  Memory stays at 16
 * bytes a task plus the caches. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define BLK_BIG 20   /* 1 MiB blocks ... */
#define BLK_SMALL 12 /* ... or pages, near the edge of a mapping */
#define BLK_N 32
#define NAMES 4096 /* per-address name cache, direct mapped */
#define MAX_FRAMES 4096

typedef struct blkcache {
	tt_mem raw;
	unsigned char *data[BLK_N];
	uint64_t start[BLK_N], len[BLK_N]; /* len 0: empty */
	unsigned next; /* round robin */
	unsigned last; /* the entry of the last hit */
} blkcache;

/* Load the block around ADDR into entry I: a whole aligned MiB when it is
 * readable, else the page (small mappings: the runtime's descriptors in
 * .data.rel.ro, the first and last pages of a chunk).  0 or -1. */
static int blk_load(blkcache *c, unsigned i, uint64_t addr)
{
	if (!c->data[i] && !(c->data[i] = malloc((size_t)1 << BLK_BIG)))
		return -1;
	for (int shift = BLK_BIG; shift >= BLK_SMALL; shift -= BLK_BIG - BLK_SMALL) {
		uint64_t start = addr >> shift << shift;
		if (c->raw.read(c->raw.ctx, start, c->data[i], (size_t)1 << shift) == 0) {
			c->start[i] = start;
			c->len[i] = (uint64_t)1 << shift;
			return 0;
		}
	}
	c->len[i] = 0;
	return -1;
}

static int blk_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	blkcache *c = ctx;

	if (!len || addr + len < addr)
		return c->raw.read(c->raw.ctx, addr, buf, len);
	for (unsigned k = 0; k < BLK_N; k++) {
		unsigned i = (c->last + k) % BLK_N;
		if (addr - c->start[i] < c->len[i] && len <= c->len[i] - (addr - c->start[i])) {
			memcpy(buf, c->data[i] + (addr - c->start[i]), len);
			c->last = i;
			return 0;
		}
	}
	unsigned i = c->next++ % BLK_N;
	if (blk_load(c, i, addr) == 0 && len <= c->len[i] - (addr - c->start[i])) {
		memcpy(buf, c->data[i] + (addr - c->start[i]), len);
		return 0;
	}
	return c->raw.read(c->raw.ctx, addr, buf, len);
}

typedef struct name_ent {
	uint64_t addr; /* site or func record */
	char *a;       /* func name / site file */
	uint32_t line; /* site line */
} name_ent;

typedef struct stream {
	tt_reader *r;
	blkcache bc;
	name_ent names[NAMES];
	tt_rframe *frames;
	int64_t *tids; /* by worker index */
	uint32_t ntids;
} stream;

typedef struct entry {
	uint64_t id, slot;
} entry;

static int by_id(const void *a, const void *b)
{
	const entry *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static name_ent *name_of(stream *st, uint64_t addr, int site)
{
	name_ent *e = &st->names[((addr >> 3) ^ (addr >> 13)) % NAMES];
	char buf[512];

	if (e->addr == addr && e->a)
		return e;
	free(e->a);
	e->addr = addr;
	e->line = 0;
	if (site) {
		tt_rsite s;
		tt_reader_site(st->r, addr, &s);
		tt_reader_string(st->r, s.file, buf, sizeof(buf));
		e->line = s.line;
	} else {
		tt_rfunc f;
		tt_reader_func(st->r, addr, &f);
		tt_reader_string(st->r, f.name, buf, sizeof(buf));
	}
	e->a = strdup(buf);
	return e;
}

static void row(stream *st, const tt_rtask *t, uint64_t now)
{
	char line[1024], func[512], file[512], err[200] = "";
	size_t n = 0;
	tt_fmt_task v = { t, NULL, NULL, NULL, 0, -1, NULL };
	tt_fbuf b;

	if (t->worker >= 0 && (uint32_t)t->worker < st->ntids)
		v.tid = st->tids[t->worker];
	int rc = tt_reader_walk_frames(st->r, t->root_frame, st->frames, MAX_FRAMES, &n);
	if (rc != TT_R_OK) {
		snprintf(err, sizeof(err), "%s", st->r->err);
		v.error = err;
	}
	/* Down the awaited path as view_task does: pre-order puts a
	 * frame's first child right after it. */
	for (size_t i = 0; i < n; i++) {
		const tt_rframe *f = &st->frames[i];
		if (f->kind != TT_FUNC_KIND_LEAF && f->site) {
			/* Copies: the next lookup may evict the entry. */
			const char *fn = name_of(st, f->func, 0)->a;
			size_t fl = strlen(fn) < sizeof(func) - 1 ? strlen(fn) : sizeof(func) - 1;
			memcpy(func, fn, fl);
			func[fl] = 0;
			name_ent *s = name_of(st, f->site, 1);
			fl = strlen(s->a) < sizeof(file) - 1 ? strlen(s->a) : sizeof(file) - 1;
			memcpy(file, s->a, fl);
			file[fl] = 0;
			v.where_func = func;
			v.where_file = file;
			v.where_line = s->line;
		}
		if (i + 1 >= n || st->frames[i + 1].parent != (int32_t)i) {
			v.leaf = f;
			break;
		}
	}
	tt_fb_init(&b, line, sizeof(line));
	tt_fmt_ps_row(&b, &v, now);
	cli_line(&b);
}

static void read_workers(stream *st)
{
	uint64_t n = tt_reader_root_u64(st->r, TT_ROOT_WORKER_COUNT);
	tt_rworker w;

	if (n > st->r->lim.max_workers)
		return;
	st->tids = calloc(n ? n : 1, sizeof(*st->tids));
	if (!st->tids)
		return;
	for (uint32_t i = 0; i < n; i++)
		if (tt_reader_worker(st->r, i, &w) == TT_R_OK && w.index < n)
			st->tids[w.index] = (int64_t)w.tid;
	st->ntids = (uint32_t)n;
}

int ps_stream(const cli_session *s, const cli_opts *o)
{
	stream *st = calloc(1, sizeof(*st));
	entry *v = NULL;
	size_t n = 0, cap = 0, bad = 0;
	tt_task_iter it;
	tt_rtask t;
	int rc = -1, sorted = 1;

	if (!st || !(st->r = malloc(sizeof(*st->r))) ||
	    !(st->frames = malloc(MAX_FRAMES * sizeof(*st->frames))))
		goto out;
	st->bc.raw = s->target.mem;
	/* A core is mapped already: a cache would only copy twice. */
	tt_mem mem = s->core ? s->target.mem : (tt_mem){ blk_read, &st->bc };
	if (tt_reader_open(st->r, mem, s->target.root.addr, NULL))
		goto out;
	read_workers(st);
	tt_task_iter_init(st->r, &it);
	while ((rc = tt_task_iter_next(st->r, &it, &t)) != 0) {
		if (rc < 0) {
			bad++;
			continue;
		}
		if (!o->all && (t.flags & TT_TASKF_SYSTEM))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			entry *p = realloc(v, cap * sizeof(*v));
			if (!p) {
				rc = -1;
				goto out;
			}
			v = p;
		}
		sorted &= !n || v[n - 1].id < t.id;
		v[n++] = (entry){ t.id, t.slot_addr };
	}
	if (!sorted) /* slots are handed out in id order until reused */
		qsort(v, n, sizeof(*v), by_id);
	char line[256];
	tt_fbuf b;
	tt_fb_init(&b, line, sizeof(line));
	tt_fmt_ps_header(&b);
	cli_line(&b);
	for (size_t i = 0; i < n; i++) {
		if (tt_reader_read_task(st->r, v[i].slot, &t) != TT_R_OK || t.id != v[i].id) {
			bad++;
			continue;
		}
		t.slot_index = i;
		row(st, &t, s->now_ns);
	}
	if (bad)
		fprintf(stderr, "tasktrace: %zu task slots could not be read\n", bad);
	rc = 0;
out:
	if (st) {
		for (size_t i = 0; i < NAMES; i++)
			free(st->names[i].a);
		for (size_t i = 0; i < BLK_N; i++)
			free(st->bc.data[i]);
		free(st->frames);
		free(st->tids);
		free(st->r);
	}
	free(st);
	free(v);
	return rc;
}
