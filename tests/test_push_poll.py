"""Knowing what is new with the Flickr upstream: watched calls are polled, once per watch (not per
topic or subscriber) across every consumer and host, within the upstream budget."""

from __future__ import annotations

import time

import pytest
from cachesupport import redis_server
from conftest import flickr_xml
from prometheus_client import REGISTRY
from pushsupport import Callback, photo
from support import FakeUpstream

from gateway import create_app
from gateway.model import parse_rest
from gateway.push import get
from gateway.safexml import parse

TOPIC = "http://localhost/services/rest/?method=flickr.photos.search&tags=sunset&format={fmt}"
OTHER = "http://localhost/services/rest/?method=flickr.people.getPublicPhotos&user_id=1%40N00&format={fmt}"


def page(ids):
    return parse_rest(parse(flickr_xml([photo(i) for i in ids], attrs={"page": 1, "pages": 1, "total": len(ids)})))


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def callback():
    made = Callback()
    yield made
    made.close()


def flickr_app(tmp_path, upstream, **config):
    app = create_app({"DEMO": 0, "LIBRARY_PATH": str(tmp_path / "lib.sqlite"), "PUSH_PATH": str(tmp_path / "p.sqlite"),
                      "PUSH_IMMEDIATE": True, "PUSH_ALLOW_PRIVATE": 1, "CACHE_TTL": 1, **config})
    app.config["UPSTREAM"] = "flickr"  # the tick polls only for the Flickr upstream
    app.extensions["gateway.upstream"] = upstream
    return app


def subscribe_all(app, callback, count_per_format=3):
    client = app.test_client()
    for topic in (TOPIC, OTHER):
        for fmt in ("feed-atom_10", "feed-rss_200", "feed-georss"):
            for n in range(count_per_format):
                r = client.post("/push/hub", data={"hub.mode": "subscribe", "hub.topic": topic.format(fmt=fmt),
                                                    "hub.callback": f"{callback.url}?n={n}"})
                assert r.status_code == 202


def test_one_poll_per_watch_whatever_the_subscribers(tmp_path, callback):
    upstream = FakeUpstream(page([1, 2]))
    app = flickr_app(tmp_path, upstream, UPSTREAM_RATE=0)
    subscribe_all(app, callback)
    push = get(app)
    assert len(push.subs.all()) == 18 and len(push.watched()) == 2
    upstream.calls.clear()
    push.tasks.tick.call_local()
    assert len(upstream.calls) == 2  # one per watch, not one per topic or subscriber
    push.tasks.tick.call_local()
    assert len(upstream.calls) == 2  # the poll interval has not passed
    assert callback.posts() == []  # nothing new
    upstream.page = page([3, 1, 2])
    time.sleep(1.1)
    push.tasks.tick.call_local()
    assert len(upstream.calls) == 4
    posts = callback.posts()
    assert len(posts) == 18  # every subscriber of both watches (the fake answers both calls alike)
    assert all(b"/photo/3</id>" in p.body or b"/photo/3</guid>" in p.body for p in posts)
    assert REGISTRY.get_sample_value("gateway_push_polls_total", {"outcome": "ok"}) >= 4


def test_polls_stretch_when_the_budget_is_short(tmp_path, callback):
    upstream = FakeUpstream(page([1]))
    app = flickr_app(tmp_path, upstream, UPSTREAM_RATE=100, CACHE_TTL=60)
    subscribe_all(app, callback, count_per_format=1)
    get(app).tasks.tick.call_local()
    # 2 watches polled within half of 100 calls an hour: every 144 s instead of every 60 s.
    assert REGISTRY.get_sample_value("gateway_push_poll_interval_seconds") == pytest.approx(144)
    assert REGISTRY.get_sample_value("gateway_push_poll_stretch") == pytest.approx(2.4)
    assert REGISTRY.get_sample_value("gateway_push_budget_share") == pytest.approx(0.5)


def test_two_hosts_on_redis_poll_once(tmp_path, redis_url, callback):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    upstreams = [FakeUpstream(page([1, 2])), FakeUpstream(page([1, 2]))]
    apps = [flickr_app(tmp_path / str(i), u, CACHE_URL=redis_url, CACHE_TTL=30) for i, u in enumerate(upstreams)]
    subscribe_all(apps[0], callback, count_per_format=1)
    assert len(get(apps[1]).subs.all()) == 6  # the second host sees the first one's subscriptions
    for u in upstreams:
        u.calls.clear()
    for app in apps:
        get(app).tasks.tick.call_local()
    assert len(upstreams[0].calls) + len(upstreams[1].calls) == 2  # one poll per watch across both hosts
    for u in upstreams:
        u.page = page([4, 1, 2])
    for app in apps:  # both hosts check at once: the photo is still new only once
        for watch in get(app).watched():
            get(app).tasks.check.call_local(watch)
    assert len(callback.posts()) == 6 and len({p.headers["Link"] for p in callback.posts()}) == 6  # once each


def test_a_poll_refused_by_the_budget_is_counted_and_retried(tmp_path, callback):
    from gateway import errors

    upstream = FakeUpstream(page([1]))
    app = flickr_app(tmp_path, upstream, UPSTREAM_RATE=0)
    subscribe_all(app, callback, count_per_format=1)
    before = REGISTRY.get_sample_value("gateway_push_polls_total", {"outcome": "budget"}) or 0
    upstream.error = errors.unavailable(30, kind="budget")
    get(app).tasks.tick.call_local()
    assert REGISTRY.get_sample_value("gateway_push_polls_total", {"outcome": "budget"}) == before + 2
    upstream.error = None
    upstream.page = page([2, 1])
    time.sleep(1.1)
    get(app).tasks.tick.call_local()  # the next round polls again, and nothing was lost
    assert len(callback.posts()) == 6


def test_polls_of_the_real_flickr_upstream_spend_its_budget(tmp_path, replay, callback):
    """The Flickr upstream against the replay server: a poll is one signed call, taken from
    GATEWAY_UPSTREAM_RATE like any request's."""
    group = "http://localhost/services/rest/?method=flickr.groups.pools.getPhotos&group_id=66832458%40N00" \
            "&format=feed-atom_10"

    def make(rate):
        app = create_app({"DEMO": 0, "LIBRARY_PATH": str(tmp_path / f"l{rate}.sqlite"), "UPSTREAM": "flickr",
                          "FLICKR_API_KEY": "k" * 32, "FLICKR_API_SECRET": "s" * 16, "FLICKR_REST_URL": replay.url,
                          "PUSH_PATH": str(tmp_path / f"p{rate}.sqlite"), "PUSH_IMMEDIATE": True,
                          "PUSH_ALLOW_PRIVATE": 1, "CACHE_TTL": 1, "UPSTREAM_RATE": rate})
        r = app.test_client().post("/push/hub", data={"hub.mode": "subscribe", "hub.topic": group,
                                                       "hub.callback": callback.url})
        assert r.status_code == 202
        return app

    app = make(0)
    assert len(get(app).subs.all()) == 1 and len(replay.calls) == 1  # the watch primed with one call
    assert replay.calls[0].params["per_page"] == "100"
    get(app).tasks.tick.call_local()
    assert len(replay.calls) == 2 and callback.posts() == []  # polled: nothing new in the recording
    before = REGISTRY.get_sample_value("gateway_push_polls_total", {"outcome": "budget"}) or 0
    app = make(10)  # 10 calls an hour: a burst of 1, spent by priming the watch
    time.sleep(1.1)
    get(app).tasks.tick.call_local()
    assert REGISTRY.get_sample_value("gateway_push_polls_total", {"outcome": "budget"}) == before + 1
    assert len(replay.calls) == 3  # the refused poll never reached Flickr
