/* Timers: sleep, a timeout around any future, and intervals.  Deadlines
 * are CLOCK_MONOTONIC nanoseconds (tt_now_ns). */
#ifndef TASKTRACE_TIMER_H
#define TASKTRACE_TIMER_H

#include "tasktrace/api.h"

#include <stdint.h>

#include "tasktrace/future.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TT_NS(n) ((uint64_t)(n))
#define TT_US(n) ((uint64_t)(n) * 1000ull)
#define TT_MS(n) ((uint64_t)(n) * 1000000ull)
#define TT_SEC(n) ((uint64_t)(n) * 1000000000ull)

/* Runtime-private bookkeeping of a registered timer. */
typedef struct tt_timer_node {
	uint64_t deadline;
	uint64_t seq;  /* FIFO among equal deadlines */
	uint32_t slot; /* index in the timer heap + 1; 0 when not registered */
	uint32_t reserved;
	tt_waker waker;
	void *driver;
} tt_timer_node;

typedef struct tt_sleep {
	tt_leaf leaf;
	tt_timer_node node;
} tt_sleep;
TT_API extern const tt_func tt_sleep_fn;
/* Ready after DURATION ns. */
TT_API void tt_sleep_init(tt_sleep *s, uint64_t duration);
/* Ready at the absolute DEADLINE. */
TT_API void tt_sleep_until_init(tt_sleep *s, uint64_t deadline);

/* Await INNER (already initialised, stored by the caller) for at most
 * DURATION ns.  Result: the inner result, or TT_ETIMEDOUT after the inner
 * future has been cancelled with its cleanups run. */
typedef struct tt_timeout {
	tt_frame frame;
	tt_frame *inner;
	tt_sleep timer;
	uint64_t duration;
} tt_timeout;
TT_API extern const tt_func tt_timeout_fn;
TT_API void tt_timeout_init(tt_timeout *t, tt_frame *inner, uint64_t duration);

/* Ticks every PERIOD ns; await tt_interval_tick() each time.  Missed ticks
 * are skipped (the next deadline stays on the period grid). */
typedef struct tt_interval {
	uint64_t period;
	uint64_t next;
} tt_interval;
TT_API void tt_interval_init(tt_interval *iv, uint64_t period);
/* Initialise S as the sleep until the interval's next tick. */
TT_API void tt_interval_tick(tt_interval *iv, tt_sleep *s);

#ifdef __cplusplus
}
#endif
#endif
