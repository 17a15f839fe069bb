"""`library list` and `library remove`: what the library holds, by the ids a feed asks
for, and taking photos out again; and the sets the gateway's pages of local photos list.

Every write goes through store's write functions (store.remove_photos,
store.forget_files), in one transaction a command.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from . import store
from .folder import local_nsid

# kind in `sets` → what a person calls one and several, the argument a feed names it by, the method
# that lists its photos.
KINDS = {
    "group": ("group", "groups", "group_id", "flickr.groups.pools.getPhotos"),
    "photoset": ("album", "albums", "photoset_id", "flickr.photosets.getPhotos"),
    "gallery": ("gallery", "galleries", "gallery_id", "flickr.galleries.getPhotos"),
    "favorites": ("favorites list", "favorites lists", "user_id", "flickr.favorites.getPublicList"),
}


@dataclass(frozen=True)
class Owner:
    nsid: str
    name: str
    alias: str
    photos: int
    local: int  # how many of them the gateway serves itself (add-folder, the demo)


@dataclass(frozen=True)
class Set:
    kind: str
    id: str
    title: str
    owner: str
    photos: int


@dataclass(frozen=True)
class Place:
    id: int  # GeoNames id: photos.search's woe_id / place_id
    kind: str  # locality | region | country
    name: str
    label: str  # "Lisbon, Portugal"
    photos: int


def places(conn: sqlite3.Connection) -> list[Place]:
    """Every place the library's photos were taken near, with their regions and countries, and how
    many photos each holds; countries first, then regions, then localities, most photos first."""
    rows = conn.execute("""
        WITH counts AS (SELECT place_id, count(*) AS n FROM photos WHERE place_id != 0 GROUP BY place_id)
        SELECT l.id, l.kind, l.name, r.name, c.name,
               CASE l.kind WHEN 'locality' THEN (SELECT n FROM counts WHERE place_id = l.id)
                           WHEN 'region' THEN (SELECT sum(n) FROM counts JOIN places x ON x.id = counts.place_id
                                               WHERE x.region = l.id)
                           ELSE (SELECT sum(n) FROM counts JOIN places x ON x.id = counts.place_id
                                 WHERE x.country = l.id) END AS photos
        FROM places l LEFT JOIN places r ON r.id = l.region AND l.region != 0
                      LEFT JOIN places c ON c.id = l.country AND l.country != 0""").fetchall()
    order = {"country": 0, "region": 1, "locality": 2}
    found = [Place(pk, kind, name, ", ".join(dict.fromkeys(n for n in (name, region, country) if n)), count or 0)
             for pk, kind, name, region, country, count in rows]
    return sorted(found, key=lambda p: (order.get(p.kind, 3), -p.photos, p.label))


def owners(conn: sqlite3.Connection) -> list[Owner]:
    """Every owner with photos in the library, most photos first."""
    rows = conn.execute("""SELECT owner, max(ownername), max(pathalias), count(*), sum(server = 'local')
                           FROM photos GROUP BY owner ORDER BY count(*) DESC, owner""")
    return [Owner(*row) for row in rows]


def sets(conn: sqlite3.Connection) -> list[Set]:
    """Every group, album, gallery and favorites list the library knows, with its photo count."""
    rows = conn.execute("""SELECT s.kind, s.id, s.title, s.owner,
                                  (SELECT count(*) FROM memberships m WHERE m.kind = s.kind AND m.set_id = s.id)
                           FROM sets s ORDER BY s.kind, s.title, s.id""")
    return [Set(*row) for row in rows]


class NotFound(Exception):
    """A selector that names nothing in the library; the message says what."""


@dataclass
class Selection:
    """The photos a `remove` names: by pk, plus the files of a folder (forgotten, see store.forget_files)."""

    pks: set[int] = field(default_factory=set)
    paths: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.pks) + len(self.paths)


def select(conn: sqlite3.Connection, photos: tuple[str, ...] = (), owners: tuple[str, ...] = (),
           sets: tuple[tuple[str, str], ...] = (), folders: tuple[Path, ...] = ()) -> Selection:
    """The photos named by id, by owner (NSID, path alias or name), by set (kind, id or title) and by
    folder (the files recorded under it). Raises NotFound for a name that matches nothing."""
    chosen = Selection()
    for photo_id in photos:
        row = conn.execute("SELECT pk FROM photos WHERE id = ?", (photo_id.strip(),)).fetchone()
        if row is None:
            raise NotFound(f"no photo {photo_id!r} in the library")
        chosen.pks.add(row[0])
    for name in owners:
        nsid = owner_nsid(conn, name)
        chosen.pks.update(r[0] for r in conn.execute("SELECT pk FROM photos WHERE owner = ?", (nsid,)))
    for kind, name in sets:
        set_id = set_key(conn, kind, name)
        chosen.pks.update(r[0] for r in conn.execute(
            "SELECT photo FROM memberships WHERE kind = ? AND set_id = ?", (kind, set_id)))
    for folder in folders:
        prefix = os.path.join(Path(folder).resolve(), "")  # as add-folder recorded it (folder.add_folder)
        found = [r[0] for r in conn.execute("SELECT path FROM files WHERE substr(path, 1, ?) = ?",
                                            (len(prefix), prefix))]
        if not found:
            raise NotFound(f"no photo file under {folder} in the library")
        chosen.paths.extend(found)
    return chosen


def remove(conn: sqlite3.Connection, chosen: Selection) -> int:
    """Remove the selected photos (and the sets they leave empty); returns how many photos went."""
    with store.transaction(conn):
        removed = store.forget_files(conn, chosen.paths)
        left = [pk for pk in chosen.pks if conn.execute("SELECT 1 FROM photos WHERE pk = ?", (pk,)).fetchone()]
        return removed + store.remove_photos(conn, left)


def owner_nsid(conn: sqlite3.Connection, name: str) -> str:
    """The NSID of an owner named by NSID, path alias or owner name (any case)."""
    name = name.strip()
    rows = conn.execute("""SELECT DISTINCT owner FROM photos
                           WHERE owner = ?1 OR pathalias = lower(?1) OR lower(ownername) = lower(?1)
                           LIMIT 3""", (name,)).fetchall()
    if not rows:
        raise NotFound(f"no owner {name!r} in the library (`library list` shows them)")
    if len(rows) > 1:
        raise NotFound(f"{name!r} names several owners ({', '.join(r[0] for r in rows)}): give the user_id")
    return rows[0][0]


def set_key(conn: sqlite3.Connection, kind: str, name: str) -> str:
    """The id of a set named by id or title (any case); a group named on add-folder's command line by its name."""
    name = name.strip()
    candidates = (name, local_nsid(name, "group")) if kind == "group" else (name,)
    for candidate in candidates:
        if conn.execute("SELECT 1 FROM sets WHERE kind = ? AND id = ?", (kind, candidate)).fetchone():
            return candidate
    rows = conn.execute("SELECT id FROM sets WHERE kind = ? AND lower(title) = lower(?) LIMIT 3",
                        (kind, name)).fetchall()
    one, several = KINDS[kind][:2]
    if not rows:
        raise NotFound(f"no {one} {name!r} in the library (`library list` shows them)")
    if len(rows) > 1:
        raise NotFound(f"{name!r} names several {several} ({', '.join(r[0] for r in rows)}): give the id")
    return rows[0][0]


# ---------------------------------------------------------------- what the gateway's pages show

_SET_COUNT = "(SELECT count(*) FROM memberships m WHERE m.kind = s.kind AND m.set_id = s.id)"


def set_info(conn: sqlite3.Connection, kind: str, set_id: str) -> Set | None:
    """One set with its photo count, None when the library does not know it."""
    row = conn.execute(f"SELECT s.kind, s.id, s.title, s.owner, {_SET_COUNT} FROM sets s WHERE kind = ? AND id = ?",
                       (kind, set_id)).fetchone()
    return Set(*row) if row else None


def sets_of_photo(conn: sqlite3.Connection, photo_id: str) -> list[Set]:
    """The groups, albums and galleries a photo is in."""
    rows = conn.execute(f"""SELECT s.kind, s.id, s.title, s.owner, {_SET_COUNT} FROM sets s
                            JOIN memberships x ON x.kind = s.kind AND x.set_id = s.id
                            JOIN photos p ON p.pk = x.photo
                            WHERE p.id = ? AND s.kind != 'favorites' ORDER BY s.kind, s.title""", (photo_id,))
    return [Set(*row) for row in rows]


def sets_of_owner(conn: sqlite3.Connection, nsid: str) -> list[Set]:
    """The albums and galleries an owner made, and the groups that hold their photos."""
    rows = conn.execute(f"""SELECT s.kind, s.id, s.title, s.owner, {_SET_COUNT} FROM sets s
                            WHERE (s.owner = ?1 AND s.kind IN ('photoset', 'gallery'))
                               OR (s.kind = 'group' AND EXISTS (SELECT 1 FROM memberships x JOIN photos p
                                   ON p.pk = x.photo WHERE x.kind = 'group' AND x.set_id = s.id AND p.owner = ?1))
                            ORDER BY s.kind, s.title""", (nsid,))
    return [Set(*row) for row in rows]


def names(conn: sqlite3.Connection, user: str = "", group: str = "") -> dict[str, str]:
    """What the library calls the owner (NSID or path alias) and the group a call names, for the
    feed's title: {"ownername": …, "groupname": …}, each only when the library holds a name."""
    out: dict[str, str] = {}
    if user:
        # Two lookups, each on an index (photos_owner, photos_pathalias), rather than one OR that scans.
        for where in ("owner = ?1", "pathalias = ?1 AND pathalias != ''"):
            row = conn.execute(f"SELECT ownername, realname FROM photos WHERE {where} "
                               "AND (ownername != '' OR realname != '') LIMIT 1", (user,)).fetchone()
            if row:
                out["ownername"] = row[0] or row[1]
                break
        else:  # a favorites list's or a set's owner with no photos of their own here
            row = conn.execute("SELECT ownername FROM sets WHERE (owner = ?1 OR (kind = 'favorites' AND id = ?1)) "
                               "AND ownername != '' LIMIT 1", (user,)).fetchone()
            if row:
                out["ownername"] = row[0]
    if group:
        row = conn.execute("SELECT title FROM sets WHERE kind = 'group' AND id = ? AND title != ''",
                           (group,)).fetchone()
        if row:
            out["groupname"] = row[0]
    return out
