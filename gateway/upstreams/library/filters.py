"""The photos.search filters beyond plan.py's: machine tags, places, and what Flickr records of
a photo beside its tags and place (accuracy, safety level, geo context, galleries).

    machine_tags, machine_tag_mode   machinetags.py (codes 11 and 12)
    woe_id, place_id                 the library's own place ids (placenames.py; `library list`
                                     prints them): a locality, or every locality of a region or
                                     country. Not used when there is a bbox, as on Flickr. An id the
                                     library does not know finds nothing.
    accuracy                         1-16: photos geotagged with that accuracy
    safe_search                      1 safe, 2 safe and moderate, 3 all (the photo's safety_level
                                     as Flickr sent it; photos without one are safe); absent = all
    content_type                     1-7; the library records only photos (no screenshots or
    content_types                    "other"): a type that includes photos (1, 4, 6, 7; 0 in the
                                     comma list) = every photo, the others = none
    in_gallery                       1/true: photos in a gallery the library recorded
    geo_context                      0 any, 1 indoors, 2 outdoors (the context Flickr sent with the
                                     photo's geo extra; the library knows no other)
    is_commons                       1/true: photos licensed "No known copyright restrictions" (7),
                                     the licence of every Flickr Commons photo
    is_getty                         1/true: none (the library records no Getty sales)
    contacts                         code 17: the library has no logged-in user whose contacts to search

Malformed values are code 3 "Invalid <name>", like plan.py's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from ...errors import FlickrError
from . import arguments as arg
from . import machinetags
from .query import Query

TRUE, FALSE = frozenset({"1", "true"}), frozenset({"0", "false", ""})
# content_type → whether it takes photos (1 photos, 2 screenshots, 3 other, 4 = 1+2, 5 = 2+3, 6 = 1+3, 7 all).
CONTENT_HAS_PHOTOS = {"1": True, "2": False, "3": False, "4": True, "5": False, "6": True, "7": True}
# safe_search → the safety levels it shows (Flickr's safety_level: 0 safe, 1 moderate, 2 restricted).
SAFETY = {"1": ("0",), "2": ("0", "1"), "3": None}
COMMONS_LICENSE = "7"


@dataclass(frozen=True)
class Filters:
    machine_tags: tuple[machinetags.Pattern, ...] = ()
    machine_mode: str = "any"
    place: str = ""  # woe_id / place_id
    accuracy: int | None = None
    safety: tuple[str, ...] | None = None
    in_gallery: bool = False
    geo_context: str = ""  # "1" | "2"
    commons: bool = False
    nothing: bool = False  # a content type or Getty: nothing the library holds


def parse(args: Mapping[str, str]) -> Filters:
    """photos.search's arguments named above, checked; FlickrError for malformed ones."""
    if args.get("contacts", "").strip():
        raise FlickrError(17, "You can only search within your own contacts")
    mode = arg.choice(args.get("machine_tag_mode", ""), {"any", "all"}, "machine_tag_mode") or "any"
    raw = args.get("machine_tags", "")
    patterns = machinetags.parse(raw, mode) if raw.strip() else ()
    place = "" if args.get("bbox", "").strip() else (args.get("woe_id", "").strip() or args.get("place_id", "").strip())
    accuracy = args.get("accuracy", "").strip()
    if accuracy and not (accuracy.isdigit() and 1 <= int(accuracy) <= 16):
        raise FlickrError(3, "Invalid accuracy")
    safe = arg.choice(args.get("safe_search", ""), SAFETY, "safe_search")
    content = arg.choice(args.get("content_type", ""), CONTENT_HAS_PHOTOS, "content_type")
    nothing = bool(content) and not CONTENT_HAS_PHOTOS[content]
    types = [t.strip() for t in args.get("content_types", "").split(",") if t.strip()]
    if any(t not in {"0", "1", "2", "3"} for t in types):
        raise FlickrError(3, "Invalid content_types")
    nothing = nothing or (bool(types) and "0" not in types)
    context = arg.choice(args.get("geo_context", ""), {"0", "1", "2"}, "geo_context")
    return Filters(
        machine_tags=patterns, machine_mode=mode, place=place,
        accuracy=int(accuracy) if accuracy else None, safety=SAFETY[safe] if safe else None,
        in_gallery=_flag(args, "in_gallery"), geo_context="" if context in ("", "0") else context,
        commons=_flag(args, "is_commons"), nothing=nothing or _flag(args, "is_getty"),
    )


def _flag(args: Mapping[str, str], name: str) -> bool:
    value = args.get(name, "").strip().lower()
    if value not in TRUE | FALSE:
        raise FlickrError(3, f"Invalid {name}")
    return value in TRUE


def add(conn: sqlite3.Connection, q: Query, f: Filters) -> bool:
    """Add the filters' conditions to the search; False when nothing can match."""
    if f.nothing:
        return False
    if f.machine_tags:
        machinetags.add(q, f.machine_tags, f.machine_mode)
    if f.place and not _place(conn, q, f.place):
        return False
    if f.accuracy is not None:
        q.where.append(f"p.geotagged AND p.accuracy = {q.bind(f.accuracy)}")
    if f.safety is not None:
        levels = ", ".join(q.bind(level) for level in f.safety)
        q.where.append(f"coalesce(json_extract(p.extra, '$.safety_level'), '0') IN ({levels})")
    if f.geo_context:
        q.where.append(f"p.geotagged AND json_extract(p.extra, '$.context') IN "
                       f"({q.bind(f.geo_context)}, {q.bind(int(f.geo_context))})")
    if f.in_gallery:
        q.add_set("SELECT DISTINCT photo AS pk FROM memberships WHERE kind = 'gallery'",
                  "EXISTS (SELECT 1 FROM memberships WHERE kind = 'gallery' AND photo = p.pk)")
    if f.commons:
        q.where.append(f"p.license = {q.bind(COMMONS_LICENSE)}")
    return True


def _place(conn: sqlite3.Connection, q: Query, place: str) -> bool:
    """The photos taken near a locality, or near any locality of a region or country."""
    if not place.isdigit() or len(place) > 12:
        return False
    row = conn.execute("SELECT kind FROM places WHERE id = ?", (int(place),)).fetchone()
    if row is None:
        return False
    bound = q.bind(int(place))
    if row[0] == "locality":
        q.add_set(f"SELECT pk FROM photos WHERE place_id = {bound}", f"p.place_id = {bound}")
    else:
        column = "region" if row[0] == "region" else "country"
        within = f"(SELECT id FROM places WHERE {column} = {bound})"
        q.add_set(f"SELECT pk FROM photos WHERE place_id IN {within}", f"p.place_id IN {within}")
    return True
