/* A finding's task as the flight recorder last saw it: its last poll and
 * its last wake, in the words of `tasktrace history`, one pass over the
 * rings for every finding that asks (lost wakers, never-resolved waits).
 * "never woken since" is said only when every ring still holds everything
 * from that poll on and nothing was skipped: a ring that wrapped or an
 * event torn while read could have been the wake. */
#include <stdlib.h>
#include <string.h>

#include "diagnosis/last_wake.h"
#include "tasktrace/read/history.h"

typedef struct pass {
	tt_last_wake *w;
	size_t n;
	int32_t ring; /* the worker of the ring being read (events come ring by ring) */
	int started;
	uint64_t complete_since; /* every ring holds all events from this stamp on */
} pass;

static int by_id(const void *a, const void *b)
{
	uint64_t x = ((const tt_last_wake *)a)->id, y = ((const tt_last_wake *)b)->id;
	return x < y ? -1 : x > y;
}

/* Later in a ring, or later in time; a tie on the coarse clock across
 * rings keeps the first seen. */
static void latest(tt_revent *have, const tt_revent *ev)
{
	if (!have->kind || ev->stamp_ns > have->stamp_ns ||
	    (ev->stamp_ns == have->stamp_ns && ev->worker == have->worker && ev->pos > have->pos))
		*have = *ev;
}

static int see(void *ctx, const tt_revent *ev)
{
	pass *p = ctx;
	if (!p->started || ev->worker != p->ring) {
		/* A ring's first event: before it, that ring lost events. */
		p->started = 1;
		p->ring = ev->worker;
		if (ev->pos && ev->stamp_ns > p->complete_since)
			p->complete_since = ev->stamp_ns;
	}
	int poll = ev->kind == TT_EV_SUSPEND || ev->kind == TT_EV_YIELD || ev->kind == TT_EV_DONE ||
		   (ev->kind == TT_EV_CANCEL && ev->start_ns);
	if (!poll && ev->kind != TT_EV_WAKE)
		return 0;
	tt_last_wake key = {.id = ev->task};
	tt_last_wake *w = bsearch(&key, p->w, p->n, sizeof key, by_id);
	if (w)
		latest(poll ? &w->poll : &w->wake, ev);
	return 0;
}

int64_t tt__last_wakes(tt_reader *r, tt_last_wake *w, size_t n, tt_last_wakes_info *info)
{
	pass p = {.w = w, .n = n};
	tt_rflight st;

	memset(info, 0, sizeof *info);
	for (size_t i = 0; i < n; i++) {
		memset(&w[i].poll, 0, sizeof w[i].poll);
		memset(&w[i].wake, 0, sizeof w[i].wake);
	}
	if (n > 1) /* (no tasks may be no array) */
		qsort(w, n, sizeof *w, by_id);
	int64_t rc = tt_flight_read(r, 0, see, &p, &st);
	info->complete_since = p.complete_since;
	info->partial = st.skipped || st.bad_rings;
	return rc;
}

static const char *snap_name(void *ctx, uint64_t id)
{
	const tt_stask *t = tt_snapshot_find(ctx, id);
	return t ? t->raw.name : NULL;
}

static void age(tt_fbuf *b, uint64_t now, uint64_t stamp)
{
	tt_fmt_duration(b, now > stamp ? now - stamp : 0);
	tt_fb_str(b, " ago");
}

/* What the rings cannot tell: how far back they reach. */
static void reach(tt_fbuf *b, const tt_last_wakes_info *info, uint64_t now)
{
	if (info->complete_since) {
		tt_fb_str(b, " (the flight recorder holds only the last ");
		tt_fmt_duration(b, now > info->complete_since ? now - info->complete_since : 0);
		tt_fb_str(b, ")");
	} else if (info->partial) {
		tt_fb_str(b, " (events torn while read were skipped)");
	}
}

void tt__last_wake_words(tt_fbuf *b, tt_reader *r, tt_rsym_cache *sites, const tt_snapshot *s,
			 const tt_last_wake *w, const tt_last_wakes_info *info, uint64_t now)
{
	const tt_revent *p = w->poll.kind ? &w->poll : NULL, *k = w->wake.kind ? &w->wake : NULL;

	if (!p && !k) {
		tt_fb_str(b, "  the flight recorder holds no event of it");
		reach(b, info, now);
		return;
	}
	if (p) {
		tt_fb_str(b, "  last poll ");
		age(b, now, p->stamp_ns);
		tt_fb_str(b, ": ");
		tt_history_event(b, r, sites, snap_name, (void *)s, w->id, p);
		tt_fb_str(b, "; ");
	} else {
		tt_fb_str(b, "  ");
	}
	/* One tick of the coarse clock cannot order a wake and a poll of
	 * different rings: a tie counts as the wake that led to the poll.
	 * A wake during a poll (arg3 1) led to a poll after that one, so
	 * it came before the last poll of a task that waits, whatever its
	 * stamp (its waker's clock may be ticks ahead of the poller's). */
	if (k && (!p || (k->stamp_ns > p->stamp_ns && k->arg3 != 1))) {
		tt_fb_str(b, "last woken ");
		age(b, now, k->stamp_ns);
		tt_fb_str(b, ": ");
		tt_history_event(b, r, sites, snap_name, (void *)s, w->id, k);
		return;
	}
	if (p && !info->partial && info->complete_since <= p->stamp_ns) {
		tt_fb_str(b, "never woken since");
	} else {
		tt_fb_str(b, "no wake of it since in the flight recorder");
		reach(b, info, now);
	}
	if (k) {
		tt_fb_str(b, " (last woken ");
		age(b, now, k->stamp_ns);
		tt_fb_str(b, ": ");
		tt_history_event(b, r, sites, snap_name, (void *)s, w->id, k);
		tt_fb_str(b, ")");
	}
}
