/* tasktrace: look at the tasks of a process running the tasktrace
 * runtime (or any runtime publishing the registry ABI) from outside. */
#include <string.h>

#include "cli.h"

static const cli_cmd *const commands[] = { &cmd_ps, &cmd_bt, &cmd_tree };
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fputs("Usage: tasktrace COMMAND [OPTIONS] PID [ARGS...]\n"
	      "\n"
	      "Show what the async tasks of a live process are doing, read from its\n"
	      "task registry without running code in it.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-6s %s\n", commands[i]->name, commands[i]->summary);
	fputs("\n"
	      "Options of every command:\n"
	      "  -a, --all    include the runtime's own (system) tasks\n"
	      "  -j, --json   print JSON (schema in docs/cli.md)\n"
	      "  -h, --help   show the command's help\n"
	      "\n"
	      "'tasktrace COMMAND --help' tells more.  Exit status: 0 ok, 1 the target\n"
	      "could not be read, 2 usage error.\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
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
	fprintf(stderr, "tasktrace: unknown command '%s'\nTry 'tasktrace --help'.\n",
		argv[1]);
	return EXIT_USAGE;
}
