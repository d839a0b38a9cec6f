/* The "now" a target's stamps are aged against (reader.h): the CLI and
 * gdb's plugin (through ctypes) take it the same way, so both print the
 * same ages. */
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "tasktrace/read/reader.h"

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
uint64_t tt_live_now(pid_t pid, uint64_t registry_now)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return registry_now;
	return tt_live_now_at(pid, registry_now,
			      (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

uint64_t tt_live_now_at(pid_t pid, uint64_t registry_now, uint64_t local_mono_ns)
{
	char p[16];

	snprintf(p, sizeof(p), "%d", (int)pid);
	int64_t now = (int64_t)local_mono_ns - timens_monotonic("self") + timens_monotonic(p);
	if (now < 0 || (uint64_t)now < registry_now)
		return registry_now;
	return (uint64_t)now;
}

/* A core has no clock to ask; its registry's stamp is as stale as the
 * process was idle.  The file's mtime is when it was written (gcore, the
 * kernel), in wall-clock time: shifted onto the monotonic clock through
 * the registry's pair of start stamps, it is the better "now". */
uint64_t tt_core_now(const char *core, uint64_t reg_now, uint64_t start_mono,
		     uint64_t start_real)
{
	struct stat st;

	if (stat(core, &st) != 0 || !start_real || !start_mono)
		return reg_now;
	uint64_t real = (uint64_t)st.st_mtim.tv_sec * 1000000000u +
			(uint64_t)st.st_mtim.tv_nsec;
	if (real < start_real)
		return reg_now;
	uint64_t now = start_mono + (real - start_real);
	return now > reg_now ? now : reg_now;
}
