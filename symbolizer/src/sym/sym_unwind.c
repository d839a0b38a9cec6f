/* Unwinding real threads: libdwfl's unwinder (CFI from .eh_frame or
 * .debug_frame, with its frame-pointer fallback) over registers from
 * ptrace (a stopped live thread) or from the core's NT_PRSTATUS notes. */
#include <stdio.h>
#include <string.h>

#include "sym/sym_priv.h"

typedef struct unwind {
	tt_sym_pc *out;
	int cap, n;
} unwind;

static int frame_cb(Dwfl_Frame *frame, void *arg)
{
	unwind *u = arg;
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(frame, &pc, &activation))
		return DWARF_CB_ABORT;
	if (u->n >= u->cap)
		return DWARF_CB_ABORT;
	u->out[u->n].pc = pc;
	/* The innermost frame and a signal frame hold the interrupted PC
	 * itself; every other frame a return address. */
	u->out[u->n].activation = activation;
	u->n++;
	return DWARF_CB_OK;
}

int tt_sym_unwind(tt_sym *s, pid_t tid, tt_sym_pc *out, int cap, char *err,
		  size_t errlen)
{
	unwind u = { out, cap, 0 };

	if (err && errlen)
		err[0] = 0;
	if (!s->attached) {
		sym_err(err, errlen, "%s",
			s->kind == TT_SYM_PID ? "threads can be unwound only while the process is stopped" :
						"this target has no threads to unwind");
		return TT_T_IO;
	}
	int rc = dwfl_getthread_frames(s->dwfl, tid, frame_cb, &u);
	if (rc != 0 && u.n < cap) {
		/* The outermost frame ends with an error on most stacks
		 * (no CFI for _start / clone3's child side): not worth a
		 * message once we have frames. */
		if (u.n == 0) {
			sym_err(err, errlen, "thread %d: %s", (int)tid, dwfl_errmsg(-1));
			return TT_T_IO;
		}
	}
	return u.n;
}
