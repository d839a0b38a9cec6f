/* tasktrace top: which rows are shown and in what order (the filter, the
 * state shown, the sort), over the numbers top_model.c keeps: no row is
 * worded to be sorted, and only a filter words the rows it looks at. */
#include <stdlib.h>
#include <string.h>

#include "top.h"

int top_set_filter(top_model *m, const char *re, char *err, size_t errlen)
{
	regex_t x;
	int rc;

	if (!re[0]) {
		if (m->have_re)
			regfree(&m->re);
		m->have_re = 0;
		m->filter[0] = 0;
		return 0;
	}
	if ((rc = regcomp(&x, re, REG_EXTENDED | REG_NOSUB | REG_ICASE))) {
		regerror(rc, &x, err, errlen);
		return -1;
	}
	if (m->have_re)
		regfree(&m->re);
	m->re = x;
	m->have_re = 1;
	snprintf(m->filter, sizeof(m->filter), "%s", re);
	return 0;
}

/* The filter is over the words shown (name, labels, where), so it costs a
 * formatting of each task, paid only while a filter is set. */
static int shown(const top_model *m, const top_row *r)
{
	if (m->state >= 0 && (r->bad || r->t->raw.state != (uint32_t)m->state))
		return 0;
	if (!m->have_re)
		return 1;
	if (!regexec(&m->re, r->t->raw.name, 0, NULL, 0))
		return 1;
	char buf[1024];
	tt_fbuf b;
	tt_fmt_task v;
	tt_fb_init(&b, buf, sizeof(buf));
	tt_fmt_labels(&b, &r->t->raw);
	if (buf[0] && !regexec(&m->re, buf, 0, NULL, 0))
		return 1;
	tt_snapshot_view(m->snap, r->t, &v);
	tt_fb_init(&b, buf, sizeof(buf));
	tt_fmt_where(&b, &v);
	return !regexec(&m->re, buf, 0, NULL, 0);
}

static const char *where_key(const top_model *m, const top_row *r)
{
	tt_fmt_task v;

	tt_snapshot_view(m->snap, r->t, &v);
	return v.where_func ? v.where_func : "";
}

static void sort_key(top_model *m, top_row *r)
{
	if (m->sort_col == TOP_COL_WHERE)
		r->where = where_key(m, r);
	else if (m->sort_col == TOP_COL_WAIT || m->sort_col >= TOP_COL_P50)
		top_row_keys(m, r);
}

static int cmp_d(double a, double b)
{
	return a < b ? -1 : a > b;
}

/* Numbers sort biggest first, words in order; 'r' turns either round. */
int top_col_descends(int col)
{
	return col != TOP_COL_ID && col != TOP_COL_NAME && col != TOP_COL_STATE &&
	       col != TOP_COL_WHERE;
}

static int cmp_rows(const void *a, const void *b, void *ctx)
{
	const top_model *m = ctx;
	const top_row *x = &m->rows[*(const size_t *)a], *y = &m->rows[*(const size_t *)b];
	int c = 0;

	switch (m->sort_col) {
	case TOP_COL_NAME:
		c = strcmp(x->t->raw.name, y->t->raw.name);
		break;
	case TOP_COL_STATE:
		c = cmp_d(x->bad ? 99 : x->t->raw.state, y->bad ? 99 : y->t->raw.state);
		break;
	case TOP_COL_WAIT:
		c = x->wait_ns < y->wait_ns ? -1 : x->wait_ns > y->wait_ns;
		break;
	case TOP_COL_BUSY:
		c = cmp_d(x->busy_pct, y->busy_pct);
		break;
	case TOP_COL_POLLS:
		c = cmp_d(x->polls_s, y->polls_s);
		break;
	case TOP_COL_WAKES:
		c = cmp_d(x->wakes_s, y->wakes_s);
		break;
	case TOP_COL_P50:
		c = cmp_d(x->p50, y->p50);
		break;
	case TOP_COL_P99:
		c = cmp_d(x->p99, y->p99);
		break;
	case TOP_COL_SCHED:
		c = cmp_d(x->sched_p50, y->sched_p50);
		break;
	case TOP_COL_WHERE:
		c = strcmp(x->where, y->where);
		break;
	}
	if (top_col_descends(m->sort_col))
		c = -c;
	if (m->reverse)
		c = -c;
	if (!c) /* ties in id order, whichever way */
		c = x->t->raw.id < y->t->raw.id ? -1 : x->t->raw.id > y->t->raw.id;
	return c;
}

void top_model_view(top_model *m)
{
	m->nshown = 0;
	for (size_t i = 0; i < m->nrows; i++)
		if (shown(m, &m->rows[i])) {
			sort_key(m, &m->rows[i]);
			m->order[m->nshown++] = i;
		}
	qsort_r(m->order, m->nshown, sizeof(*m->order), cmp_rows, m);
}
