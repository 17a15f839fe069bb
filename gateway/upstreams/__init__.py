"""UPSTREAMS: where photos come from, chosen by GATEWAY_UPSTREAM."""

from __future__ import annotations

from flask import Flask, current_app

from .base import Upstream


def init_app(app: Flask) -> None:
    # Imported here so that the flickr upstream's dependencies load only when used.
    from . import library

    upstreams = {"library": library.create}
    if app.config["UPSTREAM"] == "flickr":
        from . import flickr

        upstreams["flickr"] = flickr.create
    try:
        create = upstreams[app.config["UPSTREAM"]]
    except KeyError:
        raise ValueError(f"GATEWAY_UPSTREAM must be 'library' or 'flickr', got {app.config['UPSTREAM']!r}") from None
    app.extensions["gateway.upstream"] = create(app)


def get() -> Upstream:
    return current_app.extensions["gateway.upstream"]


def data_version(upstream: object) -> tuple[int, int]:
    """The upstream's (version, last change time), (0, 0) for one without a data version."""
    read = getattr(upstream, "data_version", None)
    return read() if read is not None else (0, 0)
