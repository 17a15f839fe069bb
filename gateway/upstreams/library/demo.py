"""The demo library: what an empty library shows on its first request (GATEWAY_DEMO=1).

A few hundred photos at real landmarks (landmarks.py), by five owners, with
tags, dates taken from 2008 on, views and licences; two dozen indoor photos
without a place (0,0 accuracy 0) so that the geo formats show how they leave
them out; three group pools, an album, a gallery and a favorites list, so
every method and format has something to show. Only metadata is written here
(well under a second); the images are drawn by the image route when first
asked for. The same photos every time: ids and values come from a fixed seed.

ensure() writes it in one BEGIN IMMEDIATE transaction that first checks the
library is still empty: SQLite's write lock is the file lock that lets one
gunicorn worker make the demo while the others wait and then find it made.
remove() takes it out again, as every command that fills the library does.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
from datetime import UTC, datetime

from ...model import LOCAL, Photo
from . import store
from .folder import local_id, local_nsid, path_alias
from .landmarks import LANDMARKS

OWNERS = ("Ines Duarte", "Kofi Mensah", "Mei Tanaka", "Lars Berg", "Priya Nair")
GROUPS = {"Bridges and Towers": {"bridge", "tower", "skyscraper"},
          "Mountains and Volcanoes": {"mountains", "volcano", "glacier"},
          "World Heritage": {"unesco"}}
ALBUM = ("72157900000000001", "Around the world")  # Ines Duarte's
GALLERY = ("72157900000000002", "Water, falling and still")  # curated by Kofi Mensah
VIEWS = ("", "at dawn", "at dusk", "from afar")
INDOOR = ("Kitchen still life", "Cat on the sofa", "Studio portrait", "Bookshelf", "Breakfast", "Houseplants",
          "Sleeping dog", "Board games", "Birthday cake", "Guitar", "Window light", "Lego city")
PHOTOS_PER_LANDMARK = 4
SEED = 2008


def owner(index: int) -> tuple[str, str, str]:
    """(nsid, name, path alias) of a demo owner."""
    name = OWNERS[index % len(OWNERS)]
    return local_nsid(name), name, path_alias(name)


def photos() -> list[Photo]:
    """The demo's photos, the same every time."""
    rnd = random.Random(SEED)
    made = []
    for i, landmark in enumerate(LANDMARKS):
        for j in range(PHOTOS_PER_LANDMARK):
            view = VIEWS[j]
            made.append(_photo(rnd, f"{i}:{j}", i + j, f"{landmark.name} {view}".strip(),
                               f"{landmark.name}, {landmark.place}. A demo photo drawn by the gateway.",
                               (*landmark.tags, *(view.split()[-1:] if view else ())),
                               (landmark.lat + rnd.uniform(-0.002, 0.002), landmark.lon + rnd.uniform(-0.002, 0.002))))
    for k in range(len(INDOOR) * 2):
        title = INDOOR[k % len(INDOOR)] + (" again" if k >= len(INDOOR) else "")
        made.append(_photo(rnd, f"indoor:{k}", k, title, "Taken at home: no place recorded.",
                           ("indoor", "home", title.split()[0].lower()), None))
    return made


def _photo(rnd: random.Random, key: str, who: int, title: str, description: str, tags: tuple[str, ...],
           where: tuple[float, float] | None) -> Photo:
    nsid, name, alias = owner(who)
    digest = hashlib.sha256(f"demo:{key}".encode()).hexdigest()
    taken = datetime(2008, 1, 1, tzinfo=UTC).timestamp() + rnd.random() * 17.5 * 365 * 86400
    uploaded = int(taken + rnd.uniform(3600, 60 * 86400))
    width, height = rnd.choice(((2048, 1536), (1536, 2048), (2400, 1600), (1600, 1600)))
    return Photo(
        id=local_id(digest), owner=nsid, secret=digest[15:25], server=LOCAL, title=title, description=description,
        ownername=name, pathalias=alias, dateupload=uploaded, lastupdate=uploaded,
        datetaken=datetime.fromtimestamp(int(taken), UTC).strftime("%Y-%m-%d %H:%M:%S"),
        license=rnd.choice(("0", "1", "2", "4", "5", "9", "10")), tags=(*tags, "demo"),
        latitude=round(where[0], 6) if where else 0.0, longitude=round(where[1], 6) if where else 0.0,
        accuracy=rnd.choice((14, 15, 16, 16, 16)) if where else 0, views=int(rnd.paretovariate(1.2) * 40),
        originalsecret=digest[15:25], originalformat="jpg", o_width=width, o_height=height,
    )


def ensure(conn: sqlite3.Connection) -> int:
    """Write the demo if the library is empty; returns how many photos it wrote (0: not empty)."""
    with store.transaction(conn):  # BEGIN IMMEDIATE: one writer at a time, across processes
        if not store.is_empty(conn):
            return 0
        made = photos()
        pks = store.write_photos(conn, made)
        conn.executemany("INSERT INTO demo (photo) VALUES (?)", [(pk,) for pk in pks.values()])
        _sets(conn, made, pks)
    return len(made)


def _sets(conn: sqlite3.Connection, made: list[Photo], pks: dict[str, int]) -> None:
    for title, wanted in GROUPS.items():
        group = local_nsid(title, "group")
        store.write_set(conn, "group", group, title=title)
        members = [p for p in made if wanted & set(p.tags)]
        store.write_memberships(conn, "group", group,
                                [(pks[p.id], None, (p.dateupload or 0) + 3600, {}) for p in members])
    ines, name, _ = owner(0)
    album = [p for p in made if p.owner == ines and p.geotagged][::3]
    store.write_set(conn, "photoset", ALBUM[0], ines, name, ALBUM[1], album[0].id)
    store.write_memberships(conn, "photoset", ALBUM[0], [
        (pks[p.id], n, None, {"isprimary": "1" if n == 0 else "0"}) for n, p in enumerate(album)])
    kofi, kofi_name, _ = owner(1)
    water = [p for p in made if {"waterfall", "lake", "fjord", "harbour", "bay"} & set(p.tags)][:18]
    store.write_set(conn, "gallery", GALLERY[0], kofi, kofi_name, GALLERY[1], water[0].id,
                    {"description": "Chosen from the demo photos"})
    store.write_memberships(conn, "gallery", GALLERY[0], [
        (pks[p.id], n, None, {"is_primary": "1" if n == 0 else "0", "has_comment": "1" if n % 4 == 0 else "0",
                              **({"comment": f"Look at the light on {p.title}."} if n % 4 == 0 else {})})
        for n, p in enumerate(water)])
    mei, _, _ = owner(2)
    store.write_set(conn, "favorites", mei, owner=mei)
    liked = [p for p in made if p.owner != mei and (p.views or 0) > 60][:25]
    store.write_memberships(conn, "favorites", mei, [(pks[p.id], n, (p.dateupload or 0) + 86400, {})
                                                     for n, p in enumerate(liked)])


def remove(conn: sqlite3.Connection) -> int:
    """Take the demo out of the library (its photos, and its sets once they are empty); returns how many."""
    with store.transaction(conn):
        pks = [row[0] for row in conn.execute("SELECT photo FROM demo")]
        if not pks:
            return 0
        store.delete_photos(conn, pks)
        conn.execute("DELETE FROM sets WHERE NOT EXISTS (SELECT 1 FROM memberships m "
                     "WHERE m.kind = sets.kind AND m.set_id = sets.id) AND (id IN (SELECT value FROM json_each(?)) "
                     "OR owner IN (SELECT value FROM json_each(?)))",
                     (store.ids_in([ALBUM[0], GALLERY[0], *(local_nsid(g, "group") for g in GROUPS)]),
                      store.ids_in([owner(i)[0] for i in range(len(OWNERS))])))
    return len(pks)
