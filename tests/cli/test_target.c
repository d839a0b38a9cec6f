/* Finding the registry root from the outside (libtasktrace-sym's
 * target.c), checked on this very process: its executable carries a
 * decoy .tasktrace section with garbage in it and no symbol, and
 * libtasktrace.so, which it links (libtasktrace-sym does not: it reads,
 * it has no registry), the real root. */
#include <check.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tasktrace/read/target.h"

/* Found by section only: the executable defines no tasktrace_registry. */
static unsigned char decoy[64] __attribute__((section(".tasktrace"), used,
					      aligned(64))) = { 0xde, 0xad };

/* The first mapping of our executable: start and file offset. */
static void exe_mapping(uint64_t *start, uint64_t *offset)
{
	char exe[PATH_MAX], line[PATH_MAX + 128];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		size_t len = strlen(line), el = strlen(exe);
		if (len > el && strcmp(line + len - el, exe) == 0 &&
		    sscanf(line, "%" SCNx64 "-%*x %*s %" SCNx64, start, offset) == 2) {
			fclose(f);
			return;
		}
	}
	fclose(f);
	ck_abort_msg("executable not in maps");
}

START_TEST(section_fallback_and_bias)
{
	uint64_t vaddr = 0, bias = 0, start, offset;
	int via = 0;
	int fd = open("/proc/self/exe", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(tt_elf_find_root(fd, &vaddr, &via), 1);
	ck_assert_int_eq(via, TT_VIA_SECTION);
	exe_mapping(&start, &offset);
	ck_assert_int_eq(tt_elf_load_bias(fd, start, offset, &bias), 0);
	ck_assert_uint_eq(vaddr + bias, (uint64_t)(uintptr_t)decoy);
	close(fd);
}
END_TEST

START_TEST(not_elf)
{
	uint64_t vaddr;
	int via;
	FILE *f = tmpfile();
	fputs("#!/bin/sh\necho not an ELF file\n", f);
	fflush(f);
	ck_assert_int_eq(tt_elf_find_root(fileno(f), &vaddr, &via), TT_T_NOT_ELF);
	fclose(f);
}
END_TEST

/* The decoy does not decode; the library's root does and wins. */
START_TEST(find_root_in_self)
{
	tt_root_loc loc;
	char err[512] = "";
	void *real = dlsym(RTLD_DEFAULT, TT_REGISTRY_SYMBOL);
	ck_assert_ptr_nonnull(real);
	ck_assert_ptr_eq(real, tt_registry_root());
	int rc = tt_target_find_root(getpid(), tt_mem_self(), &loc, err, sizeof err);
	ck_assert_msg(rc == TT_T_OK, "rc %d: %s", rc, err);
	ck_assert_uint_eq(loc.addr, (uint64_t)(uintptr_t)real);
	ck_assert_int_eq(loc.via, TT_VIA_DYNSYM);
	ck_assert_msg(strstr(loc.module, "libtasktrace"), "module %s", loc.module);
}
END_TEST

START_TEST(no_such_process)
{
	tt_target t;
	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	ck_assert_int_eq(tt_target_open_pid(&t, gone), TT_T_NO_PROCESS);
	ck_assert_msg(strstr(t.err, "no such process"), "%s", t.err);
	tt_target_close(&t);
	ck_assert_int_eq(tt_target_open_pid(&t, -5), TT_T_NO_PROCESS);
	tt_target_close(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("target");
	TCase *tc = tcase_create("self");
	tcase_add_test(tc, section_fallback_and_bias);
	tcase_add_test(tc, not_elf);
	tcase_add_test(tc, find_root_in_self);
	tcase_add_test(tc, no_such_process);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
