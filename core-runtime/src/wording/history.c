/* A task's history (tasktrace/read/history.h): the flight recorder's
 * events about one task, merged across rings, in words. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tasktrace/read/format.h"
#include "tasktrace/read/history.h"
#include "wording/strbuf.h"

#define LINE 1024

int tt_revents_keep(void *ctx, const tt_revent *ev)
{
	tt_revents *c = ctx;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		tt_revent *v = realloc(c->v, cap * sizeof *v);
		if (!v) {
			c->oom = 1;
			return 1;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = *ev;
	return 0;
}

/* The stamps are the coarse clock's: events of one tick from different
 * rings are ordered by what must come first (the task's spawn, then a
 * wake, then a poll); within a ring, by position. */
static int rank(const tt_revent *ev, uint64_t id)
{
	if (ev->kind == TT_EV_SPAWN && ev->task == id)
		return -1;
	switch (ev->kind) {
	case TT_EV_SPAWN:
		return 0;
	case TT_EV_WAKE:
		return 1;
	case TT_EV_BLOCKING_START:
		return 2;
	case TT_EV_BLOCKING_END:
		return 3;
	}
	return 4;
}

static int by_time(const void *a, const void *b, void *idp)
{
	const tt_revent *x = a, *y = b;
	uint64_t id = *(const uint64_t *)idp;
	if (x->stamp_ns != y->stamp_ns)
		return x->stamp_ns < y->stamp_ns ? -1 : 1;
	if (x->worker == y->worker)
		return x->pos < y->pos ? -1 : x->pos > y->pos;
	return rank(x, id) - rank(y, id);
}

void tt_history_order(tt_revent *v, size_t n, uint64_t id)
{
	/* No events is no array (qsort_r wants one even to sort nothing). */
	if (n > 1)
		qsort_r(v, n, sizeof *v, by_time, &id);
}

static void task_ref(tt_fbuf *b, tt_history_name_fn name, void *ctx, uint64_t id)
{
	const char *n = name ? name(ctx, id) : NULL;
	tt_fb_str(b, "task ");
	tt_fb_u64(b, id);
	if (n && n[0]) {
		tt_fb_str(b, " \"");
		tt_fb_text(b, n);
		tt_fb_str(b, "\"");
	}
}

static const char *snap_name(void *ctx, uint64_t id)
{
	const tt_stask *t = tt_snapshot_find(ctx, id);
	return t ? t->raw.name : NULL;
}

static void site_ref(tt_fbuf *b, tt_reader *r, tt_rsym_cache *c, uint64_t addr)
{
	const tt_rsym *site = addr ? tt_rsym_site(r, c, addr) : NULL;
	if (!site || !site->ok)
		return;
	tt_fb_str(b, " at ");
	tt_fb_text(b, site->file);
	tt_fb_str(b, ":");
	tt_fb_u64(b, site->line);
	tt_fb_str(b, " (");
	tt_fb_text(b, site->name);
	tt_fb_str(b, ")");
}

static void where(tt_fbuf *b, int32_t worker)
{
	if (worker < 0) {
		tt_fb_str(b, "off the workers");
		return;
	}
	tt_fb_str(b, "on worker ");
	tt_fb_u64(b, (uint64_t)worker);
}

void tt_history_wait(tt_fbuf *b, uint32_t kind, uint64_t object)
{
	tt_fb_str(b, "waits on ");
	tt_fb_str(b, tt_wait_kind_name(kind));
	if (object) {
		tt_fb_str(b, " ");
		tt_fb_hex(b, object);
	}
}

void tt_history_event(tt_fbuf *b, tt_reader *r, tt_rsym_cache *c, tt_history_name_fn name,
		      void *ctx, uint64_t id, const tt_revent *ev)
{
	switch (ev->kind) {
	case TT_EV_SPAWN:
		if (ev->task == id) {
			tt_fb_str(b, "spawned");
			if (ev->arg1) {
				tt_fb_str(b, " by ");
				task_ref(b, name, ctx, ev->arg1);
			}
		} else {
			tt_fb_str(b, "spawned ");
			task_ref(b, name, ctx, ev->task);
		}
		site_ref(b, r, c, ev->arg2);
		return;
	case TT_EV_WAKE:
		if (ev->task != id) {
			tt_fb_str(b, "woke ");
			task_ref(b, name, ctx, ev->task);
			return;
		}
		tt_fb_str(b, "woken by ");
		if (ev->arg1)
			task_ref(b, name, ctx, ev->arg1);
		else if (ev->worker < 0 && ev->arg2) {
			tt_fb_str(b, "thread ");
			tt_fb_u64(b, ev->arg2);
		} else {
			tt_fb_str(b, "the runtime (a timer or I/O) ");
			where(b, ev->worker);
		}
		if (ev->arg3 == 1)
			tt_fb_str(b, " during its poll");
		return;
	case TT_EV_BLOCKING_START:
	case TT_EV_BLOCKING_END:
		tt_fb_str(b, ev->kind == TT_EV_BLOCKING_START ? "blocking call started"
							      : "blocking call returned");
		tt_fb_str(b, " on thread ");
		tt_fb_u64(b, ev->arg2);
		return;
	case TT_EV_STALL_BEGIN:
	case TT_EV_STALL_END:
		/* "stalled its worker 1 (thread 4242)", "stall ended after 1.2s" */
		tt_fb_str(b, tt_event_kind_name(ev->kind));
		if (ev->kind == TT_EV_STALL_END) {
			tt_fb_str(b, " after ");
			tt_fmt_duration(b, (uint64_t)ev->arg3 * 1000000);
			tt_fb_str(b, " on worker ");
		} else {
			tt_fb_str(b, " ");
		}
		tt_fb_u64(b, ev->arg1);
		tt_fb_str(b, " (thread ");
		tt_fb_u64(b, ev->arg2);
		tt_fb_str(b, ")");
		return;
	case TT_EV_CANCEL:
		if (!ev->start_ns) {
			tt_fb_str(b, "cancelled before its next poll");
			return;
		}
		/* fall through */
	case TT_EV_SUSPEND:
	case TT_EV_YIELD:
	case TT_EV_DONE:
		tt_fb_str(b, "polled ");
		where(b, ev->worker);
		if (ev->stamp_ns > ev->start_ns) {
			tt_fb_str(b, " for ");
			tt_fmt_duration(b, ev->stamp_ns - ev->start_ns);
		}
		tt_fb_str(b, ", ");
		tt_fb_str(b, tt_event_kind_name(ev->kind));
		if (ev->kind == TT_EV_SUSPEND) {
			site_ref(b, r, c, ev->arg1);
			if (ev->arg3) {
				tt_fb_str(b, ", ");
				tt_history_wait(b, ev->arg3, ev->arg2);
			}
		}
		return;
	}
	tt_fb_str(b, "event of kind ");
	tt_fb_u64(b, ev->kind);
}

static void line(sb *out, tt_fbuf *b)
{
	sb_add(out, b->p);
	sb_add(out, "\n");
}

char *tt_history_text(tt_mem mem, const tt_snapshot *s, uint64_t id, size_t max, uint64_t now,
		      size_t *found)
{
	enum { NSYMS = 16 };
	tt_rsym *syms = calloc(NSYMS, sizeof *syms);
	tt_reader *r = calloc(1, sizeof *r);
	tt_rflight st;
	tt_revents c = {0};
	sb out = {0};
	char mem_line[LINE];
	tt_fbuf b;
	tt_rsym_cache cache;

	if (found)
		*found = 0;
	if (!r || !syms) {
		free(r);
		free(syms);
		return NULL;
	}
	if (!max)
		max = TT_HISTORY_DEFAULT;
	tt_fb_init(&b, mem_line, sizeof mem_line);
	int64_t rc = tt_reader_open(r, mem, s->root_addr, NULL);
	if (rc == TT_R_OK)
		rc = tt_flight_read(r, id, tt_revents_keep, &c, &st);
	if (rc < 0 || c.oom) {
		tt_fb_str(&b, "task ");
		tt_fb_u64(&b, id);
		tt_fb_str(&b, ": no history: ");
		tt_fb_text(&b, c.oom ? "out of memory" : r->err);
		line(&out, &b);
		goto done;
	}
	tt_history_order(c.v, c.n, id);
	size_t from = c.n > max ? c.n - max : 0;
	task_ref(&b, snap_name, (void *)s, id);
	tt_fb_str(&b, ": ");
	tt_fb_u64(&b, c.n - from);
	tt_fb_str(&b, c.n - from == 1 ? " event" : " events");
	if (from) {
		tt_fb_str(&b, " (the last of ");
		tt_fb_u64(&b, c.n);
		tt_fb_str(&b, ")");
	}
	tt_fb_str(&b, " from the flight recorder, newest last");
	if (st.skipped || st.bad_rings) {
		tt_fb_str(&b, "; ");
		tt_fb_u64(&b, st.skipped);
		tt_fb_str(&b, " torn, overwritten or out-of-order events skipped");
	}
	line(&out, &b);
	if (st.bad_rings) {
		tt_fb_init(&b, mem_line, sizeof mem_line);
		tt_fb_str(&b, "  (");
		tt_fb_u64(&b, st.bad_rings);
		tt_fb_str(&b, " ring(s) unreadable: ");
		tt_fb_text(&b, st.err);
		tt_fb_str(&b, ")");
		line(&out, &b);
	}
	tt_rsym_cache_init(&cache, syms, NSYMS);
	for (size_t i = from; i < c.n; i++) {
		tt_fb_init(&b, mem_line, sizeof mem_line);
		tt_fb_str(&b, "  ");
		tt_fmt_duration(&b, now > c.v[i].stamp_ns ? now - c.v[i].stamp_ns : 0);
		tt_fb_str(&b, " ago");
		tt_fb_pad(&b, 16);
		tt_history_event(&b, r, &cache, snap_name, (void *)s, id, &c.v[i]);
		line(&out, &b);
	}
	const tt_stask *t = tt_snapshot_find(s, id);
	tt_fb_init(&b, mem_line, sizeof mem_line);
	tt_fb_str(&b, "  now");
	tt_fb_pad(&b, 16);
	if (!t) {
		tt_fb_str(&b, "not in the registry (ended, or never spawned)");
	} else {
		tt_fb_str(&b, tt_state_name(t->raw.state));
		if (t->raw.running) {
			tt_fb_str(&b, ", in a poll since ");
			tt_fmt_duration(&b, now > t->raw.poll_start_ns ? now - t->raw.poll_start_ns
								       : 0);
		}
	}
	line(&out, &b);
	if (found)
		*found = c.n - from;
done:
	free(c.v);
	free(r);
	free(syms);
	if (out.oom) {
		free(out.p);
		errno = ENOMEM;
		return NULL;
	}
	return out.p;
}
