/* ps without a snapshot, for targets that cannot change under us (a core,
 * a stopped process): a million tasks cost a million snapshot entries
 * (~376 B each plus their frames), while a ps row needs only the task,
 * its leaf and its innermost site.
 *
 * Two passes over the slots through the reader's core layer: the first
 * reads only the ids and flags of the slots and collects (id, slot) of the
 * visible tasks, sorted by id; the second decodes each task, walks its
 * chain and formats its row straight into a large output buffer.  A core is read in place: the reader gets a
 * zero-copy view of the core file mapped read-only, so a slot or a frame
 * costs a pointer, not a copy; a live target's reads go through a block
 * cache, tt_mem_cache (slots and frames are mostly sequential).  The
 * innermost function and site of a row are resolved once each
 * (tt_rsym_cache).  Memory stays at 16 bytes a task plus the caches. */
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define BLK_SHIFT 20 /* the block cache of a live target: 1 MiB blocks ... */
#define BLK_N 32     /* ... 32 of them */
#define WHERES 2048  /* funcs and sites cached, each */
#define MAX_FRAMES 4096
#define ROW_MAX 1024          /* a row's text, as cli_line's callers cut it */
#define OUT_SIZE (1u << 20)   /* rows are written a MiB at a time */

/* ---- a core, in place ---- */

typedef struct core_seg {
	uint64_t vaddr, filesz, offset;
} core_seg;

typedef struct coreview {
	const unsigned char *map;
	size_t size;
	core_seg *segs; /* PT_LOAD with file bytes, by vaddr */
	size_t nsegs;
	size_t last, prev; /* the segments of the last two hits */
} coreview;

static int by_vaddr(const void *a, const void *b)
{
	const core_seg *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* Map PATH and list its loaded segments; 0, or -1 (the reader then
 * copies through the session's read callback as before). */
static int cv_open(coreview *cv, const char *path)
{
	struct stat sb;
	size_t phnum;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf = NULL;
	int rc = -1;

	memset(cv, 0, sizeof(*cv));
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) != 0 || sb.st_size <= 0 || elf_version(EV_CURRENT) == EV_NONE ||
	    !(elf = elf_begin(fd, ELF_C_READ_MMAP, NULL)) || elf_getphdrnum(elf, &phnum) != 0 ||
	    !(cv->segs = calloc(phnum ? phnum : 1, sizeof(*cv->segs))))
		goto out;
	cv->size = (size_t)sb.st_size;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !ph.p_filesz)
			continue;
		/* Bytes beyond the end of the file are not ours to show. */
		if (ph.p_offset > cv->size || ph.p_filesz > cv->size - ph.p_offset)
			continue;
		uint64_t filesz = ph.p_filesz < ph.p_memsz ? ph.p_filesz : ph.p_memsz;
		if (filesz && ph.p_vaddr + filesz > ph.p_vaddr)
			cv->segs[cv->nsegs++] = (core_seg){ ph.p_vaddr, filesz, ph.p_offset };
	}
	qsort(cv->segs, cv->nsegs, sizeof(*cv->segs), by_vaddr);
	/* Overlapping segments would make "the segment of ADDR" ambiguous:
	 * leave such a core to the read callback. */
	for (size_t i = 1; i < cv->nsegs; i++)
		if (cv->segs[i].vaddr < cv->segs[i - 1].vaddr + cv->segs[i - 1].filesz)
			goto out;
	void *m = mmap(NULL, cv->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		goto out;
	cv->map = m;
	rc = 0;
out:
	if (elf)
		elf_end(elf);
	close(fd);
	if (rc) {
		free(cv->segs);
		memset(cv, 0, sizeof(*cv));
	}
	return rc;
}

static void cv_close(coreview *cv)
{
	if (cv->map)
		munmap((void *)cv->map, cv->size);
	free(cv->segs);
	memset(cv, 0, sizeof(*cv));
}

static const void *cv_view(void *ctx, uint64_t addr, size_t len)
{
	coreview *cv = ctx;
	const core_seg *g = &cv->segs[cv->last];

	/* Reads alternate between slots and frames: two segments. */
	if (addr - g->vaddr >= g->filesz) {
		size_t k = cv->last;
		cv->last = cv->prev;
		cv->prev = k;
		g = &cv->segs[cv->last];
	}
	if (addr - g->vaddr >= g->filesz) {
		size_t lo = 0, hi = cv->nsegs;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (cv->segs[mid].vaddr <= addr)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (!lo || addr - cv->segs[lo - 1].vaddr >= cv->segs[lo - 1].filesz)
			return NULL;
		cv->last = lo - 1;
		g = &cv->segs[lo - 1];
	}
	if (len > g->filesz - (addr - g->vaddr))
		return NULL;
	return cv->map + g->offset + (addr - g->vaddr);
}

/* ---- rows ---- */

typedef struct stream {
	tt_reader *r;
	tt_mem_cache bc;
	void *bc_storage;
	coreview cv;
	tt_rsym_cache funcs, sites;    /* the innermost (function, site) of rows */
	tt_rsym *ents;		       /* their storage, WHERES each */
	const tt_rsym *fn, *site;      /* the last lookup's, */
	uint64_t last_func, last_site; /* of these */
	tt_rframe *frames;
	tt_rworker *workers; /* the records, for their threads */
	uint32_t nworkers;
	tt_runtimes runtimes;
	char *out; /* OUT_SIZE bytes */
	size_t used;
} stream;

typedef struct entry {
	uint64_t id, slot;
} entry;

static int by_id(const void *a, const void *b)
{
	const entry *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static void out_flush(stream *st)
{
	fwrite(st->out, 1, st->used, stdout);
	st->used = 0;
}

/* T's row; BAD: why the registry contradicts it, or NULL. */
static void row(stream *st, const tt_rtask *t, const char *bad, uint64_t now)
{
	char err[sizeof(st->r->err)];
	size_t n = 0;
	tt_fmt_task v = { .task = t, .tid = -1, .error = bad,
			  .bad_record = bad ? TT_R_INCONSISTENT : 0, .runtime_id = t->runtime_id };
	tt_fbuf b;

	v.runtimes = st->runtimes.count;
	v.inherited_from = tt_runtimes_inherited(&st->runtimes, t->runtime_id);
	v.tid = tt_runtimes_worker_tid(&st->runtimes, st->workers, st->nworkers, t->runtime_id,
				       t->worker);
	/* An inconsistent record's chain is no task's either. */
	int rc = bad ? TT_R_OK : tt_reader_walk_frames(st->r, t->root_frame, st->frames, MAX_FRAMES, &n);
	if (rc != TT_R_OK) {
		/* Before the names below may overwrite it. */
		memcpy(err, st->r->err, sizeof(err));
		err[sizeof(err) - 1] = 0;
		v.error = err;
	}
	tt_rpath_ends e;
	tt_frames_path_ends(st->frames, sizeof(*st->frames), n, &e);
	if (e.leaf != SIZE_MAX)
		v.leaf = &st->frames[e.leaf];
	if (e.where != SIZE_MAX) {
		const tt_rframe *f = &st->frames[e.where];
		/* Rows in id order share their where in runs: the entries of
		 * the last lookup hold until the next one. */
		if (!st->fn || f->func != st->last_func || f->site != st->last_site) {
			/* Unreadable records print as "??" (line 0), like the snapshot's. */
			st->fn = tt_rsym_func(st->r, &st->funcs, f->func);
			st->site = tt_rsym_site(st->r, &st->sites, f->site);
			st->last_func = f->func;
			st->last_site = f->site;
		}
		v.where_func = st->fn->name;
		v.where_file = st->site->file;
		v.where_line = st->site->line;
	}
	if (st->used + ROW_MAX + 1 > OUT_SIZE)
		out_flush(st);
	tt_fb_init(&b, st->out + st->used, ROW_MAX);
	tt_fmt_ps_row(&b, &v, now);
	st->used += b.len;
	st->out[st->used++] = '\n';
}

/* One line per bad slot on stderr, the first few of them: the rows go on,
 * the count at the end says how many there were. */
#define ERR_LINES 16

static void slot_error(const cli_session *s, const tt_reader *r, size_t *bad)
{
	if ((*bad)++ < ERR_LINES)
		fprintf(stderr, "tasktrace: %s: %s\n", cli_target_name(s), r->err);
}

static void read_workers(stream *st, uint64_t target_pid)
{
	uint64_t n = tt_reader_root_u64(st->r, TT_ROOT_WORKER_COUNT);
	tt_rworker w;

	tt_runtimes_init(&st->runtimes, st->r);
	tt_runtimes_set_target(&st->runtimes, target_pid);
	if (n > st->r->lim.max_workers)
		return;
	st->workers = calloc(n ? n : 1, sizeof(*st->workers));
	if (!st->workers)
		return;
	for (uint32_t i = 0; i < n; i++) {
		if (tt_reader_worker(st->r, i, &w) != TT_R_OK || w.state == TT_WORKER_UNUSED)
			continue;
		st->workers[st->nworkers++] = w;
	}
}

int ps_stream(const cli_session *s, const cli_opts *o)
{
	stream *st = calloc(1, sizeof(*st));
	entry *v = NULL;
	size_t n = 0, cap = 0, bad = 0, nslots = 0;
	tt_task_iter it;
	tt_rtask t;
	tt_rcheck check;
	char why[160];
	int rc = -1, sorted = 1;

	if (!st || !(st->r = malloc(sizeof(*st->r))) ||
	    !(st->frames = malloc(MAX_FRAMES * sizeof(*st->frames))) ||
	    !(st->out = malloc(OUT_SIZE)) || !(st->ents = calloc(2 * WHERES, sizeof(*st->ents))))
		goto out;
	tt_rsym_cache_init(&st->funcs, st->ents, WHERES);
	tt_rsym_cache_init(&st->sites, st->ents + WHERES, WHERES);
	/* A core is mapped already: a cache would only copy twice. */
	tt_mem mem = s->target.mem;
	size_t bc_size = tt_mem_cache_size(BLK_SHIFT, BLK_N);
	if (!s->core && (!(st->bc_storage = malloc(bc_size)) ||
			 tt_mem_cache_init(&st->bc, s->target.mem, BLK_SHIFT, BLK_N, st->bc_storage,
					   bc_size, &mem)))
		goto out;
	if (tt_reader_open(st->r, mem, s->target.root.addr, NULL))
		goto out;
	if (s->core && cv_open(&st->cv, s->core) == 0 && st->cv.nsegs)
		tt_reader_set_view(st->r, cv_view, &st->cv);
	read_workers(st, (uint64_t)s->target.pid);
	/* The first pass looks at ids and flags only. */
	tt_task_iter_init(st->r, &it);
	uint64_t slot, id;
	uint32_t flags;
	while ((rc = tt_task_iter_next_id(st->r, &it, &slot, &id, &flags)) != 0) {
		if (rc < 0) {
			slot_error(s, st->r, &bad);
			continue;
		}
		nslots++;
		if (!o->all && (flags & TT_TASKF_SYSTEM))
			continue;
		if (n == cap && cli_grow((void **)&v, &cap, sizeof(*v), 4096)) {
			rc = -1;
			goto out;
		}
		sorted &= !n || v[n - 1].id < id;
		v[n++] = (entry){ id, slot };
	}
	if (!sorted) /* slots are handed out in id order until reused */
		qsort(v, n, sizeof(*v), by_id);
	tt_rcheck_init(st->r, &check);
	if (tt_rcheck_count(&check, nslots, why, sizeof(why)))
		fprintf(stderr, "tasktrace: %s: %s\n", cli_target_name(s), why);
	char line[256];
	tt_fbuf b;
	tt_fb_init(&b, line, sizeof(line));
	if (n)
		tt_fmt_ps_header(&b);
	else
		tt_fb_str(&b, "No tasks.");
	cli_line(&b);
	for (size_t i = 0; i < n; i++) {
		if (tt_reader_read_task(st->r, v[i].slot, &t) != TT_R_OK) {
			slot_error(s, st->r, &bad);
			continue;
		}
		t.worker = tt_rtask_worker(st->r, &t, st->workers, st->nworkers);
		if (t.id != v[i].id) { /* a target that holds still cannot do this */
			snprintf(st->r->err, sizeof(st->r->err),
				 "task slot %#llx: task %llu became task %llu between passes",
				 (unsigned long long)v[i].slot, (unsigned long long)v[i].id,
				 (unsigned long long)t.id);
			slot_error(s, st->r, &bad);
			continue;
		}
		/* A stopped process cannot change; the check costs nothing. */
		if (!o->all && (t.flags & TT_TASKF_SYSTEM))
			continue;
		t.slot_index = i;
		const char *inconsistent = NULL;
		if (i && v[i - 1].id == t.id) {
			snprintf(why, sizeof(why), "id %llu is also the task in slot %#llx",
				 (unsigned long long)t.id, (unsigned long long)v[i - 1].slot);
			inconsistent = why;
		} else if (tt_rcheck_task(&check, &t, why, sizeof(why))) {
			inconsistent = why;
		}
		row(st, &t, inconsistent, s->now_ns);
	}
	out_flush(st);
	if (bad)
		fprintf(stderr, "tasktrace: %s: %zu task slot errors%s\n", cli_target_name(s), bad,
			bad > ERR_LINES ? " (the first ones above)" : "");
	rc = 0;
out:
	if (st) {
		free(st->ents);
		free(st->bc_storage);
		cv_close(&st->cv);
		free(st->frames);
		free(st->workers);
		free(st->r);
		free(st->out);
	}
	free(st);
	free(v);
	return rc;
}
