"""The feed builder page: GET / builds a /services/rest/ call from a form and
previews the photos it returns (issue 6).

The page never answers a call itself: it validates the call with the API's
own parse_call and then asks the API for it, through an internal request to
/services/rest/ (format=json for the preview, feed-kml_nl for the Google
Earth download). So the preview and the download go through everything a feed
reader's request goes through (cache, errors, api keys), and cannot drift
from what the reader gets.

    GET /               the form, the feed's address and actions, and (once submitted) the preview
    GET /preview        the preview alone, for builder.js to swap in as the form changes
    GET /download.kml   the call as a KML network link, as a file to open in Google Earth
    GET /places?q=lis   towns by name (offline gazetteer): the place field's suggestions
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request

from .. import blocking, errors, feeds, upstreams
from ..api import STREAM_PATH, about, parse_call
from ..errors import FlickrError
from ..formats import FORMATS
from ..methods import METHODS
from ..model import Page, Photo, image, parse_json, parse_rest, photo_page_url, profile_url
from ..safexml import clean, parse
from . import form
from .wording import explain
from .worldmap import WorldMap, world_map

log = logging.getLogger("gateway.pages")
bp = Blueprint("pages", __name__)

# No script, style or font comes from anywhere else; thumbnails come from Flickr's hosts.
# No other site may frame a page (clickjacking): frame-ancestors, and X-Frame-Options for older browsers.
CSP = "default-src 'self'; img-src 'self' https: data:; frame-ancestors 'none'"
NOT_FRAMED = {"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY"}
# What the preview shows beyond the standard attributes: owner names, photo page paths, places,
# and the image URLs of photos the gateway serves itself (which cannot be built from server and secret).
PREVIEW_EXTRAS = "owner_name,path_alias,geo,url_sq,url_q,url_l"
KML_NL = "feed-kml_nl"
GEOJSON = "feed-geojson"


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(not_framed)


@bp.after_request
def security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def not_framed(response: Response) -> Response:
    """Every HTML answer of the app, not only the blueprints' pages (Werkzeug's error pages too),
    refuses to be framed: CSP frame-ancestors for today's browsers, X-Frame-Options for older ones."""
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", NOT_FRAMED["Content-Security-Policy"])
        response.headers["X-Frame-Options"] = NOT_FRAMED["X-Frame-Options"]
    return response


# ---------------------------------------------------------------- routes


@bp.get("/")
def builder() -> str:
    submitted = "method" in request.args
    # What the person typed, echoed back into the form (Jinja escapes it).
    values = _place_point({k: clean(v) for k, v in request.args.items()})
    if not submitted:
        values = {"method": form.DEFAULT_METHOD, "format": form.default_format()}
    args = _args(values)
    return render_template("builder.html", **_feed(args), values=values, preview=_preview(args) if submitted else None,
                           fields=_fields(), methods=form.method_choices(), formats=_formats(),
                           cap=current_app.config["MAX_PER_PAGE"], groups=form.GROUPS)


@bp.get("/preview")
def preview() -> str:
    args = _args(_place_point(request.args))
    return render_template("_preview.html", preview=_preview(args), gne_url=_gne_url(args))


def _place_point(values: Mapping[str, str]) -> dict[str, str]:
    if not values.get("place", "").strip():
        return dict(values)
    return blocking.run("library-heavy", form.place_point, values)


@bp.get("/places")
def places() -> Response:
    """Towns whose name starts with ?q= (offline, from the gazetteer), for the builder's place field:
    [{"label": "Lisbon, Portugal", "lat": "38.7251", "lon": "-9.1498", "radius": "7"}, …]."""
    text = clean(request.args.get("q", ""))[:100]
    # The gazetteer is read on first use (a second of CPU): off the event loop, as long work is.
    found = blocking.run("library-heavy", form.places_named, text) if len(text.strip()) >= 2 else []
    response = Response(json.dumps(found, ensure_ascii=False), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/download.kml")
def download_kml() -> Response:
    if KML_NL not in FORMATS:
        abort(404)
    args = {**_args(request.args), "format": KML_NL}
    args.pop("nojsoncallback", None)
    # Conditional headers pass through: Google Earth and browsers revalidate like any feed client.
    response = _api(args, plain=False)
    if response.status_code == 200:
        response.headers["Content-Disposition"] = f'attachment; filename="{kml_filename(args)}"'
    return response


# ---------------------------------------------------------------- the feed and its actions


def _args(values: Mapping[str, str]) -> dict[str, str]:
    return form.api_args(values, with_key=bool(current_app.config["API_KEYS"]))


def _rest_url() -> str:
    # url_root honours the proxy's host and prefix (ProxyFix), as the feeds' own links do.
    return request.url_root + "services/rest/"


def _feed(args: Mapping[str, str]) -> dict[str, object]:
    """The feed's absolute address and what the page offers to do with it."""
    url = f"{_rest_url()}?{form.query(args)}"
    name = args.get("format", "")
    fmt = FORMATS.get(name)
    plain = {k: v for k, v in args.items() if k not in ("format", "nojsoncallback")}
    return {
        "rest_url": _rest_url(),
        "url": url,
        "feed_type": fmt.content_type if fmt else "",
        "reader": form.is_reader_format(name),
        "kml_href": f"{request.script_root}/download.kml?{form.query(plain)}" if KML_NL in FORMATS else "",
        "geojson_url": f"{_rest_url()}?{form.query({**plain, 'format': GEOJSON})}" if GEOJSON in FORMATS else "",
        "gne_url": _gne_url(args),
        # The call's live stream (gateway/live): the page names it, and its Live switch reads it.
        "stream_root": request.url_root + STREAM_PATH.lstrip("/"),
        "stream_url": f"{request.url_root}{STREAM_PATH.lstrip('/')}?{form.query(_stream_args(plain))}"
        if plain.get("method") else "",
    }


def _stream_args(plain: Mapping[str, str]) -> dict[str, str]:
    """A stream's arguments: the call's, less what only shapes a document (as api.stream_url; live.js too)."""
    return {k: v for k, v in plain.items() if k not in ("size", "page", "per_page", "jsoncallback")}


def _gne_url(args: Mapping[str, str]) -> str:
    """The same feed as Flickr's public feed URL (/services/feeds/….gne), '' where none answers this call."""
    path = feeds.feed_for(args)
    return f"{request.url_root}services/feeds/{path}" if path else ""


def kml_filename(args: Mapping[str, str]) -> str:
    """flickr-photos-tagged-botany.kml: the feed's title, in a header-safe slug."""
    method = METHODS.get(args.get("method", ""))
    title = method.title(args, {}) if method else "photos"
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].strip("-") or "photos"
    return f"flickr-{slug}.kml"


def _formats() -> list[tuple[str, str, str]]:
    return [(name, label, FORMATS[name].content_type) for name, label in form.format_choices()]


def _fields() -> dict[str, list[form.Field]]:
    asks_key = bool(current_app.config["API_KEYS"])
    return {group: [f for f in form.ARGS if f.group == group and (f.name != "api_key" or asks_key)]
            for group, _legend in form.GROUPS}


# ---------------------------------------------------------------- the preview


@dataclass(frozen=True)
class Thumb:
    id: str  # the photo's id: the live preview (live.js) adds a photo it does not show yet
    title: str
    owner: str
    href: str
    owner_href: str
    src: str
    size: int


@dataclass(frozen=True)
class Preview:
    """What the call returned, ready for the template: photos and a map, or an error in words."""

    title: str = ""
    page: Page | None = None
    thumbs: tuple[Thumb, ...] = ()
    map: WorldMap | None = None
    error: FlickrError | None = None
    words: str = ""

    @property
    def summary(self) -> str:
        if self.error is not None:
            return "The feed cannot be built."
        page = self.page
        if page is None or not page.photos:
            return "No photos match." if page is None or page.total == 0 else "This page is past the last photo."
        where = sum(1 for p in page.photos if p.geotagged)
        first = (page.page - 1) * page.perpage + 1
        return (f"Photos {first} to {first + len(page.photos) - 1} of {page.total} "
                f"(page {page.page} of {page.pages}); {where} with a place on the map.")


def _preview(args: dict[str, str]) -> Preview:
    try:
        call = parse_call(args)  # the API's own validation, on exactly the call the page shows
        page = _photos(args).paginated(int(call.args["per_page"]))
    except FlickrError as err:
        source = "the photo library" if upstreams.get().name == "library" else "Flickr"
        return Preview(error=err, words=explain(err, args, source))
    thumbs = tuple(_thumb(p) for p in page.photos)
    return Preview(call.method.title(call.args, about(call, page)), page, thumbs, world_map(page.photos, call.args))


def _photos(args: Mapping[str, str]) -> Page:
    """The call's page, as the API's `json` format answers it."""
    plain = {k: v for k, v in args.items() if k not in ("format", "nojsoncallback", "jsoncallback", "extras")}
    response = _api({**plain, "format": "json", "nojsoncallback": "1", "extras": PREVIEW_EXTRAS}, plain=True)
    try:
        body = response.get_data()
    finally:
        response.close()
    try:
        if response.mimetype == "application/json":
            return parse_json(json.loads(body))
        return parse_rest(parse(body))  # the few errors (414) the API answers in XML whatever the format
    except FlickrError:
        raise
    except ValueError:
        log.exception("the API answered the preview with something unreadable")
        raise errors.unavailable() from None


def _thumb(photo: Photo) -> Thumb:
    size = image(photo, "q") or image(photo, "s")
    return Thumb(photo.id, photo.title or "Untitled photo", photo.author_name, photo_page_url(photo),
                 profile_url(photo), size.url if size else "", size.width if size else 150)


def _api(args: Mapping[str, str], plain: bool) -> Response:
    """Ask /services/rest/ for `args` inside this request, as a client would over HTTP.

    `plain` drops the page request's conditional and encoding headers, so that
    the answer is a whole, uncompressed body to read rather than to pass on.
    """
    environ = {k: v for k, v in request.environ.items() if not k.startswith("werkzeug.")}
    environ.update({"REQUEST_METHOD": "GET", "PATH_INFO": "/services/rest/", "QUERY_STRING": form.query(args),
                    "CONTENT_LENGTH": "0", "wsgi.input": io.BytesIO()})
    environ.pop("CONTENT_TYPE", None)
    if plain:
        for header in ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_ACCEPT_ENCODING"):
            environ.pop(header, None)
    app = current_app._get_current_object()
    with app.request_context(environ):
        return app.full_dispatch_request()
