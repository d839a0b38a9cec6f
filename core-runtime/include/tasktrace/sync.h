/* Synchronisation between tasks. */
#ifndef TASKTRACE_SYNC_H
#define TASKTRACE_SYNC_H

#include <pthread.h>
#include <stdint.h>

#include "tasktrace/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Notify: tasks wait until notified.  notify_one wakes the longest waiter
 * or, if none waits, stores one permit for the next waiter (like tokio's
 * Notify); notify_all wakes every current waiter. */
typedef struct tt_notify_waiter tt_notify_waiter;
typedef struct tt_notify {
	pthread_mutex_t lock;
	tt_notify_waiter *head, *tail;
	int permit;
} tt_notify;

void tt_notify_init(tt_notify *n);
void tt_notify_destroy(tt_notify *n);
void tt_notify_one(tt_notify *n);
void tt_notify_all(tt_notify *n);

struct tt_notify_waiter {
	tt_leaf leaf;
	tt_notify *notify;
	tt_notify_waiter *prev, *next;
	tt_waker waker;
	int queued;
	int notified;
};
typedef tt_notify_waiter tt_notified;
extern const tt_func tt_notified_fn;
/* TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &n)) */
void tt_notified_init(tt_notified *w, tt_notify *n);

#ifdef __cplusplus
}
#endif
#endif
