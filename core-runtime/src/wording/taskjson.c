/* Tasks as JSON (tasktrace/read/taskjson.h), the schema of docs/cli.md. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tasktrace/read/taskjson.h"
#include "tasktrace/read/tasklist.h"
#include "wording/untrusted.h"
#include "wording/waits.h"

void tt_json_str(FILE *f, const char *s)
{
	char esc[TT_UNTRUSTED_ESC_MAX];
	const char *out;
	size_t n;

	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	while (*s) {
		s += tt_untrusted_next(s, TT_UNTRUSTED_JSON, esc, &out, &n);
		fwrite(out, 1, n, f);
	}
	fputc('"', f);
}

void tt_json_hex(FILE *f, uint64_t v)
{
	fprintf(f, "\"0x%" PRIx64 "\"", v);
}

/* A u64 or null when zero means "unknown". */
void tt_json_u64_or_null(FILE *f, uint64_t v)
{
	if (v)
		fprintf(f, "%" PRIu64, v);
	else
		fputs("null", f);
}

void tt_json_syscall(FILE *f, const tt_syscall *sc, const char *wchan)
{
	char mem[256];
	tt_fbuf b;

	if (!sc) {
		fputs("null", f);
		return;
	}
	int in = sc->state == TT_SC_BLOCKED || sc->state == TT_SC_RETURNING;
	fprintf(f, "{\"state\":\"%s\",\"nr\":", tt_syscall_state_word(sc->state));
	if (in)
		fprintf(f, "%" PRId64, sc->nr);
	else
		fputs("null", f);
	fputs(",\"name\":", f);
	tt_json_str(f, in ? tt_syscall_name((long)sc->nr) : NULL);
	fputs(",\"args\":", f);
	for (int i = 0; i < 6 && in; i++) {
		fputs(i ? "," : "[", f);
		tt_json_hex(f, sc->args[i]);
	}
	fputs(in ? "]" : "null", f);
	fputs(",\"ret\":", f);
	if (sc->state == TT_SC_RETURNING)
		fprintf(f, "%" PRId64, sc->ret);
	else
		fputs("null", f);
	fputs(",\"wchan\":", f);
	tt_json_str(f, wchan && *wchan && strcmp(wchan, "0") ? wchan : NULL);
	tt_fb_init(&b, mem, sizeof(mem));
	tt_fmt_syscall_of(&b, sc, wchan);
	fputs(",\"text\":", f);
	tt_json_str(f, b.p);
	fputc('}', f);
}

void tt_json_site(FILE *f, const tt_ssite *site)
{
	if (!site) {
		fputs("null", f);
		return;
	}
	fputs("{\"file\":", f);
	tt_json_str(f, site->file);
	fprintf(f, ",\"line\":%" PRIu32 ",\"function\":", site->line);
	tt_json_str(f, site->function);
	fputc('}', f);
}

static void json_flags(FILE *f, uint32_t flags)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
#define XX(name, value, word) { value, word },
		TT_TASK_FLAG_MAP(XX)
#undef XX
	};
	int n = 0;

	fputc('[', f);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].bit)
			fprintf(f, "%s\"%s\"", n++ ? "," : "", names[i].name);
	fputc(']', f);
}

/* The wait of a leaf frame, or null. */
static void json_wait(FILE *f, const tt_snapshot *s, uint64_t now,
		      const tt_rframe *w)
{
	if (!w || w->kind != TT_FUNC_KIND_LEAF || w->wait_kind == TT_WAIT_NONE) {
		fputs("null", f);
		return;
	}
	fputs("{\"kind\":", f);
	tt_json_str(f, tt_wait_kind_name(w->wait_kind));
	fputs(",\"object\":", f);
	tt_json_hex(f, w->wait_object);
	fputs(",\"object_name\":", f);
	tt_json_str(f, w->wait_name[0] ? w->wait_name : NULL);
	fputs(",\"owner_id\":", f);
	tt_json_u64_or_null(f, w->wait_owner);
	fputs(",\"owner_name\":", f);
	tt_json_str(f, tt_snapshot_task_name(s, w->wait_owner));
	fputs(",\"since_ns\":", f);
	tt_json_u64_or_null(f, w->wait_since_ns);
	fputs(",\"age_ns\":", f);
	if (w->wait_since_ns && w->wait_since_ns <= now)
		fprintf(f, "%" PRIu64, now - w->wait_since_ns);
	else
		fputs("null", f);
	fputs(",\"deadline_ns\":", f);
	tt_json_u64_or_null(f, tt_fmt_wait_row(w->wait_kind)->shape == TT_WS_DEADLINE ?
				       w->wait_detail : 0);
	fprintf(f, ",\"detail\":%" PRIu64 "}", w->wait_detail);
}

static void json_hist_words(FILE *f, const char *key, const uint32_t *h, uint32_t n)
{
	char mem[32];
	tt_fbuf b;
	int p50 = tt_hist_percentile(h, n, 50), p99 = tt_hist_percentile(h, n, 99);

	fprintf(f, ",\"%s\":[", key);
	for (uint32_t i = 0; i < n; i++)
		fprintf(f, "%s%" PRIu32, i ? "," : "", h[i]);
	fprintf(f, "],\"%s_p50\":", key);
	tt_fb_init(&b, mem, sizeof(mem));
	if (p50 >= 0)
		tt_fmt_hist_bucket(&b, (uint32_t)p50, n);
	tt_json_str(f, p50 >= 0 ? mem : NULL);
	fprintf(f, ",\"%s_p99\":", key);
	tt_fb_init(&b, mem, sizeof(mem));
	if (p99 >= 0)
		tt_fmt_hist_bucket(&b, (uint32_t)p99, n);
	tt_json_str(f, p99 >= 0 ? mem : NULL);
}

/* "histograms": log2 buckets of §5.13 (bucket i >= 1 is [2^(i-1), 2^i)
 * ms), null when the runtime publishes none. */
static void json_hist(FILE *f, const tt_rtask *r)
{
	fputs(",\"histograms\":", f);
	if (r->hist_flags & TT_RHIST_BAD) {
		fputs("{\"error\":\"bad block or counts\"}", f);
		return;
	}
	if (!r->hist_buckets) {
		fputs("null", f);
		return;
	}
	fputc('{', f);
	fprintf(f, "\"buckets\":%" PRIu32, r->hist_buckets);
	json_hist_words(f, "poll", r->poll_hist, r->hist_buckets);
	json_hist_words(f, "delay", r->delay_hist, r->hist_buckets);
	fputc('}', f);
}

void tt_json_task_fields(FILE *f, const tt_snapshot *s, uint64_t now,
			 const tt_stask *t)
{
	const tt_rtask *r = &t->raw;
	tt_fmt_task v;

	tt_snapshot_view(s, t, &v);
	fprintf(f, "\"id\":%" PRIu64 ",\"name\":", r->id);
	tt_json_str(f, r->name);
	fputs(",\"labels\":{", f);
	for (uint32_t i = 0; i < r->nlabels && i < TT_TASK_LABELS_MAX; i++) {
		if (i)
			fputc(',', f);
		tt_json_str(f, r->labels[i].key);
		fputc(':', f);
		tt_json_str(f, r->labels[i].value);
	}
	fprintf(f, "},\"labels_incomplete\":%s", r->label_flags ? "true" : "false");
	/* A bad record's state is no task's (tt_fmt_task.bad_record). */
	if (v.bad_record)
		fputs(",\"state\":null,\"flags\":", f);
	else
		fprintf(f, ",\"state\":\"%s\",\"flags\":", tt_state_name(r->state));
	json_flags(f, r->flags);
	fputs(",\"parent_id\":", f);
	tt_json_u64_or_null(f, r->parent_id);
	fputs(",\"worker\":", f);
	if (r->worker >= 0)
		fprintf(f, "%" PRId32, r->worker);
	else
		fputs("null", f);
	fputs(",\"tid\":", f);
	if (r->state == TT_STATE_RUNNING && v.tid > 0)
		fprintf(f, "%" PRId64, v.tid);
	else
		fputs("null", f);
	fputs(",\"runtime_id\":", f);
	tt_json_u64_or_null(f, r->runtime_id);
	fputs(",\"inherited_from_pid\":", f);
	tt_json_u64_or_null(f, v.inherited_from);
	fputs(",\"spawn_site\":", f);
	tt_json_site(f, t->spawn_site);
	fputs(",\"wait\":", f);
	json_wait(f, s, now, r->state == TT_STATE_IDLE ? v.leaf : NULL);
	fputs(",\"where\":", f);
	if (v.where_func) {
		fputs("{\"function\":", f);
		tt_json_str(f, v.where_func);
		fputs(",\"file\":", f);
		tt_json_str(f, v.where_file);
		fprintf(f, ",\"line\":%" PRIu32 "}", v.where_line);
	} else {
		fputs("null", f);
	}
	fprintf(f, ",\"created_ns\":%" PRIu64 ",\"polls\":%" PRIu64 ",\"busy_ns\":%" PRIu64
		   ",\"wakes\":%" PRIu64 ",\"wakers\":%" PRIu64 ",\"torn\":%s,\"error\":",
		r->created_ns, r->polls, r->busy_ns, r->wakes, r->wakers,
		t->error == TT_R_TORN ? "true" : "false");
	tt_json_str(f, t->error ? tt_fmt_strip_task_prefix(t->errmsg) : NULL);
	json_hist(f, r);
}

static const char *func_kind_name(uint32_t kind)
{
	static const char *const names[] = {
#define XX(name, value, word) [value] = word,
		TT_FUNC_KIND_MAP(XX)
#undef XX
	};

	return kind < sizeof(names) / sizeof(names[0]) && names[kind] ? names[kind] : "unknown";
}

typedef struct frames_ctx {
	const tt_snapshot *s;
	uint64_t now;
	const tt_stask *t;
	tt_json_frame_fn more;
	void *ctx;
} frames_ctx;

static void frames(FILE *f, const frames_ctx *c, size_t from);

static void frame(FILE *f, const frames_ctx *c, size_t i)
{
	const tt_sframe *fr = &c->t->frames[i];

	fprintf(f, "{\"index\":%zu,\"addr\":", i);
	tt_json_hex(f, fr->raw.addr);
	/* Frames the reader let go above this one (a chain deeper than it
	 * keeps): the depths say how many. */
	uint32_t elided = 0;
	if (fr->raw.parent >= 0 && (size_t)fr->raw.parent < c->t->nframes) {
		uint32_t up = c->t->frames[fr->raw.parent].raw.depth;
		elided = fr->raw.depth > up + 1 ? fr->raw.depth - up - 1 : 0;
	}
	fprintf(f, ",\"depth\":%" PRIu32 ",\"elided\":%" PRIu32 ",\"function\":", fr->raw.depth,
		elided);
	tt_json_str(f, fr->func->name);
	fprintf(f, ",\"kind\":\"%s\",\"site\":", func_kind_name(fr->raw.kind));
	tt_json_site(f, fr->site);
	fprintf(f, ",\"returned\":%s",
		fr->site && (fr->site->flags & TT_SITEF_DONE) ? "true" : "false");
	if (fr->raw.kind == TT_FUNC_KIND_LEAF) {
		fputs(",\"wait\":", f);
		json_wait(f, c->s, c->now, &fr->raw);
	}
	if (fr->raw.kind == TT_FUNC_KIND_COMBINATOR) {
		/* The children other than the awaited one, each as its own
		 * innermost-first path. */
		size_t first = tt_stask_next_child(c->t, i, i);
		int n = 0;
		fputs(",\"branches\":[", f);
		for (size_t k = tt_stask_next_child(c->t, i, first); k < c->t->nframes;
		     k = tt_stask_next_child(c->t, i, k)) {
			if (n++)
				fputc(',', f);
			frames(f, c, k);
		}
		fputc(']', f);
	}
	if (fr->raw.kind != TT_FUNC_KIND_LEAF) {
		fputs(",\"resume_pc\":", f);
		if (fr->site && fr->site->resume)
			tt_json_hex(f, fr->site->resume);
		else
			fputs("null", f);
		if (c->more)
			c->more(f, c->t, i, c->ctx);
	}
	fputc('}', f);
}

static void frames(FILE *f, const frames_ctx *c, size_t from)
{
	const tt_stask *t = c->t;
	size_t *path = malloc((t->nframes ? t->nframes : 1) * sizeof(*path));
	size_t n = path ? tt_stask_path(t, from, path, t->nframes) : 0;

	fputc('[', f);
	for (size_t k = n; k-- > 0;) {
		frame(f, c, path[k]);
		if (k)
			fputc(',', f);
	}
	fputc(']', f);
	free(path);
}

void tt_json_frames(FILE *f, const tt_snapshot *s, uint64_t now,
		    const tt_stask *t, size_t from, tt_json_frame_fn more,
		    void *ctx)
{
	frames_ctx c = { s, now, t, more, ctx };

	frames(f, &c, from);
}

void tt_json_ancestry(FILE *f, const tt_snapshot *s, const tt_stask *t)
{
	const tt_stask *cur = t;
	uint64_t seen[TT_MAX_ANCESTRY];
	int n = 0;

	fputc('[', f);
	while (cur && cur->raw.parent_id && n < TT_MAX_ANCESTRY) {
		uint64_t pid = cur->raw.parent_id;
		for (int i = 0; i < n; i++)
			if (seen[i] == pid)
				goto out; /* a spawn cycle: only in corrupt memory */
		seen[n] = pid;
		fprintf(f, "%s{\"id\":%" PRIu64 ",\"name\":", n++ ? "," : "", pid);
		tt_json_str(f, tt_snapshot_task_name(s, pid));
		fputs(",\"spawn_site\":", f);
		tt_json_site(f, cur->spawn_site);
		fputc('}', f);
		cur = tt_snapshot_find(s, pid);
	}
out:
	fputc(']', f);
}

static void task_object(FILE *f, const tt_snapshot *s, uint64_t now,
			const tt_stask *t, int with_frames)
{
	fputc('{', f);
	tt_json_task_fields(f, s, now, t);
	if (with_frames) {
		fputs(",\"frames\":", f);
		tt_json_frames(f, s, now, t, 0, NULL, NULL);
		fputs(",\"ancestry\":", f);
		tt_json_ancestry(f, s, t);
	}
	fputc('}', f);
}

char *tt_json_tasks(const tt_snapshot *s, uint64_t now, int all, uint64_t id,
		    int frames)
{
	char *text = NULL, err[160];
	size_t len = 0, n = 0;
	const tt_stask **v = NULL;
	tt_list_opts o;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	tt_list_opts_init(&o);
	o.all = all;
	fprintf(f, "{\"now_ns\":%" PRIu64 ",\"tasks\":[", now);
	if (id) {
		const tt_stask *t = tt_snapshot_find(s, id);
		if (t)
			task_object(f, s, now, t, frames);
	} else if ((v = tt_task_select(s, &o, &n, err, sizeof(err)))) {
		for (size_t i = 0; i < n; i++) {
			if (i)
				fputc(',', f);
			task_object(f, s, now, v[i], frames);
		}
	}
	fputs("]}", f);
	int bad = ferror(f) || (!id && !v);
	free(v);
	if (fclose(f) != 0 || bad) {
		free(text);
		return NULL;
	}
	return text;
}
