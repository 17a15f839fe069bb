"""Push on Redis with two job consumers (two "hosts"): subscriptions, the event log and the queue
are shared, and every subscriber gets each new photo once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import pytest
from cachesupport import redis_server
from pushsupport import Callback, photo_file

from gateway import create_app
from gateway.push import get

ROOT = Path(__file__).resolve().parents[1]
TOPIC = "http://localhost/services/rest/?method=flickr.photos.search&tags=sunset&format=feed-rss_200"


@pytest.fixture
def redis_url(tmp_path):
    (tmp_path / "redis").mkdir()
    with redis_server(tmp_path / "redis") as url:
        yield url


def test_two_consumers_on_redis_deliver_each_photo_once(tmp_path, redis_url):
    env = {**os.environ, "GATEWAY_CACHE_URL": redis_url, "GATEWAY_LIBRARY_PATH": str(tmp_path / "lib.sqlite"),
           "GATEWAY_DEMO": "0", "GATEWAY_PUSH_ALLOW_PRIVATE": "1", "GATEWAY_PUSH_PATH": str(tmp_path / "unused")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)

    def library_import(name, ids):
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "library", "import", "--call",
                               "method=flickr.photos.search&tags=sunset", str(photo_file(tmp_path, name, ids))],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    library_import("first.xml", [1, 2])
    log = open(tmp_path / "consumers.log", "wb")  # noqa: SIM115
    consumers = []
    callbacks = [Callback() for _ in range(5)]
    app = create_app({"CACHE_URL": redis_url, "LIBRARY_PATH": env["GATEWAY_LIBRARY_PATH"], "DEMO": 0,
                      "PUSH_ALLOW_PRIVATE": 1})
    try:
        for _ in range(2):
            consumers.append(subprocess.Popen(
                [sys.executable, "-m", "huey.bin.huey_consumer", "worker.huey", "-w", "2", "-f"],
                cwd=ROOT, env=env, stdout=log, stderr=log))
            time.sleep(0.5)  # one at a time: --flush-locks clears the locks of all
        for cb in callbacks:
            r = app.test_client().post("/push/hub", data={"hub.mode": "subscribe", "hub.topic": TOPIC,
                                                           "hub.callback": cb.url})
            assert r.status_code == 202
        push = get(app)
        deadline = time.monotonic() + 30
        while len(push.subs.all()) < 5:
            assert time.monotonic() < deadline, "verifications"
            time.sleep(0.1)
        assert push.log.watch(push.subs.all()[0]["watch"])["primed"]
        library_import("second.xml", [3, 4])
        for cb in callbacks:
            assert cb.wait_for(lambda cb=cb: cb.posts(), 30)
        time.sleep(2)  # a second copy from the other consumer would come now
        for cb in callbacks:
            (post,) = cb.posts()
            feed = feedparser.parse(post.body)
            assert [e.id.rsplit("/", 1)[1] for e in feed.entries] == ["4", "3"]
    finally:
        for proc in consumers:
            proc.send_signal(2)
            proc.wait(timeout=30)
        log.close()
        for cb in callbacks:
            cb.close()
        get(app).close()
