"""A time budget for each library call, and a bound on how many long ones run at once.

SQLite calls a progress handler every PROGRESS_STEPS virtual-machine steps
(about every 0.1-0.5 ms of work); the handler answers "stop" once the call
has run out of its budget, and SQLite ends the statement with "interrupted".
The same handler makes a call that runs past HEAVY_AFTER take one of the
process's heavy slots first: cheap calls (almost all: a page of a tag search
at a million photos takes a few ms) never wait, and at most `heavy_slots`
long ones use the CPU at once, so that they cannot crowd out the cheap ones.

    runs past its budget (GATEWAY_LIBRARY_QUERY_MS)   → code 20 "Query too expensive: …" (HTTP 400;
                                                       cached like any other answer to that call)
    no heavy slot free within HEAVY_WAIT              → code 105 "Service currently unavailable"
                                                       (HTTP 503, Retry-After; a cached copy is served)
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ...blocking import NativeSlots
from ...errors import FlickrError, unavailable

TOO_EXPENSIVE = 20  # no Flickr method uses 20 for anything else
TOO_EXPENSIVE_MESSAGE = "Query too expensive: narrow it (fewer tags or words, a smaller area, an earlier page)"
PROGRESS_STEPS = 10_000
HEAVY_AFTER = 0.1  # seconds: a call still running after this is a heavy one
HEAVY_WAIT = 0.2  # seconds a heavy call waits for a slot before it is refused as "busy"
BUSY_RETRY_AFTER = 5


class Budget:
    """`seconds` a call may run (0 = no limit); `heavy_slots` calls past HEAVY_AFTER at once (per process)."""

    def __init__(self, seconds: float, heavy_slots: int):
        self.seconds = seconds
        self.slots = NativeSlots(max(1, heavy_slots))

    @contextmanager
    def watch(self, conn: sqlite3.Connection) -> Iterator[None]:
        """Run the block's statements under the budget; FlickrError when it runs out or no slot is free."""
        start = time.monotonic()
        state = {"heavy": False, "busy": False}

        def progress() -> int:
            elapsed = time.monotonic() - start
            if self.seconds and elapsed > self.seconds:
                return 1
            if not state["heavy"] and elapsed > HEAVY_AFTER:
                wait = HEAVY_WAIT if not self.seconds else min(HEAVY_WAIT, self.seconds - elapsed)
                if not self.slots.acquire(wait):
                    state["busy"] = True
                    return 1
                state["heavy"] = True
            return 0

        conn.set_progress_handler(progress, PROGRESS_STEPS)
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "interrupted" not in str(exc):
                raise
            if state["busy"]:
                raise unavailable(BUSY_RETRY_AFTER, kind="busy") from None
            raise FlickrError(TOO_EXPENSIVE, TOO_EXPENSIVE_MESSAGE, kind="too_expensive") from None
        finally:
            conn.set_progress_handler(None, 0)
            if state["heavy"]:
                self.slots.release()
