/* `tasktrace history TARGET ID`: one task's recent past from the flight
 * recorder, in the words of wording/history.c (gdb's `task history`). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "tasktrace/read/history.h"

static int history_run(const cli_cmd *cmd, int argc, char **argv)
{
	cli_opts o;
	cli_session s;
	uint64_t id;
	int first, rc;

	if ((rc = cli_parse(cmd, argc, argv, &o, &first)) >= 0)
		return rc;
	if (argc == first)
		return cli_usage(cmd, "missing TARGET (a pid or a core file)");
	if ((rc = cli_parse_target(cmd, argv[first])) >= 0)
		return rc;
	if (argc - first != 2)
		return cli_usage(cmd, "expected TARGET and one task ID");
	if (cli_parse_id(argv[first + 1], &id))
		return cli_usage(cmd, "'%s' is not a task id", argv[first + 1]);
	if ((rc = cli_open_target(&s, &o, argv[first])) != EXIT_OK)
		return rc;
	size_t found = 0;
	char *text = tt_history_text(s.stopped ? s.stopped_mem : s.target.mem, s.snap, id, 0,
				     s.now_ns, &found);
	if (!text) {
		fprintf(stderr, "tasktrace: out of memory\n");
		rc = EXIT_TARGET;
	} else {
		fputs(text, stdout);
		/* A task the registry does not have and the rings never saw. */
		if (!found && !tt_snapshot_find(s.snap, id))
			rc = EXIT_TARGET;
	}
	free(text);
	cli_close(&s);
	return rc;
}

const cli_cmd cmd_history = {
    "history",
    "print a task's recent events from the flight recorder",
    "Usage: tasktrace history [OPTIONS] TARGET ID\n"
    "\n"
    "Print what the flight recorder of TARGET (a live pid, or a core file)\n"
    "holds about task ID, newest last: when it was spawned and by whom, each\n"
    "poll with its worker, duration and how it ended (where it suspended and\n"
    "on what), who woke it, the tasks it woke and spawned; then what it is\n"
    "doing now.  The last 64 events are shown.  Events torn or overwritten\n"
    "while read are counted, never shown.\n"
    "\n"
    "      --exe FILE     the executable of a core (default: from the core)\n"
    "      --nonblocking  read a live process without stopping it\n"
    "      --stop-budget D  a live target stays stopped at most D (default 1s)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 ok, 1 I/O error or no such task, 2 usage error, 3-11 the\n"
    "target could not be read (see docs/cli.md).\n",
    history_run,
    0,
};
