/* PC -> inline chain, file, line and column.
 *
 * libdw answers "which CU covers this address" (aranges) and "which line"
 * (the CU's line table, parsed once and cached by libdw).  Which functions
 * are inlined at an address is a walk of the CU's DIE tree
 * (dwarf_getscopes), repeated for every lookup.  We do that walk once per
 * CU instead: every subprogram and inlined call with its address ranges
 * and call site goes into a table sorted by start address, so a lookup is
 * a binary search and a short walk up parent links.  Tables live for the
 * session, keyed by module and CU offset. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdlib.h>
#include <string.h>

#include "sym/sym_priv.h"

#define MAX_NESTING 256  /* DIE depth we follow: hostile DWARF stays bounded */
#define MAX_SCAN 65536   /* ranges looked at backwards before giving up */

/* ---- building a CU's table ---- */

typedef struct build {
	cu_table *t;
	size_t rcap, ncap;
	Dwarf_Files *files;
	size_t nfiles;
	int oom;
} build;

static int push_node(build *b, const cu_node *n)
{
	if (b->t->nnodes == b->ncap) {
		size_t cap = b->ncap ? 2 * b->ncap : 64;
		cu_node *p = realloc(b->t->nodes, cap * sizeof(*p));
		if (!p)
			return -1;
		b->t->nodes = p;
		b->ncap = cap;
	}
	b->t->nodes[b->t->nnodes] = *n;
	return (int)b->t->nnodes++;
}

static int push_range(build *b, uint64_t lo, uint64_t hi, uint32_t node)
{
	if (b->t->nranges == b->rcap) {
		size_t cap = b->rcap ? 2 * b->rcap : 64;
		cu_range *p = realloc(b->t->ranges, cap * sizeof(*p));
		if (!p)
			return -1;
		b->t->ranges = p;
		b->rcap = cap;
	}
	b->t->ranges[b->t->nranges++] = (cu_range){ lo, hi, node };
	return 0;
}

static uint32_t attr_u32(Dwarf_Die *die, unsigned name)
{
	Dwarf_Attribute a;
	Dwarf_Word v;

	if (!dwarf_attr(die, name, &a) || dwarf_formudata(&a, &v) != 0)
		return 0;
	return (uint32_t)v;
}

static void add_function(build *b, Dwarf_Die *die, int tag, int32_t parent,
			 uint32_t depth);

static void walk(build *b, Dwarf_Die *die, int32_t parent, uint32_t depth)
{
	Dwarf_Die child;

	if (depth > MAX_NESTING || b->oom || dwarf_child(die, &child) != 0)
		return;
	do {
		int tag = dwarf_tag(&child);
		switch (tag) {
		case DW_TAG_subprogram:
		case DW_TAG_inlined_subroutine:
			add_function(b, &child, tag, parent, depth);
			break;
		/* Scopes that hold functions without being frames. */
		case DW_TAG_lexical_block:
		case DW_TAG_try_block:
		case DW_TAG_catch_block:
		case DW_TAG_namespace:
		case DW_TAG_class_type:
		case DW_TAG_structure_type:
		case DW_TAG_module:
			walk(b, &child, parent, depth + 1);
			break;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
}

static void add_function(build *b, Dwarf_Die *die, int tag, int32_t parent,
			 uint32_t depth)
{
	cu_node n = { 0 };
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;

	n.name = dwarf_diename(die); /* follows abstract_origin */
	n.parent = tag == DW_TAG_inlined_subroutine ? parent : -1;
	n.depth = depth;
	n.inlined = tag == DW_TAG_inlined_subroutine && parent >= 0;
	if (n.inlined) {
		uint32_t f = attr_u32(die, DW_AT_call_file);
		if (b->files && f < b->nfiles)
			n.call_file = dwarf_filesrc(b->files, f, NULL, NULL);
		n.call_line = attr_u32(die, DW_AT_call_line);
		n.call_column = attr_u32(die, DW_AT_call_column);
	}
	int idx = push_node(b, &n);
	if (idx < 0) {
		b->oom = 1;
		return;
	}
	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		if (hi > lo && push_range(b, lo, hi, (uint32_t)idx)) {
			b->oom = 1;
			return;
		}
	}
	walk(b, die, idx, depth + 1);
}

static int by_lo_depth(const void *a, const void *b, void *arg)
{
	const cu_range *x = a, *y = b;
	const cu_node *nodes = arg;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	uint32_t dx = nodes[x->node].depth, dy = nodes[y->node].depth;
	return dx < dy ? -1 : dx > dy;
}

static cu_table *table_build(Dwfl_Module *mod, Dwarf_Die *cu)
{
	build b = { 0 };

	b.t = calloc(1, sizeof(*b.t));
	if (!b.t)
		return NULL;
	b.t->mod = mod;
	b.t->cu_off = dwarf_dieoffset(cu);
	if (dwarf_getsrcfiles(cu, &b.files, &b.nfiles) != 0)
		b.files = NULL;
	walk(&b, cu, -1, 0);
	/* Parents sort before children at the same start: a backwards scan
	 * meets the innermost first. */
	qsort_r(b.t->ranges, b.t->nranges, sizeof(*b.t->ranges), by_lo_depth,
		b.t->nodes);
	return b.t;
}

static void table_free(cu_table *t)
{
	if (!t)
		return;
	free(t->ranges);
	free(t->nodes);
	free(t);
}

/* ---- the cache ---- */

static size_t cache_hash(const cu_cache *c, Dwfl_Module *mod, uint64_t off)
{
	uint64_t h = (uint64_t)(uintptr_t)mod * 0x9e3779b97f4a7c15ull ^ off;

	h *= 0xff51afd7ed558ccdull;
	return (size_t)(h >> 32) & (c->cap - 1);
}

static cu_table **cache_slot(cu_cache *c, Dwfl_Module *mod, uint64_t off)
{
	size_t i = cache_hash(c, mod, off);

	while (c->slots[i] && (c->slots[i]->mod != mod || c->slots[i]->cu_off != off))
		i = (i + 1) & (c->cap - 1);
	return &c->slots[i];
}

static int cache_grow(cu_cache *c)
{
	cu_cache g = { 0 };

	g.cap = c->cap ? 2 * c->cap : 64;
	g.slots = calloc(g.cap, sizeof(*g.slots));
	if (!g.slots)
		return -1;
	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i])
			*cache_slot(&g, c->slots[i]->mod, c->slots[i]->cu_off) = c->slots[i];
	g.n = c->n;
	free(c->slots);
	*c = g;
	return 0;
}

static cu_table *cache_get(cu_cache *c, Dwfl_Module *mod, Dwarf_Die *cu)
{
	uint64_t off = dwarf_dieoffset(cu);

	if (2 * (c->n + 1) > c->cap && cache_grow(c))
		return NULL;
	cu_table **slot = cache_slot(c, mod, off);
	if (!*slot) {
		*slot = table_build(mod, cu);
		if (*slot)
			c->n++;
	}
	return *slot;
}

void cu_cache_free(cu_cache *c)
{
	for (size_t i = 0; i < c->cap; i++)
		table_free(c->slots[i]);
	free(c->slots);
	memset(c, 0, sizeof(*c));
}

/* ---- lookups ---- */

/* The innermost function covering ADDR, -1 when none does. */
static int32_t innermost(const cu_table *t, uint64_t addr)
{
	size_t lo = 0, hi = t->nranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->ranges[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Ranges nest, so the covering range that starts last is the
	 * innermost one. */
	for (size_t i = lo, n = 0; i-- > 0 && n < MAX_SCAN; n++)
		if (t->ranges[i].hi > addr)
			return (int32_t)t->ranges[i].node;
	return -1;
}

static void module_info(Dwfl_Module *mod, uint64_t pc, tt_sym_frame *f)
{
	GElf_Addr bias = 0;

	f->module = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	/* Link-time address: what addr2line and llvm-symbolizer take for
	 * the module on its own. */
	if (dwfl_module_getelf(mod, &bias))
		f->module_offset = pc - bias;
}

static int by_addr(const void *a, const void *b)
{
	const sym_entry *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Aliases: the sized one first, then by name for stable output. */
	if ((x->size == 0) != (y->size == 0))
		return x->size == 0 ? 1 : -1;
	return strcmp(x->name, y->name);
}

static sym_table *sym_table_get(tt_sym *s, Dwfl_Module *mod)
{
	sym_table *t;

	for (t = s->syms; t; t = t->next)
		if (t->mod == mod)
			return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->mod = mod;
	t->next = s->syms;
	s->syms = t;
	int n = dwfl_module_getsymtab(mod);
	if (n <= 0)
		return t;
	t->v = malloc((size_t)n * sizeof(*t->v));
	for (int i = 0; t->v && i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL);
		int type = GELF_ST_TYPE(sym.st_info);
		if (!name || !*name || sym.st_shndx == SHN_UNDEF ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC))
			continue;
		t->v[t->n++] = (sym_entry){ addr, sym.st_size, name };
	}
	if (t->v)
		qsort(t->v, t->n, sizeof(*t->v), by_addr);
	return t;
}

void sym_tables_free(tt_sym *s)
{
	while (s->syms) {
		sym_table *t = s->syms;
		s->syms = t->next;
		free(t->v);
		free(t);
	}
}

static void symbol_fallback(tt_sym *s, Dwfl_Module *mod, uint64_t addr, tt_sym_frame *f)
{
	sym_table *t = sym_table_get(s, mod);
	size_t lo = 0, hi = t ? t->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->v[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* The last symbol starting at or before ADDR, backing over aliases
	 * to the first one of that address. */
	if (!lo)
		return;
	size_t i = lo - 1;
	while (i > 0 && t->v[i - 1].addr == t->v[i].addr)
		i--;
	const sym_entry *e = &t->v[i];
	if (e->size && addr - e->addr >= e->size)
		return;
	f->function = e->name;
	f->symbol_offset = addr - e->addr;
}

int tt_sym_lookup(tt_sym *s, uint64_t pc, int return_address,
		  tt_sym_frame *out, int cap)
{
	/* A return address points after the call; the call itself, and so
	 * its line and inline context, is at the byte before. */
	uint64_t addr = return_address && pc ? pc - 1 : pc;
	Dwarf_Addr bias = 0;
	int n = 1;

	if (cap <= 0)
		return 0;
	memset(out, 0, sizeof(*out));
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	if (!mod)
		return 1;
	module_info(mod, pc, out);
	Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, &bias);
	if (!cu) {
		symbol_fallback(s, mod, addr, out);
		return 1;
	}
	Dwarf_Attribute cd;
	out->comp_dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &cd));
	Dwarf_Line *line = dwarf_getsrc_die(cu, addr - bias);
	if (line) {
		int l = 0, c = 0;
		out->file = dwarf_linesrc(line, NULL, NULL);
		dwarf_lineno(line, &l);
		dwarf_linecol(line, &c);
		out->line = (uint32_t)l;
		out->column = (uint32_t)c;
	}
	cu_table *t = cache_get(&s->cus, mod, cu);
	int32_t k = t ? innermost(t, addr - bias) : -1;
	if (k < 0 || !t->nodes[k].name) {
		symbol_fallback(s, mod, addr, out);
		return 1;
	}
	out->function = t->nodes[k].name;
	/* Each inlined call adds its caller, at the call site. */
	for (uint32_t guard = 0; t->nodes[k].inlined && n < cap && guard < MAX_NESTING;
	     guard++) {
		const cu_node *in = &t->nodes[k];
		tt_sym_frame *f = &out[n];
		out[n - 1].inlined = 1;
		*f = out[n - 1];
		f->inlined = 0;
		k = in->parent;
		f->function = t->nodes[k].name;
		f->file = in->call_file;
		f->line = in->call_line;
		f->column = in->call_column;
		n++;
	}
	return n;
}

int tt_sym_same_module(tt_sym *s, uint64_t a, uint64_t b)
{
	Dwfl_Module *m = dwfl_addrmodule(s->dwfl, a);

	return m && m == dwfl_addrmodule(s->dwfl, b);
}
