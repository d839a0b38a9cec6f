/* tasktrace hung: the diagnosis engine (tasktrace/read/diagnose.h) on a
 * target: deadlocks, lost wakers, never-resolved waits, long polls,
 * starved and idle tasks, each with what to do about it. */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tasktrace/read/diagnose.h"

/* Exit status when something was found (docs/diagnosis.md); far from
 * the target errors' codes (1..11 in cli.h). */
enum { EXIT_FOUND = 20 };

/* Our own options: the thresholds (cli_take_own). */
static const char *const threshold_names[] = {"--idle", "--idle-io", "--long-poll", "--starved"};
const cli_own cli_hung_own = {threshold_names, sizeof threshold_names / sizeof threshold_names[0]};

static int take_threshold(const cli_cmd *cmd, void *ctx, size_t k, const char *v)
{
	tt_diag_opts *d = ctx;
	uint64_t *dst[] = {&d->idle_ns, &d->idle_io_ns, &d->long_poll_ns, &d->starved_ns};

	if (strcmp(v, "off") == 0)
		*dst[k] = TT_DIAG_OFF;
	else if (tt_diag_parse_duration(v, dst[k]) < 0)
		return cli_usage(cmd, "%s: '%s' is not a duration (like 100ms, 2s, 5m, off)",
				 threshold_names[k], v);
	return -1;
}

static void stalled_json(cli_session *s, const tt_diag_finding *f);

static void hung_json(cli_session *s, const tt_diag_report *r)
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
		stalled_json(s, f);
		fputc('}', stdout);
	}
	fputs("]}\n", stdout);
}

static void proc_line(pid_t pid, int64_t tid, const char *what, char *buf, size_t len)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task/%lld/%s", (int)pid, (long long)tid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

/* What a long poll's worker thread is doing: its thread id (0: unknown)
 * and system call -- the /proc files of a live target, the registers of
 * a core's thread.  0 when there is no thread to ask. */
static int64_t stalled_syscall(cli_session *s, const tt_stask *t, tt_syscall *sc, char *wchan,
			       size_t len)
{
	int64_t tid = tt_snapshot_task_tid(s->snap, &t->raw);

	wchan[0] = 0;
	tt_syscall_parse(NULL, sc);
	if (tid <= 0)
		return 0;
	if (s->core) {
		tt_sym *sym = cli_sym(s);
		if (sym)
			tt_sym_core_syscall(sym, (pid_t)tid, sc);
		return tid;
	}
	char line[256];
	proc_line(s->target.pid, tid, "syscall", line, sizeof(line));
	tt_syscall_parse(line, sc);
	/* A thread we stopped sleeps in the stop, not where it was. */
	if (!s->stopped)
		proc_line(s->target.pid, tid, "wchan", wchan, len);
	return tid;
}

static int print_line(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	fwrite(p, 1, n, stdout);
	putchar('\n');
	return 1;
}

/* The thread's system call and its stack, unwound with libdw as `bt`
 * unwinds a running task's, after the finding's text. */
static void stalled_thread(cli_session *s, const tt_diag_finding *f)
{
	static native_frame nf[NATIVE_MAX];
	static tt_bt_native bn[NATIVE_MAX];
	const tt_stask *t = tt_snapshot_find(s->snap, f->task_id);
	char err[256], wchan[64];
	tt_syscall sc;

	if (!t)
		return;
	int64_t tid = stalled_syscall(s, t, &sc, wchan, sizeof(wchan));
	int n = native_stack(s, t, nf, NATIVE_MAX, err, sizeof(err));
	for (int k = 0; k < n; k++)
		bn[k] = (tt_bt_native){nf[k].pc,     nf[k].f.inlined, nf[k].f.function,
				       nf[k].f.file, nf[k].f.line,    nf[k].f.module};
	tt_bt_stalled_thread(tid, tid > 0 ? &sc : NULL, wchan, bn, n, err, print_line, NULL);
}

/* A long poll's "thread": its id, system call and native stack (the
 * frames of `bt --json`), as the text puts them after the finding. */
static void stalled_json(cli_session *s, const tt_diag_finding *f)
{
	const tt_stask *t =
	    f->kind == TT_DIAG_LONG_POLL ? tt_snapshot_find(s->snap, f->task_id) : NULL;
	char wchan[64];
	tt_syscall sc;

	fputs(",\"thread\":", stdout);
	if (!t) {
		fputs("null", stdout);
		return;
	}
	int64_t tid = stalled_syscall(s, t, &sc, wchan, sizeof(wchan));
	fputs("{\"tid\":", stdout);
	tt_json_u64_or_null(stdout, tid > 0 ? (uint64_t)tid : 0);
	fputs(",\"syscall\":", stdout);
	tt_json_syscall(stdout, tid > 0 ? &sc : NULL, wchan);
	json_native(stdout, s, t);
	fputc('}', stdout);
}

/* The report's text with each long poll's thread after its finding. */
static void hung_text(cli_session *s, const tt_diag_report *r)
{
	const char *p = r->text;

	for (size_t i = 0; i < r->n; i++) {
		const tt_diag_finding *f = &r->findings[i];
		const char *q = f->kind == TT_DIAG_LONG_POLL ? strstr(p, f->text) : NULL;
		if (!q)
			continue;
		size_t len = strlen(f->text);
		fwrite(p, 1, (size_t)(q - p) + len, stdout);
		if (len && f->text[len - 1] != '\n')
			putchar('\n');
		stalled_thread(s, f);
		p = q + len;
		if (*p == '\n' && len && f->text[len - 1] != '\n')
			p++;
	}
	fputs(p, stdout);
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
	if ((rc = cli_take_own(cmd, &argc, args, threshold_names,
			       sizeof threshold_names / sizeof threshold_names[0], take_threshold,
			       &d)) >= 0 ||
	    (rc = cli_parse_single_target(cmd, argc, args, &o, &target)) >= 0)
		goto out;
	if ((rc = cli_open_target(&s, &o, target)) != EXIT_OK)
		goto out;
	d.all = o.all;
	d.labels = o.labels;
	d.nlabels = (size_t)o.nlabels;
	d.each = o.all;
	if (!s.core && o.nonblocking)
		d.recheck = &s.target.mem;
	d.flight = s.stopped ? &s.stopped_mem : &s.target.mem;
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
		printf("\n\n");
		hung_text(&s, r);
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
	"Usage: tasktrace hung [OPTIONS] [--idle D] [--long-poll D] [--starved D]\n"
	"                     [--idle-io D] TARGET\n"
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
	"  long poll       one poll running longer than --long-poll (blocks a worker),\n"
	"                  with its thread's system call and native stack\n"
	"  starved         woken but not polled for longer than --starved\n"
	"  idle            suspended longer than --idle (timers that have not fired\n"
	"                  are not counted; nor is a wait on an fd read -- accept,\n"
	"                  a peer's next request -- or a cancellation token unless\n"
	"                  --idle-io is given)\n"
	"Identical findings (same kind, await chain and wait) are one, with a\n"
	"count and example ids; -a/--all lists each (and the runtime's own tasks).\n"
	"\n"
	"  --idle D        default 60s      durations: 250us, 100ms, 1.5s, 2m, 1h;\n"
	"  --long-poll D   default 100ms    'off' disables the rule\n"
	"  --starved D     default 1s\n"
	"  --label KEY=VALUE  only findings naming a task with label KEY set to\n"
	"                  VALUE (--label KEY: with label KEY); repeat it: all must\n"
	"                  match on one task\n"
	"  --idle-io D     default off      idle threshold of fd reads and tokens\n"
	"  and the options of every command (-a, -j, --exe, --nonblocking...; see\n"
	"  'tasktrace --help').\n"
	"\n"
	"Exit status: 0 no problem found (one line says so), 20 problems found,\n"
	"2 usage error, others: the target could not be read (docs/cli.md).\n",
	hung_run,
	CLI_TAKES_LABEL,
};
