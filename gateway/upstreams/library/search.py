# ruff: noqa: E501  (the tables below are meant to be lifted into README.md as they are)
"""Answer a Plan from the library's tables, with Flickr's semantics.

Methods and order
-----------------
| method | answers | order |
|---|---|---|
| photos.search | every filter below, combined with AND; no filter = every photo | `sort`, default date-posted-desc; by distance with lat/lon |
| photos.getRecent | every photo | date-posted-desc |
| interestingness.getList | every photo; `date` (YYYY-MM-DD, UTC) = uploaded that day | views, most first |
| people.getPublicPhotos, people.getPhotos | the owner's photos (`user_id` = NSID or path alias); getPhotos also takes search's has_geo/license/date/media filters | date-posted-desc |
| groups.pools.getPhotos | the pool; optional `tags` (any), `user_id` | dateadded desc, then recorded order |
| photosets.getPhotos | the album, wrapper `<photoset>` with id/primary/owner/ownername/title; photos carry `isprimary`; optional `media` | album order |
| galleries.getPhotos | the gallery; photos carry `is_primary`, `has_comment`, `<comment>` | gallery order |
| favorites.getPublicList | the user's recorded favorites; photos carry `date_faved` | date_faved desc |
| photos.geo.photosForLocation | photos within 100 m × 2^(16-accuracy) of lat,lon (accuracy 1-16, default 16: ~100 m) | distance |
| tags.getClusterPhotos | photos tagged `tag` and every tag of `cluster_id` (its tags joined by "-") | views, most first |
| panda.getPhotos | every photo (for ling ling, hsing hsing, wang wang) | date-posted-desc |
| photos.getContactsPublicPhotos, people.getPhotosOf | always empty for a known user: the library records no contacts or people in photos | — |

photos.search filters: `tags` comma-separated, case-insensitive, spaces inside a
tag ignored, `-tag` excludes, `tag_mode` any (default) | all; `text` words and
"quoted phrases" over title, description and tags (all must match, `-word`
excludes; FTS5, user text is always quoted); `user_id`; `group_id`;
`bbox`=minlon,minlat,maxlon,maxlat (west > east crosses the antimeridian);
`lat`+`lon` with `radius` (default 5) and `radius_units` km (default) | mi, at
most 32 km / 20 mi; `has_geo` 1 | 0; `license` comma list; `min|max_upload_date`,
`min|max_taken_date` inclusive, as unix time or MySQL datetime (`2023-07-01`,
`2023-07-01 12:00[:00]`, read as UTC; taken dates compare with the camera's
local time as Flickr records it); `media` all | photos | videos; `sort`
date-posted-asc|desc, date-taken-asc|desc, interestingness-desc|asc (by views),
relevance (FTS rank; without `text` = date-posted-desc); `machine_tags`,
`woe_id`/`place_id`, `accuracy`, `safe_search`, `content_type`, `in_gallery`,
`geo_context`, `is_commons`, `is_getty` as filters.py says. Unknown values sort
last. Paging: `page` (default 1), `per_page` (default 100, at most 500); a page
past the end is empty with the true total and pages = ceil(total / per_page).
photos.search hands out only the first 4,000 results, as Flickr does: a page
that starts past them is empty too (with the true total); at most 20 tags
(with the `-` ones) in either tag_mode.

Every call has a time budget (GATEWAY_LIBRARY_QUERY_MS of CPU, budget.py): one
that uses it up is refused with code 20; one that cannot get one of the
worker's slots for long calls (GATEWAY_LIBRARY_HEAVY_QUERIES), or runs ten
times its budget by the clock, with code 105.

Errors (FlickrError, HTTP 400 in feed formats)
-----------------------------------------------
| method | case | code | message |
|---|---|---|---|
| any not in METHODS | unknown method | 112 | Method "…" not found |
| a required argument missing | per METHODS | 1 or 2 | the method's own (e.g. "User not found", "Photoset not found") |
| getWithGeoData, getWithoutGeoData, recentlyUpdated, getContactsPhotos, favorites.getList; search `user_id=me` | needs a logged-in user | 99 | Insufficient permissions. Method requires read privileges; none granted. |
| photos.search | `tag_mode=all` with more than 20 tags (`-` tags included) | 1 | Too many tags in ALL query |
| photos.search, groups.pools.getPhotos | `tag_mode=any` with more than 20 tags (`-` tags included; the library's limit) | 1 | Too many tags in ANY query |
| any | the call uses up its time budget (GATEWAY_LIBRARY_QUERY_MS of CPU) | 20 | Query too expensive: narrow it (fewer tags or words, a smaller area, an earlier page) |
| any | too many long calls at once in this worker (GATEWAY_LIBRARY_HEAVY_QUERIES), or ten times the budget by the clock | 105 | Service currently unavailable (HTTP 503, Retry-After: 5) |
| photos.search | `machine_tags` holding no machine tag (machinetags.py) | 11 | No valid machine tags |
| photos.search | more than 8 machine tags, 16 with `machine_tag_mode=all` | 12 | Exceeded maximum allowable machine tags |
| photos.search | `contacts` (no logged-in user) | 17 | You can only search within your own contacts |
| photos.search | `accuracy` not 1-16; `safe_search`, `content_type(s)`, `in_gallery`, `geo_context`, `machine_tag_mode` not one of theirs (filters.py) | 3 | Invalid accuracy, Invalid safe_search, … |
| photos.search, people.getPhotos | unknown `user_id` | 2 | Unknown user |
| photos.search | unknown `group_id` | 4 | You don't have permission to view this pool |
| photos.search | bbox not 4 numbers, out of range, or south > north | 3 | Invalid bbox |
| photos.search | `lat` not a number in ±90 (or `lon` without `lat`) | 3 | Invalid latitude |
| photos.search | `lon` not a number in ±180 (or `lat` without `lon`) | 3 | Invalid longitude |
| photos.search | `radius` not a number in (0, 32] km / (0, 20] mi | 3 | Invalid radius |
| photos.search | `radius_units` not km or mi | 3 | Invalid radius_units |
| photos.search, people.getPhotos | a date neither unix time nor MySQL datetime | 3 | Invalid date |
| photos.search | `sort` not one of the seven | 3 | Invalid sort |
| photos.search | `text` the FTS index refuses (a guard: user text is always quoted) | 3 | Invalid text |
| photos.search, groups.pools.getPhotos | `tag_mode` not any or all | 3 | Invalid tag_mode |
| photos.search, people.getPhotos, photosets.getPhotos | `media` not all, photos or videos | 3 | Invalid media |
| photos.search, people.getPhotos | `has_geo` not 0 or 1 | 3 | Invalid has_geo |
| photos.search, people.getPhotos | `license` not a comma list of numbers | 3 | Invalid license |
| people.getPublicPhotos, favorites.getPublicList, getContactsPublicPhotos, groups.pools.getPhotos (`user_id`) | unknown user | 1 | User not found |
| people.getPhotosOf | unknown user | 1 | User not found. |
| groups.pools.getPhotos | unknown group | 1 | Group not found |
| photosets.getPhotos | unknown album | 1 | Photoset not found |
| galleries.getPhotos | unknown gallery | 1 | Invalid gallery ID |
| interestingness.getList | `date` not YYYY-MM-DD | 1 | Not a valid date string. |
| photos.geo.photosForLocation | `lat` or `lon` missing | 1 | Required arguments missing |
| photos.geo.photosForLocation | `lat` not a number in ±90 | 2 | Not a valid latitude |
| photos.geo.photosForLocation | `lon` not a number in ±180 | 3 | Not a valid longitude |
| photos.geo.photosForLocation | `accuracy` not 1-16 | 4 | Not a valid accuracy |
| panda.getPhotos | not one of Flickr's three pandas | 1 | Panda not found |
| any | the library file cannot be read (locked, broken) | 105 | Service currently unavailable |

A user is known when a photo has that owner or path alias, or an album,
gallery or favorites list names them. While the library is completely empty
nothing can be judged unknown: the "unknown …" rows above cannot happen and
every call that passes the other checks answers an empty page.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import replace
from types import MappingProxyType

from ...errors import FlickrError
from ...model import Page
from . import filters, places
from .plan import Plan
from .query import Query
from .store import ids_in, photo_from_row

PHOTOSET_INFO = ("id", "primary", "owner", "ownername", "title")
# What the feeds and `rest`/`json` hand back of a gallery the import recorded (store.write_set's attrs).
GALLERY_ATTRS = ("gallery_id", "url", "description", "date_create", "date_update", "count_photos", "count_videos")


def wrapper(plan: Plan) -> str:
    return "photoset" if plan.method == "flickr.photosets.getPhotos" else "photos"


def empty(plan: Plan, total: int = 0, info: dict[str, str] | None = None) -> Page:
    """A page with no photos: past the end, or nothing recorded."""
    if info is None and plan.set and plan.set[0] == "photoset":
        info = {"id": plan.set[1]}
    return Page((), plan.page, math.ceil(total / plan.per_page), plan.per_page, total, wrapper(plan),
                MappingProxyType(info or {}))


def find(conn: sqlite3.Connection, plan: Plan) -> Page:
    """The page of photos the plan asks for; FlickrError for unknown users and sets."""
    q = Query()
    info: dict[str, str] = {}
    gallery: dict[str, str] = {}
    if plan.set:
        kind, set_id = plan.set
        if kind == "favorites":
            # Favorites of a known user who has none recorded: an empty list, not an error.
            nsid = user_nsid(conn, set_id, plan.set_error)
            row = set_row(conn, kind, {set_id, nsid})
            if row is None:
                return empty(plan)
        else:
            row = set_row(conn, kind, {set_id})
            if row is None:
                raise FlickrError(*plan.set_error)
        if kind == "photoset":
            info = {name: row[name] for name in PHOTOSET_INFO}
        elif kind == "gallery":
            gallery = gallery_element(row)
        q.joins.append(f"JOIN memberships m ON m.photo = p.pk AND m.kind = {q.bind(kind)} "
                       f"AND m.set_id = {q.bind(row['id'])}")
    if plan.user:
        q.where.append(f"p.owner = {q.bind(user_nsid(conn, plan.user, plan.user_error))}")
    if plan.nothing:
        return empty(plan)
    if plan.group:
        if set_row(conn, "group", {plan.group}) is None:
            raise FlickrError(4, "You don't have permission to view this pool")
        group = q.bind(plan.group)
        q.add_set(f"SELECT photo AS pk FROM memberships WHERE kind = 'group' AND set_id = {group}",
                  f"EXISTS (SELECT 1 FROM memberships WHERE kind = 'group' AND set_id = {group} AND photo = p.pk)")
    _tags(q, plan)
    _text(q, plan)
    _geo(q, plan)
    _filters(q, plan)
    if not filters.add(conn, q, plan.more):
        return replace(empty(plan, 0, info), gallery=MappingProxyType(gallery))

    total = q.count(conn)
    offset = (plan.page - 1) * plan.per_page
    shown = total if plan.window is None else min(total, plan.window)  # past the window = past the end
    if offset >= shown:
        return replace(empty(plan, total, info), gallery=MappingProxyType(gallery))
    members = "m.attrs" if plan.set else "NULL"
    rows = q.page(conn, f"p.*, {members} AS membership", plan.sort, min(plan.per_page, shown - offset), offset,
                  total)
    photos = tuple(photo_from_row(r, json.loads(r["membership"]) if r["membership"] else None) for r in rows)
    return Page(photos, plan.page, math.ceil(total / plan.per_page), plan.per_page, total, wrapper(plan),
                MappingProxyType(info), MappingProxyType(gallery))


def gallery_element(row: sqlite3.Row) -> dict[str, str]:
    """The <gallery> element Flickr sends with get_gallery_info=1, from what the import kept of it."""
    attrs = {k: str(v) for k, v in json.loads(row["attrs"] or "{}").items() if k in GALLERY_ATTRS}
    return {"id": row["id"], **attrs, "owner": row["owner"], "username": row["ownername"], "title": row["title"],
            "description": attrs.pop("description", "")}


def user_nsid(conn: sqlite3.Connection, user: str, error: tuple[int, str]) -> str:
    """The NSID of a user named by NSID or path alias; `error` when the library does not know them."""
    row = conn.execute("SELECT owner FROM photos WHERE owner = ?1 OR pathalias = ?1 LIMIT 1", (user,)).fetchone()
    if row:
        return row[0]
    if conn.execute("SELECT 1 FROM sets WHERE owner = ?1 OR (kind = 'favorites' AND id = ?1) LIMIT 1",
                    (user,)).fetchone():
        return user
    raise FlickrError(*error)


def set_row(conn: sqlite3.Connection, kind: str, ids: set[str]) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM sets WHERE kind = ? AND id IN (SELECT value FROM json_each(?)) LIMIT 1",
        (kind, ids_in(sorted(ids))),
    ).fetchone()


# ---------------------------------------------------------------- filters


def _tags(q: Query, plan: Plan) -> None:
    if len(plan.tags_any) == 1:
        tag = q.bind(plan.tags_any[0])
        q.add_set(f"SELECT photo AS pk FROM tags WHERE tag = {tag}",
                  f"EXISTS (SELECT 1 FROM tags WHERE tag = {tag} AND photo = p.pk)")
    elif plan.tags_any:
        tags = f"(SELECT value FROM json_each({q.bind(ids_in(plan.tags_any))}))"
        q.add_set(f"SELECT DISTINCT photo AS pk FROM tags WHERE tag IN {tags}",
                  f"EXISTS (SELECT 1 FROM tags WHERE tag IN {tags} AND photo = p.pk)")
    for tag in plan.tags_all:
        bound = q.bind(tag)
        q.add_set(f"SELECT photo AS pk FROM tags WHERE tag = {bound}",
                  f"EXISTS (SELECT 1 FROM tags WHERE tag = {bound} AND photo = p.pk)")
    if plan.tags_not:
        q.where.append(f"p.pk NOT IN (SELECT photo FROM tags WHERE tag IN (SELECT value FROM json_each("
                       f"{q.bind(ids_in(plan.tags_not))})))")


def _text(q: Query, plan: Plan) -> None:
    if plan.text and plan.sort == "relevance":
        # A join, so that the page can be ordered by the FTS rank.
        q.joins.append(f"JOIN (SELECT rowid AS pk, rank FROM photos_fts WHERE photos_fts MATCH "
                       f"{q.bind(' '.join(plan.text))}) t ON t.pk = p.pk")
    elif plan.text:
        q.add_set(f"SELECT rowid AS pk FROM photos_fts WHERE photos_fts MATCH {q.bind(' '.join(plan.text))}")
    if plan.text_not:
        q.where.append(f"p.pk NOT IN (SELECT rowid FROM photos_fts WHERE photos_fts MATCH "
                       f"{q.bind(' OR '.join(plan.text_not))})")


def _geo(q: Query, plan: Plan) -> None:
    if plan.boxes:
        places.in_boxes(q, plan.boxes)
    if plan.near:
        places.near(q, *plan.near)
    if plan.has_geo is not None:
        q.where.append(f"p.geotagged = {int(plan.has_geo)}")


def _filters(q: Query, plan: Plan) -> None:
    if plan.licenses:
        q.where.append(f"p.license IN (SELECT value FROM json_each({q.bind(ids_in(plan.licenses))}))")
    low, high = plan.upload
    if low is not None:
        q.where.append(f"p.dateupload >= {q.bind(low)}")
    if high is not None:
        q.where.append(f"p.dateupload <= {q.bind(high)}")
    low, high = plan.taken
    if low is not None:
        q.where.append(f"p.datetaken >= {q.bind(low)}")
    if high is not None:
        q.where.append(f"p.datetaken <= {q.bind(high)}")
    if plan.media:
        q.where.append(f"p.media = {q.bind(plan.media)}")
