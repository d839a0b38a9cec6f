/* --json output; the schema is documented in docs/cli.md.  Strings come
 * from target memory, so they are escaped and invalid UTF-8 is replaced,
 * keeping the document parseable whatever the target holds. */
#include <inttypes.h>
#include <stdlib.h>

#include "cli.h"

/* Length of the valid UTF-8 sequence at S, 0 when invalid. */
static int utf8_len(const unsigned char *s)
{
	int n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		int n = utf8_len(p);
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else if (n)
			fwrite(p, 1, (size_t)n, f);
		else
			fputs("\\ufffd", f);
		p += n ? n : 1;
	}
	fputc('"', f);
}

static void json_hex(FILE *f, uint64_t v)
{
	fprintf(f, "\"0x%" PRIx64 "\"", v);
}

/* A u64 or null when zero means "unknown". */
static void json_u64_or_null(FILE *f, uint64_t v)
{
	if (v)
		fprintf(f, "%" PRIu64, v);
	else
		fputs("null", f);
}

static void json_site(FILE *f, const tt_ssite *site)
{
	if (!site) {
		fputs("null", f);
		return;
	}
	fputs("{\"file\":", f);
	json_str(f, site->file);
	fprintf(f, ",\"line\":%" PRIu32 ",\"function\":", site->line);
	json_str(f, site->function);
	fputc('}', f);
}

static const char *via_name(int via)
{
	switch (via) {
	case TT_VIA_DYNSYM:
		return "dynsym";
	case TT_VIA_SYMTAB:
		return "symtab";
	case TT_VIA_SECTION:
		return "section";
	}
	return "unknown";
}

static const char *worker_state_name(uint32_t st)
{
	static const char *const names[] = { "unused", "idle", "polling", "exited" };

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "unknown";
}

static void json_workers(FILE *f, const tt_snapshot *snap)
{
	fputs("\"workers\":[", f);
	for (size_t i = 0; i < snap->nworkers; i++) {
		const tt_rworker *w = &snap->workers[i];
		fprintf(f, "%s{\"index\":%" PRIu32 ",\"tid\":%" PRIu64 ",\"state\":\"%s\",\"task_id\":",
			i ? "," : "", w->index, w->tid, worker_state_name(w->state));
		json_u64_or_null(f, w->task_id);
		fputc('}', f);
	}
	fputc(']', f);
}

void json_doc_begin(FILE *f, const cli_session *s, const char *command)
{
	const tt_snapshot *snap = s->snap;

	fprintf(f, "{\"tasktrace_json\":1,\"command\":\"%s\",\"pid\":%d,\"core\":", command,
		(int)s->target.pid);
	json_str(f, s->core);
	fprintf(f, ",\"stopped\":%s,", s->stopped ? "true" : "false");
	fputs("\"registry\":{\"address\":", f);
	json_hex(f, s->target.root.addr);
	fputs(",\"module\":", f);
	json_str(f, s->target.root.module);
	fprintf(f, ",\"found_by\":\"%s\",\"abi_version\":%" PRIu32 ",\"pointer_size\":%" PRIu32 ",\"runtime\":",
		via_name(s->target.root.via), snap->abi_version, snap->pointer_size);
	json_str(f, snap->runtime_name);
	fprintf(f, "},\"now_ns\":%" PRIu64 ",\"registry_now_ns\":%" PRIu64
		   ",\"start_real_ns\":%" PRIu64 ",\"tasks_live\":%" PRIu64 ",\"errors\":%zu,",
		s->now_ns, snap->now_ns, snap->start_real_ns, snap->tasks_live,
		snap->nerrors);
	json_workers(f, snap);
	fputs(",\"tasks\":[", f);
}

void json_doc_end(FILE *f)
{
	fputs("]}\n", f);
}

static void json_flags(FILE *f, uint32_t flags)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ TT_TASKF_SYSTEM, "system" },
		{ TT_TASKF_DETACHED, "detached" },
		{ TT_TASKF_CANCEL_REQUESTED, "cancel_requested" },
		{ TT_TASKF_BLOCK_ON, "block_on" },
	};
	int n = 0;

	fputc('[', f);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & names[i].bit)
			fprintf(f, "%s\"%s\"", n++ ? "," : "", names[i].name);
	fputc(']', f);
}

/* The wait of a leaf frame, or null. */
static void json_wait(FILE *f, const cli_session *s, const tt_rframe *w)
{
	if (!w || w->kind != TT_FUNC_KIND_LEAF || w->wait_kind == TT_WAIT_NONE) {
		fputs("null", f);
		return;
	}
	fputs("{\"kind\":", f);
	json_str(f, tt_wait_kind_name(w->wait_kind));
	fputs(",\"object\":", f);
	json_hex(f, w->wait_object);
	fputs(",\"owner_id\":", f);
	json_u64_or_null(f, w->wait_owner);
	fputs(",\"owner_name\":", f);
	json_str(f, tt_snapshot_task_name(s->snap, w->wait_owner));
	fputs(",\"since_ns\":", f);
	json_u64_or_null(f, w->wait_since_ns);
	fputs(",\"age_ns\":", f);
	if (w->wait_since_ns && w->wait_since_ns <= s->now_ns)
		fprintf(f, "%" PRIu64, s->now_ns - w->wait_since_ns);
	else
		fputs("null", f);
	fputs(",\"deadline_ns\":", f);
	json_u64_or_null(f, w->wait_kind == TT_WAIT_TIMER ? w->wait_detail : 0);
	fprintf(f, ",\"detail\":%" PRIu64 "}", w->wait_detail);
}

void json_task_fields(FILE *f, const cli_session *s, const tt_stask *t)
{
	const tt_rtask *r = &t->raw;
	tt_fmt_task v;

	tt_snapshot_view(s->snap, t, &v);
	fprintf(f, "\"id\":%" PRIu64 ",\"name\":", r->id);
	json_str(f, r->name);
	fprintf(f, ",\"state\":\"%s\",\"flags\":", tt_state_name(r->state));
	json_flags(f, r->flags);
	fputs(",\"parent_id\":", f);
	json_u64_or_null(f, r->parent_id);
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
	fputs(",\"spawn_site\":", f);
	json_site(f, t->spawn_site);
	fputs(",\"wait\":", f);
	json_wait(f, s, r->state == TT_STATE_IDLE ? v.leaf : NULL);
	fputs(",\"where\":", f);
	if (v.where_func) {
		fputs("{\"function\":", f);
		json_str(f, v.where_func);
		fputs(",\"file\":", f);
		json_str(f, v.where_file);
		fprintf(f, ",\"line\":%" PRIu32 "}", v.where_line);
	} else {
		fputs("null", f);
	}
	fprintf(f, ",\"created_ns\":%" PRIu64 ",\"polls\":%" PRIu64 ",\"busy_ns\":%" PRIu64
		   ",\"wakes\":%" PRIu64 ",\"wakers\":%" PRIu64 ",\"torn\":%s,\"error\":",
		r->created_ns, r->polls, r->busy_ns, r->wakes, r->wakers,
		t->error == TT_R_TORN ? "true" : "false");
	json_str(f, t->error ? tt_fmt_strip_task_prefix(t->errmsg) : NULL);
}

static const char *func_kind_name(uint32_t kind)
{
	switch (kind) {
	case TT_FUNC_KIND_ASYNC:
		return "async";
	case TT_FUNC_KIND_LEAF:
		return "leaf";
	case TT_FUNC_KIND_COMBINATOR:
		return "combinator";
	}
	return "unknown";
}

/* The children of frame I other than the awaited one, each as its own
 * innermost-first path. */
static void json_branches(FILE *f, const cli_session *s, const tt_stask *t,
			  size_t i)
{
	size_t first = view_next_child(t, i, i);
	int n = 0;

	fputs(",\"branches\":[", f);
	for (size_t c = view_next_child(t, i, first); c < t->nframes;
	     c = view_next_child(t, i, c)) {
		if (n++)
			fputc(',', f);
		json_frames(f, s, t, c);
	}
	fputc(']', f);
}

void json_frame(FILE *f, const cli_session *s, const tt_stask *t, size_t i)
{
	const tt_sframe *fr = &t->frames[i];

	fprintf(f, "{\"index\":%zu,\"depth\":%" PRIu32 ",\"function\":", i,
		fr->raw.depth);
	json_str(f, fr->func->name);
	fprintf(f, ",\"kind\":\"%s\",\"site\":", func_kind_name(fr->raw.kind));
	json_site(f, fr->site);
	if (fr->raw.kind == TT_FUNC_KIND_LEAF) {
		fputs(",\"wait\":", f);
		json_wait(f, s, &fr->raw);
	}
	if (fr->raw.kind == TT_FUNC_KIND_COMBINATOR)
		json_branches(f, s, t, i);
	if (fr->raw.kind != TT_FUNC_KIND_LEAF) {
		native_frame nf[16];
		/* The symbolizer is opened lazily: a cache, not a change. */
		int n = native_site_callers((cli_session *)s, fr->site, nf, 16);
		fputs(",\"resume_pc\":", f);
		if (fr->site && fr->site->resume)
			json_hex(f, fr->site->resume);
		else
			fputs("null", f);
		fputs(",\"inline_callers\":[", f);
		for (int k = 0; k < n; k++) {
			if (k)
				fputc(',', f);
			json_sym_frame(f, nf[k].pc, &nf[k].f);
		}
		fputc(']', f);
	}
	fputc('}', f);
}

void json_sym_frame(FILE *f, uint64_t pc, const tt_sym_frame *fr)
{
	fputs("{\"pc\":", f);
	json_hex(f, pc);
	fputs(",\"function\":", f);
	json_str(f, fr->function);
	fputs(",\"file\":", f);
	json_str(f, fr->file);
	fputs(",\"comp_dir\":", f);
	json_str(f, fr->comp_dir);
	fprintf(f, ",\"line\":%" PRIu32 ",\"column\":%" PRIu32 ",\"inlined\":%s,\"module\":",
		fr->line, fr->column, fr->inlined ? "true" : "false");
	json_str(f, fr->module);
	fputs(",\"module_offset\":", f);
	json_hex(f, fr->module_offset);
	fputc('}', f);
}

void json_native(FILE *f, cli_session *s, const tt_stask *t)
{
	static native_frame nf[NATIVE_MAX];
	char err[256];
	int n = native_stack(s, t, nf, NATIVE_MAX, err, sizeof(err));

	fputs(",\"native\":", f);
	if (n < 0) {
		fputs("null,\"native_error\":", f);
		json_str(f, err);
		return;
	}
	fputc('[', f);
	for (int k = 0; k < n; k++) {
		if (k)
			fputc(',', f);
		json_sym_frame(f, nf[k].pc, &nf[k].f);
	}
	fputs("],\"native_error\":null", f);
}

void json_frames(FILE *f, const cli_session *s, const tt_stask *t,
		 size_t from)
{
	size_t *path = malloc((t->nframes ? t->nframes : 1) * sizeof(*path));
	size_t n = path ? view_path(t, from, path, t->nframes) : 0;

	fputc('[', f);
	for (size_t k = n; k-- > 0;) {
		json_frame(f, s, t, path[k]);
		if (k)
			fputc(',', f);
	}
	fputc(']', f);
	free(path);
}

void json_ancestry(FILE *f, const cli_session *s, const tt_stask *t)
{
	const tt_stask *cur = t;
	uint64_t seen[VIEW_MAX_ANCESTRY];
	int n = 0;

	fputc('[', f);
	while (cur && cur->raw.parent_id && n < VIEW_MAX_ANCESTRY) {
		uint64_t pid = cur->raw.parent_id;
		for (int i = 0; i < n; i++)
			if (seen[i] == pid)
				goto out; /* a spawn cycle: only in corrupt memory */
		seen[n] = pid;
		fprintf(f, "%s{\"id\":%" PRIu64 ",\"name\":", n++ ? "," : "", pid);
		json_str(f, tt_snapshot_task_name(s->snap, pid));
		fputs(",\"spawn_site\":", f);
		json_site(f, cur->spawn_site);
		fputc('}', f);
		cur = tt_snapshot_find(s->snap, pid);
	}
out:
	fputc(']', f);
}
