"""Helpers for the push tests: a callback server that records what the hub sends, and photo files to import."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from conftest import flickr_xml
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Received:
    method: str
    url: str
    args: dict
    headers: dict
    body: bytes


@dataclass
class Callback:
    """A subscriber's callback on a loopback port: echoes challenges, records every request.

    `answer(request) -> Response | None` overrides the default behaviour (echo / 202)."""

    received: list[Received] = field(default_factory=list)
    answer: Callable[[Request], Response | None] | None = None

    def __post_init__(self) -> None:
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/cb"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.changed = threading.Condition()

    @Request.application
    def _app(self, request: Request) -> Response:
        got = Received(request.method, request.url, dict(request.args), dict(request.headers), request.get_data())
        with self.changed:
            self.received.append(got)
            self.changed.notify_all()
        if self.answer is not None:
            made = self.answer(request)
            if made is not None:
                return made
        if request.method == "GET" and "hub.challenge" in request.args:
            return Response(request.args["hub.challenge"])
        return Response("", 202)

    def posts(self) -> list[Received]:
        return [r for r in self.received if r.method == "POST"]

    def gets(self, mode: str | None = None) -> list[Received]:
        return [r for r in self.received if r.method == "GET" and (mode is None or r.args.get("hub.mode") == mode)]

    def wait_for(self, test: Callable[[], bool], timeout: float = 20) -> bool:
        with self.changed:
            return self.changed.wait_for(test, timeout)

    def close(self) -> None:
        self.server.shutdown()


def photo(pid: int, tags: str = "sunset", upload: int = 1700000000) -> dict:
    return {"id": str(pid), "owner": "12037949754@N01", "secret": "a1b2c3d4e5", "server": "65535", "farm": 66,
            "title": f"Photo {pid}", "ispublic": 1, "isfriend": 0, "isfamily": 0, "tags": tags,
            "dateupload": str(upload + pid), "lastupdate": str(upload + pid), "ownername": "Someone",
            "latitude": "48.8584", "longitude": "2.2945", "accuracy": "16", "datetaken": "2023-11-14 09:00:00"}


def photo_file(directory: Path, name: str, ids: list[int], tags: str = "sunset") -> Path:
    path = directory / name
    path.write_bytes(flickr_xml([photo(i, tags) for i in ids],
                                attrs={"page": 1, "pages": 1, "perpage": 100, "total": len(ids)}))
    return path
