/* The model of tasktrace top, shared by batch mode and the interactive
 * view: sampling (the snapshot brought up to date, as the profiler and
 * the watchdog do), each task's rates between two samples of it, the
 * header's counts and the findings.  The filter and the sort are
 * top_view.c's, the words of a row top_words.c's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "top.h"

uint64_t top_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void top_sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = {(time_t)(deadline_ns / 1000000000ull),
			      (long)(deadline_ns % 1000000000ull)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int top_model_init(top_model *m, cli_session *s, const cli_opts *o)
{
	memset(m, 0, sizeof(*m));
	m->s = s;
	m->o = o;
	m->snap = s->snap;
	m->sort_col = TOP_COL_BUSY;
	m->state = o->state;
	return 0;
}

void top_model_free(top_model *m)
{
	free(m->prev);
	free(m->rows);
	free(m->order);
	free(m->diag_ids);
	tt_diag_free(m->diag);
	if (m->have_re)
		regfree(&m->re);
	memset(m, 0, sizeof(*m));
}

/* The task's busy time at NOW: what its polls so far add up to (counted
 * as each ends), and the poll under way so far, so a poll that spans
 * samples counts in each interval for its part of it. */
static uint64_t busy_at(const tt_rtask *t, uint64_t now)
{
	uint64_t b = t->busy_ns;

	if ((t->running || t->state == TT_STATE_RUNNING) && t->poll_start_ns &&
	    t->poll_start_ns <= now)
		b += now - t->poll_start_ns;
	return b;
}

static int cmp_prev(const void *a, const void *b)
{
	const top_prev *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Keep this sample's counters for the next one's rates.  A torn or
 * inconsistent record's counters are no moment's: the task then has no
 * rates in the next frame rather than made-up ones. */
static int keep_prev(top_model *m)
{
	top_prev *p = malloc((m->nrows ? m->nrows : 1) * sizeof(*p));
	size_t n = 0;

	if (!p)
		return -1;
	for (size_t i = 0; i < m->nrows; i++) {
		const top_row *r = &m->rows[i];
		if (r->bad)
			continue;
		p[n++] = (top_prev){
		    r->t->raw.id,    r->t->raw.created_ns,	     r->t->raw.spawn_site,
		    r->t->raw.polls, busy_at(&r->t->raw, m->now_ns), r->t->raw.wakes};
	}
	/* The rows come in id order (tt_task_select): no sort, unless not. */
	for (size_t i = 1; i < n; i++)
		if (p[i - 1].id > p[i].id) {
			qsort(p, n, sizeof(*p), cmp_prev);
			break;
		}
	free(m->prev);
	m->prev = p;
	m->nprev = n;
	m->prev_now_ns = m->now_ns;
	return 0;
}

/* The same task in the sample before: the same id and the same spawn
 * (created stamp and site), so a slot reused by a newer task, or a
 * registry that hands an id out twice, never lends its counters. */
static const top_prev *find_prev(top_model *m, const tt_rtask *t)
{
	const top_prev *p = NULL;

	/* Rows in id order walk the sorted list once; else a search. */
	while (m->prev_at < m->nprev && m->prev[m->prev_at].id < t->id)
		m->prev_at++;
	if (m->prev_at < m->nprev && m->prev[m->prev_at].id == t->id) {
		p = &m->prev[m->prev_at];
	} else {
		top_prev key = {.id = t->id};
		p = bsearch(&key, m->prev, m->nprev, sizeof(key), cmp_prev);
	}
	if (!p || p->created_ns != t->created_ns || p->spawn_site != t->spawn_site)
		return NULL;
	return p;
}

static double per_s(uint64_t now, uint64_t before, uint64_t dt_ns)
{
	return (double)(now - before) * 1e9 / (double)dt_ns;
}

static void rate_row(top_model *m, top_row *r)
{
	const tt_rtask *t = &r->t->raw;
	uint64_t dt = m->now_ns - m->prev_now_ns;
	const top_prev *p = r->bad || !dt ? NULL : find_prev(m, t);

	r->busy_pct = r->polls_s = r->wakes_s = -1;
	/* Counters only grow: one that went back is not the same task's. */
	uint64_t busy = busy_at(t, m->now_ns);
	if (!p || t->polls < p->polls || busy < p->busy_ns || t->wakes < p->wakes)
		return;
	r->rated = 1;
	r->polls_s = per_s(t->polls, p->polls, dt);
	r->wakes_s = per_s(t->wakes, p->wakes, dt);
	/* The coarse clock's ticks can put a little more than the interval
	 * in it: one task is at most one worker's whole time. */
	r->busy_pct = per_s(busy, p->busy_ns, dt) / 1e7;
	if (r->busy_pct > 100)
		r->busy_pct = 100;
	m->polls_s += r->polls_s;
	m->wakes_s += r->wakes_s;
}

/* Only what the header and the rates need: the rest of a row is worked out
 * for the rows shown (top_row_keys), or for every row only when the sort
 * asks for it, so 100k tasks cost a pass over counters. */
static void fill_row(top_model *m, top_row *r, const tt_stask *t)
{
	memset(r, 0, sizeof(*r));
	r->t = t;
	/* as tt_snapshot_view says it: a torn record's state is no moment's */
	r->bad = t->error == TT_R_TORN || t->error == TT_R_INCONSISTENT;
	r->p50 = r->p99 = r->sched_p50 = -1;
	if (r->bad)
		m->nbad++;
	else if (t->raw.state <= TT_STATE_CANCELLED)
		m->by_state[t->raw.state]++;
	rate_row(m, r);
}

void top_row_keys(const top_model *m, top_row *r)
{
	const tt_rtask *t = &r->t->raw;

	r->p50 = r->p99 = r->sched_p50 = -1;
	r->wait_ns = 0;
	if (r->bad)
		return;
	if (t->hist_buckets && !(t->hist_flags & TT_RHIST_BAD)) {
		r->p50 = tt_hist_percentile(t->poll_hist, t->hist_buckets, 50);
		r->p99 = tt_hist_percentile(t->poll_hist, t->hist_buckets, 99);
		r->sched_p50 = tt_hist_percentile(t->delay_hist, t->hist_buckets, 50);
	}
	/* The duration the WAIT column words, as a number to sort by. */
	const tt_sframe *leaf = t->state == TT_STATE_IDLE ? tt_stask_leaf(r->t) : NULL;
	uint64_t since = t->state == TT_STATE_SCHEDULED ? t->wake_ns
			 : leaf				? leaf->raw.wait_since_ns
							: 0;
	r->wait_ns = since && since <= m->now_ns ? m->now_ns - since : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The ids the findings name, sorted, for the rows' '!'. */
static void finding_ids(top_model *m)
{
	size_t n = 0, cap = 0;
	uint64_t *ids = NULL;

	for (size_t k = 0; m->diag && k < m->diag->n; k++) {
		const tt_diag_finding *f = &m->diag->findings[k];
		size_t need = n + 2 + f->ncycle + (f->ids ? f->count : 0);
		if (need > cap) {
			uint64_t *p = realloc(ids, (cap = need * 2) * sizeof(*ids));
			if (!p)
				break;
			ids = p;
		}
		ids[n++] = f->task_id;
		if (f->other_id)
			ids[n++] = f->other_id;
		for (uint32_t c = 0; c < f->ncycle; c++)
			ids[n++] = f->cycle[c];
		for (uint64_t c = 0; f->ids && c < f->count; c++)
			ids[n++] = f->ids[c];
	}
	if (ids)
		qsort(ids, n, sizeof(*ids), cmp_u64);
	free(m->diag_ids);
	m->diag_ids = ids;
	m->ndiag_ids = ids ? n : 0;
}

/* The findings, and '!' on the rows they name.  The diagnosis of 100k
 * tasks that all rest past a threshold costs more than the rest of a
 * sample: it runs again only once TOP_DIAG_SHARE (1 %) of a core has paid for
 * the last run, and the header says how old the findings are. */
static void diagnose(top_model *m)
{
	uint64_t mono = top_mono_ns();

	/* The first sample of a live target is the rates' baseline: the
	 * first frame shows at once, the findings come with the next. */
	if (m->frames == 1 && !m->s->core)
		return;
	if (!m->diag || m->s->core ||
	    (double)(mono - m->diag_mono_ns) * TOP_DIAG_SHARE >= (double)m->diag_cost_ns) {
		tt_diag_opts o;
		uint64_t cpu0 = cpu_ns();
		tt_diag_free(m->diag);
		tt_diag_opts_init(&o);
		o.all = m->o->all;
		/* Read without stopping: a finding stands only if its tasks
		 * read the same again afterwards. */
		o.recheck = m->s->core ? NULL : &m->s->target.mem;
		m->diag = m->s->core ? tt_diagnose(m->snap, m->now_ns, &o)
				     : tt_diagnose_update(m->snap, m->now_ns, &o);
		m->diag_now_ns = m->now_ns;
		m->diag_mono_ns = mono;
		m->diag_cost_ns = cpu_ns() - cpu0;
		finding_ids(m);
	}
	for (size_t i = 0; i < m->nrows; i++)
		m->rows[i].finding =
		    m->ndiag_ids && bsearch(&m->rows[i].t->raw.id, m->diag_ids, m->ndiag_ids,
					    sizeof(uint64_t), cmp_u64) != NULL;
}

int top_sample(top_model *m)
{
	char err[256] = "";
	cli_session *s = m->s;

	if (m->ended)
		return -1;
	if (m->frames) {
		if (s->core)
			return 0; /* a core holds still: one sample is all */
		if (keep_prev(m)) {
			snprintf(m->ended_msg, sizeof(m->ended_msg), "out of memory");
			return m->ended = 1, -1;
		}
		int rc = tt_snapshot_update(m->snap, s->target.mem, err, sizeof(err));
		if (rc < 0) {
			/* The rows point into the snapshot, which has no tasks
			 * now: the last frame stays as text (the caller's). */
			snprintf(m->ended_msg, sizeof(m->ended_msg), "%s: %s", cli_target_name(s),
				 err[0] ? err : tt_strerror(rc));
			m->nrows = m->nshown = 0;
			return m->ended = 1, -1;
		}
		tt_snapshot_set_target(m->snap, (uint64_t)s->target.pid);
	}
	m->frames++;
	m->now_ns = s->core ? s->now_ns : tt_live_now(s->target.pid, m->snap->now_ns);
	if (m->frames == 1)
		m->prev_now_ns = m->now_ns;

	tt_list_opts lo;
	tt_list_opts_init(&lo);
	lo.all = m->o->all;
	lo.name_regex = m->o->name;
	lo.labels = m->o->labels;
	lo.nlabels = (size_t)m->o->nlabels;
	size_t n;
	const tt_stask **sel = tt_task_select(m->snap, &lo, &n, err, sizeof(err));
	if (!sel) {
		snprintf(m->ended_msg, sizeof(m->ended_msg), "%s", err);
		m->nrows = m->nshown = 0;
		return m->ended = 1, -1;
	}
	if (n > m->rows_cap) {
		top_row *r = realloc(m->rows, n * sizeof(*r));
		size_t *o = realloc(m->order, n * sizeof(*o));
		if (r)
			m->rows = r;
		if (o)
			m->order = o;
		if (!r || !o) {
			free(sel);
			snprintf(m->ended_msg, sizeof(m->ended_msg), "out of memory");
			m->nrows = m->nshown = 0;
			return m->ended = 1, -1;
		}
		m->rows_cap = n;
	}
	memset(m->by_state, 0, sizeof(m->by_state));
	m->prev_at = 0;
	m->nbad = 0;
	m->polls_s = m->wakes_s = 0;
	for (size_t i = 0; i < n; i++)
		fill_row(m, &m->rows[i], sel[i]);
	m->nrows = n;
	free(sel);
	m->workers = m->workers_busy = 0;
	for (size_t i = 0; i < m->snap->nworkers; i++) {
		uint32_t st = m->snap->workers[i].state;
		m->workers += st == TT_WORKER_IDLE || st == TT_WORKER_POLLING;
		m->workers_busy += st == TT_WORKER_POLLING;
	}
	diagnose(m);
	top_model_view(m);
	return 0;
}
