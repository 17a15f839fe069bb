"""RSS 1.0 (`feed-rss_100`) and, with the geo add-on, GeoRDF (`feed-geordf`).

RSS 1.0 is RDF/XML, so every element is either a node (a typed thing:
<channel>, <item>, <pagination>) or a property of the node around it; RDF
parsers (rdflib, the W3C validator) read it as a graph, feed readers as XML.
No Flickr RSS 1.0 document survives; this follows the RSS 1.0 spec and its
dc/cc modules and FOAF, with Flickr's per-photo values:

    <rdf:RDF xmlns="http://purl.org/rss/1.0/" xmlns:rdf="..." xmlns:dc="..." xmlns:flickr="urn:flickr:">
      <channel rdf:about="https://gateway/services/rest/?method=...&format=feed-rss_100">
        <title>Photos tagged sunset</title>
        <link>https://www.flickr.com/photos/tags/sunset/</link>
        <description>Photos tagged sunset</description>
        <dc:date>2023-08-01T04:18:19Z</dc:date>
        <flickr:flickr>
          <pagination><total>480</total><page>1</page><pages>32</pages><per_page>15</per_page></pagination>
        </flickr:flickr>
        <items><rdf:Seq><rdf:li rdf:resource="https://www.flickr.com/photos/qszwxa18/53084954382/"/></rdf:Seq></items>
      </channel>
      <item rdf:about="https://www.flickr.com/photos/qszwxa18/53084954382/">
        <title>Bknedjo mq Carikr Wby</title>
        <link>https://www.flickr.com/photos/qszwxa18/53084954382/</link>
        <description><![CDATA[<p>... posted a photo:</p> ...]]></description>
        <dc:date>2023-08-01T04:18:19Z</dc:date>                 (upload time)
        <dc:date.Taken>2023-07-22T08:15:00-06:00</dc:date.Taken>   (offset of the place: America/Denver in July)
        <dc:creator>qszwxa18</dc:creator>
        <dc:identifier>tag:flickr.com,2005:/photo/53084954382</dc:identifier>
        <dc:subject>grandteton</dc:subject> ...
        <foaf:depiction rdf:resource="..._b.jpg"/>
        <cc:license rdf:resource="https://creativecommons.org/licenses/by/2.0/"/>
        <flickr:nsid>77878994@N07</flickr:nsid> ...
        <georss:point>43.666591 -110.664778</georss:point>    (GeoRDF, geotagged photos only)
      </item>
    </rdf:RDF>

What RDF/XML rules out, and so is not here: attributes without a namespace
(an RDF parser reads `type="jpg"` as rdf:type), hence flickr:original is
<flickr:original rdf:resource="URL"/> and there are no atom:link page links
(the pagination node and rdf:about carry the paging).
"""

from __future__ import annotations

from ..model import Page, Photo, best_image, image, license_url, photo_page_url
from . import geo
from .feed import (
    NS,
    FeedContext,
    XMLWriter,
    attr,
    cdata,
    entry_id,
    esc,
    feed_updated,
    owner_markup,
    published,
    repeat,
    rfc3339,
    taken_markup,
)
from .html import entry_html

NSMAP = {
    None: NS["rss"], "rdf": NS["rdf"], "dc": NS["dc"], "cc": NS["cc"], "foaf": NS["foaf"], "flickr": NS["flickr"],
}
GEO_NSMAP = {**NSMAP, "georss": NS["georss"], "geo": NS["geo"]}


def render(page: Page, ctx: FeedContext, *, with_geo: bool = False) -> bytes:
    w = XMLWriter("rdf:RDF", GEO_NSMAP if with_geo else NSMAP)
    with w.element("channel", rdf__about=ctx.self_url):
        title = ctx.title + (geo.TITLE_SUFFIX if with_geo else "")
        w.el("title", title)
        w.el("link", ctx.link)
        w.el("description", title)
        w.el("dc:date", rfc3339(feed_updated(page)))
        pagination_element(w, page)
        with w.element("items"), w.element("rdf:Seq"):
            w.repeat("rdf:li", map(photo_page_url, page.photos), "rdf:resource")
    for photo in page.photos:
        _item(w, photo, ctx, with_geo)
    return w.tobytes()


def pagination_element(w: XMLWriter, page: Page) -> None:
    """The paging as a typed RDF node: flickr:flickr → <pagination> with RSS 1.0 properties.

    Not the <flickr:pagination total=.../> of the other formats: RDF would
    read its unqualified attributes as garbage properties.
    """
    with w.element("flickr:flickr"), w.element("pagination"):
        w.el("total", page.total)
        w.el("page", page.page)
        w.el("pages", page.pages)
        w.el("per_page", page.perpage)


def _item(w: XMLWriter, photo: Photo, ctx: FeedContext, with_geo: bool) -> None:
    # One template per item, as in rss2 and atom: every value passes esc/attr/cdata.
    url = photo_page_url(photo)
    parts = [
        f'<item rdf:about="{attr(url)}"><title>{esc(photo.title)}</title><link>{esc(url)}</link>'
        f"<description>{cdata(entry_html(photo))}</description><dc:date>{rfc3339(published(photo))}</dc:date>"
    ]
    parts.append(taken_markup(photo))
    parts.append(f"<dc:creator>{esc(photo.author_name)}</dc:creator>"
                 f"<dc:identifier>{esc(entry_id(photo, ctx.tag_authority))}</dc:identifier>")
    # One dc:subject per tag, all of them, GeoRDF too: readers (FreshRSS, SimplePie, Tiny Tiny
    # RSS) make a tag of each subject, so a space-joined one would be a single junk tag. The
    # 20-tag limit of GeoRSS/GeoAtom is for GDAL, which makes a column of each repeated
    # element; GDAL does not read RSS 1.0 at all (its GeoRSS driver reads RSS 2.0 and Atom).
    parts.append(repeat("<dc:subject>", photo.tags, "</dc:subject>"))
    # The image readers show is the one in the description. No enc:enclosure: only Tiny Tiny
    # RSS reads it, as a url-less <enclosure> it stores as an attachment to the site's home
    # page. Media RSS's url= attributes are not RDF/XML (rapper refuses unqualified
    # attributes), so RDF gets the image as foaf:depiction (the `size=` rendition).
    img = best_image(photo, ctx.size)
    if img is not None:
        parts.append(f'<foaf:depiction rdf:resource="{attr(img.url)}"/>')
    if license_url(photo):
        parts.append(f'<cc:license rdf:resource="{attr(license_url(photo))}"/>')
    parts.append(owner_markup(photo))
    if photo.views is not None:
        parts.append(f"<flickr:views>{photo.views}</flickr:views>")
    original = image(photo, "o")
    if original is not None:
        parts.append(f'<flickr:original rdf:resource="{attr(original.url)}"/>')
    if with_geo:
        parts.append(geo.point(photo))
    parts.append("</item>")
    w.raw("".join(parts))
