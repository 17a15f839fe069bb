"""The /services/rest/ endpoint (placeholder)."""


def init_app(app):
    pass
