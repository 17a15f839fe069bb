"""Issue 17 item 2: only the arguments a method takes on Flickr reach the cache key and the upstream.

Checked against the Flickr upstream (flickrapi → the local replay server), where
every upstream call is visible, and against the library: junk arguments are
one cache entry and no upstream call; argument names that are keywords of
flickrapi are plain data (never a 503); each method keeps its documented arguments.
"""

from __future__ import annotations

import json
import re

import feedparser
import pytest
from test_flickr_upstream import GROUP

from gateway.errors import FlickrError
from gateway.methods import ARGS, METHODS, PAGING
from gateway.upstreams.flickr import NOT_FORWARDED

# flickrapi's own keyword parameters (do_flickr_call, _wrap_in_parser, _flickr_call) and
# the envelope the upstream module sets itself.
CLIENT_KEYWORDS = ("self", "_method_name", "timeout", "parse_format", "wrapped_method", "kwargs", "args")


@pytest.fixture
def flickr_client(make_app, replay):
    from test_flickr_upstream import KEY, SECRET

    app = make_app(UPSTREAM="flickr", FLICKR_API_KEY=KEY, FLICKR_API_SECRET=SECRET, FLICKR_REST_URL=replay.url,
                   UPSTREAM_TIMEOUT=2, MAX_PER_PAGE=10)
    return app.test_client()


def entries(response) -> list[str]:
    parsed = feedparser.parse(response.get_data())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return [e.id for e in parsed.entries]


def test_junk_arguments_cost_no_upstream_call_and_no_cache_entry(flickr_client, replay):
    first = flickr_client.get("/services/rest/", query_string={**GROUP, "format": "feed-atom_10"})
    assert first.status_code == 200 and len(replay.calls) == 1
    store = flickr_client.application.extensions["gateway.cache"].backend
    size = len(store)
    for n in range(50):
        junk = flickr_client.get("/services/rest/", query_string={**GROUP, "format": "feed-atom_10",
                                                                  f"junk{n}": "1", "lolcat": str(n)})
        assert junk.status_code == 200
        assert entries(junk) == entries(first)
        assert junk.headers["ETag"] == first.headers["ETag"]
    assert len(replay.calls) == 1, "a junk argument reached Flickr"
    assert len(store) == size, "a junk argument made a cache entry"


def test_spellings_of_the_same_value_are_one_upstream_call(flickr_client, replay):
    """Blanks around a value, and around or between a list's commas, change no call: each spelling
    was a cache entry and a Flickr call of its own (`group_id=+X`, `tags=a,+b`, `tags=a,b,`)."""
    first = flickr_client.get("/services/rest/", query_string={**GROUP, "format": "feed-atom_10"})
    assert first.status_code == 200 and len(replay.calls) == 1
    for group in (" " + GROUP["group_id"], GROUP["group_id"] + "\t"):
        args = {**GROUP, "group_id": group, "format": "feed-atom_10"}
        again = flickr_client.get("/services/rest/", query_string=args)
        assert again.status_code == 200 and entries(again) == entries(first)
    assert len(replay.calls) == 1
    tagged = [flickr_client.get("/services/rest/", query_string={**GROUP, "tags": tags, "format": "feed-atom_10"})
              for tags in ("a,b", "a, b", " a ,b,", ",a,,b , ")]
    assert len({(r.status_code, r.headers.get("ETag")) for r in tagged}) == 1
    assert len(replay.calls) == 2 and replay.calls[1].params["tags"] == "a,b"


@pytest.mark.parametrize("name", CLIENT_KEYWORDS)
def test_client_library_keywords_are_plain_data(flickr_client, replay, name):
    """`&parse_format=…` once made flickrapi fail (a 503); now it is dropped like any other junk."""
    response = flickr_client.get("/services/rest/", query_string={**GROUP, "format": "json", "nojsoncallback": "1",
                                                                  name: "x"})
    assert response.status_code == 200
    body = json.loads(response.get_data())
    assert body["stat"] == "ok", body
    assert all(name not in call.params for call in replay.calls)


def test_documented_arguments_reach_flickr(flickr_client, replay):
    flickr_client.get("/services/rest/", query_string={**GROUP, "format": "rest", "tags": "sunset", "junk": "1"})
    sent = replay.calls[-1].params
    assert sent["tags"] == "sunset" and sent["group_id"] == GROUP["group_id"] and "junk" not in sent
    # The gateway's own arguments are never forwarded.
    for own in ("format", "size", "api_key"):
        assert own not in sent or own == "format" and sent["format"] == "json"


def test_library_drops_junk_too(make_app):
    client = make_app().test_client()
    base = {"method": "flickr.photos.getRecent", "format": "feed-rss_200"}
    first = client.get("/services/rest/", query_string=base)
    store = client.application.extensions["gateway.cache"].backend
    size = len(store)
    for n in range(20):
        again = client.get("/services/rest/", query_string={**base, f"x{n}": "1", "tags": "ignored-by-getRecent"})
        assert again.headers["ETag"] == first.headers["ETag"]
    assert len(store) == size


def test_every_method_has_its_documented_list():
    assert set(ARGS) == set(METHODS)
    for name, method in METHODS.items():
        assert set(method.required) <= method.takes, name
        assert set(PAGING) <= method.takes
        assert not method.takes & set(CLIENT_KEYWORDS), name
        # The gateway's own and the caller's credentials are never a method's argument.
        assert not method.takes & {"method", "format", "size", "api_key", "api_sig", "auth_token",
                                   "nojsoncallback", "jsoncallback"}
        assert all(re.fullmatch(r"[a-z_]+", arg) for arg in method.takes)


def test_the_flickr_upstream_sends_any_argument_name_as_data(make_app, replay):
    """Below the API layer too: flickrapi gets one dict, so no name can clash with its parameters."""
    from test_flickr_upstream import KEY, SECRET

    app = make_app(UPSTREAM="flickr", FLICKR_API_KEY=KEY, FLICKR_API_SECRET=SECRET, FLICKR_REST_URL=replay.url,
                   UPSTREAM_TIMEOUT=2)
    upstream = app.extensions["gateway.upstream"]
    args = {k: v for k, v in GROUP.items() if k != "method"}
    names = [name for name in CLIENT_KEYWORDS if name not in NOT_FORWARDED]
    with pytest.raises(FlickrError) as failure:
        upstream.photos(GROUP["method"], {**args, **{name: "x" for name in names}})
    # The replay server has no recording with these arguments: its code 1, not a 503 of ours.
    assert (failure.value.code, failure.value.status) == (1, 400)
    sent = replay.calls[-1]
    assert sent.signed_by(KEY, SECRET)
    assert all(sent.params[name] == "x" for name in names) and sent.params["method"] == GROUP["method"]
