/* Helpers of the CLI integration tests: samples as child processes, the
 * tasktrace binary run for real, and checks on its output. */
#ifndef TT_CLI_UTIL_H
#define TT_CLI_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct sample {
	pid_t pid;
	FILE *out;
} sample;

typedef struct run {
	int status; /* exit code, or 128 + signal */
	char *out;
	char *err;
} run;

extern uid_t run_as_uid;
extern const char *run_stdin;

/* Start samples/NAME (or the program at PATH with one ARG) and wait for
 * its "... ready" line. */
void sample_start(sample *s, const char *name);
void sample_start_path(sample *s, const char *path, const char *arg);
void sample_stop(sample *s);
char *slurp(FILE *f);
run tasktrace(const char *arg, ...);
run tasktrace_argv(char **args);
run run_prog(const char *bin, char **argv);
void run_free(run *r);
/* Line of the "@await:TAG" marker in samples/hung.c, and its site text. */
unsigned marker_line(const char *tag);
const char *site(const char *tag);
char *line_with(const char *text, const char *needle, char *buf, size_t len);
void in_order(const char *text, ...);
unsigned long task_id(const char *ps, const char *name);
void assert_json(const char *text);
/* Validate TEXT with tests/cli/validate_json.py for COMMAND. */
void assert_schema(const char *command, const char *text);
/* Make a core of PID with gdb's gcore; returns its malloc'd path, or NULL
 * when PID runs under ASan (its core would be terabytes of shadow). */
char *make_core(pid_t pid, const char *tag);
/* The target is running: not stopped, not traced. */
void assert_running(pid_t pid);
/* Exactly one line on stderr, nothing on stdout. */
void one_error_line(const run *r, const char *needle);

#endif
