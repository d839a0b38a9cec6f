/* Finding the registry root among a session's modules: the same search
 * as target.c does over /proc/PID/maps, over the modules libdwfl knows
 * (a core's NT_FILE and link_map, or a live process's maps). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sym/sym_priv.h"

#define MAX_CANDIDATES 8

typedef struct roots {
	tt_root_loc cand[MAX_CANDIDATES];
	int n;
} roots;

static int module_cb(Dwfl_Module *mod, void **ud, const char *name,
		     Dwarf_Addr start, void *arg)
{
	roots *r = arg;
	GElf_Addr bias;
	uint64_t vaddr;
	int via;
	(void)ud;
	(void)start;

	Elf *elf = dwfl_module_getelf(mod, &bias);
	if (!elf || r->n >= MAX_CANDIDATES)
		return DWARF_CB_OK;
	if (tt_elf_find_root_in(elf, &vaddr, &via) == 1) {
		tt_root_loc *c = &r->cand[r->n++];
		c->addr = vaddr + bias;
		c->bias = bias;
		c->via = via;
		snprintf(c->module, sizeof(c->module), "%s", name ? name : "??");
	}
	return DWARF_CB_OK;
}

int tt_sym_find_root(tt_sym *s, tt_root_loc *out, char *err, size_t errlen)
{
	roots *r = calloc(1, sizeof(*r)); /* 32 KiB of paths */
	char who[200];

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return TT_T_IO;
	}
	dwfl_getmodules(s->dwfl, module_cb, r, 0);
	if (s->kind == TT_SYM_CORE)
		snprintf(who, sizeof(who), "the process in this core (pid %d)", (int)s->pid);
	else
		snprintf(who, sizeof(who), "pid %d", (int)s->pid);
	int rc = tt_root_choose(tt_sym_mem(s), r->cand, r->n, who, out, err, errlen);
	/* In a core the usual reason is a file moved, or rebuilt or upgraded
	 * since the dump: its build-id no longer matches, so libdwfl refuses
	 * it.  Say which, and how to supply it. */
	char missing[900];
	if (rc == TT_T_NO_REGISTRY && tt_sym_core_missing(s, missing, sizeof(missing)) > 0) {
		size_t len = strlen(err);
		snprintf(err + len, errlen - len, "; %s", missing);
	}
	free(r);
	return rc;
}

typedef struct absent {
	uint64_t entry; /* AT_ENTRY: inside the executable */
	int n;		/* modules whose file could not be had */
	int exe;	/* the executable is one of them */
	char path[512]; /* the executable, else the first of them */
	char id[80];	/* its build-id, as the core recorded it */
} absent;

static int absent_cb(Dwfl_Module *mod, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
	absent *a = arg;
	GElf_Addr bias, vaddr;
	Dwarf_Addr lo, hi;
	const unsigned char *bits;
	(void)ud;
	(void)start;

	/* [vdso] and the like have no file; their bytes are in the core. */
	if (!name || name[0] != '/' || dwfl_module_getelf(mod, &bias))
		return DWARF_CB_OK;
	dwfl_module_info(mod, NULL, &lo, &hi, NULL, NULL, NULL, NULL);
	int is_exe = a->entry && a->entry >= lo && a->entry < hi;
	if (!a->n++ || (is_exe && !a->exe)) {
		snprintf(a->path, sizeof(a->path), "%s", name);
		int len = dwfl_module_build_id(mod, &bits, &vaddr);
		if (len > 0)
			sym_hex(a->id, sizeof(a->id), bits, (size_t)len);
		else
			snprintf(a->id, sizeof(a->id), "unknown");
	}
	a->exe |= is_exe;
	return DWARF_CB_OK;
}

int tt_sym_core_missing(tt_sym *s, char *msg, size_t len)
{
	absent a = {0};

	if (len)
		msg[0] = 0;
	if (s->kind != TT_SYM_CORE)
		return 0;
	a.entry = s->core.entry;
	dwfl_getmodules(s->dwfl, absent_cb, &a, 0);
	if (!a.n)
		return 0;
	char more[64] = "";
	if (a.n > 1)
		snprintf(more, sizeof(more), " (and %d more module file%s)", a.n - 1,
			 a.n > 2 ? "s" : "");
	if (a.exe)
		snprintf(msg, len,
			 "the executable %s (build-id %s) is missing or does not match the core%s: "
			 "give it with --exe PATH, or set DEBUGINFOD_URLS to a debuginfod server "
			 "that has it",
			 a.path, a.id, more);
	else
		snprintf(msg, len,
			 "the module %s (build-id %s) is missing or does not match the core%s: "
			 "put it back at that path, or set DEBUGINFOD_URLS to a debuginfod server "
			 "that has it",
			 a.path, a.id, more);
	return a.n;
}
