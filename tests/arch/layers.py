"""The layers of docs/architecture.md as data, for the tests that hold the
code to them (check_layers.py: includes; ../exports.py: which library
exports what).  The drawing, the rule and the tests are one text."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import doctext  # noqa: E402

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                   "architecture.md")


def _split(s):
    return [x.strip() for x in s.split(",") if x.strip()]


def load(path=DOC):
    """(layers, libraries): layers[name] = {"folders", "headers", "uses"};
    libraries[name] = [layer, ...]."""
    with open(path, encoding="utf-8") as f:
        t = {header[0]: [dict(zip(header, r)) for r in rows]
             for _, header, rows in doctext.tables(f.read())}
    if "layer" not in t or "library" not in t:
        raise SystemExit("%s: no layer table or no library table" % path)
    layers = {r["layer"]: {"folders": _split(r["folders"]), "headers": _split(r["public headers"]),
                           "uses": set(_split(r["may use"]))} for r in t["layer"]}
    libraries = {r["library"]: _split(r["layers"]) for r in t["library"]}
    return layers, libraries


def header_library(path=DOC):
    """{installed header: the library that implements it}."""
    layers, libraries = load(path)
    lib_of = {layer: lib for lib, ls in libraries.items() for layer in ls}
    out = {}
    for name, row in layers.items():
        for h in row["headers"]:
            if name in lib_of:
                out.setdefault(h, lib_of[name])
    return out
