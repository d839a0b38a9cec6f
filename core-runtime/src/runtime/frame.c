/* Frame cancellation ("async drop") and leaf wait descriptors. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
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

#if defined(__SANITIZE_ADDRESS__)
#define FCACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FCACHE 0
#endif
#endif
#ifndef FCACHE
#define FCACHE 1
#endif

/* A block of usable size U is in class floor((U + 8) / 16) (glibc's sizes
 * are 16k - 8: class k); a request of SIZE takes from class
 * ceil((SIZE + 8) / 16), whose blocks hold at least 16k - 8 >= SIZE bytes,
 * whatever the allocator. */
void *tt_frame_alloc(size_t size)
{
	tt_worker *w = tt__tls_worker;
	size_t k = (size + 8 + 15) / 16;
	if (FCACHE && w && k < TT_FCACHE_CLASSES) {
		void *p = w->frames.head[k];
		if (p) {
			w->frames.head[k] = *(void **)p;
			w->frames.bytes -= k * 16;
			return memset(p, 0, size);
		}
	}
	return calloc(1, size);
}

void tt_frame_free(void *frame)
{
	tt_worker *w = tt__tls_worker;
	/* (A full cache, as in a burst, skips the size lookup.) */
	if (FCACHE && w && frame && w->frames.bytes <= TT_FCACHE_BYTES - 16 * TT_FCACHE_CLASSES) {
		size_t k = (malloc_usable_size(frame) + 8) / 16;
		if (k < TT_FCACHE_CLASSES && w->frames.bytes + k * 16 <= TT_FCACHE_BYTES) {
			*(void **)frame = w->frames.head[k];
			w->frames.head[k] = frame;
			w->frames.bytes += k * 16;
			return;
		}
	}
	free(frame);
}

void tt_frame_cache_drain(tt_frame_cache *c)
{
	for (size_t k = 0; k < TT_FCACHE_CLASSES; k++)
		while (c->head[k]) {
			void *p = c->head[k];
			c->head[k] = *(void **)p;
			free(p);
		}
	c->bytes = 0;
}
