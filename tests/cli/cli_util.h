/* Helpers of the CLI integration tests: samples as child processes, the
 * tasktrace binary run for real, and checks on its output. */
#ifndef TT_CLI_UTIL_H
#define TT_CLI_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "../sample.h"

typedef struct run {
	int status; /* exit code, or 128 + signal */
	char *out;
	char *err;
} run;

extern uid_t run_as_uid;
extern const char *run_stdin;

char *slurp(FILE *f);
/* What F holds so far, F kept open. */
char *slurp_keep(FILE *f);
run tasktrace(const char *arg, ...);
run tasktrace_argv(char **args);
run run_prog(const char *bin, char **argv);
void run_free(run *r);
/* The site text "samples/hung.c:N" of marker TAG. */
const char *site(const char *tag);
char *line_with(const char *text, const char *needle, char *buf, size_t len);
void in_order(const char *text, ...);
unsigned long task_id(const char *ps, const char *name);
/* TEXT is one JSON document, in strict UTF-8. */
void assert_json(const char *text);
/* TEXT parses as one JSON document (assert_json without its other checks). */
int json_parses(const char *text);
/* Validate TEXT with tests/cli/validate_json.py for COMMAND (ps, bt,
 * tree, hung, symbolize; "any": strict UTF-8 and JSON only). */
void assert_schema(const char *command, const char *text);
/* Make a core of PID with gdb's gcore; returns its malloc'd path, or NULL
 * when PID runs under ASan (its core would be terabytes of shadow). */
char *make_core(pid_t pid, const char *tag);
/* The target is running: not stopped, not traced. */
void assert_running(pid_t pid);
/* Exactly one line on stderr, nothing on stdout. */
void one_error_line(const run *r, const char *needle);

/* Wait (bounded) until PID has exec'd COMM. */
void wait_comm(pid_t pid, const char *comm);

#endif
