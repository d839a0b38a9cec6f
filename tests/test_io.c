/* The epoll reactor as a user sees it: bytes arrive intact, errors come
 * back as codes (never a crash or hang), a pending operation can be woken by
 * close, timed out or cancelled and leaves no registration behind, and the
 * echo_server sample serves 1,000 concurrent loopback connections. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "sync_util.h"

static int fd_is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

/* Deterministic pseudo-random bytes: byte I of stream SEED. */
static unsigned char stream_byte(uint32_t seed, size_t i)
{
	uint32_t x = seed * 0x9e3779b9u ^ (uint32_t)(i / 4) * 0x85ebca6bu;
	x ^= x >> 15;
	x *= 0x2c1b3c6du;
	x ^= x >> 12;
	return (unsigned char)(x >> (8 * (i % 4)));
}

/* ---- one I/O operation as a task, with a cleanup counter ---- */
enum { OP_READ, OP_READ_EXACT, OP_WRITE_ALL, OP_ACCEPT, OP_CONNECT, OP_READ_TIMEOUT };
typedef struct io_task {
	tt_frame frame;
	int kind;
	tt_fd *fd;
	void *buf;
	size_t len;
	struct sockaddr_in addr;
	_Atomic int drops;
	size_t done; /* read_exact / write_all: bytes moved */
	union {
		tt_read rw;
		tt_accept acc;
		tt_connect con;
	} u;
	tt_timeout to;
} io_task;
static tt_poll io_task_poll(io_task *self, tt_cx *cx);
static void io_task_drop(io_task *self) { atomic_fetch_add(&self->drops, 1); }
TT_ASYNC_FN(io_task, io_task_poll, io_task_drop);
static tt_poll io_task_poll(io_task *self, tt_cx *cx)
{
	TT_BEGIN(self);
	switch (self->kind) {
	case OP_READ:
		TT_AWAIT(self, cx, &self->u.rw, tt_read_init(&self->u.rw, self->fd, self->buf, self->len));
		break;
	case OP_READ_EXACT:
		TT_AWAIT(self, cx, &self->u.rw,
			 tt_read_exact_init(&self->u.rw, self->fd, self->buf, self->len));
		self->done = self->u.rw.done;
		break;
	case OP_WRITE_ALL:
		TT_AWAIT(self, cx, &self->u.rw,
			 tt_write_all_init(&self->u.rw, self->fd, self->buf, self->len));
		self->done = self->u.rw.done;
		break;
	case OP_ACCEPT:
		TT_AWAIT(self, cx, &self->u.acc, tt_accept_init(&self->u.acc, self->fd));
		break;
	case OP_CONNECT:
		TT_AWAIT(self, cx, &self->u.con,
			 tt_connect_init(&self->u.con, self->fd, (struct sockaddr *)&self->addr,
					 sizeof self->addr));
		break;
	case OP_READ_TIMEOUT:
		TT_AWAIT(self, cx, &self->to,
			 (tt_read_init(&self->u.rw, self->fd, self->buf, self->len),
			  tt_timeout_init(&self->to, &self->u.rw.op.leaf.frame, TT_MS(20))));
		TT_RETURN(self, TT_RESULT(&self->to));
	}
	TT_RETURN(self, TT_RESULT(&self->u));
}

typedef struct io_ctx {
	int p[2];      /* a pipe */
	tt_fd *rd, *wr;
	int lfd;       /* a listening socket */
	tt_fd *lis, *sock;
	unsigned char *src, *dst;
	size_t len;
	io_task op[4];
	tt_handle t[4];
} io_ctx;

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* PORT: where OP_CONNECT connects (set before the spawn: on two workers the
 * task may run at once). */
static void start_op_port(io_ctx *x, int k, int kind, tt_fd *fd, void *buf, size_t len, int port)
{
	memset(&x->op[k], 0, sizeof x->op[k]);
	tt_frame_init(&x->op[k].frame, &io_task_fn);
	x->op[k].kind = kind;
	x->op[k].fd = fd;
	x->op[k].buf = buf;
	x->op[k].len = len;
	x->op[k].addr = loopback(port);
	x->t[k] = spawn_frame("io", &x->op[k].frame);
}
static void start_op(io_ctx *x, int k, int kind, tt_fd *fd, void *buf, size_t len)
{
	start_op_port(x, k, kind, fd, buf, len, 0);
}
static intptr_t result_of(io_ctx *x, int k) { return tt_task_result(x->t[k]); }

static void open_pipe(io_ctx *x)
{
	ck_assert_int_eq(pipe2(x->p, O_CLOEXEC), 0);
	ck_assert_int_eq(tt_fd_open(NULL, x->p[0], &x->rd), 0);
	ck_assert_int_eq(tt_fd_open(NULL, x->p[1], &x->wr), 0);
}

/* ================= 6. data through a pipe ================= */

/* 1 MiB through a pipe (64 KiB of buffer): write_all and read_exact both
 * suspend many times; every byte arrives in order. */
static int pipe_mib_step(void *p, int i)
{
	io_ctx *x = p;
	switch (i) {
	case 0: open_pipe(x);
		x->len = (size_t)1 << 20;
		x->src = malloc(x->len);
		x->dst = calloc(1, x->len);
		for (size_t k = 0; k < x->len; k++)
			x->src[k] = stream_byte(7, k);
		start_op(x, 0, OP_READ_EXACT, x->rd, x->dst, x->len);
		start_op(x, 1, OP_WRITE_ALL, x->wr, x->src, x->len);
		return STEP_NEXT;
	case 1: WAIT_UNTIL(tt_task_is_done(x->t[0]) && tt_task_is_done(x->t[1]));
		ck_assert_int_eq(result_of(x, 1), (intptr_t)x->len);
		ck_assert_int_eq(result_of(x, 0), (intptr_t)x->len);
		ck_assert_uint_eq(x->op[0].done, x->len);
		ck_assert(memcmp(x->src, x->dst, x->len) == 0);
		ck_assert_int_eq(tt_fd_close(x->rd), 0);
		ck_assert_int_eq(tt_fd_close(x->wr), 0);
		for (int k = 0; k < 2; k++)
			tt_task_release(x->t[k]);
		free(x->src);
		free(x->dst);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* read_exact on a stream that ends early: -ENODATA, with the bytes that did
 * arrive in the buffer and counted. */
static int read_exact_eof_step(void *p, int i)
{
	io_ctx *x = p;
	static unsigned char buf[4096];
	switch (i) {
	case 0: open_pipe(x);
		memset(buf, 0, sizeof buf);
		start_op(x, 0, OP_READ_EXACT, x->rd, buf, sizeof buf);
		return STEP_NEXT;
	case 1: WAIT_UNTIL(task_idle(x->t[0]));
		{
			unsigned char out[1000];
			for (int k = 0; k < 1000; k++)
				out[k] = stream_byte(3, (size_t)k);
			ck_assert_int_eq(write(x->p[1], out, sizeof out), (ssize_t)sizeof out);
		}
		ck_assert_int_eq(tt_fd_close(x->wr), 0); /* end of stream */
		return STEP_NEXT;
	case 2: WAIT_UNTIL(tt_task_is_done(x->t[0]));
		ck_assert_int_eq(result_of(x, 0), -ENODATA);
		ck_assert_uint_eq(x->op[0].done, 1000);
		for (int k = 0; k < 1000; k++)
			if (buf[k] != stream_byte(3, (size_t)k))
				ck_abort_msg("byte %d differs", k);
		ck_assert_int_eq(tt_fd_close(x->rd), 0);
		tt_task_release(x->t[0]);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* A pending reader is woken with -EBADF by tt_fd_close; the descriptor is
 * closed once the reader let go.  A read under tt_timeout on a silent pipe
 * times out and leaves nothing registered: the fd closes and its number is
 * reused for a fresh registration that works. */
static int close_and_timeout_step(void *p, int i)
{
	io_ctx *x = p;
	static char buf[64];
	switch (i) {
	case 0: open_pipe(x);
		start_op(x, 0, OP_READ, x->rd, buf, sizeof buf);
		start_op(x, 1, OP_READ_TIMEOUT, x->rd, buf + 32, 32);
		return STEP_NEXT;
	case 1: WAIT_UNTIL(task_idle(x->t[0]) && tt_task_is_done(x->t[1]));
		ck_assert_int_eq(result_of(x, 1), TT_ETIMEDOUT);
		ck_assert_int_eq(x->op[1].drops, 0); /* the read inside was cancelled, not us */
		ck_assert(!tt_task_is_done(x->t[0]));
		ck_assert_int_eq(tt_fd_close(x->rd), 0);
		return STEP_NEXT;
	case 2: WAIT_UNTIL(tt_task_is_done(x->t[0]));
		ck_assert_int_eq(result_of(x, 0), -EBADF);
		ck_assert(!fd_is_open(x->p[0])); /* no operation holds it any more */
		ck_assert_int_eq(tt_fd_close(x->wr), 0);
		ck_assert(!fd_is_open(x->p[1]));
		ck_assert_int_eq(tt_fd_close(x->wr), -EBADF); /* double close */
		for (int k = 0; k < 2; k++)
			tt_task_release(x->t[k]);
		/* The numbers come back; the new pipe works end to end.  A late
		 * close through an old handle stays an error and does not close
		 * the new registrations. */
		tt_fd *old_rd = x->rd, *old_wr = x->wr;
		open_pipe(x);
		ck_assert_int_eq(tt_fd_close(old_rd), -EBADF);
		ck_assert_int_eq(tt_fd_close(old_wr), -EBADF);
		ck_assert_int_eq(write(x->p[1], "ping", 4), 4);
		start_op(x, 0, OP_READ, x->rd, buf, sizeof buf);
		return STEP_NEXT;
	case 3: WAIT_UNTIL(tt_task_is_done(x->t[0]));
		ck_assert_int_eq(result_of(x, 0), 4);
		ck_assert(memcmp(buf, "ping", 4) == 0);
		ck_assert_int_eq(tt_fd_close(x->rd), 0);
		ck_assert_int_eq(tt_fd_close(x->wr), 0);
		tt_task_release(x->t[0]);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* ================= 2. cancellation of read and accept ================= */

static int cancel_io_step(void *p, int i)
{
	io_ctx *x = p;
	static char buf[16];
	switch (i) {
	case 0: open_pipe(x);
		x->lfd = tt_tcp_listen("127.0.0.1", 0, 16);
		ck_assert_int_ge(x->lfd, 0);
		ck_assert_int_eq(tt_fd_open(NULL, x->lfd, &x->lis), 0);
		start_op(x, 0, OP_READ, x->rd, buf, sizeof buf);
		start_op(x, 1, OP_ACCEPT, x->lis, NULL, 0);
		return STEP_NEXT;
	case 1: WAIT_UNTIL(task_idle(x->t[0]) && task_idle(x->t[1]));
		tt_task_cancel(x->t[0]);
		tt_task_cancel(x->t[1]);
		return STEP_NEXT;
	case 2: WAIT_UNTIL(tt_task_is_done(x->t[0]) && tt_task_is_done(x->t[1]));
		for (int k = 0; k < 2; k++) {
			ck_assert_int_eq(result_of(x, k), TT_ECANCELED);
			ck_assert_int_eq(x->op[k].drops, 1);
			ck_assert_uint_eq(tt_test_task_field(x->t[k], TT_TASK_WAKERS), 0);
			tt_task_release(x->t[k]);
		}
		/* Both fds still work for the next operation. */
		ck_assert_int_eq(write(x->p[1], "x", 1), 1);
		start_op(x, 0, OP_READ, x->rd, buf, sizeof buf);
		start_op(x, 1, OP_ACCEPT, x->lis, NULL, 0);
		{
			int s = tt_tcp_socket(AF_INET);
			ck_assert_int_ge(s, 0);
			ck_assert_int_eq(tt_fd_open(NULL, s, &x->sock), 0);
		}
		start_op_port(x, 2, OP_CONNECT, x->sock, NULL, 0, tt_socket_port(x->lfd));
		return STEP_NEXT;
	case 3: WAIT_UNTIL(tt_task_is_done(x->t[0]) && tt_task_is_done(x->t[1]) &&
			   tt_task_is_done(x->t[2]));
		ck_assert_int_eq(result_of(x, 0), 1);
		ck_assert_int_eq(result_of(x, 2), 0);
		ck_assert_int_ge(result_of(x, 1), 0);
		{
			struct sockaddr_in *peer = (struct sockaddr_in *)&x->op[1].u.acc.peer;
			ck_assert_int_eq(peer->sin_family, AF_INET);
			ck_assert_uint_eq(ntohl(peer->sin_addr.s_addr), INADDR_LOOPBACK);
		}
		close((int)result_of(x, 1));
		for (int k = 0; k < 3; k++)
			tt_task_release(x->t[k]);
		ck_assert_int_eq(tt_fd_close(x->sock), 0);
		ck_assert_int_eq(tt_fd_close(x->lis), 0);
		ck_assert_int_eq(tt_fd_close(x->rd), 0);
		ck_assert_int_eq(tt_fd_close(x->wr), 0);
		return STEP_DONE;
	}
	return STEP_DONE;
}

/* ================= 5. bad input ================= */

static int bad_input_step(void *p, int i)
{
	io_ctx *x = p;
	tt_fd *f = NULL;
	if (i == 1) {
		WAIT_UNTIL(tt_task_is_done(x->t[0]) && tt_task_is_done(x->t[1]) &&
			   tt_task_is_done(x->t[2]));
		ck_assert_int_eq(tt_fd_close(x->rd), 0);
		ck_assert_int_eq(tt_fd_close(x->wr), 0);
		ck_assert_int_eq(tt_fd_close(x->sock), 0);
		ck_assert_int_eq(tt_fd_close(x->lis), 0);
		return STEP_DONE;
	}
	/* A regular file: epoll cannot watch it. */
	char path[] = "/tmp/tt-io-XXXXXX";
	int reg = mkstemp(path);
	ck_assert_int_ge(reg, 0);
	unlink(path);
	ck_assert_int_eq(tt_fd_open(NULL, reg, &f), -EPERM);
	close(reg);
	ck_assert_int_eq(tt_fd_open(NULL, -1, &f), -EINVAL);
	/* accept on a pipe and on a socket that does not listen: errors at
	 * once, not a wait for readiness that never comes. */
	open_pipe(x);
	start_op(x, 0, OP_ACCEPT, x->rd, NULL, 0);
	int s = tt_tcp_socket(AF_INET);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(tt_fd_open(NULL, s, &x->sock), 0);
	start_op(x, 1, OP_ACCEPT, x->sock, NULL, 0);
	/* connect to a port nobody listens on (bound, then closed). */
	int tmp = tt_tcp_listen("127.0.0.1", 0, 1);
	ck_assert_int_ge(tmp, 0);
	int port = tt_socket_port(tmp);
	close(tmp);
	int c = tt_tcp_socket(AF_INET);
	ck_assert_int_eq(tt_fd_open(NULL, c, &x->lis), 0);
	start_op_port(x, 2, OP_CONNECT, x->lis, NULL, 0, port);
	return STEP_NEXT;
}

START_TEST(test_io_bad_input)
{
	/* Outside a task with no runtime: -EINVAL. */
	tt_fd *f;
	ck_assert_int_eq(tt_fd_open(NULL, 0, &f), -EINVAL);
	io_ctx x = {0};
	run_script(0, bad_input_step, &x);
	ck_assert_int_eq(tt_task_result(x.t[0]), -ENOTSOCK);
	ck_assert_int_eq(tt_task_result(x.t[1]), -EINVAL);
	ck_assert_int_eq(tt_task_result(x.t[2]), -ECONNREFUSED);
	for (int k = 0; k < 3; k++)
		tt_task_release(x.t[k]);
}
END_TEST

/* accept + connect on loopback across two workers, then 256 KiB one way. */
static int loopback_step(void *p, int i)
{
	io_ctx *x = p;
	switch (i) {
	case 0: x->lfd = tt_tcp_listen("127.0.0.1", 0, 16);
		ck_assert_int_ge(x->lfd, 0);
		ck_assert_int_eq(tt_fd_open(NULL, x->lfd, &x->lis), 0);
		ck_assert_int_eq(tt_fd_open(NULL, tt_tcp_socket(AF_INET), &x->sock), 0);
		start_op(x, 0, OP_ACCEPT, x->lis, NULL, 0);
		start_op_port(x, 1, OP_CONNECT, x->sock, NULL, 0, tt_socket_port(x->lfd));
		return STEP_NEXT;
	case 1: WAIT_UNTIL(tt_task_is_done(x->t[0]) && tt_task_is_done(x->t[1]));
		ck_assert_int_eq(result_of(x, 1), 0);
		ck_assert_int_ge(result_of(x, 0), 0);
		ck_assert_int_eq(tt_fd_open(NULL, (int)result_of(x, 0), &x->rd), 0);
		tt_task_release(x->t[0]);
		tt_task_release(x->t[1]);
		x->len = 256 * 1024;
		x->src = malloc(x->len);
		x->dst = calloc(1, x->len);
		for (size_t k = 0; k < x->len; k++)
			x->src[k] = stream_byte(11, k);
		start_op(x, 0, OP_WRITE_ALL, x->sock, x->src, x->len);
		start_op(x, 1, OP_READ_EXACT, x->rd, x->dst, x->len);
		return STEP_NEXT;
	case 2: WAIT_UNTIL(tt_task_is_done(x->t[0]) && tt_task_is_done(x->t[1]));
		ck_assert_int_eq(result_of(x, 0), (intptr_t)x->len);
		ck_assert_int_eq(result_of(x, 1), (intptr_t)x->len);
		ck_assert(memcmp(x->src, x->dst, x->len) == 0);
		tt_task_release(x->t[0]);
		tt_task_release(x->t[1]);
		ck_assert_int_eq(tt_fd_close(x->rd), 0);
		ck_assert_int_eq(tt_fd_close(x->sock), 0);
		ck_assert_int_eq(tt_fd_close(x->lis), 0);
		free(x->src);
		free(x->dst);
		return STEP_DONE;
	}
	return STEP_DONE;
}

START_TEST(test_io_scripts)
{
	static const step_fn steps[] = {pipe_mib_step, read_exact_eof_step, close_and_timeout_step,
					cancel_io_step, loopback_step};
	io_ctx x = {0};
	uint64_t live0 = tt_test_tasks_live();
	/* _i = script x {current thread, 2 workers} */
	run_script(_i % 2 ? 2 : 0, steps[_i / 2], &x);
	ck_assert_uint_eq(tt_test_tasks_live(), live0);
}
END_TEST

/* ================= 7. echo_server under 1,000 connections =================
 * A plain epoll client (independent of the runtime under test) drives the
 * real sample: each connection sends 64 KiB of its own pseudo-random stream
 * in uneven chunks, half-closes, and checks every byte that comes back. */
enum { ECHO_BYTES = 64 * 1024 };
typedef struct echo_conn {
	int fd;
	size_t sent, got;
	int done;
} echo_conn;

static pid_t start_echo_server(int *port)
{
	const char *dir = getenv("TT_SAMPLES");
	ck_assert_msg(dir != NULL, "TT_SAMPLES not set");
	char path[4096];
	snprintf(path, sizeof path, "%s/echo_server", dir);
	int out[2];
	ck_assert_int_eq(pipe(out), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execl(path, path, "0", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	FILE *f = fdopen(out[0], "r");
	char line[256] = "";
	int spid = 0;
	ck_assert_msg(fgets(line, sizeof line, f) != NULL, "echo_server (%s) printed nothing", path);
	ck_assert_msg(sscanf(line, "echo_server: pid %d port %d ready", &spid, port) == 2,
		      "unexpected banner: %s", line);
	ck_assert_int_eq(spid, pid);
	fclose(f);
	return pid;
}

START_TEST(test_echo_server_many)
{
	int n = tt_test_scaled(1000);
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl); /* the server inherits it */
	/* Below the fd limit the test needs, fewer connections, still checked
	 * (a skip here used to pass without asserting anything). */
	if ((rlim_t)2 * (rlim_t)n + 100 > rl.rlim_cur) {
		int fit = rl.rlim_cur > 164 ? (int)((rl.rlim_cur - 100) / 2) : 32;
		printf("test_echo_server_many: %d connections, not %d (RLIMIT_NOFILE %llu)\n", fit,
		       n, (unsigned long long)rl.rlim_cur);
		n = fit;
	}
	signal(SIGPIPE, SIG_IGN);
	int port = 0;
	pid_t pid = start_echo_server(&port);
	struct sockaddr_in sa = loopback(port);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	echo_conn *c = calloc((size_t)n, sizeof *c);
	for (int k = 0; k < n; k++) {
		c[k].fd = tt_tcp_socket(AF_INET);
		ck_assert_int_ge(c[k].fd, 0);
		int r = connect(c[k].fd, (struct sockaddr *)&sa, sizeof sa);
		ck_assert_msg(r == 0 || errno == EINPROGRESS, "connect %d: %s", k, strerror(errno));
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)k};
		ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, c[k].fd, &ev), 0);
	}
	int finished = 0;
	uint64_t deadline = tt_now_ns() + TT_SEC(60);
	static unsigned char buf[65536], chunk[8192];
	while (finished < n) {
		if (tt_now_ns() > deadline) {
			size_t sent = 0, got = 0;
			for (int k = 0; k < n; k++)
				sent += c[k].sent, got += c[k].got;
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			ck_abort_msg("echo_server: only %d of %d connections finished in 60 s "
				     "(%zu bytes sent, %zu echoed)", finished, n, sent, got);
		}
		struct epoll_event evs[256];
		int ne = epoll_wait(ep, evs, 256, 100);
		for (int e = 0; e < ne; e++) {
			echo_conn *cn = &c[evs[e].data.u32];
			uint32_t id = evs[e].data.u32;
			if (cn->done)
				continue;
			if ((evs[e].events & EPOLLOUT) && cn->sent < ECHO_BYTES) {
				size_t len = 1 + (id * 7919u + cn->sent) % sizeof chunk;
				if (len > ECHO_BYTES - cn->sent)
					len = ECHO_BYTES - cn->sent;
				for (size_t k = 0; k < len; k++)
					chunk[k] = stream_byte(id, cn->sent + k);
				ssize_t w = send(cn->fd, chunk, len, MSG_NOSIGNAL);
				ck_assert_msg(w > 0 || errno == EAGAIN, "send on %u: %s", id, strerror(errno));
				if (w > 0)
					cn->sent += (size_t)w;
				if (cn->sent == ECHO_BYTES) {
					shutdown(cn->fd, SHUT_WR); /* the server sees EOF after echoing */
					struct epoll_event ev = {.events = EPOLLIN, .data.u32 = id};
					epoll_ctl(ep, EPOLL_CTL_MOD, cn->fd, &ev);
				}
			}
			if (evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				ssize_t r = recv(cn->fd, buf, sizeof buf, 0);
				ck_assert_msg(r >= 0 || errno == EAGAIN, "recv on %u: %s", id, strerror(errno));
				/* (ck_assert per byte would cost a syscall each) */
				for (ssize_t k = 0; k < r; k++)
					if (buf[k] != stream_byte(id, cn->got + (size_t)k))
						ck_abort_msg("connection %u: byte %zu differs", id,
							     cn->got + (size_t)k);
				if (r > 0)
					cn->got += (size_t)r;
				if (r == 0) { /* the server closed: everything must be back */
					ck_assert_msg(cn->got == ECHO_BYTES, "connection %u closed after %zu bytes",
						      id, cn->got);
					cn->done = 1;
					finished++;
					close(cn->fd);
				}
			}
		}
	}
	/* Still serving (it did not crash on the way). */
	ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
	kill(pid, SIGTERM);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	close(ep);
	free(c);
}
END_TEST

static Suite *io_suite(void)
{
	Suite *s = suite_create("io");
	TCase *tc = tcase_create("io");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_io_bad_input);
	tcase_add_loop_test(tc, test_io_scripts, 0, 10);
	tcase_add_test(tc, test_echo_server_many);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(io_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
