/* Helpers of the diagnosis tests: start samples, run programs and capture
 * what they print, find "@await:TAG" marker lines. */
#ifndef TT_DIAG_UTIL_H
#define TT_DIAG_UTIL_H

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../sample.h"

typedef struct run {
	int status; /* raw wait status */
	char *out, *err;
} run;

static inline char *slurp_file(FILE *f)
{
	fflush(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	char *buf = calloc(1, (size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* Run ARGV (NULL-terminated) in DIR (NULL: here) with extra environment
 * ENV ("K=V" strings, NULL-terminated, may be NULL) and core size limit
 * CORE_LIMIT bytes. */
static inline run run_prog(const char *dir, char *const *env, rlim_t core_limit,
			   char *const *argv)
{
	FILE *out = tmpfile(), *err = tmpfile();
	run r;
	ck_assert(out && err);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl = { core_limit, core_limit };
		setrlimit(RLIMIT_CORE, &rl);
		if (dir && chdir(dir) != 0)
			_exit(126);
		for (char *const *e = env; e && *e; e++)
			putenv(*e);
		dup2(fileno(out), 1);
		dup2(fileno(err), 2);
		execv(argv[0], argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &r.status, 0), pid);
	r.out = slurp_file(out);
	r.err = slurp_file(err);
	return r;
}

static inline void run_free(run *r)
{
	free(r->out);
	free(r->err);
}

/* TEXT through tests/cli/validate_json.py COMMAND: strict UTF-8, one
 * document in the schema of docs/cli.md. */
static inline void assert_schema(const char *command, const char *text)
{
	FILE *in = tmpfile(), *err = tmpfile();
	int status;
	ck_assert(in && err && getenv("TT_VALIDATOR"));
	fputs(text, in);
	fflush(in);
	rewind(in);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fileno(in), 0);
		dup2(fileno(err), 2);
		execlp("python3", "python3", getenv("TT_VALIDATOR"), command, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	fclose(in);
	char *why = slurp_file(err);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s\n%.2000s", why, text);
	free(why);
}

/* Line number of the "@await:TAG" marker in FILE (relative to the
 * source root). */
static inline unsigned marker(const char *file, const char *tag)
{
	const char *root = getenv("TT_SOURCE_ROOT");
	char path[512], want[64], line[512];
	ck_assert(root);
	snprintf(path, sizeof path, "%s/%s", root, file);
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
	ck_abort_msg("marker %s not found in %s", tag, file);
	return 0;
}

/* "FILE:LINE" of marker TAG. */
static inline const char *at(const char *file, const char *tag)
{
	static char buf[8][128];
	static int k;
	char *b = buf[k++ % 8];
	snprintf(b, 128, "%s:%u", file, marker(file, tag));
	return b;
}

/* The line of TEXT containing NEEDLE (fails when none). */
static inline const char *line_with(const char *text, const char *needle)
{
	static char buf[4][1024];
	static int k;
	char *b = buf[k++ % 4];
	const char *p = strstr(text, needle);
	ck_assert_msg(p, "no line with '%s' in:\n%s", needle, text);
	const char *s = p, *e = strchr(p, '\n');
	while (s > text && s[-1] != '\n')
		s--;
	if (!e)
		e = p + strlen(p);
	snprintf(b, 1024, "%.*s", (int)(e - s), s);
	return b;
}


#endif
