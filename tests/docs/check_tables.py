#!/usr/bin/env python3
"""The docs' enum tables list exactly the rows of the C tables.

usage: check_tables.py ENUM_ROWS_EXE SOURCE_ROOT

ENUM_ROWS_EXE prints the library's tables (tt_enum_rows); each docs table
is the first markdown table under its heading.  A row added to a C table
and not to the docs (or the other way round, or with another number or
word) fails with one line per difference.
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import doctext  # noqa: E402

# tt_enum number: (docs file, heading, C prefix or None, value column is a bit)
TABLES = {
    0: ("docs/registry-abi.md", "### 6.1 Task state", "TT_STATE_", False),
    1: ("docs/registry-abi.md", "### 6.2 Task flags", "TT_TASKF_", True),
    2: ("docs/registry-abi.md", "### 6.3 Wait kinds", "TT_WAIT_", False),
    3: ("docs/registry-abi.md", "### 6.4 Func kinds", "TT_FUNC_KIND_", False),
    4: ("docs/registry-abi.md", "### 6.5 Worker states", "TT_WORKER_", False),
    5: ("docs/diagnosis.md", "## The diagnosis engine", None, False),
}


def docs_table(text, heading):
    """The rows of the first table under HEADING, or None."""
    for h, _, rows in doctext.tables(text):
        if h == heading:
            return rows
    return None


def cell(text):
    """`word` or **word** as word."""
    m = re.fullmatch(r"(`|\*\*)(.*)\1", text)
    return m.group(2) if m else text


def main(exe, root):
    mine = {e: [(v, w, n) for v, n, w in rows] for e, rows in doctext.enum_rows(exe).items()}
    errors = []
    if sorted(mine) != sorted(TABLES):
        errors.append("the library has tables %s, this test knows %s"
                      % (sorted(mine), sorted(TABLES)))
    for e, (doc, heading, prefix, bit) in sorted(TABLES.items()):
        with open("%s/%s" % (root, doc), encoding="utf-8") as f:
            table = docs_table(f.read(), heading)
        if table is None:
            errors.append("%s: no table under '%s'" % (doc, heading))
            continue
        docs = []
        for r in table:
            try:
                value = 1 << int(r[0]) if bit else int(r[0])
            except ValueError:
                errors.append("%s: '%s': '%s' is not a number" % (doc, heading, r[0]))
                continue
            docs.append((value, cell(r[1]), cell(r[2]) if prefix else None))
        want = [(v, w, prefix + n if prefix else None) for v, w, n in mine.get(e, [])]
        before = len(errors)
        for row in want:
            if row not in docs:
                errors.append("%s: '%s' lacks the row %s" % (doc, heading, row))
        for row in docs:
            if row not in want:
                errors.append("%s: '%s' has the row %s, which the C table has not"
                              % (doc, heading, row))
        if len(errors) == before and docs != want:
            errors.append("%s: '%s' lists the rows in another order than the C table"
                          % (doc, heading))
    for e in errors:
        print(e)
    print("%d tables checked, %d differences" % (len(TABLES), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
