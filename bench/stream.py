"""Live streams at scale (issue 14), on loopback, bounded in time.

    python bench/stream.py [--streams 1000] [--rounds 5] [--seconds 5] [--redis]

The gateway runs as deployed: gunicorn with the shipped gunicorn.conf.py (gevent
workers; WEB_CONCURRENCY workers, 2 by default here) and the job consumer, on
the embedded library (SQLite event log, or Redis with --redis). This process
then:

1. measures a cached feed's requests per second with wrk (no stream open);
2. opens N streams of one call (an asyncio client reading raw SSE lines: a
   thousand httpx clients would cost this 2-core machine more than the server)
   and checks that all are held (each got its opening `retry:`);
3. measures the cached feed again with the N streams open (target: at least
   half of 1.);
4. imports one new photo per round with `flask library import` (a process of
   its own, as an operator runs it) and records when each stream got its
   event: from the start of the import command, and from the moment the
   gateway knew the photo (the event's `found`; target: all within 1 s);
5. memory per stream: the workers' RSS with the streams open, less before,
   over N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from livesupport import SEARCH, Host, library_import  # noqa: E402

STREAM = "/services/stream/?" + SEARCH
FEED = "/services/rest/?" + SEARCH + "&format=feed-rss_200"


def wrk(port: int, path: str, seconds: int) -> float:
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def workers(host: Host) -> list[int]:
    master = host.procs[0].pid
    return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Clients:
    """N raw SSE readers on asyncio: each records (arrival time, data) of every `event: photo`."""

    def __init__(self, port: int, n: int):
        self.port, self.n = port, n
        self.opened = 0
        self.refused = 0
        self.events: list[list[tuple[float, dict]]] = [[] for _ in range(n)]
        self.writers: list[asyncio.StreamWriter] = []

    async def _one(self, i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writers.append(writer)
        writer.write(f"GET {STREAM} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
        status = await reader.readline()
        if b" 200 " not in status:
            self.refused += 1
            return
        while (await reader.readline()).strip():
            pass  # headers
        kind = ""
        while True:
            line = await reader.readline()
            if not line:
                return
            text = line.decode().strip()
            if text.startswith("retry:"):
                self.opened += 1
            elif text.startswith("event:"):
                kind = text[6:].strip()
            elif text.startswith("data:") and kind == "photo":
                self.events[i].append((time.time(), json.loads(text[5:])))

    async def open(self) -> None:
        self.tasks = []
        for start in range(0, self.n, 100):  # in bursts of 100: a reconnect storm, not a SYN flood
            self.tasks += [asyncio.create_task(self._one(i)) for i in range(start, min(self.n, start + 100))]
            await asyncio.sleep(0.2)
        deadline = time.monotonic() + 60
        while self.opened + self.refused < self.n and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    def close(self) -> None:
        for writer in self.writers:
            writer.close()
        for task in self.tasks:
            task.cancel()


async def run(args: argparse.Namespace) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(65536, resource.getrlimit(resource.RLIMIT_NOFILE)[1]),) * 2)
    tmp = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    env = {"WEB_CONCURRENCY": str(args.workers)}
    redis_cm = None
    if args.redis:
        from cachesupport import redis_server

        (tmp / "redis").mkdir()
        redis_cm = redis_server(tmp / "redis")
        env["GATEWAY_CACHE_URL"] = redis_cm.__enter__()
    host = Host(tmp, workers=args.workers, **{k: v for k, v in env.items() if k != "WEB_CONCURRENCY"})
    try:
        library_import(host.env, tmp, "first.xml", [1, 2, 3])
        import httpx

        assert httpx.get(f"{host.url}{FEED}").status_code == 200  # cached from now on
        print(f"gunicorn.conf.py, {args.workers} gevent workers, event log on {'Redis' if args.redis else 'SQLite'};"
              f" 2 CPUs shared; load average {load()}")
        before = wrk(host.port, FEED, args.seconds)
        print(f"1. cached feed, no stream open:      {before:8.0f} req/s (wrk -t2 -c32 -d{args.seconds}s)")
        rss_before = {pid: rss_mb(pid) for pid in workers(host)}
        clients = Clients(host.port, args.streams)
        started = time.monotonic()
        await clients.open()
        print(f"2. streams held open: {clients.opened} of {args.streams} ({clients.refused} refused) "
              f"in {time.monotonic() - started:.1f} s; load average {load()}")
        await asyncio.sleep(1)
        during = await asyncio.to_thread(wrk, host.port, FEED, args.seconds)
        print(f"3. cached feed, {clients.opened} streams open: {during:8.0f} req/s = {during / before:.2f} x "
              f"without (target >= 0.5); load average {load()}")
        from_import, from_found, imports = [], [], []
        for r in range(args.rounds):
            pid = 100 + r
            t0 = time.time()
            await asyncio.to_thread(library_import, host.env, tmp, f"round{r}.xml", [pid])
            imports.append(time.time() - t0)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                got = [next((e for e in ev if e[1]["id"] == str(pid)), None) for ev in clients.events]
                if sum(g is not None for g in got) >= clients.opened:
                    break
                await asyncio.sleep(0.05)
            arrivals = [g for g in got if g is not None]
            from_import += [max(a for a, _ in arrivals) - t0]
            from_found += [max(a - d["found"] for a, d in arrivals)]
            print(f"   round {r + 1}: photo {pid} reached {len(arrivals)} of {clients.opened} streams; last "
                  f"{from_import[-1]:.2f} s after the import started (the command took {imports[-1]:.2f} s), "
                  f"{from_found[-1]:.3f} s after the gateway knew it")
            await asyncio.sleep(1)
        every = sorted(a - d["found"] for ev in clients.events for a, d in ev)
        ordered = sorted(from_import)
        print(f"4. import to the last stream's event: p50 {statistics.median(from_import):.2f} s, "
              f"p99 {ordered[max(0, int(len(ordered) * 0.99) - 1)]:.2f} s over {args.rounds} imports (from the start "
              f"of the import command, which itself took p50 {statistics.median(imports):.2f} s)")
        print(f"   known to delivered, every event of every stream ({len(every)}): p50 "
              f"{every[len(every) // 2] * 1000:.0f} ms, p99 {every[int(len(every) * 0.99) - 1] * 1000:.0f} ms, "
              f"max {every[-1] * 1000:.0f} ms (target: all < 1000 ms)")
        rss_after = {pid: rss_mb(pid) for pid in workers(host)}
        grown = sum(rss_after.get(p, 0) - rss_before.get(p, 0) for p in rss_before)
        print(f"5. worker RSS before {sum(rss_before.values()):.0f} MB, with the streams "
              f"{sum(rss_after.values()):.0f} MB: {grown * 1024 / max(1, clients.opened):.1f} KB per stream; "
              f"load average {load()}")
        clients.close()
    finally:
        host.close()
        if redis_cm is not None:
            redis_cm.__exit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--redis", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
