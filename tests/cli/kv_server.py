#!/usr/bin/env python3
"""samples/kv_server under load, read live, stopped by SIGTERM mid-load.

50 clients each SET their own keys (and GET and DEL some of them back)
as fast as the server answers.  Once every client has had answers,
`tasktrace ps` on the live server must show its tasks by name; then
SIGTERM arrives while the clients are still sending.  The server must
exit 0, and its last flush must hold every key whose SET was answered OK
(with that value) and none whose DEL was answered OK: a write is
acknowledged only once it is in the map, and the last flush comes after
every connection has ended.  The server flushes every millisecond, so a
flush is usually under way when the connections end: a last flush that is
that one (its snapshot taken before the last writes) fails about one run
in two.

Before that, out of descriptors: a server whose accept fails with EMFILE
must rest (main waits on its timer, not spinning in one poll deaf to a
stop) and serve the waiting client once descriptors are back.

The same checks run on the Go twin (bench/kv_go, tests/cli/kv_server_go.sh)
with TASKTRACE "-": no `ps` step.

usage: kv_server.py TASKTRACE|- KV_SERVER"""
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

CLIENTS = 50
NAMES = ("main", "signal", "flusher", "stats", "logger", "conn")


class Client(threading.Thread):
    def __init__(self, n, port, started):
        super().__init__(daemon=True)
        self.n, self.port, self.started = n, port, started
        self.acked = {}  # key -> value: SET answered OK (and no DEL sent)
        self.deleted = set()  # DEL answered OK
        self.bad = []        # a GET that returned something else
        self.replies = 0

    def ask(self, f, line):
        f.write(line + "\n")
        f.flush()
        reply = f.readline()
        if not reply.endswith("\n"):
            raise ConnectionError("closed")
        self.replies += 1
        if self.replies == 3:
            self.started.release()
        return reply[:-1]

    def run(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port)) as s, \
                    s.makefile("rw", newline="\n") as f:
                for i in range(1 << 30):
                    k, v = "c%d-k%d" % (self.n, i), "value %d of %d" % (i, self.n)
                    if self.ask(f, "SET %s %s" % (k, v)) == "OK":
                        self.acked[k] = v
                    if i % 5 == 4:
                        got = self.ask(f, "GET " + k)
                        if got != v:
                            self.bad.append((k, got))
                    if i % 7 == 6:
                        self.acked.pop(k, None)  # unknown until the DEL is answered
                        if self.ask(f, "DEL " + k) == "OK":
                            self.deleted.add(k)
        except (ConnectionError, OSError):
            pass  # the shutdown closed the connection
        finally:
            if self.replies < 3:
                self.started.release()


def start(server, db, flush_ms):
    p = subprocess.Popen([server, "0", str(flush_ms), db], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    ready = p.stdout.readline()
    m = re.search(r"pid (\d+) .*port (\d+)", ready)
    if not m:
        p.kill()
        sys.exit("kv_server did not start: %r %s" % (ready, p.stderr.read()))
    return p, m.group(1), int(m.group(2))


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        sys.exit("kv_server did not exit after SIGTERM:\n" + err)
    return err


def out_of_descriptors(cli, server):
    with tempfile.TemporaryDirectory() as d:
        p, pid, port = start(server, os.path.join(d, "kv.db"), 1000)
        # Serving, its tasks past their first polls (the signal task's
        # descriptor is opened there): a request answered.
        with socket.create_connection(("127.0.0.1", port)) as s, \
                s.makefile("rw", newline="\n") as f:
            f.write("SET warm up\n")
            f.flush()
            assert f.readline() == "OK\n", "kv_server did not answer"
        limits = resource.prlimit(int(pid), resource.RLIMIT_NOFILE)
        # A new descriptor takes the lowest free number: none under this.
        used = {int(n) for n in os.listdir("/proc/%s/fd" % pid)}
        free = min(set(range(len(used) + 1)) - used)
        resource.prlimit(int(pid), resource.RLIMIT_NOFILE, (free, limits[1]))
        with socket.create_connection(("127.0.0.1", port)) as s, \
                s.makefile("rw", newline="\n") as f:
            f.write("SET k v\n")  # queued: no descriptor to accept it with
            f.flush()
            rows = ""
            for _ in range(200 if cli != "-" else 0):
                rows = subprocess.run([cli, "ps", pid], capture_output=True, text=True,
                                      timeout=120).stdout
                main = [r for r in rows.splitlines() if re.search(r"\bmain\b", r)]
                if main and re.search(r"\bidle +timer\b", main[0]):
                    break
                time.sleep(0.05)
            else:
                if cli != "-":
                    p.kill()
                    sys.exit("out of descriptors, main never rested on a timer:\n" + rows)
            resource.prlimit(int(pid), resource.RLIMIT_NOFILE, limits)
            s.settimeout(60)
            reply = f.readline()
            assert reply == "OK\n", "after descriptors came back: %r" % reply
        err = stop(p)
        assert p.returncode == 0, "kv_server exited %d:\n%s" % (p.returncode, err)
        print("out of descriptors: %s, then served" %
              ("rested on its timer" if cli != "-" else "not read"))


def main():
    cli, server = sys.argv[1], sys.argv[2]
    out_of_descriptors(cli, server)
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "kv.db")
        p, pid, port = start(server, db, 1)

        started = threading.Semaphore(0)
        clients = [Client(n, port, started) for n in range(CLIENTS)]
        for c in clients:
            c.start()
        for _ in clients:  # every client has had answers: under load now
            started.acquire()

        names = []
        if cli != "-":
            ps = subprocess.run([cli, "ps", pid], capture_output=True, text=True, timeout=120)
            lines = ps.stdout.splitlines()
            col = lines[0].index("Name") if lines else 0
            names = [line[col:].split()[0] for line in lines[1:] if len(line) > col]
            missing = [n for n in NAMES if n not in names]
            assert ps.returncode == 0 and not missing, \
                "tasktrace ps %s: status %d, no task named %s\n%s%s" % (
                    pid, ps.returncode, missing, ps.stdout, ps.stderr)
            # The SIGTERM wait reads as one, not as a read of the
            # runtime's signalfd.
            bt = subprocess.run([cli, "bt", pid], capture_output=True, text=True, timeout=120)
            assert 'task 2 "signal" [signal "SIGTERM", ' in bt.stdout and \
                '#0  tt_signal  waits on signal "SIGTERM" [for ' in bt.stdout, \
                "tasktrace bt %s: the signal task's wait:\n%s%s" % (pid, bt.stdout, bt.stderr)

        err = stop(p)
        for c in clients:
            c.join(timeout=60)
            assert not c.is_alive(), "client %d still running after the server exited" % c.n
        assert p.returncode == 0, "kv_server exited %d:\n%s" % (p.returncode, err)

        with open(db) as f:
            flushed = dict(line.rstrip("\n").split(" ", 1) for line in f)
        acked = deleted = 0
        for c in clients:
            assert not c.bad, "client %d: GET returned %s" % (c.n, c.bad[:3])
            for k, v in c.acked.items():
                assert flushed.get(k) == v, "acknowledged SET %s %r: flushed %r" % (
                    k, v, flushed.get(k))
            for k in c.deleted:
                assert k not in flushed, "acknowledged DEL %s: still flushed" % k
            acked += len(c.acked)
            deleted += len(c.deleted)
        print("%d clients: %d acknowledged SETs and %d DELs in the last flush of %d keys%s" % (
            CLIENTS, acked, deleted, len(flushed),
            "; ps showed %d tasks, %d of them conn" % (len(names), names.count("conn"))
            if names else ""))


if __name__ == "__main__":
    main()
