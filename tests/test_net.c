/* Datagrams, Unix-domain sockets and name resolution as a user sees
 * them: a datagram and its sender's address arrive, a Unix listener
 * accepts a connection that carries bytes both ways and replaces a stale
 * socket file but not a regular file, and lookups that need no network
 * resolve while bad ones return errno codes. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "sync_util.h"

/* ---- UDP: A sends to B, B answers to the sender's address ---- */
typedef struct udp_task {
	tt_frame frame;
	tt_fd *a, *b;
	struct sockaddr_in to;
	char in[16], back[16];
	tt_dgram d;
} udp_task;
static tt_poll udp_poll(udp_task *self, tt_cx *cx);
TT_ASYNC_FN(udp_task, udp_poll, NULL);
static tt_poll udp_poll(udp_task *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->d,
		 tt_send_to_init(&self->d, self->a, "ping", 4, (struct sockaddr *)&self->to,
				 sizeof self->to));
	CHECK(TT_RESULT(&self->d) == 4);
	TT_AWAIT(self, cx, &self->d, tt_recv_from_init(&self->d, self->b, self->in, 15));
	CHECK(TT_RESULT(&self->d) == 4);
	/* Answer whoever sent it. */
	{
		struct sockaddr_storage from = self->d.addr;
		socklen_t flen = self->d.addr_len;
		TT_AWAIT(
		    self, cx, &self->d,
		    tt_send_to_init(&self->d, self->b, "pong", 4, (struct sockaddr *)&from, flen));
	}
	CHECK(TT_RESULT(&self->d) == 4);
	/* A datagram longer than the buffer is cut to it. */
	TT_AWAIT(self, cx, &self->d, tt_recv_from_init(&self->d, self->a, self->back, 2));
	TT_RETURN(self, TT_RESULT(&self->d));
}

START_TEST(test_udp)
{
	tt_runtime *rt = tt_test_runtime(0);
	int a = tt_udp_bind(NULL, 0), b = tt_udp_bind("127.0.0.1", 0);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	udp_task t;
	memset(&t, 0, sizeof t);
	tt_frame_init(&t.frame, &udp_task_fn);
	ck_assert_int_eq(tt_fd_open(rt, a, &t.a), 0);
	ck_assert_int_eq(tt_fd_open(rt, b, &t.b), 0);
	t.to.sin_family = AF_INET;
	t.to.sin_port = htons((uint16_t)tt_socket_port(b));
	inet_pton(AF_INET, "127.0.0.1", &t.to.sin_addr);
	ck_assert_int_eq(tt_block_on(rt, &t.frame), 2);
	ck_assert_str_eq(t.in, "ping");
	ck_assert_int_eq(memcmp(t.back, "po", 2), 0);
	ck_assert_int_eq(ntohs(((struct sockaddr_in *)&t.d.addr)->sin_port), tt_socket_port(b));
	tt_fd_close(t.a);
	tt_fd_close(t.b);
	tt_runtime_free(rt);
	tt_dgram d;
	tt_send_to_init(&d, NULL, "x", 1, NULL, 0);
	ck_assert_int_eq(d.op.leaf.frame.result, -EBADF);
	tt_recv_from_init(&d, NULL, t.in, 1);
	ck_assert_int_eq(d.op.leaf.frame.result, -EBADF);
	/* Every fd operation, not only datagrams: finished with -EBADF. */
	tt_read rd;
	tt_read_init(&rd, NULL, t.in, 1);
	ck_assert_int_eq(rd.op.leaf.frame.result, -EBADF);
	ck_assert(rd.op.leaf.frame.state & TT_FRAME_DONE);
	tt_write_all_init(&rd, NULL, "x", 1);
	ck_assert_int_eq(rd.op.leaf.frame.result, -EBADF);
	tt_accept ac;
	tt_accept_init(&ac, NULL);
	ck_assert_int_eq(ac.op.leaf.frame.result, -EBADF);
	tt_readable rb;
	tt_readable_init(&rb, NULL);
	ck_assert_int_eq(rb.leaf.frame.result, -EBADF);
	ck_assert_int_eq(tt_udp_bind("not an address", 0), -EINVAL);
	ck_assert_int_eq(tt_udp_bind(NULL, 70000), -EINVAL);
}
END_TEST

/* ---- Unix sockets: listen, connect, accept, a round trip ---- */
typedef struct ux_task {
	tt_frame frame;
	tt_fd *lfd, *cfd, *sfd;
	struct sockaddr_storage sa;
	socklen_t len;
	char buf[8];
	tt_connect con;
	tt_accept acc;
	tt_read rw;
} ux_task;
static tt_poll ux_poll(ux_task *self, tt_cx *cx);
TT_ASYNC_FN(ux_task, ux_poll, NULL);
static tt_poll ux_poll(ux_task *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->con,
		 tt_connect_init(&self->con, self->cfd, (struct sockaddr *)&self->sa, self->len));
	CHECK(TT_RESULT(&self->con) == 0);
	TT_AWAIT(self, cx, &self->acc, tt_accept_init(&self->acc, self->lfd));
	CHECK(TT_RESULT(&self->acc) >= 0);
	CHECK(tt_fd_open(NULL, (int)TT_RESULT(&self->acc), &self->sfd) == 0);
	TT_AWAIT(self, cx, &self->rw, tt_write_all_init(&self->rw, self->cfd, "hi", 2));
	TT_AWAIT(self, cx, &self->rw, tt_read_exact_init(&self->rw, self->sfd, self->buf, 2));
	tt_fd_close(self->sfd);
	TT_RETURN(self, TT_RESULT(&self->rw));
}

START_TEST(test_unix)
{
	char dir[] = "/tmp/tt_unix_XXXXXX", path[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/sock", dir);
	tt_runtime *rt = tt_test_runtime(0);
	for (int round = 0; round < 2; round++) { /* the second replaces the stale file */
		int l = tt_unix_listen(path, 8);
		ck_assert_int_ge(l, 0);
		int c = tt_unix_socket();
		ck_assert_int_ge(c, 0);
		ux_task t;
		memset(&t, 0, sizeof t);
		tt_frame_init(&t.frame, &ux_task_fn);
		ck_assert_int_eq(tt_fd_open(rt, l, &t.lfd), 0);
		ck_assert_int_eq(tt_fd_open(rt, c, &t.cfd), 0);
		ck_assert_int_eq(tt_unix_addr(path, &t.sa, &t.len), 0);
		ck_assert_int_eq(tt_block_on(rt, &t.frame), 2);
		ck_assert_int_eq(memcmp(t.buf, "hi", 2), 0);
		tt_fd_close(t.lfd);
		tt_fd_close(t.cfd);
	}
	tt_runtime_free(rt);
	/* A regular file is not removed. */
	unlink(path);
	int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_ge(f, 0);
	close(f);
	ck_assert_int_eq(tt_unix_listen(path, 8), -EADDRINUSE);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	unlink(path);
	rmdir(dir);
	/* Bad input. */
	char longp[200];
	memset(longp, 'a', sizeof longp - 1);
	longp[sizeof longp - 1] = '\0';
	ck_assert_int_eq(tt_unix_listen(longp, 8), -ENAMETOOLONG);
	ck_assert_int_eq(tt_unix_listen(NULL, 8), -EINVAL);
	struct sockaddr_storage sa;
	socklen_t len;
	ck_assert_int_eq(tt_unix_addr(longp, &sa, &len), -ENAMETOOLONG);
	ck_assert_int_eq(tt_unix_addr("x", NULL, &len), -EINVAL);
}
END_TEST

/* ---- resolution ---- */
typedef struct rs_task {
	tt_frame frame;
	const char *host, *service;
	struct addrinfo hints;
	struct addrinfo *res;
	tt_resolve r;
} rs_task;
static tt_poll rs_poll(rs_task *self, tt_cx *cx);
TT_ASYNC_FN(rs_task, rs_poll, NULL);
static tt_poll rs_poll(rs_task *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->r,
		 tt_resolve_init(&self->r, self->host, self->service, &self->hints, &self->res));
	TT_RETURN(self, TT_RESULT(&self->r));
}
static intptr_t resolve(tt_runtime *rt, const char *host, const char *service, int flags,
			rs_task *t)
{
	memset(t, 0, sizeof *t);
	tt_frame_init(&t->frame, &rs_task_fn);
	t->host = host;
	t->service = service;
	t->hints.ai_family = AF_INET;
	t->hints.ai_socktype = SOCK_STREAM;
	t->hints.ai_flags = flags;
	return tt_block_on(rt, &t->frame);
}

START_TEST(test_resolve)
{
	tt_runtime *rt = tt_test_runtime(1);
	rs_task t;
	ck_assert_int_eq(resolve(rt, "127.0.0.1", "8080", AI_NUMERICHOST | AI_NUMERICSERV, &t), 0);
	ck_assert_ptr_nonnull(t.res);
	struct sockaddr_in *sa = (struct sockaddr_in *)t.res->ai_addr;
	ck_assert_int_eq(ntohs(sa->sin_port), 8080);
	ck_assert_uint_eq(ntohl(sa->sin_addr.s_addr), 0x7f000001u);
	freeaddrinfo(t.res);
	/* localhost comes from /etc/hosts: no network needed. */
	ck_assert_int_eq(resolve(rt, "localhost", NULL, 0, &t), 0);
	freeaddrinfo(t.res);
	/* No such name; unknown service; nothing to look up. */
	ck_assert_int_eq(resolve(rt, "not-an-address", NULL, AI_NUMERICHOST, &t), -ENXIO);
	ck_assert_int_eq(t.r.gai_error, EAI_NONAME);
	ck_assert_ptr_null(t.res);
	ck_assert_int_eq(resolve(rt, "127.0.0.1", "no-such-service-xyz", AI_NUMERICHOST, &t),
			 -ESRCH);
	ck_assert_int_eq(resolve(rt, NULL, NULL, 0, &t), -EINVAL);
	tt_runtime_free(rt);
}
END_TEST

static Suite *net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("net");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_udp);
	tcase_add_test(tc, test_unix);
	tcase_add_test(tc, test_resolve);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(net_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
