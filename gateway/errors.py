"""FlickrError and the codes the gateway itself answers with (SPEC section 5)."""

from __future__ import annotations

import re

# Codes the gateway raises on its own; upstream codes (1-99) pass through.
INVALID_API_KEY = 100
SERVICE_UNAVAILABLE = 105
FORMAT_NOT_FOUND = 111
METHOD_NOT_FOUND = 112
BAD_URL = 116

_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


class FlickrError(Exception):
    """A failure with Flickr's code and message, and the HTTP status a feed format answers with."""

    def __init__(self, code: int, message: str, status: int = 400, retry_after: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code = int(code)
        self.message = message
        self.status = status
        self.retry_after = retry_after


def unavailable(retry_after: int = 60) -> FlickrError:
    return FlickrError(SERVICE_UNAVAILABLE, "Service currently unavailable", 503, retry_after)


def header_value(text: str) -> str:
    """A header-safe rendering: one line of printable ASCII, at most 200 characters.

    Non-ASCII characters are escaped as \\uXXXX rather than dropped so that
    the message stays readable; CR/LF never survive.
    """
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    return _UNPRINTABLE.sub(" ", escaped)[:200]
