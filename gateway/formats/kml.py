"""KML 2.2 (`feed-kml`) and the KML network link (`feed-kml_nl`) for Google Earth.

`feed-kml`: one Placemark per geotagged photo; the others are left out, and
the pagination still counts them.

    <kml xmlns="http://www.opengis.net/kml/2.2" xmlns:atom="..." xmlns:flickr="urn:flickr:">
      <NetworkLinkControl><minRefreshPeriod>300</minRefreshPeriod></NetworkLinkControl>
      <flickr:pagination total="480" page="1" pages="32" per_page="15"/>
      <Document>
        <name>Photos tagged sunset</name>
        <atom:link href="https://www.flickr.com/photos/tags/sunset/"/>
        <ExtendedData><Data name="total"><value>480</value></Data> ...page, pages, per_page</ExtendedData>
        <Placemark>
          <name>Bknedjo mq Carikr Wby</name>
          <address>Jackson, Wyoming, United States</address>   (where the library named the place)
          <description><![CDATA[<p>... posted a photo:</p> <p><a ...><img src="..._s.jpg" .../></a></p>]]></description>
          <TimeStamp><when>2023-07-22T08:15:00-06:00</when></TimeStamp>   (date taken with the place's offset,
                                                                         zone-less without one: the time slider)
          <Style><IconStyle><Icon><href>..._s.jpg</href></Icon></IconStyle></Style>
          <ExtendedData><Data name="id"><value>53084954382</value></Data> ...owner, ownername, tags, url</ExtendedData>
          <Point><coordinates>-110.664778,43.666591</coordinates></Point>   (lon,lat: KML order)
        </Placemark>
      </Document>
    </kml>

Element order follows the OGC schema (ogckml22.xsd: a Feature's
description, TimePrimitive, Style, ExtendedData, then the geometry), and
the output validates against it once the urn:flickr: element is removed.
The style is inline per photo: each photo's icon is its own thumbnail, so a
shared style would only add a styleUrl per placemark.

Written with feed.XMLWriter, not simplekml. Measured (bench/render.py, this
VM, several runs): simplekml took 16-24 µs a photo compact and 57-90 µs pretty-printed
(it re-parses its own string with minidom), against a 50 µs budget; it
cannot put an element of another namespace under <kml>; the output of the
straightforward simplekml code (bench/render.py) fails the OGC schema
(<name> after the Styles it collects at the top of the Document); and a
control character in a title passed straight through, so the document
was no longer XML.
"""

from __future__ import annotations

from ..model import Page, Photo, photo_page_url
from . import geo
from .feed import NS, FeedContext, XMLWriter, pagination_element, thumbnail
from .html import entry_html
from .taken import taken_w3c

NSMAP = {None: NS["kml"], "atom": NS["atom"], "flickr": NS["flickr"]}
# The camera must rest this long before Google Earth asks for the new view:
# fewer calls while the user is still panning (the upstream key allows 3600 an hour).
VIEW_REFRESH_SECONDS = 2
# Google Earth fills these in (WMS order, degrees) and appends them to the href after "&".
VIEW_FORMAT_BBOX = "bbox=[bboxWest],[bboxSouth],[bboxEast],[bboxNorth]"


def render(page: Page, ctx: FeedContext) -> bytes:
    w = _kml(page, ctx)
    with w.element("Document"):
        w.el("name", ctx.title)
        w.el("open", 1)
        w.el("atom:link", href=ctx.link)
        # SPEC 3.1: the paging again where Google Earth shows it.
        _extended_data(w, total=page.total, page=page.page, pages=page.pages, per_page=page.perpage)
        for photo in page.photos:
            if photo.geotagged:
                _placemark(w, photo)
    return w.tobytes()


def render_network_link(page: Page, ctx: FeedContext) -> bytes:
    # Inside a <Document>: GDAL and QGIS open no file whose root holds no container.
    w = _kml(page, ctx)
    with w.element("Document"):
        w.el("name", ctx.title)
        w.el("open", 1)
        network_link(w, ctx)
    return w.tobytes()


def network_link(w: XMLWriter, ctx: FeedContext) -> None:
    """<NetworkLink> to the same call as feed-kml, refreshed every ttl seconds.

    For calls that could take Google Earth's view as their bbox (ctx.view_bbox):
    refresh when the camera stops, and have Google Earth append
    "&bbox=west,south,east,north" to the href (it already has a query). Other
    calls get an empty <viewFormat/>, which makes Google Earth append nothing.
    """
    with w.element("NetworkLink"):
        w.el("name", ctx.title)
        w.el("visibility", 1)
        w.el("open", 1)
        w.el("flyToView", 0)
        with w.element("Link"):  # children in the schema's order
            w.el("href", ctx.kml_url)
            w.el("refreshMode", "onInterval")
            w.el("refreshInterval", ctx.ttl)
            if ctx.view_bbox:
                w.el("viewRefreshMode", "onStop")
                w.el("viewRefreshTime", VIEW_REFRESH_SECONDS)
                w.el("viewFormat", VIEW_FORMAT_BBOX)
            else:
                w.el("viewFormat")


def _kml(page: Page, ctx: FeedContext) -> XMLWriter:
    """<kml> with what both formats start with: the refresh floor and the pagination."""
    w = XMLWriter("kml", NSMAP)
    with w.element("NetworkLinkControl"):
        # Google Earth must not poll faster than the gateway's cache refreshes.
        w.el("minRefreshPeriod", ctx.ttl)
    pagination_element(w, page)
    return w


def _placemark(w: XMLWriter, photo: Photo) -> None:
    thumb = thumbnail(photo)
    with w.element("Placemark", id=f"photo{photo.id}"):  # an XML ID cannot start with a digit
        w.el("name", photo.title)
        if photo.place:
            w.el("address", photo.place)
        w.cdata("description", entry_html(photo, img=thumb))
        taken = taken_w3c(photo)  # the offset of the place, or zone-less (xsd:dateTime allows it)
        if taken:
            with w.element("TimeStamp"):
                w.el("when", taken)
        if thumb is not None:
            with w.element("Style"), w.element("IconStyle"), w.element("Icon"):
                w.el("href", thumb.url)
        _extended_data(w, id=photo.id, owner=photo.owner, ownername=photo.author_name,
                       tags=" ".join(photo.tags), url=photo_page_url(photo))
        with w.element("Point"):
            w.el("coordinates", f"{geo.coordinate(photo.longitude)},{geo.coordinate(photo.latitude)}")


def _extended_data(w: XMLWriter, **data: object) -> None:
    """<ExtendedData><Data name="key"><value>value</value></Data>...</ExtendedData>."""
    with w.element("ExtendedData"):
        for name, value in data.items():
            with w.element("Data", name=name):
                w.el("value", value)
