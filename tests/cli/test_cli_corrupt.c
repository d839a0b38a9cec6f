/* Seeded random damage to a live registry, read by the real CLI: each seed
 * starts samples/many_tasks, writes a few random values into its root,
 * chunk array, chunk records, task slots, frames and worker records
 * through /proc/PID/mem, and runs every command (ps, bt, tree, hung; text
 * and --json; a --nonblocking read too) on the live process and, every
 * CORE_EVERY seeds, on its core.  Whatever the registry holds, each run
 * ends within RUN_LIMIT with an exit code docs/cli.md lists, no signal and
 * no sanitizer report, its output UTF-8 and its JSON one document, and the
 * live target is never held stopped longer than the stop budget (watched
 * while the command runs) nor left stopped after it.
 *
 * TT_CORRUPT_SEED=S runs seed S alone (a failure names its seed and the
 * values it wrote; the samples run without address randomization, so the
 * addresses written are the same again); TT_CORRUPT_SEEDS=N runs N seeds,
 * from TT_CORRUPT_FIRST (1). */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tasktrace/read/reader.h"

#include "cli_util.h"
#include "../utf8_strict.h"

#define NTASKS 40
#define SEEDS 40		    /* divided by TT_TEST_SCALE, at least 4 */
#define CORE_EVERY 4		    /* a core of every 4th seed */
#define RUN_LIMIT_NS 20000000000ull /* per run, times TT_TEST_SCALE */
#define BUDGET_NS 1000000000ull	    /* the CLI's default --stop-budget */
#define STOP_SLACK_NS                                                              \
	1000000000ull /* resuming, sampling, a loaded machine; times TT_TEST_SCALE \
		       */
#define MAX_FRAMES 64

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned scale(void)
{
	const char *s = getenv("TT_TEST_SCALE");

	return s && atoi(s) > 0 ? (unsigned)atoi(s) : 1;
}

/* ---- what the registry of the live sample is made of ---- */

typedef struct layout {
	tt_reader r;
	uint64_t root, chunks;
	uint32_t nchunks;
	tt_reader_chunk chunk[8];
	uint64_t slots[NTASKS + 8];
	size_t nslots;
	uint64_t frames[(NTASKS + 8) * 4];
	size_t nframes;
	uint64_t workers;
	uint32_t nworkers;
} layout;

static void learn(layout *l, const sample *s)
{
	tt_mem_pid mp;
	tt_mem mem;
	tt_task_iter it;
	tt_rtask t;
	tt_rframe fr[MAX_FRAMES];
	size_t n;
	int rc;

	memset(l, 0, sizeof(*l));
	ck_assert_int_eq(tt_mem_pid_open(&mp, s->pid, &mem), 0);
	ck_assert_int_eq(tt_reader_open(&l->r, mem, s->registry, NULL), TT_R_OK);
	l->root = s->registry;
	l->chunks = tt_reader_root_u64(&l->r, TT_ROOT_CHUNKS);
	ck_assert_int_eq(tt_reader_chunk_count(&l->r, &l->nchunks), TT_R_OK);
	for (uint32_t i = 0, total = 0; i < l->nchunks && i < 8; i++) {
		ck_assert_int_eq(tt_reader_chunk_get(&l->r, i, total, &l->chunk[i]), TT_R_OK);
		total += (uint32_t)l->chunk[i].count;
	}
	tt_task_iter_init(&l->r, &it);
	while ((rc = tt_task_iter_next(&l->r, &it, &t)) != 0) {
		ck_assert_int_eq(rc, 1);
		if (l->nslots < sizeof(l->slots) / sizeof(l->slots[0]))
			l->slots[l->nslots++] = t.slot_addr;
		if (tt_reader_walk_frames(&l->r, t.root_frame, fr, MAX_FRAMES, &n) != TT_R_OK)
			continue;
		for (size_t i = 0; i < n && l->nframes < sizeof(l->frames) / sizeof(l->frames[0]);
		     i++)
			l->frames[l->nframes++] = fr[i].addr;
	}
	ck_assert_uint_ge(l->nslots, NTASKS);
	ck_assert_uint_ge(l->nframes, NTASKS);
	l->workers = tt_reader_root_u64(&l->r, TT_ROOT_WORKERS);
	l->nworkers = (uint32_t)tt_reader_root_u64(&l->r, TT_ROOT_WORKER_COUNT);
	tt_mem_pid_close(&mp);
}

/* ---- random damage ---- */

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t pick(const uint64_t *v, size_t n)
{
	return n ? v[rnd() % n] : 0;
}

/* A value a damaged registry might hold: junk, a boundary, a count that
 * is wrong but not absurd (the readers' caps do not stop it), or the
 * address of another record (the slot array mis-described, a chain that
 * loops). */
static uint64_t junk(const layout *l, uint64_t old)
{
	switch (rnd() % 14) {
	case 0:
		return 0;
	case 1:
		return ~0ull;
	case 2:
		return rnd();
	case 3:
		return rnd() % 1024;
	case 4:
		return (1ull << 26) - 1;
	case 5:
		return (1ull << (8 + rnd() % 19)) - rnd() % 2;
	case 6:
		return old ^ (1ull << (rnd() % 64));
	case 7:
		return old + 1; /* misaligned, off by one */
	case 8:
		return l->root;
	case 9:
		return pick(l->slots, l->nslots);
	case 10:
		return pick(l->frames, l->nframes);
	case 11:
		return l->chunk[rnd() % (l->nchunks ? l->nchunks : 1)].addr;
	case 12:
		return old * (2 + rnd() % 1000);
	default:
		return old + (rnd() % 2 ? 8 : -8ull) * (1 + rnd() % 64);
	}
}

typedef struct damage {
	char log[1024]; /* what was written, for the failure message */
	size_t len;
} damage;

static uint64_t peek(pid_t pid, uint64_t addr, unsigned size)
{
	char path[64];
	uint64_t old = 0;

	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &old, size, (off_t)addr), size);
	close(fd);
	return old;
}

static void poke(pid_t pid, uint64_t addr, unsigned size, uint64_t value, damage *d,
		 const char *what)
{
	char path[64];
	uint64_t old = peek(pid, addr, size);

	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, &value, size, (off_t)addr), size);
	close(fd);
	if (d->len < sizeof(d->log))
		d->len += (size_t)snprintf(d->log + d->len, sizeof(d->log) - d->len,
					   "  %s at %#llx: %#llx -> %#llx\n", what,
					   (unsigned long long)addr, (unsigned long long)old,
					   (unsigned long long)value);
}

/* Field FIELD of a record (by the registry's own layout; -1: a random
 * one), or now and then a random byte of it. */
static void hit(pid_t pid, const layout *l, uint64_t rec, int record, const tt_field *f,
		int nfields, int field, const char *what, damage *d)
{
	char name[64];
	tt_field fl = f[field >= 0 ? field : 1 + (int)(rnd() % (uint64_t)(nfields - 1))];
	uint32_t size = l->r.record_size[record];

	if (!fl.size || rnd() % 5 == 0) {
		fl.offset = (uint16_t)(size ? rnd() % size : 0);
		fl.size = 1;
	}
	snprintf(name, sizeof name, "%s+%u/%u", what, fl.offset, fl.size);
	if (fl.size == 1) {
		poke(pid, rec + fl.offset, 1, rnd() & 0xff, d, name);
	} else {
		unsigned n = fl.size > 8 ? 8 : fl.size;
		uint64_t mask = n == 8 ? ~0ull : (1ull << 8 * n) - 1;
		poke(pid, rec + fl.offset, n, junk(l, peek(pid, rec + fl.offset, n)) & mask, d,
		     name);
	}
}

#define PICK(...) \
	((const int[]){__VA_ARGS__})[rnd() % (sizeof((const int[]){__VA_ARGS__}) / sizeof(int))]

/* Damage of kind K: the first kind of each seed goes round them all, so
 * a few seeds already cover every kind. */
static void damage_one(pid_t pid, const layout *l, unsigned k, damage *d)
{
	uint64_t chunk = l->chunk[rnd() % l->nchunks].addr;
	uint64_t worker = l->workers + (rnd() % (l->nworkers ? l->nworkers : 1)) *
					   l->r.record_size[TT_REC_WORKER];

	switch (k % 9) {
	case 0: /* the counts the readers bound their loops by */
		hit(pid, l, l->root, TT_REC_ROOT, l->r.f_root, TT_ROOT_MAX_,
		    PICK(TT_ROOT_CHUNK_COUNT, TT_ROOT_CHUNK_CAPACITY, TT_ROOT_WORKER_COUNT,
			 TT_ROOT_WORKER_CAPACITY, TT_ROOT_TASKS_LIVE, TT_ROOT_NEXT_TASK_ID),
		    "root", d);
		break;
	case 1: /* its pointers, any field, the header and the layout table */
		if (rnd() % 2)
			hit(pid, l, l->root, TT_REC_ROOT, l->r.f_root, TT_ROOT_MAX_,
			    PICK(TT_ROOT_CHUNKS, TT_ROOT_WORKERS, TT_ROOT_RUNTIME_NAME), "root", d);
		else
			poke(pid, l->root + rnd() % l->r.record_size[TT_REC_ROOT], 1, rnd() & 0xff,
			     d, "root byte");
		break;
	case 2:
		poke(pid, l->chunks + 8 * (rnd() % (l->nchunks + 1)), 8, junk(l, chunk), d,
		     "chunk pointer");
		break;
	case 3:
		hit(pid, l, chunk, TT_REC_CHUNK, l->r.f_chunk, TT_CHUNK_MAX_, TT_CHUNK_SLOT_COUNT,
		    "chunk", d);
		break;
	case 4:
		hit(pid, l, chunk, TT_REC_CHUNK, l->r.f_chunk, TT_CHUNK_MAX_, -1, "chunk", d);
		break;
	case 5:
		hit(pid, l, pick(l->slots, l->nslots), TT_REC_TASK, l->r.f_task, TT_TASK_MAX_,
		    PICK(-1, TT_TASK_ID, TT_TASK_SEQ, TT_TASK_STATE, TT_TASK_NAME,
			 TT_TASK_PARENT_ID, TT_TASK_ROOT_FRAME, TT_TASK_WORKER),
		    "slot", d);
		break;
	case 6:
		hit(pid, l, pick(l->frames, l->nframes), TT_REC_FRAME, l->r.f_frame, TT_FRAME_MAX_,
		    -1, "frame", d);
		break;
	case 7: /* a wait (the leaf frames hold one) */
		hit(pid, l, pick(l->frames, l->nframes), TT_REC_WAIT, l->r.f_wait, TT_WAIT_MAX_, -1,
		    "wait", d);
		break;
	default:
		if (l->workers && l->nworkers)
			hit(pid, l, worker, TT_REC_WORKER, l->r.f_worker, TT_WORKER_MAX_, -1,
			    "worker", d);
		break;
	}
}

static void corrupt(pid_t pid, const layout *l, unsigned seed, damage *d)
{
	unsigned n = rnd() % 4;

	damage_one(pid, l, seed, d);
	for (unsigned k = 0; k < n; k++)
		damage_one(pid, l, (unsigned)rnd(), d);
}

/* ---- one run, watched ---- */

/* How many threads of PID are in a stop ('t' traced, 'T' stopped). */
static int stopped_threads(pid_t pid)
{
	char path[320], buf[512];
	int n = 0;

	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *dir = opendir(path);
	if (!dir)
		return 0;
	for (struct dirent *e; (e = readdir(dir));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/%d/task/%s/stat", (int)pid, e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = 0;
		const char *p = strrchr(buf, ')');
		if (p && p[1] == ' ' && (p[2] == 't' || p[2] == 'T'))
			n++;
	}
	closedir(dir);
	return n;
}

typedef struct watched {
	run r;
	uint64_t took, longest_stop;
	int killed;
} watched;

/* Run tasktrace ARGS; TARGET (0: none) is sampled while it runs for the
 * longest time any of its threads stayed stopped. */
static watched run_watched(char **args, pid_t target)
{
	watched w = {{0, NULL, NULL}, 0, 0, 0};
	char *argv[16];
	int n = 0;

	argv[n++] = (char *)"tasktrace";
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	FILE *out = tmpfile(), *err = tmpfile();
	ck_assert(out && err);
	uint64_t t0 = now_ns(), stop_since = 0, limit = RUN_LIMIT_NS * scale();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fileno(out), 1);
		dup2(fileno(err), 2);
		execv(getenv("TT_TASKTRACE"), argv);
		_exit(127);
	}
	int st;
	for (;;) {
		pid_t got = waitpid(pid, &st, WNOHANG);
		ck_assert_int_ge(got, 0);
		if (got == pid)
			break;
		uint64_t t = now_ns();
		if (target && stopped_threads(target)) {
			if (!stop_since)
				stop_since = t;
			if (t - stop_since > w.longest_stop)
				w.longest_stop = t - stop_since;
		} else {
			stop_since = 0;
		}
		if (t - t0 > limit && !w.killed) {
			kill(pid, SIGKILL); /* the kernel detaches it from the target */
			w.killed = 1;
		}
		usleep(2000);
	}
	w.took = now_ns() - t0;
	w.r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	w.r.out = slurp(out);
	w.r.err = slurp(err);
	return w;
}

/* ---- what every run must give ---- */

/* The exit codes of docs/cli.md's EXIT STATUS table. */
static int documented[256];

static void read_exit_codes(void)
{
	char path[512], line[512];
	int in = 0, n = 0;

	snprintf(path, sizeof path, "%s/docs/cli.md", getenv("TT_SOURCE_ROOT"));
	FILE *f = fopen(path, "r");
	ck_assert_msg(f, "cannot open %s", path);
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#')
			in = strstr(line, "EXIT STATUS") != NULL;
		int code;
		if (in && sscanf(line, "| %d |", &code) == 1 && code >= 0 && code < 256)
			documented[code] = 1, n++;
	}
	fclose(f);
	ck_assert_int_ge(n, 5);
}

/* FULL: assert_json's every check too (a program each: not for every run). */
static void check_run(const watched *w, char **args, unsigned seed, const damage *d, int full)
{
	char cmd[256] = "";
	int json = 0;

	for (int i = 0; args[i]; i++) {
		strncat(cmd, " ", sizeof(cmd) - strlen(cmd) - 1);
		strncat(cmd, args[i], sizeof(cmd) - strlen(cmd) - 1);
		json |= strcmp(args[i], "--json") == 0;
	}
#define FAIL_IF(cond, ...)                                                                    \
	ck_assert_msg(!(cond), "seed %u (TT_CORRUPT_SEED=%u), tasktrace%s: %s\nwritten:\n%s", \
		      seed, seed, cmd, (__VA_ARGS__), d->log)
	char why[2048];
	snprintf(why, sizeof why, "killed after %.1fs", w->took / 1e9);
	FAIL_IF(w->killed, why);
	snprintf(why, sizeof why, "exit %d, not one docs/cli.md lists; stderr:\n%.1500s",
		 w->r.status, w->r.err);
	FAIL_IF(w->r.status >= 256 || !documented[w->r.status], why);
	FAIL_IF(strstr(w->r.err, "Sanitizer") || strstr(w->r.err, "runtime error:"), w->r.err);
	FAIL_IF(!utf8_ok(w->r.out), "stdout is not UTF-8");
	FAIL_IF(!utf8_ok(w->r.err), "stderr is not UTF-8");
	snprintf(why, sizeof why, "held the target stopped %.2fs (budget %.1fs)",
		 w->longest_stop / 1e9, BUDGET_NS / 1e9);
	FAIL_IF(w->longest_stop > BUDGET_NS + STOP_SLACK_NS * scale(), why);
	if (json && (w->r.out[0] || w->r.status == 0 || w->r.status == 20)) {
		snprintf(why, sizeof why, "not one JSON document:\n%.1500s", w->r.out);
		FAIL_IF(!json_parses(w->r.out), why);
		if (full)
			assert_json(w->r.out);
	}
#undef FAIL_IF
}

/* Every thread of the target, not only the one /proc/PID/status shows. */
static void left_running(pid_t live, unsigned seed, const damage *d)
{
	assert_running(live);
	ck_assert_msg(
	    stopped_threads(live) == 0,
	    "seed %u (TT_CORRUPT_SEED=%u): %d threads of pid %d left stopped\nwritten:\n%s", seed,
	    seed, stopped_threads(live), (int)live, d->log);
}

/* A registry the readers cannot use (exit 3 to 11) is so for every
 * command: ps once printed "No tasks." where bt gave up with exit 9. */
static int registry_error(int status)
{
	return status >= 3 && status <= 11;
}

static void run_all(const char *target, pid_t live, unsigned seed, const damage *d)
{
	static const char *cmds[] = {"ps", "bt", "tree", "hung"};
	int status[8];
	char said[8][256];

	for (size_t c = 0; c < 4; c++) {
		for (int json = 0; json < 2; json++) {
			char *args[] = {(char *)cmds[c], (char *)(json ? "--json" : "-a"),
					(char *)target, NULL};
			watched w = run_watched(args, live);
			check_run(&w, args, seed, d, json && c == seed % 4);
			status[2 * c + json] = w.r.status;
			snprintf(said[2 * c + json], sizeof said[0], "%s%s: exit %d: %.200s",
				 cmds[c], json ? " --json" : "", w.r.status, w.r.err);
			run_free(&w.r);
			if (live)
				left_running(live, seed, d);
		}
	}
	for (int i = 1; i < 8; i++)
		ck_assert_msg(
		    status[i] == status[0] ||
			!(registry_error(status[i]) || registry_error(status[0])),
		    "seed %u (TT_CORRUPT_SEED=%u), %s: commands disagree on the registry:\n%s\n%s\n"
		    "written:\n%s",
		    seed, seed, target, said[0], said[i], d->log);
	if (live) {
		char *args[] = {(char *)(seed % 2 ? "ps" : "bt"), (char *)"--nonblocking",
				(char *)(seed % 4 < 2 ? "--json" : "-a"), (char *)target, NULL};
		watched w = run_watched(args, live);
		check_run(&w, args, seed, d, 0);
		run_free(&w.r);
		left_running(live, seed, d);
	}
}

static void one_seed(unsigned seed)
{
	sample s;
	layout *l = malloc(sizeof(*l));
	damage d = {"", 0};
	char pid_s[16];

	ck_assert_ptr_nonnull(l);
	rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed * 0x100000001b3ull);
	rnd();
	sample_start(&s, "many_tasks", "40");
	snprintf(pid_s, sizeof pid_s, "%d", (int)s.pid);
	learn(l, &s);
	corrupt(s.pid, l, seed, &d);
	run_all(pid_s, s.pid, seed, &d);
	if (seed % CORE_EVERY == 0) {
		char tag[32];
		snprintf(tag, sizeof tag, "corrupt-%u", seed);
		char *core = make_core(s.pid, tag);
		if (core) {
			run_all(core, 0, seed, &d);
			unlink(core);
			free(core);
		}
	}
	/* The damage may have killed the target itself (the runtime follows
	 * its own pointers); the readers were checked all the same. */
	sample_stop(&s);
	free(l);
}

START_TEST(random_damage)
{
	const char *one = getenv("TT_CORRUPT_SEED");
	const char *many = getenv("TT_CORRUPT_SEEDS");
	const char *first = getenv("TT_CORRUPT_FIRST");
	unsigned n = SEEDS / scale(), from = first ? (unsigned)atoi(first) : 1;

	read_exit_codes();
	if (one) {
		one_seed((unsigned)atoi(one));
		return;
	}
	if (many)
		n = (unsigned)atoi(many);
	if (n < 4)
		n = 4;
	for (unsigned seed = from; seed < from + n; seed++)
		one_seed(seed);
}
END_TEST

int main(void)
{
	/* The samples (and their cores) without address randomization: the
	 * values a seed writes that are addresses are then the same from run
	 * to run, and a seed reproduces. */
	int persona = personality(0xffffffff);
	if (persona != -1)
		personality((unsigned long)persona | ADDR_NO_RANDOMIZE);

	Suite *s = suite_create("cli-corrupt");
	TCase *tc = tcase_create("corrupt");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, random_damage);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
