"""RSS 1.0/GeoRDF, KML, the KML network link and GeoJSON, read back by real consumers.

Recorded Flickr responses are read from tests/fixtures/flickr (anonymised
copies); expected values come from the fixture's own attributes, not
from the model the renderers use.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import lxml.html
import pytest
import rdflib
from consumers import kml_errors
from lxml import etree
from rdflib.namespace import DC, RDF
from timezonefinder import TimezoneFinder

from gateway import create_app
from gateway.formats import FORMATS
from gateway.formats.feed import GEO_TAG_LIMIT, FeedContext, XMLWriter
from gateway.model import Page, parse_rest
from gateway.safexml import parse

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "flickr"  # scripts/anonymise_fixtures.py makes them
# Recorded pages with geotagged photos: a search, a gallery, a group pool, an album (<photoset>).
GEO_PAGES = [
    "photos.search-4a7d855f5c.xml",
    "galleries.getPhotos-bdc01c736e.xml",
    "groups.pools.getPhotos-e6a5806d78.xml",
    "photosets.getPhotos-8e8f0147b5.xml",
]
RSS = rdflib.Namespace("http://purl.org/rss/1.0/")
KML = "{http://www.opengis.net/kml/2.2}"
KML_NS = {"k": KML[1:-1]}
CTX = FeedContext(
    method="flickr.photos.search", args={"tags": "botany"}, title="Photos tagged botany",
    link="https://www.flickr.com/photos/tags/botany/",
    self_url="http://gw.test/services/rest/?method=flickr.photos.search&tags=botany&format=feed-geordf",
    feed_id="tag:gw.test,2026:/services/rest/?method=flickr.photos.search&tags=botany", ttl=600,
    kml_url="http://gw.test/services/rest/?method=flickr.photos.search&tags=botany&format=feed-kml", view_bbox=True,
)
PHOTO_ID = re.compile(r"/(\d{5,})/$")


def load(name: str) -> Page:
    return parse_rest(parse((FIXTURES / name).read_bytes()))


def recorded(name: str) -> dict[str, dict[str, str]]:
    """The fixture's <photo> attributes by photo id, as Flickr sent them."""
    return {p.get("id"): dict(p.attrib) for p in etree.parse(str(FIXTURES / name)).iter("photo")}


def geotagged(attrs: dict[str, str]) -> bool:
    lat, lon, acc = (float(attrs.get(k) or 0) for k in ("latitude", "longitude", "accuracy"))
    return acc > 0 or lat != 0 or lon != 0


def lat_lon(attrs: dict[str, str]) -> tuple[float, float]:
    return float(attrs["latitude"]), float(attrs["longitude"])


def with_photos(page: Page, *photos) -> Page:
    return dataclasses.replace(page, photos=tuple(photos), total=len(photos))


# ---------------------------------------------------------------- RSS 1.0 / GeoRDF


@pytest.mark.parametrize("name", GEO_PAGES)
@pytest.mark.parametrize("fmt", ["feed-rss_100", "feed-geordf"])
def test_rdf_graph_has_one_item_per_photo_and_the_pagination_node(fmt, name):
    page = load(name)
    graph = rdflib.Graph().parse(data=FORMATS[fmt].render(page, CTX), format="xml")

    items = set(graph.subjects(RDF.type, RSS.item))
    ids = {str(graph.value(item, DC.identifier)).rsplit("/", 1)[1] for item in items}
    assert ids == set(recorded(name))
    assert len(items) == len(page.photos)
    (channel,) = graph.subjects(RDF.type, RSS.channel)
    assert {str(o) for o in graph.objects(graph.value(channel, RSS.items), None)} >= {str(i) for i in items}
    rows = list(graph.query("""
        PREFIX rss: <http://purl.org/rss/1.0/> PREFIX flickr: <urn:flickr:>
        SELECT ?total ?page ?pages ?per_page WHERE {
          ?channel a rss:channel ; flickr:flickr ?p .
          ?p a rss:pagination ; rss:total ?total ; rss:page ?page ; rss:pages ?pages ; rss:per_page ?per_page }"""))
    assert [tuple(int(v) for v in row) for row in rows] == [(page.total, page.page, page.pages, page.perpage)]


def test_geordf_carries_one_subject_per_tag():
    page = load("photos.search-4a7d855f5c.xml")
    photo = next(p for p in page.photos if len(p.tags) > GEO_TAG_LIMIT)
    body = FORMATS["feed-geordf"].render(with_photos(page, photo), CTX)
    subjects = [el.text for el in etree.fromstring(body).iter("{http://purl.org/dc/elements/1.1/}subject")]
    # Every tag, and no space-joined subject: readers would show that as one junk tag.
    assert subjects == list(photo.tags)
    plain = FORMATS["feed-rss_100"].render(with_photos(page, photo), CTX)
    assert [el.text for el in etree.fromstring(plain).iter("{http://purl.org/dc/elements/1.1/}subject")] == list(
        photo.tags)


# ---------------------------------------------------------------- GeoRSS / GeoAtom / GeoRDF


@pytest.mark.parametrize("name", GEO_PAGES)
@pytest.mark.parametrize("fmt", ["feed-georss", "feed-geoatom", "feed-geordf"])
def test_feedparser_sees_each_geotagged_photo_at_its_own_point(fmt, name):
    photos = recorded(name)
    feed = feedparser.parse(FORMATS[fmt].render(load(name), CTX))

    assert feed.bozo == 0, feed.get("bozo_exception")
    assert len(feed.entries) == len(photos)
    assert feed.feed.title.endswith(", with geodata")
    points = 0
    for entry in feed.entries:
        attrs = photos[PHOTO_ID.search(entry.link).group(1)]
        if geotagged(attrs):
            lon, lat = entry.where["coordinates"]
            assert (lat, lon) == pytest.approx(lat_lon(attrs), abs=1e-6)
            points += 1
        else:
            assert "where" not in entry
    assert points == sum(map(geotagged, photos.values())) > 0


def test_plain_rss1_has_no_points():
    body = FORMATS["feed-rss_100"].render(load(GEO_PAGES[0]), CTX)
    assert b"georss" not in body and b"wgs84_pos" not in body


# ---------------------------------------------------------------- KML


@functools.cache
def timezone_finder() -> TimezoneFinder:
    return TimezoneFinder()


def taken_at_place(attrs) -> str:
    """The camera's clock with the offset of the photo's place on that date (zone-less at sea)."""
    lat, lon = lat_lon(attrs)
    local = datetime.fromisoformat(attrs["datetaken"])
    zone = timezone_finder().timezone_at(lat=lat, lng=lon)
    return local.isoformat() if zone.startswith("Etc/") else local.replace(tzinfo=ZoneInfo(zone)).isoformat()


@pytest.mark.parametrize("name", GEO_PAGES)
def test_kml_placemarks_are_the_geotagged_photos_lon_first(name):
    photos, page = recorded(name), load(name)
    root = etree.fromstring(FORMATS["feed-kml"].render(page, CTX))

    placemarks = root.findall(".//k:Placemark", KML_NS)
    by_id = {pm.findtext("k:ExtendedData/k:Data[@name='id']/k:value", namespaces=KML_NS): pm for pm in placemarks}
    assert set(by_id) == {i for i, attrs in photos.items() if geotagged(attrs)}
    for photo_id, pm in by_id.items():
        attrs = photos[photo_id]
        lon, lat = (float(x) for x in pm.findtext("k:Point/k:coordinates", namespaces=KML_NS).split(","))
        assert (lat, lon) == pytest.approx(lat_lon(attrs), abs=1e-6)
        # the camera's clock, with the offset of the place on that date (never Flickr's fixed -08:00)
        assert pm.findtext("k:TimeStamp/k:when", namespaces=KML_NS) == taken_at_place(attrs)
        assert pm.findtext("k:Style/k:IconStyle/k:Icon/k:href", namespaces=KML_NS) == attrs["url_sq"]
        assert pm.findtext("k:name", namespaces=KML_NS) == attrs["title"]
    data = {d.get("name"): d.findtext("k:value", namespaces=KML_NS)
            for d in root.findall("k:Document/k:ExtendedData/k:Data", KML_NS)}
    assert data == {"total": str(page.total), "page": str(page.page), "pages": str(page.pages),
                    "per_page": str(page.perpage)}
    assert root.find("{urn:flickr:}pagination").get("total") == str(page.total)
    assert root.findtext("k:NetworkLinkControl/k:minRefreshPeriod", namespaces=KML_NS) == "600"


def hostile(page: Page):
    photo = next(p for p in page.photos if p.geotagged)
    return dataclasses.replace(
        photo, title="Fin ]]> de <b>la</b> ligne \x01 😀 & co", ownername="Mal]]>ory\x1f",
        description="]]><script>alert(1)</script> caf\u00e9 \x0b<a title=']]>' href='https://x/?a=1&b=2'>l</a>",
        tags=("a&b", "]]>", "t\x02ag"), datetaken="2023-02-30 10:00:00",
    )


@pytest.mark.parametrize("fmt", ["feed-kml", "feed-kml_nl"])
@pytest.mark.parametrize("name", [*GEO_PAGES, "hostile"])
def test_every_kml_validates_against_the_ogc_schema(fmt, name):
    page = load(GEO_PAGES[0]) if name == "hostile" else load(name)
    if name == "hostile":
        page = with_photos(page, hostile(page))
    assert kml_errors(FORMATS[fmt].render(page, CTX)) == ""
    assert kml_errors(FORMATS[fmt].render(page, dataclasses.replace(CTX, view_bbox=False))) == ""


def test_hostile_photo_reads_back_in_kml():
    page = load(GEO_PAGES[0])
    root = etree.fromstring(FORMATS["feed-kml"].render(with_photos(page, hostile(page)), CTX))
    (pm,) = root.findall(".//k:Placemark", KML_NS)
    assert pm.findtext("k:name", namespaces=KML_NS) == "Fin ]]> de <b>la</b> ligne  😀 & co"
    balloon = lxml.html.fromstring(pm.findtext("k:description", namespaces=KML_NS))
    assert "Mal]]>ory" in balloon.text_content() and "]]>" in balloon.text_content()
    assert not balloon.xpath("//script") and balloon.xpath("//img/@src")[0].endswith("_s.jpg")
    assert pm.find("k:TimeStamp", KML_NS) is None  # February 30 is no date


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_stays_readable_with_a_hostile_photo(fmt):
    page = load(GEO_PAGES[0])
    body = FORMATS[fmt].render(with_photos(page, hostile(page)), CTX)
    title = "Fin ]]> de <b>la</b> ligne  😀 & co"  # XML drops the control character, keeps the rest
    if fmt in ("json", "feed-geojson"):  # JSON can carry it, escaped
        data = json.loads(body)
        photo = data["features"][0]["properties"] if fmt == "feed-geojson" else data["photos"]["photo"][0]
        assert photo["title"] == hostile(page).title
    elif fmt != "feed-kml_nl":  # the network link names the feed, not photos
        root = etree.fromstring(body)
        assert title in {*root.itertext(), *(v for el in root.iter() for v in el.attrib.values())}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_page_past_the_end_is_an_empty_feed_with_its_pagination(fmt):
    page = Page((), page=3, pages=2, perpage=15, total=21)
    body = FORMATS[fmt].render(page, CTX)
    if fmt in ("json", "feed-geojson"):
        data = json.loads(body)
        assert data.get("pagination", data.get("photos")).get("total") == 21
    elif fmt in ("feed-rss_100", "feed-geordf"):
        graph = rdflib.Graph().parse(data=body, format="xml")
        assert not set(graph.subjects(RDF.type, RSS.item))
        assert list(graph.objects(None, RSS.total)) == [rdflib.Literal("21")]
    else:
        root = etree.fromstring(body)
        pagination = root.find("photos") if fmt == "rest" else root.find(".//{urn:flickr:}pagination")
        assert pagination.get("total") == "21"
        assert "kml" not in fmt or kml_errors(body) == ""


def test_attribute_whitespace_and_markup_survive_the_writer():
    w = XMLWriter("doc", {"flickr": "urn:flickr:"}, flickr__a='tab\there "q" <&> \x01nl\nend')
    w.el("e", 7, n=3, s="x&y")
    w.el("ascii", "line\x0b one\nline two\x7f")
    w.cdata("html", "<p>caf\u00e9\x0c</p>\n")
    root = etree.fromstring(w.tobytes())
    # DEL is dropped, as safexml.clean drops it
    assert (root.findtext("ascii"), root.findtext("html")) == ("line one\nline two", "<p>caf\u00e9</p>\n")
    assert root.get("{urn:flickr:}a") == 'tab\there "q" <&> nl\nend'
    assert (root.find("e").text, root.find("e").attrib) == ("7", {"n": "3", "s": "x&y"})


def test_cdata_with_its_own_terminator_is_split():
    w = XMLWriter("doc", {})
    w.cdata("d", "a]]>b]]>c\x00")
    body = w.tobytes()
    assert body.count(b"<![CDATA[") == 3
    assert etree.fromstring(body).findtext("d") == "a]]>b]]>c"


# ---------------------------------------------------------------- GeoJSON


@pytest.mark.parametrize("name", GEO_PAGES)
def test_geojson_features_are_the_geotagged_photos_lon_first(name):
    photos, page = recorded(name), load(name)
    collection = json.loads(FORMATS["feed-geojson"].render(page, CTX))

    assert collection["type"] == "FeatureCollection"
    assert collection["pagination"] == {"total": page.total, "page": page.page, "pages": page.pages,
                                        "per_page": page.perpage}
    features = collection["features"]
    assert {f["id"] for f in features} == {i for i, attrs in photos.items() if geotagged(attrs)}
    for feature in features:
        attrs = photos[feature["id"]]
        lon, lat = feature["geometry"]["coordinates"]
        assert feature["geometry"]["type"] == "Point"
        assert (lat, lon) == pytest.approx(lat_lon(attrs), abs=1e-6)
        props = feature["properties"]
        assert props["tags"] == attrs.get("tags", "").split()
        assert props["thumbnail"] == attrs["url_sq"]
        assert props["datetaken"] == taken_at_place(attrs)
        assert props["url"].endswith(f"/{feature['id']}/")


# ---------------------------------------------------------------- what "geotagged" means


GEO_OUTPUTS = ["feed-georss", "feed-geoatom", "feed-geordf", "feed-kml", "feed-geojson"]


def located_ids(fmt: str, body: bytes) -> set[str]:
    """Ids of the photos the output gives a point."""
    if fmt == "feed-geojson":
        return {f["id"] for f in json.loads(body)["features"]}
    if fmt == "feed-kml":
        root = etree.fromstring(body)
        return set(root.xpath("//k:Placemark/k:ExtendedData/k:Data[@name='id']/k:value/text()", namespaces=KML_NS))
    return {PHOTO_ID.search(e.link).group(1) for e in feedparser.parse(body).entries if "where" in e}


@pytest.mark.parametrize("fmt", GEO_OUTPUTS)
def test_zero_zero_without_accuracy_is_no_location_but_the_equator_is(fmt):
    base = load(GEO_PAGES[0]).photos[0]
    nowhere = dataclasses.replace(base, id="1000001", latitude=0.0, longitude=0.0, accuracy=0)
    equator = dataclasses.replace(base, id="1000002", latitude=0.0, longitude=32.58, accuracy=16)
    null_island = dataclasses.replace(base, id="1000003", latitude=0.0, longitude=0.0, accuracy=16)
    body = FORMATS[fmt].render(with_photos(load(GEO_PAGES[0]), nowhere, equator, null_island), CTX)
    assert located_ids(fmt, body) == {"1000002", "1000003"}


# ---------------------------------------------------------------- through the API


class FakeUpstream:
    """Answers every call with one recorded page and remembers the calls."""

    name = "fake"

    def __init__(self, page: Page) -> None:
        self.page, self.calls = page, []

    def photos(self, method, args):
        self.calls.append((method, dict(args)))
        return self.page


@pytest.fixture
def api():
    app = create_app({"TESTING": True, "MAX_PER_PAGE": 500, "CACHE_TTL": 900, "API_KEYS": "k3y"})
    upstream = FakeUpstream(load(GEO_PAGES[0]))
    app.extensions["gateway.upstream"] = upstream
    return app.test_client(), upstream


@pytest.mark.parametrize("fmt", ["feed-rss_100", "feed-geordf", "feed-kml", "feed-kml_nl", "feed-geojson"])
def test_api_serves_the_new_formats(api, fmt):
    client, _ = api
    r = client.get("/services/rest/", query_string={"method": "flickr.photos.search", "tags": "botany",
                                                    "format": fmt, "api_key": "k3y"})
    assert r.status_code == 200
    assert r.mimetype == {"feed-rss_100": "application/rdf+xml", "feed-geordf": "application/rdf+xml",
                          "feed-geojson": "application/geo+json"}.get(fmt, "application/vnd.google-earth.kml+xml")
    # The caller's own key only in links a machine follows (self, paging, the network link's href).
    assert b"k3y" not in r.data.replace(b"api_key=k3y", b"")


def network_link(client, **query):
    r = client.get("/services/rest/", query_string={**query, "format": "feed-kml_nl", "api_key": "k3y"})
    assert r.status_code == 200
    root = etree.fromstring(r.data)
    assert kml_errors(r.data) == ""
    (nl,) = root.findall("k:Document/k:NetworkLink", KML_NS)  # in a container: GDAL/QGIS open nothing else
    assert root.findtext("k:NetworkLinkControl/k:minRefreshPeriod", namespaces=KML_NS) == "900"
    link = {el.tag.removeprefix(KML): el.text for el in nl.find("k:Link", KML_NS)}
    assert link["refreshMode"] == "onInterval" and link["refreshInterval"] == "900"
    # Google Earth refreshes with the href alone: it carries the caller's key, nothing else of theirs.
    assert "api_key=k3y" in link["href"] and "format=feed-kml&" in link["href"] + "&"
    assert "oauth" not in link["href"] and "api_sig" not in link["href"] and "auth_token" not in link["href"]
    return link


def test_network_link_asks_google_earth_for_the_bbox_in_view(api):
    client, upstream = api
    link = network_link(client, method="flickr.photos.search", tags="botany")
    assert link["viewRefreshMode"] == "onStop"
    assert 1 <= float(link["viewRefreshTime"]) <= 2
    assert link["viewFormat"] == "bbox=[bboxWest],[bboxSouth],[bboxEast],[bboxNorth]"
    # What Google Earth fetches after panning: the href, "&", the view filled in.
    view = {"[bboxWest]": "-10.5", "[bboxSouth]": "40.25", "[bboxEast]": "3", "[bboxNorth]": "45.125"}
    query = link["viewFormat"]
    for token, value in view.items():
        query = query.replace(token, value)
    r = client.get(f"{link['href']}&{query}")  # no other credentials: what Google Earth sends
    assert r.status_code == 200 and r.mimetype == "application/vnd.google-earth.kml+xml"
    assert kml_errors(r.data) == ""
    method, args = upstream.calls[-1]
    assert method == "flickr.photos.search"
    assert args["bbox"] == "-10.5,40.25,3,45.125" and args["tags"] == "botany"


@pytest.mark.parametrize("query", [
    {"method": "flickr.photos.search", "tags": "botany", "bbox": "-10,40,3,45"},
    {"method": "flickr.photos.search", "lat": "48.85", "lon": "2.35"},
    {"method": "flickr.groups.pools.getPhotos", "group_id": "31849566@N00"},
])
def test_network_link_leaves_fixed_areas_and_bboxless_methods_alone(api, query):
    link = network_link(api[0], **query)
    assert link["viewFormat"] is None  # present and empty: Google Earth appends nothing
    assert "viewRefreshMode" not in link
