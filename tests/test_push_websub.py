"""Push end to end with a real WebSub subscriber (flask-websub's Subscriber) on loopback.

The gateway runs as it is deployed: gunicorn (over TLS, since flask-websub sends
a hub.secret only to an https hub) and the job consumer (`huey_consumer
worker.huey`) as separate processes sharing the SQLite queue; photos arrive by
`flask library import` in a third process. The subscriber discovers the hub,
subscribes with a secret, verifies, and checks every delivery's signature.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import feedparser
import pytest
import requests
from flask import Flask, Response, request
from flask_websub.subscriber import SQLite3SubscriberStorage, SQLite3TempSubscriberStorage, Subscriber, discover
from livesupport import BIN, ROOT, free_port, wait_until
from pushsupport import photo_file
from werkzeug.serving import make_server


class Gateway:
    """gunicorn + the consumer on one instance folder; each can be stopped and started again."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.port = free_port()
        self.cert, self.key = tmp / "cert.pem", tmp / "key.pem"
        if shutil.which("openssl") is None:
            pytest.fail("openssl is not installed: scripts/test installs it")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(self.key),
                        "-out", str(self.cert)], check=True, capture_output=True)
        self.env = {**os.environ, "GATEWAY_LIBRARY_PATH": str(tmp / "library.sqlite"), "GATEWAY_DEMO": "0",
                    "GATEWAY_PUSH_PATH": str(tmp / "push.sqlite"), "GATEWAY_PUSH_ALLOW_PRIVATE": "1",
                    "GATEWAY_PUSH_RETRY_DELAY": "1", "GATEWAY_PUSH_LEASE_MIN": "60", "WEB_CONCURRENCY": "2"}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.log = open(tmp / "gateway.log", "ab")  # noqa: SIM115 - closed by close()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.web = subprocess.Popen(
            [str(BIN / "gunicorn"), "wsgi:app", "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}",
             "--certfile", str(self.cert), "--keyfile", str(self.key)],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log)
        self.worker = subprocess.Popen(
            [str(BIN / "huey_consumer"), "worker.huey", "-w", "2", "-f", "-d", "0.05", "-m", "0.2"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log)
        wait_until(self._up, what="gunicorn")

    def _up(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", verify=str(self.cert), timeout=1).ok
        except requests.RequestException:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        for proc, how in ((self.worker, sig if sig == signal.SIGKILL else signal.SIGINT), (self.web, sig)):
            if proc is not None and proc.poll() is None:
                proc.send_signal(how)
                proc.wait(timeout=30)

    def close(self) -> None:
        self.stop()
        self.log.close()

    def library_import(self, name: str, ids: list[int]) -> None:
        path = photo_file(self.tmp, name, ids)
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "library", "import", "--call",
                               "method=flickr.photos.search&tags=sunset", str(path)],
                              cwd=ROOT, env=self.env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


class SubscriberSite:
    """A Flask app holding flask-websub's Subscriber, served on a loopback port; `down` answers 503."""

    def __init__(self, tmp: Path):
        self.app = Flask("subscriber")
        self.subscriber = Subscriber(SQLite3SubscriberStorage(str(tmp / "sub.sqlite")),
                                     SQLite3TempSubscriberStorage(str(tmp / "subtemp.sqlite")))
        self.app.register_blueprint(self.subscriber.build_blueprint(url_prefix="/callbacks"))
        self.bodies: list[bytes] = []
        self.outcomes: list[tuple[str, str]] = []
        self.attempts = 0
        self.down = False
        self.subscriber.add_listener(lambda topic, callback_id, body: self.bodies.append(body))
        self.subscriber.add_success_handler(lambda topic, callback_id, mode: self.outcomes.append((mode, topic)))
        self.subscriber.add_error_handler(lambda topic, callback_id, reason: self.outcomes.append(("error", reason)))

        @self.app.before_request
        def maybe_down():
            if request.method == "POST":
                self.attempts += 1
                if self.down:
                    return Response("down for maintenance", 503)
            return None

        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.app.config["SERVER_NAME"] = f"127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> list[list[str]]:
        """The photo ids of each valid delivery, as feedparser reads them."""
        out = []
        for body in self.bodies:
            feed = feedparser.parse(body)
            assert not feed.bozo, feed.get("bozo_exception")
            out.append([e.id.rsplit("/", 1)[1] for e in feed.entries])
        return out


def delivered(site: SubscriberSite) -> set[str]:
    return {pid for ids in site.ids() for pid in ids}


@pytest.fixture
def gateway(tmp_path, monkeypatch):
    made = Gateway(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(made.cert))  # the subscriber trusts the gateway's certificate
    made.library_import("first.xml", [1, 2])
    made.start()
    yield made
    made.close()


@pytest.fixture
def site(tmp_path):
    made = SubscriberSite(tmp_path)
    yield made
    made.server.shutdown()


def test_a_real_subscriber_end_to_end(gateway, site):
    # Discovery: any equivalent URL of the feed leads to the hub and the canonical self URL.
    found = discover(f"{gateway.url}/services/rest/?format=feed-atom_10&tags=sunset&page=1"
                     "&method=flickr.photos.search")
    assert found == {"hub_url": f"{gateway.url}/push/hub",
                     "topic_url": f"{gateway.url}/services/rest/?method=flickr.photos.search&tags=sunset"
                                  "&format=feed-atom_10"}
    with site.app.app_context():
        callback_id = site.subscriber.subscribe(**found, lease_seconds=3600)
    wait_until(lambda: ("subscribe", found["topic_url"]) in site.outcomes, what="verification")
    assert site.subscriber.storage[callback_id]["secret"]  # flask-websub made one: deliveries are signed
    assert site.bodies == []  # the photos there before the subscription are not new

    # An import: one signed delivery holding exactly the new photos.
    gateway.library_import("second.xml", [3, 4])
    wait_until(lambda: site.bodies, what="the first delivery")
    assert site.ids() == [["4", "3"]]

    # Forged and unsigned deliveries: answered 2xx (WebSub), and ignored by the subscriber.
    callback_url = f"http://{site.app.config['SERVER_NAME']}/callbacks/{callback_id}"
    body = site.bodies[0]
    forged = requests.post(callback_url, data=body, headers={"X-Hub-Signature": "sha256=" + "0" * 64,
                                                             "Content-Type": "application/atom+xml"})
    unsigned = requests.post(callback_url, data=body, headers={"Content-Type": "application/atom+xml"})
    assert forged.ok and unsigned.ok and len(site.bodies) == 1

    # The callback is down for a while: retried, then everything it missed arrives once.
    site.down = True
    before = site.attempts
    gateway.library_import("third.xml", [5])
    wait_until(lambda: site.attempts >= before + 2, what="a retry")
    gateway.library_import("fourth.xml", [6])
    site.down = False
    # (5 and 6 come in one delivery, or in two when the retry fires before the consumer has
    # checked the second import: the photos are what counts, each once.)
    wait_until(lambda: {"5", "6"} <= delivered(site), what="the backlog")
    assert sorted(sum(site.ids(), []), key=int) == ["3", "4", "5", "6"]

    # Gateway and consumer restarted mid-way (the consumer killed outright while a retry is pending,
    # then an import while nothing runs): nothing lost, nothing repeated.
    site.down = True
    mark = site.attempts
    gateway.library_import("fifth.xml", [7])
    wait_until(lambda: site.attempts > mark, what="a failing delivery")
    gateway.stop(signal.SIGKILL)
    site.down = False
    gateway.library_import("sixth.xml", [8])
    gateway.start()
    # The kill may land between the failed POST and the consumer recording its retry; then the
    # minute's sweep (a subscription behind the log with no retry pending) sends the backlog.
    wait_until(lambda: {"7", "8"} <= delivered(site), timeout=90, what="deliveries after the restart")
    time.sleep(3)  # any second copy would come now
    assert sorted(sum(site.ids(), []), key=int) == ["3", "4", "5", "6", "7", "8"]
    count = len(site.bodies)

    # Unsubscribe: verified with the subscriber, then nothing more is sent.
    with site.app.app_context():
        site.subscriber.unsubscribe(callback_id)
    wait_until(lambda: ("unsubscribe", found["topic_url"]) in site.outcomes, what="unsubscription")
    gateway.library_import("seventh.xml", [9])
    time.sleep(3)
    assert len(site.bodies) == count
