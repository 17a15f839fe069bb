"""Push (SPEC 10): every feed is a WebSub topic, and new photos reach subscribers.

    events.py    the event log: what is new for a watch (push and live streams read it)
    sqlite.py    the log and subscriptions in GATEWAY_PUSH_PATH (one host)
    redis.py     the same in Redis (GATEWAY_CACHE_URL=redis://…: every host shares them)
    topics.py    which URLs are topics, their canonical self URL, what is delivered
    hub.py       the hub URL: subscription requests (POST /push/hub)
    work.py      verification of intent, checks of a watch, content distribution
    jobs.py      those as Huey jobs, run by the consumer (`huey_consumer worker.huey`)
    outbound.py  requests to callbacks, with the guards
    cli.py       `flask push list|show|remove|poll`

Nothing is opened when the app is made: the log, the subscriptions and the
queue are made on first use (a request to the hub, a library command, the
consumer).

For the library's writers: call `library_changed(app)` after any change of
the library's photos (import, add-folder, removal): it queues a check of
every watch, which turns the photos new to each into events and deliveries.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlparse

from flask import Flask, current_app

from .events import EventLog

KEY = "gateway.push"


class Push:
    """app.extensions["gateway.push"]: the event log, the subscriptions and the job queue."""

    def __init__(self, app: Flask):
        self.app = app
        self._lock = threading.Lock()
        self._log: EventLog | None = None
        self._subs: Any = None
        self._huey: Any = None
        self._tasks: Any = None
        self.documents: dict[tuple[str, str], Any] = {}  # work._full_document's renders

    @property
    def redis_url(self) -> str | None:
        url = self.app.config["CACHE_URL"]
        return url if urlparse(url).scheme in ("redis", "rediss", "unix") else None

    def _open_state(self) -> None:
        with self._lock:
            if self._log is not None:
                return
            if self.redis_url:
                from .redis import RedisLog, RedisSubscriptions

                log = RedisLog(self.redis_url)
                self._subs = RedisSubscriptions(log.client)
            else:
                from .sqlite import SqliteLog, SqliteState, SqliteSubscriptions

                state = SqliteState(os.path.abspath(self.app.config["PUSH_PATH"]))
                log = SqliteLog(state)
                self._subs = SqliteSubscriptions(state)
            self._log = log

    @property
    def log(self) -> EventLog:
        if self._log is None:
            self._open_state()
        assert self._log is not None
        return self._log

    @property
    def subs(self) -> Any:
        if self._log is None:
            self._open_state()
        return self._subs

    @property
    def huey(self) -> Any:
        if self._huey is None:
            from . import jobs

            with self._lock:
                if self._huey is None:
                    huey = jobs.make_huey(self.app)
                    self._tasks = jobs.register(huey, self)
                    self._huey = huey
        return self._huey

    @property
    def tasks(self) -> Any:
        self.huey  # noqa: B018 - made with the queue
        return self._tasks

    def watched(self) -> list[str]:
        """The watches checked and polled: those with subscribers, and those kept (live streams)."""
        if not self.redis_url and self._log is None and not os.path.exists(self.app.config["PUSH_PATH"]):
            return []  # nothing was ever subscribed here: a library command need not make the file
        return sorted({sub["watch"] for sub in self.subs.all()} | set(self.log.kept()))

    def close(self) -> None:
        if self._log is not None:
            self._log.close()


def init_app(app: Flask) -> None:
    from . import cli, hub

    app.extensions[KEY] = Push(app)
    hub.init_app(app)
    cli.init_app(app)


def get(app: Flask | None = None) -> Push:
    return (app or current_app).extensions[KEY]


def watch_call(method: str, args: dict[str, str], keep: float = 120, app: Flask | None = None) -> str:
    """For a live stream of a call: its watch registered, primed (the photos it shows now are not
    new) and kept checked for `keep` seconds more (call again while the stream is open). Returns
    the watch id to read with get().log.after()/wait(). Needs an app context; may call the upstream."""
    from . import work
    from .events import watch_id

    push = get(app)
    watch = watch_id(method, args)
    work.ensure_watch(push, watch, method, dict(args))
    push.log.keep(watch, keep)
    return watch


def library_changed(app: Flask | None = None) -> None:
    """The library's photos changed (import, add-folder, a removal): queue a check of every watch,
    so that subscribers get what is new at once. Cheap when nobody subscribes."""
    push = get(app)
    if push.watched():
        push.tasks.check_all()
