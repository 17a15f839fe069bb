"""Renditions of local photos under pressure (fault suite): the pixel cap, one render per image and
size, and the cut made before turning upright."""

from __future__ import annotations

import io
import threading
import time

import pytest
from conftest import flickr_xml
from PIL import Image
from support import count_cases
from test_local_photos import jpeg

from gateway import renditions


@pytest.fixture(autouse=True)
def _counted():
    yield
    count_cases("faults: renditions")


def add(app, folder) -> dict[str, object]:
    result = app.test_cli_runner().invoke(args=["library", "add-folder", str(folder), "--owner", "Alice"])
    assert result.exit_code == 0, result.output
    page = app.extensions["gateway.upstream"].photos("flickr.photos.search", {"user_id": "alice"})
    return {p.title: p for p in page.photos}


def test_a_drawn_original_over_the_cap_is_not_made_but_its_small_sizes_are(make_app, tmp_path):
    huge = {"id": "77", "owner": "1@L00", "secret": "abc", "server": "local", "title": "Huge",
            "o_width": "25000", "o_height": "25000", "originalformat": "png", "originalsecret": "abc"}
    path = tmp_path / "huge.xml"
    path.write_bytes(flickr_xml([huge]))
    app = make_app()
    assert app.test_cli_runner().invoke(args=["library", "import", str(path)]).exit_code == 0
    client = app.test_client()
    started = time.perf_counter()
    assert client.get("/images/77_o.png", buffered=True).status_code == 404  # 625 megapixels: refused, not drawn
    assert time.perf_counter() - started < 5  # drawing it took 11.5 s and 2.5 GB
    small = client.get("/images/77_q.jpg", buffered=True)
    assert small.status_code == 200
    with Image.open(io.BytesIO(small.data)) as img:
        assert img.size == (150, 150)


def test_a_file_over_the_cap_is_not_decoded(make_app, tmp_path):
    folder = tmp_path / "photos"
    jpeg(folder / "wide.jpg", (1200, 900), (200, 30, 30))
    found = add(make_app("one.sqlite"), folder)
    strict = make_app("one.sqlite", IMAGE_MAX_PIXELS=500_000)  # lowered after the file was added
    photo_id = found["wide"].id
    client = strict.test_client()
    assert client.get(f"/images/{photo_id}_b.jpg", buffered=True).status_code == 404
    original = client.get(f"/images/{photo_id}_o.jpg", buffered=True)  # upright: sent as the file is, nothing decoded
    assert original.status_code == 200 and original.data == (folder / "wide.jpg").read_bytes()


def test_one_render_per_image_and_size_while_others_wait(make_app, tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    jpeg(folder / "one.jpg", (1600, 1200), (30, 200, 30))
    app = make_app()
    photo_id = add(app, folder)["one"].id
    real, calls = renditions.from_file, []

    def slow(*args, **kwargs):
        calls.append(args[1])
        time.sleep(0.3)  # long enough that every request below arrives while it runs
        return real(*args, **kwargs)

    monkeypatch.setattr(renditions, "from_file", slow)
    bodies, barrier = [], threading.Barrier(6)

    def fetch():
        client = app.test_client()
        barrier.wait()
        response = client.get(f"/images/{photo_id}_z.jpg", buffered=True)
        bodies.append((response.status_code, response.data))

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert calls == ["z"]  # made once
    assert len(bodies) == 6 and {status for status, _ in bodies} == {200} and len({b for _, b in bodies}) == 1


def test_a_turned_photo_is_cut_then_turned_upright(make_app, tmp_path):
    folder = tmp_path / "photos"
    # Stored 1200 × 800, left half blue; orientation 6 (turn 90° clockwise): upright 800 × 1200, top half blue.
    jpeg(folder / "portrait.jpg", (1200, 800), (40, 40, 200), orientation=6)
    app = make_app()
    photo_id = add(app, folder)["portrait"].id
    for suffix, size in (("z", (427, 640)), ("q", (150, 150))):
        response = app.test_client().get(f"/images/{photo_id}_{suffix}.jpg", buffered=True)
        assert response.status_code == 200
        with Image.open(io.BytesIO(response.data)) as img:
            assert img.size == size
            top, bottom = img.getpixel((size[0] // 2, 5)), img.getpixel((size[0] // 2, size[1] - 5))
            assert top[2] > 150 and top[0] < 100  # blue
            assert min(bottom) > 200  # white


def test_release_memory_runs():
    renditions.release_memory()  # glibc's malloc_trim here; a no-op where there is none
