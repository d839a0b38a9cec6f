/* The sanitiser of strings from target memory; see untrusted.h. */
#include <stdint.h>

#include "wording/untrusted.h"

/* The UTF-8 sequence at S: its length when well-formed (Unicode table
 * 3-7), with its code point in *CP; else 0, with the length of its
 * maximal subpart (at least 1) in *BAD.  Never reads past a NUL: a NUL
 * is no continuation byte. */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp, size_t *bad)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		lo = s[0] == 0xe0 ? 0xa0 : 0x80; /* overlong below */
		hi = s[0] == 0xed ? 0x9f : 0xbf; /* surrogates above */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		lo = s[0] == 0xf0 ? 0x90 : 0x80; /* overlong below */
		hi = s[0] == 0xf4 ? 0x8f : 0xbf; /* past U+10FFFF above */
	} else {
		*bad = 1; /* a continuation byte, C0, C1 or F5-FF */
		return 0;
	}
	*cp = s[0] & (0x7fu >> n);
	for (size_t i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		*cp = *cp << 6 | (s[i] & 0x3fu);
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

static int is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

static const char hex[] = "0123456789abcdef";

size_t tt_untrusted_next(const char *s, int form, char esc[TT_UNTRUSTED_ESC_MAX], const char **out,
			 size_t *outlen)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0, n = 0, bad = 0;
	uint32_t cp = 0;

	/* The common case, a run to copy as it is. */
	for (;;) {
		unsigned char c = u[run];
		/* Printable ASCII, the bulk of every name, without decoding. */
		if (c >= 0x20 && c < 0x7f && c != '\\' && (c != '"' || form != TT_UNTRUSTED_JSON)) {
			run++;
			continue;
		}
		if (!c)
			break;
		n = utf8_seq(u + run, &cp, &bad);
		if (!n || is_control(cp) || cp == '\\' || (cp == '"' && form == TT_UNTRUSTED_JSON))
			break;
		run += n;
	}
	if (run) {
		*out = s;
		*outlen = run;
		return run;
	}
	size_t k = 0, len = n ? n : bad;
	if (n && (cp == '\\' || cp == '"')) {
		esc[k++] = '\\';
		esc[k++] = (char)cp;
	} else if (form == TT_UNTRUSTED_JSON && n) {
		/* A control: the code point, U+0080-U+009F included. */
		esc[k++] = '\\';
		esc[k++] = 'u';
		esc[k++] = '0';
		esc[k++] = '0';
		esc[k++] = hex[cp >> 4 & 15];
		esc[k++] = hex[cp & 15];
	} else if (form == TT_UNTRUSTED_JSON) {
		const char *r = "\\ufffd";
		while (*r)
			esc[k++] = *r++;
	} else {
		/* Text shows the bytes themselves, as a C string would. */
		for (size_t i = 0; i < len; i++) {
			esc[k++] = '\\';
			esc[k++] = 'x';
			esc[k++] = hex[u[i] >> 4];
			esc[k++] = hex[u[i] & 15];
		}
	}
	esc[k] = 0;
	*out = esc;
	*outlen = k;
	return len;
}
