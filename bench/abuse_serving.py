"""Abuse of the serving model (issue 17, items 1 and 5), on loopback only, every part bounded in time or count.

    python bench/abuse_serving.py [--slow 500] [--seconds 20] [--flood 2000]

Starts the gateway with the shipped gunicorn.conf.py (gevent worker; only the
bind address, the library path and, for part 2, GATEWAY_PROXY_HOPS set) on a
temporary library with its demo photos, and prints:

1. Slow connections: --slow connections that each send a request line, then
   one header byte every 2 s, reconnecting when the server closes them (as an
   attacker would), for --seconds. Meanwhile a probe asks /healthz and a
   cached feed every 0.5 s on a new connection. Printed: the slow connections
   held open (median and lowest while probing), how many the server closed at
   its header deadline, and the probes' latency (median, 99th percentile, max).
2. Long-header flood: --flood requests, 8 at a time, each with an 8 KB query
   and a different 15 KB Host, Authorization or X-Forwarded-Prefix (a third
   each), once with GATEWAY_PROXY_HOPS=0 (the default: the prefix is
   ignored) and once with 1 (the prefix is believed, and every distinct one
   is a new cache entry). Printed: worker RSS before, right after, and 5 s
   after (target: at most 100 MB), and the private part of it then.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEED = "/services/rest/?method=flickr.photos.getRecent&format=feed-atom_10"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gateway(tmp: Path, **env: str) -> Iterator[tuple[int, int]]:
    """The gateway under gunicorn.conf.py on a loopback port; yields (port, master pid)."""
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "wsgi:app"]
    environ = {**os.environ, "GATEWAY_LIBRARY_PATH": str(tmp / "lib.sqlite"),
               "GATEWAY_IMAGE_CACHE": str(tmp / "images"), **env}
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with open(tmp / "gunicorn.log", "ab") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=log,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the gateway did not start: see {tmp / 'gunicorn.log'}") from None
                time.sleep(0.2)
        time.sleep(1)  # every worker booted
        yield port, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def get(port: int, path: str, headers: dict | None = None, timeout: float = 10) -> tuple[int, float]:
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - start
    finally:
        conn.close()


def workers(master: int) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def private_mb(pid: int) -> float:
    """The worker's own memory: RSS less the pages it shares with the master and the other workers
    (shared libraries, the interpreter's code), from /proc/PID/smaps_rollup (Private_Clean + Private_Dirty)."""
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    kb = (int(re.search(rf"{name}:\s+(\d+) kB", rollup).group(1)) for name in ("Private_Clean", "Private_Dirty"))
    return sum(kb) / 1024


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------- 1. slow connections


class Dripper:
    """`n` slow connections kept open: a request line, then a header byte every `every` seconds."""

    def __init__(self, port: int, n: int, every: float = 2.0):
        self.port, self.every = port, every
        self.socks: list[socket.socket | None] = [None] * n
        self.closed_by_server = 0
        self.stop = threading.Event()
        for i in range(n):
            self.socks[i] = self._open()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            sock.sendall(f"GET {FEED} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".encode())
            sock.setblocking(False)
            return sock
        except OSError:
            return None

    def held(self) -> int:
        return sum(sock is not None for sock in self.socks)

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            for i, sock in enumerate(self.socks):
                alive = sock is not None
                if alive:
                    try:
                        if sock.recv(1) == b"":  # the server closed it (its header deadline)
                            alive = False
                    except BlockingIOError:
                        pass
                    except OSError:
                        alive = False
                if alive:
                    try:
                        sock.send(b"a")
                    except OSError:
                        alive = False
                if not alive:
                    if sock is not None:
                        self.closed_by_server += 1
                        sock.close()
                    self.socks[i] = self._open()  # the attacker comes back at once

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for sock in self.socks:
            if sock is not None:
                sock.close()


def slow_connections(tmp: Path, n: int, seconds: int) -> None:
    with gateway(tmp) as (port, master):
        for _ in range(20):  # cached, and known to FastHits, in every worker
            get(port, FEED)
        dripper = Dripper(port, n)
        held, latencies, failures = [], {"/healthz": [], FEED: []}, 0
        end = time.monotonic() + seconds
        time.sleep(1)
        while time.monotonic() < end:
            held.append(dripper.held())
            for path in latencies:
                try:
                    status, took = get(port, path, timeout=10)
                    latencies[path].append(took if status == 200 else float("inf"))
                except OSError:
                    failures += 1
            time.sleep(0.5)
        dripper.close()
        count = len(workers(master))
    print(f"1. {n} slow connections (a header byte every 2 s) for {seconds} s, {count} gevent workers;"
          f" load average {load()}")
    print(f"   held open while probing: median {statistics.median(held):.0f}, lowest {min(held)};"
          f" closed by the server at its header deadline: {dripper.closed_by_server} (the attacker reconnected)")
    for path, took in latencies.items():
        took = sorted(took)
        p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
        name = "cached feed" if path == FEED else path
        print(f"   probe {name:12} {len(took)} answers: median {statistics.median(took) * 1000:.1f} ms,"
              f" p99 {p99 * 1000:.1f} ms, max {took[-1] * 1000:.1f} ms")
    print(f"   probes that failed or timed out (10 s): {failures}")


# ---------------------------------------------------------------- 2. long-header flood


def long_headers(tmp: Path, count: int, hops: int) -> None:
    with gateway(tmp, GATEWAY_PROXY_HOPS=str(hops)) as (port, master):
        for _ in range(20):
            get(port, FEED)
        pids = workers(master)
        before = [rss_mb(pid) for pid in pids]
        rng = random.Random(17)
        local = threading.local()
        statuses: dict[int, int] = {}

        def one(n: int) -> None:
            if not hasattr(local, "conn"):
                local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            filler = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=7900))
            path = f"/services/rest/?method=flickr.photos.search&format=feed-rss_200&text={n}{filler}"
            big = f"{n}-" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=15 * 1024 - 8))
            kind = n % 3
            try:
                local.conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
                local.conn.putheader("Host", f"h{big}.example" if kind == 0 else "127.0.0.1")
                if kind == 1:
                    local.conn.putheader("Authorization", f"Bearer {big}")
                if kind == 2:
                    local.conn.putheader("X-Forwarded-Prefix", f"/{big}")
                local.conn.endheaders()
                response = local.conn.getresponse()
                response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if response.will_close:
                    local.conn.close()
                    del local.conn
            except (OSError, http.client.HTTPException):
                local.conn.close()
                del local.conn
                statuses[0] = statuses.get(0, 0) + 1

        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(count)))
        elapsed = time.monotonic() - started
        after = [rss_mb(pid) for pid in pids]
        time.sleep(5)
        idle = [rss_mb(pid) for pid in pids]
        private = [private_mb(pid) for pid in pids]
    print(f"2. {count:,} requests with an 8 KB query and a different 15 KB Host, Authorization or"
          f" X-Forwarded-Prefix each, 8 at a time, GATEWAY_PROXY_HOPS={hops}: {elapsed:.1f} s;"
          f" statuses {dict(sorted(statuses.items()))}; load average {load()}")
    print(f"   worker RSS before: {', '.join(f'{m:.0f}' for m in before)} MB; after:"
          f" {', '.join(f'{m:.0f}' for m in after)} MB; 5 s later: {', '.join(f'{m:.0f}' for m in idle)} MB"
          f" (max {max(after + idle):.0f} MB; target <= 100); of which private then:"
          f" {', '.join(f'{m:.0f}' for m in private)} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=500, help="slow connections held open")
    parser.add_argument("--seconds", type=int, default=20, help="how long they are held while probing")
    parser.add_argument("--flood", type=int, default=2000, help="requests of the long-header flood")
    parser.add_argument("--hops", type=int, action="append",
                        help="GATEWAY_PROXY_HOPS of a flood run (repeatable; default: 0, the shipped default,"
                             " then 1, where the 15 KB X-Forwarded-Prefix is believed and reaches the links)")
    parser.add_argument("--only", choices=["slow", "flood"])
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gateway-abuse-") as tmp:
        if options.only in (None, "slow"):
            slow_connections(Path(tmp), options.slow, options.seconds)
        if options.only in (None, "flood"):
            for hops in options.hops or [0, 1]:
                long_headers(Path(tmp), options.flood, hops)


if __name__ == "__main__":
    main()
