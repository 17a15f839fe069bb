"""Flickr feed-format gateway: any standard photos response as a feed."""

from __future__ import annotations

import re

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config


def create_app(test_config: dict | None = None) -> Flask:
    """The WSGI app: settings from GATEWAY_* variables (or test_config), then each part's init_app."""
    app = Flask(__name__, instance_relative_config=True, template_folder="../templates")
    app.config.from_mapping(config.defaults())
    app.config.from_prefixed_env("GATEWAY")
    if test_config:
        app.config.from_mapping(test_config)
    config.coerce(app.config)

    from . import api, cache, cli, feeds, images, limits, ops, push, upstreams

    upstreams.init_app(app)
    cache.init_app(app)
    limits.init_app(app)
    api.init_app(app)
    feeds.init_app(app)  # Flickr's public feed URLs, translated into API calls
    images.init_app(app)
    ops.init_app(app)
    push.init_app(app)
    cli.init_app(app)

    from . import pages  # the feed builder page at /
    from .pages import library as library_pages  # the pages of local photos, their owners and sets

    pages.init_app(app)
    library_pages.init_app(app)
    _middleware(app)
    return app


def _middleware(app: Flask) -> None:
    """The WSGI stack around Flask, outermost first:

        ProxyFix   only with GATEWAY_PROXY_HOPS > 0: the client's address, scheme and host from the
                   trusted proxy's X-Forwarded-* (then _ForwardedChecked: only an http(s) scheme
                   and a path prefix start links)
        CORS       Access-Control-* headers on every answer of the endpoint, refusals included
        Access     raw input made parseable, the per-client limit, request id, log line, metrics
        FastHits   a repeated request answered from the cache without Flask (cache/http.py)
        Flask
    """
    from . import access, cors
    from .cache import http as hits

    hits.install(app)
    access.install(app)
    cors.install(app)
    hops = app.config["PROXY_HOPS"]
    if hops > 0:
        # Links (self, network link) must name the host the client used, not gunicorn's socket,
        # and the client limit must see the client's address, not the proxy's.
        app.wsgi_app = ProxyFix(_ForwardedChecked(app.wsgi_app), x_for=hops, x_proto=hops, x_host=hops,
                                x_port=hops, x_prefix=hops)


# A path prefix as a proxy mounts an app: "/" and segments of URL path characters.
_PREFIX = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+")


class _ForwardedChecked:
    """What ProxyFix took from X-Forwarded-Proto and -Prefix, kept only when it can start a feed's links.

    A proxy passes on the headers it does not set itself (X-Forwarded-Prefix, often -Proto), so
    a client could make every link `javascript://…`, or a prefix Werkzeug cannot even build a
    URL from (`javascript:alert(1)//` was a 503 and a traceback). Anything else is dropped:
    the scheme and prefix are then the proxy's own connection's. (Hosts: api.readable_host.)
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        orig = environ.get("werkzeug.proxy_fix.orig", {})
        scheme = environ.get("wsgi.url_scheme", "http").lower()
        environ["wsgi.url_scheme"] = scheme if scheme in ("http", "https") else orig.get("wsgi.url_scheme", "http")
        prefix = environ.get("SCRIPT_NAME", "")
        if prefix and not _PREFIX.fullmatch(prefix):
            environ["SCRIPT_NAME"] = orig.get("SCRIPT_NAME", "")
        return self.wsgi_app(environ, start_response)
