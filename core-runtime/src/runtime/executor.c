/* The executor: worker threads with local rings, stealing, a global
 * injector, parking, and block_on.
 *
 * Idle protocol (no lost wakeups, no spinning): a worker that finds no work
 * registers itself idle, re-checks every queue, and only then sleeps -- in
 * epoll if it can take the driver, on its futex parker otherwise.  A thread
 * that queues work checks the idle count after the push (both sides fence
 * seq_cst, Dekker-style) and unparks one idle worker. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/hooks.h"
#include "runtime/internal.h"

TT_TLS tt_worker *tt__tls_worker;

enum { MAINTENANCE_INTERVAL = 61 };

static void unpark_worker(tt_runtime *rt, tt_worker *w)
{
	tt_parker_unpark(&w->parker);
	/* It may be blocked in epoll rather than on its parker. */
	if (atomic_load_explicit(&rt->driver.owner, SEQ_CST) == (int)w->index)
		tt_driver_kick(&rt->driver);
}

static void notify_one(tt_runtime *rt)
{
	if (tt_dekker_load(&rt->num_idle) == 0)
		return;
	pthread_mutex_lock(&rt->idle_lock);
	if (rt->nidle_stack == 0) {
		pthread_mutex_unlock(&rt->idle_lock);
		return;
	}
	tt_worker *w = &rt->workers[rt->idle_stack[--rt->nidle_stack]];
	w->idle = 0;
	atomic_fetch_sub_explicit(&rt->num_idle, 1, RELAXED);
	pthread_mutex_unlock(&rt->idle_lock);
	unpark_worker(rt, w);
}

void tt_schedule(tt_task *t)
{
	tt_runtime *rt = t->rt;
	tt_worker *w = tt__tls_worker;
	if (w && w->rt == rt) {
		if (!tt_ring_push(&w->ring, t)) {
			/* Full: move half of the ring and T to the injector. */
			tt_task *tail;
			size_t n = tt_ring_take_half(&w->ring, t, &tail);
			tt_injector_push_list(&rt->inject, t, tail, n);
		} else if (tt_ring_len(&w->ring) == 1) {
			/* The only queued task: this worker runs it as soon as the
			 * current poll (or driver turn) returns.  Waking another
			 * worker would only make the two bounce it between cores
			 * (tokio's LIFO-slot rule); a second queued task does. */
			return;
		}
	} else {
		/* From a thread that is not one of RT's workers: once T is in
		 * the injector it may run and finish, and its block_on return
		 * and free RT, while notify_one still reads RT.  The runtime's
		 * free waits for this count to drop to 0. */
		atomic_fetch_add_explicit(&rt->foreign_wakes, 1, SEQ_CST);
		tt_injector_push(&rt->inject, t);
		notify_one(rt);
		atomic_fetch_sub_explicit(&rt->foreign_wakes, 1, RELEASE);
		return;
	}
	notify_one(rt);
}

static int has_work(tt_runtime *rt)
{
	if (atomic_load_explicit(&rt->inject.len, ACQUIRE))
		return 1;
	for (uint32_t i = 0; i < rt->nworkers; i++)
		if (tt_ring_len(&rt->workers[i].ring))
			return 1;
	return 0;
}

static tt_task *steal(tt_worker *w)
{
	tt_runtime *rt = w->rt;
	uint32_t n = rt->nworkers;
	w->rng = w->rng * 1103515245u + 12345u;
	uint32_t start = (w->rng >> 16) % n;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t v = (start + i) % n;
		if (v == w->index)
			continue;
		tt_task *t = tt_ring_steal(&rt->workers[v].ring, &w->ring);
		if (t)
			return t;
	}
	return NULL;
}

static tt_task *find_work(tt_worker *w)
{
	tt_task *t;
	/* Now and then look at the injector first, so it cannot starve. */
	if (w->tick % MAINTENANCE_INTERVAL == 0 && (t = tt_injector_pop(&w->rt->inject)))
		return t;
	if ((t = tt_ring_pop(&w->ring)) ||
	    (t = tt_injector_pop_batch(&w->rt->inject, &w->ring, TT_RING_CAP / 2)))
		return t;
	return w->rt->nworkers > 1 ? steal(w) : NULL;
}

/* The worker record's state changes at the edges of a run of polls, not
 * at every poll: between two polls task_id reads 0, and that is what says
 * no task is being polled (docs/registry-abi.md, WORKER). */
static void worker_state(tt_worker *w, uint32_t state)
{
	TT_RECORD(atomic_store_explicit(&w->rec->state, state, RELAXED));
}

/* The root's "now" is shared by all workers: each refreshes it every
 * MAINTENANCE_INTERVAL polls and before it parks, at most once a
 * millisecond, rather than after every poll. */
static void publish_now(tt_worker *w)
{
	if (TT_RECORDING && w->now - w->now_published > 1000000) {
		w->now_published = w->now;
		tt_registry_set_now(w->now);
	}
}

static void maintenance(tt_worker *w)
{
	tt_driver *d = &w->rt->driver;
	publish_now(w);
	tt_flight_refresh(w);
	if (pthread_mutex_trylock(&d->lock) == 0) {
		tt_driver_turn(d, 0);
		pthread_mutex_unlock(&d->lock);
	}
}

static void unidle(tt_runtime *rt, tt_worker *w)
{
	pthread_mutex_lock(&rt->idle_lock);
	if (w->idle) {
		for (uint32_t i = 0; i < rt->nidle_stack; i++) {
			if (rt->idle_stack[i] == w->index) {
				rt->idle_stack[i] = rt->idle_stack[--rt->nidle_stack];
				break;
			}
		}
		w->idle = 0;
		atomic_fetch_sub_explicit(&rt->num_idle, 1, RELAXED);
	}
	pthread_mutex_unlock(&rt->idle_lock);
}

static int should_stop(tt_runtime *rt, _Atomic uint32_t *stop)
{
	return atomic_load_explicit(&rt->shutdown, ACQUIRE) ||
	       (stop && atomic_load_explicit(stop, ACQUIRE));
}

static void park(tt_worker *w, _Atomic uint32_t *stop)
{
	tt_runtime *rt = w->rt;
	tt_driver *d = &rt->driver;
	pthread_mutex_lock(&rt->idle_lock);
	rt->idle_stack[rt->nidle_stack++] = w->index;
	w->idle = 1;
	atomic_fetch_add_explicit(&rt->num_idle, 1, SEQ_CST);
	pthread_mutex_unlock(&rt->idle_lock);
	tt_dekker_fence();
	if (has_work(rt) || should_stop(rt, stop)) {
		unidle(rt, w);
		return;
	}
	if (pthread_mutex_trylock(&d->lock) == 0) {
		atomic_store_explicit(&d->owner, (int)w->index, SEQ_CST);
		/* An unpark that saw no owner went to the parker: honour it. */
		tt_driver_turn(d, !tt_parker_take(&w->parker));
		atomic_store_explicit(&d->owner, -1, SEQ_CST);
		pthread_mutex_unlock(&d->lock);
		unidle(rt, w);
		/* Leave the driver to another idle worker while we run what
		 * it produced, so timers keep firing on time. */
		if (has_work(rt))
			notify_one(rt);
	} else {
		tt_parker_park(&w->parker);
		unidle(rt, w);
	}
}

TT_DISPATCH void tt_worker_run(tt_worker *w, _Atomic uint32_t *stop)
{
	tt_worker *outer = tt__tls_worker;
	tt__tls_worker = w;
	tt_clock_busy();
	w->now = tt_stamp_ns();
	tt_flight_refresh(w);
	worker_state(w, TT_WORKER_POLLING);
	while (!should_stop(w->rt, stop)) {
		w->tick++;
		tt_task *t = find_work(w);
		if (t) {
			w->poll(w, t);
			if (w->tick % MAINTENANCE_INTERVAL == 0)
				maintenance(w);
			continue;
		}
		publish_now(w);
		worker_state(w, TT_WORKER_IDLE);
		tt_clock_idle();
		park(w, stop);
		tt_clock_busy();
		w->now = tt_stamp_ns();
		tt_flight_refresh(w);
		worker_state(w, TT_WORKER_POLLING);
	}
	worker_state(w, TT_WORKER_IDLE);
	tt_clock_idle();
	w->fr = NULL;
	tt__tls_worker = outer;
}

TT_DISPATCH static void *worker_main(void *arg)
{
	tt_worker *w = arg;
	char name[16];
	snprintf(name, sizeof name, "%.10s-%u", w->rt->name, w->index);
	pthread_setname_np(pthread_self(), name);
	w->rec = tt_worker_record_claim(w->rt->id, w->index, w->rt->flight_bytes);
	if (!w->rec)
		w->rec = &w->spare;
	tt_hook_worker_start(); /* alternate signal stack for the crash handler */
	tt_worker_run(w, NULL);
	tt_hook_worker_exit();
	tt_worker_record_release(w->rec);
	return NULL;
}

tt_runtime *tt_runtime_new(const tt_runtime_opts *opts)
{
	int n = opts ? opts->workers : -1;
	tt_hook_runtime_new(); /* TASKTRACE_CRASH/DUMP_SIGNAL/WATCHDOG, once */
	if (n < 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 0 ? (int)cpus : 1;
	}
	if (n > 128) {
		errno = EINVAL;
		return NULL;
	}
	/* Before any worker exists: they inherit this thread's mask. */
	int serr = opts ? tt_signals_block(opts->signals) : 0;
	if (serr < 0) {
		errno = -serr;
		return NULL;
	}
	tt_runtime *rt = calloc(1, sizeof *rt);
	if (!rt)
		return NULL;
	tt_runtime *handle = tt_runtime_handle_new(rt);
	if (!handle) {
		free(rt);
		return NULL;
	}
	int cerr = tt_clock_start();
	if (cerr < 0) {
		errno = -cerr;
		goto fail;
	}
	rt->id = tt_next_runtime_id();
	rt->flight_bytes = tt_flight_bytes(opts ? opts->recorder_bytes : 0);
	rt->current_thread = n == 0;
	rt->nworkers = n ? (uint32_t)n : 1;
	snprintf(rt->name, sizeof rt->name, "%s",
		 opts && opts->name ? opts->name : "tt-worker");
	rt->workers = calloc(rt->nworkers, sizeof *rt->workers);
	rt->idle_stack = calloc(rt->nworkers, sizeof *rt->idle_stack);
	if (!rt->workers || !rt->idle_stack || tt_driver_init(&rt->driver) < 0)
		goto fail;
	tt_injector_init(&rt->inject);
	tt_io_pool_init(&rt->io_pool);
	tt_sigs_init(&rt->sigs, opts ? opts->signals : NULL);
	pthread_mutex_init(&rt->idle_lock, NULL);
	for (uint32_t i = 0; i < rt->nworkers; i++) {
		tt_worker *w = &rt->workers[i];
		w->rt = rt;
		w->index = i;
		w->rng = 0x9e3779b9u * (i + 1);
	}
	if (rt->current_thread)
		return handle;
	for (uint32_t i = 0; i < rt->nworkers; i++) {
		int err = pthread_create(&rt->workers[i].thread, NULL, worker_main,
					 &rt->workers[i]);
		if (err) {
			atomic_store(&rt->shutdown, 1);
			for (uint32_t j = 0; j < i; j++) {
				unpark_worker(rt, &rt->workers[j]);
				tt_driver_kick(&rt->driver);
				pthread_join(rt->workers[j].thread, NULL);
			}
			tt_driver_destroy(&rt->driver);
			errno = err;
			goto fail;
		}
	}
	return handle;
fail:
	tt_runtime_handle_retire(handle);
	free(rt->workers);
	free(rt->idle_stack);
	free(rt);
	return NULL;
}

int tt_runtime_workers(const tt_runtime *h)
{
	const tt_runtime *rt = tt_runtime_from_handle(h, "tt_runtime_workers");
	if (!rt)
		return -errno;
	return rt->current_thread ? 0 : (int)rt->nworkers;
}

static void abandon_if_ours(tt_task *t, void *arg)
{
	if (t->rt == arg && !(atomic_load(&t->sched) & SCHED_COMPLETE))
		tt_task_abandon(t);
}

void tt_runtime_free(tt_runtime *h)
{
	if (!h)
		return;
	/* Unpublished first: from here on a spawn with H is refused. */
	tt_runtime *rt = tt_runtime_handle_retire(h);
	if (!rt)
		return;
	atomic_store(&rt->shutdown, 1);
	if (!rt->current_thread) {
		for (uint32_t i = 0; i < rt->nworkers; i++)
			unpark_worker(rt, &rt->workers[i]);
		tt_driver_kick(&rt->driver);
		for (uint32_t i = 0; i < rt->nworkers; i++)
			pthread_join(rt->workers[i].thread, NULL);
	}
	/* A wake from another thread may still be inside tt_schedule. */
	while (atomic_load_explicit(&rt->foreign_wakes, ACQUIRE))
		sched_yield();
	tt_hook_runtime_free(rt); /* report leaked tasks when diagnostics are on */
	/* No worker runs now: cancel what is left (cleanups run), then drop
	 * the queue references still held. */
	tt_registry_for_each(abandon_if_ours, rt);
	for (uint32_t i = 0; i < rt->nworkers; i++) {
		tt_task *t;
		while ((t = tt_ring_pop(&rt->workers[i].ring)))
			tt_task_unref(t);
	}
	tt_task *t;
	while ((t = tt_injector_pop(&rt->inject)))
		tt_task_unref(t);
	for (uint32_t i = 0; i < rt->nworkers; i++) {
		tt_frame_cache_drain(&rt->workers[i].frames);
		tt_slot_cache_drain(&rt->workers[i].slots);
	}
	tt_sigs_destroy(&rt->sigs);
	tt_driver_destroy(&rt->driver);
	tt_io_pool_destroy(&rt->io_pool);
	pthread_mutex_destroy(&rt->idle_lock);
	pthread_mutex_destroy(&rt->inject.lock);
	free(rt->workers);
	free(rt->idle_stack);
	free(rt);
}

TT_DISPATCH intptr_t tt_block_on(tt_runtime *h, tt_frame *root)
{
	return tt_block_on_named(h, root, NULL);
}

TT_DISPATCH intptr_t tt_block_on_named(tt_runtime *h, tt_frame *root, const char *name)
{
	if (tt__tls_worker) /* it would wait on the thread that must run it */
		return -EDEADLK;
	tt_runtime *rt = tt_runtime_from_handle(h, "tt_block_on");
	if (!rt)
		return -errno;
	tt_spawn_opts o = {name && *name ? name : "block_on", NULL, TT_TASKF_BLOCK_ON};
	static const tt_site site TT_SECTION_("tasktrace_sites") = {
	    "tt_block_on", __FILE__, __LINE__, TT_SITEF_SPAWN, NULL};
	tt_task *t = tt_spawn_task(rt, &o, root, &site, NULL);
	if (!t)
		return -errno;
	if (rt->current_thread) {
		tt_worker *w = &rt->workers[0];
		w->rec = tt_worker_record_claim(rt->id, 0, rt->flight_bytes);
		if (!w->rec)
			w->rec = &w->spare;
		tt_worker_run(w, &t->done);
		tt_worker_record_release(w->rec);
		w->rec = NULL;
	}
	intptr_t r = tt_task_wait(t);
	tt_handle_drop(t);
	tt_task_unref(t);
	return r;
}
