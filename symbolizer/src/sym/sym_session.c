/* Opening a symbolizer session: one Dwfl per address space, set up the
 * way elfutils' own tools (eu-stack, eu-addr2line) do it, so separate
 * debug info, debuginfod and core-file module discovery all come from
 * libdwfl's standard callbacks. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sym/sym_priv.h"

void sym_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

void sym_hex(char *out, size_t cap, const unsigned char *id, size_t n)
{
	size_t k = 0;

	out[0] = 0;
	for (size_t i = 0; i < n && k + 3 < cap; i++)
		k += (size_t)snprintf(out + k, cap - k, "%02x", id[i]);
}

static void elf_init(void)
{
	static int done;

	if (!done && elf_version(EV_CURRENT) != EV_NONE)
		done = 1;
}

static int no_memory(void *ctx, uint64_t addr, void *buf, size_t len)
{
	(void)ctx;
	(void)addr;
	(void)buf;
	(void)len;
	return -EFAULT;
}

static tt_sym *sym_new(int kind, const Dwfl_Callbacks *cb)
{
	tt_sym *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	elf_init();
	s->kind = kind;
	s->mp.fd = -1;
	s->core.fd = -1;
	s->exe_fd = -1;
	s->pmem = (tt_mem){ no_memory, NULL };
	s->cb = *cb;
	/* The default search path of elfutils' tools: next to the file, in
	 * .debug/, and under /usr/lib/debug (build-id links included). */
	s->debuginfo_path = NULL;
	s->cb.debuginfo_path = &s->debuginfo_path;
	s->dwfl = dwfl_begin(&s->cb);
	if (!s->dwfl) {
		free(s);
		return NULL;
	}
	return s;
}

void tt_sym_close(tt_sym *s)
{
	if (!s)
		return;
	cu_cache_free(&s->cus);
	sym_tables_free(s);
	if (s->dwfl)
		dwfl_end(s->dwfl); /* detaches nothing: we told it we hold ptrace */
	if (s->mp.fd >= 0)
		tt_mem_pid_close(&s->mp);
	if (s->kind == TT_SYM_CORE)
		core_close(&s->core);
	if (s->exe_fd >= 0)
		close(s->exe_fd);
	free(s);
}

int tt_sym_kind(const tt_sym *s) { return s->kind; }
pid_t tt_sym_pid(const tt_sym *s) { return s->pid; }

static tt_sym *fail(tt_sym *s, int *code, int c)
{
	*code = c;
	tt_sym_close(s);
	return NULL;
}

static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
};

static tt_sym *open_proc(int kind, pid_t pid, int attached, int *code,
			 char *err, size_t errlen)
{
	tt_sym *s = sym_new(kind, &proc_callbacks);

	*code = TT_T_OK;
	if (!s) {
		sym_err(err, errlen, "out of memory");
		*code = TT_T_IO;
		return NULL;
	}
	s->pid = pid;
	int rc = dwfl_linux_proc_report(s->dwfl, pid);
	if (rc != 0) {
		int e = rc > 0 ? rc : ESRCH;
		sym_err(err, errlen, "pid %d: %s", (int)pid,
			e == ENOENT || e == ESRCH ? "no such process" :
			rc > 0 ? strerror(rc) : dwfl_errmsg(-1));
		return fail(s, code, e == ENOENT || e == ESRCH ? TT_T_NO_PROCESS :
				 e == EACCES || e == EPERM ? TT_T_PERMISSION : TT_T_IO);
	}
	dwfl_report_end(s->dwfl, NULL, NULL);
	rc = tt_mem_pid_open(&s->mp, pid, &s->pmem);
	if (rc < 0) {
		sym_err(err, errlen, "pid %d: cannot open its memory: %s", (int)pid,
			strerror(-rc));
		return fail(s, code, rc == -EACCES || rc == -EPERM ? TT_T_PERMISSION : TT_T_IO);
	}
	/* The caller stopped every thread with ptrace: libdwfl reads
	 * registers through that and must neither attach nor detach. */
	if (attached && dwfl_linux_proc_attach(s->dwfl, pid, true) == 0)
		s->attached = 1;
	return s;
}

tt_sym *tt_sym_open_self(int *code, char *err, size_t errlen)
{
	return open_proc(TT_SYM_SELF, getpid(), 0, code, err, errlen);
}

tt_sym *tt_sym_open_pid(pid_t pid, int attached, int *code, char *err,
			size_t errlen)
{
	if (pid <= 0) {
		sym_err(err, errlen, "pid %d: no such process", (int)pid);
		*code = TT_T_NO_PROCESS;
		return NULL;
	}
	return open_proc(TT_SYM_PID, pid, attached, code, err, errlen);
}

static const Dwfl_Callbacks core_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
};

typedef struct exe_match {
	const unsigned char *id;
	size_t len;
	int found;     /* a module of the core has the file's build-id */
	int known;     /* the core recorded any build-id at all */
	const char *main_name;
	char main_id[80];
} exe_match;

static int match_module(Dwfl_Module *mod, void **ud, const char *name,
			Dwarf_Addr start, void *arg)
{
	exe_match *m = arg;
	const unsigned char *bits;
	GElf_Addr vaddr;
	(void)ud;
	(void)start;

	int n = dwfl_module_build_id(mod, &bits, &vaddr);
	if (n <= 0)
		return DWARF_CB_OK;
	m->known = 1;
	if ((size_t)n == m->len && memcmp(bits, m->id, m->len) == 0)
		m->found = 1;
	if (m->main_name && name && strcmp(name, m->main_name) == 0)
		sym_hex(m->main_id, sizeof(m->main_id), bits, (size_t)n);
	return DWARF_CB_OK;
}

/* A given executable must be the core's: the build-id the core's memory
 * recorded for one of its modules.  Without that check a wrong binary
 * yields confident nonsense (shifted symbols, a registry at a bad
 * address). */
static int check_exe(tt_sym *s, const char *core, const char *exe, char *err,
		     size_t errlen)
{
	unsigned char id[64];
	char want[160];
	int fd = open(exe, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		sym_err(err, errlen, "%s: %s", exe, strerror(errno));
		return errno == ENOENT ? TT_T_NO_PROCESS : TT_T_IO;
	}
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	GElf_Ehdr eh;
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		if (elf)
			elf_end(elf);
		close(fd);
		sym_err(err, errlen, "%s: not an ELF file", exe);
		return TT_T_NOT_ELF;
	}
	size_t n = elf_build_id(elf, id, sizeof(id));
	elf_end(elf);
	close(fd);
	exe_match m = { id, n, 0, 0, exe, "" };
	if (!n)
		return TT_T_OK; /* nothing to compare */
	dwfl_getmodules(s->dwfl, match_module, &m, 0);
	if (!m.known || m.found)
		return TT_T_OK;
	sym_hex(want, sizeof(want), id, n);
	sym_err(err, errlen,
		"%s does not match core %s (its build-id is %s, the core's executable has %s)",
		exe, core, want, m.main_id[0] ? m.main_id : "another");
	return TT_T_MISMATCH;
}

tt_sym *tt_sym_open_core(const char *core, const char *exe, int *code,
			 char *err, size_t errlen)
{
	tt_sym *s = sym_new(TT_SYM_CORE, &core_callbacks);
	int rc;

	*code = TT_T_OK;
	if (!s) {
		sym_err(err, errlen, "out of memory");
		*code = TT_T_IO;
		return NULL;
	}
	rc = core_open(&s->core, core, err, errlen);
	if (rc != TT_T_OK)
		return fail(s, code, rc);
	s->pid = s->core.pid;
	/* Modules come from the core's NT_FILE note and its link_map, the
	 * files are matched by build-id; EXE overrides the main one. */
	if (dwfl_core_file_report(s->dwfl, s->core.elf, exe) < 0) {
		sym_err(err, errlen, "%s: cannot list its modules: %s", core, dwfl_errmsg(-1));
		return fail(s, code, TT_T_NOT_CORE);
	}
	dwfl_report_end(s->dwfl, NULL, NULL);
	if (exe && (rc = check_exe(s, core, exe, err, errlen)) != TT_T_OK)
		return fail(s, code, rc);
	if (dwfl_core_file_attach(s->dwfl, s->core.elf) >= 0)
		s->attached = 1;
	return s;
}

static const Dwfl_Callbacks exe_callbacks = {
	.find_elf = NULL,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

tt_sym *tt_sym_open_exe(const char *exe, int *code, char *err, size_t errlen)
{
	tt_sym *s = sym_new(TT_SYM_EXE, &exe_callbacks);
	unsigned char magic[4];

	*code = TT_T_OK;
	if (!s) {
		sym_err(err, errlen, "out of memory");
		*code = TT_T_IO;
		return NULL;
	}
	s->exe_fd = open(exe, O_RDONLY | O_CLOEXEC);
	if (s->exe_fd < 0) {
		int e = errno;
		sym_err(err, errlen, "%s: %s", exe, strerror(e));
		return fail(s, code, e == ENOENT ? TT_T_NO_PROCESS :
				 e == EACCES ? TT_T_PERMISSION : TT_T_IO);
	}
	if (pread(s->exe_fd, magic, 4, 0) != 4 || memcmp(magic, ELFMAG, SELFMAG) != 0) {
		sym_err(err, errlen, "%s: not an ELF file", exe);
		return fail(s, code, TT_T_NOT_ELF);
	}
	/* Base 0 without adding p_vaddr: addresses are the file's own
	 * link-time ones, as addr2line and llvm-symbolizer take them.
	 * libdwfl owns the descriptor from here on. */
	if (!dwfl_report_elf(s->dwfl, exe, exe, s->exe_fd, 0, false)) {
		sym_err(err, errlen, "%s: %s", exe, dwfl_errmsg(-1));
		return fail(s, code, TT_T_NOT_ELF);
	}
	s->exe_fd = -1;
	dwfl_report_end(s->dwfl, NULL, NULL);
	return s;
}

tt_mem tt_sym_mem(tt_sym *s)
{
	if (s->kind == TT_SYM_CORE)
		return (tt_mem){ core_read, s };
	if (s->kind == TT_SYM_SELF)
		return tt_mem_self();
	return s->pmem; /* TT_SYM_EXE: no process, every read fails */
}
