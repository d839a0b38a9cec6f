/* Prints the library's enum tables (tt_enum_rows), one row a line:
 * TABLE<TAB>VALUE<TAB>NAME<TAB>WORD.  check_tables.py compares them with
 * the docs, so the docs are checked against the C table, not a copy. */
#include <stdio.h>

#include "tasktrace/read/diagnose.h"

int main(void)
{
	for (int e = 0; e < TT_ENUM_MAX_; e++) {
		size_t n;
		const tt_enum_row *r = tt_enum_rows(e, &n);

		if (!r || !n) {
			fprintf(stderr, "enum_rows: table %d is empty\n", e);
			return 1;
		}
		for (size_t i = 0; i < n; i++)
			printf("%d\t%u\t%s\t%s\n", e, r[i].value, r[i].name, r[i].word);
	}
	return 0;
}
