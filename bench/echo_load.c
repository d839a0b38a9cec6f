/* echo_load: request/response load for a TCP echo server on loopback.
 *
 * C connections, each sending one SIZE-byte message and waiting for all of
 * it to come back before sending the next (one message in flight per
 * connection).  Connections are spread over T client threads, each driving
 * its share with epoll.  After a warm-up (not counted), messages are counted
 * for DURATION seconds (or until COUNT messages), and the round-trip time of
 * each is recorded.  Prints one parseable summary line on stdout:
 *
 *   echo_load host=127.0.0.1 port=P conns=C size=S threads=T secs=D msgs=N
 *     msgs_per_s=X p50_us=A p99_us=B max_us=M errors=E
 *
 * (one line; wrapped here).  Bounded in time: a hard deadline (duration +
 * warm-up + 10 s, or -T) stops everything, even against a server that stops
 * answering.  Only loopback addresses (127.0.0.0/8) are accepted.
 *
 * usage: echo_load [-h host] -p port [-c conns] [-s size] [-d secs]
 *                  [-w warmup_secs] [-n count] [-t threads] [-T max_secs] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

typedef struct conn {
	int fd;
	size_t sent, got;
	uint64_t start;
	int want_out;
} conn;

typedef struct lat_buf {
	uint32_t *v; /* microseconds * 16 (1/16 us resolution), saturating */
	size_t len, cap;
} lat_buf;

typedef struct worker {
	pthread_t thread;
	int index;
	conn *conns;
	int nconns;
	uint64_t msgs, errors;
	lat_buf lat;
} worker;

static struct sockaddr_in addr;
static size_t msg_size = 64;
static uint64_t t_measure, t_end, t_hard;
static uint64_t count_limit;          /* 0: by duration */
static _Atomic uint64_t counted;       /* across threads, count mode */
static _Atomic int stop;
static unsigned char *payload;

static void lat_add(lat_buf *b, uint64_t ns)
{
	if (b->len == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 65536;
		uint32_t *v = realloc(b->v, cap * sizeof *v);
		if (!v)
			return;
		b->v = v;
		b->cap = cap;
	}
	uint64_t q = ns * 16 / 1000;
	b->v[b->len++] = q > UINT32_MAX ? UINT32_MAX : (uint32_t)q;
}

static int send_some(conn *c)
{
	while (c->sent < msg_size) {
		ssize_t n = send(c->fd, payload + c->sent, msg_size - c->sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1; /* wait for EPOLLOUT */
			return -1;
		}
		c->sent += (size_t)n;
	}
	return 0;
}

static void start_msg(worker *w, int ep, conn *c)
{
	c->sent = c->got = 0;
	c->start = now_ns();
	int r = send_some(c);
	if (r < 0) {
		w->errors++;
		return;
	}
	int want_out = r == 1;
	if (want_out != c->want_out) {
		struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0),
					 .data.ptr = c};
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->want_out = want_out;
	}
}

static int connect_one(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Blocking connect on loopback, bounded by a send timeout. */
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		close(fd);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct timeval zero = {0, 0};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof zero);
	return fd;
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		w->errors++;
		return NULL;
	}
	unsigned char *rbuf = malloc(msg_size);
	for (int i = 0; i < w->nconns; i++) {
		conn *c = &w->conns[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
		start_msg(w, ep, c);
	}
	struct epoll_event evs[256];
	while (!atomic_load(&stop)) {
		uint64_t now = now_ns();
		if (now >= t_hard || (!count_limit && now >= t_end))
			break;
		int n = epoll_wait(ep, evs, 256, 100);
		if (n < 0 && errno != EINTR) {
			w->errors++;
			break;
		}
		for (int i = 0; i < n; i++) {
			conn *c = evs[i].data.ptr;
			if (c->fd < 0)
				continue;
			if ((evs[i].events & EPOLLOUT) && c->sent < msg_size) {
				int r = send_some(c);
				if (r < 0)
					goto broken;
				if (r == 0 && c->want_out) {
					struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
					c->want_out = 0;
				}
			}
			if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			for (;;) {
				ssize_t r = recv(c->fd, rbuf, msg_size - c->got, MSG_DONTWAIT);
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
					break;
				if (r <= 0)
					goto broken;
				c->got += (size_t)r;
				if (c->got < msg_size)
					continue;
				uint64_t end = now_ns();
				if (c->start >= t_measure && (count_limit || end <= t_end)) {
					w->msgs++;
					lat_add(&w->lat, end - c->start);
					if (count_limit && atomic_fetch_add(&counted, 1) + 1 >= count_limit)
						atomic_store(&stop, 1);
				}
				start_msg(w, ep, c);
				break;
			}
			continue;
		broken:
			w->errors++;
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			c->fd = -1;
		}
	}
	free(rbuf);
	close(ep);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr, "usage: echo_load [-h host] -p port [-c conns] [-s size] [-d secs] "
			"[-w warmup_secs] [-n count] [-t threads] [-T max_secs]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 0, nconns = 16, nthreads = 1, opt;
	double secs = 5, warmup = 1, max_secs = 0;
	while ((opt = getopt(argc, argv, "h:p:c:s:d:w:n:t:T:")) != -1) {
		switch (opt) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': nconns = atoi(optarg); break;
		case 's': msg_size = (size_t)atol(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'w': warmup = atof(optarg); break;
		case 'n': count_limit = (uint64_t)atoll(optarg); break;
		case 't': nthreads = atoi(optarg); break;
		case 'T': max_secs = atof(optarg); break;
		default: usage();
		}
	}
	if (port <= 0 || port > 65535 || nconns <= 0 || nconns > 10000 || msg_size == 0 ||
	    msg_size > (1u << 20) || nthreads <= 0 || nthreads > 64 || secs <= 0 ||
	    secs > 3600 || warmup < 0 || warmup > 60 || max_secs < 0)
		usage();
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
		fprintf(stderr, "echo_load: %s: not an IPv4 address\n", host);
		return 2;
	}
	if ((ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "echo_load: %s: only loopback (127.0.0.0/8) is allowed\n", host);
		return 2;
	}
	if (nthreads > nconns)
		nthreads = nconns;
	payload = malloc(msg_size);
	for (size_t i = 0; i < msg_size; i++)
		payload[i] = (unsigned char)('a' + i % 26);

	conn *conns = calloc((size_t)nconns, sizeof *conns);
	for (int i = 0; i < nconns; i++) {
		conns[i].fd = connect_one();
		if (conns[i].fd < 0) {
			fprintf(stderr, "echo_load: connect %s:%d: %s\n", host, port, strerror(errno));
			return 1;
		}
	}
	uint64_t t0 = now_ns();
	t_measure = t0 + (uint64_t)(warmup * 1e9);
	t_end = t_measure + (uint64_t)(secs * 1e9);
	t_hard = max_secs > 0 ? t0 + (uint64_t)(max_secs * 1e9) : t_end + 10000000000ull;
	if (t_hard < t_end && !count_limit)
		t_end = t_hard;

	worker *ws = calloc((size_t)nthreads, sizeof *ws);
	for (int i = 0, next = 0; i < nthreads; i++) {
		int share = nconns / nthreads + (i < nconns % nthreads);
		ws[i].index = i;
		ws[i].conns = conns + next;
		ws[i].nconns = share;
		next += share;
		if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
			fprintf(stderr, "echo_load: pthread_create failed\n");
			return 1;
		}
	}
	uint64_t msgs = 0, errors = 0;
	size_t nlat = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(ws[i].thread, NULL);
		msgs += ws[i].msgs;
		errors += ws[i].errors;
		nlat += ws[i].lat.len;
	}
	uint64_t t_stop = now_ns();
	/* Count mode ends when the last message arrives; duration mode after
	 * exactly SECS. */
	double elapsed = count_limit ? (double)(t_stop - t_measure) / 1e9 : secs;
	uint32_t *all = malloc((nlat ? nlat : 1) * sizeof *all);
	size_t k = 0;
	for (int i = 0; i < nthreads; i++) {
		memcpy(all + k, ws[i].lat.v, ws[i].lat.len * sizeof *all);
		k += ws[i].lat.len;
		free(ws[i].lat.v);
	}
	qsort(all, nlat, sizeof *all, cmp_u32);
#define PCT(p) (nlat ? all[(size_t)((double)(nlat - 1) * (p))] / 16.0 : 0.0)
	printf("echo_load host=%s port=%d conns=%d size=%zu threads=%d secs=%.3f msgs=%llu "
	       "msgs_per_s=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f errors=%llu\n",
	       host, port, nconns, msg_size, nthreads, elapsed, (unsigned long long)msgs,
	       elapsed > 0 ? (double)msgs / elapsed : 0.0, PCT(0.50), PCT(0.99), PCT(1.0),
	       (unsigned long long)errors);
	for (int i = 0; i < nconns; i++)
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	free(all);
	free(ws);
	free(conns);
	free(payload);
	return errors && !msgs ? 1 : 0;
}
