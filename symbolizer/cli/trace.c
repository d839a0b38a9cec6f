/* `tasktrace trace TARGET [-o FILE] [--last D]`: the flight recorder's
 * events (docs/registry-abi.md §5.12) as a Chrome trace-event JSON file,
 * which Perfetto's UI and chrome://tracing open: one track per worker
 * (and one for the foreign ring) with each poll a slice named by its task
 * and, for a suspension, the async function it suspended in; flows from a
 * wake to the woken task's next poll; instant events for spawns. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tasktrace/read/diagnose.h"

#define FOREIGN_TID 100000 /* the track of the foreign ring */

typedef struct evs {
	tt_revent *v;
	size_t n, cap;
	int oom;
} evs;

static int keep(void *ctx, const tt_revent *ev)
{
	evs *e = ctx;
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 4096;
		tt_revent *v = realloc(e->v, cap * sizeof *v);
		if (!v) {
			e->oom = 1;
			return 1;
		}
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n++] = *ev;
	return 0;
}

static int by_stamp(const void *a, const void *b)
{
	const tt_revent *x = a, *y = b;
	if (x->stamp_ns != y->stamp_ns)
		return x->stamp_ns < y->stamp_ns ? -1 : 1;
	if (x->worker != y->worker)
		return x->worker < y->worker ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* A JSON string of untrusted text (names and files from the target). */
static void jstr(FILE *f, const char *s)
{
	char buf[1024];
	tt_fbuf b;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fb_text(&b, s); /* controls and bad UTF-8 as \xHH: no raw control left */
	fputc('"', f);
	for (const char *p = buf; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

static int is_poll(uint32_t k)
{
	return k == TT_EV_SUSPEND || k == TT_EV_YIELD || k == TT_EV_DONE || (k == TT_EV_CANCEL);
}

static long tid_of(const tt_revent *e)
{
	return e->worker < 0 ? FOREIGN_TID : e->worker;
}

static double us(uint64_t ns, uint64_t base)
{
	return ns > base ? (double)(ns - base) / 1000.0 : 0.0;
}

static void task_name(FILE *f, const tt_snapshot *s, uint64_t id, const char *suffix)
{
	const tt_stask *t = tt_snapshot_find(s, id);
	char name[96];
	snprintf(name, sizeof name, "task %" PRIu64 "%s%s%s", id, t && t->raw.name[0] ? " " : "",
		 t ? t->raw.name : "", suffix ? suffix : "");
	jstr(f, name);
}

static void labels(FILE *f, const tt_snapshot *s, uint64_t id)
{
	const tt_stask *t = tt_snapshot_find(s, id);
	fprintf(f, ",\"task\":%" PRIu64, id);
	if (!t)
		return;
	for (uint32_t i = 0; i < t->raw.nlabels && i < TT_TASK_LABELS_MAX; i++) {
		char key[TT_LABEL_KEY_MAX + 8];
		snprintf(key, sizeof key, "label.%s", t->raw.labels[i].key);
		fputc(',', f);
		jstr(f, key);
		fputc(':', f);
		jstr(f, t->raw.labels[i].value);
	}
}

static void write_trace(FILE *f, tt_reader *r, const cli_session *cs, evs *e, uint64_t last_ns)
{
	const tt_snapshot *s = cs->snap;
	/* Time 0: the registry's start, or the oldest stamp when the coarse
	 * clock put one before it. */
	uint64_t base = s->start_mono_ns, newest = e->n ? e->v[e->n - 1].stamp_ns : 0;
	for (size_t i = 0; i < e->n; i++) {
		uint64_t t = e->v[i].start_ns && e->v[i].start_ns < e->v[i].stamp_ns
				 ? e->v[i].start_ns
				 : e->v[i].stamp_ns;
		if (t < base)
			base = t;
	}
	uint64_t from = last_ns && newest > last_ns ? newest - last_ns : 0;
	tt_rsym syms[16];
	tt_rsym_cache cache;
	memset(syms, 0, sizeof syms);
	tt_rsym_cache_init(&cache, syms, 16);
	/* Flows: a wake's id, waiting for the woken task's next poll. */
	uint64_t *pending_task = calloc(e->n ? e->n : 1, sizeof *pending_task);
	size_t npending = 0;

	fprintf(f, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
	fprintf(f,
		"{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%" PRIu64
		",\"args\":{\"name\":\"tasktrace pid %" PRIu64 "\"}}",
		s->pid, s->pid);
	int seen[257] = {0};
	for (size_t i = 0; i < e->n; i++) {
		long tid = tid_of(&e->v[i]);
		int k = tid == FOREIGN_TID ? 256 : (int)(tid & 255);
		if (seen[k])
			continue;
		seen[k] = 1;
		if (tid == FOREIGN_TID)
			fprintf(f,
				",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%" PRIu64
				",\"tid\":%ld,\"args\":{\"name\":\"off the workers\"}}",
				s->pid, tid);
		else
			fprintf(f,
				",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%" PRIu64
				",\"tid\":%ld,\"args\":{\"name\":\"worker %ld\"}}",
				s->pid, tid, tid);
	}
	for (size_t i = 0; i < e->n; i++) {
		const tt_revent *v = &e->v[i];
		if (v->stamp_ns < from)
			continue;
		long tid = tid_of(v);
		if (is_poll(v->kind) && (v->kind != TT_EV_CANCEL || v->start_ns)) {
			const tt_rsym *site = v->kind == TT_EV_SUSPEND && v->arg1
						  ? tt_rsym_site(r, &cache, v->arg1)
						  : NULL;
			char fn[TT_RSYM_TEXT + 4] = "";
			if (site && site->ok)
				snprintf(fn, sizeof fn, ": %s", site->name);
			fprintf(f, ",\n{\"name\":");
			task_name(f, s, v->task, fn);
			fprintf(f,
				",\"cat\":\"poll\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":"
				"%" PRIu64 ",\"tid\":%ld,\"args\":{\"end\":\"%s\"",
				us(v->start_ns, base), us(v->stamp_ns, v->start_ns), s->pid, tid,
				tt_event_kind_name(v->kind));
			labels(f, s, v->task);
			if (site && site->ok) {
				char where[2 * TT_RSYM_TEXT];
				snprintf(where, sizeof where, "%s:%u", site->file, site->line);
				fprintf(f, ",\"site\":");
				jstr(f, where);
			}
			if (v->kind == TT_EV_SUSPEND && v->arg3)
				fprintf(f, ",\"wait\":\"%s\"", tt_wait_kind_name(v->arg3));
			fprintf(f, "}}");
			/* The flows of the wakes that led to this poll end here. */
			for (size_t j = 0; j < npending; j++) {
				if (pending_task[j] != v->task)
					continue;
				fprintf(f,
					",\n{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"f\","
					"\"bp\":\"e\","
					"\"id\":%zu,\"ts\":%.3f,\"pid\":%" PRIu64 ",\"tid\":%ld}",
					j + 1, us(v->start_ns, base), s->pid, tid);
				pending_task[j] = 0;
			}
		} else if (v->kind == TT_EV_WAKE) {
			pending_task[npending] = v->task;
			fprintf(f,
				",\n{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"s\",\"id\":%zu,"
				"\"ts\":%.3f,\"pid\":%" PRIu64 ",\"tid\":%ld}",
				++npending, us(v->stamp_ns, base), s->pid, tid);
			fprintf(f, ",\n{\"name\":");
			task_name(f, s, v->task, " woken");
			fprintf(f,
				",\"cat\":\"wake\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.3f,\"pid\":"
				"%" PRIu64 ",\"tid\":%ld,\"args\":{\"by\":%" PRIu64 "}}",
				us(v->stamp_ns, base), s->pid, tid, v->arg1);
		} else {
			fprintf(f, ",\n{\"name\":");
			char what[64];
			snprintf(what, sizeof what, " %s", tt_event_kind_name(v->kind));
			task_name(f, s, v->task, what);
			fprintf(
			    f,
			    ",\"cat\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.3f,\"pid\":%" PRIu64
			    ",\"tid\":%ld,\"args\":{\"parent\":%" PRIu64,
			    v->kind == TT_EV_SPAWN ? "spawn" : "event", us(v->stamp_ns, base),
			    s->pid, tid, v->kind == TT_EV_SPAWN ? v->arg1 : 0);
			labels(f, s, v->task);
			fprintf(f, "}}");
		}
	}
	fprintf(f, "\n]}\n");
	free(pending_task);
}

static int trace_run(const cli_cmd *cmd, int argc, char **argv)
{
	const char *out = NULL;
	uint64_t last_ns = 0;
	char **rest = calloc((size_t)argc + 1, sizeof *rest);
	int n = 0;
	if (!rest)
		return EXIT_TARGET;
	/* -o and --last are this command's; the rest are the common ones. */
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if ((!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--last")) &&
		    i + 1 < argc) {
			if (a[2] == 'l') {
				if (tt_diag_parse_duration(argv[i + 1], &last_ns) || !last_ns) {
					free(rest);
					return cli_usage(
					    cmd, "--last: '%s' is not a duration (1s, 500ms)",
					    argv[i + 1]);
				}
			} else {
				out = argv[i + 1];
			}
			i++;
			continue;
		}
		rest[n++] = argv[i];
	}
	cli_opts o;
	const char *target;
	int rc = cli_parse_single_target(cmd, n, rest, &o, &target);
	if (rc >= 0) {
		free(rest);
		return rc;
	}
	/* An output that cannot be written is said before anything is read. */
	FILE *f = out ? fopen(out, "w") : stdout;
	if (!f) {
		fprintf(stderr, "tasktrace: %s: %s\n", out, strerror(errno));
		free(rest);
		return EXIT_TARGET;
	}
	cli_session s;
	if ((rc = cli_open_target(&s, &o, target)) != EXIT_OK) {
		if (out)
			fclose(f);
		free(rest);
		return rc;
	}
	tt_reader *r = calloc(1, sizeof *r);
	evs e = {0};
	tt_rflight st;
	int64_t got = -1;
	if (r && tt_reader_open(r, s.stopped ? s.stopped_mem : s.target.mem, s.snap->root_addr,
				NULL) == TT_R_OK)
		got = tt_flight_read(r, 0, keep, &e, &st);
	if (!r || got < 0 || e.oom) {
		fprintf(stderr, "tasktrace: %s: %s\n", cli_target_name(&s),
			!r || e.oom ? "out of memory" : r->err);
		rc = EXIT_TARGET;
	} else {
		qsort(e.v, e.n, sizeof *e.v, by_stamp);
		write_trace(f, r, &s, &e, last_ns);
		if (st.skipped || st.bad_rings)
			fprintf(stderr,
				"tasktrace: %" PRIu64 " torn or overwritten events skipped%s%s\n",
				st.skipped, st.bad_rings ? "; a ring unreadable: " : "",
				st.bad_rings ? st.err : "");
	}
	if (out && fclose(f)) {
		fprintf(stderr, "tasktrace: %s: %s\n", out, strerror(errno));
		rc = EXIT_TARGET;
	}
	free(e.v);
	free(r);
	cli_close(&s);
	free(rest);
	return rc;
}

const cli_cmd cmd_trace = {
    "trace",
    "write the flight recorder's events as a Chrome/Perfetto trace",
    "Usage: tasktrace trace [OPTIONS] TARGET [-o FILE] [--last DURATION]\n"
    "\n"
    "Write what the flight recorder of TARGET (a live pid, or a core file)\n"
    "holds as Chrome trace-event JSON (ui.perfetto.dev, chrome://tracing): a\n"
    "track per worker with each poll a slice named by its task (and the async\n"
    "function it suspended in), flow arrows from each wake to the woken task's\n"
    "next poll, instant events for spawns; task labels as arguments.\n"
    "\n"
    "  -o, --output FILE  write to FILE (default: standard output); checked\n"
    "                     before the target is read\n"
    "      --last D       only the last D of events (500ms, 2s)\n"
    "      --exe FILE     the executable of a core (default: from the core)\n"
    "      --nonblocking  read a live process without stopping it\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 ok, 1 I/O error, 2 usage error, 3-11 the target could not\n"
    "be read (see docs/cli.md).\n",
    trace_run,
    0,
};
