"""Every request's way in and out, below Flask: raw input made safe to parse,
the per-client limit, a request id, one JSON log line and the request metrics.

It wraps FastHits (cache/http.py), which answers repeated requests without
running Flask, so nothing here may live in Flask hooks: a cached hit must be
limited, logged and counted like any other request. ProxyFix wraps this
middleware, so REMOTE_ADDR is already the client's address.

One log line per request on the `gateway.access` logger (stderr unless the
operator configures that logger), for example:

    {"ts":"2026-05-01T12:00:00.123Z","request_id":"4f1c…","remote":"203.0.113.9","method":"GET",
     "path":"/services/rest/","query":"method=flickr.photos.search&tags=sunset&format=feed-atom_10",
     "flickr_method":"flickr.photos.search","format":"feed-atom_10","status":200,"error_code":null,
     "cache":"miss","upstream_ms":412.3,"duration_ms":431.9,"bytes":48213,"agent":"FreshRSS/1.24"}

The query is logged without the caller's credentials (api_key, api_sig,
auth_token, oauth_*, …); the gateway's own Flickr key and secret never travel
in a request, so they cannot reach this line.
"""

from __future__ import annotations

import io
import ipaddress
import json
import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from . import errors, metrics
from .formats import FORMATS
from .formats.rest import error_rest

log = logging.getLogger("gateway.access")
KEY = "gateway.observation"  # the environ key of the request's Observation
MAX_FORM = 64 * 1024  # a larger POST body is refused by the endpoint (413, code 116)
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # a caller's X-Request-ID we are willing to echo
# The caller's credentials: never logged (the feeds' links leave out the same names).
CREDENTIALS = ("api_key", "api_sig", "auth_token", "perms", "frob", "oauth_")
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


def normalise_input(environ: dict) -> None:
    """Percent-encode raw non-ASCII bytes in the query string and a form body.

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
            return
        if 0 < length <= MAX_FORM:
            body = environ["wsgi.input"].read(length)
            if not body.isascii():
                body = _percent_encode(body)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))


# ---------------------------------------------------------------- the log line


def _request_id(environ: dict) -> str:
    given = environ.get("HTTP_X_REQUEST_ID", "")
    return given if REQUEST_ID.fullmatch(given) else os.urandom(16).hex()  # a third of uuid4's cost


def is_credential(name: str) -> bool:
    """Whether an argument name (decoded) may carry a caller's credential, in any spelling the
    gateway reads as one (`amp;api_key` on the .gne feeds) or a caller may have meant (API_KEY)."""
    name = name.lower()
    return any(word in name for word in CREDENTIALS)


def loggable_query(query: str) -> str:
    """The query string without the caller's credentials, at most 2,000 characters.

    Names are compared decoded: `api%5Fkey=…` is api_key to Werkzeug, so it must be to this
    filter too; a query with no escape and no credential word is logged as it came.
    """
    text = (unquote(query) if "%" in query else query).lower()
    if any(word in text for word in CREDENTIALS):
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_credential(k) for k, _v in pairs):
            query = urlencode([(k, v) for k, v in pairs if not is_credential(k)])
    return query[:2000]


_PAIR = re.compile(r"([^\s&?'\"=]+)=([^\s&'\"]*)")


def redact(text: str) -> str:
    """Free text (a server's log line quoting a request) with every credential's value taken out."""
    return _PAIR.sub(lambda m: f"{m[1]}=[redacted]" if is_credential(unquote(m[1])) else m[0], text)


class CredentialFilter(logging.Filter):
    """Takes credentials out of log lines the gateway does not write itself: gunicorn quotes a
    request line it cannot parse whole (a control byte in the query), a client's api_key with it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        text = (unquote(message) if "%" in message else message).lower()
        if any(word in text for word in CREDENTIALS):
            record.msg, record.args = redact(message), None
        return True


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


def _record(environ: dict, obs: Observation, started: float) -> None:
    duration = time.perf_counter() - started
    place = endpoint(environ.get("PATH_INFO", ""))
    fmt = obs.format if place in ("rest", "feeds") and obs.format in FORMATS else ""
    metrics.REQUESTS.labels(place, fmt, str(obs.status)).inc()
    metrics.LATENCY.labels(place).observe(duration)
    if place in ("rest", "feeds") and obs.cache:
        metrics.CACHE.labels(obs.cache).inc()
    if not log.isEnabledFor(logging.INFO):
        return
    line = {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request_id": obs.request_id,
        "remote": environ.get("REMOTE_ADDR", ""),
        "method": environ.get("REQUEST_METHOD", ""),
        "path": environ.get("PATH_INFO", "")[:500],
        "query": loggable_query(environ.get("QUERY_STRING", "")),
        "flickr_method": obs.flickr_method,
        "format": obs.format,
        "status": obs.status,
        "error_code": obs.error_code,
        "cache": obs.cache,
        "upstream_ms": round(obs.upstream_ms, 1),
        "duration_ms": round(duration * 1000, 1),
        "bytes": obs.bytes,
        "agent": environ.get("HTTP_USER_AGENT", "")[:200],
    }
    log.info(json.dumps(line, separators=(",", ":")))


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

    def __init__(self, wsgi_app: Callable, extensions: dict):
        self.wsgi_app = wsgi_app
        self.extensions = extensions  # looked up per request: tests swap parts after create_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        obs = environ[KEY] = Observation(_request_id(environ))

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            obs.status = int(status[:3])
            for name, value in headers:
                if name.lower() == "x-flickrerrcode" and value.lstrip("-").isdigit():
                    obs.error_code = int(value)
            headers.append(("X-Request-ID", obs.request_id))
            return start_response(status, headers, exc_info)

        normalise_input(environ)
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


class _Stderr(logging.StreamHandler):
    """A handler that writes to whatever sys.stderr is at the time (pytest swaps it per test)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def install(app: Any) -> None:
    """Wrap the app (inside ProxyFix, outside FastHits) and give the access log somewhere to go.

    The log goes to stderr, one JSON object a line, unless the operator has
    configured the `gateway.access` logger (a handler of their own): then it
    is left alone. It does not propagate to the root logger, so gunicorn's or
    the operator's root handlers do not print each line twice.
    """
    if not log.handlers:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    app.wsgi_app = Access(app.wsgi_app, app.extensions)
