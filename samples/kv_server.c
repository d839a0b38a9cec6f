/* kv_server [PORT [FLUSH_MS [FILE]]]: a key-value server on 127.0.0.1
 * speaking lines: `SET k v` -> OK, `GET k` -> v or NOTFOUND, `DEL k` -> OK
 * or NOTFOUND (ERR for anything else).  Port 0 or none: any free port.
 * Every FLUSH_MS (default 100) the map is written to FILE (default kv.db)
 * as `k v` lines, replacing it atomically.  SIGTERM: stop accepting,
 * cancel the connections, flush once more, exit 0.  Prints
 * "kv_server: pid P registry R ready port N" when serving.
 *
 * The tasks: "main" (this accept loop), a "conn" per connection in a
 * tracker group, and "signal", "flusher", "stats" and "logger". */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sample.h"

/* ---- the map: chained hash buckets behind one reader-writer lock ---- */
typedef struct entry {
	struct entry *next;
	char *val;
	char key[];
} entry;
static struct {
	tt_rwlock lock;
	entry *bucket[4096];
} kv;
static _Atomic size_t nkeys, nops; /* for the stats, read without the lock */

static entry **map_find(const char *key)
{
	unsigned h = 5381;
	for (const char *p = key; *p; p++)
		h = h * 33 + (unsigned char)*p;
	entry **e = &kv.bucket[h % 4096];
	while (*e && strcmp((*e)->key, key))
		e = &(*e)->next;
	return e;
}

static int map_set(entry **e, const char *key, const char *val)
{
	char *v = strdup(val);
	if (!v || (!*e && !(*e = calloc(1, sizeof **e + strlen(key) + 1))))
		return free(v), -ENOMEM;
	if (!(*e)->val)
		strcpy((*e)->key, key), nkeys++;
	free((*e)->val);
	(*e)->val = v;
	return 0;
}

static void map_del(entry **e)
{
	entry *d = *e;
	*e = d->next;
	free(d->val);
	free(d);
	nkeys--;
}

/* The whole map as `k v` lines (malloc'd, *LEN bytes).  Read-locked. */
static char *map_dump(size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	for (size_t i = 0; f && i < 4096; i++)
		for (entry *e = kv.bucket[i]; e; e = e->next)
			fprintf(f, "%s %s\n", e->key, e->val);
	if (f)
		fclose(f);
	return buf;
}

/* ---- a connection: one request line, one reply line ---- */
TT_ASYNC_CLEANUP(conn, tt_fd *fd; tt_bufreader br; tt_bufwriter bw; int op;
		 char line[1024], cmd[8], key[256], val[768]; tt_read_until ln; tt_rwlock_op lk;
		 tt_bufwrite wr;);

/* Cancelled (shutdown) or refused at spawn: the fd and buffers go too. */
static void conn_cleanup(conn *self)
{
	tt_bufreader_destroy(&self->br);
	tt_bufwriter_destroy(&self->bw);
	tt_fd_close(self->fd);
}

/* 'G', 'S', 'D', or 0 for a bad request. */
static int parse(conn *c)
{
	int n = sscanf(c->line, "%7s %255s %767[^\r\n]", c->cmd, c->key, c->val);
	if (n == 2 && !strcmp(c->cmd, "GET"))
		return 'G';
	if (n == 2 && !strcmp(c->cmd, "DEL"))
		return 'D';
	return n == 3 && !strcmp(c->cmd, "SET") ? 'S' : 0;
}

/* Run the request on the locked map, unlock it, return the reply. */
static const char *apply(conn *c)
{
	entry **e = map_find(c->key);
	const char *r = *e ? "OK" : "NOTFOUND";
	if (c->op == 'G' && *e)
		r = strcpy(c->val, (*e)->val);
	else if (c->op == 'D' && *e)
		map_del(e);
	else if (c->op == 'S')
		r = map_set(e, c->key, c->val) < 0 ? "ERR" : "OK";
	else if (!c->op)
		r = "ERR";
	c->op == 'G' ? tt_rwlock_read_unlock(&kv.lock) : tt_rwlock_write_unlock(&kv.lock);
	return r;
}

TT_POLL(conn)
{
	TT_BEGIN(self);
	if (tt_bufreader_init(&self->br, self->fd, sizeof self->line) < 0 ||
	    tt_bufwriter_init(&self->bw, self->fd, 4096) < 0) {
		conn_cleanup(self);
		TT_RETURN(self, -ENOMEM);
	}
	for (;;) {
		TT_AWAIT(self, cx, &self->ln,
			 tt_read_line_init(&self->ln, &self->br, self->line, sizeof self->line));
		if (TT_RESULT(&self->ln) <= 0)
			break;
		self->op = parse(self);
		TT_AWAIT(self, cx, &self->lk,
			 self->op == 'G' ? tt_read_lock_init(&self->lk, &kv.lock)
					 : tt_write_lock_init(&self->lk, &kv.lock));
		nops++;
		const char *reply = apply(self);
		/* acknowledged only now that the map holds it */
		TT_AWAIT(self, cx, &self->wr, tt_writef_init(&self->wr, &self->bw, "%s\n", reply));
		if (TT_RESULT(&self->wr) >= 0 && !tt_bufreader_buffered(&self->br))
			TT_AWAIT(self, cx, &self->wr, tt_flush_init(&self->wr, &self->bw));
		if (TT_RESULT(&self->wr) < 0)
			break;
	}
	conn_cleanup(self);
	TT_RETURN(self, 0);
}

/* ---- the flusher: the map to FILE every MS, and once more when drained ---- */
TT_ASYNC(flusher, tt_token *drained; unsigned ms; const char *path; tt_sleep nap; tt_token_wait tw;
	 TT_SELECT_OF(2) sel; tt_read_lock rl; tt_file_op op;);
TT_POLL(flusher)
{
	TT_BEGIN(self);
	do {
		TT_SELECT(self, cx, &self->sel,
			  TT_CASE(&self->nap, tt_sleep_init(&self->nap, TT_MS(self->ms))),
			  TT_CASE(&self->tw, tt_token_wait_init(&self->tw, self->drained)));
		TT_AWAIT(self, cx, &self->rl, tt_read_lock_init(&self->rl, &kv.lock));
		size_t len = 0;
		char *snap = map_dump(&len);
		tt_rwlock_read_unlock(&kv.lock);
		/* the data is copied at init: SNAP can go at once */
		TT_AWAIT(self, cx, &self->op,
			 (tt_file_replace_init(&self->op, self->path, snap, len), free(snap)));
		if (TT_RESULT(&self->op) < 0)
			fprintf(stderr, "kv_server: %s: %s\n", self->path,
				strerror((int)-TT_RESULT(&self->op)));
		/* the last flush must start after the drain: not one under way then */
	} while (!TT_SELECTED(&self->sel, &self->tw));
	TT_RETURN(self, TT_RESULT(&self->op));
}

/* ---- stats, every second, to the logger through a channel ---- */
typedef struct stat_msg {
	size_t conns, keys, ops;
} stat_msg;

/* clang-format off */
TT_ASYNC(stats, tt_chan *out; tt_token *stop; tt_group *conns; stat_msg m; tt_sleep nap;
	 tt_token_wait tw; TT_SELECT_OF(2) sel; tt_send tx;);
/* clang-format on */
TT_POLL(stats)
{
	TT_BEGIN(self);
	tt_chan_bind_sender(self->out);
	while (!tt_token_cancelled(self->stop)) {
		TT_SELECT(self, cx, &self->sel,
			  TT_CASE(&self->nap, tt_sleep_init(&self->nap, TT_SEC(1))),
			  TT_CASE(&self->tw, tt_token_wait_init(&self->tw, self->stop)));
		self->m = (stat_msg){tt_group_size(self->conns), nkeys, nops};
		TT_AWAIT(self, cx, &self->tx, tt_send_init(&self->tx, self->out, &self->m));
	}
	tt_chan_close(self->out);
	TT_RETURN(self, 0);
}

TT_ASYNC(logger, tt_chan *in; stat_msg m; tt_recv rx;);
TT_POLL(logger)
{
	TT_BEGIN(self);
	tt_chan_bind_receiver(self->in);
	for (;;) {
		TT_AWAIT(self, cx, &self->rx, tt_recv_init(&self->rx, self->in, &self->m));
		if (TT_RESULT(&self->rx) < 0)
			TT_RETURN(self, 0);
		fprintf(stderr, "kv_server: %zu conns, %zu keys, %zu requests\n", self->m.conns,
			self->m.keys, self->m.ops);
	}
}

/* ---- SIGTERM: stop everything ---- */
TT_ASYNC(on_signal, tt_token *stop; tt_signal sig;);
TT_POLL(on_signal)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->sig, tt_signal_init(&self->sig, SIGTERM));
	tt_token_cancel(self->stop);
	TT_RETURN(self, 0);
}

/* ---- main: accept until stopped, then drain and the last flush ---- */
/* clang-format off */
TT_ASYNC(server, tt_fd *lfd; unsigned ms; const char *path; tt_group *conns, *bg;
	 tt_token *stop, *drained; tt_chan *stats; tt_accept acc; tt_token_wait tw;
	 uint64_t rest; tt_sleep nap; TT_SELECT_OF(2) sel; tt_group_wait gw;);
/* clang-format on */
TT_POLL(server)
{
	TT_BEGIN(self);
	if (TT_GROUP_SPAWN_NEW(self->bg, "signal", on_signal, .stop = self->stop) < 0 ||
	    TT_GROUP_SPAWN_NEW(self->bg, "flusher", flusher, .drained = self->drained,
			       .ms = self->ms, .path = self->path) < 0 ||
	    TT_GROUP_SPAWN_NEW(self->bg, "stats", stats, .out = self->stats, .stop = self->stop,
			       .conns = self->conns) < 0 ||
	    TT_GROUP_SPAWN_NEW(self->bg, "logger", logger, .in = self->stats) < 0)
		tt_token_cancel(self->stop);
	for (;;) {
		TT_SELECT(self, cx, &self->sel,
			  TT_CASE(&self->acc, tt_accept_init(&self->acc, self->lfd)),
			  TT_CASE(&self->tw, tt_token_wait_init(&self->tw, self->stop)));
		if (TT_SELECTED(&self->sel, &self->tw))
			break;
		int fd = (int)TT_RESULT(&self->acc);
		tt_fd *conn_fd;
		if (fd < 0 && (self->rest = sample_accept_backoff(fd, self->rest))) {
			TT_SELECT(self, cx, &self->sel,
				  TT_CASE(&self->nap, tt_sleep_init(&self->nap, self->rest)),
				  TT_CASE(&self->tw, tt_token_wait_init(&self->tw, self->stop)));
			if (TT_SELECTED(&self->sel, &self->tw))
				break;
		} else if (fd >= 0 && tt_fd_open(NULL, fd, &conn_fd) < 0) {
			close(fd);
		} else if (fd >= 0) {
			self->rest = 0;
			TT_GROUP_SPAWN_NEW(self->conns, "conn", conn, .fd = conn_fd);
		}
	}
	tt_fd_close(self->lfd);
	tt_group_cancel(self->conns);
	TT_AWAIT(self, cx, &self->gw, tt_group_wait_init(&self->gw, self->conns));
	tt_token_cancel(self->drained);
	TT_AWAIT(self, cx, &self->gw, tt_group_wait_init(&self->gw, self->bg));
	TT_RETURN(self, TT_RESULT(&self->gw));
}

int main(int argc, char **argv)
{
	static const int sigs[] = {SIGTERM, 0};
	int lfd = tt_tcp_listen("127.0.0.1", argc > 1 ? atoi(argv[1]) : 0, 1024);
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2, .signals = sigs});
	server s = TT_NEW(
	    server, .ms = argc > 2 ? (unsigned)atoi(argv[2]) : 100,
	    .path = argc > 3 ? argv[3] : "kv.db", .conns = tt_group_new_flags(TT_GROUP_TRACKER),
	    .bg = tt_group_new_flags(TT_GROUP_KEEP_SIBLINGS), .stop = tt_token_new(NULL),
	    .drained = tt_token_new(NULL), .stats = tt_chan_new(sizeof(stat_msg), 16));
	if (lfd < 0 || !rt || !s.conns || !s.bg || !s.stop || !s.drained || !s.stats ||
	    tt_fd_open(rt, lfd, &s.lfd) < 0) {
		fprintf(stderr, "kv_server: %s\n", strerror(lfd < 0 ? -lfd : errno));
		return 1;
	}
	tt_rwlock_init(&kv.lock);
	tt_rwlock_set_name(&kv.lock, "kv"); /* waits on rwlock "kv" */
	tt_chan_set_name(s.stats, "stats"); /* waits on channel recv "stats" */
	tt_group_set_name(s.conns, "conns");
	tt_token_set_name(s.stop, "stop");
	tt_token_set_name(s.drained, "drained");
	char port[32];
	snprintf(port, sizeof port, "port %d", tt_socket_port(lfd));
	sample_ready("kv_server", port);
	intptr_t r = tt_block_on_named(rt, &s.frame, "main");
	tt_runtime_free(rt);
	tt_group_free(s.conns);
	tt_group_free(s.bg);
	tt_token_free(s.stop);
	tt_token_free(s.drained);
	tt_chan_free(s.stats);
	return r < 0;
}
