/* Pruning a running task's machine stack (symbolizer/src/sym/sym_bt.c) on
 * stacks made of this process's own functions, so each of the two
 * mechanisms is seen alone: the pattern (tt_bt_default_prune: the
 * runtime's run loop, waker helpers, block_on) removes runtime frames
 * inside the task, where the cut cannot; the cut after the root poll
 * function removes what lies outside the task -- on block_on's own thread
 * main and __libc_start_main, which no pattern names. */
#include <check.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tasktrace/read/sym.h"
#include "tasktrace/tasktrace.h"

int main(void);

static volatile int sink;

__attribute__((noinline)) static void user_leaf(void)
{
	sink++;
}

__attribute__((noinline)) static void root_poll_fn(void)
{
	user_leaf();
	sink++;
}

/* Links libtasktrace in (dlsym then finds the functions' real entry,
 * not an executable's PLT stub). */
static void (*const volatile linked[])(void) = {(void (*)(void))tt_waker_wake,
						(void (*)(void))tt_block_on};

static uint64_t sym_addr(const char *name)
{
	void *p = dlsym(RTLD_DEFAULT, name);
	ck_assert_msg(p, "no %s", name);
	return (uint64_t)(uintptr_t)p;
}

static tt_sym *sym;
static tt_sym_pc stack[6];

static void setup(void)
{
	int code;
	char err[256];

	sym = tt_sym_open_self(&code, err, sizeof err);
	ck_assert_msg(sym, "%s", err);
	/* Innermost first, each PC inside its function (looked up as is). */
	const uint64_t pcs[6] = {
	    (uint64_t)(uintptr_t)&user_leaf + 1,    sym_addr("tt_waker_wake") + 1,
	    (uint64_t)(uintptr_t)&root_poll_fn + 1, sym_addr("tt_block_on") + 1,
	    (uint64_t)(uintptr_t)&main + 1,	    sym_addr("__libc_start_main") + 1,
	};
	for (int i = 0; i < 6; i++)
		stack[i] = (tt_sym_pc){pcs[i], 1};
}

static void teardown(void)
{
	tt_sym_close(sym);
}

/* The functions of OUT[0..N), comma-separated. */
static const char *names(const tt_sym_at *out, int n)
{
	static char buf[512];
	size_t len = 0;

	buf[0] = 0;
	for (int i = 0; i < n && len < sizeof buf; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? "," : "",
					out[i].f.function ? out[i].f.function : "??");
	return buf;
}

/* A task running inside a waker helper, on block_on's thread: the helper
 * goes by the pattern, block_on, main and libc's start by the cut. */
START_TEST(pattern_inside_and_cut_outside)
{
	tt_sym_at out[16];
	int n = tt_sym_prune_stack(sym, stack, 6, (uint64_t)(uintptr_t)&root_poll_fn, NULL, 0, 0,
				   out, 16);
	ck_assert_str_eq(names(out, n), "user_leaf,root_poll_fn");
	ck_assert_uint_eq(out[0].pc, stack[0].pc);
	ck_assert_uint_eq(out[1].pc, stack[2].pc);
}
END_TEST

/* The root poll function unknown: no cut, so main shows; block_on and the
 * waker helper still go, by the pattern alone. */
START_TEST(pattern_alone)
{
	tt_sym_at out[16];
	int n = tt_sym_prune_stack(sym, stack, 5, 0, NULL, 0, 0, out, 16);
	ck_assert_str_eq(names(out, n), "user_leaf,root_poll_fn,main");
}
END_TEST

/* A user's pattern on top; --no-prune keeps every frame. */
START_TEST(user_pattern_and_no_prune)
{
	tt_sym_at out[16];
	const char *prune[] = {"^user_leaf$"};
	int n = tt_sym_prune_stack(sym, stack, 6, (uint64_t)(uintptr_t)&root_poll_fn, prune, 1, 0,
				   out, 16);
	ck_assert_str_eq(names(out, n), "root_poll_fn");
	n = tt_sym_prune_stack(sym, stack, 6, (uint64_t)(uintptr_t)&root_poll_fn, prune, 1, 1, out,
			       16);
	ck_assert_int_eq(n, 6);
	const char *all = "user_leaf,tt_waker_wake,root_poll_fn,tt_block_on,main,";
	ck_assert_msg(strncmp(names(out, n), all, strlen(all)) == 0, "%s", names(out, n));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("prune");
	TCase *tc = tcase_create("prune");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, pattern_inside_and_cut_outside);
	tcase_add_test(tc, pattern_alone);
	tcase_add_test(tc, user_pattern_and_no_prune);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
