"""The gateway's own pages for local photos (add-folder, the demo): flickr.com has no page
for them, their owners or their sets, so every link a feed gives them points here
(model.photo_page_url, profile_url, methods.local_link). Shaped like flickr.com's:

    GET /photos/{owner}/{id}/   a local photo: image, title, description, dates, place, owner, sets
    GET /people/{owner}/        an owner's photos (owner = NSID or path alias), their sets, their feeds
    GET /groups/{id}/           a group pool's photos and its feeds
    GET /albums/{id}/           an album's …
    GET /galleries/{id}/        a gallery's …

Served from the library only (404 with the flickr upstream, and for anything
the library does not hold). Photos imported from Flickr keep their flickr.com
pages, so a photo page is only for a local photo. HTML as the builder page:
Jinja escapes every value, the description is the feeds' sanitised HTML, no
script is needed, and nothing may frame it (CSP frame-ancestors, X-Frame-Options).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, Flask, abort, current_app, render_template, request
from markupsafe import Markup

from .. import upstreams
from ..errors import FlickrError
from ..formats import FORMATS
from ..formats.feed import DEFAULT_SIZE
from ..formats.html import sanitize
from ..methods import LOCAL_PAGES
from ..model import LICENSES, LOCAL, Page, Photo, best_image, image, local_page_url, photo_page_url, profile_url
from ..upstreams.library import Library
from ..upstreams.library.importer import gallery_key
from ..upstreams.library.manage import Set
from . import Preview, _thumb, form, security_headers
from .worldmap import world_map

bp = Blueprint("library_pages", __name__)
bp.after_request(security_headers)

PER_PAGE = 60
# page kind → (set kind in the library, what a person calls it, the method listing its photos)
SET_PAGES = {kind: (set_kind, noun, method) for set_kind, noun, kind, method in (
    ("group", "group", "groups", "flickr.groups.pools.getPhotos"),
    ("photoset", "album", "albums", "flickr.photosets.getPhotos"),
    ("gallery", "gallery", "galleries", "flickr.galleries.getPhotos"),
)}
PAGE_OF_SET = {set_kind: kind for kind, (set_kind, _noun, _method) in SET_PAGES.items()}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@dataclass(frozen=True)
class Link:
    label: str
    href: str
    note: str = ""  # shown beside it; a feed's content type


def _library() -> Library:
    library = upstreams.get()
    if not isinstance(library, Library):
        abort(404)
    return library


def _base() -> str:
    return request.url_root  # honours the proxy's host and prefix, as the feeds' links do


def _bound(photos: tuple[Photo, ...]) -> Page:
    return Page(photos).with_image_base(_base())


def _feeds(method: str, arg: str, value: str) -> list[Link]:
    """The call's feed in every format, as absolute URLs (what a feed reader subscribes to)."""
    links = []
    for name, label in form.format_choices():
        args = {"method": method, arg: value, "format": name, **({"nojsoncallback": "1"} if name == "json" else {})}
        links.append(Link(label, f"{_base()}services/rest/?{form.query(args)}", FORMATS[name].content_type))
    return links


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def _set_link(s: Set) -> Link:
    noun = SET_PAGES[PAGE_OF_SET[s.kind]][1]
    return Link(s.title or f"{noun} {s.id}", local_page_url(_base(), PAGE_OF_SET[s.kind], s.id),
                f"{noun}, {s.photos} photo{'' if s.photos == 1 else 's'}")


# ---------------------------------------------------------------- routes


@bp.get("/photos/<owner>/<photo_id>/")
def photo_page(owner: str, photo_id: str) -> str:
    library = _library()
    source = library.local_source(photo_id) if photo_id.isascii() and photo_id.isdigit() else None
    if source is None or owner not in (source.photo.owner, source.photo.pathalias):
        abort(404)
    photo = _bound((source.photo,)).photos[0]
    shown = best_image(photo, "z")
    name, license_href = LICENSES.get(photo.license, ("", ""))
    tags = [Link(tag, f"{_base()}?{form.query({'method': 'flickr.photos.search', 'tags': tag})}")
            for tag in photo.tags]
    return render_template(
        "photo.html", photo=photo, image=shown, large=best_image(photo, DEFAULT_SIZE), original=image(photo, "o"),
        description=Markup(sanitize(photo.description, local=True)), owner_href=profile_url(photo),
        uploaded=_date(photo.dateupload), taken=photo.datetaken, taken_unknown=bool(photo.datetakenunknown),
        preview=Preview(photo.title, thumbs=(_thumb(photo),), map=world_map((photo,), {})) if photo.geotagged else None,
        sets=[_set_link(s) for s in library.sets_of_photo(photo.id)], tags=tags,
        license=Link(name, license_href) if name else None, page_url=photo_page_url(photo))


@bp.get("/people/<user_id>/")
def owner_page(user_id: str) -> str:
    library = _library()
    page = _photos(library, "flickr.people.getPublicPhotos", {"user_id": user_id})
    if not page.photos and page.page == 1:
        abort(404)
    first = page.photos[0] if page.photos else None
    nsid = first.owner if first else user_id
    name = first.author_name if first else user_id
    sets = [_set_link(s) for s in library.sets_of_owner(nsid)]
    return _collection(f"Photos from {name}", page, "flickr.people.getPublicPhotos", "user_id", nsid,
                       sets=sets, about=f"user_id={nsid}" + (f" (or {first.pathalias})" if first and first.pathalias
                                                              else ""))


@bp.get("/<any(groups, albums, galleries):kind>/<set_id>/")
def set_page(kind: str, set_id: str) -> str:
    library = _library()
    set_kind, noun, method = SET_PAGES[kind]
    key = gallery_key(set_id) if set_kind == "gallery" else set_id
    info = library.set_info(set_kind, key)
    if info is None:
        abort(404)
    arg = LOCAL_PAGES[method][1]
    page = _photos(library, method, {arg: set_id})
    owner = None
    if info.owner:
        owner_photo = next((p for p in page.photos if p.owner == info.owner and p.server == LOCAL), None)
        if owner_photo is not None:
            owner = Link(owner_photo.author_name, profile_url(owner_photo))
    title = f"Photos from {noun} \u201c{info.title}\u201d" if info.title else f"Photos from {noun} {set_id}"
    return _collection(title, page, method, arg, set_id, owner=owner, about=f"{arg}={set_id}")


def _photos(library: Library, method: str, args: dict[str, str]) -> Page:
    """A page of the library's answer to the call, bound to this gateway; 404 when the library refuses it."""
    try:
        page = library.photos(method, {**args, "per_page": str(PER_PAGE), "page": str(_page_number())})
    except FlickrError:
        abort(404)
    return page.with_image_base(_base())


def _collection(title: str, page: Page, method: str, arg: str, value: str, sets: list[Link] | None = None,
                owner: Link | None = None, about: str = "") -> str:
    preview = Preview(title, page, tuple(_thumb(p) for p in page.photos), world_map(page.photos, {}))
    pager = {}
    if page.page > 1:
        pager["previous"] = f"?page={page.page - 1}"
    if page.page < page.pages:
        pager["next"] = f"?page={page.page + 1}"
    return render_template("collection.html", title=title, preview=preview, feeds=_feeds(method, arg, value),
                           sets=sets or [], owner=owner, about=about, pager=pager,
                           asks_key=bool(current_app.config["API_KEYS"]))


def _date(unix: int | None) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M UTC") if unix else ""
