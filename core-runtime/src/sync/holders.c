/* The holder sets behind the registry's HOLDERS record: who can end a
 * wait on a semaphore or a channel.  A reader draws deadlock edges
 * through a set only while it is complete, so every case where the ids
 * may miss a task that could end the wait marks it incomplete: rather
 * no edge than a false deadlock. */
#include "runtime/internal.h"

enum {
	WHY_FOREIGN = 1u << 0, /* sticky: used from outside the declared tasks */
	WHY_FULL = 1u << 1,    /* sticky: more declared ends than fit */
};

uint64_t tt__current_id(void)
{
	return tt__tls_task ? atomic_load_explicit(&tt__tls_task->id, RELAXED) : 0;
}

/* The seqlock's halves (a reader may read the record at any moment). */
static void begin(tt_holders *h)
{
	atomic_store_explicit((_Atomic uint32_t *)&h->seq, h->seq + 1, RELAXED);
	tt_seqlock_fence();
}

static void end(tt_holders *h)
{
	h->flags = h->why || h->untracked ? TT_HOLDERSF_INCOMPLETE : 0;
	atomic_store_explicit((_Atomic uint32_t *)&h->seq, h->seq + 1, RELEASE);
}

static int find(const tt_holders *h, uint64_t id)
{
	for (uint32_t i = 0; i < h->count && i < TT_HOLDERS_CAP; i++)
		if (h->ids[i] == id)
			return (int)i;
	return -1;
}

void tt_holders_add(tt_holders *h, uint64_t id, uint64_t n)
{
	int i = id ? find(h, id) : -1;

	begin(h);
	if (i < 0 && id && h->count < TT_HOLDERS_CAP) {
		i = (int)h->count;
		h->ids[i] = id;
		h->held[i] = 0;
		h->count++;
	}
	if (i >= 0)
		h->held[i] += n;
	else
		h->untracked += n;
	h->last = id;
	end(h);
}

void tt_holders_remove(tt_holders *h, uint64_t id, uint64_t n)
{
	int i = id ? find(h, id) : -1;

	begin(h);
	if (i >= 0) {
		uint64_t k = n < h->held[i] ? n : h->held[i];
		h->held[i] -= k;
		n -= k;
		if (!h->held[i]) {
			h->count--;
			h->ids[i] = h->ids[h->count];
			h->held[i] = h->held[h->count];
		}
	}
	/* The rest was taken by holders that did not fit, or is given by a
	 * task that never took it (permits added, a semaphore used as a
	 * signal): from then on the ids cannot be trusted to be everyone. */
	if (n && h->untracked >= n)
		h->untracked -= n;
	else if (n)
		h->why |= WHY_FOREIGN;
	end(h);
}

int tt_holders_declare(tt_holders *h, uint64_t id)
{
	int rc = 0;

	if (!id)
		return -EPERM;
	begin(h);
	if (find(h, id) < 0) {
		if (h->count < TT_HOLDERS_CAP) {
			h->ids[h->count++] = id;
		} else {
			h->why |= WHY_FULL;
			rc = -ENOSPC;
		}
	}
	end(h);
	return rc;
}

void tt_holders_use(tt_holders *h, uint64_t id)
{
	/* Nothing declared: the ids say nothing yet, only LAST is kept. */
	int foreign = h->count && !h->why && (!id || find(h, id) < 0);

	if (h->last == id && !foreign)
		return;
	begin(h);
	h->last = id;
	if (foreign)
		h->why |= WHY_FOREIGN;
	end(h);
}
