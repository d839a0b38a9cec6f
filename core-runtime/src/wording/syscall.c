/* The system call a thread is blocked in, in words: what the stall report
 * (reporters/stall.c) and `tasktrace hung` (cli/hung.c) print from
 * /proc/PID/task/TID/syscall and wchan.  Pure text in, text out: the
 * callers read the files. */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "tasktrace/read/format.h"

/* FD: the first argument is a file descriptor, printed in decimal. */
#define S_(name, fd)                  \
	{                             \
		SYS_##name, #name, fd \
	}
static const struct {
	long nr;
	const char *name;
	int fd;
} calls[] = {
    S_(read, 1),       S_(write, 1),	       S_(pread64, 1), S_(pwrite64, 1),	 S_(readv, 1),
    S_(writev, 1),     S_(recvfrom, 1),	       S_(sendto, 1),  S_(recvmsg, 1),	 S_(sendmsg, 1),
    S_(accept4, 1),    S_(connect, 1),	       S_(fsync, 1),   S_(fdatasync, 1), S_(flock, 1),
    S_(ioctl, 1),      S_(epoll_pwait, 1),     S_(ppoll, 0),   S_(pselect6, 0),	 S_(futex, 0),
    S_(nanosleep, 0),  S_(clock_nanosleep, 0), S_(wait4, 0),   S_(openat, 0),	 S_(fcntl, 1),
    S_(sendfile, 1),   S_(splice, 1),	       S_(waitid, 0),  S_(getrandom, 0), S_(msgrcv, 0),
    S_(semtimedop, 0),
#ifdef SYS_poll
    S_(poll, 0),
#endif
#ifdef SYS_select
    S_(select, 0),
#endif
#ifdef SYS_accept
    S_(accept, 1),
#endif
#ifdef SYS_epoll_wait
    S_(epoll_wait, 1),
#endif
#ifdef SYS_pause
    S_(pause, 0),
#endif
#ifdef SYS_open
    S_(open, 0),
#endif
};

const char *tt_syscall_name(long nr)
{
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (calls[i].nr == nr)
			return calls[i].name;
	return NULL;
}

/* "0 0x5 0x7ffd 0x1000 ..." (number, six arguments, sp, pc), "-1 sp pc"
 * when blocked outside a system call, "running". */
int tt_syscall_parse(const char *line, tt_syscall *out)
{
	char *end;

	memset(out, 0, sizeof(*out));
	if (!line || !*line)
		return out->state = TT_SC_UNKNOWN;
	if (!strncmp(line, "running", 7))
		return out->state = TT_SC_RUNNING;
	long nr = strtol(line, &end, 10);
	if (end == line)
		return out->state = TT_SC_UNKNOWN;
	if (nr < 0)
		return out->state = TT_SC_NONE;
	out->nr = nr;
	for (int i = 0; i < 6; i++) {
		const char *p = end;
		out->args[i] = strtoull(p, &end, 16);
		if (end == p)
			break;
	}
	return out->state = TT_SC_BLOCKED;
}

int tt_syscall_from_regs(int64_t orig_ax, int64_t ax, const uint64_t args[6], tt_syscall *out)
{
	memset(out, 0, sizeof(*out));
	if (orig_ax < 0)
		return out->state = TT_SC_NONE;
	out->nr = orig_ax;
	for (int i = 0; i < 6; i++)
		out->args[i] = args ? args[i] : 0;
	/* A stop that lands on a thread blocked in a call interrupts it: the
	 * kernel leaves -ERESTARTSYS (-512), -ERESTARTNOINTR, -ERESTARTNOHAND,
	 * -ERESTART_RESTARTBLOCK (-516) or -EINTR in the result register, and
	 * -ENOSYS on entry, before the call ran. */
	if ((ax <= -512 && ax >= -516) || ax == -4 || ax == -38)
		return out->state = TT_SC_BLOCKED;
	out->ret = ax;
	return out->state = TT_SC_RETURNING;
}

const char *tt_syscall_state_word(int state)
{
	static const char *const words[] = {"unknown", "running", "none", "blocked", "returning"};

	return state >= 0 && state <= TT_SC_RETURNING ? words[state] : "unknown";
}

int tt_fmt_syscall_of(tt_fbuf *b, const tt_syscall *sc, const char *wchan)
{
	int rc = 0;

	switch (sc ? sc->state : TT_SC_UNKNOWN) {
	case TT_SC_RUNNING:
		tt_fb_str(b, "running (not in a system call)");
		break;
	case TT_SC_NONE:
		tt_fb_str(b, "blocked outside a system call");
		break;
	case TT_SC_BLOCKED:
	case TT_SC_RETURNING: {
		const char *name = tt_syscall_name((long)sc->nr);
		int fd = 0;
		for (size_t i = 0; name && i < sizeof(calls) / sizeof(calls[0]); i++)
			if (calls[i].nr == sc->nr)
				fd = calls[i].fd;
		tt_fb_str(b, sc->state == TT_SC_BLOCKED ? "blocked in " : "returning from ");
		if (name) {
			tt_fb_str(b, name);
		} else {
			tt_fb_str(b, "system call ");
			tt_fb_u64(b, (uint64_t)sc->nr);
		}
		tt_fb_str(b, "(");
		if (fd)
			tt_fb_u64(b, (uint64_t)(int)sc->args[0]);
		else
			tt_fb_hex(b, sc->args[0]);
		tt_fb_str(b, ", ...)");
		if (sc->state == TT_SC_RETURNING) {
			tt_fb_str(b, " = ");
			if (sc->ret < 0) {
				tt_fb_str(b, "-");
				tt_fb_u64(b, (uint64_t)-sc->ret);
			} else {
				tt_fb_u64(b, (uint64_t)sc->ret);
			}
		}
		rc = 1;
		break;
	}
	default:
		tt_fb_str(b, "in an unknown state (no system call information)");
	}
	/* wchan: the kernel function it sleeps in ("pipe_read"); "0" when
	 * running. */
	if (wchan && *wchan && strcmp(wchan, "0")) {
		tt_fb_str(b, " (wchan ");
		tt_fb_text(b, wchan);
		tt_fb_str(b, ")");
	}
	return rc;
}

int tt_fmt_syscall(tt_fbuf *b, const char *line, const char *wchan)
{
	tt_syscall sc;

	tt_syscall_parse(line, &sc);
	return tt_fmt_syscall_of(b, &sc, wchan);
}
