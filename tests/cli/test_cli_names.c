/* Names from target memory that are not clean UTF-8, planted in a live
 * samples/many_tasks through /proc/PID/mem: task names, an async
 * function's name (FUNC) and a file name (SITE).  Every front end prints
 * them through the one sanitiser (core-runtime/src/wording/untrusted.h):
 * text shows \xHH for controls and bad bytes, JSON has U+FFFD and \u
 * escapes and passes a strict UTF-8 decoder, gdb (console and MI) shows
 * what the CLI shows; valid UTF-8 passes through unchanged. */
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

#define VALID                                                                        \
	"\xd0\xb7\xd0\xb0\xd0\xb4\xd0\xb0\xd1\x87\xd0\xb0-\xe6\x97\xa5\xe6\x9c\xac-" \
	"\xf0\x9d\x84\x9e"

static const struct {
	const char *raw, *text, *json;
} names[] = {
    /* Overlong forms. */
    {"ovl\xc0\x80-\xe0\x80\x80", "ovl\\xc0\\x80-\\xe0\\x80\\x80",
     "\"ovl\\ufffd\\ufffd-\\ufffd\\ufffd\\ufffd\""},
    /* A surrogate, U+D800. */
    {"sur\xed\xa0\x80", "sur\\xed\\xa0\\x80", "\"sur\\ufffd\\ufffd\\ufffd\""},
    /* Above U+10FFFF. */
    {"big\xf4\x90\x80\x80", "big\\xf4\\x90\\x80\\x80", "\"big\\ufffd\\ufffd\\ufffd\\ufffd\""},
    /* A sequence cut short. */
    {"cut\xe2\x82", "cut\\xe2\\x82", "\"cut\\ufffd\""},
    /* CSI as a raw byte and as U+009B, ESC. */
    {"csi\x9b"
     "31m",
     "csi\\x9b31m", "\"csi\\ufffd31m\""},
    {"c1\xc2\x9b"
     "2J",
     "c1\\xc2\\x9b2J", "\"c1\\u009b2J\""},
    {"esc\x1b[2J", "esc\\x1b[2J", "\"esc\\u001b[2J\""},
    /* Valid UTF-8: 2-, 3- and 4-byte characters, unchanged. */
    {VALID, VALID, "\"" VALID "\""},
};
#define NNAMES (sizeof names / sizeof names[0])
/* The FUNC name and SITE file planted: names[FUNC_NAME] and [SITE_FILE]. */
#define FUNC_NAME 4
#define SITE_FILE 1

static sample many;
static char pid_s[16];

static void poke(uint64_t addr, const void *bytes, size_t n)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%d/mem", (int)many.pid);
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, bytes, n, (off_t)addr), (ssize_t)n);
	close(fd);
}

static uint64_t peek(tt_mem mem, uint64_t addr, tt_field f)
{
	uint64_t v = 0;

	ck_assert(f.size && f.size <= 8);
	ck_assert_int_eq(mem.read(mem.ctx, addr + f.offset, &v, f.size), 0);
	return v;
}

/* Rename the first NNAMES tasks, and point the first task's root FUNC
 * name and its frame's SITE file at two of those names. */
static void plant(void)
{
	char path[512];
	tt_mem_pid mp;
	tt_mem mem;
	tt_reader r;
	tt_task_iter it;
	tt_rtask t;
	uint64_t name_at[NNAMES], frame = 0;
	size_t n = 0;

	if (many.pid)
		return; /* planted for the other TCase */
	snprintf(path, sizeof path, "%s/many_tasks", getenv("TT_SAMPLES"));
	sample_start_path(&many, path, "12");
	snprintf(pid_s, sizeof pid_s, "%d", (int)many.pid);
	ck_assert_int_eq(tt_mem_pid_open(&mp, many.pid, &mem), 0);
	ck_assert_int_eq(tt_reader_open(&r, mem, many.registry, NULL), TT_R_OK);
	tt_field nf = r.f_task[TT_TASK_NAME];
	tt_task_iter_init(&r, &it);
	while (n < NNAMES && tt_task_iter_next(&r, &it, &t) == 1) {
		if (!t.id || strcmp(t.name, "idle-worker") != 0)
			continue;
		char buf[TT_TASK_NAME_MAX] = "";
		ck_assert_uint_lt(strlen(names[n].raw), sizeof buf);
		strcpy(buf, names[n].raw);
		name_at[n] = t.slot_addr + nf.offset;
		poke(name_at[n], buf, nf.size < sizeof buf ? nf.size : sizeof buf);
		if (!frame)
			frame = t.root_frame;
		n++;
	}
	ck_assert_uint_eq(n, NNAMES);
	uint64_t func = peek(mem, frame, r.f_frame[TT_FRAME_FUNC]);
	uint64_t site = peek(mem, frame, r.f_frame[TT_FRAME_SITE]);
	ck_assert(func && site);
	poke(func + r.f_func[TT_FUNC_NAME].offset, &name_at[FUNC_NAME], 8);
	poke(site + r.f_site[TT_SITE_FILE].offset, &name_at[SITE_FILE], 8);
	tt_mem_pid_close(&mp);
}

/* TEXT without the valid name holds printable ASCII and newlines only:
 * nothing a terminal takes as a control, nothing a decoder rejects. */
static void clean_text(const char *what, const char *text)
{
	for (const char *p = text; *p;) {
		if (!strncmp(p, VALID, strlen(VALID))) {
			p += strlen(VALID);
			continue;
		}
		unsigned char c = (unsigned char)*p++;
		ck_assert_msg(c == '\n' || (c >= 0x20 && c < 0x7f), "%s: byte 0x%02x at %zu:\n%s",
			      what, c, (size_t)(p - 1 - text), text);
	}
}

START_TEST(cli_text_and_json)
{
	static const char *const cmds[] = {"ps", "bt", "tree", "hung"};

	for (size_t c = 0; c < 4; c++) {
		run r = tasktrace(cmds[c], "--all", pid_s, NULL);
		ck_assert_msg(r.status == 0 || r.status == 20, "%s: exit %d: %s", cmds[c], r.status,
			      r.err);
		clean_text(cmds[c], r.out);
		clean_text(cmds[c], r.err);
		for (size_t i = 0; i < NNAMES && c != 3; i++)
			ck_assert_msg(strstr(r.out, names[i].text), "%s: no %s in\n%s", cmds[c],
				      names[i].text, r.out);
		if (c == 1) {
			in_order(r.out, names[FUNC_NAME].text, " () at ", names[SITE_FILE].text,
				 ":", NULL);
		}
		run_free(&r);

		r = tasktrace(cmds[c], "--json", "--all", pid_s, NULL);
		ck_assert_msg(r.status == 0 || r.status == 20, "%s --json: exit %d: %s", cmds[c],
			      r.status, r.err);
		assert_json(r.out);
		assert_schema(cmds[c], r.out);
		for (size_t i = 0; i < NNAMES && c != 3; i++) {
			char want[128];
			snprintf(want, sizeof want, "\"name\":%s", names[i].json);
			ck_assert_msg(strstr(r.out, want), "%s --json: no %s in\n%s", cmds[c], want,
				      r.out);
		}
		if (c == 1) {
			char fn[128], file[128];
			snprintf(fn, sizeof fn, "\"function\":%s", names[FUNC_NAME].json);
			snprintf(file, sizeof file, "\"file\":%s", names[SITE_FILE].json);
			in_order(r.out, file, NULL);
			in_order(r.out, fn, NULL);
		}
		run_free(&r);
	}
}
END_TEST

static ttmi_record *expect(ttmi *g, ttmi_record *r, const char *what)
{
	ck_assert_msg(r, "%s: no answer (%s)", what, ttmi_error(g));
	ck_assert_msg(r->klass && strcmp(r->klass, "done") == 0, "%s: ^%s %s\n%s", what,
		      r->klass ? r->klass : "?",
		      ttmi_str(r->results, "msg") ? ttmi_str(r->results, "msg") : "",
		      ttmi_console(g));
	const char *bad = ttmi_bad_utf8(r->results);
	ck_assert_msg(!bad, "%s: not UTF-8: %s", what, bad);
	return r;
}

START_TEST(gdb_console_and_mi)
{
	const char *root = getenv("TT_SOURCE_ROOT");
	ttmi *g = ttmi_spawn(NULL, 60000);
	ck_assert_ptr_nonnull(g);
	ttmi_record_free(expect(
	    g, ttmi_cli(g, "python import sys; sys.path.insert(0, '%s/gdb-plugin/python')", root),
	    "sys.path"));
	ttmi_record_free(expect(g, ttmi_cli(g, "python import tasktrace_gdb"), "import"));
	ttmi_record_free(expect(g, ttmi_command(g, "-target-attach %d", (int)many.pid), "attach"));
	ttmi_record_free(ttmi_wait_async(g, "stopped"));

	/* info tasks and task bt: the text of the CLI. */
	ttmi_record_free(expect(g, ttmi_cli(g, "info tasks"), "info tasks"));
	char *table = strdup(ttmi_console(g));
	clean_text("info tasks", table);
	for (size_t i = 0; i < NNAMES; i++)
		ck_assert_msg(strstr(table, names[i].text), "info tasks: no %s in\n%s",
			      names[i].text, table);
	free(table);
	ttmi_record_free(expect(g, ttmi_cli(g, "task bt all"), "task bt all"));
	clean_text("task bt all", ttmi_console(g));
	in_order(ttmi_console(g), names[FUNC_NAME].text, " () at ", names[SITE_FILE].text, NULL);
	/* The plugin's own lines name tasks too (sanitised by the same C). */
	ttmi_record_free(expect(g, ttmi_cli(g, "task apply all task"), "task apply all task"));
	clean_text("task apply all task", ttmi_console(g));
	for (size_t i = 0; i < NNAMES; i++)
		ck_assert_msg(strstr(ttmi_console(g), names[i].text), "task apply: no %s in\n%s",
			      names[i].text, ttmi_console(g));

	/* MI: the JSON objects, decoded: U+FFFD (EF BF BD) for bad bytes. */
	ttmi_record *r = expect(g, ttmi_command(g, "-task-list"), "-task-list");
	const ttmi_value *tasks = ttmi_get(r->results, "tasks");
	int seen_valid = 0, seen_fffd = 0;
	for (size_t i = 0; i < ttmi_len(tasks); i++) {
		const char *name = ttmi_str(ttmi_at(tasks, i), "name");
		ck_assert_ptr_nonnull(name);
		seen_valid += !strcmp(name, VALID);
		seen_fffd += !strcmp(name, "sur\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	}
	ck_assert_int_eq(seen_valid, 1);
	ck_assert_int_eq(seen_fffd, 1);
	ttmi_record_free(r);
	ttmi_close(g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli-names");
	TCase *tc = tcase_create("cli");
	tcase_set_timeout(tc, 180);
	tcase_add_unchecked_fixture(tc, plant, NULL);
	tcase_add_test(tc, cli_text_and_json);
	suite_add_tcase(s, tc);
	/* gdb loads libtasktrace-reader, which a sanitizer build makes
	 * unloadable. */
	TCase *gdb = tcase_create("gdb");
	tcase_set_tags(gdb, "unsanitized");
	tcase_set_timeout(gdb, 180);
	tcase_add_unchecked_fixture(gdb, plant, NULL);
	tcase_add_test(gdb, gdb_console_and_mi);
	suite_add_tcase(s, gdb);
	int rc = run_suite(s);
	if (many.pid)
		sample_stop(&many);
	return rc;
}
