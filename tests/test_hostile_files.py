"""Hostile files (fault and fuzz suite): one bad file or photo never loses an import, only regular
files are read, what a photo carries is capped, and "no GPS fix" is no place."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest
from conftest import flickr_xml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from support import count_cases
from test_local_photos import jpeg

from gateway.model import DESCRIPTION_MAX, TAG_MAX, TAGS_MAX, TITLE_MAX


@pytest.fixture(autouse=True)
def _counted():
    yield
    count_cases("faults: hostile files (import, add-folder)")

ROOT = Path(__file__).resolve().parents[1]
HUGE = str(2**64 + 5)  # past SQLite's 64-bit INTEGER
INT_ATTRS = ("accuracy", "farm", "iconfarm", "views", "o_width", "o_height", "datetakengranularity",
             "datetakenunknown", "dateupload", "lastupdate", "width_m", "height_m")


def photo(photo_id: str, **attrs) -> dict[str, object]:
    return {"id": photo_id, "owner": "1@N00", "secret": "abc", "server": "1", "title": f"Photo {photo_id}", **attrs}


def cli(tmp_path: Path, *args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    """The real command in its own process: a hang fails the test (timeout) instead of stalling the suite."""
    environ = {**os.environ, "GATEWAY_LIBRARY_PATH": str(tmp_path / "lib.sqlite"), "GATEWAY_DEMO": "0",
               **(env or {})}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "library", *args], cwd=ROOT, env=environ,
                          capture_output=True, timeout=timeout)


def stored(app, **args):
    return app.extensions["gateway.upstream"].photos("flickr.photos.search", {"per_page": "500", **args})


# ---------------------------------------------------------------- library import


@pytest.mark.parametrize("attr", INT_ATTRS)
def test_a_number_past_64_bits_is_unknown_and_the_photo_and_the_next_file_are_imported(make_app, tmp_path, attr):
    bad = tmp_path / "bad.xml"
    bad.write_bytes(flickr_xml([photo("11", **{attr: HUGE}), photo("12")],
                               attrs={"page": HUGE, "perpage": HUGE, "total": HUGE}))
    good = tmp_path / "good.xml"
    good.write_bytes(flickr_xml([photo("13")]))
    app = make_app()
    result = app.test_cli_runner().invoke(args=["library", "import", str(bad), str(good), "--call",
                                                "method=flickr.photosets.getPhotos&photoset_id=5"])
    assert result.exit_code == 0, result.output
    assert "2 of 2 files imported" in result.output
    assert {p.id for p in stored(app).photos} == {"11", "12", "13"}


def test_numbers_past_64_bits_in_json_and_in_membership_dates(make_app, tmp_path):
    body = {"stat": "ok", "photos": {"page": 2**70, "perpage": 2**70, "total": 1, "photo": [
        {**photo("21"), "views": 2**70, "accuracy": -(2**70), "dateadded": str(2**70)}]}}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(body))
    app = make_app()
    result = app.test_cli_runner().invoke(args=["library", "import", str(bad), "--call",
                                                "method=flickr.groups.pools.getPhotos&group_id=9@N00"])
    assert result.exit_code == 0, result.output
    (only,) = stored(app).photos
    assert (only.id, only.views, only.accuracy) == ("21", None, 0)


@pytest.mark.parametrize("kind", ["json", "jsonp", "xml"])
def test_a_deeply_nested_file_is_skipped_with_its_reason(make_app, tmp_path, kind):
    depth = 200_000
    if kind == "xml":
        data = b"<rsp stat='ok'><photos>" + b"<a>" * depth + b"</a>" * depth + b"</photos></rsp>"
    else:
        data = b'{"stat": "ok", "photos": ' + b"[" * depth + b"]" * depth + b"}"
        data = b"jsonFlickrApi(" + data + b")" if kind == "jsonp" else data
    bad = tmp_path / f"bad.{kind}"
    bad.write_bytes(data)
    good = tmp_path / "good.xml"
    good.write_bytes(flickr_xml([photo("31")]))
    app = make_app()
    result = app.test_cli_runner().invoke(args=["library", "import", str(bad), str(good)])
    assert result.exit_code == 0, result.output
    assert f"{bad}: skipped: " in result.output
    assert "nested" in result.output or "depth" in result.output.lower()
    assert f"{good}: imported 1 photo" in result.output


def test_import_reads_only_regular_files(tmp_path):
    fifo = tmp_path / "fifo.xml"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.xml"
    zero.symlink_to("/dev/zero")
    good = tmp_path / "good.xml"
    good.write_bytes(flickr_xml([photo("41")]))
    run = cli(tmp_path, "import", str(fifo), str(zero), str(good))
    out = run.stdout.decode() + run.stderr.decode()
    assert run.returncode == 0, out
    assert f"{fifo}: skipped: not a regular file" in out and f"{zero}: skipped: not a regular file" in out
    assert "1 of 3 files imported" in out


def test_titles_descriptions_and_tags_are_capped(make_app, tmp_path):
    tags = " ".join([f"tag{i}" for i in range(500)] + ["x" * (TAG_MAX + 1)])
    big = photo("51", title="T" * 5_000_000, description="D" * 1_000_000, tags=tags, machine_tags=tags)
    path = tmp_path / "big.xml"
    path.write_bytes(flickr_xml([big]))
    app = make_app()
    assert app.test_cli_runner().invoke(args=["library", "import", str(path)]).exit_code == 0
    (only,) = stored(app, extras="tags,machine_tags,description").photos
    assert (len(only.title), len(only.description)) == (TITLE_MAX, DESCRIPTION_MAX)
    assert len(only.tags) == TAGS_MAX and only.tags[0] == "tag0" and all(len(t) <= TAG_MAX for t in only.tags)
    response = app.test_client().get("/services/rest/?method=flickr.photos.search&format=feed-rss_200&extras=tags")
    assert response.status_code == 200 and len(response.data) < 250_000  # was 16-36 MB with a 5 MB title
    feed = feedparser.parse(response.data)
    # One category per tag (and media:category holding them all, space-separated).
    assert len(feed.entries) == 1 and len({t.term for t in feed.entries[0].tags if " " not in t.term}) == TAGS_MAX


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.dictionaries(st.sampled_from(INT_ATTRS + ("latitude", "longitude", "dateadded", "title")),
                              st.one_of(st.integers(), st.floats(), st.text(max_size=30)), max_size=6))
def test_fuzz_any_attribute_values_never_stop_an_import(make_app, tmp_path, values):
    count_cases("fuzz: hostile values in imported photos")
    path = tmp_path / "fuzz.json"
    body = {"stat": "ok", "photos": {"page": 1, "perpage": 2, "total": 2,
                                     "photo": [{**photo("61"), **values}, photo("62")]}}
    path.write_text(json.dumps(body, allow_nan=True))
    app = make_app("fuzz.sqlite")
    result = app.test_cli_runner().invoke(args=["library", "import", str(path), "--call",
                                                "method=flickr.groups.pools.getPhotos&group_id=9@N00"])
    assert result.exit_code == 0, result.output
    assert {"61", "62"} <= {p.id for p in stored(app).photos}
    feed = app.test_client().get("/services/rest/?method=flickr.groups.pools.getPhotos&group_id=9@N00"
                                 "&format=feed-georss&extras=geo,views")
    assert feed.status_code == 200


# ---------------------------------------------------------------- add-folder


def test_add_folder_skips_fifos_devices_and_undecodable_names_and_adds_the_rest(tmp_path):
    folder = tmp_path / "photos"
    jpeg(folder / "good.jpg", (64, 48), (10, 120, 200))
    os.mkfifo(folder / "x.jpg")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    odd = os.fsencode(folder) + b"/caf\xe9.jpg"  # Latin-1 bytes: not UTF-8
    with open(odd, "wb") as f:
        f.write((folder / "good.jpg").read_bytes()[:-10] + b"other bytes")
    run = cli(tmp_path, "add-folder", str(folder), "--owner", "Alice")
    out = run.stdout.decode() + run.stderr.decode(errors="backslashreplace")
    assert run.returncode == 0, out
    assert "x.jpg: skipped: not a regular file (a FIFO)" in out
    assert "zero.jpg: skipped: not a regular file (a character device)" in out
    assert "skipped: its name is not UTF-8" in out
    assert "1 added, 0 replaced, 0 duplicates, 0 unchanged, 3 skipped" in out


def test_add_folder_refuses_originals_over_the_pixel_cap(tmp_path):
    folder = tmp_path / "photos"
    jpeg(folder / "small.jpg", (100, 100), (10, 120, 200))
    Image.new("RGB", (1200, 1000), (1, 2, 3)).save(folder / "huge.png")
    run = cli(tmp_path, "add-folder", str(folder), "--owner", "Alice", env={"GATEWAY_IMAGE_MAX_PIXELS": "1000000"})
    out = run.stdout.decode() + run.stderr.decode()
    assert run.returncode == 0, out
    assert "huge.png: skipped: 1200 × 1000 pixels is more than GATEWAY_IMAGE_MAX_PIXELS (1,000,000)" in out
    assert "1 added" in out


def test_a_photo_the_library_cannot_store_is_skipped_not_the_batch(make_app, tmp_path, monkeypatch):
    from gateway.upstreams.library import folder as folder_module

    folder = tmp_path / "photos"
    for i, name in enumerate(("a.jpg", "b.jpg", "c.jpg")):
        jpeg(folder / name, (32 + i, 32), (i * 80, 10, 10))
    real = folder_module._photo

    def failing(found, who, now):
        if found.path.name == "b.jpg":
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return real(found, who, now)

    monkeypatch.setattr(folder_module, "_photo", failing)
    app = make_app()
    result = app.test_cli_runner().invoke(args=["library", "add-folder", str(folder), "--owner", "Alice"])
    assert result.exit_code == 0, result.output
    assert "b.jpg: skipped: the library cannot store it" in result.output
    assert sorted(p.title for p in stored(app, user_id="alice").photos) == ["a", "c"]


# ---------------------------------------------------------------- no GPS fix


@pytest.mark.parametrize(("gps", "status", "place"), [
    (("N", (0.0, 0.0, 0.0), "E", (0.0, 0.0, 0.0)), None, None),  # a GPS block of zeros
    (("", (0.0, 0.0, 0.0), "", (0.0, 0.0, 0.0)), None, None),
    (("N", (41.0, 53.0, 24.8), "E", (12.0, 29.0, 32.3)), "V", None),  # the receiver says: no fix
    (("N", (41.0, 53.0, 24.8), "E", (12.0, 29.0, 32.3)), "A", (41.890222, 12.492306)),
    (("N", (0.0, 0.0, 0.0), "E", (12.0, 29.0, 32.3)), None, (0.0, 12.492306)),  # on the equator: a place
])
def test_no_gps_fix_is_no_place(make_app, tmp_path, gps, status, place):
    folder = tmp_path / "photos"
    jpeg(folder / "p.jpg", (40, 30), (200, 10, 10), gps=gps)
    if status:
        with Image.open(folder / "p.jpg") as img:
            exif = img.getexif()
            exif.get_ifd(0x8825)[9] = status
            img.load()
            img.save(folder / "p.jpg", exif=exif)
    app = make_app()
    assert app.test_cli_runner().invoke(args=["library", "add-folder", str(folder), "--owner", "A"]).exit_code == 0
    (only,) = stored(app, user_id="a", extras="geo").photos
    if place is None:
        assert not only.geotagged and (only.latitude, only.longitude, only.accuracy) == (0, 0, 0)
        geojson = json.loads(app.test_client().get(
            "/services/rest/?method=flickr.photos.search&user_id=a&format=feed-geojson").data)
        assert geojson["features"] == []  # not on any map, Null Island included
    else:
        assert only.geotagged and (only.latitude, only.longitude) == place


# ---------------------------------------------------------------- odd EXIF values


def raw_exif(tag: int, kind: int, count: int, value: bytes) -> bytes:
    """An EXIF block of one IFD0 entry whose value fits in its 4 bytes, typed as the file says:
    Pillow writes only well-typed tags, a stranger's camera or tool does not."""
    entry = struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")
    return b"Exif\0\0II*\0" + struct.pack("<IH", 8, 1) + entry + struct.pack("<I", 0)


@pytest.mark.parametrize(("name", "exif"), [
    ("orientation-text.jpg", raw_exif(0x0112, 2, 4, b"six\0")),  # ASCII where a SHORT belongs
    ("orientation-99.jpg", raw_exif(0x0112, 3, 1, struct.pack("<H", 99))),
    ("xptitle-shorts.jpg", raw_exif(0x9C9B, 3, 2, struct.pack("<HH", 300, 65))),  # XPTitle as SHORTs > 255
])
def test_odd_exif_values_cost_nothing_but_themselves(make_app, tmp_path, name, exif):
    folder = tmp_path / "photos"
    jpeg(folder / "good.jpg", (40, 30), (10, 120, 200))
    Image.new("RGB", (40, 30), (200, 10, 10)).save(folder / name, exif=exif)
    app = make_app()
    result = app.test_cli_runner().invoke(args=["library", "add-folder", str(folder), "--owner", "A"])
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output
    odd = next(p for p in stored(app, user_id="a", extras="o_dims").photos if p.title != "good")
    assert (odd.o_width, odd.o_height) == (40, 30)  # upright as stored: no orientation it can read
    image = app.test_client().get(f"/images/{odd.id}_s.jpg")
    assert image.status_code == 200 and image.data[:2] == b"\xff\xd8"
    image.close()


@pytest.mark.parametrize("taken", ["0000:00:00 00:00:00", "2020:13:45 99:99:99", "2021:02:30 12:00:00"])
def test_a_date_no_calendar_has_is_an_unknown_date(make_app, tmp_path, taken):
    folder = tmp_path / "photos"
    jpeg(folder / "p.jpg", (40, 30), (10, 120, 200), taken=taken)
    app = make_app()
    assert app.test_cli_runner().invoke(args=["library", "add-folder", str(folder), "--owner", "A"]).exit_code == 0
    (only,) = stored(app, user_id="a", extras="date_taken").photos
    assert only.datetakenunknown == 1 and only.datetaken != taken.replace(":", "-", 2)


def test_a_file_that_breaks_the_reader_unforeseen_is_skipped_not_the_run(make_app, tmp_path, monkeypatch):
    from gateway.upstreams.library import exif

    folder = tmp_path / "photos"
    for i, name in enumerate(("a.jpg", "b.jpg", "c.jpg")):
        jpeg(folder / name, (32 + i, 32), (i * 80, 10, 10))
    real, bad = exif.read, (folder / "b.jpg").read_bytes()

    def breaking(f, max_pixels=None):
        if f.read() == bad:
            raise KeyError("a tag no one foresaw")
        f.seek(0)
        return real(f, max_pixels)

    monkeypatch.setattr(exif, "read", breaking)
    app = make_app()
    result = app.test_cli_runner().invoke(args=["library", "add-folder", str(folder), "--owner", "Alice"])
    assert result.exit_code == 0, result.output
    assert "b.jpg: skipped: cannot read its metadata (KeyError: 'a tag no one foresaw')" in result.output
    assert sorted(p.title for p in stored(app, user_id="alice").photos) == ["a", "c"]
