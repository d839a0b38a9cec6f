/* The gdb plugin against the real samples, driven through libttmi: the MI
 * commands, `task frame`, the frame filter, a core made with gcore, a
 * corrupted registry, and Ada's commands in a session without a registry. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ttmi.h"

#include "../sample.h"

#define TIMEOUT_MS 60000

/* A result record of class KLASS, or fail with what gdb said. */
static ttmi_record *expect(ttmi *g, ttmi_record *r, const char *klass, const char *what)
{
	ck_assert_msg(r, "%s: no answer (%s)", what, ttmi_error(g));
	ck_assert_msg(r->klass && strcmp(r->klass, klass) == 0, "%s: ^%s %s", what,
		      r->klass ? r->klass : "?",
		      ttmi_str(r->results, "msg") ? ttmi_str(r->results, "msg") : "");
	/* Whatever the target holds, MI strings are strict UTF-8. */
	const char *bad = ttmi_bad_utf8(r->results);
	ck_assert_msg(!bad, "%s: not UTF-8: %s", what, bad);
	return r;
}

static void ok(ttmi *g, ttmi_record *r, const char *what)
{
	ttmi_record_free(expect(g, r, "done", what));
}

static void load_plugin(ttmi *g)
{
	const char *root = getenv("TT_SOURCE_ROOT");
	ok(g, ttmi_cli(g, "python import sys; sys.path.insert(0, '%s/gdb-plugin/python')", root),
	   "sys.path");
	ok(g, ttmi_cli(g, "python import tasktrace_gdb"), "import");
}

static ttmi *gdb_attach(pid_t pid)
{
	ttmi *g = ttmi_spawn(NULL, TIMEOUT_MS);
	ck_assert_ptr_nonnull(g);
	load_plugin(g);
	ttmi_record_free(expect(g, ttmi_command(g, "-target-attach %d", (int)pid), "done",
				"attach"));
	ttmi_record_free(ttmi_wait_async(g, "stopped"));
	return g;
}

static ttmi *gdb_core(const char *exe, const char *core)
{
	const char *args[] = { exe, core, NULL };
	ttmi *g = ttmi_spawn(args, TIMEOUT_MS);
	ck_assert_ptr_nonnull(g);
	load_plugin(g);
	return g;
}

static const ttmi_value *task_named(const ttmi_value *tasks, const char *name)
{
	for (size_t i = 0; i < ttmi_len(tasks); i++) {
		const ttmi_value *t = ttmi_at(tasks, i);
		if (ttmi_str(t, "name") && strcmp(ttmi_str(t, "name"), name) == 0)
			return t;
	}
	ck_abort_msg("no task named %s", name);
	return NULL;
}

/* The line of TEXT that contains NEEDLE, as a string of its own. */
static const char *line_of(const char *text, const char *needle)
{
	static char line[512];
	const char *p = strstr(text, needle), *b, *e;

	if (!p)
		return "";
	for (b = p; b > text && b[-1] != '\n'; b--)
		;
	e = strchr(p, '\n');
	snprintf(line, sizeof line, "%.*s", (int)(e ? e - b : (long)strlen(b)), b);
	return line;
}

/* The output of shell command CMD (NULL if it did not exit 0). */
static char *output_of(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	char buf[4096];
	size_t n;

	ck_assert_ptr_nonnull(p);
	while ((n = fread(buf, 1, sizeof buf, p)) > 0)
		fwrite(buf, 1, n, m);
	fclose(m);
	if (pclose(p) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* gdb's info tasks and the CLI's ps print the same table for a core (but
 * for gdb's mark on its selected task). */
static void same_table_as_cli(ttmi *g, const char *exe, const char *core)
{
	char cmd[1024];

	ok(g, ttmi_cli(g, "info tasks"), "info tasks");
	char *table = strdup(ttmi_console(g));
	for (char *l = table; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (l[0] == '*')
			l[0] = ' ';
	snprintf(cmd, sizeof cmd, "'%s' ps --exe '%s' '%s'", getenv("TT_TASKTRACE"), exe, core);
	char *ps = output_of(cmd);
	ck_assert_ptr_nonnull(ps);
	ck_assert_str_eq(table, ps);
	free(ps);
	free(table);
}

/* The ids of TEXT's rows naming NAME (a task list: "  ID  state ..." or
 * "* ID ..."), comma-separated in order. */
static const char *ids_named(const char *text, const char *name, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = 0;
	for (const char *p = text; (p = strstr(p, name)); p++) {
		const char *b = p;
		while (b > text && b[-1] != '\n')
			b--;
		long id = strtol(b + 2, NULL, 10);
		if (id > 0 && len + 24 < cap)
			len += (size_t)snprintf(out + len, cap - len, "%s%ld", len ? "," : "", id);
	}
	return out;
}

/* -group beyond the count-1 rows: hung's two batch items are one row of
 * count 2 whose Ids column is exactly their two ids. */
static void check_group_ids(ttmi *g)
{
	char ids[128], want[160];

	ok(g, ttmi_cli(g, "info tasks -name ^batch-item$"), "-name batch-item");
	ids_named(ttmi_console(g), " batch-item ", ids, sizeof ids);
	ck_assert_msg(strchr(ids, ',') && !strchr(strchr(ids, ',') + 1, ','), "ids: %s\n%s", ids,
		      ttmi_console(g));
	ok(g, ttmi_cli(g, "info tasks -group"), "-group");
	const char *row = line_of(ttmi_console(g), "batch_item at");
	ck_assert_msg(strncmp(row, "  2     idle ", 13) == 0, "group row: %s", row);
	snprintf(want, sizeof want, " %s ", ids);
	ck_assert_msg(strstr(row, want), "want ids%s in: %s", want, row);
}

/* info tasks' options on samples/hung, request-42 being task ID. */
static void check_info_tasks(ttmi *g, long id)
{
	char want[128];

	ok(g, ttmi_cli(g, "task %ld", id), "task ID");
	ok(g, ttmi_cli(g, "info tasks"), "info tasks");
	snprintf(want, sizeof want, "* %ld ", id);
	ck_assert_msg(strncmp(line_of(ttmi_console(g), "request-42"), want, strlen(want)) == 0,
		      "selected row: %s", ttmi_console(g));
	ck_assert_ptr_nonnull(strstr(line_of(ttmi_console(g), "request-42"),
				     "await_reply at samples/hung.c:"));

	ok(g, ttmi_cli(g, "info tasks -state idle -name ^req"), "-state -name");
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "request-42"));
	ck_assert_ptr_null(strstr(ttmi_console(g), "cache-refresh"));
	ok(g, ttmi_cli(g, "info tasks -state running"), "-state running");
	ck_assert_ptr_null(strstr(ttmi_console(g), "request-42"));

	ok(g, ttmi_cli(g, "info tasks -group"), "-group");
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "  Count State"));
	snprintf(want, sizeof want, "  1     idle ");
	ck_assert_msg(strncmp(line_of(ttmi_console(g), "await_reply at"), want, strlen(want)) == 0,
		      "group row: %s", ttmi_console(g));

	/* Labels (samples/hung.c labels request-42): shown, filtered, grouped,
	 * and task apply by label. */
	ok(g, ttmi_cli(g, "info tasks -label route=/users -label request_id"), "-label");
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "request-42"));
	ck_assert_ptr_null(strstr(ttmi_console(g), "cache-refresh"));
	ok(g, ttmi_cli(g, "info tasks -label route=/orders"), "-label no match");
	ck_assert_str_eq(ttmi_console(g), "No tasks.\n");
	ok(g, ttmi_cli(g, "info tasks -labels"), "-labels");
	snprintf(want, sizeof want, "await_reply at samples/hung.c:%u  {request_id=42 route=/users}",
		 marker_line("reply"));
	ck_assert_msg(strstr(line_of(ttmi_console(g), "request-42"), want), "-labels: %s",
		      ttmi_console(g));
	ck_assert_ptr_null(strstr(line_of(ttmi_console(g), "cache-refresh"), "{"));
	ok(g, ttmi_cli(g, "info tasks -group label:route"), "-group label:");
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "\n  1     route=/users "));
	ok(g, ttmi_cli(g, "task apply -label request_id=42 p $task_id"), "task apply -label");
	snprintf(want, sizeof want, "\nTask %ld \"request-42\":\n$", id);
	ck_assert_msg(strstr(ttmi_console(g), want) && !strstr(ttmi_console(g), "supervisor"),
		      "task apply -label: %s", ttmi_console(g));
	ok(g, ttmi_cli(g, "task bt %ld", id), "task bt labels");
	snprintf(want, sizeof want,
		 "task %ld \"request-42\" {request_id=42 route=/users} [notify, ", id);
	ck_assert_msg(strncmp(ttmi_console(g), want, strlen(want)) == 0, "task bt: %s",
		      ttmi_console(g));

	ttmi_record *r = expect(g, ttmi_cli(g, "info tasks -name ("), "error", "bad regex");
	ck_assert_ptr_nonnull(strstr(ttmi_str(r->results, "msg"), "bad -name pattern"));
	ttmi_record_free(r);
	r = expect(g, ttmi_cli(g, "info tasks -state sleepy"), "error", "bad state");
	ck_assert_ptr_nonnull(strstr(ttmi_str(r->results, "msg"), "unknown state"));
	ttmi_record_free(r);
}

/* -task-list and -task-backtrace agree with samples/hung.c; returns
 * request-42's id. */
static long check_hung(ttmi *g)
{
	ttmi_record *r = expect(g, ttmi_command(g, "-task-list"), "done", "-task-list");
	const ttmi_value *tasks = ttmi_get(r->results, "tasks");
	ck_assert_uint_ge(ttmi_len(tasks), 4);
	const ttmi_value *req = task_named(tasks, "request-42");
	const ttmi_value *cache = task_named(tasks, "cache-refresh");
	const ttmi_value *sup = task_named(tasks, "supervisor");
	ck_assert_str_eq(ttmi_str(req, "state"), "idle");
	ck_assert_str_eq(ttmi_str(req, "wait.kind"), "notify");
	ck_assert_str_eq(ttmi_str(cache, "wait.kind"), "timer");
	ck_assert_str_eq(ttmi_str(sup, "wait.kind"), "join");
	ck_assert_str_eq(ttmi_str(sup, "wait.owner_id"), ttmi_str(req, "id"));
	ck_assert_ptr_null(ttmi_get(req, "error"));
	ck_assert_str_eq(ttmi_str(req, "labels.request_id"), "42");
	ck_assert_str_eq(ttmi_str(req, "labels.route"), "/users");
	ck_assert_uint_eq(ttmi_len(ttmi_get(cache, "labels")), 0);
	long id = strtol(ttmi_str(req, "id"), NULL, 10);
	ttmi_record_free(r);

	r = expect(g, ttmi_command(g, "-task-backtrace %ld", id), "done", "-task-backtrace");
	const ttmi_value *frames = ttmi_get(r->results, "task.frames");
	static const char *const funcs[] = { "tt_notified", "await_reply", "query_db",
					     "load_user", "handle_request" };
	static const char *const tags[] = { NULL, "reply", "query", "load", "handle" };
	ck_assert_uint_eq(ttmi_len(frames), 5);
	for (size_t i = 0; i < 5; i++) {
		const ttmi_value *f = ttmi_at(frames, i);
		ck_assert_str_eq(ttmi_str(f, "function"), funcs[i]);
		if (!tags[i]) {
			ck_assert_str_eq(ttmi_str(f, "kind"), "leaf");
			ck_assert_str_eq(ttmi_str(f, "wait.kind"), "notify");
			continue;
		}
		ck_assert_uint_eq(strtoul(ttmi_str(f, "site.line"), NULL, 10), marker_line(tags[i]));
		ck_assert_ptr_nonnull(strstr(ttmi_str(f, "site.file"), "samples/hung.c"));
	}
	ck_assert_str_eq(ttmi_str(r->results, "task.spawn_site.function"), "server_main_poll");
	/* The CLI's JSON objects: where, ancestry. */
	ck_assert_str_eq(ttmi_str(r->results, "task.where.function"), "await_reply");
	ck_assert_uint_eq(strtoul(ttmi_str(r->results, "task.where.line"), NULL, 10),
			  marker_line("reply"));
	ck_assert_str_eq(ttmi_str(r->results, "task.ancestry[0].name"), "block_on");
	/* And the text of task bt, from the same C printer. */
	char *text = strdup(ttmi_str(r->results, "text"));
	ttmi_record_free(r);
	ok(g, ttmi_cli(g, "task bt %ld", id), "task bt for -task-backtrace");
	ck_assert_str_eq(text, ttmi_console(g));
	ck_assert_ptr_nonnull(strstr(text, "\n#4  handle_request () at samples/hung.c:"));
	free(text);

	/* The future's fields through its C type. */
	ok(g, ttmi_cli(g, "task frame 4 %ld", id), "task frame");
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "request_id = 42"));
	r = expect(g, ttmi_command(g, "-data-evaluate-expression $task_frame->request_id"),
		   "done", "$task_frame");
	ck_assert_str_eq(ttmi_str(r->results, "value"), "42");
	ttmi_record_free(r);

	/* The CLI: a table and a backtrace with the same words. */
	ok(g, ttmi_cli(g, "info tasks"), "info tasks");
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "request-42"));
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "notify"));
	check_info_tasks(g, id);
	check_group_ids(g);
	ok(g, ttmi_cli(g, "task bt %ld", id), "task bt");
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "waits on notify 0x"));
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "spawned by task"));
	return id;
}

START_TEST(parser)
{
	ttmi_record *r = ttmi_parse(
		"12^done,a=\"x\\\"y\\n\\101\",t={b=[],c=[\"1\",\"2\"],d=[{e=\"f\"}]},g=[h=\"i\"]");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->token, 12);
	ck_assert_int_eq(r->type, '^');
	ck_assert_str_eq(r->klass, "done");
	ck_assert_str_eq(ttmi_str(r->results, "a"), "x\"y\nA");
	ck_assert_uint_eq(ttmi_len(ttmi_get(r->results, "t.b")), 0);
	ck_assert_str_eq(ttmi_str(r->results, "t.c[1]"), "2");
	ck_assert_str_eq(ttmi_str(r->results, "t.d[0].e"), "f");
	ck_assert_str_eq(ttmi_str(r->results, "g.h"), "i");
	ck_assert_ptr_null(ttmi_get(r->results, "t.c[2]"));
	ttmi_record_free(r);
	r = ttmi_parse("~\"hello\\tworld\\n\"");
	ck_assert_str_eq(r->text, "hello\tworld\n");
	ttmi_record_free(r);
	ck_assert_ptr_null(ttmi_parse("(gdb) "));
	ck_assert_ptr_null(ttmi_parse("^done,a=\"unterminated"));
	ck_assert_ptr_null(ttmi_parse("^done,a={b=\"c\""));
	/* The strict UTF-8 check the MI tests apply to every answer. */
	r = ttmi_parse("^done,a=\"\303\244\",t={b=[\"\360\235\204\236\"]}");
	ck_assert_ptr_null(ttmi_bad_utf8(r->results));
	ttmi_record_free(r);
	static const char *const bad[] = {"\\300\\200", "\\355\\240\\200", "\\364\\220\\200\\200",
					  "x\\342\\202", "\\233"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char line[64];
		snprintf(line, sizeof line, "^done,t={b=[\"ok\",\"%s\"]}", bad[i]);
		r = ttmi_parse(line);
		ck_assert_ptr_nonnull(r);
		ck_assert_msg(ttmi_bad_utf8(r->results), "%s passes", line);
		ttmi_record_free(r);
	}
}
END_TEST

START_TEST(live_and_core)
{
	sample s;
	char core[256];


	sample_start(&s, "hung", NULL);
	ttmi *g = gdb_attach(s.pid);
	check_hung(g);

	/* An id that does not exist: a one-line error. */
	ttmi_record *r = expect(g, ttmi_command(g, "-task-backtrace 999999"), "error", "bad id");
	ck_assert_ptr_nonnull(strstr(ttmi_str(r->results, "msg"), "999999"));
	ttmi_record_free(r);

	/* The frame filter on a worker thread hides the executor frames.  A
	 * worker is a thread whose unfiltered stack runs tt_worker_run
	 * (blocking-pool threads inherit the workers' names). */
	r = expect(g, ttmi_command(g, "-thread-info"), "done", "-thread-info");
	const ttmi_value *threads = ttmi_get(r->results, "threads");
	int workers = 0;
	for (size_t i = 0; i < ttmi_len(threads); i++) {
		const char *name = ttmi_str(ttmi_at(threads, i), "name");
		if (!name || strncmp(name, "tt-worker", 9) != 0)
			continue;
		ok(g, ttmi_command(g, "-thread-select %s", ttmi_str(ttmi_at(threads, i), "id")),
		   "thread-select");
		ok(g, ttmi_cli(g, "set tasks prune off"), "prune off");
		ok(g, ttmi_cli(g, "bt"), "bt");
		if (!strstr(ttmi_console(g), "tt_worker_run"))
			continue;
		workers++;
		ok(g, ttmi_cli(g, "set tasks prune on"), "prune on");
		ok(g, ttmi_cli(g, "bt"), "bt");
		ck_assert_msg(!strstr(ttmi_console(g), "tt_worker_run") &&
				      !strstr(ttmi_console(g), "worker_main") &&
				      strstr(ttmi_console(g), "#0 "),
			      "pruned bt: %s", ttmi_console(g));
	}
	ck_assert_int_ge(workers, 1);
	ttmi_record_free(r);
	ok(g, ttmi_cli(g, "set tasks prune on"), "prune on");

	/* The same from a core. */
	snprintf(core, sizeof core, "/tmp/tt-gdb-test-%d.core", (int)s.pid);
	ok(g, ttmi_cli(g, "gcore %s", core), "gcore");
	ttmi_close(g);
	sample_stop(&s);
	g = gdb_core(s.exe, core);
	same_table_as_cli(g, s.exe, core);
	check_hung(g);
	ttmi_close(g);
	unlink(core);
}
END_TEST

/* gdb's task bt all and the CLI's bt print the same text, byte for byte,
 * for one core: suspended tasks, combinator branches within branches, an
 * ancestry three tasks deep, and a running task's machine stack. */
START_TEST(bt_same_as_cli)
{
	const char *exe = getenv("TT_BT_PROG");
	char core[256], cmd[1024];
	sample s;

	ck_assert_ptr_nonnull(exe);
	sample_start_path(&s, exe, NULL);
	snprintf(core, sizeof core, "/tmp/tt-gdb-bt-%d.core", (int)s.pid);
	snprintf(cmd, sizeof cmd, "'%s' bt --exe '%s' '%s'", getenv("TT_TASKTRACE"), exe, core);
	char *bt = NULL;
	/* The running task yields for an instant every 3 s: a core made then
	 * shows it scheduled, so take another. */
	for (int tries = 0; tries < 5; tries++) {
		ttmi *g = gdb_attach(s.pid);
		ok(g, ttmi_cli(g, "gcore %s", core), "gcore");
		ttmi_close(g);
		free(bt);
		bt = output_of(cmd);
		ck_assert_ptr_nonnull(bt);
		if (strstr(bt, "\"cruncher\" [running on worker "))
			break;
	}
	/* The cruncher's id, from the core: not always 4, since the spawner,
	 * on the other worker, may spawn its child before the cruncher. */
	const char *line = strstr(bt, " \"cruncher\" [");
	ck_assert_msg(line, "no cruncher in:\n%s", bt);
	while (line > bt && line[-1] != '\n')
		line--;
	int cid = 0;
	ck_assert_int_eq(sscanf(line, "task %d", &cid), 1);
	/* Live, the running task (its lines carry no ages): gdb unwinds, the
	 * CLI stops the process and unwinds with libdw. */
	snprintf(cmd, sizeof cmd, "'%s' bt %d %d", getenv("TT_TASKTRACE"), (int)s.pid, cid);
	int same_live = 0;
	for (int tries = 0; tries < 10 && !same_live; tries++) {
		ttmi *g = gdb_attach(s.pid);
		ok(g, ttmi_cli(g, "task bt %d", cid), "task bt (the cruncher) live");
		char *in_gdb = strdup(ttmi_console(g));
		ttmi_close(g);
		char *cli = output_of(cmd);
		ck_assert_ptr_nonnull(cli);
		if (strstr(cli, "\"cruncher\" [running on worker ") &&
		    strstr(in_gdb, "\"cruncher\" [running on worker ")) {
			ck_assert_str_eq(in_gdb, cli);
			same_live = 1;
		}
		free(cli);
		free(in_gdb);
	}
	ck_assert_msg(same_live, "the cruncher was never seen running");
	sample_stop(&s);
	ck_assert_msg(strstr(bt, "\"cruncher\" [running on worker ") &&
			  strstr(bt, " in cruncher_poll () at ") &&
			  !strstr(bt, "(no machine stack"),
		      "no running task with its stack in:\n%s", bt);
	ck_assert_msg(strstr(bt, "\n    also awaiting:\n") &&
			  strstr(bt, "\n            also awaiting:\n") &&
			  strstr(bt, "\n#3  racer () at "),
		      "no nested branches in:\n%s", bt);
	/* The grandchild's two ancestors in order: "spawned" (its id 4 or 5,
	 * as the spawner's worker spawned before or after the cruncher's),
	 * then the spawner. */
	static const char spawner_line[] = "\nspawned by task 3 \"spawner\" at ";
	int two_up = 0;
	for (const char *p = bt; !two_up && (p = strstr(p, "\nspawned by task ")); p++) {
		int id, at = 0;
		if (sscanf(p, "\nspawned by task %d \"spawned\" at %n", &id, &at) == 1 && at) {
			const char *next = strchr(p + 1, '\n');
			two_up = next && !strncmp(next, spawner_line, sizeof spawner_line - 1);
		}
	}
	ck_assert_msg(two_up, "no ancestry in:\n%s", bt);

	ttmi *g = gdb_core(exe, core);
	ok(g, ttmi_cli(g, "task bt all"), "task bt all");
	ck_assert_str_eq(ttmi_console(g), bt);
	ttmi_close(g);
	free(bt);
	unlink(core);
}
END_TEST

START_TEST(corrupt_registry)
{
	sample s;


	sample_start(&s, "hung", NULL);
	ttmi *g = gdb_attach(s.pid);
	ttmi_record *r = expect(g, ttmi_command(g, "-task-list"), "done", "-task-list");
	const ttmi_value *req = task_named(ttmi_get(r->results, "tasks"), "request-42");
	long id = strtol(ttmi_str(req, "id"), NULL, 10);
	ttmi_record_free(r);
	r = expect(g, ttmi_command(g, "-task-backtrace %ld", id), "done", "bt");
	/* Garbage over query_db's frame header: whatever the layout, every
	 * pointer in it becomes misaligned. */
	unsigned long addr = strtoul(ttmi_str(r->results, "task.frames[2].addr"), NULL, 16);
	ttmi_record_free(r);
	for (int i = 0; i < 4; i++)
		ok(g, ttmi_cli(g, "set {long}%#lx = 0x1234567", addr + 8ul * i), "poke");

	r = expect(g, ttmi_command(g, "-task-list"), "done", "-task-list corrupt");
	const ttmi_value *tasks = ttmi_get(r->results, "tasks");
	req = task_named(tasks, "request-42");
	ck_assert_ptr_nonnull(ttmi_str(req, "error"));
	ck_assert_ptr_null(ttmi_get(task_named(tasks, "cache-refresh"), "error"));
	ck_assert_str_eq(ttmi_str(task_named(tasks, "cache-refresh"), "wait.kind"), "timer");
	ttmi_record_free(r);
	ok(g, ttmi_cli(g, "info tasks"), "info tasks corrupt");
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "(error: "));
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "cache-refresh"));
	ok(g, ttmi_cli(g, "task bt %ld", id), "task bt corrupt");
	/* The CLI's words for an incomplete chain (tt_bt_print). */
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "\nerror: "));
	ck_assert_ptr_null(strstr(ttmi_console(g), "Traceback"));

	/* Unknown ABI version, then bad magic: one line, no traceback. */
	ok(g, ttmi_cli(g, "set {int}((char *)&tasktrace_registry + 8) = 99"), "version");
	r = expect(g, ttmi_command(g, "-task-list"), "error", "bad version");
	ck_assert_ptr_nonnull(strstr(ttmi_str(r->results, "msg"), "ABI version 99"));
	ttmi_record_free(r);
	ok(g, ttmi_cli(g, "set {long}&tasktrace_registry = 42"), "magic");
	r = expect(g, ttmi_cli(g, "info tasks"), "error", "bad magic");
	ck_assert_ptr_nonnull(strstr(ttmi_str(r->results, "msg"), "bad magic"));
	ck_assert_ptr_null(strchr(ttmi_str(r->results, "msg"), '\n'));
	ck_assert_ptr_null(strstr(ttmi_console(g), "Traceback"));
	ttmi_record_free(r);
	ttmi_close(g);
	sample_stop(&s);
}
END_TEST

START_TEST(ada_commands_kept)
{
	const char *args[] = { "/bin/true", NULL };
	ttmi *g = ttmi_spawn(args, TIMEOUT_MS);
	ck_assert_ptr_nonnull(g);
	load_plugin(g);
	ttmi_record *r = expect(g, ttmi_cli(g, "info tasks"), "error", "Ada info tasks");
	ck_assert_ptr_nonnull(strstr(ttmi_str(r->results, "msg"), "Ada tasks"));
	ttmi_record_free(r);
	r = expect(g, ttmi_cli(g, "help task"), "done", "help task");
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "Ada tasks"));
	ttmi_record_free(r);
	ttmi_record_free(expect(g, ttmi_command(g, "-task-list"), "error", "no MI command"));
	ttmi_close(g);
}
END_TEST

/* A library without debug info: gdb has no symbol for the registry, and
 * the commands are installed by its .tasktrace section, as gdb lists it
 * (maint info sections), not by an ELF parser of the plugin's own. */
START_TEST(library_without_debug_info)
{
	char dir[] = "/tmp/tt-gdb-nodebug-XXXXXX", cmd[1024];
	const char *old = getenv("LD_LIBRARY_PATH");
	char *saved = old ? strdup(old) : NULL;
	sample s;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(
	    cmd, sizeof cmd,
	    "objcopy --strip-debug '%s/../core-runtime/libtasktrace.so.0' '%s/libtasktrace.so.0'",
	    getenv("TT_SAMPLES"), dir);
	ck_assert_int_eq(system(cmd), 0);
	/* The stripped runtime first; its reader library where it was. */
	char path[1200];
	snprintf(path, sizeof path, "%s%s%s", dir, saved ? ":" : "", saved ? saved : "");
	setenv("LD_LIBRARY_PATH", path, 1);
	sample_start(&s, "hung", NULL);
	if (saved)
		setenv("LD_LIBRARY_PATH", saved, 1);
	else
		unsetenv("LD_LIBRARY_PATH");
	free(saved);

	ttmi *g = gdb_attach(s.pid);
	ok(g,
	   ttmi_cli(g,
		    "python print('nodebug', [o.lookup_global_symbol('tasktrace_registry') "
		    "is None for o in gdb.objfiles() if o.filename.startswith('%s/')])",
		    dir),
	   "objfiles");
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "nodebug [True]"));
	ok(g, ttmi_cli(g, "info tasks"), "info tasks");
	ck_assert_ptr_nonnull(strstr(ttmi_console(g), "request-42"));
	ttmi_close(g);
	sample_stop(&s);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Two runtimes, each with its worker 0, and the child of a fork: info
 * tasks says which runtime, and that the child's copies are the parent's
 * (tests/cli/runtimes_prog.c; tests/cli/test_cli_runtimes.c for the CLI). */
START_TEST(runtimes_and_fork)
{
	sample s;
	char want[160];

	sample_start_path(&s, getenv("TT_RUNTIMES_PROG"), "two");
	ttmi *g = gdb_attach(s.pid);
	ok(g, ttmi_cli(g, "info tasks"), "info tasks");
	const char *c = ttmi_console(g);
	ck_assert_msg(strstr(line_of(c, "sleeper-rt2"), "rt 2: sleeper"), "%s", c);
	ck_assert_msg(strstr(line_of(c, "spinner-rt1"), "running on worker 1."), "%s", c);
	ck_assert_msg(strstr(line_of(c, "spinner-rt2"), "running on worker 2."), "%s", c);
	ttmi_close(g);
	sample_stop(&s);

	sample_start_path(&s, getenv("TT_RUNTIMES_PROG"), "fork");
	pid_t child = (pid_t)strtol(strstr(s.line, "pid ") + 4, NULL, 10);
	g = gdb_attach(child);
	ok(g, ttmi_cli(g, "info tasks"), "info tasks");
	c = ttmi_console(g);
	snprintf(want, sizeof want,
		 "warning: registry inherited from parent PID %d through fork: its tasks are the "
		 "parent's, frozen",
		 (int)s.pid);
	ck_assert_msg(strstr(c, want), "%s", c);
	ck_assert_msg(strstr(line_of(c, "sleeper-rt1"), "idle inherited"), "%s", c);
	ttmi_close(g);
	kill(child, SIGKILL);
	sample_stop(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gdb-plugin");
	TCase *tc = tcase_create("gdb");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, parser);
	tcase_add_test(tc, ada_commands_kept);
	suite_add_tcase(s, tc);
	/* gdb loads libtasktrace, which a sanitizer build makes unloadable. */
	TCase *live = tcase_create("gdb-live");
	tcase_set_tags(live, "unsanitized");
	tcase_set_timeout(live, 300);
	tcase_add_test(live, live_and_core);
	tcase_add_test(live, bt_same_as_cli);
	tcase_add_test(live, corrupt_registry);
	suite_add_tcase(s, live);
	/* On the shared library itself: not for the static programs
	 * (tests/static runs this file with CK_EXCLUDE_TAGS=shared). */
	TCase *shared = tcase_create("gdb-shared");
	tcase_set_tags(shared, "unsanitized shared");
	tcase_set_timeout(shared, 300);
	tcase_add_test(shared, library_without_debug_info);
	tcase_add_test(shared, runtimes_and_fork);
	suite_add_tcase(s, shared);
	return run_suite(s);
}
