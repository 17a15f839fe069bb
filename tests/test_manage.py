"""Managing the library from the command line (issue 12, items 2 and 4): add-folder run
again drops the photos whose files are gone, `remove`, `list`, the user_id that
add-folder prints, and set files imported without their call."""

from __future__ import annotations

import json
import re

import pytest
from conftest import flickr_xml
from PIL import Image

from gateway.upstreams.library.folder import local_nsid


def picture(path, color, size=(320, 240)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, quality=90)


@pytest.fixture
def pics(tmp_path):
    root = tmp_path / "pics"
    for n, color in enumerate([(200, 0, 0), (0, 200, 0), (0, 0, 200)]):
        picture(root / f"p{n}.jpg", color)
    picture(root / "trip" / "t.jpg", (90, 90, 0))
    return root


def cli(app, *args):
    result = app.test_cli_runner().invoke(args=["library", *args])
    return result


def feed(app, **args):
    """The json answer of the API (the route a feed reader takes), as a dict."""
    response = app.test_client().get("/services/rest/", query_string={**args, "format": "json", "nojsoncallback": 1})
    return json.loads(response.data)


def test_rerun_drops_photos_whose_files_are_gone(make_app, pics):
    app = make_app()
    assert cli(app, "add-folder", str(pics), "--owner", "Ann").exit_code == 0
    (pics / "p0.jpg").unlink()
    (pics / "trip" / "t.jpg").unlink()
    result = cli(app, "add-folder", str(pics), "--owner", "Ann")
    assert result.exit_code == 0, result.output
    assert "0 added, 0 replaced, 0 duplicates, 2 unchanged, 0 skipped, 2 removed (files gone)" in result.output
    assert "the library holds 2 photos" in result.output
    answer = feed(app, method="flickr.people.getPublicPhotos", user_id="ann")
    assert answer["photos"]["total"] == 2
    for photo in answer["photos"]["photo"]:  # what stays still has its images
        with app.test_client().get(f"/images/{photo['id']}_s.jpg", buffered=True) as response:
            assert response.status_code == 200


def test_a_gone_file_whose_content_is_elsewhere_keeps_its_photo(make_app, pics, tmp_path):
    app = make_app()
    other = tmp_path / "other"
    other.mkdir()
    (other / "copy.jpg").write_bytes((pics / "p1.jpg").read_bytes())
    cli(app, "add-folder", str(pics), "--owner", "Ann")
    cli(app, "add-folder", str(other), "--owner", "Ann")
    (pics / "p1.jpg").unlink()
    assert "0 removed (files gone)" in cli(app, "add-folder", str(pics), "--owner", "Ann").output
    assert feed(app, method="flickr.photos.search", user_id="ann")["photos"]["total"] == 4


def test_add_folder_prints_a_user_id_that_works_after_a_change_of_owner(make_app, pics):
    """The reported case: the folder was first added under the login name, then with --owner mover.
    The photos stayed the first owner's, and `user_id=mover` answered "User not found"."""
    app = make_app()
    cli(app, "add-folder", str(pics), "--owner", "newcomer")
    result = cli(app, "add-folder", str(pics), "--owner", "mover")
    assert "4 photos moved to owner mover" in result.output
    ids = re.findall(r"user_id=(\S+?)[)\s]", result.output)
    assert ids == [local_nsid("mover"), "mover"]
    for user_id in ids:
        answer = feed(app, method="flickr.people.getPublicPhotos", user_id=user_id)
        assert answer["stat"] == "ok" and answer["photos"]["total"] == 4, answer
    # Without --owner, a run keeps the owner the photos have, and says who that is.
    result = cli(app, "add-folder", str(pics))
    assert "moved to owner" not in result.output and "owner mover: 4 photos of this folder" in result.output


def test_a_rerun_without_owner_keeps_the_folder_with_its_owner(make_app, pics):
    """Found by a new user: after `add-folder ~/Pictures --owner alice`, a later run without --owner
    (README: "run add-folder again after changing the folder") gave an edited photo and a new one to
    the login name, so they left alice's feed; a photo removed and added again went the same way."""
    app = make_app()
    cli(app, "add-folder", str(pics), "--owner", "Ann")
    picture(pics / "p0.jpg", (10, 10, 10), size=(240, 320))  # edited: new content at a known path
    picture(pics / "trip" / "new.jpg", (1, 2, 3))  # a new file
    p1 = feed(app, method="flickr.people.getPublicPhotos", user_id="ann")["photos"]["photo"]
    removed = next(p["id"] for p in p1 if p["title"] == "p1")
    assert cli(app, "remove", "--photo", removed).exit_code == 0
    result = cli(app, "add-folder", str(pics))
    assert "2 added, 1 replaced" in result.output  # p1 back, new.jpg; p0 edited
    assert result.output.count("owner ") == 1 and "owner Ann: 5 photos of this folder" in result.output
    answer = feed(app, method="flickr.people.getPublicPhotos", user_id="ann")
    assert answer["photos"]["total"] == 5
    assert len(cli(app, "list").output.split("owners (1)")) == 2
    # A folder seen for the first time still goes to the login name (or --owner).
    other = pics.parent / "other"
    picture(other / "o.jpg", (5, 6, 7))
    assert "owner Ann" not in cli(app, "add-folder", str(other)).output


def test_group_given_on_a_later_run_takes_the_whole_folder(make_app, pics):
    app = make_app()
    cli(app, "add-folder", str(pics), "--owner", "Ann")
    result = cli(app, "add-folder", str(pics), "--owner", "Ann", "--group", "Walks")
    group_id = re.search(r"group_id=(\S+)", result.output)[1]
    assert feed(app, method="flickr.groups.pools.getPhotos", group_id=group_id)["photos"]["total"] == 4


def test_list_names_the_ids_a_feed_asks_for(make_app, pics):
    app = make_app()
    cli(app, "add-folder", str(pics), "--owner", "Ann Lee", "--group", "Walks")
    result = cli(app, "list")
    assert result.exit_code == 0
    assert f"{local_nsid('Ann Lee')}  Ann Lee: 4 photos [on this gateway] (or user_id=ann-lee)" in result.output
    assert f"{local_nsid('Walks', 'group')} \u201cWalks\u201d: 4 photos" in result.output
    # Every id listed answers its feed.
    for user_id in re.findall(r"^  (\S+@L00)  ", result.output, re.M):
        assert feed(app, method="flickr.people.getPublicPhotos", user_id=user_id)["stat"] == "ok"


def test_list_of_imported_sets(make_app, tmp_path):
    app = make_app()
    path = tmp_path / "album.xml"
    path.write_bytes(flickr_xml([{"id": "11", "secret": "a", "server": "1", "title": "x"}], "photoset",
                                {"id": "72157600000000001", "owner": "1@N01", "ownername": "Bo", "title": "Trees",
                                 "page": 1, "pages": 1, "perpage": 10, "total": 1}))
    cli(app, "import", str(path))
    output = cli(app, "list").output
    assert "albums (1): photoset_id for flickr.photosets.getPhotos" in output
    assert "72157600000000001 \u201cTrees\u201d: 1 photo" in output


@pytest.mark.parametrize(("how", "gone", "left"), [
    (["--photo", "PHOTO"], 1, 3),
    (["--owner", "ann"], 4, 0),
    (["--owner", "Ann"], 4, 0),
    (["--group", "Walks"], 4, 0),
    (["--folder", "FOLDER/trip"], 1, 3),
])
def test_remove(make_app, pics, how, gone, left):
    app = make_app()
    cli(app, "add-folder", str(pics), "--owner", "Ann", "--group", "Walks")
    listed = feed(app, method="flickr.people.getPublicPhotos", user_id="ann", extras="tags")["photos"]["photo"]
    first = next(p["id"] for p in listed if "trip" not in p["tags"])
    how = [a.replace("PHOTO", first).replace("FOLDER", str(pics)) for a in how]
    assert "would remove" in cli(app, "remove", *how, "--dry-run").output
    assert feed(app, method="flickr.photos.search", user_id="ann")["photos"]["total"] == 4  # dry run: nothing
    result = cli(app, "remove", *how)
    assert result.exit_code == 0, result.output
    assert f"{gone} photo{'s' if gone != 1 else ''} removed; the library holds {left} photo" in result.output
    answer = feed(app, method="flickr.photos.search", tags="trip")
    assert answer["photos"]["total"] == (left == 3 and how[0] != "--folder")
    listed = cli(app, "list").output
    assert (f"{local_nsid('Ann')}  Ann: {left} photos" in listed) == bool(left)
    assert ("\u201cWalks\u201d" in listed) == bool(left)  # a group left without photos goes too


def test_remove_of_nothing_known_removes_nothing(make_app, pics):
    app = make_app()
    cli(app, "add-folder", str(pics), "--owner", "Ann")
    result = cli(app, "remove", "--owner", "ann", "--album", "nope")
    assert result.exit_code == 1 and "nothing removed: no album 'nope'" in result.output
    assert cli(app, "remove").exit_code == 2  # no selector: a usage error
    assert feed(app, method="flickr.photos.search", user_id="ann")["photos"]["total"] == 4


POOL = [{"id": str(n), "owner": "1@N01", "secret": "s", "server": "1", "title": f"p{n}", "dateadded": "1600000000"}
        for n in range(1, 4)]


@pytest.mark.parametrize(("data", "call", "says"), [
    (flickr_xml(POOL), None, "group_id=GROUP_ID"),
    (flickr_xml(POOL), "method=flickr.groups.pools.getPhotos", "group_id=GROUP_ID"),
    (flickr_xml([{**p, "dateadded": "", "is_primary": "0", "has_comment": "0"} for p in POOL]), None,
     "gallery_id=GALLERY_ID"),
    (flickr_xml([{**p, "dateadded": "", "date_faved": "1600000000"} for p in POOL]), None, "user_id=USER_ID"),
    (flickr_xml(POOL, "photoset", {"page": 1, "total": 3}), None, "photoset_id=ALBUM_ID"),
])
def test_a_set_file_without_its_call_says_what_was_not_recorded(make_app, tmp_path, data, call, says):
    app = make_app()
    path = tmp_path / "pool.xml"
    path.write_bytes(data)
    result = cli(app, "import", str(path), *(["--call", call] if call else []))
    assert result.exit_code == 0
    assert f"{path}: imported 3 photos" in result.output
    assert "not recorded" not in result.output
    note = f"{path}: its photos were imported, but not as a"
    assert note in result.output and says in result.output and "index.json" in result.output


def test_a_set_file_with_its_call_says_nothing_more(make_app, tmp_path):
    app = make_app()
    path = tmp_path / "pool.xml"
    path.write_bytes(flickr_xml(POOL))
    result = cli(app, "import", str(path), "--call", "method=flickr.groups.pools.getPhotos&group_id=9@N01")
    assert "its photos were imported" not in result.output
    assert feed(app, method="flickr.groups.pools.getPhotos", group_id="9@N01")["photos"]["total"] == 3
    plain = tmp_path / "search.xml"
    plain.write_bytes(flickr_xml([{k: v for k, v in p.items() if k != "dateadded"} for p in POOL]))
    assert "its photos were imported" not in cli(app, "import", str(plain)).output


def test_an_owner_name_without_a_path_alias_prints_only_the_nsid(make_app, pics):
    app = make_app()
    result = cli(app, "add-folder", str(pics), "--owner", "山田")
    assert f"owner 山田: 4 photos of this folder; user_id={local_nsid('山田')}\n" in result.output
    assert "user_id=)" not in result.output and "(or user_id=" not in result.output
    assert feed(app, method="flickr.people.getPublicPhotos", user_id=local_nsid("山田"))["photos"]["total"] == 4


def test_counts_of_one_are_singular(make_app, tmp_path):
    """One photo, one file, one duplicate: the summaries never say "1 photos" (import, add-folder, remove)."""
    app = make_app()
    one = tmp_path / "one"
    picture(one / "a.jpg", (10, 20, 30))
    picture(one / "copy" / "a.jpg", (10, 20, 30))  # the same image again: one duplicate
    added = cli(app, "add-folder", str(one), "--owner", "Ann")
    assert added.exit_code == 0, added.output
    assert "1 added, 0 replaced, 1 duplicate, 0 unchanged" in added.output
    assert "the library holds 1 photo\n" in added.output
    assert "owner Ann: 1 photo of this folder" in added.output
    dry = cli(app, "remove", "--folder", str(one / "copy"), "--dry-run").output
    assert "would remove 0 photos and forget 1 file " in dry  # the copy's content stays in a.jpg
    removed = cli(app, "remove", "--folder", str(one))
    assert "1 photo removed; the library holds 0 photos" in removed.output
    response = tmp_path / "response.xml"
    response.write_text('<rsp stat="ok"><photos page="1" pages="1" perpage="1" total="1">'
                        '<photo id="5" owner="1@N00" secret="s" server="1" farm="1" title="t" ispublic="1"/>'
                        '</photos></rsp>')
    imported = cli(app, "import", "--call", "method=flickr.photos.search&tags=x", str(response))
    assert imported.exit_code == 0, imported.output
    assert "imported 1 photo\n" in imported.output
    assert "1 of 1 file imported (1 photo record); the library holds 1 photo\n" in imported.output


def test_list_names_the_places_a_search_asks_for(make_app, tmp_path):
    app = make_app()
    path = tmp_path / "geo.xml"
    path.write_bytes(flickr_xml([
        {"id": "21", "owner": "1@N01", "secret": "a", "server": "1", "latitude": "38.6916", "longitude": "-9.216",
         "accuracy": "16"},
        {"id": "22", "owner": "1@N01", "secret": "b", "server": "1", "latitude": "41.15", "longitude": "-8.61",
         "accuracy": "16"},
    ]))
    cli(app, "import", str(path), "--call", "method=flickr.photos.search")
    output = cli(app, "list").output
    assert "places (3): woe_id (or place_id) for flickr.photos.search" in output
    assert "  2264397  Portugal (country): 2 photos" in output
    assert "  2267057  Lisbon, Portugal (locality): 1 photo" in output
    # Every id listed answers its search.
    for woe_id, count in re.findall(r"^  (\d+)  .*: (\d+) photos?$", output, re.M):
        answer = feed(app, method="flickr.photos.search", woe_id=woe_id)
        assert answer["photos"]["total"] == int(count)
