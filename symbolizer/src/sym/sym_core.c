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
#include <sys/mman.h>
#include <sys/procfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sym/sym_priv.h"

static int by_vaddr(const void *a, const void *b)
{
	const core_seg *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* The pid from the first NT_PRPSINFO (or NT_PRSTATUS) note. */
static pid_t note_pid(Elf *elf, size_t phnum)
{
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
			if (nh.n_type == NT_PRPSINFO && nh.n_descsz >= sizeof(prpsinfo_t)) {
				prpsinfo_t ps;
				memcpy(&ps, desc, sizeof(ps));
				return ps.pr_pid;
			}
			if (nh.n_type == NT_PRSTATUS && nh.n_descsz >= sizeof(prstatus_t)) {
				prstatus_t st;
				memcpy(&st, desc, sizeof(st));
				return st.pr_pid;
			}
		}
	}
	return 0;
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
	c->segs = calloc(phnum ? phnum : 1, sizeof(*c->segs));
	if (!c->segs) {
		sym_err(err, errlen, "out of memory");
		return TT_T_IO;
	}
	uint64_t need = 0;
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
	c->pid = note_pid(c->elf, phnum);
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
