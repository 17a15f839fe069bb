"""What the jobs do (jobs.py runs them): verify intent, find what is new for a watch, deliver it.

A subscription is one JSON document (sqlite.py / redis.py keep it):

    id            sha256(canonical topic, callback)[:32]: one subscription per topic and callback
    topic         hub.topic as the subscriber sent it (echoed in verification and denial)
    canonical     the topic's canonical self URL;  watch, format: what it reads
    callback      hub.callback;  secret: hub.secret ("" for none)
    lease_seconds, verified, expires   the lease (unix times)
    position      the last event delivered (fat formats: Atom, RSS and the geo variants)
    digest        sha256 of the last document delivered (full formats: KML, GeoJSON)
    failures, next_attempt             the delivery backoff (0 when healthy)

"Never twice, never lost": a delivery reads the events after `position` and
moves `position` to the last of them only after the callback's 2xx, so a
failure, a retry or a restart sends the same backlog again, and one delivery
of a subscription runs at a time (a Huey lock, shared across hosts with Redis).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from .. import metrics
from ..cache import pages
from ..errors import FlickrError
from . import outbound, topics
from .events import START

if TYPE_CHECKING:
    from . import Push

log = logging.getLogger("gateway.push")
WATCH_COUNT = 100  # the newest photos of a watch looked at per check or poll
BATCH = 100  # the most entries one fat ping holds; the rest follow at once
DOCUMENTS = 256  # full documents (KML, GeoJSON) a consumer keeps, by topic and watch state
ATTEMPTS = 8  # deliveries tried before a subscription is ended (retry delay doubling: 255 x the first delay)


def subscription_id(canonical: str, callback: str) -> str:
    return hashlib.sha256(json.dumps([canonical, callback]).encode()).hexdigest()[:32]


def _with_query(url: str, query: dict[str, str]) -> str:
    # WebSub 5.1.1: the callback's own query is kept; ours is appended with "&".
    return url + ("&" if urlsplit(url).query else ("" if url.endswith("?") else "?")) + urlencode(query)


def _digest(ids: list[str]) -> str:
    return hashlib.sha256(" ".join(ids).encode()).hexdigest()


# ---------------------------------------------------------------- watches


def ensure_watch(push: Push, watch: str, method: str, args: dict[str, str]) -> None:
    """Register a watch; a new one is primed with the photos it already shows (they are not new)."""
    push.log.register(watch, method, {k: v for k, v in args.items() if k not in ("page", "per_page")})
    info = push.log.watch(watch)
    if info is not None and not info["primed"]:
        page = topics.current_photos(method, info["args"], WATCH_COUNT)
        ids = [p.id for p in page.photos]
        push.log.prime(watch, ids)
        push.log.set_state(watch, _digest(ids))


def check(push: Push, watch: str) -> int:
    """Ask the upstream for the watch's newest photos; unseen ones become events and the
    watch's subscribers get a delivery job. Returns the number of new photos."""
    info = push.log.watch(watch)
    if info is None:
        return 0
    page = topics.current_photos(info["method"], info["args"], WATCH_COUNT)
    ids = [p.id for p in page.photos]
    if not info["primed"]:
        push.log.prime(watch, ids)
        push.log.set_state(watch, _digest(ids))
        return 0
    new = push.log.append(watch, topics.photo_json(page))
    changed = push.log.set_state(watch, _digest(ids))
    if new or changed:
        for sub in push.subs.for_watch(watch):
            push.tasks.deliver(sub["id"])
    return len(new)


# ---------------------------------------------------------------- verification of intent


def verify(push: Push, req: dict[str, Any]) -> bool:
    """WebSub 5.2/5.3: validate (the topic's call must answer), then GET the callback with a fresh
    challenge; only a 2xx echoing it changes anything. Returns whether the intent was verified."""
    mode, allow = req["mode"], bool(push.app.config["PUSH_ALLOW_PRIVATE"])
    sub_id = subscription_id(req["canonical"], req["callback"])
    if mode == "subscribe" and not _validate(push, req):
        return False
    challenge = secrets.token_urlsafe(32)
    query = {"hub.mode": mode, "hub.topic": req["topic"], "hub.challenge": challenge}
    if mode == "subscribe":
        query["hub.lease_seconds"] = str(req["lease"])
    at = time.time()
    try:
        answer = outbound.request("GET", _with_query(req["callback"], query), allow_private=allow)
        ok = 200 <= answer.status < 300 and answer.body.strip() == challenge.encode()
        why = f"HTTP {answer.status}" + ("" if ok or answer.status >= 300 else ", challenge not echoed")
    except outbound.Refused as exc:
        ok, why = False, str(exc)
    metrics.PUSH_VERIFICATIONS.labels(mode, "verified" if ok else "failed").inc()
    _log_line("verification", req["callback"], mode=mode, outcome="verified" if ok else "failed", why=why,
              subscription=sub_id)
    if not ok:
        return False
    if mode == "unsubscribe":
        push.subs.delete(sub_id)
        return True
    fields = {"topic": req["topic"], "secret": req.get("secret", ""), "lease_seconds": req["lease"],
              "verified": at, "expires": at + req["lease"]}
    if push.subs.update(sub_id, **fields):  # a renewal: the lease and secret change, the position stays
        return True
    digest = ""
    if req["format"] in topics.FULL_FORMATS:
        try:
            digest = topics.render(push.app, req["canonical"]).digest
        except FlickrError:
            pass
    push.subs.put({"id": sub_id, "canonical": req["canonical"], "callback": req["callback"], "watch": req["watch"],
                   "format": req["format"], "position": push.log.head(req["watch"]), "digest": digest,
                   "failures": 0, "next_attempt": 0, "created": at, **fields})
    return True


def _validate(push: Push, req: dict[str, Any]) -> bool:
    """WebSub 5.2, validation: the topic's call must answer. Its watch is primed on the way (the
    photos it shows now are not new). A call the upstream refuses ("Group not found") is denied."""
    known = push.log.watch(req["watch"])
    if known is not None and known["primed"]:
        return True
    try:
        ensure_watch(push, req["watch"], req["method"], req["args"])
    except FlickrError as err:
        if pages.is_answer(err):
            if known is None:
                push.log.forget(req["watch"])
            deny(push, req["callback"], req["topic"], err.message)
            return False
        log.warning("push: the upstream failed while priming %s (%s); the first check primes it",
                    req["canonical"], err.message)
    return True


def deny(push: Push, callback: str, topic: str, reason: str) -> None:
    """WebSub 5.2: tell the callback its subscription is refused (best effort: nothing to retry)."""
    metrics.PUSH_VERIFICATIONS.labels("subscribe", "denied").inc()
    url = _with_query(callback, {"hub.mode": "denied", "hub.topic": topic, "hub.reason": reason[:200]})
    try:
        answer = outbound.request("GET", url, allow_private=bool(push.app.config["PUSH_ALLOW_PRIVATE"]))
        why = f"HTTP {answer.status}"
    except outbound.Refused as exc:
        why = str(exc)
    _log_line("denial", callback, reason=reason[:200], why=why)


# ---------------------------------------------------------------- content distribution


def deliver(push: Push, sub_id: str, retry: bool = False) -> bool:
    """Send a subscription what is new for it (nothing when nothing is); True when more may follow at once."""
    sub = push.subs.get(sub_id)
    now = time.time()
    if sub is None:
        return False
    if sub["expires"] <= now:
        push.subs.delete(sub_id)
        _log_line("expiry", sub["callback"], subscription=sub_id)
        return False
    if not retry and sub.get("next_attempt", 0) > now:
        return False  # failing: its scheduled retry sends everything then
    full = sub["format"] in topics.FULL_FORMATS
    events = []
    if full:
        document = _full_document(push, sub)
        if document.digest == sub.get("digest"):
            return False
    else:
        events = push.log.after(sub["watch"], sub.get("position") or START, BATCH).events
        if not events:
            return False
        document = topics.render(push.app, sub["canonical"], [e.photo for e in reversed(events)])
    headers = {"Content-Type": document.content_type, "Link": document.link}
    if sub.get("secret"):
        signature = hmac.new(sub["secret"].encode(), document.body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature"] = f"sha256={signature}"
    started = time.perf_counter()
    try:
        status, why = outbound.request("POST", sub["callback"], document.body, headers,
                                       allow_private=bool(push.app.config["PUSH_ALLOW_PRIVATE"])).status, ""
    except outbound.Refused as exc:
        status, why = 0, str(exc)
    line = {"subscription": sub_id, "format": sub["format"], "status": status, "photos": len(events),
            "bytes": len(document.body), "attempt": sub.get("failures", 0) + 1,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
    if 200 <= status < 300:
        done = time.time()
        if full:
            push.subs.update(sub_id, digest=document.digest, failures=0, next_attempt=0)
        else:
            push.subs.update(sub_id, position=events[-1].id, failures=0, next_attempt=0)
            for event in events:
                metrics.PUSH_DELIVERY_DELAY.observe(max(0.0, done - event.at))
        metrics.PUSH_DELIVERIES.labels("ok").inc()
        _log_line("delivery", sub["callback"], outcome="ok", **line)
        return not full and push.log.head(sub["watch"]) != events[-1].id
    if status == 410:  # WebSub: Gone ends the subscription
        push.subs.delete(sub_id)
        metrics.PUSH_DELIVERIES.labels("gone").inc()
        _log_line("delivery", sub["callback"], outcome="gone", **line)
        return False
    failures = sub.get("failures", 0) + 1
    if failures >= ATTEMPTS:
        push.subs.delete(sub_id)
        metrics.PUSH_DELIVERIES.labels("abandoned").inc()
        _log_line("delivery", sub["callback"], outcome="abandoned", why=why, **line)
        deny(push, sub["callback"], sub["topic"], f"deliveries failed {failures} times")
        return False
    delay = push.app.config["PUSH_RETRY_DELAY"] * 2 ** (failures - 1)
    push.subs.update(sub_id, failures=failures, next_attempt=now + delay)
    push.tasks.deliver.schedule(args=(sub_id, True), delay=delay)
    metrics.PUSH_DELIVERIES.labels("failed").inc()
    _log_line("delivery", sub["callback"], outcome="failed", why=why, retry_in=delay, **line)
    return False


def _full_document(push: Push, sub: dict) -> topics.Document:
    """The topic's whole current document, rendered once per state of its watch (all the topic's
    subscribers are delivered after the same check: one upstream call for all of them, not one each)."""
    info = push.log.watch(sub["watch"]) or {}
    key = (sub["canonical"], info.get("state", ""))
    document = push.documents.get(key)
    if document is None:
        document = topics.render(push.app, sub["canonical"])
        if key[1]:
            while len(push.documents) >= DOCUMENTS:
                push.documents.pop(next(iter(push.documents)))
            push.documents[key] = document
    return document


def _log_line(event: str, callback: str, **fields: Any) -> None:
    """One JSON line in the access log's style; the callback's host only (its path and query may
    be a capability URL), never the secret."""
    ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    host = urlsplit(callback).hostname or ""
    log.info(json.dumps({"ts": ts, "event": event, "callback_host": host, **fields}, separators=(",", ":")))
