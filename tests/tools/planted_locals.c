/* Input of the locals check (tools/tt-check-locals.py): each line marked
 * "@flag:" and the local's name must report that local, and no other line.  Never
 * compiled into a program. */
#include "tasktrace/tasktrace.h"

static void use(int v) { (void)v; }

/* The trap of issue 18: a local set before an await, read after it. */
TT_ASYNC(planted, tt_sleep nap;);
TT_POLL(planted)
{
	TT_BEGIN(self);
	int n = 42;
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(n)));
	use(n); /* @flag:n */
	TT_RETURN(self, 0);
}

/* Read before the yield on the page, but after it on the next turn. */
TT_ASYNC(looped, int total;);
TT_POLL(looped)
{
	TT_BEGIN(self);
	int step = 1;
	for (;;) {
		self->total += step; /* @flag:step */
		TT_YIELD(self, cx);
	}
}

/* Not findings: a local used only in the await's own arguments (they run
 * before it suspends), one declared after the await, one computed before
 * TT_BEGIN (again on every poll), a static, and the other branch of an if. */
TT_ASYNC(fine, int *out; int k; tt_sleep nap;);
TT_POLL(fine)
{
	int *out = self->out;
	TT_BEGIN(self);
	static int calls;
	int ms = 5;
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(ms)));
	int after = 3;
	*out = after + calls++;
	for (self->k = 0; self->k < 2; self->k++) {
		int d = self->k;
		if (d)
			TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(1)));
		else
			TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(d)));
	}
	TT_RETURN(self, 0);
}
