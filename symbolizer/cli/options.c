/* Command-line parsing shared by the subcommands. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_usage(const cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tasktrace %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'tasktrace %s --help'.\n", cmd->name);
	return EXIT_USAGE;
}

int cli_parse(const cli_cmd *cmd, int argc, char **argv, cli_opts *o,
	      int *first)
{
	static const struct option longs[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0; /* our own one-line message instead of getopt's */
	while ((c = getopt_long(argc, argv, "ajh", longs, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->all = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			fputs(cmd->help, stdout);
			return EXIT_OK;
		default:
			if (optopt)
				return cli_usage(cmd, "unknown option '-%c'", optopt);
			return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	*first = optind;
	return -1;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int cli_parse_pid(const cli_cmd *cmd, const char *s, pid_t *pid)
{
	uint64_t v;

	if (parse_u64(s, &v) || v == 0 || v > 0x7fffffff)
		return cli_usage(cmd, "'%s' is not a process id", s);
	*pid = (pid_t)v;
	return -1;
}

int cli_parse_id(const char *s, uint64_t *id)
{
	return parse_u64(s, id);
}
