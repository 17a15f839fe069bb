"""The /services/rest/ endpoint: the only module that knows about HTTP (SPEC 1, 4, 5, 7).

One request, one direction: parse the call → upstream.photos() → FORMATS[format].render()
→ a response with validators, or a Flickr-style error.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date, parse_date
from werkzeug.middleware.proxy_fix import ProxyFix

from . import errors, upstreams
from .errors import FlickrError, header_value
from .formats import FORMATS, JSONP_TYPE, Format
from .formats.feed import DEFAULT_SIZE, ENCLOSURE_SIZES, FeedContext
from .formats.rest import EXTRAS, error_json, error_rest
from .methods import KNOWN_OTHER, METHODS, Method
from .model import Page

log = logging.getLogger("gateway.api")
bp = Blueprint("api", __name__)

MAX_QUERY = 8 * 1024  # SPEC 5: longer query strings get 414 / code 116
MAX_ARGS = 100
JSONP_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$.]{0,63}")
# Arguments that steer the gateway or carry the caller's credentials: never
# part of the method's own arguments, never echoed into a feed link.
CONTROL = {"method", "format", "nojsoncallback", "jsoncallback", "size"}
CREDENTIALS = {"api_key", "api_sig", "auth_token", "perms", "frob"}
# Arguments that fix the area of a call, so a network link must not add Google Earth's bbox.
FIXED_AREA = {"bbox", "lat", "lon", "woe_id", "place_id"}
BAD_ARGUMENT = 3  # the code the gateway uses for a malformed argument of its own (size, jsoncallback)


@dataclass(frozen=True)
class Call:
    """One parsed request: what to ask the upstream and how to render it."""

    method: Method
    format_name: str
    format: Format
    args: dict[str, str]  # the method's own arguments, page and per_page normalised
    size: str
    extras: frozenset[str]
    jsoncallback: str | None

    @property
    def public_args(self) -> dict[str, str]:
        """The call as a link may repeat it: method, its arguments, format and size."""
        out = {"method": self.method.name, **self.args, "format": self.format_name}
        if self.size != DEFAULT_SIZE:
            out["size"] = self.size
        return out


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    hops = app.config["PROXY_HOPS"]
    if hops > 0:
        # Links (self, network link) must name the host the client used, not gunicorn's socket.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)


# ---------------------------------------------------------------- parsing


def request_args() -> dict[str, str]:
    """GET query and POST form arguments; of a repeated argument the first value wins."""
    if len(request.query_string) > MAX_QUERY:
        raise FlickrError(errors.BAD_URL, "Bad URL found", 414)
    args: dict[str, str] = {}
    sources = [request.args]
    if request.method == "POST":
        if (request.content_length or 0) > 64 * 1024:
            raise FlickrError(errors.BAD_URL, "Bad URL found", 413)
        sources.append(request.form)
    for source in sources:
        for key in source:
            if key not in args:
                args[key] = source.get(key, "")
    if len(args) > MAX_ARGS:
        raise FlickrError(errors.BAD_URL, f"Bad URL found (more than {MAX_ARGS} arguments)")
    return args


def parse_call(args: Mapping[str, str]) -> Call:
    """Validate the request in Flickr's order: format, api key, method, required arguments."""
    format_name = args.get("format") or "rest"
    fmt = FORMATS.get(format_name)
    if fmt is None:
        raise FlickrError(errors.FORMAT_NOT_FOUND, f'Format "{format_name}" not found')
    g.format = fmt
    callback = _jsoncallback(args) if format_name == "json" else None
    g.jsoncallback = callback
    _check_api_key(args)
    name = args.get("method", "")
    method = METHODS.get(name)
    if method is None:
        if name in KNOWN_OTHER:
            raise FlickrError(errors.METHOD_NOT_FOUND, f'Method "{name}" is not available in feed formats')
        raise FlickrError(errors.METHOD_NOT_FOUND, f'Method "{name}" not found')
    if any(not args.get(req, "").strip() for req in method.required):
        raise FlickrError(*method.missing)
    size = args.get("size") or DEFAULT_SIZE
    if size not in ENCLOSURE_SIZES:
        raise FlickrError(BAD_ARGUMENT, f'Invalid size "{size}" (one of {", ".join(sorted(ENCLOSURE_SIZES))})')
    own = {k: v for k, v in args.items()
           if k not in CONTROL and k not in CREDENTIALS and not k.startswith("oauth_")}
    own["per_page"] = str(_per_page(args.get("per_page")))
    own["page"] = str(_positive(args.get("page"), 1))
    extras = frozenset(e.strip() for e in args.get("extras", "").split(",") if e.strip() in EXTRAS)
    return Call(method, format_name, fmt, own, size, extras, callback)


def _jsoncallback(args: Mapping[str, str]) -> str | None:
    if args.get("nojsoncallback") == "1":
        return None
    name = args.get("jsoncallback")
    if name is None:
        return "jsonFlickrApi"  # Flickr's default wrapper
    if not JSONP_NAME.fullmatch(name):
        g.jsoncallback = None
        raise FlickrError(BAD_ARGUMENT, "Invalid jsoncallback (a JavaScript identifier of at most 64 characters)")
    return name


def _check_api_key(args: Mapping[str, str]) -> None:
    keys = current_app.config["API_KEYS"]
    if not keys:
        return
    # flickrapi sends the key only inside its OAuth header, as oauth_consumer_key.
    key = args.get("api_key") or args.get("oauth_consumer_key") or _oauth_consumer_key()
    if key not in keys:
        raise FlickrError(errors.INVALID_API_KEY, "Invalid API Key")


def _oauth_consumer_key() -> str:
    header = request.headers.get("Authorization", "")
    m = re.search(r'oauth_consumer_key="([^"]*)"', header)
    return m.group(1) if m else ""


def _positive(value: str | None, default: int) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    return number if number >= 1 else default


def _per_page(value: str | None) -> int:
    """SPEC 4: capped at MAX_PER_PAGE; missing, non-numeric or < 1 means the cap."""
    cap = current_app.config["MAX_PER_PAGE"]
    return min(_positive(value, cap), cap)


# ---------------------------------------------------------------- context


def _url(args: Mapping[str, str]) -> str:
    return f"{request.base_url}?{urlencode(args)}"


def feed_context(call: Call, page: Page) -> FeedContext:
    public = call.public_args
    identity = {k: v for k, v in sorted(public.items()) if k not in ("page", "per_page", "format", "size")}
    page_urls = {}
    if call.format.is_feed and page.pages > 0:
        last = max(page.pages, 1)
        page_urls["first"] = _url({**public, "page": "1"})
        if 1 < page.page <= last + 1:
            page_urls["previous"] = _url({**public, "page": str(min(page.page - 1, last))})
        if page.page < last:
            page_urls["next"] = _url({**public, "page": str(page.page + 1)})
        page_urls["last"] = _url({**public, "page": str(last)})
    return FeedContext(
        method=call.method.name,
        args=call.args,
        title=call.method.title(call.args, page.info),
        link=call.method.link(call.args, page.info),
        self_url=_url(public),
        feed_id=f"tag:{request.host.split(':')[0]},2026:/services/rest/?{urlencode(identity)}",
        size=call.size,
        ttl=current_app.config["CACHE_TTL"],
        extras=call.extras,
        jsoncallback=call.jsoncallback,
        page_urls=page_urls,
        kml_url=_url({**public, "format": "feed-kml"}),
        view_bbox=call.method.takes_bbox and not FIXED_AREA & call.args.keys(),
    )


# ---------------------------------------------------------------- the endpoint


@bp.route("/services/rest/", methods=["GET", "POST"])
@bp.route("/services/rest", methods=["GET", "POST"])
def rest() -> Response:
    call = parse_call(request_args())
    page = upstreams.get().photos(call.method.name, call.args).paginated(int(call.args["per_page"]))
    page = page.with_image_base(request.url_root)  # local photos' images are served here (gateway/images.py)
    body = call.format.render(page, feed_context(call, page))
    content_type = JSONP_TYPE if call.format_name == "json" and call.jsoncallback else call.format.content_type
    return respond(body, content_type, page.updated)


def respond(body: bytes, content_type: str, updated: int) -> Response:
    """200 with validators, or 304 (SPEC 7): If-None-Match, else If-Modified-Since as "not modified since" (≤)."""
    etag = hashlib.sha1(body).hexdigest()
    last_modified = datetime.fromtimestamp(updated, UTC)
    ttl = current_app.config["CACHE_TTL"]
    headers = {
        "ETag": f'"{etag}"',
        "Last-Modified": http_date(last_modified),
        "Cache-Control": f"public, max-age={ttl}",
    }
    if not_modified(etag, last_modified):
        return Response(status=304, headers=headers)
    return Response(body, headers=headers, content_type=f"{content_type}; charset=utf-8")


def not_modified(etag: str, last_modified: datetime) -> bool:
    if_none_match = request.if_none_match
    if if_none_match:
        return if_none_match.contains_weak(etag) or if_none_match.star_tag
    since = parse_date(request.headers.get("If-Modified-Since"))
    return since is not None and since >= last_modified


# ---------------------------------------------------------------- errors


@bp.errorhandler(FlickrError)
def flickr_error(err: FlickrError) -> Response:
    return error_response(err)


@bp.errorhandler(Exception)
def unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return exc
    # A bug must not show a traceback to the client; it is logged for the operator.
    log.exception("unexpected error on %s", request.full_path)
    return error_response(errors.unavailable())


def error_response(err: FlickrError) -> Response:
    """SPEC 5: feed formats get HTTP 4xx/503 + X-FlickrErr* headers and a <rsp stat="fail"> body;
    rest/json get Flickr's own envelope with HTTP 200."""
    fmt: Format | None = g.get("format")
    headers = {"X-FlickrErrCode": str(err.code), "X-FlickrErrMessage": header_value(err.message)}
    if err.retry_after:
        headers["Retry-After"] = str(err.retry_after)
    if fmt is not None and not fmt.is_feed and err.status not in (413, 414):
        if fmt is FORMATS["json"]:
            callback = g.get("jsoncallback")
            body = error_json(err.code, err.message, callback)
            content_type = JSONP_TYPE if callback else fmt.content_type
            return Response(body, 200, headers, content_type=f"{content_type}; charset=utf-8")
        return Response(error_rest(err.code, err.message), 200, headers, content_type="text/xml; charset=utf-8")
    return Response(error_rest(err.code, err.message), err.status, headers, content_type="text/xml; charset=utf-8")
