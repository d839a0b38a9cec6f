/* Real frames for task backtraces: the worker stack of a running task
 * with the executor's frames pruned, and the inline callers of a
 * suspended async function.  See tasktrace/read/sym.h.
 *
 * Pruning is data: a regex for the runtime's own frames (run loop, poll
 * trampolines, waker plumbing, thread start; tt_bt_default_prune), the
 * user's patterns on top, and a cut after the task's root poll function,
 * since everything outside it belongs to the executor (or to block_on's
 * caller), not to the task. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "sym/sym_priv.h"

#define PRUNE_MAX 16
#define STACK_MAX 256

typedef struct pruner {
	regex_t re[PRUNE_MAX + 1];
	int n;
} pruner;

static void pruner_init(pruner *p, const char *const *prune, int nprune, int no_prune)
{
	p->n = 0;
	if (no_prune)
		return;
	if (regcomp(&p->re[p->n], tt_bt_default_prune(), REG_EXTENDED | REG_NOSUB) == 0)
		p->n++;
	for (int i = 0; i < nprune && p->n <= PRUNE_MAX; i++)
		if (prune[i] && regcomp(&p->re[p->n], prune[i], REG_EXTENDED | REG_NOSUB) == 0)
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

/* The C function at POLL (outside any inline chain). */
static const char *poll_name(tt_sym *sym, uint64_t poll)
{
	tt_sym_frame f[8];

	if (!poll)
		return NULL;
	int n = tt_sym_lookup(sym, poll, 0, f, 8);
	return n > 0 ? f[n - 1].function : NULL;
}

int tt_sym_prune_stack(tt_sym *sym, const tt_sym_pc *pcs, int npc, uint64_t root_poll,
		       const char *const *prune, int nprune, int no_prune, tt_sym_at *out, int cap)
{
	tt_sym_frame chain[32];
	pruner p;
	int n = 0;

	pruner_init(&p, prune, nprune, no_prune);
	const char *cut = no_prune ? NULL : poll_name(sym, root_poll);
	for (int i = 0; i < npc && n < cap; i++) {
		int m = tt_sym_lookup(sym, pcs[i].pc, !pcs[i].activation, chain, 32);
		int stop = 0;
		for (int k = 0; k < m && n < cap; k++) {
			if (pruned(&p, chain[k].function))
				continue;
			out[n].pc = pcs[i].pc;
			out[n].f = chain[k];
			n++;
			if (cut && chain[k].function && strcmp(chain[k].function, cut) == 0)
				stop = 1;
		}
		if (stop)
			break;
	}
	pruner_free(&p);
	return n;
}

int tt_sym_task_stack(tt_sym *sym, pid_t tid, uint64_t root_poll, const char *const *prune,
		      int nprune, int no_prune, tt_sym_at *out, int cap, char *err, size_t errlen)
{
	tt_sym_pc pcs[STACK_MAX];

	int npc = tt_sym_unwind(sym, tid, pcs, STACK_MAX, err, errlen);
	if (npc < 0)
		return -1;
	return tt_sym_prune_stack(sym, pcs, npc, root_poll, prune, nprune, no_prune, out, cap);
}

int tt_sym_site_callers(tt_sym *sym, uint64_t resume, const char *function, tt_sym_at *out, int cap)
{
	tt_sym_frame chain[32];
	int n = 0;

	if (!resume || !function)
		return 0;
	/* The resume label is an address inside the poll function, not a
	 * return address: no adjustment. */
	int m = tt_sym_lookup(sym, resume, 0, chain, 32);
	int k = 0;
	while (k < m && (!chain[k].function || strcmp(chain[k].function, function) != 0))
		k++;
	for (k++; k < m && n < cap; k++, n++) {
		out[n].pc = resume;
		out[n].f = chain[k];
	}
	return n;
}

/* A poll function is not bigger than this. */
#define POLL_SPAN (64u << 10)

int tt_sym_name_async(tt_sym *sym, const tt_stask *t, tt_sym_at *at, int n)
{
	int named = 0;
	char *used = t && t->nframes ? calloc(t->nframes, 1) : NULL;

	/* Without symbols a PC is in the poll function whose entry (a FUNC
	 * record's) precedes it closest in its module.  Outermost first,
	 * each async frame of the task names one machine frame: a nameless
	 * helper the poll function called is inner, and stays "??". */
	for (int k = n; k-- > 0 && used;) {
		tt_sym_frame *f = &at[k].f;
		if (f->function || f->inlined || !at[k].pc)
			continue;
		/* A caller's PC is a return address: its call is the byte
		 * before, still in the function. */
		uint64_t addr = k ? at[k].pc - 1 : at[k].pc;
		const tt_sframe *best = NULL;
		size_t bj = 0;
		for (size_t j = 0; j < t->nframes; j++) {
			const tt_sframe *fr = &t->frames[j];
			uint64_t p = fr->func ? fr->func->poll : 0;
			if (used[j] || !p || p > addr || addr - p >= POLL_SPAN ||
			    (best && p <= best->func->poll) || !tt_sym_same_module(sym, p, addr))
				continue;
			best = fr;
			bj = j;
		}
		if (!best)
			continue;
		used[bj] = 1;
		/* Suspended at an await: the poll function and line of its
		 * site; else the async function's own. */
		if (best->site && best->site->function) {
			f->function = best->site->function;
			f->file = best->site->file;
			f->line = best->site->line;
		} else {
			f->function = best->func->name;
			f->file = best->func->file;
			f->line = best->func->line;
		}
		f->comp_dir = NULL;
		f->column = 0;
		named++;
	}
	free(used);
	return named;
}

#define CALLERS_MAX 16

struct tt_sym_bt {
	tt_sym *sym;
	tt_sym_at at[CALLERS_MAX];
	tt_bt_native out[CALLERS_MAX];
};

tt_sym_bt *tt_sym_bt_new(tt_sym *s)
{
	tt_sym_bt *b = calloc(1, sizeof(*b));

	if (b)
		b->sym = s;
	return b;
}

void tt_sym_bt_free(tt_sym_bt *b)
{
	free(b);
}

int tt_sym_bt_inlined(void *ctx, const tt_stask *t, const tt_ssite *site, const tt_bt_native **out)
{
	tt_sym_bt *b = ctx;
	int n = site ? tt_sym_site_callers(b->sym, site->resume, site->function, b->at, CALLERS_MAX)
		     : 0;

	for (int k = 0; k < n; k++) {
		const tt_sym_frame *f = &b->at[k].f;
		b->out[k] = (tt_bt_native){b->at[k].pc, f->inlined, f->function,
					   f->file,	f->line,    f->module};
	}
	*out = b->out;
	return n;
}
