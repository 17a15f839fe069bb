"""Live streams (SPEC 11): GET /services/stream/ read by a real SSE client (httpx-sse).

In-process tests serve the app with Werkzeug's threaded server and Huey in immediate
mode (an import's check runs inside the import command); the deployment tests run
gunicorn's gevent workers and the job consumer as processes, on SQLite and on Redis.
"""

from __future__ import annotations

import json
import threading
import time

import feedparser
import httpx
import pytest
from cachesupport import redis_server
from conftest import flickr_xml
from livesupport import SEARCH, Host, Listener, free_port, library_import, wait_until
from pushsupport import photo
from werkzeug.serving import make_server

from gateway import create_app
from gateway.push import sqlite as push_sqlite

STREAM = "/services/stream/?" + SEARCH


@pytest.fixture
def served(tmp_path):
    """make(**config) -> (app, base URL): the app on a loopback port, jobs run in the caller."""
    made = []

    def make(**config):
        app = create_app({"DEMO": 0, "LIBRARY_PATH": str(tmp_path / "lib.sqlite"),
                          "PUSH_PATH": str(tmp_path / "p.sqlite"), "PUSH_IMMEDIATE": True, "STREAM_HEARTBEAT": 30,
                          **config})
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        made.append(httpd)
        return app, f"http://127.0.0.1:{httpd.server_port}"

    yield make
    for httpd in made:
        httpd.shutdown()
        httpd.server_close()


def imported(app, tmp_path, name: str, photos: list[dict], call: str = SEARCH) -> None:
    path = tmp_path / name
    path.write_bytes(flickr_xml(photos, attrs={"page": 1, "pages": 1, "perpage": 100, "total": len(photos)}))
    result = app.test_cli_runner().invoke(args=["library", "import", "--call", call, str(path)])
    assert result.exit_code == 0, result.output


def listen(url: str, **headers) -> Listener:
    listener = Listener(url, headers)
    assert listener.opened.wait(20) and listener.error is None, listener.error
    return listener


def test_each_new_photo_is_one_event_with_its_data(served, tmp_path):
    app, base = served()
    imported(app, tmp_path, "old.xml", [photo(1)])
    listener = listen(base + STREAM)
    assert listener.status == 200
    unplaced = {**photo(3), "latitude": "0", "longitude": "0", "accuracy": "0", "title": "Ünïcode\nline"}
    imported(app, tmp_path, "new.xml", [photo(2), unplaced, photo(4, tags="other")])
    wait_until(lambda: len(listener.photos()) >= 2, 10, "two events")
    time.sleep(0.3)
    events = listener.photos()
    listener.close()
    assert [json.loads(e.data)["id"] for e in events] == ["2", "3"]  # not 1 (already there), not 4 (another tag)
    ids = [e.id for e in events]
    assert all(ids) and len(set(ids)) == 2
    placed, bare = (json.loads(e.data) for e in events)
    assert placed["title"] == "Photo 2" and placed["owner"] == "12037949754@N01" and placed["ownername"] == "Someone"
    assert placed["url"] == "https://www.flickr.com/photos/12037949754@N01/2/"
    assert placed["images"]["sq"] == "https://live.staticflickr.com/65535/2_a1b2c3d4e5_s.jpg"
    assert placed["images"]["l"] == "https://live.staticflickr.com/65535/2_a1b2c3d4e5_b.jpg"
    assert (placed["latitude"], placed["longitude"], placed["accuracy"]) == (48.8584, 2.2945, 16)
    assert placed["datetaken"] == "2023-11-14 09:00:00" and placed["call"] == 0
    assert "latitude" not in bare and "longitude" not in bare  # 0,0 with accuracy 0: no place
    assert bare["title"] == "Ünïcode\nline"  # a newline in a title stays inside one data: line


def test_the_stream_opens_with_retry_and_sends_heartbeats(served):
    _, base = served(STREAM_HEARTBEAT=1, STREAM_RETRY=7)
    lines = []
    started = time.monotonic()
    with httpx.stream("GET", base + STREAM, timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        for line in response.iter_lines():
            lines.append((time.monotonic() - started, line))
            if sum(1 for _, text in lines if text == ": heartbeat") >= 2:
                break
    texts = [text for _, text in lines]
    assert texts[0] == "retry: 7000"
    beats = [at for at, text in lines if text == ": heartbeat"]
    assert 0.8 < beats[0] < 3 and 0.8 < beats[1] - beats[0] < 3  # one a second when idle


def test_a_reconnect_with_last_event_id_replays_what_was_missed(served, tmp_path):
    app, base = served()
    imported(app, tmp_path, "old.xml", [photo(1)])
    first = listen(base + STREAM)
    imported(app, tmp_path, "a.xml", [photo(2)])
    wait_until(lambda: len(first.photos()) == 1, 10, "the first event")
    last_id = first.photos()[0].id
    first.close()
    imported(app, tmp_path, "b.xml", [photo(3)])  # while disconnected
    imported(app, tmp_path, "c.xml", [photo(4)])
    again = listen(base + STREAM, **{"Last-Event-ID": last_id})
    wait_until(lambda: len(again.photos()) >= 2, 10, "the replay")
    imported(app, tmp_path, "d.xml", [photo(5)])  # and then live
    wait_until(lambda: len(again.photos()) >= 3, 10, "a live event after the replay")
    time.sleep(0.3)
    assert [json.loads(e.data)["id"] for e in again.photos()] == ["3", "4", "5"]  # each once, in order
    assert [e.event for _, e in again.events] == ["photo"] * 3


def test_a_last_event_id_older_than_the_log_gets_a_reset(served, tmp_path, monkeypatch):
    monkeypatch.setattr(push_sqlite, "LOG_LENGTH", 2)  # the bounded log keeps 2 events a watch
    app, base = served()
    imported(app, tmp_path, "old.xml", [photo(1)])
    first = listen(base + STREAM)
    imported(app, tmp_path, "a.xml", [photo(2)])
    wait_until(lambda: len(first.photos()) == 1, 10, "the first event")
    old_id = first.photos()[0].id
    first.close()
    imported(app, tmp_path, "b.xml", [photo(3), photo(4), photo(5)])  # event 2 is trimmed away
    for last in (old_id, "not-an-id", "999999"):  # trimmed away, not an id, past the newest
        again = listen(base + STREAM, **{"Last-Event-ID": last})
        wait_until(lambda a=again: a.events, 10, "the reset")
        (_, reset), = again.events
        assert reset.event == "reset" and "reload" in json.loads(reset.data)["reason"]
        imported(app, tmp_path, f"after-{len(last)}.xml", [photo(10 + len(last))])
        wait_until(lambda a=again: a.photos(), 10, "the next live event")
        assert [json.loads(e.data)["id"] for e in again.photos()] == [str(10 + len(last))]  # nothing replayed
        # The reset's id is where the log was: a reconnect with it replays only what came after.
        assert again.photos()[0].id != reset.id
        again.close()


def test_bad_requests_get_the_apis_error_before_any_stream(served, tmp_path):
    app, base = served(API_KEYS="k1")
    imported(app, tmp_path, "a.xml", [photo(1)])
    cases = [
        ("method=flickr.photos.search&tags=sunset", "100"),  # no api_key
        ("method=flickr.nope&api_key=k1", "112"),
        ("method=flickr.photos.search&api_key=k1&format=nope", "111"),
        ("method=flickr.groups.pools.getPhotos&api_key=k1", None),  # group_id missing
        ("method=flickr.groups.pools.getPhotos&group_id=1%40N00&api_key=k1&format=json", None),  # no such group
        ("method=flickr.photos.search&bbox=1,2,3&api_key=k1", None),
    ]
    for query, code in cases:
        response = httpx.get(f"{base}/services/stream/?{query}", timeout=10)
        # The API's own answer to the call, as a feed format answers errors (HTTP status + headers).
        feed_query = query.replace("&format=json", "")
        feed_query += "" if "format=" in feed_query else "&format=feed-rss_200"
        api = httpx.get(f"{base}/services/rest/?{feed_query}", timeout=10)
        assert api.status_code >= 400 and (code is None or api.headers["X-FlickrErrCode"] == code), query
        assert response.status_code == api.status_code, query
        assert response.headers["X-FlickrErrCode"] == api.headers["X-FlickrErrCode"], query
        assert response.headers["X-FlickrErrMessage"] == api.headers["X-FlickrErrMessage"], query
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["content-type"].startswith("text/xml")
        assert b'<rsp stat="fail">' in response.content
    ok = listen(f"{base}/services/stream/?{SEARCH}&api_key=k1")
    assert ok.status == 200
    ok.close()


def test_cors_as_on_the_api(served):
    """GATEWAY_CORS_ORIGINS holds for streams as for the API (gateway/cors.py): a listed origin is echoed,
    another gets none, and a preflight is answered."""
    _, base = served(CORS_ORIGINS="https://frame.example")
    listed = httpx.head(base + STREAM, headers={"Origin": "https://frame.example"}, timeout=10)
    assert listed.headers["Access-Control-Allow-Origin"] == "https://frame.example"
    other = httpx.head(base + STREAM, headers={"Origin": "https://other.example"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in other.headers and other.headers["Vary"] == "Origin"
    preflight = httpx.options(base + STREAM, headers={"Origin": "https://frame.example",
                                                      "Access-Control-Request-Method": "GET",
                                                      "Access-Control-Request-Headers": "Last-Event-ID"}, timeout=10)
    assert preflight.status_code == 200 and "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Last-Event-ID" in preflight.headers["Access-Control-Allow-Headers"]


def test_the_per_worker_cap_answers_503_with_retry_after(served):
    _, base = served(STREAM_MAX=2)
    held = [listen(base + STREAM) for _ in range(2)]
    refused = httpx.get(base + STREAM, timeout=10)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "30"
    assert refused.headers["X-FlickrErrCode"] == "105"
    for listener in held:
        listener.close()


def test_head_and_a_log_that_cannot_be_reached(served, tmp_path):
    """HEAD says what a GET would answer without holding a stream; a Redis that is down is a 503 with the
    API's error headers before any stream, not a 500."""
    app, base = served(STREAM_MAX=1)
    head = httpx.head(base + STREAM, timeout=10)
    assert head.status_code == 200 and head.headers["content-type"].startswith("text/event-stream")
    assert app.extensions["gateway.live"].fanout.open == 0
    assert httpx.head(base + "/services/stream/?method=flickr.nope", timeout=10).status_code == 400
    _, down = served(CACHE_URL=f"redis://127.0.0.1:{free_port()}/0")
    refused = httpx.get(down + STREAM, timeout=30)
    assert refused.status_code == 503 and refused.headers["X-FlickrErrCode"] == "105"
    assert refused.headers["Retry-After"] == "30"


def test_several_calls_on_one_connection(served, tmp_path):
    app, base = served()
    imported(app, tmp_path, "a.xml", [photo(1)])
    imported(app, tmp_path, "b.xml", [photo(2, tags="tree")], call="method=flickr.photos.search&tags=tree")
    calls = "call=method%3Dflickr.photos.search%26tags%3Dsunset&call=method%3Dflickr.photos.search%26tags%3Dtree"
    listener = listen(f"{base}/services/stream/?{calls}")
    imported(app, tmp_path, "c.xml", [photo(3, tags="tree")], call="method=flickr.photos.search&tags=tree")
    imported(app, tmp_path, "d.xml", [photo(4)])
    wait_until(lambda: len(listener.photos()) >= 2, 10, "two events")
    first, second = listener.photos()
    assert (json.loads(first.data)["id"], json.loads(first.data)["call"]) == ("3", 1)
    assert (json.loads(second.data)["id"], json.loads(second.data)["call"]) == ("4", 0)
    assert len(first.id.split("_")) == 2 and first.id != second.id
    listener.close()
    # Resumed with the first event's id: only the second is replayed.
    again = listen(f"{base}/services/stream/?{calls}", **{"Last-Event-ID": first.id})
    wait_until(lambda: again.photos(), 10, "the replay")
    time.sleep(0.3)
    assert [json.loads(e.data)["id"] for e in again.photos()] == ["4"]
    again.close()


def test_every_answer_of_the_api_names_its_stream(served, tmp_path):
    app, base = served()
    imported(app, tmp_path, "a.xml", [photo(1)])
    stream = f'<{base}/services/stream/?method=flickr.photos.search&tags=sunset>; rel="alternate"; ' \
             'type="text/event-stream"'
    for fmt in ("feed-rss_200", "feed-atom_10", "feed-geojson", "rest", "json"):
        response = httpx.get(f"{base}/services/rest/?{SEARCH}&format={fmt}&per_page=5", timeout=10)
        assert stream in response.headers["Link"], fmt
        assert response.headers["Link"].count("rel=") == (3 if fmt.startswith("feed") else 1), fmt
    # Flickr's public feed URLs (gateway/feeds) name the same stream, and the /services/rest/ topic as self.
    gne = httpx.get(f"{base}/services/feeds/photos_public.gne?tags=sunset", timeout=10).headers["Link"]
    assert f'<{base}/services/stream/?method=flickr.photos.search&tag_mode=all&tags=sunset>; rel="alternate"' in gne
    assert f'<{base}/services/rest/?method=flickr.photos.search&tag_mode=all&tags=sunset&format=feed-atom_10>; ' \
           'rel="self"' in gne
    page = httpx.get(f"{base}/?{SEARCH}&format=feed-rss_200", timeout=10).text
    assert f'<link rel="alternate" type="text/event-stream" href="{base}/services/stream/?method=flickr.photos.search' \
           f'&amp;tags=sunset"' in page
    feed = feedparser.parse(httpx.get(f"{base}/services/rest/?{SEARCH}&format=feed-atom_10", timeout=10).content)
    assert feed.bozo == 0


# ---------------------------------------------------------------- as deployed


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        yield {}
        return
    (tmp_path / "redis").mkdir()
    with redis_server(tmp_path / "redis") as url:
        yield {"GATEWAY_CACHE_URL": url}


def test_streams_on_two_hosts_and_their_workers_all_get_every_event(tmp_path, store):
    """Two hosts (two gunicorn masters, two gevent workers each, one job consumer) sharing the event
    log: on Redis through Redis, on SQLite through the one file. Photos come from `flask library import`
    in a third process; every stream on every worker gets each photo once."""
    hosts = [Host(tmp_path, **store), Host(tmp_path, consumer=False, **store)]
    listeners = []
    try:
        library_import(hosts[0].env, tmp_path, "old.xml", [1, 2])
        for host in hosts:
            # Streams until both workers of the host hold some (which worker accepts is the kernel's choice).
            for _ in range(60):
                listener = Listener(host.url + STREAM)
                assert listener.opened.wait(20) and listener.status == 200, listener.error
                listeners.append(listener)
                held = host.connections_by_worker()
                if len(held) == 2 and min(held.values()) >= 2:
                    break
            assert len(held) == 2 and min(held.values()) >= 2, held
        library_import(hosts[0].env, tmp_path, "new.xml", [3, 4])
        wait_until(lambda: all(len(lis.photos()) >= 2 for lis in listeners), 20, "every stream's events")
        library_import(hosts[0].env, tmp_path, "more.xml", [5])
        wait_until(lambda: all(len(lis.photos()) >= 3 for lis in listeners), 20, "every stream's third event")
        time.sleep(0.5)
        for listener in listeners:
            assert [json.loads(e.data)["id"] for e in listener.photos()] == ["3", "4", "5"]
        ids = {tuple(e.id for e in lis.photos()) for lis in listeners}
        assert len(ids) == 1  # the same stable event ids everywhere
    finally:
        for listener in listeners:
            listener.close()
        for host in hosts:
            host.close()

