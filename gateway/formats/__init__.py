"""FORMATS: every output format the gateway serves, in one dict (SPEC section 3).

A renderer is a pure function render(page, ctx) -> bytes: no Flask, no network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from ..model import Page
from . import atom, geojson, kml, rest, rss1, rss2
from .feed import FeedContext


@dataclass(frozen=True)
class Format:
    content_type: str
    render: Callable[[Page, FeedContext], bytes]
    # Feed formats answer failures with HTTP 400 + X-FlickrErr* headers;
    # rest/json with Flickr's own envelope and HTTP 200.
    is_feed: bool = True


KML_TYPE = "application/vnd.google-earth.kml+xml"
FORMATS: dict[str, Format] = {
    "feed-rss_100": Format("application/rdf+xml", rss1.render),
    "feed-rss_200": Format("application/rss+xml", rss2.render),
    "feed-atom_10": Format("application/atom+xml", atom.render),
    "feed-georss": Format("application/rss+xml", partial(rss2.render, with_geo=True)),
    "feed-geoatom": Format("application/atom+xml", partial(atom.render, with_geo=True)),
    "feed-geordf": Format("application/rdf+xml", partial(rss1.render, with_geo=True)),
    "feed-kml": Format(KML_TYPE, kml.render),
    "feed-kml_nl": Format(KML_TYPE, kml.render_network_link),
    "feed-geojson": Format("application/geo+json", geojson.render),
    "rest": Format("text/xml", rest.render_rest, is_feed=False),
    "json": Format("application/json", rest.render_json, is_feed=False),
}
JSONP_TYPE = "text/javascript"
