#!/usr/bin/env python3
"""Build the fuzz target with clang (the project's compiler is gcc): each
source compiled on its own with a dependency file, then linked, and the
dependencies gathered into one depfile for ninja, so a change to any header
a source includes rebuilds the target.

Usage: clang_build.py CLANG OUTPUT DEPFILE FLAG... -- SOURCE...
"""
import os
import subprocess
import sys


def main():
    cc, out, depfile = sys.argv[1:4]
    rest = sys.argv[4:]
    cut = rest.index("--")
    flags, sources = rest[:cut], rest[cut + 1:]
    objdir = out + ".p"
    os.makedirs(objdir, exist_ok=True)
    objs, deps = [], []
    for i, src in enumerate(sources):
        obj = os.path.join(objdir, "%d-%s.o" % (i, os.path.basename(src)))
        subprocess.run([cc, *flags, "-MMD", "-MF", obj + ".d", "-c", src, "-o", obj],
                       check=True)
        with open(obj + ".d") as f:
            text = f.read()
        # "OBJ: SRC HEADERS..." becomes a rule of OUTPUT
        deps.append(out + ":" + text.split(":", 1)[1])
        objs.append(obj)
    subprocess.run([cc, *flags, *objs, "-o", out], check=True)
    with open(depfile, "w") as f:
        f.write("".join(deps))


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as e:
        sys.exit(e.returncode or 1)
