#!/usr/bin/env python3
"""The code docs/guide.md's "Writing a server" chapter quotes is the code
of samples/kv_server.c: each C block's non-blank lines occur in the sample,
in the same order (a quote may skip lines, never change one), and the line
count it gives is the one bench/code_lines.py counts.

usage: guide_quotes.py SOURCE_ROOT"""
import os
import re
import sys

root = sys.argv[1]
sys.path.insert(0, os.path.join(root, "bench"))
from code_lines import code_lines  # noqa: E402

with open(os.path.join(root, "docs", "guide.md")) as f:
    guide = f.read()
with open(os.path.join(root, "samples", "kv_server.c")) as f:
    sample = f.read()
chapter = guide[guide.index("## Writing a server\n"):]
chapter = chapter[:chapter.index("\n## ", 1)]
src = sample.split("\n")
bad = []
blocks = re.findall(r"```c\n(.*?)```", chapter, re.S)
for n, block in enumerate(blocks, 1):
    at = 0
    for line in block.split("\n"):
        if not line.strip():
            continue
        try:
            at = src.index(line, at) + 1
        except ValueError:
            bad.append("block %d: not in samples/kv_server.c (or out of order): %r" % (n, line))
            break
m = re.search(r"It is (\d+)\s+code lines", chapter)
if not m or int(m.group(1)) != code_lines(sample):
    bad.append("the chapter says %s code lines, bench/code_lines.py counts %d" %
               (m.group(1) if m else "no number of", code_lines(sample)))
if len(blocks) < 5:
    bad.append("only %d C blocks in the chapter" % len(blocks))
for b in bad:
    print("docs/guide.md, Writing a server: " + b)
sys.exit(1 if bad else 0)
