/* Helpers of the CLI integration tests; see cli_util.h. */
#include <check.h>
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_util.h"

char *slurp(FILE *f)
{
	char *buf = slurp_keep(f);

	fclose(f);
	return buf;
}

char *slurp_keep(FILE *f)
{
	long n;

	fflush(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	char *buf = calloc(1, (size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	return buf;
}

uid_t run_as_uid; /* nonzero: drop to this user first (run as root) */
const char *run_stdin; /* text fed to standard input, or NULL */

/* Run the tasktrace binary with ARGS (NULL-terminated). */
run tasktrace(const char *arg, ...)
{
	char *argv[32];
	int n = 0;
	va_list ap;
	va_start(ap, arg);
	for (const char *a = arg; a && n < 31; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	return tasktrace_argv(argv);
}

run tasktrace_argv(char **args)
{
	const char *bin = getenv("TT_TASKTRACE");
	ck_assert_msg(bin, "TT_TASKTRACE not set");
	char *argv[40];
	int n = 0;
	argv[n++] = (char *)"tasktrace";
	for (int i = 0; args[i] && n < 39; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return run_prog(bin, argv);
}

run run_prog(const char *bin, char **argv)
{
	FILE *in = NULL;
	if (run_stdin) {
		in = tmpfile();
		ck_assert(in);
		fputs(run_stdin, in);
		fflush(in);
		rewind(in);
	}

	FILE *out = tmpfile(), *err = tmpfile();
	ck_assert(out && err);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fileno(out), 1);
		dup2(fileno(err), 2);
		if (in)
			dup2(fileno(in), 0);
		if (run_as_uid && (setgid(run_as_uid) != 0 || setuid(run_as_uid) != 0))
			_exit(126);
		execvp(bin, argv);
		_exit(127);
	}
	if (in)
		fclose(in);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	run r;
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r.out = slurp(out);
	r.err = slurp(err);
	return r;
}

void run_free(run *r)
{
	free(r->out);
	free(r->err);
}

/* The site text "samples/hung.c:N" of marker TAG (the recorded path may
 * carry a prefix before it). */
const char *site(const char *tag)
{
	static char buf[4][64];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, 64, "samples/hung.c:%u", marker_line(tag));
	return b;
}

/* The line of TEXT that contains NEEDLE; fails when none. */
char *line_with(const char *text, const char *needle, char *buf,
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
void in_order(const char *text, ...)
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
unsigned long task_id(const char *ps, const char *name)
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

void assert_json(const char *text)
{
	const char *end = js_value(text, 0);
	ck_assert_msg(end && *js_ws(end) == 0, "not one JSON document:\n%s", text);
	/* And UTF-8 a strict decoder takes (validate_json.py's check). */
	assert_schema("any", text);
}


void assert_schema(const char *command, const char *text)
{
	const char *v = getenv("TT_VALIDATOR");
	ck_assert_msg(v, "TT_VALIDATOR not set");
	char *argv[] = { (char *)"python3", (char *)v, (char *)command, NULL };
	const char *saved = run_stdin;
	run_stdin = text;
	run r = run_prog("python3", argv);
	run_stdin = saved;
	ck_assert_msg(r.status == 0, "%s\n%.2000s", r.err, text);
	run_free(&r);
}

/* Does PID run with AddressSanitizer?  gcore would dump its terabyte of
 * shadow memory. */
static int runs_asan(pid_t pid)
{
	char path[64], line[1024];
	int found = 0;
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	while (f && !found && fgets(line, sizeof line, f))
		found = strstr(line, "libasan") != NULL;
	if (f)
		fclose(f);
	return found;
}

char *make_core(pid_t pid, const char *tag)
{
	if (runs_asan(pid)) {
		fprintf(stderr, "pid %d runs under ASan: no core, core tests skipped\n", (int)pid);
		return NULL;
	}
	char prefix[256], *path = malloc(300);
	const char *dir = getenv("TT_CORE_DIR") ? getenv("TT_CORE_DIR") : "/tmp";
	snprintf(prefix, sizeof prefix, "%s/tt-cli-%s", dir, tag);
	snprintf(path, 300, "%s.%d", prefix, (int)pid);
	char pidstr[16];
	snprintf(pidstr, sizeof pidstr, "%d", (int)pid);
	char *argv[] = { (char *)"gcore", (char *)"-o", prefix, pidstr, NULL };
	run r = run_prog("gcore", argv);
	struct stat st;
	ck_assert_msg(r.status == 0 && stat(path, &st) == 0, "gcore failed (%d): %s", r.status,
		      r.err);
	run_free(&r);
	return path;
}

void assert_running(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f, "pid %d is gone", (int)pid);
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "State:", 6) == 0) {
			char st = line[6 + strspn(line + 6, " \t")];
			ck_assert_msg(st != 't' && st != 'T', "pid %d left stopped: %s", (int)pid,
				      line);
		}
		if (strncmp(line, "TracerPid:", 10) == 0)
			ck_assert_msg(atoi(line + 10) == 0, "pid %d left traced: %s", (int)pid, line);
	}
	fclose(f);
}

void one_error_line(const run *r, const char *needle)
{
	ck_assert_str_eq(r->out, "");
	ck_assert_msg(strstr(r->err, needle), "stderr: %s", r->err);
	char *nl = strchr(r->err, '\n');
	ck_assert_msg(nl && nl[1] == 0, "not one line: %s", r->err);
}

/* Wait until PID has exec'd COMM. */
void wait_comm(pid_t pid, const char *comm)
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

/* TEXT is one JSON document, by the parser of assert_json, without its
 * other checks: for tests that check thousands of documents. */
int json_parses(const char *text)
{
	const char *end = js_value(text, 0);

	return end && *js_ws(end) == 0;
}
