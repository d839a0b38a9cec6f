/* tasktrace symbolize: addresses to functions, inline chains and lines,
 * like addr2line -fi or llvm-symbolizer, for an ELF file (link-time
 * addresses), a live process or a core (runtime addresses). */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_INLINE 64

typedef struct symo {
	const char *exe, *core;
	pid_t pid;
	int json, inlines, print_address;
	int items;      /* JSON addresses printed */
	int basenames;
	int stdin_mode; /* flush per line: usable as a coprocess */
} symo;

static int parse_addr(const char *s, uint64_t *out)
{
	char *end;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (!isxdigit((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 16);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static const char *shown_file(const symo *o, const char *file)
{
	const char *b;

	if (!file || !o->basenames)
		return file;
	b = strrchr(file, '/');
	return b ? b + 1 : file;
}

static void text_one(const symo *o, uint64_t addr,
		     const tt_sym_frame *f, int n)
{
	if (o->print_address)
		printf("0x%" PRIx64 "\n", addr);
	for (int i = 0; i < n; i++) {
		const char *file = shown_file(o, f[i].file);
		/* Relative names are relative to the CU's directory: joined,
		 * as llvm-symbolizer prints them. */
		int join = file == f[i].file && file && file[0] != '/' && f[i].comp_dir;
		printf("%s\n%s%s%s:%" PRIu32 ":%" PRIu32 "\n",
		       f[i].function ? f[i].function : "??", join ? f[i].comp_dir : "",
		       join ? "/" : "", file ? file : "??", file ? f[i].line : 0,
		       file ? f[i].column : 0);
	}
	putchar('\n');
}

static void json_one(symo *o, const char *arg, uint64_t addr, int ok,
		     const tt_sym_frame *f, int n)
{
	fputs(o->items++ ? ",{" : "{", stdout);
	if (!ok) {
		fputs("\"address\":", stdout);
		tt_json_str(stdout, arg);
		fputs(",\"error\":\"not an address\"}", stdout);
		return;
	}
	printf("\"address\":\"0x%" PRIx64 "\",\"module\":", addr);
	tt_json_str(stdout, n ? f[0].module : NULL);
	fputs(",\"module_offset\":", stdout);
	if (n && f[0].module)
		printf("\"0x%" PRIx64 "\"", f[0].module_offset);
	else
		fputs("null", stdout);
	fputs(",\"frames\":[", stdout);
	for (int i = 0; i < n; i++) {
		if (i)
			fputc(',', stdout);
		json_sym_frame(stdout, addr, &f[i]);
	}
	fputs("]}", stdout);
}

static void one(tt_sym *sym, symo *o, const char *arg)
{
	tt_sym_frame f[MAX_INLINE];
	uint64_t addr = 0;
	int ok = parse_addr(arg, &addr) == 0;
	int n = ok ? tt_sym_lookup(sym, addr, 0, f, o->inlines ? MAX_INLINE : 1) : 0;

	if (o->json) {
		json_one(o, arg, addr, ok, f, n);
	} else if (!ok) {
		/* llvm-symbolizer echoes what it cannot parse. */
		printf("%s\n\n", arg);
	} else {
		if (!o->inlines && n)
			f[0].inlined = 0;
		text_one(o, addr, f, n);
	}
	if (o->stdin_mode && !o->json)
		fflush(stdout);
}

static void from_stdin(tt_sym *sym, symo *o)
{
	char line[4096];

	o->stdin_mode = 1;
	while (fgets(line, sizeof(line), stdin)) {
		char *save = NULL;
		for (char *tok = strtok_r(line, " \t\r\n", &save); tok;
		     tok = strtok_r(NULL, " \t\r\n", &save))
			one(sym, o, tok);
	}
}

static const char *kind_name(const symo *o)
{
	return o->core ? "core" : o->pid ? "pid" : "exe";
}

enum { O_EXE = 256, O_PID, O_CORE, O_NO_INLINES, O_BASENAMES };

/* Also read by cli_command_index (options.c), for options before the
 * command. */
const struct option cli_symbolize_longs[] = {
	{ "exe", required_argument, NULL, O_EXE },
	{ "obj", required_argument, NULL, O_EXE },
	{ "pid", required_argument, NULL, O_PID },
	{ "core", required_argument, NULL, O_CORE },
	{ "json", no_argument, NULL, 'j' },
	{ "inlines", no_argument, NULL, 'i' },
	{ "no-inlines", no_argument, NULL, O_NO_INLINES },
	{ "print-address", no_argument, NULL, 'a' },
	{ "basenames", no_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int symbolize_run(const cli_cmd *cmd, int argc, char **argv)
{
	symo o = { .inlines = 1 };
	int c, code, rc;
	char err[512];

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jiash", cli_symbolize_longs, NULL)) != -1) {
		switch (c) {
		case O_EXE:
			o.exe = optarg;
			break;
		case O_CORE:
			o.core = optarg;
			break;
		case O_PID:
			if ((rc = cli_parse_pid(cmd, optarg, &o.pid)) >= 0)
				return rc;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'i':
			o.inlines = 1;
			break;
		case O_NO_INLINES:
			o.inlines = 0;
			break;
		case 'a':
			o.print_address = 1;
			break;
		case 's':
			o.basenames = 1;
			break;
		case 'h':
			fputs(cmd->help, stdout);
			return EXIT_OK;
		case ':':
			return cli_usage(cmd, "option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt)
				return cli_usage(cmd, "unknown option '-%c'", optopt);
			return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if ((o.pid != 0) + (o.core != NULL) + (o.exe != NULL && !o.core) != 1)
		return cli_usage(cmd, "give one of --exe FILE, --pid PID or --core FILE");
	if (o.pid && o.exe)
		return cli_usage(cmd, "--exe goes with --core, not --pid");
	tt_sym *sym = o.core ? tt_sym_open_core(o.core, o.exe, &code, err, sizeof(err)) :
		      o.pid ? tt_sym_open_pid(o.pid, 0, &code, err, sizeof(err)) :
			      tt_sym_open_exe(o.exe, &code, err, sizeof(err));
	if (!sym) {
		fprintf(stderr, "tasktrace: %s\n", err);
		return cli_exit_code(code);
	}
	/* Said as the other commands say it (cli_warn): a core's missing files. */
	char missing[900], warning[1024];
	int nmissing = tt_sym_core_missing(sym, missing, sizeof(missing));
	if (nmissing) {
		snprintf(warning, sizeof(warning),
			 "core %s: function names and source files show as ??: %s", o.core,
			 missing);
		fprintf(stderr, "tasktrace: warning: %s\n", warning);
	}
	if (o.json) {
		printf("{\"tasktrace_json\":1,\"command\":\"symbolize\",\"target\":{\"kind\":\"%s\",\"path\":",
		       kind_name(&o));
		tt_json_str(stdout, o.core ? o.core : o.exe);
		printf(",\"pid\":%d},\"warnings\":[", (int)tt_sym_pid(sym));
		if (nmissing)
			tt_json_str(stdout, warning);
		fputs("],\"addresses\":[", stdout);
	}
	if (optind < argc)
		for (int i = optind; i < argc; i++)
			one(sym, &o, argv[i]);
	else
		from_stdin(sym, &o);
	if (o.json)
		fputs("]}\n", stdout);
	tt_sym_close(sym);
	return EXIT_OK;
}

const cli_cmd cmd_symbolize = {
	"symbolize", "map addresses to functions, inline chains and source lines",
	"Usage: tasktrace symbolize (--exe FILE | --pid PID | --core FILE [--exe FILE])\n"
	"                           [OPTIONS] [ADDR...]\n"
	"\n"
	"Print the function, file, line and column of each address (hex, with or\n"
	"without 0x), from the arguments or else from standard input, one block\n"
	"per address, innermost inlined function first, a blank line after each:\n"
	"\n"
	"    inlined_fn\n"
	"    /src/file.c:12:5\n"
	"    caller_fn\n"
	"    /src/file.c:40:3\n"
	"\n"
	"Addresses of --exe FILE are the file's own (link-time) addresses; those\n"
	"of a process or a core are runtime addresses.  An unknown function or\n"
	"line prints as ?? and ??:0:0.  Separate debug info is found by build-id\n"
	"and .gnu_debuglink, and by debuginfod when DEBUGINFOD_URLS is set.\n"
	"\n"
	"      --exe FILE       an ELF executable or library (with --core: the\n"
	"                       core's executable, when not found from the core)\n"
	"      --pid PID        a live process (it is not stopped)\n"
	"      --core FILE      a core file\n"
	"  -i, --inlines        show inlined frames (the default)\n"
	"      --no-inlines     only the innermost frame\n"
	"  -a, --print-address  print each address before its frames\n"
	"  -s, --basenames      strip directories from file names\n"
	"  -j, --json           print JSON (schema in docs/cli.md)\n"
	"  -h, --help           show this help\n"
	"\n"
	"Exit status: 0 ok, 2 usage error, 3-11 the file or process could not be\n"
	"read (see docs/cli.md).\n",
	symbolize_run,
	0,
};
