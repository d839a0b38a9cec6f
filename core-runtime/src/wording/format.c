/* The shared wording; see format.h.  No stdio, no allocation: the crash
 * handler formats with these from a signal handler. */
#include <string.h>

#include "tasktrace/read/format.h"
#include "wording/untrusted.h"
#include "wording/waits.h"

/* ---- the buffer ---- */

void tt_fb_init(tt_fbuf *b, char *mem, size_t cap)
{
	b->p = mem;
	b->cap = cap;
	b->len = 0;
	if (cap)
		mem[0] = 0;
}

static inline void fb_putc(tt_fbuf *b, char c)
{
	if (b->len + 1 < b->cap) {
		b->p[b->len++] = c;
		b->p[b->len] = 0;
	}
}

/* Bytes left before the terminating NUL. */
static inline size_t fb_room(const tt_fbuf *b)
{
	return b->len + 1 < b->cap ? b->cap - 1 - b->len : 0;
}

/* Append N bytes (no NUL among them); what does not fit is dropped, as
 * byte-at-a-time appends would. */
static inline void fb_mem(tt_fbuf *b, const char *s, size_t n)
{
	size_t room = fb_room(b);

	if (!room)
		return;
	if (n > room)
		n = room;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void tt_fb_str(tt_fbuf *b, const char *s)
{
	fb_mem(b, s, strlen(s));
}

void tt_fb_text(tt_fbuf *b, const char *s)
{
	char esc[TT_UNTRUSTED_ESC_MAX];
	const char *out;
	size_t n;

	if (!s) {
		tt_fb_str(b, "??");
		return;
	}
	/* Whole pieces only: a cut escape or character would be the very
	 * garbage this writes around. */
	while (*s) {
		s += tt_untrusted_next(s, TT_UNTRUSTED_TEXT, esc, &out, &n);
		size_t room = fb_room(b);
		if (n > room) {
			if (out == esc)
				return;
			/* A run: keep its characters that fit. */
			n = room;
			while (n && ((unsigned char)out[n] & 0xc0) == 0x80)
				n--;
			fb_mem(b, out, n);
			return;
		}
		fb_mem(b, out, n);
	}
}

static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324"
	"25262728293031323334353637383940414243444546474849"
	"50515253545556575859606162636465666768697071727374"
	"75767778798081828384858687888990919293949596979899";

void tt_fb_u64(tt_fbuf *b, uint64_t v)
{
	char d[24];
	char *e = d + sizeof(d), *p = e;

	/* Two digits a division: ids and durations are mostly short. */
	while (v >= 100) {
		unsigned k = (unsigned)(v % 100) * 2;
		v /= 100;
		*--p = digit_pairs[k + 1];
		*--p = digit_pairs[k];
	}
	if (v >= 10) {
		*--p = digit_pairs[v * 2 + 1];
		*--p = digit_pairs[v * 2];
	} else {
		*--p = (char)('0' + v);
	}
	fb_mem(b, p, (size_t)(e - p));
}

void tt_fb_hex(tt_fbuf *b, uint64_t v)
{
	char d[20];
	char *e = d + sizeof(d), *p = e;

	do {
		*--p = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	*--p = 'x';
	*--p = '0';
	fb_mem(b, p, (size_t)(e - p));
}

void tt_fb_pad(tt_fbuf *b, size_t col)
{
	size_t room = fb_room(b);
	size_t n = col > b->len + 1 ? col - b->len : 1;

	if (!room)
		return;
	if (n > room)
		n = room;
	memset(b->p + b->len, ' ', n);
	b->len += n;
	b->p[b->len] = 0;
}

static void fb_quoted(tt_fbuf *b, const char *s)
{
	fb_putc(b, '"');
	tt_fb_text(b, s);
	fb_putc(b, '"');
}

/* ---- durations ---- */

#define US 1000ull
#define MS 1000000ull
#define SEC 1000000000ull
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

/* Like Go's time.Duration, trimmed to two units a human reads at a
 * glance: precision beyond that is noise in "how long has it waited". */
void tt_fmt_duration(tt_fbuf *b, uint64_t ns)
{
	if (ns < US) {
		tt_fb_u64(b, ns);
		tt_fb_str(b, "ns");
	} else if (ns < MS) {
		tt_fb_u64(b, ns / US);
		tt_fb_str(b, "us");
	} else if (ns < SEC) {
		tt_fb_u64(b, ns / MS);
		tt_fb_str(b, "ms");
	} else if (ns < MIN) {
		tt_fb_u64(b, ns / SEC);
		fb_putc(b, '.');
		tt_fb_u64(b, ns % SEC / (SEC / 10));
		fb_putc(b, 's');
	} else if (ns < HOUR) {
		tt_fb_u64(b, ns / MIN);
		fb_putc(b, 'm');
		tt_fb_u64(b, ns % MIN / SEC);
		fb_putc(b, 's');
	} else {
		tt_fb_u64(b, ns / HOUR);
		fb_putc(b, 'h');
		tt_fb_u64(b, ns % HOUR / MIN);
		fb_putc(b, 'm');
	}
}

/* ---- histograms (docs/registry-abi.md §5.13) ---- */

static void hist_bound(tt_fbuf *b, uint32_t ms)
{
	if (ms >= 1024) {
		tt_fb_u64(b, ms / 1024);
		fb_putc(b, 's');
	} else {
		tt_fb_u64(b, ms);
		tt_fb_str(b, "ms");
	}
}

void tt_fmt_hist_bucket(tt_fbuf *b, uint32_t i, uint32_t n)
{
	if (i == 0) {
		tt_fb_str(b, "<1ms");
		return;
	}
	if (i + 1 >= n) {
		tt_fb_str(b, ">=");
		hist_bound(b, 1u << (i - 1));
		return;
	}
	uint32_t lo = 1u << (i - 1), hi = 1u << i;
	if (lo < 1024 && hi >= 1024) {
		hist_bound(b, lo);
		fb_putc(b, '-');
		hist_bound(b, hi);
		return;
	}
	tt_fb_u64(b, lo >= 1024 ? lo / 1024 : lo);
	fb_putc(b, '-');
	hist_bound(b, hi);
}

int tt_hist_percentile(const uint32_t *h, uint32_t n, uint32_t p)
{
	uint64_t total = 0, seen = 0;

	for (uint32_t i = 0; i < n; i++)
		total += h[i];
	if (!total)
		return -1;
	/* The bucket holding the sample of rank ceil(total * p / 100). */
	uint64_t rank = (total * p + 99) / 100;
	for (uint32_t i = 0; i < n; i++) {
		seen += h[i];
		if (seen >= rank)
			return (int)i;
	}
	return (int)n - 1;
}

int tt_hist_reaches(const uint32_t *h, uint32_t n, uint32_t threshold_bucket)
{
	for (uint32_t i = threshold_bucket; i < n; i++)
		if (h[i])
			return 1;
	return 0;
}

void tt_fmt_hist(tt_fbuf *b, const uint32_t *h, uint32_t n)
{
	int first = 1;

	if (tt_hist_percentile(h, n, 50) < 0)
		return;
	for (uint32_t i = 0; i < n; i++) {
		if (!h[i])
			continue;
		if (!first)
			tt_fb_str(b, ", ");
		first = 0;
		tt_fmt_hist_bucket(b, i, n);
		fb_putc(b, ' ');
		tt_fb_u64(b, h[i]);
	}
	tt_fb_str(b, "; p50 ");
	tt_fmt_hist_bucket(b, (uint32_t)tt_hist_percentile(h, n, 50), n);
	tt_fb_str(b, ", p99 ");
	tt_fmt_hist_bucket(b, (uint32_t)tt_hist_percentile(h, n, 99), n);
}

/* ---- waits ---- */

static const tt_wait_row wait_rows[TT_WAIT_KIND_MAX_] = {
#define XX(name, value, word, shape, link, edge, handoff, idle_advice, orphan, orphan_advice,     \
	   cycle_advice)                                                                         \
	[value] = { word, link, TT_WS_##shape, edge, handoff, idle_advice, orphan, orphan_advice, \
		    cycle_advice },
	TT_WAIT_KIND_MAP(XX)
#undef XX
};

const tt_wait_row *tt_fmt_wait_row(uint32_t kind)
{
	static const tt_wait_row unknown = { "?", "owned by", TT_WS_OBJECT, 0, 0, 0, 0, 0, 0 };

	return kind < TT_WAIT_KIND_MAX_ && wait_rows[kind].word ? &wait_rows[kind] : &unknown;
}

static int has_wait(const tt_rframe *f)
{
	return f && f->kind == TT_FUNC_KIND_LEAF && f->wait_kind != TT_WAIT_NONE;
}

/* A stamp from the target is only meaningful at or before now. */
static int age_known(uint64_t since, uint64_t now)
{
	return since != 0 && since <= now;
}

/* Timers read best by what is left; everything else by how long it has
 * waited.  SEP goes between the kind and the time ("" or ","). */
static void wait_phrase(tt_fbuf *b, const tt_rframe *f, uint64_t now,
			const char *sep, int named)
{
	tt_fb_str(b, tt_wait_kind_name(f->wait_kind));
	if (named && f->wait_name[0]) {
		fb_putc(b, ' ');
		fb_quoted(b, f->wait_name);
	}
	if (tt_fmt_wait_row(f->wait_kind)->shape == TT_WS_DEADLINE && f->wait_detail) {
		tt_fb_str(b, sep);
		fb_putc(b, ' ');
		if (f->wait_detail >= now) {
			tt_fmt_duration(b, f->wait_detail - now);
			tt_fb_str(b, " left");
		} else {
			tt_fb_str(b, "overdue ");
			tt_fmt_duration(b, now - f->wait_detail);
		}
	} else if (age_known(f->wait_since_ns, now)) {
		tt_fb_str(b, sep);
		fb_putc(b, ' ');
		tt_fmt_duration(b, now - f->wait_since_ns);
	}
}

/* NAMED: with the object's name -- not in a table's column, whose width
 * a name would overrun (bt and tree show it, ps leaves it to them). */
static void wait_short(tt_fbuf *b, const tt_fmt_task *v, uint64_t now, int named)
{
	const tt_rtask *t = v->task;

	if (v->bad_record) {
		fb_putc(b, '-');
	} else if (t->state == TT_STATE_SCHEDULED && age_known(t->wake_ns, now)) {
		tt_fb_str(b, "runnable ");
		tt_fmt_duration(b, now - t->wake_ns);
	} else if (t->state == TT_STATE_IDLE && has_wait(v->leaf)) {
		wait_phrase(b, v->leaf, now, "", named);
	} else {
		fb_putc(b, '-');
	}
}

void tt_fmt_wait_short(tt_fbuf *b, const tt_fmt_task *v, uint64_t now)
{
	wait_short(b, v, now, 0);
}

static void owner_ref(tt_fbuf *b, uint64_t owner, const char *owner_name)
{
	tt_fb_str(b, "task ");
	tt_fb_u64(b, owner);
	if (owner_name) {
		fb_putc(b, ' ');
		fb_quoted(b, owner_name);
	}
}

static void timer_wait(tt_fbuf *b, const tt_rframe *f, const tt_wait_row *w, uint64_t now)
{
	tt_fb_str(b, w->word);
	if (!f->wait_detail)
		return;
	if (f->wait_detail >= now) {
		tt_fb_str(b, ", deadline in ");
		tt_fmt_duration(b, f->wait_detail - now);
	} else {
		tt_fb_str(b, ", deadline passed ");
		tt_fmt_duration(b, now - f->wait_detail);
		tt_fb_str(b, " ago");
	}
}

/* The kinds whose detail is a file descriptor. */
static void fd_wait(tt_fbuf *b, const tt_rframe *f, const tt_wait_row *w)
{
	tt_fb_str(b, "waits on fd ");
	tt_fb_u64(b, f->wait_detail);
	fb_putc(b, ' ');
	tt_fb_str(b, w->link);
}

static void object_wait(tt_fbuf *b, const tt_rframe *f, const tt_wait_row *w,
			const char *owner_name)
{
	tt_fb_str(b, "waits on ");
	tt_fb_str(b, w->word);
	if (w->shape == TT_WS_CALL)
		return;
	fb_putc(b, ' ');
	/* a name the program gave the object reads better than its address */
	if (f->wait_name[0])
		fb_quoted(b, f->wait_name);
	else
		tt_fb_hex(b, f->wait_object);
	if (f->wait_owner) {
		fb_putc(b, ' ');
		tt_fb_str(b, w->link);
		fb_putc(b, ' ');
		owner_ref(b, f->wait_owner, owner_name);
	} else if (f->wait_last) {
		/* No owner, but the HOLDERS record saw who last used that
		 * side: a lead, not an owner. */
		tt_fb_str(b, " (last ");
		tt_fb_str(b, w->link);
		tt_fb_str(b, " task ");
		tt_fb_u64(b, f->wait_last);
		fb_putc(b, ')');
	}
}

void tt_fmt_leaf_wait(tt_fbuf *b, const tt_rframe *f, const char *owner_name,
		      uint64_t now)
{
	const tt_wait_row *w = tt_fmt_wait_row(f->wait_kind);

	switch (w->shape) {
	case TT_WS_NONE:
		tt_fb_str(b, "not waiting");
		return;
	case TT_WS_DEADLINE:
		timer_wait(b, f, w, now);
		break;
	case TT_WS_FD:
		fd_wait(b, f, w);
		break;
	case TT_WS_JOIN:
		tt_fb_str(b, "waits on ");
		tt_fb_str(b, w->word);
		fb_putc(b, ' ');
		tt_fb_str(b, w->link);
		fb_putc(b, ' ');
		if (f->wait_owner)
			owner_ref(b, f->wait_owner, owner_name);
		else
			tt_fb_hex(b, f->wait_object);
		break;
	default:
		object_wait(b, f, w, owner_name);
		break;
	}
	if (age_known(f->wait_since_ns, now)) {
		tt_fb_str(b, " [for ");
		tt_fmt_duration(b, now - f->wait_since_ns);
		fb_putc(b, ']');
	}
}

/* ---- task summaries ---- */

void tt_fmt_worker(tt_fbuf *b, uint64_t runtime_id, int64_t index, int several)
{
	if (several) {
		tt_fb_u64(b, runtime_id);
		fb_putc(b, '.');
	}
	if (index >= 0)
		tt_fb_u64(b, (uint64_t)index);
	else
		fb_putc(b, '?');
}

void tt_fmt_fork_note(tt_fbuf *b, const tt_runtimes *rt)
{
	int all = 1;

	for (uint32_t i = 0; i < rt->count && i < TT_RUNTIMES_SEEN; i++)
		all &= rt->ids[i] <= rt->inherited_upto;
	if (all || rt->count > TT_RUNTIMES_SEEN) {
		tt_fb_str(b, "registry inherited from parent PID ");
		tt_fb_u64(b, rt->inherited_from);
		tt_fb_str(b, " through fork: its tasks are the parent's, frozen");
		return;
	}
	tt_fb_str(b, "the tasks of runtime");
	tt_fb_str(b, rt->inherited_upto > 1 ? "s 1-" : " ");
	tt_fb_u64(b, rt->inherited_upto);
	tt_fb_str(b, " were inherited from parent PID ");
	tt_fb_u64(b, rt->inherited_from);
	tt_fb_str(b, " through fork: they are the parent's, frozen");
}

void tt_fmt_state(tt_fbuf *b, const tt_fmt_task *v)
{
	const tt_rtask *t = v->task;

	if (v->bad_record) {
		tt_fb_str(b, v->bad_record == TT_R_TORN ? "torn" : "invalid");
		return;
	}
	tt_fb_str(b, tt_state_name(t->state));
	if (t->flags & TT_TASKF_CANCEL_REQUESTED)
		tt_fb_str(b, " cancelling");
	if (t->flags & TT_TASKF_SYSTEM)
		tt_fb_str(b, " system");
	if (v->inherited_from)
		tt_fb_str(b, " inherited");
}

/* A copied task's worker is a thread of the parent: no tid here. */
static void running_on(tt_fbuf *b, const tt_fmt_task *v, const char *tid_sep)
{
	tt_fb_str(b, "running on worker ");
	tt_fmt_worker(b, v->runtime_id, v->task->worker, v->runtimes > 1);
	if (v->inherited_from) {
		tt_fb_str(b, " of pid ");
		tt_fb_u64(b, v->inherited_from);
	} else if (v->tid > 0) {
		tt_fb_str(b, tid_sep);
		tt_fb_u64(b, (uint64_t)v->tid);
	}
}

/* After a task's name in bt and tree: " (rt 2, inherited from pid 41)". */
static void task_tags(tt_fbuf *b, const tt_fmt_task *v)
{
	int several = v->runtimes > 1;

	if (!several && !v->inherited_from)
		return;
	tt_fb_str(b, " (");
	if (several) {
		tt_fb_str(b, "rt ");
		tt_fb_u64(b, v->runtime_id);
	}
	if (v->inherited_from) {
		tt_fb_str(b, several ? ", inherited from pid " : "inherited from pid ");
		tt_fb_u64(b, v->inherited_from);
	}
	fb_putc(b, ')');
}

void tt_fmt_where(tt_fbuf *b, const tt_fmt_task *v)
{
	size_t start = b->len;

	if (v->bad_record) {
		/* only the error below */
	} else if (v->task->state == TT_STATE_RUNNING) {
		running_on(b, v, " (tid ");
		if (v->tid > 0)
			fb_putc(b, ')');
	} else if (v->where_func) {
		if (v->runtimes > 1) {
			tt_fb_str(b, "rt ");
			tt_fb_u64(b, v->runtime_id);
			tt_fb_str(b, ": ");
		}
		tt_fb_text(b, v->where_func);
		if (v->where_file) {
			tt_fb_str(b, " at ");
			tt_fb_text(b, v->where_file);
			fb_putc(b, ':');
			tt_fb_u64(b, v->where_line);
		}
	}
	if (v->error) {
		if (b->len != start)
			fb_putc(b, ' ');
		tt_fb_str(b, "(error: ");
		tt_fb_text(b, tt_fmt_strip_task_prefix(v->error));
		fb_putc(b, ')');
	}
}

/* Columns of the ps table; the header below is laid out on them. */
#define COL_STATE 7
#define COL_WAIT 26
#define COL_NAME 48
#define COL_WHERE 65

void tt_fmt_labels(tt_fbuf *b, const tt_rtask *t)
{
	if (!t->nlabels && !t->label_flags)
		return;
	fb_putc(b, '{');
	for (uint32_t i = 0; i < t->nlabels && i < TT_TASK_LABELS_MAX; i++) {
		if (i)
			fb_putc(b, ' ');
		tt_fb_text(b, t->labels[i].key);
		fb_putc(b, '=');
		tt_fb_text(b, t->labels[i].value);
	}
	if (t->label_flags & TT_RLABELS_CUT)
		tt_fb_str(b, t->nlabels ? " ..." : "...");
	if (t->label_flags & TT_RLABELS_BAD)
		tt_fb_str(b, t->nlabels || (t->label_flags & TT_RLABELS_CUT) ? " ?" : "?");
	fb_putc(b, '}');
}

void tt_fmt_ps_header(tt_fbuf *b)
{
	tt_fb_str(b, "  Id   State              Wait                  Name             Where");
}

void tt_fmt_ps_row(tt_fbuf *b, const tt_fmt_task *v, uint64_t now)
{
	size_t base = b->len;

	fb_putc(b, v->selected ? '*' : ' ');
	fb_putc(b, ' ');
	tt_fb_u64(b, v->task->id);
	tt_fb_pad(b, base + COL_STATE);
	tt_fmt_state(b, v);
	tt_fb_pad(b, base + COL_WAIT);
	tt_fmt_wait_short(b, v, now);
	tt_fb_pad(b, base + COL_NAME);
	tt_fb_text(b, v->task->name);
	tt_fb_pad(b, base + COL_WHERE);
	tt_fmt_where(b, v);
	if (v->labels && (v->task->nlabels || v->task->label_flags)) {
		tt_fb_str(b, "  ");
		tt_fmt_labels(b, v->task);
	}
	while (b->len > base && b->p[b->len - 1] == ' ')
		b->p[--b->len] = 0;
}

/* ---- bt ---- */

void tt_fmt_bt_header(tt_fbuf *b, const tt_fmt_task *v, uint64_t now)
{
	const tt_rtask *t = v->task;

	tt_fb_str(b, "task ");
	tt_fb_u64(b, t->id);
	fb_putc(b, ' ');
	fb_quoted(b, t->name);
	if (t->nlabels || t->label_flags) {
		fb_putc(b, ' ');
		tt_fmt_labels(b, t);
	}
	task_tags(b, v);
	tt_fb_str(b, " [");
	if (v->bad_record) {
		tt_fmt_state(b, v);
	} else if (t->state == TT_STATE_RUNNING) {
		running_on(b, v, ", tid ");
	} else if (t->state == TT_STATE_IDLE && has_wait(v->leaf)) {
		wait_phrase(b, v->leaf, now, ",", 1);
	} else {
		tt_fmt_state(b, v);
		if (t->state == TT_STATE_SCHEDULED && age_known(t->wake_ns, now)) {
			tt_fb_str(b, ", woken ");
			tt_fmt_duration(b, now - t->wake_ns);
			tt_fb_str(b, " ago");
		}
	}
	tt_fb_str(b, "]:");
}

static void frame_number(tt_fbuf *b, int num, int indent)
{
	for (int i = 0; i < indent; i++)
		fb_putc(b, ' ');
	if (num < 0)
		return;
	size_t start = b->len;
	fb_putc(b, '#');
	tt_fb_u64(b, (uint64_t)num);
	tt_fb_pad(b, start + 4);
}

void tt_fmt_bt_running(tt_fbuf *b, int num, const tt_fmt_task *v)
{
	frame_number(b, num, 0);
	fb_putc(b, '<');
	running_on(b, v, ", tid ");
	fb_putc(b, '>');
}

void tt_fmt_bt_frame(tt_fbuf *b, int num, int indent, const tt_rframe *f,
		     const char *func, const char *site_file, uint32_t site_line, int returned,
		     const char *owner_name, uint64_t now)
{
	frame_number(b, num, indent);
	tt_fb_text(b, func);
	if (f->kind == TT_FUNC_KIND_LEAF) {
		tt_fb_str(b, "  ");
		tt_fmt_leaf_wait(b, f, owner_name, now);
		return;
	}
	tt_fb_str(b, " ()");
	if (returned) {
		/* (a running task caught before its caller moved on) */
		tt_fb_str(b, " returned");
	} else if (site_file) {
		tt_fb_str(b, " at ");
		tt_fb_text(b, site_file);
		fb_putc(b, ':');
		tt_fb_u64(b, site_line);
	} else {
		tt_fb_str(b, " (not suspended at an await)");
	}
}

void tt_fmt_ancestor(tt_fbuf *b, uint64_t parent_id, const char *parent_name,
		     const char *file, uint32_t line, const char *function)
{
	tt_fb_str(b, "spawned by task ");
	tt_fb_u64(b, parent_id);
	if (parent_name) {
		fb_putc(b, ' ');
		fb_quoted(b, parent_name);
	} else {
		tt_fb_str(b, " (gone)");
	}
	if (file) {
		tt_fb_str(b, " at ");
		tt_fb_text(b, file);
		fb_putc(b, ':');
		tt_fb_u64(b, line);
		if (function) {
			tt_fb_str(b, " (");
			tt_fb_text(b, function);
			fb_putc(b, ')');
		}
	}
}

/* ---- tree ---- */

void tt_fmt_tree_node(tt_fbuf *b, int indent, const tt_fmt_task *v,
		      uint64_t now)
{
	const tt_rtask *t = v->task;

	for (int i = 0; i < indent; i++)
		fb_putc(b, ' ');
	tt_fb_u64(b, t->id);
	fb_putc(b, ' ');
	fb_quoted(b, t->name);
	task_tags(b, v);
	fb_putc(b, ' ');
	if (t->nlabels || t->label_flags) {
		tt_fmt_labels(b, t);
		fb_putc(b, ' ');
	}
	tt_fmt_state(b, v);
	if (t->state == TT_STATE_RUNNING) {
		tt_fb_str(b, " [");
		running_on(b, v, ", tid ");
		fb_putc(b, ']');
	} else if ((t->state == TT_STATE_IDLE && has_wait(v->leaf)) ||
		   (t->state == TT_STATE_SCHEDULED && age_known(t->wake_ns, now))) {
		tt_fb_str(b, " [");
		wait_short(b, v, now, 1);
		fb_putc(b, ']');
	}
	if (v->error) {
		tt_fb_str(b, " (error: ");
		tt_fb_text(b, tt_fmt_strip_task_prefix(v->error));
		fb_putc(b, ')');
	}
}

const char *tt_fmt_strip_task_prefix(const char *msg)
{
	const char *p = msg;

	if (!p || p[0] != 't' || p[1] != 'a' || p[2] != 's' || p[3] != 'k' ||
	    p[4] != ' ')
		return msg;
	p += 5;
	if (*p < '0' || *p > '9')
		return msg;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p[0] != ':' || p[1] != ' ')
		return msg;
	return p + 2;
}

/* ---- native frames (symbolizer) ---- */

void tt_fmt_bt_native(tt_fbuf *b, int num, uint64_t pc, int inlined,
		      const char *func, const char *file, uint32_t line,
		      const char *module)
{
	frame_number(b, num, 0);
	/* Like gdb: an inlined frame has no address of its own. */
	if (!inlined) {
		tt_fb_hex(b, pc);
		tt_fb_str(b, " in ");
	}
	tt_fb_text(b, func ? func : "??");
	tt_fb_str(b, " ()");
	if (file) {
		tt_fb_str(b, " at ");
		tt_fb_text(b, file);
		fb_putc(b, ':');
		tt_fb_u64(b, line);
	} else if (module) {
		tt_fb_str(b, " from ");
		tt_fb_text(b, module);
	}
	if (inlined)
		tt_fb_str(b, " [inlined]");
}
