"""The cache's parts: the page codec, the stored entry form, and each backend's own duties."""

from __future__ import annotations

import json
import logging
import os
import time
import zlib
from dataclasses import replace
from types import MappingProxyType

import pytest
from cachesupport import Clock, free_port, redis_server
from support import FakeUpstream, make_app, recorded, recorded_files

from gateway import create_app
from gateway.cache import Cache, cache_key, pages
from gateway.cache.entry import Entry, dumps, loads
from gateway.cache.files import FileBackend
from gateway.cache.memory import MemoryBackend
from gateway.cache.shared import PREFIX, RedisBackend
from gateway.errors import FlickrError
from gateway.formats import FORMATS
from gateway.formats.feed import FeedContext
from gateway.formats.rest import EXTRAS, GEO_DEFAULTS, PUBLIC_DEFAULTS
from gateway.model import parse_json


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def entry(size: int = 10, ttl: float = 300, stale: float = 600, meta=None) -> Entry:
    now = time.time()
    return Entry((b"x" * size, b"gz"), meta or {"etag": "e"}, now, now + ttl, now + ttl + stale)


# ---------------------------------------------------------------- codecs


@pytest.mark.parametrize("name", recorded_files())
def test_page_survives_the_cache(name):
    page = recorded(name)
    cached = Entry(pages.encode(page))
    back = pages.decode(cached)
    assert parse_json(json.loads(zlib.decompress(cached.parts[0]))) == back  # plain Flickr JSON
    # Equal but for the attributes Flickr sends for any public photo (and a geotagged one), now explicit...
    assert back == replace(page, photos=tuple(
        replace(p, iconserver=p.iconserver or "0",
                extra=MappingProxyType({**PUBLIC_DEFAULTS, **(GEO_DEFAULTS if p.geotagged else {}), **p.extra}))
        for p in page.photos))
    # ...which every format renders as before.
    ctx = FeedContext(method="flickr.photos.search", args={}, title="t", link="l", self_url="s", feed_id="f",
                      extras=EXTRAS)
    for fmt in FORMATS.values():
        assert fmt.render(back.paginated(15), ctx) == fmt.render(page.paginated(15), ctx)


def test_the_place_a_photo_was_taken_near_survives_the_cache():
    page = recorded(recorded_files()[0])
    first = replace(page.photos[0], locality="Lisbon", country="Portugal", place_id=2267057)
    page = replace(page, photos=(first, *page.photos[1:]))
    back = pages.decode(Entry(pages.encode(page)))
    assert (back.photos[0].place, back.photos[0].place_id) == ("Lisbon, Portugal", 2267057)
    assert [p.place for p in back.photos[1:]] == [p.place for p in page.photos[1:]]


def test_a_cached_failure_is_raised_again():
    stored = Entry((), pages.encode_error(FlickrError(1, "Group not found")))
    with pytest.raises(FlickrError) as caught:
        pages.decode(loads(dumps(stored)))
    assert (caught.value.code, caught.value.message, caught.value.status) == (1, "Group not found", 400)


def test_entry_bytes_round_trip_and_refuse_anything_else():
    original = entry(meta={"etag": "abc", "updated": 1690863499, "type": "application/rss+xml"})
    assert loads(dumps(original)) == original
    blob = dumps(original)
    for broken in (blob[:-1], blob + b"x", b"GWC1\n{not json}\n", b"<rsp/>", b""):
        assert loads(broken) is None


def test_keys_ignore_argument_order_and_differ_by_kind():
    assert cache_key("page", "m", {"a": "1", "b": "2"}) == cache_key("page", "m", {"b": "2", "a": "1"})
    assert cache_key("page", "m", {"a": "1"}) != cache_key("response", "m", {"a": "1"})


# ---------------------------------------------------------------- memory


def test_memory_is_a_bounded_lru():
    memory = MemoryBackend(max_entries=3, max_bytes=10**6)
    for key in "abc":
        memory.set(key, entry())
    memory.get("a")  # a is now the most recently used
    memory.set("d", entry())
    assert memory.get("b") is None and memory.get("a") is not None and len(memory) == 3
    small = MemoryBackend(max_entries=100, max_bytes=4 * entry(1000).size)
    for key in "abcdef":
        small.set(key, entry(1000))
    assert small.bytes <= small.max_bytes and small.get("f") is not None and small.get("a") is None
    small.set("huge", entry(10**6))  # bigger than a quarter of the cache: not stored, nothing flushed
    assert small.get("huge") is None and small.get("f") is not None


def test_memory_drops_expired_entries(monkeypatch):
    clock = Clock(monkeypatch)
    memory = MemoryBackend(10, 10**6)
    memory.set("k", entry(ttl=10, stale=10))
    clock.advance(15)
    assert memory.get("k") is not None  # stale, kept for stale-if-error
    clock.advance(10)
    assert memory.get("k") is None and memory.bytes == 0


# ---------------------------------------------------------------- files


def stored_files(root):
    return [p for p in (root / "entries").rglob("*") if p.is_file()]


def test_file_entries_are_written_whole_and_cleaned_lazily(tmp_path, monkeypatch):
    clock = Clock(monkeypatch)
    files = FileBackend(tmp_path)
    key = cache_key("page", "x")
    files.set(key, entry(ttl=10, stale=10))
    (path,) = stored_files(tmp_path)
    assert list((tmp_path / "tmp").iterdir()) == []
    assert abs(path.stat().st_mtime - files.get(key).expires) < 1  # mtime is the expiry, for sweeps
    clock.advance(25)
    assert files.get(key) is None and not path.exists()


def test_file_sweep_and_corrupt_files(tmp_path, monkeypatch):
    clock = Clock(monkeypatch)
    files = FileBackend(tmp_path)
    keys = [cache_key("page", str(n)) for n in range(40)]
    for key in keys:
        files.set(key, entry(ttl=1, stale=1))
    clock.advance(5)
    removed = sum(files.sweep(f"{n:02x}") for n in range(256))
    assert removed == 40 and stored_files(tmp_path) == []
    files.set(keys[0], entry())
    (path,) = stored_files(tmp_path)
    path.write_bytes(path.read_bytes()[:-3])  # a torn or foreign file is a miss, never an error
    assert files.get(keys[0]) is None


def test_file_lock_excludes_other_holders(tmp_path):
    one, two = FileBackend(tmp_path), FileBackend(tmp_path)
    key = cache_key("page", "x")
    token = one.try_lock(key, 5)
    assert token is not None and two.try_lock(key, 5) is None
    one.unlock(key, token)
    again = two.try_lock(key, 5)
    assert again is not None
    two.unlock(key, again)


# ---------------------------------------------------------------- redis


def test_redis_values_expire_with_their_grace_and_locks_are_compare_and_delete(redis_url):
    backend = RedisBackend(redis_url)
    try:
        backend.client.flushdb()
        backend.set("page:k", entry(ttl=300, stale=600))
        assert backend.get("page:k") is not None
        assert 890_000 < backend.client.pttl(PREFIX + "page:k") <= 900_000
        token = backend.try_lock("page:k", 5)
        assert token and backend.try_lock("page:k", 5) is None
        assert 0 < backend.client.pttl(f"{PREFIX}lock:page:k") <= 5000
        backend.unlock("page:k", "someone else's token")
        assert backend.client.exists(f"{PREFIX}lock:page:k")  # not ours to delete
        backend.unlock("page:k", token)
        assert not backend.client.exists(f"{PREFIX}lock:page:k")
    finally:
        backend.close()


def test_no_lock_is_left_behind(redis_url):
    app = make_app_on(redis_url, FakeUpstream(recorded("photos.search-19a6cc8272.xml")))
    try:
        app.extensions["gateway.cache"].backend.client.flushdb()
        client = app.test_client()
        assert client.get("/services/rest/?method=flickr.photos.search&format=feed-rss_200").status_code == 200
        keys = sorted(k.decode().split(":")[1] for k in app.extensions["gateway.cache"].backend.client.keys("*"))
        assert sorted(set(keys)) == ["bound", "modified", "page", "response"]  # and no "lock"
    finally:
        app.extensions["gateway.cache"].close()


def make_app_on(url, upstream):
    app = create_app({"CACHE_URL": url})
    app.extensions["gateway.upstream"] = upstream
    return app


SEARCH = "/services/rest/?method=flickr.photos.search&format=feed-rss_200&tags="


def test_a_redis_outage_falls_back_to_the_workers_memory(caplog):
    upstream = FakeUpstream(recorded("photos.search-19a6cc8272.xml"))
    app = make_app_on(f"redis://127.0.0.1:{free_port()}/0", upstream)  # nothing listens there
    try:
        client = app.test_client()
        with caplog.at_level(logging.WARNING, "gateway.cache"):
            for tag in ("a", "b", "c", "a", "b", "c"):
                assert client.get(SEARCH + tag).status_code == 200
        assert len(upstream.calls) == 3
        assert len([r for r in caplog.records if "Redis" in r.getMessage()]) == 1  # logged once, not per request
    finally:
        app.extensions["gateway.cache"].close()


def test_redis_going_away_mid_flight(tmp_path):
    upstream = FakeUpstream(recorded("photos.search-19a6cc8272.xml"))
    with redis_server(tmp_path) as url:
        app = make_app_on(url, upstream)
        client = app.test_client()
        assert client.get(SEARCH + "a").status_code == 200
        assert len(upstream.calls) == 1
    try:
        assert client.get(SEARCH + "b").status_code == 200  # the server is gone: fetched, not an error
        assert client.get(SEARCH + "a").status_code == 200  # still in this worker's memory
        assert len(upstream.calls) == 2
    finally:
        app.extensions["gateway.cache"].close()


def test_redis_is_used_again_once_it_is_back(tmp_path):
    port = free_port()
    backend = RedisBackend(f"redis://127.0.0.1:{port}/0")
    try:
        backend.set("page:k", entry())  # nothing listens yet: logged, Redis left alone for a while
        assert backend.get("page:k") is None and backend._down_until > 0
        with redis_server(tmp_path, port):
            backend._down_until = 0  # the pause is over
            backend.set("page:k", entry())
            assert backend.get("page:k") is not None
    finally:
        backend.close()


def test_hot_entries_of_a_shared_cache_are_kept_in_the_worker(redis_url, monkeypatch):
    clock = Clock(monkeypatch)
    upstream = FakeUpstream(recorded("photos.search-19a6cc8272.xml"))
    app = make_app_on(redis_url, upstream)
    try:
        client = app.test_client()
        redis_client = app.extensions["gateway.cache"].backend.client
        assert client.get(SEARCH + "hot").status_code == 200
        redis_client.flushdb()
        assert client.get(SEARCH + "hot").status_code == 200 and len(upstream.calls) == 1
        clock.advance(301)  # no longer fresh: the worker asks Redis, which has nothing, then the upstream
        assert client.get(SEARCH + "hot").status_code == 200 and len(upstream.calls) == 2
        assert redis_client.keys("*")  # and shares the new copy again
    finally:
        app.extensions["gateway.cache"].close()


# ---------------------------------------------------------------- configuration


def test_cache_settings(tmp_path):
    app = make_app(tmp_path, FakeUpstream(), CACHE_URL=f"file://{tmp_path}/c", CACHE_STALE="-5")
    cache = app.extensions["gateway.cache"]
    assert isinstance(cache, Cache) and isinstance(cache.backend, FileBackend) and cache.stale == 0
    assert cache.wait > app.config["UPSTREAM_TIMEOUT"]  # a waiter outlasts the fetch it waits for
    assert os.path.isdir(tmp_path / "c" / "entries")
    with pytest.raises(ValueError, match="GATEWAY_CACHE_URL"):
        make_app(tmp_path, FakeUpstream(), CACHE_URL="memcached://localhost")
    defaults = make_app(tmp_path, FakeUpstream()).config
    assert (defaults["CACHE_STALE"], defaults["CACHE_URL"]) == (86400, "memory://")
    assert isinstance(make_app(tmp_path, FakeUpstream()).extensions["gateway.cache"].backend, MemoryBackend)
    # The gateway starts while Redis is down: redis-py connects on first use.
    create_app({"CACHE_URL": f"redis://127.0.0.1:{free_port()}/0"}).extensions["gateway.cache"].close()
