"""Fixtures for the library tests: apps on a tmp library, Flickr-shaped responses, the recorded fixtures."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from lxml import etree
from replay import Replay

from gateway import create_app

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "flickr"  # scripts/anonymise_fixtures.py makes them
INDEX = json.loads((FIXTURES / "index.json").read_text())
# No demo photos in an empty library (only the demo's own tests want them).
QUIET = {"DEMO": 0}


def flickr_xml(photos: list[Mapping[str, object]], wrapper: str = "photos", attrs: Mapping[str, object] | None = None,
               gallery: Mapping[str, object] | None = None) -> bytes:
    """A standard photos response as Flickr writes it: attributes, <description>/<comment> children."""
    rsp = etree.Element("rsp", stat="ok")
    body = etree.SubElement(rsp, wrapper, {k: str(v) for k, v in (attrs or {}).items()})
    for photo in photos:
        photo = dict(photo)
        children = {k: photo.pop(k) for k in ("description", "comment") if k in photo}
        el = etree.SubElement(body, "photo", {k: str(v) for k, v in photo.items()})
        for tag, text in children.items():
            etree.SubElement(el, tag).text = str(text)
    if gallery is not None:
        gallery = dict(gallery)
        children = {k: gallery.pop(k) for k in ("title", "description") if k in gallery}
        el = etree.SubElement(rsp, "gallery", {k: str(v) for k, v in gallery.items()})
        for tag, text in children.items():
            etree.SubElement(el, tag).text = str(text)
    return etree.tostring(rsp, xml_declaration=True, encoding="utf-8")


def to_json(xml: bytes) -> dict:
    """Flickr's JSON shape of an XML response: attributes as members, text children as {"_content": …}."""
    root = etree.fromstring(xml)
    data: dict[str, object] = {"stat": root.get("stat")}
    for el in root:
        body: dict[str, object] = {k: int(v) if k in ("page", "pages", "perpage", "total") else v
                                   for k, v in el.attrib.items()}
        photos = []
        for photo in el.iter("photo"):
            item: dict[str, object] = {k: int(v) if k in ("farm", "ispublic") else v for k, v in photo.attrib.items()}
            item.update({child.tag: {"_content": child.text or ""} for child in photo})
            photos.append(item)
        if el.tag in ("photos", "photoset"):
            body["photo"] = photos
        else:
            body.update({child.tag: {"_content": child.text or ""} for child in el})
        data[el.tag] = body
    return data


@pytest.fixture
def make_app(tmp_path) -> Iterator:
    """create_app on a library file in tmp_path; every library opened is closed afterwards."""
    apps = []

    def make(name: str = "lib.sqlite", **config):
        app = create_app({"LIBRARY_PATH": str(tmp_path / name), "IMAGE_CACHE": str(tmp_path / "images"), **QUIET,
                          **config})
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["gateway.upstream"].close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def library(app):
    """The (empty) library of `app`."""
    return app.extensions["gateway.upstream"]


@pytest.fixture(scope="session")
def recorded_library(tmp_path_factory):
    """Every recorded fixture imported the way the CLI does it, shared read-only by the tests."""
    app = create_app({"LIBRARY_PATH": str(tmp_path_factory.mktemp("recorded") / "lib.sqlite"), **QUIET})
    files = sorted(str(p) for p in FIXTURES.glob("*.xml"))
    result = app.test_cli_runner().invoke(args=["library", "import", *files])
    assert result.exit_code == 0, result.output
    yield app.extensions["gateway.upstream"]
    app.extensions["gateway.upstream"].close()


# ---------------------------------------------------------------- Flickr replay
# A local server standing in for Flickr's REST endpoint: see tests/replay.py.


@pytest.fixture
def replay():
    with Replay() as server:
        yield server


# ---------------------------------------------------------------- how many cases the suites tried


def pytest_terminal_summary(terminalreporter) -> None:
    from support import CASES

    if not CASES:
        return
    terminalreporter.write_sep("-", "cases tried")
    for suite, n in sorted(CASES.items()):
        terminalreporter.write_line(f"{suite}: {n} cases")
    artifacts = Path(__file__).resolve().parents[1] / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "test-cases.json").write_text(json.dumps(dict(sorted(CASES.items())), indent=1) + "\n")
