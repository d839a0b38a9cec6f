/* The tasktrace CLI on cores made with gdb's gcore next to the live
 * processes they came from, running tasks unwound (samples/blocking),
 * every kind of bad input, and `symbolize` against llvm-symbolizer. */
#include <check.h>
#include <elf.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"

static sample hung, blocking;
static char *hung_core, *blocking_core;
static char hung_pid[16], blocking_pid[16];

static void start_samples(void)
{
	sample_start(&hung, "hung", NULL);
	sample_start(&blocking, "blocking", NULL);
	snprintf(hung_pid, sizeof hung_pid, "%d", (int)hung.pid);
	snprintf(blocking_pid, sizeof blocking_pid, "%d", (int)blocking.pid);
}

/* The cores of both samples too: for the "unsanitized" cases (gcore of an
 * ASan process would dump its shadow memory). */
static void start_samples_and_cores(void)
{
	start_samples();
	hung_core = make_core(hung.pid, "hung");
	blocking_core = make_core(blocking.pid, "blocking");
	ck_assert_msg(hung_core && blocking_core, "no cores of the samples");
}

static void stop_samples(void)
{
	sample_stop(&hung);
	sample_stop(&blocking);
	if (hung_core)
		unlink(hung_core);
	if (blocking_core)
		unlink(blocking_core);
	free(hung_core);
	free(blocking_core);
	hung_core = blocking_core = NULL;
}

/* ps text with durations ("825ms", "59m58s") replaced by D and runs of
 * spaces by one: live and core outputs differ only in those. */
static char *ps_normalized(const char *target)
{
	regex_t re;
	ck_assert_int_eq(regcomp(&re, "^[0-9.]+(ns|us|ms|s|m|h)([0-9]+(s|m))?$",
				 REG_EXTENDED | REG_NOSUB), 0);
	run r = tasktrace("ps", target, NULL);
	ck_assert_msg(r.status == 0, "ps %s: exit %d: %s", target, r.status, r.err);
	char *out = calloc(1, strlen(r.out) + 1), *w = out, *save = NULL;
	for (char *line = strtok_r(r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *s2 = NULL;
		for (char *tok = strtok_r(line, " ", &s2); tok; tok = strtok_r(NULL, " ", &s2))
			w += sprintf(w, "%s ", regexec(&re, tok, 0, NULL, 0) == 0 ? "D" : tok);
		*w++ = '\n';
	}
	regfree(&re);
	run_free(&r);
	return out;
}

START_TEST(core_ps_matches_live)
{
	char *live = ps_normalized(hung_pid);
	char *core = ps_normalized(hung_core);
	ck_assert_msg(strcmp(live, core) == 0, "live:\n%s\ncore:\n%s", live, core);
	/* Every task of hung with its state and its wait kind. */
	static const char *const rows[][2] = {
		{ "request-42", "notify" }, { "cache-refresh", "timer" },
		{ "supervisor", "join" }, { "job-consumer", "channel recv" },
		{ "result-producer", "channel send" }, { "config-reader", "mutex" },
		{ "pool-user", "semaphore" }, { "auth-client", "oneshot" },
		{ "pipe-reader", "fd read" }, { "batch", "group" },
		{ "dns-lookup", "blocking call" }, { "config-holder", "timer" },
		{ "block_on", "timer" },
	};
	char line[512], name[64];
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		snprintf(name, sizeof name, " %s ", rows[i][0]);
		line_with(core, name, line, sizeof line);
		in_order(line, "idle ", rows[i][1], rows[i][0], NULL);
	}
	free(live);
	free(core);
	assert_running(hung.pid);
}
END_TEST

START_TEST(core_bt_chain_at_await_lines)
{
	run r = tasktrace("bt", hung_core, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	in_order(r.out, "\"request-42\" {request_id=42 route=/users} [notify, ",
		 "\n#0  tt_notified  waits on notify 0x",
		 "\n#1  await_reply () at ", site("reply"),
		 "\n#2  query_db () at ", site("query"),
		 "\n#3  load_user () at ", site("load"),
		 "\n#4  handle_request () at ", site("handle"),
		 "\nspawned by task ", "\"block_on\" at ", NULL);
	in_order(r.out, "\"supervisor\" [join, ", "waits on join of task ",
		 "\"request-42\"", NULL);
	run_free(&r);
}
END_TEST

START_TEST(core_json_validates)
{
	static const char *const cmds[] = { "ps", "bt", "tree" };
	for (int i = 0; i < 3; i++) {
		run r = tasktrace(cmds[i], "--json", "--all", hung_core, NULL);
		ck_assert_msg(r.status == 0, "%s: exit %d: %s", cmds[i], r.status, r.err);
		assert_schema(cmds[i], r.out);
		in_order(r.out, "\"core\":\"", hung_core, "\"stopped\":false", NULL);
		run_free(&r);
		r = tasktrace(cmds[i], "--json", "--all", blocking_core, NULL);
		assert_schema(cmds[i], r.out);
		run_free(&r);
	}
}
END_TEST

static const char *const runtime_frames[] = { "tt_task_poll", "tt_worker_run", "worker_main",
					      "tt_frame_poll", "start_thread", "clone3" };
#define NRUNTIME (sizeof runtime_frames / sizeof runtime_frames[0])

/* bt of cruncher while it is running (it is, but for a few
 * microseconds every 3 s); returns the run. */
static run bt_cruncher(const char *target, const char *opt)
{
	run ps = tasktrace("ps", target, NULL);
	ck_assert_int_eq(ps.status, 0);
	char id[24];
	snprintf(id, sizeof id, "%lu", task_id(ps.out, "cruncher"));
	run_free(&ps);
	for (int i = 0;; i++) {
		char *argv[] = { (char *)"bt", (char *)(opt ? opt : "--all"), (char *)target, id, NULL };
		run r = tasktrace_argv(argv);
		ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
		if (strstr(r.out, "[running on worker ") || i == 20)
			return r;
		run_free(&r);
		usleep(50 * 1000);
	}
}

static void check_pruned(const char *target)
{
	run r = bt_cruncher(target, NULL);
	in_order(r.out, "\"cruncher\" [running on worker ", "\n#0  0x", "sleep", "checksum_disk ()",
		 "samples/blocking.c:", "cruncher_poll ()", "samples/blocking.c:",
		 "\nspawned by task ", NULL);
	for (size_t i = 0; i < NRUNTIME; i++)
		ck_assert_msg(!strstr(r.out, runtime_frames[i]), "%s shown in:\n%s",
			      runtime_frames[i], r.out);
	run_free(&r);

	r = bt_cruncher(target, "--no-prune");
	in_order(r.out, "cruncher_poll ()", "tt_frame_poll ()", "tt_task_poll",
		 "tt_worker_run ()", "worker_main ()", "start_thread ()", "clone3 ()", NULL);
	run_free(&r);

	r = bt_cruncher(target, "--prune=^checksum");
	ck_assert_msg(!strstr(r.out, "checksum_disk") && strstr(r.out, "cruncher_poll"),
		      "%s", r.out);
	run_free(&r);

	r = bt_cruncher(target, "--json");
	assert_schema("bt", r.out);
	in_order(r.out, "\"native\":[", "\"function\":\"checksum_disk\"", "\"inlined\":true",
		 "\"function\":\"cruncher_poll\"", NULL);
	run_free(&r);
}

START_TEST(running_task_pruned_live)
{
	check_pruned(blocking_pid);
	assert_running(blocking.pid);
}
END_TEST

START_TEST(running_task_pruned_core)
{
	check_pruned(blocking_core);
}
END_TEST

START_TEST(nonblocking_reads_without_stopping)
{
	run r = tasktrace("ps", "--nonblocking", "--json", hung_pid, NULL);
	ck_assert_int_eq(r.status, 0);
	assert_schema("ps", r.out);
	in_order(r.out, "\"stopped\":false", "\"name\":\"request-42\"", NULL);
	run_free(&r);
	/* The cruncher spins in its poll: read until it is caught running. */
	int caught = 0;
	for (int i = 0; i < 100 && !caught; i++) {
		r = bt_cruncher(blocking_pid, "--nonblocking");
		if (strstr(r.out, "[running on worker ")) {
			in_order(r.out, "#0  <running on worker ", "(no machine stack: ",
				 "--nonblocking", NULL);
			caught = 1;
		}
		run_free(&r);
	}
	ck_assert_msg(caught, "the cruncher was never read running in 100 tries");
}
END_TEST

/* ---- bad input: one line, its own exit code, the target running ---- */

static void expect_error(int status, const char *needle, const char *a, const char *b,
			 const char *c)
{
	run r = tasktrace(a, b, c, NULL);
	ck_assert_msg(r.status == status, "%s %s %s: exit %d, want %d: %s", a, b, c ? c : "",
		      r.status, status, r.err);
	one_error_line(&r, needle);
	run_free(&r);
}

START_TEST(bad_input)
{
	char path[512], pid[16];

	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	snprintf(pid, sizeof pid, "%d", (int)gone);
	expect_error(3, "no such process", "ps", pid, NULL);
	expect_error(3, "No such file", "bt", "/nonexistent/core", NULL);

	/* Not ELF, and ELF but not a core. */
	snprintf(path, sizeof path, "%s/not-elf.txt", getenv("TT_CORE_DIR"));
	FILE *f = fopen(path, "w");
	fputs("just text\n", f);
	fclose(f);
	expect_error(5, "not an ELF file", "ps", path, NULL);
	unlink(path);
	snprintf(path, sizeof path, "%s/hung", getenv("TT_SAMPLES"));
	expect_error(6, "not a core dump", "ps", path, NULL);

	if (hung_core) {
		/* A truncated core: the first half of a good one. */
		struct stat st;
		ck_assert_int_eq(stat(hung_core, &st), 0);
		snprintf(path, sizeof path, "%s.half", hung_core);
		FILE *in = fopen(hung_core, "r"), *out = fopen(path, "w");
		char *buf = malloc((size_t)st.st_size / 2);
		ck_assert_uint_eq(fread(buf, 1, (size_t)st.st_size / 2, in), (size_t)st.st_size / 2);
		fwrite(buf, 1, (size_t)st.st_size / 2, out);
		fclose(in);
		fclose(out);
		free(buf);
		expect_error(7, "truncated core", "ps", path, NULL);
		unlink(path);

		/* The wrong executable for the core. */
		snprintf(path, sizeof path, "--exe=%s/blocking", getenv("TT_SAMPLES"));
		expect_error(11, "does not match core", "ps", path, hung_core);
	}

	/* Registries that do not decode: bad magic, unknown ABI version. */
	sample fake;
	snprintf(path, sizeof path, "%s/fake_registry", getenv("TT_FIXTURES"));
	sample_start_path(&fake, path, "magic");
	snprintf(pid, sizeof pid, "%d", (int)fake.pid);
	expect_error(9, "bad magic", "ps", pid, NULL);
	assert_running(fake.pid);
	sample_stop(&fake);
	sample_start_path(&fake, path, "version");
	snprintf(pid, sizeof pid, "%d", (int)fake.pid);
	expect_error(10, "registry ABI version 99, this reader supports 1", "bt", pid, NULL);
	assert_running(fake.pid);
	/* ... and a core without a registry (gcore of that one would still
	 * have it: use a plain sleep). */
	sample_stop(&fake);
	pid_t sl = fork();
	if (sl == 0) {
		execlp("sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	wait_comm(sl, "sleep");
	char *core = make_core(sl, "sleep");
	expect_error(8, "does not use tasktrace", "tree", core, NULL);
	unlink(core);
	free(core);
	kill(sl, SIGKILL);
	waitpid(sl, NULL, 0);

	/* Permission denied: as root, drop to nobody; else pid 1. */
	if (getuid() == 0) {
		run_as_uid = 65534;
		run r = tasktrace("ps", hung_pid, NULL);
		run_as_uid = 0;
		ck_assert_msg(r.status == 4, "exit %d: %s", r.status, r.err);
		one_error_line(&r, "permission denied");
		FILE *y = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
		int scope = 0;
		if (y) {
			if (fscanf(y, "%d", &scope) != 1)
				scope = 0;
			fclose(y);
		}
		/* Named exactly when Yama restricts ptrace: either way asserted. */
		if (scope > 0)
			ck_assert_msg(strstr(r.err, "ptrace_scope"), "%s", r.err);
		else
			ck_assert_msg(!strstr(r.err, "ptrace_scope"), "%s", r.err);
		run_free(&r);
	} else {
		expect_error(4, "permission denied", "ps", "1", NULL);
	}
	assert_running(hung.pid);
}
END_TEST

/* ---- cores and the files they name ---- */

/* Copy LEN bytes (all when LEN is 0) of SRC to DST, mode MODE. */
static void copy_file(const char *src, const char *dst, size_t len, mode_t mode)
{
	FILE *in = fopen(src, "r");
	ck_assert_msg(in, "%s", src);
	char *buf = slurp(in);
	struct stat st;
	ck_assert_int_eq(stat(src, &st), 0);
	if (!len)
		len = (size_t)st.st_size;
	FILE *out = fopen(dst, "w");
	ck_assert_msg(out, "%s", dst);
	ck_assert_uint_eq(fwrite(buf, 1, len, out), len);
	fclose(out);
	chmod(dst, mode);
	free(buf);
}

/* A copy of samples/hung under another name, next to the samples (its
 * runpath finds the library there), its core, and the copy moved away:
 * every name the executable holds is then unknown, and tasktrace says
 * so once, with what to do, and still reads the tasks. */
START_TEST(core_without_its_executable)
{
	char sample_path[512], copy[600], away[620], exe_opt[700];
	snprintf(sample_path, sizeof sample_path, "%s/hung", getenv("TT_SAMPLES"));
	snprintf(copy, sizeof copy, "%s/hung-moved-%d", getenv("TT_SAMPLES"), (int)getpid());
	snprintf(away, sizeof away, "%s.away", copy);
	copy_file(sample_path, copy, 0, 0755);
	sample moved;
	sample_start_path(&moved, copy, NULL);
	char *core = make_core(moved.pid, "moved");
	sample_stop(&moved);
	ck_assert_int_eq(rename(copy, away), 0);

	run r = tasktrace("ps", core, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_msg(strstr(r.out, "?? at ??:"), "%s", r.out);
	ck_assert_msg(strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
		      "not one line on stderr:\n%s", r.err);
	in_order(r.err, "tasktrace: warning: core ", "the executable ", copy, "build-id ",
		 "--exe PATH", "DEBUGINFOD_URLS", NULL);
	run_free(&r);

	r = tasktrace("bt", core, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_msg(strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
		      "not one line on stderr:\n%s", r.err);
	in_order(r.err, "the executable ", copy, "--exe", NULL);
	run_free(&r);

	r = tasktrace("ps", "--json", core, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_schema("ps", r.out);
	in_order(r.out, "\"warnings\":[\"core ", "the executable ", copy, "--exe PATH", NULL);
	run_free(&r);
	char core_opt[600];
	snprintf(core_opt, sizeof core_opt, "--core=%s", core);
	r = tasktrace("symbolize", "--json", core_opt, "0x1000", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_schema("symbolize", r.out);
	in_order(r.out, "\"warnings\":[\"core ", "the executable ", copy, NULL);
	in_order(r.err, "tasktrace: warning: core ", "the executable ", copy, NULL);
	run_free(&r);

	/* Given back: the names come back, and nothing is missing. */
	snprintf(exe_opt, sizeof exe_opt, "--exe=%s", away);
	r = tasktrace("ps", exe_opt, core, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_msg(!r.err[0], "stderr: %s", r.err);
	in_order(r.out, "request-42", "await_reply at samples/hung.c:", NULL);
	run_free(&r);
	r = tasktrace("ps", "--json", exe_opt, core, NULL);
	in_order(r.out, "\"warnings\":[]", NULL);
	run_free(&r);

	/* The file the core names is back, without its debug info (the
	 * same build-id): an --exe of that build at another path (the
	 * sample itself) must be the one used, for its lines. */
	ck_assert_int_eq(rename(away, copy), 0);
	char *strip_argv[] = {(char *)"objcopy", (char *)"--strip-debug", copy, NULL};
	run st = run_prog("objcopy", strip_argv);
	ck_assert_msg(st.status == 0, "objcopy: %s", st.err);
	run_free(&st);
	r = tasktrace("bt", "--json", core, NULL);
	const char *p = strstr(r.out, "\"function\":\"await_reply\"");
	ck_assert(p && (p = strstr(p, "\"resume_pc\":\"")));
	char pc[32];
	sscanf(p + 13, "%31[0-9a-fx]", pc);
	run_free(&r);
	r = tasktrace("symbolize", core_opt, pc, NULL);
	ck_assert_msg(r.status == 0 && strstr(r.out, "??:0"), "without --exe: %s%s", r.out, r.err);
	run_free(&r);
	snprintf(exe_opt, sizeof exe_opt, "--exe=%s", sample_path);
	r = tasktrace("symbolize", core_opt, exe_opt, pc, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	in_order(r.out, "\nawait_reply_poll\n", site("reply"), NULL);
	run_free(&r);

	unlink(copy);
	unlink(core);
	free(core);
}
END_TEST

/* The byte offset and size of program header I of the ELF core at PATH. */
static void core_load(const char *path, int i, uint64_t *off, uint64_t *filesz, int *nload)
{
	FILE *f = fopen(path, "r");
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	ck_assert(f && fread(&eh, sizeof eh, 1, f) == 1);
	*nload = 0;
	for (int k = 0; k < eh.e_phnum; k++) {
		fseek(f, (long)(eh.e_phoff + (uint64_t)k * eh.e_phentsize), SEEK_SET);
		ck_assert(fread(&ph, sizeof ph, 1, f) == 1);
		if (ph.p_type != PT_LOAD || !ph.p_filesz)
			continue;
		if ((*nload)++ == i) {
			*off = ph.p_offset;
			*filesz = ph.p_filesz;
		}
	}
	fclose(f);
}

/* A core cut short says so, with its own exit code, wherever it is cut:
 * inside its program headers, or in the middle of its segments. */
START_TEST(truncated_cores)
{
	char path[600];
	snprintf(path, sizeof path, "%s.cut", hung_core);
	copy_file(hung_core, path, 100, 0644);
	expect_error(7, "truncated core", "ps", path, NULL);
	expect_error(7, "truncated core", "bt", path, NULL);

	uint64_t off = 0, size = 0;
	int n = 0;
	core_load(hung_core, 0, &off, &size, &n);
	core_load(hung_core, n / 2, &off, &size, &n);
	ck_assert_int_gt(n, 2);
	copy_file(hung_core, path, (size_t)(off + size / 2), 0644);
	expect_error(7, "truncated core", "ps", path, NULL);
	expect_error(7, "truncated core", "tree", path, "--json");
	unlink(path);
}
END_TEST

/* Ctrl-C while the target is stopped: the guard detaches first. */
START_TEST(interrupt_leaves_target_running)
{
	sample many;
	char path[512], pid[16];
	snprintf(path, sizeof path, "%s/many_tasks", getenv("TT_SAMPLES"));
	sample_start_path(&many, path, "100000");
	snprintf(pid, sizeof pid, "%d", (int)many.pid);
	const char *bin = getenv("TT_TASKTRACE");
	for (int delay_ms = 5; delay_ms <= 80; delay_ms *= 2) {
		pid_t c = fork();
		if (c == 0) {
			int null = open("/dev/null", 1);
			dup2(null, 1);
			execl(bin, "tasktrace", "bt", pid, (char *)NULL);
			_exit(127);
		}
		usleep((useconds_t)delay_ms * 1000);
		kill(c, SIGINT);
		int st;
		waitpid(c, &st, 0);
		assert_running(many.pid);
	}
	sample_stop(&many);
}
END_TEST

/* ---- symbolize ---- */

/* The .text range of ELF file PATH. */
static void text_range(const char *path, uint64_t *lo, uint64_t *hi)
{
	FILE *f = fopen(path, "r");
	ck_assert(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	char *img = malloc((size_t)n);
	ck_assert_uint_eq(fread(img, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh->e_shoff);
	const char *names = img + sh[eh->e_shstrndx].sh_offset;
	*lo = *hi = 0;
	for (int i = 0; i < eh->e_shnum; i++)
		if (strcmp(names + sh[i].sh_name, ".text") == 0) {
			*lo = sh[i].sh_addr;
			*hi = sh[i].sh_addr + sh[i].sh_size;
		}
	free(img);
	ck_assert(*hi > *lo);
}

/* "function line" per frame, frames of one address on one line. */
static char *functions_and_lines(const char *out)
{
	size_t len = strlen(out);
	char *res = calloc(1, len + 1), *w = res;
	const char *p = out;
	while (*p) {
		const char *e = strchr(p, '\n');
		if (!e)
			break;
		if (e == p) { /* blank: next address */
			*w++ = '\n';
			p = e + 1;
			continue;
		}
		const char *fn = p, *fe = e;
		p = e + 1;
		e = strchr(p, '\n');
		if (!e)
			break;
		/* file:line:col -> line */
		const char *c2 = e;
		while (c2 > p && c2[-1] != ':')
			c2--;
		const char *c1 = c2 - 1;
		while (c1 > p && c1[-1] != ':')
			c1--;
		w += sprintf(w, "%.*s %.*s|", (int)(fe - fn), fn, (int)(c2 - 1 - c1), c1);
		p = e + 1;
	}
	return res;
}

START_TEST(symbolize_agrees_with_llvm)
{
	const char *llvm = NULL;
	static const char *const cands[] = { "llvm-symbolizer-14", "llvm-symbolizer" };
	for (int i = 0; i < 2 && !llvm; i++) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", cands[i]);
		if (system(cmd) == 0)
			llvm = cands[i];
	}
	ck_assert_msg(llvm, "no llvm-symbolizer (llvm-14: scripts/install-deps.sh)");
	char prog[512], exe_opt[600], obj_opt[600];
	snprintf(prog, sizeof prog, "%s/inline_prog", getenv("TT_FIXTURES"));
	uint64_t lo, hi;
	text_range(prog, &lo, &hi);
	size_t cap = 64 * 1024, n = 0;
	char *addrs = malloc(cap);
	for (uint64_t a = lo; a < hi && n + 32 < cap; a += 3)
		n += (size_t)sprintf(addrs + n, "0x%llx\n", (unsigned long long)a);

	snprintf(exe_opt, sizeof exe_opt, "--exe=%s", prog);
	snprintf(obj_opt, sizeof obj_opt, "--obj=%s", prog);
	run_stdin = addrs;
	run ours = tasktrace("symbolize", exe_opt, NULL);
	char *argv[] = { (char *)llvm, obj_opt, NULL };
	run theirs = run_prog(llvm, argv);
	run_stdin = NULL;
	ck_assert_msg(ours.status == 0, "%s", ours.err);
	ck_assert_msg(theirs.status == 0, "%s", theirs.err);
	char *a = functions_and_lines(ours.out), *b = functions_and_lines(theirs.out);
	/* Compare address by address for a readable failure. */
	char *sa, *sb, *la = strtok_r(a, "\n", &sa), *lb = strtok_r(b, "\n", &sb);
	int lines = 0, inlined = 0;
	for (; la && lb; la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb)) {
		ck_assert_msg(strcmp(la, lb) == 0, "address #%d: ours '%s', llvm '%s'", lines, la, lb);
		if (strchr(strchr(la, '|') + 1, '|'))
			inlined++;
		lines++;
	}
	ck_assert_msg(!la && !lb, "different address counts");
	ck_assert_int_gt(lines, 50);
	ck_assert_msg(inlined > 10, "only %d addresses with inlined frames", inlined);
	free(a);
	free(b);
	run_free(&ours);
	run_free(&theirs);

	/* JSON, and addresses it cannot parse. */
	run r = tasktrace("symbolize", "--json", exe_opt, "0x1139", "nonsense", NULL);
	ck_assert_int_eq(r.status, 0);
	assert_schema("symbolize", r.out);
	in_order(r.out, "\"error\":\"not an address\"", NULL);
	run_free(&r);
	free(addrs);
}
END_TEST

/* The resume PC of a site, symbolized from the core and the live pid,
 * lands on the await line. */
START_TEST(symbolize_core_and_pid)
{
	run r = tasktrace("bt", "--json", hung_core, NULL);
	ck_assert_int_eq(r.status, 0);
	const char *p = strstr(r.out, "\"function\":\"await_reply\"");
	ck_assert(p);
	p = strstr(p, "\"resume_pc\":\"");
	ck_assert(p);
	char pc[32];
	sscanf(p + 13, "%31[0-9a-fx]", pc);
	run_free(&r);
	char core_opt[600];
	snprintf(core_opt, sizeof core_opt, "--core=%s", hung_core);
	run c = tasktrace("symbolize", core_opt, pc, NULL);
	run l = tasktrace("symbolize", "--pid", hung_pid, pc, NULL);
	ck_assert_msg(c.status == 0 && l.status == 0, "%s %s", c.err, l.err);
	in_order(c.out, "\nawait_reply_poll\n", site("reply"), NULL);
	ck_assert_str_eq(c.out, l.out);
	run_free(&c);
	run_free(&l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli-core");
	TCase *tc = tcase_create("live");
	tcase_set_timeout(tc, 240);
	tcase_add_unchecked_fixture(tc, start_samples, stop_samples);
	tcase_add_test(tc, running_task_pruned_live);
	tcase_add_test(tc, nonblocking_reads_without_stopping);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, interrupt_leaves_target_running);
	tcase_add_test(tc, symbolize_agrees_with_llvm);
	suite_add_tcase(s, tc);
	TCase *cores = tcase_create("cores");
	tcase_set_tags(cores, "unsanitized");
	tcase_set_timeout(cores, 240);
	tcase_add_unchecked_fixture(cores, start_samples_and_cores, stop_samples);
	tcase_add_test(cores, core_ps_matches_live);
	tcase_add_test(cores, core_bt_chain_at_await_lines);
	tcase_add_test(cores, core_json_validates);
	tcase_add_test(cores, running_task_pruned_core);
	tcase_add_test(cores, symbolize_core_and_pid);
	tcase_add_test(cores, core_without_its_executable);
	tcase_add_test(cores, truncated_cores);
	suite_add_tcase(s, cores);
	return run_suite(s);
}
