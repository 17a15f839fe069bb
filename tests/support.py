"""Shared test helpers: recorded Flickr responses and a fake upstream serving them."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

from gateway.model import Page, parse_rest
from gateway.safexml import parse

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "flickr"  # scripts/anonymise_fixtures.py makes them
SCHEMAS = Path(__file__).resolve().parent / "schemas"
INDEX = json.loads((FIXTURES / "index.json").read_text())
# Cases the fuzz and fault suites tried, by suite: printed at the end of the run (conftest.py)
# and written to artifacts/test-cases.json, since CI shows no per-test output.
CASES: Counter[str] = Counter()


def count_cases(suite: str, n: int = 1) -> None:
    CASES[suite] += n


def recorded(name: str) -> Page:
    """The Page of one recorded response file."""
    return parse_rest(parse((FIXTURES / name).read_bytes()))


def recorded_files(min_photos: int = 1) -> list[str]:
    return [e["file"] for e in INDEX if e["photos"] >= min_photos]


class FakeUpstream:
    """Serves one recorded page, sliced by the page/per_page the API asks for, and records every call."""

    name = "fake"

    def __init__(self, page: Page | None = None, error: Exception | None = None):
        self.page = page or Page(())
        self.error = error
        self.calls: list[tuple[str, dict]] = []

    def photos(self, method: str, args) -> Page:
        self.calls.append((method, dict(args)))
        if self.error:
            raise self.error
        per_page, number = int(args.get("per_page", 100)), int(args.get("page", 1))
        photos = self.page.photos[(number - 1) * per_page: number * per_page]
        return replace(self.page, photos=photos, page=number, perpage=per_page, total=len(self.page.photos))


def make_app(tmp_path, upstream=None, **config):
    from gateway import create_app

    app = create_app({"LIBRARY_PATH": str(tmp_path / "library.sqlite"), "DEMO": 0,
                      "IMAGE_CACHE": str(tmp_path / "images"), **config})
    if upstream is not None:
        app.extensions["gateway.upstream"] = upstream
    return app
