/* The panes of tasktrace top that are text: a task's detail (bt's chain
 * and ancestry, its histograms as bars, its last events in the words of
 * `tasktrace history`), the findings, the groups of `ps --group`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasktrace/read/history.h"
#include "top.h"

#define BAR_WIDTH 40
#define DETAIL_EVENTS 16

/* One bar per bucket in use, scaled to the fullest. */
static void bars(FILE *f, const char *title, const uint32_t *h, uint32_t n)
{
	uint32_t max = 0;
	char w[32];
	tt_fbuf b;

	for (uint32_t i = 0; i < n; i++)
		max = h[i] > max ? h[i] : max;
	if (!max)
		return;
	fprintf(f, "%s\n", title);
	for (uint32_t i = 0; i < n; i++) {
		if (!h[i])
			continue;
		tt_fb_init(&b, w, sizeof(w));
		tt_fmt_hist_bucket(&b, i, n);
		/* At least one mark: a bucket in use never looks empty. */
		unsigned len = (unsigned)((uint64_t)h[i] * BAR_WIDTH / max);
		fprintf(f, "  %-10s |", w);
		for (unsigned k = 0; k < BAR_WIDTH; k++)
			fputc(k < (len ? len : 1) ? '#' : ' ', f);
		fprintf(f, "| %u\n", h[i]);
	}
}

static void hist_bars(FILE *f, const tt_rtask *t)
{
	char line[512];
	tt_fbuf b;

	if (t->hist_flags & TT_RHIST_BAD) {
		fputs("histograms unreadable: bad block or counts\n", f);
		return;
	}
	if (!t->hist_buckets) {
		fputs("no histograms published\n", f);
		return;
	}
	bars(f, "poll time (since spawn):", t->poll_hist, t->hist_buckets);
	bars(f, "waited for a worker (since spawn):", t->delay_hist, t->hist_buckets);
	tt_fb_init(&b, line, sizeof(line));
	tt_fmt_hist(&b, t->poll_hist, t->hist_buckets);
	if (line[0])
		fprintf(f, "polls: %s\n", line);
	tt_fb_init(&b, line, sizeof(line));
	tt_fmt_hist(&b, t->delay_hist, t->hist_buckets);
	if (line[0])
		fprintf(f, "waited for a worker: %s\n", line);
}

char *top_detail_text(top_model *m, uint64_t id)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const tt_stask *t = tt_snapshot_find(m->snap, id);

	if (!f)
		return NULL;
	if (!t) {
		fprintf(f, "task %llu is gone\n", (unsigned long long)id);
	} else {
		char *bt = tt_bt_text(m->snap, m->now_ns, &id, 1, NULL);
		fputs(bt ? bt : "(out of memory)\n", f);
		tt_text_free(bt);
		fputc('\n', f);
		hist_bars(f, &t->raw);
		fputc('\n', f);
		/* The live process's rings, read as `history` reads them. */
		char *h =
		    tt_history_text(m->s->target.mem, m->snap, id, DETAIL_EVENTS, m->now_ns, NULL);
		fputs(h ? h : "(out of memory)\n", f);
		free(h);
	}
	return fclose(f) ? (free(buf), NULL) : buf;
}

char *top_findings_text(top_model *m)
{
	if (!m->diag)
		return strdup("(the diagnosis ran out of memory)\n");
	return strdup(m->diag->text);
}

char *top_groups_text(top_model *m, const char *label_key)
{
	tt_list_opts lo;
	char err[160], key[80];

	tt_list_opts_init(&lo);
	lo.all = m->o->all;
	lo.state = m->state;
	lo.name_regex = m->o->name;
	lo.labels = m->o->labels;
	lo.nlabels = (size_t)m->o->nlabels;
	lo.group = 1;
	if (label_key && label_key[0]) {
		snprintf(key, sizeof(key), "%s", label_key);
		lo.group_label = key;
	}
	char *t = tt_task_list(m->snap, m->now_ns, &lo, err, sizeof(err));
	char *copy = t ? strdup(t) : strdup(err);
	tt_text_free(t);
	return copy;
}
