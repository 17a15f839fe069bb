"""Flickr's JSON feed (`/services/feeds/….gne?format=json`): `jsonFlickrFeed({...})`.

Member by member after Flickr's own JSON feeds (2015-2026):

    jsonFlickrFeed({
      "title": "Recent Uploads tagged potato",
      "link": "https://www.flickr.com/photos/tags/potato/",
      "description": "",
      "modified": "2015-12-21T05:48:08Z",
      "generator": "https://www.flickr.com/",
      "items": [{
        "title": "Danish Potato Salad",
        "link": "https://www.flickr.com/photos/134519105@N03/23254876683/",
        "media": {"m": "https://farm1.staticflickr.com/709/23254876683_2e55c565d9_m.jpg"},
        "date_taken": "2014-05-28T18:05:17-08:00",
        "description": " <p><a href=…>sweetsoursavory<\\/a> posted a photo:<\\/p> <p>…<\\/p>",
        "published": "2015-12-21T05:48:08Z",
        "author": "nobody@flickr.com (sweetsoursavory)",
        "author_id": "134519105@N03",
        "tags": "potato radish"
      }, …]
    })

Mended where Flickr's was not JSON: a quote is never written `\\'` (Flickr's
2015 feeds did, which JSON.parse refuses). Kept: `</` written `<\\/` (so the
text can sit inside a <script> element), the description's leading space and
newlines as spaces. `nojsoncallback=1` gives the bare object; `jsoncallback=NAME`
renames the wrapper (the caller's FeedContext.jsoncallback).
"""

from __future__ import annotations

import json

from ..model import Page, Photo, image, photo_page_url
from ..safexml import clean
from .feed import FeedContext, feed_updated, published, rfc3339
from .html import entry_html
from .taken import taken_w3c  # the offset of the photo's place, or none: as every other format states it

CALLBACK = "jsonFlickrFeed"  # Flickr's default wrapper for feeds (jsonFlickrApi is the API's)
GENERATOR = "https://www.flickr.com/"


def item(photo: Photo) -> dict[str, object]:
    """One member of "items"; "media.m" is the 240 px image, as in Flickr's feeds."""
    small = image(photo, "m")
    return {
        "title": photo.title,
        "link": photo_page_url(photo),
        "media": {"m": small.url if small else ""},
        "date_taken": taken_w3c(photo),
        "description": " " + entry_html(photo, img=small).replace("\n\n", " ").replace("\n", " ") + " ",
        "published": rfc3339(published(photo)),
        "author": f"nobody@flickr.com ({photo.author_name})",
        "author_id": photo.owner,
        "tags": " ".join(photo.tags),
    }


def render(page: Page, ctx: FeedContext) -> bytes:
    feed = {
        "title": ctx.title,
        "link": ctx.link,
        "description": "",
        "modified": rfc3339(feed_updated(page)),
        "generator": GENERATOR,
        "items": [item(photo) for photo in page.photos],
    }
    # ensure_ascii=False keeps titles readable; clean() drops what no encoder can write.
    text = clean(json.dumps(feed, ensure_ascii=False, indent="\t"))
    # "</" as "<\/" (a JSON escape) so that "</script>" in a title cannot end a <script> element;
    # U+2028/2029 are legal in JSON but end a line in JavaScript.
    text = text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return (f"{ctx.jsoncallback}({text})" if ctx.jsoncallback else text).encode("utf-8")
