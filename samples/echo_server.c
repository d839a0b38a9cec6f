/* echo_server [PORT [PARKED]]: TCP echo on 127.0.0.1 (port 0 or none: any
 * free port).  Prints "echo_server: pid P port N ready" and serves until
 * killed; each connection is a task named "conn".  PARKED more tasks
 * ("parked") wait forever on a notify, for a reader's cost over a big
 * registry (bench/top_cost.sh, bench/profile_echo.sh). */
#include <stdlib.h>
#include <string.h>

#include "sample.h"

typedef struct echo_conn {
	tt_frame frame;
	tt_fd *fd;
	char buf[16384];
	tt_read rd;
	tt_write wr;
} echo_conn;
static tt_poll echo_conn_poll(echo_conn *self, tt_cx *cx);
static void echo_conn_drop(echo_conn *self);
TT_ASYNC_FN(echo_conn, echo_conn_poll, echo_conn_drop);

static void echo_conn_init(echo_conn *c, tt_fd *fd)
{
	tt_frame_init(&c->frame, &echo_conn_fn);
	c->fd = fd;
}

static tt_poll echo_conn_poll(echo_conn *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		TT_AWAIT(self, cx, &self->rd, tt_read_init(&self->rd, self->fd, self->buf, sizeof self->buf));
		if (TT_RESULT(&self->rd) <= 0)
			break;
		TT_AWAIT(self, cx, &self->wr,
			 tt_write_all_init(&self->wr, self->fd, self->buf, (size_t)TT_RESULT(&self->rd)));
		if (TT_RESULT(&self->wr) < 0)
			break;
	}
	tt_fd_close(self->fd);
	TT_RETURN(self, 0);
}

/* Cancelled (runtime shutdown): the connection still gets closed. */
static void echo_conn_drop(echo_conn *self) { tt_fd_close(self->fd); }

static tt_notify never;

typedef struct parked {
	tt_frame frame;
	tt_notified wait;
} parked;
static tt_poll parked_poll(parked *self, tt_cx *cx);
TT_ASYNC_FN(parked, parked_poll, NULL);
static void parked_init(parked *p)
{
	tt_frame_init(&p->frame, &parked_fn);
}
static tt_poll parked_poll(parked *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->wait, tt_notified_init(&self->wait, &never));
	TT_RETURN(self, 0);
}

typedef struct acceptor {
	tt_frame frame;
	tt_fd *listener;
	tt_accept acc;
	long parked;
	uint64_t rest; /* sample_accept_backoff */
	tt_sleep nap;
} acceptor;
static tt_poll acceptor_poll(acceptor *self, tt_cx *cx);
TT_ASYNC_FN(acceptor, acceptor_poll, NULL);

static tt_poll acceptor_poll(acceptor *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (long i = 0; i < self->parked; i++) {
		tt_handle t = TT_SPAWN(NULL, "parked", parked, parked_init);
		if (!t.task) {
			perror("echo_server: spawn");
			exit(1);
		}
		tt_task_detach(t);
	}
	for (;;) {
		TT_AWAIT(self, cx, &self->acc, tt_accept_init(&self->acc, self->listener));
		if (TT_RESULT(&self->acc) < 0) {
			fprintf(stderr, "accept: %s\n", strerror((int)-TT_RESULT(&self->acc)));
			if ((self->rest = sample_accept_backoff(TT_RESULT(&self->acc), self->rest)))
				TT_AWAIT(self, cx, &self->nap,
					 tt_sleep_init(&self->nap, self->rest));
			continue;
		}
		self->rest = 0;
		intptr_t fd = TT_RESULT(&self->acc);
		tt_fd *conn;
		if (tt_fd_open(NULL, (int)fd, &conn) < 0) {
			close((int)fd);
			continue;
		}
		tt_handle t = TT_SPAWN(NULL, "conn", echo_conn, echo_conn_init, conn);
		if (t.task)
			tt_task_detach(t);
		else
			tt_fd_close(conn);
	}
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 0;
	int lfd = tt_tcp_listen("127.0.0.1", port, 1024);
	if (lfd < 0) {
		fprintf(stderr, "echo_server: listen on port %d: %s\n", port, strerror(-lfd));
		return 1;
	}
	tt_runtime *rt = tt_runtime_new(NULL);
	if (!rt) {
		perror("tt_runtime_new");
		return 1;
	}
	acceptor a;
	tt_frame_init(&a.frame, &acceptor_fn);
	tt_notify_init(&never);
	a.parked = argc > 2 ? atol(argv[2]) : 0;
	a.rest = 0;
	if (tt_fd_open(rt, lfd, &a.listener) < 0) {
		perror("tt_fd_open");
		return 1;
	}
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0); /* readable by tasktrace/gdb */
	printf("echo_server: pid %d port %d ready\n", (int)getpid(), tt_socket_port(lfd));
	fflush(stdout);
	tt_block_on(rt, &a.frame);
	return 0;
}
