"""file:///path: one file per entry in a directory the workers of one machine share.

    /path/entries/9f/9f3c…e1     an entry (entry.dumps); its mtime is its expiry time
    /path/locks/9f3.lock         flock'ed while a worker fetches a key of that stripe
    /path/locks/trim.lock        flock'ed while a worker trims the directory to its bound
    /path/tmp/                   files being written, renamed into entries/ when complete

Writes go to a temporary file and os.replace() it, so a reader sees the old
entry or the new one, never half of one. Expired files are removed when read
and, a directory at a time, every SWEEP_EVERY writes.

The directory is bounded (GATEWAY_CACHE_SHARED_MAX_BYTES, counted in disk blocks):
a worker that has written a TRIM_SHARE of the bound since its last look, or
believes the bound passed, scans the directory and removes the oldest entries
(by the time they were written) down to LOW_WATER of it. Between two scans each
worker adds at most bound x TRIM_SHARE, so the directory stays under
bound x (1 + workers x TRIM_SHARE) even while a flood of distinct calls writes.
A full or broken disk is logged once a minute, not once a write.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import tempfile
import threading
import time
from pathlib import Path

from .entry import Entry, dumps, loads

log = logging.getLogger("gateway.cache")
SWEEP_EVERY = 256
# Locks are striped over this many files (the first hex digits of the key's hash):
# a fixed set that never needs cleaning; two keys sharing a stripe merely take turns.
LOCK_DIGITS = 3
NO_LOCK = -1
TRIM_SHARE = 1 / 16
LOW_WATER = 0.9
WARN_EVERY = 60.0  # seconds between two log lines about the same trouble


class _Quiet:
    """Log a kind of trouble at most once every WARN_EVERY seconds, saying how often it recurred."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, tuple[float, int]] = {}

    def warning(self, kind: str, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            last, suppressed = self._last.get(kind, (-WARN_EVERY, 0))
            if now - last < WARN_EVERY:
                self._last[kind] = (last, suppressed + 1)
                return
            self._last[kind] = (now, 0)
        more = f" ({suppressed} more like it in the last {WARN_EVERY:.0f}s)" if suppressed else ""
        log.warning("cache: " + message + more, *args)


class FileBackend:
    def __init__(self, root: str | Path, max_bytes: int = 256 * 1024 * 1024):
        self.root = Path(root)
        for sub in ("entries", "locks", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.max_bytes = max(1, max_bytes)
        self._writes = 0
        self._quiet = _Quiet()
        self._state = threading.Lock()
        self._estimate = 0  # bytes in the directory at this worker's last scan, plus what it wrote since
        self._since_scan = self.max_bytes  # unknown until the first scan: the first write looks

    def _path(self, key: str) -> Path:
        digest = key.rsplit(":", 1)[-1]
        return self.root / "entries" / digest[:2] / digest

    def get(self, key: str) -> Entry | None:
        path = self._path(key)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._quiet.warning("read", "cannot read %s: %s", path, exc)
            return None
        entry = loads(blob)
        if entry is None or entry.expires <= time.time():
            path.unlink(missing_ok=True)
            return None
        return entry

    def set(self, key: str, entry: Entry) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root / "tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(dumps(entry))
                os.utime(tmp, (entry.expires, entry.expires))
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:  # a full disk degrades to fetching, not to errors (nor to a log line a write)
            self._quiet.warning("write", "cannot write %s: %s", path, exc)
            return
        with self._state:
            self._writes += 1
            written = _disk_bytes(path)
            self._estimate += written
            self._since_scan += written
            trim = self._estimate > self.max_bytes or self._since_scan >= self.max_bytes * TRIM_SHARE
            if trim:
                self._since_scan = 0
        if trim:
            self.trim()
        elif self._writes % SWEEP_EVERY == 0:
            self.sweep(f"{random.randrange(256):02x}")

    def trim(self) -> int:
        """Scan the directory, drop expired entries and, above the bound, the oldest written;
        returns the bytes it holds now. One worker trims at a time (the others go on)."""
        try:
            fd = os.open(self.root / "locks" / "trim.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            self._quiet.warning("lock", "cannot lock %s for trimming: %s", self.root, exc)
            return self._estimate
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return self._estimate  # another worker is at it
            now, files, total = time.time(), [], 0
            for sub in _scandir(self.root / "entries"):
                for entry in _scandir(sub.path):
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    size = max(st.st_size, st.st_blocks * 512)
                    if st.st_mtime <= now:  # expired
                        _unlink(entry.path)
                        continue
                    files.append((st.st_ctime, size, entry.path))  # ctime: when it was renamed into place
                    total += size
            if total > self.max_bytes:
                files.sort()
                for _ctime, size, path in files:
                    if total <= self.max_bytes * LOW_WATER:
                        break
                    _unlink(path)
                    total -= size
            with self._state:
                self._estimate = total
            return total
        finally:
            os.close(fd)

    def usage(self) -> dict[str, int]:
        """The bound and this worker's latest idea of the bytes held (for /readyz)."""
        return {"max_bytes": self.max_bytes, "bytes": self._estimate}

    def sweep(self, prefix: str) -> int:
        """Remove the expired entries of one directory (and leftovers of crashed writers); how many."""
        now, removed = time.time(), 0
        candidates = [(p, now) for p in (self.root / "entries" / prefix).glob("*")]
        candidates += [(p, now - 3600) for p in (self.root / "tmp").glob("*")]
        for path, before in candidates:
            try:
                if path.stat().st_mtime <= before:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed

    def try_lock(self, key: str, seconds: float) -> object | None:
        """An open, flock'ed file when this process now holds the key's stripe, None when another does.

        flock belongs to the open file, so threads of one process exclude each
        other too; the kernel releases it if the worker dies.
        """
        digest = key.rsplit(":", 1)[-1]
        try:
            fd = os.open(self.root / "locks" / f"{digest[:LOCK_DIGITS]}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            self._quiet.warning("lock", "cannot lock %s: %s", key, exc)
            return NO_LOCK  # fetch without coordination rather than fail
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def unlock(self, key: str, token: object) -> None:
        if isinstance(token, int) and token != NO_LOCK:
            fcntl.flock(token, fcntl.LOCK_UN)
            os.close(token)

    def close(self) -> None:
        pass


def _disk_bytes(path: Path) -> int:
    try:
        st = path.stat()
    except OSError:
        return 0
    return max(st.st_size, st.st_blocks * 512)


def _scandir(path: str | Path) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
