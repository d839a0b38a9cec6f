/* Task labels through the CLI, on tests/cli/labels_prog (labels set by a
 * task on itself, inherited by its children, given and overridden at
 * spawn): shown by ps --labels, bt, tree and --json; filtered by
 * --label (ps, bt, hung); counted by ps --group label:KEY, exactly, on a
 * live process and on a core of 100,000 tasks; and label bytes planted
 * in the target through /proc/PID/mem printed sanitised, a damaged list
 * marked, its task still shown. */
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasktrace/read/reader.h"
#include "ttmi.h"

#include "cli_util.h"

enum { LIVE_N = 30 };

static void start(sample *s, long n)
{
	char arg[32];
	snprintf(arg, sizeof arg, "%ld", n);
	sample_start_path(s, getenv("TT_LABELS_PROG"), arg);
}

static size_t count(const char *text, const char *needle)
{
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Tasks with I mod 3 == R among 0..N-1. */
static long residue(long n, long r)
{
	return n / 3 + (n % 3 > r);
}

/* ps --group label:route of labels_prog N: the exact rows. */
static void group_counts(const char *target, long n)
{
	char want[128];
	run r = tasktrace("ps", "--group", "label:route", target, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_msg(!strncmp(r.out, "  Count Label ", 14), "%s", r.out);
	static const char *const routes[] = {"/users", "/orders", "/health"};
	for (long k = 0; k < 3; k++) {
		snprintf(want, sizeof want, "\n  %-6ldroute=%s ", 2 * residue(n, k), routes[k]);
		ck_assert_msg(strstr(r.out, want), "no '%s' in\n%s", want + 1, r.out);
	}
	ck_assert_msg(strstr(r.out, "\n  2     (no route label) "), "%s", r.out);
	ck_assert_uint_eq(count(r.out, "\n"), 5);
	run_free(&r);
	/* The same with --group=label:KEY, and a filter first. */
	r = tasktrace("ps", "--group=label:tenant", "--label", "route", target, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	snprintf(want, sizeof want, "\n  %-6ldtenant=acme ", 2 * n);
	ck_assert_msg(strstr(r.out, want), "no '%s' in\n%s", want + 1, r.out);
	ck_assert_uint_eq(count(r.out, "\n"), 2);
	run_free(&r);
}

START_TEST(live_show_filter_group)
{
	sample s;
	char pid[16];
	start(&s, LIVE_N);
	snprintf(pid, sizeof pid, "%d", (int)s.pid);

	/* ps: no labels unless asked; --labels ends each row with them. */
	run r = tasktrace("ps", pid, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_null(strstr(r.out, "{"));
	run_free(&r);
	r = tasktrace("ps", "--labels", pid, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(
	    strstr(line_with(r.out, " block_on ", (char[512]){0}, 512), "  {tenant=acme}"), "%s",
	    r.out);
	ck_assert_msg(strstr(r.out, "  {tenant=globex}"), "%s", r.out);
	/* A request and its db-query child: the same three labels. */
	ck_assert_uint_eq(count(r.out, "  {tenant=acme request_id=4 route=/orders}\n"), 2);
	run_free(&r);

	/* --label: all must match; KEY alone: has the key. */
	r = tasktrace("ps", "--label", "route=/users", "--label", "tenant=acme", pid, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(count(r.out, "\n"), 1 + 2 * residue(LIVE_N, 0));
	run_free(&r);
	r = tasktrace("ps", "--label", "request_id=7", pid, NULL);
	ck_assert_uint_eq(count(r.out, "\n"), 3);
	ck_assert_uint_eq(count(r.out, " request  "), 1);
	ck_assert_uint_eq(count(r.out, " db-query  "), 1);
	run_free(&r);
	r = tasktrace("ps", "--label", "request_id", pid, NULL);
	ck_assert_uint_eq(count(r.out, "\n"), 1 + 2 * LIVE_N);
	run_free(&r);
	r = tasktrace("ps", "--label", "tenant=globex", pid, NULL);
	ck_assert_uint_eq(count(r.out, "\n"), 2);
	ck_assert_ptr_nonnull(strstr(r.out, " worker "));
	run_free(&r);
	r = tasktrace("ps", "--label", "route=/nowhere", pid, NULL);
	ck_assert_str_eq(r.out, "No tasks.\n");
	run_free(&r);

	/* bt: the labels in the header; --label picks the tasks. */
	r = tasktrace("bt", "--label", "request_id=7", pid, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(count(r.out, "\ntask ") + !strncmp(r.out, "task ", 5), 2);
	in_order(r.out, "\"request\" {tenant=acme request_id=7 route=/orders} [join, ",
		 "\"db-query\" {tenant=acme request_id=7 route=/orders} [notify, ", NULL);
	run_free(&r);

	/* tree: after the name. */
	r = tasktrace("tree", pid, NULL);
	ck_assert_msg(strstr(r.out, "\"worker\" {tenant=globex} idle ["), "%s", r.out);
	run_free(&r);

	/* JSON: an object; schema-checked. */
	r = tasktrace("ps", "--json", "--label", "request_id=5", pid, NULL);
	ck_assert_int_eq(r.status, 0);
	assert_schema("ps", r.out);
	ck_assert_uint_eq(
	    count(r.out,
		  "\"labels\":{\"tenant\":\"acme\",\"request_id\":\"5\",\"route\":\"/health\"},"
		  "\"labels_incomplete\":false"),
	    2);
	run_free(&r);
	r = tasktrace("bt", "--json", "--label", "request_id=5", pid, NULL);
	assert_schema("bt", r.out);
	run_free(&r);
	r = tasktrace("tree", "--json", pid, NULL);
	assert_schema("tree", r.out);
	run_free(&r);

	/* hung: only the findings naming a task with the labels. */
	r = tasktrace("hung", "--idle", "1ms", "--label", "request_id=3", pid, NULL);
	ck_assert_msg(r.status == 20, "exit %d: %s", r.status, r.err);
	ck_assert_msg(strstr(r.out, "\"db-query\" {tenant=acme request_id=3 route=/users}"), "%s",
		      r.out);
	ck_assert_ptr_null(strstr(r.out, "request_id=4"));
	ck_assert_ptr_null(strstr(r.out, "\"worker\""));
	run_free(&r);

	group_counts(pid, LIVE_N);

	/* Misuse. */
	r = tasktrace("ps", "--group", "label:", pid, NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	r = tasktrace("ps", "--label", "=x", pid, NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	r = tasktrace("tree", "--label", "x", pid, NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	assert_running(s.pid);
	sample_stop(&s);
}
END_TEST

/* ---- hostile label bytes ---- */

static void poke(pid_t pid, uint64_t addr, const void *bytes, size_t n)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, bytes, n, (off_t)addr), (ssize_t)n);
	close(fd);
}

static int has(const tt_rtask *t, const char *key, const char *value)
{
	for (uint32_t i = 0; i < t->nlabels; i++)
		if (!strcmp(t->labels[i].key, key) && !strcmp(t->labels[i].value, value))
			return 1;
	return 0;
}

/* In labels_prog: worker's tenant value becomes controls and bad UTF-8;
 * block_on's label_count 200 (beyond its array); request_id=2's request
 * gets a key filling its field with no NUL. */
static void plant(sample *s)
{
	tt_mem_pid mp;
	tt_mem mem;
	tt_reader r;
	tt_task_iter it;
	tt_rtask t;
	int done = 0;

	ck_assert_int_eq(tt_mem_pid_open(&mp, s->pid, &mem), 0);
	ck_assert_int_eq(tt_reader_open(&r, mem, s->registry, NULL), TT_R_OK);
	tt_field bf = r.f_task[TT_TASK_LABEL_BLOCK], cf = r.f_task[TT_TASK_LABEL_COUNT];
	tt_field kf = r.f_label[TT_LABEL_KEY], vf = r.f_label[TT_LABEL_VALUE];
	uint32_t stride = r.record_size[TT_REC_LABEL];
	/* Out of line: the slot points to its block (capacity, then the
	 * records). */
	ck_assert(bf.size == 8 && !r.f_task[TT_TASK_LABELS].size);
	ck_assert(cf.size && kf.size == 16 && vf.size == 32 && stride);
	tt_task_iter_init(&r, &it);
	while (tt_task_iter_next(&r, &it, &t) == 1) {
		uint64_t l0 = 0;
		if (t.nlabels) {
			ck_assert_int_eq(mem.read(mem.ctx, t.slot_addr + bf.offset, &l0, 8), 0);
			ck_assert_uint_ne(l0, 0);
			l0 += 8;
		}
		if (!strcmp(t.name, "worker")) {
			char v[32] = "\x1b[2J\xff\xc0\x80ok";
			poke(s->pid, l0 + vf.offset, v, sizeof v);
			done |= 1;
		} else if (!strcmp(t.name, "block_on")) {
			uint32_t c = 200;
			ck_assert_uint_eq(cf.size, 4);
			poke(s->pid, t.slot_addr + cf.offset, &c, 4);
			done |= 2;
		} else if (!strcmp(t.name, "request") && has(&t, "request_id", "2")) {
			ck_assert_str_eq(t.labels[1].key, "request_id");
			poke(s->pid, l0 + stride + kf.offset, "request_idXXXXXX", 16);
			done |= 4;
		} else if (!strcmp(t.name, "request") && has(&t, "request_id", "3")) {
			/* A label block pointer to nowhere. */
			uint64_t nowhere = 0x10;
			poke(s->pid, t.slot_addr + bf.offset, &nowhere, 8);
			done |= 8;
		}
	}
	ck_assert_int_eq(done, 15);
	tt_mem_pid_close(&mp);
}

static void printable(const char *what, const char *text)
{
	for (const char *p = text; *p; p++) {
		unsigned char c = (unsigned char)*p;
		ck_assert_msg(c == '\n' || (c >= 0x20 && c < 0x7f), "%s: byte 0x%02x:\n%s", what, c,
			      text);
	}
}

START_TEST(hostile_bytes)
{
	sample s;
	char pid[16];
	start(&s, 6);
	snprintf(pid, sizeof pid, "%d", (int)s.pid);
	plant(&s);

	run r = tasktrace("ps", "--labels", pid, NULL);
	ck_assert_int_eq(r.status, 0);
	printable("ps", r.out);
	ck_assert_msg(strstr(r.out, "  {tenant=\\x1b[2J\\xff\\xc0\\x80ok}\n"), "%s", r.out);
	/* The damaged list: what could be read, and a mark; the task stays. */
	ck_assert_msg(
	    strstr(line_with(r.out, " block_on ", (char[512]){0}, 512), "  {tenant=acme ?}"), "%s",
	    r.out);
	ck_assert_msg(strstr(r.out, "{tenant=acme request_idXXXXX=2 route=/health ...}"), "%s",
		      r.out);
	/* An unreadable label block: the task, its labels marked. */
	ck_assert_msg(strstr(r.out, "labels_prog.c:55  {?}\n"), "%s", r.out);
	run_free(&r);

	r = tasktrace("bt", pid, NULL);
	printable("bt", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "\"worker\" {tenant=\\x1b[2J\\xff\\xc0\\x80ok} ["));
	run_free(&r);

	r = tasktrace("ps", "--json", pid, NULL);
	assert_json(r.out);
	assert_schema("ps", r.out);
	ck_assert_msg(strstr(r.out, "\"labels\":{\"tenant\":\"\\u001b[2J\\ufffd\\ufffd\\ufffdok\"},"
				    "\"labels_incomplete\":false"),
		      "%s", r.out);
	ck_assert_ptr_nonnull(
	    strstr(r.out, "\"labels\":{\"tenant\":\"acme\"},\"labels_incomplete\":true"));
	run_free(&r);

	/* A filter matches the bytes as the target holds them. */
	r = tasktrace("ps", "--label", "request_idXXXXX=2", pid, NULL);
	ck_assert_uint_eq(count(r.out, "\n"), 2);
	run_free(&r);
	sample_stop(&s);
}
END_TEST

/* gdb: the same words through the same C, on the planted bytes. */
static ttmi_record *done(ttmi *g, ttmi_record *r, const char *what)
{
	ck_assert_msg(r && r->klass && !strcmp(r->klass, "done"), "%s: %s", what,
		      r ? ttmi_console(g) : ttmi_error(g));
	const char *bad = ttmi_bad_utf8(r->results);
	ck_assert_msg(!bad, "%s: not UTF-8: %s", what, bad);
	return r;
}

START_TEST(gdb_hostile_bytes)
{
	sample s;
	start(&s, 6);
	plant(&s);
	ttmi *g = ttmi_spawn(NULL, 60000);
	ck_assert_ptr_nonnull(g);
	ttmi_record_free(done(g,
			      ttmi_cli(g, "python import sys; sys.path.insert(0, '%s/gdb-plugin/python')",
				       getenv("TT_SOURCE_ROOT")),
			      "sys.path"));
	ttmi_record_free(done(g, ttmi_cli(g, "python import tasktrace_gdb"), "import"));
	ttmi_record_free(done(g, ttmi_command(g, "-target-attach %d", (int)s.pid), "attach"));
	ttmi_record_free(ttmi_wait_async(g, "stopped"));

	ttmi_record_free(done(g, ttmi_cli(g, "info tasks -labels"), "info tasks -labels"));
	printable("info tasks", ttmi_console(g));
	ck_assert_msg(strstr(ttmi_console(g), "  {tenant=\\x1b[2J\\xff\\xc0\\x80ok}\n"), "%s",
		      ttmi_console(g));
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "  {tenant=acme ?}"));
	ttmi_record_free(done(g, ttmi_cli(g, "info tasks -label request_idXXXXX=2"), "-label"));
	ck_assert_uint_eq(count(ttmi_console(g), "\n"), 2);

	/* MI: the JSON object decoded, U+FFFD for the bad bytes. */
	ttmi_record *r = done(g, ttmi_command(g, "-task-list"), "-task-list");
	const ttmi_value *tasks = ttmi_get(r->results, "tasks");
	int seen = 0;
	for (size_t i = 0; i < ttmi_len(tasks); i++) {
		const ttmi_value *t = ttmi_at(tasks, i);
		if (strcmp(ttmi_str(t, "name"), "worker"))
			continue;
		ck_assert_str_eq(ttmi_str(t, "labels.tenant"),
				 "\x1b[2J\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdok");
		seen++;
	}
	ck_assert_int_eq(seen, 1);
	ttmi_record_free(r);
	ttmi_close(g);
	sample_stop(&s);
}
END_TEST

/* ---- a core: the counts exact at 100,000 tasks ---- */

START_TEST(core_group_counts)
{
	sample s;
	const char *sc = getenv("TT_TEST_SCALE");
	long n = 50000 / (sc && atol(sc) > 0 ? atol(sc) : 1);
	start(&s, n);
	char *core = make_core(s.pid, "labels");
	if (!core) {
		sample_stop(&s);
		return;
	}
	char exe[512];
	snprintf(exe, sizeof exe, "%s", getenv("TT_LABELS_PROG"));
	sample_stop(&s);
	/* 2n + 2 tasks, counted by value. */
	char want[128];
	run r = tasktrace("ps", "--exe", exe, "--group", "label:route", core, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	static const char *const routes[] = {"/users", "/orders", "/health"};
	for (long k = 0; k < 3; k++) {
		snprintf(want, sizeof want, "\n  %-6ldroute=%s ", 2 * residue(n, k), routes[k]);
		ck_assert_msg(strstr(r.out, want), "no '%s' in\n%s", want + 1, r.out);
	}
	ck_assert_msg(strstr(r.out, "\n  2     (no route label) "), "%s", r.out);
	run_free(&r);
	r = tasktrace("ps", "--exe", exe, "--label", "request_id=4242", "--labels", core, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(count(r.out, "  {tenant=acme request_id=4242 route=/users}\n"),
			  n > 4242 ? 2 : 0);
	run_free(&r);
	unlink(core);
	free(core);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli-labels");
	TCase *tc = tcase_create("live");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, live_show_filter_group);
	tcase_add_test(tc, hostile_bytes);
	suite_add_tcase(s, tc);
	/* gcore of an ASan process, and gdb loading the sanitized library,
	 * do not work: run without sanitizers only. */
	TCase *core = tcase_create("core");
	tcase_set_tags(core, "unsanitized");
	tcase_set_timeout(core, 300);
	tcase_add_test(core, core_group_counts);
	tcase_add_test(core, gdb_hostile_bytes);
	suite_add_tcase(s, core);
	return run_suite(s);
}
