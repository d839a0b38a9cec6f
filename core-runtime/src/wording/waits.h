/* The wait kinds' columns as one array (TT_WAIT_KIND_MAP in
 * tasktrace/abi/registry.h, where each column is described): the wording
 * and the diagnosis read a kind's row here instead of switching over the
 * kinds. */
#ifndef TASKTRACE_WAITS_H
#define TASKTRACE_WAITS_H

#include <stdint.h>

#include "tasktrace/abi/registry.h"

enum tt_wait_shape {
	TT_WS_NONE,
	TT_WS_DEADLINE,
	TT_WS_FD,
	TT_WS_JOIN,
	TT_WS_OBJECT,
	TT_WS_CALL,
};

/* The edge column: which tasks can end a wait of the kind. */
enum tt_wait_edge {
	TT_WE_NONE = 0,
	TT_WE_OWNER = 1,   /* the wait's OWNER */
	TT_WE_HOLDERS = 2, /* any task of its HOLDERS record */
};

typedef struct tt_wait_row {
	const char *word;
	const char *link;
	uint8_t shape; /* tt_wait_shape */
	uint8_t edge;  /* tt_wait_edge */
	uint8_t handoff;
	const char *idle_advice;
	const char *orphan;
	const char *orphan_advice;
	const char *cycle_advice;
} tt_wait_row;

/* The row of KIND; a kind with no row reads as an object wait named "?". */
const tt_wait_row *tt_fmt_wait_row(uint32_t kind);

#endif
