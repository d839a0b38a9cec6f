/* Memory sources for the reader: this process, another process, or
 * regions already in memory.  Every failure is a negative errno and a
 * partial read counts as a failure: a reader must never decode a half
 * copied record. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "reader/reader_priv.h"

/* ---- this process ---- */

/* Seccomp profiles (containers) sometimes forbid process_vm_readv; then
 * /proc/self/mem, opened once, is the fallback.  Both are safe in a signal
 * handler, unlike dereferencing a pointer we do not trust. */
static _Atomic int self_mem_fd = -1;

static int self_fd(void)
{
	int fd = atomic_load_explicit(&self_mem_fd, memory_order_acquire);
	int expect = -1;

	if (fd >= 0)
		return fd;
	fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!atomic_compare_exchange_strong(&self_mem_fd, &expect, fd)) {
		close(fd);
		fd = expect;
	}
	return fd;
}

static int pread_full(int fd, uint64_t addr, void *buf, size_t len)
{
	unsigned char *p = buf;

	/* pread takes a signed offset: the upper half is kernel space. */
	if (addr > (uint64_t)INT64_MAX || addr + len < addr ||
	    addr + len > (uint64_t)INT64_MAX)
		return -EFAULT;
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)addr);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		addr += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* PID's memory through process_vm_readv: 0, -errno, or 1 when the call
 * is forbidden here (seccomp) and /proc/PID/mem must do.  Preferred: it
 * copies straight into BUF, where a read of /proc/PID/mem goes through a
 * page-sized bounce buffer (2.4x the time for a registry's slots). */
static _Atomic int vm_broken;

static int vm_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	if (addr + len < addr || (addr >> 63))
		return -EFAULT;
	if (atomic_load_explicit(&vm_broken, memory_order_relaxed))
		return 1;
	struct iovec l = { buf, len };
	struct iovec rem = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &l, 1, &rem, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0) /* the range runs into a page that is not mapped */
		return -EFAULT;
	if (errno != EPERM && errno != ENOSYS)
		return -errno;
	atomic_store_explicit(&vm_broken, 1, memory_order_relaxed);
	return 1;
}

static int self_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	int saved = errno, rc;
	(void)ctx;

	if (!len)
		return 0;
	rc = vm_read(getpid(), addr, buf, len);
	if (rc == 1) {
		rc = self_fd();
		if (rc >= 0)
			rc = pread_full(rc, addr, buf, len);
	}
	errno = saved;
	return rc;
}

tt_mem tt_mem_self(void)
{
	return (tt_mem){ self_read, NULL };
}

/* ---- another process ---- */

/* Reads from this size on go through process_vm_readv (one more small
 * read proves whose memory it was); smaller ones through the fd, where
 * the bounce buffer costs nothing that matters. */
#define VM_READ_MIN (16u << 10)

static int pid_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const tt_mem_pid *p = ctx;
	int saved = errno, rc;

	if (!len)
		return 0;
	rc = len >= VM_READ_MIN ? vm_read(p->pid, addr, buf, len) : 1;
	if (rc == 0) {
		/* The pid names whichever process has it now; the fd, the one
		 * opened.  A byte read through the fd after the copy proves the
		 * copy was of that one: it still had its memory, so it held the
		 * pid all along. */
		unsigned char byte;
		rc = pread_full(p->fd, addr, &byte, 1);
	} else if (rc == 1) {
		rc = pread_full(p->fd, addr, buf, len);
	}
	errno = saved;
	return rc;
}

int tt_mem_pid_open(tt_mem_pid *p, pid_t pid, tt_mem *out)
{
	char path[32] = "/proc/";
	char digits[16];
	int n = 0, i = 6;
	unsigned long v = (unsigned long)pid;

	p->fd = -1;
	p->pid = pid;
	if (pid <= 0)
		return -ESRCH;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		path[i++] = digits[--n];
	memcpy(path + i, "/mem", 5);
	p->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->fd < 0)
		return -errno;
	out->read = pid_read;
	out->ctx = p;
	return 0;
}

void tt_mem_pid_close(tt_mem_pid *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

/* ---- regions in this process ---- */

static int image_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const tt_mem_image *img = ctx;

	if (addr + len < addr)
		return -EFAULT;
	for (size_t i = 0; i < img->count; i++) {
		const tt_mem_region *g = &img->regions[i];

		if (addr >= g->addr && addr - g->addr <= g->len &&
		    len <= g->len - (addr - g->addr)) {
			if (len)
				memcpy(buf, (const char *)g->data + (addr - g->addr),
				       len);
			return 0;
		}
	}
	return -EFAULT;
}

tt_mem tt_mem_image_source(tt_mem_image *img)
{
	return (tt_mem){ image_read, img };
}

/* ---- a cache in front of another source ---- */

#define PAGE_SHIFT_ 12
#define TAIL_ ((size_t)1 << PAGE_SHIFT_)

enum { WHOLE, NO_TAIL, PAGES }; /* what of a block is readable */

struct tt_mem_block {
	uint64_t tag;	/* block number + 1; 0 empty */
	uint64_t start; /* of the bytes held ... */
	uint32_t len;	/* ... and how many: the block and its tail, the block, a page, none */
	uint32_t shape; /* WHOLE, NO_TAIL, PAGES: kept across resets */
};

_Static_assert(sizeof(struct tt_mem_block) <= 32 && TAIL_ <= 4096,
	       "TT_MEM_CACHE_SIZE holds the blocks' records and tails");

static size_t stride_of(unsigned shift)
{
	return ((size_t)1 << shift) + TAIL_;
}

size_t tt_mem_cache_size(unsigned shift, unsigned nblocks)
{
	return (size_t)nblocks * (sizeof(struct tt_mem_block) + stride_of(shift));
}

/* Load what block BLK has into entry B: with the page after it, so that a
 * record across the block's end is no second read; without; or, at the
 * edge of a mapping, the page around ADDR. */
static void cache_load(tt_mem_cache *c, struct tt_mem_block *b, unsigned char *data, uint64_t blk,
		       uint64_t addr)
{
	size_t size = (size_t)1 << c->shift;

	b->start = blk << c->shift;
	b->len = 0;
	if (b->shape == WHOLE) {
		if (c->raw.read(c->raw.ctx, b->start, data, size + TAIL_) == 0) {
			b->len = (uint32_t)(size + TAIL_);
			return;
		}
		b->shape = NO_TAIL;
	}
	if (b->shape == NO_TAIL) {
		if (c->raw.read(c->raw.ctx, b->start, data, size) == 0) {
			b->len = (uint32_t)size;
			return;
		}
		b->shape = PAGES;
	}
	uint64_t page = addr >> PAGE_SHIFT_ << PAGE_SHIFT_;
	if (c->raw.read(c->raw.ctx, page, data + (page - b->start), TAIL_) == 0) {
		b->start = page;
		b->len = (uint32_t)TAIL_;
	}
}

/* A miss, a read the cache cannot hold, or a block held as one page. */
static int cache_fill(tt_mem_cache *c, uint64_t addr, void *buf, size_t len)
{
	uint64_t blk = addr >> c->shift;
	size_t i = (size_t)((blk ^ (blk >> 8)) & (c->nblocks - 1));
	struct tt_mem_block *b = &c->blocks[i];
	unsigned char *data = c->data + i * stride_of(c->shift);

	if (!len || addr + len < addr)
		return c->raw.read(c->raw.ctx, addr, buf, len);
	if (b->tag != blk + 1) {
		b->tag = blk + 1;
		b->shape = WHOLE;
		cache_load(c, b, data, blk, addr);
	} else if (addr - b->start >= b->len) {
		/* Reset, or another page of a block held a page at a time. */
		cache_load(c, b, data, blk, addr);
	}
	if (addr - b->start >= b->len || len > b->len - (addr - b->start))
		return c->raw.read(c->raw.ctx, addr, buf, len);
	memcpy(buf, data + (addr - (blk << c->shift)), len);
	return 0;
}

static int cache_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	tt_mem_cache *c = ctx;
	uint64_t blk = addr >> c->shift, off = addr & (((uint64_t)1 << c->shift) - 1);
	size_t i = (size_t)((blk ^ (blk >> 8)) & (c->nblocks - 1));
	const struct tt_mem_block *b = &c->blocks[i];

	/* The common case: a hit in a block held whole. */
	if (b->tag == blk + 1 && b->shape != PAGES && len && len <= b->len && off <= b->len - len) {
		memcpy(buf, c->data + i * stride_of(c->shift) + off, len);
		return 0;
	}
	return cache_fill(c, addr, buf, len);
}

int tt_mem_cache_init(tt_mem_cache *c, tt_mem raw, unsigned shift, unsigned nblocks, void *storage,
		      size_t size, tt_mem *out)
{
	memset(c, 0, sizeof(*c));
	if (shift < PAGE_SHIFT_ || shift > 24 || !nblocks || (nblocks & (nblocks - 1)) ||
	    !storage || ((uintptr_t)storage & 7) || size < tt_mem_cache_size(shift, nblocks))
		return -EINVAL;
	c->raw = raw;
	c->shift = shift;
	c->nblocks = nblocks;
	c->blocks = storage;
	c->data = (unsigned char *)storage + (size_t)nblocks * sizeof(*c->blocks);
	memset(c->blocks, 0, (size_t)nblocks * sizeof(*c->blocks));
	*out = (tt_mem){ cache_read, c };
	return 0;
}

void tt_mem_cache_reset(tt_mem_cache *c)
{
	/* The bytes are forgotten, not what of a block is readable: that
	 * spares a failed read at the edge of a mapping at every reset. */
	for (unsigned i = 0; i < c->nblocks; i++)
		c->blocks[i].len = 0;
}
