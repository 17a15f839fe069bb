"""Abuse of the cache (issue 17 items 2 and 3), on loopback only, every part bounded in time.

    python bench/abuse_cache.py [--seconds 60] [--bound-mb 32]     (needs redis-server on PATH)

1. Junk arguments: one feed, then --junk requests of the same feed each with
   arguments the method does not take (`junk1=1`, `parse_format=x`, `self=x`, …).
   Prints the upstream calls they spent. Target: 0.
2. A flood of distinct valid calls (photos.search with a different `text=` each
   time, in every feed format) for --seconds against each backend: memory://,
   file:// and redis://, the shared ones bounded by GATEWAY_CACHE_SHARED_MAX_BYTES
   = --bound-mb. Prints the requests made, the bytes they would have cached
   unbounded, and what the cache holds at the end. Target: within the bound.

The gateway is the real app from create_app() on a demo library (the embedded
upstream, wrapped to count its calls), driven in-process by --threads threads
through Flask's test client, so that the figures are the cache's own and not
a server's; a redis-server without persistence is started and stopped here.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from measure import redis_server  # noqa: E402

from gateway import create_app  # noqa: E402
from gateway.cache.shared import BYTES  # noqa: E402
from gateway.formats import FORMATS  # noqa: E402

FEED_FORMATS = sorted(name for name, fmt in FORMATS.items() if fmt.is_feed)
GROUP = {"method": "flickr.photos.search", "tags": "sunset", "format": "feed-rss_200"}
JUNK_NAMES = ("parse_format", "wrapped_method", "self", "_method_name", "timeout", "kwargs", "lolcat")


class Counting:
    """The app's upstream, counting its calls."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.name = upstream.name
        self.calls = 0
        self._lock = threading.Lock()

    def photos(self, method, args):
        with self._lock:
            self.calls += 1
        return self.upstream.photos(method, args)

    def data_version(self):
        return self.upstream.data_version()

    def close(self):
        self.upstream.close()


def make(tmp: Path, cache_url: str, bound: int):
    app = create_app({"LIBRARY_PATH": str(tmp / "library.sqlite"), "IMAGE_CACHE": str(tmp / "images"), "DEMO": 1,
                      "CACHE_URL": cache_url, "CACHE_SHARED_MAX_BYTES": bound})
    counting = Counting(app.extensions["gateway.upstream"])
    app.extensions["gateway.upstream"] = counting
    return app, counting


def junk(tmp: Path, requests: int) -> None:
    app, upstream = make(tmp, "memory://", 0)
    client = app.test_client()
    for _ in range(2):  # the first request makes the demo, which changes the library: the second is cached
        assert client.get("/services/rest/", query_string=GROUP).status_code == 200
    first = upstream.calls
    statuses = set()
    for n in range(requests):
        args = {**GROUP, f"junk{n}": "1", JUNK_NAMES[n % len(JUNK_NAMES)]: str(n)}
        statuses.add(client.get("/services/rest/", query_string=args).status_code)
    print(f"junk arguments: {requests} requests of one feed with arguments the method does not take "
          f"(answers {sorted(statuses)}): {upstream.calls - first} upstream calls (target 0), "
          f"{len(app.extensions['gateway.cache'].backend)} cache entries")
    upstream.close()


def disk_bytes(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                st = os.stat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            total += max(st.st_size, st.st_blocks * 512)
    return total


def flood(label: str, tmp: Path, cache_url: str, bound: int, seconds: float, threads: int) -> None:
    app, upstream = make(tmp, cache_url, bound)
    backend = app.extensions["gateway.cache"].backend
    client = getattr(backend, "client", None)
    if client is not None:
        client.flushdb()
    before = client.info("memory")["used_memory"] if client is not None else 0
    app.test_client().get("/services/rest/", query_string=GROUP)  # the demo is made by the first request
    deadline = time.monotonic() + seconds
    written = [0]
    lock = threading.Lock()

    def one(worker: int) -> int:
        rng = random.Random(worker)
        test_client = app.test_client()
        count = 0
        while time.monotonic() < deadline:
            # Distinct calls that each find a full page of photos (every demo photo is newer).
            args = {"method": "flickr.photos.search", "min_upload_date": str(rng.randrange(10**8, 10**9)),
                    "format": rng.choice(FEED_FORMATS), "page": str(rng.randrange(1, 4))}
            response = test_client.get("/services/rest/", query_string=args)
            with lock:
                written[0] += len(response.get_data()) * 2  # body + gzip copy, roughly, plus its page
            count += 1
        return count

    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(one, range(threads)))
    if label == "memory://":
        held = f"{backend.bytes / 2**20:.1f} MB in {len(backend)} entries (per worker; bound " \
               f"GATEWAY_CACHE_MAX_BYTES {app.config['CACHE_MAX_BYTES'] / 2**20:.0f} MB)"
    elif label == "file://":
        on_disk = disk_bytes(Path(cache_url.removeprefix("file://")))
        held = f"{on_disk / 2**20:.1f} MB on disk (bound {bound / 2**20:.0f} MB)"
    else:
        counted = int(client.get(BYTES) or 0)
        grown = client.info("memory")["used_memory"] - before
        held = (f"{counted / 2**20:.1f} MB counted, Redis used_memory +{grown / 2**20:.1f} MB, "
                f"{client.dbsize()} keys (bound {bound / 2**20:.0f} MB)")
    print(f"flood {label:9} {seconds:.0f}s, {threads} threads: {total} distinct calls ({total / seconds:.0f}/s), "
          f"~{written[0] / 2**20:.0f} MB rendered; the cache holds {held}; upstream calls {upstream.calls}")
    if client is not None:
        client.flushdb()
    upstream.close()
    app.extensions["gateway.cache"].close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of each flood")
    parser.add_argument("--bound-mb", type=float, default=32, help="GATEWAY_CACHE_SHARED_MAX_BYTES, in MiB")
    parser.add_argument("--junk", type=int, default=1000, help="junk-argument requests")
    parser.add_argument("--threads", type=int, default=4, help="threads sending the flood")
    parser.add_argument("--only", choices=["junk", "flood"], help="run one part")
    args = parser.parse_args()
    bound = int(args.bound_mb * 2**20)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="gateway-abuse-") as tmp:
        tmp_path = Path(tmp)
        if args.only in (None, "junk"):
            junk(tmp_path / "junk", args.junk)
        if args.only in (None, "flood"):
            with redis_server(tmp_path) as redis_url:
                for label, url in (("memory://", "memory://"), ("file://", f"file://{tmp_path}/filecache"),
                                   ("redis://", redis_url)):
                    run = tmp_path / label.strip(":/")
                    run.mkdir()
                    flood(label, run, url, bound, args.seconds, args.threads)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} at the end")


if __name__ == "__main__":
    main()
