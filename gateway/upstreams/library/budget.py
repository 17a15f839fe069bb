"""A time budget for each library call, and bounds on how many long ones run at once.

SQLite calls a progress handler every PROGRESS_STEPS virtual-machine steps
(about every 1-5 ms of work); the handler answers "stop" once the call has
run out of its budget (CPU time of its thread; see Budget), and SQLite ends
the statement with "interrupted".

Calls are sorted before they start: `likely_heavy(plan)` guesses from the
arguments which ones will be long, and those run in a lane of their own
(blocking.py: two at a time, at a lower CPU priority), never ahead of a
cheap one. A call of the cheap lane that still runs past HEAVY_AFTER (a
wrong guess, or a busy machine) must then take one of the worker's heavy
slots: at most `heavy_slots` of them run on, so wrong guesses cannot fill
the cheap lane.

    uses more CPU than its budget (GATEWAY_LIBRARY_QUERY_MS) → code 20 "Query too expensive: …"
                                                       (HTTP 400; cached like any other answer to that call)
    no heavy slot free within HEAVY_WAIT, or runs     → code 105 "Service currently unavailable"
    longer than WALL_FACTOR × the budget by the clock    (HTTP 503, Retry-After; a cached copy is served)
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ...blocking import NativeSlots
from ...errors import FlickrError, unavailable
from .plan import Plan

TOO_EXPENSIVE = 20  # no Flickr method uses 20 for anything else
TOO_EXPENSIVE_MESSAGE = "Query too expensive: narrow it (fewer tags or words, a smaller area, an earlier page)"
PROGRESS_STEPS = 100_000
HEAVY_AFTER = 0.05  # seconds of CPU: a call still running after this is a heavy one
HEAVY_WAIT = 0.1  # seconds a heavy call waits for a slot before it is refused as "busy"
BUSY_RETRY_AFTER = 5
WALL_FACTOR = 10  # a call's clock time may be this many times its CPU budget (waiting for the CPU)
DEEP_OFFSET = 1000  # results skipped: the page is found by walking past them
MANY_TERMS = 3  # tags or words: each is a set to read and combine


def likely_heavy(plan: Plan) -> bool:
    """Whether the call is likely to run long: a deep page, many tags or words, an exclusion."""
    return ((plan.page - 1) * plan.per_page >= DEEP_OFFSET
            or len(plan.tags_any) + len(plan.tags_all) > MANY_TERMS or bool(plan.tags_not)
            or len(plan.text) > MANY_TERMS or bool(plan.text_not))


class Budget:
    """`seconds` of CPU a call may use (0 = no limit); `heavy_slots` calls past HEAVY_AFTER at once (per process).

    The budget counts the CPU time of the call's own thread, not the clock: a call
    that waits for the CPU behind others (a busy machine, its lane's lower
    priority) is not refused for it, so code 20 says the call itself is too
    expensive, and is cached as the call's answer. The clock still bounds it,
    at WALL_FACTOR times the budget: past that it is refused as busy (105).
    """

    def __init__(self, seconds: float, heavy_slots: int):
        self.seconds = seconds
        self.slots = NativeSlots(max(1, heavy_slots))

    @contextmanager
    def watch(self, conn: sqlite3.Connection, slotted: bool = True) -> Iterator[None]:
        """Run the block's statements under the budget; FlickrError when it runs out, or when it is
        `slotted` (a call of the cheap lane), runs past HEAVY_AFTER and no slot is free."""
        cpu_start, wall_start = time.thread_time(), time.monotonic()
        state = {"heavy": not slotted, "busy": False}

        def progress() -> int:
            used = time.thread_time() - cpu_start
            if self.seconds and used > self.seconds:
                return 1
            if self.seconds and time.monotonic() - wall_start > self.seconds * WALL_FACTOR:
                state["busy"] = True
                return 1
            if not state["heavy"] and used >= HEAVY_AFTER:
                if not self.slots.acquire(HEAVY_WAIT):
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
            if state["heavy"] and slotted:
                self.slots.release()
