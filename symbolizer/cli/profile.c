/* tasktrace profile: a wait profile.  A live process is read without
 * stopping it (the snapshot's seqlock rules: a torn record is left out,
 * never counted) up to RATE times a second for DURATION, each read
 * counting the time since the one before: a wait by its stamps, a running
 * or runnable task as a sample (prof_add_read); a core is one snapshot,
 * each task weighted by how long it has been waiting. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profile.h"
#include "tasktrace/read/diagnose.h"

#define PROF_DEFAULT_RATE 99.0
#define PROF_DEFAULT_DURATION_NS 5000000000ull
/* The share of one core the sampler allows itself: past it the registry
 * is read less often (and that said).  A wait keeps its weight at any rate
 * (its stamps bound it: prof_add_read), so the profile of 10k tasks costs
 * its target little and one of 100k stays within it.  1%: on a machine
 * the target keeps busy every cycle the sampler takes is one the target
 * loses, and 2% of a core cost the echo benchmark 1-2% of its throughput
 * (bench/RESULTS.md). */
#define PROF_CPU_SHARE 0.01
#define PROF_MIN_RATE 5.0

typedef struct prof_args {
	uint64_t duration_ns;
	double rate;
	int format;
	const char *out;
	int duration_set, rate_set;
} prof_args;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Our own options (cli_take_own). */
static const char *const prof_names[] = {"--duration", "--rate", "--format", "--output", "-o"};
const cli_own cli_profile_own = {prof_names, sizeof prof_names / sizeof prof_names[0]};

static int take_arg(const cli_cmd *cmd, void *ctx, size_t k, const char *v)
{
	prof_args *a = ctx;

	switch (k) {
	case 0:
		if (tt_diag_parse_duration(v, &a->duration_ns) || !a->duration_ns)
			return cli_usage(cmd,
					 "--duration: '%s' is not a duration (like 500ms, 10s)", v);
		a->duration_set = 1;
		break;
	case 1: {
		char *end;
		errno = 0;
		a->rate = strtod(v, &end);
		if (errno || end == v || *end || !(a->rate >= 0.1 && a->rate <= 10000))
			return cli_usage(cmd, "--rate: '%s' is not a rate in Hz (0.1 to 10000)", v);
		a->rate_set = 1;
		break;
	}
	case 2:
		if (!strcmp(v, "folded"))
			a->format = PROF_FOLDED;
		else if (!strcmp(v, "speedscope"))
			a->format = PROF_SPEEDSCOPE;
		else if (!strcmp(v, "pprof"))
			a->format = PROF_PPROF;
		else
			return cli_usage(cmd, "--format: '%s' is not folded, speedscope or pprof",
					 v);
		break;
	default:
		a->out = v;
	}
	return -1;
}

/* The rate reads costing CPU_NS of our CPU each allow within our share,
 * but no lower than FLOOR unless that would take more than half a core:
 * running tasks are sampled at the read rate, and a registry small enough
 * to read 10 times a second for little is worth it. */
static double affordable_rate(uint64_t cpu_ns, double floor)
{
	if (!cpu_ns)
		return 1e9;
	double share = PROF_CPU_SHARE * 1e9 / (double)cpu_ns, half = 0.5e9 / (double)cpu_ns;
	if (share >= floor)
		return share;
	return floor < half ? floor : half;
}

/* Sample the live target of S until the duration is over (or ^C). */
static int sample_live(cli_session *s, const cli_opts *o, const prof_args *a, prof *p)
{
	uint64_t period = (uint64_t)(1e9 / a->rate), start = clock_ns(CLOCK_MONOTONIC);
	uint64_t end = start + a->duration_ns, prev = 0, next = start;
	uint64_t cpu_avg = 0, lowered_at = 0;
	char err[256];
	int last = 0;

	tt_snapshot *snap = NULL;
	int ret = 0;

	p->rate_used_hz = a->rate;
	for (uint64_t n = 0; !interrupted; n++) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC), cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		/* One snapshot brought up to date each sample: a task whose
		 * slot held still since the last costs a hash, not a walk of
		 * its chain (the watchdog's rounds do the same). */
		err[0] = '\0';
		int rc = snap ? tt_snapshot_update(snap, s->target.mem, err, sizeof(err))
			      : tt_snapshot_read(s->target.mem, s->target.root.addr, NULL, &snap,
						 err, sizeof(err));
		if (rc < 0) {
			/* The process exited, or its registry went: what was
			 * sampled so far is the profile. */
			cli_warn(s, "%s: sampling stopped after %llu samples: %s",
				 cli_target_name(s), (unsigned long long)p->nsamples,
				 err[0] ? err : tt_strerror(rc));
			break;
		}
		tt_snapshot_set_target(snap, (uint64_t)s->target.pid);
		/* The first read tells where each task is; every later one
		 * counts the time since the one before. */
		if (prof_add_read(p, snap, o, n ? prev : now, now)) {
			ret = -1;
			break;
		}
		prev = now;
		if (last)
			break;
		uint64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
		/* The first read walks every chain; the rest read what moved:
		 * it says nothing of what reads cost from then on. */
		if (!n)
			cpu = 0;
		/* Up at once, down slowly: the budget holds from the first
		 * sample on, and one cheap sample does not undo it. */
		cpu_avg = n && cpu < cpu_avg ? (cpu_avg * 7 + cpu) / 8 : cpu;
		double afford =
		    affordable_rate(cpu_avg, a->rate < PROF_MIN_RATE ? a->rate : PROF_MIN_RATE);
		if (afford < p->rate_used_hz * 0.9 ||
		    (lowered_at && afford > p->rate_used_hz * 1.2)) {
			double r = afford < a->rate ? afford : a->rate;
			if (r < 0.1)
				r = 0.1;
			p->rate_used_hz = r;
			period = (uint64_t)(1e9 / r);
			lowered_at = n + 1;
		}
		next += period;
		if (next < clock_ns(CLOCK_MONOTONIC))
			next = clock_ns(CLOCK_MONOTONIC); /* behind: no burst to catch up */
		if (next >= end) {
			/* One read at the end: the last interval counts too. */
			next = end;
			last = 1;
		}
		struct timespec ts = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
		       !interrupted)
			;
	}
	p->duration_ns = clock_ns(CLOCK_MONOTONIC) - start;
	if (p->rate_used_hz < a->rate * 0.95)
		snprintf(p->note, sizeof(p->note),
			 "read the registry at %.1f Hz, not %.1f Hz: a read of %llu tasks costs "
			 "%.1f ms of CPU, %.1f%% of a core at that rate (the sampler aims at "
			 "%.0f%%); waits are timed by their stamps, running tasks sampled at that "
			 "rate",
			 p->rate_used_hz, a->rate, (unsigned long long)p->nseen,
			 (double)cpu_avg / 1e6, (double)cpu_avg * p->rate_used_hz / 1e7,
			 PROF_CPU_SHARE * 100);
	tt_snapshot_free(snap);
	return ret;
}

static void summary(const cli_session *s, const prof *p)
{
	if (p->note[0])
		fprintf(stderr, "tasktrace: profile: %s\n", p->note);
	if (p->bad_records)
		fprintf(
		    stderr,
		    "tasktrace: profile: %llu task records were torn or inconsistent when read and "
		    "are left out\n",
		    (unsigned long long)p->bad_records);
	if (p->broken_chains)
		fprintf(stderr,
			"tasktrace: profile: %llu task reads had an await chain that could not be "
			"followed and are left out\n",
			(unsigned long long)p->broken_chains);
	if (p->no_age)
		fprintf(stderr,
			"tasktrace: profile: %llu tasks of %s have no known wait age and weigh 0\n",
			(unsigned long long)p->no_age, cli_target_name(s));
}

/* FILE for writing, checked before any reading (a profile with nowhere
 * to go is not taken) but not truncated yet: a target that cannot be read
 * leaves an existing file as it was, and no new one.  *CREATED: it is
 * new. */
static FILE *out_open(const char *path, int *created)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);

	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = open(path, O_WRONLY | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f && fd >= 0)
		close(fd);
	return f;
}

static void out_drop(FILE *f, const char *path, int created)
{
	if (f == stdout)
		return;
	fclose(f);
	if (created)
		unlink(path);
}

static int profile_run(const cli_cmd *cmd, int argc, char **argv)
{
	prof_args a = {PROF_DEFAULT_DURATION_NS, PROF_DEFAULT_RATE, PROF_FOLDED, NULL, 0, 0};
	cli_opts o;
	cli_session s;
	const char *target;
	prof p;
	int rc;

	if ((rc = cli_take_own(cmd, &argc, argv, prof_names,
			       sizeof prof_names / sizeof prof_names[0], take_arg, &a)) >= 0)
		return rc;
	if ((rc = cli_parse_single_target(cmd, argc, argv, &o, &target)) >= 0)
		return rc;
	if (o.json)
		return cli_usage(cmd, "--json: use --format speedscope for JSON");
	int live = cli_is_pid(target);
	if (!live && (a.duration_set || a.rate_set))
		return cli_usage(cmd, "--duration and --rate are for a live process; a core is "
				      "one snapshot");
	FILE *f = stdout;
	int created = 0;
	if (a.out && strcmp(a.out, "-")) {
		if (!(f = out_open(a.out, &created))) {
			fprintf(stderr, "tasktrace: %s: %s\n", a.out, strerror(errno));
			return EXIT_TARGET;
		}
	} else if (a.format == PROF_PPROF && isatty(STDOUT_FILENO)) {
		return cli_usage(cmd, "pprof's format is binary: give -o FILE");
	}
	/* A profile watches the process run: it is never stopped, and every
	 * snapshot is taken (and its cost measured) by the sampling loop. */
	o.nonblocking = 1;
	o.no_snapshot = live;
	if ((rc = cli_open_target(&s, &o, target)) != EXIT_OK) {
		out_drop(f, a.out, created);
		return rc;
	}
	memset(&p, 0, sizeof(p));
	p.target = cli_target_name(&s);
	p.rate_hz = a.rate;
	p.start_real_ns = clock_ns(CLOCK_REALTIME);
	if (live) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sigint;
		sigaction(SIGINT, &sa, NULL);
		p.period_ns = (uint64_t)(1e9 / a.rate);
		rc = sample_live(&s, &o, &a, &p);
		signal(SIGINT, SIG_DFL);
	} else {
		rc = prof_add_snapshot(&p, s.snap, &o, s.now_ns);
	}
	if (rc) {
		fprintf(stderr, "tasktrace: %s: out of memory\n", cli_target_name(&s));
		out_drop(f, a.out, created);
		rc = EXIT_TARGET;
	} else {
		summary(&s, &p);
		errno = 0;
		if (f != stdout && ftruncate(fileno(f), 0))
			rc = -1;
		else
			rc = a.format == PROF_FOLDED	   ? prof_write_folded(&p, f)
			     : a.format == PROF_SPEEDSCOPE ? prof_write_speedscope(&p, f)
							   : prof_write_pprof(&p, f);
		if ((f != stdout ? fclose(f) : fflush(f)) || rc) {
			fprintf(stderr, "tasktrace: %s: %s\n", a.out ? a.out : "stdout",
				strerror(errno ? errno : EIO));
			rc = EXIT_TARGET;
		}
	}
	prof_free(&p);
	cli_close(&s);
	return rc;
}

const cli_cmd cmd_profile = {
    "profile",
    "a wait profile of the tasks, for flame graphs, speedscope or pprof",
    "Usage: tasktrace profile [OPTIONS] TARGET\n"
    "\n"
    "Sample the tasks of TARGET, a live pid, without stopping it, and add up\n"
    "where each task waits: its await chain (root function ... leaf, then its\n"
    "wait kind or state in brackets: [notify], [runnable], [running]).  A wait\n"
    "weighs the time its stamps say it lasted; a running or runnable task the\n"
    "time between two reads of the registry.  For a core file, one snapshot,\n"
    "each task weighted by how long it has been waiting.\n"
    "\n"
    "      --duration D   sample for D (default 5s; ^C ends it early)\n"
    "      --rate HZ      reads of the registry a second (default 99).  Reads\n"
    "                     that would cost more than 1% of a core at this rate\n"
    "                     lower it (to 5 Hz at least, within half a core), and\n"
    "                     the profile says so: waits keep their weights, running\n"
    "                     tasks are sampled less often\n"
    "      --format F     folded (default: Brendan Gregg's folded stacks, in\n"
    "                     microseconds of task time), speedscope (JSON for\n"
    "                     speedscope.app), pprof (gzipped profile.proto for\n"
    "                     go tool pprof; task labels become pprof labels)\n"
    "  -o, --output FILE  write there (default: standard output)\n"
    "  -a, --all          include the runtime's own (system) tasks\n"
    "      --exe FILE     the executable of a core (default: from the core)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Torn task records (a task that moved while read) are left out, never\n"
    "counted, and their number said on stderr.\n"
    "\n"
    "Exit status: 0 ok, 1 I/O error, 2 usage error, 3-11 the target could not\n"
    "be read (see docs/cli.md).\n",
    profile_run,
    0,
};
