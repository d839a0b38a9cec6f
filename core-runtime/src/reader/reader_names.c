/* The words every front end uses for the registry's enums and the reader's
 * errors, and the core's message formatter.  Plain tables and no stdio:
 * the crash handler calls these too. */
#include <errno.h>

#include "reader/reader_priv.h"

#define N_(a) (sizeof(a) / sizeof((a)[0]))

const char *tt_strerror(int code)
{
	static const char *const names[] = {
#define XX(name, number, message) [number] = message,
		TT_ERROR_MAP(XX)
#undef XX
	};

	if (code == 0)
		return "success";
	if (code < 0 && code > -4096)
		return tt_r_errno_text(-code);
	if (code < -4096 && (unsigned)(-(code + 4096)) < N_(names) && names[-(code + 4096)])
		return names[-(code + 4096)];
	return "unknown reader error";
}

const char *tt_state_name(uint32_t state)
{
	static const char *const names[] = {
#define XX(name, value, word) [value] = word,
		TT_TASK_STATE_MAP(XX)
#undef XX
	};

	return state < N_(names) && names[state] ? names[state] : "?";
}

const char *tt_wait_kind_name(uint32_t kind)
{
	static const char *const names[TT_WAIT_KIND_MAX_] = {
#define XX(name, value, word, ...) [value] = word,
		TT_WAIT_KIND_MAP(XX)
#undef XX
	};

	return kind < N_(names) && names[kind] ? names[kind] : "?";
}

const char *tt_r_record_name(int rec)
{
	static const char *const names[TT_REC_MAX_] = {
		"?", "root", "chunk", "task", "frame", "wait", "site", "func",
		"worker", "label", "holders", "ring", "event",
	};

	return rec > 0 && rec < TT_REC_MAX_ ? names[rec] : "?";
}

static const char *const root_f[TT_ROOT_MAX_] = {
	"size", "chunks", "chunk_count", "chunk_capacity", "workers",
	"worker_count", "worker_capacity", "now_ns", "start_mono_ns",
	"start_real_ns", "tasks_live", "next_task_id", "runtime_name", "pid",
	"sites_start", "sites_stop", "funcs_start", "funcs_stop", "flags",
	"fork_parent_pid", "fork_runtimes", "foreign_ring",
};
static const char *const chunk_f[TT_CHUNK_MAX_] = {
	"size", "slots", "slot_count", "first_index", "used",
};
static const char *const task_f[TT_TASK_MAX_] = {
	"size", "id", "seq", "state", "flags", "name", "parent_id",
	"spawn_site", "root_frame", "worker", "created_ns", "poll_start_ns",
	"poll_end_ns", "wake_ns", "polls", "busy_ns", "wakes", "self_wakes",
	"wakers", "runtime_id", "label_count", "labels", "label_block", "hist",
};
static const char *const frame_f[TT_FRAME_MAX_] = {
	"size", "func", "site", "child", "sibling",
};
static const char *const wait_f[TT_WAIT_MAX_] = {
	"size", "kind", "object", "owner", "since_ns", "detail", "holders",
};
static const char *const holders_f[TT_HOLDERS_MAX_] = {
	"size", "seq", "count", "flags", "last", "ids",
};
static const char *const site_f[TT_SITE_MAX_] = {
	"size", "function", "file", "line", "flags", "resume",
};
static const char *const func_f[TT_FUNC_MAX_] = {
	"size", "name", "file", "line", "kind", "type_name", "frame_size",
	"poll",
};
static const char *const label_f[TT_LABEL_MAX_] = {
	"size", "key", "value",
};
static const char *const worker_f[TT_WORKER_MAX_] = {
	"size", "tid", "index", "state", "task_id", "task", "poll_start_ns",
	"runtime_id", "ring",
};
static const char *const ring_f[TT_RING_MAX_] = {
	"size", "capacity", "head", "events", "worker",
};
static const char *const event_f[TT_EVENT_MAX_] = {
	"size", "seq", "stamp_ns", "kind", "task", "arg1", "arg2", "arg3", "start_ns",
};

const char *tt_event_kind_name(uint32_t kind)
{
	static const char *const names[] = {
#define XX(name, value, word) [value] = word,
		TT_EVENT_KIND_MAP(XX)
#undef XX
	};

	return kind < N_(names) && names[kind] ? names[kind] : "?";
}

const char *tt_r_field_name(int rec, int field)
{
	static const struct {
		const char *const *names;
		int n;
	} recs[TT_REC_MAX_] = {
		[TT_REC_ROOT] = { root_f, TT_ROOT_MAX_ },
		[TT_REC_CHUNK] = { chunk_f, TT_CHUNK_MAX_ },
		[TT_REC_TASK] = { task_f, TT_TASK_MAX_ },
		[TT_REC_FRAME] = { frame_f, TT_FRAME_MAX_ },
		[TT_REC_WAIT] = { wait_f, TT_WAIT_MAX_ },
		[TT_REC_SITE] = { site_f, TT_SITE_MAX_ },
		[TT_REC_FUNC] = { func_f, TT_FUNC_MAX_ },
		[TT_REC_WORKER] = { worker_f, TT_WORKER_MAX_ },
		[TT_REC_LABEL] = { label_f, TT_LABEL_MAX_ },
		[TT_REC_HOLDERS] = { holders_f, TT_HOLDERS_MAX_ },
		[TT_REC_RING] = { ring_f, TT_RING_MAX_ },
		[TT_REC_EVENT] = { event_f, TT_EVENT_MAX_ },
	};

	if (rec <= 0 || rec >= TT_REC_MAX_ || field < 0 ||
	    field >= recs[rec].n)
		return "?";
	return recs[rec].names[field];
}

/* strerror() may take locks and consult locale data: not for a signal
 * handler.  The errnos a memory read can produce are enough. */
const char *tt_r_errno_text(int err)
{
	switch (err) {
	case EFAULT: return "Bad address";
	case EIO: return "Input/output error";
	case EPERM: return "Operation not permitted";
	case EACCES: return "Permission denied";
	case ESRCH: return "No such process";
	case ENOMEM: return "Cannot allocate memory";
	case EINVAL: return "Invalid argument";
	case ENOSYS: return "Function not implemented";
	case EBADF: return "Bad file descriptor";
	case EINTR: return "Interrupted system call";
	case EAGAIN: return "Resource temporarily unavailable";
	case ENOENT: return "No such file or directory";
	case ETIME:
		return "not read: the stop budget ran out";
	}
	return "unknown error";
}

/* ---- formatting without stdio ---- */

struct out {
	char *p;
	size_t len, n;
};

static void put_c(struct out *o, char c)
{
	if (o->n + 1 < o->len)
		o->p[o->n++] = c;
}

static void put_s(struct out *o, const char *s)
{
	if (!s)
		s = "(null)";
	while (*s)
		put_c(o, *s++);
}

static void put_u(struct out *o, uint64_t v, unsigned base)
{
	char tmp[24];
	int i = 0;

	do {
		tmp[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (i)
		put_c(o, tmp[--i]);
}

size_t tt_r_vfmt(char *buf, size_t len, const char *fmt, va_list ap)
{
	struct out o = { buf, len, 0 };

	if (!len)
		return 0;
	for (; *fmt; fmt++) {
		if (*fmt != '%' || !fmt[1]) {
			put_c(&o, *fmt);
			continue;
		}
		switch (*++fmt) {
		case 's': put_s(&o, va_arg(ap, const char *)); break;
		case 'd': {
			int v = va_arg(ap, int);
			if (v < 0)
				put_c(&o, '-');
			put_u(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10);
			break;
		}
		case 'u': put_u(&o, va_arg(ap, unsigned), 10); break;
		case 'U': put_u(&o, va_arg(ap, uint64_t), 10); break;
		case 'X':
			put_s(&o, "0x");
			put_u(&o, va_arg(ap, uint64_t), 16);
			break;
		case 'E': {
			int e = va_arg(ap, int);
			put_s(&o, tt_r_errno_text(e < 0 ? -e : e));
			break;
		}
		default: put_c(&o, *fmt); break;
		}
	}
	o.p[o.n] = 0;
	return o.n;
}

int tt_r_errf(tt_reader *r, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tt_r_vfmt(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return code;
}
