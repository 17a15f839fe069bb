"""Flickr's own envelopes: `rest` (XML) and `json`, with only the extras asked for.

    <?xml version="1.0" encoding="utf-8" ?>
    <rsp stat="ok">
    <photos page="1" pages="14" perpage="10" total="139">
      <photo id="..." owner="..." secret="..." server="..." farm="66" title="..."
             ispublic="1" isfriend="0" isfamily="0" [extras...]>
        <description>...</description>      (only with extras=description)
      </photo>
    </photos>
    </rsp>

    {"photos": {"page": 1, "pages": 14, "perpage": 10, "total": 139, "photo": [...]}, "stat": "ok"}

photosets.getPhotos answers <photoset id primary owner ownername ... title>
and its photos carry no owner; methods add their own per-photo attributes
(isprimary, is_primary/has_comment, dateadded, date_faved) whatever the extras.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from lxml import etree

from ..model import LOCAL, SET_TEXT, URL_EXTRAS, Page, Photo
from ..safexml import clean
from .feed import FeedContext

# extras name → the attributes it adds (Flickr's reflection docs and recorded responses).
EXTRA_ATTRS: dict[str, tuple[str, ...]] = {
    "description": ("description",),
    "license": ("license",),
    "date_upload": ("dateupload",),
    "date_taken": ("datetaken", "datetakengranularity", "datetakenunknown"),
    "owner_name": ("ownername",),
    "icon_server": ("iconserver", "iconfarm"),
    "original_format": ("originalsecret", "originalformat"),
    "last_update": ("lastupdate",),
    "geo": ("latitude", "longitude", "accuracy", "context", "place_id", "woeid",
            "geo_is_public", "geo_is_contact", "geo_is_friend", "geo_is_family"),
    "tags": ("tags",),
    "machine_tags": ("machine_tags",),
    "o_dims": ("o_width", "o_height"),
    "views": ("views",),
    "count_views": ("count_views",),
    "count_comments": ("count_comments",),
    "media": ("media", "media_status"),
    "path_alias": ("pathalias",),
    "realname": ("realname",),
    "safety_level": ("safety_level",),
    **{f"url_{k}": (f"url_{k}", f"height_{k}", f"width_{k}") for k in URL_EXTRAS},
}
EXTRAS = frozenset(EXTRA_ATTRS)
BASE = ("id", "owner", "secret", "server", "farm", "title", "ispublic", "isfriend", "isfamily")
# Per-photo attributes a method always sends, whatever the extras.
METHOD_ATTRS = ("isprimary", "is_primary", "has_comment", "dateadded", "date_faved", "username")
# Flickr sends these even when empty (title="", tags="", pathalias=""); others only when known.
SENT_EMPTY = {*BASE, "tags", "machine_tags", "description", "pathalias", "ownername"}
INT_ATTRS = {"farm", "ispublic", "isfriend", "isfamily", "iconfarm", "context", "datetakengranularity",
             "geo_is_public", "geo_is_contact", "geo_is_friend", "geo_is_family"}
# What Flickr sends for a public photo; filled in when a photo does not say.
GEO_DEFAULTS = {"geo_is_public": "1", "geo_is_contact": "0", "geo_is_friend": "0", "geo_is_family": "0"}
PUBLIC_DEFAULTS = {"ispublic": "1", "isfriend": "0", "isfamily": "0", "context": "0", "media_status": "ready"}


def all_attrs(photo: Photo) -> dict[str, str]:
    """Every attribute Flickr could have sent for this photo, as strings."""
    attrs = {**PUBLIC_DEFAULTS, **photo.extra}
    attrs.update(
        id=photo.id, owner=photo.owner, secret=photo.secret, server=photo.server, farm=str(photo.farm),
        title=photo.title, license=photo.license, ownername=photo.ownername, realname=photo.realname,
        pathalias=photo.pathalias, iconserver=photo.iconserver, iconfarm=str(photo.iconfarm),
        datetaken=photo.datetaken, datetakengranularity=str(photo.datetakengranularity),
        datetakenunknown=str(photo.datetakenunknown), tags=" ".join(photo.tags),
        machine_tags=" ".join(photo.machine_tags), latitude=_coord(photo.latitude),
        longitude=_coord(photo.longitude), accuracy=str(photo.accuracy), media=photo.media,
        originalsecret=photo.originalsecret, originalformat=photo.originalformat,
        description=photo.description,
    )
    for key, value in (("dateupload", photo.dateupload), ("lastupdate", photo.lastupdate),
                       ("views", photo.views), ("o_width", photo.o_width or None),
                       ("o_height", photo.o_height or None)):
        if value is not None:
            attrs[key] = str(value)
    _known_extras(photo, attrs)
    for key, (suffix, _edge) in URL_EXTRAS.items():
        for size in photo.sizes:
            if size.suffix == suffix:
                attrs[f"url_{key}"] = size.url
                attrs[f"height_{key}"] = str(size.height)
                attrs[f"width_{key}"] = str(size.width)
    return attrs


def _known_extras(photo: Photo, attrs: dict[str, str]) -> None:
    """What Flickr would send that the photo's record answers without having been sent it:
    iconserver 0 (no buddy icon), count_views (= views), and for a geotagged photo the geo extra's
    place ids (the library's own, as photos.search's woe_id/place_id take them) and its
    public-location flags. A local photo (the library's own) has no comments and is safe."""
    if not attrs.get("iconserver"):
        attrs["iconserver"] = "0"
    if photo.views is not None:
        attrs.setdefault("count_views", str(photo.views))
    if photo.geotagged:
        if photo.place_id and not attrs.get("woeid"):
            attrs["woeid"] = attrs["place_id"] = str(photo.place_id)
        for key, value in GEO_DEFAULTS.items():
            attrs.setdefault(key, value)
    if photo.server == LOCAL:
        attrs.setdefault("count_comments", "0")
        attrs.setdefault("safety_level", "0")


def _coord(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") if value else "0"


def wanted(extras: Iterable[str]) -> list[str]:
    return [a for e in extras for a in EXTRA_ATTRS.get(e, ())]


def photo_attrs(photo: Photo, extras: frozenset[str], wrapper: str) -> dict[str, str]:
    """The attributes of one <photo> as Flickr sends them for these extras."""
    attrs = all_attrs(photo)
    names = [n for n in BASE if not (wrapper == "photoset" and n == "owner")]
    names += [n for n in METHOD_ATTRS if n in attrs]
    names += wanted(sorted(extras))
    # An attribute the upstream sent empty (place_id="") is handed back as sent.
    return {n: attrs[n] for n in dict.fromkeys(names)
            if attrs.get(n, "") != "" or n in SENT_EMPTY or n in photo.extra}


def _wrapper_attrs(page: Page) -> dict[str, str]:
    paging = {"page": page.page, "pages": page.pages, "perpage": page.perpage, "total": page.total}
    if page.wrapper == "photoset":
        paging["per_page"] = page.perpage
    return {**{k: v for k, v in page.info.items() if k not in paging}, **{k: str(v) for k, v in paging.items()}}


def render_rest(page: Page, ctx: FeedContext) -> bytes:
    rsp = etree.Element("rsp", stat="ok")
    wrapper = etree.SubElement(rsp, page.wrapper, {k: clean(v) for k, v in _wrapper_attrs(page).items()})
    for photo in page.photos:
        attrs = photo_attrs(photo, ctx.extras, page.wrapper)
        description = attrs.pop("description", None)
        el = etree.SubElement(wrapper, "photo", {k: clean(v) for k, v in attrs.items()})
        if description is not None:
            etree.SubElement(el, "description").text = clean(description)
        if photo.comment:
            etree.SubElement(el, "comment").text = clean(photo.comment)
    if page.gallery:
        # As galleries.getPhotos with get_gallery_info=1 sends it: after <photos>, title/description as children.
        gallery = etree.SubElement(rsp, "gallery", {k: clean(v) for k, v in page.gallery.items() if k not in SET_TEXT})
        for tag in SET_TEXT:
            etree.SubElement(gallery, tag).text = clean(page.gallery.get(tag, ""))
    etree.indent(rsp, space="\t")
    return etree.tostring(rsp, xml_declaration=True, encoding="utf-8")


def _json_value(name: str, value: str) -> object:
    if name in ("description", "comment"):
        return {"_content": value}
    if name in INT_ATTRS:
        try:
            return int(value)
        except ValueError:
            return value
    return value


def render_json(page: Page, ctx: FeedContext) -> bytes:
    body: dict[str, object] = {k: v for k, v in _wrapper_attrs(page).items()}
    for key in ("page", "pages", "perpage", "per_page", "total"):
        if key in body:
            body[key] = int(body[key])
    photos = []
    for photo in page.photos:
        attrs = photo_attrs(photo, ctx.extras, page.wrapper)
        item = {k: _json_value(k, v) for k, v in attrs.items()}
        if photo.comment:
            item["comment"] = {"_content": photo.comment}
        photos.append(item)
    body["photo"] = photos
    data: dict[str, object] = {page.wrapper: body}
    if page.gallery:
        data["gallery"] = {k: {"_content": v} if k in SET_TEXT else v for k, v in page.gallery.items()}
    return envelope({**data, "stat": "ok"}, ctx.jsoncallback)


def envelope(data: dict, callback: str | None) -> bytes:
    """JSON text, wrapped in callback(...) when a callback is named (JSONP)."""
    # json.dumps escapes control characters; clean() drops what no encoder can
    # write (lone surrogates, from a Photo not built by the model's parser).
    text = clean(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    # U+2028/2029 are legal in JSON but end a line in JavaScript: escape them for JSONP.
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return (f"{callback}({text})" if callback else text).encode("utf-8")


def error_rest(code: int, message: str) -> bytes:
    rsp = etree.Element("rsp", stat="fail")
    etree.SubElement(rsp, "err", code=str(code), msg=clean(message))
    etree.indent(rsp, space="\t")
    return etree.tostring(rsp, xml_declaration=True, encoding="utf-8")


def error_json(code: int, message: str, callback: str | None) -> bytes:
    return envelope({"stat": "fail", "code": code, "message": message}, callback)
