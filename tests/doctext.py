"""What the tests read out of the docs and the library as text, once: the
markdown tables of a document (with the heading each stands under), and
the library's enum tables as tests/docs/enum_rows.c prints them
(tt_enum_rows).  Used by tests/arch (docs/architecture.md's layers),
tests/docs (the enum tables of the docs) and tests/cli/validate_json.py
(the words of the JSON)."""

import subprocess


def tables(text):
    """Every markdown table of TEXT, in order, as (heading, header, rows):
    HEADING the last '#' line above it, HEADER and each row a list of
    stripped cells, the |---| rule dropped."""
    out, heading, cur = [], None, None
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cur is None:
                cur = (heading, cells, [])
                out.append(cur)
            elif not set(line) <= set("|-: "):
                cur[2].append(cells)
            continue
        cur = None
        if line.startswith("#"):
            heading = line.strip()
    return out


def enum_rows(exe):
    """{table number: [(value, C name, word)]} as EXE (enum_rows) prints them."""
    rows = {}
    out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        e, value, name, word = line.split("\t")
        rows.setdefault(int(e), []).append((int(value), name, word))
    return rows
