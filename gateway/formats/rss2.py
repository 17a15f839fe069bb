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
      <dc:date.Taken>2009-10-11T13:49:09-07:00</dc:date.Taken>   (offset of the place; zone-less without one)
      <author flickr:profile="https://www.flickr.com/people/.../">nobody@flickr.com (joshuarbarratt)</author>
      <guid isPermaLink="false">tag:flickr.com,2005:/photo/4002529898</guid>
      <media:content url="..._b.jpg" type="image/jpeg" medium="image" width="1024" height="768"/>
      <media:title>...</media:title>
      <media:thumbnail url="..._s.jpg" width="75" height="75"/>
      <media:credit role="photographer">joshuarbarratt</media:credit>
      <category domain="https://www.flickr.com/photos/tags/">carterbarratt</category>   (one per tag)
      <enclosure url="..._b.jpg" type="image/jpeg" length="0"/>
    </item>
"""

from __future__ import annotations

from ..model import LOCAL, Page, Photo, license_url, photo_page_url, profile_url
from . import geo
from .feed import (
    GENERATOR,
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
    rfc822,
    taken_markup,
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
        if ctx.hub_url:  # WebSub discovery (gateway/push)
            w.el("atom:link", rel="hub", href=ctx.hub_url)
        for rel, url in ctx.page_urls.items():
            w.el("atom:link", rel=rel, type="application/rss+xml", href=url)
        w.el("pubDate", rfc822(feed_updated(page)))
        w.el("lastBuildDate", rfc822(feed_updated(page)))
        w.el("generator", GENERATOR)
        w.el("docs", "http://www.rssboard.org/rss-specification")
        w.el("ttl", max(1, ctx.ttl // 60))
        pagination_element(w, page)
        for photo in page.photos:
            _item(w, photo, ctx, with_geo)
    return w.tobytes()


def comment(text: str) -> str:
    """Text inside an RFC 2822 comment "(…)": backslash before ( ) and \\ so the address still parses."""
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _item(w: XMLWriter, photo: Photo, ctx: FeedContext, with_geo: bool) -> None:
    # One template per item: every value passes the writer's escaping (esc for
    # text, attr for attributes); a call per element cost more than the 50 µs budget.
    title, author, page_url = esc(photo.title), esc(photo.author_name), esc(photo_page_url(photo))
    description = sanitize(photo.description, photo.server == LOCAL)
    parts = [
        f"<item><title>{title}</title><link>{page_url}</link>"
        f"<description>{cdata(entry_html(photo, description))}</description>"
        f"<pubDate>{rfc822(published(photo))}</pubDate>"
    ]
    parts.append(taken_markup(photo))
    parts.append(
        f'<author flickr:profile="{attr(profile_url(photo))}">nobody@flickr.com ({comment(author)})</author>'
        f'{owner_markup(photo)}<guid isPermaLink="false">{esc(entry_id(photo, ctx.tag_authority))}</guid>'
    )
    if with_geo:
        parts.append(geo.point(photo))
    enc = enclosure(photo, ctx.size)
    if enc is not None:
        parts.append(f'<media:content url="{attr(enc.url)}" type="{enc.type}" medium="{enc.medium}"{dims(enc)}/>')
    parts.append(f"<media:title>{title}</media:title>")
    if description:
        parts.append(f'<media:description type="html">{cdata(description)}</media:description>')
    thumb = thumbnail(photo)
    if thumb is not None:
        parts.append(f'<media:thumbnail url="{attr(thumb.url)}"{dims(thumb)}/>')
    parts.append(f'<media:credit role="photographer">{author}</media:credit>')
    if photo.tags:
        tags = photo.tags[:GEO_TAG_LIMIT] if with_geo else photo.tags
        parts.append(repeat(f'<category domain="{TAG_SCHEME}">', tags, "</category>"))
        if with_geo:
            parts.append(all_tags(photo))
    url = license_url(photo)
    if url:
        # creativeCommons:license takes any licence URL; media:license is unknown to the W3C validator.
        parts.append(f"<creativeCommons:license>{esc(url)}</creativeCommons:license>")
    parts.append(flickr_extras(photo))
    if enc is not None:
        parts.append(f'<enclosure url="{attr(enc.url)}" type="{enc.type}" length="0"/>')
    parts.append("</item>")
    w.raw("".join(parts))
