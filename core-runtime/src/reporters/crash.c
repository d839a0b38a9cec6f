/* The crash handler (crash.h).
 *
 * Rules it lives by:
 *  - async-signal-safe only: write(2), mmap, process_vm_readv, clock_gettime;
 *    no malloc, no stdio, no locks, so it cannot deadlock on state the
 *    crash left behind;
 *  - an alternate stack per thread, so a stack overflow is reported too;
 *  - bounded: every section has a byte budget, the total is capped;
 *  - one report per process: a second fault while reporting writes one
 *    line and goes straight to the default action (SA_NODEFER lets that
 *    nested fault reach us instead of killing the process silently), a
 *    crash on another thread waits for the first report;
 *  - the core file still shows the original signal: the default action is
 *    restored and the fault re-executes (or the signal is re-raised);
 *  - a handler the program had before ours (its own crash reporter, a
 *    language runtime) gets the signal after the report the same way: it
 *    is put back instead of the default action. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "reporters/crash_priv.h"
#include "runtime/internal.h"
#include "tasktrace/crash.h"

#define ALTSTACK_SIZE (128u << 10)
#define DEFAULT_MAX (64u << 10)

static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
#define NFATAL (sizeof(fatal) / sizeof(fatal[0]))

static struct {
	int fd;
	size_t max_bytes;
	int symbolize;
	unsigned timeout_ms;
	int test_fault;
	char tasktrace[1024]; /* resolved at install, "" when not found */
} cfg;

static struct sigaction old_actions[NFATAL];
static _Atomic int installed;
/* Unmapped: what the test hook writes to (volatile: the compiler must
 * not see through it). */
static volatile uintptr_t test_fault_addr = 16;
static _Atomic pid_t reporting; /* tid writing the report, 0 none */

/* The handler for SIG installed before ours, when it is a function (not
 * SIG_DFL or SIG_IGN). */
static const struct sigaction *earlier(int sig)
{
	for (size_t i = 0; i < NFATAL; i++) {
		const struct sigaction *a = &old_actions[i];
		if (fatal[i] != sig)
			continue;
		if (a->sa_flags & SA_SIGINFO)
			return a->sa_sigaction ? a : NULL;
		return a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN ? a : NULL;
	}
	return NULL;
}

/* Per thread: our alternate stack and the thread's stack bounds. */
static __thread void *alt_mem;
static __thread uint64_t stack_lo, stack_hi;

static pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* ---- per-thread setup ---- */

static void record_stack_bounds(void)
{
	pthread_attr_t a;
	void *addr;
	size_t size;

	if (pthread_getattr_np(pthread_self(), &a) != 0)
		return;
	if (pthread_attr_getstack(&a, &addr, &size) == 0) {
		stack_lo = (uint64_t)(uintptr_t)addr;
		stack_hi = stack_lo + size;
	}
	pthread_attr_destroy(&a);
}

int tt_crash_thread_init(void)
{
	stack_t cur, ss;

	if (!stack_hi)
		record_stack_bounds();
	if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
		return 0; /* the thread (or a sanitizer) has one already */
	/* A guard page below it: an overflow of the alternate stack must
	 * fault, not scribble. */
	char *m = mmap(NULL, ALTSTACK_SIZE + 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	mprotect(m, 4096, PROT_NONE);
	ss.ss_sp = m + 4096;
	ss.ss_size = ALTSTACK_SIZE;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) != 0) {
		int e = errno;
		munmap(m, ALTSTACK_SIZE + 4096);
		return -e;
	}
	alt_mem = m;
	return 0;
}

void tt_cb_thread_stack(uint64_t *lo, uint64_t *hi)
{
	*lo = stack_lo;
	*hi = stack_hi;
}

/* Called by the executor as a worker thread exits. */
void tt__crash_thread_exit(void)
{
	stack_t ss = { .ss_flags = SS_DISABLE };

	if (!alt_mem)
		return;
	if (sigaltstack(&ss, NULL) == 0)
		munmap(alt_mem, ALTSTACK_SIZE + 4096);
	alt_mem = NULL;
}

/* ---- words ---- */

static const char *sig_name(int sig)
{
	switch (sig) {
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS: return "SIGBUS";
	case SIGILL: return "SIGILL";
	case SIGFPE: return "SIGFPE";
	case SIGABRT: return "SIGABRT";
	case SIGQUIT: return "SIGQUIT";
	}
	return "signal";
}

static const char *code_text(int sig, int code)
{
	if (code <= 0)
		return code == SI_TKILL || code == SI_USER ? "sent by kill/raise" : NULL;
	switch (sig) {
	case SIGSEGV:
		return code == SEGV_MAPERR ? "address not mapped" :
		       code == SEGV_ACCERR ? "invalid permissions for the mapping" : NULL;
	case SIGBUS:
		return code == BUS_ADRALN ? "invalid address alignment" :
		       code == BUS_ADRERR ? "nonexistent physical address" :
		       code == BUS_OBJERR ? "object-specific hardware error" : NULL;
	case SIGILL:
		return code == ILL_ILLOPC ? "illegal opcode" :
		       code == ILL_ILLOPN ? "illegal operand" :
		       code == ILL_PRVOPC ? "privileged opcode" : NULL;
	case SIGFPE:
		return code == FPE_INTDIV ? "integer divide by zero" :
		       code == FPE_INTOVF ? "integer overflow" :
		       code == FPE_FLTDIV ? "floating-point divide by zero" : NULL;
	}
	return NULL;
}

static int has_addr(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE;
}

static void say(int fd, const char *s)
{
	tt_rout o;

	tt_rout_init(&o, fd, 4096);
	tt_rout_line(&o, s);
	tt_rout_flush(&o);
}

/* ---- where the report goes ---- */

/* cfg.fd as it was at install: the report goes there only while it still
 * is that file (report.h). */
static tt_rdest dest;
/* Why the report is not on cfg.fd and where it went instead, for its
 * header; "" when it is. */
static char moved_note[800];
/* The fd of the report being written, -1 none: a crash on another
 * thread, or inside the handler, says so there and nowhere else. */
static _Atomic int out_fd = -1;

/* ---- the symbolized report: tasktrace bt, out of process ---- */

extern char **environ;

/* tasktrace's output, relayed line by line into the report's current
 * section through a pipe, so that it counts against the report's budget:
 * once a line does not fit, it and everything after it is counted and
 * dropped (the pipe is still drained, so tasktrace does not block). */
typedef struct relay {
	tt_rout *o;
	uint64_t got, cut;
	size_t len;
	char line[1024];
} relay;

/* NL: the line ended in a newline (not a piece of a longer line). */
static void relay_line(relay *r, int nl)
{
	if (r->cut || !tt_rout_put(r->o, r->line, r->len))
		r->cut += r->len + (size_t)nl;
	r->len = 0;
}

static void relay_bytes(relay *r, const char *p, size_t n)
{
	r->got += n;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			relay_line(r, 1);
			continue;
		}
		/* A longer line is relayed in pieces. */
		if (r->len == sizeof(r->line))
			relay_line(r, 0);
		r->line[r->len++] = p[i];
	}
}

static int64_t ms_until(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(end->tv_sec - now.tv_sec) * 1000 + (end->tv_nsec - now.tv_nsec) / 1000000;
}

/* Copy tasktrace's output from FD until it closes or END passes.
 * Returns 0 at the end of its output, -1 at the deadline. */
static int relay_until(relay *r, int fd, const struct timespec *end)
{
	char buf[2048];

	for (;;) {
		int64_t left = ms_until(end);
		if (left <= 0)
			return -1;
		struct pollfd pf = {fd, POLLIN, 0};
		int n = poll(&pf, 1, left > 1000 ? 1000 : (int)left);
		if (n < 0 && errno != EINTR)
			return 0;
		if (n <= 0)
			continue;
		ssize_t got = read(fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return 0;
		relay_bytes(r, buf, (size_t)got);
	}
}

/* Wait for CHILD until END, killing it past that; its wait status in *ST.
 * Returns 0 when it exited by itself. */
static int reap(pid_t child, const struct timespec *end, int *st)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };

	for (;;) {
		pid_t r = waitpid(child, st, WNOHANG);
		if (r == child)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (ms_until(end) <= 0) {
			kill(child, SIGKILL);
			waitpid(child, st, 0);
			return -1;
		}
		nanosleep(&tick, NULL);
	}
}

/* Run `tasktrace bt PID ID --crash-pc PC` with its output relayed into O.
 * Returns 0 when it printed the crashing task, else -1 with the reason in
 * WHY. */
static int symbolized(tt_rout *o, uint64_t task_id, uint64_t pc, tt_fbuf *why)
{
	char pid[24], id[24], at[40];
	tt_fbuf b;
	struct timespec end;
	int st = 0, pfd[2];
	relay r = {.o = o};

	if (!cfg.tasktrace[0]) {
		tt_fb_str(why, "no tasktrace binary was found at install time");
		return -1;
	}
	tt_fb_init(&b, pid, sizeof(pid));
	tt_fb_u64(&b, (uint64_t)getpid());
	tt_fb_init(&b, id, sizeof(id));
	tt_fb_u64(&b, task_id);
	/* The crashing thread's stack starts at the interrupted frame, not in
	 * this handler. */
	tt_fb_init(&b, at, sizeof(at));
	tt_fb_str(&b, "--crash-pc=");
	tt_fb_hex(&b, pc);
	char *argv[] = {cfg.tasktrace, (char *)"bt", pid, id, pc ? at : NULL, NULL};
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		tt_fb_str(why, "no pipe for tasktrace's output");
		return -1;
	}
	tt_rout_flush(o);
	/* A raw fork: glibc's fork() runs atfork handlers that take malloc's
	 * locks, which the crashed thread may hold. */
	pid_t child = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (child < 0) {
		close(pfd[0]);
		close(pfd[1]);
		tt_fb_str(why, "fork failed");
		return -1;
	}
	if (child == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execve(cfg.tasktrace, argv, environ);
		_exit(127);
	}
	close(pfd[1]);
	/* Under Yama ptrace_scope=1 only a designated tracer may read us. */
	prctl(PR_SET_PTRACER, child, 0, 0, 0);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += cfg.timeout_ms / 1000;
	end.tv_nsec += (long)(cfg.timeout_ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	int late = relay_until(&r, pfd[0], &end);
	close(pfd[0]);
	if (r.len)
		relay_line(&r, 0);
	late |= reap(child, late ? &(struct timespec){0, 0} : &end, &st);
	if (r.cut) {
		char mem[160];
		tt_fb_init(&b, mem, sizeof(mem));
		tt_fb_str(&b, "... (");
		tt_fb_u64(&b, r.cut);
		tt_fb_str(&b, " of the ");
		tt_fb_u64(&b, r.got);
		tt_fb_str(&b, " bytes tasktrace printed cut: the report's budget ran out)");
		tt_rout_force(o, b.p);
	}
	if (late) {
		tt_fb_str(why, "tasktrace timed out and was killed");
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
		tt_fb_str(why, "tasktrace could not be run");
	} else if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
		tt_fb_str(why, "tasktrace failed with exit status ");
		tt_fb_u64(why, (uint64_t)WEXITSTATUS(st));
	} else if (!WIFEXITED(st)) {
		tt_fb_str(why, "tasktrace died of signal ");
		tt_fb_u64(why, (uint64_t)WTERMSIG(st));
	} else if (!r.got) {
		tt_fb_str(why, "tasktrace printed nothing");
	} else {
		return 0;
	}
	return -1;
}

/* ---- the report ---- */

typedef struct where {
	int sig;
	int code;
	uint64_t addr;
	pid_t sender;
	uint64_t pc, fp, sp;
} where;

static void from_context(where *w, const ucontext_t *uc)
{
	tt_cb_regs(uc, &w->pc, &w->fp, &w->sp);
}

static void header(tt_rout *o, const where *w, char *mem, size_t len)
{
	tt_fbuf b;
	char tname[17] = "";

	tt_fb_init(&b, mem, len);
	tt_fb_str(&b, "tasktrace: fatal signal ");
	tt_fb_str(&b, sig_name(w->sig));
	const char *c = code_text(w->sig, w->code);
	if (c) {
		tt_fb_str(&b, " (");
		tt_fb_str(&b, c);
		if (w->code <= 0 && w->sender) {
			tt_fb_str(&b, ", pid ");
			tt_fb_u64(&b, (uint64_t)w->sender);
		}
		tt_fb_str(&b, ")");
	}
	if (has_addr(w->sig) && w->code > 0) {
		tt_fb_str(&b, " at address ");
		tt_fb_hex(&b, w->addr);
	}
	tt_rout_force(o, b.p);
	prctl(PR_GET_NAME, tname, 0, 0, 0);
	tt_fb_init(&b, mem, len);
	tt_fb_str(&b, "tasktrace: pid ");
	tt_fb_u64(&b, (uint64_t)getpid());
	tt_fb_str(&b, ", thread ");
	tt_fb_u64(&b, (uint64_t)my_tid());
	tt_fb_str(&b, " \"");
	tt_fb_text(&b, tname);
	tt_fb_str(&b, "\"");
	tt_worker *wk = tt__tls_worker;
	if (wk) {
		tt_fb_str(&b, ", worker ");
		tt_fb_u64(&b, wk->index);
	}
	tt_task *t = tt__tls_task;
	if (t) {
		char name[TT_TASK_NAME_MAX] = "";
		tt_mem m = tt_mem_self();
		tt_fb_str(&b, ", polling task ");
		tt_fb_u64(&b, atomic_load_explicit(&t->id, RELAXED));
		/* Through process_vm_readv: the slot may be what is corrupt. */
		if (m.read(m.ctx, (uint64_t)(uintptr_t)t->name, name, sizeof(name) - 1) == 0) {
			tt_fb_str(&b, " \"");
			tt_fb_text(&b, name);
			tt_fb_str(&b, "\"");
		}
	} else {
		tt_fb_str(&b, ", not polling a task");
	}
	tt_rout_force(o, b.p);
	tt_rout_flush(o);
}

/* The crashing task's chain (for naming native frames) from the
 * registry: polls of every frame, with the await each is suspended at. */
size_t tt_cb_chain_polls(tt_rep *p, tt_rtask *t, tt_cb_poll *out, size_t cap)
{
	int err;
	size_t n = tt_rep_walk(p, t, &err), k = 0;

	for (size_t i = 0; i < n && k < cap; i++) {
		const tt_rep_sym *fn = tt_rep_func(p, p->frames[i].func);
		const tt_rep_sym *site = p->frames[i].site ? tt_rep_site(p, p->frames[i].site) : NULL;
		if (!fn || !fn->poll)
			continue;
		out[k].poll = fn->poll;
		out[k].name = fn->name;
		out[k].cfunc = site && (site->kind == UINT32_MAX) && site->name[0] &&
				       strcmp(site->name, "tasktrace") != 0 ?
				       site->name :
				       NULL;
		out[k].file = site && !(site->addr == (uint64_t)(uintptr_t)&tt_site_done) ?
				      site->file :
				      NULL;
		out[k].line = site ? site->line : 0;
		if (out[k].file && !out[k].file[0])
			out[k].file = NULL;
		k++;
	}
	return k;
}

static void others(tt_rep *p, tt_rout *o, uint64_t skip, char *mem, size_t len)
{
	tt_rep_iter it = { 0 };
	tt_rtask t;
	tt_fbuf b;
	size_t total = 0, shown = 0;

	for (size_t i = 0; i < p->nents; i++)
		total += p->ents[i].id != skip;
	tt_fb_init(&b, mem, len);
	tt_fb_str(&b, "other tasks (");
	tt_fb_u64(&b, total);
	tt_fb_str(&b, "):");
	tt_rout_line(o, b.p);
	tt_fb_init(&b, mem, len);
	tt_fmt_ps_header(&b);
	tt_rout_line(o, b.p);
	while (tt_rep_next(p, &it, &t) == 1) {
		if (t.id == skip)
			continue;
		if (!tt_rep_ps_row(p, o, &t))
			break;
		shown++;
	}
	if (shown < total) {
		tt_fb_init(&b, mem, len);
		tt_fb_str(&b, "... ");
		tt_fb_u64(&b, total - shown);
		tt_fb_str(&b, " more tasks");
		tt_rout_force(o, b.p);
	}
}

#define RESERVE 512
#define CRASHING_TASK (16u << 10)

/* The last line: the size of the whole report, this line included. */
static void closing(tt_rout *o, int sig, char *mem, size_t len)
{
	tt_fbuf b;
	size_t total = o->written;

	/* The count is part of the line it counts: until its digits settle. */
	for (int i = 0; i < 4; i++) {
		tt_fb_init(&b, mem, len);
		tt_fb_str(&b, "tasktrace: end of crash report (");
		tt_fb_u64(&b, total);
		tt_fb_str(&b, earlier(sig) ? " bytes); the earlier handler of "
					   : " bytes); the default action of ");
		tt_fb_str(&b, sig_name(sig));
		tt_fb_str(&b, " follows");
		if (o->written + b.len + 1 == total)
			break;
		total = o->written + b.len + 1;
	}
	tt_rout_force(o, b.p);
}

static size_t report(int fd, const where *w)
{
	static tt_cb_poll polls[64]; /* one report at a time: reporting guards it */
	tt_rout o;
	char line[1024];
	char err[160];
	tt_fbuf b;
	tt_rtask t;
	tt_native nb;
	int have_task = 0;

	tt_rout_init(&o, fd, cfg.max_bytes ? cfg.max_bytes : DEFAULT_MAX);
	tt_rout_section(&o, 1024, RESERVE);
	header(&o, w, line, sizeof(line));
	if (moved_note[0])
		tt_rout_force(&o, moved_note);
	if (cfg.test_fault)
		*(volatile int *)test_fault_addr = 1; /* tests: a crash while reporting */

	tt_rep *p = tt_rep_open(1, err, sizeof(err));
	if (!p) {
		tt_fb_init(&b, line, sizeof(line));
		tt_fb_str(&b, "tasktrace: cannot read the task registry: ");
		tt_fb_text(&b, err);
		tt_rout_force(&o, b.p);
	}
	if (p && tt__tls_task &&
	    tt_rep_task(p, (uint64_t)(uintptr_t)tt__tls_task, &t) == TT_R_OK && t.id)
		have_task = 1;

	size_t npolls = p && have_task ? tt_cb_chain_polls(p, &t, polls, 64) : 0;
	tt_rout_section(&o, 12u << 10, RESERVE);
	tt_fb_init(&b, line, sizeof(line));
	tt_fb_str(&b, "\nthread ");
	tt_fb_u64(&b, (uint64_t)my_tid());
	tt_fb_str(&b, " backtrace (innermost first, executor frames pruned):");
	tt_rout_line(&o, b.p);
	tt_cb_walk(w->pc, w->fp, w->sp, stack_lo, stack_hi, &nb);
	tt_cb_print(&o, &nb, polls, npolls);

	tt_rout_section(&o, CRASHING_TASK, RESERVE);
	if (have_task) {
		char whymem[96];
		tt_fbuf why;
		tt_fb_init(&why, whymem, sizeof(whymem));
		tt_rout_line(&o, "\ncrashing task:");
		if (!cfg.symbolize || symbolized(&o, t.id, w->pc, &why) != 0) {
			if (why.len) {
				tt_fb_init(&b, line, sizeof(line));
				tt_fb_str(&b, "(symbolized report unavailable: ");
				tt_fb_str(&b, why.p);
				tt_fb_str(&b, "; in-process chain follows)");
				tt_rout_force(&o, b.p);
				/* Room of its own: tasktrace may have used the
				 * section before failing. */
				tt_rout_section(&o, CRASHING_TASK / 4, RESERVE);
			}
			tt_rep_bt(p, &o, &t);
		}
		tt_rep_history(p, &o, t.id);
	}
	if (p) {
		tt_rout_section(&o, SIZE_MAX / 2, RESERVE);
		tt_rout_line(&o, "");
		others(p, &o, have_task ? t.id : 0, line, sizeof(line));
		tt_rep_close(p);
	}
	closing(&o, w->sig, line, sizeof(line));
	tt_rout_flush(&o);
	return o.written;
}

/* ---- the handler ---- */

/* Hand SIG on: to the earlier handler when CHAIN and there is one, else to
 * the default action. */
static void pass_on(int sig, int resend, int chain)
{
	const struct sigaction *next = chain ? earlier(sig) : NULL;
	struct sigaction dfl;
	sigset_t s;

	if (!next) {
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigemptyset(&dfl.sa_mask);
		next = &dfl;
	}
	sigaction(sig, next, NULL);
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	/* A fault re-executes when the handler returns and reaches it with the
	 * original state (the default action: in the core); a sent signal
	 * must be sent again. */
	if (resend)
		syscall(SYS_tgkill, getpid(), my_tid(), sig);
}

static _Atomic int first_sig;

static void on_fatal(int sig, siginfo_t *si, void *ucv)
{
	int saved = errno;
	pid_t me = my_tid(), expect = 0;
	int fd = atomic_load(&out_fd);
	sigset_t pipe;

	/* A closed pipe must not turn our report into a SIGPIPE death. */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe, NULL);
	if (!atomic_compare_exchange_strong(&reporting, &expect, me)) {
		if (expect == me) {
			if (fd >= 0)
				say(fd, "tasktrace: crashed again while writing the crash report; "
					"giving up on it");
			int first = atomic_load(&first_sig);
			pass_on(sig, 0, 0);
			pass_on(first ? first : sig, 1, 0);
			return;
		}
		/* Another thread is reporting: let it finish; the process
		 * dies when it re-raises. */
		if (fd >= 0)
			say(fd, "tasktrace: another thread crashed while the crash report is "
				"being written");
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		for (int i = 0; i < 600; i++)
			nanosleep(&ts, NULL);
		pass_on(sig, si->si_code <= 0, 1);
		errno = saved;
		return;
	}
	atomic_store(&first_sig, sig);
	fd = tt_rdest_open(&dest, moved_note, sizeof(moved_note));
	atomic_store(&out_fd, fd);
	where w = { sig, si->si_code, (uint64_t)(uintptr_t)si->si_addr, 0, 0, 0, 0 };
	if (si->si_code <= 0)
		w.sender = si->si_pid;
	if (ucv)
		from_context(&w, ucv);
	if (fd >= 0)
		report(fd, &w);
	atomic_store(&out_fd, -1);
	if (fd >= 0 && moved_note[0])
		close(fd);
	pass_on(sig, si->si_code <= 0 || sig == SIGABRT, 1);
	errno = saved;
}

size_t tt_crash_report(int fd, int signo, const void *addr)
{
	where w = { signo, 1, (uint64_t)(uintptr_t)addr, 0, 0, 0, 0 };
	pid_t expect = 0, me = my_tid();

	if (!atomic_compare_exchange_strong(&reporting, &expect, me))
		return 0;
	if (!tt_cb_modules_captured())
		tt_cb_modules_capture();
	if (!stack_hi)
		record_stack_bounds();
	moved_note[0] = 0;
	w.pc = (uint64_t)(uintptr_t)__builtin_return_address(0);
	w.fp = (uint64_t)(uintptr_t)__builtin_frame_address(0);
	w.sp = w.fp;
	size_t n = report(fd > 0 ? fd : 2, &w);
	atomic_store(&reporting, 0);
	return n;
}

/* ---- install ---- */

static void find_tasktrace(const char *given)
{
	const char *env = getenv("TASKTRACE_BIN");
	const char *path = getenv("PATH");

	cfg.tasktrace[0] = 0;
	if (given || env) {
		snprintf(cfg.tasktrace, sizeof(cfg.tasktrace), "%s", given ? given : env);
		return;
	}
	/* execvp is not async-signal-safe: search PATH now. */
	while (path && *path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		if (n && n + 11 < sizeof(cfg.tasktrace)) {
			memcpy(cfg.tasktrace, path, n);
			memcpy(cfg.tasktrace + n, "/tasktrace", 11);
			if (access(cfg.tasktrace, X_OK) == 0)
				return;
		}
		path = end ? end + 1 : NULL;
	}
	cfg.tasktrace[0] = 0;
}

int tt_crash_install(const tt_crash_opts *opts)
{
	tt_crash_opts d;
	struct sigaction sa;
	int rc;

	if (!opts) {
		memset(&d, 0, sizeof(d));
		opts = &d;
	}
	cfg.fd = opts->fd > 0 ? opts->fd : 2;
	tt_rdest_init(&dest, cfg.fd, "crash");
	cfg.max_bytes = opts->max_bytes ? opts->max_bytes : DEFAULT_MAX;
	if (cfg.max_bytes < 2 * RESERVE)
		cfg.max_bytes = 2 * RESERVE;
	cfg.symbolize = opts->symbolize;
	cfg.timeout_ms = opts->symbolize_timeout_ms ? opts->symbolize_timeout_ms : 5000;
	cfg.test_fault = opts->test_fault_in_handler;
	if (cfg.symbolize)
		find_tasktrace(opts->tasktrace_path);
	tt_cb_modules_capture();
	if ((rc = tt_crash_thread_init()) < 0)
		return rc;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fatal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NFATAL; i++) {
		if (sigaction(fatal[i], &sa, atomic_load(&installed) ? NULL : &old_actions[i]) != 0)
			return -errno;
	}
	atomic_store(&installed, 1);
	return 0;
}

void tt_crash_uninstall(void)
{
	if (!atomic_exchange(&installed, 0))
		return;
	for (size_t i = 0; i < NFATAL; i++)
		sigaction(fatal[i], &old_actions[i], NULL);
}
