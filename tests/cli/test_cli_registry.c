/* Registry-level damage, read by the CLI for real: a live samples/many_tasks
 * whose registry the test corrupts in place through /proc/PID/mem, and a
 * gcore core of it.  Every command must report a registry it cannot read
 * the same way (ps used to print "No tasks." and exit 0 where bt exited
 * 9), and a slot count read from junk must cost a bounded read that gives
 * up the chunk, never millions of slot reads with the target stopped. */
#include <check.h>
#include <fcntl.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasktrace/read/reader.h"

#include "cli_util.h"

#define NTASKS 40

static sample many;
static char pid_s[16];
static tt_reader r;
static tt_mem_pid mp;

static void start(void)
{
	char path[512];
	tt_mem mem;

	snprintf(path, sizeof path, "%s/many_tasks", getenv("TT_SAMPLES"));
	sample_start_path(&many, path, "40");
	snprintf(pid_s, sizeof pid_s, "%d", (int)many.pid);
	ck_assert_int_eq(tt_mem_pid_open(&mp, many.pid, &mem), 0);
	ck_assert_int_eq(tt_reader_open(&r, mem, many.registry, NULL), TT_R_OK);
}

static void stop(void)
{
	tt_mem_pid_close(&mp);
	sample_stop(&many);
}

/* Write the little-endian VALUE into field F of the record at ADDR in the
 * target; returns the old value. */
static uint64_t poke(uint64_t addr, tt_field f, uint64_t value)
{
	char path[64];
	uint64_t old = 0;

	ck_assert(f.size && f.size <= 8);
	snprintf(path, sizeof path, "/proc/%d/mem", (int)many.pid);
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &old, f.size, (off_t)(addr + f.offset)), f.size);
	ck_assert_int_eq(pwrite(fd, &value, f.size, (off_t)(addr + f.offset)), f.size);
	close(fd);
	return old;
}

static unsigned count_lines(const char *text, const char *needle)
{
	unsigned n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

START_TEST(chunk_count_beyond_capacity)
{
	const char *cmds[][2] = {
	    {"ps", NULL}, {"ps", "--json"}, {"bt", NULL}, {"tree", NULL}, {"hung", NULL}};
	tt_field cnt = r.f_root[TT_ROOT_CHUNK_COUNT];
	uint64_t cap = tt_reader_root_u64(&r, TT_ROOT_CHUNK_CAPACITY);
	uint64_t old = poke(many.registry, cnt, cap + 1);
	char want[96];

	snprintf(want, sizeof want, "chunk_count %llu exceeds chunk_capacity %llu",
		 (unsigned long long)cap + 1, (unsigned long long)cap);
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		run res = cmds[i][1] ? tasktrace(cmds[i][0], cmds[i][1], pid_s, NULL)
				     : tasktrace(cmds[i][0], pid_s, NULL);
		ck_assert_msg(res.status == 9, "%s %s: exit %d, want 9: %s", cmds[i][0],
			      cmds[i][1] ? cmds[i][1] : "", res.status, res.err);
		one_error_line(&res, want);
		run_free(&res);
		assert_running(many.pid);
	}
	poke(many.registry, cnt, old);
	run res = tasktrace("ps", pid_s, NULL);
	ck_assert_int_eq(res.status, 0);
	ck_assert_uint_eq(count_lines(res.out, "idle-worker"), NTASKS);
	run_free(&res);
}
END_TEST

/* Slot count and used mark 2^26 - 1 in a chunk of a few hundred slots:
 * the slots past the chunk's memory are unreadable, and 64 of them in a
 * row end it. */
static void check_junk_count(const char *target)
{
	/* A generous stop budget: under a sanitizer on a loaded machine the
	 * walk to the end of the junk count outlasts the default 1 s, and
	 * the reads it then skips add a line each (the budget has its own
	 * test). */
	run res = tasktrace("ps", "--stop-budget", "30s", target, NULL);

	ck_assert_msg(res.status == 0, "ps %s: exit %d: %s", target, res.status, res.err);
	ck_assert_uint_eq(count_lines(res.out, "idle-worker"), NTASKS);
	ck_assert_msg(strstr(res.err, "unreadable slots in a row; rest of chunk skipped"),
		      "ps %s: no give-up line: %s", target, res.err);
	/* A line per run of unreadable slots (a core has holes between its
	 * segments), at most 16 of them, and the count. */
	ck_assert_msg(count_lines(res.err, "\n") <= 17, "ps %s: %s", target, res.err);
	ck_assert_msg(strstr(res.err, "task slot errors"), "ps %s: no count: %s", target, res.err);
	run_free(&res);
	res = tasktrace("bt", "--json", "--stop-budget", "30s", target, NULL);
	ck_assert_msg(res.status == 0, "bt --json %s: exit %d: %s", target, res.status, res.err);
	assert_json(res.out);
	ck_assert_msg(strstr(res.out, "rest of chunk skipped"), "bt --json %s: %s", target,
		      res.out);
	run_free(&res);
}

START_TEST(slot_count_from_junk)
{
	tt_reader_chunk c;
	uint32_t n;

	ck_assert_int_eq(tt_reader_chunk_count(&r, &n), TT_R_OK);
	ck_assert_uint_ge(n, 1);
	ck_assert_int_eq(tt_reader_chunk_get(&r, n - 1, 0, &c), TT_R_OK);
	poke(c.addr, r.f_chunk[TT_CHUNK_SLOT_COUNT], (1ull << 26) - 1);
	poke(c.addr, r.f_chunk[TT_CHUNK_USED], (1ull << 26) - 1);
	check_junk_count(pid_s);
	assert_running(many.pid);
	char *core = make_core(many.pid, "junk-count");
	if (core) {
		check_junk_count(core);
		unlink(core);
		free(core);
	}
}
END_TEST

/* The address of the layout row (RECORD, FIELD) in the target's root. */
static uint64_t layout_row(uint16_t record, uint16_t field)
{
	char path[64];
	tt_registry_header h;
	tt_layout_entry e;

	snprintf(path, sizeof path, "/proc/%d/mem", (int)many.pid);
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &h, sizeof h, (off_t)many.registry), sizeof h);
	for (uint16_t i = 0; i < h.layout_count; i++) {
		uint64_t at = many.registry + h.layout_offset + i * sizeof e;
		ck_assert_int_eq(pread(fd, &e, sizeof e, (off_t)at), sizeof e);
		if (e.record == record && e.field == field) {
			close(fd);
			return at;
		}
	}
	ck_abort_msg("no layout row %u/%u", record, field);
	return 0;
}

/* Every task row of ps is a real task of many_tasks or says what is
 * wrong with it: no row of garbage passes as a task. */
static void check_rows_marked(const char *what, const char *out)
{
	unsigned marked = 0;

	for (const char *l = out; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		char row[1024];
		snprintf(row, sizeof row, "%.*s", (int)(len < sizeof row ? len : sizeof row - 1), l);
		l += len + (nl != NULL);
		if (!strncmp(row, "  Id ", 5) || !*row)
			continue;
		if (strstr(row, "(error: ")) {
			ck_assert_msg(strstr(row, " invalid ") || strstr(row, " torn "),
				      "%s: a marked row shows a state: %s", what, row);
			marked++;
			continue;
		}
		ck_assert_msg(strstr(row, " idle-worker ") || strstr(row, " block_on ") ||
				      strstr(row, " spawner "),
			      "%s: an unmarked row that is no task of many_tasks: %s", what, row);
	}
	ck_assert_msg(marked, "%s: nothing marked:\n%s", what, out);
}

/* The TASK stride 8 bytes short: the slots read at the wrong places give
 * ids never handed out, ids twice, workers that do not exist.  Each such
 * row says so, as "invalid" with no state, in every reader (issue 11,
 * defect 4). */
static void check_stride(const char *target, int live)
{
	run res = tasktrace("ps", target, NULL);
	ck_assert_msg(res.status == 0, "ps %s: exit %d: %s", target, res.status, res.err);
	check_rows_marked("ps", res.out);
	ck_assert_msg(strstr(res.out, "was never handed out (next_task_id "), "%s", res.out);
	run_free(&res);
	if (live) {
		res = tasktrace("ps", "--nonblocking", target, NULL);
		check_rows_marked("ps --nonblocking", res.out);
		run_free(&res);
	}
	res = tasktrace("bt", target, NULL);
	ck_assert_msg(strstr(res.out, "[invalid]:\nerror: id "), "bt %s: %s", target, res.out);
	run_free(&res);
	res = tasktrace("ps", "--json", target, NULL);
	ck_assert_msg(strstr(res.out, "\"error\":\"id ") && strstr(res.out, "never handed out"),
		      "ps --json %s: %s", target, res.out);
	run_free(&res);
}

START_TEST(slot_stride_wrong)
{
	uint64_t row = layout_row(TT_REC_TASK, TT_F_SIZEOF);
	tt_field size = {offsetof(tt_layout_entry, size), 2};
	uint64_t stride = poke(row, size, 0);

	poke(row, size, stride - 8);
	check_stride(pid_s, 1);
	assert_running(many.pid);
	char *core = make_core(many.pid, "stride");
	if (core) {
		check_stride(core, 0);
		unlink(core);
		free(core);
	}
	poke(row, size, stride);
}
END_TEST

/* A budget too short for any read: the target is resumed at the first
 * read, the command fails the way an unreadable registry does, and one
 * line says why. */
START_TEST(stop_budget)
{
	const char *cmds[] = {"ps", "bt", "tree", "hung"};

	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		run res = tasktrace(cmds[i], "--stop-budget", "1ns", pid_s, NULL);
		ck_assert_msg(res.status != 0, "%s: exit 0: %s", cmds[i], res.out);
		ck_assert_msg(strstr(res.err, "not read: the stop budget ran out"), "%s: %s",
			      cmds[i], res.err);
		ck_assert_msg(strstr(res.err, "resumed after the stop budget of 1ns"), "%s: %s",
			      cmds[i], res.err);
		run_free(&res);
		assert_running(many.pid);
	}
	run res = tasktrace("ps", "--stop-budget", "soon", pid_s, NULL);
	ck_assert_int_eq(res.status, 2);
	ck_assert_msg(strstr(res.err, "--stop-budget: 'soon' is not a duration"), "%s", res.err);
	run_free(&res);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli-registry");
	TCase *tc = tcase_create("registry");

	tcase_add_checked_fixture(tc, start, stop);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, chunk_count_beyond_capacity);
	tcase_add_test(tc, slot_count_from_junk);
	tcase_add_test(tc, stop_budget);
	tcase_add_test(tc, slot_stride_wrong);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
