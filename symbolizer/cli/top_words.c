/* tasktrace top's words: the header, the column heads and a row, each
 * cell in format.c's words (ps's state, wait and where; bt's histogram
 * buckets), for the batch frames and the rows on screen alike. */
#include <stdio.h>
#include <string.h>

#include "top.h"

const char *const top_col_head[TOP_COL_MAX_] = {
#define XX(name, head, width) head,
    TOP_COLUMN_MAP(XX)
#undef XX
};
static const unsigned col_width[TOP_COL_MAX_] = {
#define XX(name, head, width) width,
    TOP_COLUMN_MAP(XX)
#undef XX
};

static void rate(tt_fbuf *b, double v)
{
	char n[32];

	if (v < 0)
		tt_fb_str(b, "-");
	else {
		snprintf(n, sizeof(n), v >= 100 || v == 0 ? "%.0f" : "%.1f", v);
		tt_fb_str(b, n);
	}
}

static void bucket(tt_fbuf *b, const top_row *r, int i)
{
	if (i < 0)
		tt_fb_str(b, "-");
	else
		tt_fmt_hist_bucket(b, (uint32_t)i, r->t->raw.hist_buckets);
}

static void cell(const top_model *m, const top_row *r, const tt_fmt_task *vp, int col, tt_fbuf *b)
{
	top_row k = *r;
	const tt_fmt_task v = *vp;

	if (col >= TOP_COL_P50 && col <= TOP_COL_SCHED)
		top_row_keys(m, &k);
	r = &k;
	switch (col) {
	case TOP_COL_ID:
		tt_fb_u64(b, r->t->raw.id);
		break;
	case TOP_COL_NAME:
		tt_fb_text(b, r->t->raw.name);
		break;
	case TOP_COL_STATE:
		tt_fmt_state(b, &v);
		break;
	case TOP_COL_WAIT:
		tt_fmt_wait_short(b, &v, m->now_ns);
		break;
	case TOP_COL_BUSY:
		rate(b, r->busy_pct);
		break;
	case TOP_COL_POLLS:
		rate(b, r->polls_s);
		break;
	case TOP_COL_WAKES:
		rate(b, r->wakes_s);
		break;
	case TOP_COL_P50:
		bucket(b, r, r->p50);
		break;
	case TOP_COL_P99:
		bucket(b, r, r->p99);
		break;
	case TOP_COL_SCHED:
		bucket(b, r, r->sched_p50);
		break;
	case TOP_COL_WHERE:
		tt_fmt_where(b, &v);
		if (r->t->raw.nlabels || r->t->raw.label_flags) {
			tt_fb_str(b, "  ");
			tt_fmt_labels(b, &r->t->raw);
		}
		break;
	}
}

void top_fmt_cell(const top_model *m, const top_row *r, int col, tt_fbuf *b)
{
	tt_fmt_task v;

	tt_snapshot_view(m->snap, r->t, &v);
	cell(m, r, &v, col, b);
}

/* S cut to fit LEN bytes at a character boundary (the words are UTF-8). */
static void put_cut(tt_fbuf *b, const char *s, size_t len)
{
	size_t n = strlen(s);
	char tmp[256];

	if (n > len) {
		n = len;
		while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	tt_fb_str(b, tmp);
}

void top_fmt_heads(const top_model *m, tt_fbuf *b)
{
	size_t base = b->len, col = 2;

	tt_fb_str(b, "  ");
	for (int c = 0; c < TOP_COL_MAX_; c++) {
		if (c)
			tt_fb_pad(b, base + col);
		tt_fb_str(b, top_col_head[c]);
		if (c == m->sort_col)
			tt_fb_str(b, m->reverse ^ top_col_descends(c) ? "v" : "^");
		col += col_width[c];
	}
}

void top_fmt_row(const top_model *m, const top_row *r, tt_fbuf *b)
{
	size_t base = b->len, col = 2;
	char text[1024];
	tt_fbuf cb;
	tt_fmt_task v;

	tt_snapshot_view(m->snap, r->t, &v);
	tt_fb_str(b, r->finding ? "! " : "  ");
	for (int c = 0; c < TOP_COL_MAX_; c++) {
		if (c)
			tt_fb_pad(b, base + col);
		tt_fb_init(&cb, text, sizeof(text));
		cell(m, r, &v, c, &cb);
		if (col_width[c])
			put_cut(b, text, col_width[c] - 1);
		else
			tt_fb_str(b, text);
		col += col_width[c];
	}
}

void top_fmt_header(const top_model *m, int line, tt_fbuf *b)
{
	char n[160];

	if (line == 0) {
		snprintf(n, sizeof(n), "tasks: %zu", m->nrows);
		tt_fb_str(b, n);
		for (int st = 0; st <= TT_STATE_CANCELLED; st++) {
			snprintf(n, sizeof(n), ", %zu %s", m->by_state[st],
				 tt_state_name((uint32_t)st));
			tt_fb_str(b, n);
		}
		if (m->nbad) {
			snprintf(n, sizeof(n), ", %zu torn (not shown as fact)", m->nbad);
			tt_fb_str(b, n);
		}
		return;
	}
	tt_fb_str(b, "polls/s ");
	rate(b, m->frames > 1 ? m->polls_s : -1);
	tt_fb_str(b, ", wakes/s ");
	rate(b, m->frames > 1 ? m->wakes_s : -1);
	snprintf(n, sizeof(n), ", workers busy %u/%u, findings ", m->workers_busy, m->workers);
	tt_fb_str(b, n);
	if (m->diag)
		tt_fb_u64(b, m->diag->n);
	else
		tt_fb_str(b, "-");
	if (m->diag && m->now_ns > m->diag_now_ns) {
		tt_fb_str(b, " (");
		tt_fmt_duration(b, m->now_ns - m->diag_now_ns);
		tt_fb_str(b, " ago)");
	}
}
