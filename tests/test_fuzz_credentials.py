"""Fuzzing how a caller's credentials are spelled (issue 17): api_key, api_sig, auth_token, oauth_*, perms
and frob, with any of their characters percent-escaped (`api%5Fkey`, `%61pi_key`), repeated, in the
query or in a POST body. The gateway must accept them as Flickr would (an escaped api_key is still the
key), and no value may reach an access-log line, another log record, /metrics or a link of the answer
(the one exception the contract makes, SPEC 6: the caller's own api_key in the links of the answer to
that caller that a machine follows, such as paging links and feed-kml_nl's network link).
"""

from __future__ import annotations

import itertools
import logging
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import count_cases
from werkzeug.test import EnvironBuilder, run_wsgi_app

from gateway import accesslog, create_app

KEY = "CALLERKEY" + "7" * 23  # the one key GATEWAY_API_KEYS accepts
NAMES = ["api_key", "api_sig", "auth_token", "perms", "frob", "oauth_token", "oauth_signature", "oauth_consumer_key"]
FORMATS = ["feed-atom_10", "feed-rss_200", "feed-geojson", "feed-kml_nl", "rest", "json"]
SERIAL = itertools.count()


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage())


@pytest.fixture(scope="module")
def app(recorded_library):
    return create_app({"LIBRARY_PATH": recorded_library.path, "API_KEYS": KEY, "DEMO": 0})


@pytest.fixture(scope="module")
def logs():
    handler = Records()
    loggers = [logging.getLogger(), logging.getLogger("gateway.access")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.texts
    for logger in loggers:
        logger.removeHandler(handler)


@st.composite
def spelling(draw, name: str) -> str:
    """`name` with some of its characters percent-escaped, in upper- or lower-case hex."""
    out = []
    for char in name:
        how = draw(st.sampled_from(["plain", "plain", "upper", "lower"]))
        out.append(char if how == "plain" else (f"%{ord(char):02X}" if how == "upper" else f"%{ord(char):02x}"))
    return "".join(out)


@st.composite
def calls(draw) -> dict:
    n = next(SERIAL)
    secrets = []
    pairs = [("method", "flickr.photos.search"), ("tags", "sunset"), ("format", draw(st.sampled_from(FORMATS)))]
    if draw(st.booleans()):
        pairs.append(("api_key", KEY))  # plainly, or (below) spelled another way
    for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4)):
        value = KEY if name == "api_key" else f"SECRET{n}x{len(secrets)}{name[:3]}"
        secrets.append(value)
        pairs.insert(draw(st.integers(0, len(pairs))), (draw(spelling(name)), quote(value)))
    in_body = draw(st.booleans())
    return {"pairs": pairs, "post": in_body, "secrets": [s for s in secrets if s != KEY],
            "api_key": any(v == KEY for _, v in pairs)}


def ask(app, call: dict) -> tuple[int, dict, bytes]:
    text = "&".join(f"{k}={v}" for k, v in call["pairs"])
    if call["post"]:
        environ = EnvironBuilder(path="/services/rest/", method="POST", data=text.encode(),
                                 content_type="application/x-www-form-urlencoded").get_environ()
    else:
        environ = EnvironBuilder(path="/services/rest/").get_environ()
        environ["QUERY_STRING"] = text
    body_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
    return int(status[:3]), dict(headers), b"".join(body_iter)


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(call=calls())
def test_credentials_in_any_spelling_reach_no_log_metric_or_link(app, logs, call):
    count_cases("fuzz: credential spellings")
    del logs[:]
    status, headers, body = ask(app, call)
    if call["api_key"]:  # however it was spelled, the key was read as the key
        assert headers.get("X-FlickrErrCode") != "100", call
    else:
        assert headers.get("X-FlickrErrCode") == "100", call
    assert status in (200, 400), body[:300]
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    answer = body.decode("utf-8", "replace") + repr(headers)
    line = [t for t in logs if '"request_id"' in t]
    assert len(line) >= 1
    for secret in [*call["secrets"], KEY]:
        assert not [t for t in logs if secret in t], (secret, logs)
        assert secret not in metrics
        if secret == KEY:
            continue  # SPEC 6: the caller's own key, in the links a machine follows (paging, network link)
        assert secret not in answer, (secret, call)


@pytest.mark.parametrize("query, kept", [
    ("method=m&api%5Fkey=S&tags=a", "method=m&tags=a"),
    ("api_key=S&api_key=T&format=rest", "format=rest"),
    ("%61pi_key=S&%6fauth_token=T", ""),
    ("tags=api_key&x=1", "tags=api_key&x=1"),  # a credential's name as a value is no credential
    ("method=m&tags=a+b%2Cc", "method=m&tags=a+b%2Cc"),  # left as sent when nothing is dropped
    ("AUTH%5FTOKEN=S&tags=a", "tags=a"),
])
def test_the_logged_query_drops_every_spelling(query, kept):
    assert accesslog.loggable_query(query) == kept


@settings(deadline=None, max_examples=300)
@given(fields=st.fixed_dictionaries({
    "REMOTE_ADDR": st.text(max_size=80), "REQUEST_METHOD": st.text(max_size=30), "PATH_INFO": st.text(max_size=900),
    "QUERY_STRING": st.text(max_size=3000), "HTTP_USER_AGENT": st.text(max_size=400)}),
    code=st.none() | st.integers(0, 999), upstream_ms=st.floats(0, 1e6), seconds=st.floats(0, 1e4))
def test_the_log_line_is_json_and_fits_one_pipe_write(fields, code, upstream_ms, seconds):
    """The line is built by hand (an f-string, not json.dumps): whatever the request holds, it must
    parse as the JSON object json.dumps would have written, be ASCII, and stay under 4,096 bytes."""
    import json

    from gateway.access import Observation

    count_cases("fuzz: access log lines")
    obs = Observation("f" * 32, "flickr.photos.search", "feed-rss_200", "fast", upstream_ms, 200, code, 1234)
    line = accesslog.log_line(fields, obs, seconds)
    assert line.isascii() and len(line.encode()) <= accesslog.LINE_MAX
    parsed = json.loads(line)
    assert list(parsed) == ["ts", "request_id", "remote", "method", "path", "query", "flickr_method", "format",
                            "status", "error_code", "cache", "upstream_ms", "duration_ms", "bytes", "agent"]
    assert parsed["error_code"] == code and parsed["upstream_ms"] == round(upstream_ms, 1)
    assert parsed["duration_ms"] == round(seconds * 1000, 1)
    for key, name in (("remote", "REMOTE_ADDR"), ("method", "REQUEST_METHOD"), ("path", "PATH_INFO"),
                      ("agent", "HTTP_USER_AGENT")):
        assert fields[name].startswith(parsed[key])  # cut, never altered
    if not any(c in fields["QUERY_STRING"].lower() for c in ("%", "+", "api_key", "oauth_", "auth_token",
                                                               "api_sig", "perms", "frob")):
        assert fields["QUERY_STRING"].startswith(parsed["query"])
