"""The HTTP under flickrapi: a requests.Session that bounds one exchange in time and in size.

requests' timeout applies to each socket operation, not to the exchange: a
server that sends a byte every second (a slow drip) keeps a call going for
ever, and requests reads a body of any size into memory. flickrapi only
calls `session.post(url, data=…, auth=…, timeout=…)` and reads
`status_code`, `text` and `content`, so this session can:

- cut the exchange at `timeout` seconds from its start: a timer shuts the
  connection's socket down (a blocked read then returns at once), and the
  call raises DeadlineExceeded, a requests.Timeout;
- read the body in chunks and give up past MAX_BODY bytes (after decoding):
  ResponseTooLarge. A page of 500 photos with every extra is about 1.5 MB.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MAX_BODY = 10 * 1024 * 1024
CHUNK = 64 * 1024


class ResponseTooLarge(requests.RequestException):
    """The upstream's answer was larger than MAX_BODY."""


class DeadlineExceeded(requests.Timeout):
    """The whole exchange took longer than its timeout (a slow drip, not a silent server)."""


class _Watch:
    """The socket of the exchange in progress on one thread, and whether its deadline has passed."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.expired = False
        self.done = False
        self._lock = threading.Lock()

    def cut(self) -> None:
        """The deadline: shut the socket down so that a read blocked on it returns now."""
        with self._lock:
            if self.done:
                return
            self.expired = True
            sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def finish(self) -> None:
        with self._lock:
            self.done = True


_current = threading.local()  # the _Watch of this thread's exchange


def _register(sock: socket.socket | None) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None and sock is not None:
        watch.sock = sock


class _Watched:
    """Tells the thread's _Watch which socket carries its exchange (new or reused connection)."""

    sock: socket.socket | None

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _register(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _register(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    """An adapter whose pools (direct or through a proxy) make watched connections."""

    POOLS = {"http": _HTTPPool, "https": _HTTPSPool}

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self.POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = self.POOLS
        return manager


class BoundedSession(requests.Session):
    """A Session whose requests end within their timeout and read at most `max_body` bytes."""

    def __init__(self, max_body: int = MAX_BODY):
        super().__init__()
        self.max_body = max_body
        for prefix in ("http://", "https://"):
            self.mount(prefix, _Adapter())

    def request(self, method: str, url: str, *args: Any, timeout: float | None = None,  # type: ignore[override]
                **kwargs: Any) -> requests.Response:
        watch = _current.watch = _Watch()
        timer = threading.Timer(timeout, watch.cut) if timeout else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            kwargs["stream"] = True
            response = super().request(method, url, *args, timeout=timeout, **kwargs)
            try:
                response._content = self._read(response)
                response._content_consumed = True
            finally:
                response.close()
            if watch.expired:  # cut before the end of a body without Content-Length: truncated
                raise DeadlineExceeded(f"no complete answer within {timeout}s")
            return response
        except (requests.RequestException, OSError):
            if watch.expired:
                raise DeadlineExceeded(f"no complete answer within {timeout}s") from None
            raise
        finally:
            watch.finish()
            if timer is not None:
                timer.cancel()
            _current.watch = None

    def _read(self, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise ResponseTooLarge(f"an answer of {declared} bytes (at most {self.max_body})")
        body = bytearray()
        for chunk in response.iter_content(CHUNK):
            body += chunk
            if len(body) > self.max_body:
                raise ResponseTooLarge(f"an answer of more than {self.max_body} bytes")
        return bytes(body)
