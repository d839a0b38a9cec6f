/* A growing NUL-terminated string for the readers' reports (diagnose.c,
 * tasklist.c).  Out of memory is sticky: later appends are dropped and
 * the caller checks oom once at the end. */
#ifndef TASKTRACE_STRBUF_H
#define TASKTRACE_STRBUF_H

#include <stdlib.h>
#include <string.h>

typedef struct sb {
	char *p;
	size_t len, cap;
	int oom;
} sb;

static inline void sb_add(sb *b, const char *s)
{
	size_t n = strlen(s);

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

#endif
