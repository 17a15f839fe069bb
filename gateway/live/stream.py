"""GET /services/stream/: the live stream of a call, as Server-Sent Events (SPEC 11).

Arguments: exactly those of /services/rest/ (method, its arguments, api_key;
format, size and paging are accepted and do not matter), or several calls on
one connection: `call=<a /services/rest/ query>` repeated (an outer api_key
counts for every call). They are validated by the API's own parse_call, and
the call is asked of the upstream once before the stream starts, so a bad
request gets the API's error as a plain HTTP error (status, X-FlickrErrCode,
X-FlickrErrMessage, Flickr's <rsp stat="fail"> body), never a stream.

The stream (text/event-stream, UTF-8):

    retry: 5000                         reconnect delay in ms (GATEWAY_STREAM_RETRY)
    : <comment>                         on opening, and every GATEWAY_STREAM_HEARTBEAT seconds

    event: photo                        one per photo new to a call, oldest first
    id: 1234                            the event log's id (several calls: the ids of all, "_"-joined)
    data: {"id": "…", "title": "…", "owner": "…", "ownername": "…", "url": "<photo page>",
           "owner_url": "<the owner's page>",
           "images": {"sq": "<url>", "q": …, "m": …, "z": …, "l": …}, "latitude": 48.85,
           "longitude": 2.29, "accuracy": 16, "datetaken": "…", "dateupload": 1700000001,
           "found": 1764500000.12, "call": 0}
                                        latitude/longitude/accuracy only for a photo with a place;
                                        images by Flickr's url_* extra names; "call": the index of
                                        the call (0 with one call); "found": when the gateway knew it

    event: reset                        the Last-Event-ID is older than the bounded event log (or not
    id: …                               one of its ids): photos may have been missed; reload the feed
    data: {"reason": "…"}

A reconnect with Last-Event-ID gets the events after it from the log, then
the live ones; nothing twice (each call's position only moves forward).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator, Mapping
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, current_app, g, request

from .. import api, errors, metrics
from ..cache import pages
from ..errors import FlickrError
from ..model import URL_EXTRAS, image, photo_page_url, profile_url
from ..push import get as push_get
from ..push import work
from ..push.events import START, Event, watch_id
from ..push.topics import photos_from_json
from . import KEY
from .fanout import Fanout, later, position_key

log = logging.getLogger("gateway.live")
bp = Blueprint("live", __name__)
STREAM_PATH = api.STREAM_PATH
MAX_CALLS = 10  # calls on one connection
POSITION = re.compile(r"[0-9]{1,20}(-[0-9]{1,20})?")  # an id of either log: SQLite's integer, a Redis stream id
FULL_RETRY_AFTER = 30  # seconds a client refused by the cap is told to wait


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.route(STREAM_PATH, methods=["GET"])
@bp.route(STREAM_PATH.rstrip("/"), methods=["GET"])
def stream() -> Response:
    live = current_app.extensions[KEY]
    fanout: Fanout = live.fanout
    # CORS as on the API: gateway/cors.py (GATEWAY_CORS_ORIGINS) adds it below Flask, errors included.
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    try:
        calls = _calls()
        if request.method == "HEAD":  # valid: say what a GET would answer, without holding a stream
            return Response(b"", 200, headers, content_type="text/event-stream; charset=utf-8")
        if fanout.open >= current_app.config["STREAM_MAX"]:
            metrics.LIVE_REFUSED.inc()
            raise FlickrError(errors.SERVICE_UNAVAILABLE, "Service currently unavailable (too many open streams)",
                              503, FULL_RETRY_AFTER, "streams")
        watches = list(dict.fromkeys(_open_watch(live, call) for call in calls))  # one per watch (formats)
        positions, reset = _start_positions(watches, request.headers.get("Last-Event-ID", "").strip())
        body = Stream(live, watches, positions, reset, request.url_root)
    except FlickrError as err:
        return _error(err)
    except Exception:  # the event log's storage (Redis, the SQLite file) failed: no stream, say so
        log.exception("live: a stream could not be opened")
        return _error(errors.unavailable(FULL_RETRY_AFTER))
    return Response(body, 200, headers, content_type="text/event-stream; charset=utf-8")


def _error(err: FlickrError) -> Response:
    g.format = None  # a stream has no format of its own: every error is an HTTP error
    return api.error_response(err)


def _calls() -> list[api.Call]:
    """The request's calls, each validated exactly as /services/rest/ validates it."""
    outer = api.request_args()
    many = request.args.getlist("call")
    if not many:
        return [api.parse_call(outer)]
    if len(many) > MAX_CALLS:
        raise FlickrError(errors.BAD_URL, f"Bad URL found (more than {MAX_CALLS} calls)")
    calls = []
    for query in many:
        args: dict[str, str] = {}
        for k, v in parse_qsl(query, keep_blank_values=True):
            args.setdefault(k, v)
        for name in ("api_key",):
            if name in outer and name not in args:
                args[name] = outer[name]
        calls.append(api.parse_call(args))
    return calls


def _open_watch(live, call: api.Call) -> str:
    """The call's watch, registered and primed (its current photos are not new) once per process;
    an upstream's answer to the call ("Group not found") is raised as the API would."""
    watch = watch_id(call.method.name, call.args)
    if watch in live.opened:
        return watch
    push = push_get()
    push.log  # noqa: B018 - opened on the event loop, used from the threadpool
    app = current_app._get_current_object()

    def ensure() -> None:
        with app.app_context():
            work.ensure_watch(push, watch, call.method.name, dict(call.args))

    try:
        live.fanout.call(ensure)
    except FlickrError as err:
        if pages.is_answer(err):
            raise
        # The upstream is down: the stream opens anyway, and the consumer's first check primes the watch.
        log.warning("live: priming %s failed (%s)", watch, err.message)
        return watch
    live.opened.add(watch)
    return watch


def _start_positions(watches: list[str], last: str) -> tuple[list[str | None], bool]:
    """Each watch's position to replay from (None: from the head, nothing replayed), and whether
    the Last-Event-ID could not be honoured (a reset is sent)."""
    if not last:
        return [None] * len(watches), False
    parts = last.split("_")
    if len(parts) != len(watches) or not all(POSITION.fullmatch(p) for p in parts):
        return [None] * len(watches), True
    return parts, False


class Stream:
    """The response body: an iterable of SSE chunks whose close() (the server's, on disconnect)
    leaves the fan-out. Needs no request context once made."""

    def __init__(self, live, watches: list[str], starts: list[str | None], reset: bool, base: str):
        self.live, self.fanout, self.watches, self.base = live, live.fanout, watches, base
        config = live.app.config
        self.heartbeat = max(1, config["STREAM_HEARTBEAT"])
        self.retry_ms = max(1, config["STREAM_RETRY"]) * 1000
        self.reader = self.fanout.join(watches)  # before reading heads and replays: nothing falls between
        self.fanout.open += 1
        metrics.LIVE_STREAMS.inc()
        self.positions = list(starts)
        self.reset = reset
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.fanout.leave(self.reader)
            self.fanout.open -= 1
            metrics.LIVE_STREAMS.dec()

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._events()
        except Exception:  # the log's storage failed mid-stream: end it; the client reconnects after retry:
            log.exception("live: a stream ended on an error")
        finally:
            self.close()

    def _events(self) -> Iterator[bytes]:
        events_log = self.fanout.push.log
        heads = [self.fanout.call(events_log.head, watch) for watch in self.watches]
        replay: list[tuple[int, Event]] = []
        for i, (watch, start) in enumerate(zip(self.watches, self.positions, strict=True)):
            if start is None or self.reset:
                continue
            found = self.fanout.call(events_log.after, watch, start)
            # An id past the log's newest is not one of its ids (the log was made anew): a reset too.
            if found.gap or later(start, heads[i]):
                self.reset = True
            else:
                replay += [(i, e) for e in found.events]
        if self.reset or any(p is None for p in self.positions):
            replay = [] if self.reset else replay
            # From the heads: what follows is new (a reset, or a stream opened without Last-Event-ID).
            self.positions = [h if self.reset or p is None else p for h, p in zip(heads, self.positions, strict=True)]
        preamble = f"retry: {self.retry_ms}\n: live photos of {len(self.watches)} call(s); a comment every " \
                   f"{self.heartbeat} s keeps the connection open\n\n"
        if self.reset:
            preamble += _message("reset", self._id(), {"reason": "Last-Event-ID is older than the event log keeps "
                                                        "(or not one of its ids): reload the feed"})
        yield preamble.encode()
        replay.sort(key=lambda item: (item[1].at, position_key(item[1].id)))
        chunk = self._take(replay)
        if chunk:
            yield chunk
        last_write = time.monotonic()
        while True:
            events = self.reader.take(max(0.0, self.heartbeat - (time.monotonic() - last_write)))
            events.sort(key=lambda e: (e.at, position_key(e.id)))  # several calls: in the order they were found
            chunk = self._take([(self.watches.index(e.watch), e) for e in events if e.watch in self.watches])
            if chunk:
                yield chunk
                last_write = time.monotonic()
            elif time.monotonic() - last_write >= self.heartbeat:
                yield b": heartbeat\n\n"
                last_write = time.monotonic()

    def _take(self, events: list[tuple[int, Event]]) -> bytes:
        """The messages of events a call has not had yet (each call's position only moves forward)."""
        out = []
        for i, event in events:
            if self.positions[i] is not None and not later(event.id, self.positions[i] or START):
                continue
            self.positions[i] = event.id
            out.append(_message("photo", self._id(), self.live.photo_json(event, self.base, i)))
        return "".join(out).encode()

    def _id(self) -> str:
        return "_".join(p or START for p in self.positions)


def _message(event: str, event_id: str, data: Mapping | str) -> str:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\nid: {event_id}\ndata: {text}\n\n"


def photo_data(event: Event, base: str, call: int) -> dict:
    """What a client shows of a new photo: the shape documented above (no HTML, no description)."""
    photo = photos_from_json([event.photo]).with_image_base(base).photos[0]
    images = {}
    for name, (suffix, _edge) in URL_EXTRAS.items():
        size = image(photo, suffix)
        if size is not None:
            images[name] = size.url
    data: dict = {"id": photo.id, "title": photo.title, "owner": photo.owner, "ownername": photo.author_name,
                  "url": photo_page_url(photo), "owner_url": profile_url(photo), "images": images}
    if photo.geotagged:
        data.update(latitude=photo.latitude, longitude=photo.longitude, accuracy=photo.accuracy)
    if photo.datetaken:
        data["datetaken"] = photo.datetaken  # the camera's local time, as Flickr gives it: no offset
    if photo.dateupload:
        data["dateupload"] = photo.dateupload
    data.update(found=round(event.at, 3), call=call)
    return data
