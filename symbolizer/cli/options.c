/* Command-line parsing shared by the subcommands. */
#include <errno.h>
#include <getopt.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tasktrace/read/diagnose.h"

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

static const struct {
	int value;
	const char *word;
} states[] = {
#define XX(name, value, word) { value, word },
	TT_TASK_STATE_MAP(XX)
#undef XX
};

int cli_take_own(const cli_cmd *cmd, int *argc, char **argv, const char *const *names,
		 size_t n, cli_take_fn take, void *ctx)
{
	int out = 0;

	for (int i = 0; i < *argc; i++) {
		const char *w = argv[i], *v = NULL;
		size_t k;

		if (i > 0 && !strcmp(w, "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		for (k = 0; k < n; k++) {
			if (names[k][0] == '!') { /* a flag: no value */
				if (!strcmp(w, names[k] + 1)) {
					v = "";
					break;
				}
				continue;
			}
			size_t len = strlen(names[k]);
			if (!strncmp(w, names[k], len) && (w[len] == '=' || !w[len])) {
				v = w[len] == '=' ? w + len + 1
						  : (i + 1 < *argc ? argv[++i] : NULL);
				break;
			}
			if (len == 2 && !strncmp(w, names[k], 2) && w[2]) { /* -oFILE */
				v = w + 2;
				break;
			}
		}
		if (k == n) {
			argv[out++] = argv[i];
			continue;
		}
		if (!v)
			return cli_usage(cmd, "%s needs an argument", names[k]);
		int rc = take(cmd, ctx, k, v);
		if (rc >= 0)
			return rc;
	}
	*argc = out;
	argv[out] = NULL;
	return -1;
}

/* The TT_STATE_* named WORD, or -1. */
static int state_by_word(const char *word)
{
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (!strcmp(word, states[i].word))
			return states[i].value;
	return -1;
}

/* "idle, scheduled, ..." */
static const char *state_words(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]) && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", states[i].word);
	return buf;
}

/* The options of every command but symbolize (its own: symbolize.c). */
enum { O_EXE = 256, O_NONBLOCKING, O_PRUNE, O_NO_PRUNE, O_STATE, O_NAME, O_STOP_BUDGET, O_CRASH_PC,
       O_LABEL, O_LABELS };
static const struct option longs[] = {
	{ "all", no_argument, NULL, 'a' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "exe", required_argument, NULL, O_EXE },
	{ "nonblocking", no_argument, NULL, O_NONBLOCKING },
	{ "prune", required_argument, NULL, O_PRUNE },
	{ "no-prune", no_argument, NULL, O_NO_PRUNE },
	{ "state", required_argument, NULL, O_STATE },
	{ "name", required_argument, NULL, O_NAME },
	{ "group", optional_argument, NULL, 'g' },
	{ "label", required_argument, NULL, O_LABEL },
	{ "labels", no_argument, NULL, O_LABELS },
	{ "stop-budget", required_argument, NULL, O_STOP_BUDGET },
	{ "crash-pc", required_argument, NULL, O_CRASH_PC },
	{ NULL, 0, NULL, 0 },
};

/* Does the option word W (after its dashes, up to '=') take the next
 * word as its argument, in TABLE?  getopt_long's rules: an exact name,
 * else a prefix of names that agree.  -1 when no name fits. */
static int takes_arg(const struct option *table, const char *w, size_t n)
{
	int found = -1;

	for (const struct option *o = table; o->name; o++) {
		if (strncmp(o->name, w, n))
			continue;
		if (!o->name[n])
			return o->has_arg == required_argument;
		if (found >= 0 && found != (o->has_arg == required_argument))
			return 0; /* ambiguous: getopt will say so */
		found = o->has_arg == required_argument;
	}
	return found;
}

/* Does the option word W take the next word as its value in one of the
 * commands' own tables (exact names, as cli_take_own matches them)?  -1
 * when none has it.  A name that takes a value in one command does in all
 * (top's -n and -d; trace's and profile's -o): before the command word
 * it cannot be told whose it is. */
static int own_takes_arg(const cli_own *const *own, size_t n, const char *w)
{
	int found = -1;

	for (size_t c = 0; c < n; c++)
		for (size_t k = 0; k < own[c]->n; k++) {
			const char *name = own[c]->names[k];
			if (!strcmp(w, name + (name[0] == '!')) && found < 1)
				found = name[0] != '!';
		}
	return found;
}

int cli_command_index(int argc, char **argv, const cli_own *const *own, size_t nown)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-' && argv[i][1]) {
		const char *w = argv[i++];
		if (!strcmp(w, "--"))
			break;
		if (strchr(w, '='))
			continue; /* the value comes with it */
		int o = own_takes_arg(own, nown, w);
		if (o >= 0) {
			i += o;
			continue;
		}
		if (w[1] != '-')
			continue; /* the common short options take no value */
		size_t n = strlen(w + 2);
		if (takes_arg(longs, w + 2, n) > 0 || takes_arg(cli_symbolize_longs, w + 2, n) > 0)
			i++;
		else if (!strcmp(w, "--group") && i < argc && !strncmp(argv[i], "label:", 6))
			i++; /* --group label:KEY */
	}
	return i;
}

int cli_parse(const cli_cmd *cmd, int argc, char **argv, cli_opts *o,
	      int *first)
{
	int c;
	regex_t re;

	memset(o, 0, sizeof(*o));
	o->state = -1;
	o->stop_budget_ns = CLI_STOP_BUDGET_NS;
	optind = 1;
	opterr = 0; /* our own one-line message instead of getopt's */
	while ((c = getopt_long(argc, argv, ":ajhg", longs, NULL)) != -1) {
		if (((c == O_STATE || c == O_NAME) && !(cmd->takes & CLI_TAKES_FILTERS)) ||
		    (c == O_LABEL && !(cmd->takes & (CLI_TAKES_FILTERS | CLI_TAKES_LABEL))) ||
		    ((c == 'g' || c == O_LABELS) && !(cmd->takes & CLI_TAKES_GROUP)))
			return cli_usage(cmd, "option '%s' is not for %s", argv[optind - 1],
					 cmd->name);
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
		case O_EXE:
			o->exe = optarg;
			break;
		case O_NONBLOCKING:
			o->nonblocking = 1;
			break;
		case O_STOP_BUDGET:
			if (tt_diag_parse_duration(optarg, &o->stop_budget_ns) ||
			    !o->stop_budget_ns)
				return cli_usage(
				    cmd, "--stop-budget: '%s' is not a duration (1s, 500ms)",
				    optarg);
			break;
		case O_CRASH_PC: {
			char *end;
			errno = 0;
			o->crash_pc = strtoull(optarg, &end, 16);
			if (errno || end == optarg || *end || !o->crash_pc)
				return cli_usage(cmd, "--crash-pc: '%s' is not an address", optarg);
			break;
		}
		case O_NO_PRUNE:
			o->no_prune = 1;
			break;
		case 'g':
			/* "--group label:KEY" as two words too: the optional
			 * argument of getopt comes only with '='. */
			if (!optarg && optind < argc && !strncmp(argv[optind], "label:", 6))
				optarg = argv[optind++];
			if (optarg && (strncmp(optarg, "label:", 6) || !optarg[6]))
				return cli_usage(cmd, "--group: '%s' is not label:KEY", optarg);
			if (optarg)
				o->group_label = optarg + 6;
			else
				o->group = 1;
			break;
		case O_LABEL:
			if (o->nlabels == CLI_MAX_LABELS)
				return cli_usage(cmd, "at most %d --label filters", CLI_MAX_LABELS);
			if (!optarg[0] || optarg[0] == '=')
				return cli_usage(cmd, "--label: '%s' is not KEY or KEY=VALUE",
						 optarg);
			o->labels[o->nlabels++] = optarg;
			break;
		case O_LABELS:
			o->show_labels = 1;
			break;
		case O_STATE:
			o->state = state_by_word(optarg);
			if (o->state < 0) {
				char words[256];
				return cli_usage(cmd, "--state: '%s' is not a state (%s)", optarg,
						 state_words(words, sizeof(words)));
			}
			break;
		case O_NAME:
			if (regcomp(&re, optarg, REG_EXTENDED | REG_NOSUB) != 0)
				return cli_usage(cmd, "--name: '%s' is not an extended regex", optarg);
			regfree(&re);
			o->name = optarg;
			break;
		case O_PRUNE:
			if (o->nprune == CLI_MAX_PRUNE)
				return cli_usage(cmd, "at most %d --prune patterns", CLI_MAX_PRUNE);
			if (regcomp(&re, optarg, REG_EXTENDED | REG_NOSUB) != 0)
				return cli_usage(cmd, "--prune: '%s' is not an extended regex", optarg);
			regfree(&re);
			o->prune[o->nprune++] = optarg;
			break;
		case ':':
			return cli_usage(cmd, "option '%s' needs an argument", argv[optind - 1]);
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

int cli_is_pid(const char *target)
{
	if (!*target)
		return 0;
	for (const char *p = target; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

int cli_parse_target(const cli_cmd *cmd, const char *s)
{
	pid_t pid;

	if (cli_is_pid(s))
		return cli_parse_pid(cmd, s, &pid);
	if (!*s || *s == '-')
		return cli_usage(cmd, "'%s' is neither a process id nor a core file", s);
	return -1;
}

int cli_exit_code(int target_err)
{
	switch (target_err) {
	case TT_T_OK:
		return EXIT_OK;
	case TT_T_NO_PROCESS:
		return EXIT_NO_PROCESS;
	case TT_T_PERMISSION:
		return EXIT_PERMISSION;
	case TT_T_NO_REGISTRY:
		return EXIT_NO_REGISTRY;
	case TT_T_BAD_REGISTRY:
		return EXIT_BAD_REGISTRY;
	case TT_T_NOT_ELF:
		return EXIT_NOT_ELF;
	case TT_T_NOT_CORE:
		return EXIT_NOT_CORE;
	case TT_T_TRUNCATED:
		return EXIT_TRUNCATED;
	case TT_T_MISMATCH:
		return EXIT_MISMATCH;
	case TT_T_BAD_VERSION:
		return EXIT_BAD_VERSION;
	}
	return EXIT_TARGET;
}

int cli_parse_with_target(const cli_cmd *cmd, int argc, char **argv, cli_opts *o, int *first)
{
	int rc;

	if ((rc = cli_parse(cmd, argc, argv, o, first)) >= 0)
		return rc;
	if (argc == *first)
		return cli_usage(cmd, "missing TARGET (a pid or a core file)");
	return cli_parse_target(cmd, argv[*first]);
}

int cli_parse_single_target(const cli_cmd *cmd, int argc, char **argv, cli_opts *o,
			    const char **target)
{
	int first, rc;

	if ((rc = cli_parse_with_target(cmd, argc, argv, o, &first)) >= 0)
		return rc;
	if (argc - first != 1)
		return cli_usage(cmd, "too many arguments");
	*target = argv[first];
	return -1;
}
