"""GeoJSON (`feed-geojson`): an RFC 7946 FeatureCollection of the geotagged photos.

Beyond Flickr's own formats. One Feature per geotagged photo (the others are
left out; the pagination still counts them):

    {"type": "FeatureCollection",
     "title": "Photos tagged sunset",
     "links": [{"rel": "self", "href": "...format=feed-geojson"},
               {"rel": "alternate", "type": "text/html", "href": "https://www.flickr.com/photos/tags/sunset/"}],
     "pagination": {"total": 480, "page": 1, "pages": 32, "per_page": 15},
     "features": [
       {"type": "Feature", "id": "53084954382",
        "geometry": {"type": "Point", "coordinates": [-110.664778, 43.666591]},    (lon, lat: RFC 7946 order)
        "properties": {"name": "..." (the title: GIS tools label points by name), "title": "...",
                       "owner": "77878994@N07", "ownername": "qszwxa18",
                       "url": "https://www.flickr.com/photos/qszwxa18/53084954382/",
                       "image": "..._b.jpg" (medium size), "thumbnail": "..._s.jpg",
                       "datetaken": "2023-07-22T08:15:00-06:00" (camera time, offset of the place; null if unknown),
                       "dateupload": "2023-08-01T04:18:19Z", "tags": ["grandteton", ...],
                       "license": "Attribution License", "license_url": "https://creativecommons.org/licenses/by/2.0/",
                       "description": "sanitised HTML",
                       "place": "Jackson, Wyoming, United States" (where the library named it; else null)}}]}

"title", "links" and "pagination" are foreign members, which RFC 7946 allows.
Coordinates have at most 6 decimals (about 0.1 m), as the spec recommends.
"""

from __future__ import annotations

import json

from ..model import LICENSES, LOCAL, Page, Photo, license_url, photo_page_url
from .feed import FeedContext, medium, rfc3339, thumbnail
from .html import sanitize
from .taken import taken_w3c


def render(page: Page, ctx: FeedContext) -> bytes:
    collection = {
        "type": "FeatureCollection",
        "title": ctx.title,
        "links": [
            {"rel": "self", "type": "application/geo+json", "href": ctx.self_url},
            {"rel": "alternate", "type": "text/html", "href": ctx.link},
            *({"rel": rel, "type": "application/geo+json", "href": url} for rel, url in ctx.page_urls.items()),
        ],
        "pagination": {"total": page.total, "page": page.page, "pages": page.pages, "per_page": page.perpage},
        "features": [feature(photo) for photo in page.photos if photo.geotagged],
    }
    # A lone surrogate (which XML formats drop) cannot be UTF-8: replace it rather than fail.
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def feature(photo: Photo) -> dict:
    """One geotagged photo as a GeoJSON Feature."""
    img, thumb = medium(photo), thumbnail(photo)
    return {
        "type": "Feature",
        "id": photo.id,
        "geometry": {"type": "Point", "coordinates": [round(photo.longitude, 6), round(photo.latitude, 6)]},
        "properties": {
            # simplestyle's and GIS tools' label (gpsbabel, QGIS); without it they show the description.
            "name": photo.title,
            "title": photo.title,
            "owner": photo.owner,
            "ownername": photo.author_name,
            "url": photo_page_url(photo),
            "image": img.url if img else None,
            "thumbnail": thumb.url if thumb else None,
            "datetaken": taken_w3c(photo) or None,
            "dateupload": rfc3339(photo.dateupload) if photo.dateupload else None,
            "tags": list(photo.tags),
            "license": LICENSES[photo.license][0] if photo.license in LICENSES else None,
            "license_url": license_url(photo) or None,
            "description": sanitize(photo.description, photo.server == LOCAL),
            "place": photo.place or None,
        },
    }
