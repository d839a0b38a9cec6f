/* Several runtimes in one registry, and registries copied by fork
 * (tasktrace/read/reader.h, tt_runtimes): the one place the rules live. */
#include <string.h>

#include "reader/reader_priv.h"

void tt_runtimes_init(tt_runtimes *rt, tt_reader *r)
{
	uint64_t nworkers = tt_reader_root_u64(r, TT_ROOT_WORKER_COUNT);
	uint64_t parent = tt_reader_root_u64(r, TT_ROOT_FORK_PARENT_PID);
	uint64_t upto = tt_reader_root_u64(r, TT_ROOT_FORK_RUNTIMES);

	memset(rt, 0, sizeof(*rt));
	rt->root_pid = tt_reader_root_u64(r, TT_ROOT_PID);
	if (parent && upto) {
		rt->inherited_from = parent;
		rt->inherited_upto = upto;
	}
	for (uint32_t i = 0; nworkers <= r->lim.max_workers && i < nworkers; i++) {
		tt_rworker w;
		if (tt_reader_worker(r, i, &w) == TT_R_OK && w.state != TT_WORKER_UNUSED)
			tt_runtimes_see(rt, w.runtime_id);
	}
}

void tt_runtimes_set_target(tt_runtimes *rt, uint64_t target_pid)
{
	/* A runtime that marks forks sets pid to the child's own: a pid
	 * that is not the target's means nothing in the registry is. */
	if (target_pid && rt->root_pid && rt->root_pid != target_pid) {
		rt->inherited_from = rt->root_pid;
		rt->inherited_upto = UINT64_MAX;
	}
}

void tt_runtimes_see(tt_runtimes *rt, uint64_t runtime_id)
{
	if (!runtime_id)
		return;
	uint32_t kept = rt->count < TT_RUNTIMES_SEEN ? rt->count : TT_RUNTIMES_SEEN;
	for (uint32_t i = 0; i < kept; i++)
		if (rt->ids[i] == runtime_id)
			return;
	if (rt->count < TT_RUNTIMES_SEEN)
		rt->ids[rt->count] = runtime_id;
	/* Past the array an id may be counted twice: "several" is all
	 * that is asked of a count that high. */
	if (rt->count < UINT32_MAX)
		rt->count++;
}

uint64_t tt_runtimes_inherited(const tt_runtimes *rt, uint64_t runtime_id)
{
	return rt->inherited_from && runtime_id <= rt->inherited_upto ? rt->inherited_from : 0;
}

int64_t tt_runtimes_worker_tid(const tt_runtimes *rt, const tt_rworker *w, size_t n,
			       uint64_t runtime_id, int64_t index)
{
	if (index < 0 || tt_runtimes_inherited(rt, runtime_id))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (w[i].index == (uint64_t)index && w[i].runtime_id == runtime_id)
			return (int64_t)w[i].tid;
	return -1;
}

int32_t tt_rtask_worker(const tt_reader *r, const tt_rtask *t, const tt_rworker *w, size_t n)
{
	/* Published by the runtime, or left to us (docs/registry-abi.md
	 * §5.3): the worker whose record points at T's slot while T is in a
	 * poll.  The id check drops a record read before the slot was freed
	 * and taken again. */
	if (r->f_task[TT_TASK_WORKER].size || !t->running)
		return t->worker;
	for (size_t i = 0; i < n; i++)
		if (w[i].task == t->slot_addr && w[i].task_id == t->id &&
		    w[i].runtime_id == t->runtime_id && w[i].index <= INT32_MAX)
			return (int32_t)w[i].index;
	return -1;
}

void tt_snapshot_set_target(tt_snapshot *s, uint64_t target_pid)
{
	tt_runtimes_set_target(&s->runtimes, target_pid);
}
