/* "The same await chain", as `ps --group` groups tasks (tasklist.c) and
 * the diagnosis groups identical findings: the same frames, each at the
 * same await site (or of the same function where it is at none). */
#ifndef TASKTRACE_CHAIN_H
#define TASKTRACE_CHAIN_H

#include <stdint.h>

#include "tasktrace/read/reader.h"

uint64_t tt_chain_hash(const tt_stask *t);
/* <0, 0, >0: an order in which equal chains are adjacent. */
int tt_chain_cmp(const tt_stask *a, const tt_stask *b);

#endif
