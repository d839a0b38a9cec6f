#!/usr/bin/env python3
"""Fail when a source file includes a header of a layer it may not use.

The layers, their folders, their public headers and the arrows between them
are read from the table in docs/architecture.md, so the drawing and the rule
are one text.  Usage: check_layers.py SOURCE_ROOT"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import layers as L  # noqa: E402

ROOT = sys.argv[1] if len(sys.argv) > 1 else "."
# Everything may use these: the export macro, the ABI, the build's config.
EVERYONE = {"api", "abi"}


def main():
    layers, _ = L.load(os.path.join(ROOT, "docs", "architecture.md"))
    folder_of, header_of = {}, {}
    for name, row in layers.items():
        for f in row["folders"]:
            folder_of[f] = name
        for h in row["headers"]:
            header_of.setdefault(h, name)
    for name, row in layers.items():
        unknown = row["uses"] - set(layers)
        if unknown:
            sys.exit("check_layers: layer %s uses unknown %s" % (name, ", ".join(sorted(unknown))))

    def layer_of_path(rel):
        best = None
        for f, name in folder_of.items():
            if rel.startswith(f + "/") and (best is None or len(f) > len(best[0])):
                best = (f, name)
        if best:
            return best[1]
        for inc in ("core-runtime/include/", "symbolizer/include/"):
            if rel.startswith(inc):
                return header_of.get(rel[len(inc):])
        return None

    def layer_of_include(name, src_layer):
        if name == "tasktrace_config.h":
            return "abi"
        if name in header_of:
            return header_of[name]
        first = name.split("/")[0]
        for f, layer in folder_of.items():
            if f.endswith("/" + first) and "/" in name:
                return layer
        return src_layer if "/" not in name else None

    bad, checked = [], 0
    for top in ("core-runtime", "symbolizer", "gdb-plugin"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for fn in sorted(files):
                if not fn.endswith((".c", ".h")):
                    continue
                path = os.path.join(d, fn)
                rel = os.path.relpath(path, ROOT)
                src = layer_of_path(rel)
                if src is None:
                    bad.append("%s: in no layer of docs/architecture.md" % rel)
                    continue
                checked += 1
                allowed = layers[src]["uses"] | EVERYONE | {src}
                for n, line in enumerate(open(path, encoding="utf-8"), 1):
                    m = re.match(r'\s*#\s*include\s*[<"]([^">]+)[">]', line)
                    if not m or (line.lstrip("# \t").startswith("include <")
                                 and not m.group(1).startswith("tasktrace/")):
                        continue
                    dst = layer_of_include(m.group(1), src)
                    if dst is None:
                        bad.append("%s:%d: %s belongs to no layer" % (rel, n, m.group(1)))
                    elif dst not in allowed:
                        bad.append("%s:%d: layer %s may not include %s (layer %s)"
                                   % (rel, n, src, m.group(1), dst))
    for b in bad:
        print(b)
    print("check_layers: %d files, %d bad includes" % (checked, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
