"""Benchmarks for issue 5, on loopback only, every run bounded in time or count.

    python bench/measure.py [--seconds 10]      (needs gunicorn, wrk and redis-server on PATH)

1. Requests per second (wrk) of a cached feed, a gzip'ed cached feed and a 304,
   side by side with a minimal Flask "hello world" served by the same gunicorn
   settings (gunicorn.conf.py: the same gevent workers and keep-alive; only the
   bind address overridden) in the same run.
   Targets: cached feed >= 0.6 x hello world, 304 >= 0.8 x.
2. Upstream calls when 50 identical cold requests arrive together, per backend.
   Targets: one per worker process with memory://, one in total when shared.
3. Worker memory (RSS) after 10,000 requests over 1,000 distinct feeds (picked
   in a fixed random order) with the default memory:// cache. Target: under
   100 MB per worker.

Servers are started here (the gateway as bench/gateway_app.py, with a bench
upstream that counts its calls) and stopped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import shutil
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
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
FEED = "/services/rest/?" + urlencode({"method": "flickr.groups.pools.getPhotos", "group_id": "66832458@N00",
                                      "format": "feed-rss_200"})
WRK = ["-t2", "-c32"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(app: str, log: Path, **env: str) -> Iterator[tuple[int, int]]:
    """Serve `app` with gunicorn.conf.py on a loopback port; yields (port, master pid)."""
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", app]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                                stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{app} did not start: see {log}") from None
                time.sleep(0.1)
        time.sleep(1)  # let every worker boot
        yield port, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the group this script created: master and its workers
        proc.wait(30)


def serving_model() -> str:
    """The worker class and keep-alive gunicorn.conf.py sets (read from its text: running it has side effects)."""
    text = (ROOT / "gunicorn.conf.py").read_text()
    worker = re.search(r'^worker_class = "(\w+)"', text, re.M)
    keepalive = os.environ.get("GUNICORN_KEEPALIVE", "5")
    return f"{worker.group(1) if worker else 'sync'} workers, keep-alive {keepalive} s"


def fetch(port: int, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.body = response.read()
        return response
    finally:
        conn.close()


def wrk(port: int, path: str, seconds: int, headers: dict | None = None) -> float:
    cmd = ["wrk", *WRK, f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                         timeout=seconds + 60, check=True).stdout
    if "Non-2xx or 3xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def throughput(seconds: int, rounds: int, log: Path) -> None:
    """wrk runs of hello world and the gateway's cached responses, interleaved round by round so that
    a busy machine slows both alike; each ratio is taken to the hello world run of its own round."""
    redis_env = {"GATEWAY_CACHE_URL": os.environ["BENCH_REDIS_URL"]}
    # The library's data version read before every answer (issue 12), on the memory:// fast path.
    version_env = {"BENCH_DATA_VERSION": "1", "GATEWAY_LIBRARY_PATH": str(log.parent / "versioned.sqlite")}
    with (gunicorn("bench.hello_app:app", log) as (hello_port, master),
          gunicorn("bench.gateway_app:app", log) as (memory_port, _),
          gunicorn("bench.gateway_app:app", log, **version_env) as (version_port, _),
          gunicorn("bench.gateway_app:app", log, **redis_env) as (redis_port, _)):
        etags = {}
        for port in (memory_port, version_port, redis_port):
            for _ in range(50):  # every worker has the feed cached (memory:// is per worker)
                packed = fetch(port, FEED, {"Accept-Encoding": "gzip"})
            plain = fetch(port, FEED)
            etags[port] = plain.getheader("ETag")
            assert fetch(port, FEED, {"If-None-Match": etags[port]}).status == 304
        runs = {"hello world": (hello_port, "/", {})}
        for label, port in (("memory://", memory_port), ("redis://", redis_port)):
            runs[f"cached feed, {label}"] = (port, FEED, {})
            runs[f"cached feed gzip, {label}"] = (port, FEED, {"Accept-Encoding": "gzip"})
            runs[f"304 If-None-Match, {label}"] = (port, FEED, {"If-None-Match": etags[port]})
            if label == "memory://":
                runs["cached feed, memory://, data version"] = (version_port, FEED, {})
        print(f"gunicorn.conf.py for both apps: {len(workers(master))} {serving_model()};"
              f" wrk {' '.join(WRK)} -d{seconds}s (keep-alive) on 127.0.0.1; {os.cpu_count()} CPUs; {rounds} rounds;"
              f" feed-rss_200 of 15 items: {len(plain.body) // 1024} KB, gzip {len(packed.body) // 1024} KB;"
              f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        results: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(rounds):
            for name, (port, path, headers) in runs.items():
                results[name].append(wrk(port, path, seconds, headers))
    hello = results["hello world"]
    for name, rates in results.items():
        line = f"  {name:32} {statistics.median(rates):7.0f} req/s (median; {', '.join(f'{r:.0f}' for r in rates)})"
        if name != "hello world":
            ratios = [r / h for r, h in zip(rates, hello, strict=True)]
            line += f"  {statistics.median(ratios):.2f} x hello (rounds: {', '.join(f'{x:.2f}' for x in ratios)})"
        print(line)


def burst(port: int, path: str, n: int) -> list[int]:
    """n requests for `path` on n connections, sent at the same moment; their statuses."""
    barrier = threading.Barrier(n)

    def one(_: int) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.connect()
            barrier.wait()  # all connected, then all send at once
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def coalescing(log: Path, calls_dir: Path) -> None:
    print("50 identical cold requests arriving together (upstream takes 0.5 s):")
    for label, url in (("memory://", "memory://"), ("file://", f"file://{calls_dir}/filecache"),
                       ("redis://", os.environ["BENCH_REDIS_URL"])):
        calls = calls_dir / f"calls-{label.strip(':/')}"
        env = {"BENCH_LATENCY": "0.5", "BENCH_CALLS": str(calls), "GATEWAY_CACHE_URL": url}
        with gunicorn("bench.gateway_app:app", log, **env) as (port, master):
            statuses = burst(port, FEED.replace("66832458", "cold-66832458"), 50)
            count = len(calls.read_text().splitlines()) if calls.exists() else 0
            print(f"  {label:10} {count} upstream call(s) for {len(workers(master))} worker processes;"
                  f" responses: {sorted(set(statuses))}")


def memory(log: Path, calls_dir: Path, feeds: int, requests: int) -> None:
    calls = calls_dir / "calls-memory-run"
    formats = ["feed-rss_200", "feed-atom_10", "feed-georss", "rest", "json"]
    paths = [FEED.replace("66832458", f"g{n}").replace("feed-rss_200", formats[n % len(formats)])
             for n in range(feeds)]
    order = [random.Random(n).randrange(feeds) for n in range(requests)]  # every feed, in a fixed random order
    with gunicorn("bench.gateway_app:app", log, BENCH_LATENCY="0", BENCH_CALLS=str(calls)) as (port, master):
        before = [rss_mb(pid) for pid in workers(master)]
        started = time.monotonic()
        local = threading.local()

        def one(n: int) -> int:
            if not hasattr(local, "conn"):
                local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            local.conn.request("GET", paths[order[n]], headers={"Accept-Encoding": "gzip"})
            response = local.conn.getresponse()
            response.read()
            return response.status

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(one, range(requests)))
        elapsed = time.monotonic() - started
        after = [rss_mb(pid) for pid in workers(master)]
        count = len(calls.read_text().splitlines())
    print(f"{requests:,} requests over {feeds:,} distinct feeds (5 formats), default memory:// cache: {elapsed:.1f} s,"
          f" {count} upstream calls, statuses {sorted(set(statuses))}")
    print(f"  worker RSS before: {', '.join(f'{m:.0f}' for m in before)} MB;"
          f" after: {', '.join(f'{m:.0f}' for m in after)} MB (max {max(after):.0f} MB)")


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(directory)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs of each kind, interleaved")
    parser.add_argument("--only", choices=["throughput", "coalescing", "memory"], help="run one part")
    parser.add_argument("--feeds", type=int, default=1000, help="distinct feeds of the memory run")
    parser.add_argument("--requests", type=int, default=10_000, help="requests of the memory run")
    options = parser.parse_args()
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install {tool})")
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp, redis_server(Path(tmp)) as redis_url:
        os.environ["BENCH_REDIS_URL"] = redis_url
        log = Path(tmp) / "gunicorn.log"
        if options.only in (None, "throughput"):
            throughput(options.seconds, options.rounds, log)
        if options.only in (None, "coalescing"):
            coalescing(log, Path(tmp))
        if options.only in (None, "memory"):
            memory(log, Path(tmp), options.feeds, options.requests)


if __name__ == "__main__":
    main()
