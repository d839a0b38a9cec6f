/* Uncontended lock + unlock, N times in one task on a current-thread
 * runtime: the mutex (tt_lock + tt_mutex_unlock) against the reader-writer
 * lock's read and write sides, each also through a guard (taken with
 * tt_lock_guard_init / tt_read_guard_init / tt_write_guard_init, let go
 * with tt_guard_unlock / tt_rwlock_guard_unlock); and N checks of a
 * cancellation token.  For callgrind (bench/locked_count.py counts the
 * locked instructions executed); RESULTS.md "Reader-writer lock" and
 * "Server primitives".
 *
 * usage: lock_pair mutex|read|write|mutex-guard|read-guard|write-guard|token N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasktrace/tasktrace.h"

static const char *const kinds[] = {"mutex",	  "read",	 "write", "mutex-guard",
				    "read-guard", "write-guard", "token"};

typedef struct pair {
	tt_frame frame;
	int kind; /* index in KINDS */
	long n, i;
	tt_token *tok;
	tt_mutex m;
	tt_rwlock rw;
	union {
		tt_lock lk;
		tt_rwlock_op op;
	} u;
} pair;
static tt_poll pair_poll(pair *self, tt_cx *cx);
TT_ASYNC_FN(pair, pair_poll, NULL);
static tt_poll pair_poll(pair *self, tt_cx *cx)
{
	TT_BEGIN(self);
	if (self->kind == 6) {
		/* The check a loop makes between steps; the volatile count keeps
		 * the compiler from hoisting it out. */
		volatile long stopped = 0;
		for (long i = 0; i < self->n; i++)
			stopped += tt_token_cancelled(self->tok);
		TT_RETURN(self, stopped ? -1 : 0);
	}
	for (self->i = 0; self->i < self->n; self->i++) {
		switch (self->kind) {
		case 0:
			TT_AWAIT(self, cx, &self->u.lk, tt_lock_init(&self->u.lk, &self->m));
			if (tt_mutex_unlock(&self->m))
				TT_RETURN(self, -1);
			break;
		case 1:
			TT_AWAIT(self, cx, &self->u.op, tt_read_lock_init(&self->u.op, &self->rw));
			if (tt_rwlock_read_unlock(&self->rw))
				TT_RETURN(self, -1);
			break;
		case 2:
			TT_AWAIT(self, cx, &self->u.op, tt_write_lock_init(&self->u.op, &self->rw));
			if (tt_rwlock_write_unlock(&self->rw))
				TT_RETURN(self, -1);
			break;
		case 3:
			TT_AWAIT(self, cx, &self->u.lk,
				 tt_lock_guard_init(&self->u.lk, &self->m, &self->frame));
			if (tt_guard_unlock(&self->u.lk))
				TT_RETURN(self, -1);
			break;
		case 4:
			TT_AWAIT(self, cx, &self->u.op,
				 tt_read_guard_init(&self->u.op, &self->rw, &self->frame));
			if (tt_rwlock_guard_unlock(&self->u.op))
				TT_RETURN(self, -1);
			break;
		default:
			TT_AWAIT(self, cx, &self->u.op,
				 tt_write_guard_init(&self->u.op, &self->rw, &self->frame));
			if (tt_rwlock_guard_unlock(&self->u.op))
				TT_RETURN(self, -1);
			break;
		}
	}
	TT_RETURN(self, 0);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: lock_pair "
				"mutex|read|write|mutex-guard|read-guard|write-guard|token N\n");
		return 2;
	}
	static pair p;
	tt_frame_init(&p.frame, &pair_fn);
	p.kind = -1;
	for (int k = 0; k < (int)(sizeof kinds / sizeof kinds[0]); k++)
		if (!strcmp(argv[1], kinds[k]))
			p.kind = k;
	if (p.kind < 0)
		return 2;
	p.tok = tt_token_new(NULL);
	p.n = atol(argv[2]);
	tt_mutex_init(&p.m);
	tt_rwlock_init(&p.rw);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 0});
	if (!rt)
		return 1;
	intptr_t r = tt_block_on(rt, &p.frame);
	tt_runtime_free(rt);
	tt_token_free(p.tok);
	return r == 0 ? 0 : 1;
}
