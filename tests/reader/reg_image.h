/* Synthetic registry images for the reader tests.  The layout is our own,
 * deliberately unlike the runtime's struct order (fields shuffled, odd
 * sizes), to prove the reader takes every offset from the table. */
#ifndef TT_TEST_REG_IMAGE_H
#define TT_TEST_REG_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "tasktrace/read/reader.h"

#define IMG_ROOT_ADDR 0x7f0000100000ull
#define IMG_HEAP_ADDR 0x7f0000200000ull
#define IMG_ROOT_SIZE 1024u /* the root_size the header says */
#define IMG_ROOT_CAP 4096u  /* the root's memory: room for a later writer's larger root */
#define IMG_LAYOUT_OFF 128u
#define IMG_TASK_SIZE 160u
#define IMG_FRAME_SIZE 40u
#define IMG_LEAF_SIZE 96u
#define IMG_MAX_CHUNKS 8u

typedef struct img {
	unsigned char root[IMG_ROOT_CAP];
	unsigned char *heap;
	size_t heap_size, used;
	unsigned nrows;
	uint64_t chunks; /* chunk pointer array */
	uint64_t root_addr, heap_addr; /* where the reader sees them */
	tt_mem_region regs[2];
	tt_mem_image mi;
} img;

void img_init(img *g, size_t heap_size);
/* The same at the buffers' real addresses, for reading with tt_mem_self. */
void img_init_real(img *g, size_t heap_size);
void img_free(img *g);
/* A deep copy (for mutating a pristine image). */
void img_copy(img *dst, const img *src);
tt_mem img_mem(img *g);

/* A memory source that counts the reads it passes on to INNER: how many
 * reads a reader spends is what some tests assert. */
typedef struct img_counted {
	tt_mem inner;
	size_t reads;
} img_counted;
tt_mem img_counted_mem(img_counted *c);

uint64_t img_alloc(img *g, size_t n);
void *img_ptr(img *g, uint64_t addr);
void img_w(img *g, uint64_t addr, uint64_t v, unsigned size);
uint64_t img_r(img *g, uint64_t addr, unsigned size);
/* Field FIELD of record REC at ADDR, by the image's layout. */
void img_set(img *g, int rec, int field, uint64_t addr, uint64_t v);
uint64_t img_get(img *g, int rec, int field, uint64_t addr);
unsigned img_off(int rec, int field);
/* The layout row of (REC, FIELD) inside the root, for corrupting it. */
tt_layout_entry *img_row(img *g, int rec, int field);

uint64_t img_str(img *g, const char *s);
uint64_t img_site(img *g, const char *fn, const char *file, uint32_t line,
		  uint32_t flags);
uint64_t img_func(img *g, const char *name, uint32_t kind);
uint64_t img_frame(img *g, uint64_t func, uint64_t site, uint64_t child,
		   uint64_t sibling);
void img_wait(img *g, uint64_t frame, uint32_t kind, uint64_t object,
	      uint64_t owner, uint64_t detail);
/* A flight recorder ring of CAPACITY events, published as the root's
 * foreign ring; returns its record's address. */
uint64_t img_ring(img *g, uint32_t capacity);
/* Event POS of RING, whole (its seq set), the ring's head past it. */
void img_event(img *g, uint64_t ring, uint64_t pos, uint32_t kind, uint64_t stamp,
	       uint64_t task, uint64_t a1, uint64_t a2, uint32_t a3, uint64_t start);
/* A chunk of NSLOTS free slots appended to the registry; returns the
 * address of its first slot. */
/* A HOLDERS record naming IDS (N of them, at most 4) with FLAGS, and
 * the wait of leaf FRAME pointing to it. */
uint64_t img_holders(img *g, const uint64_t *ids, uint32_t n, uint32_t flags);
void img_wait_holders(img *g, uint64_t frame, uint64_t holders);
uint64_t img_chunk(img *g, uint32_t nslots);
uint64_t img_slot(uint64_t slots, uint32_t i);
void img_task(img *g, uint64_t slot, uint64_t id, const char *name,
	      uint32_t state, uint64_t root_frame);

#endif
