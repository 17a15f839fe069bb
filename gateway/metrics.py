"""Prometheus metrics: what the gateway does, for /metrics (ops.py).

Under gunicorn the numbers are the sum over every worker process:
gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a fresh directory before
the workers start, prometheus_client then keeps each worker's values in a
file there (its multiprocess mode, chosen when the first metric is made), and
`exposition()` adds them up. Without that variable (flask run, the tests)
the numbers are this process's.

Every label value comes from a short fixed list (endpoints, format names,
HTTP statuses, failure kinds), never from the request itself, so no client
can make the series grow.

The per-request metrics (REQUESTS, LATENCY, CACHE) are added up in this
process by `BATCH` and written to prometheus_client at most once a second
(and before every /metrics answer of this process, and when the worker exits):
in multiprocess mode each update is an mmap write under a lock, and four of
them cost a cached hit more than the rest of its bookkeeping.
"""

from __future__ import annotations

import atexit
import bisect
import logging
import os
import threading
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

# The *_created series double the output and no dashboard reads them.
disable_created_metrics()

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter("gateway_requests", "HTTP requests answered, by endpoint, format and status",
                   ["endpoint", "format", "status"])
LATENCY = Histogram("gateway_request_duration_seconds", "Time to answer a request, to its last byte",
                    ["endpoint"], buckets=LATENCY_BUCKETS)
CACHE = Counter("gateway_cache_results", "/services/rest/ and feed URL answers by cache result: "
                "fast (answered before Flask), hit, miss, stale (an expired copy served)", ["result"])
UPSTREAM_CALLS = Counter("gateway_upstream_calls", "Calls to the upstream, by outcome: ok, answer (a Flickr "
                         "error about the call, e.g. not found), failure", ["upstream", "outcome"])
UPSTREAM_FAILURES = Counter("gateway_upstream_failures", "Failed upstream calls by kind (timeout, connection, "
                            "http_status, bad_response, flickr_unavailable, refused, budget, unavailable)",
                            ["upstream", "kind"])
UPSTREAM_LATENCY = Histogram("gateway_upstream_duration_seconds", "Time an upstream call took",
                             ["upstream"], buckets=LATENCY_BUCKETS)
RATE_LIMITED = Counter("gateway_rate_limited", "Requests refused by a rate limit: client (429) or the "
                       "upstream budget (served stale or 503)", ["limit"])

# Push (WebSub, gateway/push): the job consumer's numbers, added to the web workers' ones
# when it shares their PROMETHEUS_MULTIPROC_DIR (scripts/serve).
PUSH_SUBSCRIPTIONS = Gauge("gateway_push_subscriptions", "Active WebSub subscriptions (counted by the consumer "
                           "each minute)", multiprocess_mode="mostrecent")
PUSH_VERIFICATIONS = Counter("gateway_push_verifications", "Verifications of intent by mode (subscribe, "
                             "unsubscribe) and outcome (verified, failed, denied)", ["mode", "outcome"])
PUSH_DELIVERIES = Counter("gateway_push_deliveries", "Content distributions by outcome: ok, failed (retried), "
                          "gone (410: subscription ended), abandoned (attempts exhausted)", ["outcome"])
PUSH_DELIVERY_DELAY = Histogram("gateway_push_delivery_delay_seconds", "Time from a photo's detection to its "
                                "successful delivery", buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900,
                                                                 3600, 7200))
PUSH_POLLS = Counter("gateway_push_polls", "Polls of the upstream for watched calls (each one upstream call of "
                     "the budget), by outcome: ok, failed, budget (the budget was spent)", ["outcome"])
PUSH_POLL_INTERVAL = Gauge("gateway_push_poll_interval_seconds", "Seconds between two polls of a watched call: "
                           "the cache time, or longer when the budget is short", multiprocess_mode="mostrecent")
PUSH_POLL_STRETCH = Gauge("gateway_push_poll_stretch", "How much polls are stretched to fit the budget: the poll "
                          "interval over the cache time (1 = not stretched)", multiprocess_mode="mostrecent")
PUSH_BUDGET_SHARE = Gauge("gateway_push_budget_share", "Share of GATEWAY_UPSTREAM_RATE the polls use at the "
                          "current interval (0 to 1)", multiprocess_mode="mostrecent")


FLUSH_SECONDS = 1.0
_BOUNDS = (*LATENCY_BUCKETS, float("inf"))  # prometheus_client's upper bounds: ours and +Inf


class Batch:
    """The request metrics of this process, added up in plain dicts and flushed in batches.

    `request()` costs a lock and three dict updates; `flush()` writes the
    totals with one prometheus_client update per label set and bucket, so the
    exported numbers are exactly those of a direct inc()/observe() per request,
    at most FLUSH_SECONDS late. A daemon thread (a greenlet under gevent)
    flushes; so do exposition() and the process' exit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = {}
        self._cache: dict[str, int] = {}
        self._latency: dict[str, list[float]] = {}  # endpoint -> [sum, count of bucket 0, 1, …, +Inf]
        self._flusher: tuple[int, threading.Thread] | None = None  # (pid, thread): restarted after a fork

    def request(self, endpoint: str, fmt: str, status: str, seconds: float, cache: str = "") -> None:
        bucket = bisect.bisect_left(_BOUNDS, seconds) + 1
        with self._lock:
            key = (endpoint, fmt, status)
            self._requests[key] = self._requests.get(key, 0) + 1
            latency = self._latency.get(endpoint)
            if latency is None:
                latency = self._latency[endpoint] = [0.0] * (len(_BOUNDS) + 1)
            latency[0] += seconds
            latency[bucket] += 1
            if cache:
                self._cache[cache] = self._cache.get(cache, 0) + 1
        flusher = self._flusher
        if flusher is None or flusher[0] != os.getpid():
            self._start()

    def flush(self) -> None:
        with self._lock:
            requests, self._requests = self._requests, {}
            cache, self._cache = self._cache, {}
            latency, self._latency = self._latency, {}
        for labels, n in requests.items():
            REQUESTS.labels(*labels).inc(n)
        for result, n in cache.items():
            CACHE.labels(result).inc(n)
        for endpoint, (total, *buckets) in latency.items():
            # Histogram.observe() adds the amount to _sum and 1 to the first bucket whose bound
            # holds it (prometheus_client 0.26, pinned): the same, n at a time.
            child = LATENCY.labels(endpoint)
            child._sum.inc(total)
            for value, n in zip(child._buckets, buckets, strict=True):
                if n:
                    value.inc(n)

    def _start(self) -> None:
        with self._lock:
            if self._flusher is not None and self._flusher[0] == os.getpid():
                return
            thread = threading.Thread(target=self._run, name="metrics-flush", daemon=True)
            self._flusher = (os.getpid(), thread)
        thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # a metrics failure must never end the flusher
                logging.getLogger("gateway").exception("metrics: flushing failed")


BATCH = Batch()
atexit.register(BATCH.flush)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    BATCH.flush()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
