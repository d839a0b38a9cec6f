/* What front ends without the C headers need (gdb's Python through
 * ctypes, the docs test): the enum tables as data, generated from the
 * X-macros (tt_enum_rows), and the sizes of the structs they mirror
 * (tt_snapshot_struct_sizes).  It sits with the diagnosis, the top of the
 * reader library, because that layer sees every table and every struct. */
#include <stddef.h>

#include "tasktrace/read/bt.h"
#include "tasktrace/read/diagnose.h"
#include "tasktrace/read/tasklist.h"

#define N_(a) (sizeof(a) / sizeof((a)[0]))
#define ROW(name, value, word, ...) {value, #name, word},

static const tt_enum_row states[] = {TT_TASK_STATE_MAP(ROW)};
static const tt_enum_row flags[] = {TT_TASK_FLAG_MAP(ROW)};
static const tt_enum_row waits[] = {TT_WAIT_KIND_MAP(ROW)};
static const tt_enum_row funcs[] = {TT_FUNC_KIND_MAP(ROW)};
static const tt_enum_row workers[] = {TT_WORKER_STATE_MAP(ROW)};
static const tt_enum_row findings[] = {TT_DIAG_KIND_MAP(ROW)};

static const struct {
	const tt_enum_row *rows;
	size_t n;
} tables[TT_ENUM_MAX_] = {
    [TT_ENUM_TASK_STATE] = {states, N_(states)},     [TT_ENUM_TASK_FLAG] = {flags, N_(flags)},
    [TT_ENUM_WAIT_KIND] = {waits, N_(waits)},	     [TT_ENUM_FUNC_KIND] = {funcs, N_(funcs)},
    [TT_ENUM_WORKER_STATE] = {workers, N_(workers)}, [TT_ENUM_DIAG_KIND] = {findings, N_(findings)},
};

/* Arrays indexed by value (the name functions) need dense values. */
_Static_assert(N_(waits) == TT_WAIT_KIND_MAX_, "wait kinds are 0..TT_WAIT_KIND_MAX_-1");
_Static_assert(N_(findings) + 1 == TT_DIAG_KIND_MAX_, "finding kinds are 1..TT_DIAG_KIND_MAX_-1");

const tt_enum_row *tt_enum_rows(int e, size_t *n)
{
	if (e < 0 || e >= TT_ENUM_MAX_) {
		*n = 0;
		return NULL;
	}
	*n = tables[e].n;
	return tables[e].rows;
}

const char *tt_enum_word(int e, uint32_t value)
{
	size_t n;
	const tt_enum_row *r = tt_enum_rows(e, &n);

	for (size_t i = 0; i < n; i++)
		if (r[i].value == value)
			return r[i].word;
	return NULL;
}

void tt_snapshot_struct_sizes(size_t out[TT_BINDING_STRUCTS])
{
	static const size_t sizes[TT_BINDING_STRUCTS] = {
	    sizeof(tt_snapshot),      sizeof(tt_stask),	       sizeof(tt_sframe),
	    sizeof(tt_ssite),	      sizeof(tt_sfunc),	       sizeof(tt_rworker),
	    sizeof(tt_list_opts),     sizeof(tt_diag_opts),    sizeof(tt_rpath_ends),
	    sizeof(tt_root_pick_out), sizeof(tt_diag_finding), sizeof(tt_diag_report),
	    sizeof(tt_enum_row),      sizeof(tt_bt_native),    sizeof(tt_bt_hooks),
	    sizeof(tt_syscall),
	};
	for (size_t i = 0; i < TT_BINDING_STRUCTS; i++)
		out[i] = sizes[i];
}
