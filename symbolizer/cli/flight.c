/* The flight recorder as every command reads it (trace, history): one
 * place for the one line said when there is none, or when events were
 * torn, so the commands say the same words and exit alike. */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"

int64_t cli_flight_read(cli_session *s, tt_reader *r, uint64_t task_id, tt_revent_fn fn, void *ctx,
			tt_rflight *st)
{
	int64_t rc = tt_reader_open(r, s->stopped ? s->stopped_mem : s->target.mem,
				    s->snap->root_addr, NULL);
	if (rc == TT_R_OK)
		rc = tt_flight_read(r, task_id, fn, ctx, st);
	if (rc < 0)
		fprintf(stderr, "tasktrace: %s: %s\n", cli_target_name(s), r->err);
	return rc;
}

void cli_flight_note(const tt_rflight *st)
{
	if (st->skipped || st->bad_rings)
		fprintf(stderr,
			"tasktrace: %" PRIu64
			" torn, overwritten or out-of-order events skipped%s%s\n",
			st->skipped, st->bad_rings ? "; a ring unreadable: " : "",
			st->bad_rings ? st->err : "");
}
