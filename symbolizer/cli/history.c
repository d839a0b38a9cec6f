/* `tasktrace history TARGET ID`: one task's recent past from the flight
 * recorder, in the words of wording/history.c (gdb's `task history`), or
 * with --json one object per event (docs/cli.md). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "tasktrace/read/history.h"

/* Whether the target has a recorder at all: the first event will do. */
static int first_only(void *ctx, const tt_revent *ev)
{
	(void)ctx;
	(void)ev;
	return 1;
}

static const char *snap_name(void *ctx, uint64_t id)
{
	const tt_stask *t = tt_snapshot_find(ctx, id);
	return t ? t->raw.name : NULL;
}

static void json_site(FILE *f, tt_reader *r, tt_rsym_cache *c, uint64_t addr)
{
	const tt_rsym *site = addr ? tt_rsym_site(r, c, addr) : NULL;
	fputs(",\"site\":", f);
	if (!site || !site->ok) {
		fputs("null", f);
		return;
	}
	fputs("{\"function\":", f);
	tt_json_str(f, site->name);
	fputs(",\"file\":", f);
	tt_json_str(f, site->file);
	fprintf(f, ",\"line\":%u}", site->line);
}

/* One event: what every kind has, then what its kind adds (§5.12). */
static void json_event(FILE *f, tt_reader *r, tt_rsym_cache *c, const cli_session *s, uint64_t id,
		       const tt_revent *ev)
{
	char line[1024];
	tt_fbuf b;
	tt_fb_init(&b, line, sizeof line);
	tt_history_event(&b, r, c, snap_name, (void *)s->snap, id, ev);
	fprintf(f, "{\"kind\":\"%s\",\"stamp_ns\":%" PRIu64 ",\"ago_ns\":%" PRIu64 ",\"worker\":",
		tt_event_kind_name(ev->kind), ev->stamp_ns,
		s->now_ns > ev->stamp_ns ? s->now_ns - ev->stamp_ns : 0);
	if (ev->worker < 0)
		fputs("null", f);
	else
		fprintf(f, "%" PRId32, ev->worker);
	fprintf(f, ",\"pos\":%" PRIu64 ",\"task\":%" PRIu64 ",\"text\":", ev->pos, ev->task);
	tt_json_str(f, line);
	switch (ev->kind) {
	case TT_EV_SPAWN:
		fputs(",\"parent\":", f);
		tt_json_u64_or_null(f, ev->arg1);
		json_site(f, r, c, ev->arg2);
		break;
	case TT_EV_WAKE:
		fputs(",\"waker\":", f);
		tt_json_u64_or_null(f, ev->arg1);
		fputs(",\"thread\":", f);
		tt_json_u64_or_null(f, ev->worker < 0 ? ev->arg2 : 0);
		fprintf(f, ",\"during_poll\":%s", ev->arg3 == 1 ? "true" : "false");
		break;
	case TT_EV_BLOCKING_START:
	case TT_EV_BLOCKING_END:
		fputs(",\"job\":", f);
		tt_json_hex(f, ev->arg1);
		fprintf(f, ",\"thread\":%" PRIu64, ev->arg2);
		break;
	case TT_EV_STALL_BEGIN:
	case TT_EV_STALL_END:
		fprintf(f, ",\"stalled_worker\":%" PRIu64 ",\"thread\":%" PRIu64, ev->arg1,
			ev->arg2);
		if (ev->kind == TT_EV_STALL_END)
			fprintf(f, ",\"stall_ns\":%" PRIu64, (uint64_t)ev->arg3 * 1000000);
		break;
	}
	if (ev->kind == TT_EV_SUSPEND || ev->kind == TT_EV_YIELD || ev->kind == TT_EV_DONE ||
	    (ev->kind == TT_EV_CANCEL && ev->start_ns)) {
		fprintf(f, ",\"poll_start_ns\":%" PRIu64 ",\"poll_ns\":%" PRIu64, ev->start_ns,
			ev->stamp_ns - ev->start_ns);
		if (ev->kind == TT_EV_SUSPEND) {
			json_site(f, r, c, ev->arg1);
			fputs(",\"wait_kind\":", f);
			tt_json_str(f, ev->arg3 ? tt_wait_kind_name(ev->arg3) : NULL);
			fputs(",\"wait_object\":", f);
			if (ev->arg2)
				tt_json_hex(f, ev->arg2);
			else
				fputs("null", f);
		}
	}
	fputc('}', f);
}

/* Every event the rings hold about task ID, oldest first.  *FOUND: the
 * events shown. */
static int history_json(cli_session *s, uint64_t id, size_t *found)
{
	enum { NSYMS = 16 };
	tt_reader *r = calloc(1, sizeof *r);
	tt_rsym *syms = calloc(NSYMS, sizeof *syms);
	tt_revents c = {0};
	tt_rflight st;
	tt_rsym_cache cache;
	int rc = EXIT_OK;

	if (!r || !syms) {
		fprintf(stderr, "tasktrace: out of memory\n");
		rc = EXIT_TARGET;
	} else if (cli_flight_read(s, r, id, tt_revents_keep, &c, &st) < 0) {
		rc = EXIT_TARGET;
	} else if (c.oom) {
		fprintf(stderr, "tasktrace: out of memory\n");
		rc = EXIT_TARGET;
	}
	if (rc != EXIT_OK)
		goto out;
	tt_history_order(c.v, c.n, id);
	tt_rsym_cache_init(&cache, syms, NSYMS);
	json_doc_begin(stdout, s, "history");
	const tt_stask *t = tt_snapshot_find(s->snap, id);
	if (t) {
		fputc('{', stdout);
		json_task_fields(stdout, s, t);
		fputc('}', stdout);
	}
	fprintf(stdout,
		"],\"task_id\":%" PRIu64 ",\"recorder\":{\"rings\":%" PRIu32
		",\"unreadable_rings\":%" PRIu32 ",\"skipped\":%" PRIu64 ",\"error\":",
		id, st.rings, st.bad_rings, st.skipped);
	tt_json_str(stdout, st.bad_rings ? st.err : NULL);
	fputs("},\"events\":[", stdout);
	for (size_t i = 0; i < c.n; i++) {
		if (i)
			fputc(',', stdout);
		json_event(stdout, r, &cache, s, id, &c.v[i]);
	}
	fputs("]}\n", stdout);
	*found = c.n;
out:
	free(c.v);
	free(syms);
	free(r);
	return rc;
}

static int history_run(const cli_cmd *cmd, int argc, char **argv)
{
	cli_opts o;
	cli_session s;
	uint64_t id;
	int first, rc;

	if ((rc = cli_parse_with_target(cmd, argc, argv, &o, &first)) >= 0)
		return rc;
	if (argc - first != 2)
		return cli_usage(cmd, "expected TARGET and one task ID");
	if (cli_parse_id(argv[first + 1], &id))
		return cli_usage(cmd, "'%s' is not a task id", argv[first + 1]);
	if ((rc = cli_open_target(&s, &o, argv[first])) != EXIT_OK)
		return rc;
	size_t found = 0;
	tt_reader *r = calloc(1, sizeof *r);
	tt_rflight st;
	if (!r) {
		fprintf(stderr, "tasktrace: out of memory\n");
		rc = EXIT_TARGET;
	} else if (o.json) {
		rc = history_json(&s, id, &found);
	} else if (cli_flight_read(&s, r, 0, first_only, NULL, &st) < 0) {
		rc = EXIT_TARGET; /* no recorder: said as trace says it */
	} else {
		char *text = tt_history_text(s.stopped ? s.stopped_mem : s.target.mem, s.snap, id,
					     0, s.now_ns, &found);
		if (!text) {
			fprintf(stderr, "tasktrace: out of memory\n");
			rc = EXIT_TARGET;
		} else {
			fputs(text, stdout);
		}
		free(text);
	}
	/* A task the registry does not have and the rings never saw. */
	if (rc == EXIT_OK && !found && !tt_snapshot_find(s.snap, id))
		rc = EXIT_TARGET;
	free(r);
	cli_close(&s);
	return rc;
}

const cli_cmd cmd_history = {
    "history",
    "print a task's recent events from the flight recorder",
    "Usage: tasktrace history [OPTIONS] TARGET ID\n"
    "\n"
    "Print what the flight recorder of TARGET (a live pid, or a core file)\n"
    "holds about task ID, newest last: when it was spawned and by whom, each\n"
    "poll with its worker, duration and how it ended (where it suspended and\n"
    "on what), who woke it, the tasks it woke and spawned; then what it is\n"
    "doing now.  The last 64 events are shown (with --json, all of them).\n"
    "Events torn or overwritten while read are counted, never shown.  A\n"
    "target without a recorder (TASKTRACE_RECORDER=off) is an error.\n"
    "\n"
    "      --json         one JSON document: the task, then one object per\n"
    "                     event, oldest first (docs/cli.md)\n"
    "      --exe FILE     the executable of a core (default: from the core)\n"
    "      --nonblocking  read a live process without stopping it\n"
    "      --stop-budget D  a live target stays stopped at most D (default 1s)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 ok, 1 I/O error, no such task or no flight recorder,\n"
    "2 usage error, 3-11 the target could not be read (see docs/cli.md).\n",
    history_run,
    0,
};
