/* Auto-load of the gdb plugin: an inlined Python script in the
 * .debug_gdb_scripts section of libtasktrace.so.  gdb runs it when it loads
 * the library (if `set auto-load python-scripts` is on and the library is
 * in the auto-load safe-path); it imports tasktrace_gdb from gdb's own
 * Python path or from the installed and source-tree plugin directories.
 * In a static link the script is in the program itself: registry.c refers
 * to tt__gdb_script_anchor so that this file is linked wherever the
 * registry is. */
#ifndef TT_GDB_PYTHONDIR
#define TT_GDB_PYTHONDIR "/usr/local/share/tasktrace/gdb/python"
#endif
#ifndef TT_GDB_SRC_PYTHONDIR
#define TT_GDB_SRC_PYTHONDIR TT_GDB_PYTHONDIR
#endif

/* Type 4: "gdb.inlined-script\n" then the script, NUL-terminated. */
__asm__(".pushsection \".debug_gdb_scripts\", \"MS\",@progbits,1\n"
	".byte 4\n"
	".ascii \"gdb.inlined-script\\n\"\n"
	".ascii \"import sys\\n\"\n"
	".ascii \"for d in ('" TT_GDB_PYTHONDIR "', '" TT_GDB_SRC_PYTHONDIR "'):\\n\"\n"
	".ascii \"    if d not in sys.path:\\n\"\n"
	".ascii \"        sys.path.append(d)\\n\"\n"
	".ascii \"import tasktrace_gdb\\n\"\n"
	".byte 0\n"
	".popsection\n");

extern const char tt__gdb_script_anchor;
const char tt__gdb_script_anchor = 4;
