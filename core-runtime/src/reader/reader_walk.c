/* Registry reader, core layer: task slots (seqlock reads, iteration) and
 * await-chain walks.  Same rules as reader.c: no allocation, no stdio, no
 * recursion (a signal handler's alternate stack is small), bounded stack
 * use (about 7 KiB in tt_reader_walk_frames, 4.5 KiB in
 * tt_reader_read_task). */
#include <errno.h>
#include <string.h>

#include "reader/reader_priv.h"

/* ---- tasks ---- */

/* KEEP-1 bytes at most of a FIELD-byte string, NUL-ended in DST; 1 if
 * the target's string was longer than that. */
static int label_str(char *dst, size_t keep, const unsigned char *src,
		     tt_field f)
{
	size_t n = strnlen((const char *)src + f.offset, f.size);

	if (n > keep - 1) {
		memcpy(dst, src + f.offset, keep - 1);
		/* Cut between characters, like the runtime's names. */
		n = keep - 1;
		while (n && ((unsigned char)dst[n] & 0xc0) == 0x80)
			n--;
		dst[n] = 0;
		return 1;
	}
	memcpy(dst, src + f.offset, n);
	dst[n] = 0;
	return 0;
}

/* A label block holds at most this many records, each at most this
 * large (LABEL fields are at most 64 bytes, §5.10). */
#define LABEL_BLOCK_MAX 64u
#define LABEL_REC_MAX 256u

/* The address of the slot image's out-of-line label block (§5.10) when it
 * has labels to read there, else 0. */
static uint64_t label_block(tt_reader *r, const unsigned char *slot)
{
	if (r->f_task[TT_TASK_LABELS].size ||
	    !r->f_task[TT_TASK_LABEL_BLOCK].size ||
	    !tt_r_get(slot, r->f_task[TT_TASK_LABEL_COUNT]))
		return 0;
	return tt_r_get(slot, r->f_task[TT_TASK_LABEL_BLOCK]);
}

/* The labels of a slot image, inline or in its label block: as many as
 * the reader keeps, each bounded; a count beyond the array, an unreadable
 * block, an empty or repeated key is one flag, never a lost task. */
static void decode_labels(tt_reader *r, const unsigned char *slot,
			  tt_rtask *out)
{
	tt_field lf = r->f_task[TT_TASK_LABELS];
	uint32_t stride = r->record_size[TT_REC_LABEL];
	uint64_t block = label_block(r, slot);
	unsigned char buf[LABEL_REC_MAX];
	uint64_t cap, n;

	if ((!lf.size && !block) || !stride)
		return;
	cap = lf.size ? lf.size / stride : LABEL_BLOCK_MAX;
	n = tt_r_get(slot, r->f_task[TT_TASK_LABEL_COUNT]);
	if (block) {
		/* u32 capacity, u32 0, then the records (§5.10). */
		if (stride > sizeof(buf) || block & (TT_R_ALIGN - 1) ||
		    tt_r_read(r, block, buf, 8, "label block")) {
			out->label_flags |= TT_RLABELS_BAD;
			return;
		}
		cap = tt_r_get(buf, (tt_field){ 0, 4 });
		if (cap > LABEL_BLOCK_MAX)
			cap = LABEL_BLOCK_MAX;
		block += 8;
	}
	if (n > cap) {
		out->label_flags |= TT_RLABELS_BAD;
		n = cap;
	}
	for (uint64_t i = 0; i < n; i++) {
		const unsigned char *rec = slot + lf.offset + i * stride;
		tt_rlabel *l = &out->labels[out->nlabels];

		if (out->nlabels == TT_TASK_LABELS_MAX) {
			out->label_flags |= TT_RLABELS_CUT;
			break;
		}
		if (block) {
			if (tt_r_read(r, block + i * stride, buf, stride,
				      "label block")) {
				out->label_flags |= TT_RLABELS_BAD;
				break;
			}
			rec = buf;
		}
		if (label_str(l->key, sizeof(l->key), rec,
			      r->f_label[TT_LABEL_KEY]) |
		    label_str(l->value, sizeof(l->value), rec,
			      r->f_label[TT_LABEL_VALUE]))
			out->label_flags |= TT_RLABELS_CUT;
		int dup = 0;
		for (uint32_t j = 0; j < out->nlabels; j++)
			dup |= !strcmp(out->labels[j].key, l->key);
		/* A key twice would be two answers to one --label. */
		if (!l->key[0] || dup) {
			out->label_flags |= TT_RLABELS_BAD;
			memset(l, 0, sizeof(*l));
			continue;
		}
		out->nlabels++;
	}
}

/* A histogram block has at most this many buckets (a bigger count is
 * junk); buckets beyond the reader's are added to its last one. */
#define HIST_BUCKETS_MAX 64u

static uint64_t hist_block(tt_reader *r, const unsigned char *slot)
{
	return r->f_task[TT_TASK_HIST].size ? tt_r_get(slot, r->f_task[TT_TASK_HIST]) : 0;
}

/* One histogram: bucket 0 is what the polls leave after the others
 * (§5.13).  0, or -1 when the counts exceed the polls -- unless the task
 * is RUNNING: its block, read after the slot, may count a poll the slot's
 * poll count did not yet. */
static int hist_fill(uint32_t *dst, const unsigned char *src, uint32_t n, uint64_t polls,
		     int running)
{
	uint64_t sum = 0;

	for (uint32_t i = 1; i < n; i++) {
		uint32_t c = (uint32_t)tt_r_get(src + 4 * i, (tt_field){0, 4});
		uint32_t k = i < TT_HIST_BUCKETS ? i : TT_HIST_BUCKETS - 1;

		sum += c;
		dst[k] += c;
	}
	if (sum > polls + (running ? 1 : 0))
		return -1;
	if (sum > polls)
		sum = polls;
	dst[0] = (uint32_t)(polls - sum > UINT32_MAX ? UINT32_MAX : polls - sum);
	return 0;
}

/* The slot image's histograms, read from its block: an address that is
 * misaligned or unreadable, a bucket count of 0 or beyond
 * HIST_BUCKETS_MAX, counts beyond the polls are one flag, no histogram. */
static void decode_hist(tt_reader *r, const unsigned char *slot, tt_rtask *out)
{
	unsigned char buf[8 + 8 * HIST_BUCKETS_MAX];
	uint64_t block = hist_block(r, slot);
	uint32_t n;

	if (!block) {
		/* Published but never needed: every poll and delay was
		 * under a tick. */
		if (r->f_task[TT_TASK_HIST].size) {
			out->hist_buckets = TT_HIST_BUCKETS;
			out->poll_hist[0] = out->delay_hist[0] =
			    (uint32_t)(out->polls > UINT32_MAX ? UINT32_MAX : out->polls);
		}
		return;
	}
	if (block & 3 || tt_r_read(r, block, buf, 8, "histogram block")) {
		out->hist_flags |= TT_RHIST_BAD;
		return;
	}
	n = (uint32_t)tt_r_get(buf, (tt_field){ 0, 4 });
	if (!n || n > HIST_BUCKETS_MAX ||
	    tt_r_read(r, block + 8, buf + 8, 8u * n, "histogram block") ||
	    hist_fill(out->poll_hist, buf + 8, n, out->polls, out->seq & 1) ||
	    hist_fill(out->delay_hist, buf + 8 + 4 * n, n, out->polls, out->seq & 1)) {
		memset(out->poll_hist, 0, sizeof(out->poll_hist));
		memset(out->delay_hist, 0, sizeof(out->delay_hist));
		out->hist_flags |= TT_RHIST_BAD;
		return;
	}
	out->hist_buckets = TT_HIST_BUCKETS;
}

/* What a runtime may leave to readers instead of writing it on every poll
 * (docs/registry-abi.md §5.3, "Derived"):
 * - a poll that ended in the clock tick it began has no end stamp of its
 *   own: it ended at its start stamp, the later of the two;
 * - a task is runnable no earlier than the end of its last poll, so a
 *   task woken during its poll (a yield) was woken then;
 * - without a wakes field: every poll after the first follows one wake,
 *   and a scheduled or running task's wake is the one it is waiting out
 *   or running on. */
static void derive_times(const tt_reader *r, tt_rtask *t)
{
	if (!t->running && t->poll_end_ns < t->poll_start_ns)
		t->poll_end_ns = t->poll_start_ns;
	if (t->state == TT_STATE_SCHEDULED && t->wake_ns < t->poll_end_ns)
		t->wake_ns = t->poll_end_ns;
	if (!r->f_task[TT_TASK_WAKES].size && r->f_task[TT_TASK_POLLS].size) {
		uint64_t pending = t->state == TT_STATE_SCHEDULED || t->running;
		t->wakes = t->polls + pending ? t->polls + pending - 1 : 0;
		if (t->self_wakes > t->wakes)
			t->self_wakes = t->wakes;
	}
}

int tt_reader_decode_task(tt_reader *r, const void *slot, uint64_t slot_addr,
			  tt_rtask *out)
{
	const tt_field *f = r->f_task;
	tt_field nf = f[TT_TASK_NAME];
	size_t nlen = nf.size < TT_TASK_NAME_MAX ? nf.size : TT_TASK_NAME_MAX - 1;

	memset(out, 0, sizeof(*out));
	out->slot_addr = slot_addr;
	out->id = tt_r_get(slot, f[TT_TASK_ID]);
	out->seq = (uint32_t)tt_r_get(slot, f[TT_TASK_SEQ]);
	out->state = (uint32_t)tt_r_get(slot, f[TT_TASK_STATE]);
	out->flags = (uint32_t)tt_r_get(slot, f[TT_TASK_FLAGS]);
	out->worker = f[TT_TASK_WORKER].size ?
			      (int32_t)tt_r_get_s(slot, f[TT_TASK_WORKER]) :
			      -1;
	/* As the target wrote it: the wording sanitises what it prints
	 * (wording/untrusted.h). */
	memcpy(out->name, (const char *)slot + nf.offset, nlen);
	out->parent_id = tt_r_get(slot, f[TT_TASK_PARENT_ID]);
	out->spawn_site = tt_r_get(slot, f[TT_TASK_SPAWN_SITE]);
	out->root_frame = tt_r_get(slot, f[TT_TASK_ROOT_FRAME]);
	out->created_ns = tt_r_get(slot, f[TT_TASK_CREATED_NS]);
	out->poll_start_ns = tt_r_get(slot, f[TT_TASK_POLL_START_NS]);
	out->poll_end_ns = tt_r_get(slot, f[TT_TASK_POLL_END_NS]);
	out->wake_ns = tt_r_get(slot, f[TT_TASK_WAKE_NS]);
	out->polls = tt_r_get(slot, f[TT_TASK_POLLS]);
	out->busy_ns = tt_r_get(slot, f[TT_TASK_BUSY_NS]);
	out->wakes = tt_r_get(slot, f[TT_TASK_WAKES]);
	out->self_wakes = tt_r_get(slot, f[TT_TASK_SELF_WAKES]);
	out->wakers = tt_r_get(slot, f[TT_TASK_WAKERS]);
	out->runtime_id = tt_r_get(slot, f[TT_TASK_RUNTIME_ID]);
	decode_labels(r, slot, out);
	decode_hist(r, slot, out);
	out->running = out->seq & 1;
	/* Inside a poll the state field passes through IDLE or SCHEDULED
	 * before seq is even again: an odd seq is the fact (§7). */
	if (out->running && out->state < TT_STATE_DONE)
		out->state = TT_STATE_RUNNING;
	derive_times(r, out);
	return TT_R_OK;
}

int tt_reader_read_task(tt_reader *r, uint64_t slot_addr, tt_rtask *out)
{
	unsigned char b[TT_R_TASK_MAX];
	unsigned char sb[8];
	tt_field fs = r->f_task[TT_TASK_SEQ], f0 = { 0, fs.size };
	uint32_t size = r->record_size[TT_REC_TASK];
	int rc;

	memset(out, 0, sizeof(*out));
	out->slot_addr = slot_addr;
	if (slot_addr & (TT_R_ALIGN - 1))
		return tt_r_errf(r, TT_R_MISALIGNED, "task slot %X: misaligned",
				 slot_addr);
	/* Memory that holds still needs no seqlock: one look. */
	if (r->view_ && size) {
		const void *v = r->view_(r->view_ctx_, slot_addr, size);
		if (v)
			return tt_reader_decode_task(r, v, slot_addr, out);
	}
	for (uint32_t try = 0;; try++) {
		uint64_t s1, s2;

		/* seq before and after the copy: equal means no writer
		 * finished a mutation in between. */
		rc = tt_r_read(r, slot_addr + fs.offset, sb, fs.size, "task slot");
		if (rc)
			return rc;
		s1 = tt_r_get(sb, f0);
		rc = tt_r_read(r, slot_addr, b, size, "task slot");
		if (rc)
			return rc;
		rc = tt_r_read(r, slot_addr + fs.offset, sb, fs.size, "task slot");
		if (rc)
			return rc;
		s2 = tt_r_get(sb, f0);
		if (s1 == s2 && tt_r_get(b, fs) == s1) {
			uint64_t block = label_block(r, b) | hist_block(r, b);

			rc = tt_reader_decode_task(r, b, slot_addr, out);
			/* A label or histogram block is read after the
			 * slot: seq must not have moved past it either. */
			if (!block)
				return rc;
			if (tt_r_read(r, slot_addr + fs.offset, sb, fs.size,
				      "task slot") ||
			    tt_r_get(sb, f0) == s1)
				return rc;
		}
		if (try >= r->lim.torn_retries) {
			out->slot_addr = slot_addr;
			return tt_r_errf(r, TT_R_TORN,
					 "task slot %X: sequence kept changing "
					 "(%u tries)",
					 slot_addr, try + 1);
		}
	}
}

void tt_task_iter_init(tt_reader *r, tt_task_iter *it)
{
	memset(it, 0, sizeof(*it));
	/* A bad chunk count is reported by the first tt_task_iter_next;
	 * chunk == UINT32_MAX marks it pending. */
	if (tt_reader_chunk_count(r, &it->chunk_count))
		it->chunk = UINT32_MAX;
}

/* Advance IT to its next slot, loading chunks as needed: 1 with the
 * slot's address and index, 0 at the end, or a TT_R_* code for a chunk that
 * could not be read (its address in *ADDR). */
static int iter_slot(tt_reader *r, tt_task_iter *it, uint64_t *addr,
		     uint64_t *index)
{
	uint64_t stride = r->record_size[TT_REC_TASK];

	if (it->chunk == UINT32_MAX) {
		uint32_t n;
		it->chunk = 0;
		*addr = 0;
		return tt_reader_chunk_count(r, &n);
	}
	for (;;) {
		if (it->slot < it->slot_count) {
			*addr = it->slots_addr + it->slot * stride;
			*index = it->first_index + it->slot;
			it->slot++;
			return 1;
		}
		if (it->chunk >= it->chunk_count)
			return 0;

		tt_reader_chunk c;
		int rc = tt_reader_chunk_get(r, it->chunk++, it->total, &c);

		it->slot = it->slot_count = 0;
		if (rc) {
			*addr = c.addr;
			return rc;
		}
		it->slots_addr = c.slots;
		it->slot_count = c.used;
		it->first_index = c.first;
		it->total += c.count;
	}
}

/* RC of the slot at ADDR through the run rule: 0 to skip the slot
 * silently (inside a run of unreadable ones), else RC to report. */
static int iter_bad(tt_reader *r, tt_task_iter *it, uint64_t addr, int rc)
{
	if (rc != TT_R_UNREADABLE) {
		it->bad_run = 0;
		return rc;
	}
	if (it->bad_run++ == 0)
		return rc;
	if (it->bad_run < TT_R_BAD_RUN)
		return 0;
	it->bad_run = 0;
	it->slot = it->slot_count;
	return tt_r_errf(r, TT_R_UNREADABLE,
			 "task slot %X: %u unreadable slots in a row; rest of chunk skipped", addr,
			 TT_R_BAD_RUN);
}

int tt_task_iter_next(tt_reader *r, tt_task_iter *it, tt_rtask *out)
{
	for (;;) {
		uint64_t addr = 0, index = 0;
		int rc = iter_slot(r, it, &addr, &index);

		if (rc == 0)
			return 0;
		if (rc < 0) {
			memset(out, 0, sizeof(*out));
			out->slot_addr = addr;
			return rc;
		}
		rc = tt_reader_read_task(r, addr, out);
		out->slot_index = index;
		if (rc && !(rc = iter_bad(r, it, addr, rc)))
			continue;
		if (rc)
			return rc;
		it->bad_run = 0;
		if (out->id == 0)
			continue;
		return 1;
	}
}

int tt_task_iter_next_id(tt_reader *r, tt_task_iter *it, uint64_t *slot_addr,
			 uint64_t *id, uint32_t *flags)
{
	unsigned char buf[TT_R_TASK_MAX];
	uint32_t size = r->record_size[TT_REC_TASK];

	for (;;) {
		uint64_t addr = 0, index = 0;
		int rc = iter_slot(r, it, &addr, &index);

		*slot_addr = addr;
		*id = 0;
		*flags = 0;
		if (rc <= 0)
			return rc;
		if (addr & (TT_R_ALIGN - 1))
			return tt_r_errf(r, TT_R_MISALIGNED, "task slot %X: misaligned", addr);
		const unsigned char *b = tt_r_fetch(r, addr, buf, size, "task slot");
		if (!b) {
			if ((rc = iter_bad(r, it, addr, TT_R_UNREADABLE)))
				return rc;
			continue;
		}
		it->bad_run = 0;
		*id = tt_r_get(b, r->f_task[TT_TASK_ID]);
		if (!*id)
			continue;
		*flags = (uint32_t)tt_r_get(b, r->f_task[TT_TASK_FLAGS]);
		return 1;
	}
}

/* ---- await chains ---- */

#define WALK_LINEAR 16	  /* frames checked linearly before the set */
#define WALK_SET 256	  /* power of two */
#define WALK_SET_FILL 192 /* keep probes short */
#define WALK_PENDING 128  /* nested combinators with unvisited siblings */
#define WALK_FUNCS 8
/* Frames visited in one walk, kept or elided: a chain far deeper than any
 * program's is a corrupt one, and a signal handler must finish. */
#define WALK_HARD (1u << 16)

struct walk {
	uint64_t set[WALK_SET];
	uint32_t in_set; /* frames[0 .. in_set) are in set[] */
	uint32_t npend;
	struct {
		uint64_t addr;
		int32_t parent;
		uint32_t depth;
		uint32_t kept; /* frames kept above it on its path */
	} pend[WALK_PENDING];
	struct {
		uint64_t addr;
		uint32_t kind;
	} funcs[WALK_FUNCS];
	uint32_t fnext;
	/* Brent's check over the visits: a frame met again is a loop even
	 * after the ring let it go, found within twice the loop's length. */
	uint64_t mark;
	uint64_t power, lam;
	/* The descent being walked starts at frames[seg] (kept frames above
	 * it: seg_kept); once its path is longer than max_depth, frames
	 * [lo, lo + len) are a ring of its innermost frames, the oldest at
	 * lo + head, and every older one is let go (elided). */
	size_t seg, lo, len, head;
	uint32_t seg_kept;
};

static uint32_t set_hash(uint64_t a)
{
	return (uint32_t)(((a >> 3) * 0x9e3779b97f4a7c15ull) >> 40) &
	       (WALK_SET - 1);
}

static int set_has(const struct walk *w, uint64_t a)
{
	for (uint32_t h = set_hash(a);; h = (h + 1) & (WALK_SET - 1)) {
		if (w->set[h] == a)
			return 1;
		if (!w->set[h])
			return 0;
	}
}

static void set_add(struct walk *w, uint64_t a)
{
	uint32_t h = set_hash(a);

	while (w->set[h])
		h = (h + 1) & (WALK_SET - 1);
	w->set[h] = a;
	w->in_set++;
}

/* Has this walk met frame A before?  Short chains (nearly all) compare
 * linearly; longer ones use the hash set, and past its fill level the
 * frames not in it are compared linearly again.  The set only ever holds
 * frames visited, so a ring slot overwritten since still counts; the
 * ring's own slots are compared linearly, and frames the ring let go are
 * Brent's. */
static int seen(struct walk *w, const tt_rframe *frames, size_t n, uint64_t a)
{
	size_t i = 0;

	if (a == w->mark)
		return 1;
	if (++w->lam == w->power) {
		w->mark = a;
		w->power *= 2;
		w->lam = 0;
	}
	if (n > WALK_LINEAR) {
		if (!w->in_set)
			memset(w->set, 0, sizeof(w->set));
		while (w->in_set < n && w->in_set < WALK_SET_FILL)
			set_add(w, frames[w->in_set].addr);
		if (set_has(w, a))
			return 1;
		i = w->in_set;
		if (w->len && w->lo < i)
			i = w->lo;
	}
	for (; i < n; i++)
		if (frames[i].addr == a)
			return 1;
	return 0;
}

static int func_kind(tt_reader *r, struct walk *w, uint64_t frame,
		     uint64_t func, uint32_t *kind)
{
	char why[sizeof(r->err)];
	tt_rfunc f;
	int rc;

	for (uint32_t i = 0; i < WALK_FUNCS; i++) {
		if (w->funcs[i].addr == func && func) {
			*kind = w->funcs[i].kind;
			return TT_R_OK;
		}
	}
	rc = tt_reader_func(r, func, &f);
	if (rc) {
		memcpy(why, r->err, sizeof(why));
		return tt_r_errf(r, rc == TT_R_NOT_FOUND ? TT_R_UNREADABLE : rc,
				 "frame %X: %s", frame, why);
	}
	w->funcs[w->fnext].addr = func;
	w->funcs[w->fnext].kind = f.kind;
	w->fnext = (w->fnext + 1) % WALK_FUNCS;
	*kind = f.kind;
	return TT_R_OK;
}

/* The name a leaf's wait points at: a bad pointer costs the name, not the
 * frame (the object is then shown by address), and leaves the reader's
 * last error as it was. */
static void wait_name(tt_reader *r, uint64_t addr, char *out)
{
	char keep[sizeof r->err];

	out[0] = 0;
	if (!addr)
		return;
	memcpy(keep, r->err, sizeof keep);
	if (tt_reader_string(r, addr, out, TT_OBJECT_NAME_MAX) != TT_R_OK)
		out[0] = 0;
	memcpy(r->err, keep, sizeof keep);
}

/* The HOLDERS record at ADDR into OUT.  It belongs to a synchronisation
 * object the walk does not own: anything short of a clean, complete read
 * is "incomplete" (no deadlock edge is drawn through it), never an error
 * of the task. */
static void read_holders(tt_reader *r, uint64_t addr, tt_rframe *out)
{
	unsigned char buf[TT_R_RECORD_MAX], again[8];
	const tt_field *f = r->f_holders;
	uint32_t size = r->record_size[TT_REC_HOLDERS];

	out->wait_holders_state = TT_RHOLD_NONE;
	if (!addr)
		return;
	out->wait_holders_state = TT_RHOLD_INCOMPLETE;
	if (!size || !f[TT_HOLDERS_SEQ].size || !f[TT_HOLDERS_COUNT].size ||
	    !f[TT_HOLDERS_IDS].size || (addr & (TT_R_ALIGN - 1)) || addr + size < addr ||
	    r->mem.read(r->mem.ctx, addr, buf, size) < 0)
		return;
	uint64_t seq = tt_r_get(buf, f[TT_HOLDERS_SEQ]);
	uint64_t n = tt_r_get(buf, f[TT_HOLDERS_COUNT]);
	out->wait_last = f[TT_HOLDERS_LAST].size ? tt_r_get(buf, f[TT_HOLDERS_LAST]) : 0;
	/* A writer changes the record under its object's lock, seq odd
	 * meanwhile; read while it did, the record is torn. */
	if ((seq & 1) || n > f[TT_HOLDERS_IDS].size / 8 || n > TT_RHOLDERS_MAX ||
	    (f[TT_HOLDERS_FLAGS].size &&
	     (tt_r_get(buf, f[TT_HOLDERS_FLAGS]) & TT_HOLDERSF_INCOMPLETE)))
		return;
	for (uint32_t i = 0; i < n; i++) {
		tt_field id = {(uint16_t)(f[TT_HOLDERS_IDS].offset + 8 * i), 8};
		out->wait_holders[i] = tt_r_get(buf, id);
	}
	if (r->mem.read(r->mem.ctx, addr + f[TT_HOLDERS_SEQ].offset, again,
			f[TT_HOLDERS_SEQ].size) < 0 ||
	    tt_r_get(again, (tt_field){0, f[TT_HOLDERS_SEQ].size}) != seq)
		return;
	out->wait_nholders = (uint32_t)n;
	out->wait_holders_state = TT_RHOLD_COMPLETE;
}

static int read_frame(tt_reader *r, struct walk *w, uint64_t addr,
		      tt_rframe *out, uint64_t *child, uint64_t *sibling)
{
	unsigned char buf[TT_R_RECORD_MAX];
	const unsigned char *b = NULL;
	uint32_t fsize = r->record_size[TT_REC_FRAME];
	uint32_t wsize = r->record_size[TT_REC_WAIT];
	uint32_t want = fsize > wsize ? fsize : wsize;
	const tt_field *ff = r->f_frame, *fw = r->f_wait;
	int wide = 1, rc;

	if (addr & (TT_R_ALIGN - 1))
		return tt_r_errf(r, TT_R_MISALIGNED, "frame %X: misaligned",
				 addr);
	/* One read covers a leaf's wait record too; a small frame at the
	 * end of a mapping gets a second, narrower chance. */
	if (r->view_ && addr + want >= addr)
		b = r->view_(r->view_ctx_, addr, want);
	if (!b && addr + want >= addr && r->mem.read(r->mem.ctx, addr, buf, want) >= 0)
		b = buf;
	if (!b) {
		wide = want == fsize;
		b = tt_r_fetch(r, addr, buf, fsize, "frame");
		if (!b)
			return TT_R_UNREADABLE;
	}
	out->addr = addr;
	out->wait_name[0] = 0;
	out->func = tt_r_get(b, ff[TT_FRAME_FUNC]);
	out->site = tt_r_get(b, ff[TT_FRAME_SITE]);
	*child = tt_r_get(b, ff[TT_FRAME_CHILD]);
	*sibling = tt_r_get(b, ff[TT_FRAME_SIBLING]);
	rc = func_kind(r, w, addr, out->func, &out->kind);
	if (rc)
		return rc;
	if (out->kind != TT_FUNC_KIND_LEAF)
		return TT_R_OK;
	if (!wide)
		return tt_r_errf(r, TT_R_UNREADABLE,
				 "frame %X: wait record unreadable", addr);
	out->wait_kind = (uint32_t)tt_r_get(b, fw[TT_WAIT_KIND]);
	out->wait_object = tt_r_get(b, fw[TT_WAIT_OBJECT]);
	out->wait_owner = tt_r_get(b, fw[TT_WAIT_OWNER]);
	out->wait_since_ns = tt_r_get(b, fw[TT_WAIT_SINCE_NS]);
	out->wait_detail = tt_r_get(b, fw[TT_WAIT_DETAIL]);
	wait_name(r, tt_r_get(b, fw[TT_WAIT_NAME]), out->wait_name);
	out->wait_nholders = 0;
	out->wait_last = 0;
	read_holders(r, fw[TT_WAIT_HOLDERS].size ? tt_r_get(b, fw[TT_WAIT_HOLDERS]) : 0, out);
	return TT_R_OK;
}

/* Ring slot S is about to hold a new frame: the branches pending under
 * the frame it held go with it. */
static void ring_evict(struct walk *w, size_t s)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < w->npend; i++)
		if (w->pend[i].parent != (int32_t)s)
			w->pend[k++] = w->pend[i];
	w->npend = k;
}

static void reverse(tt_rframe *f, size_t n)
{
	for (size_t i = 0; i + 1 < n - i; i++) {
		tt_rframe t = f[i];
		f[i] = f[n - 1 - i];
		f[n - 1 - i] = t;
	}
}

/* The descent ended: the ring back in pre-order, oldest first, its first
 * frame awaited by frames[seg] (the depths say how many were let go in
 * between), and the branches pending under it moved along. */
static void ring_close(struct walk *w, tt_rframe *frames)
{
	size_t lo = w->lo, len = w->len, h = w->head;

	if (!len)
		return;
	reverse(frames + lo, h);
	reverse(frames + lo + h, len - h);
	reverse(frames + lo, len);
	for (size_t k = 0; k < len; k++)
		frames[lo + k].parent = (int32_t)(k ? lo + k - 1 : w->seg);
	for (uint32_t i = 0; i < w->npend; i++) {
		size_t p = (size_t)w->pend[i].parent;
		if (w->pend[i].parent < 0 || p < lo || p >= lo + len)
			continue;
		p = lo + (p - lo + len - h) % len;
		w->pend[i].parent = (int32_t)p;
		w->pend[i].kept = w->seg_kept + (uint32_t)(p - w->seg) + 1;
	}
	w->len = 0;
}

int tt_reader_walk_frames(tt_reader *r, uint64_t root_frame, tt_rframe *frames, size_t cap,
			  size_t *count)
{
	struct walk w;
	size_t limit = cap < r->lim.max_frames ? cap : r->lim.max_frames;
	size_t n = 0; /* frames kept; a ring's do not grow it */
	uint64_t addr = root_frame, visits = 0;
	uint64_t hard = r->lim.max_depth > WALK_HARD ? r->lim.max_depth : WALK_HARD;
	int32_t parent = -1;
	uint32_t depth = 0, kept = 0; /* kept: frames kept above this one */
	int rc = TT_R_OK;

	w.in_set = w.npend = w.fnext = 0;
	memset(w.funcs, 0, sizeof(w.funcs));
	w.mark = 0;
	w.power = 1;
	w.lam = 0;
	w.seg = w.lo = w.len = w.head = 0;
	w.seg_kept = 0;
	*count = 0;
	if (!root_frame)
		return TT_R_OK;
	for (;;) {
		uint64_t child = 0, sibling = 0;
		tt_rframe f;
		size_t at;

		if (depth > hard || visits++ > hard + limit) {
			rc = tt_r_errf(r, TT_R_TOO_DEEP, "await chain deeper than %U at frame %X",
				       hard, addr);
			break;
		}
		/* A path longer than max_depth keeps its first frames' root
		 * and its innermost frames: what the task waits on is at the
		 * bottom. */
		if (!w.len && kept >= r->lim.max_depth) {
			if (n - w.seg < 2) {
				rc = tt_r_errf(r, TT_R_TOO_DEEP,
					       "await chain deeper than %u at frame %X",
					       r->lim.max_depth, addr);
				break;
			}
			w.lo = w.seg + 1;
			w.len = n - w.lo;
			w.head = 0;
		}
		if (!w.len && n >= limit) {
			rc = tt_r_errf(r, TT_R_TOO_DEEP, "more than %U frames at frame %X",
				       (uint64_t)limit, addr);
			break;
		}
		if (seen(&w, frames, n, addr)) {
			rc = tt_r_errf(r, TT_R_CYCLE, "await chain loops at frame %X", addr);
			break;
		}
		memset(&f, 0, sizeof(f));
		rc = read_frame(r, &w, addr, &f, &child, &sibling);
		if (rc)
			break;
		f.parent = parent;
		f.depth = depth;
		if (w.len) {
			at = w.lo + w.head;
			ring_evict(&w, at);
			w.head = (w.head + 1) % w.len;
		} else {
			at = n++;
		}
		frames[at] = f;
		/* A root frame has no parent, so no siblings either. */
		if (sibling && depth > 0) {
			if (w.npend == WALK_PENDING) {
				rc = tt_r_errf(r, TT_R_TOO_DEEP,
					       "more than %u nested combinators "
					       "at frame %X",
					       WALK_PENDING, addr);
				break;
			}
			w.pend[w.npend].addr = sibling;
			w.pend[w.npend].parent = parent;
			w.pend[w.npend].depth = depth;
			w.pend[w.npend].kept = kept;
			w.npend++;
		}
		if (child) {
			parent = (int32_t)at;
			depth++;
			kept++;
			addr = child;
			continue;
		}
		ring_close(&w, frames);
		if (!w.npend)
			break;
		w.npend--;
		addr = w.pend[w.npend].addr;
		parent = w.pend[w.npend].parent;
		depth = w.pend[w.npend].depth;
		kept = w.pend[w.npend].kept;
		w.seg = n;
		w.seg_kept = kept;
	}
	ring_close(&w, frames);
	*count = n;
	return rc;
}

/* ---- the awaited path ---- */

void tt_frames_path_ends(const tt_rframe *frames, size_t stride, size_t n, tt_rpath_ends *out)
{
	const unsigned char *p = (const unsigned char *)frames;

	out->leaf = out->where = SIZE_MAX;
	out->combinator = 0;
	/* tt_reader_walk_frames writes pre-order, which puts a frame's first
	 * (awaited) child right after it; the loop is bounded by N. */
	for (size_t i = 0; i < n; i++) {
		const tt_rframe *f = (const tt_rframe *)(p + i * stride);
		if (f->kind == TT_FUNC_KIND_COMBINATOR)
			out->combinator = 1;
		if (f->kind != TT_FUNC_KIND_LEAF && f->site)
			out->where = i;
		if (i + 1 >= n ||
		    ((const tt_rframe *)(p + (i + 1) * stride))->parent != (int32_t)i) {
			out->leaf = i;
			return;
		}
	}
}
