"""The Flickr upstream (issue 4) end to end: /services/rest/ → flickrapi → a local
replay of recorded Flickr responses (tests/replay.py), in every format of FORMATS."""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time

import feedparser
import flickrapi
import pytest
from lxml import etree
from replay import Fault, Recording

from gateway import create_app
from gateway.formats import FORMATS
from gateway.upstreams import flickr
from gateway.upstreams.flickr import FEED_EXTRAS, Flickr

KEY, SECRET = "k" * 32, "s" * 16
TIMEOUT = 1
GROUP = {"method": "flickr.groups.pools.getPhotos", "group_id": "31849566@N00", "page": "1", "per_page": "10"}
FEED = next(name for name, fmt in FORMATS.items() if fmt.is_feed)
FLICKR_NS = "urn:flickr:"


@pytest.fixture
def make_app(make_app, replay):
    """conftest's make_app, for the flickr upstream against the replay server."""

    def make(**config):
        flickr = {"UPSTREAM": "flickr", "FLICKR_API_KEY": KEY, "FLICKR_API_SECRET": SECRET,
                  "FLICKR_REST_URL": replay.url, "UPSTREAM_TIMEOUT": TIMEOUT}
        return make_app(**{**flickr, **config})

    return make


@pytest.fixture
def client(make_app):
    return make_app(MAX_PER_PAGE=10).test_client()


def recorded(replay, call: dict[str, str]) -> Recording:
    return replay.recording(call["method"], **{k: v for k, v in call.items() if k != "method"})


def assert_no_secrets(response, caplog) -> None:
    """SPEC 6: the gateway's key and secret appear in no response and no log record."""
    texts = [response.get_data(as_text=True), *(f"{k}: {v}" for k, v in response.headers.items())]
    texts += [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    for text in texts:
        assert KEY not in text and SECRET not in text


# ---------------------------------------------------------------- reading each format


def pagination(root: etree._Element) -> dict[str, int]:
    """<flickr:pagination total page pages per_page/>, or RSS 1.0's <flickr:flickr><pagination>…."""
    el = root.find(f".//{{{FLICKR_NS}}}pagination")
    if el is not None:
        return {k: int(v) for k, v in el.attrib.items()}
    typed = root.find(f".//{{{FLICKR_NS}}}flickr/{{http://purl.org/rss/1.0/}}pagination")
    return {etree.QName(c).localname: int(c.text) for c in typed}


def read(response) -> tuple[list[str], dict[str, int], bool]:
    """(photo ids, pagination, geotagged photos only?) as a real consumer reads the response."""
    kind = response.mimetype
    body = response.get_data()
    if kind in ("application/rss+xml", "application/atom+xml", "application/rdf+xml"):
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        ids = [entry.id.rstrip("/").rsplit("/", 1)[-1] for entry in parsed.entries]
        return ids, pagination(etree.fromstring(body)), False
    if kind == "text/xml":
        wrapper = etree.fromstring(body)[0]
        paging = {"total": wrapper.get("total"), "page": wrapper.get("page"), "pages": wrapper.get("pages"),
                  "per_page": wrapper.get("perpage")}
        return [p.get("id") for p in wrapper.iter("photo")], {k: int(v) for k, v in paging.items()}, False
    if kind in ("application/json", "text/javascript"):
        data = json.loads(body)
        assert data["stat"] == "ok"
        wrapper = data.get("photos") or data["photoset"]
        paging = {"total": wrapper["total"], "page": wrapper["page"], "pages": wrapper["pages"],
                  "per_page": wrapper["perpage"]}
        return [p["id"] for p in wrapper["photo"]], {k: int(v) for k, v in paging.items()}, False
    if kind == "application/geo+json":
        data = json.loads(body)
        return [str(f["id"]) for f in data["features"]], data["pagination"], True
    if kind == "application/vnd.google-earth.kml+xml":
        root = etree.fromstring(body)
        ids = [d.findtext("{*}value") for d in root.iterfind(".//{*}Placemark//{*}Data[@name='id']")]
        return ids, pagination(root), True
    pytest.fail(f"no reader for {kind}: add one to read()")


# ---------------------------------------------------------------- served from recordings


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_serves_the_recorded_page(fmt, client, replay, caplog):
    caplog.set_level(logging.DEBUG)
    # per_page=50 is capped to 10, and the capped value is what Flickr is asked for.
    response = client.get("/services/rest/", query_string={**GROUP, "per_page": "50", "format": fmt,
                                                           "nojsoncallback": "1"})
    assert response.status_code == 200, response.get_data(as_text=True)
    recording = recorded(replay, GROUP)
    if fmt == "feed-kml_nl":  # a link to the feed-kml of the same call, not the photos themselves
        href = etree.fromstring(response.get_data()).findtext(".//{*}NetworkLink/{*}Link/{*}href")
        assert "format=feed-kml&" in href + "&" and "group_id=" in href
        assert_no_secrets(response, caplog)
        return
    ids, paging, geo_only = read(response)
    assert ids == recording.photo_ids(geotagged_only=geo_only)
    total = int(recording.wrapper()["total"])
    assert paging == {"total": total, "page": 1, "pages": math.ceil(total / 10), "per_page": 10}
    assert [c.recording for c in replay.calls] == [recording]
    assert_no_secrets(response, caplog)


@pytest.mark.parametrize("fmt", ["rest", "json"])
@pytest.mark.parametrize("call", [
    {"method": "flickr.photosets.getPhotos", "photoset_id": "72157624715342071", "user_id": "91178292@N00",
     "page": "1", "per_page": "10"},
    {"method": "flickr.galleries.getPhotos", "gallery_id": "72157722373536528", "get_gallery_info": "1",
     "page": "1", "per_page": "10"},
    {"method": "flickr.people.getPublicPhotos", "user_id": "62173425@N02", "page": "1", "per_page": "1"},
    {"method": "flickr.photos.search", "tags": "sunset", "sort": "interestingness-desc", "page": "1",
     "per_page": "10"},
    {"method": "flickr.groups.pools.getPhotos", "group_id": "31849566@N00", "page": "5", "per_page": "1"},
], ids=lambda call: call["method"].split(".", 1)[1])
def test_methods_and_flickr_json_round_trip(call, fmt, make_app, replay):
    recording = recorded(replay, call)
    client = make_app(MAX_PER_PAGE=int(call["per_page"])).test_client()
    response = client.get("/services/rest/", query_string={**call, "format": fmt, "nojsoncallback": "1",
                                                           "extras": "description"})
    assert response.status_code == 200
    ids, paging, _ = read(response)
    assert ids == recording.photo_ids()
    wrapper = recording.wrapper()
    assert (paging["total"], paging["page"]) == (int(wrapper["total"]), int(wrapper["page"]))
    # Descriptions survive XML → Flickr JSON ({"_content": …}) → model → output unchanged
    # (the renderers leave an empty description out).
    if fmt == "rest":
        got = [p.findtext("description") or "" for p in etree.fromstring(response.get_data()).iter("photo")]
    else:
        wrapped = json.loads(response.get_data())
        photos = (wrapped.get("photos") or wrapped["photoset"])["photo"]
        got = [p.get("description", {}).get("_content", "") for p in photos]
    assert got == [p.findtext("description") or "" for p in recording.root().iter("photo")]


def test_page_past_the_end_is_an_empty_feed(make_app, replay):
    client = make_app(MAX_PER_PAGE=500).test_client()
    response = client.get("/services/rest/", query_string={
        "method": "flickr.people.getPublicPhotos", "user_id": "39758725@N03", "page": "3", "per_page": "500",
        "format": FEED})
    assert response.status_code == 200
    ids, paging, _ = read(response)
    assert ids == []
    assert paging == {"total": 870, "page": 3, "pages": 2, "per_page": 500}


def test_a_recorded_flickr_failure_passes_through(make_app, replay):
    client = make_app(MAX_PER_PAGE=10).test_client()
    call = {"method": "flickr.photosets.getPhotos", "photoset_id": "12345678901234567890",
            "user_id": "197130754@N07", "per_page": "10"}
    response = client.get("/services/rest/", query_string={**call, "format": FEED})
    assert response.status_code == 400
    assert response.headers["X-FlickrErrCode"] == "1"
    assert response.headers["X-FlickrErrMessage"] == "Photoset not found"
    assert replay.calls[0].recording.file == "photosets.getPhotos-92232bdfa5.xml"


# ---------------------------------------------------------------- what Flickr is sent


def test_the_call_flickr_receives(client, replay, caplog):
    caplog.set_level(logging.DEBUG)
    caller = {"api_key": "CALLERKEY", "api_sig": "CALLERSIG", "auth_token": "CALLERTOKEN",
              "oauth_consumer_key": "CALLEROAUTH", "oauth_token": "CALLEROAUTHTOKEN", "timeout": "0.001",
              "format": "json", "jsoncallback": "cb", "extras": "count_views,views"}
    response = client.post("/services/rest/", data={**GROUP, **caller})
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("cb(")
    [call] = replay.calls
    assert call.verb == "POST" and call.recording == recorded(replay, GROUP)
    # The gateway's own signature and key; nothing of the caller's.
    assert call.oauth["oauth_consumer_key"] == KEY and call.signed_by(KEY, SECRET)
    assert "oauth_token" not in call.oauth
    sent = call.params
    assert not {"api_key", "api_sig", "auth_token", "timeout", "jsoncallback"} & sent.keys()
    assert not [k for k in sent if k.startswith("oauth_")]
    assert (sent["format"], sent["nojsoncallback"]) == ("json", "1")
    assert sent["extras"].split(",") == [*FEED_EXTRAS, "count_views"]  # views is already a feed extra
    assert (sent["group_id"], sent["page"], sent["per_page"]) == ("31849566@N00", "1", "10")
    assert "CALLER" not in json.dumps(call.headers)
    assert_no_secrets(response, caplog)


def test_request_args_drop_credentials_even_when_handed_them():
    args = {"group_id": "1@N01", "api_key": "a", "api_sig": "b", "auth_token": "c", "oauth_signature": "d",
            "format": "rest", "nojsoncallback": "0", "jsoncallback": "f", "timeout": "0.001",
            "_method_name": "flickr.photos.delete", "method": "flickr.photos.delete", "page": "2", "per_page": "7"}
    assert Flickr.request_args(args) == {"group_id": "1@N01", "page": "2", "per_page": "7",
                                         "extras": ",".join(FEED_EXTRAS)}


# ---------------------------------------------------------------- failures (SPEC 5)

UNAVAILABLE = (105, "Service currently unavailable", 503)
OPERATOR = "the operator must check"
FAULTS = {
    "http-500": (Fault.http(500), UNAVAILABLE),
    "http-503": (Fault.http(503), UNAVAILABLE),
    "timeout": (Fault.slow(TIMEOUT + 2), UNAVAILABLE),
    "reset": (Fault.connection_reset(), UNAVAILABLE),
    "html-page": (Fault.garbage(), UNAVAILABLE),
    "truncated-json": (Fault.garbage(b'{"photos":{"page":1,"pages":2,"perpage":10,"total":"17","photo":[{"id'),
                       UNAVAILABLE),
    "fail-without-message": (Fault.garbage(b'{"stat":"fail","code":1}'), UNAVAILABLE),
    "json-array": (Fault.garbage(b"[]"), UNAVAILABLE),
    "not-a-photos-response": (Fault.garbage(b'{"person":{"id":"1"},"stat":"ok"}'), UNAVAILABLE),
    "stat-fail-1": (Fault.stat_fail(1, "Group not found"), (1, "Group not found", 400)),
    "stat-fail-105": (Fault.stat_fail(105, "Service currently unavailable"), UNAVAILABLE),
    "stat-fail-100": (Fault.stat_fail(100, "Invalid API Key (Key not found)"), (100, OPERATOR, 502)),
    "stat-fail-96": (Fault.stat_fail(96, "Invalid signature"), (96, OPERATOR, 502)),
}


def assert_error(response, fmt: str, code: int, message: str, status: int, elapsed: float) -> None:
    assert elapsed < TIMEOUT + 1, f"answered after {elapsed:.2f}s"
    assert response.headers["X-FlickrErrCode"] == str(code)
    assert message in response.headers["X-FlickrErrMessage"]
    assert ("Retry-After" in response.headers) == (status == 503)
    if fmt == "json":  # Flickr's envelope, HTTP 200 (SPEC 5)
        assert response.status_code == 200
        body = json.loads(response.get_data())
        assert (body["stat"], body["code"]) == ("fail", code) and message in body["message"]
    else:
        assert response.status_code == (200 if fmt == "rest" else status)
        err = etree.fromstring(response.get_data()).find("err")
        assert err.get("code") == str(code) and message in err.get("msg")


@pytest.mark.parametrize("fmt", [FEED, "rest", "json"])
@pytest.mark.parametrize("name", list(FAULTS))
def test_upstream_failures(name, fmt, client, replay, caplog):
    caplog.set_level(logging.DEBUG)
    fault, (code, message, status) = FAULTS[name]
    replay.inject(fault)
    start = time.monotonic()
    response = client.get("/services/rest/", query_string={**GROUP, "format": fmt, "nojsoncallback": "1"})
    assert_error(response, fmt, code, message, status, time.monotonic() - start)
    assert len(replay.calls) == 1  # no retries behind the caller's back
    assert_no_secrets(response, caplog)


def test_refused_connection(make_app, caplog):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_app(FLICKR_REST_URL=f"http://127.0.0.1:{port}/services/rest/").test_client()
    start = time.monotonic()
    response = client.get("/services/rest/", query_string={**GROUP, "format": FEED})
    assert_error(response, FEED, *UNAVAILABLE, time.monotonic() - start)
    assert_no_secrets(response, caplog)


# ---------------------------------------------------------------- configuration and threads


@pytest.mark.parametrize(("config", "named"), [
    ({"FLICKR_API_SECRET": SECRET}, "GATEWAY_FLICKR_API_KEY"),
    ({"FLICKR_API_KEY": KEY}, "GATEWAY_FLICKR_API_SECRET"),
    ({"FLICKR_API_KEY": KEY, "FLICKR_API_SECRET": SECRET, "FLICKR_REST_URL": ""}, "GATEWAY_FLICKR_REST_URL"),
])
def test_configuration_is_checked_at_startup(config, named, tmp_path):
    with pytest.raises(ValueError, match=named) as err:
        create_app({"UPSTREAM": "flickr", "LIBRARY_PATH": str(tmp_path / "l"), **config})
    assert KEY not in str(err.value) and SECRET not in str(err.value)


def test_no_token_files_on_disk(make_app, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    response = make_app(MAX_PER_PAGE=10).test_client().get("/services/rest/", query_string=GROUP)
    assert response.status_code == 200
    assert list(home.iterdir()) == []  # flickrapi's default would be ~/.flickr/oauth-tokens.sqlite


def test_concurrent_calls_borrow_their_own_session_from_a_bounded_pool(make_app, replay, monkeypatch):
    """A session per concurrent call (requests' sessions are not shared between calls in flight), at most
    flickr.MAX_CALLS of them, reused afterwards: under gevent a session per greenlet would be one per client."""
    monkeypatch.setattr(flickr, "MAX_CALLS", 2)
    app = make_app(MAX_PER_PAGE=10)
    upstream = app.extensions["gateway.upstream"]
    replay.inject(Fault.slow(0.3), times=6)  # every call in flight at once
    statuses = []

    def work(extras):
        # Different calls (extras pick no other recording): identical ones would share one fetch.
        statuses.append(app.test_client().get("/services/rest/", query_string={**GROUP, "extras": extras}).status_code)

    threads = [threading.Thread(target=work, args=(extras,))
               for extras in ("tags", "geo", "views", "media", "license", "o_dims")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 6 and len(replay.calls) == 6
    assert len(upstream._sessions) == 2  # two at a time, then reused
    assert flickrapi.auth.OAuthFlickrInterface.session not in upstream._sessions
    assert app.test_client().get("/services/rest/", query_string={**GROUP, "extras": "url_o"}).status_code == 200
    assert len(upstream._sessions) == 2



def test_titles_on_flickr_keep_what_flickr_gives(client):
    """Flickr's pool answer names no group: the title keeps the id (only the library knows names)."""
    import feedparser

    response = client.get("/services/rest/", query_string={**GROUP, "format": "feed-atom_10"})
    assert feedparser.parse(response.data).feed.title == "Photos from group 31849566@N00"
    assert feedparser.parse(response.data).feed.link == "https://www.flickr.com/groups/31849566@N00/pool/"
