"""RSS 2.0 with Media RSS (`feed-rss_200`) and, with the geo add-on, GeoRSS (`feed-georss`).

Element by element after Flickr's own RSS 2.0 feeds (2006-2017), with what
they got wrong mended: one <enclosure> per item (photo frames and readers
that ignore Media RSS need it; length 0 means unknown, as the validator
asks), media:content directly under <item> (a media:group around a single
rendition is an error for the W3C validator), and atom:link rel="self".

    <item>
      <title>...</title>
      <link>https://www.flickr.com/photos/serialized/4002529898/</link>
      <description>&lt;p&gt;...posted a photo:...</description>
      <pubDate>Sun, 11 Oct 2009 20:49:24 GMT</pubDate>
      <dc:date.Taken>2009-10-11T13:49:09-08:00</dc:date.Taken>
      <author flickr:profile="https://www.flickr.com/people/.../">nobody@flickr.com (joshuarbarratt)</author>
      <guid isPermaLink="false">tag:flickr.com,2005:/photo/4002529898</guid>
      <media:content url="..._b.jpg" type="image/jpeg" medium="image" width="1024" height="768"/>
      <media:title>...</media:title>
      <media:thumbnail url="..._s.jpg" width="75" height="75"/>
      <media:credit role="photographer">joshuarbarratt</media:credit>
      <media:category scheme="urn:flickr:tags">carterbarratt</media:category>
      <enclosure url="..._b.jpg" type="image/jpeg" length="0"/>
    </item>
"""

from __future__ import annotations

from ..model import LICENSES, Page, Photo, buddyicon_url, license_url, photo_page_url, profile_url
from . import geo
from .feed import (
    GENERATOR,
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
    rfc822,
    taken_w3c,
    thumbnail,
)
from .html import entry_html, sanitize

NSMAP = {
    "media": NS["media"], "dc": NS["dc"], "creativeCommons": NS["creativeCommons"],
    "flickr": NS["flickr"], "atom": NS["atom"],
}
GEO_NSMAP = {**NSMAP, "georss": NS["georss"], "geo": NS["geo"]}


def render(page: Page, ctx: FeedContext, *, with_geo: bool = False) -> bytes:
    w = XMLWriter("rss", GEO_NSMAP if with_geo else NSMAP, version="2.0")
    with w.element("channel"):
        title = ctx.title + (geo.TITLE_SUFFIX if with_geo else "")
        w.el("title", title)
        w.el("link", ctx.link)
        w.el("description", title)
        w.el("atom:link", rel="self", type="application/rss+xml", href=ctx.self_url)
        for rel, url in ctx.page_urls.items():
            w.el("atom:link", rel=rel, type="application/rss+xml", href=url)
        w.el("pubDate", rfc822(page.updated))
        w.el("lastBuildDate", rfc822(page.updated))
        w.el("generator", GENERATOR)
        w.el("ttl", max(1, ctx.ttl // 60))
        pagination_element(w, page)
        for photo in page.photos:
            _item(w, photo, ctx, with_geo)
    return w.tobytes()


def _item(w: XMLWriter, photo: Photo, ctx: FeedContext, with_geo: bool) -> None:
    with w.element("item"):
        w.el("title", photo.title)
        w.el("link", photo_page_url(photo))
        description = sanitize(photo.description)
        w.cdata("description", entry_html(photo, description))
        w.el("pubDate", rfc822(published(photo)))
        taken = taken_w3c(photo)
        if taken:
            w.el("dc:date.Taken", taken)
            w.el("flickr:date_taken", taken)
        w.el("author", f"nobody@flickr.com ({photo.author_name})", flickr__profile=profile_url(photo))
        w.el("flickr:nsid", photo.owner)
        w.el("flickr:buddyicon", buddyicon_url(photo))
        w.el("guid", entry_id(photo), isPermaLink="false")
        if with_geo:
            geo.add_point(w, photo)
        enc = enclosure(photo, ctx.size)
        if enc is not None:
            w.el("media:content", url=enc.url, type=enc.type, medium=enc.medium,
                 width=enc.width or None, height=enc.height or None)
        w.el("media:title", photo.title)
        if description:
            w.cdata("media:description", description, type="html")
        thumb = thumbnail(photo)
        if thumb is not None:
            w.el("media:thumbnail", url=thumb.url, width=thumb.width or None, height=thumb.height or None)
        w.el("media:credit", photo.author_name, role="photographer")
        if photo.tags:
            w.el("media:category", " ".join(photo.tags), scheme="urn:flickr:tags")
        w.repeat("category", photo.tags[:GEO_TAG_LIMIT] if with_geo else photo.tags, domain=TAG_SCHEME)
        url = license_url(photo)
        if url:
            w.el("media:license", LICENSES[photo.license][0], type="text/html", href=url)
            if "creativecommons.org" in url:
                w.el("creativeCommons:license", url)
        flickr_extras(w, photo)
        if enc is not None:
            w.el("enclosure", url=enc.url, type=enc.type, length="0")
