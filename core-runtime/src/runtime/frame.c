/* Frame cancellation ("async drop") and leaf wait descriptors. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/internal.h"

void tt_frame_cancel(tt_frame *f)
{
	if (f->state & TT_FRAME_DONE)
		return;
	/* Never polled: only a function that asked (TT_ASYNC_FN_CLEANUP) has
	 * a cleanup that copes with a frame its poll never set up. */
	if (!(f->state & TT_FRAME_STARTED) && !(f->func->flags & TT_FUNC_DROP_UNSTARTED))
		return;
	/* Innermost first: a cleanup may rely on its children being gone. */
	for (tt_frame *c = f->child; c;) {
		tt_frame *next = c->sibling;
		tt_frame_cancel(c);
		c = next;
	}
	f->child = NULL;
	f->state |= TT_FRAME_DONE | TT_FRAME_CANCELLED;
	f->result = TT_ECANCELED;
	if (f->func->drop)
		f->func->drop(f);
	if (f->state & TT_FRAME_GUARDS)
		tt_frame_release_guards(f);
}

uint64_t tt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* (Parenthesised names: internal.h maps the runtime's own calls to inline
 * versions.) */
void(tt_wait_set)(tt_wait *w, uint32_t kind, const void *object, uint64_t owner, uint64_t detail)
{
	tt__wait_set(w, kind, object, owner, detail);
}

void(tt_wait_set_name)(tt_wait *w, const char *name)
{
	tt__wait_name(w, name);
}

void(tt_wait_clear)(tt_wait *w)
{
	tt__wait_clear(w);
}

void tt_frame_discard(tt_frame *f)
{
	if (!f)
		return;
	int e = errno;
	tt_frame_cancel(f);
	tt_frame_free(f);
	errno = e;
}

void *tt_frame_alloc(size_t size)
{
	return calloc(1, size);
}

void tt_frame_free(void *frame)
{
	free(frame);
}
