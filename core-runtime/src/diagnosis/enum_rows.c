/* tt_enum_rows (diagnose.h): the enum tables as data, generated from the
 * X-macros, for gdb's Python and the docs test.  It sits with the
 * diagnosis because that layer sees every table: the ABI's and the
 * findings'. */
#include <stddef.h>

#include "tasktrace/read/diagnose.h"

#define N_(a) (sizeof(a) / sizeof((a)[0]))
#define ROW(name, value, word, ...) { value, #name, word },

static const tt_enum_row states[] = { TT_TASK_STATE_MAP(ROW) };
static const tt_enum_row flags[] = { TT_TASK_FLAG_MAP(ROW) };
static const tt_enum_row waits[] = { TT_WAIT_KIND_MAP(ROW) };
static const tt_enum_row funcs[] = { TT_FUNC_KIND_MAP(ROW) };
static const tt_enum_row workers[] = { TT_WORKER_STATE_MAP(ROW) };
static const tt_enum_row findings[] = { TT_DIAG_KIND_MAP(ROW) };

static const struct {
	const tt_enum_row *rows;
	size_t n;
} tables[TT_ENUM_MAX_] = {
	[TT_ENUM_TASK_STATE] = { states, N_(states) },
	[TT_ENUM_TASK_FLAG] = { flags, N_(flags) },
	[TT_ENUM_WAIT_KIND] = { waits, N_(waits) },
	[TT_ENUM_FUNC_KIND] = { funcs, N_(funcs) },
	[TT_ENUM_WORKER_STATE] = { workers, N_(workers) },
	[TT_ENUM_DIAG_KIND] = { findings, N_(findings) },
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
