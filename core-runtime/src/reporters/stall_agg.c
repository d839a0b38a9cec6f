/* The stalls seen over a run, grouped by native stack (stall.c feeds it,
 * tt_stall_stop, exit and the dump print it): how often each stack
 * stalled and for how long.
 *
 * Fixed tables, no malloc, no lock: the tt-stall thread is the only
 * writer (tt_stall_stop writes after joining it), and the dump reads from
 * a signal handler, so each group has a sequence number, odd while it is
 * written, and a reader that sees it change says the figures moved
 * instead of printing torn ones.  Durations go into a log histogram (8
 * buckets an octave of microseconds: within 9 %), with the exact minimum
 * and maximum. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "reporters/crash_priv.h"

#define GROUPS 64 /* stacks kept; later ones count under "other stacks" */
#define SUB 8	  /* buckets an octave */
#define BUCKETS (SUB * 40)

typedef struct group {
	_Atomic uint32_t seq;
	uint64_t hash; /* of the return addresses */
	uint64_t count, min_ns, max_ns;
	uint32_t hist[BUCKETS];
	uint64_t task_id; /* the first stall's task */
	char name[TT_TASK_NAME_MAX];
	char sys[160]; /* its system call in words: the dump formats nothing */
	int have_stack;
	tt_native nb; /* the first stall's stack: written before publication */
} group;

static struct {
	group g[GROUPS + 1]; /* [GROUPS]: the stalls of other stacks */
	_Atomic uint32_t n;  /* groups published */
	uint64_t threshold_ns;
} agg;

void tt__stall_agg_reset(uint64_t threshold_ns)
{
	atomic_store_explicit(&agg.n, 0, memory_order_release);
	memset(&agg.g[GROUPS], 0, sizeof(agg.g[GROUPS]));
	agg.threshold_ns = threshold_ns;
}

/* The call chain: return addresses only, so a loop stopped at different
 * instructions is one group (a one-frame stack: its PC). */
static uint64_t stack_hash(const tt_native *nb)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t k = nb->n > 1 ? 1 : 0; k < nb->n; k++) {
		h ^= nb->pc[k];
		h *= 1099511628211ull;
	}
	return h | 1; /* never 0: 0 is "no stack" */
}

static unsigned bucket(uint64_t ns)
{
	uint64_t us = ns / 1000 + 1;
	unsigned lg = 63u - (unsigned)__builtin_clzll(us);
	unsigned sub = lg >= 3 ? (unsigned)((us >> (lg - 3)) & (SUB - 1))
			       : (unsigned)(us << (3 - lg)) & (SUB - 1);
	unsigned b = lg * SUB + sub;
	return b < BUCKETS ? b : BUCKETS - 1;
}

/* The upper end of bucket B, in ns. */
static uint64_t bucket_top(unsigned b)
{
	unsigned lg = b / SUB, sub = b % SUB;
	uint64_t lo =
	    lg >= 3 ? ((uint64_t)(SUB + sub) << (lg - 3)) : ((uint64_t)(SUB + sub) >> (3 - lg));
	uint64_t step = lg >= 3 ? (1ull << (lg - 3)) : 1;
	return (lo + step - 1) * 1000;
}

void tt__stall_agg_add(const tt_native *nb, const char *sys, uint64_t task_id, const char *name,
		       uint64_t dur_ns)
{
	uint64_t h = nb ? stack_hash(nb) : 0;
	uint32_t n = atomic_load_explicit(&agg.n, memory_order_relaxed);
	group *g = NULL;

	for (uint32_t i = 0; i < n && !g; i++)
		if (agg.g[i].hash == h)
			g = &agg.g[i];
	if (!g && n < GROUPS) {
		g = &agg.g[n];
		memset(g, 0, sizeof(*g));
		g->hash = h;
		g->task_id = task_id;
		snprintf(g->name, sizeof(g->name), "%s", name ? name : "");
		tt_fbuf w;
		tt_fb_init(&w, g->sys, sizeof(g->sys));
		tt_fmt_syscall(&w, sys, NULL);
		if (nb) {
			g->nb = *nb;
			g->have_stack = 1;
		}
		g->min_ns = UINT64_MAX;
		atomic_store_explicit(&agg.n, n + 1, memory_order_release);
	}
	if (!g)
		g = &agg.g[GROUPS];
	uint32_t seq = atomic_load_explicit(&g->seq, memory_order_relaxed);
	atomic_store_explicit(&g->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	g->count++;
	if (dur_ns < g->min_ns || g->count == 1)
		g->min_ns = dur_ns;
	if (dur_ns > g->max_ns)
		g->max_ns = dur_ns;
	g->hist[bucket(dur_ns)]++;
	atomic_store_explicit(&g->seq, seq + 2, memory_order_release);
}

/* The duration below which a share Q/100 of COUNT stalls fall: the top
 * of its bucket, within [LO, HI]. */
static uint64_t quantile(const uint32_t *hist, uint64_t count, uint64_t lo, uint64_t hi, unsigned q)
{
	uint64_t want = (count * q + 99) / 100, seen = 0;
	for (unsigned b = 0; b < BUCKETS && want; b++) {
		seen += hist[b];
		if (seen >= want) {
			uint64_t v = bucket_top(b);
			return v < lo ? lo : v > hi ? hi : v;
		}
	}
	return hi;
}

/* One group's line; 0 when it changed while read. */
static int group_line(tt_rout *o, const group *g, int other)
{
	uint32_t hist[BUCKETS];
	char mem[512];
	tt_fbuf b;

	uint32_t seq = atomic_load_explicit(&g->seq, memory_order_acquire);
	uint64_t count = g->count, lo = g->min_ns, hi = g->max_ns;
	memcpy(hist, g->hist, sizeof(hist));
	atomic_thread_fence(memory_order_acquire);
	if ((seq & 1) || seq != atomic_load_explicit(&g->seq, memory_order_relaxed))
		return 0;
	if (!count)
		return 1;
	tt_fb_init(&b, mem, sizeof(mem));
	tt_fb_str(&b, "  ");
	tt_fb_u64(&b, count);
	tt_fb_str(&b, count == 1 ? " stall" : " stalls");
	tt_fb_str(&b, ": min ");
	tt_fmt_duration(&b, lo);
	tt_fb_str(&b, ", median ");
	tt_fmt_duration(&b, quantile(hist, count, lo, hi, 50));
	tt_fb_str(&b, ", p99 ");
	tt_fmt_duration(&b, quantile(hist, count, lo, hi, 99));
	tt_fb_str(&b, ", max ");
	tt_fmt_duration(&b, hi);
	if (other) {
		tt_fb_str(&b, " (other stacks: the table keeps 64)");
	} else if (!g->have_stack) {
		tt_fb_str(&b, " (no native stack taken)");
	} else {
		tt_fb_str(&b, "; first in task ");
		tt_fb_u64(&b, g->task_id);
		if (g->name[0]) {
			tt_fb_str(&b, " \"");
			tt_fb_text(&b, g->name);
			tt_fb_str(&b, "\"");
		}
		tt_fb_str(&b, ", ");
		tt_fb_str(&b, g->sys);
	}
	tt_rout_force(o, b.p);
	return 1;
}

int tt__stall_agg_print(tt_rout *o, tt_cb_namer namer)
{
	uint32_t n = atomic_load_explicit(&agg.n, memory_order_acquire), order[GROUPS];
	uint64_t total = 0;
	char mem[256];
	tt_fbuf b;

	if (n > GROUPS)
		n = GROUPS;
	/* Most stalls first: an insertion sort of at most 64. */
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = i;
		total += agg.g[i].count;
		while (k && agg.g[order[k - 1]].count < agg.g[i].count) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = i;
	}
	total += agg.g[GROUPS].count;
	tt_fb_init(&b, mem, sizeof(mem));
	tt_fb_str(&b, "tasktrace stalls (pid ");
	tt_fb_u64(&b, (uint64_t)getpid());
	tt_fb_str(&b, "): ");
	if (!total) {
		tt_fb_str(&b, "no poll ran past ");
		tt_fmt_duration(&b, agg.threshold_ns);
		tt_rout_force(o, b.p);
		return 0;
	}
	tt_fb_u64(&b, total);
	tt_fb_str(&b, total == 1 ? " poll" : " polls");
	tt_fb_str(&b, " ran past ");
	tt_fmt_duration(&b, agg.threshold_ns);
	tt_fb_str(&b, ", in ");
	tt_fb_u64(&b, n + (agg.g[GROUPS].count ? 1 : 0));
	tt_fb_str(&b, n == 1 ? " stack" : " stacks");
	tt_fb_str(&b, ", most stalls first:");
	tt_rout_force(o, b.p);
	for (uint32_t i = 0; i < n; i++) {
		const group *g = &agg.g[order[i]];
		if (!group_line(o, g, 0)) {
			tt_rout_force(o, "  (a group changed while read)");
			continue;
		}
		if (g->have_stack)
			tt_cb_print_named(o, &g->nb, NULL, 0, namer);
	}
	if (agg.g[GROUPS].count && !group_line(o, &agg.g[GROUPS], 1))
		tt_rout_force(o, "  (a group changed while read)");
	return (int)total;
}
