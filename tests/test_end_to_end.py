"""Recorded Flickr calls imported into a real library, served in every format of
the registry and read back by the consumer each format is for."""

from __future__ import annotations

import json
import math

import feedparser
import pytest
import rdflib
from lxml import etree
from support import FIXTURES, INDEX, SCHEMAS

from gateway import create_app
from gateway.formats import FORMATS
from gateway.formats.feed import NS

CAP = 15
# One recorded call per method with geotagged photos where there are some.
CALLS = [
    ("flickr.photos.search", {"tags": "botany", "sort": "interestingness-desc"}),
    ("flickr.groups.pools.getPhotos", {"group_id": "66832458@N00"}),
    ("flickr.photosets.getPhotos", {"photoset_id": "72157624715342071", "user_id": "91178292@N00"}),
    ("flickr.galleries.getPhotos", {"gallery_id": "72157716953066942"}),
    ("flickr.people.getPublicPhotos", {"user_id": "132051449@N06"}),
]
RSS = "http://purl.org/rss/1.0/"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    path = tmp_path_factory.mktemp("e2e") / "library.sqlite"
    app = create_app({"LIBRARY_PATH": str(path), "MAX_PER_PAGE": CAP, "DEMO": 0})
    files = [str(FIXTURES / e["file"]) for e in INDEX if e["photos"] > 0]
    result = app.test_cli_runner().invoke(args=["library", "import", *files])
    assert result.exit_code == 0, result.output
    yield app.test_client()
    app.extensions["gateway.upstream"].close()


def photo_ids(fmt: str, body: bytes) -> tuple[list[str], dict]:
    """(photo ids in order, pagination) as the format's own consumer reads them."""
    if fmt in ("feed-rss_200", "feed-atom_10", "feed-georss", "feed-geoatom"):
        feed = feedparser.parse(body)
        assert feed.bozo == 0, feed.get("bozo_exception")
        root = etree.fromstring(body)
        pag = root.find("flickr:pagination", NS)
        if pag is None:
            pag = root.find("channel/flickr:pagination", NS)
        return [e.id.rsplit("/", 1)[1] for e in feed.entries], dict(pag.attrib)
    if fmt in ("feed-rss_100", "feed-geordf"):
        graph = rdflib.Graph().parse(data=body, format="xml")
        items = etree.fromstring(body).findall(f"{{{RSS}}}item")
        typed = set(graph.subjects(rdflib.RDF.type, rdflib.URIRef(RSS + "item")))
        assert {rdflib.URIRef(i.get(f"{{{NS['rdf']}}}about")) for i in items} == typed
        (node,) = graph.subjects(rdflib.RDF.type, rdflib.URIRef(RSS + "pagination"))
        pag = {k: str(graph.value(node, rdflib.URIRef(RSS + k))) for k in ("total", "page", "pages", "per_page")}
        return [i.get(f"{{{NS['rdf']}}}about").rstrip("/").rsplit("/", 1)[1] for i in items], pag
    if fmt == "feed-geojson":
        data = json.loads(body)
        assert data["type"] == "FeatureCollection"
        return [f["id"] for f in data["features"]], {k: str(v) for k, v in data["pagination"].items()}
    if fmt in ("feed-kml", "feed-kml_nl"):
        root = etree.fromstring(body)
        pag = dict(root.find("flickr:pagination", NS).attrib) if fmt == "feed-kml" else None
        for el in list(root.iter("{urn:flickr:}*")):
            el.getparent().remove(el)
        schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "kml22" / "ogckml22.xsd")))
        assert schema.validate(root), schema.error_log.last_error
        data = root.iterfind(".//kml:Placemark//kml:Data[@name='id']", NS)
        ids = [d.findtext("kml:value", namespaces=NS) for d in data]
        return ids, pag
    if fmt == "rest":
        wrapper = etree.fromstring(body)[0]
        pag = {"total": wrapper.get("total"), "page": wrapper.get("page"), "pages": wrapper.get("pages"),
               "per_page": wrapper.get("perpage")}
        return [p.get("id") for p in wrapper.iter("photo")], pag
    if fmt == "json":
        data = json.loads(body)
        wrapper = data.get("photos") or data["photoset"]
        pag = {"total": str(wrapper["total"]), "page": str(wrapper["page"]), "pages": str(wrapper["pages"]),
               "per_page": str(wrapper["perpage"])}
        return [p["id"] for p in wrapper["photo"]], pag
    raise AssertionError(f"no consumer check for {fmt}: add one here")


@pytest.mark.parametrize(("method", "args"), CALLS, ids=[c[0] for c in CALLS])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_reads_back(client, fmt, method, args):
    query = {"method": method, "format": fmt, "per_page": "100", "nojsoncallback": "1", **args}
    reference = client.get("/services/rest/", query_string={**query, "format": "json", "extras": "geo"})
    expected = json.loads(reference.data)
    wrapper = expected.get("photos") or expected["photoset"]
    expected_ids = [p["id"] for p in wrapper["photo"]]
    r = client.get("/services/rest/", query_string=query)
    assert r.status_code == 200, r.headers.get("X-FlickrErrMessage")
    assert r.mimetype == FORMATS[fmt].content_type
    ids, pag = photo_ids(fmt, r.data)
    if fmt == "feed-kml_nl":
        return
    assert pag == {"total": str(wrapper["total"]), "page": "1",
                   "pages": str(math.ceil(wrapper["total"] / CAP)), "per_page": str(CAP)}
    assert len(expected_ids) == min(CAP, wrapper["total"])
    if fmt in ("feed-kml", "feed-geojson"):
        geotagged = [p["id"] for p in wrapper["photo"]
                     if float(p["latitude"]) or float(p["longitude"]) or int(p["accuracy"])]
        assert ids == geotagged  # only geotagged photos, in order; pagination still counts them all
    else:
        assert ids == expected_ids


def test_empty_library_answers_every_format(tmp_path):
    app = create_app({"LIBRARY_PATH": str(tmp_path / "empty.sqlite"), "DEMO": 0})
    client = app.test_client()
    for fmt in FORMATS:
        r = client.get("/services/rest/", query_string={"method": "flickr.photos.search", "tags": "x",
                                                        "format": fmt, "nojsoncallback": "1"})
        assert r.status_code == 200, (fmt, r.headers.get("X-FlickrErrMessage"))
    app.extensions["gateway.upstream"].close()


def test_network_link_is_followable_as_google_earth_follows_it(client):
    # Google Earth appends "&bbox=west,south,east,north" of the view to the link's href.
    nl = client.get("/services/rest/", query_string={"method": "flickr.photos.search", "tags": "botany",
                                                     "format": "feed-kml_nl"})
    link = etree.fromstring(nl.data).find(".//kml:NetworkLink/kml:Link", NS)
    assert link.findtext("kml:viewFormat", namespaces=NS) == "bbox=[bboxWest],[bboxSouth],[bboxEast],[bboxNorth]"
    href = link.findtext("kml:href", namespaces=NS)
    everything = client.get(href.replace("http://localhost", "") + "&bbox=-180,-90,180,90")
    placemarks = etree.fromstring(everything.data).findall(".//kml:Placemark", NS)
    assert placemarks
    # A small view around one photo's point shows that photo; the view across the antimeridian does not.
    lon, lat = (float(v) for v in placemarks[0].findtext(".//kml:coordinates", namespaces=NS).split(","))
    view = f"&bbox={lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    near = etree.fromstring(client.get(href.replace("http://localhost", "") + view).data)
    ids = [p.get("id") for p in near.iterfind(".//kml:Placemark", NS)]
    assert placemarks[0].get("id") in ids
    far = f"&bbox={179 if lon < 0 else 170},{lat - 1},{-179 if lon < 0 else -170},{lat + 1}"
    response = client.get(href.replace("http://localhost", "") + far)
    assert response.status_code == 200 and response.mimetype == "application/vnd.google-earth.kml+xml"
    across = etree.fromstring(response.data)
    assert placemarks[0].get("id") not in [p.get("id") for p in across.iterfind(".//kml:Placemark", NS)]
