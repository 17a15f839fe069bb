"""Upstream answers as cache entries: a Page, or a Flickr failure that is the call's answer.

A Page is stored as Flickr's own JSON with every extra (rest.render_json),
zlib-compressed (a fifth of the size: pages are read only to render a missing
response, so memory matters more than the microseconds), and read back with
model.parse_json: no second serialisation format, no pickle, and the stored
text is what Flickr itself would have sent. For every recorded response the
page read back equals the original, except that attributes Flickr sends for
any public photo (rest.PUBLIC_DEFAULTS: ispublic, context, ...) are now
explicit, and every format renders both to the same bytes
(tests/test_cache_backends.py). Attributes outside Flickr's extras table
are dropped; no renderer reads those.

A 4xx failure ("Group not found", code 1) is cached like a page, so a broken
URL polled by a feed reader does not spend the upstream budget; a 5xx one
(105 unavailable, a key Flickr rejects) is not: it says nothing about the call.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import replace

from ..errors import SERVICE_UNAVAILABLE, FlickrError
from ..formats.feed import FeedContext
from ..formats.rest import EXTRAS, render_json
from ..model import Page, parse_json
from .entry import Entry

EVERYTHING = FeedContext(method="", args={}, title="", link="", self_url="", feed_id="", extras=EXTRAS)


def is_answer(err: FlickrError) -> bool:
    """Whether a failure belongs to the call (bad arguments, not found) rather than to the upstream's health."""
    return err.status < 500 and err.code != SERVICE_UNAVAILABLE


# Beside Flickr's attributes, each photo keeps what the library alone knows of it: the place it
# was taken near (model.Photo.locality … place_id), under a name no Flickr attribute has.
PLACE = "_place"


def encode(page: Page) -> tuple[bytes, ...]:
    body = render_json(page, EVERYTHING)
    if any(p.place_id or p.locality for p in page.photos):
        data = json.loads(body)
        for item, photo in zip(data[page.wrapper]["photo"], page.photos, strict=True):
            item[PLACE] = [photo.locality, photo.region, photo.country, photo.place_id]
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return (zlib.compress(body),)


def encode_error(err: FlickrError) -> dict:
    return {"error": {"code": err.code, "message": err.message, "status": err.status}}


def decode(entry: Entry) -> Page:
    """The stored Page; raises the stored FlickrError for a cached failure."""
    failure = entry.meta.get("error")
    if failure:
        raise FlickrError(failure["code"], failure["message"], failure["status"])
    data = json.loads(zlib.decompress(entry.parts[0]))
    page = parse_json(data)
    places = {str(item.get("id")): item[PLACE] for wrapper in ("photos", "photoset")
              for item in (data.get(wrapper) or {}).get("photo") or () if PLACE in item}
    if not places:
        return page
    return replace(page, photos=tuple(
        replace(p, locality=places[p.id][0], region=places[p.id][1], country=places[p.id][2],
                place_id=int(places[p.id][3])) if p.id in places else p for p in page.photos))
