/* deadlock: a wait-for cycle through a join and a mutex (other modes below).
 *
 *   transfer   locks `ledger`, spawns audit and joins it
 *   audit      waits to lock `ledger`, held by transfer
 * transfer waits for audit (join), audit waits for transfer (mutex).
 * Prints "deadlock: pid P registry A ready" and stays alive. */
#include <stdio.h>
#include <string.h>
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

/* ---- deadlock sem: through a semaphore and a channel ----
 *
 *   producer   takes the only permit of `quota`, fills `pipe` (capacity
 *              1), spawns consumer and waits to send a second element
 *   consumer   the declared receiver of `pipe`: spawns checker, joins it
 *              before it drains anything
 *   checker    waits for a permit of `quota`, held by producer
 *
 * `deadlock chan`: ping and pong each wait to receive on the channel only
 * the other sends (both declared).  `deadlock asleep`: the root waits on a
 * join of reader, which waits on a channel whose only declared sender
 * returned without sending or closing: all tasks are asleep. */

static tt_semaphore quota;
static tt_chan *pipe_, *ping_ch, *pong_ch;

typedef struct checker {
	tt_frame frame;
	tt_acquire acq;
} checker;
static tt_poll checker_poll(checker *self, tt_cx *cx);
TT_ASYNC_FN(checker, checker_poll, NULL);
static void checker_init(checker *c) { tt_frame_init(&c->frame, &checker_fn); }

static tt_poll checker_poll(checker *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->acq, tt_acquire_init(&self->acq, &quota, 1)); /* @await:checker-acquire */
	tt_semaphore_release(&quota, 1);
	TT_RETURN(self, 0);
}

typedef struct consumer {
	tt_frame frame;
	tt_join join;
	tt_recv rx;
	long v;
} consumer;
static tt_poll consumer_poll(consumer *self, tt_cx *cx);
TT_ASYNC_FN(consumer, consumer_poll, NULL);
static void consumer_init(consumer *c) { tt_frame_init(&c->frame, &consumer_fn); }

static tt_poll consumer_poll(consumer *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_chan_bind_receiver(pipe_);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, TT_SPAWN(NULL, "checker", checker, checker_init))); /* @await:consumer-join */
	for (;;)
		TT_AWAIT(self, cx, &self->rx, tt_recv_init(&self->rx, pipe_, &self->v));
}

typedef struct producer {
	tt_frame frame;
	tt_acquire acq;
	tt_send tx;
	long v;
} producer;
static tt_poll producer_poll(producer *self, tt_cx *cx);
TT_ASYNC_FN(producer, producer_poll, NULL);
static void producer_init(producer *p) { tt_frame_init(&p->frame, &producer_fn); }

static tt_poll producer_poll(producer *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_chan_bind_sender(pipe_);
	TT_AWAIT(self, cx, &self->acq, tt_acquire_init(&self->acq, &quota, 1));
	self->v = 1;
	TT_AWAIT(self, cx, &self->tx, tt_send_init(&self->tx, pipe_, &self->v));
	tt_task_detach(TT_SPAWN(NULL, "consumer", consumer, consumer_init));
	self->v = 2;
	TT_AWAIT(self, cx, &self->tx, tt_send_init(&self->tx, pipe_, &self->v)); /* @await:producer-send */
	tt_semaphore_release(&quota, 1);
	TT_RETURN(self, 0);
}

static void spawn_sem(void)
{
	tt_task_detach(TT_SPAWN(NULL, "producer", producer, producer_init));
}

/* ---- deadlock chan ---- */

typedef struct player {
	tt_frame frame;
	tt_chan *in, *out;
	tt_recv rx;
	long v;
} player;
static tt_poll player_poll(player *self, tt_cx *cx);
TT_ASYNC_FN(player, player_poll, NULL);
static void player_init(player *p, tt_chan *in, tt_chan *out)
{
	tt_frame_init(&p->frame, &player_fn);
	p->in = in;
	p->out = out;
}

/* Each answers what it receives, and waits to receive first. */
static tt_poll player_poll(player *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_chan_bind_receiver(self->in);
	tt_chan_bind_sender(self->out);
	for (;;) {
		TT_AWAIT(self, cx, &self->rx, tt_recv_init(&self->rx, self->in, &self->v)); /* @await:player-recv */
		tt_chan_try_send(self->out, &self->v);
	}
}

static void spawn_chan(void)
{
	tt_task_detach(TT_SPAWN(NULL, "ping", player, player_init, ping_ch, pong_ch));
	tt_task_detach(TT_SPAWN(NULL, "pong", player, player_init, pong_ch, ping_ch));
}

/* ---- deadlock asleep ---- */

typedef struct quitter {
	tt_frame frame;
} quitter;
static tt_poll quitter_poll(quitter *self, tt_cx *cx);
TT_ASYNC_FN(quitter, quitter_poll, NULL);
static void quitter_init(quitter *q) { tt_frame_init(&q->frame, &quitter_fn); }

/* Declares itself the sender, then returns without sending or closing. */
static tt_poll quitter_poll(quitter *self, tt_cx *cx)
{
	(void)cx;
	TT_BEGIN(self);
	tt_chan_bind_sender(pipe_);
	TT_RETURN(self, 0);
}

typedef struct reader {
	tt_frame frame;
	tt_recv rx;
	long v;
} reader;
static tt_poll reader_poll(reader *self, tt_cx *cx);
TT_ASYNC_FN(reader, reader_poll, NULL);
static void reader_init(reader *r) { tt_frame_init(&r->frame, &reader_fn); }

static tt_poll reader_poll(reader *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->rx, tt_recv_init(&self->rx, pipe_, &self->v)); /* @await:reader-recv */
	TT_RETURN(self, self->v);
}

typedef struct asleep_root {
	tt_frame frame;
	tt_join join;
	tt_handle rd;
	tt_sleep nap;
} asleep_root;
static tt_poll asleep_root_poll(asleep_root *self, tt_cx *cx);
TT_ASYNC_FN(asleep_root, asleep_root_poll, NULL);

static tt_poll asleep_root_poll(asleep_root *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, TT_SPAWN(NULL, "quitter", quitter, quitter_init)));
	self->rd = TT_SPAWN(NULL, "reader", reader, reader_init);
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(50)));
	sample_ready("deadlock", NULL);
	TT_AWAIT(self, cx, &self->join, tt_join_init(&self->join, self->rd)); /* @await:root-join */
	TT_RETURN(self, 0);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	tt_mutex_init(&ledger);
	tt_semaphore_init(&quota, 1);
	pipe_ = tt_chan_new(sizeof(long), 1);
	ping_ch = tt_chan_new(sizeof(long), 1);
	pong_ch = tt_chan_new(sizeof(long), 1);
	if (!pipe_ || !ping_ch || !pong_ch) {
		perror("tt_chan_new");
		return 1;
	}
	if (strcmp(mode, "sem") == 0)
		return sample_main("deadlock", spawn_sem);
	if (strcmp(mode, "chan") == 0)
		return sample_main("deadlock", spawn_chan);
	if (strcmp(mode, "asleep") == 0) {
		tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 2});
		asleep_root r;
		if (!rt) {
			perror("tt_runtime_new");
			return 1;
		}
		tt_frame_init(&r.frame, &asleep_root_fn);
		tt_block_on(rt, &r.frame);
		return 0;
	}
	return sample_main("deadlock", spawn_tasks);
}
