"""memory://: a per-process LRU, bounded in entries and in bytes.

Each gunicorn worker has its own copy, so the upstream may see a call once per
worker per freshness period; use file:// or redis:// to share one cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from .entry import Entry


class MemoryBackend:
    def __init__(self, max_entries: int, max_bytes: int):
        self.max_entries = max(1, max_entries)
        self.max_bytes = max(1, max_bytes)
        self.bytes = 0
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()  # gunicorn threads share one backend

    def get(self, key: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires <= time.time():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry

    def set(self, key: str, entry: Entry) -> None:
        # One huge feed (500 photos) must not flush everything else.
        if entry.size > self.max_bytes // 4:
            return
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = entry
            self.bytes += entry.size
            while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))  # least recently used

    def _drop(self, key: str) -> None:
        self.bytes -= self._entries.pop(key).size

    def try_lock(self, key: str, seconds: float) -> object | None:
        # Nothing to coordinate beyond this process, where Cache's flights already coalesce.
        return True

    def unlock(self, key: str, token: object) -> None:
        pass

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0
