"""Rate limits: the upstream budget (GATEWAY_UPSTREAM_RATE) and the per-client
limit (GATEWAY_CLIENT_RATE), as token buckets.

A bucket holds up to `capacity` tokens and gains `per_second` of them; a
call takes one, or is told how many seconds until one is there.

    upstream  GATEWAY_UPSTREAM_RATE calls an hour (default 3000, 0 = no limit) on the
              flickr upstream. The bucket holds a tenth of the hour's calls, so after
              an idle spell at most 1.1 x RATE calls fit in any hour: 3,300 with the
              default, under Flickr's 3,600 for a key. The library has no budget.
    client    GATEWAY_CLIENT_RATE requests per client address ("600/minute"; a
              bare number is per minute; empty or 0 = off), a burst of one period.

With GATEWAY_CACHE_URL=redis://… every worker of every host shares each
bucket (a Lua script on Redis' clock, key gw:rate:<name>:<key>). Otherwise each
worker process keeps its own: the upstream budget is then split evenly
between the $WEB_CONCURRENCY workers (gunicorn.conf.py sets it), since
together they must never spend more than the key allows; a client's limit is
not split (a client meets whichever worker accepts it, and an honest client
must never be refused early), so it may get up to workers x RATE. While
Redis is unreachable, the per-process buckets stand in.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlparse

import redis
from flask import Flask

from . import metrics
from .cache.shared import PoolBusy, client  # one bounded pool of connections per process

log = logging.getLogger("gateway.limits")
MAX_CLIENTS = 10000  # client buckets one process keeps; the least recently seen are forgotten
# A bucket's key is cut to this many characters (client keys are addresses: 15 to 43), so the
# buckets of one process take at most about MAX_CLIENTS x 400 bytes (4 MB), whatever the keys.
MAX_KEY = 128
DOWN_SECONDS = 5.0  # Redis is left alone this long after a failure
REDIS_TIMEOUT = 0.5  # a limit check must not cost a request more than this when Redis hangs
PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local capacity, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return tostring(wait)
"""


@dataclass(frozen=True)
class Rate:
    capacity: float  # the largest burst
    per_second: float  # the steady rate

    def share(self, parts: int) -> Rate:
        """This rate split between `parts` processes (each keeps at least one token)."""
        parts = max(1, parts)
        return Rate(max(1.0, self.capacity / parts), self.per_second / parts)


def upstream_rate(per_hour: int) -> Rate | None:
    if per_hour <= 0:
        return None
    return Rate(max(1.0, per_hour / 10), per_hour / 3600)


def client_rate(text: str) -> Rate | None:
    """ "600/minute", "10/s", "5000/hour" or "600" (per minute); None for "" or 0."""
    if not str(text).strip():
        return None
    m = re.fullmatch(r"\s*(\d+)\s*(?:/\s*([a-z]+))?\s*", str(text).lower())
    if m is None or (m[2] and m[2] not in PERIODS):
        raise ValueError(f'GATEWAY_CLIENT_RATE must be like "600/minute" (second, minute or hour), got {text!r}')
    count = int(m[1])
    if count == 0:
        return None
    return Rate(count, count / PERIODS[m[2] or "minute"])


class LocalBuckets:
    """Token buckets in this process, at most `max_keys` of them."""

    def __init__(self, max_keys: int = MAX_CLIENTS):
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str, rate: Rate) -> float:
        now = time.monotonic()
        key = key[:MAX_KEY]
        with self._lock:
            tokens, at = self._buckets.pop(key, (rate.capacity, now))
            tokens = min(rate.capacity, tokens + (now - at) * rate.per_second)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / rate.per_second
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait


class RedisBuckets:
    """Token buckets in Redis, shared by every process that uses the same Redis."""

    def __init__(self, url: str):

        self.client = client(url, REDIS_TIMEOUT)
        self._take = self.client.register_script(TAKE)
        self._down_until = 0.0
        self._lock = threading.Lock()

    def take(self, key: str, rate: Rate) -> float | None:
        """Seconds to wait (0: taken), or None while Redis cannot be asked."""
        if time.monotonic() < self._down_until:
            return None
        try:
            return float(self._take(keys=[f"gw:rate:{key}"], args=[rate.capacity, rate.per_second]))
        except PoolBusy:
            return None  # this process is busy, not Redis: its own bucket answers this once
        except (redis.RedisError, OSError, ValueError) as exc:
            with self._lock:
                if time.monotonic() >= self._down_until:
                    log.warning("limits: Redis failed (%s); each process keeps its own limits for %ss",
                                exc, DOWN_SECONDS)
                self._down_until = time.monotonic() + DOWN_SECONDS
            return None

    def close(self) -> None:
        self.client.close()


class Limiter:
    """One named limit: shared through Redis when there is one, else (or while it is down) per process."""

    def __init__(self, name: str, rate: Rate, local_rate: Rate, shared: RedisBuckets | None, message: str = ""):
        self.name = name
        self.rate = rate
        self.local_rate = local_rate
        self.shared = shared
        self.local = LocalBuckets()
        self.message = message

    def wait(self, key: str = "") -> float:
        """0 when the call may go ahead (a token is taken), else the seconds until it may."""
        bucket = f"{self.name}:{key}"
        wait = self.shared.take(bucket, self.rate) if self.shared is not None else None
        if wait is None:
            wait = self.local.take(bucket, self.local_rate)
        if wait > 0:
            metrics.RATE_LIMITED.labels(self.name).inc()
        return wait

    def close(self) -> None:
        if self.shared is not None:
            self.shared.close()


def retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))


def _redis(app: Flask) -> RedisBuckets | None:
    """The app's one RedisBuckets when the cache is Redis: both limits share it, so a hung
    Redis costs a request one REDIS_TIMEOUT, not one per limit."""
    url = app.config["CACHE_URL"]
    if urlparse(url).scheme not in ("redis", "rediss", "unix"):
        return None
    if "gateway.rate_buckets" not in app.extensions:
        app.extensions["gateway.rate_buckets"] = RedisBuckets(url)
    return app.extensions["gateway.rate_buckets"]


def workers() -> int:
    """The worker processes sharing this host's upstream budget (gunicorn.conf.py sets WEB_CONCURRENCY)."""
    try:
        return max(1, int(os.environ.get("WEB_CONCURRENCY", "1")))
    except ValueError:
        return 1


def upstream_budget(app: Flask) -> Limiter | None:
    """The limiter for calls to Flickr, None when GATEWAY_UPSTREAM_RATE is 0."""
    rate = upstream_rate(app.config["UPSTREAM_RATE"])
    if rate is None:
        return None
    return Limiter("upstream", rate, rate.share(workers()), _redis(app))


def init_app(app: Flask) -> None:
    """The per-client limit, when GATEWAY_CLIENT_RATE sets one (access.py applies it)."""
    rate = client_rate(app.config["CLIENT_RATE"])
    if rate is not None:
        per = app.config["CLIENT_RATE"]
        app.extensions["gateway.client_limit"] = Limiter("client", rate, rate, _redis(app),
                                                         f"Too many requests (this gateway allows {per} a client)")
