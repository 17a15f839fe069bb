"""Fault injection (issue 7): Flickr misbehaving in every way the replay server can, with and
without a cached copy, a Redis that goes away, and many clients waiting on a hung Flickr.

Every answer: within the upstream timeout + 1 s, never a 500, 503 + Retry-After + the error
headers when there is nothing to serve, the stale copy (200, Warning 110) when there is one,
and never the gateway's key or secret in a response or a log line.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
from cachesupport import Clock, redis_server
from lxml import etree
from replay import HTML_ERROR, Fault
from support import count_cases

from gateway import create_app

KEY, SECRET = "K" * 32, "S" * 16
TIMEOUT = 1
GROUP = {"method": "flickr.groups.pools.getPhotos", "group_id": "31849566@N00", "per_page": "10"}
HUGE = 12 * 1024 * 1024  # beyond the transport's 10 MB
UNAVAILABLE = 503

# name → (fault, HTTP status of a feed format without a cached copy)
FAULTS: dict[str, tuple[Fault, int]] = {
    "http-500": (Fault.http(500), UNAVAILABLE),
    "http-502-html": (Fault.http(502), UNAVAILABLE),
    "http-503-html": (Fault.http(503), UNAVAILABLE),
    "http-429": (Fault(status=429, body=b"Too Many Requests"), UNAVAILABLE),
    "hung": (Fault.slow(TIMEOUT + 3), UNAVAILABLE),
    "reset": (Fault.connection_reset(), UNAVAILABLE),
    "slow-drip-body": (Fault.slow_drip(0.2), UNAVAILABLE),
    "slow-drip-headers": (Fault.slow_drip(0.2, headers=True), UNAVAILABLE),
    "html-page-200": (Fault.garbage(HTML_ERROR), UNAVAILABLE),
    "empty-body": (Fault.garbage(b""), UNAVAILABLE),
    "truncated-json": (Fault.garbage(b'{"photos":{"page":1,"pages":2,"perpage":10,"total":"17","photo":[{"id'),
                       UNAVAILABLE),
    "truncated-json-unannounced": (Fault(body=b'{"photos":{"page":1,"photo":[', length=False), UNAVAILABLE),
    "not-utf8": (Fault.garbage(b'{"stat":"ok","photos":{"photo":[{"title":"\xff\xfe"}]}}'), UNAVAILABLE),
    "jsonp-wrapped": (Fault.garbage(b'jsonFlickrApi({"stat":"ok"})'), UNAVAILABLE),
    "nested-200k-deep": (Fault.garbage(b"[" * 200_000 + b"]" * 200_000), UNAVAILABLE),
    "huge-announced": (Fault.garbage(b" " * HUGE + b"{}"), UNAVAILABLE),
    "huge-unannounced": (Fault(body=b'{"photos":{"photo":[' + b'{"id":"1"},' * (HUGE // 11) + b"]}}",
                               length=False), UNAVAILABLE),
    "not-a-photos-response": (Fault.garbage(b'{"stat":"ok","photo":{"id":"1"}}'), UNAVAILABLE),
    "stat-fail-no-code": (Fault.garbage(b'{"stat":"fail"}'), UNAVAILABLE),
    "stat-fail-105": (Fault.stat_fail(105, "Service currently unavailable"), UNAVAILABLE),
    "stat-fail-100": (Fault.stat_fail(100, "Invalid API Key (Key not found)"), 502),
    "stat-fail-1": (Fault.stat_fail(1, "Group not found"), 400),
}
FORMATS = ("feed-atom_10", "feed-kml", "rest", "json")


class Everything(logging.Handler):
    """Every log record of the process, access lines included, as text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage() + (self.format(record) if record.exc_info else ""))


@pytest.fixture
def logs():
    handler = Everything()
    loggers = [logging.getLogger(), logging.getLogger("gateway.access")]
    old = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.texts
    for logger in loggers:
        logger.removeHandler(handler)
    logging.getLogger().setLevel(old)


@pytest.fixture
def make_app(replay, tmp_path):
    apps = []

    def make(**config):
        app = create_app({"UPSTREAM": "flickr", "FLICKR_API_KEY": KEY, "FLICKR_API_SECRET": SECRET,
                          "FLICKR_REST_URL": replay.url, "UPSTREAM_TIMEOUT": TIMEOUT, "MAX_PER_PAGE": 10,
                          "LIBRARY_PATH": str(tmp_path / "library.sqlite"), **config})
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["gateway.upstream"].close()
        app.extensions["gateway.cache"].close()


def timed_get(client, fmt: str, **extra: str):
    start = time.monotonic()
    response = client.get("/services/rest/", query_string={**GROUP, "format": fmt, "nojsoncallback": "1", **extra})
    response.get_data()
    return response, time.monotonic() - start


def assert_no_secret(response, logs: list[str]) -> None:
    texts = [response.get_data(as_text=True), *(f"{k}: {v}" for k, v in response.headers.items()), *logs]
    for text in texts:
        assert KEY not in text and SECRET not in text


def assert_failure(response, fmt: str, status: int) -> None:
    """SPEC 5: feed formats carry the status; rest/json answer 200 with Flickr's envelope."""
    assert response.status_code != 500
    code = response.headers["X-FlickrErrCode"]
    assert response.headers["X-FlickrErrMessage"]
    assert ("Retry-After" in response.headers) == (status == UNAVAILABLE)
    if fmt == "json":
        assert response.status_code == 200 and json.loads(response.data)["code"] == int(code)
    else:
        assert response.status_code == (200 if fmt == "rest" else status)
        assert etree.fromstring(response.data).find("err").get("code") == code


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(FAULTS))
def test_a_fault_without_a_cached_copy(name, fmt, make_app, replay, logs):
    count_cases("faults")
    fault, status = FAULTS[name]
    replay.inject(fault)
    response, elapsed = timed_get(make_app().test_client(), fmt)
    assert elapsed < TIMEOUT + 1, f"answered after {elapsed:.2f}s"
    assert_failure(response, fmt, status)
    assert len(replay.calls) == 1  # no retries behind the caller's back
    assert_no_secret(response, logs)


@pytest.mark.parametrize("name", [n for n, (_, status) in FAULTS.items() if status != 400])
def test_a_fault_with_a_stale_copy_serves_it(name, make_app, replay, logs, monkeypatch):
    count_cases("faults")
    clock = Clock(monkeypatch)
    client = make_app().test_client()
    fresh, _ = timed_get(client, "feed-rss_200")
    assert fresh.status_code == 200
    clock.advance(301)  # past GATEWAY_CACHE_TTL: the next request asks Flickr again
    replay.inject(FAULTS[name][0])
    stale, elapsed = timed_get(client, "feed-rss_200")
    assert elapsed < TIMEOUT + 1, f"answered after {elapsed:.2f}s"
    assert stale.status_code == 200 and stale.data == fresh.data
    assert stale.headers["Warning"].startswith("110") and int(stale.headers["Age"]) >= 300
    other, _ = timed_get(client, "rest")  # another format of the same call: rendered from the stale page
    assert other.status_code == 200 and b'stat="ok"' in other.data
    assert len(replay.calls) == 2  # the failing upstream is not asked again for every request
    assert_no_secret(stale, logs)


def test_many_clients_waiting_on_a_hung_flickr(make_app, replay):
    count_cases("faults")
    replay.inject(Fault.slow(TIMEOUT + 3))
    client = make_app().test_client()
    results: list[tuple[int, float]] = []

    def ask() -> None:
        response, elapsed = timed_get(client, "feed-atom_10")
        results.append((response.status_code, elapsed))

    threads = [threading.Thread(target=ask) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [status for status, _ in results] == [UNAVAILABLE] * 12
    assert max(elapsed for _, elapsed in results) < TIMEOUT + 1
    assert len(replay.calls) == 1  # coalesced: one call for all twelve


def test_redis_going_away_mid_run(make_app, replay, tmp_path, logs):
    count_cases("faults")
    with redis_server(tmp_path) as url:
        client = make_app(CACHE_URL=url, CLIENT_RATE="1000/minute").test_client()
        assert timed_get(client, "feed-atom_10")[0].status_code == 200
    # The cache, the client limit and the budget all lose Redis at once.
    cached, elapsed = timed_get(client, "feed-atom_10")
    assert cached.status_code == 200 and elapsed < 1.5  # this worker's memory still has it
    other, elapsed = timed_get(client, "rest")  # a response never rendered: the page is in Redis only
    assert other.status_code == 200 and elapsed < TIMEOUT + 1.5
    replay.inject(Fault.http(500))
    failing, elapsed = timed_get(client, "feed-rss_200", per_page="5")
    assert failing.status_code == UNAVAILABLE and elapsed < TIMEOUT + 1.5
    assert "Retry-After" in failing.headers
    assert_no_secret(failing, logs)


@pytest.mark.parametrize(("name", "kind"), [
    ("hung", "timeout"), ("slow-drip-body", "timeout"), ("slow-drip-headers", "timeout"), ("reset", "connection"),
    ("http-500", "http_status"), ("huge-announced", "bad_response"), ("huge-unannounced", "bad_response"),
    ("truncated-json", "bad_response"), ("nested-200k-deep", "bad_response"),
    ("stat-fail-105", "flickr_unavailable"), ("stat-fail-100", "refused"),
])
def test_failure_kinds_reach_the_metrics(name, kind, make_app, replay):
    count_cases("faults")
    from prometheus_client import REGISTRY

    def failures() -> float:
        labels = {"upstream": "flickr", "kind": kind}
        return REGISTRY.get_sample_value("gateway_upstream_failures_total", labels) or 0.0

    before = failures()
    replay.inject(FAULTS[name][0])
    timed_get(make_app().test_client(), "feed-atom_10")
    assert failures() - before == 1
