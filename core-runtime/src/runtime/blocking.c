/* The blocking-call pool: detached threads created on demand up to
 * TT_BLOCKING_MAX, retired after 10 s without work.  A job outlives the
 * future that awaits it (a blocking call cannot be interrupted), so a
 * cancelled future marks its job abandoned and the thread frees it. */
#include <stdlib.h>
#include <time.h>

#include "runtime/hooks.h"
#include "runtime/internal.h"

#include "tasktrace/combinators.h"

enum { QUEUED, RUNNING, DONE, ABANDONED };

struct tt_blocking_job {
	pthread_mutex_t lock;
	int state;
	tt_blocking_fn fn;
	void *arg;
	void (*release)(void *arg); /* runs if the future was cancelled */
	intptr_t result;
	tt_waker waker;
	tt_blocking_job *next;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	tt_blocking_job *head, *tail;
	int threads, idle;
	int queued; /* jobs in the queue, not yet taken by a thread */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0};

static void job_free(tt_blocking_job *j)
{
	pthread_mutex_destroy(&j->lock);
	free(j);
}

TT_DISPATCH static void run_job(tt_blocking_job *j)
{
	pthread_mutex_lock(&j->lock);
	int abandoned = j->state == ABANDONED;
	if (!abandoned)
		j->state = RUNNING;
	uint64_t task = j->waker.task ? tt_task_id_of(j->waker.task) : 0;
	pthread_mutex_unlock(&j->lock);
	if (!abandoned) {
		if (tt_flight_on())
			tt_flight_put_foreign(TT_EV_BLOCKING_START, task, (uintptr_t)j, 0, 0);
		j->result = j->fn(j->arg);
		if (tt_flight_on())
			tt_flight_put_foreign(TT_EV_BLOCKING_END, task, (uintptr_t)j, 0, 0);
	}
	pthread_mutex_lock(&j->lock);
	abandoned = j->state == ABANDONED;
	j->state = DONE;
	tt_waker w = j->waker;
	j->waker.task = NULL;
	pthread_mutex_unlock(&j->lock);
	tt_waker_wake(&w);
	if (abandoned) {
		if (j->release)
			j->release(j->arg);
		job_free(j);
	}
}

TT_DISPATCH static void *pool_thread(void *arg)
{
	(void)arg;
	/* Not a worker, whatever thread created it: say so in ps/gdb. */
	pthread_setname_np(pthread_self(), "tt-blocking");
	/* Blocking calls overflow stacks too: the crash handler needs an
	 * alternate stack here as on a worker. */
	tt_hook_worker_start();
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		while (!pool.head) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 10;
			pool.idle++;
			int r = pthread_cond_timedwait(&pool.cond, &pool.lock, &until);
			pool.idle--;
			if (r == ETIMEDOUT && !pool.head) {
				pool.threads--;
				pthread_mutex_unlock(&pool.lock);
				tt_hook_worker_exit();
				return NULL;
			}
		}
		tt_blocking_job *j = pool.head;
		pool.head = j->next;
		if (!pool.head)
			pool.tail = NULL;
		pool.queued--;
		pthread_mutex_unlock(&pool.lock);
		run_job(j);
		pthread_mutex_lock(&pool.lock);
	}
}

static int submit(tt_blocking_job *j)
{
	pthread_mutex_lock(&pool.lock);
	j->next = NULL;
	if (pool.tail)
		pool.tail->next = j;
	else
		pool.head = j;
	pool.tail = j;
	pool.queued++;
	int err = 0;
	if (pool.idle > 0)
		pthread_cond_signal(&pool.cond);
	/* An idle thread counts for one queued job only: until it wakes it
	 * stays "idle", so a burst of submits must not all rely on it (calls
	 * that wait for each other would deadlock behind one thread). */
	if (pool.queued > pool.idle && pool.threads < TT_BLOCKING_MAX) {
		pthread_t th;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		err = pthread_create(&th, &attr, pool_thread, NULL);
		pthread_attr_destroy(&attr);
		if (!err)
			pool.threads++;
		else if (pool.threads > 0)
			err = 0; /* queued: an existing thread will get to it */
	}
	if (err) { /* no thread at all: take it back */
		pool.head = pool.tail = NULL;
		pool.queued = 0;
	}
	pthread_mutex_unlock(&pool.lock);
	return -err;
}

static tt_poll blocking_poll(tt_blocking *b, tt_cx *cx);
static void blocking_drop(tt_blocking *b);
const tt_func tt_blocking_fn_desc TT_SECTION_("tasktrace_funcs") = {
	"tt_blocking", __FILE__, __LINE__, TT_FUNC_KIND_LEAF, "tt_blocking", sizeof(tt_blocking),
	0, (tt_poll_fn)blocking_poll, (tt_drop_fn)blocking_drop};

void tt_blocking_init(tt_blocking *b, tt_blocking_fn fn, void *arg)
{
	tt_frame_init(&b->leaf.frame, &tt_blocking_fn_desc);
	tt_wait_clear(&b->leaf.wait);
	b->fn = fn;
	b->arg = arg;
	b->release = NULL;
	b->job = NULL;
}

void tt_blocking_init_owned(tt_blocking *b, tt_blocking_fn fn, void *arg,
			    void (*release)(void *arg))
{
	tt_blocking_init(b, fn, arg);
	b->release = release;
}

static tt_poll blocking_poll(tt_blocking *b, tt_cx *cx)
{
	tt_blocking_job *j = b->job;
	if (!j) {
		j = calloc(1, sizeof *j);
		if (!j) {
			b->leaf.frame.result = -ENOMEM;
			return TT_READY;
		}
		pthread_mutex_init(&j->lock, NULL);
		j->fn = b->fn;
		j->arg = b->arg;
		j->release = b->release;
		j->waker = tt_waker_new(cx);
		b->job = j;
		tt_wait_set(&b->leaf.wait, TT_WAIT_BLOCKING, j, 0, (uint64_t)(uintptr_t)b->fn);
		int err = submit(j);
		if (err) {
			tt_waker_drop(&j->waker);
			job_free(j);
			b->job = NULL;
			b->leaf.frame.result = err;
			tt_wait_clear(&b->leaf.wait);
			return TT_READY;
		}
		return TT_PENDING;
	}
	pthread_mutex_lock(&j->lock);
	if (j->state != DONE) {
		if (j->waker.task != cx->task) {
			tt_waker_drop(&j->waker);
			j->waker = tt_waker_new(cx);
		}
		pthread_mutex_unlock(&j->lock);
		return TT_PENDING;
	}
	pthread_mutex_unlock(&j->lock);
	b->leaf.frame.result = j->result;
	job_free(j);
	b->job = NULL;
	tt_wait_clear(&b->leaf.wait);
	return TT_READY;
}

static void blocking_drop(tt_blocking *b)
{
	tt_blocking_job *j = b->job;
	if (!j)
		return;
	b->job = NULL;
	pthread_mutex_lock(&j->lock);
	int done = j->state == DONE;
	if (!done)
		j->state = ABANDONED;
	tt_waker w = j->waker;
	j->waker.task = NULL;
	pthread_mutex_unlock(&j->lock);
	tt_waker_drop(&w);
	if (done) {
		if (j->release)
			j->release(j->arg); /* its result is dropped with it */
		job_free(j);
	}
	tt_wait_clear(&b->leaf.wait);
}
