/* The crashing thread's native backtrace, without DWARF and without
 * anything a signal handler must not call: a frame-pointer walk (the
 * project builds with -fno-omit-frame-pointer) read through
 * process_vm_readv, modules from a table captured at install time, and
 * async function names from the registry's FUNC records (a PC just past
 * a poll function's entry, in the same module, is in that function).
 * Executor frames are told by address: the runtime's module when it is a
 * library of its own, and the bounds of its dispatch section (TT_DISPATCH,
 * runtime/internal.h) wherever it is linked, a static program included. */
#include <link.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "reporters/crash_priv.h"
#include "tasktrace/crash.h"

#define MAX_MODS 128
#define POLL_SPAN (64u << 10) /* a poll function is not bigger than this */
#define WALK_CAP 200000u      /* frames counted in a runaway recursion */
#define PRINT_MAX 40          /* frames printed; a deep recursion shows its top */

typedef struct mod {
	uint64_t lo, hi; /* executable segments */
	uint64_t base;   /* load bias */
	int runtime;     /* libtasktrace itself: executor frames */
	int system;      /* libc, the dynamic loader: thread start, not the program */
	char name[64];   /* basename */
} mod;

static mod mods[MAX_MODS];
static int nmods;

/* This module's own tasktrace_text, not a program's of the same name. */
extern const char __start_tasktrace_text[] __attribute__((visibility("hidden")));
extern const char __stop_tasktrace_text[] __attribute__((visibility("hidden")));

static void basename_into(char *dst, size_t n, const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	size_t i = 0;
	for (; b[i] && i + 1 < n; i++)
		dst[i] = b[i];
	dst[i] = 0;
}

static int add_module(struct dl_phdr_info *info, size_t size, void *data)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	(void)size;
	(void)data;

	if (nmods == MAX_MODS)
		return 1;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uint64_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (!hi)
		return 0;
	mod *m = &mods[nmods];
	m->lo = lo;
	m->hi = hi;
	m->base = info->dlpi_addr;
	m->runtime = 0;
	if (info->dlpi_name && info->dlpi_name[0]) {
		basename_into(m->name, sizeof(m->name), info->dlpi_name);
	} else {
		char exe[512];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = 0;
		basename_into(m->name, sizeof(m->name), n > 0 ? exe : "main");
	}
	static const char *const sys[] = { "libc.so", "libc-", "ld-linux", "ld-musl",
					   "libpthread" };
	m->system = 0;
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		if (!strncmp(m->name, sys[i], strlen(sys[i])))
			m->system = 1;
	nmods++;
	return 0;
}

static int mod_of(uint64_t pc)
{
	for (int i = 0; i < nmods; i++)
		if (pc >= mods[i].lo && pc < mods[i].hi)
			return i;
	return -1;
}

int tt_cb_modules_captured(void)
{
	return nmods;
}

void tt_cb_modules_capture(void)
{
	nmods = 0;
	dl_iterate_phdr(add_module, NULL);
	/* Our own module holds the executor.  When it is linked into the
	 * executable itself, module boundaries cannot tell executor frames
	 * from the program's: prune nothing rather than everything. */
	int rt = mod_of((uint64_t)(uintptr_t)&tt_crash_install);
	if (rt > 0)
		mods[rt].runtime = 1;
}

/* Is PC in the runtime's code?  M is mod_of(PC). */
static int runtime_pc(uint64_t pc, int m)
{
	if (pc >= (uint64_t)(uintptr_t)__start_tasktrace_text &&
	    pc < (uint64_t)(uintptr_t)__stop_tasktrace_text)
		return 1;
	return m >= 0 && mods[m].runtime;
}

static int program_pc(uint64_t pc)
{
	int m = mod_of(pc);
	return m >= 0 && !mods[m].system;
}

/* Is there a frame record at A: a saved frame pointer above it within
 * the stack, and a return address into a module we know? */
static int frame_record(tt_mem m, uint64_t a, uint64_t hi, uint64_t *next,
			uint64_t *ret)
{
	uint64_t pair[2];

	if (m.read(m.ctx, a, pair, sizeof(pair)) < 0)
		return 0;
	*next = pair[0];
	*ret = pair[1];
	return program_pc(pair[1] - 1) &&
	       (pair[0] == 0 || (pair[0] > a && !(pair[0] & 7) && (!hi || pair[0] < hi)));
}

/* libc is built without frame pointers, so a fault or abort() inside it
 * leaves no chain to follow from the registers.  Scan the stack upwards
 * from SP for the first return address into the program, then for the
 * first frame record above it, and go on from there. */
static uint64_t scan_stack(tt_mem m, uint64_t sp, uint64_t hi, tt_native *out)
{
	uint64_t words[512];
	uint64_t end = hi ? hi : sp + (64u << 10);
	int found_ret = 0;

	if (end > sp + (256u << 10))
		end = sp + (256u << 10);
	for (uint64_t base = sp & ~7ull; base < end; base += sizeof(words)) {
		size_t n = sizeof(words);
		if (base + n > end)
			n = (size_t)(end - base) & ~7ul;
		if (!n || m.read(m.ctx, base, words, n) < 0)
			return 0;
		for (size_t i = 0; i < n / 8; i++) {
			uint64_t a = base + 8 * i, next, ret;
			if (!found_ret) {
				if (program_pc(words[i] - 1)) {
					out->pc[out->n++] = words[i];
					found_ret = 1;
				}
				continue;
			}
			if (frame_record(m, a, hi, &next, &ret))
				return a;
		}
	}
	return 0;
}

void tt_cb_walk(uint64_t pc, uint64_t fp, uint64_t sp, uint64_t lo,
		uint64_t hi, tt_native *out)
{
	uint64_t sp0 = sp;
	int scanned = 0;

	tt_mem m = tt_mem_self();
	uint64_t pair[2];
	size_t total = 1;

	out->n = 0;
	out->more = 0;
	out->stop = NULL;
	out->pc[out->n++] = pc;
	out->scanned = 0;
	if (lo && sp < lo)
		sp = lo;
	/* Stopped inside libc (a system call, abort): it keeps no frame
	 * pointer, so FP is its caller's frame and the return address into
	 * that caller lies between SP and FP, in no frame record.  The
	 * first return address into the program there is it. */
	int m0 = mod_of(pc);
	if (m0 >= 0 && mods[m0].system && fp > sp && (!hi || fp <= hi)) {
		uint64_t words[64];
		uint64_t end = fp - sp > sizeof(words) ? sp + sizeof(words) : fp;
		size_t n = (size_t)(end - sp) & ~7ul;
		if (!(sp & 7) && n && m.read(m.ctx, sp, words, n) == 0) {
			for (size_t i = 0; i < n / 8; i++) {
				if (program_pc(words[i] - 1)) {
					out->pc[out->n++] = words[i];
					out->scanned = 1;
					total++;
					break;
				}
			}
		}
	}
walk:
	while (fp) {
		if (fp & 7) {
			out->stop = "misaligned frame pointer";
			break;
		}
		if (fp < sp || (hi && fp + 16 > hi)) {
			out->stop = "frame pointer outside the thread's stack";
			break;
		}
		if (m.read(m.ctx, fp, pair, sizeof(pair)) < 0) {
			out->stop = "unreadable frame";
			break;
		}
		if (!pair[1])
			break;
		if (out->n < TT_NATIVE_MAX)
			out->pc[out->n++] = pair[1];
		else
			out->more++;
		if (++total >= WALK_CAP) {
			out->stop = "too many frames";
			break;
		}
		/* Frames live at growing addresses towards the stack's base. */
		if (pair[0] && pair[0] <= fp) {
			out->stop = "frame chain does not grow towards the stack base";
			break;
		}
		sp = fp + 16;
		fp = pair[0];
	}
	/* The walk broke before reaching the program: try scanning. */
	if (out->stop && !scanned) {
		int program = 0;
		for (size_t k = 1; k < out->n; k++)
			program |= program_pc(out->pc[k] - 1) &&
				   !runtime_pc(out->pc[k] - 1, mod_of(out->pc[k] - 1));
		if (!program && out->n < TT_NATIVE_MAX - 1) {
			out->n = 1;
			scanned = 1;
			fp = scan_stack(m, lo && sp0 < lo ? lo : sp0, hi, out);
			if (fp) {
				out->stop = NULL;
				out->scanned = 1;
				sp = fp;
				goto walk;
			}
			out->stop = "no frame chain (libc has no frame pointers)";
		}
	}
}

void tt_cb_regs(const void *ucv, uint64_t *pc, uint64_t *fp, uint64_t *sp)
{
	const ucontext_t *uc = ucv;

	*pc = *fp = *sp = 0;
#if defined(__x86_64__)
	*pc = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	*fp = (uint64_t)uc->uc_mcontext.gregs[REG_RBP];
	*sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	*pc = uc->uc_mcontext.pc;
	*fp = uc->uc_mcontext.regs[29];
	*sp = uc->uc_mcontext.sp;
#else
	(void)uc;
#endif
}

static const tt_cb_poll *poll_of(uint64_t pc, int m, const tt_cb_poll *polls,
				 size_t npolls)
{
	const tt_cb_poll *best = NULL;

	for (size_t i = 0; i < npolls; i++) {
		uint64_t e = polls[i].poll;
		if (!e || e > pc || pc - e >= POLL_SPAN || mod_of(e) != m)
			continue;
		if (!best || e > best->poll)
			best = &polls[i];
	}
	return best;
}

static void frame_line(tt_rout *o, int num, uint64_t pc, const tt_cb_poll *polls,
		       size_t npolls, tt_cb_namer namer)
{
	char sym[128];
	char mem[512];
	tt_fbuf b;
	/* A return address is just past its call: look the call up. */
	uint64_t at = num ? pc - 1 : pc;
	int m = mod_of(at);

	tt_fb_init(&b, mem, sizeof(mem));
	tt_fb_str(&b, "#");
	tt_fb_u64(&b, (uint64_t)num);
	tt_fb_pad(&b, 4);
	tt_fb_hex(&b, pc);
	/* The executor is no async function, whichever poll entry precedes it. */
	const tt_cb_poll *p = m >= 0 && !runtime_pc(at, m) ? poll_of(at, m, polls, npolls) : NULL;
	if (p) {
		tt_fb_str(&b, " in ");
		if (p->cfunc) {
			tt_fb_text(&b, p->cfunc);
			tt_fb_str(&b, " (async ");
			tt_fb_text(&b, p->name);
			tt_fb_str(&b, ")");
		} else {
			tt_fb_str(&b, "async ");
			tt_fb_text(&b, p->name);
		}
		/* For a caller, the await it is suspended at is the call that
		 * led here; the innermost frame is past its last await. */
		if (p->file && num) {
			tt_fb_str(&b, " at ");
			tt_fb_text(&b, p->file);
			tt_fb_str(&b, ":");
			tt_fb_u64(&b, p->line);
		}
	} else if (namer && namer(at, sym, sizeof(sym))) {
		tt_fb_str(&b, " in ");
		tt_fb_text(&b, sym);
	}
	tt_fb_str(&b, " [");
	if (m >= 0) {
		tt_fb_text(&b, mods[m].name);
		tt_fb_str(&b, "+");
		tt_fb_hex(&b, pc - mods[m].base);
	} else {
		tt_fb_str(&b, "??");
	}
	tt_fb_str(&b, "]");
	tt_rout_line(o, b.p);
}

void tt_cb_print(tt_rout *o, const tt_native *nb, const tt_cb_poll *polls,
		 size_t npolls)
{
	tt_cb_print_named(o, nb, polls, npolls, NULL);
}

void tt_cb_print_named(tt_rout *o, const tt_native *nb, const tt_cb_poll *polls,
		       size_t npolls, tt_cb_namer namer)
{
	size_t last_user = 0, pruned = 0, printed = 0, skipped = 0;
	int any_user = 0;
	char mem[128];
	tt_fbuf b;

	/* The outermost frame of the program (a known module that is neither
	 * the runtime nor libc): past it come only the worker loop and the
	 * thread start. */
	for (size_t k = 0; k < nb->n; k++) {
		uint64_t at = k ? nb->pc[k] - 1 : nb->pc[k];
		int m = mod_of(at);
		if (m >= 0 && !runtime_pc(at, m) && !mods[m].system) {
			last_user = k;
			any_user = 1;
		}
	}
	for (size_t k = 0; k < nb->n; k++) {
		uint64_t at = k ? nb->pc[k] - 1 : nb->pc[k];
		int m = mod_of(at);
		int runtime = m >= 0 && runtime_pc(at, m);
		/* A crash inside the runtime keeps every frame: there is
		 * nothing to prune it against. */
		if (any_user && k && (k > last_user || runtime) && nb->more == 0) {
			pruned++;
			continue;
		}
		if (any_user && k && runtime) {
			pruned++;
			continue;
		}
		if (printed == PRINT_MAX) {
			skipped++;
			continue;
		}
		frame_line(o, (int)k, nb->pc[k], polls, npolls, namer);
		printed++;
	}
	if (skipped + nb->more) {
		tt_fb_init(&b, mem, sizeof(mem));
		tt_fb_str(&b, "... ");
		tt_fb_u64(&b, skipped + nb->more);
		tt_fb_str(&b, " more frames");
		tt_rout_line(o, b.p);
	}
	tt_fb_init(&b, mem, sizeof(mem));
	if (pruned) {
		tt_fb_str(&b, "    (");
		tt_fb_u64(&b, pruned);
		tt_fb_str(&b, pruned == 1 ? " executor frame pruned)" :
					    " executor frames pruned)");
		tt_rout_line(o, b.p);
	}
	if (nb->scanned)
		tt_rout_line(o, "    (frames past #0 found by scanning the stack: libc keeps no frame pointers)");
	if (nb->stop) {
		tt_fb_init(&b, mem, sizeof(mem));
		tt_fb_str(&b, "    (walk stopped: ");
		tt_fb_str(&b, nb->stop);
		tt_fb_str(&b, ")");
		tt_rout_line(o, b.p);
	}
}
