/* Snapshot scale: a registry of a million pending tasks, five frames each
 * over ten shared sites, read from this process through tt_mem_self (real
 * syscalls, as for a live pid).  Prints the time; correctness is asserted,
 * speed is not (benchmarks live in bench/). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "reg_image.h"

#define CHUNKS 4u

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

START_TEST(test_million)
{
	const char *sc = getenv("TT_TEST_SCALE");
	uint32_t ntasks = 1000000u / (sc && atoi(sc) > 0 ? (uint32_t)atoi(sc) : 1);
	uint32_t per = (ntasks + CHUNKS - 1) / CHUNKS;
	static img g;
	uint64_t site[10], fa, fl, slots[CHUNKS];
	size_t heap = (size_t)ntasks * (IMG_TASK_SIZE + 4 * IMG_FRAME_SIZE +
					IMG_LEAF_SIZE) + (1u << 20);
	tt_snapshot *s;
	char err[160];
	double t0, t1, c0, c1;

	img_init_real(&g, heap);
	fa = img_func(&g, "handler", TT_FUNC_KIND_ASYNC);
	fl = img_func(&g, "tt_chan_recv", TT_FUNC_KIND_LEAF);
	for (int i = 0; i < 10; i++)
		site[i] = img_site(&g, "handler", "src/handler.c", 100 + i,
				   TT_SITEF_AWAIT);
	for (unsigned c = 0; c < CHUNKS; c++)
		slots[c] = img_chunk(&g, per);
	t0 = now_s();
	for (uint32_t i = 0; i < ntasks; i++) {
		uint64_t leaf = img_frame(&g, fl, 0, 0, 0);
		uint64_t child = leaf;

		img_wait(&g, leaf, TT_WAIT_CHAN_RECV, 0x1000 + 64 * (i % 7), 0, 0);
		/* Four async frames in one allocation, as nested futures are. */
		uint64_t f = img_alloc(&g, 4 * IMG_FRAME_SIZE);
		for (int d = 3; d >= 0; d--) {
			uint64_t a = f + (uint64_t)d * IMG_FRAME_SIZE;
			img_set(&g, TT_REC_FRAME, TT_FRAME_FUNC, a, fa);
			img_set(&g, TT_REC_FRAME, TT_FRAME_SITE, a,
				site[(i + (uint32_t)d) % 10]);
			img_set(&g, TT_REC_FRAME, TT_FRAME_CHILD, a, child);
			child = a;
		}
		img_task(&g, img_slot(slots[i / per], i % per), i + 1, "worker",
			 TT_STATE_IDLE, child);
	}
	t1 = now_s();
	fprintf(stderr, "built %u tasks in %.3f s\n", ntasks, t1 - t0);
	img_mem(&g);

	t0 = now_s();
	c0 = cpu_s();
	ck_assert_int_eq(tt_snapshot_read(tt_mem_self(), g.root_addr, NULL, &s,
					  err, sizeof(err)),
			 TT_R_OK);
	t1 = now_s();
	c1 = cpu_s();
	fprintf(stderr, "snapshot of %zu tasks, %zu frames each: %.3f s "
		"(cpu %.3f s)\n", s->ntasks, s->tasks[0].nframes, t1 - t0,
		c1 - c0);
	ck_assert_uint_eq(s->ntasks, ntasks);
	ck_assert_uint_eq(s->nerrors, 0);
	for (uint32_t i = 0; i < ntasks; i += 997) {
		const tt_stask *t = &s->tasks[i];
		ck_assert_uint_eq(t->raw.id, i + 1);
		ck_assert_uint_eq(t->nframes, 5);
		ck_assert_uint_eq(t->frames[2].site->line, 100 + (i + 2) % 10);
		ck_assert_str_eq(t->frames[2].site->file, "src/handler.c");
		ck_assert_uint_eq(t->frames[4].raw.wait_kind, TT_WAIT_CHAN_RECV);
		ck_assert_ptr_eq(tt_stask_leaf(t), &t->frames[4]);
		ck_assert_ptr_eq(tt_snapshot_find(s, i + 1), t);
	}
	/* Sites are shared objects, not per-task copies. */
	ck_assert_ptr_eq(s->tasks[0].frames[0].site, s->tasks[10].frames[0].site);
	tt_snapshot_free(s);
	img_free(&g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reader-scale");
	TCase *tc = tcase_create("scale");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_million);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
