"""`flask --app wsgi library ...` commands (placeholder until the library lands)."""


def init_app(app):
    pass
