"""photos.search beyond tags and places: machine tags (Flickr's own examples of each syntax),
woe_id/place_id, accuracy, safe_search, content_type, in_gallery, geo_context, is_commons.

The expected answers are worked out by hand from the photos below.
"""

from __future__ import annotations

import sqlite3

import pytest
from conftest import flickr_xml

from gateway.errors import FlickrError
from gateway.upstreams.library import Library, schema

OWNER = "11111111@N01"
# id: machine tags as Flickr sends them (also among the tags), other attributes
PHOTOS = {
    1: ("dc:title=mrcamera upcoming:event=81334", {"latitude": "38.6916", "longitude": "-9.216", "accuracy": "16",
                                                   "context": "2", "safety_level": "0"}),
    2: ("dc:creator=mrcamera", {"latitude": "48.8584", "longitude": "2.2945", "accuracy": "11", "context": "1",
                                 "safety_level": "1"}),
    3: ("exif:title=mrcamera upcoming:event=428084", {"latitude": "40.7484", "longitude": "-73.9857",
                                                        "accuracy": "16", "safety_level": "2", "license": "7"}),
    4: ("dc:title=sunset", {"license": "7"}),
    5: ("", {"latitude": "38.72", "longitude": "-9.14", "accuracy": "16"}),  # Lisbon again, no machine tags
    6: ("geo:lat=515 dc:title", {}),  # "dc:title" has no value: not a machine tag
}


@pytest.fixture
def lib(library: Library, tmp_path) -> Library:
    photos = []
    for n, (machine, attrs) in PHOTOS.items():
        photos.append({"id": n, "owner": OWNER, "secret": f"s{n}", "server": "1", "farm": 1, "title": f"photo {n}",
                       "dateupload": 1700000000 + n, "tags": f"plain{n} {machine}".strip(), "machine_tags": machine,
                       "latitude": "0", "longitude": "0", "accuracy": "0", "license": "4", **attrs})
    path = tmp_path / "search.xml"
    path.write_bytes(flickr_xml(photos))
    library.import_file(path, {"method": "flickr.photos.search"})
    gallery = tmp_path / "gallery.xml"
    gallery.write_bytes(flickr_xml([{"id": 2, "owner": OWNER, "secret": "s2", "server": "1", "is_primary": 1}]))
    library.import_file(gallery, {"method": "flickr.galleries.getPhotos", "gallery_id": "72157000000000001"})
    return library


def search(lib: Library, **args: str) -> list[int]:
    page = lib.photos("flickr.photos.search", args)
    assert page.total == len(page.photos)
    return sorted(int(p.id) for p in page.photos)


def fails(lib: Library, code: int, message: str, **args: str) -> None:
    with pytest.raises(FlickrError) as info:
        lib.photos("flickr.photos.search", args)
    assert (info.value.code, info.value.message) == (code, message)


# Flickr's documentation of machine_tags, each example in turn (flickr.photos.search).
@pytest.mark.parametrize("query, expected", [
    ("dc:", [1, 2, 4]),                                   # the 'dc' namespace
    ("dc:title=", [1, 4]),                                # a title in the 'dc' namespace
    ('dc:title="mr. camera"', [1]),                       # titled "mr. camera" in the 'dc' namespace
    ('*:*="mr. camera"', [1, 2, 3]),                      # whose value is "mr. camera"
    ("*:title=", [1, 3, 4]),                              # a title, in any namespace
    ('*:title="mr. camera"', [1, 3]),                     # a title in any namespace whose value is "mr. camera"
    ('dc:*="mr. camera"', [1, 2]),                        # in the 'dc' namespace whose value is "mr. camera"
    ("upcoming:event=81334", [1]),                        # a fully formed machine tag
    ("UPCOMING:Event=81334", [1]),                        # namespace and predicate in any case
    ('dc:title="Mr. Camera"', [1]),                       # values normalised like tags
    ("upcoming:event=81334,upcoming:event=428084", [1, 3]),
    ("upcoming:event=81334,nonsense", [1]),               # an item that is no machine tag is left out
    ("geo:lat=51.5", [6]),
    ("dc:title", [1, 4]),                                 # no "=": the predicate, any value
    ("dc:*=", [1, 2, 4]),
])
def test_machine_tags_flickr_examples(lib, query, expected):
    assert search(lib, machine_tags=query) == expected


def test_machine_tag_mode(lib):
    both = "dc:title=,upcoming:event="
    assert search(lib, machine_tags=both) == [1, 3, 4]
    assert search(lib, machine_tags=both, machine_tag_mode="any") == [1, 3, 4]
    assert search(lib, machine_tags=both, machine_tag_mode="all") == [1]
    assert search(lib, machine_tags='*:*="mr. camera",dc:', machine_tag_mode="all") == [1, 2]
    # Combined with the other filters by AND.
    assert search(lib, machine_tags="dc:", tags="plain2,plain4") == [2, 4]


def test_machine_tags_in_tags(lib):
    """Flickr's tags= takes a whole machine tag as a tag (normalised like one)."""
    assert search(lib, tags="upcoming:event=81334") == [1]
    assert search(lib, tags='dc:title="Mr. Camera"') == [1]
    assert search(lib, tags="upcoming:event=428084,plain5") == [3, 5]
    assert search(lib, tags="dc:title=sunset,-plain4") == []
    assert search(lib, tags='plain1,plain4,-dc:title="Sun set!"') == [1]
    assert search(lib, tags="- plain 1,plain1,plain2") == [2]


@pytest.mark.parametrize("query", ["nonsense", "*:", "*:*=", ":title=x", "1dc:title=x", "dc:ti-tle=x", ",", "=x"])
def test_no_valid_machine_tags(lib, query):
    fails(lib, 11, "No valid machine tags", machine_tags=query)


def test_machine_tag_limits(lib):
    eight = ",".join(f"ns:p{i}=" for i in range(8))
    assert search(lib, machine_tags=eight) == []
    fails(lib, 12, "Exceeded maximum allowable machine tags", machine_tags=eight + ",ns:p8=")
    sixteen = ",".join(f"ns:p{i}=" for i in range(16))
    assert search(lib, machine_tags=sixteen, machine_tag_mode="all") == []
    fails(lib, 12, "Exceeded maximum allowable machine tags", machine_tags=sixteen + ",ns:x=", machine_tag_mode="all")
    fails(lib, 3, "Invalid machine_tag_mode", machine_tags="dc:", machine_tag_mode="some")


def test_quoted_values_keep_commas(lib):
    assert search(lib, machine_tags='dc:title="mr., camera"') == [1]
    assert search(lib, machine_tags='dc:title="mr., camera",dc:creator=') == [1, 2]


def test_recorded_flickr_machine_tags(recorded_library):
    """Machine tags as Flickr sent them among the tags of two recorded photos (an institution's
    page and identifier, species; the suite's copies replace their letters and digits)."""
    def found(**args: str) -> set[str]:
        return {p.id for p in recorded_library.photos("flickr.photos.search", {**args, "per_page": "500"}).photos}

    conn = recorded_library.store.connection()
    rows = conn.execute("SELECT id, tags FROM photos WHERE id IN ('51282506464', '51281775881')").fetchall()
    tags = {row["id"]: [t for t in row["tags"].split() if ":" in t and "=" in t] for row in rows}
    assert len(tags["51282506464"]) == 2 and len(tags["51281775881"]) >= 4
    for photo_id, machine in tags.items():
        for tag in machine:
            namespace, rest = tag.split(":", 1)
            predicate, value = rest.split("=", 1)
            assert photo_id in found(machine_tags=tag)
            assert photo_id in found(tags=tag)
            assert photo_id in found(machine_tags=f"{namespace}:") & found(machine_tags=f"*:{predicate}=")
            assert photo_id in found(machine_tags=f"*:*={value}") & found(machine_tags=f"{namespace}:*={value}")
            # Flickr keeps only a value's letters and digits: written with capitals and punctuation, it still finds it.
            spelt = f'{namespace.upper()}:{predicate}="{value[:3].upper()}://{value[3:]}."'
            assert photo_id in found(machine_tags=spelt)
    first, second = tags["51282506464"][0], tags["51281775881"][0]
    assert found(machine_tags=f"{first},{second}", machine_tag_mode="all") == set()
    assert {"51282506464", "51281775881"} <= found(machine_tags=f"{first},{second}")


def test_machine_tags_follow_changes(lib, tmp_path):
    """The machine_tags table follows the tags: a photo recorded again with other tags moves."""
    again = tmp_path / "again.xml"
    again.write_bytes(flickr_xml([{"id": 1, "owner": OWNER, "secret": "s1", "server": "1", "tags": "plain1",
                                   "machine_tags": ""}]))
    lib.import_file(again, {"method": "flickr.photos.search"})
    # Tags merge (a known value is never replaced by an empty one): still tagged.
    assert search(lib, machine_tags="upcoming:event=81334") == [1]
    conn = lib.store.connection()
    lib.remove(lib.select(photos=("1",)))
    assert search(lib, machine_tags="upcoming:event=") == [3]
    orphans = "SELECT count(*) FROM machine_tags WHERE photo NOT IN (SELECT pk FROM photos)"
    assert conn.execute(orphans).fetchone()[0] == 0


# ---------------------------------------------------------------- the other filters


def test_accuracy(lib):
    assert search(lib, accuracy="16") == [1, 3, 5]
    assert search(lib, accuracy="11") == [2]
    assert search(lib, accuracy="3") == []
    for bad in ("0", "17", "x", "-1"):
        fails(lib, 3, "Invalid accuracy", accuracy=bad)


def test_safe_search(lib):
    assert search(lib, safe_search="1") == [1, 4, 5, 6]  # no safety_level recorded: safe
    assert search(lib, safe_search="2") == [1, 2, 4, 5, 6]
    assert search(lib, safe_search="3") == [1, 2, 3, 4, 5, 6]
    fails(lib, 3, "Invalid safe_search", safe_search="4")


def test_content_type(lib):
    for kind in ("1", "4", "6", "7"):
        assert search(lib, content_type=kind) == [1, 2, 3, 4, 5, 6]
    for kind in ("2", "3", "5"):
        assert search(lib, content_type=kind) == []
    assert search(lib, content_types="0,1") == [1, 2, 3, 4, 5, 6]
    assert search(lib, content_types="1,2") == []
    fails(lib, 3, "Invalid content_type", content_type="8")
    fails(lib, 3, "Invalid content_types", content_types="9")


def test_in_gallery_geo_context_commons_getty(lib):
    assert search(lib, in_gallery="1") == [2]
    assert search(lib, in_gallery="true") == [2]
    assert search(lib, in_gallery="0") == [1, 2, 3, 4, 5, 6]
    fails(lib, 3, "Invalid in_gallery", in_gallery="maybe")
    assert search(lib, geo_context="1") == [2]
    assert search(lib, geo_context="2") == [1]
    assert search(lib, geo_context="0") == [1, 2, 3, 4, 5, 6]
    fails(lib, 3, "Invalid geo_context", geo_context="3")
    assert search(lib, is_commons="1") == [3, 4]
    assert search(lib, is_getty="1") == []
    fails(lib, 17, "You can only search within your own contacts", contacts="all")


# ---------------------------------------------------------------- places


def test_photos_get_a_place_name(lib):
    page = lib.photos("flickr.photos.search", {"tags": "plain1,plain2,plain3,plain4"})
    named = {p.id: (p.place, p.place_id) for p in page.photos}
    assert named["1"] == ("Lisbon, Portugal", 2267057)
    assert named["2"][0] == "Paris, France"
    assert named["3"][0] == "New York City, New York, United States"
    assert named["4"] == ("", 0)  # not geotagged


def test_woe_id_and_place_id(lib):
    lisbon, paris = 2267057, lib.photos("flickr.photos.search", {"tags": "plain2"}).photos[0].place_id
    assert search(lib, woe_id=str(lisbon)) == [1, 5]
    assert search(lib, place_id=str(lisbon)) == [1, 5]
    assert search(lib, woe_id=str(paris)) == [2]
    conn = lib.store.connection()
    portugal = conn.execute("SELECT country FROM places WHERE id = ?", (lisbon,)).fetchone()[0]
    row = conn.execute("SELECT kind, name FROM places WHERE id = ?", (portugal,)).fetchone()
    assert tuple(row) == ("country", "Portugal")
    assert search(lib, woe_id=str(portugal)) == [1, 5]
    new_york_state = conn.execute("SELECT id FROM places WHERE kind = 'region' AND name = 'New York'").fetchone()[0]
    assert search(lib, woe_id=str(new_york_state)) == [3]
    assert search(lib, woe_id="999999999") == []  # not one of the library's places
    assert search(lib, woe_id="Lisbon") == []
    # A bbox wins, as on Flickr ("not used if bbox argument is present").
    assert search(lib, woe_id=str(lisbon), bbox="2,48,3,49") == [2]


def test_places_listed(lib):
    places = {p.id: p for p in lib.places()}
    assert places[2267057].name == "Lisbon" and places[2267057].photos == 2
    assert places[2267057].kind == "locality" and "Portugal" in places[2267057].label


def test_old_library_files_are_migrated(tmp_path):
    """A version 2 file (before machine_tags and places) is brought up to date when opened."""
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE photos (pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL DEFAULT '',
            secret TEXT NOT NULL DEFAULT '', server TEXT NOT NULL DEFAULT '', farm INTEGER NOT NULL DEFAULT 0,
            title TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '', ownername TEXT NOT NULL DEFAULT '',
            realname TEXT NOT NULL DEFAULT '', pathalias TEXT NOT NULL DEFAULT '', iconserver TEXT NOT NULL DEFAULT '',
            iconfarm INTEGER NOT NULL DEFAULT 0, dateupload INTEGER, lastupdate INTEGER, datetaken TEXT,
            datetakengranularity INTEGER NOT NULL DEFAULT 0, datetakenunknown INTEGER NOT NULL DEFAULT 0,
            license TEXT NOT NULL DEFAULT '', tags TEXT NOT NULL DEFAULT '', machine_tags TEXT NOT NULL DEFAULT '',
            latitude REAL NOT NULL DEFAULT 0, longitude REAL NOT NULL DEFAULT 0, accuracy INTEGER NOT NULL DEFAULT 0,
            geotagged INTEGER NOT NULL DEFAULT 0, media TEXT NOT NULL DEFAULT 'photo', views INTEGER,
            originalsecret TEXT NOT NULL DEFAULT '', originalformat TEXT NOT NULL DEFAULT '',
            o_width INTEGER NOT NULL DEFAULT 0, o_height INTEGER NOT NULL DEFAULT 0,
            sizes TEXT NOT NULL DEFAULT '[]', extra TEXT NOT NULL DEFAULT '{}');
        CREATE TABLE tags (tag TEXT NOT NULL, photo INTEGER NOT NULL, PRIMARY KEY (tag, photo)) WITHOUT ROWID;
        INSERT INTO photos (pk, id, owner, tags, machine_tags, latitude, longitude, accuracy, geotagged, dateupload)
            VALUES (1, '1', 'x@N01', 'upcoming:event=81334', 'upcoming:event=81334', 38.6916, -9.216, 16, 1, 1);
        INSERT INTO tags VALUES ('upcoming:event=81334', 1);
        PRAGMA user_version = 2;
    """)
    conn.close()
    old = Library(str(path))
    assert search(old, machine_tags="upcoming:") == [1]
    assert search(old, woe_id="2267057") == [1]
    assert old.photos("flickr.photos.search", {}).photos[0].place == "Lisbon, Portugal"
    assert old.store.connection().execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    old.close()


@pytest.mark.parametrize("sort", ["date-posted-desc", "date-posted-asc", "interestingness-desc"])
@pytest.mark.parametrize("args", [
    {"machine_tags": "dc:"}, {"machine_tags": '*:*="mr. camera"'}, {"machine_tags": "*:title="},
    {"machine_tags": "dc:title=,upcoming:event="}, {"machine_tags": "dc:,upcoming:", "machine_tag_mode": "all"},
    {"woe_id": "2267057"}, {"woe_id": "2264397"}, {"in_gallery": "1"},
])
def test_walking_the_sort_index_pages_like_sorting(lib, sort, args):
    """per_page 1 walks the sort order's index and tests each photo (query.py); per_page 100 sorts
    every match: both must agree, page after page."""
    def ids(**more: str) -> list[str]:
        return [p.id for p in lib.photos("flickr.photos.search", {**args, "sort": sort, **more}).photos]

    whole = ids()
    walked = [n for page in range(1, len(whole) + 2) for n in ids(per_page="1", page=str(page))]
    assert walked == whole and whole


def test_a_tag_removed_keeps_the_keys_another_still_gives(library, tmp_path):
    def record(machine: str) -> None:
        path = tmp_path / "p.xml"
        path.write_bytes(flickr_xml([{"id": 9, "owner": OWNER, "secret": "s", "server": "1", "tags": machine,
                                      "machine_tags": machine}]))
        library.import_file(path, {"method": "flickr.photos.search"})

    record("taxonomy:binomial=elephasmaximus taxonomy:binomial=elephasindicus")
    assert search(library, machine_tags="taxonomy:binomial=elephasindicus") == [9]
    record("taxonomy:binomial=elephasmaximus")
    assert search(library, machine_tags="taxonomy:binomial=elephasindicus") == []
    assert search(library, machine_tags="taxonomy:") == search(library, machine_tags="*:binomial=") == [9]
    keys = library.store.connection().execute("SELECT key, n FROM machine_tags ORDER BY key").fetchall()
    assert [tuple(k) for k in keys] == [
        ("*:*=elephasmaximus", 1), ("*:binomial=", 1), ("*:binomial=elephasmaximus", 1), ("taxonomy:", 1),
        ("taxonomy:*=elephasmaximus", 1), ("taxonomy:binomial=", 1), ("taxonomy:binomial=elephasmaximus", 1)]


def test_synthetic_photos_have_machine_tags_and_places(library):
    """library synth (the bulk path, triggers set aside) indexes machine tags and names places
    as single imports do."""
    library.synthesize(3000, seed=3)
    conn = library.store.connection()
    for query, like in (("exif:make=canon", "% exif:make=canon %"), ("upcoming:", "% upcoming:event=%"),
                        ("*:binomial=", "% taxonomy:binomial=%")):
        expected = conn.execute("SELECT count(*) FROM photos WHERE ' ' || tags || ' ' LIKE ?", (like,)).fetchone()[0]
        assert library.photos("flickr.photos.search", {"machine_tags": query}).total == expected > 0
    paris = conn.execute("SELECT id FROM places WHERE kind = 'locality' AND name = 'Paris'").fetchone()[0]
    near = library.photos("flickr.photos.search", {"woe_id": str(paris), "per_page": "500"})
    assert near.total > 0 and all(p.place == "Paris, France" for p in near.photos)
