"""What the operator sees (issue 7): /healthz, /readyz, /metrics and one JSON access-log line a request,
for requests answered by Flask and by FastHits alike; and raw bytes no request can crash on."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import FakeUpstream, make_app, recorded
from werkzeug.test import EnvironBuilder, run_wsgi_app

from gateway import create_app

FEED = "/services/rest/?method=flickr.photos.search&tags=sunset&format=feed-rss_200"
KEY, SECRET = "k" * 32, "s" * 16


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(record.getMessage()))


@pytest.fixture
def access_log():
    handler = Lines()
    logger = logging.getLogger("gateway.access")
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path, FakeUpstream(recorded("photos.search-19a6cc8272.xml")))


def samples(client) -> dict[tuple, float]:
    """/metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    out = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


# ---------------------------------------------------------------- health


def test_healthz_touches_nothing(app):
    app.extensions["gateway.upstream"] = None  # any use of the upstream would fail
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.data) == (200, b"ok\n")
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_with_the_library(tmp_path):
    ready = make_app(tmp_path).test_client().get("/readyz")
    assert ready.status_code == 200
    assert ready.json["ready"] is True and ready.json["upstream"]["name"] == "library"
    assert ready.json["cache"] == {"backend": "memory", "ok": True}


def test_readyz_when_the_library_cannot_be_read(tmp_path):
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    response = create_app({"LIBRARY_PATH": str(broken)}).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["ready"] is False and "cannot be read" in response.json["upstream"]["error"]
    assert str(tmp_path) not in response.get_data(as_text=True)


def flickr_app(tmp_path, url: str):
    return create_app({"UPSTREAM": "flickr", "FLICKR_API_KEY": KEY, "FLICKR_API_SECRET": SECRET,
                       "FLICKR_REST_URL": url, "UPSTREAM_TIMEOUT": 1, "LIBRARY_PATH": str(tmp_path / "l")})


def test_readyz_with_flickr_spends_no_call_and_no_secret(tmp_path, replay):
    client = flickr_app(tmp_path, replay.url).test_client()
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["upstream"]["ok"] is True
    [probe] = replay.calls
    assert "authorization" not in probe.headers and probe.params == {}  # unsigned: not the key's budget
    client.get("/readyz")
    assert len(replay.calls) == 1  # the probe is reused for a while
    text = response.get_data(as_text=True)
    assert KEY not in text and SECRET not in text and replay.url not in text


def test_readyz_when_flickr_cannot_be_reached(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    response = flickr_app(tmp_path, f"http://127.0.0.1:{port}/services/rest/").test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["upstream"]["ok"] is False and "cannot be reached" in response.json["upstream"]["error"]


# ---------------------------------------------------------------- the access log


def test_one_json_line_a_request_without_credentials(app, access_log):
    client = app.test_client()
    # A line is written once the body has been sent: read each body (the test client is lazy).
    first = client.get(FEED, headers={"X-Request-ID": "req-42"})
    assert first.status_code == 200 and first.headers["X-Request-ID"] == "req-42" and first.data
    again = client.get(FEED)  # answered by FastHits, below Flask
    assert again.data == first.data
    keyed = client.get(FEED + "&api_key=CALLERKEY&oauth_token=CALLERTOKEN")  # another raw request: Flask
    assert keyed.data == first.data
    bad = client.get("/services/rest/?method=flickr.nope&format=feed-atom_10",
                     environ_overrides={"HTTP_X_REQUEST_ID": "evil\r\nX-Injected: 1"})
    assert bad.data
    assert "evil" not in bad.headers["X-Request-ID"] and "X-Injected" not in bad.headers
    miss, fast, hit, error = access_log
    assert miss["request_id"] == "req-42" and again.headers["X-Request-ID"] == fast["request_id"]
    assert (miss["cache"], fast["cache"], hit["cache"]) == ("miss", "fast", "hit")
    for line in (miss, fast, hit):
        assert (line["method"], line["path"], line["status"]) == ("GET", "/services/rest/", 200)
        assert (line["flickr_method"], line["format"]) == ("flickr.photos.search", "feed-rss_200")
        assert line["bytes"] == len(first.data) and line["duration_ms"] >= 0
        assert line["query"] == "method=flickr.photos.search&tags=sunset&format=feed-rss_200"
    assert fast["upstream_ms"] == hit["upstream_ms"] == 0
    assert (error["status"], error["error_code"], error["cache"]) == (400, 112, "")
    assert "CALLER" not in json.dumps(access_log)


@pytest.mark.parametrize("query", [
    "api%5Fkey=CALLERKEY", "api%5fkey=CALLERKEY", "%61pi_key=CALLERKEY",  # escaped: Werkzeug reads api_key
    "api_key=CALLERKEY&api_key=CALLERKEY2",  # repeated: the first lets the caller in, neither is logged
    "API_KEY=CALLERKEY", "oauth%5Fconsumer%5Fkey=CALLERKEY",
])
def test_credentials_in_any_spelling_stay_out_of_the_log(tmp_path, access_log, query):
    app = make_app(tmp_path, FakeUpstream(recorded("photos.search-19a6cc8272.xml")),
                   API_KEYS="CALLERKEY,CALLERKEY2")
    client = app.test_client()
    response = client.get(f"/services/rest/?method=flickr.photos.search&tags=sunset&{query}&format=feed-rss_200")
    assert response.data
    # The .gne feeds read `amp;api_key` (a URL copied out of HTML) as the key: it is one too.
    feed = client.get("/services/feeds/photos_public.gne?tags=sunset&amp;" + query)
    assert feed.data
    assert response.status_code == 200 or query.startswith("API_KEY")  # API_KEY is not the key: code 100
    assert "CALLERKEY" not in json.dumps(access_log)
    assert all("tags=sunset" in line["query"] for line in access_log)  # the rest of the query is kept


def test_an_unexpected_failure_is_logged_without_the_callers_key(tmp_path, caplog):
    app = make_app(tmp_path, FakeUpstream(error=RuntimeError("a bug")), API_KEYS="CALLERKEY")
    with caplog.at_level(logging.ERROR, logger="gateway"):
        response = app.test_client().get(FEED + "&api%5Fkey=CALLERKEY&api_key=CALLERKEY")
    assert response.status_code == 503 and response.headers["X-FlickrErrCode"] == "105"
    assert "a bug" in caplog.text and "tags=sunset" in caplog.text  # logged, for the operator
    assert "CALLERKEY" not in caplog.text


# ---------------------------------------------------------------- metrics


def test_metrics_count_requests_cache_and_upstream(app):
    client = app.test_client()
    before = samples(client)
    client.get(FEED).close()
    client.get(FEED).close()  # FastHits
    client.get(FEED.replace("feed-rss_200", "feed-lolcat")).close()
    after = samples(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("gateway_requests_total", endpoint="rest", format="feed-rss_200", status="200") == 2
    assert delta("gateway_requests_total", endpoint="rest", format="", status="400") == 1  # no such format label
    assert delta("gateway_cache_results_total", result="miss") == 1
    assert delta("gateway_cache_results_total", result="fast") == 1
    assert delta("gateway_upstream_calls_total", upstream="fake", outcome="ok") == 1
    assert delta("gateway_request_duration_seconds_count", endpoint="rest") == 3


def test_upstream_failures_are_counted_by_kind(tmp_path):
    from gateway.errors import unavailable

    client = make_app(tmp_path, FakeUpstream(error=unavailable(kind="timeout"))).test_client()
    before = samples(client)
    assert client.get(FEED).status_code == 503
    after = samples(client)
    assert value(after, "gateway_upstream_failures_total", upstream="fake", kind="timeout") - value(
        before, "gateway_upstream_failures_total", upstream="fake", kind="timeout") == 1


# ---------------------------------------------------------------- raw input


def raw(app, query: bytes, method: str = "GET", body: bytes = b"") -> tuple[int, dict, bytes]:
    """A request with exactly these bytes, as a WSGI server hands them over (latin-1 strings)."""
    environ = EnvironBuilder(path="/services/rest/", method=method).get_environ()
    environ["QUERY_STRING"] = query.decode("latin-1")
    if body:
        environ.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                        "CONTENT_TYPE": "application/x-www-form-urlencoded"})
    app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
    return int(status[:3]), dict(headers), b"".join(app_iter)


@pytest.mark.parametrize("query", [
    b"method=flickr.photos.search&tags=\xff\xfe&format=feed-rss_200",
    b"method=flickr.photos.search\xc3\x28&format=json&jsoncallback=\xe2\x82",
    b"method=flickr.photos.search&tags=%ff%zz%&format=feed-atom_10",
    b"method=flickr.photos.search&tags=\xed\xa0\x80&format=rest",  # a UTF-8 encoded lone surrogate
    b"format=feed-\r\n\x00&method=x",
])
def test_raw_bytes_are_answered_not_crashed_on(app, query):
    for method in ("GET", "HEAD"):
        status, headers, body = raw(app, query, method)
        assert status in (200, 400), body
        assert all("\r" not in v and "\n" not in v for v in headers.values())


def test_a_form_body_with_raw_bytes_reads_like_the_query(app):
    upstream = app.extensions["gateway.upstream"]
    status, _, _ = raw(app, b"", "POST", b"method=flickr.photos.search&tags=caf\xe9\xff&format=rest")
    assert status == 200
    assert upstream.calls[-1][1]["tags"] == "caf%E9%FF"  # as werkzeug reads the %-escaped form
    raw(app, b"method=flickr.photos.search&tags=caf%e9%ff&format=feed-rss_200")
    assert upstream.calls[-1][1]["tags"] == "caf%E9%FF"


def test_gunicorns_own_log_never_quotes_a_callers_key(tmp_path):
    """gunicorn logs a request line it cannot parse whole ("Invalid HTTP request line: 'GET …'"): with
    a control byte after the key, the caller's api_key was written to stderr in clear."""
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(GATEWAY_LIBRARY_PATH=str(tmp_path / "lib.sqlite"), GATEWAY_DEMO="0", WEB_CONCURRENCY="1")
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "wsgi:app", "--config",
                               "gunicorn.conf.py", "--bind", "127.0.0.1:0"],
                              cwd=root, env=env, stderr=subprocess.PIPE, text=True)
    try:
        port, lines = None, []
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = server.stderr.readline()
            assert line or server.poll() is None, "gunicorn exited"
            found = re.search(r"serving on 127\.0\.0\.1, port (\d+)", line)
            port = found and int(found.group(1))
        assert port, "gunicorn did not say where it serves"
        for request in (b"GET /services/rest/?method=flickr.photos.getRecent&api_key=CALLERKEY\x01 HTTP/1.1\r\n",
                        b"GET /services/rest/?api%5Fkey=CALLERKEY&oauth_token=CALLERTOKEN\x7f HTTP/1.1\r\n"):
            for _ in range(100):  # the worker boots after the arbiter is ready
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                        conn.sendall(request + b"Host: localhost\r\nConnection: close\r\n\r\n")
                        assert conn.recv(100).startswith(b"HTTP/1.1 400")
                    break
                except ConnectionRefusedError:
                    time.sleep(0.1)
            while not any("Invalid request" in line for line in lines):
                lines.append(server.stderr.readline())
            assert "CALLER" not in "".join(lines) and "[redacted]" in lines[-1], lines
            lines.clear()
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stderr.close()
