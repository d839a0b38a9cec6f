/* Finding a process's registry root and opening its memory: the first
 * step of every reader that looks at another process (the tasktrace CLI
 * today; cores and the libdw symbolizer build on the same calls).
 *
 * The root is found from the outside, through /proc and the ELF files
 * mapped into the process, never by running code in it. */
#ifndef TASKTRACE_TARGET_H
#define TASKTRACE_TARGET_H

#include "tasktrace/api.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tasktrace/read/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Why a target could not be opened: TT_T_* (reader.h's one table of
 * codes, with the reader's convention).  Front ends map them to exit codes
 * and print tt_target.err, which is already one line. */

/* How the root was found, for messages and --json. */
enum tt_root_via {
	TT_VIA_DYNSYM = 1,
	TT_VIA_SYMTAB = 2,
	TT_VIA_SECTION = 3
};

typedef struct tt_root_loc {
	uint64_t addr;      /* runtime address of the root */
	uint64_t bias;      /* load bias of the module defining it */
	int via;            /* TT_VIA_* */
	char module[4096];  /* path of that module as /proc/PID/maps names it */
} tt_root_loc;

typedef struct tt_target {
	pid_t pid;
	tt_mem_pid mp;
	tt_mem mem;
	int mem_open;
	tt_root_loc root;
	char err[512]; /* one line, no trailing newline */
} tt_target;

/* Open the memory of live process PID and find its registry root.
 * Returns TT_T_OK or an error with T->err set; tt_target_close is safe
 * to call either way. */
TT_API int tt_target_open_pid(tt_target *t, pid_t pid);
TT_API void tt_target_close(tt_target *t);

/* The search alone, over the modules in /proc/PID/maps, verifying each
 * candidate through MEM.  Used by tt_target_open_pid; exposed for tools
 * that bring their own memory source. */
TT_API int tt_target_find_root(pid_t pid, tt_mem mem, tt_root_loc *out, char *err, size_t errlen);

/* Verify the N candidate roots CAND through MEM and pick the live one
 * (the runtime fills in its pid; a copy-relocated twin keeps 0).  WHO
 * names the target in messages ("pid 42", "core FILE").  Returns TT_T_OK
 * with *OUT set, or TT_T_NO_REGISTRY / TT_T_BAD_REGISTRY /
 * TT_T_BAD_VERSION with ERR set. */
TT_API int tt_root_choose(tt_mem mem, const tt_root_loc *cand, int n, const char *who,
			  tt_root_loc *out, char *err, size_t errlen);

/* The same search in an ELF image already open with libelf (an Elf *). */
struct Elf;
TT_API int tt_elf_find_root_in(struct Elf *elf, uint64_t *vaddr, int *via);

/* Look the root up in one ELF file: its link-time address (st_value or
 * the section's sh_addr) in *VADDR.  Returns 1 found, 0 not there,
 * TT_T_NOT_ELF the file is not a readable ELF.  VIA gets TT_VIA_*. */
TT_API int tt_elf_find_root(int fd, uint64_t *vaddr, int *via);

/* The load bias of a module from one of its mappings: the file at FD is
 * mapped at MAP_START from file offset MAP_OFFSET.  Returns 0 and sets
 * *BIAS (runtime = link-time + bias), TT_R_NOT_FOUND when no PT_LOAD
 * covers it, TT_T_NOT_ELF when the file is not a readable ELF. */
TT_API int tt_elf_load_bias(int fd, uint64_t map_start, uint64_t map_offset, uint64_t *bias);

#ifdef __cplusplus
}
#endif
#endif
