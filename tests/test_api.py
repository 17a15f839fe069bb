"""The endpoint's paging, HTTP behaviour and rest/json envelopes (SPEC 1, 3, 4, 7)."""

from __future__ import annotations

import json

import pytest
from lxml import etree
from support import FakeUpstream, make_app, recorded

from gateway.formats import FORMATS


@pytest.fixture
def upstream():
    return FakeUpstream(recorded("groups.pools.getPhotos-a0ebda947a.xml"))  # 100 photos


@pytest.fixture
def client(tmp_path, upstream):
    return make_app(tmp_path, upstream).test_client()


def call(client, **args):
    return client.get("/services/rest/", query_string={"method": "flickr.groups.pools.getPhotos",
                                                       "group_id": "66832458@N00", **args})


@pytest.mark.parametrize(("per_page", "page", "want"), [
    ("500", "1", ("15", "1")), ("7", "3", ("7", "3")), ("abc", "x", ("15", "1")),
    ("0", "-4", ("15", "1")), (None, None, ("15", "1")),
])
def test_per_page_cap_and_page_rules(client, upstream, per_page, page, want):
    args = {k: v for k, v in (("per_page", per_page), ("page", page)) if v is not None}
    assert call(client, format="feed-rss_200", **args).status_code == 200
    method, sent = upstream.calls[-1]
    assert (sent["per_page"], sent["page"]) == want
    assert method == "flickr.groups.pools.getPhotos" and "format" not in sent and "method" not in sent


def test_page_past_the_end_is_an_empty_feed_with_pagination(client):
    root = etree.fromstring(call(client, format="feed-atom_10", page="99").data)
    assert root.findall("{http://www.w3.org/2005/Atom}entry") == []
    pag = root.find("{urn:flickr:}pagination")
    assert dict(pag.attrib) == {"total": "100", "page": "99", "pages": "7", "per_page": "15"}


def test_cap_is_configurable(tmp_path, upstream):
    client = make_app(tmp_path, upstream, MAX_PER_PAGE=50).test_client()
    call(client, format="rest", per_page="80")
    assert upstream.calls[-1][1]["per_page"] == "50"


def test_post_form_and_head(client):
    r = client.post("/services/rest/", data={"method": "flickr.groups.pools.getPhotos", "group_id": "1",
                                             "format": "feed-atom_10"})
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    head = client.head("/services/rest/?method=flickr.groups.pools.getPhotos&group_id=1&format=feed-atom_10")
    assert head.status_code == 200 and head.data == b"" and head.headers["ETag"] == r.headers["ETag"]


def test_duplicate_arguments_first_wins(client):
    r = client.get("/services/rest/?method=flickr.groups.pools.getPhotos&group_id=1&format=feed-rss_200"
                   "&format=feed-atom_10")
    assert r.mimetype == "application/rss+xml"


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_content_types(client, fmt):
    r = call(client, format=fmt, nojsoncallback="1")
    assert r.status_code == 200
    assert r.mimetype == FORMATS[fmt].content_type
    assert r.mimetype_params.get("charset") == "utf-8"


def test_conditional_get(client):
    first = call(client, format="feed-rss_200")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.headers["Cache-Control"] == "public, max-age=300"
    assert call(client, format="feed-rss_200").headers["ETag"] == etag  # stable across identical requests
    again = client.get("/services/rest/?method=flickr.groups.pools.getPhotos&group_id=66832458%40N00"
                       "&format=feed-rss_200", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    since = client.get("/services/rest/?method=flickr.groups.pools.getPhotos&group_id=66832458%40N00"
                       "&format=feed-rss_200", headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert since.status_code == 304  # "not modified since": any later date counts
    same = client.get("/services/rest/?method=flickr.groups.pools.getPhotos&group_id=66832458%40N00"
                      "&format=feed-rss_200", headers={"If-Modified-Since": modified})
    assert same.status_code == 304
    older = client.get("/services/rest/?method=flickr.groups.pools.getPhotos&group_id=66832458%40N00"
                       "&format=feed-rss_200", headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert older.status_code == 200


def test_rest_honours_extras(client):
    root = etree.fromstring(call(client, per_page="3").data)
    assert root.get("stat") == "ok"
    photos = root.find("photos")
    assert (photos.get("page"), photos.get("perpage"), photos.get("total")) == ("1", "3", "100")
    plain = photos.find("photo")
    assert "tags" not in plain.attrib and "latitude" not in plain.attrib and plain.find("description") is None
    assert plain.get("dateadded")  # a pool always says when a photo was added
    rich = etree.fromstring(call(client, per_page="3", extras="tags,geo,description,url_sq,bogus").data)
    photo = rich.find("photos/photo")
    assert {"tags", "latitude", "longitude", "accuracy", "url_sq", "width_sq"} <= set(photo.attrib)
    assert photo.find("description") is not None


def test_json_envelope_and_callbacks(client):
    bare = json.loads(call(client, format="json", nojsoncallback="1", per_page="2", extras="description").data)
    assert bare["stat"] == "ok"
    assert {k: bare["photos"][k] for k in ("page", "pages", "perpage", "total")} == \
        {"page": 1, "pages": 50, "perpage": 2, "total": 100}
    photo = bare["photos"]["photo"][0]
    assert photo["farm"] == 66 and isinstance(photo["description"], dict)
    named = call(client, format="json", jsoncallback="my.cb_1", per_page="2")
    assert named.mimetype == "text/javascript" and named.data.startswith(b"my.cb_1({")
    default = call(client, format="json", per_page="2")
    assert default.data.startswith(b"jsonFlickrApi({") and default.data.endswith(b"})")


def test_photoset_wrapper_in_rest(tmp_path):
    page = recorded("photosets.getPhotos-8e8f0147b5.xml")
    client = make_app(tmp_path, FakeUpstream(page)).test_client()
    r = client.get("/services/rest/", query_string={"method": "flickr.photosets.getPhotos",
                                                    "photoset_id": "72157624715342071", "per_page": "5"})
    photoset = etree.fromstring(r.data).find("photoset")
    # the album title as anonymised in tests/fixtures/flickr
    assert photoset.get("title") == "Ogrxb Oeym" and photoset.get("owner") == "91178292@N00"
    assert all("owner" not in p.attrib and p.get("isprimary") in ("0", "1") for p in photoset)
