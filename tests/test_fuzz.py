"""Fuzzing the whole gateway (issue 7) with hypothesis: the query string (and a few headers) of
requests to the library of recorded responses and to Flickr on the replay server, and the text
of the photos an upstream returns.

For every answer:
- no 5xx but 503;
- every 4xx carries X-FlickrErrCode and X-FlickrErrMessage (SPEC 5 asks it of the feed formats;
  the gateway's other 4xx answers, 413/414/429, carry them too);
- every 200 reads with its format's consumer (consumers.py);
- no header holds CR or LF;
- the gateway's Flickr key and secret appear in no response and no log line.

Requests are built as raw WSGI environs, so the query can hold bytes no client library would
send (invalid UTF-8, bare %, NUL). The number of cases tried is printed at the end of the run.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import logging
from collections import Counter
from urllib.parse import quote

import pytest
from consumers import assert_readable
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from replay import Replay
from support import INDEX, FakeUpstream, count_cases
from werkzeug.test import EnvironBuilder, run_wsgi_app

from gateway import create_app
from gateway.formats import FORMATS
from gateway.methods import KNOWN_OTHER, METHODS
from gateway.model import parse_json

KEY, SECRET = "FUZZKEY" + "k" * 25, "FUZZSECRET" + "s" * 6
STATUSES: Counter[int] = Counter()  # every status the fuzzed requests got
NONCE = itertools.count()
# No "explain" phase: it reruns a failure hundreds of times to annotate it, a minute per failure.
FUZZ = settings(deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])

# ---------------------------------------------------------------- what requests are made of

ARG_NAMES = ["method", "format", "tags", "tag_mode", "text", "user_id", "group_id", "photoset_id", "gallery_id",
             "bbox", "lat", "lon", "radius", "radius_units", "accuracy", "page", "per_page", "extras", "size",
             "jsoncallback", "nojsoncallback", "api_key", "sort", "license", "media", "has_geo", "date",
             "min_upload_date", "max_taken_date", "panda_name", "tag", "cluster_id", "oauth_token", "api_sig"]
GOOD_VALUES = ["flickr.photos.search", "feed-rss_200", "feed-kml", "json", "rest", "1", "0", "-1", "15", "500",
               "99999999999999999999999", "1e309", "nan", "-180,-90,180,90", "0,0,1,1", "sunset", "botany,-sunset",
               "31849566@N00", "32162360@N00", "72157624715342071", "geo,tags,description,junk", "z", "o", "cb",
               "2023-07-01", "2023-07-01 12:00:00", "relevance", "all", "videos", "ling ling", "me"]
JUNK = [b"%", b"%zz", b"%ff%fe", b"%00", b"%0d%0a", b"+", b"=", b"&&", b";", b"%e2%82", b"%ed%a0%80", b"\x00",
        b"\xff\xfe", b"\xc3\x28", b"==&=", b"%%%", b"a=%", b"format", b"method=", b"\t", b" ", b"\x7f"]
CALLS = [{"method": e["method"], **{k: v for k, v in e["params"].items() if k not in ("extras", "per_page")}}
         for e in INDEX if e["method"] in METHODS]
METHOD_NAMES = sorted(METHODS) + sorted(KNOWN_OTHER)[:5] + ["flickr.nope", "", "FLICKR.PHOTOS.SEARCH"]
FORMAT_NAMES = sorted(FORMATS) + ["feed-lolcat", "", "FEED-RSS_200", "feed-rss_200\r\nX-Evil: 1"]

text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=40)  # surrogates and controls included
name = st.one_of(st.sampled_from(ARG_NAMES), text)
value = st.one_of(st.sampled_from(GOOD_VALUES), text, st.integers().map(str),
                  st.integers(1000, 9000).map(lambda n: "x" * n))  # long values: some queries pass 8 KB


def encode(s: str) -> bytes:
    return quote(s.encode("utf-8", "surrogatepass"), safe="").encode("ascii")


@st.composite
def pair(draw) -> bytes:
    key = draw(name)
    if key == "method":
        val = draw(st.one_of(st.sampled_from(METHOD_NAMES), value))
    elif key == "format":
        val = draw(st.one_of(st.sampled_from(FORMAT_NAMES), value))
    else:
        val = draw(value)
    return encode(key) + b"=" + encode(val)


segment = st.one_of(pair(), pair(), st.sampled_from(JUNK), st.binary(max_size=12))


@st.composite
def queries(draw) -> bytes:
    """A recorded call (so that 200s happen) with a format, fuzz before it (it wins) and after it."""
    call = dict(draw(st.sampled_from(CALLS)))
    call["format"] = draw(st.sampled_from(FORMAT_NAMES[:len(FORMATS)]))
    base = [encode(k) + b"=" + encode(v) for k, v in call.items()]
    before = draw(st.lists(segment, max_size=3))
    after = draw(st.lists(segment, max_size=6))
    if draw(st.booleans()):
        before = []  # half the cases are the call itself with extra arguments after it
    return b"&".join(before + base + after)


header_text = st.text(alphabet=st.characters(max_codepoint=255, blacklist_characters="\r\n"), max_size=60)
HEADERS = ["HTTP_HOST", "HTTP_X_REQUEST_ID", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_ACCEPT_ENCODING",
           "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_FOR", "HTTP_AUTHORIZATION"]


@st.composite
def requests_(draw) -> dict:
    return {"verb": draw(st.sampled_from(["GET", "GET", "GET", "HEAD", "POST"])), "query": draw(queries()),
            "headers": draw(st.dictionaries(st.sampled_from(HEADERS), header_text, max_size=2))}


# ---------------------------------------------------------------- running one and checking it


def call(app, verb: str, query: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    environ = EnvironBuilder(path="/services/rest/", method=verb).get_environ()
    environ.update(headers)
    if verb == "POST":
        environ.update({"wsgi.input": io.BytesIO(query), "CONTENT_LENGTH": str(len(query)),
                        "CONTENT_TYPE": "application/x-www-form-urlencoded"})
    else:
        environ["QUERY_STRING"] = query.decode("latin-1")  # as a WSGI server hands the bytes over
    app_iter, status, header_list = run_wsgi_app(app, environ, buffered=True)
    body = b"".join(app_iter)
    for key, val in header_list:
        assert "\r" not in key + val and "\n" not in key + val, (key, val)
    return int(status[:3]), dict(header_list), body


def check(status: int, headers: dict[str, str], body: bytes, verb: str) -> None:
    STATUSES[status] += 1
    assert status < 500 or status == 503, (status, body[:300])
    if 400 <= status < 500 or status == 503:
        assert headers.get("X-FlickrErrCode", "").lstrip("-").isdigit() and headers.get("X-FlickrErrMessage")
    if status == 200 and verb != "HEAD":
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        assert_readable(headers["Content-Type"], body)
        assert b"http:///" not in body  # every absolute link names a host
    for text_ in (body.decode("utf-8", "replace"), json.dumps(headers)):
        assert KEY not in text_ and SECRET not in text_


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage() + (logging.Formatter().formatException(record.exc_info)
                                                 if record.exc_info else ""))


@pytest.fixture(scope="module", autouse=True)
def logs():
    """Every log record of the module; at the end, none holds the secret."""
    handler = Records()
    loggers = [logging.getLogger(), logging.getLogger("gateway.access")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.texts
    for logger in loggers:
        logger.removeHandler(handler)
    assert not [t for t in handler.texts if KEY in t or SECRET in t]


# ---------------------------------------------------------------- the apps


@pytest.fixture(scope="module")
def library_app(recorded_library):
    return create_app({"LIBRARY_PATH": recorded_library.path})


@pytest.fixture(scope="module")
def flickr_app(tmp_path_factory):
    with Replay() as server:
        app = create_app({"UPSTREAM": "flickr", "FLICKR_API_KEY": KEY, "FLICKR_API_SECRET": SECRET,
                          "FLICKR_REST_URL": server.url, "UPSTREAM_TIMEOUT": 2, "UPSTREAM_RATE": 0,
                          "API_KEYS": "", "LIBRARY_PATH": str(tmp_path_factory.mktemp("f") / "l.sqlite")})
        yield app
        app.extensions["gateway.upstream"].close()


# ---------------------------------------------------------------- the query string


@settings(FUZZ, max_examples=1500)
@given(request=requests_())
def test_fuzzed_requests_to_the_library(library_app, request):
    count_cases("fuzz: requests to the library")
    check(*call(library_app, request["verb"], request["query"], request["headers"]), request["verb"])


@settings(FUZZ, max_examples=1000)
@given(request=requests_())
def test_fuzzed_requests_to_flickr(flickr_app, request):
    count_cases("fuzz: requests to Flickr (replay)")
    check(*call(flickr_app, request["verb"], request["query"], request["headers"]), request["verb"])


def test_the_fuzzers_reached_every_kind_of_answer():
    """A guard on the strategies above (run after them): successes and each kind of refusal happened."""
    if not STATUSES:
        pytest.skip("counts the answers of the fuzz tests above; run with them")
    assert {200, 400, 414} <= set(STATUSES), STATUSES


# ---------------------------------------------------------------- the photos' text

attr_text = st.one_of(text, st.sampled_from(["", "0", "-1", "1e999", "nan", "NaN", "<b>&amp;</b>", "]]>",
                                             "javascript:alert(1)", "\ud800", "\x00", "9" * 40]))
html = st.one_of(attr_text, st.sampled_from([
    '<script>alert(1)</script><a href="javascript:alert(1)" onclick="x()">x</a>',
    '<img src=x onerror=alert(1)><p>ok</p><iframe src="https://evil"></iframe>',
    "<![CDATA[ ]]> ]]> <!-- --> <?xml version='1.0'?> &nbsp; &bogus; &#0; &#xD800;",
    "<div><ul><li>list<blockquote>q</blockquote></li></ul></div><style>x{}</style>",
]))


@st.composite
def hostile_photos(draw) -> dict:
    """One <photo> as Flickr's JSON sends it, every value hostile."""
    photo = {k: draw(attr_text) for k in ("id", "owner", "secret", "server", "title", "ownername", "realname",
                                          "pathalias", "iconserver", "datetaken", "license", "tags",
                                          "machine_tags", "media", "views", "originalsecret", "originalformat",
                                          "dateupload", "lastupdate", "latitude", "longitude", "accuracy")}
    photo["id"] = photo["id"] or "1"
    photo["description"] = {"_content": draw(html)}
    for size in draw(st.lists(st.sampled_from(["sq", "t", "m", "z", "b", "h", "k", "o"]), max_size=3)):
        photo[f"url_{size}"] = draw(st.one_of(attr_text, st.just("https://live.staticflickr.com/1/1_a.jpg?a=1&b=2")))
        photo[f"width_{size}"] = draw(attr_text)
    if draw(st.booleans()):
        photo.update(latitude=str(draw(st.floats(-90, 90))), longitude=str(draw(st.floats(-180, 180))),
                     accuracy=str(draw(st.integers(0, 16))))
    return photo


@pytest.fixture(scope="module")
def photo_app(tmp_path_factory):
    upstream = FakeUpstream()
    app = create_app({"LIBRARY_PATH": str(tmp_path_factory.mktemp("p") / "l.sqlite"), "MAX_PER_PAGE": 500})
    app.extensions["gateway.upstream"] = upstream
    return app, upstream


@settings(FUZZ, max_examples=300)
@given(photos=st.lists(hostile_photos(), min_size=1, max_size=4),
       wrapper=st.dictionaries(st.sampled_from(["page", "pages", "perpage", "total", "title", "owner"]), attr_text,
                               max_size=4),
       tags=st.text(alphabet=st.characters(blacklist_categories=()), min_size=1, max_size=30))
def test_hostile_photo_text_in_every_format(photo_app, photos, wrapper, tags):
    """Whatever an upstream says about its photos, every format stays readable by its consumer."""
    app, upstream = photo_app
    upstream.page = parse_json({"stat": "ok", "photos": {**wrapper, "photo": photos}})
    count_cases(f"fuzz: pages of hostile photo text (each in all {len(FORMATS)} formats)")
    query = b"method=flickr.photos.search&tags=" + encode(tags) + b"&nonce=" + str(next(NONCE)).encode()
    for fmt in FORMATS:
        status, headers, body = call(app, "GET", query + b"&format=" + fmt.encode(), {})
        assert status == 200, body[:300]
        check(status, headers, body, "GET")


# ---------------------------------------------------------------- what the fuzzers found, kept as examples


def test_found_a_host_header_werkzeug_cannot_read(library_app):
    """Host "a..b" made routing fail with Werkzeug's HTML 400, without the error headers."""
    status, headers, body = call(library_app, "GET", b"method=flickr.photos.search&format=feed-rss_200",
                                 {"HTTP_HOST": "a..b"})
    assert (status, headers["X-FlickrErrCode"]) == (400, "116")


def test_found_photo_data_that_broke_a_format(photo_app):
    """A date after year 9999 (HTTP dates crashed: 503), a photo id that is not a number (KML's XML id),
    the same photo twice in one page (KML's ids again): dates dropped, such photos left out."""
    app, upstream = photo_app
    upstream.page = parse_json({"stat": "ok", "photos": {"photo": [
        {"id": "1", "lastupdate": "300000000000", "dateupload": "-5", "latitude": "1", "longitude": "2"},
        {"id": ":", "latitude": "1", "longitude": "2"},
        {"id": "1", "title": "again", "latitude": "1", "longitude": "2"},
    ]}})
    assert [(p.id, p.lastupdate, p.dateupload) for p in upstream.page.photos] == [("1", None, None)]
    for fmt in FORMATS:
        status, headers, body = call(app, "GET", b"method=flickr.photos.search&tags=found&format=" + fmt.encode(), {})
        check(status, headers, body, "GET")
        assert status == 200


@pytest.mark.parametrize("host", ['evil.example"><x', "", "a:80@x", "javascript:alert(1)", "localhost:99999"])
@pytest.mark.parametrize("path", ["/services/rest/", "/services/feeds/photos_public.gne", "/", "/download.kml"])
def test_found_a_host_werkzeug_reads_as_empty(library_app, host, path):
    """Hosts Werkzeug reads as "" (a quote, userinfo, a port past 65535, nothing) made 200s whose every
    absolute link was `http:///…`; RFC 9112 3.2 asks for 400, and the API's paths give code 116."""

    def get(path: str, query: str = "") -> tuple[int, dict[str, str], bytes]:
        environ = EnvironBuilder(path=path, query_string=query).get_environ()
        environ["HTTP_HOST"] = host
        app_iter, status, headers = run_wsgi_app(library_app, environ, buffered=True)
        return int(status[:3]), dict(headers), b"".join(app_iter)

    status, headers, body = get(path, "method=flickr.photos.search&tags=sunset&format=feed-rss_200")
    assert status == 400 and b"http:///" not in body, body[:200]
    if path.startswith("/services/"):
        assert headers["X-FlickrErrCode"] == "116"
    assert get("/healthz")[0] == 200  # a probe is never refused
