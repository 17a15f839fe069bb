"""file:///path: one file per entry in a directory the workers of one machine share.

    /path/entries/9f/9f3c…e1     an entry (entry.dumps); its mtime is its expiry time
    /path/locks/9f3.lock         flock'ed while a worker fetches a key of that stripe
    /path/tmp/                   files being written, renamed into entries/ when complete

Writes go to a temporary file and os.replace() it, so a reader sees the old
entry or the new one, never half of one. Expired files are removed when read
and, a directory at a time, every SWEEP_EVERY writes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import tempfile
import time
from pathlib import Path

from .entry import Entry, dumps, loads

log = logging.getLogger("gateway.cache")
SWEEP_EVERY = 256
# Locks are striped over this many files (the first hex digits of the key's hash):
# a fixed set that never needs cleaning; two keys sharing a stripe merely take turns.
LOCK_DIGITS = 3
NO_LOCK = -1


class FileBackend:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        for sub in ("entries", "locks", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._writes = 0

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
            log.warning("cache: cannot read %s: %s", path, exc)
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
        except OSError as exc:  # a full disk degrades to fetching, not to errors
            log.warning("cache: cannot write %s: %s", path, exc)
            return
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            self.sweep(f"{random.randrange(256):02x}")

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
            log.warning("cache: cannot lock %s: %s", key, exc)
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
