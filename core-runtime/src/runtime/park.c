/* A futex parker: one bit of "you have been unparked" per worker, so an
 * unpark that races ahead of the park is never lost. */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/internal.h"

enum { PARKED = -1, EMPTY = 0, NOTIFIED = 1 };

void tt_futex_wait(_Atomic int32_t *addr, int32_t val)
{
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

void tt_futex_wake(_Atomic int32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void tt_parker_park(tt_parker *p)
{
	/* EMPTY -> PARKED, or NOTIFIED -> EMPTY and return at once. */
	if (atomic_fetch_sub_explicit(&p->state, 1, ACQUIRE) == NOTIFIED)
		return;
	for (;;) {
		tt_futex_wait(&p->state, PARKED);
		int32_t expect = NOTIFIED;
		if (atomic_compare_exchange_strong_explicit(&p->state, &expect, EMPTY,
							    ACQUIRE, ACQUIRE))
			return;
	}
}

void tt_parker_unpark(tt_parker *p)
{
	if (atomic_exchange_explicit(&p->state, NOTIFIED, SEQ_CST) == PARKED)
		tt_futex_wake(&p->state);
}

int tt_parker_take(tt_parker *p)
{
	int32_t expect = NOTIFIED;
	return atomic_compare_exchange_strong_explicit(&p->state, &expect, EMPTY,
						       SEQ_CST, SEQ_CST);
}
