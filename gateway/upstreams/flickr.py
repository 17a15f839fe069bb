"""The Flickr upstream (GATEWAY_UPSTREAM=flickr): Flickr's REST API behind the
one-method Upstream interface (SPEC 2, 5, 6).

flickrapi 2.x is unmaintained, so it stays a detail of this module: nothing
else imports it, and replacing it means rewriting `_call` and `_failure` only.
Every call is one OAuth-signed POST (flickrapi 2.2+):

    POST {GATEWAY_FLICKR_REST_URL}
    Authorization: OAuth oauth_consumer_key="<key>", oauth_signature="...", ...
    method=flickr.groups.pools.getPhotos&group_id=...&per_page=15&page=1
        &extras=date_upload,...&format=json&nojsoncallback=1

and Flickr answers HTTP 200 with either a standard photos response
`{"photos": {"page": 1, ..., "photo": [...]}, "stat": "ok"}` or a failure
`{"stat": "fail", "code": 1, "message": "Group not found"}`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping

import flickrapi
import flickrapi.exceptions
import requests
from flask import Flask

from .. import errors, limits
from ..model import Page, parse_json
from .transport import BoundedSession, ResponseTooLarge

log = logging.getLogger("gateway.upstreams.flickr")

# The extras every feed format can use; a caller's own `extras` are added to
# these. rest/json show only what the caller asked for (they render ctx.extras),
# so asking Flickr for more never leaks into those formats.
FEED_EXTRAS = (
    "date_upload", "date_taken", "owner_name", "icon_server", "geo", "tags", "machine_tags",
    "original_format", "o_dims", "views", "media", "license", "description", "path_alias",
    "last_update", "url_sq", "url_t", "url_s", "url_q", "url_m", "url_n", "url_z", "url_c",
    "url_l", "url_h", "url_k", "url_o",
)

# Asked for on top of the caller's arguments: the feed is titled and linked by the set's own
# title, owner and URL. photosets.getPhotos always wraps its photos in a <photoset title
# owner ownername>; galleries.getPhotos describes the gallery only when asked:
#     <gallery id="196081879-72157720932863274" url="https://www.flickr.com/photos/cqpilrs/galleries/…"
#              owner="196127201@N06" username="alclaifgirogz" …><title>Nrjksvm/Hppaotq</title></gallery>
SET_INFO = {"flickr.galleries.getPhotos": {"get_gallery_info": "1"}}

# Never forwarded, whatever api.py let through (it keeps only a method's documented
# arguments, methods.ARGS): the caller's credentials (Flickr would see someone
# else's key beside ours), the response envelope (this module always asks for bare JSON),
# and two names no Flickr method takes that once steered flickrapi (`timeout`, `_method_name`).
NOT_FORWARDED = frozenset({
    "api_key", "api_sig", "auth_token", "perms", "frob", "method", "format", "nojsoncallback",
    "jsoncallback", "timeout", "_method_name",
})

# Flickr's codes for a bad key, signature or protocol: the gateway's own
# configuration is at fault, not the caller. Answered as 502 with a message for
# the operator (never the key or secret themselves).
OPERATOR_ERRORS = {
    95: "Flickr requires HTTPS; the operator must check GATEWAY_FLICKR_REST_URL",
    96: "The gateway's Flickr request signature was rejected; the operator must check GATEWAY_FLICKR_API_SECRET",
    97: "The gateway's Flickr request signature was rejected; the operator must check GATEWAY_FLICKR_API_SECRET",
    98: "Flickr rejected the gateway's credentials; the operator must check GATEWAY_FLICKR_API_KEY and _SECRET",
    100: "The gateway's Flickr API key was rejected; the operator must check GATEWAY_FLICKR_API_KEY",
}
BAD_GATEWAY = 502
# Flickr's own "Service currently unavailable": answered as ours, 503 with Retry-After.
FLICKR_UNAVAILABLE = {105}

# flickrapi's message for stat=fail is 'Error: %(code)s: %(message)s'.
_FLICKRAPI_MESSAGE = re.compile(r"Error: -?\d+: (.*)", re.S)


# Calls to Flickr one process makes at once (each keeps one HTTP connection open). Distinct
# calls only: identical ones wait for the first (cache coalescing). The budget allows about
# one call a second, so 16 at once is a burst of misses, never the steady state.
MAX_CALLS = 16


class Flickr:
    """Standard photos responses from Flickr's REST API, one signed call per page."""

    name = "flickr"

    def __init__(self, key: str, secret: str, rest_url: str, timeout: float,
                 budget: limits.Limiter | None = None):
        if not key or not secret:
            raise ValueError(
                "GATEWAY_UPSTREAM=flickr needs GATEWAY_FLICKR_API_KEY and GATEWAY_FLICKR_API_SECRET "
                "(apply for a key at https://www.flickr.com/services/apps/create/)"
            )
        if not str(rest_url).startswith(("https://", "http://")):
            # Otherwise every call would fail as "unavailable" with the cause only in the log.
            raise ValueError(f"GATEWAY_FLICKR_REST_URL must be an http(s) URL, got {rest_url!r}")
        self._key, self._secret = str(key), str(secret)
        self.rest_url = rest_url
        self.timeout = timeout
        self.budget = budget  # GATEWAY_UPSTREAM_RATE: None = no limit
        # FlickrAPI instances (each with its own HTTP session) not in use, and the slots
        # that bound how many calls this process makes at once: see _call.
        self._idle: list[flickrapi.FlickrAPI] = []
        self._sessions: list[BoundedSession] = []
        self._slots = threading.BoundedSemaphore(MAX_CALLS)
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the key or secret, e.g. in a traceback's locals
        return f"<Flickr {self.rest_url}>"

    def photos(self, method: str, args: Mapping[str, str]) -> Page:
        self._spend()
        try:
            return parse_json(self._call(method, {**self.request_args(args), **SET_INFO.get(method, {})}))
        except (
            flickrapi.exceptions.FlickrError,  # stat=fail, or a non-200 status
            requests.RequestException,  # timeout, refused, reset, bad chunking, too large (transport.py)
            OSError,  # a socket error requests did not wrap
            ValueError,  # not JSON (JSONDecodeError), not UTF-8, not a photos response
            KeyError,  # {"stat": "fail"} without code or message: flickrapi's parser indexes both
            AttributeError, TypeError,  # JSON that is not an object: flickrapi calls .get() on it
            RecursionError,  # JSON nested thousands deep: json.loads gives up
        ) as exc:
            raise _failure(exc) from None

    def data_version(self) -> tuple[int, int]:
        """Flickr says nothing of its changes: cached copies live their TTL (see upstreams/base.py)."""
        return (0, 0)

    def _spend(self) -> None:
        """Take one call from the budget, or fail as "unavailable" until the next one.

        The cache treats this like any outage: an expired copy is served while
        there is one, else 503 with Retry-After (the seconds until a call is free).
        """
        wait = self.budget.wait() if self.budget is not None else 0
        if wait > 0:
            log.warning("Flickr budget spent (GATEWAY_UPSTREAM_RATE); next call in %.1fs", wait)
            raise errors.unavailable(limits.retry_after(wait), kind="budget")

    @staticmethod
    def request_args(args: Mapping[str, str]) -> dict[str, str]:
        """The method's arguments as Flickr gets them: the caller's, less credentials, plus FEED_EXTRAS.

        page and per_page pass as given (the API layer has capped them), so
        Flickr's paging and the feed's pagination element agree.
        """
        out = {k: str(v) for k, v in args.items() if k not in NOT_FORWARDED and not k.startswith("oauth_")}
        asked = (e.strip() for e in out.get("extras", "").split(","))
        out["extras"] = ",".join(dict.fromkeys(e for e in (*FEED_EXTRAS, *asked) if e))
        return out

    def close(self) -> None:
        """Close every HTTP session (tests; a worker just exits)."""
        with self._lock:
            sessions, self._sessions, self._idle = self._sessions, [], []
        for session in sessions:
            session.close()

    # ------------------------------------------------------------ flickrapi

    def _call(self, method: str, params: Mapping[str, str]) -> object:
        """One signed call; the decoded JSON of a stat=ok answer.

        The arguments go to flickrapi's signed POST as one dict, never as keyword
        arguments: do_flickr_call(**params) would make a caller's argument named
        like one of flickrapi's own parameters (`timeout`, `_method_name`,
        `parse_format`, `wrapped_method`, `self`) a TypeError instead of data.
        parse_json raises flickrapi's FlickrError for stat=fail, as do_flickr_call does.

        Each call borrows a FlickrAPI (and its HTTP session, which keeps its
        connection to Flickr alive) from a pool of at most MAX_CALLS: under
        gevent every client connection is a greenlet, and one session per
        greenlet (as threading.local would give) would open a TLS connection
        to Flickr per client. A call that finds every slot taken for its whole
        timeout fails like a timeout.
        """
        if not self._slots.acquire(timeout=self.timeout):
            raise requests.Timeout(f"all {MAX_CALLS} Flickr calls of this process busy for {self.timeout}s")
        try:
            with self._lock:
                api = self._idle.pop() if self._idle else None
            if api is None:
                api = self._new_api()
            try:
                data = {**params, "method": method, "format": "json", "nojsoncallback": "1"}
                return api.parse_json(api.flickr_oauth.do_request(api.REST_URL, data, timeout=self.timeout))
            finally:
                with self._lock:
                    self._idle.append(api)
        finally:
            self._slots.release()

    def _new_api(self) -> flickrapi.FlickrAPI:
        api = flickrapi.FlickrAPI(
            self._key, self._secret, format="parsed-json",
            store_token=False,  # the default writes ~/.flickr/oauth-tokens.sqlite
            cache=False,  # caching is the gateway's job, per rendered feed
            timeout=self.timeout,
        )
        # A class attribute that flickrapi reads through self: per instance, so
        # tests can point one app at a local replay server.
        api.REST_URL = self.rest_url
        # flickrapi 2.2+ posts through ONE requests.Session, a class attribute of
        # OAuthFlickrInterface shared by every instance and thread. requests
        # does not promise a Session is safe to share between concurrent calls,
        # and a class-level one can never be closed: each pooled instance gets
        # its own, closed by close().
        session = BoundedSession()
        api.flickr_oauth.session = session
        with self._lock:
            self._sessions.append(session)
        return api


def _failure(exc: Exception) -> errors.FlickrError:
    """Every way a Flickr call fails, mapped in this one place (SPEC 5).

    Flickr refuses with HTTP 200:  {"stat":"fail","code":1,"message":"Group not found"}
      95-98, 100 (our key, signature, URL) → the same code, HTTP 502, a message for the operator
      105 (Flickr's own "Service currently unavailable") → errors.unavailable(), as below
      other codes < 100 (bad arguments, not found)  → FlickrError(code, message), HTTP 400 in feeds
      other codes ≥ 100 (our request is at fault)   → the same code, HTTP 502
    Anything else — timeout, refused or reset connection, HTTP 5xx (flickrapi:
    FlickrError('do_request: Status code 500 received'), code None), an HTML
    error page, truncated JSON, stat=fail without code/message, an answer still
    arriving at the timeout (slow drip) or larger than transport.MAX_BODY
                                                    → errors.unavailable(): 105, HTTP 503, Retry-After
    The failure's kind (timeout, connection, http_status, bad_response,
    flickr_unavailable, refused) goes to the metrics, never to the client.
    """
    code = getattr(exc, "code", None) if isinstance(exc, flickrapi.exceptions.FlickrError) else None
    if code is None or code in FLICKR_UNAVAILABLE:
        # The exception's text names the URL and status, never the key (it travels in a header).
        log.warning("Flickr unavailable: %s: %s", type(exc).__name__, str(exc)[:300])
        return errors.unavailable(kind=_kind(exc))
    match = _FLICKRAPI_MESSAGE.fullmatch(str(exc))
    message = match.group(1) if match else str(exc)
    if code in OPERATOR_ERRORS:
        log.error("Flickr refused the gateway's credentials: %s (code %d: %s)", OPERATOR_ERRORS[code], code, message)
        return errors.FlickrError(code, OPERATOR_ERRORS[code], BAD_GATEWAY, kind="refused")
    if code >= 100:
        log.error("Flickr refused the gateway's request (code %d: %s)", code, message)
        return errors.FlickrError(code, f"Flickr refused the gateway's request: {message}", BAD_GATEWAY,
                                  kind="refused")
    return errors.FlickrError(code, message)


def _kind(exc: Exception) -> str:
    """The metrics' name for a failure that makes Flickr unavailable."""
    if isinstance(exc, flickrapi.exceptions.FlickrError):
        return "flickr_unavailable" if exc.code is not None else "http_status"
    if isinstance(exc, requests.Timeout):
        return "timeout"
    if isinstance(exc, ResponseTooLarge):
        return "bad_response"
    if isinstance(exc, (requests.ConnectionError, OSError)):
        return "connection"
    if isinstance(exc, requests.RequestException):
        return "connection"  # broken chunking and the like: the exchange, not the content
    return "bad_response"


def _quiet_library_logs() -> None:
    """Keep our key out of the logs: the libraries under flickrapi log it.

    requests_oauthlib logs the signed request's headers at DEBUG (the OAuth
    header names our key as oauth_consumer_key), oauthlib the signature base
    string that holds it; flickrapi logs a non-200 body at ERROR line by line,
    and an error page may echo our request headers. Failures are logged once,
    by _failure.
    """
    for name, floor in (("oauthlib", logging.WARNING), ("requests_oauthlib", logging.WARNING),
                        ("flickrapi", logging.CRITICAL)):
        logger = logging.getLogger(name)
        if logger.level < floor:
            logger.setLevel(floor)


def create(app: Flask) -> Flickr:
    """The Flickr upstream from the app's settings; ValueError without key and secret."""
    _quiet_library_logs()
    config = app.config
    return Flickr(config["FLICKR_API_KEY"], config["FLICKR_API_SECRET"], config["FLICKR_REST_URL"],
                  config["UPSTREAM_TIMEOUT"], limits.upstream_budget(app))

