"""The library file: connections, transactions, and photos in and out of rows.

One connection per OS thread (a sqlite3 connection must not be shared while
in use), WAL so that readers never wait for an import. Per OS thread, not
per greenlet: under gunicorn's gevent worker `threading.local` is
greenlet-local, and a connection (with its 32 MB page cache) per client
connection would grow without bound. Library calls run in the threads of a
small pool (gateway/blocking.py), so a worker holds a handful; a thread's
connection is closed when the thread ends.
Writes merge what a new recording says with what the library knows
(`merge`), and skip photos the recording does not change, so that
importing the same file twice leaves the file as it was.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import MISSING, fields, replace
from types import MappingProxyType

from ...blocking import native_local, native_lock
from ...model import SUFFIX_EDGE, Photo, Size
from . import placenames, schema

# Attributes of one photo *in one set* (an album's primary photo, the date a
# group received it, a gallery curator's note): kept with the membership,
# never with the photo, and handed back only by that set's own method.
MEMBERSHIP_ATTRS = ("isprimary", "is_primary", "has_comment", "dateadded", "date_faved", "comment")

# Photo fields stored in a column of the same name and type.
_LISTS = {"tags", "machine_tags"}
_JSON = {"sizes", "extra"}
_SCALARS = tuple(f.name for f in fields(Photo) if f.name not in _LISTS | _JSON | {"comment", "base"})
_GEO = ("latitude", "longitude", "accuracy")
COLUMNS = (*_SCALARS, *sorted(_LISTS), "geotagged", *sorted(_JSON))
# A field holding its default says nothing: "views" defaults to None, so 0
# views is known; media defaults to "photo", so a recording without the media
# extra never turns a known video back into a photo.
_UNKNOWN = {f.name: f.default for f in fields(Photo) if f.default is not MISSING}

EARTH_RADIUS_KM = 6371.0088
MMAP_SIZE = 2**30


def dumps(value: object) -> str:
    """JSON as stored: compact and key-sorted, so equal values are equal text."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine); registered as SQL function distance_km()."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class _Held:
    """One OS thread's connection, closed when that thread's local storage goes (the thread ended)."""

    __slots__ = ("conn", "__weakref__")

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __del__(self) -> None:
        self.conn.close()


class Store:
    """The SQLite file at `path`, opened lazily (and created with the schema) by each OS thread."""

    def __init__(self, path: str):
        self.path = path
        # One connection per OS thread, also under gevent: a patched threading.local would give
        # every greenlet (every request) a connection of its own, never closed.
        self._local = native_local()
        self._lock = native_lock()
        self._open: weakref.WeakSet[_Held] = weakref.WeakSet()  # every thread's connection still open
        # Close whatever is still open when the Store is collected or the process exits.
        self._finalizer = weakref.finalize(self, _close_all, self._open)

    def connection(self) -> sqlite3.Connection:
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = _Held(self._connect())
            with self._lock:
                self._open.add(held)
        return held.conn

    def open_connections(self) -> int:
        """How many connections are open (one per OS thread that used the library and still runs)."""
        return len(self._open)

    def close(self) -> None:
        """Close every thread's connection; the next use opens new ones."""
        with self._lock:
            _close_all(self._open)
            self._local = native_local()

    def _connect(self) -> sqlite3.Connection:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        # isolation_level=None: no implicit transactions; `transaction()` says where they are.
        # check_same_thread=False only so that close() may run on another thread.
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode, much faster imports
            # Read through the OS page cache without a copy per page: a third off every query
            # that visits many rows (a million photos make a file of about 700 MB).
            conn.execute(f"PRAGMA mmap_size = {MMAP_SIZE}")
            conn.execute("PRAGMA cache_size = -32768")  # KiB: 32 MB a connection, for the pages not mapped
            conn.create_function("distance_km", 4, distance_km, deterministic=True)
            schema.create(conn)
        except BaseException:
            conn.close()
            raise
        return conn


def _close_all(held: weakref.WeakSet[_Held]) -> None:
    for one in list(held):
        one.conn.close()
    held.clear()


@contextmanager
def transaction(conn: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
    """BEGIN … COMMIT, or ROLLBACK on any error. DEFERRED for a consistent read snapshot.

    A transaction that changed any row bumps the data version (`changed`) in the
    same commit, so every write path (import, add-folder, removal, the demo) is
    seen by the caches without remembering to.
    """
    conn.execute(f"BEGIN {mode}")
    before = conn.total_changes
    try:
        yield conn
        if conn.total_changes != before:
            changed(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def changed(conn: sqlite3.Connection) -> None:
    """Bump the library's data version: every cached feed of this library is out of date from the commit on.

    The one function every write calls (transaction() does it for its writes);
    call it yourself only for a write made outside transaction().
    """
    conn.execute("UPDATE changes SET version = version + 1, "
                 "changed_at = max(changed_at, CAST(strftime('%s', 'now') AS INTEGER)) WHERE id = 1")


class DataVersion:
    """The library's data version and the time of its last change, cheaply read before every answer.

    One connection of its own per process, which never writes: SQLite's
    `PRAGMA data_version` on it changes whenever any other connection (another
    thread, worker or command) commits, and reading it costs a few microseconds,
    so the `changes` row is read only after a commit. (0, 0) until the file exists.
    """

    def __init__(self, path: str):
        self.path = path
        # An OS lock (also under gevent): held for microseconds, never across a switch,
        # and safe whether the event loop or a lane's thread reads the version.
        self._lock = native_lock()
        self._conn: sqlite3.Connection | None = None
        self._seen: int | None = None
        self._value = (0, 0)

    def get(self) -> tuple[int, int]:
        """(version, changed_at): the version grows with every change; changed_at is unix time."""
        with self._lock:
            try:
                if self._conn is None:
                    if not os.path.exists(self.path):
                        return self._value
                    # A short busy timeout: this runs before every answer (on the event loop under
                    # gevent); a read that would wait keeps the last value and reads again next time.
                    self._conn = sqlite3.connect(self.path, timeout=0.5, isolation_level=None,
                                                 check_same_thread=False)
                seen = self._conn.execute("PRAGMA data_version").fetchone()[0]
                if seen != self._seen:
                    row = self._conn.execute("SELECT version, changed_at FROM changes WHERE id = 1").fetchone()
                    self._value = (row[0], row[1]) if row else (0, 0)
                    self._seen = seen
            except sqlite3.Error:
                self._seen = None  # not migrated yet, or locked: read the row again next time
            return self._value

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn, self._seen = None, None


# ---------------------------------------------------------------- rows


def photo_from_row(row: Mapping, membership: Mapping[str, str] | None = None) -> Photo:
    """The Photo a row holds, with a set's per-membership attributes when given."""
    extra = json.loads(row["extra"])
    comment = ""
    if membership:
        extra.update({k: v for k, v in membership.items() if k != "comment"})
        comment = membership.get("comment", "")
    return Photo(
        **{name: row[name] for name in _SCALARS if name != "datetaken"},
        datetaken=row["datetaken"] or "",
        tags=tuple(row["tags"].split()),
        machine_tags=tuple(row["machine_tags"].split()),
        sizes=tuple(Size(*s) for s in json.loads(row["sizes"])),
        comment=comment,
        extra=MappingProxyType(extra),
    )


def _row_values(photo: Photo) -> tuple:
    values = {name: getattr(photo, name) for name in _SCALARS}
    values["datetaken"] = photo.datetaken or None  # NULL sorts last in date-taken-desc
    values.update(
        tags=" ".join(photo.tags),
        machine_tags=" ".join(photo.machine_tags),
        geotagged=int(photo.geotagged),
        sizes=dumps([[s.suffix, s.url, s.width, s.height] for s in photo.sizes]),
        extra=dumps(dict(photo.extra)),
    )
    return tuple(values[c] for c in COLUMNS)


def merge(old: Photo, new: Photo) -> Photo:
    """The photo as both recordings know it: new's known values win, and an
    empty or unknown value never replaces a known one.

    Location moves as one (latitude, longitude, accuracy) and only when the
    new recording is geotagged: "0 0 0" means "no location or not asked for".
    Sizes and extra attributes are merged key by key.
    """
    known = {
        name: getattr(new, name) for name in _UNKNOWN
        if name not in _GEO and name not in _JSON and getattr(new, name) not in ("", (), _UNKNOWN[name])
    }
    if new.geotagged:
        known.update({name: getattr(new, name) for name in _GEO})
    sizes = {s.suffix: s for s in old.sizes} | {s.suffix: s for s in new.sizes}
    known["sizes"] = tuple(sorted(sizes.values(), key=lambda s: SUFFIX_EDGE[s.suffix] or 10**6))
    known["extra"] = MappingProxyType({**old.extra, **{k: v for k, v in new.extra.items() if v != ""}})
    return replace(old, **known)


def without_membership(photo: Photo) -> tuple[Photo, dict[str, str]]:
    """The photo as the library stores it, and the attributes that belong to its set."""
    attrs = {k: v for k, v in photo.extra.items() if k in MEMBERSHIP_ATTRS and v != ""}
    if photo.comment:
        attrs["comment"] = photo.comment
    extra = {k: v for k, v in photo.extra.items() if k not in MEMBERSHIP_ATTRS}
    return replace(photo, comment="", extra=MappingProxyType(extra)), attrs


# ---------------------------------------------------------------- writes

_UPSERT = (
    f"INSERT INTO photos ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in COLUMNS if c != 'id')}"
)


def ids_in(values: Iterable[str]) -> str:
    """One JSON parameter for `x IN (SELECT value FROM json_each(?))`: no limit on the list."""
    return dumps(list(values))


def write_photos(conn: sqlite3.Connection, photos: Sequence[Photo]) -> dict[str, int]:
    """Insert new photos, merge known ones; returns id → pk for every photo given."""
    ids = list(dict.fromkeys(p.id for p in photos))
    in_ids = "id IN (SELECT value FROM json_each(?))"
    rows = conn.execute(f"SELECT * FROM photos WHERE {in_ids}", (ids_in(ids),))
    known = {row["id"]: photo_from_row(row) for row in rows}
    result: dict[str, Photo] = dict(known)
    for photo in photos:  # the same photo twice in one response merges too
        result[photo.id] = merge(result[photo.id], photo) if photo.id in result else photo
    # The place each is taken near, named here so that every writer names it (placenames.py).
    result = {key: placenames.locate(p, known.get(key)) for key, p in result.items()}
    changed = [p for p in result.values() if known.get(p.id) != p]
    conn.executemany(_UPSERT, [_row_values(p) for p in changed])
    pks = dict(conn.execute(f"SELECT id, pk FROM photos WHERE {in_ids}", (ids_in(ids),)).fetchall())
    conn.executemany("DELETE FROM tags WHERE tag = ? AND photo = ?",
                     [row for p in changed if p.id in known for row in tag_rows(known[p.id], pks[p.id])])
    conn.executemany("INSERT OR IGNORE INTO tags (tag, photo) VALUES (?, ?)",
                     [row for p in changed for row in tag_rows(p, pks[p.id])])
    placenames.record(conn, {p.place_id for p in changed})
    return pks


def tag_rows(photo: Photo, pk: int) -> set[tuple[str, int]]:
    """The photo's rows in `tags`. A photo's rows are found from its tags, by the table's
    key (tag, photo): no second index on photo to build and keep (5 s and 70 MB a million)."""
    return {(tag.lower(), pk) for tag in (*photo.tags, *photo.machine_tags)}


def delete_photos(conn: sqlite3.Connection, pks: Iterable[int]) -> None:
    """Remove photos with everything that points at them (the FTS and R*Tree rows go by trigger)."""
    pks = list(pks)
    found = conn.execute("SELECT * FROM photos WHERE pk IN (SELECT value FROM json_each(?))", (ids_in(pks),))
    conn.executemany("DELETE FROM tags WHERE tag = ? AND photo = ?",
                     [row for r in found for row in tag_rows(photo_from_row(r), r["pk"])])
    for table, column in (("memberships", "photo"), ("files", "photo"), ("demo", "photo"), ("photos", "pk")):
        conn.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(pk,) for pk in pks])


def remove_photos(conn: sqlite3.Connection, pks: Iterable[int]) -> int:
    """Remove photos (delete_photos) and the sets they leave empty; returns how many photos went.

    Only sets that lose their last member go: a set recorded with no photos
    (an empty pool, as Flickr answered it) says something and stays.
    """
    pks = sorted(set(pks))
    if not pks:
        return 0
    touched = conn.execute("SELECT DISTINCT kind, set_id FROM memberships WHERE photo IN "
                           "(SELECT value FROM json_each(?))", (ids_in(pks),)).fetchall()
    delete_photos(conn, pks)
    conn.executemany("DELETE FROM sets WHERE kind = ?1 AND id = ?2 AND NOT EXISTS "
                     "(SELECT 1 FROM memberships WHERE kind = ?1 AND set_id = ?2)", [tuple(t) for t in touched])
    return len(pks)


def forget_files(conn: sqlite3.Connection, paths: Iterable[str]) -> int:
    """Forget these image files of local photos; a photo no other file holds is removed
    (remove_photos). Returns how many photos were removed."""
    paths = sorted(set(paths))
    if not paths:
        return 0
    held = [row[0] for row in conn.execute("SELECT DISTINCT photo FROM files WHERE path IN "
                                           "(SELECT value FROM json_each(?))", (ids_in(paths),))]
    conn.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in paths])
    orphans = [pk for pk in held if conn.execute("SELECT 1 FROM files WHERE photo = ?", (pk,)).fetchone() is None]
    return remove_photos(conn, orphans)


def write_set(conn: sqlite3.Connection, kind: str, set_id: str, owner: str = "", ownername: str = "",
              title: str = "", primary: str = "", attrs: Mapping[str, str] | None = None) -> None:
    """Record (or complete) what is known about a set; empty values keep what was known."""
    known_attrs = {k: v for k, v in (attrs or {}).items() if v != ""}
    conn.execute(
        """INSERT INTO sets (kind, id, owner, ownername, title, "primary", attrs) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (kind, id) DO UPDATE SET
            owner = coalesce(nullif(excluded.owner, ''), owner),
            ownername = coalesce(nullif(excluded.ownername, ''), ownername),
            title = coalesce(nullif(excluded.title, ''), title),
            "primary" = coalesce(nullif(excluded."primary", ''), "primary"),
            attrs = json_patch(attrs, excluded.attrs)
        -- Only a real change counts as one: the data version (transaction()) follows changed rows.
        WHERE owner IS NOT coalesce(nullif(excluded.owner, ''), owner)
            OR ownername IS NOT coalesce(nullif(excluded.ownername, ''), ownername)
            OR title IS NOT coalesce(nullif(excluded.title, ''), title)
            OR "primary" IS NOT coalesce(nullif(excluded."primary", ''), "primary")
            OR attrs IS NOT json_patch(attrs, excluded.attrs)""",
        (kind, set_id, owner, ownername, title, primary, dumps(known_attrs)),
    )


def write_memberships(conn: sqlite3.Connection, kind: str, set_id: str,
                      rows: Iterable[tuple[int, int | None, int | None, Mapping[str, str]]]) -> None:
    """Record photos (pk, position, added, attrs) as members of a set; unknown values keep known ones."""
    conn.executemany(
        """INSERT INTO memberships (kind, set_id, photo, position, added, attrs) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (kind, set_id, photo) DO UPDATE SET
            position = coalesce(excluded.position, position),
            added = coalesce(excluded.added, added),
            attrs = json_patch(attrs, excluded.attrs)
        WHERE position IS NOT coalesce(excluded.position, position) OR added IS NOT coalesce(excluded.added, added)
            OR attrs IS NOT json_patch(attrs, excluded.attrs)""",
        [(kind, set_id, pk, position, added, dumps(dict(attrs))) for pk, position, added, attrs in rows],
    )


# ---------------------------------------------------------------- reads


def is_empty(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM photos LIMIT 1").fetchone() is None


def stats(conn: sqlite3.Connection) -> dict[str, int]:
    """Counts for `flask library stats`."""
    one = conn.execute(
        """SELECT count(*), coalesce(sum(geotagged), 0), count(DISTINCT owner),
                  (SELECT count(DISTINCT tag) FROM tags) FROM photos"""
    ).fetchone()
    sets = dict(conn.execute("SELECT kind, count(*) FROM sets GROUP BY kind").fetchall())
    return {
        "photos": one[0], "geotagged": one[1], "owners": one[2], "tags": one[3],
        "groups": sets.get("group", 0), "albums": sets.get("photoset", 0),
        "galleries": sets.get("gallery", 0), "favorites lists": sets.get("favorites", 0),
    }
