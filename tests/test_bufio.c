/* Buffered reading and writing as a user sees them: lines come back whole
 * however the bytes arrive, a read cancelled midway loses nothing, an
 * oversized record is an error that consumes nothing, writes reach the
 * peer only on a flush or a full buffer and in order, and bad input gets
 * error codes. */
#include <fcntl.h>
#include <sys/socket.h>

#include "sync_util.h"

/* A task reading records through B into LINES (joined with '|') until the
 * end of the stream or an error, which is its result. */
typedef struct liner {
	tt_frame frame;
	tt_bufreader *b;
	int delim;
	size_t cap;
	char rec[64];
	char lines[256];
	_Atomic int count;
	tt_read_until ru;
} liner;
static tt_poll liner_poll(liner *self, tt_cx *cx);
TT_ASYNC_FN(liner, liner_poll, NULL);
static tt_poll liner_poll(liner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		TT_AWAIT(self, cx, &self->ru,
			 tt_read_until_init(&self->ru, self->b, self->delim, self->rec, self->cap));
		if (TT_RESULT(&self->ru) <= 0)
			TT_RETURN(self, TT_RESULT(&self->ru));
		CHECK(strlen(self->rec) == (size_t)TT_RESULT(&self->ru));
		strcat(self->lines, self->rec);
		strcat(self->lines, "|");
		atomic_fetch_add(&self->count, 1);
	}
}

typedef struct bio_ctx {
	int sv[2]; /* sv[0] registered, sv[1] the test's end */
	tt_fd *fd;
	tt_bufreader b;
	tt_bufwriter w;
	liner l[2];
	tt_handle t[2];
} bio_ctx;

static void start_liner(bio_ctx *x, int k, int delim, size_t cap)
{
	memset(&x->l[k], 0, sizeof x->l[k]);
	tt_frame_init(&x->l[k].frame, &liner_fn);
	x->l[k].b = &x->b;
	x->l[k].delim = delim;
	x->l[k].cap = cap ? cap : sizeof x->l[k].rec;
	x->t[k] = spawn_frame("liner", &x->l[k].frame);
}
static void peer_write(bio_ctx *x, const char *s)
{
	ck_assert_int_eq(write(x->sv[1], s, strlen(s)), (ssize_t)strlen(s));
}
static void open_pair(bio_ctx *x, size_t rcap, size_t wcap)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x->sv), 0);
	ck_assert_int_eq(tt_fd_open(NULL, x->sv[0], &x->fd), 0);
	ck_assert_int_eq(tt_bufreader_init(&x->b, x->fd, rcap), 0);
	ck_assert_int_eq(tt_bufwriter_init(&x->w, x->fd, wcap), 0);
}
static void close_pair(bio_ctx *x)
{
	tt_bufreader_destroy(&x->b);
	tt_bufwriter_destroy(&x->w);
	ck_assert_int_eq(tt_fd_close(x->fd), 0);
	close(x->sv[1]);
}

/* Lines split across writes, several in one write, a last one without a
 * newline, then the end of the stream. */
static int lines_step(void *p, int i)
{
	bio_ctx *x = p;
	switch (i) {
	case 0:
		open_pair(x, 16, 16);
		start_liner(x, 0, '\n', 0);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(task_idle(x->t[0]));
		peer_write(x, "ab\ncd");
		return STEP_NEXT;
	case 2:
		WAIT_UNTIL(atomic_load(&x->l[0].count) == 1 && task_idle(x->t[0]));
		ck_assert_str_eq(x->l[0].lines, "ab\n|");
		ck_assert_uint_eq(tt_bufreader_buffered(&x->b), 2); /* "cd" waits */
		peer_write(x, "e\nf\ng\n");
		return STEP_NEXT;
	case 3:
		WAIT_UNTIL(atomic_load(&x->l[0].count) == 4 && task_idle(x->t[0]));
		/* 15 bytes in a 16-byte buffer, refilled as it drains. */
		peer_write(x, "0123456789abcd\n");
		peer_write(x, "tail");
		shutdown(x->sv[1], SHUT_WR);
		return STEP_NEXT;
	case 4:
		WAIT_UNTIL(tt_task_is_done(x->t[0]));
		ck_assert_int_eq(tt_task_result(x->t[0]), 0);
		ck_assert_str_eq(x->l[0].lines, "ab\n|cde\n|f\n|g\n|0123456789abcd\n|tail|");
		tt_task_release(x->t[0]);
		close_pair(x);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* Cancel-safe: a reader cancelled with half a line buffered leaves it
 * there; the next reader returns the whole line. */
static int cancel_step(void *p, int i)
{
	bio_ctx *x = p;
	switch (i) {
	case 0:
		open_pair(x, 32, 16);
		start_liner(x, 0, ';', 0);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(task_idle(x->t[0]));
		peer_write(x, "par");
		return STEP_NEXT;
	case 2:
		WAIT_UNTIL(tt_bufreader_buffered(&x->b) == 3 && task_idle(x->t[0]));
		tt_task_cancel(x->t[0]);
		return STEP_NEXT;
	case 3:
		WAIT_UNTIL(tt_task_is_done(x->t[0]));
		ck_assert_int_eq(tt_task_result(x->t[0]), TT_ECANCELED);
		ck_assert_uint_eq(tt_bufreader_buffered(&x->b), 3);
		start_liner(x, 1, ';', 0);
		return STEP_NEXT;
	case 4:
		WAIT_UNTIL(task_idle(x->t[1]));
		peer_write(x, "tial;");
		return STEP_NEXT;
	case 5:
		WAIT_UNTIL(atomic_load(&x->l[1].count) == 1);
		ck_assert_str_eq(x->l[1].lines, "partial;|");
		tt_task_cancel(x->t[1]);
		return STEP_NEXT;
	case 6:
		WAIT_UNTIL(tt_task_is_done(x->t[1]));
		tt_task_release(x->t[0]);
		tt_task_release(x->t[1]);
		close_pair(x);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* Records too long: for OUT (nothing consumed: take skips it) and for
 * the reader's buffer. */
static int oversize_step(void *p, int i)
{
	bio_ctx *x = p;
	char skip[16];
	switch (i) {
	case 0:
		open_pair(x, 8, 16);
		peer_write(x, "abcdef\nok\n");
		start_liner(x, 0, '\n', 5); /* room for 4 bytes */
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(tt_task_is_done(x->t[0]));
		ck_assert_int_eq(tt_task_result(x->t[0]), -EMSGSIZE);
		ck_assert_uint_eq(tt_bufreader_buffered(&x->b), 8);
		ck_assert_int_eq(tt_bufreader_take(&x->b, skip, 7), 7); /* "abcdef\n" */
		tt_task_release(x->t[0]);
		start_liner(x, 0, '\n', 5);
		return STEP_NEXT;
	case 2:
		WAIT_UNTIL(atomic_load(&x->l[0].count) == 1 && task_idle(x->t[0]));
		ck_assert_str_eq(x->l[0].lines, "ok\n|");
		peer_write(x, "abcd\n"); /* 5 bytes: no room for the NUL */
		return STEP_NEXT;
	case 3:
		WAIT_UNTIL(tt_task_is_done(x->t[0]));
		ck_assert_int_eq(tt_task_result(x->t[0]), -EMSGSIZE);
		ck_assert_int_eq(tt_bufreader_take(&x->b, skip, 5), 5);
		tt_task_release(x->t[0]);
		start_liner(x, 0, '\n', 5);
		return STEP_NEXT;
	case 4:
		WAIT_UNTIL(task_idle(x->t[0]));
		peer_write(x, "0123456789\n"); /* longer than the 8-byte buffer */
		return STEP_NEXT;
	case 5:
		WAIT_UNTIL(tt_task_is_done(x->t[0]));
		ck_assert_int_eq(tt_task_result(x->t[0]), -EMSGSIZE);
		tt_task_release(x->t[0]);
		close_pair(x);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* ---- writing ---- */

typedef struct writer {
	tt_frame frame;
	tt_bufwriter *w;
	int step;
	intptr_t r[6];
	tt_bufwrite op;
} writer;
static tt_poll writer_poll(writer *self, tt_cx *cx);
TT_ASYNC_FN(writer, writer_poll, NULL);
static tt_poll writer_poll(writer *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->op, tt_writef_init(&self->op, self->w, "%s=%d;", "a", 1));
	self->r[0] = TT_RESULT(&self->op);
	TT_AWAIT(self, cx, &self->op, tt_bufwrite_init(&self->op, self->w, "xyz", 3));
	self->r[1] = TT_RESULT(&self->op);
	if (self->step == 0)
		self->step = 1;
	while (self->step == 1) /* the test looks: nothing sent yet */
		TT_YIELD(self, cx);
	/* 10 bytes: more than the 6 free, less than the 16 of the buffer. */
	TT_AWAIT(self, cx, &self->op, tt_writef_init(&self->op, self->w, "%010d", 42));
	self->r[2] = TT_RESULT(&self->op);
	/* Larger than the buffer: the 10 buffered go first, then it. */
	TT_AWAIT(self, cx, &self->op,
		 tt_writef_init(&self->op, self->w, "%s", "<a text longer than sixteen>"));
	self->r[3] = TT_RESULT(&self->op);
	TT_AWAIT(self, cx, &self->op, tt_writef_init(&self->op, self->w, "!"));
	TT_AWAIT(self, cx, &self->op, tt_flush_init(&self->op, self->w));
	self->r[4] = TT_RESULT(&self->op);
	TT_AWAIT(self, cx, &self->op, tt_flush_init(&self->op, self->w));
	self->r[5] = TT_RESULT(&self->op);
	TT_RETURN(self, 0);
}

static int write_step(void *p, int i)
{
	static writer wr;
	bio_ctx *x = p;
	char got[128];
	switch (i) {
	case 0:
		open_pair(x, 16, 16);
		memset(&wr, 0, sizeof wr);
		tt_frame_init(&wr.frame, &writer_fn);
		wr.w = &x->w;
		x->t[0] = spawn_frame("writer", &wr.frame);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(wr.step == 1);
		ck_assert_int_eq(wr.r[0], 4);
		ck_assert_int_eq(wr.r[1], 3);
		ck_assert_uint_eq(tt_bufwriter_buffered(&x->w), 7);
		ck_assert_int_eq(recv(x->sv[1], got, sizeof got, MSG_DONTWAIT), -1);
		ck_assert_int_eq(errno, EAGAIN);
		wr.step = 2;
		return STEP_NEXT;
	case 2:
		WAIT_UNTIL(tt_task_is_done(x->t[0]));
		ck_assert_int_eq(tt_task_result(x->t[0]), 0);
		ck_assert_int_eq(wr.r[2], 10);
		ck_assert_int_eq(wr.r[3], 28);
		ck_assert_int_eq(wr.r[4], 1); /* the "!" */
		ck_assert_int_eq(wr.r[5], 0); /* nothing left */
		ssize_t n = recv(x->sv[1], got, sizeof got - 1, MSG_DONTWAIT);
		ck_assert_int_ge(n, 0);
		got[n] = '\0';
		ck_assert_str_eq(got, "a=1;xyz0000000042<a text longer than sixteen>!");
		tt_task_release(x->t[0]);
		close_pair(x);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* A write error comes back; what was not written stays buffered. */
static int write_error_step(void *p, int i)
{
	static writer wr;
	bio_ctx *x = p;
	switch (i) {
	case 0:
		open_pair(x, 16, 64);
		close(x->sv[1]);
		x->sv[1] = open("/dev/null", O_RDONLY | O_CLOEXEC); /* for close_pair */
		memset(&wr, 0, sizeof wr);
		tt_frame_init(&wr.frame, &writer_fn);
		wr.w = &x->w;
		wr.step = 2; /* no pause */
		x->t[0] = spawn_frame("writer", &wr.frame);
		return STEP_NEXT;
	case 1:
		WAIT_UNTIL(tt_task_is_done(x->t[0]));
		ck_assert_int_eq(wr.r[4], -EPIPE);
		ck_assert_uint_eq(tt_bufwriter_buffered(&x->w), 4 + 3 + 10 + 28 + 1);
		tt_task_release(x->t[0]);
		close_pair(x);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_bufio_scripts)
{
	static const step_fn steps[] = {lines_step, cancel_step, oversize_step, write_step,
					write_error_step};
	bio_ctx x;
	memset(&x, 0, sizeof x);
	uint64_t live0 = tt_test_tasks_live();
	run_script(0, steps[_i], &x);
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
}
END_TEST

START_TEST(test_bufio_misuse)
{
	tt_bufreader b;
	tt_bufwriter w;
	char out[8];
	ck_assert_int_eq(tt_bufreader_init(NULL, NULL, 8), -EINVAL);
	ck_assert_int_eq(tt_bufreader_init(&b, NULL, 8), -EINVAL);
	ck_assert_int_eq(tt_bufwriter_init(&w, NULL, 8), -EINVAL);
	/* Destroyed (or never set up) objects: every use says -EINVAL. */
	ck_assert_int_eq(tt_bufreader_take(&b, out, sizeof out), -EINVAL);
	ck_assert_uint_eq(tt_bufreader_buffered(&b), 0);
	tt_bufreader_destroy(&b);
	tt_bufreader_destroy(&b); /* twice: nothing */
	tt_bufwriter_destroy(&w);
	tt_bufwriter_destroy(&w);
	tt_read_until ru;
	tt_read_line_init(&ru, &b, out, sizeof out);
	ck_assert_int_eq(ru.frame.result, -EINVAL);
	ck_assert(ru.frame.state & TT_FRAME_DONE);
	tt_read_line_init(&ru, NULL, out, sizeof out);
	ck_assert_int_eq(ru.frame.result, -EINVAL);
	tt_bufwrite op;
	tt_writef_init(&op, &w, "%d", 1);
	ck_assert_int_eq(op.n, -EINVAL);
	tt_bufwrite_init(&op, NULL, "x", 1);
	ck_assert_int_eq(op.n, -EINVAL);
	tt_flush_init(&op, &w);
	ck_assert_int_eq(op.n, -EINVAL);
	/* The -EINVAL reaches the awaiting task. */
	tt_runtime *rt = tt_test_runtime(0);
	tt_writef_init(&op, NULL, "x");
	ck_assert_int_eq(tt_block_on(rt, &op.frame), -EINVAL);
	tt_runtime_free(rt);
}
END_TEST

static Suite *bufio_suite(void)
{
	Suite *s = suite_create("bufio");
	TCase *tc = tcase_create("bufio");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_bufio_scripts, 0, 5);
	tcase_add_test(tc, test_bufio_misuse);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(bufio_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
