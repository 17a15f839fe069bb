"""Many photos at once (`library synth`): the library's fast path for filling a file.

Row by row, each photo costs its triggers (an FTS5 insert, an R*Tree insert)
and a place in every index, about 6,000 photos a second. Here the photos go in
with the triggers and (into an empty library) the indexes set aside, and
everything that points at them is then built in one statement each:

    photos         executemany of ready row tuples, pks assigned here
    photos_fts     INSERT … SELECT over the new rows (external content: the text stays in photos)
    photos_geo     INSERT … SELECT of the new geotagged rows
    tags           split by json_each and sorted in a scratch file by a thread of its own
                   (on the other core, during the two builds above), then appended in key order
    machine_tags   the keys of the machine tags among them, made and sorted by the same thread,
                   appended in key order
    indexes        CREATE INDEX: one sort each instead of a million B-tree inserts

The schema's own CREATE INDEX / CREATE TRIGGER statements (read back from
sqlite_master) put them back, in the same transaction: a failed load leaves
the library as it was. During the load the file uses a rollback journal
without fsync and a 1 GB page cache; WAL, synchronous=NORMAL and the usual
cache come back after, and ANALYZE gives the query planner the new statistics.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sqlite3
import threading
from collections.abc import Iterable, Sequence

from . import schema, store

# The triggers that keep FTS5, the R*Tree and machine_tags in step with single inserts.
INSERT_TRIGGERS = ("photos_fts_insert", "photos_geo_insert", "tags_machine_insert")
BULK_CACHE_KIB = 1024 * 1024
TAGS = 1 + store.COLUMNS.index("tags")  # in a row (pk, *COLUMNS)


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
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    tags = _TagBuilder(f"{path}-tags.tmp")
    count = 0
    try:
        with store.transaction(conn):
            saved = _set_aside(conn, fresh)
            insert = (f"INSERT INTO photos (pk, {', '.join(store.COLUMNS)}) "
                      f"VALUES ({', '.join('?' * (len(store.COLUMNS) + 1))})")
            for batch in batches:
                conn.executemany(insert, batch)
                tags.add([(row[0], row[TAGS]) for row in batch])
                count += len(batch)
            tags.finish()  # the tag rows are split and sorted on the other core while FTS5 and the R*Tree build here
            conn.executemany("INSERT OR IGNORE INTO memberships (kind, set_id, photo, added) VALUES (?, ?, ?, ?)",
                             (row for batch in memberships for row in batch))
            # Built once over all the new rows rather than batch by batch: measured at a
            # million photos, per batch cost 2-3 times as much (FTS5 merges every batch's
            # segments again; each batch's tags land all over the tags B-tree).
            _build(conn, start, start + count)
            tags.copy_into(conn)
            for sql in saved:
                conn.execute(sql)
        conn.execute("PRAGMA analysis_limit = 1000")  # statistics from a sample of each index: enough to plan
        conn.execute("ANALYZE")
    finally:
        tags.close(conn)
        conn.execute("PRAGMA cache_size = -32768")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA journal_mode = {journal}")
    return count


class _TagBuilder:
    """The new photos' rows of `tags`, made in a scratch file by a thread of its own.

    SQLite runs a statement without Python's GIL, so splitting and sorting five
    million tag rows here (json_each, ORDER BY) overlaps the FTS5 and R*Tree
    builds on the library's connection; the sorted rows are then appended to
    `tags` in one pass. The scratch file goes when the load ends.
    """

    def __init__(self, path: str):
        self.path = path
        self._queue: queue.Queue[list[tuple[int, str]] | None] = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bulk-tags", daemon=True)
        self._thread.start()

    def add(self, rows: list[tuple[int, str]]) -> None:
        self._queue.put(rows)

    def finish(self) -> None:
        self._queue.put(None)

    def copy_into(self, conn: sqlite3.Connection) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error
        conn.execute("ATTACH DATABASE ? AS bulk_tags", (self.path,))
        conn.execute("INSERT OR IGNORE INTO main.tags (tag, photo) SELECT tag, photo FROM bulk_tags.tags")
        # What tags_machine_insert would have written, made and sorted by the thread too.
        conn.execute("INSERT INTO main.machine_tags (key, photo, n) SELECT key, photo, n FROM bulk_tags.machine "
                     "WHERE 1 ON CONFLICT (key, photo) DO UPDATE SET n = n + excluded.n")

    def close(self, conn: sqlite3.Connection) -> None:
        if self._thread.is_alive():  # the load failed before finish(): let the thread end
            self.finish()
            self._thread.join()
        if any(row[1] == "bulk_tags" for row in conn.execute("PRAGMA database_list")):
            conn.execute("DETACH DATABASE bulk_tags")
        for suffix in ("", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path + suffix)

    def _run(self) -> None:
        scratch = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            scratch.executescript(f"""
                PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY;
                PRAGMA cache_size = -{BULK_CACHE_KIB // 2};
                DROP TABLE IF EXISTS staged; DROP TABLE IF EXISTS tags;
                CREATE TABLE staged (pk INTEGER, tags TEXT);
                CREATE TABLE tags (tag TEXT NOT NULL, photo INTEGER NOT NULL, PRIMARY KEY (tag, photo)) WITHOUT ROWID;
                DROP TABLE IF EXISTS machine;
                CREATE TABLE machine (key TEXT NOT NULL, photo INTEGER NOT NULL, n INTEGER NOT NULL,
                                      PRIMARY KEY (key, photo)) WITHOUT ROWID;
                BEGIN;""")
            while (rows := self._queue.get()) is not None:
                scratch.executemany("INSERT INTO staged VALUES (?, ?)", rows)
            # "a b c" → ["a","b","c"]: bulk tags are normalised (no spaces, quotes or backslashes).
            scratch.execute("""INSERT OR IGNORE INTO tags (tag, photo)
                               SELECT j.value, s.pk FROM staged s,
                                      json_each('["' || replace(s.tags, ' ', '","') || '"]') j
                               WHERE s.tags != '' ORDER BY 1, 2""")
            # The keys of the machine tags among them (schema.machine_tags), in key order.
            keys = schema.machine_tag_keys("t.tag", "t.photo", f"FROM tags t WHERE t.tag GLOB {schema.MACHINE_TAG}")
            scratch.execute(f"""INSERT INTO machine (key, photo, n) SELECT key, photo, count(*) FROM ({keys})
                                GROUP BY key, photo ORDER BY key, photo""")
            scratch.execute("COMMIT")
        except BaseException as exc:  # handed to the loading thread by copy_into()
            self._error = exc
            while self._queue.get() is not None:  # keep the producer from blocking on a full queue
                pass
        finally:
            scratch.close()


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
    """What the insert triggers would have written for the photos with pks start to end - 1."""
    span = {"start": start, "end": end}
    conn.execute("""INSERT INTO photos_fts (rowid, title, description, tags)
                    SELECT pk, title, description, tags FROM photos WHERE pk >= :start AND pk < :end""", span)
    conn.execute("""INSERT INTO photos_geo SELECT pk, longitude, longitude, latitude, latitude
                    FROM photos WHERE pk >= :start AND pk < :end AND geotagged""", span)

