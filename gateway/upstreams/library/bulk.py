"""Many photos at once (`library synth`): the library's fast path for filling a file.

Row by row, each photo costs its triggers (an FTS5 insert, an R*Tree insert)
and a place in every index, about 6,000 photos a second. Here the photos go in
with the triggers and (into an empty library) the indexes set aside, and
everything that points at them is then built in one statement each:

    photos         executemany of ready row tuples, pks assigned here
    photos_fts     INSERT … SELECT over the new rows (external content: the text stays in photos)
    photos_geo     INSERT … SELECT of the new geotagged rows
    tags           split from photos.tags by json_each, inserted in key order
    indexes        CREATE INDEX: one sort each instead of a million B-tree inserts

The schema's own CREATE INDEX / CREATE TRIGGER statements (read back from
sqlite_master) put them back, in the same transaction: a failed load leaves
the library as it was. During the load the file uses a rollback journal
without fsync and a 1 GB page cache; WAL, synchronous=NORMAL and the usual
cache come back after, and ANALYZE gives the query planner the new statistics.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from . import store

# The triggers that keep FTS5 and the R*Tree in step with single inserts.
INSERT_TRIGGERS = ("photos_fts_insert", "photos_geo_insert")
BULK_CACHE_KIB = 1024 * 1024


def first_pk(conn: sqlite3.Connection) -> int:
    """The pk the next photo gets: rows for load() are numbered from here."""
    return (conn.execute("SELECT max(pk) FROM photos").fetchone()[0] or 0) + 1


def load(conn: sqlite3.Connection, batches: Iterable[Sequence[tuple]],
         memberships: Iterable[Sequence[tuple]] = ()) -> int:
    """Insert photo rows ((pk, *store.COLUMNS), pks from first_pk on, tags normalised and space-separated)
    and group memberships ((kind, set_id, photo pk, added)); returns how many photos went in."""
    start = first_pk(conn)
    fresh = start == 1
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    # Leaving WAL needs every other connection closed; if one is open the load still works, in WAL.
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA threads = 2")  # CREATE INDEX and ORDER BY sort on two cores
    count = 0
    try:
        with store.transaction(conn):
            saved = _set_aside(conn, fresh)
            insert = (f"INSERT INTO photos (pk, {', '.join(store.COLUMNS)}) "
                      f"VALUES ({', '.join('?' * (len(store.COLUMNS) + 1))})")
            for batch in batches:
                conn.executemany(insert, batch)
                count += len(batch)
            conn.executemany("INSERT OR IGNORE INTO memberships (kind, set_id, photo, added) VALUES (?, ?, ?, ?)",
                             (row for batch in memberships for row in batch))
            # Built once over all the new rows rather than batch by batch: measured at a
            # million photos, per batch cost 2-3 times as much (each batch's tags land all
            # over the tags B-tree; FTS5 merges every batch's segments again).
            _build(conn, start, start + count)
            for sql in saved:
                conn.execute(sql)
        conn.execute("PRAGMA analysis_limit = 1000")  # statistics from a sample of each index: enough to plan
        conn.execute("ANALYZE")
    finally:
        conn.execute("PRAGMA cache_size = -32768")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA journal_mode = {journal}")
    return count


def _set_aside(conn: sqlite3.Connection, fresh: bool) -> list[str]:
    """Drop the insert triggers (and, into an empty library, the indexes); returns the SQL that restores them."""
    wanted = "type = 'trigger' AND name IN (SELECT value FROM json_each(?))"
    if fresh:
        wanted += " OR (type = 'index' AND tbl_name IN ('photos', 'tags') AND sql IS NOT NULL)"
    rows = conn.execute(f"SELECT type, name, sql FROM sqlite_master WHERE {wanted}",
                        (store.ids_in(INSERT_TRIGGERS),)).fetchall()
    for kind, name, _sql in rows:
        conn.execute(f'DROP {kind.upper()} "{name}"')
    # Indexes first, so that the triggers come back onto a finished table.
    return [sql for kind, _name, sql in sorted(rows, key=lambda r: r[0] != "index")]


def _build(conn: sqlite3.Connection, start: int, end: int) -> None:
    """What the triggers and the store would have written for the photos with pks start to end - 1."""
    span = {"start": start, "end": end}
    conn.execute("""INSERT INTO photos_fts (rowid, title, description, tags)
                    SELECT pk, title, description, tags FROM photos WHERE pk >= :start AND pk < :end""", span)
    conn.execute("""INSERT INTO photos_geo SELECT pk, longitude, longitude, latitude, latitude
                    FROM photos WHERE pk >= :start AND pk < :end AND geotagged""", span)
    # "a b c" → ["a","b","c"]: bulk tags are normalised (no spaces, quotes or backslashes).
    conn.execute("""INSERT OR IGNORE INTO tags (tag, photo)
                    SELECT j.value, p.pk FROM photos p, json_each('["' || replace(p.tags, ' ', '","') || '"]') j
                    WHERE p.pk >= :start AND p.pk < :end AND p.tags != '' ORDER BY 1, 2""", span)
