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


@pytest.mark.parametrize("headers", [
    {"X-Forwarded-Proto": "javascript"}, {"X-Forwarded-Proto": "data"},  # a proxy passes on what it does not set
    {"X-Forwarded-Prefix": "javascript:alert(1)//"},  # Werkzeug could not build a URL from it: a 503
    {"X-Forwarded-Prefix": "//evil.example"}, {"X-Forwarded-Prefix": '/a"b'},
])
@pytest.mark.parametrize("fmt", ["feed-kml_nl", "feed-atom_10"])
def test_forwarded_scheme_and_prefix_start_links_only_when_they_can(tmp_path, upstream, headers, fmt):
    client = make_app(tmp_path, upstream, PROXY_HOPS=1).test_client()
    response = client.get(FEED.replace("feed-rss_200", fmt), headers=headers)
    assert response.status_code == 200
    assert b"http://localhost/services/rest/?method=flickr.photos.search" in response.data
    assert b"javascript" not in response.data and b"evil" not in response.data
    proxied = client.get(FEED.replace("feed-rss_200", fmt), headers={"X-Forwarded-Proto": "HTTPS",
                                                                     "X-Forwarded-Prefix": "/gateway"})
    assert b"https://localhost/gateway/services/rest/?method=flickr.photos.search" in proxied.data


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


def test_a_flood_of_long_headers_stays_within_the_bound(tmp_path, upstream):
    """An 8 KB query with a different 15 KB Host and Authorization each time: the map of raw requests
    held 4,096 of them (180 MB, kept for the process's life) when it was bounded by count alone."""
    app = make_app(tmp_path, upstream)
    client = app.test_client()
    query = FEED + "&" + "x" * 8000
    for n in range(300):
        host = f"h{n}." + ("a" * 60 + ".") * 240 + "example"
        response = client.get(query, headers={"Host": host, "Authorization": f"OAuth {'z' * 15000}{n}"})
        assert response.status_code == 200
    requests = known(app)
    held = sum(len(part) for raw in requests._keys for part in raw if isinstance(part, str))
    assert held <= requests.max_bytes and requests.bytes <= requests.max_bytes
    assert len(requests) < 300  # requests this large are answered through the endpoint every time
    small = KnownRequests(max_bytes=16_000, max_raw=1000)
    small.remember(("q" * 2000,), Known("too large", "flickr.photos.search", "rest"))
    assert len(small) == 0
    for n in range(50):
        small.remember((f"{n:04d}" + "q" * 500,), Known(f"response:{n}", "flickr.photos.search", "rest"))
    assert small.bytes <= 16_000 and small.get(("0049" + "q" * 500,)).key == "response:49"
    assert small.get(("0000" + "q" * 500,)) is None  # the oldest went first


def test_a_broken_shortcut_falls_back_to_the_endpoint(tmp_path, upstream):
    app = make_app(tmp_path, upstream)
    client = app.test_client()
    first = client.get(FEED)
    hits = app.wsgi_app  # (ProxyFix →) CORS → Access → FastHits
    while not isinstance(hits, FastHits):
        hits = getattr(hits, "wsgi_app", None) or hits.app
    hits.extensions = {**app.extensions, "gateway.cache": None}  # any failure in the shortcut
    assert client.get(FEED).data == first.data
