"""Issue 17 item 3: shared caches stay within their bound under a flood of distinct calls,
and a full or broken disk is logged once a minute, not once a write.

Real backends: a cache directory on disk and a redis-server started for the tests.
"""

from __future__ import annotations

import logging
import os
import time

import pytest
from cachesupport import redis_server

from gateway.cache import cache_key
from gateway.cache.entry import Entry
from gateway.cache.files import TRIM_SHARE, FileBackend
from gateway.cache.shared import BYTES, INDEX, SIZES, RedisBackend

BOUND = 256 * 1024


def entry(size: int, ttl: float = 300) -> Entry:
    now = time.time()
    return Entry((os.urandom(size), b"gz"), {"etag": "e"}, now, now + ttl, now + ttl + 600)


def disk_bytes(root) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root / "entries"):
        for name in files:
            st = os.stat(os.path.join(dirpath, name))
            total += max(st.st_size, st.st_blocks * 512)
    return total


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def test_file_directory_stays_within_its_bound_evicting_oldest(tmp_path):
    workers = [FileBackend(tmp_path, BOUND) for _ in range(3)]  # three processes' views of one directory
    keys = [cache_key("response", n) for n in range(600)]
    for n, key in enumerate(keys):
        workers[n % 3].set(key, entry(3000))
        assert disk_bytes(tmp_path) <= BOUND * (1 + 3 * TRIM_SHARE), n
    assert disk_bytes(tmp_path) <= BOUND * (1 + 3 * TRIM_SHARE)
    # The newest survive, the oldest went first.
    assert workers[0].get(keys[-1]) is not None and workers[1].get(keys[-2]) is not None
    assert workers[0].get(keys[0]) is None
    assert workers[0].trim() <= BOUND


def test_full_disk_is_logged_once_a_minute(tmp_path, caplog):
    files = FileBackend(tmp_path, BOUND)
    (tmp_path / "tmp").rmdir()
    (tmp_path / "tmp").write_text("not a directory: every write fails as on a full disk")
    with caplog.at_level(logging.WARNING, logger="gateway.cache"):
        for n in range(2000):
            files.set(cache_key("response", n), entry(100))
    lines = [r for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines[:3]]


def test_redis_keys_stay_within_the_bound(redis_url, caplog):
    backend = RedisBackend(redis_url, BOUND)
    client = backend.client
    try:
        client.flushdb()
        before = client.info("memory")["used_memory"]
        keys = [cache_key("response", n) for n in range(600)]
        for key in keys:
            backend.set(key, entry(3000))
        counted = int(client.get(BYTES))
        assert counted <= BOUND
        stored = sum(client.strlen(k) for k in client.keys("gw:response:*"))
        assert stored <= BOUND
        assert client.zcard(INDEX) == client.hlen(SIZES) <= BOUND // 3000
        # Redis's own memory stops growing: 600 more entries (1.8 MB) add next to nothing.
        # (It holds more than the count: the allocator rounds a 3 KB value up to 4 KB, and so on.)
        full = client.info("memory")["used_memory"]
        assert full - before < 4 * BOUND
        for n in range(600, 1200):
            backend.set(cache_key("response", n), entry(3000))
        assert client.info("memory")["used_memory"] - full < BOUND // 4
        assert backend.get(cache_key("response", 1199)) is not None and backend.get(keys[0]) is None
        # Re-writing a key counts it once.
        for _ in range(5):
            backend.set(keys[-1], entry(3000))
        assert int(client.get(BYTES)) == sum(int(v) for v in client.hvals(SIZES))
        with caplog.at_level(logging.WARNING, logger="gateway.cache"):
            usage = backend.usage()
        assert usage["max_bytes"] == BOUND and usage["bytes"] <= BOUND
        assert usage["redis_bounded"] is False  # the test server runs without maxmemory: said in the log
        assert any("maxmemory" in r.getMessage() for r in caplog.records)
    finally:
        client.flushdb()
        backend.close()


def test_an_unbounded_redis_is_logged_at_start(make_app, redis_url, caplog):
    with caplog.at_level(logging.WARNING, logger="gateway.cache"):
        app = make_app(CACHE_URL=redis_url)
    assert [r for r in caplog.records if "maxmemory-policy volatile-lru" in r.getMessage()]
    assert app.test_client().get("/readyz").get_json()["cache"]["redis_bounded"] is False


def test_a_redis_with_a_policy_is_reported_bounded(redis_url):
    backend = RedisBackend(redis_url, BOUND)
    try:
        backend.client.config_set("maxmemory", 64 * 1024 * 1024)
        backend.client.config_set("maxmemory-policy", "volatile-lru")
        assert backend.usage()["redis_bounded"] is True
    finally:
        backend.client.config_set("maxmemory", 0)
        backend.client.config_set("maxmemory-policy", "noeviction")
        backend.close()


@pytest.mark.parametrize("kind", ["file", "redis"])
def test_a_flood_of_distinct_valid_calls_stays_bounded(make_app, tmp_path, kind, request):
    url = f"file://{tmp_path}/cache" if kind == "file" else request.getfixturevalue("redis_url")
    app = make_app(CACHE_URL=url, CACHE_SHARED_MAX_BYTES=BOUND, DEMO=1)
    client = app.test_client()
    backend = app.extensions["gateway.cache"].backend
    if kind == "redis":
        backend.client.flushdb()
    for n in range(300):
        response = client.get("/services/rest/", query_string={"method": "flickr.photos.search", "text": f"w{n}",
                                                               "format": "feed-rss_200"})
        assert response.status_code == 200
    if kind == "file":
        assert disk_bytes(tmp_path / "cache") <= BOUND * (1 + TRIM_SHARE)
    else:
        assert int(backend.client.get(BYTES)) <= BOUND
        backend.client.flushdb()
    status = client.get("/readyz").get_json()["cache"]
    assert status["max_bytes"] == BOUND
