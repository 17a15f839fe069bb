"""Heavy library calls (fault suite): the time budget, the bound on long calls, Flickr's own limits,
and the library's work kept off gevent's event loop."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from support import count_cases

from gateway.errors import FlickrError
from gateway.upstreams.library import budget
from gateway.upstreams.library.plan import SEARCH_WINDOW


@pytest.fixture(autouse=True)
def _counted():
    yield
    count_cases("faults: heavy library calls")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def synth_path(tmp_path_factory) -> str:
    """A library of 4,100 synthetic photos: more than search's 4,000-result window."""
    path = tmp_path_factory.mktemp("limits") / "lib.sqlite"
    from gateway.upstreams.library import Library

    lib = Library(str(path))
    lib.synthesize(4100, seed=7)
    lib.close()
    return str(path)


@pytest.fixture
def big(make_app, synth_path, monkeypatch):
    monkeypatch.setattr(budget, "PROGRESS_STEPS", 100)  # the handler runs often, even on 4,100 photos
    app = make_app(LIBRARY_PATH=synth_path)
    return app, app.extensions["gateway.upstream"]


def common_tags(library, n: int) -> list[str]:
    rows = library.store.connection().execute(
        "SELECT tag FROM tags GROUP BY tag ORDER BY count(*) DESC, tag LIMIT ?", (n,))
    return [r[0] for r in rows]


# A call that reads every photo: a union of common tags, in an order no index holds for it.
def heavy_args(library) -> dict[str, str]:
    return {"tags": ",".join(common_tags(library, 20)), "sort": "interestingness-asc", "page": "60",
            "per_page": "15"}


def test_a_call_past_its_budget_is_refused_with_code_20_and_the_library_still_answers(big):
    app, library = big
    library.budget.seconds = 1e-9  # out of budget at the progress handler's first call
    with pytest.raises(FlickrError) as caught:
        library.photos("flickr.photos.search", heavy_args(library))
    assert (caught.value.code, caught.value.status) == (budget.TOO_EXPENSIVE, 400)
    assert caught.value.message.startswith("Query too expensive")
    # Feed formats: 400 with the error headers; rest: Flickr's envelope.
    client = app.test_client()
    query = "&".join(f"{k}={v}" for k, v in heavy_args(library).items())
    feed = client.get(f"/services/rest/?method=flickr.photos.search&format=feed-rss_200&{query}")
    assert feed.status_code == 400
    assert feed.headers["X-FlickrErrCode"] == "20"
    assert feed.headers["X-FlickrErrMessage"].startswith("Query too expensive")
    rest = client.get(f"/services/rest/?method=flickr.photos.search&format=rest&sort=date-taken-asc&{query}")
    assert b'<err code="20"' in rest.data
    # The interrupted statement left no transaction open on the thread's connection.
    library.budget.seconds = 0
    assert len(library.photos("flickr.photos.search", heavy_args(library)).photos) == 15


def cheap_args(library) -> dict[str, str]:
    """A call guessed cheap (one tag, page 1) that still reads many rows."""
    return {"tags": common_tags(library, 1)[0], "sort": "interestingness-asc", "per_page": "15"}


def test_calls_are_sorted_into_lanes_by_their_arguments():
    from gateway.upstreams.library.plan import plan

    def heavy(**args):
        return budget.likely_heavy(plan("flickr.photos.search", args))

    assert not heavy(tags="a") and not heavy(tags="a,b,c", page="66", per_page="15")
    assert heavy(tags="a,b,c,d") and heavy(tags="a,-b") and heavy(text="a b c d") and heavy(text="a -b")
    assert heavy(page="68", per_page="15") and heavy(page="11", per_page="100")


def test_a_long_call_of_the_cheap_lane_without_a_free_slot_gets_105(big, monkeypatch):
    app, library = big
    monkeypatch.setattr(budget, "HEAVY_AFTER", 0.0)
    monkeypatch.setattr(budget, "HEAVY_WAIT", 0.01)
    library.budget.seconds = 30
    held = [library.budget.slots.acquire(0) for _ in range(2)]  # GATEWAY_LIBRARY_HEAVY_QUERIES = 2, both taken
    assert held == [True, True]
    try:
        with pytest.raises(FlickrError) as caught:
            library.photos("flickr.photos.search", cheap_args(library))
        assert (caught.value.code, caught.value.status, caught.value.retry_after) == (105, 503, 5)
        response = app.test_client().get("/services/rest/?method=flickr.photos.search&format=feed-atom_10&"
                                         + "&".join(f"{k}={v}" for k, v in cheap_args(library).items()))
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        # The heavy lane is bounded by its own size and needs no slot.
        assert len(library.photos("flickr.photos.search", heavy_args(library)).photos) == 15
        # A call that ends before HEAVY_AFTER never asks for a slot.
        monkeypatch.setattr(budget, "HEAVY_AFTER", 10.0)
        assert library.photos("flickr.photos.search", cheap_args(library)).total > 0
    finally:
        library.budget.slots.release()
        library.budget.slots.release()
    monkeypatch.setattr(budget, "HEAVY_AFTER", 0.0)
    assert library.photos("flickr.photos.search", {**cheap_args(library), "page": "2"}).total > 0  # a slot again


def test_a_call_that_waits_too_long_by_the_clock_gets_105_not_20(big, monkeypatch):
    _, library = big
    library.budget.seconds = 30  # CPU: plenty
    monkeypatch.setattr(budget, "WALL_FACTOR", 1e-12)  # but the clock ran out (a starved call)
    with pytest.raises(FlickrError) as caught:
        library.photos("flickr.photos.search", heavy_args(library))
    assert (caught.value.code, caught.value.status) == (105, 503)  # not cached: the call may pass later


def test_slots_hand_over_to_a_waiter_and_time_out():
    slots = budget.NativeSlots(1)
    assert slots.acquire(0)
    assert not slots.acquire(0.01)
    got = []
    waiter = threading.Thread(target=lambda: got.append(slots.acquire(10)))
    waiter.start()
    slots.release()
    waiter.join(10)
    assert got == [True]
    slots.release()
    assert slots.acquire(0)


def test_search_hands_out_only_the_first_4000_results(big):
    _, library = big
    everything = {"per_page": "100"}
    last = library.photos("flickr.photos.search", {**everything, "page": str(SEARCH_WINDOW // 100)})
    assert (last.total, len(last.photos)) == (4100, 100)
    past = library.photos("flickr.photos.search", {**everything, "page": str(SEARCH_WINDOW // 100 + 1)})
    assert (past.total, past.pages, len(past.photos)) == (4100, 41, 0)  # the true total, no photos
    # per_page 15: page 267 starts at 3,990 and holds the window's last 10.
    edge = library.photos("flickr.photos.search", {"per_page": "15", "page": "267"})
    assert len(edge.photos) == 10
    assert library.photos("flickr.photos.search", {"per_page": "15", "page": "268"}).photos == ()
    # Only search has the window: getRecent pages on to the end.
    assert len(library.photos("flickr.photos.getRecent", {"per_page": "100", "page": "41"}).photos) == 100


def test_at_most_20_tags_in_either_mode(big):
    _, library = big
    tags = common_tags(library, 22)
    assert library.photos("flickr.photos.search", {"tags": ",".join(tags[:20])}).total > 0
    for mode, value in (("any", tags[:21]), ("all", tags[:21]), ("any", [*tags[:19], "-a", "-b"])):
        with pytest.raises(FlickrError) as caught:
            library.photos("flickr.photos.search", {"tags": ",".join(value), "tag_mode": mode})
        assert (caught.value.code, caught.value.message) == (1, f"Too many tags in {mode.upper()} query")
    with pytest.raises(FlickrError):
        library.photos("flickr.groups.pools.getPhotos", {"group_id": "x", "tags": ",".join(tags[:21])})


GEVENT_SCRIPT = """
from gevent import monkey
monkey.patch_all()
import _thread, json, sys
import gevent
from gateway import blocking
from gateway.upstreams.library import Library

native_ident = monkey.get_original("_thread", "get_ident")
hub_thread = native_ident()

# 1. fn runs in another OS thread, and the loop runs greenlets meanwhile: fn waits for a native
#    lock that only a greenlet releases. Were the loop blocked, fn would time out.
release = blocking.native_lock()
release.acquire()
def wait_for_greenlet():
    return native_ident() != hub_thread, release.acquire(timeout=10)
def releaser():
    gevent.sleep(0.05)
    release.release()
gevent.spawn(releaser)
other_thread, released = blocking.run("library", wait_for_greenlet)

# 2. Library calls from many greenlets at once, each answered from a lane thread.
lib = Library(sys.argv[1])
calls = [gevent.spawn(lib.photos, "flickr.photos.search", {"tags": "travel", "per_page": "7"}) for _ in range(12)]
gevent.joinall(calls, timeout=60)
totals = sorted({c.value.total for c in calls if c.successful()})
conns = [gevent.spawn(lib.store.connection) for _ in range(5)]  # greenlets of one OS thread
gevent.joinall(conns)
one_connection = len({id(c.value) for c in conns}) == 1
opened = len(lib.store._open)
from gateway.errors import FlickrError
try:  # a caller's mistake comes back to the greenlet as the FlickrError it is, without a traceback
    lib.photos("flickr.people.getPublicPhotos", {"user_id": "nobody@N00"})
    refused = None
except FlickrError as err:
    refused = err.code

# 3. one_at_a_time: greenlets with one key take turns, and waiting yields to the loop.
order = []
def turn(i):
    with blocking.one_at_a_time("k"):
        order.append(("in", i)); gevent.sleep(0.01); order.append(("out", i))
gevent.joinall([gevent.spawn(turn, i) for i in range(3)])
interleaved = any(order[k][0] == order[k + 1][0] for k in range(0, len(order), 2))
print(json.dumps({"other_thread": other_thread, "released": released, "totals": totals,
                  "ok_calls": sum(c.successful() for c in calls), "interleaved": interleaved,
                  "refused": refused, "one_connection": one_connection, "opened": opened}))
"""


def test_under_gevent_library_work_runs_in_os_threads_and_the_loop_stays_free(synth_path):
    pytest.importorskip("gevent")
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(GEVENT_SCRIPT), synth_path], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    import json

    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["other_thread"] and result["released"]
    assert result["ok_calls"] == 12 and len(result["totals"]) == 1 and result["totals"][0] > 0
    assert not result["interleaved"]
    assert result["refused"] == 1 and "Traceback" not in run.stderr
    # One SQLite connection per OS thread (the library lane's 4, and the hub's), not one per greenlet.
    assert result["one_connection"] and result["opened"] <= 5


def test_without_gevent_run_calls_in_place():
    from gateway import blocking

    assert blocking.run("library", threading.get_ident) == threading.get_ident()
