"""Blocking C work (SQLite queries, Pillow decodes) kept off the event loop.

Under gunicorn's gevent worker one OS thread runs every greenlet of the
process: a greenlet that spends 2 s in `sqlite3_step` or a PNG decode stops
every other request, `/healthz` included, for those 2 s. `run(lane, fn)`
runs `fn` in a real OS thread of the lane's own gevent threadpool when the
process is monkey-patched by gevent (and this is its event-loop thread), and
calls it directly otherwise (gthread/sync workers, commands, tests: their
threads are OS threads already). Either way at most `size` calls of a lane
run at once per process; more wait their turn (a greenlet, or the calling
thread), so one kind of work cannot take every thread:

    lane            size  nice
    library           4     0   SQLite reads expected to be cheap (upstreams/library)
    library-heavy     2    19   SQLite reads expected to be long (budget.likely_heavy): never ahead of a cheap one
    images            2    10   renditions of local photos (images.py): also the bound on their peak memory

Under gevent a lane's threads run at the lane's `nice` (Linux sets it per
thread): the event loop, which answers cached feeds and /healthz, and the
cheap lane get the CPU first while long work runs. Each lane has its own
pool rather than the hub's, which gevent also uses for DNS lookups.

`one_at_a_time(key)` makes callers of the same key take turns (a rendition
being written is waited for, not made again); `NativeSlots` is a counting
semaphore of real OS locks for code that runs inside a lane's thread.
"""

from __future__ import annotations

import _thread
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple, TypeVar

T = TypeVar("T")

class Lane(NamedTuple):
    size: int
    nice: int


LANES = {"library": Lane(4, 0), "library-heavy": Lane(2, 19), "images": Lane(2, 10)}

_pools: dict[tuple[int, str], object] = {}  # (hub id, lane) → gevent ThreadPool, made on first use
_semaphores = {name: threading.BoundedSemaphore(lane.size) for name, lane in LANES.items()}


def run(lane: str, fn: Callable[..., T], /, *args: object) -> T:
    """fn(*args) in an OS thread of `lane` (under gevent), else here; its result or its exception."""
    pool = _gevent_pool(lane)
    if pool is not None:
        ok, value = pool.apply(_in_lane, (LANES[lane].nice, fn, *args))  # type: ignore[attr-defined]
        if not ok:
            raise value
        return value
    with _semaphores[lane]:
        return fn(*args)


_niced: set[int] = set()  # native ids of the pool threads already at their lane's nice


def _in_lane(nice: int, fn: Callable[..., T], *args: object) -> tuple[bool, object]:
    """(True, result) or (False, exception): gevent's pool prints a traceback for every exception
    that leaves a task, and a caller's FlickrError (an unknown user…) is no error of the gateway."""
    if nice:
        thread = _native_id()
        if thread not in _niced:
            _niced.add(thread)
            try:
                os.setpriority(os.PRIO_PROCESS, thread, nice)  # Linux: this thread only
            except (OSError, AttributeError):
                pass  # not Linux, or not allowed: the lane still bounds how many run
    try:
        return True, fn(*args)
    except Exception as exc:  # noqa: BLE001 - handed to the caller, raised there
        return False, exc


def _native_id() -> int:
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None:
        return monkey.get_original("threading", "get_native_id")()
    return threading.get_native_id()


def _gevent_pool(lane: str) -> object | None:
    """The lane's pool when this thread runs a gevent hub of a monkey-patched process, else None."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("threading"):
        return None
    from gevent import hub as gevent_hub
    from gevent.threadpool import ThreadPool

    hub = gevent_hub._get_hub()  # None in a pool's own OS thread: nested work runs where it is
    if hub is None:
        return None
    key = (id(hub), lane)
    pool = _pools.get(key)
    if pool is None:
        pool = _pools[key] = ThreadPool(LANES[lane].size, hub=hub)
    return pool


_keys_lock = _thread.allocate_lock()  # held only for dict updates, never across a wait
_keys: dict[str, list] = {}  # key → [lock, holders and waiters]


@contextmanager
def one_at_a_time(key: str) -> Iterator[None]:
    """Callers with the same key run the block one after another (others wait, cooperatively under gevent)."""
    with _keys_lock:
        entry = _keys.get(key)
        if entry is None:
            # threading.Lock looked up now: a gevent lock once the worker is patched, so waiting yields.
            entry = _keys[key] = [threading.Lock(), 0]
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with _keys_lock:
            entry[1] -= 1
            if entry[1] == 0:
                del _keys[key]


def native_lock() -> _thread.LockType:
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None:
        return monkey.get_original("_thread", "allocate_lock")()
    return _thread.allocate_lock()


def native_local() -> object:
    """A thread-local object of OS threads (under gevent, threading.local is one per greenlet)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None:
        return monkey.get_original("_thread", "_local")()
    return _thread._local()


class NativeSlots:
    """A counting semaphore of OS locks, for waits inside a lane's thread (a gevent lock there would
    need a hub of its own). `acquire(timeout)` says whether a slot was had."""

    def __init__(self, size: int):
        self._free = size
        self._mutex = native_lock()
        self._waiters: deque = deque()

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if self._free > 0:
                self._free -= 1
                return True
            waiter = native_lock()
            waiter.acquire()
            self._waiters.append(waiter)
        if waiter.acquire(timeout=max(0.0, timeout)):
            return True  # a release() handed its slot over
        with self._mutex:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                return False
        return True  # handed over between the timeout and the mutex

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._free += 1
