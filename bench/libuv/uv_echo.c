/* uv_echo [PORT]: the common libuv TCP echo server (one loop thread,
 * uv_read_start + uv_write of each chunk read), on 127.0.0.1, for
 * bench/compare.sh to run against tasktrace's samples/echo_server.
 * Prints "uv_echo: pid P port N ready" and serves until killed. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

typedef struct write_req {
	uv_write_t req;
	uv_buf_t buf;
} write_req;

static void alloc_buffer(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	(void)handle;
	buf->base = malloc(suggested);
	buf->len = buf->base ? suggested : 0;
}

static void on_close(uv_handle_t *handle) { free(handle); }

static void on_write(uv_write_t *req, int status)
{
	write_req *wr = (write_req *)req;
	if (status < 0 && !uv_is_closing((uv_handle_t *)req->handle))
		uv_close((uv_handle_t *)req->handle, on_close);
	free(wr->buf.base);
	free(wr);
}

static void on_read(uv_stream_t *client, ssize_t nread, const uv_buf_t *buf)
{
	if (nread > 0) {
		write_req *wr = malloc(sizeof *wr);
		wr->buf = uv_buf_init(buf->base, (unsigned)nread);
		uv_write(&wr->req, client, &wr->buf, 1, on_write);
		return;
	}
	if (nread < 0 && !uv_is_closing((uv_handle_t *)client))
		uv_close((uv_handle_t *)client, on_close);
	free(buf->base);
}

static void on_connection(uv_stream_t *server, int status)
{
	if (status < 0)
		return;
	uv_tcp_t *client = malloc(sizeof *client);
	uv_tcp_init(server->loop, client);
	if (uv_accept(server, (uv_stream_t *)client) == 0)
		uv_read_start((uv_stream_t *)client, alloc_buffer, on_read);
	else
		uv_close((uv_handle_t *)client, on_close);
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 0;
	uv_loop_t *loop = uv_default_loop();
	uv_tcp_t server;
	struct sockaddr_in addr;
	uv_tcp_init(loop, &server);
	uv_ip4_addr("127.0.0.1", port, &addr);
	int r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
	if (!r)
		r = uv_listen((uv_stream_t *)&server, 1024, on_connection);
	if (r) {
		fprintf(stderr, "uv_echo: listen on port %d: %s\n", port, uv_strerror(r));
		return 1;
	}
	struct sockaddr_storage bound;
	int len = sizeof bound;
	uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
	printf("uv_echo: pid %d port %d ready\n", (int)getpid(),
	       ntohs(((struct sockaddr_in *)&bound)->sin_port));
	fflush(stdout);
	return uv_run(loop, UV_RUN_DEFAULT);
}
