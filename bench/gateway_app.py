"""The gateway as the benchmark serves it: the real app from create_app() (cache and
settings from GATEWAY_* as usual), with its upstream replaced by BenchUpstream, the
way the tests replace it. No production code knows about the benchmark.

    gunicorn -c gunicorn.conf.py bench.gateway_app:app

BENCH_CALLS names a file to which every upstream call appends one line (all
workers append to it, so its line count is the upstream call count), and
BENCH_LATENCY how long one upstream call takes, in seconds (Flickr: ~0.1-0.5).
BENCH_DATA_VERSION=1 gives it the embedded library's data version (read from the
GATEWAY_LIBRARY_PATH file before every answer, as the library upstream does), so
that the fast path is measured with that read.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from gateway import create_app
from gateway.model import Page, parse_rest
from gateway.safexml import parse
from gateway.upstreams.library import store

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "flickr"  # anonymised copies


class BenchUpstream:
    """Recorded Flickr pages for any call (a call's arguments pick one), sliced like Flickr's paging."""

    name = "bench"

    def __init__(self, calls_file: str, latency: float):
        self.calls_file = calls_file
        self.latency = latency
        self.pages: list[Page] = []
        for path in sorted(FIXTURES.glob("*.getPhotos-*.xml")) + sorted(FIXTURES.glob("photos.search-*.xml")):
            try:
                page = parse_rest(parse(path.read_bytes()))
            except Exception:  # recorded failures
                continue
            if len(page.photos) >= 15:
                self.pages.append(page)

    def photos(self, method: str, args: Mapping[str, str]) -> Page:
        if self.calls_file:
            line = f"{os.getpid()} {method} {sorted(args.items())}\n".encode()
            fd = os.open(self.calls_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)  # one O_APPEND write: lines of concurrent workers never mix
            finally:
                os.close(fd)
        time.sleep(self.latency)
        which = zlib.crc32(repr(sorted((k, v) for k, v in args.items() if k not in ("page", "per_page"))).encode())
        page = self.pages[which % len(self.pages)]
        per_page, number = int(args.get("per_page", 15)), int(args.get("page", 1))
        photos = page.photos[(number - 1) * per_page: number * per_page]
        return replace(page, photos=photos, page=number, perpage=per_page, total=len(page.photos))


app = create_app()
app.extensions["gateway.upstream"] = BenchUpstream(os.environ.get("BENCH_CALLS", ""),
                                                   float(os.environ.get("BENCH_LATENCY", "0.05")))
if os.environ.get("BENCH_DATA_VERSION") == "1":
    library = app.config["LIBRARY_PATH"]
    store.Store(library).connection()  # the file and its schema, as the library upstream makes them
    app.extensions["gateway.upstream"].data_version = store.DataVersion(library).get
