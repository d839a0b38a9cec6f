/* The worker thread of a long poll, in words: the lines `tasktrace hung`
 * (cli/hung.c) and gdb's `task diagnose` put after the finding.  The
 * front ends get the system call and the stack each their own way (the
 * /proc files, a core's registers, gdb's frames); the words are these. */
#include "tasktrace/read/bt.h"

static int put(int (*out)(void *, const char *, size_t), void *ctx, tt_fbuf *b)
{
	return out(ctx, b->p, b->len);
}

int tt_bt_stalled_thread(int64_t tid, const tt_syscall *sc, const char *wchan,
			 const tt_bt_native *nf, int n, const char *err,
			 int (*out)(void *ctx, const char *s, size_t n), void *ctx)
{
	char line[512];
	tt_fbuf b;

	if (sc) {
		tt_fb_init(&b, line, sizeof(line));
		tt_fb_str(&b, "  thread ");
		tt_fb_u64(&b, (uint64_t)tid);
		tt_fb_str(&b, " is ");
		tt_fmt_syscall_of(&b, sc, wchan);
		if (!put(out, ctx, &b))
			return 0;
	}
	tt_fb_init(&b, line, sizeof(line));
	if (n <= 0 || !nf) {
		tt_fb_str(&b, "  (no native stack: ");
		tt_fb_text(&b, n < 0 && err && *err ? err : "no frames");
		tt_fb_str(&b, ")");
		return put(out, ctx, &b);
	}
	tt_fb_str(&b, "  native stack (innermost first, executor frames pruned):");
	if (!put(out, ctx, &b))
		return 0;
	for (int k = 0; k < n; k++) {
		tt_fb_init(&b, line, sizeof(line));
		tt_fb_str(&b, "  ");
		tt_fmt_bt_native(&b, k, nf[k].pc, nf[k].inlined, nf[k].function, nf[k].file,
				 nf[k].line, nf[k].module);
		if (!put(out, ctx, &b))
			return 0;
	}
	return 1;
}
