"""Flickr's public feed URLs, `/services/feeds/<feed>.gne` (issue 16), answered by translation.

Feed readers, photo frames and blog plugins hold URLs such as
`photos_public.gne?tags=a,b&tagmode=all&format=rss_200`, not API calls. Each
feed URL is translated into the one standard-photos-response call that answers
it (mapping.py: one table), and that call is served by the API's own path
(`api.parse_call`, then `api.serve`): the same argument checks, page cache,
upstream budget — and so push and live stream — as the API call. Only the
feed-level title, links and id follow Flickr's feeds (this module).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import quote, urlencode

from flask import Blueprint, Flask, Response, g, request

from .. import api, errors
from ..api import Call, canonical_args, feed_context, parse_call, request_args, serve
from ..cache import http as hits
from ..errors import FlickrError
from ..formats import FORMATS, Format, jsonfeed
from ..formats.feed import FeedContext
from ..methods import WWW
from ..model import Page
from .mapping import COMMON, FEED_FORMATS, FEEDS, REFUSED, api_args, api_format, default_callback, feed_for, tags_of

__all__ = ["FEED_FORMATS", "FEEDS", "REFUSED", "bp", "feed_for", "init_app"]

bp = Blueprint("feeds", __name__)
Args = Mapping[str, str]
JSON_FEED = Format("application/json", jsonfeed.render, is_feed=False)


# The API's own error handlers: X-FlickrErr* headers and Flickr's bodies, never a traceback.
bp.register_error_handler(FlickrError, api.flickr_error)
bp.register_error_handler(Exception, api.unexpected)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


# ---------------------------------------------------------------- the endpoint


@bp.get("/services/feeds/<name>.gne")
def feed(name: str) -> Response:
    return answer(name, feed_args())


@bp.get("/services/feeds/geo/")
@bp.get("/services/feeds/geo")
def geo_feed() -> Response:
    return answer("geo", feed_args())


@bp.get("/services/feeds/geo/<path:place>")
def geo_place(place: str) -> Response:
    g.format = FORMATS[api_format(feed_args(), "geo")]  # a JSON caller gets its error as JSON
    raise FlickrError(errors.METHOD_NOT_FOUND, "Place-name geo feeds are not available: "
                      "ask /services/feeds/geo/?id=, ?g= or ?tags=")


def feed_args() -> dict[str, str]:
    """The request's arguments, with names pasted from HTML mended: `?id=X&amp;format=rss_200` is
    `format` (blog plugins and pages copy feed URLs out of HTML); the first of a repeated name wins."""
    args: dict[str, str] = {}
    for key, value in request_args().items():
        args.setdefault(key.removeprefix("amp;"), value)
    return args


def answer(name: str, args: Args) -> Response:
    fmt = api_format(args, name)
    g.format = FORMATS[fmt]  # from here on, errors answer in the asked format's shape
    if default_callback(fmt, args):
        g.jsoncallback = jsonfeed.CALLBACK  # errors before parse_call are wrapped as the feed would be
    call = parse_call(api_args(name, args))  # the API's validation, Flickr's order
    if call.format_name == "json":
        call = replace(call, format=JSON_FEED)
    reads = FEEDS[name].reads + COMMON
    # The self link names the feed as asked, in the API's canonical order: the feed's own
    # arguments sorted, then format and size, as given (lang changes nothing and is left out).
    order = sorted(set(reads) - {"format", "size"}) + ["format", "size"]
    own = {k: args[k].strip() for k in order if args.get(k, "").strip() and k not in
           ("lang", "nojsoncallback", "jsoncallback")}
    identity = ("feed", name, own, call.method.name, canonical_args(call.args), call.format_name, call.size,
                call.jsoncallback, call.api_key, hits.origin(request.environ))
    return serve(call, identity, lambda c, page: context(name, own, c, page))


# ---------------------------------------------------------------- feed-level values


def _feed_url(own: Args, **override: str) -> str:
    query = urlencode({**own, **override}, safe="@,", quote_via=quote)
    return f"{request.base_url}?{query}" if query else request.base_url


def context(name: str, own: Args, call: Call, page: Page) -> FeedContext:
    """The API's feed context for the call, with Flickr's feed title, link, id and self link."""
    base = feed_context(call, page)
    title, link = title_and_link(name, own, call, page)
    if not base.link.startswith(WWW):
        link = base.link  # local photos: flickr.com has no page of them, the gateway has (api._link)
    # Links a machine follows carry the caller's key where keys are required (Call.link_args).
    key = {"api_key": call.api_key} if call.api_key else {}
    return replace(base, title=title, link=link, self_url=_feed_url({**own, **key}), feed_id=feed_id(name, own),
                   page_urls={}, kml_url=_feed_url({**own, "format": "kml", **key}))


def _tag_words(tags: str, mode: str) -> str:
    """"a, b and c" (tagmode all) or "a, b or c" (any), as Flickr's titles list tags."""
    names = tags.split(",")
    joiner = " or " if mode == "any" else " and "
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + joiner + names[-1]


def _owner(user: str, page: Page) -> tuple[str, str]:
    """The display name and page path of a user whose photos the page holds; the id when it holds none."""
    for photo in page.photos:
        if user in (photo.owner, photo.pathalias):
            return photo.author_name, photo.path
    return user, user


def title_and_link(name: str, own: Args, call: Call, page: Page) -> tuple[str, str]:
    """Flickr's feed titles: "Uploads from everyone", "Uploads from NAME", "Recent Uploads tagged a and b"."""
    if name not in ("photos_public", "geo") or "group_id" in call.args:
        return call.method.title(call.args, api.about(call, page)), call.method.link(call.args, page.about)
    tags, user = tags_of(own), call.args.get("user_id", "")
    words = _tag_words(tags, call.args.get("tag_mode", "all")) if tags else ""
    if user:
        who, path = _owner(user, page)
        return f"Uploads from {who}" + (f", tagged {words}" if words else ""), f"{WWW}/photos/{quote(path, safe='@')}/"
    if words:
        # Flickr linked a one-tag feed to the tag's page, a several-tag feed to /photos/.
        link = f"{WWW}/photos/tags/{quote(tags, safe='')}/" if "," not in tags else f"{WWW}/photos/"
        return f"Recent Uploads tagged {words}", link
    return "Uploads from everyone", f"{WWW}/photos/"


def feed_id(name: str, own: Args) -> str:
    """Flickr's feed ids where its feeds show them (tag:flickr.com,2005:/photos/public/tagged/all/a-b-c),
    else the gateway's own tag: URI for the feed URL (format left out: one feed, many formats)."""
    tags, user = tags_of(own), own.get("id", "")
    if name == "photos_public" and not (own.get("g") or own.get("ids") or own.get("bbox")):
        base = "tag:flickr.com,2005:/photos/public"
        if tags and not user:
            mode = "any" if own.get("tagmode", "").lower() == "any" else "all"
            return f"{base}/tagged/{mode}/" + "-".join(quote(t, safe="") for t in tags.split(","))
        if user and not tags:
            return f"{base}/{quote(user, safe='@')}"
        if not user:
            return base
    identity = {k: v for k, v in own.items() if k not in ("format", "size")}
    host = api._tag_authority()
    query = urlencode(identity, safe="@,", quote_via=quote)
    path = "geo/" if name == "geo" else f"{name}.gne"
    return f"tag:{host},2026:/services/feeds/{path}" + (f"?{query}" if query else "")


