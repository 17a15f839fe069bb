"""The access log line: one JSON object a request, on the `gateway.access` logger (access.py calls it).

    {"ts":"2026-05-01T12:00:00.123Z","request_id":"4f1c…","remote":"203.0.113.9","method":"GET",
     "path":"/services/rest/","query":"method=flickr.photos.search&tags=sunset&format=feed-atom_10",
     "flickr_method":"flickr.photos.search","format":"feed-atom_10","status":200,"error_code":null,
     "cache":"miss","upstream_ms":412.3,"duration_ms":431.9,"bytes":48213,"agent":"FreshRSS/1.24"}

The line is written for every request, cached hits included, so it is built
as one f-string (each text field through the json module's C escaper) rather
than a dict through json.dumps, and, while the logger has only the gateway's
own stderr handler, written with one os.write() of the whole line instead of
a LogRecord, a handler lock and a formatter. The text is the same JSON either
way (ASCII, compact). A line is at most LINE_MAX bytes, under the 4,096 that
POSIX writes to a pipe in one piece, so the lines of the threads, greenlets
and worker processes sharing stderr never mix.

The query is logged without the caller's credentials in any spelling:
`api_key`, `api%5Fkey`, `%61pi_key`, repeated, `api_sig`, `auth_token`,
`oauth_*`, … (a POST body is never logged). The gateway's own Flickr key and
secret never travel in a request, so they cannot reach this line.
"""

from __future__ import annotations

import io
import logging
import os
import re
import select
import sys
import time
from json.encoder import encode_basestring_ascii as _json_string
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, unquote_plus, urlencode

if TYPE_CHECKING:
    from .access import Observation

log = logging.getLogger("gateway.access")
# Names of the caller's credentials, as substrings of an argument's decoded, lower-cased name:
# a name that merely contains one (api_key2, my_oauth_token) is dropped too, which costs nothing.
CREDENTIALS = ("api_key", "api_sig", "auth_token", "perms", "frob", "oauth_")
QUERY_MAX, PATH_MAX, AGENT_MAX = 2000, 500, 200
LINE_MAX = 4000


def is_credential(name: str) -> bool:
    """Whether an argument name (decoded) may carry a caller's credential, in any spelling the
    gateway reads as one (`amp;api_key` on the .gne feeds) or a caller may have meant (API_KEY)."""
    name = name.lower()
    return any(word in name for word in CREDENTIALS)


def loggable_query(query: str) -> str:
    """The query string without the caller's credentials, at most QUERY_MAX characters."""
    if "%" not in query and "+" not in query:  # no escape or "+" that may hide a name
        lowered = query.lower()
        # "api_" holds api_key and api_sig, "auth_" auth_token and oauth_* (0.3 µs; a regex takes 4).
        if "api_" not in lowered and "auth_" not in lowered and "perms" not in lowered and "frob" not in lowered:
            return query[:QUERY_MAX]
    kept = []
    for part in query.split("&"):
        name = part.partition("=")[0]
        if not is_credential(unquote_plus(name)):
            kept.append(part)
    if len(kept) == query.count("&") + 1:
        return query[:QUERY_MAX]
    # Re-encoded from the kept pairs, so what is left is what the endpoint parsed.
    return urlencode(parse_qsl("&".join(kept), keep_blank_values=True))[:QUERY_MAX]


_PAIR = re.compile(r"([^\s&?'\"=]+)=([^\s&'\"]*)")


def redact(text: str) -> str:
    """Free text (a server's log line quoting a request) with every credential's value taken out."""
    return _PAIR.sub(lambda m: f"{m[1]}=[redacted]" if is_credential(unquote(m[1])) else m[0], text)


class CredentialFilter(logging.Filter):
    """Takes credentials out of log lines the gateway does not write itself: gunicorn quotes a
    request line it cannot parse whole (a control byte in the query), a client's api_key with it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        text = (unquote(message) if "%" in message else message).lower()
        if any(word in text for word in CREDENTIALS):
            record.msg, record.args = redact(message), None
        return True


def _fit(text: str, limit: int) -> str:
    """`text` as a JSON string of at most limit + 2 characters (escapes can make it up to 6x longer)."""
    out = _json_string(text[:limit])
    while len(out) > limit + 2:
        limit //= 2
        out = _json_string(text[:limit])
    return out


_second: tuple[int, str] = (0, "")


def _timestamp() -> str:
    """Now, ISO 8601 in UTC with milliseconds; the part up to the second is made once a second."""
    global _second
    now = time.time()
    whole = int(now)
    second = _second
    if second[0] != whole:
        second = _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{second[1]}.{int((now - whole) * 1000):03d}Z"


def log_line(environ: dict, obs: Observation, seconds: float) -> str:
    """The request's JSON line (without a newline)."""
    get = environ.get
    error = "null" if obs.error_code is None else int(obs.error_code)
    # request_id is hex or matched access.REQUEST_ID (no character JSON escapes); cache is a fixed word.
    # Short fields are escaped whole: even all escapes (6 characters each) they keep the line under LINE_MAX.
    return (f'{{"ts":"{_timestamp()}","request_id":"{obs.request_id}",'
            f'"remote":{_json_string(get("REMOTE_ADDR", "")[:45])},'
            f'"method":{_json_string(get("REQUEST_METHOD", "")[:16])},"path":{_fit(get("PATH_INFO", ""), PATH_MAX)},'
            f'"query":{_fit(loggable_query(get("QUERY_STRING", "")), QUERY_MAX)},'
            f'"flickr_method":{_json_string(obs.flickr_method[:40])},"format":{_json_string(obs.format[:20])},'
            f'"status":{int(obs.status)},"error_code":{error},"cache":"{obs.cache}",'
            f'"upstream_ms":{round(obs.upstream_ms, 1)},"duration_ms":{round(seconds * 1000, 1)},'
            f'"bytes":{int(obs.bytes)},"agent":{_fit(get("HTTP_USER_AGENT", ""), AGENT_MAX)}}}')


def emit(line: str) -> None:
    """Write the line: straight to stderr while the logger has only our handler, else through logging."""
    handlers = log.handlers
    if len(handlers) != 1 or handlers[0] is not _own or log.filters:
        log.info(line)
        return
    data = (line + "\n").encode()
    stream = sys.stderr
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):  # a stream without a file (pytest's capsys)
        stream.write(line + "\n")
        return
    for _ in range(100):  # one write, unless interrupted or stderr is non-blocking and full
        try:
            data = data[os.write(fd, data):]
        except BlockingIOError:
            select.select([], [fd], [], 0.1)  # a cooperative wait under gevent
            continue
        if not data:
            return
    raise OSError("the access log could not be written for 10 s")


class _Stderr(logging.StreamHandler):
    """A handler that writes to whatever sys.stderr is at the time (pytest swaps it per test)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


_own: logging.Handler | None = None  # the handler install() added


def install() -> None:
    """Give the access log somewhere to go: stderr, one JSON object a line.

    Unless the operator has configured the `gateway.access` logger (a handler
    of their own): then it is left alone, and lines go through logging. It
    does not propagate to the root logger, so gunicorn's or the operator's
    root handlers do not print each line twice.
    """
    global _own
    if not log.handlers:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        _own = handler
