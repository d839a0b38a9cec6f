/* tasktrace top -b: the model's frames as plain text (like top -b) or one
 * JSON object per frame, for scripts, logs and tests. */
#include <inttypes.h>
#include <stdio.h>

#include "top.h"

static void text_frame(const top_model *m, uint64_t frame, uint64_t interval_ns)
{
	char line[4096];
	tt_fbuf b;

	tt_fb_init(&b, line, sizeof(line));
	tt_fb_str(&b, "top - ");
	tt_fb_str(&b, cli_target_name(m->s));
	tt_fb_str(&b, ", frame ");
	tt_fb_u64(&b, frame);
	if (!m->s->core) {
		tt_fb_str(&b, ", every ");
		tt_fmt_duration(&b, interval_ns);
	}
	cli_line(&b);
	for (int k = 0; k < 2; k++) {
		tt_fb_init(&b, line, sizeof(line));
		top_fmt_header(m, k, &b);
		cli_line(&b);
	}
	putchar('\n');
	tt_fb_init(&b, line, sizeof(line));
	top_fmt_heads(m, &b);
	cli_line(&b);
	for (size_t i = 0; i < m->nshown; i++) {
		tt_fb_init(&b, line, sizeof(line));
		top_fmt_row(m, &m->rows[m->order[i]], &b);
		while (b.len && b.p[b.len - 1] == ' ')
			b.p[--b.len] = 0;
		cli_line(&b);
	}
	for (size_t k = 0; m->diag && k < m->diag->n; k++) {
		if (!k)
			putchar('\n');
		tt_fb_init(&b, line, sizeof(line));
		tt_fb_str(&b, "! ");
		/* worded (names sanitised) by the diagnosis: as hung prints it */
		tt_fb_str(&b, m->diag->findings[k].title);
		cli_line(&b);
	}
	putchar('\n');
}

static void json_num(const char *key, double v)
{
	printf(",\"%s\":", key);
	if (v < 0)
		fputs("null", stdout);
	else
		printf("%.3f", v);
}

static void json_bucket(const char *key, const top_row *r, int i)
{
	char w[32];
	tt_fbuf b;

	printf(",\"%s\":", key);
	if (i < 0) {
		fputs("null", stdout);
		return;
	}
	tt_fb_init(&b, w, sizeof(w));
	tt_fmt_hist_bucket(&b, (uint32_t)i, r->t->raw.hist_buckets);
	printf("{\"bucket\":%d,\"words\":", i);
	tt_json_str(stdout, w);
	putchar('}');
}

static void json_frame(top_model *m, uint64_t frame, uint64_t interval_ns)
{
	cli_session *s = m->s;

	s->now_ns = m->now_ns; /* the document's clock is this frame's */
	json_doc_begin(stdout, s, "top");
	for (size_t i = 0; i < m->nshown; i++) {
		top_row *r = &m->rows[m->order[i]];
		top_row_keys(m, r);
		fputs(i ? ",{" : "{", stdout);
		tt_json_task_fields(stdout, m->snap, m->now_ns, r->t);
		printf(",\"top\":{\"rated\":%s,\"finding\":%s,\"wait_ns\":%" PRIu64,
		       r->rated ? "true" : "false", r->finding ? "true" : "false", r->wait_ns);
		json_num("busy_pct", r->busy_pct);
		json_num("polls_per_s", r->polls_s);
		json_num("wakes_per_s", r->wakes_s);
		json_bucket("poll_p50", r, r->p50);
		json_bucket("poll_p99", r, r->p99);
		json_bucket("sched_p50", r, r->sched_p50);
		fputs("}}", stdout);
	}
	printf("],\"top\":{\"frame\":%" PRIu64 ",\"interval_ns\":%" PRIu64 ",\"tasks\":%zu", frame,
	       s->core ? 0 : interval_ns, m->nrows);
	for (int st = 0; st <= TT_STATE_CANCELLED; st++)
		printf(",\"%s\":%zu", tt_state_name((uint32_t)st), m->by_state[st]);
	printf(",\"torn\":%zu", m->nbad);
	json_num("polls_per_s", m->frames > 1 ? m->polls_s : -1);
	json_num("wakes_per_s", m->frames > 1 ? m->wakes_s : -1);
	printf(",\"workers_busy\":%u,\"workers\":%u,\"findings\":[", m->workers_busy, m->workers);
	for (size_t k = 0; m->diag && k < m->diag->n; k++) {
		const tt_diag_finding *f = &m->diag->findings[k];
		printf("%s{\"kind\":", k ? "," : "");
		tt_json_str(stdout, tt_diag_kind_name(f->kind));
		printf(",\"task_id\":%" PRIu64 ",\"count\":%" PRIu64 ",\"title\":", f->task_id,
		       f->count);
		tt_json_str(stdout, f->title);
		putchar('}');
	}
	fputs("]}}\n", stdout);
}

int top_batch(top_model *m, uint64_t n, uint64_t interval_ns)
{
	uint64_t next = top_mono_ns();

	/* The first frame's rates need a sample before it. */
	if (top_sample(m) ||
	    (!m->s->core && (top_sleep_until(next += interval_ns), top_sample(m)))) {
		fprintf(stderr, "tasktrace: top: %s\n", m->ended_msg);
		return EXIT_TARGET;
	}
	for (uint64_t k = 0; !n || k < n; k++) {
		if (k) {
			top_sleep_until(next += interval_ns);
			if (top_sample(m)) {
				fprintf(stderr,
					"tasktrace: top: stopped after %" PRIu64 " frames: %s\n", k,
					m->ended_msg);
				return EXIT_TARGET;
			}
		}
		if (m->o->json)
			json_frame(m, k + 1, interval_ns);
		else
			text_frame(m, k + 1, interval_ns);
		if (fflush(stdout)) {
			perror("tasktrace: top: stdout");
			return EXIT_TARGET;
		}
		if (m->s->core)
			break; /* a core is one frame */
	}
	return EXIT_OK;
}
