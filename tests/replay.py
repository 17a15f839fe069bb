"""A local stand-in for https://api.flickr.com/services/rest/ that replays the
recorded responses in tests/fixtures/flickr/ (DESIGN practice 8).

    with Replay() as flickr:                      # 127.0.0.1, an ephemeral port
        app = create_app({"FLICKR_REST_URL": flickr.url, ...})
        ...
        flickr.calls[-1].params                   # what the gateway sent
        flickr.inject(Fault.http(500))            # the next answers fail

A request is matched to a recording by its method and identifying arguments
(everything in index.json's `params` except extras, format, callbacks and
credentials). It is read from a GET query string or a POST form body (flickrapi
2.2+ sends `session.post(url, data=params, auth=OAuth1(...))`). format=json
answers in Flickr's JSON shape, converted from the recorded XML:

    <rsp stat="ok"><photos page="1" pages="2" perpage="10" total="17">
      <photo id="1" farm="66" ...><description>hi</description></photo></photos></rsp>
    → {"photos": {"page": 1, "pages": 2, "perpage": 10, "total": "17",
                  "photo": [{"id": "1", "farm": 66, ..., "description": {"_content": "hi"}}]},
       "stat": "ok"}

bare with nojsoncallback=1, else wrapped as jsonFlickrApi(...). A call with no
recording gets {"stat": "fail", "code": 1, ...}, as Flickr answers an unknown id.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl, unquote, urlsplit

from lxml import etree
from oauthlib.oauth1.rfc5849 import signature

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "flickr"  # scripts/anonymise_fixtures.py makes them

# Arguments that do not say which photos were asked for.
IGNORED = frozenset({"method", "extras", "format", "nojsoncallback", "jsoncallback", "api_key", "api_sig"})
# Repeated elements that Flickr's JSON always makes an array, even for one.
ARRAYS = frozenset({"photo"})
# Members Flickr's JSON sends as numbers (shared/reference/flickr-notes.md 2.3);
# everything else, `total` included, is a string.
NUMBERS = frozenset({"page", "pages", "perpage", "per_page", "farm", "iconfarm", "ispublic", "isfriend", "isfamily"})
HTML_ERROR = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


def identity(params: dict[str, str]) -> frozenset[tuple[str, str]]:
    """The arguments that pick a recording."""
    return frozenset((k, v) for k, v in params.items() if k not in IGNORED and not k.startswith("oauth_"))


@dataclass(frozen=True)
class Recording:
    """One recorded response: index.json's file, method and params."""

    file: str
    method: str
    params: dict[str, str]

    @property
    def path(self) -> Path:
        return FIXTURES / self.file

    def root(self) -> etree._Element:
        return etree.fromstring(self.path.read_bytes(), etree.XMLParser(resolve_entities=False))

    def wrapper(self) -> dict[str, str]:
        """The <photos>/<photoset> attributes (paging), empty for a failure."""
        root = self.root()
        el = root.find("photos") if root.find("photos") is not None else root.find("photoset")
        return dict(el.attrib) if el is not None else {}

    def photo_ids(self, geotagged_only: bool = False) -> list[str]:
        return [p.get("id") for p in self.root().iter("photo")
                if not geotagged_only or float(p.get("latitude", 0)) or float(p.get("longitude", 0))]


@dataclass(frozen=True)
class Fault:
    """What the server does instead of answering normally.

    status/body replace the answer; delay waits first (longer than the
    client's timeout: a hung Flickr); reset closes the connection without a
    byte (TCP RST); fail answers {"stat":"fail","code":…,"message":…} (or
    <err code msg>) in the requested format; drip sends the answer a few
    bytes every `drip` seconds (from its first header line with
    drip_headers, else from its body); length=False leaves Content-Length out
    (the body ends when the connection closes).
    """

    status: int = 200
    body: bytes | None = None
    delay: float = 0.0
    reset: bool = False
    fail: tuple[int, str] | None = None
    drip: float = 0.0
    drip_headers: bool = False
    length: bool = True

    @classmethod
    def http(cls, status: int) -> Fault:
        return cls(status=status, body=HTML_ERROR)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls(delay=seconds)

    @classmethod
    def connection_reset(cls) -> Fault:
        return cls(reset=True)

    @classmethod
    def garbage(cls, body: bytes = HTML_ERROR) -> Fault:
        """HTTP 200 with a body that is not Flickr JSON (an HTML page, truncated JSON, …)."""
        return cls(body=body)

    @classmethod
    def stat_fail(cls, code: int, message: str) -> Fault:
        return cls(fail=(code, message))

    @classmethod
    def slow_drip(cls, every: float, headers: bool = False) -> Fault:
        """The normal answer, a few bytes every `every` seconds: each read succeeds, the whole never ends in time."""
        return cls(drip=every, drip_headers=headers)


@dataclass
class Call:
    """One request as the server received it."""

    verb: str
    url: str  # scheme, host, port and path, as the client signed it
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    headers: dict[str, str]
    recording: Recording | None = None
    params: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.params = dict(self.query + self.form)

    @property
    def oauth(self) -> dict[str, str]:
        """The Authorization: OAuth header's parameters (empty without one)."""
        header = self.headers.get("authorization", "")
        if not header.startswith("OAuth "):
            return {}
        pairs = (item.strip().split("=", 1) for item in header[6:].split(","))
        return {k: unquote(v.strip('"')) for k, v in pairs}

    def signed_by(self, key: str, secret: str) -> bool:
        """Whether the OAuth 1.0a HMAC-SHA1 signature is valid for this key and secret."""
        if self.oauth.get("oauth_consumer_key") != key:
            return False
        params = signature.collect_parameters(uri_query="&".join(f"{k}={v}" for k, v in self.query),
                                              body=self.form, headers={"Authorization": self.headers["authorization"]})
        base = signature.signature_base_string(self.verb, signature.base_string_uri(self.url),
                                               signature.normalize_parameters(params))
        client = SimpleNamespace(client_secret=secret, resource_owner_secret="")  # no user token
        return signature.sign_hmac_sha1_with_client(base, client) == self.oauth.get("oauth_signature")


class Replay:
    """The replay server: started on construction, stopped by close() (or `with`)."""

    def __init__(self, fixtures: Path = FIXTURES):
        self.recordings: dict[tuple[str, frozenset], Recording] = {}
        for entry in json.loads((fixtures / "index.json").read_text()):
            # A call recorded more than once: the last entry wins, so that
            # pages 1 and 2 of a call come from the same recording session.
            self.recordings[(entry["method"], identity(entry["params"]))] = Recording(
                entry["file"], entry["method"], entry["params"])
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._fault: Fault | None = None
        self._fault_times: int | None = None
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.replay = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="flickr-replay", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/services/rest/"

    def recording(self, method: str, **params: str) -> Recording:
        """The recording this server answers the call with (KeyError when none)."""
        return self.recordings[(method, identity(params))]

    def inject(self, fault: Fault, times: int | None = None) -> None:
        """Answer the next `times` calls (None: every call until clear()) with `fault`."""
        with self._lock:
            self._fault, self._fault_times = fault, times

    def clear(self) -> None:
        self.inject(None)  # type: ignore[arg-type]

    def close(self) -> None:
        self._server.stopping.set()  # wakes delayed answers
        self._server.shutdown()
        self._server.server_close()  # joins the request threads
        self._thread.join()

    def __enter__(self) -> Replay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ answering

    def _receive(self, call: Call) -> Fault | None:
        call.recording = self.recordings.get((call.params.get("method", ""), identity(call.params)))
        with self._lock:
            self.calls.append(call)
            fault = self._fault
            if fault is not None and self._fault_times is not None:
                self._fault_times -= 1
                if self._fault_times <= 0:
                    self._fault = None
        return fault

    def answer(self, call: Call, fault: Fault | None) -> tuple[int, str, bytes]:
        """(status, content type, body) for a call."""
        if fault is not None and fault.body is not None:
            return fault.status, "text/html; charset=utf-8", fault.body
        if fault is not None and fault.fail is not None:
            root = _fail_xml(*fault.fail)
        elif call.recording is None:
            root = _fail_xml(1, f"Not found (no recording of {call.params.get('method', '')} with these arguments)")
        else:
            root = call.recording.root()
        status = fault.status if fault is not None else 200
        if call.params.get("format") != "json":
            return status, "text/xml; charset=utf-8", etree.tostring(root, xml_declaration=True, encoding="utf-8")
        text = json.dumps(to_json(root), ensure_ascii=False, separators=(",", ":"))
        if call.params.get("nojsoncallback") == "1":
            return status, "application/json; charset=utf-8", text.encode()
        callback = call.params.get("jsoncallback") or "jsonFlickrApi"
        return status, "text/javascript; charset=utf-8", f"{callback}({text})".encode()


def _fail_xml(code: int, message: str) -> etree._Element:
    root = etree.Element("rsp", stat="fail")
    etree.SubElement(root, "err", code=str(code), msg=message)
    return root


def to_json(rsp: etree._Element) -> dict:
    """Flickr's JSON for an <rsp>: attributes → members, text → _content, <photo> → an array."""
    if rsp.get("stat") != "ok":
        err = rsp.find("err")
        return {"stat": "fail", "code": int(err.get("code")), "message": err.get("msg")}
    out = _members(rsp)
    out["stat"] = "ok"
    return out


def _members(el: etree._Element) -> dict:
    out: dict[str, object] = {k: _value(k, v) for k, v in el.attrib.items()}
    children = [c for c in el if isinstance(c.tag, str)]
    for child in children:
        value = _element(child)
        if child.tag in ARRAYS or sum(c.tag == child.tag for c in children) > 1:
            out.setdefault(child.tag, []).append(value)  # type: ignore[union-attr]
        else:
            out[child.tag] = value
    if children == [] and el.text is not None and el.attrib:
        out["_content"] = el.text
    if el.tag in ("photos", "photoset"):
        out.setdefault("photo", [])  # an empty page: "photo":[]
    return out


def _element(el: etree._Element) -> dict:
    if not el.attrib and not len(el):
        return {"_content": el.text or ""}  # <description>…</description>
    return _members(el)


def _value(name: str, value: str) -> object:
    return int(value) if name in NUMBERS and value.lstrip("-").isdigit() else value


class _Server(ThreadingHTTPServer):
    # Join request threads on close, so no answer outlives its test.
    daemon_threads = False
    block_on_close = True
    # socketserver's default backlog is 5; the gevent tests open 16 connections at once.
    request_queue_size = 128
    replay: Replay

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so no thread waits on an idle
    # keep-alive connection when the server closes.
    protocol_version = "HTTP/1.0"
    server: _Server

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        split = urlsplit(self.path)
        host, port = self.server.server_address[:2]
        call = Call(
            verb=self.command,
            url=f"http://{host}:{port}{split.path}",
            query=parse_qsl(split.query, keep_blank_values=True),
            form=parse_qsl(body, keep_blank_values=True) if self.command == "POST" else [],
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        replay = self.server.replay
        fault = replay._receive(call)
        if fault is not None and fault.delay and self.server.stopping.wait(fault.delay):
            return  # the server is closing
        if fault is not None and fault.reset:
            # SO_LINGER 0: closing sends RST instead of FIN, like a dropped connection.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        status, content_type, payload = replay.answer(call, fault)
        head = [f"HTTP/1.0 {status} {self.responses.get(status, ('',))[0]}", f"Content-Type: {content_type}"]
        if fault is None or fault.length:
            head.append(f"Content-Length: {len(payload)}")
        head = ("\r\n".join(head) + "\r\n\r\n").encode()
        try:
            if fault is not None and fault.drip:
                self._drip(head, payload, fault)
            else:
                self.wfile.write(head + payload)
        except OSError:
            pass  # the client gave up (timed out) before the answer

    def _drip(self, head: bytes, payload: bytes, fault: Fault) -> None:
        if not fault.drip_headers:
            self.wfile.write(head)
        data = (head if fault.drip_headers else b"") + payload
        for start in range(0, len(data), 4):
            self.wfile.write(data[start:start + 4])
            self.wfile.flush()
            if self.server.stopping.wait(fault.drip):
                return

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass  # tests read replay.calls, not stderr
