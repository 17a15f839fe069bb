"""FlickrError and the codes the gateway itself answers with (SPEC section 5)."""

from __future__ import annotations

import re

# Codes the gateway raises on its own; upstream codes (1-99) pass through.
INVALID_API_KEY = 100
SERVICE_UNAVAILABLE = 105
FORMAT_NOT_FOUND = 111
METHOD_NOT_FOUND = 112
BAD_URL = 116
# Flickr has no code for "too many requests"; the gateway answers its client
# limit with the HTTP status as the code, so the two read the same.
RATE_LIMITED = 429

_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


class FlickrError(Exception):
    """A failure with Flickr's code and message, and the HTTP status a feed format answers with."""

    def __init__(self, code: int, message: str, status: int = 400, retry_after: int | None = None,
                 kind: str = ""):
        super().__init__(f"{code}: {message}")
        self.code = int(code)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        # Why an upstream failed (timeout, budget, ...), for the metrics; never shown to the client.
        self.kind = kind


def unavailable(retry_after: int = 60, kind: str = "unavailable") -> FlickrError:
    return FlickrError(SERVICE_UNAVAILABLE, "Service currently unavailable", 503, retry_after, kind)


def header_value(text: str) -> str:
    """A header-safe rendering: one line of printable ASCII, at most 200 characters.

    Non-ASCII characters are escaped as \\uXXXX rather than dropped so that
    the message stays readable; CR/LF never survive.
    """
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    return _UNPRINTABLE.sub(" ", escaped)[:200]
