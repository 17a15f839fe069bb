"""The feed builder page at / (issue 6), server-rendered: the form, the feed's
address and actions, the preview, errors in words, and hostile input."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlsplit

import feedparser
import pytest
from lxml import html
from support import FakeUpstream, make_app

from gateway import create_app
from gateway.errors import FlickrError, unavailable
from gateway.formats import FORMATS, Format
from gateway.methods import METHODS
from gateway.model import Page, Photo
from gateway.pages import CSP, GEOJSON, KML_NL, form, kml_filename
from gateway.pages.wording import explain
from gateway.pages.worldmap import world_map

HOST = "https://photos.example.org"
BOTANY = {"method": "flickr.photos.search", "tags": "botany", "format": "feed-rss_200"}
BOTANY_URL = f"{HOST}/services/rest/?method=flickr.photos.search&tags=botany&format=feed-rss_200"
KML_TYPE = "application/vnd.google-earth.kml+xml"


@pytest.fixture(scope="module")
def app(recorded_library):
    app = create_app({"LIBRARY_PATH": recorded_library.path})
    yield app
    app.extensions["gateway.upstream"].close()


@pytest.fixture
def client(app):
    return app.test_client()


def get(client, path="/", **args):
    response = client.get(path, query_string=args, base_url=HOST)
    assert response.status_code == 200, response.data[:500]
    return response, html.fromstring(response.data)


def api_json(client, **args):
    """The same call as the API's json answers it, with what the preview shows."""
    args = {**args, "format": "json", "nojsoncallback": "1", "extras": "owner_name,path_alias,geo,url_sq,url_q,url_l"}
    return json.loads(client.get("/services/rest/", query_string=args).data)


# ---------------------------------------------------------------- the form


def test_form_labels_every_control_and_submits_to_itself(client):
    response, doc = get(client)
    assert response.headers["Content-Security-Policy"] == CSP
    (builder,) = doc.xpath("//form[@id='builder']")
    assert builder.get("method") == "get" and builder.get("action") == "/#feed"
    controls = builder.xpath(".//input | .//select")
    names = {c.get("name") for c in controls}
    assert names == {"method"} | {f.name for f in form.ARGS if f.name != "api_key"}
    for control in controls:
        (label,) = doc.xpath(f"//label[@for='{control.get('id')}']")
        assert label.text_content().strip(), control.get("name")
    assert len(builder.xpath(".//fieldset")) == len(builder.xpath(".//fieldset/legend")) == 4
    assert "Choose the photos you want" in doc.xpath("//div[@id='preview-body']")[0].text_content()
    assert not doc.xpath("//link[@rel='alternate']")  # nothing chosen yet


def test_every_method_and_every_registered_format_is_offered(client, monkeypatch):
    monkeypatch.setitem(FORMATS, "feed-brand_new", Format("application/x-new", lambda page, ctx: b""))
    _, doc = get(client)
    assert doc.xpath("//select[@name='method']/option/@value") == list(METHODS)
    options = doc.xpath("//select[@name='format']/option")
    assert {o.get("value") for o in options} == set(FORMATS)
    new = next(o for o in options if o.get("value") == "feed-brand_new")
    assert "feed-brand_new" in new.text and new.get("data-type") == "application/x-new"
    assert options[0].get("value") == "feed-rss_200" and options[0].get("selected") is not None


def test_every_required_argument_has_a_field_for_its_method():
    for name, method in METHODS.items():
        for arg in method.required:
            assert arg in form.FIELDS and form.FIELDS[arg].applies(name), (name, arg)


def test_api_key_field_only_when_the_gateway_asks_for_keys(tmp_path):
    app = make_app(tmp_path, FakeUpstream(), API_KEYS="k1")
    _, doc = get(app.test_client(), **BOTANY, api_key="k1")
    assert doc.xpath("//input[@name='api_key']/@value") == ["k1"]
    assert "&api_key=k1" in doc.xpath("//input[@id='api-url']/@value")[0]


def test_url_keeps_filled_fields_that_apply_to_the_method():
    args = form.api_args({"method": "flickr.photosets.getPhotos", "photoset_id": " 721 ", "group_id": "1@N00",
                          "tags": "", "user_id": "9@N00", "size": "b", "per_page": "5", "format": "json",
                          "api_key": "secret"})
    assert args == {"method": "flickr.photosets.getPhotos", "user_id": "9@N00", "photoset_id": "721",
                    "per_page": "5", "format": "json", "nojsoncallback": "1"}
    assert form.query({"group_id": "31849566@N00", "tags": "a b,c&d"}) == "group_id=31849566@N00&tags=a%20b,c%26d"


# ---------------------------------------------------------------- the feed and its actions


def test_feed_address_alternate_and_feed_link_are_absolute(client):
    _, doc = get(client, **BOTANY, text="", size="")
    assert doc.xpath("//input[@id='api-url']/@value") == [BOTANY_URL]
    (alternate,) = doc.xpath("//head/link[@rel='alternate']")
    assert alternate.get("type") == "application/rss+xml" and alternate.get("href") == BOTANY_URL
    assert alternate.get("title") == "Photos tagged botany"
    assert doc.xpath("//a[@id='feed-link']/@href") == [f"feed:{BOTANY_URL}"]
    assert doc.xpath("//a[@id='open-feed']/@href") == [BOTANY_URL]
    feed = feedparser.parse(client.get(BOTANY_URL).data)
    assert feed.bozo == 0 and len(feed.entries) == 15 and feed.feed.title == "Photos tagged botany"


def test_address_names_the_host_a_proxy_was_asked_for(recorded_library):
    # Only with a proxy trusted (GATEWAY_PROXY_HOPS, 0 by default: tests/test_serving.py).
    client = create_app({"LIBRARY_PATH": recorded_library.path, "PROXY_HOPS": 1}).test_client()
    response = client.get("/", query_string=BOTANY, headers={"X-Forwarded-Host": "feeds.example.net",
                                                             "X-Forwarded-Proto": "https"})
    doc = html.fromstring(response.data)
    assert doc.xpath("//link[@rel='alternate']/@href")[0].startswith("https://feeds.example.net/services/rest/?")


def test_formats_a_reader_cannot_subscribe_to_have_no_alternate(client):
    _, doc = get(client, **{**BOTANY, "format": "json"})
    assert not doc.xpath("//link[@rel='alternate']")
    assert doc.xpath("//li[@id='reader-action']")[0].get("hidden") is not None
    assert doc.xpath("//input[@id='api-url']/@value")[0].endswith("&format=json&nojsoncallback=1")


@pytest.fixture
def kml_nl(monkeypatch):
    """feed-kml_nl as registered, or a stand-in until the format's branch is merged."""
    if KML_NL not in FORMATS:
        monkeypatch.setitem(FORMATS, KML_NL, Format(KML_TYPE, lambda page, ctx: f"<kml>{ctx.kml_url}</kml>".encode()))
    return FORMATS[KML_NL]


def test_kml_download_is_the_network_link_as_an_attachment(client, kml_nl):
    _, doc = get(client, **BOTANY)
    (href,) = doc.xpath("//a[@id='kml-link']/@href")
    assert doc.xpath("//a[@id='kml-link']/@download") == [""]
    assert href == "/download.kml?method=flickr.photos.search&tags=botany"
    response = client.get(href, base_url=HOST)
    assert response.status_code == 200 and response.mimetype == KML_TYPE
    assert response.headers["Content-Disposition"] == 'attachment; filename="flickr-photos-tagged-botany.kml"'
    api = client.get("/services/rest/?method=flickr.photos.search&tags=botany&format=feed-kml_nl", base_url=HOST)
    assert response.data == api.data and b"format=feed-kml" in response.data


def test_kml_download_passes_the_apis_error_on(client, kml_nl):
    response = client.get("/download.kml?method=flickr.groups.pools.getPhotos&group_id=nope")
    assert response.status_code == 400 and response.headers["X-FlickrErrCode"] == "1"
    assert "Content-Disposition" not in response.headers


def test_no_kml_action_without_the_format(client, monkeypatch):
    monkeypatch.delitem(FORMATS, KML_NL, raising=False)
    _, doc = get(client, **BOTANY)
    assert not doc.xpath("//a[@id='kml-link']")
    assert client.get("/download.kml?method=flickr.photos.search").status_code == 404


def test_kml_action_is_offered_once_the_format_is_registered(client):
    _, doc = get(client, **BOTANY)
    assert bool(doc.xpath("//a[@id='kml-link']")) == (KML_NL in FORMATS)


def test_geojson_address_for_gis_tools(client, monkeypatch):
    if GEOJSON not in FORMATS:
        monkeypatch.setitem(FORMATS, GEOJSON, Format("application/geo+json", lambda page, ctx: b"{}"))
    _, doc = get(client, **BOTANY)
    assert doc.xpath("//input[@id='geojson-url']/@value") == [
        f"{HOST}/services/rest/?method=flickr.photos.search&tags=botany&format=feed-geojson"]


def test_kml_filename_is_a_header_safe_slug():
    assert kml_filename({"method": "flickr.photos.search", "text": 'é"\r\nx'}) == "flickr-photos-matching-x.kml"
    assert kml_filename({"method": "nope"}) == "flickr-photos.kml"


# ---------------------------------------------------------------- the preview


def test_preview_shows_the_calls_photos_with_titles_and_owners(client):
    _, doc = get(client, **BOTANY)
    items = doc.xpath("//ul[@class='photos']/li")
    photos = api_json(client, **BOTANY)["photos"]["photo"]
    assert len(items) == len(photos) == 15
    for item, photo in zip(items, photos, strict=True):
        (img,) = item.xpath(".//img")
        title = photo["title"] or "Untitled photo"
        assert img.get("alt") == title and item.xpath(".//span[@class='title']")[0].text == title
        assert img.get("src") == f"https://live.staticflickr.com/{photo['server']}/{photo['id']}_{photo['secret']}_q.jpg"
        assert item.xpath(".//a[@class='photo']/@href")[0].endswith(f"/{photo['id']}/")
        assert item.xpath(".//span[@class='owner']/a")[0].text == (photo["ownername"] or photo["owner"])
    summary = doc.xpath("//p[@id='preview-status']")[0].text
    assert summary.startswith("Photos 1 to 15 of ") and "(page 1 of " in summary


def test_map_marks_each_geotagged_photo_at_its_lon_lat(client):
    args = {"method": "flickr.groups.pools.getPhotos", "group_id": "31849566@N00", "format": "feed-georss"}
    _, doc = get(client, **args)
    photos = [p for p in api_json(client, **args)["photos"]["photo"] if float(p.get("accuracy") or 0) > 0]
    markers = doc.xpath("//figure[@class='map']//*[local-name()='circle']")
    assert len(markers) == len(photos) > 0
    for marker, photo in zip(markers, photos, strict=True):
        assert float(marker.get("cx")) == pytest.approx(float(photo["longitude"]))  # x is the longitude
        assert float(marker.get("cy")) == pytest.approx(-float(photo["latitude"]))
    (svg,) = doc.xpath("//figure[@class='map']/*[local-name()='svg']")
    x, y, width, height = map(float, svg.get("viewbox").split())  # the HTML parser lower-cases names
    assert all(x <= float(m.get("cx")) <= x + width and y <= float(m.get("cy")) <= y + height for m in markers)
    assert -180 <= x and x + width <= 180 and -90 <= y and y + height <= 90


def test_map_shades_the_bbox_asked_for(client):
    _, doc = get(client, **BOTANY, bbox="-80,35,-70,45")
    (area,) = doc.xpath("//*[local-name()='rect'][@class='area']")
    assert [float(area.get(k)) for k in ("x", "y", "width", "height")] == [-80, -45, 10, 10]


def test_map_splits_a_bbox_across_the_antimeridian():
    assert world_map([], {"bbox": "170,-20,-170,-10"}).boxes == ((170, 10, 10, 10), (-180, 10, 10, 10))
    assert world_map([], {"bbox": "not,a,box"}) is None


def test_preview_fragment_is_what_the_page_shows(client):
    _, doc = get(client, **BOTANY)
    _, fragment = get(client, "/preview", **BOTANY)
    assert fragment.get("class") == "preview"
    assert fragment.get("data-summary") == doc.xpath("//p[@id='preview-status']")[0].text
    assert fragment.xpath(".//img/@alt") == doc.xpath("//ul[@class='photos']//img/@alt")


# ---------------------------------------------------------------- errors in words


@pytest.mark.parametrize(("args", "words", "flickr"), [
    ({"method": "flickr.groups.pools.getPhotos", "group_id": "123@N00"},
     "No group with that id is in the photo library.", "Flickr error 1: \u201cGroup not found\u201d"),
    ({"method": "flickr.groups.pools.getPhotos"}, "needs: Group id", "Group not found"),
    ({"method": "flickr.photos.search", "bbox": "10,50,20"}, "four numbers separated by commas", "Invalid bbox"),
    ({"method": "flickr.photos.search", "lat": "91", "lon": "0"}, "from -90 (south pole) to 90", "Invalid latitude"),
    ({"method": "flickr.people.getPublicPhotos", "user_id": "nobody"}, "No person with that id", "User not found"),
    ({"method": "flickr.photosets.getPhotos", "photoset_id": "1"}, "No album with that id", "Photoset not found"),
    ({"method": "flickr.galleries.getPhotos", "gallery_id": "1"}, "No gallery with that id", "Invalid gallery ID"),
    ({"method": "flickr.photos.getInfo"}, "does not return a list of photos", "Flickr error 112"),
    ({"method": "flickr.nope"}, "There is no such method", "Flickr error 112"),
    ({"method": "flickr.photos.search", "format": "feed-lolcat"}, "not a format this gateway offers",
     "Flickr error 111: \u201cFormat \"feed-lolcat\" not found\u201d"),
    ({"method": "flickr.photos.getWithGeoData"}, "logged-in Flickr member", "Flickr error 99"),
    ({"method": "flickr.photos.search", "size": "x"}, "image sizes offered", "Flickr error 3"),
])
def test_errors_in_words_with_flickrs_own_beside_them(client, args, words, flickr):
    _, doc = get(client, **{"format": "feed-atom_10", **args})
    error = doc.xpath("//div[@class='error']")[0].text_content()
    assert words in error and flickr in error
    assert doc.xpath("//p[@id='preview-status']")[0].text == "The feed cannot be built."
    assert not doc.xpath("//link[@rel='alternate']") and not doc.xpath("//ul[@class='photos']")
    if "No " in words and "with that id" in words:  # the library's ids can be looked up
        assert "\u201cflickr-gateway library list\u201d shows the ids it holds" in error


def test_unreachable_upstream_in_words(tmp_path):
    client = make_app(tmp_path, FakeUpstream(error=unavailable())).test_client()
    _, doc = get(client, **BOTANY)
    error = doc.xpath("//div[@class='error']")[0].text_content()
    assert "Try again in a minute" in error and "Flickr error 105" in error


def test_missing_api_key_in_words(tmp_path):
    client = make_app(tmp_path, FakeUpstream(), API_KEYS="k1").test_client()
    _, doc = get(client, **BOTANY)
    assert "asks for an API key" in doc.xpath("//div[@class='error']")[0].text_content()


# ---------------------------------------------------------------- hostile input

PAYLOADS = ('"><script>alert(1)</script>', "javascript:alert(1)", "'><img src=x onerror=alert(1)>",
            "</textarea><svg onload=alert(1)>", "\u2028\u0000&amp;{{7*7}}")
# Markup that only appears in the page if a payload got through unescaped.
LEAKS = (b"<script>alert", b"<img src=x", b"<svg onload", b"onerror=alert(1)>")
PATHS = ("/", "/preview")


def unsafe_urls(doc) -> list[str]:
    urls = doc.xpath("//@href | //@src | //@action")
    return [u for u in urls if re.sub(r"[\s\x00-\x1f]", "", u).lower().startswith(("javascript:", "data:"))
            and u != "data:,"]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("name", ["method", *form.FIELDS, "unknown_argument"])
@pytest.mark.parametrize("path", PATHS)
def test_hostile_input_in_every_field_is_escaped(tmp_path, name, payload, path):
    # A library-less upstream that echoes nothing back: only the page can leak the payload.
    client = make_app(tmp_path, FakeUpstream(), API_KEYS="k1").test_client()
    args = {**BOTANY, "api_key": "k1", "lat": "1", "lon": "2", name: payload}
    response = client.get(path, query_string=args, base_url=HOST)
    assert response.status_code == 200
    raw = response.data
    for leak in LEAKS:
        assert leak not in raw, (name, leak)
    assert unsafe_urls(html.fromstring(raw)) == []
    if path == "/" and name in form.FIELDS and form.FIELDS[name].kind not in ("select", "checkbox"):
        # Echoed into its own field, escaped, and as typed (less what XML forbids, as the API drops it).
        assert html.fromstring(raw).xpath(f"//input[@name='{name}']/@value") == [payload.replace("\x00", "")]


def test_hostile_photo_data_is_escaped(tmp_path):
    # Titles and names come from Flickr's users: as untrusted as the form.
    photo = Photo("1", owner="9@N00", secret="s", server="1", title=PAYLOADS[0], ownername=PAYLOADS[2],
                  pathalias="javascript:alert(1)", latitude=10.0, longitude=20.0, accuracy=16)
    client = make_app(tmp_path, FakeUpstream(Page((photo,)))).test_client()
    for path in PATHS:
        response = client.get(path, query_string=BOTANY)
        for leak in LEAKS:
            assert leak not in response.data, (path, leak)
        doc = html.fromstring(response.data)
        assert unsafe_urls(doc) == [] and doc.xpath("//img/@alt") == [PAYLOADS[0]]
        assert len(doc.xpath("//*[local-name()='circle']")) == 1


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_input_reaches_urls_only_percent_encoded(client, payload):
    _, doc = get(client, **BOTANY, text=payload)
    url = doc.xpath("//input[@id='api-url']/@value")[0]
    assert dict(parse_qsl(urlsplit(url).query))["text"] == payload.replace("\x00", "").strip()
    assert not set(urlsplit(url).query) & set("<>\"' ")


def test_download_refuses_hostile_format_quietly(client, kml_nl):
    response = client.get("/download.kml", query_string={**BOTANY, "format": PAYLOADS[0]})
    assert response.status_code == 200 and b"<script>" not in response.data


def test_only_the_library_points_at_library_list():
    err, args = FlickrError(1, "User not found"), {"method": "flickr.people.getPublicPhotos", "user_id": "x"}
    assert "library list" in explain(err, args, "the photo library")
    assert "library list" not in explain(err, args, "Flickr")
