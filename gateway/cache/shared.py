"""redis://host:port/db: one cache for every worker of every host.

    gw:response:9f3c…   entry.dumps(entry), PX = until the entry expires (fresh + stale grace)
    gw:lock:page:b41d…  a random token, SET NX PX: "this process is fetching that call"
    gw:bound:index      sorted set: every entry key, scored by the time it was written
    gw:bound:sizes      hash: entry key → the bytes it is counted for
    gw:bound:bytes      the sum of those sizes

The gateway bounds its own keys itself, whatever Redis is configured with: an
entry is written by one script (STORE) that counts it and, when the count
passes GATEWAY_CACHE_SHARED_MAX_BYTES, deletes the oldest written entries
until it is under the bound again. An entry that Redis expired first is still
counted until it is popped, so the count never underestimates. Redis's own
memory policy is checked once at start (and shown in /readyz): a Redis shared
with others should also have `maxmemory` and `maxmemory-policy volatile-lru`
(every key of the gateway's has a TTL, so only they would be evicted).

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
INDEX, SIZES, BYTES = PREFIX + "bound:index", PREFIX + "bound:sizes", PREFIX + "bound:bytes"
# What an entry costs Redis besides its value: its key (counted separately), the
# dict slot, and its member in the index and the sizes hash.
KEY_OVERHEAD = 200
# KEYS: entry, index, sizes, bytes. ARGV: value, ms to live, size, now, bound.
STORE = """
local old = tonumber(redis.call('hget', KEYS[3], KEYS[1]) or '0')
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('hset', KEYS[3], KEYS[1], ARGV[3])
redis.call('zadd', KEYS[2], ARGV[4], KEYS[1])
local total = redis.call('incrby', KEYS[4], tonumber(ARGV[3]) - old)
local evicted = 0
while total > tonumber(ARGV[5]) do
  local oldest = redis.call('zpopmin', KEYS[2])
  if #oldest == 0 then redis.call('set', KEYS[4], 0) break end
  local size = tonumber(redis.call('hget', KEYS[3], oldest[1]) or '0')
  redis.call('hdel', KEYS[3], oldest[1])
  redis.call('del', oldest[1])
  total = redis.call('decrby', KEYS[4], size)
  evicted = evicted + 1
end
return evicted
"""
BOUNDED_POLICIES = ("volatile-lru", "volatile-lfu", "volatile-ttl", "volatile-random",
                    "allkeys-lru", "allkeys-lfu", "allkeys-random")


# Connections one process opens to Redis. redis-py's default pool opens one per concurrent
# caller without limit; under gevent that is one per client connection (thousands).
MAX_CONNECTIONS = 32


class PoolBusy(redis.ConnectionError):
    """Every connection of this process's pool stayed in use for the whole wait: this process is busy
    (a burst of greenlets, a starved CPU), which says nothing about Redis. Callers go without Redis
    for this one call, and do not take Redis for down."""


class _Pool(redis.BlockingConnectionPool):
    def get_connection(self, *args, **kwargs):
        try:
            return super().get_connection(*args, **kwargs)
        except redis.ConnectionError as exc:
            if str(exc) == "No connection available.":  # redis-py's pool wait ran out (8.1, pinned)
                raise PoolBusy(str(exc)) from None
            raise


def client(url: str, timeout: float) -> redis.Redis:
    """A Redis client with at most MAX_CONNECTIONS connections; a call waits up to `timeout` for a free
    one (else PoolBusy), and each socket operation up to `timeout`."""
    pool = _Pool.from_url(url, max_connections=MAX_CONNECTIONS, timeout=timeout,
                          socket_timeout=timeout, socket_connect_timeout=timeout)
    return redis.Redis(connection_pool=pool)


class RedisBackend:
    def __init__(self, url: str, max_bytes: int = 256 * 1024 * 1024):
        self.url = url
        self.max_bytes = max(1, max_bytes)
        self.client = client(url, SOCKET_TIMEOUT)
        self._release = self.client.register_script(RELEASE)
        self._store = self.client.register_script(STORE)
        self._down_until = 0.0
        self._state = threading.Lock()
        self._policy: dict[str, object] | None = None

    def memory_policy(self) -> dict[str, object]:
        """Redis's maxmemory and maxmemory-policy, checked once (logged when unbounded), for /readyz."""
        if self._policy is not None:
            return self._policy
        try:
            config = self.client.config_get("maxmemory*")
            maxmemory, policy = int(config.get("maxmemory", 0)), str(config.get("maxmemory-policy", ""))
        except (redis.RedisError, OSError, ValueError) as exc:
            # Managed Redis often refuses CONFIG; the gateway's own bound holds regardless.
            return {"max_bytes": self.max_bytes, "maxmemory": None, "error": type(exc).__name__}
        bounded = maxmemory > 0 and policy in BOUNDED_POLICIES
        if not bounded:
            log.warning("cache: Redis has maxmemory %d and maxmemory-policy %s; the gateway keeps its own keys "
                        "under GATEWAY_CACHE_SHARED_MAX_BYTES (%d), but set maxmemory and maxmemory-policy "
                        "volatile-lru so that Redis itself stays bounded", maxmemory, policy or "?", self.max_bytes)
        self._policy = {"max_bytes": self.max_bytes, "maxmemory": maxmemory, "maxmemory_policy": policy,
                        "redis_bounded": bounded}
        return self._policy

    def usage(self) -> dict[str, object]:
        """The bound, the bytes counted against it, and Redis's own policy (for /readyz)."""
        counted = self._call("GET", lambda: self.client.get(BYTES), None)
        return {**self.memory_policy(), "bytes": int(counted or 0)}

    def _call(self, what: str, fn: Callable[[], T], default: T) -> T:
        if time.monotonic() < self._down_until:
            return default
        try:
            result = fn()
        except PoolBusy:
            return default
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
        now = time.time()
        ms = int((entry.expires - now) * 1000)
        if ms <= 0:
            return
        blob = dumps(entry)
        size = len(blob) + len(PREFIX + key) + KEY_OVERHEAD
        if size > self.max_bytes // 4:
            return  # one huge feed must not flush everything else
        self._call("SET", lambda: self._store(keys=[PREFIX + key, INDEX, SIZES, BYTES],
                                              args=[blob, ms, size, f"{now:.6f}", self.max_bytes]), None)

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
