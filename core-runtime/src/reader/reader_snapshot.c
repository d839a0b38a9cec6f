/* Registry reader, snapshot layer: the whole registry decoded into one
 * self-contained allocation for the CLI and tools.
 *
 * Built to scale to millions of tasks read through syscalls (/proc/PID/mem,
 * process_vm_readv): slot arrays are fetched in bulk, frame reads go
 * through a block cache so neighbouring frames cost one syscall, sites,
 * funcs and strings are decoded once per address, and everything lives in
 * arenas.  A live target is handled like a seqlock over the whole batch:
 * after walking the frames of a batch of slots the slots are re-read, and
 * a task whose sequence moved is read again on its own. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "reader/reader_priv.h"

#define BULK_BYTES (16u << 20) /* slot bytes fetched per read */
/* An update reads smaller batches: hashed while they are in the cache. */
#define UPDATE_BULK_BYTES (1u << 20)
/* Entries of a batch checked one by one below this, else the batch read
 * again whole. */
#define VERIFY_ONE_BY_ONE 8
#define ARENA_MIN (1u << 20)
#define ARENA_MAX (64u << 20)
#define BC_SHIFT 16 /* the block cache: 64 KiB blocks ... */
#define BC_N 256    /* ... 256 of them */

/* ---- big allocations ----
 * A million-task snapshot writes close to a gigabyte; with 4 KiB pages
 * the page faults cost more than the decoding.  Large buffers are mapped
 * directly and offered transparent huge pages. */

#define BIG_MIN (2u << 20)

static void *big_alloc(size_t n)
{
	void *p;

	if (n < BIG_MIN)
		return malloc(n);
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, n, MADV_HUGEPAGE);
#endif
	return p;
}

static void big_free(void *p, size_t n)
{
	if (!p)
		return;
	if (n < BIG_MIN)
		free(p);
	else
		munmap(p, n);
}

static void *big_realloc(void *p, size_t old, size_t n)
{
	void *q;

	if (old >= BIG_MIN && n >= BIG_MIN) {
		q = mremap(p, old, n, MREMAP_MAYMOVE);
		return q == MAP_FAILED ? NULL : q;
	}
	if (old < BIG_MIN && n < BIG_MIN)
		return realloc(p, n);
	q = big_alloc(n);
	if (q && p)
		memcpy(q, p, old < n ? old : n);
	if (q)
		big_free(p, old);
	return q;
}

/* ---- arena ---- */

struct arena_blk {
	struct arena_blk *next;
	size_t size;
	max_align_t data[];
};

struct tt_snap_arena {
	struct arena_blk *head;
	char *p;
	size_t left;
	size_t next_size;
	size_t total; /* bytes of every block */
};

static void *arena_alloc(struct tt_snap_arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (n > a->left) {
		size_t size = a->next_size ? a->next_size : ARENA_MIN;
		struct arena_blk *b;

		if (size < n)
			size = n;
		b = big_alloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->size = sizeof(*b) + size;
		a->total += b->size;
		b->next = a->head;
		a->head = b;
		a->p = (char *)b->data;
		a->left = size;
		/* Grow geometrically: few mallocs for a million tasks, little
		 * waste for ten. */
		a->next_size = size * 2 > ARENA_MAX ? ARENA_MAX : size * 2;
	}
	void *p = a->p;
	a->p += n;
	a->left -= n;
	return p;
}

static char *arena_strdup(struct tt_snap_arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = arena_alloc(a, n);

	if (p)
		memcpy(p, s, n);
	return p;
}

/* ---- address-keyed hash map (key 0 is the empty marker) ---- */

struct map {
	uint64_t *keys;
	uint64_t *vals;
	size_t cap, n;
};

static size_t map_slot(const struct map *m, uint64_t k)
{
	size_t i = (size_t)((k * 0x9e3779b97f4a7c15ull) >> 17) & (m->cap - 1);

	while (m->keys[i] && m->keys[i] != k)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int map_get(const struct map *m, uint64_t k, uint64_t *v)
{
	size_t i;

	if (!m->cap || !k)
		return 0;
	i = map_slot(m, k);
	if (!m->keys[i])
		return 0;
	*v = m->vals[i];
	return 1;
}

static int map_grow(struct map *m, size_t want)
{
	struct map g = { 0 };

	g.cap = m->cap ? 2 * m->cap : 64;
	while (g.cap < 2 * want)
		g.cap *= 2;
	g.keys = calloc(g.cap, sizeof(*g.keys));
	g.vals = malloc(g.cap * sizeof(*g.vals));
	if (!g.keys || !g.vals) {
		free(g.keys);
		free(g.vals);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (m->keys[i]) {
			size_t j = map_slot(&g, m->keys[i]);
			g.keys[j] = m->keys[i];
			g.vals[j] = m->vals[i];
			g.n++;
		}
	}
	free(m->keys);
	free(m->vals);
	*m = g;
	return 0;
}

static int map_put(struct map *m, uint64_t k, uint64_t v)
{
	if (2 * (m->n + 1) > m->cap && map_grow(m, m->n + 1))
		return -1;
	size_t i = map_slot(m, k);
	if (!m->keys[i])
		m->n++;
	m->keys[i] = k;
	m->vals[i] = v;
	return 0;
}

/* Empty, its arrays kept for the next round (an update). */
static void map_clear(struct map *m)
{
	if (m->cap)
		memset(m->keys, 0, m->cap * sizeof(*m->keys));
	m->n = 0;
}

static void map_free(struct map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* ---- the snapshot under construction ---- */

#define MEMO 64 /* direct-mapped memo in front of the site/func maps */

struct memo {
	uint64_t key[MEMO];
	const void *val[MEMO];
};

static inline size_t memo_ix(uint64_t a)
{
	return (size_t)((a >> 3) ^ (a >> 9)) & (MEMO - 1);
}

/* What an update needs of last round's entry, kept apart from it: an
 * entry is 576 bytes, and at 100k tasks touching each one to compare its
 * id and seq was a cache miss per task, a quarter of a round.  One per
 * entry of tasks, moved with it. */
struct stamp {
	uint64_t index, addr, id;
	uint64_t hash;	     /* of the slot's bytes as read; 0: read it again */
	uint64_t runtime_id; /* tt_runtimes_see, for a kept entry */
	uint64_t memo;	     /* tt_snapshot_memo */
	uint32_t seq;
	uint32_t kept; /* this round: the slot's bytes as last round's */
};

struct tt_snap_cache {
	struct map sites, funcs, strings, ids;
	struct memo site_memo, func_memo;
	size_t tasks_bytes; /* allocated size of the snapshot's tasks */
	tt_mem_cache bc;    /* frames and static records, in front of the raw source */
	void *bc_storage;
	/* tt_snapshot_update: the limits of the first read; per task of
	 * tasks, its stamp; the other task array (last round's) and its
	 * stamps; the arena's size after a full read. */
	tt_reader_limits lim;
	int has_lim;
	struct stamp *st;
	size_t st_cap;
	tt_stask *spare;
	size_t spare_bytes;
	struct stamp *spare_st;
	size_t spare_st_cap;
	size_t arena_full;
	/* The id index holds for the ids POS_ID in this order (last
	 * round's), checked with RCHECK: a round whose tasks are those in
	 * the same places, cross-checked with figures no stricter, keeps
	 * it and checks only the entries read again. */
	uint64_t *pos_id;
	size_t npos, pos_cap;
	tt_rcheck rcheck;
	uint64_t memo_key;
	unsigned char *bulk, *bulk2; /* an update's batch buffers, kept */
	uint8_t *same;
	size_t bulk_size;
};

struct build {
	tt_snapshot *s;
	struct tt_snap_arena *a;
	struct tt_snap_cache *c;
	tt_reader *r;  /* raw memory: slots, re-reads */
	tt_reader *rc; /* through the block cache: frames, statics */
	size_t cap;    /* of s->tasks */
	tt_rframe *scratch;
	size_t scratch_cap;
	char *strbuf;
	size_t strlen_max;
	unsigned char *bulk, *bulk2;
	size_t bulk_size;
	uint32_t stride;
	/* An update (tt_snapshot_update): last round's entries, in slot
	 * order, and the one the slots being read have reached. */
	int update;
	uint8_t *same; /* per entry of the batch: its slot's bytes as last round */
	const tt_stask *old;
	const struct stamp *old_st;
	size_t nold, oi;
	/* The update writes its entries over last round's, in the same
	 * array, while they are behind the ones still to be read (ALIASED);
	 * UNREAD: the first of those, for slot index INDEX being read. */
	int aliased;
	uint64_t index;
	size_t walked;	   /* chains read */
	size_t batch_from; /* the batch's first entry */
};

static const char qq[] = "??";

static const char *str_get(struct build *b, uint64_t addr)
{
	uint64_t v;
	const char *s = qq;

	if (!addr)
		return qq;
	if (map_get(&b->c->strings, addr, &v))
		return (const char *)(uintptr_t)v;
	if (tt_reader_string(b->rc, addr, b->strbuf, b->strlen_max) == TT_R_OK)
		s = arena_strdup(b->a, b->strbuf);
	if (!s || map_put(&b->c->strings, addr, (uintptr_t)s))
		return qq;
	return s;
}

static const tt_ssite *site_get(struct build *b, uint64_t addr)
{
	uint64_t v;
	tt_rsite rs;
	tt_ssite *ss;

	struct memo *mm = &b->c->site_memo;
	size_t mi = memo_ix(addr);

	if (!addr)
		return NULL;
	if (mm->key[mi] == addr)
		return mm->val[mi];
	if (map_get(&b->c->sites, addr, &v)) {
		mm->key[mi] = addr;
		mm->val[mi] = (const void *)(uintptr_t)v;
		return mm->val[mi];
	}
	ss = arena_alloc(b->a, sizeof(*ss));
	if (!ss)
		return NULL;
	/* An unreadable site still yields an entry: "??" beats a hole. */
	tt_reader_site(b->rc, addr, &rs);
	ss->addr = addr;
	ss->function = str_get(b, rs.function);
	ss->file = str_get(b, rs.file);
	ss->line = rs.line;
	ss->flags = rs.flags;
	ss->resume = rs.resume;
	if (map_put(&b->c->sites, addr, (uintptr_t)ss))
		return NULL;
	return ss;
}

static const tt_sfunc unknown_func = { 0, qq, qq, qq, 0, 0, 0, 0 };

static const tt_sfunc *func_get(struct build *b, uint64_t addr)
{
	uint64_t v;
	tt_rfunc rf;
	tt_sfunc *sf;

	struct memo *mm = &b->c->func_memo;
	size_t mi = memo_ix(addr);

	if (!addr)
		return &unknown_func;
	if (mm->key[mi] == addr)
		return mm->val[mi];
	if (map_get(&b->c->funcs, addr, &v)) {
		mm->key[mi] = addr;
		mm->val[mi] = (const void *)(uintptr_t)v;
		return mm->val[mi];
	}
	sf = arena_alloc(b->a, sizeof(*sf));
	if (!sf)
		return &unknown_func;
	tt_reader_func(b->rc, addr, &rf);
	sf->addr = addr;
	sf->name = str_get(b, rf.name);
	sf->file = str_get(b, rf.file);
	sf->type_name = str_get(b, rf.type_name);
	sf->line = rf.line;
	sf->kind = rf.kind;
	sf->frame_size = rf.frame_size;
	sf->poll = rf.poll;
	if (map_put(&b->c->funcs, addr, (uintptr_t)sf))
		return &unknown_func;
	return sf;
}

/* Last round's entries still to be read: past the cursor (moved up to
 * the slot being read) and past that slot's own entry. */
static size_t unread(struct build *b)
{
	while (b->oi < b->nold && b->old[b->oi].raw.slot_index < b->index)
		b->oi++;
	return b->oi + (b->oi < b->nold && b->old[b->oi].raw.slot_index == b->index);
}

/* The next entry would overwrite last round's still to be read (from
 * FROM on): move those to the spare array first.  0, or -1 without
 * memory. */
static int spill(struct build *b, size_t from)
{
	struct tt_snap_cache *c = b->c;
	size_t n = b->nold - from;

	if (n * sizeof(tt_stask) > c->spare_bytes) {
		big_free(c->spare, c->spare_bytes);
		c->spare_bytes = 0;
		if (!(c->spare = big_alloc(n * sizeof(tt_stask))))
			return -1;
		c->spare_bytes = n * sizeof(tt_stask);
	}
	if (n > c->spare_st_cap) {
		free(c->spare_st);
		c->spare_st_cap = 0;
		if (!(c->spare_st = malloc(n * sizeof(struct stamp))))
			return -1;
		c->spare_st_cap = n;
	}
	memcpy(c->spare, b->old + from, n * sizeof(tt_stask));
	memcpy(c->spare_st, b->old_st + from, n * sizeof(struct stamp));
	b->old = c->spare;
	b->old_st = c->spare_st;
	b->nold = n;
	b->oi = 0;
	b->aliased = 0;
	return 0;
}

static tt_stask *task_push(struct build *b)
{
	tt_snapshot *s = b->s;

	if (b->aliased) {
		size_t u = unread(b);
		if (u < b->nold && s->ntasks >= u && spill(b, u))
			return NULL;
	}

	if (b->aliased && (s->ntasks == b->cap || s->ntasks >= b->c->st_cap)) {
		/* The arrays are about to move: last round's entries still to
		 * be read were moved aside above, none is left in them. */
		b->nold = b->oi = 0;
		b->aliased = 0;
	}
	if (s->ntasks == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 1024;
		tt_stask *t = big_realloc(s->tasks, b->cap * sizeof(*t),
					  cap * sizeof(*t));
		if (!t)
			return NULL;
		s->tasks = t;
		b->cap = cap;
		s->cache_->tasks_bytes = cap * sizeof(*t);
	}
	if (s->ntasks >= b->c->st_cap) {
		struct stamp *h = realloc(b->c->st, b->cap * sizeof(*h));
		if (!h)
			return NULL;
		b->c->st = h;
		b->c->st_cap = b->cap;
	}
	/* Filled in from the entry by build_ids. */
	memset(&b->c->st[s->ntasks], 0, sizeof(b->c->st[0]));
	tt_stask *e = &s->tasks[s->ntasks++];
	e->spawn_site = NULL;
	e->frames = NULL;
	e->nframes = 0;
	e->error = 0;
	e->errmsg[0] = 0;
	return e;
}

static void set_error(tt_stask *e, int rc, const char *msg)
{
	e->error = rc;
	if (e->raw.id)
		snprintf(e->errmsg, sizeof(e->errmsg), "task %llu: %.130s",
			 (unsigned long long)e->raw.id, msg);
	else
		snprintf(e->errmsg, sizeof(e->errmsg), "%s", msg);
}

/* Decode T's chain into entry E through reader RD. */
static int fill_task(struct build *b, tt_reader *rd, const tt_rtask *t,
		     tt_stask *e)
{
	size_t n = 0;
	int rc;

	b->walked++;
	e->raw = *t;
	e->spawn_site = site_get(b, t->spawn_site);
	e->error = 0;
	e->errmsg[0] = 0;
	/* The scratch buffer starts small and grows to max_frames only for
	 * the tasks that need it. */
	for (;;) {
		rc = tt_reader_walk_frames(rd, t->root_frame, b->scratch,
					   b->scratch_cap, &n);
		if (rc != TT_R_TOO_DEEP || n < b->scratch_cap ||
		    b->scratch_cap >= rd->lim.max_frames)
			break;
		size_t cap = 2 * b->scratch_cap;
		if (cap > rd->lim.max_frames)
			cap = rd->lim.max_frames;
		tt_rframe *p = realloc(b->scratch, cap * sizeof(*p));
		if (!p)
			return TT_R_NOMEM;
		b->scratch = p;
		b->scratch_cap = cap;
	}
	e->nframes = 0;
	e->frames = NULL;
	if (n) {
		e->frames = arena_alloc(b->a, n * sizeof(*e->frames));
		if (!e->frames)
			return TT_R_NOMEM;
		for (size_t i = 0; i < n; i++) {
			tt_sframe *f = &e->frames[i];
			f->raw = b->scratch[i];
			f->func = func_get(b, f->raw.func);
			f->site = site_get(b, f->raw.site);
		}
		e->nframes = n;
	}
	if (rc)
		set_error(e, rc, rd->err);
	return TT_R_OK;
}

/* A slot's id and seq together: seq alone would let a slot freed and
 * taken again pass as unchanged were a runtime to restart seq per task
 * (ours goes on from the slot's last task: docs/registry-abi.md §7). */
static int read_stamp(struct build *b, uint64_t slot, uint64_t *id, uint64_t *seq)
{
	unsigned char sb[8];
	tt_field fs = b->r->f_task[TT_TASK_SEQ], fi = b->r->f_task[TT_TASK_ID];

	if (b->r->mem.read(b->r->mem.ctx, slot + fs.offset, sb, fs.size) < 0)
		return -1;
	*seq = tt_r_get(sb, (tt_field){ 0, fs.size });
	if (b->r->mem.read(b->r->mem.ctx, slot + fi.offset, sb, fi.size) < 0)
		return -1;
	*id = tt_r_get(sb, (tt_field){ 0, fi.size });
	return 0;
}

/* E changed under us: read it alone, seqlock style, around the walk too.
 * Returns 1 when the slot turned out free (drop E). */
static int redo_task(struct build *b, tt_stask *e)
{
	uint64_t slot = e->raw.slot_addr, index = e->raw.slot_index, seq, id;
	tt_rtask t;

	for (uint32_t try = 0; try <= b->r->lim.torn_retries; try++) {
		int rc = tt_reader_read_task(b->r, slot, &t);
		if (rc) {
			set_error(e, rc, b->r->err);
			return 0;
		}
		if (!t.id)
			return 1;
		t.slot_index = index;
		if (fill_task(b, b->r, &t, e))
			return 0;
		if (read_stamp(b, slot, &id, &seq) || (seq == t.seq && id == t.id))
			return 0;
	}
	/* Its last read is no more consistent than the first: keep no chain. */
	e->frames = NULL;
	e->nframes = 0;
	e->error = TT_R_TORN;
	snprintf(e->errmsg, sizeof(e->errmsg),
		 "task %llu: kept changing while read (%u tries)",
		 (unsigned long long)e->raw.id, b->r->lim.torn_retries + 1);
	return 0;
}

/* Re-check the entries [from, ntasks) against a second read of the slots;
 * redo the ones that moved and drop the ones freed meanwhile. */
static void verify_batch(struct build *b, size_t from, uint64_t base,
			 size_t nslots)
{
	tt_snapshot *s = b->s;
	tt_field fs = b->r->f_task[TT_TASK_SEQ], fi = b->r->f_task[TT_TASK_ID];
	size_t out = from, need = 0;
	int bulk = 0;

	for (size_t i = from; i < s->ntasks; i++)
		need += !(b->update && b->same[i - from]);
	if (!need)
		return;
	if (need > VERIFY_ONE_BY_ONE || !b->update)
		bulk = b->r->mem.read(b->r->mem.ctx, base, b->bulk2, nslots * b->stride) == 0;
	for (size_t i = from; i < s->ntasks; i++) {
		tt_stask *e = &s->tasks[i];
		uint64_t seq, id;
		int drop = 0;

		/* A kept entry is not even touched (a cache miss each). */
		if (b->update && b->same[i - from] && out == i) {
			out++;
			continue;
		}
		if (!(b->update && b->same[i - from]) && e->raw.id) {
			if (bulk) {
				seq = tt_r_get(b->bulk2 + (e->raw.slot_addr - base), fs);
				id = tt_r_get(b->bulk2 + (e->raw.slot_addr - base), fi);
			} else if (read_stamp(b, e->raw.slot_addr, &id, &seq)) {
				seq = e->raw.seq;
				id = e->raw.id;
			}
			if (seq != e->raw.seq || id != e->raw.id) {
				drop = redo_task(b, e);
				b->c->st[i].hash = 0; /* not the bytes hashed */
			}
		}
		if (drop)
			continue;
		if (out != i) {
			s->tasks[out] = *e;
			b->c->st[out] = b->c->st[i];
			b->same[out - from] = b->same[i - from];
		}
		out++;
	}
	s->ntasks = out;
}

static int error_entry(struct build *b, uint64_t addr, uint64_t index, int rc,
		       const char *msg)
{
	b->index = index;
	tt_stask *e = task_push(b);

	if (!e)
		return TT_R_NOMEM;
	memset(&e->raw, 0, sizeof(e->raw));
	e->raw.slot_addr = addr;
	e->raw.slot_index = index;
	set_error(e, rc, msg);
	return TT_R_OK;
}

/* ---- keeping last round's chains (tt_snapshot_update) ---- */

/* A slot's bytes hashed: equal hashes (and the same id and seq) mean
 * nothing in the slot changed, not even what is written outside a poll.
 * Four lanes so the multiplies overlap; never 0 (0 is "no hash"). */
static uint64_t slot_hash(const unsigned char *p, size_t n)
{
	static const uint64_t k[4] = {0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full,
				      0x165667b19e3779f9ull, 0xd6e8feb86659fd93ull};
	uint64_t h0 = n, h1 = 1, h2 = 2, h3 = 3, w0, w1, w2, w3;
	size_t i = 0;

	for (; i + 32 <= n; i += 32) {
		memcpy(&w0, p + i, 8);
		memcpy(&w1, p + i + 8, 8);
		memcpy(&w2, p + i + 16, 8);
		memcpy(&w3, p + i + 24, 8);
		h0 = (h0 ^ w0) * k[0];
		h1 = (h1 ^ w1) * k[1];
		h2 = (h2 ^ w2) * k[2];
		h3 = (h3 ^ w3) * k[3];
	}
	for (; i + 8 <= n; i += 8) {
		memcpy(&w0, p + i, 8);
		h1 = (h1 ^ w0) * k[1];
	}
	for (; i < n; i++)
		h2 = (h2 ^ p[i]) * k[2];
	h0 ^= (h1 >> 7) ^ (h2 << 13) ^ (h3 >> 29) ^ h1 ^ h2 ^ h3;
	h0 = (h0 ^ (h0 >> 31)) * k[1];
	return h0 | 1;
}

/* The edge column of the wait kinds: an owner or holders another task
 * rewrites (a mutex handed on, a permit taken) without the waiter's seq
 * moving. */
static const uint8_t wait_edge[TT_WAIT_KIND_MAX_] = {
#define TT_XX_(name, value, word, shape, link, edge, ...) [value] = edge,
    TT_WAIT_KIND_MAP(TT_XX_)
#undef TT_XX_
};

/* Does O's chain stay true while its seq holds still?  Its frames change
 * only in its polls (§7), but a wait's owner and holders are written by
 * the tasks that take and release the object: such a wait, or a custom
 * one (its owner is the runtime's business), is read again. */
static int chain_keeps(const tt_stask *o)
{
	for (size_t i = 0; i < o->nframes; i++) {
		const tt_rframe *f = &o->frames[i].raw;
		if (f->kind != TT_FUNC_KIND_LEAF || !f->wait_kind)
			continue;
		if (f->wait_kind >= TT_WAIT_KIND_MAX_ || f->wait_kind == TT_WAIT_CUSTOM ||
		    wait_edge[f->wait_kind] || f->wait_holders_state != TT_RHOLD_NONE)
			return 0;
	}
	return 1;
}

/* Last round's entry for slot INDEX at ADDR, if it holds task ID at the
 * same SEQ, even, read cleanly and keepable (a stamp with a hash: an
 * entry with an error has none).  Both rounds list the slots in the
 * order they are read, so one cursor finds it; only the stamps are read. */
static const tt_stask *old_entry(struct build *b, uint64_t index, uint64_t addr, uint64_t id,
				 uint64_t seq)
{
	while (b->oi < b->nold && b->old_st[b->oi].index < index)
		b->oi++;
	if (b->oi == b->nold)
		return NULL;
	const struct stamp *o = &b->old_st[b->oi];
	if (!o->hash || o->index != index || o->addr != addr || o->id != id || o->seq != seq ||
	    (seq & 1))
		return NULL;
	return &b->old[b->oi];
}

/* The slot at ADDR, its bytes RAW, as last round's entry with its chain
 * when its id and seq held still: 1 done, 0 read it, -1 no memory.  The
 * slot's other fields (state, wakes) are written outside a poll, so they
 * are decoded again unless the bytes hash the same. */
static int reuse(struct build *b, const unsigned char *raw, uint64_t addr, uint64_t index)
{
	uint64_t id = tt_r_get(raw, b->r->f_task[TT_TASK_ID]);
	uint64_t seq = tt_r_get(raw, b->r->f_task[TT_TASK_SEQ]);
	const tt_stask *o = id ? old_entry(b, index, addr, id, seq) : NULL;
	tt_stask *e, keep;
	struct stamp *st, kst;

	if (!o)
		return 0;
	uint64_t h = slot_hash(raw, b->stride);
	if (b->aliased && o == &b->s->tasks[b->s->ntasks]) {
		/* Already in its place (the usual case): not even touched, at
		 * 100k tasks writing them back was a good part of a round. */
		e = &b->s->tasks[b->s->ntasks++];
		st = &b->c->st[e - b->s->tasks];
	} else {
		/* Copied first: the entry may be written over its own old
		 * place. */
		keep = *o;
		kst = b->old_st[o - b->old];
		b->index = index;
		if (!(e = task_push(b)))
			return -1;
		*e = keep;
		st = &b->c->st[e - b->s->tasks];
		*st = kst;
	}
	st->kept = st->hash == h;
	if (!st->kept) {
		tt_reader_decode_task(b->r, raw, addr, &e->raw);
		e->raw.slot_index = index;
		st->memo = 0; /* of other bytes */
	} else {
		/* Bytes as read and checked last round: one task's at one
		 * moment, so no second look at this slot is needed. */
		b->same[e - b->s->tasks - b->batch_from] = 1;
	}
	st->hash = h;
	return 1;
}

/* Returns 0, TT_R_NOMEM, or 1 when the rest of the chunk is junk. */
static int read_batch(struct build *b, uint64_t base, uint64_t first_index,
		      size_t nslots)
{
	tt_rtask t;
	size_t from = b->s->ntasks;
	unsigned bad = 0;
	char msg[sizeof(b->r->err)];
	int bulk;

	bulk = b->r->mem.read(b->r->mem.ctx, base, b->bulk,
			      nslots * b->stride) == 0;
	b->batch_from = from;
	if (b->update)
		memset(b->same, 0, nslots + 1);
	/* Frames read from now on are no older than the slots. */
	tt_mem_cache_reset(&b->c->bc);
	for (size_t j = 0; j < nslots; j++) {
		uint64_t addr = base + j * b->stride;
		tt_stask *e;
		int rc;

		if (bulk && b->update) {
			rc = reuse(b, b->bulk + j * b->stride, addr, first_index + j);
			if (rc < 0)
				return TT_R_NOMEM;
			if (rc)
				continue;
		}
		if (bulk) {
			/* A free slot needs no decoding. */
			if (!tt_r_get(b->bulk + j * b->stride, b->r->f_task[TT_TASK_ID]))
				continue;
			tt_reader_decode_task(b->r, b->bulk + j * b->stride,
					      addr, &t);
		} else if ((rc = tt_reader_read_task(b->r, addr, &t))) {
			/* A run of unreadable slots is one error, and a long
			 * one means the slot pointer is junk: give up on the
			 * chunk instead of failing millions of reads. */
			if (rc == TT_R_UNREADABLE && bad++) {
				if (bad < TT_R_BAD_RUN)
					continue;
				snprintf(msg, sizeof(msg),
					 "slot %#llx: %u unreadable slots in a "
					 "row; rest of chunk skipped",
					 (unsigned long long)addr, TT_R_BAD_RUN);
				if (error_entry(b, addr, first_index + j, rc, msg))
					return TT_R_NOMEM;
				verify_batch(b, from, base, nslots);
				return 1;
			}
			if (error_entry(b, addr, first_index + j, rc, b->r->err))
				return TT_R_NOMEM;
			continue;
		}
		bad = 0;
		if (!t.id)
			continue;
		t.slot_index = first_index + j;
		b->index = t.slot_index;
		e = task_push(b);
		if (!e || fill_task(b, b->rc, &t, e))
			return TT_R_NOMEM;
		/* An update keeps the chain while the slot's id and seq hold
		 * still, if it is one that stays true: 0 marks the rest. */
		if (bulk && !e->error && chain_keeps(e))
			b->c->st[e - b->s->tasks].hash =
			    slot_hash(b->bulk + j * b->stride, b->stride);
	}
	verify_batch(b, from, base, nslots);
	return TT_R_OK;
}

/* Bulk buffers sized to the largest batch seen: a registry of ten tasks
 * must not cost 32 MiB. */
static int grow_bulk(struct build *b, size_t nslots)
{
	size_t need = nslots * b->stride;
	unsigned char *p, *q;

	if (need <= b->bulk_size)
		return 0;
	/* Nothing in them is kept from one batch to the next. */
	free(b->bulk);
	free(b->bulk2);
	free(b->same);
	b->bulk_size = 0;
	p = b->bulk = malloc(need);
	q = b->bulk2 = malloc(need);
	b->same = malloc(nslots + 1);
	if (!p || !q || !b->same)
		return -1;
	b->bulk_size = need;
	return 0;
}

/* Size the task array up front to spare a million-task snapshot its
 * reallocations.  tasks_live is untrusted: never reserve more than the
 * chunks hold. */
static void reserve_tasks(struct build *b, uint32_t nchunks)
{
	uint64_t total = 0, slots = 0, live = b->s->tasks_live;
	tt_reader_chunk c;

	for (uint32_t i = 0; i < nchunks; i++)
		if (tt_reader_chunk_get(b->r, i, total, &c) == TT_R_OK) {
			total += c.count;
			slots += c.used;
		}
	if (live > slots)
		live = slots;
	live += live / 16 + 16;
	if (b->cap >= live)
		return; /* an update's array is big enough */
	if (b->aliased && spill(b, b->oi))
		return; /* task_push grows it */
	big_free(b->s->tasks, b->s->cache_->tasks_bytes);
	b->cap = 0;
	b->s->cache_->tasks_bytes = 0;
	b->s->tasks = big_alloc((size_t)live * sizeof(*b->s->tasks));
	if (b->s->tasks) {
		b->cap = (size_t)live;
		b->s->cache_->tasks_bytes = b->cap * sizeof(*b->s->tasks);
	}
}

static int read_tasks(struct build *b)
{
	uint32_t nchunks;
	uint64_t total = 0;
	size_t batch = (b->update ? UPDATE_BULK_BYTES : BULK_BYTES) / b->stride;
	int rc;

	rc = tt_reader_chunk_count(b->r, &nchunks);
	if (rc)
		return rc;
	reserve_tasks(b, nchunks);
	for (uint32_t i = 0; i < nchunks; i++) {
		tt_reader_chunk c;

		rc = tt_reader_chunk_get(b->r, i, total, &c);
		if (rc) {
			/* One bad chunk costs its slots, not the snapshot. */
			if (error_entry(b, c.addr, 0, rc, b->r->err))
				return TT_R_NOMEM;
			continue;
		}
		total += c.count;
		if (grow_bulk(b, c.used < batch ? (size_t)c.used : batch))
			return TT_R_NOMEM;
		for (uint64_t off = 0; off < c.used; off += batch) {
			size_t n = c.used - off < batch ? (size_t)(c.used - off) :
							 batch;
			rc = read_batch(b, c.slots + off * b->stride,
					c.first + off, n);
			if (rc > 0)
				break;
			if (rc)
				return rc;
		}
	}
	return TT_R_OK;
}

static void read_workers(struct build *b)
{
	uint64_t n = tt_reader_root_u64(b->r, TT_ROOT_WORKER_COUNT);
	tt_rworker w;

	if (n > b->r->lim.max_workers || !b->r->record_size[TT_REC_WORKER])
		return;
	b->s->workers = calloc(n ? n : 1, sizeof(*b->s->workers));
	if (!b->s->workers)
		return;
	for (uint32_t i = 0; i < n; i++)
		if (tt_reader_worker(b->r, i, &w) == TT_R_OK)
			b->s->workers[b->s->nworkers++] = w;
}

/* ---- cross-checks (tt_rcheck) ---- */

void tt_rcheck_init(tt_reader *r, tt_rcheck *c)
{
	/* Tasks spawned while a live target was read have newer ids, hence
	 * the root read again. */
	tt_reader_refresh(r);
	c->next_task_id = r->f_root[TT_ROOT_NEXT_TASK_ID].size ?
				  tt_reader_root_u64(r, TT_ROOT_NEXT_TASK_ID) :
				  0;
	c->worker_count = r->f_root[TT_ROOT_WORKER_COUNT].size ?
				  tt_reader_root_u64(r, TT_ROOT_WORKER_COUNT) :
				  UINT64_MAX;
	c->tasks_live = r->f_root[TT_ROOT_TASKS_LIVE].size ?
				tt_reader_root_u64(r, TT_ROOT_TASKS_LIVE) :
				UINT64_MAX;
}

int tt_rcheck_task(const tt_rcheck *c, const tt_rtask *t, char *msg, size_t len)
{
#define TT_XX_(...) +1
	enum { NSTATES = 0 TT_TASK_STATE_MAP(TT_XX_) };
#undef TT_XX_
	if (c->next_task_id && t->id >= c->next_task_id)
		snprintf(msg, len, "id %llu was never handed out (next_task_id %llu)",
			 (unsigned long long)t->id, (unsigned long long)c->next_task_id);
	else if (c->next_task_id && t->parent_id >= c->next_task_id)
		snprintf(msg, len, "parent id %llu was never handed out (next_task_id %llu)",
			 (unsigned long long)t->parent_id, (unsigned long long)c->next_task_id);
	else if (t->state >= NSTATES)
		snprintf(msg, len, "state %u is no task state", t->state);
	else if (t->worker >= 0 && (uint64_t)t->worker >= c->worker_count)
		snprintf(msg, len, "worker %llu of %llu workers", (unsigned long long)t->worker,
			 (unsigned long long)c->worker_count);
	else
		return 0;
	return TT_R_INCONSISTENT;
}

int tt_rcheck_count(const tt_rcheck *c, uint64_t ntasks, char *msg, size_t len)
{
	/* Slack for a live target: slots taken while the chunks were read. */
	if (c->tasks_live == UINT64_MAX || ntasks <= 2 * c->tasks_live + 64)
		return 0;
	snprintf(msg, len,
		 "registry inconsistent: %llu tasks in the slots, tasks_live says %llu "
		 "(a slot array described wrongly?)",
		 (unsigned long long)ntasks, (unsigned long long)c->tasks_live);
	return TT_R_INCONSISTENT;
}

/* A task that fails a cross-check: marked, its chain dropped, and
 * neither kept nor remembered by the next update. */
static void inconsistent(struct build *b, size_t i, const char *msg)
{
	tt_stask *e = &b->s->tasks[i];

	set_error(e, TT_R_INCONSISTENT, msg);
	e->frames = NULL;
	e->nframes = 0;
	b->c->st[i].hash = 0;
	b->c->st[i].memo = 0;
}

/* Entry I's cross-checks, and its id against the index; *VALID counts
 * the consistent tasks.  With FIND only, the index is last round's and
 * already lists I. */
static int check_entry(struct build *b, const tt_rcheck *c, size_t i, int find, size_t *valid)
{
	tt_stask *e = &b->s->tasks[i];
	uint64_t id = e->raw.id, v;
	char msg[160];

	if (!id)
		return TT_R_OK;
	/* Over a chain's error: a record that is no task explains it. */
	if (e->error != TT_R_TORN && tt_rcheck_task(c, &e->raw, msg, sizeof(msg)))
		inconsistent(b, i, msg);
	if (map_get(&b->c->ids, id, &v) && (!find || v != i)) {
		if (e->error != TT_R_TORN && e->error != TT_R_INCONSISTENT) {
			snprintf(msg, sizeof(msg), "id %llu is also the task in slot %#llx",
				 (unsigned long long)id,
				 (unsigned long long)b->s->tasks[v].raw.slot_addr);
			inconsistent(b, i, msg);
		}
	} else {
		if (!find && map_put(&b->c->ids, id, i))
			return TT_R_NOMEM;
		*valid += e->error != TT_R_INCONSISTENT;
	}
	if (e->error == TT_R_INCONSISTENT) {
		e->frames = NULL;
		e->nframes = 0;
	}
	return TT_R_OK;
}

/* Figures that pass every task last round's passed (a kept entry's
 * cross-checks need not run again): more ids handed out, as many
 * workers. */
static int rcheck_no_stricter(const tt_rcheck *now, const tt_rcheck *was)
{
	return now->worker_count == was->worker_count &&
	       (now->next_task_id == 0) == (was->next_task_id == 0) &&
	       now->next_task_id >= was->next_task_id;
}

/* The runtimes seen, the workers derived, the id index, and the
 * registry's cross-checks: each task that fails one is marked (never
 * shown as a plain task), an id seen twice too, and a count that cannot
 * be is one more error entry.  An update whose tasks are last round's in
 * the same places keeps the index and looks only at the entries it read
 * again. */
static int build_ids(struct build *b)
{
	tt_snapshot *s = b->s;
	struct tt_snap_cache *cc = b->c;
	size_t ntasks = s->ntasks, valid = 0;
	int same_ids = b->update && ntasks == cc->npos;
	char msg[160];
	tt_rcheck c;

	tt_rcheck_init(b->r, &c);
	tt_runtimes_init(&s->runtimes, b->r);
	if (ntasks > cc->pos_cap) {
		uint64_t *p = realloc(cc->pos_id, ntasks * sizeof(*p));
		if (!p)
			return TT_R_NOMEM;
		cc->pos_id = p;
		cc->pos_cap = ntasks;
	}
	/* A pass over the stamps; only the entries read again are touched
	 * (at 100k tasks each pass over them is a few ms of cache misses). */
	for (size_t i = 0; i < ntasks; i++) {
		struct stamp *st = &cc->st[i];
		if (!st->kept || !b->update) {
			tt_rtask *t = &s->tasks[i].raw;
			st->index = t->slot_index;
			st->addr = t->slot_addr;
			st->id = t->id;
			st->seq = t->seq;
			st->runtime_id = t->runtime_id;
			st->kept = 0;
			if (t->id)
				t->worker = tt_rtask_worker(b->r, t, s->workers, s->nworkers);
		}
		tt_runtimes_see(&s->runtimes, st->runtime_id);
		if (same_ids && cc->pos_id[i] != st->id)
			same_ids = 0;
	}
	if (same_ids && rcheck_no_stricter(&c, &cc->rcheck)) {
		for (size_t i = 0; i < ntasks; i++) {
			if (cc->st[i].kept) {
				valid++; /* checked when read: its bytes are those */
				continue;
			}
			if (check_entry(b, &c, i, 1, &valid))
				return TT_R_NOMEM;
			s->nerrors += s->tasks[i].error != 0;
		}
		/* Every entry has now passed figures no stricter than these. */
		cc->rcheck = c;
	} else {
		map_clear(&cc->ids);
		if (ntasks && cc->ids.cap < 2 * (ntasks + 1) && map_grow(&cc->ids, ntasks))
			return TT_R_NOMEM;
		for (size_t i = 0; i < ntasks; i++) {
			if (check_entry(b, &c, i, 0, &valid))
				return TT_R_NOMEM;
			s->nerrors += s->tasks[i].error != 0;
			cc->pos_id[i] = cc->st[i].id;
		}
		cc->npos = ntasks;
		cc->rcheck = c;
	}
	if (tt_rcheck_count(&c, valid, msg, sizeof(msg))) {
		if (error_entry(b, 0, 0, TT_R_INCONSISTENT, msg))
			return TT_R_NOMEM;
		s->nerrors++;
		/* An entry the index does not list: the next round builds it
		 * again. */
		cc->npos = 0;
	}
	return TT_R_OK;
}

static int snapshot_body(struct build *b, tt_mem mem, uint64_t root_addr,
			 const tt_reader_limits *limits)
{
	tt_snapshot *s = b->s;
	tt_reader *r = b->r;
	int rc;

	rc = tt_reader_open(r, mem, root_addr, limits);
	if (rc)
		return rc;
	*b->rc = *r;
	size_t bc_size = tt_mem_cache_size(BC_SHIFT, BC_N);
	/* An update keeps the storage (only the blocks it touches cost). */
	if ((!b->c->bc_storage && !(b->c->bc_storage = malloc(bc_size))) ||
	    tt_mem_cache_init(&b->c->bc, mem, BC_SHIFT, BC_N, b->c->bc_storage, bc_size,
			      &b->rc->mem))
		return tt_r_errf(r, TT_R_NOMEM, "out of memory");
	b->stride = r->record_size[TT_REC_TASK];
	b->scratch_cap = r->lim.max_frames < 64 ? r->lim.max_frames : 64;
	b->scratch = malloc(b->scratch_cap * sizeof(*b->scratch));
	b->strlen_max = (size_t)r->lim.max_string + 1;
	b->strbuf = malloc(b->strlen_max);
	if (!b->scratch || !b->strbuf)
		return tt_r_errf(r, TT_R_NOMEM, "out of memory");

	s->root_addr = root_addr;
	s->abi_version = r->abi_version;
	s->pointer_size = r->pointer_size;
	s->now_ns = tt_reader_root_u64(r, TT_ROOT_NOW_NS);
	s->start_mono_ns = tt_reader_root_u64(r, TT_ROOT_START_MONO_NS);
	s->start_real_ns = tt_reader_root_u64(r, TT_ROOT_START_REAL_NS);
	s->tasks_live = tt_reader_root_u64(r, TT_ROOT_TASKS_LIVE);
	s->next_task_id = tt_reader_root_u64(r, TT_ROOT_NEXT_TASK_ID);
	s->pid = tt_reader_root_u64(r, TT_ROOT_PID);
	s->flags = tt_reader_root_u64(r, TT_ROOT_FLAGS);
	s->runtime_name = str_get(b, tt_reader_root_u64(r, TT_ROOT_RUNTIME_NAME));

	rc = read_tasks(b);
	if (rc == TT_R_NOMEM)
		return tt_r_errf(r, rc, "out of memory");
	if (rc)
		return rc;
	read_workers(b);
	if (build_ids(b))
		return tt_r_errf(r, TT_R_NOMEM, "out of memory");
	return TT_R_OK;
}

int tt_snapshot_read(tt_mem mem, uint64_t root_addr,
		     const tt_reader_limits *limits, tt_snapshot **out,
		     char *err, size_t errlen)
{
	struct build b = { 0 };
	int rc = TT_R_NOMEM;

	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	b.s = calloc(1, sizeof(*b.s));
	b.a = calloc(1, sizeof(*b.a));
	b.c = calloc(1, sizeof(*b.c));
	b.r = malloc(sizeof(*b.r));
	b.rc = malloc(sizeof(*b.rc));
	if (b.s && b.a && b.c && b.r && b.rc) {
		b.s->arena_ = b.a;
		b.s->cache_ = b.c;
		if (limits) {
			b.c->lim = *limits;
			b.c->has_lim = 1;
		}
		rc = snapshot_body(&b, mem, root_addr, limits);
		b.c->arena_full = b.a->total;
		if (rc && err && errlen)
			snprintf(err, errlen, "%s", b.r->err);
	} else if (err && errlen) {
		snprintf(err, errlen, "out of memory");
	}
	free(b.scratch);
	free(b.strbuf);
	free(b.bulk);
	free(b.bulk2);
	free(b.same);
	free(b.r);
	free(b.rc);
	if (b.c) {
		/* Only the id index outlives the build. */
		free(b.c->bc_storage);
		b.c->bc_storage = NULL;
		map_free(&b.c->sites);
		map_free(&b.c->funcs);
		map_free(&b.c->strings);
	}
	if (rc) {
		if (b.s) {
			b.s->arena_ = b.a;
			b.s->cache_ = b.c;
			tt_snapshot_free(b.s);
		} else {
			free(b.a);
			free(b.c);
		}
		return rc;
	}
	*out = b.s;
	return TT_R_OK;
}

void tt_snapshot_free(tt_snapshot *s)
{
	if (!s)
		return;
	if (s->arena_) {
		struct arena_blk *b = s->arena_->head;
		while (b) {
			struct arena_blk *next = b->next;
			big_free(b, b->size);
			b = next;
		}
		free(s->arena_);
	}
	if (s->cache_) {
		struct tt_snap_cache *c = s->cache_;
		map_free(&c->ids);
		map_free(&c->sites);
		map_free(&c->funcs);
		map_free(&c->strings);
		big_free(s->tasks, c->tasks_bytes);
		big_free(c->spare, c->spare_bytes);
		free(c->st);
		free(c->spare_st);
		free(c->pos_id);
		free(c->bulk);
		free(c->bulk2);
		free(c->same);
		free(c->bc_storage);
		free(c);
	}
	free(s->workers);
	free(s);
}

/* A full read into a new snapshot, swapped into S. */
static int update_full(tt_snapshot *s, tt_mem mem, char *err, size_t errlen)
{
	struct tt_snap_cache *c = s->cache_;
	tt_snapshot *n = NULL;
	int rc = tt_snapshot_read(mem, s->root_addr, c->has_lim ? &c->lim : NULL, &n, err, errlen);

	if (rc) {
		s->ntasks = 0;
		return rc;
	}
	tt_snapshot t = *s;
	*s = *n;
	*n = t;
	tt_snapshot_free(n);
	return s->ntasks > INT32_MAX ? INT32_MAX : (int)s->ntasks;
}

int tt_snapshot_update(tt_snapshot *s, tt_mem mem, char *err, size_t errlen)
{
	struct tt_snap_cache *c = s->cache_;
	struct build b = {0};
	int rc = TT_R_NOMEM;

	if (err && errlen)
		err[0] = 0;
	/* A chain read again leaves the old one in the arena: once most of
	 * it is such, a full read costs less than keeping it. */
	if (s->arena_->total > 2 * c->arena_full + 4 * ARENA_MIN)
		return update_full(s, mem, err, errlen);
	b.s = s;
	b.a = s->arena_;
	b.c = c;
	b.update = 1;
	b.bulk = c->bulk;
	b.bulk2 = c->bulk2;
	b.same = c->same;
	b.bulk_size = c->bulk_size;
	/* This round's entries are written over last round's, in place:
	 * a task kept from round to round is not even copied. */
	b.old = s->tasks;
	b.nold = s->ntasks;
	b.old_st = c->st;
	b.aliased = 1;
	b.cap = c->tasks_bytes / sizeof(*s->tasks);
	s->ntasks = s->nerrors = s->nworkers = 0;
	free(s->workers);
	s->workers = NULL;
	b.r = malloc(sizeof(*b.r));
	b.rc = malloc(sizeof(*b.rc));
	if (b.r && b.rc) {
		rc = snapshot_body(&b, mem, s->root_addr, c->has_lim ? &c->lim : NULL);
		if (rc && err && errlen)
			snprintf(err, errlen, "%s", b.r->err);
	} else if (err && errlen) {
		snprintf(err, errlen, "out of memory");
	}
	free(b.scratch);
	free(b.strbuf);
	c->bulk = b.bulk;
	c->bulk2 = b.bulk2;
	c->same = b.same;
	c->bulk_size = b.bulk_size;
	free(b.r);
	free(b.rc);
	if (rc) {
		s->ntasks = s->nerrors = 0;
		map_free(&c->ids);
		c->npos = 0;
		return rc;
	}
	return b.walked > INT32_MAX ? INT32_MAX : (int)b.walked;
}

int tt_snapshot_memo_key(tt_snapshot *s, uint64_t key)
{
	struct tt_snap_cache *c = s->cache_;

	if (c->memo_key == key)
		return 1;
	for (size_t i = 0; i < s->ntasks; i++)
		c->st[i].memo = 0;
	c->memo_key = key;
	return 0;
}

uint64_t tt_snapshot_memo(const tt_snapshot *s, size_t i)
{
	return i < s->ntasks ? s->cache_->st[i].memo : 0;
}

void tt_snapshot_set_memo(tt_snapshot *s, size_t i, uint64_t word)
{
	if (i < s->ntasks)
		s->cache_->st[i].memo = word;
}

const tt_stask *tt_snapshot_find(const tt_snapshot *s, uint64_t id)
{
	uint64_t i;

	if (!s || !s->cache_ || !map_get(&s->cache_->ids, id, &i))
		return NULL;
	return &s->tasks[i];
}

/* tt_frames_path_ends reads a snapshot's frames in place. */
_Static_assert(offsetof(tt_sframe, raw) == 0, "tt_sframe starts with its tt_rframe");

const tt_sframe *tt_stask_leaf(const tt_stask *t)
{
	tt_rpath_ends e;

	if (!t || !t->nframes)
		return NULL;
	tt_frames_path_ends(&t->frames[0].raw, sizeof(*t->frames), t->nframes, &e);
	return &t->frames[e.leaf];
}

const tt_sframe *tt_stask_where(const tt_stask *t)
{
	tt_rpath_ends e;

	if (!t || !t->nframes)
		return NULL;
	tt_frames_path_ends(&t->frames[0].raw, sizeof(*t->frames), t->nframes, &e);
	/* A site that did not resolve (out of memory) is no "where". */
	return e.where != SIZE_MAX && t->frames[e.where].site ? &t->frames[e.where] : NULL;
}

/* Frames come in pre-order with parent indices, so the children of P are
 * the later frames naming P as parent, the awaited one first.  The
 * indices come from target memory through the reader: check them. */
size_t tt_stask_next_child(const tt_stask *t, size_t parent, size_t after)
{
	for (size_t j = after + 1; j < t->nframes; j++) {
		int32_t p = t->frames[j].raw.parent;
		if (p >= 0 && (size_t)p == parent)
			return j;
		/* Pre-order: once a frame at P's depth or above shows up,
		 * P's subtree is over. */
		if (t->frames[j].raw.depth <= t->frames[parent].raw.depth)
			break;
	}
	return t->nframes;
}

size_t tt_stask_path(const tt_stask *t, size_t from, size_t *path, size_t cap)
{
	size_t n = 0;

	for (size_t i = from; i < t->nframes && n < cap;
	     i = tt_stask_next_child(t, i, i))
		path[n++] = i;
	return n;
}

void tt_text_free(char *text)
{
	free(text);
}

/* ---- a second look ---- */

int tt_snapshot_recheck(tt_mem mem, const tt_snapshot *s, const tt_stask *t)
{
	tt_reader *r = malloc(sizeof(*r));
	int rc;

	if (!r)
		return TT_R_NOMEM;
	rc = tt_reader_open(r, mem, s->root_addr, NULL);
	if (!rc)
		rc = tt_snapshot_recheck_in(r, t);
	free(r);
	return rc;
}

/* What a second look compares (tt_snapshot_recheck_in,
 * tt_stask_same_moment).  Wakes and the owner a mutex hands on are written
 * by other tasks, outside this one's seq window: compared too. */
static int task_same(const tt_rtask *was, const tt_rtask *now)
{
	return now->id == was->id && now->seq == was->seq && now->state == was->state &&
	       now->wake_ns == was->wake_ns && now->wakers == was->wakers &&
	       now->root_frame == was->root_frame;
}

static int frame_same(const tt_rframe *a, const tt_rframe *b)
{
	return a->addr == b->addr && a->func == b->func && a->site == b->site &&
	       a->wait_kind == b->wait_kind && a->wait_object == b->wait_object &&
	       a->wait_owner == b->wait_owner && a->wait_since_ns == b->wait_since_ns;
}

int tt_stask_same_moment(const tt_stask *t, const tt_stask *now)
{
	if ((now->error && now->error != TT_R_TOO_DEEP) || now->raw.slot_addr != t->raw.slot_addr ||
	    !task_same(&t->raw, &now->raw) || now->nframes != t->nframes)
		return 0;
	for (size_t i = 0; i < now->nframes; i++)
		if (!frame_same(&now->frames[i].raw, &t->frames[i].raw))
			return 0;
	return 1;
}

int tt_snapshot_recheck_in(tt_reader *r, const tt_stask *t)
{
	tt_rframe *fr = NULL;
	tt_rtask now;
	size_t n = 0;
	int rc;

	if ((rc = tt_reader_read_task(r, t->raw.slot_addr, &now)))
		goto out;
	rc = 0;
	if (!task_same(&t->raw, &now))
		goto out;
	if (t->nframes) {
		if (!(fr = malloc((t->nframes + 1) * sizeof(*fr)))) {
			rc = TT_R_NOMEM;
			goto out;
		}
		int w = tt_reader_walk_frames(r, now.root_frame, fr, t->nframes + 1, &n);
		if ((w && w != TT_R_TOO_DEEP) || n != t->nframes)
			goto out;
		for (size_t i = 0; i < n; i++)
			if (!frame_same(&fr[i], &t->frames[i].raw))
				goto out;
	}
	rc = 1;
out:
	free(fr);
	return rc;
}

int tt_snapshot_newer_wait(tt_mem mem, const tt_snapshot *s, uint64_t object)
{
	tt_reader *r = malloc(sizeof(*r));
	tt_rframe *fr = NULL;
	tt_task_iter it;
	uint64_t slot, id;
	uint32_t flags;
	tt_rtask t;
	int rc;

	if (!r)
		return TT_R_NOMEM;
	if ((rc = tt_reader_open(r, mem, s->root_addr, NULL)))
		goto out;
	if (!(fr = malloc(r->lim.max_frames * sizeof(*fr)))) {
		rc = TT_R_NOMEM;
		goto out;
	}
	tt_task_iter_init(r, &it);
	while ((rc = tt_task_iter_next_id(r, &it, &slot, &id, &flags)) != 0) {
		if (rc < 0)
			goto out; /* a slot not read may hold one */
		if (id < s->next_task_id)
			continue;
		size_t n = 0;
		tt_rpath_ends e;
		if ((rc = tt_reader_read_task(r, slot, &t)))
			goto out;
		tt_reader_walk_frames(r, t.root_frame, fr, r->lim.max_frames, &n);
		tt_frames_path_ends(fr, sizeof(*fr), n, &e);
		if (e.leaf != SIZE_MAX && fr[e.leaf].kind == TT_FUNC_KIND_LEAF &&
		    fr[e.leaf].wait_kind && fr[e.leaf].wait_object == object) {
			rc = 1;
			goto out;
		}
	}
	rc = 0;
out:
	free(fr);
	free(r);
	return rc;
}
