/* Samples as child processes, shared by every integration test: start one,
 * wait for its "NAME: pid P registry A ready" line, stop it; find the line
 * of an "@await:TAG" marker in a sample's source. */
#ifndef TT_TEST_SAMPLE_H
#define TT_TEST_SAMPLE_H

#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct sample {
	pid_t pid;
	FILE *out;          /* the rest of its stdout */
	uint64_t registry;  /* the root address it printed */
	char line[256];     /* its ready line */
	char exe[512];
} sample;

/* Start the program at PATH with one optional ARG. */
static inline void sample_start_path(sample *s, const char *path, const char *arg)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	int fds[2];
	snprintf(s->exe, sizeof s->exe, "%s", path);
	ck_assert_int_eq(pipe(fds), 0);
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (s->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(path, name, arg, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	s->out = fdopen(fds[0], "r");
	ck_assert_msg(fgets(s->line, sizeof s->line, s->out), "%s printed nothing", name);
	ck_assert_msg(strstr(s->line, "ready"), "unexpected line: %s", s->line);
	const char *reg = strstr(s->line, "registry ");
	s->registry = reg ? strtoull(reg + 9, NULL, 16) : 0;
}

/* Start samples/NAME (from $TT_SAMPLES) with one optional ARG. */
static inline void sample_start(sample *s, const char *name, const char *arg)
{
	const char *dir = getenv("TT_SAMPLES");
	char path[512];
	ck_assert_msg(dir, "TT_SAMPLES not set");
	snprintf(path, sizeof path, "%s/%s", dir, name);
	sample_start_path(s, path, arg);
}

static inline void sample_stop(sample *s)
{
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	fclose(s->out);
}

/* Line of the "@await:TAG" marker in FILE (relative to the source root). */
static inline unsigned marker_line_in(const char *file, const char *tag)
{
	const char *root = getenv("TT_SOURCE_ROOT");
	char path[512], want[64], line[512];
	ck_assert_msg(root, "TT_SOURCE_ROOT not set");
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

static inline unsigned marker_line(const char *tag)
{
	return marker_line_in("samples/hung.c", tag);
}

/* Built with a sanitizer?  Then no gdb on our library and no gcore (a
 * core of an ASan process holds its terabytes of shadow memory). */
static inline int sanitized(void)
{
	const char *s = getenv("TT_SANITIZE");
	return s && *s && strcmp(s, "none") != 0;
}

/* The test cases a sanitizer build cannot run -- gdb loading the
 * sanitized library, gcore of an ASan process -- are in a TCase tagged
 * "unsanitized".  meson runs each such program twice: TT_TEST_ONLY=rest
 * runs the other cases, TT_TEST_ONLY=unsanitized runs these, and in a
 * sanitizer build it exits 77, which meson reports as a skip.  So a case
 * that did not run is counted as skipped, never as passed. */
static inline int run_suite(Suite *s)
{
	const char *only = getenv("TT_TEST_ONLY");
	const char *include = NULL, *exclude = NULL;

	if (only && strcmp(only, "unsanitized") == 0) {
		if (sanitized()) {
			printf("skipped: these cases need a build without sanitizers\n");
			return 77;
		}
		include = "unsanitized";
	} else if ((only && strcmp(only, "rest") == 0) || sanitized()) {
		exclude = "unsanitized";
	}
	SRunner *sr = srunner_create(s);
	srunner_run_tagged(sr, NULL, NULL, include, exclude, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	int ran = srunner_ntests_run(sr);
	srunner_free(sr);
	if (!failed && !ran) {
		printf("no test case ran (TT_TEST_ONLY=%s)\n", only ? only : "");
		return 1;
	}
	return failed ? 1 : 0;
}

#endif
