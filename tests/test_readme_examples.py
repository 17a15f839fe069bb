"""Every example feed URL in README's "Feeds to subscribe to" answers what its row says.

The first table runs on the demo library (an empty library on its first request), the
second on the recorded responses imported as the README says. Each answer is read by its
consumer (feedparser, rdflib, the OGC KML schema, json), must hold photos, and must match
the row's words: "(N px images)" is the long edge of every enclosure image, "tagged X"
holds only photos tagged X, "with their places" / "on a map" / GeoJSON carry points,
"around …" lies within the radius, "newest first" is in upload order, "most viewed" in views.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import feedparser
import pytest
import rdflib
from consumers import assert_readable
from lxml import etree

from gateway import create_app

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Feeds to subscribe to"
SPLIT = "With the recorded responses imported"
ROW = re.compile(r"^\| (.+?) \| `(/services/rest/\?[^`]+)` \|$", re.M)
KML = "{http://www.opengis.net/kml/2.2}"
RSS1_ITEM = rdflib.URIRef("http://purl.org/rss/1.0/item")


def section() -> str:
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        if HEADING in text:
            return text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    raise AssertionError(f"no {HEADING!r} in README.md or docs/")


DEMO_PART, RECORDED_PART = section().split(SPLIT, 1)
DEMO = ROW.findall(DEMO_PART)
RECORDED = ROW.findall(RECORDED_PART)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    where = tmp_path_factory.mktemp("demo")
    app = create_app({"LIBRARY_PATH": str(where / "lib.sqlite"), "IMAGE_CACHE": str(where / "images"), "DEMO": 1})
    yield app.test_client()
    app.extensions["gateway.upstream"].close()


@pytest.fixture(scope="module")
def recorded(recorded_library, tmp_path_factory):
    app = create_app({"LIBRARY_PATH": recorded_library.path, "DEMO": 0,
                      "IMAGE_CACHE": str(tmp_path_factory.mktemp("images"))})
    yield app.test_client()
    app.extensions["gateway.upstream"].close()


def photos(fmt: str, body: bytes) -> list[dict]:
    """Each photo of the answer as {tags, point (lat, lon) or None, image (w, h) or None, published}."""
    if fmt in ("feed-atom_10", "feed-rss_200", "feed-georss", "feed-geoatom"):
        out = []
        for e in feedparser.parse(body).entries:
            where = e.get("where")
            media = [(int(m["width"]), int(m["height"])) for m in e.get("media_content", []) if "width" in m]
            out.append({"tags": {t.term for t in e.get("tags", [])} | set(" ".join(
                t.term for t in e.get("tags", [])).split()),
                "point": (where["coordinates"][1], where["coordinates"][0]) if where else None,
                "image": media[0] if media else None, "published": e.get("published_parsed")})
        return out
    if fmt == "feed-rss_100":
        graph = rdflib.Graph().parse(data=body, format="xml")
        return [{"tags": set(), "point": None, "image": None, "published": None}
                for _ in graph.subjects(rdflib.RDF.type, RSS1_ITEM)]
    if fmt == "feed-kml":
        root = etree.fromstring(body)
        out = []
        for mark in root.iter(f"{KML}Placemark"):
            lon, lat = map(float, mark.findtext(f".//{KML}coordinates").split(",")[:2])
            data = {d.get("name"): d.findtext(f"{KML}value") for d in mark.iter(f"{KML}Data")}
            out.append({"tags": set((data.get("tags") or "").split()), "point": (lat, lon), "image": None,
                        "published": None})
        return out
    if fmt == "feed-geojson":
        return [{"tags": set(f["properties"].get("tags") or []) if isinstance(f["properties"].get("tags"), list)
                 else set((f["properties"].get("tags") or "").split()),
                 "point": (f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0]), "image": None,
                 "published": None} for f in json.loads(body)["features"]]
    if fmt == "json":
        return [{"tags": set(p.get("tags", "").split()), "point": None, "image": None, "published": None, **p}
                for p in json.loads(body)["photos"]["photo"]]
    raise AssertionError(f"no reader for {fmt}")


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lat1, lon1), (lat2, lon2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def check(client, what: str, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 200 and "X-FlickrErrCode" not in r.headers, (r.status_code, r.headers)
    assert_readable(r.headers["Content-Type"], r.data)
    args = dict(parse_qsl(urlsplit(url).query))
    fmt = args["format"]
    if fmt == "feed-kml_nl":
        href = etree.fromstring(r.data).findtext(f".//{KML}NetworkLink/{KML}Link/{KML}href")
        feed = urlsplit(href)
        assert "format=feed-kml" in feed.query and "bboxWest" in r.data.decode(), r.data[:500]
        check(client, "the network link's own feed", f"{feed.path}?{feed.query}")  # must hold photos too
        return
    found = photos(fmt, r.data)
    assert found, f"{what}: no photos"
    if px := re.search(r"\((\d+) px images", what):
        sizes = {max(p["image"]) for p in found}
        assert sizes == {int(px.group(1))}, f"{what}: long edges {sorted(sizes)}"
    tag = args.get("tags") if re.fullmatch(r"\w+", args.get("tags", "")) else None
    if tag and fmt != "feed-rss_100":  # RSS 1.0 read as RDF: its dc:subject are checked by the format tests
        untagged = [p for p in found if tag not in p["tags"]]
        assert not untagged, f"{what}: {len(untagged)} photos without the tag {tag}"
    if re.search(r"places|on a map|GeoJSON|around", what) or fmt in ("feed-kml", "feed-geojson"):
        assert any(p["point"] for p in found), f"{what}: no places"
    if "lat" in args and "lon" in args:
        centre, radius = (float(args["lat"]), float(args["lon"])), float(args.get("radius", 5))
        far = [p["point"] for p in found if km(centre, p["point"]) > radius + 0.01]
        assert not far, f"{what}: {far[:3]} outside {radius} km"
    if "newest first" in what:
        dates = [p["published"] for p in found]
        assert dates == sorted(dates, reverse=True), what
    for extra in ("url_m", "url_o") if "extras" in args else ():
        if extra in args["extras"].split(","):
            assert any(extra in p for p in found), f"{what}: no {extra}"
    if "image URLs" in what:
        assert all("url_m" in p for p in found), what
    if "most viewed" in what:  # the same call with the views shown
        views = [int(p["views"]) for p in photos("json", client.get(f"{url},views").data)]
        assert views == sorted(views, reverse=True) and views[0] > 0, views


def test_the_readme_has_examples_for_both_libraries():
    assert len(DEMO) >= 5 and len(RECORDED) >= 5, (DEMO, RECORDED)


@pytest.mark.parametrize(("what", "url"), DEMO, ids=[what for what, _ in DEMO])
def test_demo_examples(demo, what, url):
    check(demo, what, url)


@pytest.mark.parametrize(("what", "url"), RECORDED, ids=[what for what, _ in RECORDED])
def test_recorded_examples(recorded, what, url):
    check(recorded, what, url)
