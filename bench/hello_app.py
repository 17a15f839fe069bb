"""The yardstick: a minimal Flask "hello world", served by the same gunicorn settings as the gateway."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
