"""Helpers for the cache tests: a real redis-server, a controllable clock, an upstream that blocks."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from support import FakeUpstream

from gateway.model import Page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def redis_server(directory: Path, port: int | None = None) -> Iterator[str]:
    """A real redis-server on a loopback port (a free one by default), without persistence; yields its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed: scripts/test installs it (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server, as scripts/test does)")
    port = port or free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        pytest.fail(f"redis-server did not start on port {port}")
                    time.sleep(0.05)
        finally:
            client.close()
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def paused(url: str) -> Iterator[None]:
    """The redis-server at `url` stopped (SIGSTOP: connections stay open, nothing answers), then resumed."""
    client = redis.Redis.from_url(url)
    pid = client.info()["process_id"]
    client.close()
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


class Clock:
    """time.time() moved forward on demand, so entries expire without sleeping."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        real = time.time
        self.offset = 0.0
        monkeypatch.setattr(time, "time", lambda: real() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class BlockingUpstream:
    """A FakeUpstream whose calls wait until the test sets `release`."""

    name = "fake"

    def __init__(self, page: Page | None = None, error: Exception | None = None):
        self.inner = FakeUpstream(page, error)
        self.release = threading.Event()
        self.arrived = threading.Event()

    @property
    def calls(self) -> list:
        return self.inner.calls

    def photos(self, method, args) -> Page:
        self.arrived.set()
        if not self.release.wait(30):
            raise RuntimeError("the test never released the upstream")
        return self.inner.photos(method, args)


def wait_until(condition, timeout: float = 10.0) -> None:
    """Poll until condition() holds; fail the test if it never does (not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition never became true")
        time.sleep(0.01)
