/* libtasktrace-sym: symbols, inline chains, line numbers and stacks of a
 * process, from the outside, on libdw/libdwfl (elfutils).
 *
 * A session (tt_sym) covers one address space: this process, a live pid,
 * a core file, or a lone ELF file (addresses then are link-time ones).
 * Lookups map a PC to its inline chain, innermost first; sessions on a
 * pid or a core also unwind threads and read memory (a core reads the
 * segments it holds and, for what it lacks, the mapped files).
 *
 * Separate debug info is found by build-id and .gnu_debuglink under
 * /usr/lib/debug (libdwfl's standard callbacks), and through debuginfod
 * when DEBUGINFOD_URLS is set. */
#ifndef TASKTRACE_SYM_H
#define TASKTRACE_SYM_H

#include "tasktrace/api.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tasktrace/read/bt.h"
#include "tasktrace/read/reader.h"
#include "tasktrace/read/target.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_sym tt_sym;

enum tt_sym_kind {
	TT_SYM_SELF = 1, /* this process (symbols only, no unwinding) */
	TT_SYM_PID = 2,  /* a live process; unwinding needs it stopped */
	TT_SYM_CORE = 3, /* a core file, with its executable */
	TT_SYM_EXE = 4   /* one ELF file at its link-time addresses */
};

/* Open a session.  Each returns NULL with ERR set (one line) and *CODE a
 * TT_T_* value on failure.
 *
 * tt_sym_open_pid: ATTACHED says the caller has stopped every thread of
 * PID with ptrace (tt_stop_pid): only then can threads be unwound.
 * tt_sym_open_core: EXE may be NULL; the executable and libraries are then
 * found from the core's NT_FILE note.  A given EXE must match the core
 * (by build-id) or the open fails with TT_T_MISMATCH. */
TT_API tt_sym *tt_sym_open_self(int *code, char *err, size_t errlen);
TT_API tt_sym *tt_sym_open_pid(pid_t pid, int attached, int *code, char *err, size_t errlen);
TT_API tt_sym *tt_sym_open_core(const char *core, const char *exe, int *code, char *err,
				size_t errlen);
TT_API tt_sym *tt_sym_open_exe(const char *exe, int *code, char *err, size_t errlen);
TT_API void tt_sym_close(tt_sym *s);

TT_API int tt_sym_kind(const tt_sym *s);
/* The process id: the pid, or the one the core records (0 if unknown). */
TT_API pid_t tt_sym_pid(const tt_sym *s);

/* ---- symbolizing ---- */

/* One frame of an inline chain.  Strings belong to the session. */
typedef struct tt_sym_frame {
	const char *function; /* NULL when unknown */
	const char *file;     /* NULL when there is no line information; as
			       * DWARF has it, maybe relative to comp_dir */
	const char *comp_dir; /* the CU's compilation directory, or NULL */
	uint32_t line, column;
	int inlined;          /* inlined into the next (outer) frame */
	const char *module;   /* path of the module, NULL outside any */
	uint64_t module_offset; /* PC relative to the module's load address */
	uint64_t symbol_offset; /* PC - start of the ELF symbol, when known */
} tt_sym_frame;

/* The inline chain at PC, innermost first, into OUT (at most CAP).
 * RETURN_ADDRESS: PC is a return address (a caller frame of an unwound
 * stack), so the call instruction at PC-1 is the one looked up; pass 0
 * for an interrupted PC, a signal frame, or an address given by a user.
 * Returns the number of frames (>= 1; one frame with NULL names when
 * nothing is known), 0 when CAP is 0. */
TT_API int tt_sym_lookup(tt_sym *s, uint64_t pc, int return_address, tt_sym_frame *out, int cap);

/* ---- unwinding ---- */

typedef struct tt_sym_pc {
	uint64_t pc;
	int activation; /* the PC was interrupted (innermost or signal frame) */
} tt_sym_pc;

/* The stack of thread TID, innermost first.  Returns the number of PCs
 * (a partial stack when unwinding stopped early, with ERR saying why),
 * or TT_T_IO with ERR set when the thread could not be unwound at all. */
TT_API int tt_sym_unwind(tt_sym *s, pid_t tid, tt_sym_pc *out, int cap, char *err, size_t errlen);

/* The system call thread TID of a core was in, from its registers
 * (NT_PRSTATUS: orig_rax, rax and the argument registers on x86-64),
 * into OUT (tasktrace/read/format.h).  Returns OUT->state: TT_SC_UNKNOWN
 * when S is not a core, the core has no such thread, or its machine's
 * registers do not say (only x86-64's do). */
TT_API int tt_sym_core_syscall(tt_sym *s, pid_t tid, tt_syscall *out);

/* ---- memory and the registry ---- */

/* The target's memory (pid: /proc/PID/mem; core: its segments, else the
 * mapped files).  Valid while the session is. */
TT_API tt_mem tt_sym_mem(tt_sym *s);

/* Find the registry root among the session's modules, as tt_target_find_root
 * does for a live pid.  Returns TT_T_* with ERR set on failure. */
TT_API int tt_sym_find_root(tt_sym *s, tt_root_loc *out, char *err, size_t errlen);

/* What a core session lacks: the module files (the executable, libraries)
 * that could not be found, or whose build-id differs from the one the
 * core recorded; their code, string literals and symbols are then
 * unknown, and names read from them come out as "??".  Returns how many,
 * with MSG set to one line naming the executable first (else the first
 * of them), its build-id and how to supply it (--exe, DEBUGINFOD_URLS);
 * 0 with MSG empty when nothing is missing or S is not a core. */
TT_API int tt_sym_core_missing(tt_sym *s, char *msg, size_t len);

/* ---- the real frames of task backtraces (tasktrace/read/bt.h) ---- */

/* A frame of a machine stack or of an inline chain: where it was looked
 * up, and what is there. */
typedef struct tt_sym_at {
	uint64_t pc;
	tt_sym_frame f;
} tt_sym_at;

/* The stack of thread TID running a task, pruned: without the frames
 * whose function matches tt_bt_default_prune() or one of PRUNE[0..NPRUNE)
 * (POSIX extended regexes; a bad one is ignored), and cut after the frame
 * of ROOT_POLL's function (the C function polling the task's root future;
 * 0 unknown).  NO_PRUNE keeps every frame.  Returns the count, or -1 with
 * ERR set when the thread cannot be unwound. */
TT_API int tt_sym_task_stack(tt_sym *s, pid_t tid, uint64_t root_poll, const char *const *prune,
			     int nprune, int no_prune, tt_sym_at *out, int cap, char *err,
			     size_t errlen);
/* The same for a stack unwound by the caller (gdb): PCS[0..NPC),
 * innermost first, symbolized and pruned as above. */
TT_API int tt_sym_prune_stack(tt_sym *s, const tt_sym_pc *pcs, int npc, uint64_t root_poll,
			      const char *const *prune, int nprune, int no_prune, tt_sym_at *out,
			      int cap);
/* Name the frames of AT[0..N) (a task stack, as above) that the symbols
 * leave nameless -- a stripped executable -- but whose function, by the
 * call frame information, is the poll function of one of T's async
 * frames: the C function and line of the site it is suspended at, else
 * the async function's name and line, from the registry.  Strings are
 * T's snapshot's.  Returns how many were named. */
TT_API int tt_sym_name_async(tt_sym *s, const tt_stask *t, tt_sym_at *at, int n);
/* The callers the async function FUNCTION suspended at a site was inlined
 * into: the inline chain at the site's RESUME address outside FUNCTION,
 * innermost first.  Returns the count (0 unless it was inlined). */
TT_API int tt_sym_site_callers(tt_sym *s, uint64_t resume, const char *function, tt_sym_at *out,
			       int cap);

/* tt_bt_hooks' inline_callers over a session, for front ends that have
 * no inline chains of their own (gdb): CTX is tt_sym_bt_new's. */
typedef struct tt_sym_bt tt_sym_bt;
TT_API tt_sym_bt *tt_sym_bt_new(tt_sym *s);
TT_API void tt_sym_bt_free(tt_sym_bt *b);
TT_API int tt_sym_bt_inlined(void *ctx, const tt_stask *t, const tt_ssite *site,
			     const tt_bt_native **out);

#ifdef __cplusplus
}
#endif
#endif
