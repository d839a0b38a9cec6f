/* The crash handler for real: samples/crash and tests/diag/crash_cases
 * crash in a child; their crash log must name the crashing task, its
 * chain at the marked lines and its ancestry, stay bounded, survive a
 * crash in the runtime, a stack overflow and a crash inside the handler,
 * and the process must still die of the original signal with a core. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "diag_util.h"

/* ASan installs its own handlers for these unless told not to; the
 * handler under test must be the one that runs. */
static char asan_env[] = "ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_sigfpe=0:"
			 "handle_sigill=0:handle_abort=0:detect_leaks=0:allow_user_segv_handler=1";
/* UBSan must report the NULL load and let it fault, not abort first. */
static char ubsan_env[] = "UBSAN_OPTIONS=halt_on_error=0:print_stacktrace=0";

static char *cases_path(void)
{
	static char p[512];
	snprintf(p, sizeof p, "%s", getenv("TT_CRASH_CASES"));
	return p;
}

/* A fresh directory for the crash's core file. */
static char *tmpdir(void)
{
	static char d[64];
	snprintf(d, sizeof d, "/tmp/tt-crash-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

/* Remove DIR, saying whether it held a core file. */
static int cleanup_core(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	char path[512];

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		found |= strncmp(e->d_name, "core", 4) == 0;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
	return found;
}

/* Cores land in the crashing process's directory only with a plain
 * core_pattern; a piped one (systemd-coredump, apport) takes them away. */
static int cores_local(void)
{
	char pat[256] = "";
	FILE *f = fopen("/proc/sys/kernel/core_pattern", "r");
	if (f) {
		if (!fgets(pat, sizeof pat, f))
			pat[0] = 0;
		fclose(f);
	}
	return pat[0] && pat[0] != '|' && pat[0] != '/';
}

/* The crash report in TEXT, from its first line through its closing one:
 * its size in *LEN, the size its closing line states in *SAID. */
static void report_size(const char *text, size_t *len, unsigned long *said)
{
	static const char end[] = "tasktrace: end of crash report (";
	const char *a = strstr(text, "tasktrace: fatal signal");
	ck_assert_msg(a, "no crash report in:\n%s", text);
	const char *z = strstr(a, end);
	ck_assert_msg(z, "no closing line in:\n%s", a);
	*said = strtoul(z + strlen(end), NULL, 10);
	const char *nl = strchr(z, '\n');
	ck_assert_ptr_nonnull(nl);
	*len = (size_t)(nl + 1 - a);
}

static void size_as_stated(const char *text)
{
	size_t len;
	unsigned long said;
	report_size(text, &len, &said);
	ck_assert_msg(len == said, "the report is %zu bytes, its closing line says %lu", len, said);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f, "cannot open %s", path);
	return slurp_file(f);
}

static void died_of(const run *r, int sig)
{
	ck_assert_msg(WIFSIGNALED(r->status), "exited %d instead of dying; stderr:\n%s",
		      WEXITSTATUS(r->status), r->err);
	ck_assert_msg(WTERMSIG(r->status) == sig, "died of signal %d, not %d; stderr:\n%s",
		      WTERMSIG(r->status), sig, r->err);
}

START_TEST(sample_crash)
{
	char exe[512];
	char *dir = tmpdir();
	snprintf(exe, sizeof exe, "%s/crash", getenv("TT_SAMPLES"));
	char *argv[] = { exe, NULL };
	char *env[] = { asan_env, ubsan_env, NULL };
	run r = run_prog(dir, env, RLIM_INFINITY, argv);
	const char *f = "samples/crash.c";

	died_of(&r, SIGSEGV);
	const char *e = r.err;
	ck_assert_ptr_nonnull(strstr(e, "tasktrace: fatal signal SIGSEGV (address not mapped)"));
	ck_assert_ptr_nonnull(strstr(e, "polling task 3 \"request-7\""));
	/* The native stack names the poll functions through the registry. */
	ck_assert_ptr_nonnull(strstr(e, "#0  0x"));
	ck_assert_ptr_nonnull(strstr(line_with(e, "#0  0x"), "read_byte_poll"));
	ck_assert_ptr_nonnull(strstr(line_with(e, "decode_field_poll"), at(f, "decode")));
	ck_assert_ptr_nonnull(strstr(line_with(e, "handle_request_poll"), at(f, "handle")));
	ck_assert_ptr_nonnull(strstr(e, "executor frames pruned"));
	/* The executor's frames are pruned, not named for the poll function
	 * they follow: by module for the shared library, by the bounds of its
	 * dispatch code when it is linked into the program (TT_STATIC). */
	const char *pruned = strstr(e, " executor frames pruned)\n");
	ck_assert_ptr_nonnull(pruned);
	const char *first = strstr(e, "(async read_byte)");
	ck_assert_ptr_nonnull(first);
	const char *again = strstr(first + 1, "(async read_byte)");
	ck_assert_msg(!again || again > pruned, "an executor frame named for read_byte:\n%s", e);
	/* The logical chain and the ancestry. */
	/* With its labels: one inherited from its parent, one given at spawn. */
	ck_assert_msg(
	    strstr(e, "task 3 \"request-7\" {service=api request_id=7} [running on worker"),
	    "crash log:\n%s", e);
	char want[256];
	snprintf(want, sizeof want, "#1  read_byte () at %s", at(f, "nap"));
	ck_assert_ptr_nonnull(strstr(e, want));
	snprintf(want, sizeof want, "#2  decode_field () at %s", at(f, "decode"));
	ck_assert_ptr_nonnull(strstr(e, want));
	snprintf(want, sizeof want, "#3  parse_body () at %s", at(f, "parse"));
	ck_assert_ptr_nonnull(strstr(e, want));
	snprintf(want, sizeof want, "#4  handle_request () at %s", at(f, "handle"));
	ck_assert_ptr_nonnull(strstr(e, want));
	snprintf(want, sizeof want, "spawned by task 1 \"block_on\" at %s (crash_main_poll)",
		 at(f, "spawn"));
	ck_assert_ptr_nonnull(strstr(e, want));
	/* The flight recorder's last events of the crashing task: where it
	 * suspended before the poll that crashed. */
	ck_assert_msg(strstr(e, "last events of task 3 (flight recorder, newest last):"),
		      "crash log:\n%s", e);
	snprintf(want, sizeof want, "suspended at %s (read_byte_poll), waits on timer 0x",
		 at(f, "nap"));
	ck_assert_msg(strstr(e, want), "no %s in:\n%s", want, e);
	/* Everyone else, one line each. */
	ck_assert_ptr_nonnull(strstr(line_with(e, "heartbeat  "), "timer"));
	ck_assert_ptr_nonnull(strstr(e, "tasktrace: end of crash report"));
	cleanup_core(dir);
	run_free(&r);
}
END_TEST

/* After the report the core is still written (ASan turns cores off, so
 * this runs only without sanitizers). */
START_TEST(sample_crash_dumps_core)
{
	char exe[512];
	char *dir = tmpdir();
	snprintf(exe, sizeof exe, "%s/crash", getenv("TT_SAMPLES"));
	char *argv[] = { exe, NULL };
	run r = run_prog(dir, NULL, RLIM_INFINITY, argv);
	died_of(&r, SIGSEGV);
	ck_assert_ptr_nonnull(strstr(r.err, "tasktrace: end of crash report"));
	int core_file = cleanup_core(dir);
	ck_assert_msg(WCOREDUMP(r.status), "no core dumped");
	if (cores_local())
		ck_assert_msg(core_file, "no core file in the crash's directory");
	run_free(&r);
}
END_TEST

static run crash_case(const char *mode, const char *arg, char *extra_env)
{
	char *argv[] = { cases_path(), (char *)mode, (char *)arg, NULL };
	char *env[] = { asan_env, ubsan_env, extra_env, NULL };
	return run_prog(NULL, env, 0, argv);
}

START_TEST(env_install)
{
	run r = crash_case("env", NULL, (char *)"TASKTRACE_CRASH=1");
	died_of(&r, SIGSEGV);
	ck_assert_ptr_nonnull(strstr(r.err, "polling task 2 \"faulty\""));
	ck_assert_ptr_nonnull(strstr(r.err, "task 2 \"faulty\" [running on worker"));
	ck_assert_ptr_nonnull(strstr(r.err, "spawned by task 1 \"block_on\""));
	run_free(&r);
}
END_TEST

START_TEST(crash_in_runtime)
{
	run r = crash_case("runtime", NULL, NULL);
	died_of(&r, SIGSEGV);
	ck_assert_ptr_nonnull(strstr(r.err, "polling task 2 \"corrupt\""));
	/* The registry is corrupt too: one error line, the rest goes on. */
	ck_assert_ptr_nonnull(strstr(r.err, "error: frame 0x"));
	/* Frames are named by module: statically linked, the runtime is in
	 * the program. */
	ck_assert_ptr_nonnull(
	    strstr(r.err, getenv("TT_STATIC") ? "[crash_cases+" : "libtasktrace"));
	ck_assert_ptr_nonnull(strstr(r.err, "tasktrace: end of crash report"));
	run_free(&r);
}
END_TEST

/* A crash on block_on's thread under 200 frames of the program's own:
 * the stack is deeper than the report keeps, and the runtime's frames
 * among the kept ones are still pruned (with the count said), the
 * program's shown. */
START_TEST(deep_stack_prunes_runtime)
{
	run r = crash_case("deep", NULL, NULL);
	died_of(&r, SIGSEGV);
	ck_assert_ptr_nonnull(strstr(r.err, "polling task 1 \"block_on\""));
	ck_assert_msg(strstr(r.err, "more frames"), "%s", r.err);
	/* The count line, not the header's "(..., executor frames pruned):". */
	ck_assert_msg(strstr(r.err, " executor frame pruned)\n") ||
			  strstr(r.err, " executor frames pruned)\n"),
		      "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "tasktrace: end of crash report"));
	run_free(&r);
}
END_TEST

START_TEST(stack_overflow)
{
	run r = crash_case("overflow", NULL, NULL);
	died_of(&r, SIGSEGV);
	ck_assert_ptr_nonnull(strstr(r.err, "in async faulty"));
	ck_assert_ptr_nonnull(strstr(r.err, "more frames"));
	ck_assert_ptr_nonnull(strstr(r.err, "task 2 \"faulty\" [running"));
	ck_assert_ptr_nonnull(strstr(r.err, "tasktrace: end of crash report"));
	run_free(&r);
}
END_TEST

/* A fault inside the crash handler: one line, then the original signal's
 * default action -- a core, which a sanitizer build does not write. */
static void nested_crash(int want_core)
{
	char *dir = tmpdir();
	char *argv[] = { cases_path(), (char *)"nested", NULL };
	char *env[] = { asan_env, ubsan_env, NULL };
	run r = run_prog(dir, env, RLIM_INFINITY, argv);
	died_of(&r, SIGSEGV);
	ck_assert_ptr_nonnull(strstr(r.err, "tasktrace: fatal signal SIGSEGV"));
	ck_assert_ptr_nonnull(strstr(r.err, "crashed again while writing the crash report"));
	ck_assert_ptr_null(strstr(r.err, "end of crash report"));
	if (want_core)
		ck_assert_msg(WCOREDUMP(r.status), "no core dumped");
	cleanup_core(dir);
	run_free(&r);
}

START_TEST(crash_in_handler)
{
	nested_crash(0);
}
END_TEST

START_TEST(crash_in_handler_dumps_core)
{
	nested_crash(1);
}
END_TEST

START_TEST(overflow_in_blocking_call)
{
	run r = crash_case("blocking", NULL, NULL);
	died_of(&r, SIGSEGV);
	ck_assert_ptr_nonnull(strstr(r.err, "tasktrace: fatal signal SIGSEGV"));
	ck_assert_ptr_nonnull(strstr(r.err, "\"tt-blocking\", not polling a task"));
	ck_assert_ptr_nonnull(strstr(r.err, "more frames"));
	ck_assert_ptr_nonnull(strstr(r.err, "tasktrace: end of crash report"));
	run_free(&r);
}
END_TEST

START_TEST(earlier_handler_runs)
{
	run r = crash_case("chain", NULL, NULL);
	/* The report, then the program's own handler with the same fault. */
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 42, "status %#x: %s",
		      r.status, r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "task 2 \"faulty\" [running"));
	ck_assert_ptr_nonnull(strstr(r.err, "the earlier handler of SIGSEGV follows"));
	const char *own = strstr(r.err, "crash_cases: own handler: SIGSEGV at 0x0");
	ck_assert_ptr_nonnull(own);
	ck_assert_ptr_nonnull(strstr(r.err, "end of crash report"));
	ck_assert(strstr(r.err, "end of crash report") < own);
	run_free(&r);
}
END_TEST

START_TEST(abort_in_poll)
{
	run r = crash_case("abort", NULL, NULL);
	died_of(&r, SIGABRT);
	ck_assert_ptr_nonnull(strstr(r.err, "fatal signal SIGABRT"));
	ck_assert_ptr_nonnull(strstr(r.err, "task 2 \"faulty\" [running"));
	run_free(&r);
}
END_TEST

START_TEST(bounded_with_100k_tasks)
{
	run r = crash_case("many", "100000", NULL);
	died_of(&r, SIGSEGV);
	size_t n = strlen(r.err);
	ck_assert_msg(n <= 64 * 1024, "crash report of %zu bytes", n);
	ck_assert_ptr_nonnull(strstr(r.err, "other tasks (100001):"));
	ck_assert_ptr_nonnull(strstr(r.err, "more tasks"));
	ck_assert_ptr_nonnull(strstr(r.err, "task 100002 \"faulty\" [running"));
	ck_assert_ptr_nonnull(strstr(r.err, "tasktrace: end of crash report"));
	size_as_stated(r.err);
	run_free(&r);
}
END_TEST

/* The stack tasktrace prints for the crashing task: the first frame
 * after "crashing task:". */
static const char *crashing_frame(const char *err)
{
	const char *sec = strstr(err, "\ncrashing task:\n");
	ck_assert_msg(sec, "no crashing task in:\n%s", err);
	const char *f0 = strstr(sec, "\n#0 ");
	ck_assert_msg(f0, "no frame of the crashing task in:\n%s", sec);
	return line_with(f0, "#0 ");
}

START_TEST(symbolized)
{
	char bin[600];
	snprintf(bin, sizeof bin, "TASKTRACE_BIN=%s", getenv("TT_TASKTRACE"));
	run r = crash_case("symbolize", NULL, bin);
	died_of(&r, SIGSEGV);
	ck_assert_ptr_null(strstr(r.err, "symbolized report unavailable"));
	ck_assert_ptr_nonnull(strstr(r.err, "task 2 \"faulty\" [running on worker"));
	/* The crashing thread's stack starts where it faulted, not in the
	 * crash handler that ran tasktrace. */
	ck_assert_msg(strstr(crashing_frame(r.err), "faulty_poll"), "%s", r.err);
	ck_assert_msg(!strstr(r.err, "on_fatal") && !strstr(r.err, "__restore_rt") &&
			  !strstr(r.err, "nanosleep"),
		      "the crash handler's frames:\n%s", r.err);
	size_as_stated(r.err);
	run_free(&r);
	/* A missing binary falls back to the in-process chain. */
	r = crash_case("symbolize", NULL, (char *)"TASKTRACE_BIN=/nonexistent/tasktrace");
	died_of(&r, SIGSEGV);
	ck_assert_ptr_nonnull(strstr(r.err, "symbolized report unavailable: tasktrace could not be run"));
	ck_assert_ptr_nonnull(strstr(r.err, "task 2 \"faulty\" [running on worker"));
	run_free(&r);
}
END_TEST

/* The symbolized mode with a stand-in for tasktrace: a shell script
 * running BODY, in DIR.  Returns the TASKTRACE_BIN= setting. */
static char *fake_tasktrace(const char *dir, const char *body)
{
	static char env[600];
	char path[512];
	snprintf(path, sizeof path, "%s/tasktrace", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0755), 0);
	snprintf(env, sizeof env, "TASKTRACE_BIN=%s", path);
	return env;
}

/* 5 MB from tasktrace: cut to the report's budget, and said so. */
START_TEST(symbolized_output_bounded)
{
	char *dir = tmpdir();
	run r = crash_case("symbolize", NULL,
			   fake_tasktrace(dir, "yes 'tasktrace is very chatty today' 2>/dev/null | "
					       "head -c 5000000"));
	died_of(&r, SIGSEGV);
	size_t len;
	unsigned long said;
	report_size(r.err, &len, &said);
	ck_assert_msg(len <= 64 * 1024, "crash report of %zu bytes", len);
	ck_assert_uint_eq(len, said);
	ck_assert_ptr_nonnull(strstr(r.err, "tasktrace is very chatty today"));
	const char *cut = strstr(r.err, "\n... (");
	ck_assert_ptr_nonnull(cut);
	ck_assert_msg(strstr(line_with(cut, "... ("), " of the 5000000 bytes tasktrace printed "
						      "cut: the report's budget ran out)"),
		      "%s", line_with(cut, "... ("));
	/* The other tasks still have their room. */
	ck_assert_ptr_nonnull(strstr(r.err, "other tasks (1):"));
	cleanup_core(dir);
	run_free(&r);
}
END_TEST

/* Once a line of tasktrace's output did not fit, nothing after it is
 * printed, a short line that would fit included: the report never shows
 * a tail with a hole before it.  The count is of every byte printed. */
START_TEST(symbolized_cut_stays_cut)
{
	char *dir = tmpdir();
	run r = crash_case("symbolize", NULL,
			   fake_tasktrace(dir, "printf 'first line\\n'; head -c 70000 /dev/zero | "
					       "tr '\\0' x; printf '\\nshort tail\\n'"));
	died_of(&r, SIGSEGV);
	ck_assert_ptr_nonnull(strstr(r.err, "first line\n"));
	ck_assert_msg(!strstr(r.err, "short tail"), "printed after the cut: %s",
		      line_with(r.err, "short tail"));
	const char *cut = strstr(r.err, "\n... (");
	ck_assert_ptr_nonnull(cut);
	ck_assert_msg(strstr(line_with(cut, "... ("), " of the 70023 bytes tasktrace printed cut"),
		      "%s", line_with(cut, "... ("));
	cleanup_core(dir);
	run_free(&r);
}
END_TEST

/* tasktrace printing nothing, failing or hanging: the in-process chain. */
START_TEST(symbolized_fallbacks)
{
	static const struct {
		const char *body, *why;
	} cases[] = {
	    {"exit 0", "tasktrace printed nothing"},
	    {"echo 'tasktrace bt: cannot read it'; exit 9", "tasktrace failed with exit status 9"},
	    {"exec sleep 60", "tasktrace timed out and was killed"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *dir = tmpdir(), why[200];
		char *argv[] = {cases_path(), (char *)"symbolize", NULL};
		char *env[] = {asan_env, ubsan_env, fake_tasktrace(dir, cases[i].body),
			       (char *)"TT_CASES_TIMEOUT_MS=300", NULL};
		run r = run_prog(NULL, env, 0, argv);
		died_of(&r, SIGSEGV);
		snprintf(why, sizeof why,
			 "(symbolized report unavailable: %s; in-process chain "
			 "follows)\ntask 2 \"faulty\" [running on worker",
			 cases[i].why);
		ck_assert_msg(strstr(r.err, why), "no '%s' in:\n%s", why, r.err);
		size_as_stated(r.err);
		cleanup_core(dir);
		run_free(&r);
	}
}
END_TEST

/* The data file D, as the program wrote it: "data\n" (and under UBSan
 * its line about the NULL load, written to fd 2 too), no crash report. */
static void data_untouched(const char *d)
{
	const char *san = getenv("TT_SANITIZE");
	if (!san || !strcmp(san, "none"))
		ck_assert_msg(!strcmp(d, "data\n"), "the data file got:\n%s", d);
	ck_assert_msg(!strncmp(d, "data\n", 5) && !strstr(d, "tasktrace"), "the data file got:\n%s",
		      d);
}

/* A program that closed stderr and opened a data file, which got fd 2:
 * the report goes to the fallback file, never into the data. */
START_TEST(report_not_into_data_file)
{
	char *dir = tmpdir(), data[512], env[600], report[600];
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(env, sizeof env, "TASKTRACE_CRASH_DIR=%s", dir);
	run r = crash_case("datafd", data, env);
	died_of(&r, SIGSEGV);
	char *d = read_file(data);
	data_untouched(d);
	free(d);
	int pid = 0;
	ck_assert_int_eq(sscanf(r.out, "crash_cases: pid %d ready", &pid), 1);
	snprintf(report, sizeof report, "%s/tasktrace-crash-%d.log", dir, pid);
	char *rep = read_file(report);
	ck_assert_ptr_nonnull(strstr(rep, "tasktrace: fatal signal SIGSEGV"));
	char want[800];
	snprintf(want, sizeof want,
		 "tasktrace: fd 2 refers to another file than when the "
		 "handler was installed: this report is written to %s instead",
		 report);
	ck_assert_msg(strstr(rep, want), "no '%s' in:\n%s", want, rep);
	ck_assert_ptr_nonnull(strstr(rep, "task 2 \"faulty\" [running on worker"));
	size_as_stated(rep);
	free(rep);
	run_free(&r);
	/* No fallback directory: no report at all, rather than into the data. */
	r = crash_case("datafd", data, (char *)"TASKTRACE_CRASH_DIR=/nonexistent");
	died_of(&r, SIGSEGV);
	d = read_file(data);
	data_untouched(d);
	free(d);
	run_free(&r);
	cleanup_core(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("crash");
	TCase *tc = tcase_create("crash");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, sample_crash);
	tcase_add_test(tc, env_install);
	tcase_add_test(tc, crash_in_runtime);
	tcase_add_test(tc, stack_overflow);
	tcase_add_test(tc, deep_stack_prunes_runtime);
	tcase_add_test(tc, crash_in_handler);
	tcase_add_test(tc, abort_in_poll);
	tcase_add_test(tc, earlier_handler_runs);
	tcase_add_test(tc, overflow_in_blocking_call);
	tcase_add_test(tc, bounded_with_100k_tasks);
	tcase_add_test(tc, symbolized);
	tcase_add_test(tc, symbolized_output_bounded);
	tcase_add_test(tc, symbolized_cut_stays_cut);
	tcase_add_test(tc, symbolized_fallbacks);
	tcase_add_test(tc, report_not_into_data_file);
	suite_add_tcase(s, tc);
	TCase *cores = tcase_create("crash-cores");
	tcase_set_tags(cores, "unsanitized");
	tcase_set_timeout(cores, 300);
	tcase_add_test(cores, sample_crash_dumps_core);
	tcase_add_test(cores, crash_in_handler_dumps_core);
	suite_add_tcase(s, cores);
	return run_suite(s);
}
