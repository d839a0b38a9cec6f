/* libFuzzer target: a target memory image (fuzz_image.h) read the ways the
 * front ends read one, each into memory: the snapshot with every wording
 * of it (ps rows and groups, bt text, tree nodes, JSON) and the diagnosis
 * engine; and the core layer as `ps` streams a core or a stopped process
 * (slot iterator, frame walk, path ends, cached names, ps rows).  Nothing
 * may crash, leak, read out of bounds, hang or print a byte JSON cannot
 * carry.  tests/fuzz/README.md says how to run it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tasktrace/read/bt.h"
#include "tasktrace/read/diagnose.h"
#include "tasktrace/read/format.h"
#include "tasktrace/read/history.h"
#include "tasktrace/read/reader.h"
#include "tasktrace/read/taskjson.h"
#include "tasktrace/read/tasklist.h"

#include "fuzz_image.h"
#include "../utf8_strict.h"

typedef struct image {
	tt_mem_region regs[FZ_MAX_REGIONS];
	void *copies[FZ_MAX_REGIONS];
	tt_mem_image mi;
} image;

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* Each region in a buffer of its own, 16-aligned like the memory it
 * stands for (a view hands the reader pointers into it). */
static int parse(image *im, const uint8_t *data, size_t size)
{
	size_t at = 1;

	memset(im, 0, sizeof(*im));
	while (im->mi.count < FZ_MAX_REGIONS && size - at >= FZ_REGION_HEADER) {
		uint64_t addr = le(data + at, 8);
		size_t len = (size_t)le(data + at + 8, 4);
		at += FZ_REGION_HEADER;
		if (len > size - at)
			len = size - at;
		void *p = aligned_alloc(16, (len + 15) & ~(size_t)15);
		if (!p)
			abort();
		memcpy(p, data + at, len);
		at += len;
		im->copies[im->mi.count] = p;
		im->regs[im->mi.count++] = (tt_mem_region){addr, p, len};
	}
	im->mi.regions = im->regs;
	return im->mi.count ? 0 : -1;
}

static void image_free(image *im)
{
	for (size_t i = 0; i < im->mi.count; i++)
		free(im->copies[i]);
}

static const void *view(void *ctx, uint64_t addr, size_t len)
{
	const image *im = ctx;

	for (size_t i = 0; i < im->mi.count; i++) {
		const tt_mem_region *g = &im->regs[i];
		if (addr >= g->addr && addr - g->addr <= g->len && len <= g->len - (addr - g->addr))
			return (const char *)g->data + (addr - g->addr);
	}
	return NULL;
}

static void check_json(const char *text)
{
	if (text && !utf8_ok(text))
		abort(); /* a strict decoder would reject the document */
}

/* Text for a terminal: UTF-8, and no control character but the line
 * ends (C0, DEL, C1: a name must not drive the terminal), whatever the
 * target's strings hold. */
static void check_text(const char *text)
{
	if (!text)
		return;
	if (!utf8_ok(text))
		abort();
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f ||
		    (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			abort();
}

static void text(char *t)
{
	check_text(t);
	tt_text_free(t);
}

/* The machine frames a front end would supply: for running tasks and
 * inlined polls, so the printer's paths for them are walked too. */
static const tt_bt_native natives[2] = {
    {0x401000, 0, "poll_fn", "src/x.c", 12, NULL},
    {0, 1, NULL, NULL, 0, "libx.so"},
};

static int hook_native(void *ctx, const tt_stask *t, const tt_bt_native **out, char *err,
		       size_t errlen)
{
	(void)ctx;
	if (t->raw.id & 1) {
		*out = natives;
		return 2;
	}
	strncpy(err, "no stack", errlen - 1);
	err[errlen - 1] = 0;
	return -1;
}

static int hook_inline(void *ctx, const tt_stask *t, const tt_ssite *site, const tt_bt_native **out)
{
	(void)ctx;
	(void)site;
	*out = natives + 1;
	return (int)(t->raw.id & 1);
}

static void wording(const tt_snapshot *s, unsigned opts)
{
	uint64_t now = s->now_ns;
	char err[160], line[1024];
	tt_list_opts lo;
	tt_bt_hooks hooks = {NULL, hook_native, hook_inline, NULL};

	tt_list_opts_init(&lo);
	lo.all = !!(opts & FZ_ALL);
	lo.group = !!(opts & FZ_GROUP);
	text(tt_task_list(s, now, &lo, err, sizeof(err)));

	if (opts & FZ_BT_IDS) {
		uint64_t *ids = malloc((s->ntasks + 1) * sizeof(*ids));
		if (!ids)
			abort();
		for (size_t i = 0; i < s->ntasks; i++)
			ids[i] = s->tasks[i].raw.id;
		text(tt_bt_text(s, now, ids, s->ntasks, &hooks));
		free(ids);
	} else {
		text(tt_bt_text(s, now, NULL, 0, NULL));
	}

	/* tree nodes and gdb's task line */
	for (size_t i = 0; i < s->ntasks; i++) {
		tt_fmt_task v;
		tt_fbuf b;
		tt_snapshot_view(s, &s->tasks[i], &v);
		tt_fb_init(&b, line, sizeof(line));
		tt_fmt_tree_node(&b, (int)(i % 8), &v, now);
		check_text(line);
		tt_bt_describe(s, &s->tasks[i], line, sizeof(line));
		check_text(line);
	}

	char *json = tt_json_tasks(s, now, !!(opts & FZ_ALL), 0, 1);
	check_json(json);
	tt_text_free(json);
	if (s->ntasks) {
		json = tt_json_tasks(s, now, 1, s->tasks[s->ntasks - 1].raw.id, 1);
		check_json(json);
		tt_text_free(json);
	}

	tt_diag_opts d;
	tt_diag_opts_init(&d);
	d.all = !!(opts & FZ_ALL);
	tt_diag_report *r = tt_diagnose(s, 0, &d);
	if (r)
		check_text(r->text);
	tt_diag_free(r);
	tt_diag_free(tt_diagnose_leaks(s, s->ntasks ? s->tasks[0].raw.runtime_id : 0, now));
}

#define FRAMES 512

/* `ps` of a core or a stopped process: the core layer, two passes. */
static void stream(tt_mem mem, uint64_t root, const tt_reader_limits *lim, image *im, unsigned opts)
{
	static tt_reader r;
	static tt_rframe frames[FRAMES];
	static tt_rsym ents[16];
	tt_rsym_cache funcs, sites;
	tt_task_iter it;
	tt_rtask t;
	uint64_t slot, id;
	uint32_t flags;
	char line[1024];
	int rc;

	if (tt_reader_open(&r, mem, root, lim) != TT_R_OK)
		return;
	if (opts & FZ_VIEW)
		tt_reader_set_view(&r, view, im);
	memset(ents, 0, sizeof(ents));
	tt_rsym_cache_init(&funcs, ents, 8);
	tt_rsym_cache_init(&sites, ents + 8, 8);

	uint64_t nw = tt_reader_root_u64(&r, TT_ROOT_WORKER_COUNT);
	tt_rworker w;
	for (uint32_t i = 0; i < nw && i < r.lim.max_workers; i++)
		tt_reader_worker(&r, i, &w);

	/* The reader bounds every iteration itself: no guard here, so a
	 * loop it does not bound shows as a timeout. */
	tt_task_iter_init(&r, &it);
	while ((rc = tt_task_iter_next_id(&r, &it, &slot, &id, &flags)) != 0)
		if (rc == 1)
			tt_reader_read_task(&r, slot, &t);

	tt_task_iter_init(&r, &it);
	while ((rc = tt_task_iter_next(&r, &it, &t)) != 0) {
		if (rc != 1)
			continue;
		size_t n = 0;
		tt_fmt_task v = {&t, NULL, NULL, NULL, 0, -1, NULL, 0};
		if (tt_reader_walk_frames(&r, t.root_frame, frames, FRAMES, &n) != TT_R_OK)
			v.error = r.err;
		tt_rpath_ends e;
		tt_frames_path_ends(frames, sizeof(*frames), n, &e);
		if (e.leaf != SIZE_MAX)
			v.leaf = &frames[e.leaf];
		if (e.where != SIZE_MAX) {
			const tt_rsym *fn = tt_rsym_func(&r, &funcs, frames[e.where].func);
			const tt_rsym *st = tt_rsym_site(&r, &sites, frames[e.where].site);
			v.where_func = fn->name;
			v.where_file = st->file;
			v.where_line = st->line;
		}
		tt_fbuf b;
		tt_fb_init(&b, line, sizeof(line));
		tt_fmt_ps_row(&b, &v, tt_reader_root_u64(&r, TT_ROOT_NOW_NS));
		check_text(line);
		tt_fb_init(&b, line, sizeof(line));
		tt_fmt_bt_header(&b, &v, tt_reader_root_u64(&r, TT_ROOT_NOW_NS));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	image im;
	tt_mem mem;
	tt_snapshot *s = NULL;
	char err[160];
	static tt_mem_cache cache;
	static void *storage;
	const tt_reader_limits tight = {.max_depth = 6,
					.max_frames = 24,
					.max_chunks = 3,
					.max_slots = 64,
					.max_workers = 4,
					.max_string = 24,
					.torn_retries = 2};

	if (size < 1 || parse(&im, data, size) != 0)
		return 0;
	unsigned opts = data[0];
	const tt_reader_limits *lim = opts & FZ_TIGHT ? &tight : NULL;
	uint64_t root = im.regs[0].addr;

	mem = tt_mem_image_source(&im.mi);
	if (opts & FZ_CACHE) {
		size_t n = tt_mem_cache_size(12, 4);
		if (!storage && !(storage = aligned_alloc(8, n)))
			abort();
		if (tt_mem_cache_init(&cache, mem, 12, 4, storage, n, &mem) != 0)
			abort();
	}

	if (tt_snapshot_read(mem, root, lim, &s, err, sizeof(err)) == TT_R_OK) {
		wording(s, opts);
		/* The flight recorder's rings (worker records, the root's
		 * foreign ring) as `history` decodes and words them: from
		 * the same hostile image. */
		text(tt_history_text(mem, s, s->ntasks ? s->tasks[0].raw.id : 1, 0, s->now_ns,
				     NULL));
		tt_snapshot_free(s);
	} else if (s) {
		abort(); /* an error leaves no snapshot */
	}
	if (opts & FZ_CACHE)
		tt_mem_cache_reset(&cache);
	stream(mem, root, lim, &im, opts);
	image_free(&im);
	return 0;
}
