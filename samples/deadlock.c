/* deadlock: a wait-for cycle through a join and a mutex.
 *
 *   transfer   locks `ledger`, spawns audit and joins it
 *   audit      waits to lock `ledger`, held by transfer
 *
 * transfer waits for audit (join), audit waits for transfer (mutex).
 * Prints "deadlock: pid P registry A ready" and stays alive. */
#include <stdio.h>
#include <unistd.h>

#include "tasktrace/tasktrace.h"

#include "sample.h"

static tt_mutex ledger;

typedef struct audit {
	tt_frame frame;
	tt_lock lk;
} audit;
static tt_poll audit_poll(audit *self, tt_cx *cx);
TT_ASYNC_FN(audit, audit_poll, NULL);
static void audit_init(audit *a) { tt_frame_init(&a->frame, &audit_fn); }

static tt_poll audit_poll(audit *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->lk, tt_lock_init(&self->lk, &ledger)); /* @await:audit-lock */
	tt_mutex_unlock(&ledger);
	TT_RETURN(self, 0);
}

typedef struct transfer {
	tt_frame frame;
	tt_lock lk;
	tt_join join;
} transfer;
static tt_poll transfer_poll(transfer *self, tt_cx *cx);
TT_ASYNC_FN(transfer, transfer_poll, NULL);
static void transfer_init(transfer *t) { tt_frame_init(&t->frame, &transfer_fn); }

static tt_poll transfer_poll(transfer *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->lk, tt_lock_init(&self->lk, &ledger));
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, TT_SPAWN(NULL, "audit", audit, audit_init))); /* @await:transfer-join */
	tt_mutex_unlock(&ledger);
	TT_RETURN(self, 0);
}

static void spawn_tasks(void)
{
	tt_task_detach(TT_SPAWN(NULL, "transfer", transfer, transfer_init));
}

int main(void)
{
	tt_mutex_init(&ledger);
	return sample_main("deadlock", spawn_tasks);
}
