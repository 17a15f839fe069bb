"""Known requests answered below Flask (cache/http.py): fast, but never a way around the endpoint's rules."""

from __future__ import annotations

import pytest
from support import FakeUpstream, make_app, recorded

from gateway.cache.http import OVERHEAD, FastHits, Known, KnownRequests

PAGE = recorded("photos.search-19a6cc8272.xml")
FEED = "/services/rest/?method=flickr.photos.search&tags=sunset&format=feed-rss_200"


@pytest.fixture
def upstream():
    return FakeUpstream(PAGE)


def known(app) -> KnownRequests:
    return app.extensions["gateway.known"]


def test_a_repeated_request_is_answered_before_flask(tmp_path, upstream):
    app = make_app(tmp_path, upstream)
    client = app.test_client()
    first = client.get(FEED)
    assert len(known(app)._keys) == 1
    app.view_functions["api.rest"] = lambda: pytest.fail("the endpoint ran for a known, fresh request")
    again = client.get(FEED)
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert client.get(FEED, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    head = client.head(FEED)
    assert head.data == b"" and head.headers["Content-Length"] == str(len(first.data))
    assert len(upstream.calls) == 1


def test_api_keys_are_still_checked(tmp_path, upstream):
    client = make_app(tmp_path, upstream, API_KEYS="good").test_client()
    assert client.get(FEED + "&api_key=good").status_code == 200
    assert client.get(FEED + "&api_key=good").status_code == 200
    assert client.get(FEED + "&api_key=bad").status_code == 400
    assert client.get(FEED).status_code == 400
    oauth = {"Authorization": 'OAuth oauth_consumer_key="good"'}
    assert client.get(FEED, headers=oauth).status_code == 200
    assert client.get(FEED, headers={"Authorization": 'OAuth oauth_consumer_key="bad"'}).status_code == 400
    assert len(upstream.calls) == 1  # every accepted variant shares one entry


def test_only_get_and_head_are_remembered_and_errors_never(tmp_path, upstream):
    app = make_app(tmp_path, upstream)
    client = app.test_client()
    assert client.post("/services/rest/", data={"method": "flickr.photos.search", "format": "rest"}).status_code == 200
    assert client.get("/services/rest/?method=flickr.nope").status_code == 200  # a rest-format error
    assert known(app)._keys == {}


def test_the_host_behind_a_proxy_gets_its_own_links(tmp_path, upstream):
    client = make_app(tmp_path, upstream, PROXY_HOPS=1).test_client()
    a = client.get(FEED, headers={"X-Forwarded-Host": "a.example", "X-Forwarded-Proto": "https"})
    b = client.get(FEED, headers={"X-Forwarded-Host": "b.example", "X-Forwarded-Proto": "https"})
    assert b"https://a.example/services/rest/" in a.data and b"https://b.example/services/rest/" in b.data
    again = client.get(FEED, headers={"X-Forwarded-Host": "a.example", "X-Forwarded-Proto": "https"})
    assert again.data == a.data


def test_known_requests_are_bounded_in_bytes():
    requests = KnownRequests(max_bytes=3 * (OVERHEAD + 101), max_raw=1000)  # 3 of (key, raw "n")
    known = [Known(f"response:{n:091d}", "flickr.photos.search", "rest") for n in range(5)]  # 100-char keys
    for n in range(5):
        requests.remember((str(n),), known[n])
    assert len(requests) == 3 and requests.get(("0",)) is None and requests.get(("4",)) == known[4]
    assert requests.bytes <= requests.max_bytes
    requests.remember(("x" * 1001,), known[0])  # one raw request larger than max_raw: never remembered
    assert requests.get(("x" * 1001,)) is None and len(requests) == 3
    assert requests.get(None) is None


def test_a_broken_shortcut_falls_back_to_the_endpoint(tmp_path, upstream):
    app = make_app(tmp_path, upstream)
    client = app.test_client()
    first = client.get(FEED)
    hits = app.wsgi_app  # (ProxyFix →) CORS → Access → FastHits
    while not isinstance(hits, FastHits):
        hits = getattr(hits, "wsgi_app", None) or hits.app
    hits.extensions = {**app.extensions, "gateway.cache": None}  # any failure in the shortcut
    assert client.get(FEED).data == first.data
