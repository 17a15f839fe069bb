"""The geo add-on the GeoRSS, GeoAtom and GeoRDF formats apply to their base
feed: GeoRSS-Simple and W3C Geo points for geotagged photos only.

    <georss:point>47.25162 11.754426</georss:point>    (lat lon, one space)
    <geo:lat>47.25162</geo:lat>
    <geo:long>11.754426</geo:long>
"""

from __future__ import annotations

from ..model import Photo
from .feed import XMLWriter

TITLE_SUFFIX = ", with geodata"  # as Flickr titled its geo feeds


def coordinate(value: float) -> str:
    """A coordinate without float noise or exponent: 6 decimals (about 0.1 m), trailing zeros dropped."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def add_point(w: XMLWriter, photo: Photo) -> None:
    """georss:point and geo:lat/geo:long, only when the photo is geotagged (not Flickr's 0,0,0)."""
    if not photo.geotagged:
        return
    lat, lon = coordinate(photo.latitude), coordinate(photo.longitude)
    w.el("georss:point", f"{lat} {lon}")
    w.el("geo:lat", lat)
    w.el("geo:long", lon)
