"""Rate limits (issue 7): the Flickr budget (GATEWAY_UPSTREAM_RATE) and the per-client limit
(GATEWAY_CLIENT_RATE), per process and shared through a real redis-server."""

from __future__ import annotations

import pytest
from cachesupport import Clock, redis_server
from lxml import etree
from replay import Fault
from support import FakeUpstream, make_app, recorded

from gateway import create_app
from gateway.limits import LocalBuckets, Rate, client_rate, upstream_budget, upstream_rate

FEED = "/services/rest/?method=flickr.photos.search&tags=sunset&format=feed-rss_200"
KEY, SECRET = "k" * 32, "s" * 16
GROUP = "/services/rest/?method=flickr.groups.pools.getPhotos&group_id=31849566@N00&per_page=10&format="


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


# ---------------------------------------------------------------- buckets and settings


def test_rates_from_settings():
    assert client_rate("600/minute") == Rate(600, 10) == client_rate(" 600 ")
    assert client_rate("10/s") == Rate(10, 10) and client_rate("3600/hour") == Rate(3600, 1)
    assert client_rate("") is None and client_rate("0") is None
    # A tenth of the hour as the burst: at most 1.1 x RATE calls in any hour.
    assert upstream_rate(3000) == Rate(300, 3000 / 3600) and upstream_rate(0) is None


def test_bad_settings_stop_the_app(tmp_path):
    with pytest.raises(ValueError, match="GATEWAY_CLIENT_RATE"):
        make_app(tmp_path, CLIENT_RATE="lots")
    with pytest.raises(ValueError, match="GATEWAY_CLIENT_RATE"):
        make_app(tmp_path, CLIENT_RATE="5/fortnight")
    with pytest.raises(ValueError, match="GATEWAY_UPSTREAM_RATE"):
        make_app(tmp_path, UPSTREAM_RATE="many")


def test_a_bucket_allows_its_burst_then_says_how_long_to_wait():
    buckets, rate = LocalBuckets(max_keys=2), Rate(3, 1 / 60)
    assert [buckets.take("a", rate) for _ in range(3)] == [0, 0, 0]
    assert 59 < buckets.take("a", rate) <= 60
    assert buckets.take("b", rate) == 0
    buckets.take("c", rate)  # a third client: the least recently seen ("a") is forgotten
    assert buckets.take("a", rate) == 0


def test_without_redis_the_budget_is_split_between_workers(tmp_path, monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    budget = upstream_budget(create_app({"LIBRARY_PATH": str(tmp_path / "l"), "UPSTREAM_RATE": 3600}))
    assert budget.shared is None and budget.local_rate == Rate(120, 1 / 3)


# ---------------------------------------------------------------- the client limit


def get(client, url: str, address: str = "198.51.100.7", **kw):
    response = client.get(url, environ_base={"REMOTE_ADDR": address}, **kw)
    response.get_data()
    return response


def test_the_client_limit_covers_every_path_and_answers_429(tmp_path):
    client = make_app(tmp_path, FakeUpstream(recorded("photos.search-19a6cc8272.xml")),
                      CLIENT_RATE="3/minute").test_client()
    statuses = [get(client, FEED).status_code for _ in range(3)]  # a miss, then two FastHits answers
    refused = get(client, FEED)
    assert statuses == [200, 200, 200] and refused.status_code == 429
    assert refused.headers["X-FlickrErrCode"] == "429" and "Too many requests" in refused.headers[
        "X-FlickrErrMessage"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 20
    assert etree.fromstring(refused.data).find("err").get("code") == "429"
    assert client.head(FEED, environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 429
    assert get(client, FEED, "198.51.100.8").status_code == 200  # another client
    assert get(client, "/healthz").status_code == 200  # probes are never limited
    assert get(client, "/metrics").status_code == 200


def test_the_client_is_the_address_behind_the_trusted_proxy(tmp_path):
    client = make_app(tmp_path, FakeUpstream(), CLIENT_RATE="1/hour", PROXY_HOPS=1).test_client()
    proxied = {"X-Forwarded-For": "203.0.113.1"}
    assert get(client, FEED, headers=proxied).status_code == 200
    assert get(client, FEED, headers=proxied).status_code == 429
    assert get(client, FEED, headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 200


def test_ipv6_clients_are_counted_by_their_64(tmp_path):
    client = make_app(tmp_path, FakeUpstream(), CLIENT_RATE="1/hour").test_client()
    assert get(client, FEED, "2001:db8:1:2::1").status_code == 200
    assert get(client, FEED, "2001:db8:1:2:ffff::9").status_code == 429
    assert get(client, FEED, "2001:db8:1:3::1").status_code == 200


def test_the_client_limit_is_shared_through_redis(tmp_path, redis_url):
    apps = [make_app(tmp_path, FakeUpstream(), CACHE_URL=redis_url, CLIENT_RATE="2/hour") for _ in range(2)]
    try:
        a, b = (app.test_client() for app in apps)
        address = "192.0.2.77"
        assert get(a, FEED, address).status_code == 200
        assert get(b, FEED, address).status_code == 200
        assert get(a, FEED, address).status_code == 429 and get(b, FEED, address).status_code == 429
    finally:
        for app in apps:
            app.extensions["gateway.cache"].close()
            app.extensions["gateway.client_limit"].close()


# ---------------------------------------------------------------- the upstream budget


def flickr_app(replay, tmp_path, **config):
    return create_app({"UPSTREAM": "flickr", "FLICKR_API_KEY": KEY, "FLICKR_API_SECRET": SECRET,
                       "FLICKR_REST_URL": replay.url, "UPSTREAM_TIMEOUT": 1, "MAX_PER_PAGE": 10,
                       "LIBRARY_PATH": str(tmp_path / "l"), **config})


def test_a_spent_budget_serves_stale_copies_or_503(replay, tmp_path, monkeypatch):
    clock = Clock(monkeypatch)
    client = flickr_app(replay, tmp_path, UPSTREAM_RATE=10).test_client()  # a burst of one call
    fresh = client.get(GROUP + "feed-atom_10")
    assert fresh.status_code == 200 and len(replay.calls) == 1
    refused = client.get(GROUP.replace("31849566", "66832458") + "feed-atom_10")
    assert refused.status_code == 503 and refused.headers["X-FlickrErrCode"] == "105"
    assert 300 < int(refused.headers["Retry-After"]) <= 360  # one call every 6 minutes
    clock.advance(301)  # the first copy is stale now: served again, without asking Flickr
    stale = client.get(GROUP + "feed-atom_10")
    assert stale.status_code == 200 and stale.data == fresh.data and "110" in stale.headers["Warning"]
    assert len(replay.calls) == 1
    assert KEY not in refused.get_data(as_text=True)


def test_a_budget_of_zero_is_no_limit(replay, tmp_path):
    app = flickr_app(replay, tmp_path, UPSTREAM_RATE=0)
    assert app.extensions["gateway.upstream"].budget is None
    client = app.test_client()
    for fmt in ("rest", "json", "feed-rss_200"):  # three calls: three distinct responses, one page
        assert client.get(GROUP + fmt + "&extras=" + fmt).status_code == 200


def test_the_budget_is_shared_through_redis_and_survives_its_loss(replay, tmp_path):
    with redis_server(tmp_path) as url:
        apps = [flickr_app(replay, tmp_path, UPSTREAM_RATE=10, CACHE_URL=url) for _ in range(2)]
        a, b = (app.test_client() for app in apps)
        assert a.get(GROUP + "rest").status_code == 200
        # The other worker (or host) finds the budget spent, though its own cache is cold.
        assert b.get(GROUP.replace("31849566", "66832458") + "feed-rss_200").status_code == 503
    # Redis is gone: each process falls back to its own bucket (a full one) and keeps answering.
    assert len(replay.calls) == 1
    replay.inject(Fault.http(500), times=1)
    other = GROUP.replace("31849566", "66832458")
    assert b.get(other + "feed-rss_200").status_code == 503 and len(replay.calls) == 2  # Flickr was asked
    assert b.get(other + "feed-atom_10").status_code == 503 and len(replay.calls) == 2  # the local bucket is spent
    for app in apps:
        app.extensions["gateway.cache"].close()
        app.extensions["gateway.upstream"].budget.close()
