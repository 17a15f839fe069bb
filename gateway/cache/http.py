"""HTTP for cached responses (SPEC 7): validators, 304, gzip, and repeated URLs answered below Flask.

Feed readers, photo frames and Google Earth poll the very same URL again and
again. Once the endpoint has parsed and validated a raw request (method,
query string, Authorization header and the origin its links are built from),
KnownRequests remembers which response key it maps to, and FastHits answers
the next identical request straight from the cache while the entry is fresh:
no routing, no argument parsing, no Flask request. Everything else (a miss,
a stale entry, POST, any error) goes through the endpoint as usual.
`answer` is the one implementation of the HTTP rules; both paths use it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, NamedTuple

from werkzeug.http import parse_accept_header, parse_date, parse_etags

from ..access import observation
from ..upstreams import data_version
from . import Cache
from .entry import Entry

log = logging.getLogger("gateway.cache")
Headers = list[tuple[str, str]]
# The raw requests one process remembers, bounded in bytes (their strings, plus OVERHEAD each
# for the tuple, the Known and the dict slot), not in count: a flood of requests with 15 KB
# headers must not grow a worker. A typical feed request is a few hundred bytes, so this is
# thousands of feeds; a raw request over MAX_RAW is not remembered at all (the endpoint,
# with its cache, still answers it every time).
MAX_KNOWN_BYTES = 2 * 1024 * 1024
MAX_RAW = 4096
OVERHEAD = 400
# What browsers, curl and feed readers send, known to accept gzip without parsing q-values.
GZIP_ACCEPTED = frozenset({"gzip", "gzip, deflate", "gzip, deflate, br", "gzip, deflate, br, zstd", "deflate, gzip",
                           "br, gzip, deflate", "gzip,deflate", "gzip, br", "identity, gzip"})


def origin(environ: dict) -> tuple:
    """The parts of the WSGI environ that request.base_url and request.host (the feed's links) come from.

    Read raw: building base_url costs more than the rest of a cache hit.
    """
    return (environ["wsgi.url_scheme"], environ.get("HTTP_HOST"), environ.get("SERVER_NAME"),
            environ.get("SERVER_PORT"), environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""))


def raw_request(environ: dict) -> tuple | None:
    """Everything the endpoint's parsing reads from a GET/HEAD request; None for other methods."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return None
    return (environ.get("QUERY_STRING", ""), environ.get("HTTP_AUTHORIZATION"), *origin(environ))


def answer(entry: Entry, environ: dict, ttl: int) -> tuple[int, Headers, bytes]:
    """Status, headers and body of a cached response for this request.

    304 for a matching If-None-Match, or, without one, for If-Modified-Since
    at or after the last modification ("not modified since", ≤: FreshRSS
    sends dates of its own). A client that accepts gzip gets the copy
    compressed at render time under the weak form of the ETag (as nginx
    does): same content, another encoding.
    """
    meta = entry.meta
    accept = environ.get("HTTP_ACCEPT_ENCODING")
    gzipped = accept in GZIP_ACCEPTED or (bool(accept) and parse_accept_header(accept)["gzip"] > 0)
    strong = f'"{meta["etag"]}"'
    headers = [("ETag", "W/" + strong if gzipped else strong), ("Last-Modified", meta["modified"]),
               ("Cache-Control", f"public, max-age={ttl}"), ("Vary", "Accept-Encoding")]
    if meta.get("link"):  # WebSub discovery: the hub and the canonical self (gateway/push)
        headers.append(("Link", meta["link"]))
    age = entry.age(time.time())
    if age:
        headers.append(("Age", str(age)))
    if age > ttl:
        headers.append(("Warning", '110 - "Response is Stale"'))
    if not_modified(environ, meta["etag"], meta["updated"]):
        return 304, headers, b""
    body = entry.parts[1] if gzipped else entry.parts[0]
    if gzipped:
        headers.append(("Content-Encoding", "gzip"))
    headers += [("Content-Type", meta["type"]), ("Content-Length", str(len(body)))]
    return 200, headers, body


def not_modified(environ: dict, etag: str, updated: int) -> bool:
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        tags = parse_etags(if_none_match)
        return tags.contains_weak(etag) or tags.star_tag
    since = parse_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
    return since is not None and since.timestamp() >= updated


class Known(NamedTuple):
    """What the endpoint learnt of a raw request: its response key, its method and format for the log,
    and the upstream's data version the key was made for."""

    key: str
    method: str
    format: str
    version: int = 0


class KnownRequests:
    """Raw requests the endpoint has validated → what it learnt of them; at most `max_bytes`
    of them, oldest forgotten first."""

    def __init__(self, max_bytes: int = MAX_KNOWN_BYTES, max_raw: int = MAX_RAW):
        self.max_bytes = max_bytes
        self.max_raw = max_raw
        self.bytes = 0
        self._keys: dict[tuple, tuple[Known, int]] = {}  # raw request -> (what it is, its size)
        self._lock = threading.Lock()

    def get(self, raw: tuple | None) -> Known | None:
        found = self._keys.get(raw) if raw is not None else None
        return found[0] if found is not None else None

    def remember(self, raw: tuple | None, known: Known) -> None:
        if raw is None:
            return
        found = self._keys.get(raw)
        if found is not None and found[0] == known:
            return
        size = OVERHEAD + len(known.key) + sum(len(part) for part in raw if isinstance(part, str))
        if size - OVERHEAD > self.max_raw:
            return
        with self._lock:
            old = self._keys.pop(raw, None)
            if old is not None:
                self.bytes -= old[1]
            while self._keys and self.bytes + size > self.max_bytes:
                self.bytes -= self._keys.pop(next(iter(self._keys)))[1]
            self._keys[raw] = (known, size)
            self.bytes += size

    def __len__(self) -> int:
        return len(self._keys)


class FastHits:
    """WSGI middleware: a known request whose entry is fresh is answered here; anything else goes on."""

    def __init__(self, wsgi_app: Callable, extensions: dict, ttl: int):
        self.wsgi_app = wsgi_app
        self.extensions = extensions  # looked up per request: tests swap parts after create_app
        self.ttl = ttl

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            known = self.extensions["gateway.known"].get(raw_request(environ))
            cache: Cache = self.extensions["gateway.cache"]
            # The upstream's data changed since the key was made (a library import, on any
            # worker or command): the endpoint makes the key again and answers afresh.
            if known is not None and known.version != data_version(self.extensions["gateway.upstream"])[0]:
                known = None
            entry = cache.get(known.key) if known is not None else None
            if entry is not None and entry.fresh(time.time()):
                obs = observation(environ)
                obs.flickr_method, obs.format, obs.cache = known.method, known.format, "fast"
                status, headers, body = answer(entry, environ, self.ttl)
                start_response(f"{status} {HTTPStatus(status).phrase}", headers)
                return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]
        except Exception:  # a shortcut must never cost an answer: the endpoint will give one
            log.exception("cache: answering a known request failed")
        return self.wsgi_app(environ, start_response)


def install(app: Any) -> None:
    """Put FastHits in front of the app (inside ProxyFix, which api.init_app adds after this)."""
    app.extensions["gateway.known"] = KnownRequests()
    app.wsgi_app = FastHits(app.wsgi_app, app.extensions, app.config["CACHE_TTL"])
