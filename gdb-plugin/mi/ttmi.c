/* libttmi: see ttmi.h. */
#include "ttmi.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct ttmi {
	pid_t pid;
	int in, out; /* gdb's stdin (we write), stdout (we read) */
	int timeout_ms;
	long next_token;
	char *buf; /* unread output */
	size_t len, cap;
	char *console; /* stream text of the last command */
	size_t clen, ccap;
	ttmi_record *queue; /* async records not yet waited for */
	char err[256];
};

/* ---- parsing ---- */

struct cur {
	const char *p;
	int bad;
};

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

/* A C string with MI escapes (\n \t \" \\ \ooo). */
static char *parse_cstring(struct cur *c)
{
	size_t cap = 64, n = 0;
	char *s = malloc(cap);

	if (!s || *c->p != '"') {
		free(s);
		c->bad = 1;
		return NULL;
	}
	for (c->p++; *c->p && *c->p != '"'; c->p++) {
		int ch = (unsigned char)*c->p;
		if (ch == '\\' && c->p[1]) {
			c->p++;
			switch (*c->p) {
			case 'n': ch = '\n'; break;
			case 't': ch = '\t'; break;
			case 'r': ch = '\r'; break;
			case 'e': ch = 033; break;
			case 'a': ch = '\a'; break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'v': ch = '\v'; break;
			default:
				if (*c->p >= '0' && *c->p <= '7') {
					ch = 0;
					for (int i = 0; i < 3 && *c->p >= '0' && *c->p <= '7'; i++)
						ch = ch * 8 + (*c->p++ - '0');
					c->p--;
				} else {
					ch = (unsigned char)*c->p;
				}
			}
		}
		if (n + 2 > cap) {
			char *t = realloc(s, cap *= 2);
			if (!t) {
				free(s);
				c->bad = 1;
				return NULL;
			}
			s = t;
		}
		s[n++] = (char)ch;
	}
	if (*c->p != '"') {
		free(s);
		c->bad = 1;
		return NULL;
	}
	c->p++;
	s[n] = 0;
	return s;
}

static void value_free(ttmi_value *v)
{
	while (v) {
		ttmi_value *next = v->next;
		value_free(v->child);
		free(v->name);
		free(v->str);
		free(v);
		v = next;
	}
}

static ttmi_value *parse_value(struct cur *c, int depth);

/* name=value, or a bare value (in lists). */
static ttmi_value *parse_item(struct cur *c, int allow_bare, int depth)
{
	const char *start = c->p;
	char *name = NULL;

	while (*c->p && *c->p != '=' && *c->p != ',' && *c->p != '}' &&
	       *c->p != ']' && *c->p != '"' && *c->p != '{' && *c->p != '[')
		c->p++;
	if (*c->p == '=') {
		name = dup_n(start, (size_t)(c->p - start));
		c->p++;
	} else if (!allow_bare || c->p != start) {
		c->bad = 1;
		return NULL;
	}
	ttmi_value *v = parse_value(c, depth);
	if (!v) {
		free(name);
		return NULL;
	}
	v->name = name;
	return v;
}

static ttmi_value *parse_value(struct cur *c, int depth)
{
	ttmi_value *v = calloc(1, sizeof(*v));

	if (!v || depth > 64) {
		free(v);
		c->bad = 1;
		return NULL;
	}
	if (*c->p == '"') {
		v->kind = TTMI_STRING;
		v->str = parse_cstring(c);
	} else if (*c->p == '{' || *c->p == '[') {
		char close = *c->p == '{' ? '}' : ']';
		ttmi_value **tail = &v->child;
		v->kind = close == '}' ? TTMI_TUPLE : TTMI_LIST;
		c->p++;
		while (!c->bad && *c->p != close) {
			ttmi_value *item = parse_item(c, close == ']', depth + 1);
			if (!item)
				break;
			*tail = item;
			tail = &item->next;
			if (*c->p == ',')
				c->p++;
			else if (*c->p != close)
				c->bad = 1;
		}
		if (*c->p == close)
			c->p++;
	} else {
		c->bad = 1;
	}
	if (c->bad) {
		value_free(v);
		return NULL;
	}
	return v;
}

void ttmi_record_free(ttmi_record *r)
{
	while (r) {
		ttmi_record *next = r->next;
		free(r->klass);
		free(r->text);
		value_free(r->results);
		free(r);
		r = next;
	}
}

ttmi_record *ttmi_parse(const char *line)
{
	struct cur c = { line, 0 };
	ttmi_record *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->token = -1;
	if (*c.p >= '0' && *c.p <= '9')
		r->token = strtol(c.p, (char **)&c.p, 10);
	r->type = *c.p;
	if (!strchr("^*+=~@&", r->type) || !r->type) {
		free(r);
		return NULL;
	}
	c.p++;
	if (strchr("~@&", r->type)) {
		r->text = parse_cstring(&c);
		if (c.bad) {
			free(r);
			return NULL;
		}
		return r;
	}
	const char *start = c.p;
	while (*c.p && *c.p != ',' && *c.p != '\r' && *c.p != '\n')
		c.p++;
	r->klass = dup_n(start, (size_t)(c.p - start));
	r->results = calloc(1, sizeof(*r->results));
	if (!r->klass || !r->results) {
		ttmi_record_free(r);
		return NULL;
	}
	r->results->kind = TTMI_TUPLE;
	ttmi_value **tail = &r->results->child;
	while (*c.p == ',') {
		c.p++;
		ttmi_value *v = parse_item(&c, 0, 0);
		if (!v) {
			ttmi_record_free(r);
			return NULL;
		}
		*tail = v;
		tail = &v->next;
	}
	return r;
}

/* ---- lookup ---- */

size_t ttmi_len(const ttmi_value *v)
{
	size_t n = 0;

	if (v && v->kind != TTMI_STRING)
		for (const ttmi_value *c = v->child; c; c = c->next)
			n++;
	return n;
}

const ttmi_value *ttmi_at(const ttmi_value *v, size_t i)
{
	if (!v || v->kind == TTMI_STRING)
		return NULL;
	const ttmi_value *c = v->child;
	while (c && i--)
		c = c->next;
	return c;
}

const ttmi_value *ttmi_get(const ttmi_value *v, const char *path)
{
	while (v && *path) {
		if (*path == '.') {
			path++;
			continue;
		}
		if (*path == '[') {
			char *end;
			unsigned long i = strtoul(path + 1, &end, 10);
			if (*end != ']')
				return NULL;
			v = ttmi_at(v, i);
			path = end + 1;
			continue;
		}
		size_t n = strcspn(path, ".[");
		const ttmi_value *c = v->kind == TTMI_STRING ? NULL : v->child;
		while (c && !(c->name && strlen(c->name) == n && !strncmp(c->name, path, n)))
			c = c->next;
		v = c;
		path += n;
	}
	return v;
}

const char *ttmi_str(const ttmi_value *v, const char *path)
{
	v = ttmi_get(v, path);
	return v && v->kind == TTMI_STRING ? v->str : NULL;
}

/* Is S UTF-8 a strict decoder takes: no overlong form, no surrogate,
 * nothing above U+10FFFF, no cut sequence (Unicode table 3-7)? */
static int utf8_strict(const unsigned char *s)
{
	while (*s) {
		unsigned char lo = 0x80, hi = 0xbf;
		int n;
		if (*s < 0x80) {
			s++;
			continue;
		}
		if (*s >= 0xc2 && *s <= 0xdf)
			n = 1;
		else if (*s >= 0xe0 && *s <= 0xef)
			n = 2, lo = *s == 0xe0 ? 0xa0 : 0x80, hi = *s == 0xed ? 0x9f : 0xbf;
		else if (*s >= 0xf0 && *s <= 0xf4)
			n = 3, lo = *s == 0xf0 ? 0x90 : 0x80, hi = *s == 0xf4 ? 0x8f : 0xbf;
		else
			return 0;
		for (s++; n--; s++, lo = 0x80, hi = 0xbf)
			if (*s < lo || *s > hi)
				return 0;
	}
	return 1;
}

const char *ttmi_bad_utf8(const ttmi_value *v)
{
	for (; v; v = v->next) {
		if (v->name && !utf8_strict((const unsigned char *)v->name))
			return v->name;
		if (v->kind == TTMI_STRING && !utf8_strict((const unsigned char *)v->str))
			return v->str;
		const char *bad = ttmi_bad_utf8(v->child);
		if (bad)
			return bad;
	}
	return NULL;
}

/* ---- the process ---- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

ttmi *ttmi_spawn(const char *const *extra, int timeout_ms)
{
	int to[2], from[2];
	size_t n = 0;

	while (extra && extra[n])
		n++;
	const char **argv = calloc(n + 6, sizeof(*argv));
	ttmi *g = calloc(1, sizeof(*g));
	if (!argv || !g || pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC)) {
		free(argv);
		free(g);
		return NULL;
	}
	const char *gdb = getenv("TT_GDB") ? getenv("TT_GDB") : "gdb";
	argv[0] = gdb;
	argv[1] = "--interpreter=mi3";
	argv[2] = "-nx";
	argv[3] = "-q";
	for (size_t i = 0; i < n; i++)
		argv[4 + i] = extra[i];
	g->pid = fork();
	if (g->pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		execvp(gdb, (char *const *)argv);
		_exit(127);
	}
	free(argv);
	close(to[0]);
	close(from[1]);
	g->in = to[1];
	g->out = from[0];
	g->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
	g->next_token = 1;
	if (g->pid < 0) {
		close(g->in);
		close(g->out);
		free(g);
		return NULL;
	}
	signal(SIGPIPE, SIG_IGN);
	return g;
}

const char *ttmi_error(const ttmi *g) { return g->err; }
const char *ttmi_console(const ttmi *g) { return g->console ? g->console : ""; }

static void console_add(ttmi *g, const char *s)
{
	size_t n = strlen(s);

	if (g->clen + n + 1 > g->ccap) {
		size_t cap = (g->clen + n + 1) * 2;
		char *t = realloc(g->console, cap);
		if (!t)
			return;
		g->console = t;
		g->ccap = cap;
	}
	memcpy(g->console + g->clen, s, n + 1);
	g->clen += n;
}

/* Next complete line (without the newline) into a malloc'd string, or NULL
 * once DEADLINE passes or gdb closed its output. */
static char *read_line(ttmi *g, long deadline)
{
	for (;;) {
		char *nl = g->len ? memchr(g->buf, '\n', g->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - g->buf);
			char *line = dup_n(g->buf, n && nl[-1] == '\r' ? n - 1 : n);
			memmove(g->buf, nl + 1, g->len - n - 1);
			g->len -= n + 1;
			return line;
		}
		long left = deadline - now_ms();
		if (left <= 0) {
			snprintf(g->err, sizeof(g->err), "timed out waiting for gdb");
			return NULL;
		}
		struct pollfd p = { g->out, POLLIN, 0 };
		int rc = poll(&p, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			continue;
		if (g->len + 4096 > g->cap) {
			size_t cap = (g->len + 4096) * 2;
			char *t = realloc(g->buf, cap);
			if (!t)
				return NULL;
			g->buf = t;
			g->cap = cap;
		}
		ssize_t got = read(g->out, g->buf + g->len, 4096);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			snprintf(g->err, sizeof(g->err), "gdb exited");
			return NULL;
		}
		g->len += (size_t)got;
	}
}

static void queue_async(ttmi *g, ttmi_record *r)
{
	ttmi_record **t = &g->queue;

	while (*t)
		t = &(*t)->next;
	*t = r;
}

static ttmi_record *vcommand(ttmi *g, const char *prefix, const char *fmt, va_list ap)
{
	char *body = NULL;
	long token = g->next_token++;

	if (vasprintf(&body, fmt, ap) < 0)
		return NULL;
	char *line = NULL;
	int n = -1;
	if (!prefix) {
		n = asprintf(&line, "%ld%s\n", token, body);
	} else {
		/* -interpreter-exec console "CMD": CMD as a C string. */
		size_t cap = strlen(body) * 2 + strlen(prefix) + 32;
		line = malloc(cap);
		if (line) {
			n = snprintf(line, cap, "%ld%s \"", token, prefix);
			for (const char *s = body; *s; s++) {
				if (*s == '"' || *s == '\\')
					line[n++] = '\\';
				line[n++] = *s == '\n' ? ' ' : *s;
			}
			n += snprintf(line + n, cap - (size_t)n, "\"\n");
		}
	}
	free(body);
	if (!line || n < 0)
		return NULL;
	g->clen = 0;
	if (g->console)
		g->console[0] = 0;
	for (size_t off = 0; off < (size_t)n;) {
		ssize_t w = write(g->in, line + off, (size_t)n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(g->err, sizeof(g->err), "cannot write to gdb: %s", strerror(errno));
			free(line);
			return NULL;
		}
		off += (size_t)w;
	}
	free(line);
	long deadline = now_ms() + g->timeout_ms;
	for (;;) {
		char *l = read_line(g, deadline);
		if (!l)
			return NULL;
		ttmi_record *r = ttmi_parse(l);
		free(l);
		if (!r)
			continue;
		if (r->type == '^' && r->token == token)
			return r;
		if (r->text && r->type != '@')
			console_add(g, r->text);
		if (strchr("*+=", r->type))
			queue_async(g, r);
		else
			ttmi_record_free(r);
	}
}

ttmi_record *ttmi_command(ttmi *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ttmi_record *r = vcommand(g, NULL, fmt, ap);
	va_end(ap);
	return r;
}

ttmi_record *ttmi_cli(ttmi *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ttmi_record *r = vcommand(g, "-interpreter-exec console", fmt, ap);
	va_end(ap);
	return r;
}

ttmi_record *ttmi_wait_async(ttmi *g, const char *klass)
{
	long deadline = now_ms() + g->timeout_ms;

	for (ttmi_record **p = &g->queue; *p; p = &(*p)->next) {
		if ((*p)->klass && !strcmp((*p)->klass, klass)) {
			ttmi_record *r = *p;
			*p = r->next;
			r->next = NULL;
			return r;
		}
	}
	for (;;) {
		char *l = read_line(g, deadline);
		if (!l)
			return NULL;
		ttmi_record *r = ttmi_parse(l);
		free(l);
		if (r && r->klass && strchr("*+=", r->type) && !strcmp(r->klass, klass))
			return r;
		ttmi_record_free(r);
	}
}

int ttmi_close(ttmi *g)
{
	int status = -1;

	if (!g)
		return -1;
	static const char bye[] = "-gdb-exit\n";
	if (write(g->in, bye, sizeof(bye) - 1) < 0) {
		/* gdb already gone: reaped below */
	}
	close(g->in);
	for (long end = now_ms() + 5000; now_ms() < end;) {
		pid_t w = waitpid(g->pid, &status, WNOHANG);
		if (w == g->pid)
			break;
		if (w < 0) {
			status = -1;
			break;
		}
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
		if (now_ms() >= end - 10) {
			kill(g->pid, SIGKILL);
			waitpid(g->pid, &status, 0);
			break;
		}
	}
	close(g->out);
	ttmi_record_free(g->queue);
	free(g->buf);
	free(g->console);
	free(g);
	return status;
}
