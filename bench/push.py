"""Benchmark of push (WebSub, issue 13), on loopback only.

    python bench/push.py [--topics 100] [--per-topic 10] [--workers 8]

1. Subscriptions: topics x per-topic subscriptions (default 1,000 on 100 topics, one
   tag each, Atom), made through the hub (POST /push/hub) and verified by a real
   consumer process (`huey_consumer worker.huey`) against a callback server here.
2. Delivery: one `flask library import` of a photo per tag; time from the start of the
   import command to the last of the 1,000 deliveries, and deliveries per second
   (from the first delivery to the last).
3. Polling (Flickr upstream): one poll round (the consumer's minute tick) over the same
   subscriptions with a counting stand-in upstream: upstream calls per round (one per
   watch, not per subscriber).

Prints the load average next to the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway import create_app  # noqa: E402
from gateway.push import get  # noqa: E402


def photos_xml(ids_tags: list[tuple[int, str]]) -> bytes:
    rows = "".join(
        f'<photo id="{pid}" owner="12037949754@N01" secret="a1b2c3d4e5" server="65535" farm="66" '
        f'title="Photo {pid}" ispublic="1" isfriend="0" isfamily="0" tags="{tag}" dateupload="{1700000000 + pid}" '
        f'lastupdate="{1700000000 + pid}" ownername="Someone"/>' for pid, tag in ids_tags)
    return (f'<?xml version="1.0" encoding="utf-8"?><rsp stat="ok"><photos page="1" pages="1" perpage="500" '
            f'total="{len(ids_tags)}">{rows}</photos></rsp>').encode()


class Callbacks:
    """One threaded server for every subscriber: echoes challenges, timestamps each delivery."""

    def __init__(self) -> None:
        self.deliveries: list[float] = []
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/cb"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @Request.application
    def app(self, request: Request) -> Response:
        if request.method == "GET":
            return Response(request.args.get("hub.challenge", ""))
        request.get_data()
        with self.lock:
            self.deliveries.append(time.perf_counter())
        return Response("", 202)


def wait(test, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


class CountingUpstream:
    name = "bench"

    def __init__(self, app) -> None:
        self.real = app.extensions["gateway.upstream"]
        self.calls = 0

    def photos(self, method, args):
        self.calls += 1
        return self.real.photos(method, args)


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per callback request otherwise
    logging.getLogger("gateway.access").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--per-topic", type=int, default=10)
    parser.add_argument("--workers", type=int, default=8)
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-push-"))
    env = {**os.environ, "GATEWAY_LIBRARY_PATH": str(tmp / "library.sqlite"), "GATEWAY_DEMO": "0",
           "GATEWAY_PUSH_PATH": str(tmp / "push.sqlite"), "GATEWAY_PUSH_ALLOW_PRIVATE": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    os.environ.update({k: v for k, v in env.items() if k.startswith("GATEWAY_")})
    tags = [f"benchtag{i}" for i in range(opts.topics)]

    def library_import(name: str, rows: list[tuple[int, str]]) -> None:
        path = tmp / name
        path.write_bytes(photos_xml(rows))
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "library", "import", str(path)],
                       cwd=ROOT, env=env, check=True, capture_output=True)

    library_import("first.xml", [(i + 1, tag) for i, tag in enumerate(tags)])
    callbacks = Callbacks()
    log = open(tmp / "consumer.log", "wb")  # noqa: SIM115
    consumer = subprocess.Popen([sys.executable, "-m", "huey.bin.huey_consumer", "worker.huey", "-w",
                                 str(opts.workers), "-f", "-d", "0.05", "-m", "0.2"], cwd=ROOT, env=env,
                                stdout=log, stderr=log)
    try:
        app = create_app()
        client = app.test_client()
        started = time.perf_counter()
        for tag in tags:
            topic = f"http://localhost/services/rest/?method=flickr.photos.search&tags={tag}&format=feed-atom_10"
            for n in range(opts.per_topic):
                r = client.post("/push/hub", data={"hub.mode": "subscribe", "hub.topic": topic,
                                                    "hub.callback": f"{callbacks.url}?s={tag}-{n}"})
                assert r.status_code == 202, r.data
        accepted = time.perf_counter() - started
        total = opts.topics * opts.per_topic
        push = get(app)
        wait(lambda: len(push.subs.all()) >= total, 600, "verifications")
        verified = time.perf_counter() - started
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        print(f"{total} subscriptions on {opts.topics} topics: requests accepted in {accepted:.1f} s, "
              f"all verified after {verified:.1f} s ({total / verified:.0f} a second)")

        callbacks.deliveries.clear()
        t0 = time.perf_counter()
        library_import("second.xml", [(10000 + i, tag) for i, tag in enumerate(tags)])
        imported = time.perf_counter() - t0
        wait(lambda: len(callbacks.deliveries) >= total, 600, "deliveries")
        first, last = min(callbacks.deliveries), max(callbacks.deliveries)
        print(f"import of {opts.topics} new photos (command: {imported:.2f} s) to the last of "
              f"{len(callbacks.deliveries)} deliveries: {last - t0:.2f} s; first delivery after {first - t0:.2f} s")
        print(f"deliveries per second: {total / max(last - first, 1e-6):.0f} ({opts.workers} consumer threads)")
        time.sleep(2)
        print(f"deliveries received in all: {len(callbacks.deliveries)} (expected {total}: none repeated)")
    finally:
        consumer.send_signal(2)
        consumer.wait(timeout=60)
        log.close()
        callbacks.server.shutdown()

    poller = create_app({"PUSH_IMMEDIATE": True, "UPSTREAM_RATE": 0})
    poller.config["UPSTREAM"] = "flickr"  # the minute tick polls only for the Flickr upstream
    counting = CountingUpstream(poller)
    poller.extensions["gateway.upstream"] = counting
    get(poller).tasks.tick.call_local()
    print(f"upstream calls per poll round: {counting.calls} ({len(get(poller).watched())} watches, "
          f"{len(get(poller).subs.all())} subscriptions)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
