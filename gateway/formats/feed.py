"""What every feed format shares: the render context, namespaces, dates,
the pagination element and the per-photo values (ids, enclosure, tags)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from types import MappingProxyType

from lxml import etree

from ..model import Page, Photo, Size, best_image, image, image_type, video_url
from ..safexml import clean

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "flickr": "urn:flickr:",
    "media": "http://search.yahoo.com/mrss/",
    "creativeCommons": "http://cyber.law.harvard.edu/rss/creativeCommonsRssModule.html",
    "georss": "http://www.georss.org/georss",
    "geo": "http://www.w3.org/2003/01/geo/wgs84_pos#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rss": "http://purl.org/rss/1.0/",
    "kml": "http://www.opengis.net/kml/2.2",
}
GENERATOR = "Flickr feed gateway"
GENERATOR_URI = "https://www.flickr.com/"
TAG_SCHEME = "https://www.flickr.com/photos/tags/"
# Sizes a `size=` argument may ask for (SPEC 3.2): photo frames want big images.
ENCLOSURE_SIZES = {"z", "b", "h", "k", "o"}
DEFAULT_SIZE = "b"
# The geo formats are read by GIS tools that make a column of each repeated
# element and stop at 100 columns: they carry at most this many tag elements.
GEO_TAG_LIMIT = 20


@dataclass(frozen=True)
class FeedContext:
    """Everything a renderer needs besides the page: pure data, no Flask."""

    method: str
    args: Mapping[str, str]  # the call's own arguments (as the upstream got them)
    title: str
    link: str  # the matching flickr.com page
    self_url: str  # absolute URL of this request, caller credentials removed
    feed_id: str  # stable: the call without page/format/credentials
    size: str = DEFAULT_SIZE
    ttl: int = 300
    extras: frozenset[str] = frozenset()  # `rest`/`json`: the extras the caller asked for
    jsoncallback: str | None = None  # `json`: wrapper function name, None for bare JSON
    page_urls: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # first/previous/next/last
    kml_url: str = ""  # `feed-kml_nl`: the same call as feed-kml
    view_bbox: bool = False  # `feed-kml_nl`: ask Google Earth for the bbox in view


# ---------------------------------------------------------------- dates


def rfc3339(unix: int | None) -> str:
    return datetime.fromtimestamp(unix or 0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc822(unix: int | None) -> str:
    # email.utils, not feedgen's helper: that one calls locale.setlocale on
    # the whole process, which is unsafe under threaded workers.
    return format_datetime(datetime.fromtimestamp(unix or 0, UTC), usegmt=True)


_TAKEN = re.compile(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)")


def taken_local(photo: Photo) -> str:
    """Date taken as xsd:dateTime without zone ("2023-07-22T08:15:00"), '' when unknown or invalid.

    Flickr stores the camera's local time with no zone.
    """
    m = _TAKEN.fullmatch(photo.datetaken)
    if not m or m.group(1) == "0000" or m.group(2) == "00" or m.group(3) == "00":
        return ""
    return "{}-{}-{}T{}:{}:{}".format(*m.groups())


def taken_w3c(photo: Photo) -> str:
    """Date taken as Flickr's feeds printed it: local time with a fixed -08:00 suffix."""
    local = taken_local(photo)
    return f"{local}-08:00" if local else ""


# ---------------------------------------------------------------- per photo


def entry_id(photo: Photo) -> str:
    return f"tag:flickr.com,2005:/photo/{photo.id}"


def published(photo: Photo) -> int:
    return photo.dateupload or photo.lastupdate or 0


def updated(photo: Photo) -> int:
    return photo.lastupdate or photo.dateupload or 0


def feed_updated(page: Page) -> int:
    return page.updated


@dataclass(frozen=True, slots=True)
class Enclosure:
    url: str
    type: str
    medium: str  # Media RSS: image | video
    width: int
    height: int


def enclosure(photo: Photo, size: str) -> Enclosure | None:
    """The one rendition a feed item points at: the `size=` image, or the video page for videos."""
    if photo.is_video:
        poster = best_image(photo, size)
        return Enclosure(video_url(photo), "video/mp4", "video", poster.width if poster else 0,
                         poster.height if poster else 0)
    img = best_image(photo, size)
    if img is None:
        return None
    return Enclosure(img.url, image_type(img), "image", img.width, img.height)


def thumbnail(photo: Photo) -> Size | None:
    """The 75 px square Flickr's feeds used as media:thumbnail."""
    return image(photo, "s")


def medium(photo: Photo) -> Size | None:
    """The image shown in the entry HTML: Flickr's Medium (500 px), else the nearest smaller."""
    return best_image(photo, "")


# ---------------------------------------------------------------- XML helpers


def sub(parent: etree._Element, tag: str, text: object = None, **attrs: object) -> etree._Element:
    """SubElement with cleaned text and attributes; `tag` may be "prefix:name"."""
    el = etree.SubElement(parent, qname(tag))
    for key, value in attrs.items():
        if value is not None:
            el.set(qname(key.replace("__", ":")), clean(value))
    if text is not None:
        el.text = clean(text)
    return el


_QNAMES: dict[str, str] = {}


def qname(tag: str) -> str:
    """"prefix:name" → "{namespace}name"; plain and already-qualified names unchanged."""
    try:
        return _QNAMES[tag]
    except KeyError:
        prefix, _, local = tag.rpartition(":")
        _QNAMES[tag] = f"{{{NS[prefix]}}}{local}" if prefix and tag[0] != "{" else tag
        return _QNAMES[tag]


def pagination_element(parent: etree._Element, page: Page) -> etree._Element:
    """<flickr:pagination total page pages per_page/> (RSS 2.0, Atom, KML)."""
    return sub(parent, "flickr:pagination", total=page.total, page=page.page, pages=page.pages, per_page=page.perpage)


def flickr_extras(parent: etree._Element, photo: Photo) -> None:
    """flickr:views and flickr:original, where Flickr told us."""
    if photo.views is not None:
        sub(parent, "flickr:views", photo.views)
    original = image(photo, "o")
    if original is not None:
        sub(parent, "flickr:original", type=photo.originalformat, href=original.url,
            width=original.width or None, height=original.height or None)


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")
