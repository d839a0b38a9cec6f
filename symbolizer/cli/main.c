/* tasktrace: look at the tasks of a process running the tasktrace
 * runtime (or any runtime publishing the registry ABI) from outside. */
#include <string.h>

#include "cli.h"

extern const cli_cmd cmd_hung; /* hung.c: the diagnosis engine */
extern const cli_cmd cmd_profile; /* profile.c: the wait profile */
extern const cli_cmd cmd_history; /* history.c: the flight recorder */
extern const cli_cmd cmd_trace;   /* trace.c: the recorder as a Chrome trace */
extern const cli_cmd cmd_top;	  /* top.c: the live task list */
static const cli_cmd *const commands[] = { &cmd_ps, &cmd_bt, &cmd_tree, &cmd_hung,
					     &cmd_history, &cmd_trace, &cmd_profile, &cmd_top,
					     &cmd_symbolize };
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))
/* The commands' own option tables, so that they may come before the
 * command word. */
static const cli_own *const owns[] = {&cli_top_own, &cli_hung_own, &cli_trace_own,
				      &cli_profile_own};

static void usage(FILE *f)
{
	fputs("Usage: tasktrace COMMAND [OPTIONS] TARGET [ARGS...]\n"
	      "\n"
	      "Show what the async tasks of a live process or a core file are doing,\n"
	      "read from its task registry without running code in it.  TARGET is a\n"
	      "process id or a core file.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fputs("\n"
	      "Options of every command:\n"
	      "  -a, --all          include the runtime's own (system) tasks\n"
	      "  -j, --json         print JSON (schema in docs/cli.md)\n"
	      "      --exe FILE     the executable of a core (default: from the core;\n"
	      "                     a FILE of the same build-id is used instead)\n"
	      "      --nonblocking  read a live process without stopping it\n"
	      "      --stop-budget D  a live target stays stopped at most D (default\n"
	      "                     1s); past it, it runs and what was not read is said\n"
	      "  -h, --help         show the command's help\n"
	      "\n"
	      "Options go anywhere, before the command too (tasktrace --json ps PID,\n"
	      "tasktrace -n 2 top -b PID).\n"
	      "A live process is stopped with ptrace while it is read, and resumed.\n"
	      "'tasktrace COMMAND --help' tells more.  Exit status: 0 ok, 1 a task id\n"
	      "not found or an I/O error, 2 usage error, 3-11 the target could not be\n"
	      "read (see docs/cli.md).\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	/* Options go anywhere: the command word moves to the front, the
	 * options before it follow it, in their order. */
	int at = cli_command_index(argc, argv, owns, sizeof owns / sizeof owns[0]);
	if (at == argc) {
		for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
			if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
				usage(stdout);
				return EXIT_OK;
			}
			if (!strcmp(argv[i], "--version")) {
				printf("tasktrace %s\n", TASKTRACE_VERSION);
				return EXIT_OK;
			}
		}
		fputs("tasktrace: missing COMMAND\nTry 'tasktrace --help'.\n", stderr);
		return EXIT_USAGE;
	}
	if (at > 1 && !strcmp(argv[at - 1], "--")) {
		/* `-- ps`: the "--" only ended the options before the command. */
		memmove(argv + at - 1, argv + at, (size_t)(argc - at) * sizeof(*argv));
		argv[--argc] = NULL;
		at--;
	}
	int before = at; /* argv[before]: the word before it, once it is moved */
	for (char *word = argv[at]; at > 1; at--)
		argv[at] = argv[at - 1], argv[at - 1] = word;
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("tasktrace %s\n", TASKTRACE_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[1], commands[i]->name) == 0)
			return commands[i]->run(commands[i], argc - 1, argv + 1);
	/* The word may be the value of an option no table here knows. */
	const char *opt = before > 1 ? argv[before] : NULL;
	if (opt && opt[0] == '-' && strcmp(opt, "--") && !strchr(opt, '='))
		fprintf(stderr,
			"tasktrace: unknown command '%s' (if it is the value of '%s', put that "
			"option after the command word)\nTry 'tasktrace --help'.\n",
			argv[1], opt);
	else
		fprintf(stderr, "tasktrace: unknown command '%s'\nTry 'tasktrace --help'.\n",
			argv[1]);
	return EXIT_USAGE;
}
