/* tasktrace hung: the diagnosis engine (tasktrace/read/diagnose.h) on a
 * target: deadlocks, lost wakers, never-resolved waits, long polls,
 * starved and idle tasks, each with what to do about it. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tasktrace/read/diagnose.h"

/* Exit status when something was found (docs/diagnosis.md); far from
 * the target errors' codes (1..11 in cli.h). */
enum { EXIT_FOUND = 20 };

/* Our own options (--idle, --long-poll, --starved, as "--x V" or
 * "--x=V") are taken out of ARGV; the rest goes to the common parser, so
 * hung takes every option the other commands take (--exe, --nonblocking,
 * ...).  Returns -1 to go on, or an exit code. */
static int take_thresholds(const cli_cmd *cmd, int *argc, char **argv,
			   tt_diag_opts *d)
{
	static const struct {
		const char *name;
		size_t off;
	} opts[] = {
		{ "--idle", offsetof(tt_diag_opts, idle_ns) },
		{ "--long-poll", offsetof(tt_diag_opts, long_poll_ns) },
		{ "--starved", offsetof(tt_diag_opts, starved_ns) },
	};
	int out = 0;

	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i], *v = NULL;
		size_t k, n = sizeof(opts) / sizeof(opts[0]);

		if (i > 0 && strcmp(a, "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		for (k = 0; k < n; k++) {
			size_t len = strlen(opts[k].name);
			if (strncmp(a, opts[k].name, len) == 0 && (a[len] == '=' || !a[len])) {
				v = a[len] == '=' ? a + len + 1 : (i + 1 < *argc ? argv[++i] : NULL);
				break;
			}
		}
		if (k == n) {
			argv[out++] = argv[i];
			continue;
		}
		uint64_t *dst = (uint64_t *)((char *)d + opts[k].off);
		if (!v)
			return cli_usage(cmd, "%s needs a duration", opts[k].name);
		if (strcmp(v, "off") == 0)
			*dst = TT_DIAG_OFF;
		else if (tt_diag_parse_duration(v, dst) < 0)
			return cli_usage(cmd, "%s: '%s' is not a duration (like 100ms, 2s, 5m, off)",
					 opts[k].name, v);
	}
	*argc = out;
	argv[out] = NULL;
	return -1;
}

static void hung_json(const cli_session *s, const tt_diag_report *r)
{
	json_doc_begin(stdout, s, "hung");
	/* The tasks the findings name, each once. */
	int n = 0;
	for (size_t i = 0; i < s->snap->ntasks; i++) {
		const tt_stask *t = &s->snap->tasks[i];
		int named = 0;
		for (size_t k = 0; k < r->n && !named; k++) {
			const tt_diag_finding *f = &r->findings[k];
			named = f->task_id == t->raw.id || f->other_id == t->raw.id;
			for (uint32_t c = 0; c < f->ncycle && !named; c++)
				named = f->cycle[c] == t->raw.id;
			for (uint64_t c = 0; f->ids && c < f->count && !named; c++)
				named = f->ids[c] == t->raw.id;
		}
		if (!named || !t->raw.id)
			continue;
		fputs(n++ ? ",{" : "{", stdout);
		json_task_fields(stdout, s, t);
		fputc('}', stdout);
	}
	fputs("],\"findings\":[", stdout);
	for (size_t k = 0; k < r->n; k++) {
		const tt_diag_finding *f = &r->findings[k];
		printf("%s{\"kind\":", k ? "," : "");
		tt_json_str(stdout, tt_diag_kind_name(f->kind));
		printf(",\"task_id\":%llu,\"other_id\":", (unsigned long long)f->task_id);
		if (f->other_id)
			printf("%llu", (unsigned long long)f->other_id);
		else
			fputs("null", stdout);
		printf(",\"age_ns\":%llu,\"cycle\":[", (unsigned long long)f->age_ns);
		for (uint32_t c = 0; c < f->ncycle; c++)
			printf("%s%llu", c ? "," : "", (unsigned long long)f->cycle[c]);
		printf("],\"count\":%llu,\"ids\":[", (unsigned long long)f->count);
		for (uint64_t c = 0; c < f->count; c++)
			printf("%s%llu", c ? "," : "",
			       (unsigned long long)(f->ids ? f->ids[c] : f->task_id));
		fputs("],\"title\":", stdout);
		tt_json_str(stdout, f->title);
		fputs(",\"text\":", stdout);
		tt_json_str(stdout, f->text);
		fputc('}', stdout);
	}
	fputs("]}\n", stdout);
}

static int hung_run(const cli_cmd *cmd, int argc, char **argv)
{
	cli_opts o;
	tt_diag_opts d;
	cli_session s;
	const char *target;
	int rc;
	char **args = calloc((size_t)argc + 1, sizeof(*args));

	if (!args)
		return EXIT_TARGET;
	memcpy(args, argv, (size_t)argc * sizeof(*args));
	tt_diag_opts_init(&d);
	if ((rc = take_thresholds(cmd, &argc, args, &d)) >= 0 ||
	    (rc = cli_parse_single_target(cmd, argc, args, &o, &target)) >= 0)
		goto out;
	if ((rc = cli_open_target(&s, &o, target)) != EXIT_OK)
		goto out;
	d.all = o.all;
	d.each = o.all;
	if (!s.core && o.nonblocking)
		d.recheck = &s.target.mem;
	tt_diag_report *r = tt_diagnose(s.snap, s.now_ns, &d);
	if (!r) {
		fprintf(stderr, "tasktrace: out of memory\n");
		cli_close(&s);
		rc = EXIT_TARGET;
		goto out;
	}
	if (o.json) {
		hung_json(&s, r);
	} else if (r->n) {
		uint64_t tasks = 0;
		for (size_t k = 0; k < r->n; k++)
			tasks += r->findings[k].count;
		printf("%s: %zu problem%s found", cli_target_name(&s), r->n, r->n == 1 ? "" : "s");
		if (tasks > r->n)
			printf(" (%llu tasks; --all lists each)", (unsigned long long)tasks);
		printf("\n\n%s", r->text);
	} else {
		printf("%s: %s", cli_target_name(&s), r->text);
	}
	rc = r->n ? EXIT_FOUND : EXIT_OK;
	tt_diag_free(r);
	cli_close(&s);
out:
	free(args);
	return rc;
}

const cli_cmd cmd_hung = {
	"hung", "diagnose hung tasks: deadlocks, lost wakers, long polls",
	"Usage: tasktrace hung [OPTIONS] [--idle D] [--long-poll D] [--starved D] TARGET\n"
	"\n"
	"Diagnose the tasks of TARGET (a live pid, or a core file with --exe, as\n"
	"for the other commands).  Each finding names the task, the\n"
	"evidence, and what to do:\n"
	"  deadlock        a cycle of tasks waiting on each other (joins, mutexes,\n"
	"                  oneshots, task groups, semaphores, declared channel\n"
	"                  ends), spelled out task by task\n"
	"  all tasks are asleep  every task waits on another, and no timer, fd or\n"
	"                  blocking call can wake any of them\n"
	"  lost waker      a pending task nothing holds a waker for: it can never wake\n"
	"  never resolved  a wait on a oneshot, mutex, semaphore or channel whose\n"
	"                  owner tasks are gone\n"
	"  long poll       one poll running longer than --long-poll (blocks a worker)\n"
	"  starved         woken but not polled for longer than --starved\n"
	"  idle            suspended longer than --idle (timers that have not fired\n"
	"                  are not counted)\n"
	"Identical findings (same kind, await chain and wait) are one, with a\n"
	"count and example ids; -a/--all lists each (and the runtime's own tasks).\n"
	"\n"
	"  --idle D        default 60s      durations: 250us, 100ms, 1.5s, 2m, 1h;\n"
	"  --long-poll D   default 100ms    'off' disables the rule\n"
	"  --starved D     default 1s\n"
	"  and the options of every command (-a, -j, --exe, --nonblocking...; see\n"
	"  'tasktrace --help').\n"
	"\n"
	"Exit status: 0 no problem found (one line says so), 20 problems found,\n"
	"2 usage error, others: the target could not be read (docs/cli.md).\n",
	hung_run,
	0,
};
