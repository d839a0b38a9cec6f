/* Internals of libtasktrace-sym shared by its files: the session, the
 * core file image, and the per-CU inline tables. */
#ifndef TASKTRACE_SYM_PRIV_H
#define TASKTRACE_SYM_PRIV_H

#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <stdarg.h>

#include "tasktrace/read/sym.h"

#define SYM_HIDDEN __attribute__((visibility("hidden")))

/* One PT_LOAD of a core: [vaddr, vaddr + memsz) of the process, of which
 * the first filesz bytes are in the core at offset. */
typedef struct core_seg {
	uint64_t vaddr, memsz, offset, filesz;
} core_seg;

typedef struct core_image {
	int fd;
	Elf *elf;
	uint64_t size; /* of the core file */
	const unsigned char *map; /* the whole file, read-only */
	core_seg *segs; /* sorted by vaddr */
	size_t nsegs;
	pid_t pid;      /* from NT_PRPSINFO / NT_PRSTATUS */
	uint64_t entry; /* AT_ENTRY from NT_AUXV: in the executable; 0 unknown */
} core_image;

/* A subprogram or inlined call covering [lo, hi) in a CU's table. */
typedef struct cu_range {
	uint64_t lo, hi;   /* module-relative (DWARF) addresses */
	uint32_t node;     /* index into the CU's nodes */
} cu_range;

typedef struct cu_node {
	const char *name;      /* function name (abstract origin followed) */
	const char *call_file; /* where this inline was called from */
	uint32_t call_line, call_column;
	int32_t parent;        /* enclosing node, -1 for a subprogram */
	uint32_t depth;
	int inlined;           /* DW_TAG_inlined_subroutine */
} cu_node;

typedef struct cu_table {
	Dwfl_Module *mod;
	uint64_t cu_off; /* the CU DIE's offset: the cache key with mod */
	cu_range *ranges; /* sorted by lo, then depth */
	size_t nranges;
	cu_node *nodes;
	size_t nnodes;
} cu_table;

typedef struct cu_cache {
	cu_table **slots; /* open addressing by (mod, cu_off) */
	size_t cap, n;
} cu_cache;

/* A module's function symbols sorted by address: dwfl_module_addrinfo
 * scans the whole table on every call. */
typedef struct sym_entry {
	uint64_t addr, size;
	const char *name;
} sym_entry;

typedef struct sym_table {
	Dwfl_Module *mod;
	sym_entry *v;
	size_t n;
	struct sym_table *next;
} sym_table;

struct tt_sym {
	int kind;
	pid_t pid;
	Dwfl *dwfl;
	Dwfl_Callbacks cb;
	char *debuginfo_path;
	int attached;    /* threads can be unwound */
	tt_mem_pid mp;   /* TT_SYM_PID */
	tt_mem pmem;     /* its reader */
	core_image core; /* TT_SYM_CORE */
	int exe_fd;      /* TT_SYM_EXE */
	cu_cache cus;
	sym_table *syms; /* one per module looked up, a short list */
};

SYM_HIDDEN void sym_err(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A build-id as lowercase hex into OUT (CAP bytes, cut short to fit). */
SYM_HIDDEN void sym_hex(char *out, size_t cap, const unsigned char *id, size_t n);

/* Open and check a core (ELF, ET_CORE, not truncated); its segments. */
SYM_HIDDEN int core_open(core_image *c, const char *path, char *err,
			 size_t errlen);
SYM_HIDDEN void core_close(core_image *c);
/* tt_read_mem_fn over a core session (ctx is the tt_sym). */
SYM_HIDDEN int core_read(void *ctx, uint64_t addr, void *buf, size_t len);
/* The GNU build-id of ELF into BUF; its length, 0 when none. */
SYM_HIDDEN size_t elf_build_id(Elf *elf, unsigned char *buf, size_t cap);

SYM_HIDDEN void cu_cache_free(cu_cache *c);
SYM_HIDDEN void sym_tables_free(tt_sym *s);

/* Are A and B in the same module of the session? */
SYM_HIDDEN int tt_sym_same_module(tt_sym *s, uint64_t a, uint64_t b);

#endif
