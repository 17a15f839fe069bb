"""The geo add-on the GeoRSS, GeoAtom and GeoRDF formats apply to their base
feed: GeoRSS-Simple and W3C Geo points for geotagged photos only.

    <georss:point>47.25162 11.754426</georss:point>    (lat lon, one space)
    <geo:lat>47.25162</geo:lat>
    <geo:long>11.754426</geo:long>
    <georss:featureName>Innsbruck, Austria</georss:featureName>   (the place the library named, when it did)
"""

from __future__ import annotations

from ..model import Photo
from .feed import esc

TITLE_SUFFIX = ", with geodata"  # as Flickr titled its geo feeds


def coordinate(value: float) -> str:
    """A coordinate without float noise or exponent: 6 decimals (about 0.1 m), trailing zeros dropped."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def point(photo: Photo) -> str:
    """georss:point and geo:lat/geo:long markup, '' unless the photo is geotagged (not Flickr's 0,0,0)."""
    if not photo.geotagged:
        return ""
    lat, lon = coordinate(photo.latitude), coordinate(photo.longitude)
    markup = f"<georss:point>{lat} {lon}</georss:point><geo:lat>{lat}</geo:lat><geo:long>{lon}</geo:long>"
    place = photo.place
    return f"{markup}<georss:featureName>{esc(place)}</georss:featureName>" if place else markup
