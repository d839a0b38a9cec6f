/* libttmi: a small GDB/MI client.  Spawns `gdb --interpreter=mi3 -nx -q`,
 * sends tokened commands and parses the output records into trees.
 *
 *   ttmi *g = ttmi_spawn(NULL, 10000);
 *   ttmi_record *r = ttmi_command(g, "-task-list");
 *   if (r && r->klass && strcmp(r->klass, "done") == 0)
 *       puts(ttmi_str(r->results, "tasks[0].name"));
 *   ttmi_record_free(r);
 *   ttmi_close(g);
 *
 * Every wait has a timeout (poll); on a timeout or a dead gdb the calls
 * return NULL and ttmi_error() says why. */
#ifndef TTMI_H
#define TTMI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ttmi_kind { TTMI_STRING, TTMI_TUPLE, TTMI_LIST } ttmi_kind;

/* A value: a C string (escapes decoded), a tuple of named results, or a
 * list of values or results.  Children are linked through next. */
typedef struct ttmi_value {
	ttmi_kind kind;
	char *name; /* of a result ("name=value"); NULL for a bare value */
	char *str;  /* TTMI_STRING */
	struct ttmi_value *child, *next;
} ttmi_value;

/* One output record.  type: '^' result, '*' exec async, '+' status async,
 * '=' notify async, '~' console, '@' target, '&' log stream. */
typedef struct ttmi_record {
	char type;
	long token; /* -1 without one */
	char *klass;          /* "done", "error", "stopped"...; NULL for streams */
	ttmi_value *results;  /* a tuple of the record's results */
	char *text;           /* decoded stream text */
	struct ttmi_record *next;
} ttmi_record;

typedef struct ttmi ttmi;

/* Start gdb (the TT_GDB environment variable, else "gdb") with
 * --interpreter=mi3 -nx -q and the NULL-terminated EXTRA arguments
 * (may be NULL).  TIMEOUT_MS bounds every later wait.  NULL on failure. */
ttmi *ttmi_spawn(const char *const *extra, int timeout_ms);
/* Send a -command (printf format); return its result record (^done,
 * ^error, ^running...), or NULL on timeout or EOF.  Stream output seen
 * meanwhile is in ttmi_console(); async records are queued. */
ttmi_record *ttmi_command(ttmi *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Run a CLI command through -interpreter-exec console. */
ttmi_record *ttmi_cli(ttmi *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Console and log stream text of the last command. */
const char *ttmi_console(const ttmi *g);
/* Wait for an async record of class KLASS ("stopped"), queued or new. */
ttmi_record *ttmi_wait_async(ttmi *g, const char *klass);
const char *ttmi_error(const ttmi *g);
/* Ask gdb to exit, wait a bounded time, then kill it; frees G. */
int ttmi_close(ttmi *g);

/* Parse one output line; NULL if it is not an MI record ("(gdb)", noise). */
ttmi_record *ttmi_parse(const char *line);
void ttmi_record_free(ttmi_record *r);

/* Look up PATH in a tuple: names separated by '.', list indices as [N]:
 * "task.frames[1].func".  NULL when absent. */
const ttmi_value *ttmi_get(const ttmi_value *v, const char *path);
/* The string at PATH, or NULL. */
const char *ttmi_str(const ttmi_value *v, const char *path);
/* Number of children of a tuple or list (0 for NULL or strings). */
size_t ttmi_len(const ttmi_value *v);
const ttmi_value *ttmi_at(const ttmi_value *v, size_t i);
/* The first string of V, its siblings and their children (names too)
 * that a strict UTF-8 decoder rejects, or NULL: what a task name from
 * target memory must never reach an MI consumer as. */
const char *ttmi_bad_utf8(const ttmi_value *v);

#ifdef __cplusplus
}
#endif
#endif
