"""The event log: the single record of what is new for a watch (push and live streams read it).

A *watch* is one call of the upstream as the gateway sees it: the method and
its canonical arguments without format, paging or size. Every format of a
call (every WebSub topic of it, every live stream of it) shares one watch, so
the upstream is asked once per watch, not once per topic or subscriber.

    watch id   "w" + the first 24 hex digits of sha256(["1", method, args]) (watch_id())
    seen       the photo ids a watch has ever shown: a photo becomes an event
               once, ever; never trimmed (restarts, workers and hosts share it)
    events     per watch, in order: Event(id, watch, photo_id, at, photo);
               bounded (LOG_LENGTH a watch), the oldest dropped first
    positions  an event id; a reader keeps its own (a subscription's last
               delivered event, a stream's Last-Event-ID). START is before
               every event. Ids are opaque strings, ordered only by the log.

Interface (both backends, EventLog below):

    log.register(watch, method, args)          remember what the watch asks
    log.prime(watch, photo_ids)                the photos already there: seen, no events
    log.append(watch, photos) -> [Event]       unseen photos become events (atomically:
                                               two appenders never make the same event)
    log.after(watch, position) -> Events       events after a position, and `gap`: True
                                               when events after it were trimmed away
                                               (a stream then sends its `reset`)
    log.head(watch) -> position                the newest event's id (START if none)
    log.wait({watch: position}, timeout)       block until one of the watches has events
                                               after its position (or timeout): [Event]
    log.keep(watch, seconds)                   check and poll the watch for that long even
                                               without subscribers (live streams: renew while
                                               open); push.watched() includes it

A live stream (issue 14) registers its call's watch (register, and prime
through gateway.push.work.ensure_watch), calls keep() while it has readers,
and reads after()/wait() from its Last-Event-ID; it never writes events:
checks (library changes, Flickr polls) do, for every watched call.

Backends: SQLite beside the library by default (sqlite.py: one process or
host; a reader in another process sees new events within POLL seconds), and
Redis when GATEWAY_CACHE_URL is redis:// (redis.py: streams XADD/XREAD, so
every host shares one log and `wait` wakes at once; thousands of readers in
one process should share one waiting greenlet that fans the events out).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

START = "0"  # the position before every event
LOG_LENGTH = 1000  # events kept per watch; older ones are trimmed (readers behind get gap=True)
POLL = 0.25  # seconds between looks at the SQLite log while waiting


@dataclass(frozen=True)
class Event:
    """One photo new to a watch; `photo` is its Flickr JSON (every extra), `at` when it was found (unix)."""

    id: str
    watch: str
    photo_id: str
    at: float
    photo: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Events:
    events: list[Event]
    gap: bool = False  # events after the position were trimmed: the reader missed some


def watch_id(method: str, args: Mapping[str, str]) -> str:
    """The watch of a call: its method and arguments less paging (format and size are never arguments)."""
    own = {k: v for k, v in sorted(args.items()) if k not in ("page", "per_page")}
    raw = json.dumps(["1", method, own], separators=(",", ":"), ensure_ascii=False)
    return "w" + hashlib.sha256(raw.encode()).hexdigest()[:24]


class EventLog(Protocol):
    def register(self, watch: str, method: str, args: Mapping[str, str]) -> None: ...
    def watch(self, watch: str) -> dict | None: ...  # {"method", "args", "primed", "state"}
    def watches(self) -> list[str]: ...
    def forget(self, watch: str) -> None: ...
    def prime(self, watch: str, photo_ids: Sequence[str]) -> None: ...
    def append(self, watch: str, photos: Sequence[Mapping[str, Any]], at: float | None = None) -> list[Event]: ...
    def after(self, watch: str, position: str, limit: int = LOG_LENGTH) -> Events: ...
    def head(self, watch: str) -> str: ...
    def wait(self, positions: Mapping[str, str], timeout: float) -> list[Event]: ...
    # The state digest of the watch's current photos: True when it changed (full-document topics).
    def set_state(self, watch: str, digest: str) -> bool: ...
    # True for the one caller (of all processes and hosts) that may poll `watch` now; the
    # claim holds `seconds`.
    def claim(self, name: str, seconds: float) -> bool: ...
    # A watch checked and polled for `seconds` more without subscribers (a live stream
    # calls it while it has readers); kept() lists those.
    def keep(self, watch: str, seconds: float) -> None: ...
    def kept(self) -> list[str]: ...
    def close(self) -> None: ...


def photo_id(photo: Mapping[str, Any]) -> str:
    return str(photo.get("id", ""))
