/* Non-blocking I/O on the runtime's epoll reactor.
 *
 * Register an fd once with tt_fd_open (it becomes non-blocking), then await
 * readiness or whole operations on it from any task.  Results are byte
 * counts or negative errno values.  tt_fd_close wakes every pending
 * operation with -EBADF before closing the descriptor.
 *
 *   TT_AWAIT(self, cx, &self->rd, tt_read_init(&self->rd, self->conn, self->buf, 512));
 *   if (TT_RESULT(&self->rd) <= 0) ...   // 0: end of stream, < 0: -errno */
#ifndef TASKTRACE_IO_H
#define TASKTRACE_IO_H

#include "tasktrace/api.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tasktrace/combinators.h"
#include "tasktrace/future.h"
#include "tasktrace/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_fd tt_fd;

/* Register FD with RT's reactor (NULL: the current task's runtime).
 * Returns 0 and *out, or -errno: -EPERM for descriptors epoll cannot
 * watch (regular files: use tt_blocking for those), -EINVAL for rt NULL
 * outside a task. */
TT_API int tt_fd_open(tt_runtime *rt, int fd, tt_fd **out);
TT_API int tt_fd_raw(const tt_fd *f);
/* Deregister, wake pending operations with -EBADF, close(2) the fd and
 * release the handle.  Do not use the handle afterwards.  A second close
 * or a late operation gets -EBADF: handles are reused only after hundreds
 * of others were closed (a quarantine), so in practice a stale handle
 * never reaches another registration's fd. */
TT_API int tt_fd_close(tt_fd *f);

/* Common part of every I/O future. */
typedef struct tt_io_op {
	tt_leaf leaf;
	tt_fd *fd;
	struct tt_io_op *prev, *next; /* the fd's waiter list */
	tt_waker waker;
	uint32_t dir; /* 0 read, 1 write */
	uint32_t queued;
	uint32_t tried; /* one syscall attempted */
	uint32_t reserved;
} tt_io_op;

/* Ready when the fd is readable / writable (or in error or closed). */
typedef tt_io_op tt_readable;
typedef tt_io_op tt_writable;
TT_API extern const tt_func tt_readable_fn, tt_writable_fn;
TT_API void tt_readable_init(tt_readable *op, tt_fd *f);
TT_API void tt_writable_init(tt_writable *op, tt_fd *f);

/* One read(2)/write(2) of at most LEN bytes once possible.  Result: bytes,
 * 0 at end of stream (read), or -errno.  Every operation on an fd here
 * initialised with a NULL fd is finished at once with -EBADF. */
typedef struct tt_read {
	tt_io_op op;
	void *buf;
	size_t len, done;
} tt_read;
typedef tt_read tt_write;
TT_API extern const tt_func tt_read_fn, tt_write_fn, tt_read_exact_fn, tt_write_all_fn;
TT_API void tt_read_init(tt_read *r, tt_fd *f, void *buf, size_t len);
TT_API void tt_write_init(tt_write *w, tt_fd *f, const void *buf, size_t len);
/* Exactly LEN bytes: result LEN, or -ENODATA if the stream ended first
 * (bytes received so far are in buf, count in ->done), or -errno. */
TT_API void tt_read_exact_init(tt_read *r, tt_fd *f, void *buf, size_t len);
/* All LEN bytes: result LEN or -errno (->done says how many went out). */
TT_API void tt_write_all_init(tt_write *w, tt_fd *f, const void *buf, size_t len);

/* accept4 on a listening socket.  Result: the new fd (non-blocking,
 * close-on-exec; register it with tt_fd_open), or -errno (-ENOTSOCK,
 * -EINVAL if not listening, ...). */
typedef struct tt_accept {
	tt_io_op op;
	struct sockaddr_storage peer;
	socklen_t peer_len;
} tt_accept;
TT_API extern const tt_func tt_accept_fn;
TT_API void tt_accept_init(tt_accept *a, tt_fd *listener);

/* connect(2) a non-blocking socket.  Result: 0 or -errno. */
typedef struct tt_connect {
	tt_io_op op;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int started;
} tt_connect;
TT_API extern const tt_func tt_connect_fn;
TT_API void tt_connect_init(tt_connect *c, tt_fd *sock, const struct sockaddr *addr, socklen_t len);

/* Helpers: a listening TCP socket on HOST:PORT (port 0 picks one; read it
 * back with tt_socket_port), or a new non-blocking TCP socket.  -errno on
 * failure. */
TT_API int tt_tcp_listen(const char *host, int port, int backlog);
TT_API int tt_tcp_socket(int family);
TT_API int tt_socket_port(int fd);

/* ---- datagrams (UDP, Unix datagram sockets) ----
 *
 * One sendto(2) / recvfrom(2) once possible.  Result: bytes sent or
 * received (a datagram longer than LEN is cut to LEN; MSG_TRUNC is not
 * reported), or -errno. */
typedef struct tt_dgram {
	tt_io_op op;
	void *buf;
	size_t len;
	struct sockaddr_storage addr; /* send: the destination; recv: the sender */
	socklen_t addr_len;           /* send: 0 for a connected socket */
} tt_dgram;
TT_API extern const tt_func tt_send_to_fn, tt_recv_from_fn;
/* TO (TOLEN bytes, at most a sockaddr_storage) is copied; NULL for a
 * connected socket.  BUF must live until the send completes. */
TT_API void tt_send_to_init(tt_dgram *d, tt_fd *f, const void *buf, size_t len,
			    const struct sockaddr *to, socklen_t tolen);
/* The sender's address is left in d->addr / d->addr_len. */
TT_API void tt_recv_from_init(tt_dgram *d, tt_fd *f, void *buf, size_t len);
/* A non-blocking UDP socket bound to HOST:PORT (IPv4 literal, NULL:
 * 127.0.0.1; port 0 picks one, tt_socket_port reads it).  The fd, or
 * -errno (-EINVAL bad host or port). */
TT_API int tt_udp_bind(const char *host, int port);

/* ---- Unix-domain sockets ----
 *
 * A listening stream socket at PATH (non-blocking, close-on-exec; accept
 * with tt_accept).  A socket file left at PATH by an earlier run is
 * removed first; any other file there is not (-EADDRINUSE).  The fd, or
 * -errno (-ENAMETOOLONG for a path over 107 bytes, -EINVAL NULL). */
TT_API int tt_unix_listen(const char *path, int backlog);
/* A new non-blocking Unix stream socket, or -errno. */
TT_API int tt_unix_socket(void);
/* Fill *SA and *LEN for PATH, for tt_connect_init.  0; -EINVAL NULL;
 * -ENAMETOOLONG. */
TT_API int tt_unix_addr(const char *path, struct sockaddr_storage *sa, socklen_t *len);

/* ---- name resolution, on the blocking pool ----
 *
 * getaddrinfo(3) without blocking a worker.  HOST, SERVICE and HINTS are
 * copied at init; *OUT is written only on success, by the awaiting task.
 * Cancelled, the lookup finishes on the pool and its result is freed
 * there.  Result 0 with *OUT a list to freeaddrinfo(); or -ENXIO no such
 * name (EAI_NONAME, EAI_NODATA, EAI_ADDRFAMILY), -EAGAIN a temporary
 * failure, -EINVAL bad hints or arguments (both HOST and SERVICE NULL),
 * -ESRCH unknown service, -ENOMEM, -EIO other failures, -errno
 * (EAI_SYSTEM).  r->gai_error keeps getaddrinfo's own code for
 * gai_strerror(). */
struct addrinfo;
typedef struct tt_resolve {
	tt_frame frame;
	struct tt_resolve_req *req;
	struct addrinfo **out;
	int gai_error;
	int handed; /* REQ is the pool job's if this frame is cancelled */
	tt_blocking blk;
} tt_resolve;
TT_API extern const tt_func tt_resolve_fn;
TT_API void tt_resolve_init(tt_resolve *r, const char *host, const char *service,
			    const struct addrinfo *hints, struct addrinfo **out);

/* ---- buffered reading ----
 *
 * A buffer in front of an fd for line protocols: tt_read_line /
 * tt_read_until return one delimited record at a time, reading the fd
 * only when the buffer holds no complete record.
 *
 *   tt_bufreader br;   tt_bufreader_init(&br, conn, 4096);
 *   TT_AWAIT(self, cx, &self->ln, tt_read_line_init(&self->ln, &br, self->line, sizeof self->line));
 *   if (TT_RESULT(&self->ln) <= 0) ...  // 0: end of stream, < 0: -errno
 *   tt_bufreader_destroy(&br);          // the fd stays open: it is the caller's
 *
 * Cancel-safe: a record leaves the buffer only when it is returned, so a
 * read cancelled midway (a timeout, a select) loses nothing; the next one
 * finds the same bytes.  One task at a time may read through a
 * bufreader. */
typedef struct tt_bufreader {
	tt_fd *fd;
	unsigned char *buf;
	size_t cap, start, end; /* buffered bytes: buf[start, end) */
	int eof;                /* the fd reported end of stream */
} tt_bufreader;
/* CAP bytes of buffer (also the longest record), allocated here.  0;
 * -EINVAL NULL or cap 0 or over 64 MiB; -ENOMEM. */
TT_API int tt_bufreader_init(tt_bufreader *b, tt_fd *fd, size_t cap);
/* Free the buffer (not the fd).  A second destroy does nothing. */
TT_API void tt_bufreader_destroy(tt_bufreader *b);
/* Bytes buffered and not yet returned. */
TT_API size_t tt_bufreader_buffered(const tt_bufreader *b);
/* Without waiting, move up to LEN buffered bytes to OUT (for a body that
 * follows a header; read the rest from the fd).  The count; -EINVAL for
 * NULL or a destroyed reader. */
TT_API intptr_t tt_bufreader_take(tt_bufreader *b, void *out, size_t len);

typedef struct tt_read_until {
	tt_frame frame;
	tt_bufreader *b;
	int delim;
	char *out;
	size_t cap;
	size_t scanned; /* buffered bytes known to hold no delimiter */
	tt_read rd;
} tt_read_until;
TT_API extern const tt_func tt_read_until_fn;
/* The next record up to and including DELIM, copied to OUT with a NUL
 * after it.  Result: its length (the last record of the stream may lack
 * DELIM); 0 at end of stream; -EMSGSIZE if the record does not fit in OUT
 * (CAP - 1 bytes) or in the reader's buffer -- nothing is consumed, so
 * tt_bufreader_take can skip it; -EINVAL NULL arguments or CAP 0; -errno
 * from read(2). */
TT_API void tt_read_until_init(tt_read_until *r, tt_bufreader *b, int delim, void *out,
			       size_t cap);
/* tt_read_until with DELIM '\n'. */
TT_API void tt_read_line_init(tt_read_until *r, tt_bufreader *b, void *out, size_t cap);

/* ---- buffered and formatted writing ----
 *
 * Small writes gathered in a buffer and written with one write(2) by a
 * flush; tt_writef formats printf-style into it.
 *
 *   tt_bufwriter bw;   tt_bufwriter_init(&bw, conn, 4096);
 *   TT_AWAIT(self, cx, &self->wf, tt_writef_init(&self->wf, &bw, "%s %d\r\n", key, n));
 *   TT_AWAIT(self, cx, &self->fl, tt_flush_init(&self->fl, &bw));
 *
 * The text is formatted (and data copied) when the future is initialised,
 * so the arguments need not outlive the init; the future writes only
 * when the buffer lacks room.  Nothing reaches the fd before a flush or a
 * full buffer.  Cancelled, a write or flush keeps what was not written in
 * the buffer (bytes already written are dropped from it), and a text that
 * did not fit is freed (a text larger than the whole buffer is written
 * straight from the future: cancelled midway, its first wr.done bytes went
 * out).  One task at a time may write through a bufwriter. */
typedef struct tt_bufwriter {
	tt_fd *fd;
	unsigned char *buf;
	size_t cap, len; /* buffered: buf[0, len) */
} tt_bufwriter;
/* 0; -EINVAL NULL or cap 0 or over 64 MiB; -ENOMEM. */
TT_API int tt_bufwriter_init(tt_bufwriter *w, tt_fd *fd, size_t cap);
/* Free the buffer (not the fd), dropping what was not flushed.  A second
 * destroy does nothing. */
TT_API void tt_bufwriter_destroy(tt_bufwriter *w);
TT_API size_t tt_bufwriter_buffered(const tt_bufwriter *w);

typedef struct tt_bufwrite {
	tt_frame frame;
	tt_bufwriter *w;
	intptr_t n;      /* the length to report, or -errno from the init */
	char *spill;     /* what did not fit at init (heap) */
	int flush_op;    /* a tt_flush */
	int flushing;    /* the write in flight writes w->buf */
	tt_write wr;
} tt_bufwrite;
typedef tt_bufwrite tt_flush;
TT_API extern const tt_func tt_bufwrite_fn;
/* Append LEN bytes of DATA.  Result LEN, or -errno (-EINVAL NULL or a
 * destroyed writer, -ENOMEM, a write error). */
TT_API void tt_bufwrite_init(tt_bufwrite *op, tt_bufwriter *w, const void *data, size_t len);
/* Append FMT formatted.  Result the text's length, or -errno (-EINVAL
 * also for a format error). */
TT_API void tt_writef_init(tt_bufwrite *op, tt_bufwriter *w, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Write everything buffered.  Result the bytes written, or -errno (what
 * was not written stays buffered). */
TT_API void tt_flush_init(tt_flush *op, tt_bufwriter *w);

/* ---- files, on the blocking pool ----
 *
 * Regular files do not work with epoll (tt_fd_open refuses them): these
 * futures run the whole operation on the blocking-call pool.
 *
 * Ownership: PATH and DATA are copied by the init, so the caller may free
 * or reuse them as soon as it returns.  DATA_OUT and LEN_OUT are written
 * only when the future completes, by the awaiting task, so they may be
 * fields of the awaiting frame.  Cancelled (a timeout, shutdown), the
 * future stops waiting at once, but a call already on the pool runs to
 * its end: what it wrote is on disk (tt_file_replace: the old file or the
 * new one, never a mix), and its copies and any file contents read are
 * freed on the pool's thread when it returns -- nothing of the caller's
 * is touched after the cancel. */
typedef struct tt_file_op {
	tt_frame frame;
	struct tt_file_req *req;
	void **data_out;
	size_t *len_out;
	int handed; /* REQ is the pool job's if this frame is cancelled */
	tt_blocking blk;
} tt_file_op;
TT_API extern const tt_func tt_file_op_fn;
/* Read the whole file (at most MAX bytes).  Result: its length, with
 * *DATA_OUT a malloc'd copy (one NUL byte after the end; free() it) and
 * *LEN_OUT the length; -EFBIG over MAX; -EINVAL NULL arguments; -ENOMEM;
 * -errno from open/read. */
TT_API void tt_file_read_init(tt_file_op *op, const char *path, size_t max, void **data_out,
			      size_t *len_out);
/* Create or truncate PATH (mode 0666 less the umask) and write DATA.
 * Result LEN or -errno (-EINVAL NULL arguments). */
TT_API void tt_file_write_init(tt_file_op *op, const char *path, const void *data, size_t len);
/* Replace PATH atomically: DATA goes to a temporary file in the same
 * directory, which is flushed (fsync), then renamed over PATH, and the
 * directory flushed; readers see the old contents or the new, and a crash
 * leaves one of them.  The new file keeps the old one's permission bits
 * (0644 if there was none).  Result LEN or -errno (the temporary file is
 * removed on failure). */
TT_API void tt_file_replace_init(tt_file_op *op, const char *path, const void *data, size_t len);

/* ---- signals ----
 *
 * Await a signal: the result is SIGNO once it is delivered to the
 * process.  The signal must be the runtime's: listed in
 * tt_runtime_opts.signals, which tt_runtime_new blocks in the calling
 * thread before it starts the workers.  A new thread inherits the mask of
 * the thread creating it, so the workers, the blocking pool's threads and
 * threads created later from the calling thread have it blocked and the
 * signal waits for a tt_signal instead of running its default action
 * (SIGTERM: exit).  Threads created before tt_runtime_new keep their own
 * mask: block the signals there too, or create the runtime first.  The
 * mask stays after tt_runtime_free.
 *
 *   static const int sigs[] = {SIGTERM, SIGINT, 0};
 *   rt = tt_runtime_new(&(tt_runtime_opts){.workers = 4, .signals = sigs});
 *   TT_AWAIT(self, cx, &self->sig, tt_signal_init(&self->sig, SIGTERM));
 *
 * The runtime owns the signal handling: one signalfd per runtime, opened
 * by the first tt_signal awaited on it, which reads every signal some
 * tt_signal of the runtime has asked for, and each delivery ends the wait
 * of every tt_signal of that number waiting at the time (like Go's
 * signal.Notify, delivering to every channel): two tasks awaiting
 * SIGTERM both wake on one kill.  A wait begins at the tt_signal's first
 * poll.  A delivery while no tt_signal of its number waits is kept, one
 * per number as the kernel keeps a pending signal, and ends the next such
 * wait at once.  A
 * process-directed signal is read by one signalfd only: with several
 * runtimes, await each signal in one of them.
 *
 * Result: SIGNO; -EINVAL for a signal the runtime does not own (or
 * SIGKILL, SIGSTOP, out of range) or outside a task; -errno from
 * signalfd.  Readers see it waiting as an "fd read" on the signalfd. */
typedef struct tt_signal {
	tt_leaf leaf;
	int signo;
	uint16_t started;
	uint16_t reading;	/* RD is under way */
	uint64_t seen;		/* deliveries of SIGNO counted when the wait began */
	void *sigs;		/* the runtime's signal state (internal) */
	tt_waiter w;		/* on the runtime's list of signal waits */
	tt_read rd;		/* a read of the runtime's signalfd */
	unsigned char buf[512]; /* what it read: struct signalfd_siginfo each */
} tt_signal;
TT_API extern const tt_func tt_signal_fn;
TT_API void tt_signal_init(tt_signal *s, int signo);

#ifdef __cplusplus
}
#endif
#endif
