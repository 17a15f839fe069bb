"""Topics: which URLs are feeds of this gateway, their canonical self URL, and what is delivered for them.

A topic is any feed URL of the gateway (SPEC 10). It is parsed exactly as
the endpoint parses a request (api.parse_call, in a request context made
from the URL), so a topic the endpoint would refuse is refused here with the
same reason, and equivalent URLs (argument order, defaults, credentials)
name one topic: the feed's own canonical self URL.

Content distribution (WebSub section 7):
    fat formats  Atom, RSS 2.0, RSS 1.0 and the geo variants: a feed holding only the
                 given photos (the entries new to that subscriber), newest first
    full formats KML, the KML network link and GeoJSON: the whole current document
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app

from .. import api, upstreams
from ..cache.pages import EVERYTHING
from ..errors import FlickrError
from ..formats.rest import render_json
from ..model import Page, parse_json
from .events import watch_id

FULL_FORMATS = frozenset({"feed-kml", "feed-kml_nl", "feed-geojson"})
REST_PATH = "/services/rest"


class TopicError(ValueError):
    """Not a topic of this gateway; the text is the hub's plain-text reason."""


@dataclass(frozen=True)
class Topic:
    canonical: str  # the feed's self URL
    watch: str
    method: str
    args: Mapping[str, str]  # the call's own arguments (page and per_page included)
    format: str

    @property
    def full(self) -> bool:
        return self.format in FULL_FORMATS


@contextmanager
def call_context(app: Flask, url: str) -> Iterator[api.Call]:
    """A request context for `url` (a URL of this gateway) and the call it makes; TopicError when it is none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise TopicError("hub.topic is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TopicError("hub.topic must be an absolute http or https URL")
    path = parts.path.rstrip("/")
    if not path.endswith(REST_PATH):
        raise TopicError(f"hub.topic is not a feed of this gateway (feeds are at {REST_PATH}/)")
    root = path[: -len(REST_PATH)]
    with app.test_request_context(path[len(root):] + "/", base_url=f"{parts.scheme}://{parts.netloc}{root}",
                                  query_string=parts.query, method="GET"):
        args = api.request_args()
        keys = app.config["API_KEYS"]
        if keys:  # the topic names no credentials; the hub checked the subscriber's own key
            args["api_key"] = sorted(keys)[0]
        try:
            call = api.parse_call(args)
        except FlickrError as err:
            raise TopicError(f"hub.topic is not a feed of this gateway: {err.message}") from None
        if not call.format.is_feed:
            raise TopicError(f'hub.topic is not a feed: format "{call.format_name}" is not a feed format')
        # The key above only let the call through: what the hub renders carries no key in its links.
        yield dataclasses.replace(call, api_key="")


def resolve(app: Flask, url: str, host: str | None = None) -> Topic:
    """The topic a URL names; TopicError with the reason when it is not a feed of this gateway (at `host`)."""
    if host is not None and not _same_host(url, host):
        raise TopicError(f"hub.topic is not a feed of this gateway (its host is not {host})")
    with call_context(app, url) as call:
        return Topic(api._url(call.public_args()), watch_id(call.method.name, call.args), call.method.name,
                     dict(call.args), call.format_name)


def _same_host(url: str, host: str) -> bool:
    """Whether the URL's host and port are `host` (a Host header), default ports being equal to none."""
    parts = urlsplit(url)
    try:
        theirs = urlsplit(f"//{host}")
        default = 443 if parts.scheme == "https" else 80
        return (parts.hostname, parts.port or default) == (theirs.hostname, theirs.port or default)
    except ValueError:
        return False


def photo_json(page: Page) -> list[dict[str, Any]]:
    """Each photo of a page as Flickr JSON with every extra (what an event keeps): the cache's
    own form of a page (cache/pages.py), which model.parse_json reads back unchanged."""
    return list(json.loads(render_json(page, EVERYTHING))[page.wrapper]["photo"])


def photos_from_json(items: Sequence[Mapping[str, Any]]) -> Page:
    return parse_json({"stat": "ok", "photos": {"page": 1, "pages": 1, "perpage": len(items), "total": len(items),
                                                "photo": list(items)}})


@dataclass(frozen=True)
class Document:
    body: bytes
    content_type: str
    link: str  # the Link header: hub and canonical self

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def render(app: Flask, canonical: str, photos: Sequence[Mapping[str, Any]] | None = None) -> Document:
    """The content distributed for a topic: a feed of `photos` (newest first), or with None the
    whole current document, read from the upstream now (not from the cache, which may be older)."""
    with call_context(app, canonical) as call:
        if photos is None:
            page = upstreams.get().photos(call.method.name, call.args).paginated(int(call.args["per_page"]))
        else:
            page = photos_from_json(photos)
        page = page.with_image_base(_root(canonical))
        body = call.format.render(page, api.feed_context(call, page))
        link = f'<{api.hub_url()}>; rel="hub", <{canonical}>; rel="self"'
        return Document(body, f"{call.format.content_type}; charset=utf-8", link)


def current_photos(topic_method: str, args: Mapping[str, str], count: int) -> Page:
    """The newest `count` photos of a watch, straight from the upstream (needs an app context)."""
    wanted = {**args, "page": "1", "per_page": str(count)}
    return upstreams.get().photos(topic_method, wanted)


def _root(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path[: -len(REST_PATH)]}/"


def max_per_page() -> int:
    return int(current_app.config["MAX_PER_PAGE"])
