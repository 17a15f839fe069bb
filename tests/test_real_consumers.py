"""Every format read by the programs people read it with, asserting what a person sees.

Feed readers' parsers: feedparser, sfeed, rsstail, Perl XML::Feed and XML::FeedPP,
rss-parser, feed-extractor. RDF: rapper. GIS: gpsbabel, GDAL (ogr2ogr), fastkml,
geopandas, togeojson. The photos are in tests/realconsumers.py: one taken at 08:15
in Tokyo (which every format must state as 08:15+09:00, or as 08:15 local where a
format claims no zone), one in Paris with 24 tags, one in Denver in winter, one
without a place (its time stays zone-less everywhere: no offset is invented).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import feedparser
import pytest
from conftest import flickr_xml
from lxml import etree
from realconsumers import (
    DENVER,
    GALLERY,
    GEOTAGGED,
    INSTANTS,
    NO_PLACE,
    OWNER,
    OWNERNAME,
    PARIS,
    PHOTOS,
    TOKYO,
    by_id,
    js,
    need,
    need_module,
    need_perl,
    page_url,
    run,
)

from gateway import create_app

FEEDS = ("feed-rss_200", "feed-atom_10", "feed-rss_100", "feed-georss", "feed-geoatom", "feed-geordf")
MEDIA_RSS = ("feed-rss_200", "feed-atom_10", "feed-georss", "feed-geoatom")  # media:content, enclosures
RDF = ("feed-rss_100", "feed-geordf")
EXTENSION = {"feed-kml": "kml", "feed-kml_nl": "kml", "feed-geojson": "geojson"}
CALL = {"method": "flickr.people.getPublicPhotos", "user_id": OWNER}
GALLERY_CALL = {"method": "flickr.galleries.getPhotos", "gallery_id": GALLERY["gallery_id"]}
KEY = "reader-key-1"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    """An app on a library holding PHOTOS (and a gallery of two of them), keys required."""
    folder = tmp_path_factory.mktemp("consumers")
    app = create_app({"LIBRARY_PATH": str(folder / "lib.sqlite"), "IMAGE_CACHE": str(folder / "images"), "DEMO": 0,
                      "API_KEYS": KEY})
    photos = folder / "photos.xml"
    photos.write_bytes(flickr_xml(list(PHOTOS), attrs={"page": 1, "pages": 1, "perpage": 100, "total": len(PHOTOS)}))
    gallery = folder / "gallery.xml"
    gallery.write_bytes(flickr_xml([TOKYO, PARIS], attrs={"page": 1, "pages": 1, "perpage": 10, "total": 2},
                                   gallery=GALLERY))
    cli = app.test_cli_runner()
    for path, call in ((photos, []), (gallery, ["--call", "method=flickr.galleries.getPhotos&gallery_id="
                                                + GALLERY["gallery_id"]])):
        result = cli.invoke(args=["library", "import", str(path), *call])
        assert result.exit_code == 0, result.output
    yield app, folder
    app.extensions["gateway.upstream"].close()


def document(gateway, fmt: str, call: dict | None = None) -> Path:
    """The gateway's answer in this format, saved as a file the way a person saves a download."""
    app, folder = gateway
    response = app.test_client().get("/services/rest/", query_string={**(call or CALL), "format": fmt,
                                                                       "api_key": KEY})
    assert response.status_code == 200, response.headers.get("X-FlickrErrMessage")
    path = folder / f"{fmt}-{len(call or CALL)}.{EXTENSION.get(fmt, 'xml')}"
    path.write_bytes(response.data)
    return path


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_taken(photo: dict, text: str) -> None:
    """The photo's time as a reader states it: the instant at its place, or the camera's clock, zone-less."""
    if photo["id"] in INSTANTS:
        assert instant(text) == INSTANTS[photo["id"]], (photo["title"], text)
        assert instant(text).utcoffset() is not None
    else:
        assert text == photo["datetaken"].replace(" ", "T"), (photo["title"], text)  # never an invented offset


def tags(photo: dict, fmt: str) -> list[str]:
    """The tags a reader shows as separate tags: all of them (the geo formats for GIS: the first 20)."""
    words = photo["tags"].split()
    return words[:20] if fmt in ("feed-georss", "feed-geoatom") else words


# ---------------------------------------------------------------- feed readers


@pytest.mark.parametrize("fmt", FEEDS)
def test_feedparser(gateway, fmt):
    feed = feedparser.parse(document(gateway, fmt).read_bytes())
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert [e.title for e in feed.entries] == [p["title"] for p in PHOTOS]
    for entry, photo in zip(feed.entries, PHOTOS, strict=True):
        assert entry.link == page_url(photo)
        assert [t.term for t in entry.get("tags", [])] == tags(photo, fmt)  # each tag its own, no junk tag
        assert_taken(photo, entry["dc_date.taken"])
        assert entry["flickr_date_taken"] == entry["dc_date.taken"]
        assert photo["url_m"] in entry.summary  # the image readers show, in the entry HTML
        if fmt in MEDIA_RSS:
            assert [m["url"] for m in entry.media_content] == [photo["url_l"]]
            assert [m["url"] for m in entry.media_thumbnail] == [photo["url_sq"]]
            assert [e.href for e in entry.enclosures] == [photo["url_l"]]
        else:  # RSS 1.0: no attachment a reader could misread (Tiny Tiny RSS stored https://www.flickr.com/)
            assert entry.enclosures == [] and "media_content" not in entry
        if fmt.startswith("feed-geo") and photo in GEOTAGGED:
            lon, lat = entry.where["coordinates"]
            assert (lat, lon) == pytest.approx((float(photo["latitude"]), float(photo["longitude"])))


@pytest.mark.parametrize("fmt", FEEDS)
def test_sfeed(gateway, fmt):
    need("sfeed")
    rows = [line.split("\t") for line in run("sfeed", stdin=document(gateway, fmt).read_bytes()).splitlines()]
    assert [r[1] for r in rows] == [p["title"] for p in PHOTOS]
    for row, photo in zip(rows, PHOTOS, strict=True):
        timestamp, _title, link, _content, _type, _id, _author, enclosure, categories = row
        assert int(timestamp) == int(photo["dateupload"]) and link == page_url(photo)
        if fmt in MEDIA_RSS:
            assert enclosure == photo["url_l"]
            assert categories.split("|") == tags(photo, fmt)
        else:
            assert enclosure == ""  # sfeed reads no RSS 1.0 attachment: none that points anywhere wrong


@pytest.mark.parametrize("fmt", ["feed-rss_200", "feed-rss_100", "feed-georss"])
def test_rsstail(gateway, fmt):
    need("rsstail")
    out = run("rsstail", "-1", "-N", "-l", "-u", document(gateway, fmt).as_uri())
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    assert [t for t in lines if not t.startswith("http")] == [p["title"] for p in PHOTOS]
    assert [t for t in lines if t.startswith("http")] == [page_url(p) for p in PHOTOS]


@pytest.mark.parametrize("reader", ["XML::Feed", "XML::FeedPP"])
@pytest.mark.parametrize("fmt", ["feed-rss_200", "feed-atom_10", "feed-rss_100", "feed-geordf"])
def test_perl(gateway, fmt, reader):
    need("perl")
    need_perl(reader)
    script = Path(__file__).resolve().parent / "perl" / "read.pl"
    feed = json.loads(run("perl", str(script), reader, str(document(gateway, fmt))))
    assert [i["title"] for i in feed["items"]] == [p["title"] for p in PHOTOS]
    for item, photo in zip(feed["items"], PHOTOS, strict=True):
        assert item["link"] == page_url(photo)
        assert item["categories"] == photo["tags"].split()
        if reader == "XML::Feed":
            assert item["enclosures"] == ([photo["url_l"]] if fmt in MEDIA_RSS else [])
        elif fmt in MEDIA_RSS:  # XML::FeedPP reads Media RSS, in Atom too
            assert (item["media_content"], item["media_thumbnail"]) == (photo["url_l"], photo["url_sq"])


@pytest.mark.parametrize("fmt", RDF)
def test_rapper(gateway, fmt):
    need("rapper")
    # rapper exits non-zero on any RDF/XML error (an unqualified attribute, a bad rdf:resource).
    triples = run("rapper", "-q", "-i", "rdfxml", "-o", "ntriples", str(document(gateway, fmt)))
    dc = "http://purl.org/dc/elements/1.1/"
    for photo in PHOTOS:
        item = f"<{page_url(photo)}>"
        subjects = re.findall(rf'^{re.escape(item)} <{dc}subject> "([^"]*)" \.$', triples, re.M)
        assert sorted(subjects) == sorted(photo["tags"].split())  # one subject per tag, none joined
        (taken,) = re.findall(rf'^{re.escape(item)} <{dc}date.Taken> "([^"]*)" \.$', triples, re.M)
        assert_taken(photo, taken)
        assert f'{item} <http://xmlns.com/foaf/0.1/depiction> <{photo["url_l"]}> .' in triples


@pytest.mark.parametrize("fmt", ["feed-rss_200", "feed-atom_10", "feed-rss_100"])
def test_rss_parser(gateway, fmt):
    feed = js("rss-parser", document(gateway, fmt))
    assert [i["title"] for i in feed["items"]] == [p["title"] for p in PHOTOS]
    for item, photo in zip(feed["items"], PHOTOS, strict=True):
        assert item["link"] == page_url(photo)
        assert_taken(photo, item["dateTaken"])
        if fmt == "feed-rss_200":
            assert item["categories"] == photo["tags"].split()
        if fmt != "feed-rss_100":  # rss-parser finds images only in Media RSS (and RSS 2.0's enclosure)
            assert (item["mediaContent"], item["mediaThumbnail"]) == (photo["url_l"], photo["url_sq"])


@pytest.mark.parametrize("fmt", ["feed-rss_200", "feed-atom_10", "feed-rss_100"])
def test_feed_extractor(gateway, fmt):
    feed = js("feed-extractor", document(gateway, fmt))
    assert [(i["title"], i["link"]) for i in feed["items"]] == [(p["title"], page_url(p)) for p in PHOTOS]


# ---------------------------------------------------------------- GIS tools


def gpx_points(gpx: str) -> dict[str, dict]:
    ns = {"g": "http://www.topografix.com/GPX/1/0"}
    root = etree.fromstring(gpx.encode())
    return {w.findtext("g:name", namespaces=ns): {"lat": float(w.get("lat")), "lon": float(w.get("lon")),
                                                  "time": w.findtext("g:time", namespaces=ns)}
            for w in root.findall("g:wpt", ns)}


@pytest.mark.parametrize("fmt,reader", [("feed-kml", "kml"), ("feed-geojson", "geojson")])
def test_gpsbabel(gateway, fmt, reader):
    need("gpsbabel")
    points = gpx_points(run("gpsbabel", "-i", reader, "-f", str(document(gateway, fmt)), "-o", "gpx", "-F", "-"))
    assert set(points) == {p["title"] for p in GEOTAGGED}  # named by title, not by the description HTML
    for photo in GEOTAGGED:
        point = points[photo["title"]]
        assert (point["lat"], point["lon"]) == pytest.approx((float(photo["latitude"]), float(photo["longitude"])))
        if reader == "kml":  # gpsbabel reads KML's <when>; its GeoJSON reader reads no times
            assert instant(point["time"]) == INSTANTS[photo["id"]]


def ogr_features(path: Path) -> list[dict]:
    """The features GDAL reads from a file, as GeoJSON (ogr2ogr, Debian's gdal-bin)."""
    need("ogr2ogr")
    return json.loads(run("ogr2ogr", "-f", "GeoJSON", "/vsistdout/", str(path)))["features"]


@pytest.mark.parametrize("fmt,name,taken", [("feed-kml", "Name", "timestamp"), ("feed-geojson", "name", "datetaken"),
                                            ("feed-georss", "title", "flickr_date_taken"),
                                            ("feed-geoatom", "title", "flickr_date_taken")])
def test_gdal(gateway, fmt, name, taken):
    features = [f for f in ogr_features(document(gateway, fmt)) if f["geometry"]]
    assert [f["properties"][name] for f in features] == [p["title"] for p in GEOTAGGED]
    for feature, photo in zip(features, GEOTAGGED, strict=True):
        lon, lat = feature["geometry"]["coordinates"][:2]
        assert (lat, lon) == pytest.approx((float(photo["latitude"]), float(photo["longitude"])))
        assert_taken(photo, feature["properties"][taken])
        assert len(feature["properties"]) < 100  # GDAL's column limit
    if fmt in ("feed-georss", "feed-geoatom"):  # the photo without a place is an entry without geometry
        (unplaced,) = [f for f in ogr_features(document(gateway, fmt)) if not f["geometry"]]
        assert_taken(NO_PLACE, unplaced["properties"][taken])


def test_gdal_and_geopandas_open_the_network_link(gateway):
    need("ogrinfo")
    path = document(gateway, "feed-kml_nl")
    assert "Feature Count: 0" in run("ogrinfo", "-ro", "-al", "-so", str(path))
    pyogrio = need_module("pyogrio")
    assert [str(name) for name, _type in pyogrio.list_layers(path)] == [f"Photos from {OWNERNAME}"]


def kml_document(root):
    """The one <Document> under <kml> (fastkml lists NetworkLinkControl beside it)."""
    (container,) = [f for f in root.features if type(f).__name__ == "Document"]
    return container


def test_fastkml(gateway):
    kml = need_module("fastkml.kml")
    placemarks = list(kml_document(kml.KML.from_string(document(gateway, "feed-kml").read_bytes())).features)
    assert [p.name for p in placemarks] == [p["title"] for p in GEOTAGGED]
    for placemark, photo in zip(placemarks, GEOTAGGED, strict=True):
        assert placemark.times.timestamp.dt == INSTANTS[photo["id"]]
        assert placemark.times.timestamp.dt.utcoffset() == INSTANTS[photo["id"]].utcoffset()
        assert (placemark.geometry.y, placemark.geometry.x) == pytest.approx(
            (float(photo["latitude"]), float(photo["longitude"])))
    # The network link inside a container, its href the same call as feed-kml that Google Earth can refresh.
    (link,) = kml_document(kml.KML.from_string(document(gateway, "feed-kml_nl").read_bytes())).features
    assert type(link).__name__ == "NetworkLink"
    href = link.link.href
    assert parse_qs(urlsplit(href).query) == {"method": [CALL["method"]], "user_id": [OWNER], "format": ["feed-kml"],
                                              "api_key": [KEY]}
    app, _ = gateway
    refresh = app.test_client().get(href)  # what Google Earth sends: the href, nothing else
    assert refresh.status_code == 200 and len(kml_document(kml.KML.from_string(refresh.data)).features) == 3


def test_geopandas(gateway):
    geopandas = need_module("geopandas")
    frame = geopandas.read_file(document(gateway, "feed-geojson"))
    assert list(frame["name"]) == [p["title"] for p in GEOTAGGED]
    for (_, row), photo in zip(frame.iterrows(), GEOTAGGED, strict=True):
        assert (row.geometry.y, row.geometry.x) == pytest.approx((float(photo["latitude"]), float(photo["longitude"])))
        assert_taken(photo, str(row["datetaken"]).replace(" ", "T"))
    kml = geopandas.read_file(document(gateway, "feed-kml"))
    assert list(kml["Name"]) == [p["title"] for p in GEOTAGGED]


def test_togeojson(gateway):
    collection = js("togeojson", document(gateway, "feed-kml"))
    features = collection["features"]
    assert [f["properties"]["name"] for f in features] == [p["title"] for p in GEOTAGGED]
    for feature, photo in zip(features, GEOTAGGED, strict=True):
        lon, lat = feature["geometry"]["coordinates"][:2]
        assert (lat, lon) == pytest.approx((float(photo["latitude"]), float(photo["longitude"])))
        assert instant(feature["properties"]["timestamp"]) == INSTANTS[photo["id"]]


# ---------------------------------------------------------------- set titles, links machines follow


@pytest.mark.parametrize("fmt", ["feed-atom_10", "feed-rss_200", "feed-rss_100"])
def test_a_gallery_feed_is_titled_and_linked_by_the_gallery(gateway, fmt):
    feed = feedparser.parse(document(gateway, fmt, GALLERY_CALL).read_bytes())
    assert feed.feed.title == f"Photos from gallery \u201c{GALLERY['title']}\u201d by {GALLERY['username']}"
    # On the library upstream the feed's page is the gateway's page of the gallery (api._link).
    assert feed.feed.link == f"http://localhost/galleries/{GALLERY['url'].rstrip('/').rsplit('/', 1)[1]}/"
    assert gateway[0].test_client().get(feed.feed.link).status_code == 200
    assert [e.title for e in feed.entries] == [TOKYO["title"], PARIS["title"]]


def test_links_a_reader_follows_carry_the_callers_key_and_nothing_else(gateway):
    app, _ = gateway
    client = app.test_client()
    query = {**CALL, "format": "feed-atom_10", "per_page": "1", "api_key": KEY, "auth_token": "secret-token",
             "api_sig": "secret-sig", "oauth_token": "secret-oauth"}
    feed = feedparser.parse(client.get("/services/rest/", query_string=query).data)
    links = {link.rel: link.href for link in feed.feed.links}
    assert {"self", "next", "last"} <= set(links)
    for rel in ("self", "next", "last"):
        args = parse_qs(urlsplit(links[rel]).query)
        assert args["api_key"] == [KEY] and not {"auth_token", "api_sig", "oauth_token"} & set(args)
    # A reader walking the pages sends only the link: every page answers.
    seen, url = [], links["self"]
    while url:
        page = feedparser.parse(client.get(url).data)
        assert page.bozo == 0 and page.entries, url
        seen.append(page.entries[0].title)
        url = next((link.href for link in page.feed.links if link.rel == "next"), None)
    assert seen == [p["title"] for p in PHOTOS]
    # The page that offers Google Earth the network link hands back the same key.
    download = client.get("/download.kml", query_string={**CALL, "api_key": KEY})
    assert download.status_code == 200 and f"api_key={KEY}".encode() in download.data


def test_without_required_keys_links_carry_no_key(tmp_path):
    app = create_app({"LIBRARY_PATH": str(tmp_path / "lib.sqlite"), "DEMO": 0})
    body = app.test_client().get("/services/rest/", query_string={**CALL, "format": "feed-kml_nl",
                                                                  "api_key": "anything"}).data
    assert b"api_key" not in body and b"anything" not in body


def test_names_people_see(gateway):
    """Titles and owners as a map tool lists them: GeoJSON `name`, KML <name>, the owner's name."""
    collection = json.loads(document(gateway, "feed-geojson").read_bytes())
    assert [f["properties"]["name"] for f in collection["features"]] == [p["title"] for p in GEOTAGGED]
    assert {f["properties"]["ownername"] for f in collection["features"]} == {OWNERNAME}
    assert by_id(DENVER["id"]) is DENVER


@pytest.mark.parametrize("fmt", ["feed-atom_10", "feed-kml"])
def test_from_flickr_the_gallery_feed_is_titled_by_the_gallery(make_app, replay, fmt):
    """The flickr upstream asks galleries.getPhotos for get_gallery_info=1 (the recorded call did)."""
    app = make_app(UPSTREAM="flickr", FLICKR_API_KEY="k" * 32, FLICKR_API_SECRET="s" * 16,
                   FLICKR_REST_URL=replay.url, MAX_PER_PAGE=10)
    response = app.test_client().get("/services/rest/", query_string={
        "method": "flickr.galleries.getPhotos", "gallery_id": "72157720932863274", "format": fmt})
    assert response.status_code == 200, response.headers.get("X-FlickrErrMessage")
    assert replay.calls[-1].params["get_gallery_info"] == "1"
    title = "Photos from gallery \u201cNrjksvm/Hppaotq\u201d by alclaifgirogz"
    if fmt == "feed-atom_10":
        feed = feedparser.parse(response.data)
        assert feed.feed.title == title
        assert feed.feed.link == "https://www.flickr.com/photos/cqpilrs/galleries/72157720932863274/"
    else:
        kml = need_module("fastkml.kml")
        assert kml_document(kml.KML.from_string(response.data)).name == title
