"""Arguments checked by the API layer for every upstream (issue 7, gateway/validation.py):
Flickr's codes and messages, and no upstream call (no budget) spent on garbage."""

from __future__ import annotations

import pytest
from support import FakeUpstream, make_app, recorded

from gateway import create_app

KEY, SECRET = "k" * 32, "s" * 16


def flickr_client(replay, tmp_path):
    return create_app({"UPSTREAM": "flickr", "FLICKR_API_KEY": KEY, "FLICKR_API_SECRET": SECRET,
                       "FLICKR_REST_URL": replay.url, "UPSTREAM_TIMEOUT": 1,
                       "LIBRARY_PATH": str(tmp_path / "l")}).test_client()


MALFORMED = [
    ({"method": "flickr.photos.search", "bbox": "1,2,3"}, 3, "Invalid bbox"),
    ({"method": "flickr.photos.search", "bbox": "nan,0,1,1"}, 3, "Invalid bbox"),
    ({"method": "flickr.photos.search", "bbox": "0,50,10,40"}, 3, "Invalid bbox"),  # south > north
    ({"method": "flickr.photos.search", "lat": "91", "lon": "0"}, 3, "Invalid latitude"),
    ({"method": "flickr.photos.search", "lat": "1", "lon": "1e999"}, 3, "Invalid longitude"),
    ({"method": "flickr.photos.search", "tags": "a", "radius": "-1"}, 3, "Invalid radius"),
    ({"method": "flickr.photos.search", "min_upload_date": "yesterday"}, 3, "Invalid date"),
    ({"method": "flickr.photos.search", "sort": "random"}, 3, "Invalid sort"),
    ({"method": "flickr.photos.search", "user_id": "<script>"}, 2, "Unknown user"),
    ({"method": "flickr.photos.search", "group_id": "1 OR 1=1"}, 4, "You don't have permission to view this pool"),
    ({"method": "flickr.photos.geo.photosForLocation", "lat": "x", "lon": "1"}, 2, "Not a valid latitude"),
    ({"method": "flickr.interestingness.getList", "date": "2024-13-45"}, 1, "Not a valid date string."),
    ({"method": "flickr.groups.pools.getPhotos", "group_id": "../../etc/passwd"}, 1, "Group not found"),
    ({"method": "flickr.photosets.getPhotos", "photoset_id": "7215\u20ac"}, 1, "Photoset not found"),
    ({"method": "flickr.people.getPublicPhotos", "user_id": "x" * 101}, 1, "User not found"),
    ({"method": "flickr.galleries.getPhotos", "gallery_id": "1\r\n2"}, 1, "Invalid gallery ID"),
    ({"method": "flickr.photos.getWithGeoData"}, 99,
     "Insufficient permissions. Method requires read privileges; none granted."),
]


@pytest.mark.parametrize(("args", "code", "message"), MALFORMED, ids=lambda v: str(v)[:40])
def test_malformed_arguments_never_reach_flickr(args, code, message, replay, tmp_path):
    response = flickr_client(replay, tmp_path).get("/services/rest/", query_string={**args, "format": "feed-rss_200"})
    assert response.status_code == 400
    assert (response.headers["X-FlickrErrCode"], response.headers["X-FlickrErrMessage"]) == (str(code), message)
    assert replay.calls == []  # not one call of the budget


@pytest.mark.parametrize(("args", "code", "message"), MALFORMED, ids=lambda v: str(v)[:40])
def test_the_library_answers_the_same(args, code, message, tmp_path):
    response = make_app(tmp_path).test_client().get("/services/rest/", query_string={**args, "format": "json",
                                                                                      "nojsoncallback": "1"})
    assert response.status_code == 200 and response.json == {"stat": "fail", "code": code, "message": message}


def test_ids_that_look_like_flickr_ids_pass(tmp_path):
    upstream = FakeUpstream(recorded("photos.search-19a6cc8272.xml"))
    client = make_app(tmp_path, upstream).test_client()
    for args in ({"method": "flickr.people.getPublicPhotos", "user_id": "32162360@N00"},
                 {"method": "flickr.people.getPublicPhotos", "user_id": "a_path-alias.2"},
                 {"method": "flickr.galleries.getPhotos", "gallery_id": "6065-72157617483228192"},
                 {"method": "flickr.photos.search", "user_id": "12345678@N01", "bbox": "-180,-90,180,90"}):
        assert client.get("/services/rest/", query_string={**args, "format": "rest"}).status_code == 200
    assert len(upstream.calls) == 4


def test_unknown_extras_are_dropped_so_they_cannot_split_the_cache(tmp_path):
    upstream = FakeUpstream(recorded("photos.search-19a6cc8272.xml"))
    client = make_app(tmp_path, upstream).test_client()
    for extras in ("geo,junk1", "junk2,geo", "geo,geo", "geo"):
        r = client.get("/services/rest/", query_string={"method": "flickr.photos.search", "format": "rest",
                                                          "extras": extras})
        assert r.status_code == 200 and b"junk" not in r.data
    assert len(upstream.calls) == 1 and upstream.calls[0][1]["extras"] == "geo"


# ---------------------------------------------------------------- outside XML (safexml.parse)

LAUGHS = ('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
          '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>\n<rsp stat="ok"><photos><photo id="1" title="&lol2;"/>'
          '</photos></rsp>')


@pytest.mark.parametrize("document", [
    LAUGHS.replace("UTF-16", "UTF-8").encode(),
    LAUGHS.encode("utf-16"),  # the bytes hold no "<!DOCTYPE" to spot
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rsp>&x;</rsp>',
    b'<?xml version="1.0"?><!--' + b"x" * 5000 + b'--><!DOCTYPE rsp SYSTEM "http://127.0.0.1:9/x.dtd"><rsp/>',
], ids=["billion-laughs", "billion-laughs-utf16", "external-entity", "late-external-dtd"])
def test_outside_xml_with_a_doctype_is_refused_with_a_clear_message(document):
    from gateway.safexml import UnsafeXML, parse

    with pytest.raises(UnsafeXML, match="DOCTYPE"):
        parse(document)


def test_outside_xml_nested_too_deep_is_refused():
    from gateway.safexml import UnsafeXML, parse

    with pytest.raises(UnsafeXML, match="not well-formed"):
        parse(b"<a>" * 100_000 + b"</a>" * 100_000)
