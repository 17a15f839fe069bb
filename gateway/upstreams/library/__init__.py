"""The embedded SQLite photo library: the default upstream (SPEC section 9).

    plan.py      a call's arguments checked and turned into a Plan (no database)
    arguments.py the parsers plan.py uses: coordinates, tags, text, boxes, dates
    search.py    a Plan answered from the tables; the semantics and error table
    filters.py   photos.search's machine tags, places, accuracy, safe_search and the rest
    machinetags.py  Flickr's machine tag syntax, answered from the machine_tags keys
    placenames.py   the place each geotagged photo was taken near (gateway/gazetteer.py), named at import
    importer.py  recorded Flickr responses in, membership from the call
    budget.py    the time budget of each call and the bound on long calls at once
    folder.py    image files in (`add-folder`), found again for the image route
    manage.py    `list` and `remove`: owners and sets by their ids, photos out again
    exif.py      what an image file says about itself (Pillow)
    demo.py      the demo photos an empty library starts with
    synth.py     synthetic photos for the benchmark, through bulk.py's fast path
    store.py     connections, transactions, photos to rows and back, merging
    schema.py    the tables, FTS5 and R*Tree
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from flask import Flask

from ... import blocking
from ...errors import FlickrError, unavailable
from ...model import Page
from . import budget, demo, folder, importer, manage, plan, search, store, synth
from .folder import LocalSource
from .importer import Skipped

__all__ = ["Library", "LocalSource", "Skipped", "create"]

log = logging.getLogger("gateway.library")
T = TypeVar("T")


class Library:
    """Photos from the SQLite file at `path` (created with the schema on first use)."""

    name = "library"

    def __init__(self, path: str, demo: bool = False, query_seconds: float = 0, heavy_queries: int = 2,
                 max_pixels: int = folder.MAX_PIXELS):
        self.path = path
        self.store = store.Store(path)
        self._data_version = store.DataVersion(path)
        self.budget = budget.Budget(query_seconds, heavy_queries)
        self.max_pixels = max_pixels
        self._told_empty = False
        # Serving with GATEWAY_DEMO=1: the first call of this process fills an empty library with the demo.
        # Commands never call photos(), so they never make it.
        self._demo_pending = demo
        self._demo_lock = blocking.native_lock()  # taken in the library lane's OS threads

    def photos(self, method: str, args: Mapping[str, str]) -> Page:
        """One page of a standard photos response; FlickrError with Flickr's code for bad calls."""
        wanted = plan.plan(method, args)
        # In an OS thread (blocking.py): under gevent, a long query never holds the event loop, and
        # the calls expected to be long queue in a lane of their own, behind no cheap one.
        heavy = budget.likely_heavy(wanted)
        return blocking.run("library-heavy" if heavy else "library", self._find, wanted, heavy)

    def _find(self, wanted: plan.Plan, heavy: bool = False) -> Page:
        try:
            conn = self.store.connection()
            if self._demo_pending:
                self._make_demo(conn)
            # Count and page from one snapshot; the budget's handler is gone before the ROLLBACK runs.
            with store.transaction(conn, "DEFERRED"), self.budget.watch(conn, slotted=not heavy):
                if store.is_empty(conn):
                    self._tell_empty()
                    return search.empty(wanted)
                return search.find(conn, wanted)
        except sqlite3.OperationalError as exc:
            if "fts5" in str(exc):  # user text is quoted, so this should not happen; never a 500 if it does
                raise FlickrError(3, "Invalid text") from None
            log.exception("the photo library at %s cannot be read", self.path)
            raise unavailable() from None
        except sqlite3.DatabaseError:
            log.exception("the photo library at %s cannot be read", self.path)
            raise unavailable() from None

    def data_version(self) -> tuple[int, int]:
        """(version, unix time of the last change): every write bumps it (store.changed), on any worker."""
        return self._data_version.get()

    def import_file(self, path: str | Path, call: Mapping[str, str] | None = None,
                    notes: list[str] | None = None) -> int:
        """Import one recorded response; returns its number of photos. Raises Skipped (with the reason).

        `call` (method and params) defaults to the file's entry in an index.json beside it;
        `notes` receives what could not be recorded (a set's membership without its call).
        """
        return importer.import_file(self.store.connection(), path, call, notes)

    def import_page(self, page: Page, call: Mapping[str, str]) -> int:
        """Store a page fetched live (`library mirror`); `call` is its method and arguments."""
        return importer.import_page(self.store.connection(), page, call)

    def add_folder(self, path: str | Path, owner: str, group: str | None = None,
                   on_skip: Callable[[Path, str], None] = lambda path, why: None,
                   claim: bool = False) -> folder.Report:
        """Add a folder's new and changed JPEG and PNG files, forget those gone (folder.py); `on_skip`
        hears of each file skipped; `claim`: the folder's known photos move to `owner`."""
        return folder.add_folder(self.store.connection(), Path(path), owner, group, on_skip, claim, self.max_pixels)

    def owners(self) -> list[manage.Owner]:
        """Every owner with photos in the library (`library list`)."""
        return self._read(manage.owners)

    def sets(self) -> list[manage.Set]:
        """Every group, album, gallery and favorites list, with photo counts (`library list`)."""
        return self._read(manage.sets)

    def places(self) -> list[manage.Place]:
        """Every place the library's photos were taken near, with photo counts (`library list`)."""
        return manage.places(self.store.connection())

    def select(self, **selectors) -> manage.Selection:
        """The photos named by manage.select's selectors; raises manage.NotFound."""
        return manage.select(self.store.connection(), **selectors)

    def remove(self, chosen: manage.Selection) -> int:
        """Remove the selected photos (and the sets they leave empty); returns how many went."""
        return manage.remove(self.store.connection(), chosen)

    def set_info(self, kind: str, set_id: str) -> manage.Set | None:
        """One group, album or gallery with its photo count; None when unknown."""
        return self._read(manage.set_info, kind, set_id)

    def names(self, args: Mapping[str, str]) -> dict[str, str]:
        """The names the library holds for a call's `user_id` and `group_id` (manage.names), for
        feed titles; {} when it holds none. Flickr's answers name neither, so only the library has this."""
        user, group = args.get("user_id", "").strip(), args.get("group_id", "").strip()
        if not (user or group):
            return {}
        try:
            return self._read(manage.names, user, group)
        except sqlite3.DatabaseError:  # a title is not worth a failed feed: the ids stand in
            log.warning("the photo library at %s cannot be read for names", self.path)
            return {}

    def sets_of_photo(self, photo_id: str) -> list[manage.Set]:
        """The groups, albums and galleries a photo is in (its page lists them)."""
        return self._read(manage.sets_of_photo, photo_id)

    def sets_of_owner(self, nsid: str) -> list[manage.Set]:
        """An owner's albums and galleries, and the groups holding their photos (their page lists them)."""
        return self._read(manage.sets_of_owner, nsid)

    def local_source(self, photo_id: str) -> LocalSource | None:
        """The local photo with this id and the file its image comes from (None for a drawn one)."""
        return self._read(folder.local_source, photo_id)

    def stats(self) -> dict[str, int | str]:
        counts: dict[str, int | str] = dict(store.stats(self.store.connection()))
        size = sum(os.path.getsize(self.path + suffix) for suffix in ("", "-wal") if os.path.exists(self.path + suffix))
        return {**counts, "file": self.path, "bytes": size}

    def remove_demo(self) -> int:
        """Take the demo photos out (every command that fills the library does); returns how many there were."""
        return demo.remove(self.store.connection())

    def synthesize(self, count: int, seed: int = 1) -> int:
        """Add `count` synthetic photos through the bulk path (synth.py); returns how many went in."""
        return synth.synthesize(self.store.connection(), count, seed)

    def _read(self, fn: Callable[..., T], *args: object) -> T:
        """fn(connection, *args) for a page or an image, in an OS thread of the library lane (blocking.py)."""
        return blocking.run("library", lambda: fn(self.store.connection(), *args))

    def close(self) -> None:
        self.store.close()
        self._data_version.close()

    def _make_demo(self, conn: sqlite3.Connection) -> None:
        with self._demo_lock:
            if self._demo_pending:
                made = demo.ensure(conn)
                if made:
                    log.warning("the photo library %s was empty: it now holds %d demo photos (GATEWAY_DEMO=0 "
                                "to start empty; library import or add-folder replaces them)", self.path, made)
                self._demo_pending = False

    def _tell_empty(self) -> None:
        if not self._told_empty:
            self._told_empty = True
            log.warning("the photo library %s is empty; fill it with: flickr-gateway library add-folder DIR "
                        "(or library import FILE…)", self.path)


def create(app: Flask) -> Library:
    """The library at LIBRARY_PATH (relative to the current directory); nothing is opened yet."""
    return Library(os.path.abspath(app.config["LIBRARY_PATH"]), demo=bool(app.config["DEMO"]),
                   query_seconds=app.config["LIBRARY_QUERY_MS"] / 1000,
                   heavy_queries=app.config["LIBRARY_HEAVY_QUERIES"], max_pixels=app.config["IMAGE_MAX_PIXELS"])
