"""The event log and the subscriptions in one SQLite file (GATEWAY_PUSH_PATH): one host.

Every write is one IMMEDIATE transaction, so the web workers, the job
consumer and the library commands (separate processes) can share the file:
SQLite's lock orders them, WAL lets readers go on meanwhile. Event ids are
the rows' AUTOINCREMENT ids (never reused, so a position stays meaningful
after trimming).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .events import LOG_LENGTH, POLL, START, Event, Events, photo_id

POOL = 8  # idle connections kept

SCHEMA = """
CREATE TABLE IF NOT EXISTS watches (
    id TEXT PRIMARY KEY, method TEXT NOT NULL, args TEXT NOT NULL,
    primed INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT '', trimmed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS seen (watch TEXT NOT NULL, photo TEXT NOT NULL, PRIMARY KEY (watch, photo)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, watch TEXT NOT NULL, photo_id TEXT NOT NULL, at REAL NOT NULL,
    photo TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_watch ON events (watch, id);
CREATE TABLE IF NOT EXISTS claims (name TEXT PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions (id TEXT PRIMARY KEY, watch TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS subscriptions_by_watch ON subscriptions (watch);
"""


class SqliteState:
    """A small pool of connections to the push file, created with its schema on first use.

    A pool, not one connection per thread: under gevent every request is a
    greenlet (thread-locals would make a connection per request), and a
    connection is only ever used by one caller at a time here.
    """

    def __init__(self, path: str, pool: int = POOL):
        self.path = path
        self.pool = pool
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._made = False

    def _connect(self) -> sqlite3.Connection:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            if not self._made:
                conn.executescript(SCHEMA)
                self._made = True
        return conn

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._idle.pop()
        except IndexError:
            conn = self._connect()
        try:
            yield conn
        finally:
            if len(self._idle) < self.pool:
                self._idle.append(conn)
            else:
                conn.close()

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.connection() as conn:
            return conn.execute(sql, params).fetchall()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self.connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


class SqliteLog:
    def __init__(self, state: SqliteState):
        self.state = state
        self._appended = threading.Condition()  # wakes waiters in this process at once

    def register(self, watch: str, method: str, args: Mapping[str, str]) -> None:
        with self.state.write() as conn:
            conn.execute("INSERT OR IGNORE INTO watches (id, method, args) VALUES (?, ?, ?)",
                         (watch, method, json.dumps(dict(args), sort_keys=True)))

    def watch(self, watch: str) -> dict | None:
        found = self.state.rows("SELECT method, args, primed, state FROM watches WHERE id = ?", (watch,))
        if not found:
            return None
        row = found[0]
        return {"method": row[0], "args": json.loads(row[1]), "primed": bool(row[2]), "state": row[3]}

    def watches(self) -> list[str]:
        return [r[0] for r in self.state.rows("SELECT id FROM watches ORDER BY id")]

    def forget(self, watch: str) -> None:
        with self.state.write() as conn:
            for table, column in (("watches", "id"), ("seen", "watch"), ("events", "watch")):
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (watch,))

    def prime(self, watch: str, photo_ids: Sequence[str]) -> None:
        with self.state.write() as conn:
            conn.executemany("INSERT OR IGNORE INTO seen (watch, photo) VALUES (?, ?)",
                             [(watch, pid) for pid in photo_ids])
            conn.execute("UPDATE watches SET primed = 1 WHERE id = ?", (watch,))

    def append(self, watch: str, photos: Sequence[Mapping[str, Any]], at: float | None = None) -> list[Event]:
        at = time.time() if at is None else at
        made = []
        with self.state.write() as conn:
            # Oldest first, so that a feed's newest photo gets the highest id.
            for photo in reversed(photos):
                pid = photo_id(photo)
                if conn.execute("INSERT OR IGNORE INTO seen (watch, photo) VALUES (?, ?)", (watch, pid)).rowcount:
                    cur = conn.execute("INSERT INTO events (watch, photo_id, at, photo) VALUES (?, ?, ?, ?)",
                                       (watch, pid, at, json.dumps(photo, ensure_ascii=False)))
                    made.append(Event(str(cur.lastrowid), watch, pid, at, dict(photo)))
            if made:
                self._trim(conn, watch)
        if made:
            with self._appended:
                self._appended.notify_all()
        return made

    def _trim(self, conn: sqlite3.Connection, watch: str) -> None:
        row = conn.execute("SELECT id FROM events WHERE watch = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                           (watch, LOG_LENGTH)).fetchone()
        if row is not None:
            conn.execute("DELETE FROM events WHERE watch = ? AND id <= ?", (watch, row[0]))
            conn.execute("UPDATE watches SET trimmed = max(trimmed, ?) WHERE id = ?", (row[0], watch))

    def after(self, watch: str, position: str, limit: int = LOG_LENGTH) -> Events:
        after = _position(position)
        with self.state.connection() as conn:
            rows = conn.execute("SELECT id, photo_id, at, photo FROM events WHERE watch = ? AND id > ? ORDER BY id "
                                "LIMIT ?", (watch, after, limit)).fetchall()
            trimmed = conn.execute("SELECT trimmed FROM watches WHERE id = ?", (watch,)).fetchone()
        events = [Event(str(r[0]), watch, r[1], r[2], json.loads(r[3])) for r in rows]
        return Events(events, gap=bool(trimmed) and after < trimmed[0])

    def head(self, watch: str) -> str:
        (row,) = self.state.rows("SELECT max(id) FROM events WHERE watch = ?", (watch,))
        return str(row[0]) if row[0] is not None else START

    def wait(self, positions: Mapping[str, str], timeout: float) -> list[Event]:
        deadline = time.monotonic() + timeout
        seen_top: object = None
        while True:
            # The watches are read again only when the newest event of all changed: one cheap
            # query per look, however many watches a process's streams wait on.
            (top,) = self.state.rows("SELECT max(id) FROM events")
            if top != seen_top:
                seen_top = top
                found = [e for w, p in positions.items() for e in self.after(w, p).events]
                if found:
                    return found
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            with self._appended:
                self._appended.wait(min(POLL, left))

    def set_state(self, watch: str, digest: str) -> bool:
        with self.state.write() as conn:
            return bool(conn.execute("UPDATE watches SET state = ? WHERE id = ? AND state != ?",
                                     (digest, watch, digest)).rowcount)

    def claim(self, name: str, seconds: float) -> bool:
        now = time.time()
        with self.state.write() as conn:
            row = conn.execute("SELECT until FROM claims WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] > now:
                return False
            conn.execute("INSERT OR REPLACE INTO claims (name, until) VALUES (?, ?)", (name, now + seconds))
            return True

    def keep(self, watch: str, seconds: float) -> None:
        with self.state.write() as conn:
            conn.execute("INSERT OR REPLACE INTO claims (name, until) VALUES (?, ?)",
                         (f"keep:{watch}", time.time() + seconds))

    def kept(self) -> list[str]:
        rows = self.state.rows("SELECT name FROM claims WHERE name LIKE 'keep:%' AND until > ?", (time.time(),))
        return [r[0][len("keep:"):] for r in rows]

    def close(self) -> None:
        self.state.close()


class SqliteSubscriptions:
    """Subscriptions as JSON documents keyed by id (hub.py says what a document holds)."""

    def __init__(self, state: SqliteState):
        self.state = state

    def get(self, sub_id: str) -> dict | None:
        found = self.state.rows("SELECT body FROM subscriptions WHERE id = ?", (sub_id,))
        return json.loads(found[0][0]) if found else None

    def put(self, doc: Mapping[str, Any]) -> None:
        with self.state.write() as conn:
            conn.execute("INSERT OR REPLACE INTO subscriptions (id, watch, body) VALUES (?, ?, ?)",
                         (doc["id"], doc["watch"], json.dumps(dict(doc))))

    def update(self, sub_id: str, **fields: Any) -> bool:
        """Change some fields of a subscription that still exists (False when it is gone)."""
        with self.state.write() as conn:
            row = conn.execute("SELECT body FROM subscriptions WHERE id = ?", (sub_id,)).fetchone()
            if row is None:
                return False
            doc = {**json.loads(row[0]), **fields}
            conn.execute("UPDATE subscriptions SET body = ? WHERE id = ?", (json.dumps(doc), sub_id))
            return True

    def delete(self, sub_id: str) -> bool:
        with self.state.write() as conn:
            return bool(conn.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,)).rowcount)

    def all(self) -> list[dict]:
        return [json.loads(r[0]) for r in self.state.rows("SELECT body FROM subscriptions")]

    def for_watch(self, watch: str) -> list[dict]:
        return [json.loads(r[0]) for r in self.state.rows("SELECT body FROM subscriptions WHERE watch = ?", (watch,))]


def _position(position: str) -> int:
    try:
        return int(position)
    except (TypeError, ValueError):
        return 0
