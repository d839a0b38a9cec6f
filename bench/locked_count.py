#!/usr/bin/env python3
"""Locked instructions executed, from a callgrind run with --dump-instr=yes.

usage: locked_count.py callgrind.out OBJECT...

Each OBJECT (an ELF file: the program, libtasktrace.so) is disassembled with
objdump; every instruction with a lock prefix, or an xchg with memory (locked
implicitly), is looked up in callgrind's per-instruction counts.  Prints the
total and the count per function.  callgrind.out must be written with
--dump-instr=yes --compress-pos=no --compress-strings=no."""
import re
import subprocess
import sys
from collections import Counter


def locked_addrs(path):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path],
                         capture_output=True, text=True, check=True).stdout
    addrs, fn = {}, "?"
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if m:
            fn = m.group(1)
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(.*)$", line)
        if m and (re.match(r"lock\b", m.group(2)) or
                  re.match(r"xchg\s.*\(", m.group(2))):
            addrs[int(m.group(1), 16)] = fn
    return addrs


def count(prof, objs):
    """Locked instructions executed per function of OBJS in callgrind
    output PROF (a Counter)."""
    locked = {o: locked_addrs(o) for o in objs}
    counts, ob, npos = Counter(), None, 1
    for line in open(prof):
        if line.startswith("positions:"):
            # "instr line" with debug info: the count follows both.
            npos = len(line.split()) - 1
        elif line.startswith("ob="):
            name = line[3:].strip()
            ob = next((o for o in objs if name.endswith(o.split("/")[-1])), None)
        elif ob and line.startswith("0x"):
            parts = line.split()
            addr = int(parts[0], 16)
            ir = int(parts[npos]) if len(parts) > npos else 0
            # Shared objects are mapped at a base; callgrind gives the
            # object-relative address for them, absolute for a PIE too.
            fn = locked[ob].get(addr)
            if fn:
                counts[fn] += ir
    return counts


def main():
    counts = count(sys.argv[1], sys.argv[2:])
    total = sum(counts.values())
    print(f"locked instructions: {total}")
    for fn, n in counts.most_common():
        print(f"  {n:>10}  {fn}")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # | head
        pass
