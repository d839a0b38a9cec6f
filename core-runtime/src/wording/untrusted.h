/* The one sanitiser of strings that come from target memory: task names,
 * async function and file names of FUNC and SITE records, and messages
 * that quote them.  Every front end writes them through it, the text
 * writer (format.c tt_fb_text: ps, bt, tree, hung, gdb, the crash log,
 * the dump) and the JSON writer (taskjson.c tt_json_str: --json, gdb's
 * MI), so a name looks the same everywhere and reaches no terminal or
 * JSON parser raw.
 *
 * The reader keeps names as the target wrote them (bounded, NUL-ended):
 * they are data, matched by --name and compared; only their printed form
 * is sanitised, because text and JSON need different forms and neither
 * can be undone into the other.
 *
 * What is rewritten (docs/cli.md, "How the target is read"):
 *   piece of the string                     text         JSON
 *   control character U+0000-U+001F,        \xHH per     \u00HH
 *     U+007F, U+0080-U+009F                 byte
 *   each invalid UTF-8 sequence (overlong,  \xHH per     \ufffd
 *     surrogate, above U+10FFFF, truncated, byte
 *     stray continuation byte): a maximal
 *     subpart, as Unicode ch. 3 counts them
 *   backslash                               \\           \\
 *   double quote                            "            \"
 *   anything else (valid UTF-8)             as is        as is
 *
 * No stdio and no allocation: the crash handler uses it from a signal
 * handler. */
#ifndef TASKTRACE_UNTRUSTED_H
#define TASKTRACE_UNTRUSTED_H

#include <stddef.h>

enum tt_untrusted_form {
	TT_UNTRUSTED_TEXT,
	TT_UNTRUSTED_JSON,
};

/* Longest rewritten piece: three invalid bytes as "\xHH" each. */
#define TT_UNTRUSTED_ESC_MAX 16

/* The next piece of S (*S not NUL) in FORM: sets *OUT and *OUTLEN to the
 * bytes to write, either S itself (a run that needs no rewriting, whole
 * characters only) or ESC; returns how many bytes of S the piece covers. */
size_t tt_untrusted_next(const char *s, int form, char esc[TT_UNTRUSTED_ESC_MAX], const char **out,
			 size_t *outlen);

#endif
