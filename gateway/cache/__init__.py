"""The cache: backends by GATEWAY_CACHE_URL, request coalescing and stale-if-error.

Two kinds of entries share one backend:

    page:<sha256>      an upstream's answer to (upstream, method, canonical args):
                       the Page as Flickr JSON with every extra, or a 4xx FlickrError
    response:<sha256>  a rendered response: body, gzip body, ETag, Last-Modified, type

so that the same call asked in nine formats costs one upstream call, and a
repeated request costs one lookup. `Cache.fetch` is where the upstream is
called: identical fetches in one process wait for the first one (a flight per
key), processes and hosts take a lock in the backend (flock, Redis SET NX),
and an upstream failure serves the expired copy while there is one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlparse

from flask import Flask, current_app

from .. import errors
from .entry import Entry

log = logging.getLogger("gateway.cache")
# Bumped when the stored form of an entry changes, so old entries are ignored.
KEY_VERSION = "1"
# While the upstream fails, an expired copy is served for this long (or the
# failure's Retry-After) before the upstream is tried again.
STALE_RETRY = 60


class Backend(Protocol):
    def get(self, key: str) -> Entry | None: ...
    def set(self, key: str, entry: Entry) -> None: ...
    # A token when this process may fetch `key` (or the backend cannot lock: go ahead),
    # None while another process holds the lock, which it keeps at most `seconds`.
    def try_lock(self, key: str, seconds: float) -> object | None: ...
    def unlock(self, key: str, token: object) -> None: ...
    def close(self) -> None: ...


def cache_key(kind: str, *parts: object) -> str:
    """`kind:<sha256>` of the parts; mappings are hashed with sorted keys, so argument order never matters."""
    raw = json.dumps([KEY_VERSION, kind, *parts], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{kind}:{hashlib.sha256(raw.encode()).hexdigest()}"


def backend_from_url(url: str, max_entries: int, max_bytes: int, shared_max_bytes: int = 256 * 1024 * 1024) -> Backend:
    """The backend for GATEWAY_CACHE_URL: memory:// bounded by max_entries and max_bytes (per
    process), file:// and redis:// by shared_max_bytes (all workers together)."""
    scheme = urlparse(url).scheme
    if scheme == "memory":
        from .memory import MemoryBackend

        return MemoryBackend(max_entries, max_bytes)
    if scheme == "file":
        from .files import FileBackend

        parsed = urlparse(url)  # file:///var/cache/gateway, or file://instance/cache (relative)
        return FileBackend(parsed.netloc + parsed.path, shared_max_bytes)
    if scheme in ("redis", "rediss", "unix"):
        from .shared import RedisBackend

        return RedisBackend(url, shared_max_bytes)
    raise ValueError(f"GATEWAY_CACHE_URL must be memory://, file:///path or redis://host:port/db, got {url!r}")


class _Flight:
    """One fetch in progress in this process, and the requests waiting for its result."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.entry: Entry | None = None
        self.error: BaseException | None = None
        self.waiters = 0

    def result(self, timeout: float) -> Entry:
        if not self.done.wait(timeout):
            raise errors.unavailable()
        if isinstance(self.error, errors.FlickrError):
            # A copy: one exception object raised in many threads would share its traceback.
            err = self.error
            raise errors.FlickrError(err.code, err.message, err.status, err.retry_after, err.kind)
        if self.error is not None or self.entry is None:
            raise errors.unavailable()  # the leader's own request logs the bug
        return self.entry


class Cache:
    """Entries in a backend; for shared backends, fresh ones also in a small copy in this process.

    The local copy is safe to serve until the entry's fresh_until: an entry is
    only replaced once it has expired, so during its freshness every process
    would read the same bytes from the shared backend.
    """

    def __init__(self, backend: Backend, ttl: int, stale: int, wait: float, local: Backend | None = None):
        self.backend = backend
        self.local = local
        self.ttl = ttl
        self.stale = stale
        self.wait = wait  # longest wait for another fetch of the same key (> the upstream timeout)
        self._flights: dict[str, _Flight] = {}
        self._flights_lock = threading.Lock()

    def get(self, key: str) -> Entry | None:
        """The entry, fresh or stale, or None."""
        if self.local is not None:
            entry = self.local.get(key)
            if entry is not None and entry.fresh(time.time()):
                return entry
        entry = self.backend.get(key)
        if self.local is not None and entry is not None and entry.fresh(time.time()):
            self.local.set(key, entry)
        return entry

    def set(self, key: str, entry: Entry) -> None:
        self.backend.set(key, entry)
        if self.local is not None:
            self.local.set(key, entry)

    def new_entry(self, parts: tuple[bytes, ...], meta: Mapping[str, Any]) -> Entry:
        now = time.time()
        return Entry(parts, meta, now, now + self.ttl, now + self.ttl + self.stale)

    def waiting(self, key: str) -> int:
        """How many requests of this process wait for a fetch of `key` in progress."""
        with self._flights_lock:
            flight = self._flights.get(key)
            return flight.waiters if flight else 0

    def fetch(self, key: str, load: Callable[[], Entry]) -> Entry:
        """The fresh entry for `key`, calling `load` (the upstream) only when no process has one.

        If `load` fails and an expired entry is still kept, that entry is
        served (and kept fresh for STALE_RETRY, so a failing upstream is not
        asked again by every request); otherwise the failure is raised.
        """
        seen = self.get(key)
        if seen is not None and seen.fresh(time.time()):
            return seen
        with self._flights_lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
            else:
                flight.waiters += 1
        if not leader:
            # The leader may wait up to self.wait for another process, then call the upstream.
            return flight.result(2 * self.wait)
        try:
            flight.entry = self._fill(key, seen, load)
            return flight.entry
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._flights_lock:
                del self._flights[key]
            flight.done.set()

    def _fill(self, key: str, seen: Entry | None, load: Callable[[], Entry]) -> Entry:
        token, ready = self._acquire(key)
        if ready is not None:
            return ready
        try:
            current = self.backend.get(key) if token is not None else None
            if current is not None and current.fresh(time.time()):
                return current  # another process fetched it while we waited for the lock
            stale = current or seen
            try:
                entry = load()
            except Exception as exc:
                if stale is None:
                    raise
                retry = getattr(exc, "retry_after", None) or STALE_RETRY
                entry = stale.revived(time.time() + min(retry, self.ttl))
                log.warning("cache: upstream failed (%s); serving a copy %ds old for %s",
                            exc, stale.age(time.time()), key, exc_info=not isinstance(exc, errors.FlickrError))
            self.set(key, entry)
            return entry
        finally:
            if token is not None:
                self.backend.unlock(key, token)

    def _acquire(self, key: str) -> tuple[object | None, Entry | None]:
        """Wait until this process holds the key's lock (token, None), another process has
        stored a fresh entry (None, entry), or the wait is over (None, None: fetch anyway)."""
        deadline = time.monotonic() + self.wait
        delay = 0.005
        while True:
            token = self.backend.try_lock(key, self.wait)
            if token is not None:
                return token, None
            entry = self.backend.get(key)
            if entry is not None and entry.fresh(time.time()):
                return None, entry
            if time.monotonic() >= deadline:
                log.warning("cache: gave up waiting %ss for another process to fetch %s", self.wait, key)
                return None, None
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def close(self) -> None:
        self.backend.close()
        if self.local is not None:
            self.local.close()


def init_app(app: Flask) -> None:
    from .memory import MemoryBackend

    config = app.config
    backend = backend_from_url(config["CACHE_URL"], config["CACHE_MAX_ENTRIES"], config["CACHE_MAX_BYTES"],
                               config["CACHE_SHARED_MAX_BYTES"])
    # A hit on a shared backend costs a Redis round trip or a file read; hot entries skip it.
    local = None if isinstance(backend, MemoryBackend) else MemoryBackend(config["CACHE_MAX_ENTRIES"],
                                                                         config["CACHE_MAX_BYTES"])
    policy = getattr(backend, "memory_policy", None)
    if policy is not None:
        policy()  # Redis's own maxmemory policy, checked (and logged when unbounded) at start
    app.extensions["gateway.cache"] = Cache(backend, config["CACHE_TTL"], config["CACHE_STALE"],
                                            wait=config["UPSTREAM_TIMEOUT"] + 5, local=local)


def get() -> Cache:
    return current_app.extensions["gateway.cache"]
