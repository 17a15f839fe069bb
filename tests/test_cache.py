"""Caching, conditional GET, coalescing and stale-if-error through the endpoint, on every backend.

Redis tests run against a real redis-server started here (scripts/test installs it).
"""

from __future__ import annotations

import gzip
import threading

import pytest
import redis
from cachesupport import BlockingUpstream, Clock, redis_server, wait_until
from support import FakeUpstream, make_app, recorded

from gateway.api import canonical_args
from gateway.cache import STALE_RETRY, cache_key
from gateway.errors import FlickrError, unavailable
from gateway.formats import FORMATS

GROUP = {"method": "flickr.groups.pools.getPhotos", "group_id": "66832458@N00"}
PAGE = recorded("groups.pools.getPhotos-a0ebda947a.xml")  # 100 photos
# The page key of GROUP as the upstream is asked for it (page and per_page normalised).
PAGE_KEY = cache_key("page", "fake", GROUP["method"],
                     canonical_args({"group_id": GROUP["group_id"], "per_page": "15", "page": "1"}),
                     0)  # the data version: the fake upstream has none


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["memory", "file", "redis"])
def cache_url(request, tmp_path):
    if request.param == "memory":
        return "memory://"
    if request.param == "file":
        return f"file://{tmp_path}/cache"
    url = request.getfixturevalue("redis_url")
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


@pytest.fixture
def make(cache_url, tmp_path):
    """make(upstream, **config) -> app on this test's backend; caches are closed afterwards."""
    apps = []

    def build(upstream, **config):
        app = make_app(tmp_path, upstream, CACHE_URL=cache_url, **config)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["gateway.cache"].close()


def get(client, query=None, headers=None, **args):
    if query is not None:
        return client.get(f"/services/rest/?{query}", headers=headers or {})
    return client.get("/services/rest/", query_string={**GROUP, "format": "feed-rss_200", **args},
                      headers=headers or {})


# ---------------------------------------------------------------- hits


def test_second_identical_request_never_reaches_the_upstream(make):
    upstream = FakeUpstream(PAGE)
    client = make(upstream).test_client()
    first, second = get(client), get(client)
    assert first.status_code == second.status_code == 200
    assert second.data == first.data and second.headers["ETag"] == first.headers["ETag"]
    assert len(upstream.calls) == 1


def test_equivalent_urls_share_one_entry(make):
    upstream = FakeUpstream(PAGE)
    client = make(upstream).test_client()
    group = "group_id=66832458%40N00"
    queries = [
        f"method=flickr.groups.pools.getPhotos&{group}&format=rest&extras=tags,geo",
        f"format=rest&extras=geo,tags,geo&{group}&method=flickr.groups.pools.getPhotos",
        f"method=flickr.groups.pools.getPhotos&{group}&format=rest&extras=tags,geo&per_page=500&page=1&api_key=k1",
        f"api_key=k2&method=flickr.groups.pools.getPhotos&{group}&format=rest&per_page=15&extras=geo,tags",
    ]
    bodies = {get(client, q).data for q in queries}
    assert len(bodies) == 1 and b"latitude=" in bodies.pop()
    assert len(upstream.calls) == 1


def test_every_format_of_a_call_costs_one_upstream_call(make):
    upstream = FakeUpstream(PAGE)
    client = make(upstream).test_client()
    for fmt in FORMATS:
        assert get(client, format=fmt, nojsoncallback="1").status_code == 200
    assert len(upstream.calls) == 1


def test_links_follow_the_host_asked_for(make):
    upstream = FakeUpstream(PAGE)
    client = make(upstream).test_client()
    a = client.get("/services/rest/", base_url="http://a.example", query_string={**GROUP, "format": "feed-atom_10"})
    b = client.get("/services/rest/", base_url="https://b.example", query_string={**GROUP, "format": "feed-atom_10"})
    assert b"http://a.example/services/rest/" in a.data and b"a.example" not in b.data
    assert b"https://b.example/services/rest/" in b.data
    assert len(upstream.calls) == 1  # one page, two renderings


def test_callers_key_is_neither_in_the_key_nor_in_cached_bytes(make, cache_url):
    app = make(FakeUpstream(PAGE))
    client = app.test_client()
    for fmt in ("feed-rss_200", "feed-atom_10", "json"):
        get(client, format=fmt, api_key="caller-secret-key")
    backend = app.extensions["gateway.cache"].backend
    if cache_url.startswith("memory"):
        stored = [b"".join(e.parts) + repr(dict(e.meta)).encode() for e in backend._entries.values()]
    elif cache_url.startswith("file"):
        stored = [p.read_bytes() for p in backend.root.rglob("*") if p.is_file()]
    else:
        # Entries are strings; the size bound's index and sizes (shared.py) only name entry keys.
        client = backend.client
        read = {b"string": client.get, b"hash": lambda k: repr(client.hgetall(k)).encode(),
                b"zset": lambda k: repr(client.zrange(k, 0, -1)).encode()}
        stored = [read[client.type(k)](k) for k in client.keys("*")]
    assert len(stored) >= 4
    assert not [s for s in stored if b"caller-secret-key" in s or b"caller-secret-key" in gzip_text(s)]


def gzip_text(blob: bytes) -> bytes:
    start = blob.find(b"\x1f\x8b")
    try:
        return gzip.decompress(blob[start:]) if start >= 0 else b""
    except (OSError, EOFError):
        return b""


# ---------------------------------------------------------------- HTTP


def test_conditional_get_and_head_are_served_from_the_cache(make):
    upstream = FakeUpstream(PAGE)
    client = make(upstream).test_client()
    first = get(client)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.headers["Vary"] == "Accept-Encoding"
    assert get(client, headers={"If-None-Match": etag}).status_code == 304
    assert get(client, headers={"If-None-Match": f'"other", {etag}'}).status_code == 304
    assert get(client, headers={"If-None-Match": '"other"', "If-Modified-Since": modified}).status_code == 200
    assert get(client, headers={"If-Modified-Since": modified}).status_code == 304
    assert get(client, headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}).status_code == 304
    assert get(client, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200
    head = client.head("/services/rest/", query_string={**GROUP, "format": "feed-rss_200"})
    assert head.status_code == 200 and head.data == b"" and head.headers["ETag"] == etag
    not_modified = get(client, headers={"If-None-Match": etag})
    assert not_modified.data == b"" and not_modified.headers["ETag"] == etag
    assert not_modified.headers["Cache-Control"] == "public, max-age=300"
    assert len(upstream.calls) == 1


def test_gzip_for_clients_that_accept_it(make):
    client = make(FakeUpstream(PAGE)).test_client()
    plain = get(client)
    packed = get(client, headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain.headers
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] == "W/" + plain.headers["ETag"]  # same content, another encoding
    assert packed.headers["Vary"] == "Accept-Encoding"
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data)
    assert get(client, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}).status_code == 304
    refused = get(client, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers and refused.data == plain.data


# ---------------------------------------------------------------- failures


def test_answers_are_cached_and_outages_are_not(make):
    missing = FakeUpstream(error=FlickrError(1, "Group not found"))
    client = make(missing).test_client()
    for _ in range(3):
        r = get(client)
        assert r.status_code == 400 and r.headers["X-FlickrErrCode"] == "1"
    assert len(missing.calls) == 1
    down = FakeUpstream(error=unavailable(30))
    client = make(down).test_client()
    for _ in range(3):
        r = get(client, group_id="other")  # on a shared backend the first app's answer would be found
        assert r.status_code == 503 and r.headers["Retry-After"] == "30"
    assert len(down.calls) == 3


@pytest.mark.parametrize("failure", [unavailable(), FlickrError(100, "Invalid API Key", 502), RuntimeError("boom")])
def test_stale_if_error(make, monkeypatch, failure):
    clock = Clock(monkeypatch)
    upstream = FakeUpstream(PAGE)
    client = make(upstream).test_client()
    fresh = get(client)
    clock.advance(301)
    upstream.error = failure
    stale = get(client)
    assert stale.status_code == 200 and stale.data == fresh.data
    assert stale.headers["ETag"] == fresh.headers["ETag"]
    assert int(stale.headers["Age"]) >= 301 and stale.headers["Warning"].startswith("110")
    assert len(upstream.calls) == 2
    # A failing upstream is retried once a while, not by every request.
    get(client, format="feed-atom_10")
    assert len(upstream.calls) == 2
    clock.advance(STALE_RETRY + 1)
    assert get(client).status_code == 200 and len(upstream.calls) == 3
    upstream.error = None
    clock.advance(STALE_RETRY + 1)
    recovered = get(client)
    assert recovered.status_code == 200 and "Warning" not in recovered.headers and len(upstream.calls) == 4


def test_nothing_to_serve_after_the_grace_period(make, monkeypatch):
    clock = Clock(monkeypatch)
    upstream = FakeUpstream(PAGE)
    client = make(upstream, CACHE_STALE=3600).test_client()
    assert get(client).status_code == 200
    clock.advance(300 + 3600 + 1)
    upstream.error = unavailable(45)
    r = get(client)
    assert r.status_code == 503 and r.headers["Retry-After"] == "45" and r.headers["X-FlickrErrCode"] == "105"


def test_an_answer_replaces_the_stale_copy(make, monkeypatch):
    clock = Clock(monkeypatch)
    upstream = FakeUpstream(PAGE)
    client = make(upstream).test_client()
    assert get(client).status_code == 200
    clock.advance(301)
    upstream.error = FlickrError(1, "Group not found")  # the group was deleted: say so
    assert get(client).status_code == 400
    assert get(client, format="feed-atom_10").status_code == 400
    assert len(upstream.calls) == 2


# ---------------------------------------------------------------- coalescing


def run_together(apps, per_app: int, **args) -> list:
    """per_app identical requests on each app at once, each on its own thread; their responses."""
    results = []
    lock = threading.Lock()

    def one(app):
        r = get(app.test_client(), **args)
        with lock:
            results.append((r.status_code, r.data))

    threads = [threading.Thread(target=one, args=(app,)) for app in apps for _ in range(per_app)]
    for t in threads:
        t.start()
    return threads, results


def test_identical_requests_wait_for_one_fetch(make):
    upstream = BlockingUpstream(PAGE)
    app = make(upstream)
    threads, results = run_together([app], 20)
    cache = app.extensions["gateway.cache"]
    wait_until(lambda: cache.waiting(PAGE_KEY) == 19)  # 19 wait while the first one fetches
    upstream.release.set()
    for t in threads:
        t.join(30)
    assert len(upstream.calls) == 1
    assert len(results) == 20 and {s for s, _ in results} == {200} and len({d for _, d in results}) == 1


def test_waiting_requests_share_the_failure(make):
    upstream = BlockingUpstream(error=unavailable())
    app = make(upstream)
    threads, results = run_together([app], 10)
    wait_until(lambda: app.extensions["gateway.cache"].waiting(PAGE_KEY) == 9)
    upstream.release.set()
    for t in threads:
        t.join(30)
    assert len(upstream.calls) == 1 and [s for s, _ in results] == [503] * 10


def test_processes_sharing_a_backend_fetch_once(make, cache_url):
    upstream = BlockingUpstream(PAGE)
    apps = [make(upstream), make(upstream)]  # two workers (or hosts) with one backend
    threads, results = run_together(apps, 5)
    wait_until(upstream.arrived.is_set)
    wait_until(lambda: all(a.extensions["gateway.cache"].waiting(PAGE_KEY) == 4 for a in apps))
    upstream.release.set()
    for t in threads:
        t.join(30)
    assert {s for s, _ in results} == {200} and len(results) == 10
    # memory:// is per process: one call per worker; a shared backend: one in total.
    assert len(upstream.calls) == (2 if cache_url == "memory://" else 1)
