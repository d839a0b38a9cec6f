/* Real frames for task backtraces: the worker stack of a running task
 * with the executor's frames pruned, and the inline callers of a
 * suspended async function.
 *
 * Pruning is data: a regex for the runtime's own frames (run loop, poll
 * trampolines, waker plumbing, thread start), the user's --prune
 * patterns on top, and a cut after the task's root poll function, since
 * everything outside it belongs to the executor (or to block_on's
 * caller), not to the task. */
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct pruner {
	regex_t re[CLI_MAX_PRUNE + 1];
	int n;
	const char *cut; /* the task's root poll function */
} pruner;

static void pruner_init(pruner *p, const cli_opts *o)
{
	p->n = 0;
	p->cut = NULL;
	if (o->no_prune)
		return;
	if (regcomp(&p->re[p->n], tt_bt_default_prune(), REG_EXTENDED | REG_NOSUB) == 0)
		p->n++;
	for (int i = 0; i < o->nprune; i++)
		if (regcomp(&p->re[p->n], o->prune[i], REG_EXTENDED | REG_NOSUB) == 0)
			p->n++;
}

static void pruner_free(pruner *p)
{
	for (int i = 0; i < p->n; i++)
		regfree(&p->re[i]);
	p->n = 0;
}

static int pruned(const pruner *p, const char *func)
{
	for (int i = 0; i < p->n && func; i++)
		if (regexec(&p->re[i], func, 0, NULL, 0) == 0)
			return 1;
	return 0;
}

/* The C function that polls T's root future, by its FUNC record. */
static const char *root_poll_name(tt_sym *sym, const tt_stask *t)
{
	tt_sym_frame f[8];

	if (!t->nframes || !t->frames[0].func->poll)
		return NULL;
	int n = tt_sym_lookup(sym, t->frames[0].func->poll, 0, f, 8);
	return n > 0 ? f[n - 1].function : NULL;
}

int native_stack(cli_session *s, const tt_stask *t, native_frame *out,
		 int cap, char *err, size_t errlen)
{
	tt_sym_pc pcs[NATIVE_MAX];
	tt_sym_frame chain[32];
	pruner p;
	int n = 0;

	int64_t tid = tt_snapshot_worker_tid(s->snap, t->raw.worker);
	if (tid <= 0) {
		snprintf(err, errlen, "the thread of worker %d is unknown", (int)t->raw.worker);
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
	int npc = tt_sym_unwind(sym, (pid_t)tid, pcs, NATIVE_MAX, err, errlen);
	if (npc < 0)
		return -1;
	pruner_init(&p, s->opts);
	if (!s->opts->no_prune)
		p.cut = root_poll_name(sym, t);
	for (int i = 0; i < npc && n < cap; i++) {
		int m = tt_sym_lookup(sym, pcs[i].pc, !pcs[i].activation, chain, 32);
		int cut = 0;
		for (int k = 0; k < m && n < cap; k++) {
			if (pruned(&p, chain[k].function))
				continue;
			out[n].pc = pcs[i].pc;
			out[n].f = chain[k];
			n++;
			if (p.cut && chain[k].function && strcmp(chain[k].function, p.cut) == 0)
				cut = 1;
		}
		if (cut)
			break;
	}
	pruner_free(&p);
	return n;
}

int native_site_callers(cli_session *s, const tt_ssite *site,
			native_frame *out, int cap)
{
	tt_sym_frame chain[32];
	int n = 0;

	if (!site || !site->resume || !site->function)
		return 0;
	tt_sym *sym = cli_sym(s);
	if (!sym)
		return 0;
	/* The resume label is an address inside the poll function, not a
	 * return address: no adjustment. */
	int m = tt_sym_lookup(sym, site->resume, 0, chain, 32);
	int k = 0;
	while (k < m && (!chain[k].function || strcmp(chain[k].function, site->function) != 0))
		k++;
	for (k++; k < m && n < cap; k++, n++) {
		out[n].pc = site->resume;
		out[n].f = chain[k];
	}
	return n;
}
