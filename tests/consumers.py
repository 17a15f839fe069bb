"""Each format read back by the program that reads it in the wild (DESIGN practice 7):
feedparser for RSS 2.0 and Atom, rdflib for RSS 1.0, the OGC schema for KML, json for the rest."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import feedparser
import rdflib
from lxml import etree

XSD = Path(__file__).resolve().parent / "schemas" / "kml22" / "ogckml22.xsd"  # the OGC schema, see its NOTICE
JSONP = re.compile(rb"([A-Za-z_$][A-Za-z0-9_$.]{0,63})\((.*)\)", re.S)


@functools.cache
def kml_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def kml_errors(body: bytes) -> str:
    """'' when the KML validates against the OGC schema once urn:flickr: elements are removed."""
    root = etree.fromstring(body)
    for el in list(root.iter("{urn:flickr:}*")):
        el.getparent().remove(el)
    schema = kml_schema()
    return "" if schema.validate(root) else str(schema.error_log)


def assert_readable(content_type: str, body: bytes) -> None:
    """Fail unless the body is what its Content-Type says, as its consumers read it."""
    mimetype = content_type.split(";")[0].strip()
    if mimetype in ("application/rss+xml", "application/atom+xml"):
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
    elif mimetype == "application/rdf+xml":
        graph = rdflib.Graph().parse(data=body, format="xml")
        assert len(graph) > 0
    elif mimetype == "application/vnd.google-earth.kml+xml":
        errors = kml_errors(body)
        assert not errors, errors
    elif mimetype == "application/geo+json":
        data = json.loads(body)
        assert data["type"] == "FeatureCollection" and set(data["pagination"]) == {"total", "page", "pages",
                                                                                     "per_page"}
    elif mimetype == "application/json":
        assert json.loads(body)["stat"] in ("ok", "fail")
    elif mimetype == "text/javascript":
        match = JSONP.fullmatch(body)
        assert match is not None, body[:200]
        assert json.loads(match[2])["stat"] in ("ok", "fail")
    elif mimetype == "text/xml":
        root = etree.fromstring(body)
        assert root.tag == "rsp" and root.get("stat") in ("ok", "fail")
    else:
        raise AssertionError(f"no consumer for {content_type!r}")
