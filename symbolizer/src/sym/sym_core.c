/* Core files: checking one before trusting it, and reading the dumped
 * process's memory out of it.
 *
 * A core holds the writable and anonymous memory of the process; gcore
 * and the kernel leave out read-only file-backed mappings (code, string
 * literals, the runtime's site and function descriptors): the kernel
 * records those segments with p_filesz 0, gcore not at all.  Those bytes are read from the mapped
 * module's own ELF file instead, which libdwfl has located for us. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <sys/mman.h>
#include <sys/procfs.h>
#if defined(__x86_64__)
#include <sys/reg.h>
#endif
#include <sys/stat.h>
#include <unistd.h>

#include "sym/sym_priv.h"

static int by_vaddr(const void *a, const void *b)
{
	const core_seg *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* From the notes: the pid (the first NT_PRPSINFO or NT_PRSTATUS) and the
 * executable's entry point (AT_ENTRY of NT_AUXV), which tells the main
 * module among the others. */
static void note_scan(Elf *elf, size_t phnum, core_image *c)
{
	int have_pid = 0;

	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset,
						   ph.p_filesz, ELF_T_NHDR);
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off;
		while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			const char *desc = (const char *)d->d_buf + desc_off;
			if (!have_pid && nh.n_type == NT_PRPSINFO &&
			    nh.n_descsz >= sizeof(prpsinfo_t)) {
				prpsinfo_t ps;
				memcpy(&ps, desc, sizeof(ps));
				c->pid = ps.pr_pid;
				have_pid = 1;
			} else if (!have_pid && nh.n_type == NT_PRSTATUS &&
				   nh.n_descsz >= sizeof(prstatus_t)) {
				prstatus_t st;
				memcpy(&st, desc, sizeof(st));
				c->pid = st.pr_pid;
				have_pid = 1;
			} else if (nh.n_type == NT_AUXV) {
				for (size_t k = 0; k + 16 <= nh.n_descsz; k += 16) {
					uint64_t av[2];
					memcpy(av, desc + k, sizeof(av));
					if (av[0] == AT_ENTRY)
						c->entry = av[1];
				}
			}
		}
	}
}

int core_open(core_image *c, const char *path, char *err, size_t errlen)
{
	struct stat st;
	GElf_Ehdr eh;
	size_t phnum;
	unsigned char magic[4];

	memset(c, 0, sizeof(*c));
	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0) {
		int e = errno;
		sym_err(err, errlen, "%s: %s", path, strerror(e));
		return e == ENOENT ? TT_T_NO_PROCESS :
		       e == EACCES || e == EPERM ? TT_T_PERMISSION : TT_T_IO;
	}
	if (fstat(c->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		sym_err(err, errlen, "%s: not a regular file", path);
		return TT_T_NOT_ELF;
	}
	c->size = (uint64_t)st.st_size;
	if (pread(c->fd, magic, 4, 0) != 4 || memcmp(magic, ELFMAG, SELFMAG) != 0) {
		sym_err(err, errlen, "%s: not an ELF file (neither a process id nor a core dump)",
			path);
		return TT_T_NOT_ELF;
	}
	c->elf = elf_begin(c->fd, ELF_C_READ_MMAP, NULL);
	if (!c->elf || !gelf_getehdr(c->elf, &eh) ||
	    elf_getphdrnum(c->elf, &phnum) != 0) {
		sym_err(err, errlen, "%s: a damaged ELF file: %s", path, elf_errmsg(-1));
		return TT_T_NOT_ELF;
	}
	if (eh.e_type != ET_CORE) {
		sym_err(err, errlen, "%s: not a core dump (an ELF %s; pass a core file, or a pid)",
			path, eh.e_type == ET_EXEC || eh.e_type == ET_DYN ? "executable or library" :
			"object of another kind");
		return TT_T_NOT_CORE;
	}
	if (eh.e_machine != EM_X86_64 && eh.e_machine != EM_AARCH64) {
		sym_err(err, errlen, "%s: a core of an unsupported machine (%u)", path,
			eh.e_machine);
		return TT_T_NOT_CORE;
	}
	/* The program headers themselves first: libelf counts only those
	 * that fit in the file, so a core cut inside them (a 100-byte head)
	 * would have no segments to check and pass for a core without a
	 * registry.  Past 0xffff headers (PN_XNUM) the count is in section
	 * header 0, which a cut core may have lost too. */
	uint64_t want = eh.e_phnum;
	if (eh.e_phnum == PN_XNUM) {
		GElf_Shdr sh0;
		Elf_Scn *scn0 = elf_getscn(c->elf, 0);
		want = scn0 && gelf_getshdr(scn0, &sh0) ? sh0.sh_info : UINT32_MAX;
	}
	uint64_t need = eh.e_phoff + want * eh.e_phentsize;
	if (eh.e_phoff > c->size || need > c->size || want > phnum) {
		sym_err(err, errlen,
			"%s: truncated core (%" PRIu64 " bytes, its program headers need %" PRIu64
			")",
			path, c->size, need);
		return TT_T_TRUNCATED;
	}
	c->segs = calloc(phnum ? phnum : 1, sizeof(*c->segs));
	if (!c->segs) {
		sym_err(err, errlen, "out of memory");
		return TT_T_IO;
	}
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(c->elf, (int)i, &ph))
			continue;
		if (ph.p_offset + ph.p_filesz > need)
			need = ph.p_offset + ph.p_filesz;
		if (ph.p_type != PT_LOAD)
			continue;
		c->segs[c->nsegs++] = (core_seg){ ph.p_vaddr, ph.p_memsz, ph.p_offset,
						  ph.p_filesz };
	}
	/* A core cut short (a full disk, a killed dumper) would otherwise
	 * read as zeros or fail deep inside a task. */
	if (need > c->size) {
		sym_err(err, errlen,
			"%s: truncated core (%" PRIu64 " bytes, its segments need %" PRIu64 ")",
			path, c->size, need);
		return TT_T_TRUNCATED;
	}
	qsort(c->segs, c->nsegs, sizeof(*c->segs), by_vaddr);
	/* Reads are memcpy from the page cache: a million-task ps reads the
	 * whole registry, and pread's copies and syscalls were most of its
	 * time.  Without a mapping, reads fall back to pread. */
	void *m = mmap(NULL, c->size, PROT_READ, MAP_PRIVATE, c->fd, 0);
	c->map = m == MAP_FAILED ? NULL : m;
	note_scan(c->elf, phnum, c);
	return TT_T_OK;
}

void core_close(core_image *c)
{
	if (c->map)
		munmap((void *)c->map, c->size);
	if (c->elf)
		elf_end(c->elf);
	if (c->fd >= 0)
		close(c->fd);
	free(c->segs);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* The last segment starting at or below ADDR. */
static const core_seg *seg_at(const core_image *c, uint64_t addr)
{
	size_t lo = 0, hi = c->nsegs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->segs[mid].vaddr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	const core_seg *s = &c->segs[lo - 1];
	return addr - s->vaddr < s->memsz ? s : NULL;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Bytes the core left out: from the file of the module mapped at ADDR,
 * through the PT_LOAD segment of that file that covers it. */
static int module_read(tt_sym *s, uint64_t addr, void *buf, size_t len)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	GElf_Addr bias;
	size_t phnum, fsize;

	if (!mod)
		return -EFAULT;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	if (!elf || elf_getphdrnum(elf, &phnum) != 0)
		return -EFAULT;
	char *raw = elf_rawfile(elf, &fsize);
	uint64_t va = addr - bias;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (va < ph.p_vaddr || va - ph.p_vaddr >= ph.p_filesz ||
		    len > ph.p_filesz - (va - ph.p_vaddr))
			continue;
		uint64_t off = ph.p_offset + (va - ph.p_vaddr);
		if (!raw || off + len > fsize)
			return -EFAULT;
		memcpy(buf, raw + off, len);
		return 0;
	}
	return -EFAULT;
}

int core_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	tt_sym *s = ctx;
	unsigned char *p = buf;

	if (addr + len < addr)
		return -EFAULT;
	while (len) {
		const core_seg *g = seg_at(&s->core, addr);
		if (!g) /* gcore leaves clean file mappings out entirely */
			return module_read(s, addr, p, len);
		uint64_t in = addr - g->vaddr;
		size_t n = len;
		if (n > g->memsz - in)
			n = (size_t)(g->memsz - in);
		if (in < g->filesz) {
			if (n > g->filesz - in)
				n = (size_t)(g->filesz - in);
			if (s->core.map)
				memcpy(p, s->core.map + g->offset + in, n);
			else if (pread_all(s->core.fd, p, n, g->offset + in) < 0)
				return -EIO;
		} else if (module_read(s, addr, p, n) < 0) {
			return -EFAULT;
		}
		p += n;
		addr += n;
		len -= n;
	}
	return 0;
}

size_t elf_build_id(Elf *elf, unsigned char *buf, size_t cap)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off;
		while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    memcmp((char *)d->d_buf + name_off, "GNU", 4) == 0) {
				size_t n = nh.n_descsz < cap ? nh.n_descsz : cap;
				memcpy(buf, (char *)d->d_buf + desc_off, n);
				return n;
			}
		}
	}
	return 0;
}

int tt_sym_core_syscall(tt_sym *s, pid_t tid, tt_syscall *out)
{
	memset(out, 0, sizeof(*out));
	if (s->kind != TT_SYM_CORE || !s->core.elf)
		return out->state = TT_SC_UNKNOWN;
#if defined(__x86_64__)
	GElf_Ehdr eh;
	size_t phnum;
	if (!gelf_getehdr(s->core.elf, &eh) || eh.e_machine != EM_X86_64 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || elf_getphdrnum(s->core.elf, &phnum) != 0)
		return out->state = TT_SC_UNKNOWN;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(s->core.elf, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		Elf_Data *d = elf_getdata_rawchunk(s->core.elf, (int64_t)ph.p_offset, ph.p_filesz,
						   ELF_T_NHDR);
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off;
		while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type != NT_PRSTATUS || nh.n_descsz < sizeof(prstatus_t))
				continue;
			prstatus_t st;
			memcpy(&st, (const char *)d->d_buf + desc_off, sizeof(st));
			if (st.pr_pid != tid)
				continue;
			const uint64_t args[6] = {st.pr_reg[RDI], st.pr_reg[RSI], st.pr_reg[RDX],
						  st.pr_reg[R10], st.pr_reg[R8],  st.pr_reg[R9]};
			return tt_syscall_from_regs((int64_t)st.pr_reg[ORIG_RAX],
						    (int64_t)st.pr_reg[RAX], args, out);
		}
	}
#else
	(void)tid;
#endif
	return out->state = TT_SC_UNKNOWN;
}
