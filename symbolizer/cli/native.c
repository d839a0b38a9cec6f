/* Real frames for task backtraces, for this session: the worker stack of
 * a running task and the inline callers of a suspended async function.
 * The pruning and the lookups are libtasktrace-sym's (sym_bt.c), shared
 * with gdb; what is here is what only the CLI knows (its options, whether
 * the process was stopped). */
#include <stdio.h>

#include "cli.h"

int native_stack(cli_session *s, const tt_stask *t, native_frame *out,
		 int cap, char *err, size_t errlen)
{
	int64_t tid = tt_snapshot_task_tid(s->snap, &t->raw);
	if (tid <= 0) {
		char w[48];
		tt_fbuf b;
		tt_fb_init(&b, w, sizeof(w));
		tt_fmt_worker(&b, t->raw.runtime_id, t->raw.worker, s->snap->runtimes.count > 1);
		uint64_t parent = tt_runtimes_inherited(&s->snap->runtimes, t->raw.runtime_id);
		if (parent)
			snprintf(err, errlen, "worker %s was a thread of pid %llu, copied by fork",
				 w, (unsigned long long)parent);
		else
			snprintf(err, errlen, "the thread of worker %s is unknown", w);
		return -1;
	}
	if (!s->core && !s->stopped) {
		snprintf(err, errlen, "its stack is not unwound without stopping the process "
			 "(--nonblocking)");
		return -1;
	}
	tt_sym *sym = cli_sym(s);
	if (!sym) {
		snprintf(err, errlen, "no symbols for %s", cli_target_name(s));
		return -1;
	}
	uint64_t poll = t->nframes ? t->frames[0].func->poll : 0;
	tt_sym_pc pcs[NATIVE_MAX];
	int npc = tt_sym_unwind(sym, (pid_t)tid, pcs, NATIVE_MAX, err, errlen);
	if (npc < 0)
		return -1;
	/* The thread that crashed is in the crash handler, which ran us: its
	 * stack starts at the frame the signal interrupted. */
	int from = 0;
	while (s->opts->crash_pc && from < npc && pcs[from].pc != s->opts->crash_pc)
		from++;
	if (from == npc)
		from = 0;
	int n = tt_sym_prune_stack(sym, pcs + from, npc - from, poll, s->opts->prune,
				   s->opts->nprune, s->opts->no_prune, out, cap);
	if (n > 0)
		tt_sym_name_async(sym, t, out, n);
	return n;
}

int native_site_callers(cli_session *s, const tt_ssite *site,
			native_frame *out, int cap)
{
	if (!site || !site->resume || !site->function)
		return 0;
	tt_sym *sym = cli_sym(s);
	return sym ? tt_sym_site_callers(sym, site->resume, site->function, out, cap) : 0;
}
