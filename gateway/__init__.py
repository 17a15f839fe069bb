"""Flickr feed-format gateway: any standard photos response as a feed."""

from __future__ import annotations

from flask import Flask

from . import config


def create_app(test_config: dict | None = None) -> Flask:
    """The WSGI app: settings from GATEWAY_* variables (or test_config), then each part's init_app."""
    app = Flask(__name__, instance_relative_config=True, template_folder="../templates")
    app.config.from_mapping(config.defaults())
    app.config.from_prefixed_env("GATEWAY")
    if test_config:
        app.config.from_mapping(test_config)
    config.coerce(app.config)

    from . import api, cache, cli, images, upstreams

    upstreams.init_app(app)
    cache.init_app(app)
    api.init_app(app)
    images.init_app(app)
    cli.init_app(app)

    from . import pages  # the feed builder page at /

    pages.init_app(app)
    return app
