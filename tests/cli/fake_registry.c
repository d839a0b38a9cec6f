/* A process with a registry root that does not decode, for the CLI's
 * error paths: "fake_registry version" publishes ABI version 99,
 * "fake_registry magic" a wrong magic.  Prints "fake_registry: pid P
 * ready" and stays alive. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tasktrace/abi/registry.h"

/* Found by symbol and by section, like the runtime's own root. */
__attribute__((section(".tasktrace"), used, aligned(64)))
tt_registry_header tasktrace_registry = {
	TT_REGISTRY_MAGIC, TT_REGISTRY_ABI_VERSION, 32, 8, 1, 0, 32, 0,
};

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "version") == 0)
		tasktrace_registry.abi_version = 99;
	else
		tasktrace_registry.magic = 0x6b6e756a6b6e756aull; /* "junkjunk" */
	printf("fake_registry: pid %d registry %p ready\n", (int)getpid(),
	       (void *)&tasktrace_registry);
	fflush(stdout);
	for (;;)
		pause();
}
