"""The demo an empty library starts with, and `library synth` through the bulk path."""

from __future__ import annotations

import io
import json

import pytest
from conftest import FIXTURES
from PIL import Image

from gateway.upstreams.library import Library, demo, folder, store
from gateway.upstreams.library.landmarks import LANDMARKS

DEMO_PHOTOS = len(LANDMARKS) * demo.PHOTOS_PER_LANDMARK + 2 * len(demo.INDOOR)


@pytest.fixture
def demo_app(make_app):
    # No response cache: these tests watch the library change under a running app.
    return make_app(DEMO=1, CACHE_TTL=0)


def call(client, **args):
    r = client.get("/services/rest/", query_string={"format": "json", "nojsoncallback": "1", **args})
    assert r.status_code == 200
    data = json.loads(r.data)
    assert data["stat"] == "ok", data
    return data.get("photos") or data["photoset"]


def test_first_request_to_an_empty_library_makes_the_demo(demo_app):
    client = demo_app.test_client()
    assert call(client, method="flickr.photos.getRecent")["total"] == DEMO_PHOTOS
    nsid, _name, alias = demo.owner(0)
    answers = {
        "flickr.photos.search": {"tags": "bridge"},
        "flickr.photos.search ": {"text": "Eiffel"},
        "flickr.interestingness.getList": {},
        "flickr.people.getPublicPhotos": {"user_id": alias},
        "flickr.groups.pools.getPhotos": {"group_id": folder.local_nsid("World Heritage", "group")},
        "flickr.photosets.getPhotos": {"photoset_id": demo.ALBUM[0]},
        "flickr.galleries.getPhotos": {"gallery_id": demo.GALLERY[0]},
        "flickr.favorites.getPublicList": {"user_id": demo.owner(2)[0]},
        "flickr.photos.geo.photosForLocation": {"lat": "48.8584", "lon": "2.2945", "accuracy": "12"},
    }
    for method, args in answers.items():
        assert call(client, method=method.strip(), **args)["total"] > 0, method
    assert call(client, method="flickr.photos.search", has_geo="0")["total"] == 2 * len(demo.INDOOR)
    assert call(client, method="flickr.photos.search", bbox="2.28,48.85,2.31,48.87")["total"] == 4  # Eiffel Tower
    geo = json.loads(client.get("/services/rest/", query_string={
        "method": "flickr.photos.search", "tags": "demo", "format": "feed-geojson", "per_page": "15"}).data)
    assert geo["pagination"]["total"] == DEMO_PHOTOS and geo["features"]


def test_demo_images_are_drawn_at_their_sizes(demo_app):
    client = demo_app.test_client()
    photo = call(client, method="flickr.photos.search", text="Sydney Opera House", extras="url_sq,url_l,url_o")
    first = photo["photo"][0]
    for key in ("sq", "l", "o"):
        r = client.get(first[f"url_{key}"].removeprefix("http://localhost"), buffered=True)
        assert r.status_code == 200
        with Image.open(io.BytesIO(r.data)) as img:
            assert img.size == (int(first[f"width_{key}"]), int(first[f"height_{key}"]))


def test_the_demo_is_the_same_every_time_and_made_once(make_app):
    one, two = make_app("a.sqlite", DEMO=1), make_app("b.sqlite", DEMO=1)
    ids = [[p["id"] for p in call(app.test_client(), method="flickr.photos.getRecent", per_page="15")["photo"]]
           for app in (one, two)]
    assert ids[0] == ids[1]
    second_worker = Library(one.extensions["gateway.upstream"].path, demo=True)  # another process, same file
    try:
        assert second_worker.photos("flickr.photos.getRecent", {}).total == DEMO_PHOTOS
    finally:
        second_worker.close()


def test_commands_never_make_the_demo_and_filling_removes_it(demo_app):
    runner = demo_app.test_cli_runner()
    assert "photos: 0" in runner.invoke(args=["library", "stats"]).output
    client = demo_app.test_client()
    assert call(client, method="flickr.photos.getRecent")["total"] == DEMO_PHOTOS
    result = runner.invoke(args=["library", "import", str(FIXTURES / "photos.search-19a6cc8272.xml")])
    assert result.exit_code == 0 and f"removed the {DEMO_PHOTOS} demo photos" in result.output
    page = call(client, method="flickr.photos.getRecent")
    assert page["total"] == demo_app.extensions["gateway.upstream"].stats()["photos"] > 0
    assert not any(p["server"] == "local" for p in page["photo"])
    conn = demo_app.extensions["gateway.upstream"].store.connection()
    assert conn.execute("SELECT count(*) FROM sets WHERE owner LIKE '%@L00' OR id LIKE '72157900%'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM tags WHERE tag = 'demo'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM photos_fts WHERE photos_fts MATCH 'demo'").fetchone()[0] == 0


def test_demo_off_leaves_the_library_empty(make_app):
    client = make_app(DEMO=0).test_client()
    assert call(client, method="flickr.photos.getRecent")["total"] == 0


def test_landmarks_are_places_on_earth():
    assert len(LANDMARKS) >= 60 and len({lm.name for lm in LANDMARKS}) == len(LANDMARKS)
    assert all(-90 <= lm.lat <= 90 and -180 <= lm.lon <= 180 for lm in LANDMARKS)
    eiffel = next(lm for lm in LANDMARKS if lm.name == "Eiffel Tower")
    assert store.distance_km(eiffel.lat, eiffel.lon, 48.85837, 2.29448) < 0.1


# ---------------------------------------------------------------- synth and the bulk path


@pytest.fixture
def synthetic(app):
    result = app.test_cli_runner().invoke(args=["library", "synth", "3000", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "3000 synthetic photos" in result.output
    return app.extensions["gateway.upstream"]


def test_synth_answers_like_row_by_row_writes(synthetic):
    conn = synthetic.store.connection()
    tag, = conn.execute("SELECT tag FROM tags GROUP BY tag ORDER BY count(*) DESC LIMIT 1").fetchone()
    by_text = conn.execute("SELECT count(*) FROM photos WHERE ' ' || tags || ' ' LIKE ?", (f"% {tag} %",)).fetchone()
    assert synthetic.photos("flickr.photos.search", {"tags": tag}).total == by_text[0] > 0
    fts = synthetic.photos("flickr.photos.search", {"text": tag}).total
    assert fts >= by_text[0]  # in the tags, and maybe in titles and descriptions too
    geotagged = conn.execute("SELECT count(*) FROM photos WHERE geotagged").fetchone()[0]
    assert synthetic.photos("flickr.photos.search", {"bbox": "-180,-90,180,90"}).total == geotagged
    group, = conn.execute("SELECT set_id FROM memberships GROUP BY set_id ORDER BY count(*) DESC").fetchone()
    assert synthetic.photos("flickr.groups.pools.getPhotos", {"group_id": group}).total > 0


def test_synth_puts_back_indexes_triggers_and_wal(synthetic, tmp_path):
    conn = synthetic.store.connection()
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger')")}
    fresh = store.Store(str(tmp_path / "fresh.sqlite"))
    try:
        expected = {row[0] for row in fresh.connection().execute(
            "SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger')")}
    finally:
        fresh.close()
    assert names == expected
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    more = synthetic.synthesize(500, seed=6)  # into a library that is not empty: indexes kept, ids go on
    assert more == 500 and synthetic.stats()["photos"] == 3500
    assert conn.execute("SELECT count(DISTINCT id) FROM photos").fetchone()[0] == 3500
    assert conn.execute("SELECT count(*) FROM photos_fts WHERE photos_fts MATCH 'zzzunlikely'").fetchone()[0] == 0


def test_synthetic_photos_are_drawn(synthetic, app):
    client = app.test_client()
    first = call(client, method="flickr.photos.getRecent", per_page="1", extras="url_q")["photo"][0]
    r = client.get(first["url_q"].removeprefix("http://localhost"), buffered=True)
    with Image.open(io.BytesIO(r.data)) as img:
        assert img.size == (150, 150)


def test_builder_page_previews_the_demo_with_the_gateways_images(demo_app):
    r = demo_app.test_client().get("/", query_string={"method": "flickr.photos.search", "tags": "bridge"})
    assert r.status_code == 200
    assert b'src="http://localhost/images/' in r.data and b"live.staticflickr.com" not in r.data
