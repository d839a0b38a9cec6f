/* A session on one target, a live pid or a core: stop it (live), find its
 * root, snapshot it, and fix the clock that wait ages are measured
 * against. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static int fail(cli_session *s, int code, const char *msg)
{
	fprintf(stderr, "tasktrace: %s\n", msg);
	cli_close(s);
	return cli_exit_code(code);
}

/* A registry that cannot be read at all: the same line and exit status
 * whether the command snapshots it or streams it. */
/* Said once, whichever way the command reads the tasks. */
static void fork_warning(cli_session *s, const tt_runtimes *rt)
{
	char line[200];
	tt_fbuf b;

	if (!rt->inherited_from)
		return;
	tt_fb_init(&b, line, sizeof(line));
	tt_fmt_fork_note(&b, rt);
	cli_warn(s, "%s: %s", cli_target_name(s), line);
}

static int registry_fail(cli_session *s, int rc, const char *err)
{
	char msg[1200];

	snprintf(msg, sizeof(msg), "%s: cannot read the registry at 0x%" PRIx64 ": %s",
		 cli_target_name(s), s->target.root.addr, err[0] ? err : tt_strerror(rc));
	return fail(s,
		    rc == TT_R_BAD_VERSION			? TT_T_BAD_VERSION
		    : rc == TT_R_UNREADABLE || rc == TT_R_NOMEM ? TT_T_IO
								: TT_T_BAD_REGISTRY,
		    msg);
}

/* Only the root, for a command that streams the tasks itself.  What the
 * snapshot refuses at the registry level (a chunk count beyond the
 * capacity) is refused here too, before the stream prints "No tasks.". */
static int open_root_only(cli_session *s)
{
	tt_reader *r = malloc(sizeof(*r));
	uint32_t nchunks;

	if (!r)
		return fail(s, TT_T_IO, "out of memory");
	int rc = tt_reader_open(r, s->target.mem, s->target.root.addr, NULL);
	if (rc == TT_R_OK)
		rc = tt_reader_chunk_count(r, &nchunks);
	if (rc != TT_R_OK) {
		rc = registry_fail(s, rc, r->err);
		free(r);
		return rc;
	}
	tt_runtimes rt;
	tt_runtimes_init(&rt, r);
	tt_runtimes_set_target(&rt, (uint64_t)s->target.pid);
	fork_warning(s, &rt);
	uint64_t now = tt_reader_root_u64(r, TT_ROOT_NOW_NS);
	s->now_ns = s->core ? tt_core_now(s->core, now, tt_reader_root_u64(r, TT_ROOT_START_MONO_NS),
				       tt_reader_root_u64(r, TT_ROOT_START_REAL_NS)) :
			      tt_live_now(s->target.pid, now);
	free(r);
	return EXIT_OK;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The target's memory while it is stopped: every loop of every reader
 * goes through here, so this is the one place a budget is kept.  A read
 * past it resumes the target and fails; the readers mark what they could
 * not read as they mark any unreadable record. */
static int budget_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	cli_session *s = ctx;

	if (s->stopped && mono_ns() > s->deadline_ns) {
		tt_stop_resume(&s->stop);
		s->stopped = 0;
	}
	if (!s->stopped) {
		s->budget_misses++;
		return -ETIME;
	}
	return s->stopped_mem.read(s->stopped_mem.ctx, addr, buf, len);
}

static int open_pid(cli_session *s, const cli_opts *o, pid_t pid)
{
	char err[512];
	int rc;

	if (!o->nonblocking) {
		rc = tt_stop_pid(&s->stop, pid, TT_STOP_GUARD, err, sizeof(err));
		if (rc != TT_T_OK)
			return fail(s, rc, err);
		s->stopped = 1;
	}
	rc = tt_target_open_pid(&s->target, pid);
	if (rc != TT_T_OK)
		return fail(s, rc, s->target.err);
	if (s->stopped) {
		s->deadline_ns = mono_ns() + o->stop_budget_ns;
		s->stopped_mem = s->target.mem;
		s->target.mem = (tt_mem){budget_read, s};
	}
	return EXIT_OK;
}

void cli_warn(cli_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tasktrace: warning: %s\n", line);
	if (s->nwarnings < CLI_MAX_WARNINGS)
		memcpy(s->warnings[s->nwarnings++], line, sizeof(line));
}

static int open_core(cli_session *s, const cli_opts *o, const char *core)
{
	char err[1200];
	int rc;

	s->core = core;
	s->sym = tt_sym_open_core(core, o->exe, &rc, err, sizeof(err));
	if (!s->sym)
		return fail(s, rc, err);
	s->target.pid = tt_sym_pid(s->sym);
	s->target.mem = tt_sym_mem(s->sym);
	rc = tt_sym_find_root(s->sym, &s->target.root, err, sizeof(err));
	if (rc != TT_T_OK) {
		char msg[1500];
		snprintf(msg, sizeof(msg), "core %s: %s", core, err);
		return fail(s, rc, msg);
	}
	/* The tasks can still be read; say once why names are "??". */
	char missing[900];
	if (tt_sym_core_missing(s->sym, missing, sizeof(missing)) > 0)
		cli_warn(s, "core %s: function names and source files show as ??: %s", core,
			 missing);
	return EXIT_OK;
}

int cli_open_target(cli_session *s, const cli_opts *o, const char *target)
{
	char err[256] = "";
	int rc;

	memset(s, 0, sizeof(*s));
	s->opts = o;
	if (cli_is_pid(target))
		rc = open_pid(s, o, (pid_t)strtol(target, NULL, 10));
	else
		rc = open_core(s, o, target);
	if (rc != EXIT_OK)
		return rc;
	if (o->no_snapshot)
		return open_root_only(s);
	rc = tt_snapshot_read(s->target.mem, s->target.root.addr, NULL,
			      &s->snap, err, sizeof(err));
	if (rc != TT_R_OK)
		return registry_fail(s, rc, err);
	tt_snapshot_set_target(s->snap, (uint64_t)s->target.pid);
	fork_warning(s, &s->snap->runtimes);
	s->now_ns = s->core ? tt_core_now(s->core, s->snap->now_ns, s->snap->start_mono_ns,
				       s->snap->start_real_ns) :
			      tt_live_now(s->target.pid, s->snap->now_ns);
	return EXIT_OK;
}

tt_sym *cli_sym(cli_session *s)
{
	static int warned;
	char err[512];
	int code;

	if (s->sym || s->core)
		return s->sym;
	/* Unwinding a thread the budget let run again would be a guess. */
	if (s->budget_misses)
		return NULL;
	s->sym = tt_sym_open_pid(s->target.pid, s->stopped, &code, err, sizeof(err));
	if (!s->sym && !warned++)
		fprintf(stderr, "tasktrace: warning: no symbols: %s\n", err);
	return s->sym;
}

const char *cli_target_name(const cli_session *s)
{
	static char buf[600];

	if (s->core)
		snprintf(buf, sizeof(buf), "core %s", s->core);
	else
		snprintf(buf, sizeof(buf), "pid %d", (int)s->target.pid);
	return buf;
}

void cli_close(cli_session *s)
{
	if (s->snap)
		tt_snapshot_free(s->snap);
	s->snap = NULL;
	tt_sym_close(s->sym);
	s->sym = NULL;
	if (s->stopped)
		tt_stop_resume(&s->stop);
	s->stopped = 0;
	if (s->budget_misses) {
		char d[32];
		tt_fbuf b;
		tt_fb_init(&b, d, sizeof(d));
		tt_fmt_duration(&b, s->opts->stop_budget_ns);
		fprintf(stderr,
			"tasktrace: %s: resumed after the stop budget of %s; %" PRIu64
			" reads were not done and their records are reported unreadable "
			"(raise it with --stop-budget)\n",
			cli_target_name(s), d, s->budget_misses);
		s->budget_misses = 0;
	}
	if (!s->core)
		tt_target_close(&s->target);
}

void cli_line(const tt_fbuf *b)
{
	fputs(b->p, stdout);
	fputc('\n', stdout);
}

int cli_grow(void **p, size_t *cap, size_t size, size_t first)
{
	size_t c = *cap ? 2 * *cap : first;
	void *n = realloc(*p, c * size);
	if (!n)
		return -1;
	*p = n;
	*cap = c;
	return 0;
}
