"""The hub URL (WebSub section 5.1): POST /push/hub with hub.mode, hub.topic, hub.callback,
hub.lease_seconds and hub.secret.

    202 Accepted   the request is queued; verification of intent follows (jobs.verify)
    400            a malformed request: the reason as text/plain
    403            GATEWAY_API_KEYS is set and the request names no valid api_key
    GET            200: a line saying what this URL is
    503            the job queue cannot be reached (nothing was queued)

The answer never depends on the verification (it happens afterwards, in the
consumer). Unknown hub.* parameters are ignored, as WebSub requires.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, request

from ..api import HUB_PATH
from . import get, outbound, topics

log = logging.getLogger("gateway.push")
bp = Blueprint("push_hub", __name__)
MAX_SECRET = 200  # bytes; WebSub: hub.secret MUST be less than 200 bytes


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _text(message: str, status: int) -> Response:
    return Response(message + "\n", status, content_type="text/plain; charset=utf-8")


class BadRequest(Exception):
    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.status = status


@bp.route(HUB_PATH, methods=["GET", "POST"])
def hub() -> Response:
    if request.method != "POST":
        # A person (or a link checker) following the hub link from a feed gets what it is.
        return _text("This is the WebSub hub of this gateway's feeds: POST hub.mode=subscribe|unsubscribe, "
                     "hub.topic (a feed URL of this gateway), hub.callback, and optionally hub.lease_seconds and "
                     "hub.secret (docs/push.md).", 200)
    try:
        req = subscription_request(request.form)
    except BadRequest as exc:
        return _text(str(exc), exc.status)
    try:
        get().tasks.verify(req)
    except Exception:  # the queue's storage failed: nothing is queued, say so
        log.exception("push: the job queue cannot be reached")
        response = _text("The hub cannot take subscriptions right now; try again later.", 503)
        response.headers["Retry-After"] = "60"
        return response
    return _text(f"Accepted: the hub will verify this {req['mode']} request with the callback.", 202)


def subscription_request(form) -> dict:
    """The checked request as the verify job takes it; BadRequest with the reason otherwise."""
    config = current_app.config
    keys = config["API_KEYS"]
    if keys and (form.get("api_key") or request.args.get("api_key")) not in keys:
        raise BadRequest("Invalid API Key: this gateway needs api_key (as a form parameter of the hub "
                         "request, or in the hub URL's query)", 403)
    mode = form.get("hub.mode", "")
    if mode not in ("subscribe", "unsubscribe"):
        if mode == "publish":
            raise BadRequest("hub.mode=publish is not needed: this hub publishes its own topics by itself")
        raise BadRequest("hub.mode must be subscribe or unsubscribe")
    callback = form.get("hub.callback", "")
    if not callback:
        raise BadRequest("hub.callback is missing")
    reason = outbound.check_url(callback)
    if reason:
        raise BadRequest(reason)
    host = urlsplit(callback).hostname or ""
    if not config["PUSH_ALLOW_PRIVATE"] and outbound.literal_private(host):
        raise BadRequest("hub.callback is a loopback, private or link-local address, which this hub does not call")
    given = form.get("hub.topic", "")
    if not given:
        raise BadRequest("hub.topic is missing")
    try:
        topic = topics.resolve(current_app._get_current_object(), given, request.host)
    except topics.TopicError as exc:
        raise BadRequest(str(exc)) from None
    secret = form.get("hub.secret", "")
    if len(secret.encode("utf-8")) >= MAX_SECRET:
        raise BadRequest(f"hub.secret must be less than {MAX_SECRET} bytes")
    return {"mode": mode, "topic": given, "canonical": topic.canonical, "callback": callback, "watch": topic.watch,
            "method": topic.method, "args": dict(topic.args), "format": topic.format,
            "lease": _lease(form.get("hub.lease_seconds", ""), mode), "secret": secret}


def _lease(text: str, mode: str) -> int:
    """The lease granted: the one asked (a positive whole number of seconds) within the hub's bounds."""
    config = current_app.config
    if not text.strip() or mode == "unsubscribe":  # WebSub: ignored for unsubscription
        wanted = config["PUSH_LEASE_DEFAULT"]
    else:
        try:
            wanted = int(text.strip())
        except ValueError:
            raise BadRequest("hub.lease_seconds must be a positive whole number of seconds") from None
        if wanted <= 0:
            raise BadRequest("hub.lease_seconds must be a positive whole number of seconds")
    return max(config["PUSH_LEASE_MIN"], min(config["PUSH_LEASE_MAX"], wanted))
