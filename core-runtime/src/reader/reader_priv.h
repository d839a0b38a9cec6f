/* Internals shared by the reader's core (reader.c, reader_walk.c), its
 * names (reader_names.c) and the snapshot layer.  Nothing here allocates
 * or touches stdio: the core must stay async-signal-safe. */
#ifndef TASKTRACE_READER_PRIV_H
#define TASKTRACE_READER_PRIV_H

#include <stdarg.h>
#include <string.h>

#include "tasktrace/read/reader.h"

#define TT_HIDDEN __attribute__((visibility("hidden")))

/* Largest record the core copies onto the stack.  TASK may be bigger than
 * the others because runtimes keep per-task stats in the slot. */
#define TT_R_TASK_MAX 4096u
#define TT_R_RECORD_MAX 1024u
#define TT_R_ALIGN 8u
/* Unreadable slots in a row before the rest of their chunk is given up:
 * a slot count read from junk (2^26 slots) must cost 64 failed reads, not
 * millions, and one error line, not one per slot. */
#define TT_R_BAD_RUN 64u

/* Little-endian integer of the field's size out of a local copy of a
 * record; 0 when the layout table lacks the field. */
static inline uint64_t tt_r_get(const void *rec, tt_field f)
{
	const unsigned char *p = (const unsigned char *)rec + f.offset;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	/* memcpy keeps unaligned loads legal; the swaps only exist on a
	 * big-endian host reading a little-endian registry. */
	switch (f.size) {
	case 1: return p[0];
	case 2:
		memcpy(&v16, p, 2);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		v16 = __builtin_bswap16(v16);
#endif
		return v16;
	case 4:
		memcpy(&v32, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		v32 = __builtin_bswap32(v32);
#endif
		return v32;
	case 8:
		memcpy(&v64, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		v64 = __builtin_bswap64(v64);
#endif
		return v64;
	}
	return 0;
}

/* The same, sign-extended from the field's width. */
static inline int64_t tt_r_get_s(const void *rec, tt_field f)
{
	uint64_t v = tt_r_get(rec, f);

	if (f.size == 0 || f.size >= 8)
		return (int64_t)v;
	unsigned shift = 64 - 8 * f.size;
	return (int64_t)(v << shift) >> shift;
}

/* Read LEN bytes at ADDR; on failure set r->err ("WHAT 0x..: unreadable
 * (reason)") and return TT_R_UNREADABLE. */
TT_HIDDEN int tt_r_read(tt_reader *r, uint64_t addr, void *buf, size_t len,
			const char *what);

/* LEN bytes at ADDR: a pointer into the reader's view when it has one
 * covering them, else a copy in BUF (LEN bytes).  NULL on failure, with
 * r->err set as tt_r_read sets it. */
static inline const unsigned char *tt_r_fetch(tt_reader *r, uint64_t addr,
					      void *buf, size_t len,
					      const char *what)
{
	if (r->view_ && len && addr + len >= addr) {
		const void *p = r->view_(r->view_ctx_, addr, len);
		if (p)
			return (const unsigned char *)p;
	}
	return tt_r_read(r, addr, buf, len, what) ? NULL :
						     (const unsigned char *)buf;
}

/* Forget the cached FUNC and SITE records. */
static inline void tt_r_cache_clear(tt_reader *r)
{
	memset(r->func_cache_, 0, sizeof(r->func_cache_));
	memset(r->site_cache_, 0, sizeof(r->site_cache_));
}

static inline unsigned tt_r_cache_ix(uint64_t addr)
{
	return (unsigned)((addr >> 3) ^ (addr >> 8) ^ (addr >> 13)) &
	       (TT_READER_CACHE - 1);
}

/* printf-like into r->err without stdio.  Conversions: %s string, %d int,
 * %u unsigned, %U uint64_t decimal, %X uint64_t as 0x-hex, %E an errno
 * value (sign ignored) as its text, %% a percent sign.  Returns CODE. */
TT_HIDDEN int tt_r_errf(tt_reader *r, int code, const char *fmt, ...);
TT_HIDDEN size_t tt_r_vfmt(char *buf, size_t len, const char *fmt, va_list ap);

/* Names of record types and fields for messages ("task", "seq"). */
TT_HIDDEN const char *tt_r_record_name(int rec);
TT_HIDDEN const char *tt_r_field_name(int rec, int field);
TT_HIDDEN const char *tt_r_errno_text(int err);

#endif
