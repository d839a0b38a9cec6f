/* The tasktrace CLI as a user runs it: the real binary against the real
 * samples/hung process, checking its words against the source lines
 * marked "@await:TAG", its JSON for well-formedness, and its one-line
 * errors and exit codes on bad input. */
#include <check.h>
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct sample {
	pid_t pid;
	FILE *out;
} sample;

typedef struct run {
	int status; /* exit code, or 128 + signal */
	char *out;
	char *err;
} run;

static void sample_start(sample *s, const char *name)
{
	const char *dir = getenv("TT_SAMPLES");
	ck_assert_msg(dir, "TT_SAMPLES not set");
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (s->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(path, name, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	s->out = fdopen(fds[0], "r");
	char line[256];
	ck_assert_msg(fgets(line, sizeof line, s->out), "%s printed nothing", name);
	ck_assert_msg(strstr(line, "registry ") && strstr(line, "ready"),
		      "unexpected line: %s", line);
	char want[64];
	snprintf(want, sizeof want, "pid %d ", (int)s->pid);
	ck_assert_msg(strstr(line, want), "unexpected line: %s", line);
}

static void sample_stop(sample *s)
{
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	fclose(s->out);
}

static char *slurp(FILE *f)
{
	long n;

	fflush(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	char *buf = calloc(1, (size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* Run the tasktrace binary with ARGS (NULL-terminated). */
static run tasktrace(const char *arg, ...)
{
	const char *bin = getenv("TT_TASKTRACE");
	ck_assert_msg(bin, "TT_TASKTRACE not set");
	char *argv[16];
	int n = 0;
	va_list ap;
	argv[n++] = (char *)"tasktrace";
	va_start(ap, arg);
	for (const char *a = arg; a && n < 15; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;

	FILE *out = tmpfile(), *err = tmpfile();
	ck_assert(out && err);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fileno(out), 1);
		dup2(fileno(err), 2);
		execv(bin, argv);
		_exit(127);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	run r;
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r.out = slurp(out);
	r.err = slurp(err);
	return r;
}

static void run_free(run *r)
{
	free(r->out);
	free(r->err);
}

/* Line of the "@await:TAG" marker in samples/hung.c. */
static unsigned marker_line(const char *tag)
{
	const char *root = getenv("TT_SOURCE_ROOT");
	ck_assert(root);
	char path[512], want[64], line[512];
	snprintf(path, sizeof path, "%s/samples/hung.c", root);
	snprintf(want, sizeof want, "@await:%s ", tag);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f, "cannot open %s", path);
	for (unsigned n = 1; fgets(line, sizeof line, f); n++) {
		if (strstr(line, want)) {
			fclose(f);
			return n;
		}
	}
	fclose(f);
	ck_abort_msg("marker %s not found", tag);
	return 0;
}

/* The site text "samples/hung.c:N" of marker TAG (the recorded path may
 * carry a prefix before it). */
static const char *site(const char *tag)
{
	static char buf[4][64];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, 64, "samples/hung.c:%u", marker_line(tag));
	return b;
}

/* The line of TEXT that contains NEEDLE; fails when none. */
static char *line_with(const char *text, const char *needle, char *buf,
		       size_t len)
{
	const char *p = strstr(text, needle);
	ck_assert_msg(p, "no line with '%s' in:\n%s", needle, text);
	const char *b = p, *e = strchr(p, '\n');
	while (b > text && b[-1] != '\n')
		b--;
	if (!e)
		e = p + strlen(p);
	snprintf(buf, len, "%.*s", (int)(e - b), b);
	return buf;
}

/* Assert that the NULL-terminated NEEDLES occur in TEXT in that order. */
static void in_order(const char *text, ...)
{
	va_list ap;
	const char *at = text;
	va_start(ap, text);
	for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *)) {
		const char *p = strstr(at, n);
		ck_assert_msg(p, "'%s' missing (or out of order) in:\n%s", n, text);
		at = p + strlen(n);
	}
	va_end(ap);
}

/* The id of the task named NAME from ps output. */
static unsigned long task_id(const char *ps, const char *name)
{
	char q[64], line[512];
	snprintf(q, sizeof q, " %s ", name);
	line_with(ps, q, line, sizeof line);
	return strtoul(line, NULL, 10);
}

/* ---- a small JSON checker: the --json output must parse ---- */

static const char *js_value(const char *p, int depth);

static const char *js_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *js_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)p[i]))
						return NULL;
				p += 4;
			} else if (!strchr("\"\\/bfnrt", *p) || !*p) {
				return NULL;
			}
		}
	}
	return p + 1;
}

static const char *js_list(const char *p, char close, int depth, int keys)
{
	p = js_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (keys) {
			p = js_string(js_ws(p));
			if (!p || *(p = js_ws(p)) != ':')
				return NULL;
			p++;
		}
		p = js_value(p, depth + 1);
		if (!p)
			return NULL;
		p = js_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *js_value(const char *p, int depth)
{
	p = js_ws(p);
	if (depth > 200)
		return NULL;
	if (*p == '{')
		return js_list(p, '}', depth, 1);
	if (*p == '[')
		return js_list(p, ']', depth, 0);
	if (*p == '"')
		return js_string(p);
	if (*p == '-' || isdigit((unsigned char)*p)) {
		char *end;
		strtod(p, &end);
		return end;
	}
	for (const char *const *w = (const char *const[]){ "true", "false", "null", NULL };
	     *w; w++)
		if (strncmp(p, *w, strlen(*w)) == 0)
			return p + strlen(*w);
	return NULL;
}

static void assert_json(const char *text)
{
	const char *end = js_value(text, 0);
	ck_assert_msg(end && *js_ws(end) == 0, "not one JSON document:\n%s", text);
}

/* ---- the tests ---- */

START_TEST(ps_lists_hung_tasks)
{
	sample s;
	char pid[16], line[512];
	sample_start(&s, "hung");
	snprintf(pid, sizeof pid, "%d", (int)s.pid);
	run r = tasktrace("ps", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.err, "");
	ck_assert_msg(strncmp(r.out, "  Id   State              Wait                  Name             Where\n",
			      70) == 0, "header:\n%s", r.out);

	line_with(r.out, " request-42 ", line, sizeof line);
	in_order(line, "idle", "notify ", "request-42", "await_reply at ", site("reply"), NULL);
	line_with(r.out, " cache-refresh ", line, sizeof line);
	in_order(line, "idle", "timer ", " left", "cache-refresh", "cache_refresh at ",
		 site("sleep"), NULL);
	line_with(r.out, " supervisor ", line, sizeof line);
	in_order(line, "idle", "join ", "supervisor", "supervisor at ", site("join"), NULL);
	line_with(r.out, " block_on ", line, sizeof line);
	in_order(line, "idle", "timer ", "block_on", "server_main at ", site("main"), NULL);
	run_free(&r);
	sample_stop(&s);
}
END_TEST

START_TEST(bt_prints_chains_innermost_first)
{
	sample s;
	char pid[16], want[128];
	sample_start(&s, "hung");
	snprintf(pid, sizeof pid, "%d", (int)s.pid);
	run ps = tasktrace("ps", pid, NULL);
	ck_assert_int_eq(ps.status, 0);
	unsigned long req = task_id(ps.out, "request-42");
	unsigned long root = task_id(ps.out, "block_on");

	run r = tasktrace("bt", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	snprintf(want, sizeof want, "task %lu \"request-42\" [notify, ", req);
	char spawned[128];
	snprintf(spawned, sizeof spawned, "spawned by task %lu \"block_on\" at ", root);
	in_order(r.out, want,
		 "\n#0  tt_notified  waits on notify 0x",
		 "\n#1  await_reply () at ", site("reply"),
		 "\n#2  query_db () at ", site("query"),
		 "\n#3  load_user () at ", site("load"),
		 "\n#4  handle_request () at ", site("handle"),
		 "\n", spawned, "samples/hung.c:", " (server_main_poll)\n", NULL);

	in_order(r.out, "\"cache-refresh\" [timer, ", " left]:",
		 "\n#0  tt_sleep  timer, deadline in ",
		 "\n#1  cache_refresh () at ", site("sleep"), "\n", spawned, NULL);
	snprintf(want, sizeof want, "\n#0  tt_join  waits on join of task %lu \"request-42\" [for ",
		 req);
	in_order(r.out, "\"supervisor\" [join, ", want,
		 "\n#1  supervisor () at ", site("join"), "\n", spawned, NULL);
	run_free(&r);

	/* Only the tasks asked for, in that order. */
	char id[32];
	snprintf(id, sizeof id, "%lu", req);
	r = tasktrace("bt", pid, id, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(!strstr(r.out, "supervisor") && strstr(r.out, "request-42"),
		      "bt %s:\n%s", id, r.out);
	run_free(&r);

	r = tasktrace("bt", pid, "999999", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "has no task 999999"), "stderr: %s", r.err);
	run_free(&r);
	run_free(&ps);
	sample_stop(&s);
}
END_TEST

START_TEST(tree_nests_by_parent)
{
	sample s;
	char pid[16], want[128];
	sample_start(&s, "hung");
	snprintf(pid, sizeof pid, "%d", (int)s.pid);
	run ps = tasktrace("ps", pid, NULL);
	unsigned long req = task_id(ps.out, "request-42");
	unsigned long root = task_id(ps.out, "block_on");

	run r = tasktrace("tree", pid, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	snprintf(want, sizeof want, "%lu \"block_on\" idle [timer ", root);
	ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "tree:\n%s", r.out);
	snprintf(want, sizeof want, "\n  %lu \"request-42\" idle [notify ", req);
	in_order(r.out, want, NULL);
	in_order(r.out, "\n  ", "\"cache-refresh\" idle [timer ", " left]\n", NULL);
	in_order(r.out, "\n  ", "\"supervisor\" idle [join ", NULL);
	run_free(&r);
	run_free(&ps);
	sample_stop(&s);
}
END_TEST

START_TEST(json_is_well_formed)
{
	sample s;
	char pid[16];
	sample_start(&s, "hung");
	snprintf(pid, sizeof pid, "%d", (int)s.pid);
	static const char *const cmds[] = { "ps", "bt", "tree" };
	for (int i = 0; i < 3; i++) {
		run r = tasktrace(cmds[i], "--json", pid, NULL);
		ck_assert_msg(r.status == 0, "%s: exit %d: %s", cmds[i], r.status, r.err);
		assert_json(r.out);
		in_order(r.out, "\"command\":\"", cmds[i], "\"", NULL);
		in_order(r.out, "\"name\":\"request-42\"", "\"wait\":{\"kind\":\"notify\"", NULL);
		in_order(r.out, "\"name\":\"cache-refresh\"", "\"wait\":{\"kind\":\"timer\"", NULL);
		in_order(r.out, "\"name\":\"supervisor\"", "\"wait\":{\"kind\":\"join\"",
			 "\"owner_name\":\"request-42\"", NULL);
		run_free(&r);
	}
	run r = tasktrace("bt", pid, "--json", NULL);
	in_order(r.out, "\"name\":\"request-42\"", "\"frames\":[",
		 "\"function\":\"tt_notified\"", "\"function\":\"await_reply\"",
		 "\"function\":\"query_db\"", "\"function\":\"load_user\"",
		 "\"function\":\"handle_request\"", "\"ancestry\":[{", "\"name\":\"block_on\"",
		 NULL);
	run_free(&r);
	sample_stop(&s);
}
END_TEST

/* Exactly one line on stderr, nothing on stdout. */
static void one_error_line(const run *r, const char *needle)
{
	ck_assert_str_eq(r->out, "");
	ck_assert_msg(strstr(r->err, needle), "stderr: %s", r->err);
	char *nl = strchr(r->err, '\n');
	ck_assert_msg(nl && nl[1] == 0, "not one line: %s", r->err);
}

/* Wait until PID has exec'd COMM. */
static void wait_comm(pid_t pid, const char *comm)
{
	char path[64], buf[64];
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(path, "r");
		if (f && fgets(buf, sizeof buf, f) && strncmp(buf, comm, strlen(comm)) == 0) {
			fclose(f);
			return;
		}
		if (f)
			fclose(f);
		usleep(10 * 1000);
	}
	ck_abort_msg("pid %d never became %s", (int)pid, comm);
}

START_TEST(target_errors_exit_1)
{
	char pid[16];

	/* A pid that just died (and was reaped). */
	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	snprintf(pid, sizeof pid, "%d", (int)gone);
	run r = tasktrace("ps", pid, NULL);
	ck_assert_int_eq(r.status, 1);
	one_error_line(&r, "no such process");
	run_free(&r);

	/* A live process that does not use tasktrace. */
	pid_t sl = fork();
	if (sl == 0) {
		execlp("sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	wait_comm(sl, "sleep");
	snprintf(pid, sizeof pid, "%d", (int)sl);
	static const char *const cmds[] = { "ps", "bt", "tree" };
	for (int i = 0; i < 3; i++) {
		r = tasktrace(cmds[i], pid, NULL);
		ck_assert_int_eq(r.status, 1);
		one_error_line(&r, "does not use tasktrace (no tasktrace_registry symbol or .tasktrace section in its modules)");
		run_free(&r);
	}
	kill(sl, SIGKILL);
	waitpid(sl, NULL, 0);
}
END_TEST

START_TEST(usage_errors_exit_2)
{
	run r = tasktrace("frobnicate", "1", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "unknown command 'frobnicate'"), "%s", r.err);
	run_free(&r);

	r = tasktrace(NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);

	r = tasktrace("ps", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "missing PID"), "%s", r.err);
	run_free(&r);

	r = tasktrace("bt", "12x", NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);

	r = tasktrace("bt", "1", "seven", NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);

	r = tasktrace("tree", "--bogus", "1", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "unknown option '--bogus'"), "%s", r.err);
	run_free(&r);

	static const char *const cmds[] = { "ps", "bt", "tree" };
	for (int i = 0; i < 3; i++) {
		r = tasktrace(cmds[i], "--help", NULL);
		ck_assert_int_eq(r.status, 0);
		in_order(r.out, "Usage: tasktrace ", cmds[i], "--json", NULL);
		run_free(&r);
	}
	r = tasktrace("--help", NULL);
	ck_assert_int_eq(r.status, 0);
	in_order(r.out, "Usage: tasktrace COMMAND", "ps ", "bt ", "tree ", NULL);
	run_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("live");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ps_lists_hung_tasks);
	tcase_add_test(tc, bt_prints_chains_innermost_first);
	tcase_add_test(tc, tree_nests_by_parent);
	tcase_add_test(tc, json_is_well_formed);
	tcase_add_test(tc, target_errors_exit_1);
	tcase_add_test(tc, usage_errors_exit_2);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
