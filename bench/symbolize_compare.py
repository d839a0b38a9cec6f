#!/usr/bin/env python3
"""Side-by-side: tasktrace symbolize vs llvm-symbolizer vs eu-addr2line on
the same addresses of one ELF file.  Prints times, ratios and how often
the answers (function name and line of every frame, inline frames
included) agree.  Used by bench/symbolize.sh."""
import random
import re
import resource
import subprocess
import sys
import time


def text_range(path):
    out = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split()
        if ".text" in f:
            i = f.index(".text")
            return int(f[i + 2], 16), int(f[i + 4], 16)
    raise SystemExit("no .text in " + path)


def frames_llvm(out):
    """Blocks of function/file:line:col pairs separated by blank lines."""
    res, cur, lines = [], [], out.split("\n")
    i = 0
    while i < len(lines):
        if lines[i] == "":
            if cur:
                res.append(tuple(cur))
            cur = []
            i += 1
            continue
        fn, loc = lines[i], lines[i + 1] if i + 1 < len(lines) else ""
        cur.append((fn, loc.rsplit(":", 2)[1] if loc.count(":") >= 2 else "0"))
        i += 2
    return res


def frames_eu(out):
    res, cur = [], None
    lines = out.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.match(r"^0x[0-9a-f]+$", line):
            if cur is not None:
                res.append(tuple(cur))
            cur = []
            i += 1
            continue
        if not line:
            i += 1
            continue
        fn = line.split(" inlined at ")[0]
        loc = lines[i + 1] if i + 1 < len(lines) else ""
        parts = loc.split(":")
        ln = parts[1] if len(parts) >= 2 else "0"
        cur.append((fn, ln if ln.isdigit() else "0"))
        i += 2
    if cur is not None:
        res.append(tuple(cur))
    return res


def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(cmd, data):
    """Wall time and CPU time (user + sys) of one run, and its output."""
    t0, c0 = time.perf_counter(), cpu()
    p = subprocess.run(cmd, input=data, capture_output=True, text=True)
    dt, dc = time.perf_counter() - t0, cpu() - c0
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {p.stderr}")
    return (dt, dc), p.stdout


def agree(a, b):
    n = min(len(a), len(b))
    same = sum(1 for i in range(n) if a[i] == b[i])
    return 100.0 * same / max(len(a), len(b), 1)


def alias_map(obj):
    """name -> address of every function symbol of OBJ and of its separate
    debug file: names of one address are aliases (setregid, __setregid,
    __GI___setregid), which the tools pick among differently."""
    names = {}
    files = [obj]
    note = subprocess.run(["eu-readelf", "-n", obj], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", note)
    if m:
        bid = m.group(1)
        files.append(f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug")
    for f in files:
        for flag in ("-D", ""):
            out = subprocess.run(["nm"] + ([flag] if flag else []) + [f],
                                 capture_output=True, text=True).stdout
            for line in out.splitlines():
                p = line.split()
                if len(p) == 3 and p[1] in "TtWwiI":
                    names.setdefault(p[2].split("@")[0], int(p[0], 16))
    return names


def canon(blocks, aliases):
    return [tuple((f"@{aliases[f]:x}" if f in aliases else f, ln) for f, ln in b)
            for b in blocks]


def main():
    tasktrace, obj, count, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    lo, size = text_range(obj)
    rnd = random.Random(42)
    addrs = "".join(f"0x{lo + rnd.randrange(size):x}\n" for _ in range(count))
    tools = {
        "tasktrace symbolize": [tasktrace, "symbolize", "--exe", obj],
        "llvm-symbolizer-14": ["llvm-symbolizer-14", "--obj=" + obj],
        "eu-addr2line -a -i -f": ["eu-addr2line", "-a", "-i", "-f", "-e", obj],
    }
    best, bcpu, outs = {}, {}, {}
    for r in range(reps):  # alternate the contenders, keep each one's best
        for name, cmd in tools.items():
            (dt, dc), out = run(cmd, addrs)
            best[name] = min(best.get(name, dt), dt)
            bcpu[name] = min(bcpu.get(name, dc), dc)
            outs[name] = out
    aliases = alias_map(obj)
    ours = frames_llvm(outs["tasktrace symbolize"])
    llvm = frames_llvm(outs["llvm-symbolizer-14"])
    eu = frames_eu(outs["eu-addr2line -a -i -f"])
    inl = sum(1 for b in ours if len(b) > 1)
    print(f"{count} random addresses in .text of {obj}, best of {reps} runs each, "
          f"{inl} of them with inlined frames")
    print("| tool | wall (s) | CPU (s) | addresses/CPU-s | tasktrace CPU speed-up "
          "| agreement with tasktrace | same, aliases equal |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    base = bcpu["tasktrace symbolize"]
    for name, frames in (("tasktrace symbolize", ours), ("llvm-symbolizer-14", llvm),
                         ("eu-addr2line -a -i -f", eu)):
        print(f"| {name} | {best[name]:.3f} | {bcpu[name]:.3f} | {count / bcpu[name]:.0f} | "
              f"{bcpu[name] / base:.1f}x | {agree(ours, frames):.1f}% | "
              f"{agree(canon(ours, aliases), canon(frames, aliases)):.1f}% |")


if __name__ == "__main__":
    main()
