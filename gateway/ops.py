"""The operator's endpoints: /healthz, /readyz and /metrics.

    GET /healthz   200 "ok": the process answers. Touches neither the library nor Flickr,
                   so a load balancer may ask as often as it likes.
    GET /readyz    200 or 503, with JSON saying what was checked:
                   {"ready": true, "upstream": {"name": "flickr", "ok": true, "ms": 84.2},
                    "cache": {"backend": "redis", "ok": true}}
                   The library: one cheap query (a photo of getRecent). Flickr: an unsigned
                   GET of GATEWAY_FLICKR_REST_URL (no key, so it costs none of the budget)
                   answered within 2 s; the result is kept 10 s, so probes do not hammer
                   Flickr. A Redis cache that is down is reported, but the gateway still
                   serves without it, so it stays ready.
    GET /metrics   Prometheus' text format (metrics.py).

Neither answer names a key, secret or URL.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import requests
from flask import Blueprint, Flask, Response, current_app

from . import cache, metrics, upstreams
from .errors import FlickrError
from .upstreams.transport import BoundedSession

bp = Blueprint("ops", __name__)
PROBE_TIMEOUT = 2.0
PROBE_KEEP = 10.0  # seconds a probe of Flickr is reused
NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/healthz")
def healthz() -> Response:
    return Response("ok\n", 200, NO_STORE, mimetype="text/plain")


@bp.get("/readyz")
def readyz() -> Response:
    upstream = current_app.extensions["gateway.readiness"].upstream()
    report = {"ready": upstream["ok"], "upstream": upstream, "cache": _cache()}
    return Response(json.dumps(report), 200 if report["ready"] else 503, NO_STORE, mimetype="application/json")


@bp.get("/metrics")
def metrics_text() -> Response:
    body, content_type = metrics.exposition()
    return Response(body, 200, NO_STORE, content_type=content_type)


class Readiness:
    """The upstream's last probe result, reused for PROBE_KEEP seconds when it is Flickr."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[float, dict[str, Any]] | None = None

    def upstream(self) -> dict[str, Any]:
        upstream = upstreams.get()
        if upstream.name != "flickr":
            return _photos_probe(upstream)
        with self._lock:
            if self._last is not None and time.monotonic() - self._last[0] < PROBE_KEEP:
                return self._last[1]
        result = _flickr_probe(upstream.rest_url, min(PROBE_TIMEOUT, float(upstream.timeout)))
        with self._lock:
            self._last = (time.monotonic(), result)
        return result


def _photos_probe(upstream: Any) -> dict[str, Any]:
    """One photo of getRecent: the library file opens and its tables answer."""
    start = time.perf_counter()
    result: dict[str, Any] = {"name": upstream.name, "ok": True}
    try:
        upstream.photos("flickr.photos.getRecent", {"page": "1", "per_page": "1"})
    except FlickrError as err:
        result.update(ok=False, error=f"the photo library cannot be read ({err.message})")
    result["ms"] = round((time.perf_counter() - start) * 1000, 1)
    return result


def _flickr_probe(url: str, timeout: float) -> dict[str, Any]:
    """Any HTTP answer below 500 from Flickr's endpoint within `timeout` means it can be reached."""
    start = time.perf_counter()
    result: dict[str, Any] = {"name": "flickr", "ok": True}
    try:
        with BoundedSession(max_body=256 * 1024) as session:
            status = session.get(url, timeout=timeout, allow_redirects=False).status_code
        if status >= 500:
            result.update(ok=False, error=f"Flickr answered HTTP {status}")
    except requests.Timeout:
        result.update(ok=False, error=f"Flickr did not answer within {timeout:g}s")
    except (requests.RequestException, OSError) as exc:
        result.update(ok=False, error=f"Flickr cannot be reached ({type(exc).__name__})")
    result["ms"] = round((time.perf_counter() - start) * 1000, 1)
    return result


def _cache() -> dict[str, Any]:
    backend = cache.get().backend
    client = getattr(backend, "client", None)  # only the Redis backend has one
    name = type(backend).__name__.removesuffix("Backend").lower()
    # The size bound of a shared backend: its limit, the bytes counted, Redis's own policy.
    bound = backend.usage() if hasattr(backend, "usage") else {}
    if client is None:
        return {"backend": name, "ok": True, **bound}
    try:
        client.ping()
        return {"backend": name, "ok": True, **bound}
    except Exception as exc:  # any failure of a backend the gateway can serve without
        return {"backend": name, "ok": False, "error": f"Redis cannot be reached ({type(exc).__name__})"}


def init_app(app: Flask) -> None:
    app.extensions["gateway.readiness"] = Readiness()
    app.register_blueprint(bp)
