"""Atom 1.0 (`feed-atom_10`) and, with the geo add-on, GeoAtom (`feed-geoatom`).

Element by element after Flickr's own Atom feeds (2011-2019):

    <entry>
      <title>Camp-Nou4</title>
      <link rel="alternate" type="text/html" href="https://www.flickr.com/photos/markusunger/8718599226/"/>
      <id>tag:flickr.com,2005:/photo/8718599226</id>
      <published>2013-05-07T19:18:10Z</published>
      <updated>2013-05-07T19:18:10Z</updated>
      <flickr:date_taken>2013-05-04T21:17:01-08:00</flickr:date_taken>
      <dc:date.Taken>2013-05-04T21:17:01-08:00</dc:date.Taken>
      <content type="html">...</content>
      <author><name/><uri/><flickr:nsid/><flickr:buddyicon/></author>
      <link rel="license" type="text/html" href="..."/>
      <link rel="enclosure" type="image/jpeg" href="..._b.jpg"/>
      <category term="barcelona" scheme="https://www.flickr.com/photos/tags/"/>
    </entry>

Written with feed.XMLWriter rather than feedgen: feedgen cannot place the
flickr: and dc: elements Flickr's feeds carry, and its date helper changes
the process locale.
"""

from __future__ import annotations

from ..model import Page, Photo, buddyicon_url, license_url, photo_page_url, profile_url
from . import geo
from .feed import (
    GENERATOR,
    GENERATOR_URI,
    GEO_TAG_LIMIT,
    NS,
    TAG_SCHEME,
    FeedContext,
    XMLWriter,
    enclosure,
    entry_id,
    flickr_extras,
    pagination_element,
    published,
    rfc3339,
    taken_w3c,
    updated,
)
from .html import entry_html

NSMAP = {None: NS["atom"], "dc": NS["dc"], "flickr": NS["flickr"], "media": NS["media"]}
GEO_NSMAP = {**NSMAP, "georss": NS["georss"], "geo": NS["geo"]}


def render(page: Page, ctx: FeedContext, *, with_geo: bool = False) -> bytes:
    w = XMLWriter("feed", GEO_NSMAP if with_geo else NSMAP)
    w.el("title", ctx.title + (geo.TITLE_SUFFIX if with_geo else ""))
    w.el("link", rel="self", type="application/atom+xml", href=ctx.self_url)
    w.el("link", rel="alternate", type="text/html", href=ctx.link)
    for rel, url in ctx.page_urls.items():
        w.el("link", rel=rel, type="application/atom+xml", href=url)
    w.el("id", ctx.feed_id)
    w.el("updated", rfc3339(page.updated))
    w.el("generator", GENERATOR, uri=GENERATOR_URI)
    pagination_element(w, page)
    for photo in page.photos:
        _entry(w, photo, ctx, with_geo)
    return w.tobytes()


def _entry(w: XMLWriter, photo: Photo, ctx: FeedContext, with_geo: bool) -> None:
    with w.element("entry"):
        w.el("title", photo.title)
        w.el("link", rel="alternate", type="text/html", href=photo_page_url(photo))
        w.el("id", entry_id(photo))
        first = rfc3339(published(photo))
        w.el("published", first)
        w.el("updated", first if updated(photo) == published(photo) else rfc3339(updated(photo)))
        taken = taken_w3c(photo)
        if taken:
            w.el("flickr:date_taken", taken)
            w.el("dc:date.Taken", taken)
        w.cdata("content", entry_html(photo), type="html")
        with w.element("author"):
            w.el("name", photo.author_name)
            w.el("uri", profile_url(photo))
            w.el("flickr:nsid", photo.owner)
            w.el("flickr:buddyicon", buddyicon_url(photo))
        if license_url(photo):
            w.el("link", rel="license", type="text/html", href=license_url(photo))
        enc = enclosure(photo, ctx.size)
        if enc is not None:
            w.el("link", rel="enclosure", type=enc.type, href=enc.url)
        w.repeat("category", photo.tags[:GEO_TAG_LIMIT] if with_geo else photo.tags, "term", scheme=TAG_SCHEME)
        if with_geo and photo.tags:
            w.el("media:category", " ".join(photo.tags), scheme="urn:flickr:tags")
        flickr_extras(w, photo)
        if with_geo:
            geo.add_point(w, photo)
