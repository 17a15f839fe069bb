"""`library mirror`: paging a live call into the library, against the replay server."""

from __future__ import annotations

import pytest
from flask.cli import AppGroup
from replay import Fault

from gateway import create_app
from gateway.errors import FlickrError
from gateway.mirror import mirror, register_mirror

GROUP = {"group_id": "66832458@N00"}
POOL = "flickr.groups.pools.getPhotos"


@pytest.fixture
def app(replay, tmp_path):
    # The default (library) upstream: mirroring needs only the Flickr credentials.
    return create_app({"FLICKR_API_KEY": "k" * 32, "FLICKR_API_SECRET": "s" * 16, "FLICKR_REST_URL": replay.url,
                       "UPSTREAM_TIMEOUT": 1, "LIBRARY_PATH": str(tmp_path / "library.sqlite")})


class Imported(list):
    """A stand-in for the library's import step: remembers each call and page."""

    def __call__(self, method, args, page):
        self.append((method, dict(args), page))


def test_pages_through_a_call(app, replay):
    imported = Imported()
    pages = list(mirror(app, POOL, GROUP, 2, imported, per_page=100))
    assert [p.page for p in pages] == [1, 2]
    for number, (method, args, page) in enumerate(imported, 1):
        recording = replay.recording(POOL, **GROUP, page=str(number), per_page="100")
        assert (method, args) == (POOL, {**GROUP, "page": str(number), "per_page": "100"})
        assert [p.id for p in page.photos] == recording.photo_ids()
    assert len(replay.calls) == 2


def test_stops_at_the_last_page(app, replay):
    imported = Imported()
    pages = list(mirror(app, "flickr.people.getPublicPhotos", {"user_id": "39758725@N03"}, None, imported))
    assert [(p.page, p.pages, len(p.photos)) for p in pages] == [(1, 2, 500), (2, 2, 370)]
    assert [c.params["per_page"] for c in replay.calls] == ["500", "500"]


def test_refuses_methods_outside_the_allowlist(app, replay):
    with pytest.raises(FlickrError) as err:
        list(mirror(app, "flickr.photos.delete", {"photo_id": "1"}, 1, Imported()))
    assert err.value.code == 112 and replay.calls == []


def test_a_failed_page_keeps_what_was_imported(app, replay):
    imported = Imported()

    def import_then_break(method, args, page):
        imported(method, args, page)
        replay.inject(Fault.http(500))

    with pytest.raises(FlickrError) as err:
        list(mirror(app, POOL, GROUP, 3, import_then_break, per_page=100))
    assert err.value.code == 105 and len(imported) == 1


def cli(app, imported):
    group = AppGroup("library")
    register_mirror(group, imported)
    app.cli.add_command(group)
    return app.test_cli_runner()


def test_command(app, replay):
    imported = Imported()
    result = cli(app, imported).invoke(args=["library", "mirror", POOL, "group_id=66832458@N00", "--pages", "2",
                                             "--per-page", "100"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "imported 200 photos"
    assert len(imported) == 2


def test_command_errors(app, replay):
    runner = cli(app, Imported())
    assert runner.invoke(args=["library", "mirror", POOL, "group_id"]).exit_code == 2
    replay.inject(Fault.stat_fail(1, "Group not found"))
    result = runner.invoke(args=["library", "mirror", POOL, "group_id=nope"])
    assert result.exit_code == 1 and "Flickr error 1: Group not found" in result.output


def test_command_without_credentials(tmp_path):
    app = create_app({"LIBRARY_PATH": str(tmp_path / "library.sqlite")})
    result = cli(app, Imported()).invoke(args=["library", "mirror", POOL, "group_id=1@N01"])
    assert result.exit_code == 1 and "GATEWAY_FLICKR_API_KEY" in result.output


def test_mirrored_photos_are_served_by_the_library(app, replay):
    # The real `library mirror` command, into the real library, then out through the API.
    result = app.test_cli_runner().invoke(args=["library", "mirror", POOL, "group_id=66832458@N00", "--pages", "1",
                                                "--per-page", "100"])
    assert result.exit_code == 0, result.output
    recorded = replay.recording(POOL, **GROUP, page="1", per_page="100").photo_ids()
    client = app.test_client()
    r = client.get("/services/rest/", query_string={"method": POOL, **GROUP, "format": "json",
                                                    "nojsoncallback": "1", "per_page": "15"})
    photos = r.get_json()["photos"]
    assert photos["total"] == len(recorded)
    assert {p["id"] for p in photos["photo"]} <= set(recorded)
    app.extensions["gateway.upstream"].close()
