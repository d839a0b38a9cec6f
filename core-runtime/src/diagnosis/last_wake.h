/* Internal to the diagnosis: a task's last poll and last wake from the
 * flight recorder (last_wake.c). */
#ifndef TT_DIAGNOSIS_LAST_WAKE_H
#define TT_DIAGNOSIS_LAST_WAKE_H

#include <stdint.h>

#include "tasktrace/read/format.h"
#include "tasktrace/read/reader.h"

typedef struct tt_last_wake {
	uint64_t id;
	tt_revent poll, wake; /* kind 0: none in the rings */
	size_t finding;	      /* the caller's */
} tt_last_wake;

typedef struct tt_last_wakes_info {
	uint64_t complete_since; /* every ring holds all it recorded from here on (0: all) */
	int partial;		 /* events skipped (torn) or a ring unreadable */
} tt_last_wakes_info;

/* Fill the poll and wake of each of W[0..N) (sorted by id here) in one
 * pass over R's rings.  tt_flight_read's return. */
int64_t tt__last_wakes(tt_reader *r, tt_last_wake *w, size_t n, tt_last_wakes_info *info);

/* "  last poll 2s ago: polled on worker 0, suspended at f.c:9 (leaf);
 * never woken since" -- W's line, names from S, ages against NOW. */
void tt__last_wake_words(tt_fbuf *b, tt_reader *r, tt_rsym_cache *sites, const tt_snapshot *s,
			 const tt_last_wake *w, const tt_last_wakes_info *info, uint64_t now);

#endif
