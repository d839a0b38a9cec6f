/* Where the runtime meets the in-process diagnostics: environment
 * variables read when the first runtime is created, per-worker setup,
 * and the leaked-task report at shutdown.  The executor calls them through
 * the hook table (runtime/hooks.h), filled here before main;
 * docs/diagnosis.md lists the variables. */
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "reporters/crash_priv.h"
#include "runtime/hooks.h"
#include "runtime/internal.h"
#include "tasktrace/crash.h"
#include "tasktrace/read/diagnose.h"

static _Atomic int leaks_enabled;

static int parse_signal(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = { { "QUIT", SIGQUIT }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
		      { "HUP", SIGHUP },   { "INT", SIGINT },   { "TERM", SIGTERM } };

	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].sig;
	int n = atoi(s);
	return n == 1 ? SIGQUIT : n > 1 && n < 64 ? n : 0;
}

/* "1", "on", or key=value pairs: interval, long_poll, starved, idle,
 * idle_io (durations or "off") and fd. */
static int parse_watchdog(const char *s, tt_watchdog_opts *o)
{
	char buf[256], *save = NULL;

	memset(o, 0, sizeof(*o));
	tt_diag_opts_init(&o->diag);
	o->fd = -1;
	if (!strcmp(s, "0") || !strcasecmp(s, "off") || !*s)
		return -1;
	if (!strcmp(s, "1") || !strcasecmp(s, "on"))
		return 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		uint64_t ns;
		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(kv, "fd")) {
			o->fd = atoi(v);
			continue;
		}
		if (!strcasecmp(v, "off"))
			ns = TT_DIAG_OFF;
		else if (tt_diag_parse_duration(v, &ns) < 0)
			continue;
		if (!strcmp(kv, "interval"))
			o->interval_ns = ns == TT_DIAG_OFF ? 0 : ns;
		else if (!strcmp(kv, "long_poll"))
			o->diag.long_poll_ns = ns;
		else if (!strcmp(kv, "starved"))
			o->diag.starved_ns = ns;
		else if (!strcmp(kv, "idle"))
			o->diag.idle_ns = ns;
		else if (!strcmp(kv, "idle_io"))
			o->diag.idle_io_ns = ns;
	}
	return 0;
}

static void from_env(void)
{
	const char *crash = getenv("TASKTRACE_CRASH");
	const char *dump = getenv("TASKTRACE_DUMP_SIGNAL");
	const char *wdog = getenv("TASKTRACE_WATCHDOG");
	const char *leaks = getenv("TASKTRACE_LEAKS");
	const char *stall = getenv("TASKTRACE_STALL");
	tt_watchdog_opts wo;

	if (crash && *crash && strcmp(crash, "0")) {
		tt_crash_opts o = { 0 };
		o.symbolize = !strcasecmp(crash, "symbolize");
		tt_crash_install(&o);
		atomic_store(&leaks_enabled, 1);
	}
	if (dump && *dump) {
		int sig = parse_signal(dump);
		if (sig)
			tt_dump_install(sig, -1);
	}
	if (wdog && parse_watchdog(wdog, &wo) == 0) {
		tt_watchdog_start(&wo);
		atomic_store(&leaks_enabled, 1);
	}
	if (leaks)
		atomic_store(&leaks_enabled, strcmp(leaks, "0") != 0);
	/* "50ms" (a duration), "1"/"on" for the default 100 ms. */
	if (stall && *stall && strcmp(stall, "0") && strcasecmp(stall, "off")) {
		tt_stall_opts so = { .fd = -1 };
		uint64_t ns = 0;
		if (strcmp(stall, "1") && strcasecmp(stall, "on") &&
		    tt_diag_parse_duration(stall, &ns) < 0)
			ns = 0;
		so.threshold_ns = ns;
		/* At exit, the stalls of the run (tt_stall_stop prints them). */
		if (tt_stall_start(&so) == 0)
			atexit(tt_stall_stop);
	}
}

static void diag_runtime_new(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, from_env);
}

static void diag_worker_start(void)
{
	/* Cheap (an mmap and a syscall) and always done: a crash handler
	 * installed later still finds every worker with a stack to run on. */
	tt_crash_thread_init();
}

static void diag_worker_exit(void)
{
	tt__crash_thread_exit();
}

static int report_pending(const tt_runtime *rt, int fd)
{
	tt_snapshot *s = NULL;
	char err[160];

	if (tt_snapshot_read(tt_mem_self(), (uint64_t)(uintptr_t)tt_registry_root(), NULL,
			     &s, err, sizeof(err)) != TT_R_OK)
		return -EIO;
	tt_diag_report *r = tt_diagnose_leaks(s, rt->id, tt_now_ns());
	int n = r ? (int)r->n : -ENOMEM;
	if (r && r->n) {
		const char *p = r->text;
		size_t len = strlen(p);
		while (len) {
			ssize_t w = write(fd >= 0 ? fd : 2, p, len);
			if (w <= 0)
				break;
			p += w;
			len -= (size_t)w;
		}
	}
	tt_diag_free(r);
	tt_snapshot_free(s);
	return n;
}

int tt_runtime_report_pending(tt_runtime *h, int fd)
{
	tt_runtime *rt = tt_runtime_from_handle(h, "tt_runtime_report_pending");
	return rt ? report_pending(rt, fd) : -errno;
}

/* Set while tt_runtime_free_report frees: it reported already. */
static __thread int reported;

int tt_runtime_free_report(tt_runtime *h, int fd)
{
	int n = 0;
	if (h) {
		tt_runtime *rt = tt_runtime_from_handle(h, "tt_runtime_free_report");
		if (!rt)
			return -errno;
		n = report_pending(rt, fd);
	}
	reported = 1;
	tt_runtime_free(h);
	reported = 0;
	return n;
}

/* With the runtime itself (its pointer is already unpublished). */
static void diag_runtime_free(tt_runtime *rt)
{
	if (atomic_load(&leaks_enabled) && !reported)
		report_pending(rt, -1);
}

/* Before main and before any constructor of the program that might create
 * a runtime.  Not static: a static link names it with -u to pull this
 * file in (runtime/hooks.h). */
void tt__reporters_register(void);
__attribute__((constructor(101))) void tt__reporters_register(void)
{
	tt__rt_hooks = (tt_rt_hooks){
	    .runtime_new = diag_runtime_new,
	    .worker_start = diag_worker_start,
	    .worker_exit = diag_worker_exit,
	    .runtime_free = diag_runtime_free,
	};
}
