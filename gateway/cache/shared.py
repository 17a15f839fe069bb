"""redis://host:port/db: one cache for every worker of every host.

    gw:response:9f3c…   entry.dumps(entry), PX = until the entry expires (fresh + stale grace)
    gw:lock:page:b41d…  a random token, SET NX PX: "this process is fetching that call"

The lock is released by compare-and-delete, so a worker that outlived its
lock never deletes the next holder's. A Redis outage must not take the gateway
down: every failure is logged, Redis is left alone for DOWN_SECONDS, and
requests are served uncached (each then calls the upstream) until it is back.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from .entry import Entry, dumps, loads

log = logging.getLogger("gateway.cache")
T = TypeVar("T")
PREFIX = "gw:"
# Short socket timeouts: a hung Redis must cost a request about a second, not the upstream timeout.
SOCKET_TIMEOUT = 1.0
DOWN_SECONDS = 5.0
NO_LOCK = ""  # "proceed without a lock": Redis is down
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


# Connections one process opens to Redis. redis-py's default pool opens one per concurrent
# caller without limit; under gevent that is one per client connection (thousands).
MAX_CONNECTIONS = 32


def client(url: str, timeout: float) -> redis.Redis:
    """A Redis client with at most MAX_CONNECTIONS connections; a call waits up to `timeout` for a free
    one (then fails like a hung Redis), and each socket operation up to `timeout`."""
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=MAX_CONNECTIONS, timeout=timeout,
                                                 socket_timeout=timeout, socket_connect_timeout=timeout)
    return redis.Redis(connection_pool=pool)


class RedisBackend:
    def __init__(self, url: str):
        self.url = url
        self.client = client(url, SOCKET_TIMEOUT)
        self._release = self.client.register_script(RELEASE)
        self._down_until = 0.0
        self._state = threading.Lock()

    def _call(self, what: str, fn: Callable[[], T], default: T) -> T:
        if time.monotonic() < self._down_until:
            return default
        try:
            result = fn()
        except (redis.RedisError, OSError) as exc:
            with self._state:
                if time.monotonic() >= self._down_until:
                    log.warning("cache: Redis %s failed (%s); serving uncached for %ss", what, exc, DOWN_SECONDS)
                self._down_until = time.monotonic() + DOWN_SECONDS
            return default
        return result

    def get(self, key: str) -> Entry | None:
        blob = self._call("GET", lambda: self.client.get(PREFIX + key), None)
        entry = loads(blob) if blob else None
        # Redis expires the key itself; this check only guards against clocks that disagree.
        return entry if entry is not None and entry.expires > time.time() else None

    def set(self, key: str, entry: Entry) -> None:
        ms = int((entry.expires - time.time()) * 1000)
        if ms > 0:
            self._call("SET", lambda: self.client.set(PREFIX + key, dumps(entry), px=ms), None)

    def try_lock(self, key: str, seconds: float) -> object | None:
        token = secrets.token_hex(8)
        taken = self._call("SET NX", lambda: self.client.set(f"{PREFIX}lock:{key}", token, nx=True,
                                                              px=max(1, int(seconds * 1000))), NO_LOCK)
        if taken == NO_LOCK:
            return NO_LOCK
        return token if taken else None

    def unlock(self, key: str, token: object) -> None:
        if token != NO_LOCK:
            self._call("unlock", lambda: self._release(keys=[f"{PREFIX}lock:{key}"], args=[token]), None)

    def close(self) -> None:
        self.client.close()
