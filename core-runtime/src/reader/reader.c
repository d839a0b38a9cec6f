/* Registry reader, core layer: opening a root, decoding its layout table,
 * and the small records (sites, funcs, strings, workers, chunks).
 *
 * Everything read from the target is hostile: counts are capped, pointers
 * checked for alignment, record sizes bounded before anything is copied
 * onto the stack.  No allocation, no locks, no stdio, so the crash handler
 * can call it from a signal handler. */
#include <errno.h>
#include <string.h>

#include "reader/reader_priv.h"

static const tt_reader_limits tt_r_defaults = {
	.max_depth = 256,
	.max_frames = 4096,
	.max_chunks = 64,
	.max_slots = 1ull << 26,
	.max_workers = 4096,
	.max_string = 4096,
	.torn_retries = 16,
};

#define B(x) (1u << (x))

static const uint8_t field_max[TT_REC_MAX_] = {
	[TT_REC_ROOT] = TT_ROOT_MAX_,	  [TT_REC_CHUNK] = TT_CHUNK_MAX_,
	[TT_REC_TASK] = TT_TASK_MAX_,	  [TT_REC_FRAME] = TT_FRAME_MAX_,
	[TT_REC_WAIT] = TT_WAIT_MAX_,	  [TT_REC_SITE] = TT_SITE_MAX_,
	[TT_REC_FUNC] = TT_FUNC_MAX_,	  [TT_REC_WORKER] = TT_WORKER_MAX_,
	[TT_REC_LABEL] = TT_LABEL_MAX_,
	[TT_REC_HOLDERS] = TT_HOLDERS_MAX_,
	[TT_REC_RING] = TT_RING_MAX_,	  [TT_REC_EVENT] = TT_EVENT_MAX_,
};

/* Fields holding target addresses: they must be pointer-sized. */
static const uint32_t ptr_fields[TT_REC_MAX_] = {
	[TT_REC_ROOT] = B(TT_ROOT_CHUNKS) | B(TT_ROOT_WORKERS) |
			B(TT_ROOT_RUNTIME_NAME) | B(TT_ROOT_SITES_START) |
			B(TT_ROOT_SITES_STOP) | B(TT_ROOT_FUNCS_START) |
			B(TT_ROOT_FUNCS_STOP) | B(TT_ROOT_FOREIGN_RING),
	[TT_REC_CHUNK] = B(TT_CHUNK_SLOTS),
	[TT_REC_TASK] = B(TT_TASK_SPAWN_SITE) | B(TT_TASK_ROOT_FRAME) |
			B(TT_TASK_LABEL_BLOCK) | B(TT_TASK_HIST),
	[TT_REC_FRAME] = B(TT_FRAME_FUNC) | B(TT_FRAME_SITE) |
			 B(TT_FRAME_CHILD) | B(TT_FRAME_SIBLING),
	[TT_REC_WAIT] = B(TT_WAIT_OBJECT) | B(TT_WAIT_NAME) | B(TT_WAIT_HOLDERS),
	[TT_REC_SITE] = B(TT_SITE_FUNCTION) | B(TT_SITE_FILE) |
			B(TT_SITE_RESUME),
	[TT_REC_FUNC] = B(TT_FUNC_NAME) | B(TT_FUNC_FILE) |
			B(TT_FUNC_TYPE_NAME) | B(TT_FUNC_POLL),
	[TT_REC_WORKER] = B(TT_WORKER_TASK) | B(TT_WORKER_RING),
	[TT_REC_RING] = B(TT_RING_EVENTS),
};

/* What a reader cannot do without.  B(0) is the size row. */
static const uint32_t required[TT_REC_MAX_] = {
	[TT_REC_ROOT] = B(TT_ROOT_CHUNKS) | B(TT_ROOT_CHUNK_COUNT),
	[TT_REC_CHUNK] = B(0) | B(TT_CHUNK_SLOTS) | B(TT_CHUNK_SLOT_COUNT),
	[TT_REC_TASK] = B(0) | B(TT_TASK_ID) | B(TT_TASK_SEQ) |
			B(TT_TASK_STATE),
	[TT_REC_FRAME] = B(0) | B(TT_FRAME_FUNC) | B(TT_FRAME_SITE) |
			 B(TT_FRAME_CHILD) | B(TT_FRAME_SIBLING),
	[TT_REC_SITE] = B(0) | B(TT_SITE_LINE),
	[TT_REC_FUNC] = B(0) | B(TT_FUNC_NAME) | B(TT_FUNC_KIND),
};

static tt_field *fields_of(tt_reader *r, int rec)
{
	switch (rec) {
	case TT_REC_ROOT: return r->f_root;
	case TT_REC_CHUNK: return r->f_chunk;
	case TT_REC_TASK: return r->f_task;
	case TT_REC_FRAME: return r->f_frame;
	case TT_REC_WAIT: return r->f_wait;
	case TT_REC_SITE: return r->f_site;
	case TT_REC_FUNC: return r->f_func;
	case TT_REC_WORKER: return r->f_worker;
	case TT_REC_LABEL: return r->f_label;
	case TT_REC_HOLDERS: return r->f_holders;
	case TT_REC_RING: return r->f_ring;
	case TT_REC_EVENT: return r->f_event;
	}
	return NULL;
}

int tt_r_read(tt_reader *r, uint64_t addr, void *buf, size_t len,
	      const char *what)
{
	int rc;

	if (!len)
		return TT_R_OK;
	if (addr + len < addr)
		rc = -EFAULT;
	else
		rc = r->mem.read(r->mem.ctx, addr, buf, len);
	if (rc < 0)
		return tt_r_errf(r, TT_R_UNREADABLE, "%s %X: unreadable (%E)",
				 what, addr, rc);
	return TT_R_OK;
}

/* ---- open ---- */

static int check_record(tt_reader *r, int rec, uint32_t seen)
{
	const tt_field *f = fields_of(r, rec);
	uint32_t size = r->record_size[rec];
	uint32_t missing = required[rec] & ~seen;
	uint32_t extent = 0;
	const char *rn = tt_r_record_name(rec);

	if (missing) {
		int fld = __builtin_ctz(missing);
		if (fld == 0)
			return tt_r_errf(r, TT_R_BAD_LAYOUT,
					 "layout: no size for record %s", rn);
		return tt_r_errf(r, TT_R_BAD_LAYOUT,
				 "layout: record %s lacks field %s", rn,
				 tt_r_field_name(rec, fld));
	}
	if ((seen & B(0)) && size == 0)
		return tt_r_errf(r, TT_R_BAD_LAYOUT, "layout: record %s has size 0", rn);
	/* The root's bound is the header's, checked by read_header. */
	if (rec != TT_REC_ROOT && size > (rec == TT_REC_TASK ? TT_R_TASK_MAX : TT_R_RECORD_MAX))
		return tt_r_errf(r, TT_R_ABSURD, "layout: record %s size %u is absurd", rn, size);
	/* Arrays of these are indexed by stride: keep elements aligned. */
	if ((rec == TT_REC_TASK || rec == TT_REC_WORKER) && size % TT_R_ALIGN)
		return tt_r_errf(r, TT_R_BAD_LAYOUT,
				 "layout: record %s size %u not a multiple of 8",
				 rn, size);
	for (int i = 1; i < field_max[rec]; i++) {
		const char *fn = tt_r_field_name(rec, i);
		unsigned end = (unsigned)f[i].offset + f[i].size;

		if (!f[i].size)
			continue;
		if ((rec == TT_REC_TASK && i == TT_TASK_NAME) ||
		    rec == TT_REC_LABEL) {
			if (f[i].size > 64)
				return tt_r_errf(r, TT_R_BAD_LAYOUT,
						 "layout: %s.%s size %u", rn,
						 fn, f[i].size);
		} else if (rec == TT_REC_TASK && i == TT_TASK_LABELS) {
			/* An array of LABEL records: bounded by the
			 * record size like any field. */
		} else if (rec == TT_REC_HOLDERS && i == TT_HOLDERS_IDS) {
			/* An array of ids: its size is the capacity. */
			if (f[i].size % 8 || f[i].size > 256)
				return tt_r_errf(r, TT_R_BAD_LAYOUT,
						 "layout: holders.ids size %u",
						 f[i].size);
		} else if (f[i].size != 1 && f[i].size != 2 &&
			   f[i].size != 4 && f[i].size != 8) {
			return tt_r_errf(r, TT_R_BAD_LAYOUT,
					 "layout: %s.%s has size %u", rn, fn,
					 f[i].size);
		}
		if ((ptr_fields[rec] & B(i)) && f[i].size != r->pointer_size)
			return tt_r_errf(r, TT_R_BAD_LAYOUT,
					 "layout: pointer %s.%s has size %u",
					 rn, fn, f[i].size);
		if (extent < end)
			extent = end;
		/* WAIT offsets count from the leaf frame's start and its size
		 * row only says how far to read, so it does not bound them. */
		if (rec != TT_REC_WAIT && end > size)
			return tt_r_errf(r, TT_R_BAD_LAYOUT,
					 "layout: %s.%s (offset %u size %u) "
					 "overflows the record (%u bytes)",
					 rn, fn, f[i].offset, f[i].size, size);
		for (int j = 1; j < i; j++) {
			if (f[j].size && f[j].offset < end &&
			    f[i].offset < f[j].offset + f[j].size)
				return tt_r_errf(r, TT_R_BAD_LAYOUT,
						 "layout: %s.%s overlaps %s.%s",
						 rn, fn, rn,
						 tt_r_field_name(rec, j));
		}
	}
	if (rec == TT_REC_WAIT) {
		if (extent > TT_R_RECORD_MAX)
			return tt_r_errf(r, TT_R_ABSURD,
					 "layout: wait record extent %u is absurd",
					 extent);
		if (r->record_size[rec] < extent)
			r->record_size[rec] = extent;
	}
	if (rec == TT_REC_WORKER && seen > B(0) && !(seen & B(0)))
		return tt_r_errf(r, TT_R_BAD_LAYOUT,
				 "layout: no size for record worker");
	return TT_R_OK;
}

static int decode_layout(tt_reader *r, const unsigned char *tab,
			 unsigned count, uint32_t root_size)
{
	uint32_t seen[TT_REC_MAX_] = { 0 };

	for (unsigned i = 0; i < count; i++) {
		const unsigned char *p = tab + 8 * i;
		unsigned rec = p[0] | p[1] << 8, fld = p[2] | p[3] << 8;
		unsigned off = p[4] | p[5] << 8, size = p[6] | p[7] << 8;

		/* Rows from a newer writer are none of our business. */
		if (rec < 1 || rec >= TT_REC_MAX_ || fld >= field_max[rec])
			continue;
		if (seen[rec] & B(fld))
			return tt_r_errf(r, TT_R_BAD_LAYOUT,
					 "layout: %s.%s listed twice",
					 tt_r_record_name(rec),
					 tt_r_field_name(rec, fld));
		seen[rec] |= B(fld);
		if (fld == TT_F_SIZEOF) {
			if (off != 0)
				return tt_r_errf(r, TT_R_BAD_LAYOUT,
						 "layout: size row of %s has offset %u",
						 tt_r_record_name(rec), off);
			r->record_size[rec] = size;
			continue;
		}
		if (size == 0)
			return tt_r_errf(r, TT_R_BAD_LAYOUT,
					 "layout: %s.%s has size 0",
					 tt_r_record_name(rec),
					 tt_r_field_name(rec, fld));
		fields_of(r, (int)rec)[fld] = (tt_field){ (uint16_t)off,
							  (uint16_t)size };
	}
	/* The header's root_size is authoritative for the root. */
	if ((seen[TT_REC_ROOT] & B(0)) &&
	    r->record_size[TT_REC_ROOT] > root_size)
		return tt_r_errf(r, TT_R_BAD_LAYOUT,
				 "layout: root size %u exceeds header's %u",
				 r->record_size[TT_REC_ROOT], root_size);
	r->record_size[TT_REC_ROOT] = root_size;
	seen[TT_REC_ROOT] |= B(0);
	for (int rec = 1; rec < TT_REC_MAX_; rec++) {
		int rc = check_record(r, rec, seen[rec]);
		if (rc)
			return rc;
	}
	/* Labels need their record to be read (§5.9). */
	if ((r->f_task[TT_TASK_LABELS].size ||
	     r->f_task[TT_TASK_LABEL_BLOCK].size) &&
	    (!(seen[TT_REC_LABEL] & B(0)) ||
	     !(seen[TT_REC_LABEL] & B(TT_LABEL_KEY)) ||
	     !(seen[TT_REC_LABEL] & B(TT_LABEL_VALUE))))
		return tt_r_errf(r, TT_R_BAD_LAYOUT,
				 "layout: task.labels without a label record "
				 "(size, key, value)");
	return TT_R_OK;
}

static int read_header(tt_reader *r, tt_registry_header *h)
{
	unsigned char b[sizeof(*h)];
	tt_field f64 = { 0, 8 }, f32 = { 0, 4 }, f16 = { 0, 2 };
	int rc;

	if (r->root_addr & (TT_R_ALIGN - 1))
		return tt_r_errf(r, TT_R_MISALIGNED, "root %X: misaligned",
				 r->root_addr);
	rc = tt_r_read(r, r->root_addr, b, sizeof(b), "root");
	if (rc)
		return rc;
	/* Decode explicitly: the header is little-endian by contract. */
	h->magic = tt_r_get(b, f64);
	h->abi_version = (uint32_t)tt_r_get(b + 8, f32);
	h->root_size = (uint32_t)tt_r_get(b + 12, f32);
	h->pointer_size = b[16];
	h->little_endian = b[17];
	h->layout_count = (uint16_t)tt_r_get(b + 18, f16);
	h->layout_offset = (uint32_t)tt_r_get(b + 20, f32);
	if (h->magic != TT_REGISTRY_MAGIC)
		return tt_r_errf(r, TT_R_BAD_MAGIC,
				 "root %X: bad magic %X (not a tasktrace registry)",
				 r->root_addr, h->magic);
	if (h->abi_version != TT_REGISTRY_ABI_VERSION)
		return tt_r_errf(r, TT_R_BAD_VERSION,
				 "registry ABI version %u, this reader supports %u",
				 h->abi_version, TT_REGISTRY_ABI_VERSION);
	if (h->little_endian != 1)
		return tt_r_errf(r, TT_R_BAD_HEADER,
				 "registry is not little-endian");
	if (h->pointer_size != 8)
		return tt_r_errf(r, TT_R_BAD_HEADER,
				 "registry pointer size %u unsupported",
				 h->pointer_size);
	if (h->root_size < sizeof(*h) || h->root_size > sizeof(r->root))
		return tt_r_errf(r, TT_R_BAD_HEADER,
				 "registry root size %u out of range", h->root_size);
	if (h->layout_count > 512)
		return tt_r_errf(r, TT_R_BAD_HEADER,
				 "layout table of %u rows is absurd",
				 h->layout_count);
	if (h->layout_offset < sizeof(*h) ||
	    (uint64_t)h->layout_offset + 8u * h->layout_count > h->root_size)
		return tt_r_errf(r, TT_R_BAD_HEADER,
				 "layout table (offset %u, %u rows) outside the "
				 "root (%u bytes)",
				 h->layout_offset, h->layout_count, h->root_size);
	return TT_R_OK;
}

int tt_reader_open(tt_reader *r, tt_mem mem, uint64_t root_addr,
		   const tt_reader_limits *limits)
{
	tt_registry_header h = { 0 };
	int rc;

	memset(r, 0, sizeof(*r));
	r->mem = mem;
	r->root_addr = root_addr;
	r->lim = tt_r_defaults;
	if (limits) {
		/* A zero means "the default", so callers set only what they
		 * care about. */
		if (limits->max_depth) r->lim.max_depth = limits->max_depth;
		if (limits->max_frames) r->lim.max_frames = limits->max_frames;
		if (limits->max_chunks) r->lim.max_chunks = limits->max_chunks;
		if (limits->max_slots) r->lim.max_slots = limits->max_slots;
		if (limits->max_workers) r->lim.max_workers = limits->max_workers;
		if (limits->max_string) r->lim.max_string = limits->max_string;
		if (limits->torn_retries) r->lim.torn_retries = limits->torn_retries;
	}
	rc = read_header(r, &h);
	if (rc)
		return rc;
	r->abi_version = h.abi_version;
	r->pointer_size = h.pointer_size;
	rc = tt_r_read(r, root_addr, r->root, h.root_size, "root");
	if (rc)
		return rc;
	rc = decode_layout(r, r->root + h.layout_offset, h.layout_count,
			   h.root_size);
	if (rc)
		return rc;
	r->err[0] = 0;
	return TT_R_OK;
}

void tt_reader_set_view(tt_reader *r, tt_view_mem_fn view, void *ctx)
{
	r->view_ = view;
	r->view_ctx_ = view ? ctx : NULL;
}

int tt_reader_refresh(tt_reader *r)
{
	unsigned char b[sizeof(r->root)];
	uint32_t size = r->record_size[TT_REC_ROOT];
	int rc;

	if (!size)
		return tt_r_errf(r, TT_R_BAD_HEADER, "reader not opened");
	rc = tt_r_read(r, r->root_addr, b, size, "root");
	if (rc)
		return rc;
	/* The header and layout are immutable; a change means the memory
	 * is no longer our registry. */
	if (memcmp(b, r->root, sizeof(tt_registry_header)))
		return tt_r_errf(r, TT_R_BAD_HEADER,
				 "root %X: header changed since open",
				 r->root_addr);
	memcpy(r->root, b, size);
	tt_r_cache_clear(r);
	return TT_R_OK;
}

uint64_t tt_reader_root_u64(const tt_reader *r, int field)
{
	if (field <= 0 || field >= TT_ROOT_MAX_)
		return 0;
	return tt_r_get(r->root, r->f_root[field]);
}

/* ---- small records ---- */

/* The record REC at ADDR, checked, in BUF or in the view; NULL with
 * *RC set on failure. */
static const unsigned char *read_record(tt_reader *r, int rec, uint64_t addr,
					unsigned char *buf, int *rc)
{
	const char *rn = tt_r_record_name(rec);
	const unsigned char *p;

	if (!addr) {
		*rc = tt_r_errf(r, TT_R_NOT_FOUND, "%s at address 0", rn);
		return NULL;
	}
	if (addr & (TT_R_ALIGN - 1)) {
		*rc = tt_r_errf(r, TT_R_MISALIGNED, "%s %X: misaligned", rn,
				addr);
		return NULL;
	}
	p = tt_r_fetch(r, addr, buf, r->record_size[rec], rn);
	*rc = p ? TT_R_OK : TT_R_UNREADABLE;
	return p;
}

/* SITE and FUNC records are static data: once decoded they are kept, by
 * address, in a small direct-mapped cache in the reader. */
int tt_reader_site(tt_reader *r, uint64_t addr, tt_rsite *out)
{
	unsigned char buf[TT_R_RECORD_MAX];
	const unsigned char *b;
	const tt_field *f = r->f_site;
	tt_rsite *c = &r->site_cache_[tt_r_cache_ix(addr)];
	int rc;

	if (c->addr == addr && addr) {
		*out = *c;
		return TT_R_OK;
	}
	memset(out, 0, sizeof(*out));
	out->addr = addr;
	b = read_record(r, TT_REC_SITE, addr, buf, &rc);
	if (!b)
		return rc;
	out->function = tt_r_get(b, f[TT_SITE_FUNCTION]);
	out->file = tt_r_get(b, f[TT_SITE_FILE]);
	out->line = (uint32_t)tt_r_get(b, f[TT_SITE_LINE]);
	out->flags = (uint32_t)tt_r_get(b, f[TT_SITE_FLAGS]);
	out->resume = tt_r_get(b, f[TT_SITE_RESUME]);
	*c = *out;
	return TT_R_OK;
}

int tt_reader_func(tt_reader *r, uint64_t addr, tt_rfunc *out)
{
	unsigned char buf[TT_R_RECORD_MAX];
	const unsigned char *b;
	const tt_field *f = r->f_func;
	tt_rfunc *c = &r->func_cache_[tt_r_cache_ix(addr)];
	int rc;

	if (c->addr == addr && addr) {
		*out = *c;
		return TT_R_OK;
	}
	memset(out, 0, sizeof(*out));
	out->addr = addr;
	b = read_record(r, TT_REC_FUNC, addr, buf, &rc);
	if (!b)
		return rc;
	out->name = tt_r_get(b, f[TT_FUNC_NAME]);
	out->file = tt_r_get(b, f[TT_FUNC_FILE]);
	out->type_name = tt_r_get(b, f[TT_FUNC_TYPE_NAME]);
	out->line = (uint32_t)tt_r_get(b, f[TT_FUNC_LINE]);
	out->kind = (uint32_t)tt_r_get(b, f[TT_FUNC_KIND]);
	out->frame_size = (uint32_t)tt_r_get(b, f[TT_FUNC_FRAME_SIZE]);
	out->poll = tt_r_get(b, f[TT_FUNC_POLL]);
	*c = *out;
	return TT_R_OK;
}

static int string_fail(char *buf, size_t len, int code)
{
	if (len)
		buf[0] = 0;
	if (len > 2) {
		buf[0] = buf[1] = '?';
		buf[2] = 0;
	}
	return code;
}

int tt_reader_string(tt_reader *r, uint64_t addr, char *buf, size_t len)
{
	unsigned char tmp[256];
	uint64_t a = addr, scanned = 0;
	size_t n_out = 0;

	if (!addr)
		return string_fail(buf, len,
				   tt_r_errf(r, TT_R_NOT_FOUND, "string at address 0"));
	/* Pieces never cross a page: a string ending just before an unmapped
	 * page must still be readable. */
	while (scanned < r->lim.max_string) {
		uint64_t n = 4096 - (a & 4095);
		if (n > sizeof(tmp))
			n = sizeof(tmp);
		if (n > r->lim.max_string - scanned)
			n = r->lim.max_string - scanned;
		const unsigned char *p = tt_r_fetch(r, a, tmp, n, "string");
		if (!p)
			return string_fail(buf, len, TT_R_UNREADABLE);
		for (uint64_t i = 0; i < n; i++) {
			unsigned char c = p[i];
			if (!c) {
				if (len)
					buf[n_out] = 0;
				return TT_R_OK;
			}
			if (n_out + 1 < len)
				buf[n_out++] = (char)c;
		}
		scanned += n;
		a += n;
	}
	return string_fail(buf, len,
			   tt_r_errf(r, TT_R_ABSURD,
				     "string %X: no NUL within %u bytes", addr,
				     r->lim.max_string));
}

/* A runtime that publishes only the slot a worker polls (tasktrace does,
 * docs/registry-abi.md §5.8): the task id and the poll's start are the
 * slot's, while its seq is odd.  An even seq is a poll that ended after
 * the worker record was read (a live target): no task then. */
static void worker_task_from_slot(tt_reader *r, tt_rworker *out)
{
	unsigned char b[TT_R_TASK_MAX];
	const tt_field *f = r->f_task;
	uint32_t size = r->record_size[TT_REC_TASK];

	if (!size || size > sizeof(b) || (out->task & (TT_R_ALIGN - 1)) ||
	    tt_r_read(r, out->task, b, size, "worker's task slot") != TT_R_OK ||
	    !(tt_r_get(b, f[TT_TASK_SEQ]) & 1)) {
		out->task = out->task_id = out->poll_start_ns = 0;
		return;
	}
	if (!r->f_worker[TT_WORKER_TASK_ID].size)
		out->task_id = tt_r_get(b, f[TT_TASK_ID]);
	if (!r->f_worker[TT_WORKER_POLL_START_NS].size)
		out->poll_start_ns = tt_r_get(b, f[TT_TASK_POLL_START_NS]);
}

int tt_reader_worker(tt_reader *r, uint32_t i, tt_rworker *out)
{
	unsigned char b[TT_R_RECORD_MAX];
	const tt_field *f = r->f_worker;
	uint64_t count = tt_reader_root_u64(r, TT_ROOT_WORKER_COUNT);
	uint64_t base = tt_reader_root_u64(r, TT_ROOT_WORKERS);
	uint32_t size = r->record_size[TT_REC_WORKER];
	int rc;

	memset(out, 0, sizeof(*out));
	if (r->f_root[TT_ROOT_WORKER_CAPACITY].size &&
	    count > tt_reader_root_u64(r, TT_ROOT_WORKER_CAPACITY))
		return tt_r_errf(r, TT_R_ABSURD,
				 "worker_count %U exceeds worker_capacity", count);
	if (count > r->lim.max_workers)
		return tt_r_errf(r, TT_R_ABSURD, "worker_count %U is absurd",
				 count);
	if (i >= count || !size || !base)
		return tt_r_errf(r, TT_R_NOT_FOUND, "no worker %u", i);
	if (base & (TT_R_ALIGN - 1))
		return tt_r_errf(r, TT_R_MISALIGNED, "workers %X: misaligned",
				 base);
	rc = tt_r_read(r, base + (uint64_t)i * size, b, size, "worker");
	if (rc)
		return rc;
	out->tid = tt_r_get(b, f[TT_WORKER_TID]);
	out->index = (uint32_t)tt_r_get(b, f[TT_WORKER_INDEX]);
	out->state = (uint32_t)tt_r_get(b, f[TT_WORKER_STATE]);
	out->task_id = tt_r_get(b, f[TT_WORKER_TASK_ID]);
	out->task = tt_r_get(b, f[TT_WORKER_TASK]);
	out->poll_start_ns = tt_r_get(b, f[TT_WORKER_POLL_START_NS]);
	out->runtime_id = tt_r_get(b, f[TT_WORKER_RUNTIME_ID]);
	out->ring = tt_r_get(b, f[TT_WORKER_RING]);
	if (out->task && (!f[TT_WORKER_TASK_ID].size || !f[TT_WORKER_POLL_START_NS].size))
		worker_task_from_slot(r, out);
	return TT_R_OK;
}

/* ---- chunks ---- */

int tt_reader_chunk_count(tt_reader *r, uint32_t *count)
{
	uint64_t n = tt_reader_root_u64(r, TT_ROOT_CHUNK_COUNT);
	uint64_t chunks = tt_reader_root_u64(r, TT_ROOT_CHUNKS);

	*count = 0;
	if (r->f_root[TT_ROOT_CHUNK_CAPACITY].size &&
	    n > tt_reader_root_u64(r, TT_ROOT_CHUNK_CAPACITY))
		return tt_r_errf(r, TT_R_ABSURD,
				 "chunk_count %U exceeds chunk_capacity %U", n,
				 tt_reader_root_u64(r, TT_ROOT_CHUNK_CAPACITY));
	if (n > r->lim.max_chunks)
		return tt_r_errf(r, TT_R_ABSURD,
				 "chunk_count %U exceeds the cap %u", n,
				 r->lim.max_chunks);
	if (n && !chunks)
		return tt_r_errf(r, TT_R_ABSURD,
				 "%U chunks but no chunk array", n);
	if (chunks & (TT_R_ALIGN - 1))
		return tt_r_errf(r, TT_R_MISALIGNED,
				 "chunk array %X: misaligned", chunks);
	*count = (uint32_t)n;
	return TT_R_OK;
}

int tt_reader_chunk_get(tt_reader *r, uint32_t i, uint64_t total, tt_reader_chunk *c)
{
	unsigned char b[TT_R_RECORD_MAX];
	uint64_t chunks = tt_reader_root_u64(r, TT_ROOT_CHUNKS);
	uint64_t stride = r->record_size[TT_REC_TASK];
	int rc;

	memset(c, 0, sizeof(*c));
	rc = tt_r_read(r, chunks + 8ull * i, b, 8, "chunk array entry");
	if (rc)
		return rc;
	c->addr = tt_r_get(b, (tt_field){ 0, 8 });
	if (!c->addr)
		return tt_r_errf(r, TT_R_ABSURD, "chunk %u: null pointer", i);
	if (c->addr & (TT_R_ALIGN - 1))
		return tt_r_errf(r, TT_R_MISALIGNED, "chunk %u (%X): misaligned",
				 i, c->addr);
	rc = tt_r_read(r, c->addr, b, r->record_size[TT_REC_CHUNK], "chunk");
	if (rc)
		return rc;
	c->slots = tt_r_get(b, r->f_chunk[TT_CHUNK_SLOTS]);
	c->count = tt_r_get(b, r->f_chunk[TT_CHUNK_SLOT_COUNT]);
	c->first = r->f_chunk[TT_CHUNK_FIRST_INDEX].size ?
			   tt_r_get(b, r->f_chunk[TT_CHUNK_FIRST_INDEX]) :
			   total;
	if (c->count == 0 || c->count > r->lim.max_slots ||
	    total + c->count > r->lim.max_slots)
		return tt_r_errf(r, TT_R_ABSURD,
				 "chunk %u (%X): slot_count %U is absurd", i,
				 c->addr, c->count);
	if (!c->slots || c->count > UINT64_MAX / stride ||
	    c->slots + c->count * stride < c->slots)
		return tt_r_errf(r, TT_R_ABSURD,
				 "chunk %u (%X): slots at %X out of range", i,
				 c->addr, c->slots);
	if (c->slots & (TT_R_ALIGN - 1))
		return tt_r_errf(r, TT_R_MISALIGNED,
				 "chunk %u (%X): slots %X misaligned", i, c->addr,
				 c->slots);
	/* Only a bound on what to read: a value past the chunk reads it all,
	 * which is never wrong, only slower. */
	c->used = r->f_chunk[TT_CHUNK_USED].size ?
			  tt_r_get(b, r->f_chunk[TT_CHUNK_USED]) :
			  c->count;
	if (c->used > c->count)
		c->used = c->count;
	return TT_R_OK;
}

/* ---- which root ---- */

int tt_root_pick(tt_mem mem, const uint64_t *addrs, size_t n, tt_root_pick_out *out)
{
	tt_reader r;

	memset(out, 0, sizeof(*out));
	out->chosen = out->failed = SIZE_MAX;
	if (!n) {
		out->error = TT_R_NOT_FOUND;
		return TT_R_NOT_FOUND;
	}
	/* Two copies of a valid root is normal: an executable that takes
	 * &tasktrace_registry gets a copy relocation, and the library's own
	 * copy keeps its pristine initializer while the live registry is the
	 * executable's.  The live one has its pid filled in. */
	for (size_t i = 0; i < n && i < TT_ROOT_CANDIDATES; i++) {
		int rc = tt_reader_open(&r, mem, addrs[i], NULL);
		if (rc != TT_R_OK) {
			if (out->failed == SIZE_MAX) {
				out->failed = i;
				out->error = rc;
				memcpy(out->err, r.err, sizeof(out->err));
				out->err[sizeof(out->err) - 1] = 0;
			}
			continue;
		}
		uint64_t pid = tt_reader_root_u64(&r, TT_ROOT_PID);
		if (out->chosen == SIZE_MAX || (pid && !out->pid)) {
			out->chosen = i;
			out->pid = pid;
		}
	}
	return out->chosen != SIZE_MAX ? TT_R_OK : out->error;
}

/* ---- FUNC and SITE records with their strings ---- */

int tt_rsym_cache_init(tt_rsym_cache *c, tt_rsym *storage, size_t n)
{
	if (!storage || !n || (n & (n - 1)))
		return -EINVAL;
	/* Zeroed by the caller: a fresh mapping stays untouched until used. */
	c->ents = storage;
	c->n = n;
	return 0;
}

static tt_rsym *rsym_slot(tt_rsym_cache *c, uint64_t addr)
{
	return &c->ents[((addr >> 3) ^ (addr >> 11) ^ (addr >> 19)) & (c->n - 1)];
}

const tt_rsym *tt_rsym_func(tt_reader *r, tt_rsym_cache *c, uint64_t addr)
{
	tt_rsym *s = rsym_slot(c, addr);
	tt_rfunc f;

	if (s->addr == addr && addr && s->kind != TT_RSYM_SITE)
		return s;
	/* Unreadable: "??", line 0, and not kept (the next try may do). */
	s->addr = 0;
	s->ok = tt_reader_func(r, addr, &f) == TT_R_OK;
	if (s->ok)
		tt_reader_string(r, f.name, s->name, sizeof(s->name));
	else
		memcpy(s->name, "??", 3);
	s->file[0] = 0;
	s->line = s->ok ? f.line : 0;
	s->kind = s->ok ? f.kind : 0;
	s->poll = s->ok ? f.poll : 0;
	s->resume = 0;
	if (s->ok)
		s->addr = addr;
	return s;
}

const tt_rsym *tt_rsym_site(tt_reader *r, tt_rsym_cache *c, uint64_t addr)
{
	tt_rsym *s = rsym_slot(c, addr);
	tt_rsite st;

	if (s->addr == addr && addr && s->kind == TT_RSYM_SITE)
		return s;
	s->addr = 0;
	s->ok = tt_reader_site(r, addr, &st) == TT_R_OK;
	if (s->ok) {
		tt_reader_string(r, st.function, s->name, sizeof(s->name));
		tt_reader_string(r, st.file, s->file, sizeof(s->file));
	} else {
		memcpy(s->name, "??", 3);
		memcpy(s->file, "??", 3);
	}
	s->line = s->ok ? st.line : 0;
	s->flags = s->ok ? st.flags : 0;
	s->kind = TT_RSYM_SITE;
	s->poll = 0;
	s->resume = s->ok ? st.resume : 0;
	if (s->ok)
		s->addr = addr;
	return s;
}
