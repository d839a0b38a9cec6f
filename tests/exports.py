#!/usr/bin/env python3
"""The exported surface is the installed headers, and nothing else.

usage: exports.py READELF INCLUDE_DIR... -- LIB.so...

(every header under an INCLUDE_DIR is installed)

Every function and object an installed header declares must carry TT_API,
and be exported by the library that owns its header; a library exports
nothing else (the libraries are built with -fvisibility=hidden).  The
dynamic symbol table is read with readelf, which shows visibility: ld lists
the hidden bounds of a section (__start_SECTION) there too, and those are
not exported.
"""

import os
import re
import subprocess
import sys

# Which library implements what a header declares: docs/architecture.md's
# layer and library tables (tests/arch/layers.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "arch"))
import layers  # noqa: E402

OWNER = layers.header_library()
# Objects the ABI needs that no header declares as a C object: readers
# find the registry by this name (TT_REGISTRY_SYMBOL).
EXTRA = {"tasktrace_registry": "libtasktrace"}


def strip(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"\\\n", " ", text)
    return "\n".join(l for l in text.split("\n") if not l.lstrip().startswith("#"))


def statements(text):
    """Top-level statements (extern "C" blocks opened), bodies dropped."""
    out, cur, depth = [], "", 0
    text = re.sub(r'extern\s+"C"\s*\{', " ", text)
    for ch in text:
        if ch == "{":
            depth += 1
            cur += " {} " if depth == 1 else ""
            continue
        if ch == "}":
            depth = max(0, depth - 1)
            if depth == 0 and cur.strip().startswith("static"):
                out.append(cur.strip())
                cur = ""
            continue
        if depth:
            continue
        if ch == ";":
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [" ".join(s.split()) for s in out if s.strip()]


def declared(path):
    """{name: has TT_API} for the functions and objects declared in PATH."""
    names, bad = {}, []
    for s in statements(strip(open(path).read())):
        if re.match(r"(typedef|static)\b", s) or "{}" in s:
            continue
        if re.match(r"(struct|enum|union)\b", s) and "(" not in s:
            continue  # a forward declaration
        api = s.startswith("TT_API ")
        if "(" in s:
            m = re.match(r"[^(]*?(\w+)\s*\(", s)
            if m:
                names[m.group(1)] = api
            else:
                bad.append(s)
        elif s.startswith("extern") or s.startswith("TT_API extern"):
            decl = re.sub(r"^(TT_API\s+)?extern\s+", "", s)
            first, *rest = decl.split(",")
            names[re.findall(r"\w+", first)[-1]] = api
            for r in rest:
                names[re.findall(r"\w+", r)[-1]] = api
    return names, bad


def exported(readelf, lib):
    out = subprocess.run([readelf, "--dyn-syms", "-W", lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        f = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(f) < 8 or not f[0].endswith(":") or f[6] == "UND":
            continue
        name = f[7].split("@")[0]
        # AddressSanitizer's ODR indicator of an exported object.
        if name.startswith("__odr_asan."):
            continue
        if f[4] in ("GLOBAL", "WEAK") and f[5] in ("DEFAULT", "PROTECTED"):
            names.add(name)
    return names


def main():
    args = sys.argv[1:]
    readelf, args = args[0], args[1:]
    sep = args.index("--")
    headers = sorted(os.path.join(d, f) for top in args[:sep] for d, _, fs in os.walk(top)
                     for f in fs if f.endswith(".h"))
    libs = args[sep + 1:]
    errors = []
    want = dict(EXTRA)
    for h in headers:
        rel = h[h.rindex("/tasktrace/") + 1:]
        names, bad = declared(h)
        errors += ["%s: cannot parse: %s" % (rel, s) for s in bad]
        if rel not in OWNER:
            errors.append("%s: in no layer of a library in docs/architecture.md" % rel)
        for name, api in sorted(names.items()):
            if not api:
                errors.append("%s: %s is declared without TT_API" % (rel, name))
            want[name] = OWNER.get(rel)
    have = {}
    for lib in libs:
        base = os.path.basename(lib).split(".so")[0]
        for name in exported(readelf, lib):
            have.setdefault(name, []).append(base)
    for name, owner in sorted(want.items()):
        if name not in have:
            errors.append("%s: declared for %s but not exported" % (name, owner))
        elif have[name] != [owner]:
            errors.append("%s: exported by %s, not by %s alone" %
                          (name, " and ".join(have[name]), owner))
    for name in sorted(set(have) - set(want)):
        errors.append("%s: exported by %s but declared in no installed header" %
                      (name, " and ".join(have[name])))
    for e in errors:
        print("exports:", e)
    print("exports: %d names checked in %d libraries, %d errors" %
          (len(want), len(libs), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
