"""RSS 1.0 (`feed-rss_100`) and, with the geo add-on, GeoRDF (`feed-geordf`).

RSS 1.0 is RDF/XML, so every element is either a node (a typed thing:
<channel>, <item>, <pagination>) or a property of the node around it; RDF
parsers (rdflib, the W3C validator) read it as a graph, feed readers as XML.
No Flickr RSS 1.0 document survives; this follows the RSS 1.0 spec and its
dc/cc/enclosure modules, with Flickr's per-photo values:

    <rdf:RDF xmlns="http://purl.org/rss/1.0/" xmlns:rdf="..." xmlns:dc="..." xmlns:flickr="urn:flickr:">
      <channel rdf:about="https://gateway/services/rest/?method=...&format=feed-rss_100">
        <title>Photos tagged sunset</title>
        <link>https://www.flickr.com/photos/tags/sunset/</link>
        <description>Photos tagged sunset</description>
        <dc:date>2023-08-01T04:18:19Z</dc:date>
        <flickr:flickr>
          <pagination><total>480</total><page>1</page><pages>32</pages><per_page>15</per_page></pagination>
        </flickr:flickr>
        <items><rdf:Seq><rdf:li rdf:resource="https://www.flickr.com/photos/notadj25/53084954382/"/></rdf:Seq></items>
      </channel>
      <item rdf:about="https://www.flickr.com/photos/notadj25/53084954382/">
        <title>Sunrise at Mormon Row</title>
        <link>https://www.flickr.com/photos/notadj25/53084954382/</link>
        <description><![CDATA[<p>... posted a photo:</p> ...]]></description>
        <dc:date>2023-08-01T04:18:19Z</dc:date>                 (upload time)
        <dc:date.Taken>2023-07-22T08:15:00-08:00</dc:date.Taken>
        <dc:creator>notadj25</dc:creator>
        <dc:identifier>tag:flickr.com,2005:/photo/53084954382</dc:identifier>
        <dc:subject>grandteton</dc:subject> ...
        <enc:enclosure rdf:resource="..._b.jpg" enc:type="image/jpeg" enc:length="0"/>
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

from ..model import Page, Photo, buddyicon_url, image, license_url, photo_page_url
from . import geo
from .feed import (
    GEO_TAG_LIMIT,
    NS,
    FeedContext,
    XMLWriter,
    enclosure,
    entry_id,
    feed_updated,
    published,
    rfc3339,
    taken_w3c,
)
from .html import entry_html

NSMAP = {
    None: NS["rss"], "rdf": NS["rdf"], "dc": NS["dc"], "cc": NS["cc"], "enc": NS["enc"], "flickr": NS["flickr"],
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
    url = photo_page_url(photo)
    with w.element("item", rdf__about=url):
        w.el("title", photo.title)
        w.el("link", url)
        w.cdata("description", entry_html(photo))
        w.el("dc:date", rfc3339(published(photo)))
        taken = taken_w3c(photo)
        if taken:
            w.el("dc:date.Taken", taken)
            w.el("flickr:date_taken", taken)
        w.el("dc:creator", photo.author_name)
        w.el("dc:identifier", entry_id(photo))
        if with_geo:
            # GIS tools make a column of each repeated element: the first 20
            # tags one by one, then all of them in one (a lone tag needs no
            # second copy: RDF would merge the identical statement anyway).
            w.repeat("dc:subject", photo.tags[:GEO_TAG_LIMIT])
            if len(photo.tags) > 1:
                w.el("dc:subject", " ".join(photo.tags))
        else:
            w.repeat("dc:subject", photo.tags)
        enc = enclosure(photo, ctx.size)
        if enc is not None:
            w.el("enc:enclosure", rdf__resource=enc.url, enc__type=enc.type, enc__length="0")
        if license_url(photo):
            w.el("cc:license", rdf__resource=license_url(photo))
        w.el("flickr:nsid", photo.owner)
        w.el("flickr:buddyicon", buddyicon_url(photo))
        if photo.views is not None:
            w.el("flickr:views", photo.views)
        original = image(photo, "o")
        if original is not None:
            w.el("flickr:original", rdf__resource=original.url)
        if with_geo:
            w.raw(geo.point(photo))
