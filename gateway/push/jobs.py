"""The push jobs on Huey: verification, checks, polls and deliveries run in the consumer, never in a request.

    storage   SqliteHuey in push-jobs.sqlite beside GATEWAY_PUSH_PATH; RedisHuey on
              GATEWAY_CACHE_URL when it is redis:// (every host's consumer takes from one queue)
    consumer  `huey_consumer worker.huey` (scripts/serve and the Procfile's `worker` run it)
    tests     PUSH_IMMEDIATE=True in test_config: Huey's immediate mode, each job runs in the caller

Jobs:
    verify(req)            verification of intent (work.verify)
    deliver(sub_id, retry) one content distribution (work.deliver); a failure schedules its retry
    check(watch)           a watch against the upstream now (the library publishes, `push poll`)
    check_all()            every watch with subscribers (after a library change)
    poll(watch)            check() at most once per poll interval across all hosts (Flickr upstream)
    every minute: sweep    leases expired → subscriptions removed; deliveries behind → sent again
                  tick     the Flickr upstream: a poll for each watch whose interval has passed
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from huey import MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.api import PeriodicTask
from huey.exceptions import TaskLockedException

from .. import metrics
from ..errors import FlickrError
from . import work
from .events import START

if TYPE_CHECKING:
    from . import Push

log = logging.getLogger("gateway.push")
POLL_SHARE = 0.5  # polls may use at most this share of GATEWAY_UPSTREAM_RATE; requests keep the rest
LOCKED_RETRY = 2  # seconds: a delivery that found another of the same subscription running goes again


def make_huey(app) -> MemoryHuey | RedisHuey | SqliteHuey:
    # results=False: nobody reads a job's return value, and kept results would pile up in the storage.
    if app.config.get("PUSH_IMMEDIATE"):
        return MemoryHuey("gateway-push", immediate=True, results=False)
    url = app.config["CACHE_URL"]
    if urlparse(url).scheme in ("redis", "rediss", "unix"):
        return RedisHuey("gateway-push", url=url, results=False)
    path = Path(app.config["PUSH_PATH"]).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("gateway-push", filename=str(path.with_name(path.stem + "-jobs.sqlite")), results=False)


class QuietPeriodic(logging.Filter):
    """Drops Huey's routine INFO lines about the periodic tasks ("Enqueueing periodic task …",
    "Executing …", "… executed in …"): tick and sweep run every minute whether or not there is
    anything to do, and four lines a minute buried the web server's. What they do still shows:
    the jobs they start (polls, deliveries) log as usual, sweep logs each expiry, and Huey's
    warnings and errors about them pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or not isinstance(record.args, tuple) or not record.args:
            return True
        return not isinstance(record.args[0], PeriodicTask)


def consumer_logging() -> None:
    """The job consumer's log (worker.py): the gateway's own lines — deliveries, verifications and
    expiries (one JSON object a line, as the access log), warnings and errors — go to stderr at INFO
    unless the operator gave the `gateway` logger a handler (huey_consumer sets up only `huey`'s);
    and QuietPeriodic where Huey logs the periodic tasks: its `huey` logger (a worker executing a
    task) and the consumer's scheduler (enqueueing), as a logger's filter sees only its own records."""
    gateway = logging.getLogger("gateway")
    if not gateway.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        gateway.addHandler(handler)
        gateway.setLevel(logging.INFO)
        gateway.propagate = False
    for name in ("huey", "huey.consumer.Scheduler"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuietPeriodic) for f in logger.filters):
            logger.addFilter(QuietPeriodic())


def poll_interval(app, watches: int) -> float:
    """Seconds between two polls of a watch: the cache time, stretched so that all watches' polls fit
    in POLL_SHARE of the upstream budget. Sets the stretch metrics."""
    ttl = max(1, app.config["CACHE_TTL"])
    rate = app.config["UPSTREAM_RATE"]
    interval = float(ttl)
    if rate > 0 and watches:
        interval = max(interval, watches * 3600 / (rate * POLL_SHARE))
    metrics.PUSH_POLL_INTERVAL.set(interval)
    metrics.PUSH_POLL_STRETCH.set(interval / ttl)
    metrics.PUSH_BUDGET_SHARE.set(min(1.0, watches * 3600 / interval / rate) if rate > 0 else 0)
    return interval


def register(huey, push: Push) -> SimpleNamespace:
    app = push.app

    @huey.task()
    def verify(req: dict) -> bool:
        with app.app_context():
            return work.verify(push, req)

    @huey.task()
    def deliver(sub_id: str, retry: bool = False) -> None:
        with app.app_context():
            try:
                with huey.lock_task(f"deliver-{sub_id}"):
                    more = work.deliver(push, sub_id, retry)
            except TaskLockedException:
                # Another delivery of this subscription is running: go again after it, so that
                # whatever made this one is not lost.
                deliver.schedule(args=(sub_id, retry), delay=LOCKED_RETRY)
                return
            except FlickrError as err:  # the full document could not be read: try again later
                log.warning("push: delivery of %s waits: %s", sub_id, err.message)
                deliver.schedule(args=(sub_id, retry), delay=app.config["PUSH_RETRY_DELAY"])
                return
        if more:
            deliver(sub_id)

    @huey.task()
    def check(watch: str) -> int:
        with app.app_context():
            return work.check(push, watch)

    @huey.task()
    def check_all() -> None:
        with app.app_context():
            for watch in push.watched():
                try:
                    work.check(push, watch)
                except FlickrError as err:
                    log.warning("push: checking watch %s failed: %s", watch, err.message)

    @huey.task()
    def poll(watch: str) -> None:
        with app.app_context():
            interval = poll_interval(app, len(push.watched()))
            # One poll per watch per interval across every consumer and host (a claim in the log).
            if not push.log.claim(f"poll:{watch}", interval * 0.9):  # a tick late is not a poll missed
                return
            try:
                work.check(push, watch)
                metrics.PUSH_POLLS.labels("ok").inc()
            except FlickrError as err:
                metrics.PUSH_POLLS.labels("budget" if err.kind == "budget" else "failed").inc()
                log.warning("push: polling watch %s failed: %s", watch, err.message)

    @huey.periodic_task(crontab(minute="*"))
    def tick() -> None:
        if app.config["UPSTREAM"] != "flickr":
            return  # the library publishes its changes itself
        with app.app_context():
            for watch in push.watched():
                poll(watch)

    @huey.periodic_task(crontab(minute="*"))
    def sweep() -> None:
        with app.app_context():
            sweep_now(push)

    return SimpleNamespace(verify=verify, deliver=deliver, check=check, check_all=check_all, poll=poll,
                           tick=tick, sweep=sweep)


def sweep_now(push: Push) -> None:
    """Expired leases end; a subscription behind the log with no retry pending gets a delivery."""
    now = time.time()
    active = 0
    for sub in push.subs.all():
        if sub["expires"] <= now:
            push.subs.delete(sub["id"])
            work._log_line("expiry", sub["callback"], subscription=sub["id"])
            continue
        active += 1
        behind = sub["format"] not in work.topics.FULL_FORMATS and \
            push.log.head(sub["watch"]) != (sub.get("position") or START)
        if behind and sub.get("next_attempt", 0) <= now:
            push.tasks.deliver(sub["id"], True)
    metrics.PUSH_SUBSCRIPTIONS.set(active)
