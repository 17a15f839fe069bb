"""The hub with Huey in immediate mode (each job runs inside the request or command that queues it),
against a real callback server on loopback: requests, verification, deliveries, retries, leases."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import feedparser
import pytest
from pushsupport import Callback, photo_file
from werkzeug.wrappers import Response

from gateway import create_app
from gateway.push import get, jobs, work

TOPIC = "http://localhost/services/rest/?method=flickr.photos.search&tags=sunset&format=feed-atom_10"


@pytest.fixture
def callback():
    made = Callback()
    yield made
    made.close()


@pytest.fixture
def app(tmp_path):
    made = create_app({"DEMO": 0, "LIBRARY_PATH": str(tmp_path / "lib.sqlite"), "PUSH_PATH": str(tmp_path / "p.sqlite"),
                       "PUSH_IMMEDIATE": True, "PUSH_ALLOW_PRIVATE": 1})
    yield made
    made.extensions["gateway.upstream"].close()
    get(made).close()


def subscribe(app, callback, topic=TOPIC, **extra):
    form = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback.url, **extra}
    return app.test_client().post("/push/hub", data=form)


def library_import(app, tmp_path, name, ids, tags="sunset"):
    call = f"method=flickr.photos.search&tags={tags}"
    result = app.test_cli_runner().invoke(args=["library", "import", "--call", call,
                                                str(photo_file(tmp_path, name, ids, tags))])
    assert result.exit_code == 0, result.output


def entry_ids(body: bytes) -> list[str]:
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    return [e.id.rsplit("/", 1)[1] for e in feed.entries]


def test_bad_requests_get_a_plain_text_reason(app, callback):
    client = app.test_client()
    cases = [
        ({"hub.mode": "follow"}, "hub.mode"),
        ({"hub.topic": "http://localhost/elsewhere"}, "not a feed of this gateway"),
        ({"hub.topic": TOPIC.replace("feed-atom_10", "json")}, "not a feed"),
        ({"hub.topic": TOPIC.replace("sunset", "sunset&format=x").replace("&format=feed-atom_10", "")}, "not found"),
        ({"hub.topic": "http://elsewhere.example/services/rest/?method=flickr.photos.getRecent&format=feed-kml"},
         "host"),
        ({"hub.callback": "ftp://example.com/cb"}, "hub.callback"),
        ({"hub.callback": "not a url"}, "hub.callback"),
        ({"hub.callback": "http://example.com/cb#x"}, "fragment"),
        ({"hub.secret": "s" * 200}, "hub.secret"),
        ({"hub.lease_seconds": "-5"}, "hub.lease_seconds"),
        ({"hub.lease_seconds": "soon"}, "hub.lease_seconds"),
    ]
    for change, reason in cases:
        form = {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.callback": callback.url, **change}
        r = client.post("/push/hub", data=form)
        assert r.status_code == 400, (change, r.data)
        assert r.mimetype == "text/plain" and reason in r.get_data(as_text=True), (change, r.data)
    assert client.get("/push/hub").status_code == 200 and b"WebSub hub" in client.get("/push/hub").data
    assert callback.received == []  # nothing was verified for any of them


def test_private_callbacks_are_refused_unless_allowed(tmp_path, callback, monkeypatch):
    app = create_app({"DEMO": 0, "LIBRARY_PATH": str(tmp_path / "l.sqlite"), "PUSH_PATH": str(tmp_path / "p.sqlite"),
                      "PUSH_IMMEDIATE": True})
    r = subscribe(app, callback)
    assert r.status_code == 400 and b"private" in r.data
    for url in ("http://10.1.2.3/cb", "http://[::1]/cb", "http://169.254.169.254/latest", "http://localhost:9/cb"):
        r = app.test_client().post("/push/hub", data={"hub.mode": "subscribe", "hub.topic": TOPIC,
                                                         "hub.callback": url})
        assert r.status_code == 400, url
    # A public name that resolves to loopback when the hub connects (DNS rebinding) passes the
    # request check, and is refused at connect time: the address connected to is the one checked.
    import socket

    from gateway.push import outbound

    real = socket.getaddrinfo
    monkeypatch.setattr(outbound.socket, "getaddrinfo",
                        lambda host, *a, **k: real("127.0.0.1", *a, **k) if host == "rebind.example" else
                        real(host, *a, **k))
    url = callback.url.replace("127.0.0.1", "rebind.example")
    assert subscribe(app, callback, **{"hub.callback": url}).status_code == 202
    with pytest.raises(outbound.Refused, match="private"):
        outbound.request("GET", url)
    assert callback.received == [] and get(app).subs.all() == []
    assert outbound.request("GET", url + "?hub.challenge=x", allow_private=True).body == b"x"


def test_subscribe_verify_deliver_signed_fat_ping(app, callback, tmp_path, caplog):
    caplog.set_level("INFO", logger="gateway.push")
    library_import(app, tmp_path, "old.xml", [1, 2])
    r = subscribe(app, callback, **{"hub.secret": "s3cret", "hub.lease_seconds": "7200"})
    assert r.status_code == 202
    (check,) = callback.gets("subscribe")
    assert check.args["hub.topic"] == TOPIC and check.args["hub.lease_seconds"] == "7200"
    assert len(check.args["hub.challenge"]) >= 32
    assert callback.posts() == []  # the photos already there are not new
    library_import(app, tmp_path, "new.xml", [3, 4])
    (post,) = callback.posts()
    assert entry_ids(post.body) == ["4", "3"]
    assert post.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert '<http://localhost/push/hub>; rel="hub"' in post.headers["Link"]
    assert f'<{TOPIC}>; rel="self"' in post.headers["Link"]
    expected = hmac.new(b"s3cret", post.body, hashlib.sha256).hexdigest()
    assert post.headers["X-Hub-Signature"] == f"sha256={expected}"
    library_import(app, tmp_path, "again.xml", [3, 4, 1])  # nothing new: nothing sent
    assert len(callback.posts()) == 1
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.push"]
    (delivery,) = [line for line in lines if line["event"] == "delivery"]
    assert delivery["callback_host"] == "127.0.0.1" and delivery["outcome"] == "ok" and delivery["photos"] == 2
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("gateway")]
    assert ours and not any("s3cret" in m or "/cb" in m for m in ours)


def test_an_answer_that_does_not_echo_leaves_nothing_subscribed(app, callback, tmp_path):
    for answer in (Response("wrong"), Response("", 204), Response("nope", 404), Response("", 302,
                                                                                       {"Location": "/cb"})):
        callback.answer = lambda request, a=answer: a if request.method == "GET" else None
        assert subscribe(app, callback).status_code == 202
    assert get(app).subs.all() == []
    library_import(app, tmp_path, "new.xml", [3])
    assert callback.posts() == []


def test_each_verification_has_a_fresh_challenge_and_renewal_replaces_the_secret(app, callback, tmp_path):
    subscribe(app, callback, **{"hub.secret": "first"})
    subscribe(app, callback, **{"hub.secret": "second", "hub.lease_seconds": "999999999"})
    first, second = callback.gets("subscribe")
    assert first.args["hub.challenge"] != second.args["hub.challenge"]
    assert second.args["hub.lease_seconds"] == str(app.config["PUSH_LEASE_MAX"])
    (sub,) = get(app).subs.all()
    assert sub["secret"] == "second"
    library_import(app, tmp_path, "new.xml", [5])
    (post,) = callback.posts()
    assert post.headers["X-Hub-Signature"] == "sha256=" + hmac.new(b"second", post.body, hashlib.sha256).hexdigest()


def test_unsubscribe_is_verified(app, callback, tmp_path):
    subscribe(app, callback)
    callback.answer = lambda request: Response("no", 404) if request.args.get("hub.mode") == "unsubscribe" else None
    app.test_client().post("/push/hub", data={"hub.mode": "unsubscribe", "hub.topic": TOPIC,
                                               "hub.callback": callback.url})
    assert len(get(app).subs.all()) == 1  # refused by the subscriber: still subscribed
    callback.answer = None
    app.test_client().post("/push/hub", data={"hub.mode": "unsubscribe", "hub.topic": TOPIC,
                                               "hub.callback": callback.url})
    assert get(app).subs.all() == []
    library_import(app, tmp_path, "new.xml", [6])
    assert callback.posts() == []


def test_equivalent_topics_are_one_subscription(app, callback):
    subscribe(app, callback)
    same = "http://localhost/services/rest?format=feed-atom_10&page=1&tags=sunset&api_key=x&method=flickr.photos.search"
    subscribe(app, callback, **{"hub.topic": same})
    (sub,) = get(app).subs.all()
    assert sub["canonical"] == TOPIC and sub["topic"] == same
    assert callback.gets("subscribe")[1].args["hub.topic"] == same  # echoed as the subscriber sent it


def test_denied_when_the_call_fails(app, callback, tmp_path):
    library_import(app, tmp_path, "a.xml", [1])  # (an empty library answers every call with no photos)
    topic = "http://localhost/services/rest/?method=flickr.groups.pools.getPhotos&group_id=1%40N00&format=feed-rss_200"
    assert subscribe(app, callback, **{"hub.topic": topic}).status_code == 202
    (denial,) = callback.gets("denied")
    assert denial.args["hub.topic"] == topic and denial.args["hub.reason"]
    assert get(app).subs.all() == []


def test_failures_are_retried_with_the_backlog_and_410_ends(app, callback, tmp_path, monkeypatch):
    subscribe(app, callback)
    scheduled = []
    push = get(app)
    monkeypatch.setattr(push.tasks.deliver, "schedule", lambda args, delay: scheduled.append((args, delay)))
    callback.answer = lambda request: Response("down", 503) if request.method == "POST" else None
    library_import(app, tmp_path, "a.xml", [7])
    library_import(app, tmp_path, "b.xml", [8])  # in backoff: not tried again before the retry is due
    assert len(callback.posts()) == 1 and scheduled == [((push.subs.all()[0]["id"], True), 60)]
    for attempt in range(2, 6):  # the scheduled retries, run by hand
        args, delay = scheduled[-1]
        push.tasks.deliver(*args)
        assert scheduled[-1][1] == 60 * 2 ** (attempt - 1)
    assert len(callback.posts()) == 5
    # The whole schedule before a subscription is given up: at least 6 attempts over at least an hour.
    assert work.ATTEMPTS >= 6 and sum(60 * 2 ** i for i in range(work.ATTEMPTS - 1)) >= 3600
    callback.answer = None
    push.tasks.deliver(*scheduled[-1][0])
    assert entry_ids(callback.posts()[-1].body) == ["8", "7"]  # the backlog, once
    assert push.subs.all()[0]["failures"] == 0
    library_import(app, tmp_path, "c.xml", [9])
    assert entry_ids(callback.posts()[-1].body) == ["9"]
    callback.answer = lambda request: Response("", 410) if request.method == "POST" else None
    library_import(app, tmp_path, "d.xml", [10])
    assert push.subs.all() == [] and callback.gets("denied") == []


def test_a_callback_that_never_recovers_is_ended_with_a_denial(app, callback, tmp_path, monkeypatch):
    subscribe(app, callback)
    push = get(app)
    scheduled = []
    monkeypatch.setattr(push.tasks.deliver, "schedule", lambda args, delay: scheduled.append(args))
    callback.answer = lambda request: Response("down", 500) if request.method == "POST" else None
    library_import(app, tmp_path, "a.xml", [7])
    while push.subs.all():
        push.tasks.deliver(*scheduled[-1])
    assert len(callback.posts()) == work.ATTEMPTS
    (denial,) = callback.gets("denied")
    assert "failed" in denial.args["hub.reason"]


def test_full_documents_for_kml_and_geojson(app, callback, tmp_path):
    topic = TOPIC.replace("feed-atom_10", "feed-geojson")
    library_import(app, tmp_path, "a.xml", [1])
    subscribe(app, callback, **{"hub.topic": topic})
    library_import(app, tmp_path, "b.xml", [2])
    (post,) = callback.posts()
    data = json.loads(post.body)
    assert post.headers["Content-Type"].startswith("application/geo+json")
    assert sorted(f["id"] for f in data["features"]) == ["1", "2"]  # the whole current document
    library_import(app, tmp_path, "c.xml", [2, 1])  # nothing changed: nothing sent
    assert len(callback.posts()) == 1
    removed = app.test_cli_runner().invoke(args=["library", "remove", "--photo", "2"])
    assert removed.exit_code == 0, removed.output
    assert [f["id"] for f in json.loads(callback.posts()[-1].body)["features"]] == ["1"]


def test_leases_expire(app, callback, tmp_path):
    subscribe(app, callback, **{"hub.lease_seconds": "1"})
    (sub,) = get(app).subs.all()
    assert sub["lease_seconds"] == app.config["PUSH_LEASE_MIN"]
    get(app).subs.update(sub["id"], expires=time.time() - 1)
    jobs.sweep_now(get(app))
    assert get(app).subs.all() == []


def test_discovery_links_on_every_feed(app):
    client = app.test_client()
    for fmt in ("feed-rss_200", "feed-atom_10", "feed-georss", "feed-geoatom", "feed-rss_100", "feed-kml",
                "feed-geojson", "feed-kml_nl"):
        r = client.get(f"/services/rest/?format={fmt}&tags=sunset&page=1&method=flickr.photos.search")
        self_url = f"http://localhost/services/rest/?method=flickr.photos.search&tags=sunset&format={fmt}"
        assert r.headers["Link"].startswith(f'<http://localhost/push/hub>; rel="hub", <{self_url}>; rel="self", '), fmt
        if fmt in ("feed-rss_200", "feed-atom_10", "feed-georss", "feed-geoatom"):
            links = feedparser.parse(r.data).feed.links
            assert {"rel": "hub", "href": "http://localhost/push/hub"}.items() <= \
                next(link for link in links if link["rel"] == "hub").items(), fmt
        again = client.get(f"/services/rest/?format={fmt}&tags=sunset&page=1&method=flickr.photos.search")
        assert again.headers["Link"] == r.headers["Link"]  # a cached answer carries it too
    # rest and json are not feeds: no hub (their Link names only the call's live stream, gateway/live)
    rest = client.get("/services/rest/?format=rest&tags=sunset&method=flickr.photos.search")
    assert 'rel="hub"' not in rest.headers["Link"] and 'type="text/event-stream"' in rest.headers["Link"]


def test_the_builder_page_says_how_to_subscribe_by_push(app):
    page = app.test_client().get("/").get_data(as_text=True)
    assert "WebSub" in page and "http://localhost/push/hub" in page and "hub.callback" in page


def test_metrics_count_verifications_and_deliveries(app, callback, tmp_path):
    from prometheus_client import REGISTRY

    def value(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0

    verified, ok = value("gateway_push_verifications_total", mode="subscribe", outcome="verified"), \
        value("gateway_push_deliveries_total", outcome="ok")
    subscribe(app, callback)
    library_import(app, tmp_path, "a.xml", [1])
    assert value("gateway_push_verifications_total", mode="subscribe", outcome="verified") == verified + 1
    assert value("gateway_push_deliveries_total", outcome="ok") == ok + 1
    jobs.sweep_now(get(app))
    assert value("gateway_push_subscriptions") == 1
    metrics_text = app.test_client().get("/metrics").get_data(as_text=True)
    assert "gateway_push_delivery_delay_seconds_bucket" in metrics_text


def test_the_operator_commands(app, callback, tmp_path):
    subscribe(app, callback, **{"hub.secret": "hush"})
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["push", "list"])
    assert listed.exit_code == 0 and "127.0.0.1" in listed.output and TOPIC in listed.output
    assert "1 subscription on 1 watch" in listed.output and "hush" not in listed.output
    sub_id = get(app).subs.all()[0]["id"]
    shown = runner.invoke(args=["push", "show", sub_id[:8]])
    data = json.loads(shown.output)
    assert data["signed"] is True and "secret" not in data and data["behind"] == 0
    # The library changes behind the hub's back (no hook): `push poll` finds the new photo now.
    from gateway.upstreams.library import Library

    library = Library(app.config["LIBRARY_PATH"])
    library.import_file(photo_file(tmp_path, "quiet.xml", [42]), {"method": "flickr.photos.search"})
    library.close()
    polled = runner.invoke(args=["push", "poll", TOPIC])
    assert polled.exit_code == 0 and "1 new photo for" in polled.output
    assert entry_ids(callback.posts()[-1].body) == ["42"]
    assert runner.invoke(args=["push", "poll", "http://localhost/nope"]).exit_code != 0
    removed = runner.invoke(args=["push", "remove", sub_id[:8]])
    assert removed.exit_code == 0 and get(app).subs.all() == []
    assert runner.invoke(args=["push", "show", sub_id[:8]]).exit_code != 0


def test_with_api_keys_the_hub_link_carries_the_callers_key_and_deliveries_none(tmp_path, callback):
    app = create_app({"DEMO": 0, "LIBRARY_PATH": str(tmp_path / "l.sqlite"), "PUSH_PATH": str(tmp_path / "p.sqlite"),
                      "PUSH_IMMEDIATE": True, "PUSH_ALLOW_PRIVATE": 1, "API_KEYS": "alicekey,bobkey"})
    client = app.test_client()
    r = client.get(TOPIC.replace("http://localhost", "") + "&api_key=bobkey")
    # (then the call's live stream, gateway/live: tests/test_live.py)
    hub_and_self = f'<http://localhost/push/hub?api_key=bobkey>; rel="hub", <{TOPIC}>; rel="self", '
    assert r.headers["Link"].startswith(hub_and_self)
    form = {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.callback": callback.url}
    refused = client.post("/push/hub", data=form)
    assert refused.status_code == 403 and refused.mimetype == "text/plain"
    assert client.post("/push/hub?api_key=bobkey", data=form).status_code == 202
    library_import(app, tmp_path, "a.xml", [1])
    (post,) = callback.posts()
    assert b"alicekey" not in post.body and b"bobkey" not in post.body and "key" not in post.headers["Link"]
    assert entry_ids(post.body) == ["1"]
    app.extensions["gateway.upstream"].close()


def test_a_flickr_feed_url_shares_the_topic_of_its_call(app, callback, tmp_path):
    library_import(app, tmp_path, "a.xml", [1])
    r = app.test_client().get("/services/feeds/photos_public.gne?tags=sunset&format=atom")
    assert r.status_code == 200, r.data
    hub, self_link, _stream = r.headers["Link"].split(", ")  # (the third: the live stream, gateway/live)
    assert hub == '<http://localhost/push/hub>; rel="hub"'
    topic = self_link.removeprefix("<").removesuffix('>; rel="self"')
    assert topic.startswith("http://localhost/services/rest/?method=flickr.photos.search&")
    assert subscribe(app, callback, **{"hub.topic": topic}).status_code == 202
    library_import(app, tmp_path, "b.xml", [2])
    (post,) = callback.posts()
    assert entry_ids(post.body) == ["2"]
