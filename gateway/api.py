"""The /services/rest/ endpoint: the only module that knows about HTTP (SPEC 1, 4, 5, 7).

One request, one direction: parse the call → cached response? → upstream.photos() (cached
and coalesced per call) → FORMATS[format].render() → a response with validators, or a
Flickr-style error.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.http import http_date

from . import cache, errors, metrics, upstreams, validation
from .access import MAX_FORM, endpoint, observation
from .accesslog import loggable_query
from .cache import cache_key, pages
from .cache import http as hits
from .cache.entry import Entry
from .cache.modified import last_modified
from .errors import FlickrError, header_value
from .formats import FORMATS, JSONP_TYPE, Format
from .formats.feed import DEFAULT_SIZE, ENCLOSURE_SIZES, FeedContext, feed_updated
from .formats.rest import EXTRAS, error_json, error_rest
from .methods import KNOWN_OTHER, METHODS, Method, local_link
from .model import Page

log = logging.getLogger("gateway.api")
bp = Blueprint("api", __name__)

MAX_QUERY = 8 * 1024  # SPEC 5: longer query strings get 414 / code 116
MAX_ARGS = 100
TAG_AUTHORITY = re.compile(r"[a-z0-9.-]+")
JSONP_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$.]{0,63}")
# The gateway's own arguments (steering it, or the caller's credentials) are never among a
# method's arguments (methods.ARGS), so they never reach the cache key, the upstream or a link:
# method, format, size, nojsoncallback, jsoncallback, api_key, api_sig, auth_token, oauth_*.
# Arguments that fix the area of a call, so a network link must not add Google Earth's bbox.
FIXED_AREA = {"bbox", "lat", "lon", "woe_id", "place_id"}
HUB_PATH = "/push/hub"  # the WebSub hub (gateway/push/hub.py)
STREAM_PATH = "/services/stream/"  # live streams (gateway/live/stream.py)
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
    # The caller's own api_key when GATEWAY_API_KEYS requires one, else "": the links a
    # machine follows by itself (network link, self, paging) carry it, or it is shut out.
    api_key: str = ""

    def public_args(self, **override: str) -> dict[str, str]:
        """The call as a link repeats it: method, its arguments sorted, format, size.

        One canonical form, because equivalent URLs share one cached response
        (and so one self link); it is the order people write these URLs in,
        and defaults (page 1, per_page at the cap, size b) are left out, so a
        typical request URL and its self link are the same string.
        """
        args = {**self.args, **override}
        if args.get("page") == "1":
            del args["page"]
        if args.get("per_page") == str(current_app.config["MAX_PER_PAGE"]):
            del args["per_page"]
        out = {"method": self.method.name, **dict(sorted(args.items())), "format": self.format_name}
        if self.size != DEFAULT_SIZE:
            out["size"] = self.size
        return out

    def link_args(self, format_name: str = "", **override: str) -> dict[str, str]:
        """public_args plus the caller's own api_key where keys are required (SPEC 3.4, 6):
        Google Earth refreshing a network link or a reader fetching the next page sends
        nothing but the link. Never api_sig, auth_token, oauth_* or the gateway's Flickr key."""
        out = self.public_args(**override)
        if format_name:
            out["format"] = format_name
        if self.api_key:
            out["api_key"] = self.api_key
        return out


Context = Callable[[Call, Page], FeedContext]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    # A chunked POST has no Content-Length to refuse up front (request_args): Werkzeug
    # then reads at most this many bytes of its form, so no body can fill the memory.
    app.config["MAX_CONTENT_LENGTH"] = MAX_FORM
    # Routing errors (a Host header Werkzeug cannot read, a verb the endpoint does not
    # take) happen before the blueprint, so its handlers never see them.
    app.register_error_handler(HTTPException, http_error)
    app.before_request(readable_host)


def readable_host() -> None:
    """A Host header that is no host (a quote, a space, `user@`, a port past 65535, empty) is a
    400, as RFC 9112 section 3.2 asks: Werkzeug reads it as "", and every absolute link built from
    it (self, paging, the network link, local photos' images and pages) would be `http:///…`.
    The API's paths answer it as code 116 (http_error); the probes never refuse."""
    if request.environ.get("HTTP_HOST") is not None and not request.host and endpoint(request.path) != "ops":
        raise BadRequest("The Host header is not a host name.")


# ---------------------------------------------------------------- parsing


def request_args() -> dict[str, str]:
    """GET query and POST form arguments; of a repeated argument the first value wins."""
    if len(request.query_string) > MAX_QUERY:
        raise FlickrError(errors.BAD_URL, "Bad URL found", 414)
    args: dict[str, str] = {}
    sources = [request.args]
    if request.method == "POST":
        if (request.content_length or 0) > MAX_FORM:
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
    observation(request.environ).format = format_name
    callback = _jsoncallback(args) if format_name == "json" else None
    g.jsoncallback = callback
    api_key = _check_api_key(args)
    name = args.get("method", "")
    method = METHODS.get(name)
    if method is None:
        if name in KNOWN_OTHER:
            # A feed format names the reason in its own terms (SPEC 5); rest/json asked for no feed.
            where = "in feed formats" if format_name.startswith("feed-") else "through this gateway"
            raise FlickrError(errors.METHOD_NOT_FOUND, f'Method "{name}" is not available {where}')
        raise FlickrError(errors.METHOD_NOT_FOUND, f'Method "{name}" not found')
    observation(request.environ).flickr_method = name
    if any(not args.get(req, "").strip() for req in method.required):
        raise FlickrError(*method.missing)
    size = args.get("size") or DEFAULT_SIZE
    if size not in ENCLOSURE_SIZES:
        raise FlickrError(BAD_ARGUMENT, f'Invalid size "{size}" (one of {", ".join(sorted(ENCLOSURE_SIZES))})')
    # Only the arguments the method takes on Flickr (methods.ARGS): a junk argument would
    # otherwise be a new cache entry and a new upstream call for the same photos (SPEC 7).
    own = method.own_args(args)
    own["per_page"] = str(_per_page(args.get("per_page")))
    own["page"] = str(_positive(args.get("page"), 1))
    # Unknown extras are dropped, as Flickr ignores them: they would only split the cache.
    extras = frozenset(e.strip() for e in args.get("extras", "").split(",") if e.strip() in EXTRAS)
    own.pop("extras", None)
    if extras:
        own["extras"] = ",".join(sorted(extras))
    validation.check(method, own)
    return Call(method, format_name, fmt, own, size, extras, callback, api_key)


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


def _check_api_key(args: Mapping[str, str]) -> str:
    """The caller's key when keys are required ("" when the gateway is open); code 100 when wrong."""
    keys = current_app.config["API_KEYS"]
    if not keys:
        return ""
    # flickrapi sends the key only inside its OAuth header, as oauth_consumer_key.
    key = args.get("api_key") or args.get("oauth_consumer_key") or _oauth_consumer_key()
    if key not in keys:
        raise FlickrError(errors.INVALID_API_KEY, "Invalid API Key")
    return key


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
    # "@" (NSIDs) and "," (bbox, tags, extras) stay as people type them.
    return f"{request.base_url}?{urlencode(args, safe='@,', quote_via=quote)}"


def _tag_authority() -> str:
    """The request's host as a tag: URI authority (RFC 4151: a lower-case DNS name)."""
    host = (urlsplit("//" + request.host).hostname or "").lower()
    return host if TAG_AUTHORITY.fullmatch(host) else "localhost"


def _link(call: Call, page: Page) -> str:
    """The feed's HTML page: flickr.com's on the Flickr upstream; on the library the gateway's own
    (the owner's, set's or builder page): decided by the upstream, so an empty page links the same."""
    if upstreams.get().name != "library":
        return call.method.link(call.args, page.about)
    query = urlencode(call.public_args(), safe="@,", quote_via=quote)
    return local_link(call.method.name, call.args, request.url_root, query)


def about(call: Call, page: Page) -> Mapping[str, str]:
    """What the feed's title names: the set the page lists (Page.about: album, gallery) and, on the
    library upstream, the names it holds for the call's user_id and group_id (Library.names). Flickr's
    answers carry no such names: with the Flickr upstream the titles keep what Flickr gives."""
    names = getattr(upstreams.get(), "names", None)
    known = names(call.args) if names is not None else {}
    return {**known, **page.about} if known else page.about


def feed_context(call: Call, page: Page) -> FeedContext:
    public = call.public_args()
    identity = {k: v for k, v in sorted(public.items()) if k not in ("page", "per_page", "format", "size")}
    page_urls = {}
    if call.format.is_feed and page.pages > 0:
        last = max(page.pages, 1)
        page_urls["first"] = _url(call.link_args(page="1"))
        if 1 < page.page <= last + 1:
            page_urls["previous"] = _url(call.link_args(page=str(min(page.page - 1, last))))
        if page.page < last:
            page_urls["next"] = _url(call.link_args(page=str(page.page + 1)))
        page_urls["last"] = _url(call.link_args(page=str(last)))
    return FeedContext(
        method=call.method.name,
        args=call.args,
        # rest and json have no title: no lookup of names for them.
        title=call.method.title(call.args, about(call, page) if call.format.is_feed else page.about),
        link=_link(call, page),
        self_url=_url(call.link_args()),
        feed_id=f"tag:{_tag_authority()},2026:/services/rest/?{urlencode(identity, safe='@,', quote_via=quote)}",
        size=call.size,
        ttl=current_app.config["CACHE_TTL"],
        extras=call.extras,
        jsoncallback=call.jsoncallback,
        page_urls=page_urls,
        kml_url=_url(call.link_args("feed-kml")),  # same call; Google Earth appends &bbox=…
        view_bbox=call.method.takes_bbox and not FIXED_AREA & call.args.keys(),
        hub_url=hub_url(call) if call.format.is_feed else "",
        tag_authority=_tag_authority(),
    )


def stream_url(args: Mapping[str, str]) -> str:
    """The live stream of a call (gateway/live): its link arguments (Call.link_args: the caller's own
    api_key where keys are required) less format, size and paging, on the request's own origin."""
    keep = {k: v for k, v in args.items() if k not in ("format", "size", "page", "per_page", "nojsoncallback")}
    return f"{request.url_root}{STREAM_PATH.lstrip('/')}?{urlencode(keep, safe='@,', quote_via=quote)}"


def topic_url(call: Call) -> str:
    """The call's WebSub topic: its canonical self URL at /services/rest/, also when the request
    came by another path (Flickr's .gne feed URLs share the topic of the call they translate to)."""
    query = urlencode(call.public_args(), safe="@,", quote_via=quote)
    return f"{request.url_root}services/rest/?{query}"


def hub_url(call: Call | None = None) -> str:
    """The WebSub hub of this gateway's feeds (gateway/push/hub.py), on the request's own origin;
    with the caller's own api_key where keys are required (a feed reader posts to it by itself)."""
    url = request.url_root + HUB_PATH.lstrip("/")
    return f"{url}?{urlencode({'api_key': call.api_key})}" if call is not None and call.api_key else url


# ---------------------------------------------------------------- the endpoint


@bp.route("/services/rest/", methods=["GET", "POST"])
@bp.route("/services/rest", methods=["GET", "POST"])
def rest() -> Response:
    call = parse_call(request_args())
    # Everything that changes the bytes: the call, how it is rendered, and the
    # base URL and the caller's key ("" unless keys are required) that the links carry.
    identity = (call.method.name, canonical_args(call.args), call.format_name, call.size,
                call.jsoncallback, hits.origin(request.environ), call.api_key)
    return serve(call, identity)


def serve(call: Call, identity: tuple, context: Context | None = None) -> Response:
    """Answer a parsed call from the cache, or render it: the one path every feed URL takes.

    `identity` is everything that changes the response bytes; `context` builds the
    feed-level values (title, links, id) when they are not the API's own: Flickr's
    public feed URLs (feeds/) are answered here too, so they share the page cache,
    validation and upstream budget of the call they translate to.
    """
    store, upstream = cache.get(), upstreams.get()
    # Read before the upstream is asked, so that what is cached under a version is at least that new.
    version, changed_at = upstreams.data_version(upstream)
    identity = (upstream.name, *identity)
    key = cache_key("response", *identity, version)
    current_app.extensions["gateway.known"].remember(
        hits.raw_request(request.environ), hits.Known(key, call.method.name, call.format_name, version))
    obs = observation(request.environ)
    entry = store.get(key)
    obs.cache = "hit"
    if entry is None or not entry.fresh(time.time()):
        obs.cache = "miss"
        try:
            entry = render(call, key, cache_key("modified", *identity), version, changed_at, context)
        except Exception as exc:
            if entry is None or (isinstance(exc, FlickrError) and pages.is_answer(exc)):
                raise
            # The page behind this response is gone, but the response itself is still kept.
            log.warning("upstream failed (%s); serving a copy %ds old of %s",
                        exc, entry.age(time.time()), _url(call.public_args()))
    return respond(entry)


def canonical_args(args: Mapping[str, str]) -> dict[str, str]:
    """The arguments as a cache key sees them: extras is a set ("geo,tags" = "tags,geo,tags")."""
    out = dict(args)
    extras = sorted({e.strip() for e in out.pop("extras", "").split(",") if e.strip()})
    if extras:
        out["extras"] = ",".join(extras)
    return out


def render(call: Call, key: str, modified_key: str, version: int, changed_at: int,
           context: Context | None = None) -> Entry:
    """Fetch the call's page (cached and coalesced per upstream call), render it and cache the response.

    `version` and `changed_at` are the upstream's data version (upstreams.data_version);
    `modified_key` names the record that dates this representation (cache/modified.py).
    """
    store, upstream = cache.get(), upstreams.get()

    def load() -> Entry:
        try:
            page = upstream_photos(upstream, call)
        except FlickrError as err:
            if not pages.is_answer(err):
                raise
            return store.new_entry((), pages.encode_error(err))
        return store.new_entry(pages.encode(page), {})

    fetched = store.fetch(cache_key("page", upstream.name, call.method.name, canonical_args(call.args), version), load)
    page = pages.decode(fetched).paginated(int(call.args["per_page"]))
    page = page.with_image_base(request.url_root)  # local photos' images are served here (gateway/images.py)
    body = call.format.render(page, (context or feed_context)(call, page))
    content_type = JSONP_TYPE if call.format_name == "json" and call.jsoncallback else call.format.content_type
    # Compressed once here, not per request; mtime=0 keeps the gzip bytes stable.
    etag = hashlib.sha1(body).hexdigest()
    # Not just the feed's own updated time (the newest photo's): that stays put when an
    # older photo joins a pool, and If-Modified-Since pollers would never see it (modified.py).
    modified = last_modified(store, modified_key, etag, feed_updated(page), changed_at)
    meta = {"etag": etag, "updated": modified, "type": f"{content_type}; charset=utf-8",
            "modified": http_date(modified)}
    # The call's live stream (SPEC 11, gateway/live): every answer names it.
    links = [f'<{stream_url(call.link_args())}>; rel="alternate"; type="text/event-stream"']
    if call.format.is_feed:
        # WebSub discovery (SPEC 10): every feed is a topic named by its canonical self URL.
        links[:0] = [f'<{hub_url(call)}>; rel="hub"', f'<{topic_url(call)}>; rel="self"']
    meta["link"] = ", ".join(links)
    entry = fetched.derive((body, gzip.compress(body, mtime=0)), meta)
    store.set(key, entry)
    return entry


def upstream_photos(upstream: upstreams.Upstream, call: Call) -> Page:
    """The one place an upstream is called: timed and counted for the log line and the metrics."""
    start = time.perf_counter()
    outcome, kind = "failure", "unexpected"
    try:
        page = upstream.photos(call.method.name, call.args)
        outcome = "ok"
        return page
    except FlickrError as err:
        outcome = "answer" if pages.is_answer(err) else "failure"
        kind = err.kind or "unavailable"
        raise
    finally:
        elapsed = time.perf_counter() - start
        observation(request.environ).upstream_ms += elapsed * 1000
        metrics.UPSTREAM_CALLS.labels(upstream.name, outcome).inc()
        metrics.UPSTREAM_LATENCY.labels(upstream.name).observe(elapsed)
        if outcome == "failure":
            metrics.UPSTREAM_FAILURES.labels(upstream.name, kind).inc()


def respond(entry: Entry) -> Response:
    """200 with validators, or 304 (SPEC 7); the rules are in cache/http.py, shared with FastHits."""
    ttl = current_app.config["CACHE_TTL"]
    if entry.age(time.time()) > ttl:
        observation(request.environ).cache = "stale"
    status, headers, body = hits.answer(entry, request.environ, ttl)
    return Response(body, status, headers)


# ---------------------------------------------------------------- errors


@bp.errorhandler(FlickrError)
def flickr_error(err: FlickrError) -> Response:
    return error_response(err)


@bp.errorhandler(Exception)
def unexpected(exc: Exception) -> Response | HTTPException:
    if isinstance(exc, HTTPException):
        return http_error(exc)
    # A bug must not show a traceback to the client; it is logged for the operator.
    # The query as the access log writes it: never the caller's credentials (SPEC 6).
    log.exception("unexpected error on %s?%s", request.path, loggable_query(request.query_string.decode("latin-1")))
    return error_response(errors.unavailable())


def http_error(exc: HTTPException) -> Response | HTTPException:
    """Werkzeug's own 4xx refusals of the endpoint, in its error shape: every 4xx of
    /services/rest/ carries X-FlickrErr* (code 116, Bad URL found) and Flickr's body."""
    if not is_api_path(request.path) or exc.code is None or exc.code < 400:
        return exc
    response = error_response(FlickrError(errors.BAD_URL, "Bad URL found", exc.code))
    for name, value in exc.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value  # e.g. Allow for a 405
    return response


def is_api_path(path: str) -> bool:
    """/services/rest/ and Flickr's public feed URLs (/services/feeds/…): they answer in Flickr's error shape."""
    return path.rstrip("/") == "/services/rest" or path.startswith("/services/feeds/")


def error_response(err: FlickrError) -> Response:
    """SPEC 5: feed formats get HTTP 4xx/503 + X-FlickrErr* headers and a <rsp stat="fail"> body;
    rest/json get Flickr's own envelope with HTTP 200."""
    fmt: Format | None = g.get("format")
    observation(request.environ).error_code = err.code  # for the log line (rest/json errors are HTTP 200)
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
