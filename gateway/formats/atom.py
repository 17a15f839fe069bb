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

Built with lxml rather than feedgen: feedgen cannot place the flickr: and dc:
elements Flickr's feeds carry, and its date helper changes the process locale.
"""

from __future__ import annotations

from lxml import etree

from ..model import Page, Photo, buddyicon_url, license_url, photo_page_url, profile_url
from . import geo
from .feed import (
    GENERATOR,
    GENERATOR_URI,
    GEO_TAG_LIMIT,
    NS,
    TAG_SCHEME,
    FeedContext,
    enclosure,
    entry_id,
    flickr_extras,
    pagination_element,
    published,
    rfc3339,
    serialize,
    sub,
    taken_w3c,
    updated,
)
from .html import entry_html

NSMAP = {None: NS["atom"], "dc": NS["dc"], "flickr": NS["flickr"], "media": NS["media"]}
GEO_NSMAP = {**NSMAP, "georss": NS["georss"], "geo": NS["geo"]}
A = f"{{{NS['atom']}}}"


def render(page: Page, ctx: FeedContext, *, with_geo: bool = False) -> bytes:
    feed = etree.Element(A + "feed", nsmap=GEO_NSMAP if with_geo else NSMAP)
    sub(feed, A + "title", ctx.title + (geo.TITLE_SUFFIX if with_geo else ""))
    sub(feed, A + "link", rel="self", type="application/atom+xml", href=ctx.self_url)
    sub(feed, A + "link", rel="alternate", type="text/html", href=ctx.link)
    for rel, url in ctx.page_urls.items():
        sub(feed, A + "link", rel=rel, type="application/atom+xml", href=url)
    sub(feed, A + "id", ctx.feed_id)
    sub(feed, A + "updated", rfc3339(page.updated))
    sub(feed, A + "generator", GENERATOR, uri=GENERATOR_URI)
    pagination_element(feed, page)
    for photo in page.photos:
        _entry(feed, photo, ctx, with_geo)
    return serialize(feed)


def _entry(feed: etree._Element, photo: Photo, ctx: FeedContext, with_geo: bool) -> None:
    entry = sub(feed, A + "entry")
    sub(entry, A + "title", photo.title)
    sub(entry, A + "link", rel="alternate", type="text/html", href=photo_page_url(photo))
    sub(entry, A + "id", entry_id(photo))
    sub(entry, A + "published", rfc3339(published(photo)))
    sub(entry, A + "updated", rfc3339(updated(photo)))
    taken = taken_w3c(photo)
    if taken:
        sub(entry, "flickr:date_taken", taken)
        sub(entry, "dc:date.Taken", taken)
    sub(entry, A + "content", entry_html(photo), type="html")
    author = sub(entry, A + "author")
    sub(author, A + "name", photo.author_name)
    sub(author, A + "uri", profile_url(photo))
    sub(author, "flickr:nsid", photo.owner)
    sub(author, "flickr:buddyicon", buddyicon_url(photo))
    if license_url(photo):
        sub(entry, A + "link", rel="license", type="text/html", href=license_url(photo))
    enc = enclosure(photo, ctx.size)
    if enc is not None:
        sub(entry, A + "link", rel="enclosure", type=enc.type, href=enc.url)
    tags = photo.tags[:GEO_TAG_LIMIT] if with_geo else photo.tags
    for tag in tags:
        sub(entry, A + "category", term=tag, scheme=TAG_SCHEME)
    if with_geo and photo.tags:
        sub(entry, "media:category", " ".join(photo.tags), scheme="urn:flickr:tags")
    flickr_extras(entry, photo)
    if with_geo:
        geo.add_point(entry, photo)
