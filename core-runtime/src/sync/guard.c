/* Lock guards (tt_lock_guard_init, tt_read_guard_init, ...): a held guard
 * is on its task's list (tt_task.guards) and its holder frame carries
 * TT_FRAME_GUARDS, so the frame's end -- TT_RETURN, tt_frame_cancel --
 * or the task's releases it.  Only the thread polling the task touches
 * the list: plain loads and stores, no locked instruction. */
#include "runtime/internal.h"

static int release(tt_guard *g, uint64_t me)
{
	switch (g->kind) {
	case TT_GUARD_MUTEX:
		return tt__mutex_guard_release(tt_container_of(g, tt_lock, g), me);
	default:
		return tt__rwlock_guard_release(tt_container_of(g, tt_rwlock_op, g), me);
	}
}

void tt_guards_release(tt_task *t, tt_frame *f)
{
	uint64_t me = tt_task_id_of(t);
	for (tt_guard **p = &t->guards; *p;) {
		tt_guard *g = *p;
		if (f && g->holder != f) {
			p = &g->next;
			continue;
		}
		*p = g->next;
		g->next = NULL;
		g->held = 0;
		release(g, me);
	}
}

void tt_frame_release_guards(tt_frame *f)
{
	f->state &= ~(uint32_t)TT_FRAME_GUARDS;
	if (tt__tls_task)
		tt_guards_release(tt__tls_task, f);
}

int tt_guard_disarm_slow(tt_guard *g, uint64_t *me)
{
	if (!g->holder)
		return -EINVAL;
	if (!g->held)
		return -EALREADY;
	tt_task *t = tt__tls_task;
	if (!t)
		return -EPERM;
	for (tt_guard **p = &t->guards; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			g->next = NULL;
			g->held = 0;
			*me = tt_task_id_of(t);
			return 0;
		}
	return -EPERM; /* held by another task's frame */
}
