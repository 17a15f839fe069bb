"""Issue 17 item 8: only http(s) image and enclosure URLs leave the gateway, whatever the upstream sent.

Hostile url_* extras (javascript:, data:, protocol-relative) are imported into the
library and parsed from a Flickr JSON answer; every format is then read by its
consumer (feedparser, json, lxml for KML and rest) and every image, thumbnail,
enclosure and icon URL it finds must be an absolute http(s) URL.
"""

from __future__ import annotations

import json
import re

import feedparser
import pytest
from conftest import flickr_xml
from lxml import etree

from gateway.formats import FORMATS
from gateway.model import parse_json

HOSTILE = {
    "url_sq": "javascript:alert(1)",
    "url_t": "data:image/svg+xml;base64,PHN2Zy8+",
    "url_m": "//evil.example/m.jpg",
    "url_z": "JaVaScRiPt:alert(2)",
    "url_l": " javascript:alert(3)",
    "url_o": "vbscript:msgbox(1)",
    "url_q": "https://live.staticflickr.com/65535/1001_aaaa_q.jpg\" onerror=\"alert(4)",
}
PHOTO = {"id": "1001", "owner": "12345678@N01", "ownername": "A", "secret": "aaaa", "server": "65535", "farm": "66",
         "title": "t", "dateupload": "1690000000", "lastupdate": "1690000100", "latitude": "35.6", "longitude": "139.7",
         "accuracy": "16", "tags": "x", "license": "4", "width_l": "1024", "height_l": "768", **HOSTILE}
EXTRAS = "url_sq,url_t,url_m,url_z,url_l,url_o,url_q,geo,tags,date_upload,last_update,license,owner_name"
BAD = re.compile(r"javascript:|data:image|vbscript:|//evil|onerror", re.IGNORECASE)
URL = re.compile(r"https?://[^\s\"'<>]+", re.IGNORECASE)


@pytest.fixture
def client(make_app, tmp_path):
    app = make_app()
    path = tmp_path / "hostile.xml"
    path.write_bytes(flickr_xml([PHOTO]))
    app.extensions["gateway.upstream"].import_file(path, {"method": "flickr.photos.search"})
    return app.test_client()


def image_urls(name: str, body: bytes) -> list[str]:
    """Every image/enclosure URL a consumer of this format reads."""
    if name == "feed-geojson":
        props = json.loads(body)["features"][0]["properties"]
        return [v for k, v in props.items() if isinstance(v, str) and ("url" in k or "image" in k or "thumb" in k)]
    if name in ("json",):
        photo = json.loads(body)["photos"]["photo"][0]
        return [v for k, v in photo.items() if k.startswith("url_")]
    if name == "rest":
        return [v for k, v in etree.fromstring(body).find(".//photo").attrib.items() if k.startswith("url_")]
    if name == "feed-kml":
        root = etree.fromstring(body)
        return [el.text for el in root.iter("{http://www.opengis.net/kml/2.2}href")]
    if name == "feed-kml_nl":
        return []
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    entry = parsed.entries[0]
    urls = [e.get("href") or e.get("url") for e in entry.get("enclosures", [])]
    urls += [t["url"] for t in entry.get("media_thumbnail", [])]
    urls += [c["url"] for c in entry.get("media_content", [])]
    html = entry.get("summary", "") + "".join(c.value for c in entry.get("content", []))
    urls += re.findall(r'src="([^"]*)"', html)
    return urls


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_only_http_image_urls_in_every_format(client, name):
    args = {"method": "flickr.photos.search", "tags": "x", "format": name, "extras": EXTRAS, "nojsoncallback": "1"}
    response = client.get("/services/rest/", query_string=args)
    assert response.status_code == 200, response.headers.get("X-FlickrErrMessage")
    body = response.get_data()
    assert not BAD.search(body.decode()), BAD.search(body.decode())
    urls = image_urls(name, body)
    if name not in ("feed-kml_nl", "rest", "json"):
        assert urls, "the photo still has images, built from server and secret"
    for url in urls:
        assert URL.fullmatch(url), url


def test_the_model_drops_them_from_any_upstream():
    page = parse_json({"stat": "ok", "photos": {"page": 1, "pages": 1, "perpage": 1, "total": 1, "photo": [PHOTO]}})
    photo = page.photos[0]
    assert [s.suffix for s in photo.sizes] == []
    good = dict(PHOTO, url_z="https://live.staticflickr.com/65535/1001_aaaa_z.jpg")
    photo = parse_json({"stat": "ok", "photos": {"photo": [good]}}).photos[0]
    assert [(s.suffix, s.url) for s in photo.sizes] == [("z", good["url_z"])]


# Built URLs: a photo without url_* extras gets its images built from server and secret (and its
# page, profile and icon from owner, path alias and icon server). Those fields came from the same
# upstream or file, so they may hold anything too.
BUILT = {"id": "1002", "owner": '12@N01"><script>alert(5)</script>', "pathalias": "a b\"<x>/../..",
         "secret": 'ab"c', "server": '1" onerror="alert(6)', "farm": "1", "iconserver": "javascript:alert(7)",
         "iconfarm": "1", "originalsecret": "x y", "originalformat": 'jpg" onload="x', "title": "t",
         "dateupload": "1690000000", "latitude": "35.6", "longitude": "139.7", "accuracy": "16", "tags": "x"}
WELL_FORMED = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[A-Za-z0-9\-._~%!$&()*+,;=:@/?#]*)?")


def every_url(name: str, body: bytes) -> list[str]:
    """Every URL of the photo a consumer reads: images, enclosures, the photo page, the owner and icon."""
    if name in ("json", "rest", "feed-kml_nl"):
        return []
    if name == "feed-geojson":
        props = json.loads(body)["features"][0]["properties"]
        return [v for k, v in props.items() if isinstance(v, str) and v.startswith(("http", "//", "javascript"))]
    root = etree.fromstring(body)
    texts = [el.text.strip() for el in root.iter() if isinstance(el.tag, str) and el.text and
             etree.QName(el).localname in ("href", "link", "uri", "buddyicon", "Data", "value")]
    attrs = [v for el in root.iter() for k, v in el.attrib.items()
             if etree.QName(k).localname in ("href", "url", "resource", "about", "profile")]
    html = " ".join(el.text for el in root.iter() if isinstance(el.tag, str) and el.text and "<" in el.text)
    found = texts + attrs + re.findall(r'(?:src|href)="([^"]*)"', html)
    return [u for u in found if u.startswith(("http", "//", "javascript", "data:"))]


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_urls_built_from_hostile_fields_are_well_formed(make_app, tmp_path, name):
    app = make_app()
    path = tmp_path / "built.xml"
    path.write_bytes(flickr_xml([BUILT]))
    app.extensions["gateway.upstream"].import_file(path, {"method": "flickr.photos.search"})
    args = {"method": "flickr.photos.search", "tags": "x", "format": name, "nojsoncallback": "1",
            "extras": "icon_server,original_format,path_alias,geo,tags"}
    response = app.test_client().get("/services/rest/", query_string=args)
    assert response.status_code == 200, response.headers.get("X-FlickrErrMessage")
    urls = every_url(name, response.get_data())
    if name not in ("json", "rest", "feed-kml_nl"):
        assert any("/photos/a%20b" in u for u in urls), urls  # the photo's page is there, its path quoted
    for url in urls:
        assert WELL_FORMED.fullmatch(url), url
    if name not in ("json", "rest"):  # they hand the upstream's attributes back, as Flickr does
        assert "javascript:" not in response.get_data(as_text=True)
