"""The event log (gateway/push/events.py) on both backends: a photo is an event once, ever."""

from __future__ import annotations

import threading
import time

import pytest
from cachesupport import redis_server
from pushsupport import photo_file

from gateway import create_app
from gateway.push import events, get, watch_call
from gateway.push.events import START, watch_id
from gateway.push.redis import RedisLog, RedisSubscriptions
from gateway.push.sqlite import SqliteLog, SqliteState, SqliteSubscriptions


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
def log(request, tmp_path):
    if request.param == "sqlite":
        made = SqliteLog(SqliteState(str(tmp_path / "push.sqlite")))
    else:
        url = request.getfixturevalue("redis_url")
        made = RedisLog(url)
        made.client.flushdb()
    yield made
    made.close()


def photo(pid: str) -> dict:
    return {"id": pid, "title": f"photo {pid}", "owner": "1@N00"}


def test_watch_ignores_paging_and_argument_order():
    a = watch_id("flickr.photos.search", {"tags": "cat", "user_id": "1@N00", "page": "2", "per_page": "5"})
    b = watch_id("flickr.photos.search", {"user_id": "1@N00", "tags": "cat"})
    assert a == b
    assert a != watch_id("flickr.photos.search", {"tags": "dog"})


def test_a_photo_is_an_event_once_ever(log):
    w = watch_id("flickr.photos.getRecent", {})
    log.register(w, "flickr.photos.getRecent", {})
    log.prime(w, ["1", "2"])
    assert log.watch(w)["primed"] and log.head(w) == START
    made = log.append(w, [photo("4"), photo("3"), photo("2")])  # newest first, as feeds list them
    assert [e.photo_id for e in made] == ["3", "4"]  # oldest first: the newest gets the highest id
    assert log.append(w, [photo("4"), photo("3")]) == []
    assert [e.photo_id for e in log.after(w, START).events] == ["3", "4"]
    assert [e.photo_id for e in log.after(w, made[0].id).events] == ["4"]
    assert log.after(w, made[1].id).events == [] and log.head(w) == made[1].id
    assert log.after(w, START).events[0].photo == photo("3")


def test_concurrent_appenders_make_one_event(log):
    w = watch_id("flickr.photos.getRecent", {"tags": "x"})
    log.register(w, "flickr.photos.getRecent", {"tags": "x"})
    batch = [photo(str(i)) for i in range(50)]
    threads = [threading.Thread(target=log.append, args=(w, batch)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(int(e.photo_id) for e in log.after(w, START).events) == list(range(50))


def test_trimming_reports_a_gap(log, monkeypatch):
    monkeypatch.setattr(events, "LOG_LENGTH", 3)
    for module in ("gateway.push.sqlite", "gateway.push.redis"):
        monkeypatch.setattr(f"{module}.LOG_LENGTH", 3)
    w = watch_id("flickr.photos.getRecent", {"tags": "gap"})
    log.register(w, "flickr.photos.getRecent", {"tags": "gap"})
    first = log.append(w, [photo("1")])[0]
    log.append(w, [photo(str(i)) for i in range(5, 1, -1)])
    kept = log.after(w, first.id)
    assert kept.gap and [e.photo_id for e in kept.events] == ["3", "4", "5"]
    assert not log.after(w, log.head(w)).gap


def test_wait_wakes_on_an_append(log):
    w = watch_id("flickr.photos.getRecent", {"tags": "wait"})
    log.register(w, "flickr.photos.getRecent", {"tags": "wait"})
    threading.Timer(0.2, log.append, args=(w, [photo("9")])).start()
    started = time.monotonic()
    got = log.wait({w: log.head(w)}, timeout=5)
    assert [e.photo_id for e in got] == ["9"] and time.monotonic() - started < 2
    assert log.wait({w: got[0].id}, timeout=0.3) == []


def test_claims_and_state(log):
    assert log.claim("poll:w1", 5) and not log.claim("poll:w1", 5)
    w = watch_id("flickr.photos.getRecent", {"tags": "state"})
    log.register(w, "flickr.photos.getRecent", {"tags": "state"})
    assert log.set_state(w, "abc") and not log.set_state(w, "abc") and log.set_state(w, "def")


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_subscriptions(kind, tmp_path, request):
    if kind == "sqlite":
        subs = SqliteSubscriptions(SqliteState(str(tmp_path / "push.sqlite")))
    else:
        subs = RedisSubscriptions(RedisLog(request.getfixturevalue("redis_url")).client)
        subs.client.flushdb()
    subs.put({"id": "s1", "watch": "w1", "callback": "http://a/", "position": "0"})
    subs.put({"id": "s2", "watch": "w2", "callback": "http://b/", "position": "0"})
    assert subs.update("s1", position="7", failures=0) and not subs.update("nope", position="1")
    assert subs.get("s1")["position"] == "7" and subs.get("s1")["callback"] == "http://a/"
    assert [d["id"] for d in subs.for_watch("w1")] == ["s1"]
    assert sorted(d["id"] for d in subs.all()) == ["s1", "s2"]
    assert subs.delete("s1") and not subs.delete("s1") and subs.get("s1") is None


def test_kept_watches(log):
    log.keep("w1", 5)
    log.keep("w2", 0.001)
    time.sleep(0.05)
    assert log.kept() == ["w1"]


def test_a_live_stream_watches_a_call(tmp_path):
    """What the live stream does (issue 14): watch a call, then read what a library change adds."""
    app = create_app({"DEMO": 0, "LIBRARY_PATH": str(tmp_path / "l.sqlite"), "PUSH_PATH": str(tmp_path / "p.sqlite"),
                      "PUSH_IMMEDIATE": True})

    def library_import(name, ids):
        result = app.test_cli_runner().invoke(args=["library", "import", "--call", "method=flickr.photos.search",
                                                    str(photo_file(tmp_path, name, ids))])
        assert result.exit_code == 0, result.output

    library_import("a.xml", [1])
    with app.app_context():
        watch = watch_call("flickr.photos.search", {"tags": "sunset", "per_page": "15", "page": "1"})
    log = get(app).log
    assert watch in get(app).watched() and log.head(watch) == START
    library_import("b.xml", [2])
    (event,) = log.wait({watch: START}, timeout=5)
    assert event.photo_id == "2" and event.photo["title"] == "Photo 2"
    app.extensions["gateway.upstream"].close()
    get(app).close()
