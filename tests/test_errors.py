"""Every error path of SPEC 5, with its status, headers and body."""

from __future__ import annotations

import json

import pytest
from lxml import etree
from support import FakeUpstream, make_app, recorded

from gateway.errors import FlickrError, unavailable


def rest(client, **args):
    return client.get("/services/rest/", query_string=args)


def assert_feed_error(r, status, code, message=None):
    assert r.status_code == status
    assert r.headers["X-FlickrErrCode"] == str(code)
    if message is not None:
        assert r.headers["X-FlickrErrMessage"] == message
    assert r.mimetype == "text/xml"
    err = etree.fromstring(r.data).find("err")
    assert etree.fromstring(r.data).get("stat") == "fail"
    assert err.get("code") == str(code)
    assert b"Traceback" not in r.data


@pytest.fixture
def client(tmp_path):
    return make_app(tmp_path, FakeUpstream(recorded("photos.search-19a6cc8272.xml"))).test_client()


def test_unknown_format(client):
    r = rest(client, method="flickr.photos.search", format="feed-lolcat")
    assert_feed_error(r, 400, 111, 'Format "feed-lolcat" not found')


def test_unknown_method(client):
    r = rest(client, method="flickr.foo", format="feed-atom_10")
    assert_feed_error(r, 400, 112, 'Method "flickr.foo" not found')


def test_real_method_without_photo_list(client):
    r = rest(client, method="flickr.photos.getInfo", format="feed-rss_200", photo_id="1")
    assert_feed_error(r, 400, 112, 'Method "flickr.photos.getInfo" is not available in feed formats')


@pytest.mark.parametrize("fmt", ["rest", "json", None])
def test_real_method_without_photo_list_in_rest_and_json(client, fmt):
    """No feed format was asked for, so the message does not speak of one; Flickr's envelope, HTTP 200."""
    r = rest(client, method="flickr.photos.delete", photo_id="1", **({"format": fmt} if fmt else {}),
             **({"nojsoncallback": "1"} if fmt == "json" else {}))
    message = 'Method "flickr.photos.delete" is not available through this gateway'
    assert r.status_code == 200 and r.headers["X-FlickrErrMessage"] == message
    if fmt == "json":
        assert json.loads(r.data) == {"stat": "fail", "code": 112, "message": message}
    else:
        err = etree.fromstring(r.data).find("err")
        assert (err.get("code"), err.get("msg")) == ("112", message)


def test_missing_required_argument(client):
    r = rest(client, method="flickr.groups.pools.getPhotos", format="feed-rss_200")
    assert_feed_error(r, 400, 1, "Group not found")


def test_header_injection_is_neutralised(client):
    r = rest(client, method="flickr.photos.search", format="feed-rss_200\r\nX-Evil: 1")
    assert_feed_error(r, 400, 111)
    assert "X-Evil" not in r.headers
    for value in r.headers.values():
        assert "\r" not in value and "\n" not in value


def test_header_message_is_printable_ascii_and_short(client):
    r = rest(client, method="flickr.ph\u00f6tos." + "x" * 500, format="feed-rss_200")
    message = r.headers["X-FlickrErrMessage"]
    assert len(message) <= 200 and message.isascii() and message.isprintable()
    assert message.startswith('Method "flickr.ph\\xf6tos.')


def test_api_keys(tmp_path):
    app = make_app(tmp_path, FakeUpstream(), API_KEYS="good1, good2")
    client = app.test_client()
    r = rest(client, method="flickr.photos.getRecent", format="feed-rss_200")
    assert_feed_error(r, 400, 100, "Invalid API Key")
    assert_feed_error(rest(client, method="flickr.photos.getRecent", format="feed-rss_200", api_key="bad"), 400, 100)
    assert rest(client, method="flickr.photos.getRecent", format="feed-rss_200", api_key="good2").status_code == 200
    # flickrapi sends the key only in its OAuth header
    header = {"Authorization": 'OAuth oauth_consumer_key="good1", oauth_signature="x"'}
    r = client.post("/services/rest/", data={"method": "flickr.photos.getRecent", "format": "feed-rss_200"},
                    headers=header)
    assert r.status_code == 200


def test_rest_and_json_errors_use_flickrs_envelope_with_200(client):
    r = rest(client, method="flickr.foo")
    assert r.status_code == 200 and r.mimetype == "text/xml"
    err = etree.fromstring(r.data).find("err")
    assert (err.get("code"), err.get("msg")) == ("112", 'Method "flickr.foo" not found')
    r = rest(client, method="flickr.foo", format="json", nojsoncallback="1")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert json.loads(r.data) == {"stat": "fail", "code": 112, "message": 'Method "flickr.foo" not found'}
    r = rest(client, method="flickr.foo", format="json")
    assert r.data.startswith(b"jsonFlickrApi({") and r.mimetype == "text/javascript"


@pytest.mark.parametrize("callback", ["alert(1);x", "a b", "1abc", "x" * 65, ""])
def test_bad_jsoncallback(client, callback):
    r = rest(client, method="flickr.photos.search", format="json", jsoncallback=callback)
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = json.loads(r.data)
    assert body["stat"] == "fail" and body["code"] == 3


def test_bad_size(client):
    assert_feed_error(rest(client, method="flickr.photos.search", format="feed-rss_200", size="x"), 400, 3)


def test_long_query_string(client):
    r = rest(client, method="flickr.photos.search", format="json", text="x" * 9000)
    assert_feed_error(r, 414, 116, "Bad URL found")


def test_upstream_failure_code_passes_through(tmp_path):
    upstream = FakeUpstream(error=FlickrError(1, "Group not found"))
    client = make_app(tmp_path, upstream).test_client()
    r = rest(client, method="flickr.groups.pools.getPhotos", group_id="x", format="feed-atom_10")
    assert_feed_error(r, 400, 1, "Group not found")
    r = rest(client, method="flickr.groups.pools.getPhotos", group_id="x", format="rest")
    assert r.status_code == 200 and etree.fromstring(r.data).find("err").get("code") == "1"


def test_upstream_unavailable_is_503_with_retry_after(tmp_path):
    client = make_app(tmp_path, FakeUpstream(error=unavailable(30))).test_client()
    r = rest(client, method="flickr.photos.search", format="feed-rss_200")
    assert_feed_error(r, 503, 105, "Service currently unavailable")
    assert r.headers["Retry-After"] == "30"
    r = rest(client, method="flickr.photos.search", format="json", nojsoncallback="1")
    assert r.status_code == 200 and json.loads(r.data)["code"] == 105


def test_a_bug_never_shows_a_traceback(tmp_path):
    client = make_app(tmp_path, FakeUpstream(error=RuntimeError("secret internals"))).test_client()
    r = rest(client, method="flickr.photos.search", format="feed-atom_10")
    assert_feed_error(r, 503, 105)
    assert b"secret internals" not in r.data
