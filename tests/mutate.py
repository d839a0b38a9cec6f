#!/usr/bin/env python3
"""Mutation check: does the suite notice small bugs planted in the source?

Reads a list of mutants (tests/mutants.txt), copies the source tree to a
scratch directory (never the checkout itself), builds it once, then for
each mutant: replaces one exact snippet in one file, rebuilds with ninja,
runs only the meson tests the mutant names, restores the file.  A mutant
is "killed" when a test fails (or the mutant does not build), "survived"
when every test passes; "equivalent" mutants (no behaviour can tell them
apart) are listed in the file and left out of the score.

    tests/mutate.py [-k NAME[,NAME]] [--list FILE] [--scratch DIR] [--keep]

Exit status 0 when the score reaches --target (default 90 %), 1 otherwise,
2 for a bad list.  A snippet not found in its file (the source moved on) is
reported as such and counted apart; it never stops the run.

The list: blocks separated by blank lines, '#' starts a comment line.
    name:  short-unique-name
    file:  path/from/the/source/root.c
    from:  exact text of the original (must occur once in the file)
    to:    its replacement
    tests: meson test names, space separated
    equivalent: why no test can tell (optional: excluded from the score)
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = ("name", "file", "from", "to", "tests", "equivalent")


def parse(path):
    mutants, cur = [], {}
    with open(path) as f:
        lines = f.read().split("\n")
    for no, line in enumerate(lines + [""], 1):
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                missing = [k for k in KEYS[:5] if k not in cur]
                if missing:
                    sys.exit(f"{path}:{no}: mutant {cur.get('name', '?')} lacks {missing}")
                mutants.append(cur)
                cur = {}
            continue
        key, sep, val = line.partition(":")
        key = key.strip()
        if not sep or key not in KEYS:
            sys.exit(f"{path}:{no}: expected one of {KEYS}: {line!r}")
        val = val.strip()
        if key in ("from", "to"):
            val = val.replace("\\n", "\n").replace("\\t", "\t")
        cur[key] = val
    names = [m["name"] for m in mutants]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        sys.exit(f"{path}: duplicate names {sorted(dup)}")
    return mutants


def run(cmd, cwd, timeout, log):
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        try:
            return subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            out.write("(timed out)\n")
            return -1


def copy_tree(dst):
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    for rel in filter(None, files):
        src = os.path.join(ROOT, rel)
        if not os.path.isfile(src):
            continue
        os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dst, rel))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", default=os.path.join(ROOT, "tests", "mutants.txt"))
    ap.add_argument("-k", "--only", help="comma-separated mutant names")
    ap.add_argument("--scratch", help="scratch directory (kept between runs: faster)")
    ap.add_argument("--keep", action="store_true", help="keep a temporary scratch copy")
    ap.add_argument("--target", type=float, default=90.0)
    ap.add_argument("--timeout", type=int, default=600, help="per mutant's tests, s")
    a = ap.parse_args()

    mutants = parse(a.list)
    if a.only:
        want = set(a.only.split(","))
        mutants = [m for m in mutants if m["name"] in want]
    scratch = a.scratch or tempfile.mkdtemp(prefix="tt-mutate-")
    src, build = os.path.join(scratch, "src"), os.path.join(scratch, "build")
    log = os.path.join(scratch, "mutate.log")
    # A fresh copy of the source each run; the build dir is kept when given
    # a --scratch so ninja rebuilds only what changed.
    if os.path.isdir(src):
        shutil.rmtree(src)
    copy_tree(src)
    print(f"scratch {scratch} (log {log})", flush=True)
    if not os.path.isdir(build):
        if run(["meson", "setup", build, src], scratch, 600, log):
            sys.exit(f"meson setup failed, see {log}")
    if run(["ninja", "-C", build], scratch, 3600, log):
        sys.exit(f"the unmutated tree does not build, see {log}")

    results = []
    for m in mutants:
        path = os.path.join(src, m["file"])
        t0 = time.time()
        try:
            with open(path) as f:
                orig = f.read()
        except OSError:
            orig = None
        count = orig.count(m["from"]) if orig is not None else 0
        if count != 1:
            verdict = "snippet not found" if count == 0 else f"snippet found {count} times"
        else:
            with open(path, "w") as f:
                f.write(orig.replace(m["from"], m["to"]))
            try:
                with open(log, "a") as out:
                    out.write(f"\n==== {m['name']}\n")
                if run(["ninja", "-C", build], scratch, 1800, log):
                    verdict = "killed (build)"
                else:
                    rc = run(["meson", "test", "-C", build, "--no-rebuild", "--print-errorlogs",
                              *m["tests"].split()], scratch, a.timeout, log)
                    verdict = "survived" if rc == 0 else "killed"
            finally:
                with open(path, "w") as f:
                    f.write(orig)
        if "equivalent" in m:
            verdict += " (equivalent: excluded)"
        results.append((m, verdict))
        print(f"{m['name']:32} {verdict:34} {time.time() - t0:5.0f}s  [{m['tests']}]", flush=True)
    # Leave the build matching the source again.
    run(["ninja", "-C", build], scratch, 3600, log)

    scored = [(m, v) for m, v in results if "equivalent" not in m and v.startswith(("killed", "survived"))]
    killed = sum(v.startswith("killed") for _, v in scored)
    score = 100.0 * killed / len(scored) if scored else 0.0
    print(f"\n{killed}/{len(scored)} killed ({score:.0f} %), "
          f"{sum('equivalent' in m for m, _ in results)} equivalent excluded, "
          f"{sum('snippet' in v for _, v in results)} not applied")
    for m, v in results:
        if v == "survived" or "snippet" in v:
            print(f"  {v}: {m['name']} ({m['file']})")
    if not a.scratch and not a.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if score >= a.target else 1


if __name__ == "__main__":
    sys.exit(main())
