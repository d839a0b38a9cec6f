#include <stdlib.h>
#include <string.h>

#include "reg_image.h"

#define WAIT0 IMG_FRAME_SIZE

/* {record, field, offset, size}: the order within records is shuffled
 * and several sizes differ from the runtime's. */
static const tt_layout_entry rows[] = {
	{ TT_REC_ROOT, TT_ROOT_CHUNK_COUNT, 40, 4 },
	{ TT_REC_ROOT, TT_ROOT_CHUNKS, 48, 8 },
	{ TT_REC_ROOT, TT_ROOT_CHUNK_CAPACITY, 56, 4 },
	{ TT_REC_ROOT, TT_ROOT_WORKERS, 64, 8 },
	{ TT_REC_ROOT, TT_ROOT_WORKER_COUNT, 72, 4 },
	{ TT_REC_ROOT, TT_ROOT_WORKER_CAPACITY, 76, 4 },
	{ TT_REC_ROOT, TT_ROOT_NOW_NS, 80, 8 },
	{ TT_REC_ROOT, TT_ROOT_RUNTIME_NAME, 88, 8 },
	{ TT_REC_ROOT, TT_ROOT_TASKS_LIVE, 96, 8 },
	{ TT_REC_ROOT, TT_ROOT_NEXT_TASK_ID, 104, 8 },
	{ TT_REC_ROOT, TT_ROOT_PID, 112, 4 },
	{ TT_REC_ROOT, TT_ROOT_FLAGS, 116, 4 },
	{ TT_REC_ROOT, TT_ROOT_FOREIGN_RING, 120, 8 },
	{ 99, 1, 0, 8 }, /* a record from the future: ignored */
	{ TT_REC_CHUNK, 0, 0, 24 },
	{ TT_REC_CHUNK, TT_CHUNK_SLOT_COUNT, 0, 4 },
	{ TT_REC_CHUNK, TT_CHUNK_SLOTS, 8, 8 },
	{ TT_REC_CHUNK, TT_CHUNK_FIRST_INDEX, 16, 8 },
	{ TT_REC_TASK, 0, 0, IMG_TASK_SIZE },
	{ TT_REC_TASK, TT_TASK_STATE, 0, 1 },
	{ TT_REC_TASK, TT_TASK_SEQ, 4, 4 },
	{ TT_REC_TASK, TT_TASK_ID, 8, 8 },
	{ TT_REC_TASK, TT_TASK_NAME, 16, 32 },
	{ TT_REC_TASK, TT_TASK_ROOT_FRAME, 48, 8 },
	{ TT_REC_TASK, TT_TASK_SPAWN_SITE, 56, 8 },
	{ TT_REC_TASK, TT_TASK_PARENT_ID, 64, 8 },
	{ TT_REC_TASK, TT_TASK_WORKER, 72, 2 },
	{ TT_REC_TASK, TT_TASK_FLAGS, 74, 2 },
	{ TT_REC_TASK, TT_TASK_POLLS, 80, 8 },
	{ TT_REC_TASK, TT_TASK_WAKERS, 88, 4 },
	{ TT_REC_TASK, 200, 96, 8 }, /* a field from the future: ignored */
	/* Labels: two LABEL records of 7 bytes, value before key (104..112
	 * stays free for test_layout_is_used). */
	{ TT_REC_TASK, TT_TASK_LABEL_COUNT, 112, 2 },
	{ TT_REC_TASK, TT_TASK_LABELS, 114, 14 },
	/* The stamps and counters readers derive others from. */
	{ TT_REC_TASK, TT_TASK_POLL_START_NS, 128, 8 },
	{ TT_REC_TASK, TT_TASK_POLL_END_NS, 136, 8 },
	{ TT_REC_TASK, TT_TASK_WAKE_NS, 144, 8 },
	{ TT_REC_TASK, TT_TASK_SELF_WAKES, 152, 8 },
	{ TT_REC_LABEL, 0, 0, 7 },
	{ TT_REC_LABEL, TT_LABEL_VALUE, 0, 4 },
	{ TT_REC_LABEL, TT_LABEL_KEY, 4, 3 },
	{ TT_REC_FRAME, 0, 0, IMG_FRAME_SIZE },
	{ TT_REC_FRAME, TT_FRAME_SIBLING, 0, 8 },
	{ TT_REC_FRAME, TT_FRAME_CHILD, 8, 8 },
	{ TT_REC_FRAME, TT_FRAME_SITE, 16, 8 },
	{ TT_REC_FRAME, TT_FRAME_FUNC, 24, 8 },
	{ TT_REC_WAIT, 0, 0, IMG_LEAF_SIZE },
	{ TT_REC_WAIT, TT_WAIT_KIND, WAIT0 + 4, 2 },
	{ TT_REC_WAIT, TT_WAIT_OWNER, WAIT0 + 8, 8 },
	{ TT_REC_WAIT, TT_WAIT_OBJECT, WAIT0 + 16, 8 },
	{ TT_REC_WAIT, TT_WAIT_DETAIL, WAIT0 + 24, 8 },
	{ TT_REC_WAIT, TT_WAIT_SINCE_NS, WAIT0 + 32, 8 },
	{ TT_REC_WAIT, TT_WAIT_NAME, WAIT0 + 40, 8 },
	{ TT_REC_WAIT, TT_WAIT_HOLDERS, WAIT0 + 48, 8 },
	{ TT_REC_HOLDERS, 0, 0, 48 },
	{ TT_REC_HOLDERS, TT_HOLDERS_COUNT, 0, 2 },
	{ TT_REC_HOLDERS, TT_HOLDERS_FLAGS, 2, 2 },
	{ TT_REC_HOLDERS, TT_HOLDERS_SEQ, 4, 4 },
	{ TT_REC_HOLDERS, TT_HOLDERS_LAST, 8, 8 },
	{ TT_REC_HOLDERS, TT_HOLDERS_IDS, 16, 32 },
	{ TT_REC_SITE, 0, 0, 32 },
	{ TT_REC_SITE, TT_SITE_LINE, 0, 4 },
	{ TT_REC_SITE, TT_SITE_FLAGS, 4, 4 },
	{ TT_REC_SITE, TT_SITE_FILE, 8, 8 },
	{ TT_REC_SITE, TT_SITE_FUNCTION, 16, 8 },
	{ TT_REC_SITE, TT_SITE_RESUME, 24, 8 },
	{ TT_REC_FUNC, 0, 0, 40 },
	{ TT_REC_FUNC, TT_FUNC_KIND, 0, 1 },
	{ TT_REC_FUNC, TT_FUNC_LINE, 4, 4 },
	{ TT_REC_FUNC, TT_FUNC_NAME, 8, 8 },
	{ TT_REC_FUNC, TT_FUNC_FILE, 16, 8 },
	{ TT_REC_FUNC, TT_FUNC_TYPE_NAME, 24, 8 },
	{ TT_REC_FUNC, TT_FUNC_FRAME_SIZE, 32, 4 },
	{ TT_REC_WORKER, 0, 0, 32 },
	{ TT_REC_WORKER, TT_WORKER_TID, 0, 4 },
	{ TT_REC_WORKER, TT_WORKER_INDEX, 4, 4 },
	{ TT_REC_WORKER, TT_WORKER_STATE, 8, 1 },
	{ TT_REC_WORKER, TT_WORKER_TASK_ID, 16, 8 },
	{ TT_REC_WORKER, TT_WORKER_TASK, 24, 8 },
	{ TT_REC_RING, 0, 0, 32 },
	{ TT_REC_RING, TT_RING_CAPACITY, 0, 8 },
	{ TT_REC_RING, TT_RING_HEAD, 8, 8 },
	{ TT_REC_RING, TT_RING_EVENTS, 16, 8 },
	{ TT_REC_RING, TT_RING_WORKER, 24, 4 },
	{ TT_REC_EVENT, 0, 0, 64 },
	{ TT_REC_EVENT, TT_EVENT_KIND, 0, 4 },
	{ TT_REC_EVENT, TT_EVENT_ARG3, 4, 4 },
	{ TT_REC_EVENT, TT_EVENT_SEQ, 8, 8 },
	{ TT_REC_EVENT, TT_EVENT_TASK, 16, 8 },
	{ TT_REC_EVENT, TT_EVENT_STAMP_NS, 24, 8 },
	{ TT_REC_EVENT, TT_EVENT_ARG1, 32, 8 },
	{ TT_REC_EVENT, TT_EVENT_ARG2, 40, 8 },
	{ TT_REC_EVENT, TT_EVENT_START_NS, 48, 8 },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static void put(unsigned char *p, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static const tt_layout_entry *row_of(int rec, int field)
{
	for (size_t i = 0; i < NROWS; i++)
		if (rows[i].record == rec && rows[i].field == field)
			return &rows[i];
	abort();
}

unsigned img_off(int rec, int field)
{
	return row_of(rec, field)->offset;
}

static void init_at(img *g, size_t heap_size, int real)
{
	memset(g, 0, sizeof(*g));
	g->heap = calloc(1, heap_size);
	if (!g->heap)
		abort();
	g->heap_size = heap_size;
	g->root_addr = real ? (uintptr_t)g->root : IMG_ROOT_ADDR;
	g->heap_addr = real ? (uintptr_t)g->heap : IMG_HEAP_ADDR;
	put(g->root, TT_REGISTRY_MAGIC, 8);
	put(g->root + 8, TT_REGISTRY_ABI_VERSION, 4);
	put(g->root + 12, IMG_ROOT_SIZE, 4);
	g->root[16] = 8;
	g->root[17] = 1;
	put(g->root + 18, NROWS, 2);
	put(g->root + 20, IMG_LAYOUT_OFF, 4);
	for (size_t i = 0; i < NROWS; i++) {
		unsigned char *p = g->root + IMG_LAYOUT_OFF + 8 * i;
		put(p, rows[i].record, 2);
		put(p + 2, rows[i].field, 2);
		put(p + 4, rows[i].offset, 2);
		put(p + 6, rows[i].size, 2);
	}
	g->nrows = NROWS;
	g->chunks = img_alloc(g, 8 * IMG_MAX_CHUNKS);
	img_set(g, TT_REC_ROOT, TT_ROOT_CHUNKS, IMG_ROOT_ADDR, g->chunks);
	img_set(g, TT_REC_ROOT, TT_ROOT_CHUNK_CAPACITY, IMG_ROOT_ADDR,
		IMG_MAX_CHUNKS);
	img_set(g, TT_REC_ROOT, TT_ROOT_RUNTIME_NAME, IMG_ROOT_ADDR,
		img_str(g, "testrt"));
	img_set(g, TT_REC_ROOT, TT_ROOT_NOW_NS, IMG_ROOT_ADDR, 5000000000ull);
	img_set(g, TT_REC_ROOT, TT_ROOT_PID, IMG_ROOT_ADDR, 4242);
}

void img_init(img *g, size_t heap_size)
{
	init_at(g, heap_size, 0);
}

void img_init_real(img *g, size_t heap_size)
{
	init_at(g, heap_size, 1);
}

void img_free(img *g)
{
	free(g->heap);
	g->heap = NULL;
}

void img_copy(img *dst, const img *src)
{
	*dst = *src;
	dst->heap = malloc(src->heap_size);
	memcpy(dst->heap, src->heap, src->heap_size);
}

tt_mem img_mem(img *g)
{
	g->regs[0] = (tt_mem_region){ g->root_addr, g->root, IMG_ROOT_CAP };
	g->regs[1] = (tt_mem_region){ g->heap_addr, g->heap, g->heap_size };
	g->mi.regions = g->regs;
	g->mi.count = 2;
	return tt_mem_image_source(&g->mi);
}

static int counted_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	img_counted *c = ctx;

	c->reads++;
	return c->inner.read(c->inner.ctx, addr, buf, len);
}

tt_mem img_counted_mem(img_counted *c)
{
	return (tt_mem){ counted_read, c };
}

uint64_t img_alloc(img *g, size_t n)
{
	uint64_t a = g->heap_addr + g->used;

	g->used = (g->used + n + 7) & ~(size_t)7;
	if (g->used > g->heap_size)
		abort();
	return a;
}

/* IMG_ROOT_ADDR always names the root, also in a real image. */
void *img_ptr(img *g, uint64_t addr)
{
	if (addr >= IMG_ROOT_ADDR && addr < IMG_ROOT_ADDR + IMG_ROOT_CAP)
		return g->root + (addr - IMG_ROOT_ADDR);
	if (addr >= g->root_addr && addr < g->root_addr + IMG_ROOT_CAP)
		return g->root + (addr - g->root_addr);
	if (addr >= g->heap_addr && addr < g->heap_addr + g->heap_size)
		return g->heap + (addr - g->heap_addr);
	abort();
}

void img_w(img *g, uint64_t addr, uint64_t v, unsigned size)
{
	put(img_ptr(g, addr), v, size);
}

uint64_t img_r(img *g, uint64_t addr, unsigned size)
{
	const unsigned char *p = img_ptr(g, addr);
	uint64_t v = 0;

	for (unsigned i = size; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

void img_set(img *g, int rec, int field, uint64_t addr, uint64_t v)
{
	const tt_layout_entry *e = row_of(rec, field);

	img_w(g, addr + e->offset, v, e->size);
}

uint64_t img_get(img *g, int rec, int field, uint64_t addr)
{
	const tt_layout_entry *e = row_of(rec, field);

	return img_r(g, addr + e->offset, e->size);
}

tt_layout_entry *img_row(img *g, int rec, int field)
{
	for (size_t i = 0; i < NROWS; i++)
		if (rows[i].record == rec && rows[i].field == field)
			return (tt_layout_entry *)(g->root + IMG_LAYOUT_OFF +
						   8 * i);
	abort();
}

uint64_t img_str(img *g, const char *s)
{
	size_t n = strlen(s) + 1;
	uint64_t a = img_alloc(g, n);

	memcpy(img_ptr(g, a), s, n);
	return a;
}

uint64_t img_site(img *g, const char *fn, const char *file, uint32_t line,
		  uint32_t flags)
{
	uint64_t a = img_alloc(g, 32);

	img_set(g, TT_REC_SITE, TT_SITE_FUNCTION, a, fn ? img_str(g, fn) : 0);
	img_set(g, TT_REC_SITE, TT_SITE_FILE, a, file ? img_str(g, file) : 0);
	img_set(g, TT_REC_SITE, TT_SITE_LINE, a, line);
	img_set(g, TT_REC_SITE, TT_SITE_FLAGS, a, flags);
	img_set(g, TT_REC_SITE, TT_SITE_RESUME, a, 0x401000 + line);
	return a;
}

uint64_t img_func(img *g, const char *name, uint32_t kind)
{
	uint64_t a = img_alloc(g, 40);

	img_set(g, TT_REC_FUNC, TT_FUNC_NAME, a, img_str(g, name));
	img_set(g, TT_REC_FUNC, TT_FUNC_FILE, a, img_str(g, "src/x.c"));
	img_set(g, TT_REC_FUNC, TT_FUNC_TYPE_NAME, a, img_str(g, name));
	img_set(g, TT_REC_FUNC, TT_FUNC_KIND, a, kind);
	img_set(g, TT_REC_FUNC, TT_FUNC_LINE, a, 7);
	img_set(g, TT_REC_FUNC, TT_FUNC_FRAME_SIZE, a, IMG_LEAF_SIZE);
	return a;
}

uint64_t img_frame(img *g, uint64_t func, uint64_t site, uint64_t child,
		   uint64_t sibling)
{
	uint64_t a = img_alloc(g, IMG_LEAF_SIZE);

	img_set(g, TT_REC_FRAME, TT_FRAME_FUNC, a, func);
	img_set(g, TT_REC_FRAME, TT_FRAME_SITE, a, site);
	img_set(g, TT_REC_FRAME, TT_FRAME_CHILD, a, child);
	img_set(g, TT_REC_FRAME, TT_FRAME_SIBLING, a, sibling);
	return a;
}

void img_wait(img *g, uint64_t frame, uint32_t kind, uint64_t object,
	      uint64_t owner, uint64_t detail)
{
	img_set(g, TT_REC_WAIT, TT_WAIT_KIND, frame, kind);
	img_set(g, TT_REC_WAIT, TT_WAIT_OBJECT, frame, object);
	img_set(g, TT_REC_WAIT, TT_WAIT_OWNER, frame, owner);
	img_set(g, TT_REC_WAIT, TT_WAIT_DETAIL, frame, detail);
	img_set(g, TT_REC_WAIT, TT_WAIT_SINCE_NS, frame, 1000);
}

uint64_t img_holders(img *g, const uint64_t *ids, uint32_t n, uint32_t flags)
{
	uint64_t a = img_alloc(g, 48);

	img_set(g, TT_REC_HOLDERS, TT_HOLDERS_COUNT, a, n);
	img_set(g, TT_REC_HOLDERS, TT_HOLDERS_FLAGS, a, flags);
	img_set(g, TT_REC_HOLDERS, TT_HOLDERS_SEQ, a, 2);
	for (uint32_t i = 0; i < n && i < 4; i++)
		img_w(g, a + img_off(TT_REC_HOLDERS, TT_HOLDERS_IDS) + 8 * i, ids[i], 8);
	return a;
}

void img_wait_holders(img *g, uint64_t frame, uint64_t holders)
{
	img_set(g, TT_REC_WAIT, TT_WAIT_HOLDERS, frame, holders);
}

uint64_t img_chunk(img *g, uint32_t nslots)
{
	uint64_t n = img_get(g, TT_REC_ROOT, TT_ROOT_CHUNK_COUNT, IMG_ROOT_ADDR);
	uint64_t first = 0;
	uint64_t slots = img_alloc(g, (size_t)nslots * IMG_TASK_SIZE);
	uint64_t c = img_alloc(g, 24);

	for (uint64_t i = 0; i < n; i++) {
		uint64_t prev = img_r(g, g->chunks + 8 * i, 8);
		first += img_get(g, TT_REC_CHUNK, TT_CHUNK_SLOT_COUNT, prev);
	}
	img_set(g, TT_REC_CHUNK, TT_CHUNK_SLOTS, c, slots);
	img_set(g, TT_REC_CHUNK, TT_CHUNK_SLOT_COUNT, c, nslots);
	img_set(g, TT_REC_CHUNK, TT_CHUNK_FIRST_INDEX, c, first);
	img_w(g, g->chunks + 8 * n, c, 8);
	img_set(g, TT_REC_ROOT, TT_ROOT_CHUNK_COUNT, IMG_ROOT_ADDR, n + 1);
	return slots;
}

uint64_t img_ring(img *g, uint32_t capacity)
{
	uint64_t ring = img_alloc(g, 32);

	img_set(g, TT_REC_RING, TT_RING_CAPACITY, ring, capacity);
	img_set(g, TT_REC_RING, TT_RING_EVENTS, ring, img_alloc(g, (size_t)capacity * 64));
	img_set(g, TT_REC_RING, TT_RING_WORKER, ring, (uint32_t)-1);
	img_set(g, TT_REC_ROOT, TT_ROOT_FOREIGN_RING, IMG_ROOT_ADDR, ring);
	return ring;
}

void img_event(img *g, uint64_t ring, uint64_t pos, uint32_t kind, uint64_t stamp,
	       uint64_t task, uint64_t a1, uint64_t a2, uint32_t a3, uint64_t start)
{
	uint64_t cap = img_get(g, TT_REC_RING, TT_RING_CAPACITY, ring);
	uint64_t e = img_get(g, TT_REC_RING, TT_RING_EVENTS, ring) + (pos % cap) * 64;

	img_set(g, TT_REC_EVENT, TT_EVENT_KIND, e, kind);
	img_set(g, TT_REC_EVENT, TT_EVENT_STAMP_NS, e, stamp);
	img_set(g, TT_REC_EVENT, TT_EVENT_TASK, e, task);
	img_set(g, TT_REC_EVENT, TT_EVENT_ARG1, e, a1);
	img_set(g, TT_REC_EVENT, TT_EVENT_ARG2, e, a2);
	img_set(g, TT_REC_EVENT, TT_EVENT_ARG3, e, a3);
	img_set(g, TT_REC_EVENT, TT_EVENT_START_NS, e, start);
	img_set(g, TT_REC_EVENT, TT_EVENT_SEQ, e, 2 * pos + 2);
	if (img_get(g, TT_REC_RING, TT_RING_HEAD, ring) <= pos)
		img_set(g, TT_REC_RING, TT_RING_HEAD, ring, pos + 1);
}

uint64_t img_slot(uint64_t slots, uint32_t i)
{
	return slots + (uint64_t)i * IMG_TASK_SIZE;
}

void img_task(img *g, uint64_t slot, uint64_t id, const char *name,
	      uint32_t state, uint64_t root_frame)
{
	unsigned char *p = img_ptr(g, slot + img_off(TT_REC_TASK, TT_TASK_NAME));

	img_set(g, TT_REC_TASK, TT_TASK_ID, slot, id);
	img_set(g, TT_REC_TASK, TT_TASK_SEQ, slot, 2 * id);
	img_set(g, TT_REC_TASK, TT_TASK_STATE, slot, state);
	img_set(g, TT_REC_TASK, TT_TASK_ROOT_FRAME, slot, root_frame);
	img_set(g, TT_REC_TASK, TT_TASK_WORKER, slot, 0xffff);
	memset(p, 0, 32);
	strncpy((char *)p, name, 31);
	uint64_t live = img_get(g, TT_REC_ROOT, TT_ROOT_TASKS_LIVE, IMG_ROOT_ADDR);
	img_set(g, TT_REC_ROOT, TT_ROOT_TASKS_LIVE, IMG_ROOT_ADDR, live + 1);
	/* A consistent registry has handed out every id it holds. */
	if (img_get(g, TT_REC_ROOT, TT_ROOT_NEXT_TASK_ID, IMG_ROOT_ADDR) <= id)
		img_set(g, TT_REC_ROOT, TT_ROOT_NEXT_TASK_ID, IMG_ROOT_ADDR, id + 1);
}
