"""Helpers for the live-stream tests and bench/stream.py: the gateway as deployed (gunicorn's gevent
workers and the job consumer, separate processes), photo imports from a third process, and SSE
readers built on httpx-sse (a real SSE client)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cachesupport import free_port
from httpx_sse import connect_sse
from pushsupport import photo_file

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SEARCH = "method=flickr.photos.search&tags=sunset"


def wait_until(test, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Host:
    """One gateway host: gunicorn (gevent workers, the shipped gunicorn.conf.py) and, unless
    `consumer=False`, a job consumer; on the instance folder `tmp` (shared when given the same)."""

    def __init__(self, tmp: Path, workers: int = 2, consumer: bool = True, **env: str):
        self.tmp = tmp
        self.port = free_port()
        self.env = {**os.environ, "GATEWAY_LIBRARY_PATH": str(tmp / "library.sqlite"), "GATEWAY_DEMO": "0",
                    "GATEWAY_PUSH_PATH": str(tmp / "push.sqlite"), "WEB_CONCURRENCY": str(workers),
                    "HOST": "127.0.0.1", "PORT": str(self.port), **env}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.log = open(tmp / f"host-{self.port}.log", "ab")  # noqa: SIM115 - closed by close()
        self.procs = [subprocess.Popen([str(BIN / "gunicorn"), "wsgi:app", "--config", "gunicorn.conf.py"],
                                       cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log)]
        if consumer:
            self.procs.append(subprocess.Popen(
                [str(BIN / "huey_consumer"), "worker.huey", "-w", "2", "-f", "-d", "0.05", "-m", "0.2"],
                cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log))
        wait_until(self._up, 60, "gunicorn")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _up(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def connections_by_worker(self) -> dict[int, int]:
        """Established TCP connections from clients each gunicorn worker holds (Linux /proc)."""
        master = self.procs[0].pid
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        established = {}  # socket inode -> local port, of established connections to our port
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if cols[3] == "01" and int(cols[1].rsplit(":", 1)[1], 16) == self.port:
                    established[cols[9]] = True
        counts = {}
        for pid in map(int, children):
            inodes = set()
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
            counts[pid] = len(inodes & established.keys())
        return counts

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:  # INT: gunicorn's quick shutdown (open streams would hold a graceful one)
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.log.close()


def library_import(env: dict, tmp: Path, name: str, ids: list[int], call: str = SEARCH, tags: str = "sunset") -> None:
    """`flask library import` in a process of its own, as an operator runs it."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "library", "import", "--call", call,
                           str(photo_file(tmp, name, ids, tags))], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@dataclass
class Listener:
    """An SSE client (httpx-sse) in a thread, recording every event with the time it arrived."""

    url: str
    headers: dict = field(default_factory=dict)
    events: list = field(default_factory=list)  # (arrival time, ServerSentEvent)
    status: int = 0

    def __post_init__(self) -> None:
        self.opened = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=httpx.Timeout(60, read=120)) as client, \
                    connect_sse(client, "GET", self.url, headers=self.headers) as source:
                self.status = source.response.status_code
                self.opened.set()
                for sse in source.iter_sse():
                    if sse.event == "message" and not sse.data:
                        continue  # the opening block (retry: and a comment): browsers dispatch nothing for it
                    self.events.append((time.monotonic(), sse))
                    if self.done.is_set():
                        return
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.opened.set()

    def photos(self) -> list:
        return [sse for _, sse in self.events if sse.event == "photo"]

    def close(self) -> None:
        self.done.set()


class DropProxy:
    """A TCP proxy on a loopback port in front of `port`: `drop()` cuts every connection and refuses new
    ones (a network drop, as a browser sees it), `restore()` lets them through again."""

    def __init__(self, port: int):
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def drop(self) -> None:
        self.up = False
        with self.lock:
            for s in self.open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.open.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.drop()
        self.listener.close()
