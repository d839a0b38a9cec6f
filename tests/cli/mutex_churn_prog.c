/* mutex_churn_prog: 40 tasks taking and releasing one mutex in a loop,
 * and 20 tasks each spawning, over and over, a short task that takes it
 * once; 12 tasks taking and releasing permits of a 3-permit semaphore,
 * and 8 respawners of short tasks taking one; 4 declared senders and 4
 * declared receivers of a 2-slot channel; the holder of a permit joining a
 * task that wants another (of 2) while a third takes one in a loop; and 3
 * ping-pong pairs, each
 * waiting to receive what only the other sends (the shape of a channel
 * deadlock, but always with a ball in play).  Nothing here is stuck, so any "never resolved",
 * deadlock or lost waker finding about it is a wrong answer: the owners a waiter names change and
 * finish all the time, which is what tempts a reader that does not stop the process into joining
 * moments that never coexisted. */
#include <stdio.h>
#include <stdlib.h>

#include "tasktrace/tasktrace.h"

#include "../../samples/sample.h"

static tt_mutex shared;

typedef struct take_once {
	tt_frame frame;
	tt_lock lock;
} take_once;
static tt_poll take_once_poll(take_once *self, tt_cx *cx);
TT_ASYNC_FN(take_once, take_once_poll, NULL);

static tt_poll take_once_poll(take_once *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->lock, tt_lock_init(&self->lock, &shared));
	TT_YIELD(self, cx);
	tt_mutex_unlock(&shared);
	TT_RETURN(self, 0);
}

static void take_once_init(take_once *t) { tt_frame_init(&t->frame, &take_once_fn); }

typedef struct locker {
	tt_frame frame;
	tt_lock lock;
} locker;
static tt_poll locker_poll(locker *self, tt_cx *cx);
TT_ASYNC_FN(locker, locker_poll, NULL);

static tt_poll locker_poll(locker *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		TT_AWAIT(self, cx, &self->lock, tt_lock_init(&self->lock, &shared));
		TT_YIELD(self, cx);
		tt_mutex_unlock(&shared);
		TT_YIELD(self, cx);
	}
}

static void locker_init(locker *l) { tt_frame_init(&l->frame, &locker_fn); }

typedef struct respawner {
	tt_frame frame;
	tt_join join;
} respawner;
static tt_poll respawner_poll(respawner *self, tt_cx *cx);
TT_ASYNC_FN(respawner, respawner_poll, NULL);

static tt_poll respawner_poll(respawner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		tt_handle t = TT_SPAWN(NULL, "take-once", take_once, take_once_init);
		if (!t.task) {
			perror("spawn");
			exit(1);
		}
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, t));
	}
}

static void respawner_init(respawner *r) { tt_frame_init(&r->frame, &respawner_fn); }

/* ---- semaphore ---- */

static tt_semaphore permits;

typedef struct permit_user {
	tt_frame frame;
	tt_acquire acq;
	int once;
} permit_user;
static tt_poll permit_user_poll(permit_user *self, tt_cx *cx);
TT_ASYNC_FN(permit_user, permit_user_poll, NULL);

static tt_poll permit_user_poll(permit_user *self, tt_cx *cx)
{
	TT_BEGIN(self);
	do {
		TT_AWAIT(self, cx, &self->acq, tt_acquire_init(&self->acq, &permits, 1));
		TT_YIELD(self, cx);
		tt_semaphore_release(&permits, 1);
		TT_YIELD(self, cx);
	} while (!self->once);
	TT_RETURN(self, 0);
}

static void permit_user_init(permit_user *p, int once)
{
	tt_frame_init(&p->frame, &permit_user_fn);
	p->once = once;
}

typedef struct permit_respawner {
	tt_frame frame;
	tt_join join;
} permit_respawner;
static tt_poll permit_respawner_poll(permit_respawner *self, tt_cx *cx);
TT_ASYNC_FN(permit_respawner, permit_respawner_poll, NULL);

static tt_poll permit_respawner_poll(permit_respawner *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		tt_handle t = TT_SPAWN(NULL, "permit-once", permit_user, permit_user_init, 1);
		if (!t.task) {
			perror("spawn");
			exit(1);
		}
		TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, t));
	}
}

static void permit_respawner_init(permit_respawner *r)
{
	tt_frame_init(&r->frame, &permit_respawner_fn);
}

/* The shape of a semaphore deadlock, healthy: the holder of one of the 2
 * permits of `pair_sem` joins a task that wants the other, while a third
 * takes and gives it back in a loop. */
static tt_semaphore pair_sem;

typedef struct pair_holder {
	tt_frame frame;
	tt_acquire acq;
	tt_join join;
} pair_holder;
static tt_poll pair_holder_poll(pair_holder *self, tt_cx *cx);
TT_ASYNC_FN(pair_holder, pair_holder_poll, NULL);
static void pair_holder_init(pair_holder *p)
{
	tt_frame_init(&p->frame, &pair_holder_fn);
}

typedef struct pair_want {
	tt_frame frame;
	tt_acquire acq;
} pair_want;
static tt_poll pair_want_poll(pair_want *self, tt_cx *cx);
TT_ASYNC_FN(pair_want, pair_want_poll, NULL);
static void pair_want_init(pair_want *p)
{
	tt_frame_init(&p->frame, &pair_want_fn);
}

static tt_poll pair_want_poll(pair_want *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->acq, tt_acquire_init(&self->acq, &pair_sem, 1));
	tt_semaphore_release(&pair_sem, 1);
	TT_RETURN(self, 0);
}

static tt_poll pair_holder_poll(pair_holder *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		TT_AWAIT(self, cx, &self->acq, tt_acquire_init(&self->acq, &pair_sem, 1));
		TT_AWAIT(self, cx, &self->join,
			 tt_join_init(&self->join,
				      TT_SPAWN(NULL, "pair-want", pair_want, pair_want_init)));
		tt_semaphore_release(&pair_sem, 1);
	}
}

typedef struct pair_churn {
	tt_frame frame;
	tt_acquire acq;
} pair_churn;
static tt_poll pair_churn_poll(pair_churn *self, tt_cx *cx);
TT_ASYNC_FN(pair_churn, pair_churn_poll, NULL);
static void pair_churn_init(pair_churn *p)
{
	tt_frame_init(&p->frame, &pair_churn_fn);
}

static tt_poll pair_churn_poll(pair_churn *self, tt_cx *cx)
{
	TT_BEGIN(self);
	for (;;) {
		TT_AWAIT(self, cx, &self->acq, tt_acquire_init(&self->acq, &pair_sem, 1));
		TT_YIELD(self, cx);
		tt_semaphore_release(&pair_sem, 1);
		TT_YIELD(self, cx);
	}
}

/* ---- channels ---- */

static tt_chan *pipe_;

typedef struct pipe_end {
	tt_frame frame;
	int sending;
	long v;
	tt_chan_op op;
} pipe_end;
static tt_poll pipe_end_poll(pipe_end *self, tt_cx *cx);
TT_ASYNC_FN(pipe_end, pipe_end_poll, NULL);

static tt_poll pipe_end_poll(pipe_end *self, tt_cx *cx)
{
	TT_BEGIN(self);
	if (self->sending)
		tt_chan_bind_sender(pipe_);
	else
		tt_chan_bind_receiver(pipe_);
	for (;;) {
		if (self->sending)
			TT_AWAIT(self, cx, &self->op, tt_send_init(&self->op, pipe_, &self->v));
		else
			TT_AWAIT(self, cx, &self->op, tt_recv_init(&self->op, pipe_, &self->v));
		self->v++;
	}
}

static void pipe_end_init(pipe_end *e, int sending)
{
	tt_frame_init(&e->frame, &pipe_end_fn);
	e->sending = sending;
	e->v = 0;
}

typedef struct player {
	tt_frame frame;
	tt_chan *in, *out;
	int serve;
	long v;
	tt_chan_op op;
} player;
static tt_poll player_poll(player *self, tt_cx *cx);
TT_ASYNC_FN(player, player_poll, NULL);

/* Receives the ball from the other and sends it back; the server puts
 * the first ball in play. */
static tt_poll player_poll(player *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_chan_bind_receiver(self->in);
	tt_chan_bind_sender(self->out);
	if (self->serve)
		TT_AWAIT(self, cx, &self->op, tt_send_init(&self->op, self->out, &self->v));
	for (;;) {
		TT_AWAIT(self, cx, &self->op, tt_recv_init(&self->op, self->in, &self->v));
		self->v++;
		TT_AWAIT(self, cx, &self->op, tt_send_init(&self->op, self->out, &self->v));
	}
}

static void player_init(player *p, tt_chan *in, tt_chan *out, int serve)
{
	tt_frame_init(&p->frame, &player_fn);
	p->in = in;
	p->out = out;
	p->serve = serve;
	p->v = 0;
}

static void spawn_all(void)
{
	for (int i = 0; i < 12; i++)
		tt_task_detach(TT_SPAWN(NULL, "permit-user", permit_user, permit_user_init, 0));
	for (int i = 0; i < 8; i++)
		tt_task_detach(
		    TT_SPAWN(NULL, "permit-respawner", permit_respawner, permit_respawner_init));
	tt_task_detach(TT_SPAWN(NULL, "pair-holder", pair_holder, pair_holder_init));
	tt_task_detach(TT_SPAWN(NULL, "pair-churn", pair_churn, pair_churn_init));
	for (int i = 0; i < 8; i++)
		tt_task_detach(
		    TT_SPAWN(NULL, i < 4 ? "sender" : "receiver", pipe_end, pipe_end_init, i < 4));
	for (int i = 0; i < 3; i++) {
		tt_chan *a = tt_chan_new(sizeof(long), 1), *b = tt_chan_new(sizeof(long), 1);
		if (!a || !b) {
			perror("tt_chan_new");
			exit(1);
		}
		tt_task_detach(TT_SPAWN(NULL, "ping", player, player_init, a, b, 1));
		tt_task_detach(TT_SPAWN(NULL, "pong", player, player_init, b, a, 0));
	}
	for (int i = 0; i < 40; i++)
		tt_task_detach(TT_SPAWN(NULL, "locker", locker, locker_init));
	for (int i = 0; i < 20; i++)
		tt_task_detach(TT_SPAWN(NULL, "respawner", respawner, respawner_init));
}

int main(void)
{
	tt_mutex_init(&shared);
	tt_semaphore_init(&permits, 3);
	tt_semaphore_init(&pair_sem, 2);
	pipe_ = tt_chan_new(sizeof(long), 2);
	if (!pipe_) {
		perror("tt_chan_new");
		return 1;
	}
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
	if (!rt) {
		perror("tt_runtime_new");
		return 1;
	}
	sample_root root = {.name = "mutex_churn_prog", .spawn = spawn_all};
	tt_frame_init(&root.frame, &sample_root_fn);
	tt_block_on(rt, &root.frame);
	return 0;
}
