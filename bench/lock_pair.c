/* Uncontended lock + unlock, N times in one task on a current-thread
 * runtime: the mutex (tt_lock + tt_mutex_unlock) against the reader-writer
 * lock's read and write sides.  For callgrind (bench/locked_count.py counts
 * the locked instructions executed); RESULTS.md "Reader-writer lock".
 *
 * usage: lock_pair mutex|read|write N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasktrace/tasktrace.h"

typedef struct pair {
	tt_frame frame;
	int kind; /* 0 mutex, 1 read, 2 write */
	long n, i;
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
	for (self->i = 0; self->i < self->n; self->i++) {
		if (self->kind == 0) {
			TT_AWAIT(self, cx, &self->u.lk, tt_lock_init(&self->u.lk, &self->m));
			if (tt_mutex_unlock(&self->m))
				TT_RETURN(self, -1);
		} else if (self->kind == 1) {
			TT_AWAIT(self, cx, &self->u.op, tt_read_lock_init(&self->u.op, &self->rw));
			if (tt_rwlock_read_unlock(&self->rw))
				TT_RETURN(self, -1);
		} else {
			TT_AWAIT(self, cx, &self->u.op, tt_write_lock_init(&self->u.op, &self->rw));
			if (tt_rwlock_write_unlock(&self->rw))
				TT_RETURN(self, -1);
		}
	}
	TT_RETURN(self, 0);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: lock_pair mutex|read|write N\n");
		return 2;
	}
	static pair p;
	tt_frame_init(&p.frame, &pair_fn);
	p.kind = strcmp(argv[1], "mutex") == 0 ? 0 : strcmp(argv[1], "read") == 0 ? 1 : 2;
	p.n = atol(argv[2]);
	tt_mutex_init(&p.m);
	tt_rwlock_init(&p.rw);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 0});
	if (!rt)
		return 1;
	intptr_t r = tt_block_on(rt, &p.frame);
	tt_runtime_free(rt);
	return r == 0 ? 0 : 1;
}
