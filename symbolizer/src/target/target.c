/* Finding the registry root of a live process from the outside.
 *
 * The root is the symbol tasktrace_registry, or failing that (a stripped
 * module) the start of the .tasktrace section.  We walk the file-backed
 * modules of /proc/PID/maps, look each ELF file up with libelf, turn the
 * link-time address into a runtime one with the module's load bias, and
 * keep the candidate whose registry header decodes. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tasktrace/read/target.h"

/* A process with more candidates than this is not a tasktrace process we
 * can make sense of anyway. */
#define MAX_CANDIDATES TT_ROOT_CANDIDATES
/* Distinct modules remembered to skip their later mappings. */
#define MAX_MODULES 4096

typedef struct mapping {
	uint64_t start, end, offset;
	unsigned long dev_major, dev_minor;
	uint64_t inode;
	int deleted;
	char path[4096];
} mapping;

typedef struct search {
	pid_t pid;
	tt_mem mem;
	tt_root_loc cand[MAX_CANDIDATES];
	int ncand;
	uint64_t seen[MAX_MODULES][2]; /* dev, inode */
	int nseen;
} search;

static void elf_init(void)
{
	static int done;

	if (!done && elf_version(EV_CURRENT) != EV_NONE)
		done = 1;
}

/* Parse one maps line.  Returns 1 for a file-backed mapping, 0 for the
 * others (anonymous, [heap], [vdso]...), -1 for a line we do not grok. */
static int parse_maps_line(const char *line, mapping *m)
{
	int path_at = 0;
	char perms[8];

	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %lx:%lx %" SCNu64 " %n",
		   &m->start, &m->end, perms, &m->offset, &m->dev_major,
		   &m->dev_minor, &m->inode, &path_at) < 7)
		return -1;
	if (!path_at || m->inode == 0 || line[path_at] != '/')
		return 0;
	snprintf(m->path, sizeof(m->path), "%s", line + path_at);
	m->path[strcspn(m->path, "\n")] = 0;
	/* The kernel appends " (deleted)" when the file was unlinked (an
	 * upgraded library); the bytes are still reachable by map_files. */
	size_t n = strlen(m->path);
	static const char del[] = " (deleted)";
	m->deleted = n > sizeof(del) - 1 &&
		     strcmp(m->path + n - (sizeof(del) - 1), del) == 0;
	if (m->deleted)
		m->path[n - (sizeof(del) - 1)] = 0;
	return 1;
}

static int module_seen(search *s, const mapping *m)
{
	uint64_t dev = (uint64_t)m->dev_major << 32 | m->dev_minor;

	for (int i = 0; i < s->nseen; i++)
		if (s->seen[i][0] == dev && s->seen[i][1] == m->inode)
			return 1;
	if (s->nseen < MAX_MODULES) {
		s->seen[s->nseen][0] = dev;
		s->seen[s->nseen][1] = m->inode;
		s->nseen++;
	}
	return 0;
}

/* The mapped file itself: map_files is exact even for deleted files or
 * another mount namespace, but needs privileges; /proc/PID/root reaches
 * the target's mount namespace; the bare path is the last resort. */
static int open_module(pid_t pid, const mapping *m)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 (int)pid, m->start, m->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 || m->deleted)
		return fd;
	snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, m->path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	return open(m->path, O_RDONLY | O_CLOEXEC);
}

/* A defined symbol named TT_REGISTRY_SYMBOL in symbol table section SCN. */
static int scan_symtab(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
		       uint64_t *vaddr)
{
	Elf_Data *data = elf_getdata(scn, NULL);

	if (!data || sh->sh_entsize == 0)
		return 0;
	size_t n = sh->sh_size / sh->sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		if (!gelf_getsym(data, (int)i, &sym))
			break;
		if (sym.st_shndx == SHN_UNDEF || sym.st_name == 0)
			continue;
		const char *name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (name && strcmp(name, TT_REGISTRY_SYMBOL) == 0) {
			*vaddr = sym.st_value;
			return 1;
		}
	}
	return 0;
}

/* Search the sections of type TYPE (SHT_DYNSYM or SHT_SYMTAB). */
static int find_symbol(Elf *elf, uint32_t type, uint64_t *vaddr)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn))) {
		if (gelf_getshdr(scn, &sh) && sh.sh_type == type &&
		    scan_symtab(elf, scn, &sh, vaddr))
			return 1;
	}
	return 0;
}

static int find_section(Elf *elf, uint64_t *vaddr)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return 0;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC))
			continue;
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && strcmp(name, TT_REGISTRY_SECTION) == 0) {
			*vaddr = sh.sh_addr;
			return 1;
		}
	}
	return 0;
}

int tt_elf_find_root_in(Elf *elf, uint64_t *vaddr, int *via)
{
	if (elf_kind(elf) != ELF_K_ELF)
		return TT_T_NOT_ELF;
	if (find_symbol(elf, SHT_DYNSYM, vaddr)) {
		*via = TT_VIA_DYNSYM;
		return 1;
	}
	if (find_symbol(elf, SHT_SYMTAB, vaddr)) {
		*via = TT_VIA_SYMTAB;
		return 1;
	}
	if (find_section(elf, vaddr)) {
		*via = TT_VIA_SECTION;
		return 1;
	}
	return 0;
}

int tt_elf_find_root(int fd, uint64_t *vaddr, int *via)
{
	elf_init();
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return TT_T_NOT_ELF;
	int found = tt_elf_find_root_in(elf, vaddr, via);
	elf_end(elf);
	return found;
}

int tt_elf_load_bias(int fd, uint64_t map_start, uint64_t map_offset,
		     uint64_t *bias)
{
	size_t phnum;
	int rc = TT_R_NOT_FOUND;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	elf_init();
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return TT_T_NOT_ELF;
	if (elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &phnum) != 0) {
		rc = TT_T_NOT_ELF;
		goto out;
	}
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
		    ph.p_filesz == 0)
			continue;
		/* The kernel maps a segment from its page-aligned offset, so
		 * the mapping may start up to a page before p_offset. */
		uint64_t lo = ph.p_offset & ~(page - 1);
		if (map_offset < lo || map_offset >= ph.p_offset + ph.p_filesz)
			continue;
		/* The link-time address of the mapping's first byte; the
		 * arithmetic is modular, so map_offset < p_offset is fine. */
		*bias = map_start - (ph.p_vaddr - ph.p_offset + map_offset);
		rc = 0;
		break;
	}
out:
	elf_end(elf);
	return rc;
}

/* The choice among the candidates is the reader's (tt_root_pick), which
 * the gdb plugin calls too with the addresses gdb knows. */
int tt_root_choose(tt_mem mem, const tt_root_loc *cand, int n,
		   const char *who, tt_root_loc *out, char *err, size_t errlen)
{
	uint64_t addrs[MAX_CANDIDATES];
	tt_root_pick_out pick;

	if (n > MAX_CANDIDATES)
		n = MAX_CANDIDATES;
	if (n <= 0) {
		snprintf(err, errlen,
			 "%s does not use tasktrace (no %s symbol or %s section in its modules)",
			 who, TT_REGISTRY_SYMBOL, TT_REGISTRY_SECTION);
		return TT_T_NO_REGISTRY;
	}
	for (int i = 0; i < n; i++)
		addrs[i] = cand[i].addr;
	if (tt_root_pick(mem, addrs, (size_t)n, &pick) == TT_R_OK) {
		*out = cand[pick.chosen];
		return TT_T_OK;
	}
	snprintf(err, errlen, "%s: the registry in %.200s at 0x%" PRIx64 " does not decode: %s",
		 who, cand[0].module, cand[0].addr, pick.err);
	return pick.error == TT_R_BAD_VERSION ? TT_T_BAD_VERSION : TT_T_BAD_REGISTRY;
}

static void consider(search *s, const mapping *m)
{
	uint64_t vaddr = 0, bias = 0;
	int via = 0;
	int fd = open_module(s->pid, m);

	if (fd < 0)
		return; /* unreadable module: it cannot be ours to decode */
	if (tt_elf_find_root(fd, &vaddr, &via) == 1 &&
	    tt_elf_load_bias(fd, m->start, m->offset, &bias) == 0 &&
	    s->ncand < MAX_CANDIDATES) {
		tt_root_loc *c = &s->cand[s->ncand++];
		c->addr = vaddr + bias;
		c->bias = bias;
		c->via = via;
		snprintf(c->module, sizeof(c->module), "%s", m->path);
	}
	close(fd);
}

static int scan_maps(search *s, char *err, size_t errlen)
{
	char path[64], line[4400];
	mapping *m = malloc(sizeof(*m));

	if (!m) {
		snprintf(err, errlen, "out of memory");
		return TT_T_IO;
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)s->pid);
	FILE *f = fopen(path, "re");
	if (!f) {
		int e = errno;
		free(m);
		if (e == ENOENT || e == ESRCH) {
			snprintf(err, errlen, "pid %d: no such process", (int)s->pid);
			return TT_T_NO_PROCESS;
		}
		snprintf(err, errlen, "pid %d: cannot read %s: %s", (int)s->pid,
			 path, strerror(e));
		return e == EACCES || e == EPERM ? TT_T_PERMISSION : TT_T_IO;
	}
	while (fgets(line, sizeof(line), f)) {
		if (parse_maps_line(line, m) == 1 && !module_seen(s, m))
			consider(s, m);
	}
	fclose(f);
	free(m);
	return TT_T_OK;
}

int tt_target_find_root(pid_t pid, tt_mem mem, tt_root_loc *out, char *err,
			size_t errlen)
{
	search *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return TT_T_IO;
	}
	s->pid = pid;
	s->mem = mem;
	rc = scan_maps(s, err, errlen);
	if (rc == TT_T_OK) {
		char who[32];
		snprintf(who, sizeof(who), "pid %d", (int)pid);
		rc = tt_root_choose(mem, s->cand, s->ncand, who, out, err, errlen);
	}
	free(s);
	return rc;
}

static int open_error(tt_target *t, int e)
{
	pid_t pid = t->pid;

	if (e == ENOENT || e == ESRCH) {
		snprintf(t->err, sizeof(t->err), "pid %d: no such process", (int)pid);
		return TT_T_NO_PROCESS;
	}
	if (e == EACCES || e == EPERM) {
		snprintf(t->err, sizeof(t->err),
			 "pid %d: permission denied reading its memory (run as the same user or root; "
			 "with Yama, kernel.yama.ptrace_scope must be 0 or tasktrace needs CAP_SYS_PTRACE)",
			 (int)pid);
		return TT_T_PERMISSION;
	}
	snprintf(t->err, sizeof(t->err), "pid %d: cannot open its memory: %s",
		 (int)pid, strerror(e));
	return TT_T_IO;
}

int tt_target_open_pid(tt_target *t, pid_t pid)
{
	char path[32];
	struct stat st;
	int rc;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->mp.fd = -1;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (pid <= 0 || stat(path, &st) != 0)
		return open_error(t, ESRCH);
	rc = tt_mem_pid_open(&t->mp, pid, &t->mem);
	if (rc < 0)
		return open_error(t, -rc);
	t->mem_open = 1;
	return tt_target_find_root(pid, t->mem, &t->root, t->err, sizeof(t->err));
}

void tt_target_close(tt_target *t)
{
	if (t->mem_open)
		tt_mem_pid_close(&t->mp);
	t->mem_open = 0;
}
