/* A session on one live target: find its root, snapshot it, and fix the
 * clock that wait ages are measured against. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* The CLOCK_MONOTONIC offset of PID's time namespace in ns (0 outside
 * one, or when the kernel has no time namespaces). */
static int64_t timens_monotonic(const char *pid)
{
	char path[64], line[128];
	long long sec, nsec;
	int64_t off = 0;

	snprintf(path, sizeof(path), "/proc/%s/timens_offsets", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "monotonic %lld %lld", &sec, &nsec) == 2)
			off = (int64_t)sec * 1000000000 + nsec;
	}
	fclose(f);
	return off;
}

/* Workers refresh the registry's now stamp only while they run, so in a
 * hung process it is stale; a live target shares our monotonic clock
 * (shifted by time namespaces), which is the better "now". */
static uint64_t live_now(pid_t pid, uint64_t registry_now)
{
	struct timespec ts;
	char p[16];

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return registry_now;
	snprintf(p, sizeof(p), "%d", (int)pid);
	int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec -
		      timens_monotonic("self") + timens_monotonic(p);
	if (now < 0 || (uint64_t)now < registry_now)
		return registry_now;
	return (uint64_t)now;
}

int cli_open(cli_session *s, pid_t pid)
{
	char err[256] = "";

	memset(s, 0, sizeof(*s));
	if (tt_target_open_pid(&s->target, pid) != TT_T_OK) {
		fprintf(stderr, "tasktrace: %s\n", s->target.err);
		tt_target_close(&s->target);
		return EXIT_TARGET;
	}
	int rc = tt_snapshot_read(s->target.mem, s->target.root.addr, NULL,
				  &s->snap, err, sizeof(err));
	if (rc != TT_R_OK) {
		fprintf(stderr, "tasktrace: pid %d: cannot read the registry at 0x%" PRIx64 ": %s\n",
			(int)pid, s->target.root.addr,
			err[0] ? err : tt_reader_strerror(rc));
		tt_target_close(&s->target);
		return EXIT_TARGET;
	}
	s->now_ns = live_now(pid, s->snap->now_ns);
	return EXIT_OK;
}

void cli_close(cli_session *s)
{
	if (s->snap)
		tt_snapshot_free(s->snap);
	s->snap = NULL;
	tt_target_close(&s->target);
}

void cli_line(const tt_fbuf *b)
{
	fputs(b->p, stdout);
	fputc('\n', stdout);
}
