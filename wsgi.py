"""WSGI entry point: gunicorn wsgi:app, flask --app wsgi ..."""

from gateway import create_app

app = create_app()
