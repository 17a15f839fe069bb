"""Issue 12 item 3 and issue 11 item 6: a changed library is in the very next response, and
Last-Modified moves with every change of the representation.

Two apps on one library file stand for two gunicorn workers; imports, add-folder
and removals are made through a third (a command's process). Feeds are read with
feedparser; pollers are played as Tiny Tiny RSS plays them (If-Modified-Since only).
"""

from __future__ import annotations

import email.utils
import time

import feedparser
import pytest
from conftest import flickr_xml
from PIL import Image

from gateway.upstreams.library import store

GROUP = "G1@N00"
POOL = {"method": "flickr.groups.pools.getPhotos", "group_id": GROUP, "format": "feed-atom_10"}
NOW = int(time.time())


def photo(n: int, uploaded: int, tags: str = "x") -> dict[str, object]:
    return {"id": str(1000 + n), "owner": "12345678@N01", "ownername": "A", "secret": f"s{n}", "server": "65535",
            "farm": "66", "title": f"photo {n}", "dateupload": str(uploaded), "tags": tags, "ispublic": "1"}


@pytest.fixture(params=["memory", "file"])
def workers(request, make_app, tmp_path):
    """Two workers on one library and (for file://) one shared cache directory, and a command's app."""
    cache = "memory://" if request.param == "memory" else f"file://{tmp_path}/cache"
    apps = [make_app(CACHE_URL=cache) for _ in range(2)]
    command = make_app()
    return apps, command


def importer(command, tmp_path):
    def load(photos, **call):
        path = tmp_path / f"import-{time.monotonic_ns()}.xml"
        path.write_bytes(flickr_xml(photos))
        command.extensions["gateway.upstream"].import_file(path, call)
    return load


def titles(response) -> list[str]:
    assert response.status_code == 200, response.headers.get("X-FlickrErrMessage")
    parsed = feedparser.parse(response.get_data())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return sorted(e.title for e in parsed.entries)


def test_an_import_is_in_the_next_response_on_every_worker(workers, tmp_path):
    apps, command = workers
    load = importer(command, tmp_path)
    load([photo(1, NOW - 1000)], method="flickr.groups.pools.getPhotos", group_id=GROUP)
    clients = [app.test_client() for app in apps]
    for client in clients:
        for _ in range(3):  # the later ones answered by the fast path (FastHits)
            assert titles(client.get("/services/rest/", query_string=POOL)) == ["photo 1"]
    load([photo(2, NOW - 5000)], method="flickr.groups.pools.getPhotos", group_id=GROUP)
    for client in clients:
        assert titles(client.get("/services/rest/", query_string=POOL)) == ["photo 1", "photo 2"]


def test_a_removal_and_a_retag_are_in_the_next_response(workers, tmp_path):
    apps, command = workers
    load = importer(command, tmp_path)
    load([photo(1, NOW - 1000), photo(2, NOW - 2000)], method="flickr.groups.pools.getPhotos", group_id=GROUP)
    client = apps[0].test_client()
    tagged = {"method": "flickr.photos.search", "tags": "sunset", "format": "feed-rss_200"}
    assert titles(client.get("/services/rest/", query_string=POOL)) == ["photo 1", "photo 2"]
    assert titles(client.get("/services/rest/", query_string=tagged)) == []
    load([photo(2, NOW - 2000, tags="sunset")], method="flickr.photos.search")
    assert titles(client.get("/services/rest/", query_string=tagged)) == ["photo 2"]
    conn = command.extensions["gateway.upstream"].store.connection()
    with store.transaction(conn):
        pk = conn.execute("SELECT pk FROM photos WHERE id = '1001'").fetchone()[0]
        store.delete_photos(conn, [pk])
    assert titles(client.get("/services/rest/", query_string=POOL)) == ["photo 2"]


def test_add_folder_is_in_the_next_response(workers, tmp_path):
    apps, command = workers
    client = apps[1].test_client()
    recent = {"method": "flickr.photos.getRecent", "format": "feed-rss_200"}
    assert titles(client.get("/services/rest/", query_string=recent)) == []
    folder = tmp_path / "pictures"
    folder.mkdir()
    Image.new("RGB", (64, 48), "red").save(folder / "harbour.jpg")
    command.extensions["gateway.upstream"].add_folder(folder, owner="newcomer")
    assert len(titles(client.get("/services/rest/", query_string=recent))) == 1


def test_an_unchanged_reimport_keeps_the_cache(workers, tmp_path):
    apps, command = workers
    load = importer(command, tmp_path)
    load([photo(1, NOW - 1000)], method="flickr.groups.pools.getPhotos", group_id=GROUP)
    before = command.extensions["gateway.upstream"].data_version()
    load([photo(1, NOW - 1000)], method="flickr.groups.pools.getPhotos", group_id=GROUP)
    assert command.extensions["gateway.upstream"].data_version() == before


def http_time(value: str) -> int:
    return int(email.utils.parsedate_to_datetime(value).timestamp())


def test_if_modified_since_pollers_see_an_older_upload_join_the_pool(workers, tmp_path):
    apps, command = workers
    load = importer(command, tmp_path)
    load([photo(1, NOW - 1000)], method="flickr.groups.pools.getPhotos", group_id=GROUP)
    client = apps[0].test_client()
    first = client.get("/services/rest/", query_string=POOL)
    since = first.headers["Last-Modified"]
    # Tiny Tiny RSS sends If-Modified-Since only.
    assert client.get("/services/rest/", query_string=POOL, headers={"If-Modified-Since": since}).status_code == 304
    # An upload older than the newest one joins the pool: the newest upload time stays put.
    load([photo(2, NOW - 90000)], method="flickr.groups.pools.getPhotos", group_id=GROUP)
    changed = client.get("/services/rest/", query_string=POOL, headers={"If-Modified-Since": since})
    assert changed.status_code == 200 and titles(changed) == ["photo 1", "photo 2"]
    assert http_time(changed.headers["Last-Modified"]) > http_time(since)
    assert changed.headers["ETag"] != first.headers["ETag"]
    since = changed.headers["Last-Modified"]
    later = client.get("/services/rest/", query_string=POOL, headers={"If-Modified-Since": since})
    assert later.status_code == 304
    # Removing it again is a change too.
    conn = command.extensions["gateway.upstream"].store.connection()
    with store.transaction(conn):
        store.delete_photos(conn, [conn.execute("SELECT pk FROM photos WHERE id = '1002'").fetchone()[0]])
    removed = client.get("/services/rest/", query_string=POOL, headers={"If-Modified-Since": since})
    assert removed.status_code == 200 and titles(removed) == ["photo 1"]


def test_identical_requests_get_identical_validators(workers, tmp_path):
    apps, command = workers
    load = importer(command, tmp_path)
    load([photo(1, NOW - 1000), photo(2, NOW - 3000)], method="flickr.groups.pools.getPhotos", group_id=GROUP)
    answers = [app.test_client().get("/services/rest/", query_string=POOL) for app in apps for _ in range(2)]
    assert len({(a.headers["ETag"], a.headers["Last-Modified"]) for a in answers}) == 1
    time.sleep(1.1)  # a later second changes nothing either
    again = apps[0].test_client().get("/services/rest/", query_string={**POOL, "page": "1"})
    assert (again.headers["ETag"], again.headers["Last-Modified"]) == (answers[0].headers["ETag"],
                                                                        answers[0].headers["Last-Modified"])


def test_the_remove_command_is_in_the_next_response(workers, tmp_path):
    apps, command = workers
    load = importer(command, tmp_path)
    load([photo(1, NOW - 1000), photo(2, NOW - 2000)], method="flickr.groups.pools.getPhotos", group_id=GROUP)
    clients = [app.test_client() for app in apps]
    for client in clients:
        assert titles(client.get("/services/rest/", query_string=POOL)) == ["photo 1", "photo 2"]
    result = command.test_cli_runner().invoke(args=["library", "remove", "--photo", "1001"])
    assert result.exit_code == 0, result.output
    for client in clients:
        assert titles(client.get("/services/rest/", query_string=POOL)) == ["photo 2"]
