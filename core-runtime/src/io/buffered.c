/* Buffered reading (records up to a delimiter) and buffered, formatted
 * writing over a registered fd (io.h).  Both are async functions over the
 * fd futures in io.c; the buffers are the caller's structs, used by one
 * task at a time. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "runtime/internal.h"
#include "tasktrace/io.h"

#define MAX_BUF ((size_t)64 << 20)

/* ---- reading ---- */

int tt_bufreader_init(tt_bufreader *b, tt_fd *fd, size_t cap)
{
	if (!b)
		return -EINVAL;
	memset(b, 0, sizeof *b);
	if (!fd || !cap || cap > MAX_BUF)
		return -EINVAL;
	if (!(b->buf = malloc(cap)))
		return -ENOMEM;
	b->fd = fd;
	b->cap = cap;
	return 0;
}

void tt_bufreader_destroy(tt_bufreader *b)
{
	if (!b)
		return;
	free(b->buf);
	memset(b, 0, sizeof *b);
}

size_t tt_bufreader_buffered(const tt_bufreader *b)
{
	return b && b->buf ? b->end - b->start : 0;
}

intptr_t tt_bufreader_take(tt_bufreader *b, void *out, size_t len)
{
	if (!b || !b->buf || (!out && len))
		return -EINVAL;
	size_t n = b->end - b->start;
	if (n > len)
		n = len;
	memcpy(out, b->buf + b->start, n);
	b->start += n;
	if (b->start == b->end)
		b->start = b->end = 0;
	return (intptr_t)n;
}

static tt_poll until_poll(tt_read_until *self, tt_cx *cx);
TT_ASYNC_FN(tt_read_until, until_poll, NULL);

void tt_read_until_init(tt_read_until *r, tt_bufreader *b, int delim, void *out, size_t cap)
{
	tt_frame_init(&r->frame, &tt_read_until_fn);
	r->b = b;
	r->delim = delim;
	r->out = out;
	r->cap = cap;
	r->scanned = 0;
	if (!b || !b->buf || !out || !cap || cap > (size_t)INTPTR_MAX) {
		/* Finished already: the await returns -EINVAL without a poll. */
		r->frame.state = TT_FRAME_STARTED | TT_FRAME_DONE;
		r->frame.result = -EINVAL;
	}
}

void tt_read_line_init(tt_read_until *r, tt_bufreader *b, void *out, size_t cap)
{
	tt_read_until_init(r, b, '\n', out, cap);
}

/* A complete record is buffered (or the stream ended): hand it over.
 * Nothing leaves the buffer before this, which makes the read cancel-safe. */
static intptr_t take_record(tt_read_until *self, size_t n)
{
	tt_bufreader *b = self->b;
	if (n >= self->cap)
		return -EMSGSIZE;
	memcpy(self->out, b->buf + b->start, n);
	self->out[n] = '\0';
	b->start += n;
	if (b->start == b->end)
		b->start = b->end = 0;
	return (intptr_t)n;
}

static tt_poll until_poll(tt_read_until *self, tt_cx *cx)
{
	tt_bufreader *b = self->b;
	TT_BEGIN(self);
	for (;;) {
		{
			size_t avail = b->end - b->start;
			if (self->scanned > avail)
				self->scanned = 0; /* another read took bytes meanwhile */
			const unsigned char *p =
			    memchr(b->buf + b->start + self->scanned, (unsigned char)self->delim,
				   avail - self->scanned);
			if (p)
				TT_RETURN(self,
					  take_record(self, (size_t)(p - (b->buf + b->start)) + 1));
			if (b->eof)
				TT_RETURN(self, take_record(self, avail));
			self->scanned = avail;
			/* Whatever comes next, the record will not fit. */
			if (avail == b->cap || avail >= self->cap)
				TT_RETURN(self, -EMSGSIZE);
			if (b->end == b->cap) {
				memmove(b->buf, b->buf + b->start, avail);
				b->start = 0;
				b->end = avail;
			}
		}
		TT_AWAIT(self, cx, &self->rd,
			 tt_read_init(&self->rd, b->fd, b->buf + b->end, b->cap - b->end));
		if (TT_RESULT(&self->rd) < 0)
			TT_RETURN(self, TT_RESULT(&self->rd));
		if (TT_RESULT(&self->rd) == 0)
			b->eof = 1;
		else
			b->end += (size_t)TT_RESULT(&self->rd);
	}
}

/* ---- writing ---- */

int tt_bufwriter_init(tt_bufwriter *w, tt_fd *fd, size_t cap)
{
	if (!w)
		return -EINVAL;
	memset(w, 0, sizeof *w);
	if (!fd || !cap || cap > MAX_BUF)
		return -EINVAL;
	if (!(w->buf = malloc(cap)))
		return -ENOMEM;
	w->fd = fd;
	w->cap = cap;
	return 0;
}

void tt_bufwriter_destroy(tt_bufwriter *w)
{
	if (!w)
		return;
	free(w->buf);
	memset(w, 0, sizeof *w);
}

size_t tt_bufwriter_buffered(const tt_bufwriter *w)
{
	return w && w->buf ? w->len : 0;
}

/* The first K buffered bytes went out. */
static void drop_written(tt_bufwriter *w, size_t k)
{
	if (k > w->len)
		k = w->len;
	memmove(w->buf, w->buf + k, w->len - k);
	w->len -= k;
}

static tt_poll bufwrite_poll(tt_bufwrite *self, tt_cx *cx);
static void bufwrite_cleanup(tt_bufwrite *self)
{
	if (self->flushing)
		drop_written(self->w, self->wr.done);
	self->flushing = 0;
	free(self->spill);
	self->spill = NULL;
}
TT_ASYNC_FN_CLEANUP(tt_bufwrite, bufwrite_poll, bufwrite_cleanup);

static int op_start(tt_bufwrite *op, tt_bufwriter *w)
{
	tt_frame_init(&op->frame, &tt_bufwrite_fn);
	op->w = w;
	op->n = 0;
	op->spill = NULL;
	op->flush_op = 0;
	op->flushing = 0;
	if (w && w->buf)
		return 1;
	op->n = -EINVAL;
	return 0;
}

void tt_bufwrite_init(tt_bufwrite *op, tt_bufwriter *w, const void *data, size_t len)
{
	if (!op_start(op, w))
		return;
	if ((!data && len) || len > (size_t)INTPTR_MAX) {
		op->n = -EINVAL;
		return;
	}
	op->n = (intptr_t)len;
	if (len <= w->cap - w->len) {
		memcpy(w->buf + w->len, data, len);
		w->len += len;
	} else if ((op->spill = malloc(len))) {
		memcpy(op->spill, data, len);
	} else {
		op->n = -ENOMEM;
	}
}

void tt_writef_init(tt_bufwrite *op, tt_bufwriter *w, const char *fmt, ...)
{
	if (!op_start(op, w))
		return;
	if (!fmt) {
		op->n = -EINVAL;
		return;
	}
	/* Straight into the buffer when it fits (with vsnprintf's NUL). */
	size_t room = w->cap - w->len;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf((char *)w->buf + w->len, room, fmt, ap);
	va_end(ap);
	if (k < 0) {
		op->n = -EINVAL;
		return;
	}
	op->n = k;
	if ((size_t)k < room) {
		w->len += (size_t)k;
		return;
	}
	if (!(op->spill = malloc((size_t)k + 1))) {
		op->n = -ENOMEM;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(op->spill, (size_t)k + 1, fmt, ap);
	va_end(ap);
}

void tt_flush_init(tt_flush *op, tt_bufwriter *w)
{
	if (op_start(op, w))
		op->flush_op = 1;
}

static tt_poll bufwrite_poll(tt_bufwrite *self, tt_cx *cx)
{
	tt_bufwriter *w = self->w;
	TT_BEGIN(self);
	if (self->n < 0 || (!self->spill && !self->flush_op))
		TT_RETURN(self, self->n); /* failed, or appended at init */
	if (w->len) {
		self->flushing = 1;
		TT_AWAIT(self, cx, &self->wr, tt_write_all_init(&self->wr, w->fd, w->buf, w->len));
		self->flushing = 0;
		drop_written(w, self->wr.done);
		if (TT_RESULT(&self->wr) < 0) {
			free(self->spill);
			self->spill = NULL;
			TT_RETURN(self, TT_RESULT(&self->wr));
		}
		if (self->flush_op)
			TT_RETURN(self, (intptr_t)self->wr.done);
	} else if (self->flush_op) {
		TT_RETURN(self, 0);
	}
	/* The buffer is empty now: the text goes in, or out directly. */
	if ((size_t)self->n <= w->cap) {
		memcpy(w->buf, self->spill, (size_t)self->n);
		w->len = (size_t)self->n;
		free(self->spill);
		self->spill = NULL;
		TT_RETURN(self, self->n);
	}
	TT_AWAIT(self, cx, &self->wr,
		 tt_write_all_init(&self->wr, w->fd, self->spill, (size_t)self->n));
	free(self->spill);
	self->spill = NULL;
	TT_RETURN(self, TT_RESULT(&self->wr) < 0 ? TT_RESULT(&self->wr) : self->n);
}
