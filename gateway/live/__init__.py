"""Live streams (SPEC 11): new photos of a call sent to browsers as Server-Sent Events.

    stream.py   GET /services/stream/: validation, replay after Last-Event-ID, the SSE body
    fanout.py   one waiter per worker reading the event log for all its open streams

It reads the push package's event log (gateway/push/events.py: the one record
of what is new for a watch, written by the job consumer's checks) and never
writes events. A stream keeps its call's watch alive (log.keep), so the
consumer checks it after a library change and polls Flickr for it, exactly as
for a WebSub subscription.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

from flask import Flask

from ..push.events import Event

KEY = "gateway.live"
PHOTO_CACHE = 1024  # photo messages kept per worker: one event read by a thousand streams is encoded once


class Live:
    """app.extensions["gateway.live"]: the fan-out and what streams of this process share."""

    def __init__(self, app: Flask):
        self.app = app
        self.opened: set[str] = set()  # watches registered and primed by this process
        self._fanout = None
        self._lock = threading.Lock()
        self._photos: OrderedDict[tuple, str] = OrderedDict()

    @property
    def fanout(self):
        if self._fanout is None:
            from ..push import get
            from .fanout import Fanout

            with self._lock:
                if self._fanout is None:
                    self._fanout = Fanout(get(self.app))
        return self._fanout

    def photo_json(self, event: Event, base: str, call: int) -> str:
        """An event's `data:` (stream.photo_data as JSON), encoded once per event, base URL and call index."""
        from .stream import photo_data

        key = (event.watch, event.id, base, call)
        text = self._photos.get(key)
        if text is None:
            text = json.dumps(photo_data(event, base, call), ensure_ascii=False, separators=(",", ":"))
            with self._lock:
                self._photos[key] = text
                while len(self._photos) > PHOTO_CACHE:
                    self._photos.popitem(last=False)
        return text


def init_app(app: Flask) -> None:
    from . import stream

    app.extensions[KEY] = Live(app)
    stream.init_app(app)
