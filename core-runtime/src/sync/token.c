/* Cancellation tokens: a flag that, once set, stays set (level-triggered),
 * set in every descendant token too, and awaitable.
 *
 * The flag is bit 0 of the first word, next to a magic number that says
 * the creator has not freed the token: tt_token_cancelled reads that word
 * and nothing else, so a check costs one load, no locked instruction.
 *
 * References: the creator's, one per child token (a child reaches its
 * parent when it goes) and one per queued wait future (a token freed
 * while awaited stays until the wait ends).  Locks are taken parent
 * before child: a cancel holds each token's lock while it reaches its
 * children, and a child that goes takes only its parent's -- so a child
 * is never freed under a cancel that is reaching it. */
#include <stdlib.h>

#include "runtime/internal.h"

#define MAGIC_LIVE 0x746f6b00u	/* "tok", not freed by its creator */
#define MAGIC_FREED 0x64656100u /* "dea" */
#define MAGIC_MASK 0xffffff00u
#define CANCELLED 1u

struct tt_token {
	_Atomic uint32_t state; /* MAGIC_* | CANCELLED: first, tt_token_cancelled reads it */
	_Atomic uint32_t refs;
	pthread_mutex_t lock; /* waiters, children */
	tt_token *parent;
	tt_token *children, *prev, *next; /* children: a list through prev/next */
	tt_waitq waiters;
	const char *name; /* tt_token_set_name */
};

static tt_poll token_wait_poll(tt_token_wait *w, tt_cx *cx);
static void token_wait_drop(tt_token_wait *w);
TT_LEAF_FN(tt_token_wait, token_wait_poll, token_wait_drop);

static uint32_t state_of(const tt_token *t)
{
	return atomic_load_explicit(&((tt_token *)t)->state, ACQUIRE);
}

static int live(const tt_token *t)
{
	return (state_of(t) & MAGIC_MASK) == MAGIC_LIVE;
}

/* Under T's lock: set the flag, wake the waiters, reach the children. */
static void cancel_locked(tt_token *t)
{
	atomic_fetch_or_explicit(&t->state, CANCELLED, RELEASE);
	while (tt_waitq_wake_first(&t->waiters))
		;
	for (tt_token *c = t->children; c; c = c->next) {
		pthread_mutex_lock(&c->lock);
		if (!(state_of(c) & CANCELLED))
			cancel_locked(c);
		pthread_mutex_unlock(&c->lock);
	}
}

tt_token *tt_token_new(tt_token *parent)
{
	if (parent && !live(parent)) {
		errno = ESTALE;
		return NULL;
	}
	tt_token *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	atomic_init(&t->state, MAGIC_LIVE);
	atomic_init(&t->refs, 1);
	pthread_mutex_init(&t->lock, NULL);
	if (parent) {
		pthread_mutex_lock(&parent->lock);
		atomic_fetch_add_explicit(&parent->refs, 1, RELAXED);
		t->parent = parent;
		t->next = parent->children;
		if (t->next)
			t->next->prev = t;
		parent->children = t;
		/* Born cancelled under a cancelled parent: the flag is set under
		 * the parent's lock, so no cancel passes between. */
		if (state_of(parent) & CANCELLED)
			atomic_fetch_or_explicit(&t->state, CANCELLED, RELEASE);
		pthread_mutex_unlock(&parent->lock);
	}
	return t;
}

static void token_unref(tt_token *t)
{
	while (t && atomic_fetch_sub_explicit(&t->refs, 1, ACQ_REL) == 1) {
		tt_token *p = t->parent;
		if (p) {
			pthread_mutex_lock(&p->lock);
			if (t->prev)
				t->prev->next = t->next;
			else
				p->children = t->next;
			if (t->next)
				t->next->prev = t->prev;
			pthread_mutex_unlock(&p->lock);
		}
		pthread_mutex_destroy(&t->lock);
		free(t);
		t = p; /* the child's reference to its parent */
	}
}

int tt_token_set_name(tt_token *t, const char *name)
{
	if (!t)
		return -EINVAL;
	if (!live(t))
		return TT_ESTALE;
	t->name = name;
	return 0;
}

int tt_token_cancel(tt_token *t)
{
	if (!t)
		return -EINVAL;
	if (!live(t))
		return TT_ESTALE;
	pthread_mutex_lock(&t->lock);
	int already = (state_of(t) & CANCELLED) != 0;
	if (!already)
		cancel_locked(t);
	pthread_mutex_unlock(&t->lock);
	return already ? -EALREADY : 0;
}

int tt_token_free(tt_token *t)
{
	if (!t)
		return -EINVAL;
	uint32_t s = state_of(t);
	do
		if ((s & MAGIC_MASK) != MAGIC_LIVE)
			return TT_ESTALE;
	while (!atomic_compare_exchange_weak_explicit(&t->state, &s, MAGIC_FREED | (s & CANCELLED),
						      ACQ_REL, ACQUIRE));
	token_unref(t);
	return 0;
}

void tt_token_wait_init(tt_token_wait *w, tt_token *t)
{
	tt_frame_init(&w->leaf.frame, &tt_token_wait_fn);
	tt_wait_clear(&w->leaf.wait);
	tt_waiter_init(&w->w);
	w->token = t;
	w->ref = 0;
	/* Checked now, while the caller vouches for T: once freed, its memory
	 * may be gone by the first poll. */
	w->leaf.frame.result = !t ? -EINVAL : !live(t) ? TT_ESTALE : 0;
}

static tt_poll token_wait_poll(tt_token_wait *w, tt_cx *cx)
{
	tt_token *t = w->token;
	if (w->leaf.frame.result < 0)
		return TT_READY;
	if (!w->ref && (state_of(t) & CANCELLED))
		return TT_READY; /* level-triggered: already set, no lock */
	pthread_mutex_lock(&t->lock);
	if (state_of(t) & CANCELLED) {
		tt_waiter_leave(&t->waiters, &w->w);
		pthread_mutex_unlock(&t->lock);
		tt_wait_clear(&w->leaf.wait);
		if (w->ref) {
			w->ref = 0;
			token_unref(t);
		}
		return TT_READY;
	}
	tt_waitq_push(&t->waiters, &w->w, cx);
	if (!w->ref) {
		w->ref = 1;
		atomic_fetch_add_explicit(&t->refs, 1, RELAXED);
	}
	pthread_mutex_unlock(&t->lock);
	if (!w->leaf.wait.kind) {
		tt_wait_set(&w->leaf.wait, TT_WAIT_TOKEN, t, 0, 0);
		tt_wait_set_name(&w->leaf.wait, t->name);
	}
	return TT_PENDING;
}

static void token_wait_drop(tt_token_wait *w)
{
	tt_token *t = w->token;
	if (!w->ref)
		return;
	pthread_mutex_lock(&t->lock);
	tt_waiter_leave(&t->waiters, &w->w);
	pthread_mutex_unlock(&t->lock);
	tt_wait_clear(&w->leaf.wait);
	w->ref = 0;
	token_unref(t);
}
