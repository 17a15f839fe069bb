"""One waiter per worker process that reads the event log and hands new events to every open stream.

The event log (gateway/push/events.py) is written by checks in the job
consumer; a worker holding a thousand streams must not ask it a thousand
times. So each process has one Fanout: streams join it with the watches they
follow, and a single waiter (a greenlet under gevent, a daemon thread
otherwise) waits for events after the last one it dispatched, for all the
watches with readers at once, and puts them in each reader's inbox.

    Redis   log.wait() is XREAD BLOCK on every watched stream: woken by the XADD of
            any host's consumer, so every host's streams get every event at once.
    SQLite  one host: every POLL seconds a look at the newest event id of the whole
            log (one primary-key lookup), and only when it moved, log.after() per watch.

Blocking SQLite calls never run on gevent's event loop: `blocking()` runs them
in the "live" lane of gateway/blocking.py (real OS threads under gevent).
At most LOG_CALLS log calls of stream openings run at once (a burst of a
thousand reconnects must not open a thousand Redis connections).

Positions are the log's opaque ids; `later(a, b)` orders them (integers for
SQLite, "ms-seq" stream ids for Redis), so a stream drops an event that its
replay already sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from .. import metrics
from ..blocking import run
from ..push.events import START, Event

log = logging.getLogger("gateway.live")
T = TypeVar("T")
WAIT = 1.0  # seconds one wait of the log lasts: a new watch is included at the next one
KEEP_EVERY = 60.0  # seconds between two renewals of the watches' keep (the consumer then checks and polls them)
KEEP_FOR = 180.0  # seconds a renewal holds: a process that died stops keeping its watches after this
LOG_CALLS = 16  # log calls of stream openings at once, per process
POLL = 0.1  # seconds between two looks at the newest id of the SQLite log (one primary-key lookup)


def blocking(fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) in an OS thread of the "live" lane under gevent (gateway/blocking.py), else here."""
    return run("live", fn, *args)


def position_key(position: str) -> tuple[int, ...]:
    """A log position as something ordered: "12" → (12,), "1714380000123-4" → (1714380000123, 4)."""
    try:
        return tuple(int(part) for part in (position or START).split("-"))
    except ValueError:
        return (0,)


def later(a: str, b: str) -> bool:
    return position_key(a) > position_key(b)


class Reader:
    """One stream's inbox: the events dispatched for its watches since it joined."""

    def __init__(self, watches: Iterable[str]):
        self.watches = tuple(watches)
        self._inbox: list[Event] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()  # a gevent Event under gevent: one greenlet waits on it

    def put(self, events: list[Event]) -> None:
        with self._lock:
            self._inbox.extend(events)
            self._ready.set()

    def take(self, timeout: float) -> list[Event]:
        """The events that arrived (oldest first), waiting up to `timeout` seconds; [] when none did."""
        self._ready.wait(timeout)
        with self._lock:
            self._ready.clear()
            events, self._inbox = self._inbox, []
        return events


class Fanout:
    def __init__(self, push: Any):
        self.push = push
        self.sqlite = not push.redis_url
        self._lock = threading.Lock()
        self._readers: dict[str, set[Reader]] = defaultdict(set)
        self._positions: dict[str, str] = {}  # watch -> the last event dispatched (or the head when it joined)
        self._kept: dict[str, float] = {}  # watch -> when its keep was last renewed
        self._waiter: threading.Thread | None = None
        self._pid = 0
        self._woken = threading.Event()
        self._calls = threading.BoundedSemaphore(LOG_CALLS)
        self._newest = ""  # SQLite: the newest event id of the whole log at the last look
        self.open = 0  # streams open in this process (the per-worker cap counts these)

    # ------------------------------------------------------------ for the streams

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """A log call of a stream: bounded in number, off the event loop for SQLite."""
        with self._calls:
            return blocking(fn, *args) if self.sqlite else fn(*args)

    def join(self, watches: Iterable[str]) -> Reader:
        """A reader of `watches`: every event appended after this call reaches it (and maybe some
        before: a stream drops what its replay sent)."""
        reader = Reader(watches)
        new = [w for w in reader.watches if w not in self._positions]
        heads = {w: self.call(self.push.log.head, w) for w in new}
        fresh = []
        with self._lock:
            for watch in reader.watches:
                if watch not in self._positions:
                    self._positions[watch] = heads.get(watch, START)
                    fresh.append(watch)
                self._readers[watch].add(reader)
        for watch in fresh:  # the consumer checks and polls a kept watch: keep it from now on
            if time.monotonic() - self._kept.get(watch, -KEEP_EVERY) >= KEEP_EVERY:
                self.call(self.push.log.keep, watch, KEEP_FOR)
                self._kept[watch] = time.monotonic()
        self._start()
        self._woken.set()
        return reader

    def leave(self, reader: Reader) -> None:
        with self._lock:
            for watch in reader.watches:
                readers = self._readers.get(watch)
                if readers is not None:
                    readers.discard(reader)
                    if not readers:
                        del self._readers[watch]
                        self._positions.pop(watch, None)
                        self._kept.pop(watch, None)

    # ------------------------------------------------------------ the waiter

    def _start(self) -> None:
        import os

        with self._lock:
            if self._waiter is not None and self._pid == os.getpid() and self._waiter.is_alive():
                return
            self._pid = os.getpid()
            self._waiter = threading.Thread(target=self._run, name="gateway-live-fanout", daemon=True)
            self._waiter.start()

    def _run(self) -> None:
        while True:
            try:
                self._round()
            except Exception:  # the log's storage failed: streams stay open, we try again
                log.exception("live: reading the event log failed; trying again in a second")
                time.sleep(1)

    def _round(self) -> None:
        with self._lock:
            positions = dict(self._positions)
        if not positions:
            self._woken.wait(WAIT)
            self._woken.clear()
            return
        self._renew_keeps(positions)
        events = self._wait(positions)
        if events:
            self.dispatch(events)

    def _renew_keeps(self, positions: Mapping[str, str]) -> None:
        now = time.monotonic()
        for watch in positions:
            if now - self._kept.get(watch, -KEEP_EVERY) >= KEEP_EVERY:
                self._kept[watch] = now
                blocking(self.push.log.keep, watch, KEEP_FOR) if self.sqlite else self.push.log.keep(watch, KEEP_FOR)

    def _wait(self, positions: Mapping[str, str]) -> list[Event]:
        if not self.sqlite:
            return self.push.log.wait(positions, WAIT)  # XREAD BLOCK: a socket wait, fine on the loop
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            newest = blocking(self._sqlite_newest)
            if newest != self._newest:
                self._newest = newest
                return blocking(self._sqlite_after, positions)
            time.sleep(POLL)
        return []

    def _sqlite_newest(self) -> str:
        # The newest id of the whole log (ids are one AUTOINCREMENT over all watches, push/sqlite.py):
        # one primary-key lookup instead of a head() per watch.
        rows = self.push.log.state.rows("SELECT max(id) FROM events")
        return str(rows[0][0]) if rows and rows[0][0] is not None else START

    def _sqlite_after(self, positions: Mapping[str, str]) -> list[Event]:
        return [e for w, p in positions.items() for e in self.push.log.after(w, p).events]

    def dispatch(self, events: list[Event]) -> None:
        """Hand events (of any watches) to their readers and move the watches' positions past them."""
        by_watch: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            by_watch[event.watch].append(event)
        with self._lock:
            targets = []
            for watch, found in by_watch.items():
                if watch not in self._positions:
                    continue  # its last reader left meanwhile
                found.sort(key=lambda e: position_key(e.id))
                self._positions[watch] = found[-1].id
                targets += [(reader, found) for reader in self._readers.get(watch, ())]
        for reader, found in targets:
            reader.put(found)
        metrics.LIVE_EVENTS.inc(sum(len(found) for found in by_watch.values()))
