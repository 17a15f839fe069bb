"""What every feed format shares: the render context, namespaces, dates,
the per-photo values (ids, enclosure, tags), and XMLWriter with the
pagination element."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from ..model import LOCAL, Page, Photo, Size, best_image, buddyicon_url, image, image_type, video_url
from ..safexml import clean
from .taken import taken_w3c

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "flickr": "urn:flickr:",
    "media": "http://search.yahoo.com/mrss/",
    "creativeCommons": "http://backend.userland.com/creativeCommonsRssModule",  # the URI the W3C validator expects
    "cc": "http://web.resource.org/cc/",  # RSS 1.0 mod_cc: <cc:license rdf:resource="..."/>
    "foaf": "http://xmlns.com/foaf/0.1/",  # RSS 1.0: foaf:depiction, the photo's image as RDF
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
    hub_url: str = ""  # the WebSub hub of this feed (atom:link rel="hub"); empty: none
    tag_authority: str = "localhost"  # the request's host: local photos' entry ids (entry_id)


# ---------------------------------------------------------------- dates


def rfc3339(unix: int | None) -> str:
    # time.strftime with numeric fields only: locale-independent, and a third
    # of datetime's cost (two dates an entry add up against the 50 µs budget).
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix or 0))


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc822(unix: int | None) -> str:
    """"Tue, 01 Aug 2023 04:18:19 GMT".

    Day and month names from our own table, not %a/%b: those follow the
    process locale (feedgen's helper even calls locale.setlocale, unsafe
    under threaded workers). email.utils.format_datetime is correct but 3 µs.
    """
    t = time.gmtime(unix or 0)
    return time.strftime("%%s, %d %%s %Y %H:%M:%S GMT", t) % (_DAYS[t.tm_wday], _MONTHS[t.tm_mon - 1])


# ---------------------------------------------------------------- per photo


def entry_id(photo: Photo, authority: str) -> str:
    """The entry's id (Atom id, RSS guid, dc:identifier): Flickr's tag: URI for a Flickr photo, as its
    feeds wrote it; for a local photo (not on Flickr, whose tag authority it must not claim) the
    gateway's own, tag:<authority>,2026:/photo/<id>, like the feed ids (RFC 4151)."""
    if photo.server == LOCAL:
        return f"tag:{authority},2026:/photo/{photo.id}"
    return f"tag:flickr.com,2005:/photo/{photo.id}"


def published(photo: Photo) -> int:
    return photo.dateupload or photo.lastupdate or 0


def updated(photo: Photo) -> int:
    return photo.lastupdate or photo.dateupload or 0


# An empty page has no photo to date it by; feed validators call dates before
# 1990 implausible. 2008-08-25, the day Flickr announced API responses as
# feeds: stable between requests and plausible.
EMPTY_FEED_UPDATED = 1219622400


def feed_updated(page: Page) -> int:
    """The feed's updated time: its newest photo's upload or update time (not "now")."""
    return page.updated or EMPTY_FEED_UPDATED


class Enclosure(NamedTuple):  # a NamedTuple: a third of a frozen dataclass's cost to build
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


# ---------------------------------------------------------------- XML writing


class XMLWriter:
    """One feed document written front to back as text.

    Every text and attribute value passes _text/_attr here, in one place:
    characters XML 1.0 forbids are dropped (safexml.clean) and markup is
    escaped, so the document is well formed whatever the photo data holds.
    Tag and attribute names are the renderers' own literals, never data.

    Why not lxml SubElement: on the benchmark machine (bench/render.py) each
    lxml node cost 1.5-3.5 µs (a namespaced tag or an attribute about 1 µs
    each), which put Atom and RSS 2.0 at 180-280 µs a photo against a 50 µs
    budget; writing the same text costs a fraction of that. Tests parse
    every format back with lxml, feedparser, rdflib and the KML schema.

        w = XMLWriter("feed", {None: NS["atom"], "flickr": NS["flickr"]})
        with w.element("entry"):
            w.el("title", photo.title)
            w.el("link", rel="alternate", href=url)     # flickr__nsid= writes flickr:nsid=
        w.tobytes()
    """

    __slots__ = ("_parts", "_open")

    def __init__(self, root: str, nsmap: Mapping[str | None, str], **attrs: object) -> None:
        xmlns = "".join(f' xmlns:{prefix}="{uri}"' if prefix else f' xmlns="{uri}"' for prefix, uri in nsmap.items())
        self._parts = ['<?xml version="1.0" encoding="utf-8"?>\n', f"<{root}{xmlns}{_attrs(attrs)}>"]
        self._open = [root]

    def el(self, tag: str, text: object = None, **attrs: object) -> None:
        """A leaf element: <tag attrs>text</tag>, or <tag attrs/> when text is None."""
        a = _attrs(attrs) if attrs else ""
        self._parts.append(f"<{tag}{a}/>" if text is None else f"<{tag}{a}>{_text(text)}</{tag}>")

    def repeat(self, tag: str, values: Iterable[str], attr: str = "", **attrs: object) -> None:
        """One <tag> per value (as text, or as attribute `attr`), all with the same other attributes.

        See repeat() below.
        """
        a = _attrs(attrs) if attrs else ""
        if attr:
            self._parts.append(repeat(f'<{tag} {attr}="', list(values), f'"{a}/>', _attr))
        else:
            self._parts.append(repeat(f"<{tag}{a}>", list(values), f"</{tag}>"))

    def cdata(self, tag: str, text: str, **attrs: object) -> None:
        """<tag attrs><![CDATA[text]]></tag>; a "]]>" in the text is split across two CDATA sections.

        For HTML: the same text to a parser as el(), without turning every < and > into entities.
        """
        body = _legal(text).replace("]]>", "]]]]><![CDATA[>")
        self._parts.append(f"<{tag}{_attrs(attrs) if attrs else ''}><![CDATA[{body}]]></{tag}>")

    def raw(self, markup: str) -> None:
        """Markup a renderer built itself, every value in it passed through esc/attr/cdata."""
        self._parts.append(markup)

    def element(self, tag: str, **attrs: object) -> XMLWriter:
        """Open <tag>; use as `with w.element(tag):`, which closes it."""
        self._parts.append(f"<{tag}{_attrs(attrs) if attrs else ''}>")
        self._open.append(tag)
        return self

    def __enter__(self) -> XMLWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._parts.append(f"</{self._open.pop()}>")

    def tobytes(self) -> bytes:
        """The UTF-8 document, every element still open closed."""
        closing = "".join(f"</{tag}>" for tag in reversed(self._open))
        # Encoded part by part: one character above U+00FF anywhere would make
        # a joined str four times wider to build and encode (15 µs a photo).
        return b"".join([part.encode("utf-8") for part in self._parts]) + closing.encode("utf-8")


_C0 = bytes((set(range(32)) - {9, 10, 13}) | {127})  # the ASCII characters safexml.clean drops


def _legal(text: str) -> str:
    """The text without the characters XML 1.0 forbids (safexml.clean), checked at C speed first.

    clean()'s regex costs 4 ns a character; most texts need none of it: every
    printable character is legal, and in ASCII only C0 controls can be wrong.
    """
    if text.isprintable():
        return text
    if text.isascii():
        data = text.encode()
        return text if len(data.translate(None, _C0)) == len(data) else clean(text)
    return text if text.replace("\n", "").isprintable() else clean(text)


def _text(value: object) -> str:
    text = _legal(value if type(value) is str else str(value))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: object) -> str:
    text = value if type(value) is str else str(value)
    if not text.isprintable():
        # Drop what XML forbids; a parser would turn raw tab/CR/LF into spaces, references keep them.
        text = _legal(text).replace("&", "&amp;").replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")
        return text.replace("<", "&lt;").replace('"', "&quot;")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def _attrs(attrs: Mapping[str, object]) -> str:
    """ name="value" pairs; None values are left out, prefix__name is written prefix:name."""
    out = ""
    for key, value in attrs.items():
        if value is not None:
            out += f' {key.replace("__", ":")}="{value if type(value) is int else _attr(value)}"'
    return out


def pagination_element(w: XMLWriter, page: Page) -> None:
    """<flickr:pagination total page pages per_page/> (RSS 2.0, Atom, KML)."""
    w.el("flickr:pagination", total=page.total, page=page.page, pages=page.pages, per_page=page.perpage)


# Public names of the escaping functions, for renderers that write a whole
# entry as one template (rss2, atom): the same escaping as XMLWriter's.
esc = _text
attr = _attr


def cdata(text: str) -> str:
    """The text as one or more CDATA sections ("]]>" split across two)."""
    return "<![CDATA[" + _legal(text).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def dims(size) -> str:
    """ width="W" height="H", or '' when unknown."""
    return f' width="{size.width}" height="{size.height}"' if size.width and size.height else ""


def repeat(start: str, values: Sequence[str], end: str, escape: Callable[[object], str] = _text) -> str:
    """start + escape(value) + end for each value.

    Tags are the most repeated elements of every feed (20 a photo on
    average), so they are escaped in one pass: joined by spaces, which no
    Flickr tag holds (the count tells; otherwise one value at a time).
    """
    if not values:
        return ""
    joined = " ".join(values)
    if joined.count(" ") == len(values) - 1:
        return start + escape(joined).replace(" ", end + start) + end
    return "".join(start + escape(v) + end for v in values)


def flickr_extras(photo: Photo) -> str:
    """flickr:views and flickr:original, where Flickr told us."""
    out = f"<flickr:views>{photo.views}</flickr:views>" if photo.views is not None else ""
    original = image(photo, "o")
    if original is not None:
        out += (f'<flickr:original type="{_attr(photo.originalformat)}" href="{_attr(original.url)}"'
                f"{dims(original)}/>")
    return out


def taken_markup(photo: Photo) -> str:
    """dc:date.Taken and flickr:date_taken ('' when unknown): the offset of the photo's place, or none.

    Without a place these are a zone-less W3C date-time (the camera's clock), not RFC 3339:
    the entry's own dates (published/updated, pubDate) are upload times, which are instants.
    """
    taken = taken_w3c(photo)
    return f"<dc:date.Taken>{taken}</dc:date.Taken><flickr:date_taken>{taken}</flickr:date_taken>" if taken else ""


def all_tags(photo: Photo) -> str:
    """<flickr:tags>every tag, space-separated</flickr:tags> for the geo formats, '' without tags.

    GDAL makes a column of each repeated element and stops at 100, so GeoRSS and GeoAtom
    carry at most 20 tag elements and the whole list once, here (Flickr's own `tags`
    extra shape). Not in a media:category or category: feed readers (feedparser,
    FreshRSS) would show the space-joined list as one tag the photo does not have.
    """
    return f"<flickr:tags>{_text(' '.join(photo.tags))}</flickr:tags>" if photo.tags else ""


def owner_markup(photo: Photo) -> str:
    """flickr:nsid and flickr:buddyicon of the photo's owner."""
    return (f"<flickr:nsid>{_text(photo.owner)}</flickr:nsid>"
            f"<flickr:buddyicon>{_text(buddyicon_url(photo))}</flickr:buddyicon>")
