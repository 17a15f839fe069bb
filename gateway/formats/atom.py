"""Atom 1.0 (`feed-atom_10`) and, with the geo add-on, GeoAtom (`feed-geoatom`).

Element by element after Flickr's own Atom feeds (2011-2019):

    <entry>
      <title>Camp-Nou4</title>
      <link rel="alternate" type="text/html" href="https://www.flickr.com/photos/markusunger/8718599226/"/>
      <id>tag:flickr.com,2005:/photo/8718599226</id>
      <published>2013-05-07T19:18:10Z</published>
      <updated>2013-05-07T19:18:10Z</updated>
      <flickr:date_taken>2013-05-04T21:17:01+02:00</flickr:date_taken>   (offset of the place on that date;
      <dc:date.Taken>2013-05-04T21:17:01+02:00</dc:date.Taken>            zone-less without a place)
      <content type="html">...</content>
      <author><name/><uri/><flickr:nsid/><flickr:buddyicon/></author>
      <link rel="license" type="text/html" href="..."/>
      <link rel="enclosure" type="image/jpeg" href="..._b.jpg"/>
      <media:content url="..._b.jpg" type="image/jpeg" medium="image" width="1024" height="683"/>
      <media:thumbnail url="..._s.jpg" width="75" height="75"/>
      <category term="barcelona" scheme="https://www.flickr.com/photos/tags/"/>
    </entry>

Written with feed.XMLWriter rather than feedgen: feedgen cannot place the
flickr: and dc: elements Flickr's feeds carry, and its date helper changes
the process locale.
"""

from __future__ import annotations

from ..model import Page, Photo, license_url, photo_page_url, profile_url
from . import geo
from .feed import (
    GENERATOR,
    GENERATOR_URI,
    GEO_TAG_LIMIT,
    NS,
    TAG_SCHEME,
    FeedContext,
    XMLWriter,
    all_tags,
    attr,
    cdata,
    dims,
    enclosure,
    entry_id,
    esc,
    feed_updated,
    flickr_extras,
    owner_markup,
    pagination_element,
    published,
    repeat,
    rfc3339,
    taken_markup,
    thumbnail,
    updated,
)
from .html import entry_html

NSMAP = {None: NS["atom"], "dc": NS["dc"], "flickr": NS["flickr"], "media": NS["media"]}
GEO_NSMAP = {**NSMAP, "georss": NS["georss"], "geo": NS["geo"]}


def render(page: Page, ctx: FeedContext, *, with_geo: bool = False) -> bytes:
    w = XMLWriter("feed", GEO_NSMAP if with_geo else NSMAP)
    w.el("title", ctx.title + (geo.TITLE_SUFFIX if with_geo else ""))
    w.el("link", rel="self", type="application/atom+xml", href=ctx.self_url)
    if ctx.hub_url:  # WebSub discovery (gateway/push)
        w.el("link", rel="hub", href=ctx.hub_url)
    w.el("link", rel="alternate", type="text/html", href=ctx.link)
    for rel, url in ctx.page_urls.items():
        w.el("link", rel=rel, type="application/atom+xml", href=url)
    w.el("id", ctx.feed_id)
    w.el("updated", rfc3339(feed_updated(page)))
    w.el("generator", GENERATOR, uri=GENERATOR_URI)
    pagination_element(w, page)
    for photo in page.photos:
        _entry(w, photo, ctx, with_geo)
    return w.tobytes()


def _entry(w: XMLWriter, photo: Photo, ctx: FeedContext, with_geo: bool) -> None:
    # One template per entry, as in rss2: every value passes esc/attr/cdata.
    first = rfc3339(published(photo))
    last = first if updated(photo) == published(photo) else rfc3339(updated(photo))
    parts = [
        f"<entry><title>{esc(photo.title)}</title>"
        f'<link rel="alternate" type="text/html" href="{attr(photo_page_url(photo))}"/>'
        f"<id>{esc(entry_id(photo, ctx.tag_authority))}</id><published>{first}</published><updated>{last}</updated>"
    ]
    parts.append(taken_markup(photo))
    parts.append(
        f'<content type="html">{cdata(entry_html(photo))}</content>'
        f"<author><name>{esc(photo.author_name)}</name><uri>{esc(profile_url(photo))}</uri>"
        f"{owner_markup(photo)}</author>"
    )
    url = license_url(photo)
    if url:
        parts.append(f'<link rel="license" type="text/html" href="{attr(url)}"/>')
    enc = enclosure(photo, ctx.size)
    if enc is not None:
        parts.append(f'<link rel="enclosure" type="{enc.type}" href="{attr(enc.url)}"/>')
        # Media RSS readers (rss-parser, XML::FeedPP, Tiny Tiny RSS) look for the image nowhere else.
        parts.append(f'<media:content url="{attr(enc.url)}" type="{enc.type}" medium="{enc.medium}"{dims(enc)}/>')
    thumb = thumbnail(photo)
    if thumb is not None:
        parts.append(f'<media:thumbnail url="{attr(thumb.url)}"{dims(thumb)}/>')
    tags = photo.tags[:GEO_TAG_LIMIT] if with_geo else photo.tags
    parts.append(repeat('<category term="', tags, f'" scheme="{TAG_SCHEME}"/>', attr))
    if with_geo:
        parts.append(all_tags(photo))
        parts.append(geo.point(photo))
    parts.append(flickr_extras(photo))
    parts.append("</entry>")
    w.raw("".join(parts))
