"""Heavy library queries and huge renditions against a real gunicorn (issue 17, items 4 and 9).

    .venv/bin/python bench/abuse_library.py [--photos 300000] [--seconds 15] [--heavy 48] [--only queries|images]

1. Queries: a library of --photos synthetic photos (`library synth`, kept in
   --workdir between runs), served by gunicorn with the shipped gunicorn.conf.py
   and the gevent worker (`-k gevent`; gthread when gevent is not installed).
   Probes measure, one after another in a loop: a cheap uncached library call
   (one tag, a random page and per_page, so every call is a cache miss), a
   cached feed, and /healthz. First alone, then while --heavy clients keep
   sending distinct heavy searches (20 common tags, sort=interestingness-asc,
   a random deep page inside the 4,000-result window), plus the issue's own
   600-tag query. Prints p50/p99/max per probe kind and what the heavy calls got.
2. Images: a folder with a 49-megapixel PNG and a 48-megapixel JPEG added with
   `library add-folder`, one worker; prints the worker's RSS idle, its peak
   (VmHWM, reset first) while 6 concurrent requests ask for each uncached size,
   and its RSS after. Also asks for the original of a drawn 25,000 × 25,000
   photo (refused by GATEWAY_IMAGE_MAX_PIXELS) and times the answer.

The client runs on the same machine: its threads take CPU from the server.
The load average is printed with the figures.
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
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
SEARCH = "/services/rest/?method=flickr.photos.search&"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_class() -> str:
    try:
        import gevent  # noqa: F401
    except ImportError:
        return "gthread"
    return "gevent"


@contextmanager
def gunicorn(log: Path, *args: str, **env: str) -> Iterator[tuple[int, int]]:
    """The gateway under gunicorn.conf.py on a loopback port; yields (port, master pid)."""
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
           "-k", worker_class(), *args, "wsgi:app"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "GATEWAY_DEMO": "0", **env},
                                stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not start: see {log}")
            time.sleep(0.2)
        time.sleep(1)  # every worker booted
        yield port, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the group this script started: master and workers
        proc.wait(30)


def get(port: int, path: str, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def flask(*args: str, **env: str) -> str:
    run = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "library", *args], cwd=ROOT,
                         env={**os.environ, "GATEWAY_DEMO": "0", **env}, capture_output=True, text=True, check=True)
    return run.stdout + run.stderr


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def summary(name: str, times: list[float]) -> str:
    if not times:
        return f"  {name:<14} no answers"
    ms = sorted(t * 1000 for t in times)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"  {name:<14} n={len(ms):<5} p50 {statistics.median(ms):7.1f} ms   p99 {p99:7.1f} ms   max {ms[-1]:7.1f} ms"


# ---------------------------------------------------------------- 1. queries


def queries(workdir: Path, photos: int, seconds: float, heavy: int) -> None:
    library = workdir / f"synth-{photos}.sqlite"
    if not library.exists():
        print(flask("synth", str(photos), GATEWAY_LIBRARY_PATH=str(library)).strip())
    import sqlite3

    with sqlite3.connect(library) as conn:
        tags = [r[0] for r in conn.execute("SELECT tag FROM tags GROUP BY tag ORDER BY count(*) DESC LIMIT 600")]
    env = {"GATEWAY_LIBRARY_PATH": str(library), "GATEWAY_CACHE_URL": "memory://"}
    with gunicorn(workdir / "gunicorn.log", **env) as (port, _master):
        cached = SEARCH + urlencode({"tags": tags[0], "format": "feed-rss_200"})
        assert get(port, cached)[0] == 200
        stop = threading.Event()
        probes: dict[str, list[float]] = {"cheap (miss)": [], "cached feed": [], "/healthz": []}

        def probe() -> None:
            rnd = random.Random()
            while not stop.is_set():
                cheap = SEARCH + urlencode({"tags": rnd.choice(tags), "page": rnd.randint(1, 50),
                                            "per_page": rnd.randint(1, 15), "format": "feed-rss_200"})
                for name, path in (("cheap (miss)", cheap), ("cached feed", cached), ("/healthz", "/healthz")):
                    started = time.perf_counter()
                    status = get(port, path)[0]
                    if status == 200:
                        probes[name].append(time.perf_counter() - started)
                time.sleep(0.02)

        outcomes: Counter[str] = Counter()

        def pound(seed: int) -> None:
            rnd = random.Random(seed)
            while not stop.is_set():
                if rnd.random() < 0.1:  # the reproduction: refused by the 20-tag limit
                    args = {"tags": ",".join(tags), "sort": "interestingness-asc", "page": 1000}
                else:
                    per_page = rnd.randint(10, 15)
                    args = {"tags": ",".join(tags[:20]), "sort": "interestingness-asc", "per_page": per_page,
                            "page": rnd.randint(3000 // per_page, 3990 // per_page)}
                try:
                    status, headers, _ = get(port, SEARCH + urlencode({**args, "format": "feed-rss_200"}), 60)
                except OSError:
                    outcomes["connection error"] += 1
                    continue
                outcomes[f"HTTP {status}" + (f" code {headers['X-FlickrErrCode']}" if status != 200 else "")] += 1

        for phase, clients in (("alone", 0), (f"with {heavy} heavy clients", heavy)):
            for times in probes.values():
                times.clear()
            outcomes.clear()
            stop.clear()
            threads = [threading.Thread(target=probe) for _ in range(2)]
            threads += [threading.Thread(target=pound, args=(i,)) for i in range(clients)]
            for t in threads:
                t.start()
            time.sleep(seconds)
            stop.set()
            for t in threads:
                t.join(120)
            print(f"queries, {photos:,} photos, {worker_class()} worker, {phase} ({load()}):")
            for name, times in probes.items():
                print(summary(name, times))
            if clients:
                print("  heavy calls: " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))


# ---------------------------------------------------------------- 2. images


def status_kb(pid: int, field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1))


def images(workdir: Path) -> None:
    from PIL import Image

    folder = workdir / "huge-photos"
    if not folder.exists():
        folder.mkdir()
        gradient = Image.linear_gradient("L")
        rgb = Image.merge("RGB", [gradient, gradient.rotate(90), gradient.rotate(45)])
        rgb.resize((7000, 7000)).save(folder / "huge.png")  # 49 megapixels: under the 50 MP cap
        rgb.resize((8000, 6000)).save(folder / "huge.jpg", quality=90)  # 48 megapixels
        del gradient, rgb
    library = workdir / "images.sqlite"
    library.unlink(missing_ok=True)
    env = {"GATEWAY_LIBRARY_PATH": str(library), "GATEWAY_IMAGE_CACHE": str(workdir / "image-cache")}
    subprocess.run(["rm", "-rf", env["GATEWAY_IMAGE_CACHE"]], check=True)
    flask("add-folder", str(folder), "--owner", "bench", **env)
    drawn = workdir / "drawn.xml"
    drawn.write_text('<rsp stat="ok"><photos page="1" pages="1" perpage="1" total="1"><photo id="77" owner="1@L00" '
                     'secret="abc" server="local" title="Huge" o_width="25000" o_height="25000" '
                     'originalformat="png" originalsecret="abc"/></photos></rsp>')
    flask("import", str(drawn), **env)
    import sqlite3

    with sqlite3.connect(library) as conn:
        ids = dict(conn.execute("SELECT originalformat, id FROM photos WHERE id != '77'").fetchall())
    with gunicorn(workdir / "gunicorn.log", "--workers", "1", **env) as (port, master):
        (worker,) = (int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split())
        idle = status_kb(worker, "VmRSS")
        print(f"images, one {worker_class()} worker ({load()}):")
        print(f"  idle RSS before: {idle / 1024:.0f} MB")
        for name in (f"{ids['png']}_b.jpg", f"{ids['png']}_k.jpg", f"{ids['jpg']}_b.jpg", f"{ids['jpg']}_z.jpg"):
            Path(f"/proc/{worker}/clear_refs").write_text("5")  # reset VmHWM: the peak of this size alone
            started = time.perf_counter()
            with ThreadPoolExecutor(6) as pool:
                statuses = list(pool.map(lambda path: get(port, path, 120)[0], [f"/images/{name}"] * 6))
            took = time.perf_counter() - started
            peak, after = status_kb(worker, "VmHWM"), status_kb(worker, "VmRSS")
            print(f"  {name:<26} 6 at once: {statuses.count(200)} × 200 in {took:5.2f} s; "
                  f"peak RSS {peak / 1024:5.0f} MB, RSS after {after / 1024:4.0f} MB")
        started = time.perf_counter()
        status = get(port, "/images/77_o.png")[0]
        print(f"  drawn 25000 × 25000 original: HTTP {status} in {(time.perf_counter() - started) * 1000:.0f} ms")
        time.sleep(2)
        print(f"  idle RSS after: {status_kb(worker, 'VmRSS') / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=300_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--heavy", type=int, default=48)
    parser.add_argument("--only", choices=("queries", "images"))
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "gateway-abuse-library")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "queries"):
        queries(args.workdir, args.photos, args.seconds, args.heavy)
    if args.only in (None, "images"):
        images(args.workdir)


if __name__ == "__main__":
    main()
