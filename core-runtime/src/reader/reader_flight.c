/* The flight recorder's rings (docs/registry-abi.md §5.12), decoded: the one
 * decoder behind `tasktrace history`, gdb's `task history` and every other
 * reader of events.  Core layer: no allocation, no stdio, bounded loops.
 *
 * A ring has one writer, which fills an event, stores its SEQ = 2*pos+2
 * and then HEAD = pos+1.  The slot it may be writing is the one of
 * position HEAD-CAPACITY, so an event copied before HEAD is read again is
 * whole if its position is above that HEAD - CAPACITY and its SEQ is its
 * own: anything else is torn or overwritten, and is counted, not shown. */
#include "reader/reader_priv.h"

#define MAX_CAPACITY (1ull << 28) /* events per ring: 15 GB of them is junk */
#define COPY_BYTES 4096u	  /* events copied per read (a signal stack holds it) */

/* A writer's stamps never go back, so an event out of order with its
 * neighbours is not an event of its ring: one stamped before the last one
 * taken is dropped, and one stamped after the event that follows it
 * (junk from the future) must not make every later event look out of
 * order.  Up to two events wait here until the next one says which of
 * them is out of place. */
typedef struct order {
	tt_revent wait[2];
	int n;
	uint64_t taken; /* the stamp of the last event taken */
	uint64_t task_id;
	tt_revent_fn fn;
	void *ctx;
	tt_rflight *st;
	int64_t delivered;
	int *stop;
} order;

static void take(order *o, const tt_revent *ev)
{
	o->taken = ev->stamp_ns;
	if (*o->stop)
		return;
	if (o->task_id && ev->task != o->task_id &&
	    !(ev->kind == TT_EV_WAKE && ev->arg1 == o->task_id) &&
	    !(ev->kind == TT_EV_SPAWN && ev->arg1 == o->task_id))
		return;
	o->st->events++;
	o->delivered++;
	if (o->fn(o->ctx, ev))
		*o->stop = 1;
}

static void feed(order *o, const tt_revent *ev)
{
	uint64_t t = ev->stamp_ns;

	if (o->n == 0) {
		if (t < o->taken)
			o->st->skipped++;
		else
			o->wait[o->n++] = *ev;
	} else if (t >= o->wait[0].stamp_ns) {
		/* Both waiting ones cannot be in order: the second was
		 * below the first, which this one confirms. */
		if (o->n == 2)
			o->st->skipped++;
		take(o, &o->wait[0]);
		o->wait[0] = *ev;
		o->n = 1;
	} else if (o->n == 2 && t >= o->wait[1].stamp_ns) {
		o->st->skipped++; /* the first was from the future */
		take(o, &o->wait[1]);
		o->wait[0] = *ev;
		o->n = 1;
	} else if (t < o->taken || o->n == 2) {
		o->st->skipped++;
	} else {
		o->wait[o->n++] = *ev; /* it or the first is out of place */
	}
}

/* The ring's end: a last pair that disagrees is left out whole. */
static void drain(order *o)
{
	if (o->n == 1)
		take(o, &o->wait[0]);
	else if (o->n == 2)
		o->st->skipped += 2;
	o->n = 0;
}

static int64_t ring_read(tt_reader *r, uint64_t addr, int32_t worker, uint64_t task_id,
			 tt_revent_fn fn, void *ctx, tt_rflight *st, int *stop)
{
	unsigned char rec[TT_R_RECORD_MAX];
	unsigned char buf[COPY_BYTES];
	const tt_field *rf = r->f_ring, *ef = r->f_event;
	uint32_t rsize = r->record_size[TT_REC_RING], esize = r->record_size[TT_REC_EVENT];

	if (!rsize || !esize || !ef[TT_EVENT_SEQ].size || !ef[TT_EVENT_KIND].size ||
	    esize > COPY_BYTES)
		return tt_r_errf(r, TT_R_BAD_LAYOUT, "layout: no ring or event record");
	if (addr & (TT_R_ALIGN - 1))
		return tt_r_errf(r, TT_R_MISALIGNED, "ring %X: misaligned", addr);
	if (tt_r_read(r, addr, rec, rsize, "ring"))
		return TT_R_UNREADABLE;
	uint64_t cap = tt_r_get(rec, rf[TT_RING_CAPACITY]);
	uint64_t head = tt_r_get(rec, rf[TT_RING_HEAD]);
	uint64_t events = tt_r_get(rec, rf[TT_RING_EVENTS]);
	if (!cap || cap > MAX_CAPACITY || !events || (events & (TT_R_ALIGN - 1)) ||
	    events + cap * esize < events)
		return tt_r_errf(r, TT_R_ABSURD, "ring %X: capacity %U at %X is absurd", addr, cap,
				 events);
	/* The slot of position HEAD-CAPACITY is the one a writer may be
	 * filling: that event is lost already. */
	uint64_t first = head >= cap ? head - cap + 1 : 0;
	st->lost += first;
	uint32_t per = COPY_BYTES / esize;
	order o = {.task_id = task_id, .fn = fn, .ctx = ctx, .st = st, .stop = stop};
	for (uint64_t pos = first; pos < head && !*stop;) {
		uint64_t slot = pos % cap;
		uint64_t n = head - pos;
		if (n > per)
			n = per;
		if (n > cap - slot) /* the copy stops where the array wraps */
			n = cap - slot;
		if (tt_r_read(r, events + slot * esize, buf, n * esize, "ring events"))
			return TT_R_UNREADABLE;
		/* HEAD again: events it has lapped since may be torn. */
		if (tt_r_read(r, addr, rec, rsize, "ring"))
			return TT_R_UNREADABLE;
		uint64_t now_head = tt_r_get(rec, rf[TT_RING_HEAD]);
		uint64_t floor = now_head >= cap ? now_head - cap + 1 : 0;
		for (uint64_t i = 0; i < n && !*stop; i++, pos++) {
			const unsigned char *e = buf + i * esize;
			if (tt_r_get(e, ef[TT_EVENT_SEQ]) != 2 * pos + 2 || pos < floor) {
				st->skipped++;
				continue;
			}
			tt_revent ev = {
			    .pos = pos,
			    .stamp_ns = tt_r_get(e, ef[TT_EVENT_STAMP_NS]),
			    .task = tt_r_get(e, ef[TT_EVENT_TASK]),
			    .kind = (uint32_t)tt_r_get(e, ef[TT_EVENT_KIND]),
			    .worker = worker,
			};
			switch (ev.kind) {
			case TT_EV_SUSPEND:
			case TT_EV_STALL_END:
			case TT_EV_WAKE:
				ev.arg3 = (uint32_t)tt_r_get(e, ef[TT_EVENT_ARG3]);
				/* fall through */
			case TT_EV_SPAWN:
			case TT_EV_BLOCKING_START:
			case TT_EV_BLOCKING_END:
			case TT_EV_STALL_BEGIN:
				ev.arg1 = tt_r_get(e, ef[TT_EVENT_ARG1]);
				ev.arg2 = tt_r_get(e, ef[TT_EVENT_ARG2]);
				break;
			}
			if (ev.kind == TT_EV_SUSPEND || ev.kind == TT_EV_YIELD ||
			    ev.kind == TT_EV_DONE || ev.kind == TT_EV_CANCEL)
				ev.start_ns = tt_r_get(e, ef[TT_EVENT_START_NS]);
			if (ev.start_ns > ev.stamp_ns)
				ev.start_ns = ev.stamp_ns;
			feed(&o, &ev);
		}
	}
	drain(&o);
	return o.delivered;
}

static void ring_failed(tt_reader *r, tt_rflight *st)
{
	st->bad_rings++;
	memcpy(st->err, r->err, sizeof st->err < sizeof r->err ? sizeof st->err : sizeof r->err);
	st->err[sizeof st->err - 1] = 0;
}

int64_t tt_flight_read(tt_reader *r, uint64_t task_id, tt_revent_fn fn, void *ctx, tt_rflight *st)
{
	int64_t total = 0, rc;
	int stop = 0;

	memset(st, 0, sizeof *st);
	if (!r->f_worker[TT_WORKER_RING].size && !r->f_root[TT_ROOT_FOREIGN_RING].size)
		return tt_r_errf(r, TT_R_NOT_FOUND, "the registry has no flight recorder");
	uint64_t count = tt_reader_root_u64(r, TT_ROOT_WORKER_COUNT);
	if (count > r->lim.max_workers)
		count = r->lim.max_workers;
	for (uint32_t i = 0; i < count && !stop; i++) {
		tt_rworker w;
		if (tt_reader_worker(r, i, &w) != TT_R_OK) {
			ring_failed(r, st);
			continue;
		}
		if (!w.ring)
			continue;
		st->rings++;
		rc = ring_read(r, w.ring, (int32_t)w.index, task_id, fn, ctx, st, &stop);
		if (rc < 0)
			ring_failed(r, st);
		else
			total += rc;
	}
	uint64_t foreign = tt_reader_root_u64(r, TT_ROOT_FOREIGN_RING);
	if (foreign && !stop) {
		st->rings++;
		rc = ring_read(r, foreign, -1, task_id, fn, ctx, st, &stop);
		if (rc < 0)
			ring_failed(r, st);
		else
			total += rc;
	}
	if (!st->rings && !st->bad_rings)
		return tt_r_errf(r, TT_R_NOT_FOUND, "the flight recorder is off (no rings)");
	return total;
}
