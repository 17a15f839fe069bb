"""Import recorded standard photos responses (Flickr XML or JSON) into the library.

A response does not say which call produced it; the call (method + params)
comes from an `index.json` beside the file (the shape of
tests/fixtures/flickr/index.json) or from the caller (`--call`). The call
is what records membership:

    flickr.groups.pools.getPhotos group_id=…   → group pool, ordered by dateadded
    flickr.photos.search group_id=…            → group pool (membership only, no order)
    flickr.photosets.getPhotos photoset_id=…   → album, position (page-1)*per_page + index;
                                                 the <photoset> wrapper describes the album
    flickr.galleries.getPhotos gallery_id=…    → gallery, position as for albums;
                                                 the <gallery> element describes the gallery
    flickr.favorites.getPublicList user_id=…   → that user's favorites, ordered by date_faved

A <photoset> wrapper or a <gallery> element is enough on its own when no call is known.
Each file is one transaction: a file is imported whole or not at all. Only
regular files of at most MAX_BYTES are read; a file that is not a standard
photos response (not XML or JSON, nested deeper than the parsers go, a
failure response) is skipped with the reason. Values a photo cannot carry
(numbers past 64 bits, text past the caps in model.py) are read as unknown
or cut, so the photo is still imported. A photo
recorded again is merged (store.merge): of two known values the one imported
last wins, an empty or unknown value never replaces a known one.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import sqlite3
import stat
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl

from ...errors import FlickrError
from ...methods import METHODS
from ...model import INT_MAX, INT_MIN, Page, parse_json, parse_rest
from ...safexml import clean, parse
from . import store

INDEX = "index.json"
# A page of 500 photos with every extra is about 1 MB; anything far larger is not a recorded response.
MAX_BYTES = 64 * 1024 * 1024
_JSONP = re.compile(rb"^\s*[A-Za-z_$][\w$.]*\((.*)\)\s*;?\s*$", re.S)


class Skipped(Exception):
    """A file that was not imported; the message says why."""


def parse_call(text: str) -> dict[str, str]:
    """`method=flickr.groups.pools.getPhotos&group_id=…` as a dict."""
    return dict(parse_qsl(text.strip().lstrip("?"), keep_blank_values=True))


def call_from_index(path: Path) -> dict[str, str] | None:
    """The call that produced `path`, from the index.json beside it, if there is one."""
    index = path.parent / INDEX
    try:
        mtime = index.stat().st_mtime_ns
    except OSError:
        return None
    return _read_index(str(index), mtime).get(path.name)


@lru_cache(maxsize=16)
def _read_index(index: str, mtime_ns: int) -> dict[str, dict[str, str]]:
    # mtime_ns is part of the cache key only: an edited index is read again.
    try:
        entries = json.loads(Path(index).read_bytes())
    except (OSError, ValueError):
        return {}
    calls = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, Mapping) and isinstance(entry.get("file"), str):
            params = entry.get("params") if isinstance(entry.get("params"), Mapping) else {}
            call = {str(k): str(v) for k, v in params.items()}
            if entry.get("method"):
                call["method"] = str(entry["method"])
            calls[entry["file"]] = call
    return calls


def read_response(data: bytes) -> tuple[Page, dict[str, str]]:
    """The Page a recorded response holds, and the attributes of its <gallery> element (if any).

    Raises Skipped for anything that is not a successful standard photos response.
    """
    data = data.removeprefix(codecs.BOM_UTF8).strip()
    try:
        page, gallery = _read_xml(data) if data.startswith(b"<") else _read_json(data)
    except FlickrError as exc:
        raise Skipped(f"a failure response (code {exc.code}: {exc.message})") from None
    except ValueError as exc:  # safexml.UnsafeXML, not a photos response, bad JSON
        raise Skipped(str(exc)) from None
    return page, {k: clean(v) for k, v in gallery.items() if not isinstance(v, Mapping | list)}


def _read_xml(data: bytes) -> tuple[Page, dict]:
    root = parse(data)
    page = parse_rest(root)
    _not_set_info(root.find("photoset"))
    gallery = root.find("gallery")  # galleries.getPhotos with get_gallery_info=1
    if gallery is None:
        return page, {}
    return page, {**gallery.attrib, **{child.tag: child.text or "" for child in gallery}}


def _read_json(data: bytes) -> tuple[Page, dict]:
    match = _JSONP.match(data)  # jsonFlickrApi({...}), as Flickr answers without nojsoncallback=1
    try:
        body = json.loads(match.group(1) if match else data)
    except ValueError:
        raise ValueError("neither XML nor JSON") from None
    except RecursionError:
        raise ValueError("JSON nested deeper than any Flickr response") from None
    page = parse_json(body)
    _not_set_info(body.get("photoset"))
    gallery = body.get("gallery")
    if not isinstance(gallery, Mapping):
        return page, {}
    return page, {k: v.get("_content", "") if isinstance(v, Mapping) else v for k, v in gallery.items()}


def _not_set_info(photoset: Mapping | None) -> None:
    # photosets.getInfo answers a <photoset> too, but one that describes the
    # album and lists no photos; photosets.getPhotos always pages its list.
    if photoset is not None and photoset.get("total") is None and photoset.get("page") is None:
        raise ValueError("not a standard photos response: a <photoset> without paging (photosets.getInfo?)")


def import_file(conn: sqlite3.Connection, path: str | Path, call: Mapping[str, str] | None = None,
                notes: list[str] | None = None) -> int:
    """Import one response file; returns how many photos it held (with an id). Raises Skipped.

    `call` defaults to the file's entry in the index.json beside it. `notes` receives what the
    file held but could not be recorded (unrecorded()).
    """
    path = Path(path)
    if call is None:
        call = call_from_index(path) or {}
    data = _read_regular(path)
    page, gallery = read_response(data)
    method = call.get("method", "")
    if method and method not in METHODS:
        raise Skipped(f"{method} does not answer a standard photos response")
    count = import_page(conn, page, call, gallery)
    if notes is not None and (note := unrecorded(page, call, gallery)):
        notes.append(note)
    return count


# What a set method's photos carry that no other standard photos response does (set kind, the attribute).
SET_MARKS = (("group", "dateadded"), ("gallery", "is_primary"), ("gallery", "has_comment"),
             ("favorites", "date_faved"))
# kind → what a person calls it, the call that records it (SPEC section 8).
SET_CALLS = {
    "group": ("group pool", "method=flickr.groups.pools.getPhotos&group_id=GROUP_ID"),
    "photoset": ("album", "method=flickr.photosets.getPhotos&photoset_id=ALBUM_ID"),
    "gallery": ("gallery", "method=flickr.galleries.getPhotos&gallery_id=GALLERY_ID"),
    "favorites": ("favorites list", "method=flickr.favorites.getPublicList&user_id=USER_ID"),
}
_SET_METHODS = {"flickr.groups.pools.getPhotos": ("group", "group_id"),
                "flickr.photosets.getPhotos": ("photoset", "photoset_id"),
                "flickr.galleries.getPhotos": ("gallery", "gallery_id"),
                "flickr.favorites.getPublicList": ("favorites", "user_id")}


def unrecorded(page: Page, call: Mapping[str, str], gallery: Mapping[str, str]) -> str:
    """'' when record() could record everything the page is; else what was not recorded and how to give it.

    A response does not say which call produced it: a group pool's photos are
    plain <photos> (each with a dateadded), so without the call the photos go in
    and the pool does not. This names the set kind the file looks like.
    """
    method = call.get("method", "")
    kind = ""
    if method in _SET_METHODS:
        kind, arg = _SET_METHODS[method]
        known = {"photoset": page.info.get("id"), "gallery": gallery.get("gallery_id") or gallery.get("id")}
        if call.get(arg) or known.get(kind):
            return ""
    elif page.wrapper == "photoset":
        if page.info.get("id"):
            return ""
        kind = "photoset"
    elif not method and not gallery:
        attrs = {key for photo in page.photos for key, value in photo.extra.items() if value}
        kind = next((k for k, mark in SET_MARKS if mark in attrs), "")
    if not kind:
        return ""
    name, example = SET_CALLS[kind]
    return (f"its photos were imported, but not as a {name}: the file does not say which {name} it lists. "
            f"Give the call that produced it: --call '{example}' (or an index.json beside the file, "
            f"an entry {{\"file\", \"method\", \"params\"}})")


def _read_regular(path: Path) -> bytes:
    """The bytes of a regular file of at most MAX_BYTES; Skipped for anything else (a FIFO, /dev/zero, …)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise Skipped(f"cannot read it ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Skipped("not a regular file; only regular files are read")
        if st.st_size > MAX_BYTES:
            raise Skipped(f"{st.st_size:,} bytes is larger than any recorded response ({MAX_BYTES:,} at most)")
        try:
            return f.read(MAX_BYTES + 1)[:MAX_BYTES]
        except OSError as exc:
            raise Skipped(f"cannot read it ({exc.strerror})") from None


def import_page(conn: sqlite3.Connection, page: Page, call: Mapping[str, str],
                gallery: Mapping[str, str] | None = None) -> int:
    """Store one parsed page in one transaction; returns how many photos it held (with an id)."""
    page = replace(page, photos=tuple(p for p in page.photos if p.id))  # nothing could address the others
    with store.transaction(conn):
        record(conn, page, call, gallery or {})
    return len(page.photos)


def record(conn: sqlite3.Connection, page: Page, call: Mapping[str, str], gallery: Mapping[str, str]) -> None:
    """Write a page's photos, and the memberships its call implies."""
    stored, attrs = zip(*(store.without_membership(p) for p in page.photos), strict=True) if page.photos else ((), ())
    pks = store.write_photos(conn, stored)
    method = call.get("method", "")
    first = (page.page - 1) * page.perpage  # position of the page's first photo in its set

    ordered_ok = first + len(stored) <= INT_MAX  # a page number past 64 bits gives no usable order

    def members(ordered: bool, added_key: str = "") -> list:
        return [
            (pks[p.id], first + i if ordered and ordered_ok else None, _int(a.get(added_key)), a)
            for i, (p, a) in enumerate(zip(stored, attrs, strict=True))
        ]

    if page.wrapper == "photoset" or (method == "flickr.photosets.getPhotos" and call.get("photoset_id")):
        info = dict(page.info)
        set_id = info.pop("id", "") or call.get("photoset_id", "")
        store.write_set(conn, "photoset", set_id, info.pop("owner", ""), info.pop("ownername", ""),
                        info.pop("title", ""), info.pop("primary", ""), info)
        store.write_memberships(conn, "photoset", set_id, members(ordered=True))
    if gallery or (method == "flickr.galleries.getPhotos" and call.get("gallery_id")):
        info = dict(gallery)
        set_id = gallery_key(call.get("gallery_id") or info.get("gallery_id") or info.get("id", ""))
        store.write_set(conn, "gallery", set_id, info.pop("owner", ""), info.pop("username", ""),
                        info.pop("title", ""), info.pop("primary_photo_id", ""), info)
        store.write_memberships(conn, "gallery", set_id, members(ordered=True))
    if call.get("group_id"):
        store.write_set(conn, "group", call["group_id"])
        pool = method == "flickr.groups.pools.getPhotos"
        store.write_memberships(conn, "group", call["group_id"], members(ordered=pool, added_key="dateadded"))
    if method in ("flickr.favorites.getPublicList", "flickr.favorites.getList") and call.get("user_id"):
        store.write_set(conn, "favorites", call["user_id"], owner=call["user_id"])
        store.write_memberships(conn, "favorites", call["user_id"], members(ordered=True, added_key="date_faved"))


def gallery_key(gallery_id: str) -> str:
    """Flickr names a gallery "29178242-72157722373536528" or just "72157722373536528"."""
    return gallery_id.rsplit("-", 1)[-1]


def _int(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if INT_MIN <= number <= INT_MAX else None
