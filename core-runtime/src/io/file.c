/* Whole-file read, write and atomic replace as futures over the blocking
 * pool (io.h).  Each operation is one heap request holding copies of the
 * path and data: the future owns it until a cancel hands it to the pool
 * job (tt_blocking_init_owned), which frees it once the call returned, so
 * a cancelled caller's memory is never touched again. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "tasktrace/combinators.h"
#include "tasktrace/io.h"

enum { OP_READ, OP_WRITE, OP_REPLACE };

typedef struct tt_file_req {
	int kind;
	size_t len, max;
	unsigned char *data; /* write: a copy of the caller's; read: the contents */
	char path[];
} tt_file_req;

static void req_free(void *p)
{
	tt_file_req *r = p;
	if (r)
		free(r->data);
	free(r);
}

static int write_all_fd(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static intptr_t do_read(tt_file_req *r)
{
	int fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t cap = 4096, len = 0;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size + 1 > cap)
		cap = (size_t)st.st_size + 1;
	if (cap > r->max + 1)
		cap = r->max + 1;
	unsigned char *buf = malloc(cap + 1);
	intptr_t err = buf ? 0 : -ENOMEM;
	while (!err) {
		if (len == cap) { /* grew, or a file that does not know its size */
			if (cap > r->max) {
				err = -EFBIG;
				break;
			}
			size_t ncap = cap * 2 > r->max + 1 ? r->max + 1 : cap * 2;
			unsigned char *nb = realloc(buf, ncap + 1);
			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = -errno;
		else if (n == 0)
			break;
		else
			len += (size_t)n;
	}
	close(fd);
	if (!err && len > r->max)
		err = -EFBIG;
	if (err) {
		free(buf);
		return err;
	}
	buf[len] = '\0';
	r->data = buf;
	r->len = len;
	return (intptr_t)len;
}

static intptr_t do_write(tt_file_req *r)
{
	int fd = open(r->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return -errno;
	int err = write_all_fd(fd, r->data, r->len);
	if (close(fd) < 0 && !err)
		err = -errno;
	return err ? err : (intptr_t)r->len;
}

/* The directory part of PATH, to flush the rename. */
static int open_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t n = slash == path ? 1 : (size_t)(slash - path);
	char *dir = strndup(path, n);
	if (!dir)
		return -1;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	return fd;
}

static intptr_t do_replace(tt_file_req *r)
{
	size_t n = strlen(r->path);
	char *tmp = malloc(n + sizeof ".tmp.XXXXXX");
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, r->path, n);
	memcpy(tmp + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;
		free(tmp);
		return e;
	}
	struct stat st;
	mode_t mode = stat(r->path, &st) == 0 ? st.st_mode & 07777 : 0644;
	int err = write_all_fd(fd, r->data, r->len);
	if (!err && fchmod(fd, mode) < 0)
		err = -errno;
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, r->path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		free(tmp);
		return err;
	}
	free(tmp);
	int dfd = open_dir_of(r->path);
	if (dfd >= 0) { /* the rename itself is durable only once its directory is */
		if (fsync(dfd) < 0)
			err = -errno;
		close(dfd);
	}
	return err ? err : (intptr_t)r->len;
}

static intptr_t file_call(void *p)
{
	tt_file_req *r = p;
	switch (r->kind) {
	case OP_READ:
		return do_read(r);
	case OP_WRITE:
		return do_write(r);
	default:
		return do_replace(r);
	}
}

static tt_poll file_poll(tt_file_op *self, tt_cx *cx);
static void file_cleanup(tt_file_op *self)
{
	/* Cancelled while the job ran: the job frees the request. */
	if (!(self->handed && (self->blk.leaf.frame.state & TT_FRAME_CANCELLED)))
		req_free(self->req);
	self->req = NULL;
	self->handed = 0;
}
TT_ASYNC_FN_CLEANUP(tt_file_op, file_poll, file_cleanup);

static void op_init(tt_file_op *op, int kind, const char *path, const void *data, size_t len)
{
	tt_frame_init(&op->frame, &tt_file_op_fn);
	op->req = NULL;
	op->data_out = NULL;
	op->len_out = NULL;
	op->handed = 0;
	intptr_t err = 0;
	if (!path || !*path || (!data && len && kind != OP_READ) || len > (size_t)INTPTR_MAX)
		err = -EINVAL;
	size_t plen = err ? 0 : strlen(path) + 1;
	if (!err && !(op->req = calloc(1, sizeof *op->req + plen)))
		err = -ENOMEM;
	if (!err && kind != OP_READ && len && !(op->req->data = malloc(len)))
		err = -ENOMEM;
	if (err) {
		req_free(op->req);
		op->req = NULL;
		/* Finished already: the await returns ERR without a poll. */
		op->frame.state = TT_FRAME_STARTED | TT_FRAME_DONE;
		op->frame.result = err;
		return;
	}
	op->req->kind = kind;
	memcpy(op->req->path, path, plen);
	if (kind != OP_READ) {
		if (len)
			memcpy(op->req->data, data, len);
		op->req->len = len;
	} else {
		op->req->max = len;
	}
}

void tt_file_read_init(tt_file_op *op, const char *path, size_t max, void **data_out,
		       size_t *len_out)
{
	if (!data_out || !len_out || max >= (size_t)INTPTR_MAX)
		path = NULL; /* -EINVAL */
	op_init(op, OP_READ, path, NULL, max);
	op->data_out = data_out;
	op->len_out = len_out;
}

void tt_file_write_init(tt_file_op *op, const char *path, const void *data, size_t len)
{
	op_init(op, OP_WRITE, path, data, len);
}

void tt_file_replace_init(tt_file_op *op, const char *path, const void *data, size_t len)
{
	op_init(op, OP_REPLACE, path, data, len);
}

static tt_poll file_poll(tt_file_op *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->handed = 1;
	TT_AWAIT(self, cx, &self->blk,
		 tt_blocking_init_owned(&self->blk, file_call, self->req, req_free));
	self->handed = 0;
	if (self->req->kind == OP_READ && TT_RESULT(&self->blk) >= 0) {
		*self->data_out = self->req->data;
		*self->len_out = self->req->len;
		self->req->data = NULL;
	}
	req_free(self->req);
	self->req = NULL;
	TT_RETURN(self, TT_RESULT(&self->blk));
}
