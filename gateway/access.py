"""Every request's way in and out, below Flask: raw input made safe to parse,
the per-client limit, a request id, one JSON log line (accesslog.py) and the
request metrics.

It wraps FastHits (cache/http.py), which answers repeated requests without
running Flask, so nothing here may live in Flask hooks: a cached hit must be
limited, logged and counted like any other request. ProxyFix (when a proxy is
trusted) wraps this middleware, so REMOTE_ADDR is already the client's address.
Everything here runs for every request, cached hits included: keep it cheap
(bench/cached_path.py measures it).
"""

from __future__ import annotations

import io
import ipaddress
import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from . import accesslog, errors, metrics
from .formats import FORMATS
from .formats.rest import error_rest

log = accesslog.log
KEY = "gateway.observation"  # the environ key of the request's Observation
MAX_FORM = 64 * 1024  # a larger POST body is refused by the endpoint (413, code 116)
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # a caller's X-Request-ID we are willing to echo
_NOT_PRINTABLE_ASCII = re.compile(rb"[^\x21-\x7e]")


@dataclass
class Observation:
    """What one request did, filled in as it goes (by the endpoint, FastHits, the upstream call)."""

    request_id: str
    flickr_method: str = ""
    format: str = ""
    cache: str = ""  # fast | hit | miss | stale; empty when the cache was not asked
    upstream_ms: float = 0.0
    status: int = 0
    error_code: int | None = None
    bytes: int = 0


_DETACHED = Observation("")  # written to when a request has none (a test calling a view directly)


def observation(environ: dict) -> Observation:
    return environ.get(KEY, _DETACHED)


# ---------------------------------------------------------------- raw input


def _percent_encode(raw: bytes) -> bytes:
    return _NOT_PRINTABLE_ASCII.sub(lambda m: b"%%%02X" % m[0][0], raw)


def _wsgi_bytes(text: str) -> bytes:
    # PEP 3333: environ strings are bytes decoded as latin-1; a test client may hand us more.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _read_body(stream: Any, length: int, seconds: float) -> bytes | None:
    """`length` bytes of the body, or None when they did not all arrive within `seconds`.

    Under gevent a client that drips its body would otherwise hold its
    greenlet for ever (the worker's header deadline is over by then); the
    deadline is a gevent.Timeout, so it applies only in a gevent-patched
    worker (threads have their own socket timeouts).
    """
    monkey = sys.modules.get("gevent.monkey")
    if seconds <= 0 or monkey is None or not monkey.is_module_patched("socket"):
        return stream.read(length)
    import gevent

    with gevent.Timeout(seconds, False):
        return stream.read(length)
    return None


def normalise_input(environ: dict, body_seconds: float = 0) -> bool:
    """Percent-encode raw non-ASCII bytes in the query string and a form body; False when the
    form body did not arrive within `body_seconds` (0: no deadline).

    Werkzeug decodes %-escapes leniently (an invalid UTF-8 sequence stays as
    its "%FF" text) but raw bytes strictly: a raw 0xFF in QUERY_STRING raised
    UnicodeDecodeError (a 500), and one in a form body silently emptied the
    whole form. Encoded here, both decode like the %-escaped form, and FastHits
    keys requests on the same text the endpoint parses.
    """
    query = environ.get("QUERY_STRING", "")
    if not query.isascii():
        environ["QUERY_STRING"] = _percent_encode(_wsgi_bytes(query)).decode("ascii")
    if (environ.get("REQUEST_METHOD") == "POST"
            and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return True
        if 0 < length <= MAX_FORM:
            body = _read_body(environ["wsgi.input"], length, body_seconds)
            if body is None:
                return False
            if not body.isascii():
                body = _percent_encode(body)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
    return True


# ---------------------------------------------------------------- the log line


def _request_id(environ: dict) -> str:
    given = environ.get("HTTP_X_REQUEST_ID", "")
    return given if REQUEST_ID.fullmatch(given) else os.urandom(16).hex()  # a third of uuid4's cost


def endpoint(path: str) -> str:
    """The metrics' name for a path: one of a few, whatever the path holds."""
    if path.rstrip("/") == "/services/rest":
        return "rest"
    if path.startswith("/services/feeds/"):
        return "feeds"  # Flickr's public feed URLs, answered through the API's path
    if path in ("/healthz", "/readyz", "/metrics"):
        return "ops"
    if path.startswith("/static/"):
        return "static"
    if path.startswith("/images/"):
        return "images"  # the local photos' images: limited like the API, counted apart
    if path in ("/", "/preview", "/download.kml"):
        return "page"
    if path == "/push/hub":
        return "hub"  # WebSub subscription requests (gateway/push/hub.py)
    return "other"


def count(environ: dict, obs: Observation, seconds: float) -> None:
    """The request's metrics (added up in this process, metrics.BATCH)."""
    place = endpoint(environ.get("PATH_INFO", ""))
    api = place in ("rest", "feeds")  # the API, and its feed URLs (feeds.py)
    fmt = obs.format if api and obs.format in FORMATS else ""
    metrics.BATCH.request(place, fmt, str(obs.status), seconds, obs.cache if api else "")


def _record(environ: dict, obs: Observation, started: float) -> None:
    seconds = time.perf_counter() - started
    count(environ, obs, seconds)
    if log.isEnabledFor(logging.INFO):
        accesslog.emit(accesslog.log_line(environ, obs, seconds))


class _Logged:
    """The response body, passed through and counted; the request is recorded once, when the
    body has been sent or when the server closes it, whichever comes first."""

    def __init__(self, body: Iterable[bytes], environ: dict, obs: Observation, started: float):
        self.body, self.environ, self.obs, self.started = body, environ, obs, started
        self.recorded = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.obs.bytes += len(chunk)
            yield chunk
        self._record()

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self._record()

    def _record(self) -> None:
        if self.recorded:
            return
        self.recorded = True
        try:
            _record(self.environ, self.obs, self.started)
        except Exception:  # the answer has been sent; a logging failure must not turn into an error
            logging.getLogger("gateway").exception("access: recording a request failed")


# ---------------------------------------------------------------- the middleware


def too_many_requests(wait: float, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """429 with Retry-After and the error headers; Flickr's <rsp stat="fail"> body whatever the format
    (as for 413/414: the request was refused before its format was read)."""
    body = error_rest(errors.RATE_LIMITED, message)
    return "429 Too Many Requests", [
        ("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body))),
        ("Retry-After", str(max(1, math.ceil(wait)))), ("X-FlickrErrCode", str(errors.RATE_LIMITED)),
        ("X-FlickrErrMessage", errors.header_value(message)),
    ], body


def too_slow(seconds: float) -> tuple[str, list[tuple[str, str]], bytes]:
    """408 for a form body that did not arrive within GATEWAY_BODY_TIMEOUT; the connection is closed."""
    message = f"Request body not received within {seconds:g} s"
    body = error_rest(errors.BAD_URL, message)
    return "408 Request Timeout", [
        ("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body))), ("Connection", "close"),
        ("X-FlickrErrCode", str(errors.BAD_URL)), ("X-FlickrErrMessage", errors.header_value(message)),
    ], body


def client_key(environ: dict) -> str:
    """Who a client is for its rate limit: its address; IPv6 by /64, the block one subscriber gets."""
    address = environ.get("REMOTE_ADDR", "")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class Access:
    """WSGI middleware around FastHits and Flask; see the module docstring."""

    def __init__(self, wsgi_app: Callable, extensions: dict, body_seconds: float = 0):
        self.wsgi_app = wsgi_app
        self.extensions = extensions  # looked up per request: tests swap parts after create_app
        self.body_seconds = body_seconds  # GATEWAY_BODY_TIMEOUT

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        obs = environ[KEY] = Observation(_request_id(environ))

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            obs.status = int(status[:3])
            # The endpoint's errors set obs.error_code themselves (api.error_response); other 4xx/5xx
            # with the error headers are read here. A 200 or 304 never needs the scan.
            if obs.error_code is None and obs.status >= 400:
                for name, value in headers:
                    if name.lower() == "x-flickrerrcode" and value.lstrip("-").isdigit():
                        obs.error_code = int(value)
            headers.append(("X-Request-ID", obs.request_id))
            return start_response(status, headers, exc_info)

        if not normalise_input(environ, self.body_seconds):
            status, headers, body = too_slow(self.body_seconds)
            start(status, headers)
            return _Logged([body], environ, obs, started)
        wait = self._client_wait(environ)
        if wait > 0:
            status, headers, body = too_many_requests(wait, self.extensions["gateway.client_limit"].message)
            start(status, headers)
            body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else body
            return _Logged([body], environ, obs, started)
        return _Logged(self.wsgi_app(environ, start), environ, obs, started)

    def _client_wait(self, environ: dict) -> float:
        """Seconds this client must wait (0: go ahead); probes, metrics and static files are never limited."""
        limit = self.extensions.get("gateway.client_limit")
        if limit is None or endpoint(environ.get("PATH_INFO", "")) in ("ops", "static"):
            return 0.0
        try:
            return limit.wait(client_key(environ))
        except Exception:  # a broken limit must not refuse everyone, nor turn into a 500
            logging.getLogger("gateway").exception("access: the client limit failed; request let through")
            return 0.0


def install(app: Any) -> None:
    """Wrap the app (inside ProxyFix, outside FastHits) and give the access log somewhere to go."""
    accesslog.install()
    app.wsgi_app = Access(app.wsgi_app, app.extensions, app.config["BODY_TIMEOUT"])
