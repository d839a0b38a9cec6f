/* --json output; the schema is documented in docs/cli.md.  The task
 * objects come from the library (tasktrace/read/taskjson.h), shared with gdb's
 * MI commands; this file adds what only the CLI knows: the target, and
 * native frames symbolized with DWARF. */
#include <inttypes.h>
#include <stdlib.h>

#include "cli.h"

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
	static const char *const names[] = {
#define XX(name, value, word) [value] = word,
		TT_WORKER_STATE_MAP(XX)
#undef XX
	};

	return st < sizeof(names) / sizeof(names[0]) && names[st] ? names[st] : "unknown";
}

static void json_workers(FILE *f, const tt_snapshot *snap)
{
	fputs("\"workers\":[", f);
	for (size_t i = 0; i < snap->nworkers; i++) {
		const tt_rworker *w = &snap->workers[i];
		fprintf(f, "%s{\"index\":%" PRIu32 ",\"tid\":%" PRIu64 ",\"state\":\"%s\",\"task_id\":",
			i ? "," : "", w->index, w->tid, worker_state_name(w->state));
		tt_json_u64_or_null(f, w->task_id);
		fputs(",\"runtime_id\":", f);
		tt_json_u64_or_null(f, w->runtime_id);
		fputs(",\"inherited_from_pid\":", f);
		tt_json_u64_or_null(f, tt_runtimes_inherited(&snap->runtimes, w->runtime_id));
		fputc('}', f);
	}
	fputc(']', f);
}

void json_doc_begin(FILE *f, const cli_session *s, const char *command)
{
	const tt_snapshot *snap = s->snap;

	fprintf(f, "{\"tasktrace_json\":1,\"command\":\"%s\",\"pid\":%d,\"core\":", command,
		(int)s->target.pid);
	tt_json_str(f, s->core);
	fprintf(f, ",\"stopped\":%s,", s->stopped ? "true" : "false");
	fputs("\"registry\":{\"address\":", f);
	tt_json_hex(f, s->target.root.addr);
	fputs(",\"module\":", f);
	tt_json_str(f, s->target.root.module);
	fprintf(f, ",\"found_by\":\"%s\",\"abi_version\":%" PRIu32 ",\"pointer_size\":%" PRIu32 ",\"runtime\":",
		via_name(s->target.root.via), snap->abi_version, snap->pointer_size);
	tt_json_str(f, snap->runtime_name);
	fprintf(f, "},\"now_ns\":%" PRIu64 ",\"registry_now_ns\":%" PRIu64
		   ",\"start_real_ns\":%" PRIu64 ",\"tasks_live\":%" PRIu64 ",\"errors\":%zu,",
		s->now_ns, snap->now_ns, snap->start_real_ns, snap->tasks_live,
		snap->nerrors);
	json_workers(f, snap);
	fputs(",\"warnings\":[", f);
	for (int i = 0; i < s->nwarnings; i++) {
		if (i)
			fputc(',', f);
		tt_json_str(f, s->warnings[i]);
	}
	fputs("],\"tasks\":[", f);
}

void json_doc_end(FILE *f)
{
	fputs("]}\n", f);
}

void json_task_fields(FILE *f, const cli_session *s, const tt_stask *t)
{
	tt_json_task_fields(f, s->snap, s->now_ns, t);
}

void json_sym_frame(FILE *f, uint64_t pc, const tt_sym_frame *fr)
{
	fputs("{\"pc\":", f);
	tt_json_hex(f, pc);
	fputs(",\"function\":", f);
	tt_json_str(f, fr->function);
	fputs(",\"file\":", f);
	tt_json_str(f, fr->file);
	fputs(",\"comp_dir\":", f);
	tt_json_str(f, fr->comp_dir);
	fprintf(f, ",\"line\":%" PRIu32 ",\"column\":%" PRIu32 ",\"inlined\":%s,\"module\":",
		fr->line, fr->column, fr->inlined ? "true" : "false");
	tt_json_str(f, fr->module);
	fputs(",\"module_offset\":", f);
	tt_json_hex(f, fr->module_offset);
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
		tt_json_str(f, err);
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

/* After an async frame's fields: the callers its poll function was
 * inlined into, from DWARF. */
static void inline_callers(FILE *f, const tt_stask *t, size_t i, void *ctx)
{
	native_frame nf[16];
	/* The symbolizer is opened lazily: a cache, not a change. */
	int n = native_site_callers(ctx, t->frames[i].site, nf, 16);

	fputs(",\"inline_callers\":[", f);
	for (int k = 0; k < n; k++) {
		if (k)
			fputc(',', f);
		json_sym_frame(f, nf[k].pc, &nf[k].f);
	}
	fputc(']', f);
}

void json_frames(FILE *f, cli_session *s, const tt_stask *t)
{
	tt_json_frames(f, s->snap, s->now_ns, t, 0, inline_callers, s);
}
