/* In-process reports over the reader's core layer; see report.h.
 * Async-signal-safe throughout: mmap instead of malloc, write(2) instead
 * of stdio, tt_mem_self (process_vm_readv) instead of dereferencing. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "reporters/report.h"
#include "tasktrace/future.h"
#include "tasktrace/abi/registry.h"
#include "tasktrace/read/bt.h"
#include "tasktrace/read/history.h"

/* ---- the writer ---- */

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere to report a failed report */
		p += w;
		n -= (size_t)w;
	}
}

void tt_rout_init(tt_rout *o, int fd, size_t cap)
{
	o->fd = fd;
	o->written = 0;
	o->cap = cap;
	o->limit = cap;
	o->len = 0;
	o->buf = o->small;
	o->size = sizeof(o->small);
}

void tt_rout_set_buffer(tt_rout *o, char *mem, size_t size)
{
	tt_rout_flush(o);
	if (mem && size >= sizeof(o->small)) {
		o->buf = mem;
		o->size = size;
	}
}

void tt_rout_flush(tt_rout *o)
{
	write_all(o->fd, o->buf, o->len);
	o->len = 0;
}

void tt_rout_section(tt_rout *o, size_t n, size_t reserve)
{
	size_t used = o->written;
	size_t end = o->cap > reserve ? o->cap - reserve : 0;

	o->limit = used + n < end ? used + n : end;
}

static int put(tt_rout *o, const char *s, size_t n, size_t limit)
{
	/* written counts every accepted byte, buffered or not. */
	if (o->written + n + 1 > limit)
		return 0;
	o->written += n + 1;
	if (o->len + n + 1 > o->size)
		tt_rout_flush(o);
	if (n + 1 > o->size) {
		write_all(o->fd, s, n);
		write_all(o->fd, "\n", 1);
		return 1;
	}
	memcpy(o->buf + o->len, s, n);
	o->buf[o->len + n] = '\n';
	o->len += n + 1;
	return 1;
}

int tt_rout_line(tt_rout *o, const char *s)
{
	return put(o, s, strlen(s), o->limit);
}

int tt_rout_put(tt_rout *o, const char *s, size_t n)
{
	return put(o, s, n, o->limit);
}

int tt_rout_force(tt_rout *o, const char *s)
{
	return put(o, s, strlen(s), o->cap);
}

/* ---- where a report goes ---- */

void tt_rdest_init(tt_rdest *d, int fd, const char *kind)
{
	struct stat st;
	const char *dir = getenv("TASKTRACE_CRASH_DIR");

	d->fd = fd;
	d->known = fstat(fd, &st) == 0;
	d->dev = d->known ? st.st_dev : 0;
	d->ino = d->known ? st.st_ino : 0;
	d->kind = kind;
	d->next = 0;
	snprintf(d->dir, sizeof(d->dir), "%s", dir && *dir ? dir : "/tmp");
}

/* fstat is async-signal-safe. */
int tt_rdest_same(const tt_rdest *d)
{
	struct stat st;

	return d->known && fstat(d->fd, &st) == 0 && st.st_dev == d->dev && st.st_ino == d->ino;
}

/* A new file for the report: O_EXCL and O_NOFOLLOW, never appending to,
 * or writing through, what someone else left under that name in a shared
 * directory; the next free of NAME.log, NAME-1.log ... NAME-99.log. */
static int rdest_create(tt_rdest *d, char *path, size_t len)
{
	for (unsigned tries = 0; tries < 100 && d->next < 100; tries++, d->next++) {
		tt_fbuf b;
		tt_fb_init(&b, path, len);
		tt_fb_str(&b, d->dir);
		tt_fb_str(&b, "/tasktrace-");
		tt_fb_str(&b, d->kind);
		tt_fb_str(&b, "-");
		tt_fb_u64(&b, (uint64_t)getpid());
		if (d->next) {
			tt_fb_str(&b, "-");
			tt_fb_u64(&b, d->next);
		}
		tt_fb_str(&b, ".log");
		if (b.len + 1 >= b.cap)
			return -1;
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			d->next++;
			return fd;
		}
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

int tt_rdest_open(tt_rdest *d, char *note, size_t len)
{
	char path[600];
	struct stat st;
	tt_fbuf b;

	tt_fb_init(&b, note, len);
	if (tt_rdest_same(d))
		return d->fd;
	int fd = rdest_create(d, path, sizeof(path));
	if (fd < 0)
		return -1;
	tt_fb_str(&b, "tasktrace: fd ");
	tt_fb_u64(&b, (uint64_t)d->fd);
	tt_fb_str(&b, !d->known ? " was not open when the handler was installed"
		      : fstat(d->fd, &st) != 0
			  ? " has been closed since the handler was installed"
			  : " refers to another file than when the handler was "
			    "installed");
	tt_fb_str(&b, ": this report is written to ");
	tt_fb_text(&b, path);
	tt_fb_str(&b, " instead");
	return fd;
}

/* ---- memory: this process, through a block cache ---- */

/* Blocks of target memory read since the current batch of slots was
 * read (tt_mem_cache, in the mapping with the context): a task's frames
 * usually share a block with its neighbours', and a syscall costs more
 * than decoding a task.  Staleness is handled by the seqlock checks: the
 * cache is reset whenever slots are read, so every cached block is younger
 * than the slot it is used with. */
#define BLOCK_SHIFT 16
#define BLOCKS 8

struct rep_mem {
	tt_mem self;
	pid_t pid;
	int no_vm; /* process_vm_readv refused: reads through tt_mem_self */
	tt_mem_cache cache;
	tt_mem cached; /* through the cache */
	uint64_t storage[TT_MEM_CACHE_SIZE(BLOCK_SHIFT, BLOCKS) / 8];
};

/* process_vm_readv on ourselves with the pid looked up once (tt_mem_self
 * asks getpid() every read: half the syscalls of a dump); anything but a
 * clean success or EFAULT goes through tt_mem_self and its fallbacks. */
static int fast_self_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct rep_mem *m = ctx;
	int saved = errno;

	if (len && addr + len >= addr && !(addr >> 63) && !m->no_vm) {
		struct iovec l = { buf, len };
		struct iovec r = { (void *)(uintptr_t)addr, len };
		ssize_t n = process_vm_readv(m->pid, &l, 1, &r, 1, 0);
		int e = errno;
		errno = saved;
		if (n == (ssize_t)len)
			return 0;
		if (n >= 0 || e == EFAULT)
			return -EFAULT;
		if (e == EPERM || e == ENOSYS)
			m->no_vm = 1;
	}
	return tt_mem_self().read(NULL, addr, buf, len);
}

static void cache_reset(struct rep_mem *m)
{
	tt_mem_cache_reset(&m->cache);
}

/* The context and its mem live in one mapping. */
typedef struct rep_map {
	tt_rep rep;
	struct rep_mem mem;
} rep_map;

static struct rep_mem *mem_of(tt_rep *p)
{
	return &((rep_map *)p)->mem;
}

/* Tasks of tt_rep_bt_all walked but not yet printed. */
#define BATCH 256    /* tasks, at least a bulk read's worth */
#define POOL 16384   /* frames of the tasks of a batch */

struct tt_rep_batch {
	struct {
		tt_rtask t;
		uint32_t first, n; /* its frames in pool */
		int ok;            /* walked cleanly and its seq held */
	} task[BATCH];
	unsigned char seq[BATCH * 8];
	struct iovec rem[BATCH];
	uint32_t ix[BATCH];
	unsigned char span[2 * TT_REP_BULK * TT_R_TASK_MAX]; /* slots, without process_vm_readv */
	tt_rframe pool[POOL];
};

static void *map(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* ---- iteration over slots, a few at a time ---- */

int tt_rep_next(tt_rep *p, tt_rep_iter *it, tt_rtask *out)
{
	uint32_t stride = p->r.record_size[TT_REC_TASK];
	/* As many slots per read as the buffer holds (248 of ours). */
	size_t per = sizeof(p->bulk) / stride;

	if (!it->started) {
		it->started = 1;
		if (tt_reader_chunk_count(&p->r, &it->nchunks))
			it->nchunks = 0;
	}
	for (;;) {
		while (it->bulkpos < it->inbulk) {
			uint32_t k = it->bulkpos++;
			uint64_t addr = it->slots + (it->slot - it->inbulk + k) * stride;
			const unsigned char *slot = p->bulk + (size_t)k * stride;
			/* Most slots of the last chunk are free: skip them
			 * without decoding. */
			if (!tt_r_get(slot, p->r.f_task[TT_TASK_ID]))
				continue;
			tt_reader_decode_task(&p->r, slot, addr, out);
			if (out->id) {
				out->worker = tt_rtask_worker(&p->r, out, p->workers, p->nworkers);
				return 1;
			}
		}
		if (it->slot < it->count) {
			uint64_t n = it->count - it->slot;
			if (n > per)
				n = per;
			uint64_t addr = it->slots + it->slot * stride;
			it->slot += n;
			it->bulkpos = 0;
			it->inbulk = 0;
			tt_mem raw = mem_of(p)->self;
			if (raw.read(raw.ctx, addr, p->bulk, (size_t)n * stride) == 0)
				it->inbulk = (uint32_t)n;
			cache_reset(mem_of(p));
			continue;
		}
		if (it->chunk >= it->nchunks)
			return 0;
		tt_reader_chunk c;
		if (tt_reader_chunk_get(&p->r, it->chunk++, it->total, &c)) {
			it->count = it->slot = 0;
			continue;
		}
		it->total += c.count;
		it->slots = c.slots;
		it->count = c.used;
		it->slot = 0;
		it->inbulk = it->bulkpos = 0;
	}
}

/* ---- the id index ---- */

static void ent_swap(tt_rep_ent *a, tt_rep_ent *b)
{
	tt_rep_ent t = *a;
	*a = *b;
	*b = t;
}

static void sift(tt_rep_ent *e, size_t n, size_t i)
{
	for (;;) {
		size_t big = i, l = 2 * i + 1, r = l + 1;
		if (l < n && e[l].id > e[big].id)
			big = l;
		if (r < n && e[r].id > e[big].id)
			big = r;
		if (big == i)
			return;
		ent_swap(&e[i], &e[big]);
		i = big;
	}
}

/* Heapsort: in place, no recursion, no allocation. */
static void sort_ents(tt_rep_ent *e, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift(e, n, i);
	for (size_t i = n; i-- > 1;) {
		ent_swap(&e[0], &e[i]);
		sift(e, i, 0);
	}
}

static void build_index(tt_rep *p)
{
	uint32_t nchunks;
	uint64_t slots = 0;
	tt_reader_chunk c;
	tt_rep_iter it = { 0 };
	tt_rtask t;

	if (tt_reader_chunk_count(&p->r, &nchunks))
		return;
	for (uint32_t i = 0; i < nchunks; i++)
		if (tt_reader_chunk_get(&p->r, i, slots, &c) == TT_R_OK)
			slots += c.count;
	/* Tasks spawned while we read beyond this are simply unnamed. */
	if (slots > (1u << 22))
		slots = 1u << 22;
	p->ents_bytes = (size_t)(slots ? slots : 1) * sizeof(tt_rep_ent);
	p->ents = map(p->ents_bytes);
	if (!p->ents)
		return;
	p->capents = (size_t)slots;
	while (p->nents < p->capents && tt_rep_next(p, &it, &t) == 1) {
		tt_rep_ent *e = &p->ents[p->nents++];
		e->id = t.id;
		e->parent_id = t.parent_id;
		e->spawn_site = t.spawn_site;
		e->slot = t.slot_addr;
		e->flags = t.flags;
		e->state = t.state;
		memcpy(e->name, t.name, sizeof(e->name));
	}
	/* Slots are handed out in id order until reused: mostly sorted. */
	for (size_t i = 1; i < p->nents; i++) {
		if (p->ents[i - 1].id >= p->ents[i].id) {
			sort_ents(p->ents, p->nents);
			break;
		}
	}
}

const tt_rep_ent *tt_rep_find(const tt_rep *p, uint64_t id)
{
	size_t lo = 0, hi = p->nents;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->ents[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->nents && p->ents[lo].id == id ? &p->ents[lo] : NULL;
}

/* ---- open / close ---- */

static void copy_err(char *err, size_t errlen, const char *msg)
{
	size_t n = strlen(msg);

	if (!errlen)
		return;
	if (n >= errlen)
		n = errlen - 1;
	memcpy(err, msg, n);
	err[n] = 0;
}

tt_rep *tt_rep_open(int with_index, char *err, size_t errlen)
{
	rep_map *m = map(sizeof(rep_map));
	tt_rep *p;
	tt_rworker w;

	if (!m) {
		copy_err(err, errlen, "cannot map memory for the report");
		return NULL;
	}
	p = &m->rep;
	m->mem.pid = getpid();
	m->mem.self = (tt_mem){ fast_self_read, &m->mem };
	if (tt_mem_cache_init(&m->mem.cache, m->mem.self, BLOCK_SHIFT, BLOCKS, m->mem.storage,
			      sizeof(m->mem.storage), &m->mem.cached)) {
		copy_err(err, errlen, "cannot set up the report's memory cache");
		munmap(m, sizeof(*m));
		return NULL;
	}
	if (tt_reader_open(&p->r, m->mem.cached, (uint64_t)(uintptr_t)tt_registry_root(), NULL) !=
	    TT_R_OK) {
		copy_err(err, errlen, p->r.err);
		munmap(m, sizeof(*m));
		return NULL;
	}
	p->now = tt_now_ns();
	tt_rsym_cache_init(&p->funcs, p->func_ents, TT_REP_SYMS);
	tt_rsym_cache_init(&p->sites, p->site_ents, TT_REP_SYMS);
	tt_runtimes_init(&p->runtimes, &p->r);
	tt_runtimes_set_target(&p->runtimes, (uint64_t)m->mem.pid);
	p->nworkers = 0;
	uint64_t nw = tt_reader_root_u64(&p->r, TT_ROOT_WORKER_COUNT);
	for (uint32_t i = 0; i < nw && i < TT_REP_WORKERS; i++) {
		if (tt_reader_worker(&p->r, i, &w) == TT_R_OK && w.state != TT_WORKER_EXITED &&
		    w.state != TT_WORKER_UNUSED)
			p->workers[p->nworkers++] = w;
	}
	if (with_index)
		build_index(p);
	return p;
}

void tt_rep_close(tt_rep *p)
{
	if (!p)
		return;
	if (p->ents)
		munmap(p->ents, p->ents_bytes);
	if (p->batch)
		munmap(p->batch, sizeof(*p->batch));
	munmap(p, sizeof(rep_map));
}

/* ---- tasks and their frames ---- */

int tt_rep_task(tt_rep *p, uint64_t slot, tt_rtask *out)
{
	/* Slots change all the time: never through the page cache. */
	tt_mem cached = p->r.mem;
	p->r.mem = mem_of(p)->self;
	int rc = tt_reader_read_task(&p->r, slot, out);
	if (rc == TT_R_OK)
		out->worker = tt_rtask_worker(&p->r, out, p->workers, p->nworkers);
	p->r.mem = cached;
	cache_reset(mem_of(p));
	return rc;
}

/* Has T's slot changed since T was read: its seq, or its id (a slot
 * freed and being taken by a new task while this thread interrupted the
 * spawn holds an odd seq still; docs/registry-abi.md §7)?  An unreadable
 * slot has. */
static int seq_moved(tt_rep *p, const tt_rtask *t)
{
	tt_field f = p->r.f_task[TT_TASK_SEQ], fi = p->r.f_task[TT_TASK_ID];
	unsigned char b[8];
	tt_mem raw = mem_of(p)->self;

	if (!f.size)
		return 0;
	if (raw.read(raw.ctx, t->slot_addr + f.offset, b, f.size) < 0 ||
	    tt_r_get(b, (tt_field){ 0, f.size }) != t->seq)
		return 1;
	if (raw.read(raw.ctx, t->slot_addr + fi.offset, b, fi.size) < 0)
		return 1;
	return tt_r_get(b, (tt_field){ 0, fi.size }) != t->id;
}

static size_t torn(tt_rep *p, const tt_rtask *t, const char *why, int *err)
{
	tt_fbuf b;

	tt_fb_init(&b, p->r.err, sizeof(p->r.err));
	tt_fb_str(&b, "task ");
	tt_fb_u64(&b, t->id);
	tt_fb_str(&b, why);
	*err = TT_R_TORN;
	return 0;
}

size_t tt_rep_walk(tt_rep *p, tt_rtask *t, int *err)
{
	size_t n = 0;

	/* Seqlock: the walk is good if the task's seq did not move while
	 * its frames were read; else read it afresh (bounded), and past the
	 * bound the task is torn: no chain of it is printed as fact. */
	for (int tries = 0;; tries++) {
		*err = tt_reader_walk_frames(&p->r, t->root_frame, p->frames,
					     TT_REP_FRAMES, &n);
		if (!seq_moved(p, t))
			return n;
		if (tries == 4)
			return torn(p, t, ": kept changing while read (5 tries)", err);
		uint64_t id = t->id;
		if (tt_rep_task(p, t->slot_addr, t) != TT_R_OK || t->id != id) {
			t->id = id;
			return torn(p, t, ": ended while read", err);
		}
	}
}

const tt_rep_sym *tt_rep_func(tt_rep *p, uint64_t addr)
{
	if (!addr)
		return NULL;
	const tt_rsym *s = tt_rsym_func(&p->r, &p->funcs, addr);
	return s->ok ? s : NULL;
}

const tt_rep_sym *tt_rep_site(tt_rep *p, uint64_t addr)
{
	if (!addr)
		return NULL;
	const tt_rsym *s = tt_rsym_site(&p->r, &p->sites, addr);
	return s->ok ? s : NULL;
}

/* ---- bt ---- */

static const char *name_of(const tt_rep *p, uint64_t id)
{
	const tt_rep_ent *e = id ? tt_rep_find(p, id) : NULL;
	return e ? e->name : NULL;
}

/* What tt_bt_print asks about the task being printed. */
typedef struct btw {
	tt_rep *p;
	tt_rout *o;
	/* Spawn sites, copied: the cache slot of one may be reused by the
	 * next lookup while the printer still holds it. */
	tt_rep_sym spawn[2];
	int nspawn;
} btw;

static void bt_names(void *ctx, size_t i, tt_bt_names *out)
{
	tt_rep *p = ((btw *)ctx)->p;
	const tt_rframe *f = &p->frames[i];
	const tt_rep_sym *fn = tt_rep_func(p, f->func);
	const tt_rep_sym *site = f->site ? tt_rep_site(p, f->site) : NULL;

	out->func = fn ? fn->name : NULL;
	out->file = site ? site->file : NULL;
	out->line = site ? site->line : 0;
	out->returned = site && (site->flags & TT_SITEF_DONE);
}

static const char *bt_task_name(void *ctx, uint64_t id)
{
	return name_of(((btw *)ctx)->p, id);
}

/* The spawn site at ADDR, in a copy of its own; NULL if none. */
static const tt_rep_sym *spawn_site(btw *b, uint64_t addr)
{
	const tt_rep_sym *s = addr ? tt_rep_site(b->p, addr) : NULL;
	tt_rep_sym *copy = &b->spawn[b->nspawn++ & 1];

	if (!s)
		return NULL;
	*copy = *s;
	return copy;
}

static int bt_task(void *ctx, uint64_t id, tt_bt_link *out)
{
	btw *b = ctx;
	const tt_rep_ent *e = tt_rep_find(b->p, id);

	if (!e)
		return 0;
	/* A site is printed only with the parent it names. */
	const tt_rep_sym *s = e->parent_id ? spawn_site(b, e->spawn_site) : NULL;
	out->name = e->name;
	out->parent_id = e->parent_id;
	out->file = s ? s->file : NULL;
	out->line = s ? s->line : 0;
	out->function = s ? s->name : NULL;
	return 1;
}

static int bt_line(void *ctx, const char *s, size_t n)
{
	btw *b = ctx;

	return put(b->o, s, n, b->o->limit);
}

/* What format.c needs about a task: its leaf and where it is. */
static void fmt_view(tt_rep *p, size_t n, const tt_rtask *t, int err,
		     tt_fmt_task *v)
{
	v->task = t;
	v->leaf = NULL;
	v->where_func = v->where_file = NULL;
	v->where_line = 0;
	v->runtime_id = t->runtime_id;
	v->runtimes = p->runtimes.count;
	v->inherited_from = tt_runtimes_inherited(&p->runtimes, t->runtime_id);
	v->tid =
	    tt_runtimes_worker_tid(&p->runtimes, p->workers, p->nworkers, t->runtime_id, t->worker);
	v->error = err ? p->r.err : NULL;
	v->selected = 0;
	v->bad_record = err == TT_R_TORN ? err : 0;
	tt_rpath_ends e;
	tt_frames_path_ends(p->frames, sizeof(*p->frames), n, &e);
	if (e.leaf != SIZE_MAX)
		v->leaf = &p->frames[e.leaf];
	if (e.where != SIZE_MAX) {
		const tt_rep_sym *fn = tt_rep_func(p, p->frames[e.where].func);
		const tt_rep_sym *site = tt_rep_site(p, p->frames[e.where].site);
		/* Unreadable records print as "??", line 0, as the snapshot's. */
		v->where_func = fn ? fn->name : "??";
		v->where_file = site ? site->file : "??";
		v->where_line = site ? site->line : 0;
	}
}

/* T with its N frames in p->frames (ERR: the walk's, message in p->r.err). */
static int bt_print(tt_rep *p, tt_rout *o, const tt_rtask *t, size_t n, int err)
{
	btw b = {.p = p, .o = o};
	tt_fmt_task v;
	tt_bt_src src = {.ctx = &b,
			 .names = bt_names,
			 .task_name = bt_task_name,
			 .task = bt_task,
			 .line = bt_line,
			 .buf = p->line,
			 .bufcap = sizeof(p->line),
			 .path = p->path,
			 .pathcap = TT_REP_FRAMES};

	fmt_view(p, n, t, err, &v);
	const tt_rep_sym *s = t->parent_id ? spawn_site(&b, t->spawn_site) : NULL;
	tt_bt_task bt = {
	    &v,
	    p->frames,
	    sizeof(p->frames[0]),
	    n,
	    err ? p->r.err : NULL,
	    s ? s->file : NULL,
	    s ? s->name : NULL,
	    s ? s->line : 0,
	    p->now,
	};
	return tt_bt_print(&src, &bt);
}

int tt_rep_bt(tt_rep *p, tt_rout *o, tt_rtask *t)
{
	int err = 0;
	size_t n = tt_rep_walk(p, t, &err);

	return bt_print(p, o, t, n, err);
}

/* ---- every task, a batch at a time ---- */

/* Clear ok of the tasks [0, N) of B whose seq moved since their slot was
 * read: one process_vm_readv for all of them (without it, one read of
 * their span of slots), or, should that fail, one read each as
 * tt_rep_walk does. */
static void batch_verify(tt_rep *p, struct tt_rep_batch *b, size_t n)
{
	tt_field f = p->r.f_task[TT_TASK_SEQ];
	struct rep_mem *m = mem_of(p);
	size_t k = 0;

	if (!f.size)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!b->task[i].ok)
			continue;
		b->rem[k].iov_base = (void *)(uintptr_t)(b->task[i].t.slot_addr + f.offset);
		b->rem[k].iov_len = f.size;
		b->ix[k++] = (uint32_t)i;
	}
	if (!k)
		return;
	struct iovec loc = { b->seq, k * f.size };
	int saved = errno;
	ssize_t got = -1;
	if (!m->no_vm) {
		got = process_vm_readv(m->pid, &loc, 1, b->rem, (unsigned long)k, 0);
	} else {
		/* Without process_vm_readv: the span of the slots in one read
		 * through tt_mem_self's fallback, when it is not too long. */
		uint64_t lo = UINT64_MAX, hi = 0;
		for (size_t j = 0; j < k; j++) {
			uint64_t a = (uint64_t)(uintptr_t)b->rem[j].iov_base;
			lo = a < lo ? a : lo;
			hi = a + f.size > hi ? a + f.size : hi;
		}
		if (hi - lo <= sizeof(b->span) &&
		    m->self.read(m->self.ctx, lo, b->span, (size_t)(hi - lo)) == 0) {
			for (size_t j = 0; j < k; j++)
				memcpy(b->seq + j * f.size,
				       b->span + ((uint64_t)(uintptr_t)b->rem[j].iov_base - lo),
				       f.size);
			got = (ssize_t)(k * f.size);
		}
	}
	errno = saved;
	for (size_t j = 0; j < k; j++) {
		tt_rtask *t = &b->task[b->ix[j]].t;
		/* An odd seq that held may be a spawn this very thread
		 * interrupted: the id says (seq_moved). */
		if (got == (ssize_t)(k * f.size) && !(t->seq & 1)) {
			if (tt_r_get(b->seq + j * f.size, (tt_field){ 0, f.size }) != t->seq)
				b->task[b->ix[j]].ok = 0;
		} else if (seq_moved(p, t)) {
			b->task[b->ix[j]].ok = 0;
		}
	}
}

int tt_rep_bt_all(tt_rep *p, tt_rout *o, const char *before)
{
	struct tt_rep_batch *b = p->batch;
	tt_rep_iter it = { 0 };
	tt_rtask t;
	int count = 0, more = 1;

	if (!b)
		b = p->batch = map(sizeof(*b));
	if (!b) {
		while (tt_rep_next(p, &it, &t) == 1) {
			if (before)
				tt_rout_line(o, before);
			tt_rep_bt(p, o, &t);
			count++;
		}
		return count;
	}
	while (more) {
		size_t nb = 0, used = 0;

		/* Walk a batch; a chain cut short by the pool's end is walked
		 * again, alone, by tt_rep_bt. */
		while (nb < BATCH && used < POOL) {
			tt_rtask *bt = &b->task[nb].t;
			size_t cap = POOL - used < TT_REP_FRAMES ? POOL - used : TT_REP_FRAMES;
			size_t n = 0;

			if (tt_rep_next(p, &it, bt) != 1) {
				more = 0;
				break;
			}
			int err = tt_reader_walk_frames(&p->r, bt->root_frame, b->pool + used,
							cap, &n);
			b->task[nb].first = (uint32_t)used;
			b->task[nb].n = (uint32_t)n;
			b->task[nb].ok = err == TT_R_OK;
			used += n;
			nb++;
		}
		batch_verify(p, b, nb);
		for (size_t i = 0; i < nb; i++) {
			if (before)
				tt_rout_line(o, before);
			if (b->task[i].ok) {
				size_t n = b->task[i].n;
				memcpy(p->frames, b->pool + b->task[i].first, n * sizeof(*p->frames));
				bt_print(p, o, &b->task[i].t, n, 0);
			} else {
				tt_rep_bt(p, o, &b->task[i].t);
			}
			count++;
		}
	}
	return count;
}

int tt_rep_ps_row(tt_rep *p, tt_rout *o, tt_rtask *t)
{
	int err = 0;
	size_t n = tt_rep_walk(p, t, &err);
	tt_fmt_task v;
	tt_fbuf fb;

	fmt_view(p, n, t, err, &v);
	tt_fb_init(&fb, p->line, sizeof(p->line));
	tt_fmt_ps_row(&fb, &v, p->now);
	return tt_rout_line(o, fb.p);
}

/* ---- history: the flight recorder's last events of a task ---- */

typedef struct rep_last {
	tt_revent ev[TT_REP_HISTORY];
	size_t n;
} rep_last;

/* Keep the newest TT_REP_HISTORY events, oldest first (rings come one
 * after the other, each oldest first). */
static int rep_keep(void *ctx, const tt_revent *ev)
{
	rep_last *l = ctx;
	size_t i = l->n;
	if (i == TT_REP_HISTORY) {
		if (ev->stamp_ns < l->ev[0].stamp_ns)
			return 0;
		memmove(&l->ev[0], &l->ev[1], (TT_REP_HISTORY - 1) * sizeof l->ev[0]);
		i = TT_REP_HISTORY - 1;
	} else {
		l->n++;
	}
	while (i > 0 && l->ev[i - 1].stamp_ns > ev->stamp_ns) {
		l->ev[i] = l->ev[i - 1];
		i--;
	}
	l->ev[i] = *ev;
	return 0;
}

static const char *rep_name(void *ctx, uint64_t id)
{
	const tt_rep_ent *e = tt_rep_find(ctx, id);
	return e ? e->name : NULL;
}

int tt_rep_history(tt_rep *p, tt_rout *o, uint64_t id)
{
	rep_last l;
	tt_rflight st;
	tt_fbuf b;

	l.n = 0;
	if (tt_flight_read(&p->r, id, rep_keep, &l, &st) < 0 || !l.n)
		return 0;
	tt_fb_init(&b, p->line, sizeof p->line);
	tt_fb_str(&b, "last events of task ");
	tt_fb_u64(&b, id);
	tt_fb_str(&b, " (flight recorder, newest last):");
	tt_rout_line(o, b.p);
	for (size_t i = 0; i < l.n; i++) {
		tt_fb_init(&b, p->line, sizeof p->line);
		tt_fb_str(&b, "  ");
		tt_fmt_duration(&b, p->now > l.ev[i].stamp_ns ? p->now - l.ev[i].stamp_ns : 0);
		tt_fb_str(&b, " ago");
		tt_fb_pad(&b, 16);
		tt_history_event(&b, &p->r, &p->sites, rep_name, p, id, &l.ev[i]);
		tt_rout_line(o, b.p);
	}
	return (int)l.n;
}
