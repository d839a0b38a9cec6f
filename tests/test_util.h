/* Helpers shared by the runtime's check tests (executor, cancel, timer). */
#ifndef TT_TEST_UTIL_H
#define TT_TEST_UTIL_H

#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tasktrace/tasktrace.h"

/* TT_TEST_SCALE divides the heavy loop counts (sanitizer builds are slow). */
static inline int tt_test_scaled(int n)
{
	const char *s = getenv("TT_TEST_SCALE");
	long d = s ? strtol(s, NULL, 10) : 1;
	if (d < 1)
		d = 1;
	return n / d > 0 ? (int)(n / d) : 1;
}

static inline pid_t tt_test_gettid(void) { return (pid_t)syscall(SYS_gettid); }

/* Built with ASan: the runtime's frame cache is off (frame.c). */
#if defined(__SANITIZE_ADDRESS__)
#define TT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TT_TEST_ASAN 1
#endif
#endif
#ifndef TT_TEST_ASAN
#define TT_TEST_ASAN 0
#endif

/* Burn CPU without sleeping, so the worker stays busy. */
static inline void tt_test_spin_ns(uint64_t ns)
{
	uint64_t end = tt_now_ns() + ns;
	while (tt_now_ns() < end)
		;
}

static inline void tt_test_sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static inline tt_runtime *tt_test_runtime(int workers)
{
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = workers});
	ck_assert_ptr_nonnull(rt);
	ck_assert_int_eq(tt_runtime_workers(rt), workers);
	return rt;
}

/* Registry fields a reader would see, located through the published layout
 * table exactly as an out-of-process reader does. */
static inline const tt_layout_entry *tt_test_layout(uint16_t record, uint16_t field)
{
	const char *root = (const char *)tt_registry_root();
	const tt_registry_header *h = (const tt_registry_header *)root;
	const tt_layout_entry *e = (const tt_layout_entry *)(root + h->layout_offset);
	for (unsigned i = 0; i < h->layout_count; i++)
		if (e[i].record == record && e[i].field == field)
			return &e[i];
	ck_abort_msg("layout entry %u/%u missing", record, field);
	return NULL;
}

static inline uint64_t tt_test_read_field(const void *base, uint16_t record, uint16_t field)
{
	const tt_layout_entry *e = tt_test_layout(record, field);
	const char *p = (const char *)base + e->offset;
	switch (e->size) {
	case 4: return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
	case 8: return __atomic_load_n((const uint64_t *)p, __ATOMIC_ACQUIRE);
	default: ck_abort_msg("unexpected field size %u", e->size);
	}
	return 0;
}

/* A task handle names its registry slot. */
static inline uint64_t tt_test_task_field(tt_handle t, uint16_t field)
{
	return tt_test_read_field(t.task, TT_REC_TASK, field);
}

/* Tasks holding a registry slot: back to its old value once every task
 * ended and every handle, waker and queue entry let go. */
static inline uint64_t tt_test_tasks_live(void)
{
	return tt_test_read_field(tt_registry_root(), TT_REC_ROOT, TT_ROOT_TASKS_LIVE);
}

#ifdef TT_TEST_WANT_GATED
/* A future that waits for one notification on GATE, returns 7, and counts
 * its cleanup in *DROPS (if given) when cancelled while waiting. */
typedef struct gated {
	tt_frame frame;
	tt_notify *gate;
	_Atomic int *drops;
	tt_notified w;
} gated;
static tt_poll gated_poll(gated *self, tt_cx *cx);
static void gated_drop(gated *self)
{
	if (self->drops)
		atomic_fetch_add(self->drops, 1);
}
TT_ASYNC_FN(gated, gated_poll, gated_drop);
static inline void gated_init(gated *g, tt_notify *gate, _Atomic int *drops)
{
	tt_frame_init(&g->frame, &gated_fn);
	g->gate = gate;
	g->drops = drops;
}
static tt_poll gated_poll(gated *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, self->gate));
	TT_RETURN(self, 7);
}
#endif

#define TT_TEST_MAIN(SUITE)                                               \
	int main(void)                                                           \
	{                                                                        \
		SRunner *sr = srunner_create(SUITE());                                 \
		srunner_run_all(sr, CK_ENV);                                           \
		int failed = srunner_ntests_failed(sr);                                \
		srunner_free(sr);                                                      \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;                           \
	}

#endif
