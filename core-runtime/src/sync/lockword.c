/* The lock word's contended path (internal.h has the uncontended one).
 *
 * The sync primitives hold their lock for a few dozen instructions (queue
 * and ring updates; wakes happen after it is released), so a waiter on
 * another core usually gets it by spinning for well under a microsecond.
 * A futex sleep is the fallback when the holder was preempted.  The states
 * are Drepper's ("Futexes are tricky", mutex #3): 0 free, 1 held, 2 held
 * and someone may sleep on it -- the unlocker makes the futex_wake call
 * only in state 2. */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/internal.h"

enum { SPINS = 100 };

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

void tt_lockword_lock_slow(tt_lockword *l)
{
	for (int i = 0; i < SPINS; i++) {
		cpu_relax();
		uint32_t s = __atomic_load_n(&l->state, __ATOMIC_RELAXED);
		if (s == 0 && __atomic_compare_exchange_n(&l->state, &s, 1, 0, __ATOMIC_ACQUIRE,
							  __ATOMIC_RELAXED))
			return;
		if (s == 2)
			break; /* others already sleep: join them */
	}
	/* Taking it in state 2 is conservative: we cannot know whether others
	 * still sleep, so our unlock will wake one (at worst a spurious wake). */
	while (__atomic_exchange_n(&l->state, 2, __ATOMIC_ACQUIRE) != 0)
		syscall(SYS_futex, &l->state, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

void tt_lockword_wake(tt_lockword *l)
{
	syscall(SYS_futex, &l->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
