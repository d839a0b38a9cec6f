/* Edge-triggered epoll readiness and the I/O futures built on it.
 *
 * Each registered fd has readiness bits and a generation ("tick") per
 * direction.  An operation tries its syscall while the bit is set; on
 * EAGAIN it clears the bit only if no event arrived meanwhile (same tick),
 * so an edge that lands between the syscall and the clear is never lost.
 *
 * tt_fd structs come from a per-runtime pool and are never freed while the
 * runtime lives (reused oldest first, after a quarantine): an event
 * already returned by epoll_wait may still name a closed one, and at worst it marks a recycled fd ready, which operations
 * treat as a spurious wakeup.  close(2) itself waits for the last operation
 * to let go, so no syscall can hit a reused descriptor number. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/internal.h"
#include "tasktrace/io.h"

enum { DIR_READ = 0, DIR_WRITE = 1 };
enum { READY_READ = 1u << 0, READY_WRITE = 1u << 1 };

struct tt_fd {
	int fd;
	int closed;
	tt_runtime *rt;
	pthread_mutex_t lock;
	uint32_t ready;
	uint32_t tick[2];
	tt_io_op *head[2], *tail[2];
	_Atomic uint32_t refs;
	tt_fd *pool_next; /* free list, or all-list link */
	tt_fd *all_next;
};

/* ---- pool ---- */

/* Closed handles are reused oldest first, and only once this many wait:
 * a handle used after tt_fd_close (a second close, a late read) then still
 * finds itself closed and gets -EBADF, instead of acting on whichever fd
 * the next tt_fd_open registered, unless that many closes came between. */
#define QUARANTINE 256

static tt_fd *fd_alloc(tt_runtime *rt)
{
	tt_io_pool *p = &rt->io_pool;
	pthread_mutex_lock(&p->lock);
	tt_fd *f = NULL;
	if (p->nfree > QUARANTINE) {
		f = p->free;
		p->free = f->pool_next;
		if (!p->free)
			p->free_tail = NULL;
		p->nfree--;
	} else if ((f = calloc(1, sizeof *f))) {
		pthread_mutex_init(&f->lock, NULL);
		f->all_next = p->all;
		p->all = f;
	}
	pthread_mutex_unlock(&p->lock);
	return f;
}

static void fd_free(tt_io_pool *p, tt_fd *f)
{
	pthread_mutex_lock(&p->lock);
	f->pool_next = NULL;
	if (p->free_tail)
		p->free_tail->pool_next = f;
	else
		p->free = f;
	p->free_tail = f;
	p->nfree++;
	pthread_mutex_unlock(&p->lock);
}

static void fd_unref(tt_fd *f)
{
	if (atomic_fetch_sub_explicit(&f->refs, 1, ACQ_REL) != 1)
		return;
	close(f->fd);
	f->fd = -1;
	fd_free(&f->rt->io_pool, f);
}

void tt_io_pool_init(tt_io_pool *p)
{
	pthread_mutex_init(&p->lock, NULL);
	p->free = p->free_tail = p->all = NULL;
	p->nfree = 0;
}

void tt_io_pool_destroy(tt_io_pool *p)
{
	for (tt_fd *f = p->all, *next; f; f = next) {
		next = f->all_next;
		if (f->fd >= 0 && atomic_load(&f->refs))
			close(f->fd); /* never closed by its owner */
		pthread_mutex_destroy(&f->lock);
		free(f);
	}
	pthread_mutex_destroy(&p->lock);
}

/* ---- registration ---- */

int tt_fd_open(tt_runtime *h, int fd, tt_fd **out)
{
	tt_runtime *rt = tt__tls_task ? tt__tls_task->rt : NULL;
	if (h && !(rt = tt_runtime_from_handle(h, "tt_fd_open")))
		return -errno;
	if (!rt || fd < 0)
		return -EINVAL;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	tt_fd *f = fd_alloc(rt);
	if (!f)
		return -ENOMEM;
	pthread_mutex_lock(&f->lock);
	f->fd = fd;
	f->closed = 0;
	f->rt = rt;
	/* Empty until epoll says otherwise: registering an fd that is
	 * already ready queues its first edge at once. */
	f->ready = 0;
	f->head[0] = f->head[1] = f->tail[0] = f->tail[1] = NULL;
	atomic_store(&f->refs, 1);
	pthread_mutex_unlock(&f->lock);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				 .data.ptr = f};
	if (epoll_ctl(rt->driver.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;
		f->fd = -1;
		f->closed = 1;
		atomic_store(&f->refs, 0);
		fd_free(&rt->io_pool, f);
		return -err;
	}
	*out = f;
	return 0;
}

int tt_fd_raw(const tt_fd *f) { return f->fd; }

static void wake_list(tt_fd *f, int dir)
{
	for (tt_io_op *op = f->head[dir], *next; op; op = next) {
		next = op->next;
		op->prev = op->next = NULL;
		op->queued = 0;
		tt_waker w = op->waker;
		op->waker.task = NULL;
		tt_waker_wake(&w);
	}
	f->head[dir] = f->tail[dir] = NULL;
}

int tt_fd_close(tt_fd *f)
{
	pthread_mutex_lock(&f->lock);
	if (f->closed) {
		pthread_mutex_unlock(&f->lock);
		return -EBADF;
	}
	f->closed = 1;
	epoll_ctl(f->rt->driver.epfd, EPOLL_CTL_DEL, f->fd, NULL);
	wake_list(f, DIR_READ);
	wake_list(f, DIR_WRITE);
	pthread_mutex_unlock(&f->lock);
	fd_unref(f);
	return 0;
}

void tt_fd_event(tt_fd *f, uint32_t events)
{
	pthread_mutex_lock(&f->lock);
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		f->ready |= READY_READ;
		f->tick[DIR_READ]++;
		wake_list(f, DIR_READ);
	}
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
		f->ready |= READY_WRITE;
		f->tick[DIR_WRITE]++;
		wake_list(f, DIR_WRITE);
	}
	pthread_mutex_unlock(&f->lock);
}

/* ---- the operation skeleton ---- */

static void op_init(tt_io_op *op, const tt_func *fn, tt_fd *f, uint32_t dir)
{
	tt_frame_init(&op->leaf.frame, fn);
	tt_wait_clear(&op->leaf.wait);
	op->fd = f;
	op->prev = op->next = NULL;
	op->waker.task = NULL;
	op->dir = dir;
	op->queued = 0;
	op->tried = 0;
}

static void unlink_op(tt_fd *f, tt_io_op *op)
{
	int d = op->dir;
	if (op->prev)
		op->prev->next = op->next;
	else
		f->head[d] = op->next;
	if (op->next)
		op->next->prev = op->prev;
	else
		f->tail[d] = op->prev;
	op->prev = op->next = NULL;
	op->queued = 0;
}

/* Leave the fd: dequeue, drop the waker and our reference. */
static void op_finish(tt_io_op *op)
{
	tt_fd *f = op->fd;
	tt_waker w = {NULL};
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	if (op->queued)
		unlink_op(f, op);
	w = op->waker;
	op->waker.task = NULL;
	pthread_mutex_unlock(&f->lock);
	tt_waker_drop(&w);
	tt_wait_clear(&op->leaf.wait);
	op->fd = NULL;
	fd_unref(f);
}

static intptr_t ready_attempt(tt_io_op *op) { return 0; }

/* Attempt functions return a result (>= 0 or -errno other than EAGAIN) or
 * -EAGAIN to wait for readiness in OP's direction. */
typedef intptr_t (*attempt_fn)(tt_io_op *op);

static tt_poll op_poll(tt_io_op *op, tt_cx *cx, attempt_fn attempt)
{
	tt_fd *f = op->fd;
	uint32_t bit = op->dir == DIR_READ ? READY_READ : READY_WRITE;
	for (;;) {
		pthread_mutex_lock(&f->lock);
		if (f->closed) {
			pthread_mutex_unlock(&f->lock);
			op->leaf.frame.result = -EBADF;
			op_finish(op);
			return TT_READY;
		}
		/* Syscall operations try once before trusting readiness: the
		 * registration's first edge may still sit in the driver. */
		if (!(f->ready & bit) && (op->tried || attempt == ready_attempt)) {
			if (!op->queued) {
				op->prev = f->tail[op->dir];
				op->next = NULL;
				if (op->prev)
					op->prev->next = op;
				else
					f->head[op->dir] = op;
				f->tail[op->dir] = op;
				op->queued = 1;
			}
			if (op->waker.task != cx->task) {
				tt_waker_drop(&op->waker);
				op->waker = tt_waker_new(cx);
			}
			pthread_mutex_unlock(&f->lock);
			if (!op->leaf.wait.kind)
				tt_wait_set(&op->leaf.wait,
					    op->dir == DIR_READ ? TT_WAIT_FD_READ : TT_WAIT_FD_WRITE,
					    f, 0, (uint64_t)f->fd);
			return TT_PENDING;
		}
		uint32_t tick = f->tick[op->dir];
		op->tried = 1;
		pthread_mutex_unlock(&f->lock);
		intptr_t r = attempt(op);
		if (r == -EINTR)
			continue;
		if (r == -EAGAIN || r == -EWOULDBLOCK) {
			pthread_mutex_lock(&f->lock);
			if (f->tick[op->dir] == tick)
				f->ready &= ~bit;
			pthread_mutex_unlock(&f->lock);
			continue;
		}
		op->leaf.frame.result = r;
		op_finish(op);
		return TT_READY;
	}
}

static void op_drop(tt_io_op *op) { op_finish(op); }

/* Operations take their fd reference at init: the caller owns the handle
 * then, and the reference keeps close(2) away until the op is done. */
/* A NULL fd (the init functions return nothing) makes an operation that
 * is finished already with -EBADF, without a poll and without a reference
 * to release. */
static void op_start(tt_io_op *op, const tt_func *fn, tt_fd *f, uint32_t dir)
{
	op_init(op, fn, f, dir);
	if (!f) {
		op->leaf.frame.state = TT_FRAME_STARTED | TT_FRAME_DONE;
		op->leaf.frame.result = -EBADF;
		return;
	}
	atomic_fetch_add_explicit(&f->refs, 1, RELAXED);
}

/* ---- readiness ---- */

static tt_poll readable_poll(tt_io_op *op, tt_cx *cx) { return op_poll(op, cx, ready_attempt); }
const tt_func tt_readable_fn TT_SECTION_("tasktrace_funcs") = {
	"tt_readable", __FILE__, __LINE__, TT_FUNC_KIND_LEAF, "tt_io_op", sizeof(tt_io_op),
	0, (tt_poll_fn)readable_poll, (tt_drop_fn)op_drop};
const tt_func tt_writable_fn TT_SECTION_("tasktrace_funcs") = {
	"tt_writable", __FILE__, __LINE__, TT_FUNC_KIND_LEAF, "tt_io_op", sizeof(tt_io_op),
	0, (tt_poll_fn)readable_poll, (tt_drop_fn)op_drop};

void tt_readable_init(tt_readable *op, tt_fd *f) { op_start(op, &tt_readable_fn, f, DIR_READ); }
void tt_writable_init(tt_writable *op, tt_fd *f) { op_start(op, &tt_writable_fn, f, DIR_WRITE); }

/* ---- read / write ---- */

static intptr_t do_read(tt_read *r)
{
	ssize_t n = read(r->op.fd->fd, (char *)r->buf + r->done, r->len - r->done);
	return n < 0 ? -errno : n;
}

static intptr_t do_write(tt_write *w)
{
	const char *p = (const char *)w->buf + w->done;
	size_t left = w->len - w->done;
	ssize_t n = send(w->op.fd->fd, p, left, MSG_NOSIGNAL);
	if (n < 0 && errno == ENOTSOCK)
		n = write(w->op.fd->fd, p, left); /* pipes: SIGPIPE is the caller's */
	return n < 0 ? -errno : n;
}

static intptr_t read_once(tt_io_op *op) { return do_read((tt_read *)op); }
static intptr_t write_once(tt_io_op *op) { return do_write((tt_write *)op); }

static intptr_t read_exact(tt_io_op *op)
{
	tt_read *r = (tt_read *)op;
	while (r->done < r->len) {
		intptr_t n = do_read(r);
		if (n == 0)
			return -ENODATA;
		if (n < 0)
			return n;
		r->done += (size_t)n;
	}
	return (intptr_t)r->len;
}

static intptr_t write_all(tt_io_op *op)
{
	tt_write *w = (tt_write *)op;
	while (w->done < w->len) {
		intptr_t n = do_write(w);
		if (n < 0)
			return n;
		w->done += (size_t)n;
	}
	return (intptr_t)w->len;
}

#define IO_FN(NAME, ATTEMPT)                                                \
	static tt_poll NAME##_poll(tt_io_op *op, tt_cx *cx)                     \
	{                                                                       \
		return op_poll(op, cx, ATTEMPT);                                      \
	}                                                                       \
	const tt_func tt_##NAME##_fn TT_SECTION_("tasktrace_funcs") = {         \
		"tt_" #NAME, __FILE__, __LINE__, TT_FUNC_KIND_LEAF, "tt_read",        \
		sizeof(tt_read), 0, (tt_poll_fn)NAME##_poll, (tt_drop_fn)op_drop}
IO_FN(read, read_once);
IO_FN(write, write_once);
IO_FN(read_exact, read_exact);
IO_FN(write_all, write_all);

static void rw_init(tt_read *r, const tt_func *fn, tt_fd *f, uint32_t dir, const void *buf,
		    size_t len)
{
	op_start(&r->op, fn, f, dir);
	r->buf = (void *)buf;
	r->len = len;
	r->done = 0;
}

void tt_read_init(tt_read *r, tt_fd *f, void *buf, size_t len)
{
	rw_init(r, &tt_read_fn, f, DIR_READ, buf, len);
}
void tt_write_init(tt_write *w, tt_fd *f, const void *buf, size_t len)
{
	rw_init(w, &tt_write_fn, f, DIR_WRITE, buf, len);
}
void tt_read_exact_init(tt_read *r, tt_fd *f, void *buf, size_t len)
{
	rw_init(r, &tt_read_exact_fn, f, DIR_READ, buf, len);
}
void tt_write_all_init(tt_write *w, tt_fd *f, const void *buf, size_t len)
{
	rw_init(w, &tt_write_all_fn, f, DIR_WRITE, buf, len);
}

/* ---- accept / connect ---- */

static intptr_t accept_once(tt_io_op *op)
{
	tt_accept *a = (tt_accept *)op;
	a->peer_len = sizeof a->peer;
	int fd = accept4(op->fd->fd, (struct sockaddr *)&a->peer, &a->peer_len,
			 SOCK_NONBLOCK | SOCK_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
static tt_poll accept_poll(tt_io_op *op, tt_cx *cx) { return op_poll(op, cx, accept_once); }
const tt_func tt_accept_fn TT_SECTION_("tasktrace_funcs") = {
	"tt_accept", __FILE__, __LINE__, TT_FUNC_KIND_LEAF, "tt_accept", sizeof(tt_accept),
	0, (tt_poll_fn)accept_poll, (tt_drop_fn)op_drop};

void tt_accept_init(tt_accept *a, tt_fd *listener)
{
	op_start(&a->op, &tt_accept_fn, listener, DIR_READ);
}

static intptr_t connect_once(tt_io_op *op)
{
	tt_connect *c = (tt_connect *)op;
	int fd = op->fd->fd;
	if (!c->started) {
		c->started = 1;
		if (connect(fd, (struct sockaddr *)&c->addr, c->addr_len) == 0)
			return 0;
		return errno == EINPROGRESS ? -EAGAIN : -errno;
	}
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	if (err == 0) {
		/* Writable may be a spurious edge: confirm we are connected. */
		struct sockaddr_storage peer;
		socklen_t plen = sizeof peer;
		if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
			return errno == ENOTCONN ? -EAGAIN : -errno;
	}
	return -err;
}
static tt_poll connect_poll(tt_io_op *op, tt_cx *cx) { return op_poll(op, cx, connect_once); }
const tt_func tt_connect_fn TT_SECTION_("tasktrace_funcs") = {
	"tt_connect", __FILE__, __LINE__, TT_FUNC_KIND_LEAF, "tt_connect", sizeof(tt_connect),
	0, (tt_poll_fn)connect_poll, (tt_drop_fn)op_drop};

void tt_connect_init(tt_connect *c, tt_fd *sock, const struct sockaddr *addr, socklen_t len)
{
	op_start(&c->op, &tt_connect_fn, sock, DIR_WRITE);
	if (len > sizeof c->addr)
		len = sizeof c->addr;
	memcpy(&c->addr, addr, len);
	c->addr_len = len;
	c->started = 0;
}

/* ---- datagrams ---- */

static intptr_t send_to_once(tt_io_op *op)
{
	tt_dgram *d = (tt_dgram *)op;
	ssize_t n = sendto(op->fd->fd, d->buf, d->len, MSG_NOSIGNAL,
			   d->addr_len ? (struct sockaddr *)&d->addr : NULL, d->addr_len);
	return n < 0 ? -errno : n;
}
static intptr_t recv_from_once(tt_io_op *op)
{
	tt_dgram *d = (tt_dgram *)op;
	d->addr_len = sizeof d->addr;
	ssize_t n = recvfrom(op->fd->fd, d->buf, d->len, 0, (struct sockaddr *)&d->addr,
			     &d->addr_len);
	return n < 0 ? -errno : n;
}
static tt_poll send_to_poll(tt_io_op *op, tt_cx *cx) { return op_poll(op, cx, send_to_once); }
static tt_poll recv_from_poll(tt_io_op *op, tt_cx *cx) { return op_poll(op, cx, recv_from_once); }
const tt_func tt_send_to_fn TT_SECTION_("tasktrace_funcs") = {
	"tt_send_to", __FILE__, __LINE__, TT_FUNC_KIND_LEAF, "tt_dgram", sizeof(tt_dgram),
	0, (tt_poll_fn)send_to_poll, (tt_drop_fn)op_drop};
const tt_func tt_recv_from_fn TT_SECTION_("tasktrace_funcs") = {
	"tt_recv_from", __FILE__, __LINE__, TT_FUNC_KIND_LEAF, "tt_dgram", sizeof(tt_dgram),
	0, (tt_poll_fn)recv_from_poll, (tt_drop_fn)op_drop};

void tt_send_to_init(tt_dgram *d, tt_fd *f, const void *buf, size_t len,
		     const struct sockaddr *to, socklen_t tolen)
{
	op_start(&d->op, &tt_send_to_fn, f, DIR_WRITE);
	d->buf = (void *)buf;
	d->len = len;
	if (!to || tolen > sizeof d->addr)
		tolen = 0;
	if (tolen)
		memcpy(&d->addr, to, tolen);
	d->addr_len = tolen;
}

void tt_recv_from_init(tt_dgram *d, tt_fd *f, void *buf, size_t len)
{
	op_start(&d->op, &tt_recv_from_fn, f, DIR_READ);
	d->buf = buf;
	d->len = len;
	d->addr_len = 0;
}

/* ---- socket helpers ---- */

int tt_tcp_socket(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

int tt_tcp_listen(const char *host, int port, int backlog)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (port < 0 || port > 65535 || inet_pton(AF_INET, host ? host : "127.0.0.1", &sa.sin_addr) != 1)
		return -EINVAL;
	int fd = tt_tcp_socket(AF_INET);
	if (fd < 0)
		return fd;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, backlog) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

int tt_socket_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -errno;
	return ntohs(sa.sin_port);
}

int tt_udp_bind(const char *host, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (port < 0 || port > 65535 || inet_pton(AF_INET, host ? host : "127.0.0.1", &sa.sin_addr) != 1)
		return -EINVAL;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

/* ---- Unix-domain sockets ---- */

int tt_unix_addr(const char *path, struct sockaddr_storage *ss, socklen_t *len)
{
	if (!path || !ss || !len)
		return -EINVAL;
	struct sockaddr_un *sa = (struct sockaddr_un *)ss;
	size_t n = strlen(path);
	if (n >= sizeof sa->sun_path)
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int tt_unix_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

int tt_unix_listen(const char *path, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int r = tt_unix_addr(path, &ss, &len);
	if (r < 0)
		return r;
	/* A socket file left by an earlier run would make bind fail; only a
	 * socket is removed, never a regular file someone put there. */
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	int fd = tt_unix_socket();
	if (fd < 0)
		return fd;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}
