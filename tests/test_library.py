"""The embedded photo library: import, Flickr's search semantics, errors, CLI.

Search semantics are checked on a small hand-made library whose answers are
worked out by hand below; import, order and merging on the recorded fixtures.
"""

from __future__ import annotations

import json
import logging

import pytest
from conftest import FIXTURES, INDEX, flickr_xml, to_json
from lxml import etree

from gateway.errors import FlickrError
from gateway.methods import METHODS
from gateway.model import parse_rest
from gateway.safexml import parse
from gateway.upstreams.library import Library, Skipped

A, B, C = "11111111@N01", "22222222@N02", "33333333@N03"
DAY = 1700000000  # 2023-11-14 22:13:20 UTC; photo n is uploaded at DAY + (n-1) * 10000
GEO = {"latitude": "0", "longitude": "0", "accuracy": "0"}

# id: owner, title, description, tags, datetaken, views, (lat, lon, accuracy), license, media
SMALL = {
    1: (A, "Sunset over the bay", "golden hour", "sunset beach Sea", "2023-01-01 10:00:00", 50,
        (37.8, -122.4, 16), "4", "photo"),
    2: (A, "Beach volleyball", "", "beach sport", "2023-03-01 09:00:00", 10, None, "0", "photo"),
    3: (B, "Mountain sunrise", "alpine glow", "sunrise mountain", "2022-12-31 23:59:59", 500,
        (46.5, 7.9, 16), "9", "video"),
    4: (B, "Fiji dateline", "", "sunset island", "2023-07-01 12:00:00", None, (-17.0, 179.9, 12), "4", "photo"),
    5: (C, "Taveuni", "", "island", "2023-07-01 00:00:00", 5, (-16.8, -179.95, 10), "1", "photo"),
    6: (C, "Near the bay", "", "", "", 0, (37.81, -122.41, 16), "4", "photo"),  # ~1.4 km from 1
    7: (C, "Oakland hills", "", "hills", "2021-05-05 05:05:05", 70, (37.8, -122.25, 16), "4", "photo"),  # ~13.2 km
}


def photo_attrs(n: int, *, owner: bool = True) -> dict[str, object]:
    who, title, description, tags, taken, views, geo, license_, media = SMALL[n]
    attrs: dict[str, object] = {
        "id": n, "secret": f"s{n}", "server": "65535", "farm": 66, "title": title, "ispublic": 1,
        "isfriend": 0, "isfamily": 0, "license": license_, "dateupload": DAY + (n - 1) * 10000, "datetaken": taken,
        "ownername": who[:4], "tags": tags, "media": media, "description": description,
        **({"latitude": geo[0], "longitude": geo[1], "accuracy": geo[2]} if geo else GEO),
    }
    if owner:
        attrs["owner"] = who
    if who == A:
        attrs["pathalias"] = "alice"
    if views is not None:
        attrs["views"] = views
    if not taken:
        attrs["datetakenunknown"] = 1
        del attrs["datetaken"]
    return attrs


def ids(page) -> list[int]:
    return [int(p.id) for p in page.photos]


def write(tmp_path, name: str, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@pytest.fixture
def small(library, tmp_path) -> Library:
    """Seven photos, a group pool, an album, a gallery and a favorites list."""
    def load(name, data, **call):
        library.import_file(write(tmp_path, name, data), call)

    load("search.xml", flickr_xml([photo_attrs(n) for n in SMALL]), method="flickr.photos.search")
    pool = [dict(photo_attrs(n), dateadded=added) for n, added in ((2, 300), (1, 100), (7, 200))]
    load("pool.xml", flickr_xml(pool), method="flickr.groups.pools.getPhotos", group_id="G1@N00")
    album = {"id": "72157000000000009", "primary": "5", "owner": C, "ownername": "C", "title": "Fiji and more",
             "perpage": 2, "per_page": 2, "pages": 2, "total": 3}
    # Page 2 first: album order must come from the page, not from the order of import.
    load("album2.xml", flickr_xml([dict(photo_attrs(7, owner=False), isprimary=0)], "photoset", {**album, "page": 2}),
         method="flickr.photosets.getPhotos", photoset_id=album["id"])
    load("album1.xml", flickr_xml([dict(photo_attrs(n, owner=False), isprimary=int(n == 5)) for n in (6, 5)],
                                  "photoset", {**album, "page": 1}),
         method="flickr.photosets.getPhotos", photoset_id=album["id"])
    gallery = {"id": "123-72157000000000001", "gallery_id": "72157000000000001", "owner": A, "username": "alice",
               "primary_photo_id": "4", "title": "Islands and bays", "description": "Curated"}
    load("gallery.xml", flickr_xml([dict(photo_attrs(4), is_primary=1, has_comment=0),
                                    dict(photo_attrs(6), is_primary=0, has_comment=1, comment="Lovely light")],
                                   attrs={"page": 1, "pages": 1, "perpage": 10, "total": 2}, gallery=gallery),
         method="flickr.galleries.getPhotos", gallery_id="72157000000000001")
    load("faves.xml", flickr_xml([dict(photo_attrs(1), date_faved=50), dict(photo_attrs(7), date_faved=80)]),
         method="flickr.favorites.getPublicList", user_id=B)
    return library


def search(lib: Library, **args) -> list[int]:
    return ids(lib.photos("flickr.photos.search", {k: str(v) for k, v in args.items()}))


def fails(lib: Library, method: str, code: int, message: str, **args) -> None:
    with pytest.raises(FlickrError) as info:
        lib.photos(method, {k: str(v) for k, v in args.items()})
    assert (info.value.code, info.value.message, info.value.status) == (code, message, 400)


# ---------------------------------------------------------------- search semantics


@pytest.mark.parametrize("args, expected", [
    ({"tags": "sunset"}, [4, 1]),
    ({"tags": "sunset,beach"}, [4, 2, 1]),
    ({"tags": "sunset,beach", "tag_mode": "any"}, [4, 2, 1]),
    ({"tags": "sunset,beach", "tag_mode": "all"}, [1]),
    ({"tags": "SEA"}, [1]),  # recorded as "Sea": matched case-insensitively
    ({"tags": " Sun set "}, [4, 1]),  # spaces inside a tag are ignored, as Flickr normalises tags
    ({"tags": "beach,-sport"}, [1]),
    ({"tags": "-beach"}, [7, 6, 5, 4, 3]),
    ({"tags": "sunset,island,-beach", "tag_mode": "all"}, [4]),
    ({"tags": "nosuchtag"}, []),
])
def test_tags(small, args, expected):
    assert search(small, **args) == expected


@pytest.mark.parametrize("text, expected", [
    ("bay", [6, 1]),  # titles
    ("golden hour", [1]),  # description, both words
    ('"hour golden"', []),  # a quoted phrase keeps its order
    ("island", [5, 4]),  # tags
    ("BAY -near", [1]),
    ("glow mountain", [3]),  # description and title together
    # FTS5 syntax in user text is only text: never an error
    ('bay" OR "x', []), ("NEAR(bay sunset)", []), ("sunset) (bay", [1]), ("bay*", [6, 1]), ('"', [7, 6, 5, 4, 3, 2, 1]),
    ("AND OR NOT", []), ("^bay :", [6, 1]), ("-", [7, 6, 5, 4, 3, 2, 1]),
])
def test_text(small, text, expected):
    assert search(small, text=text) == expected


def test_relevance_ranks_text_matches(small):
    assert search(small, text="sunset") == [4, 1]  # default date-posted-desc
    assert search(small, text="sunset", sort="relevance") == [1, 4]  # in the title and the tags beats tags only
    assert search(small, sort="relevance") == [7, 6, 5, 4, 3, 2, 1]  # without text: date-posted-desc


def test_user_by_nsid_or_path_alias(small):
    assert search(small, user_id=A) == [2, 1]
    assert search(small, user_id="alice") == [2, 1]
    assert search(small, user_id=B, tags="sunset") == [4]


@pytest.mark.parametrize("bbox, expected", [
    ("-123,37,-122,38", [7, 6, 1]),
    ("-180,-90,180,90", [7, 6, 5, 4, 3, 1]),  # 2 is not geotagged
    ("170,-20,180,-10", [4]),
    ("179,-20,-179,-10", [5, 4]),  # west > east: across the antimeridian
    ("-122.405,37.795,-122.395,37.805", [1]),
    ("-122.4,37.8,-122.4,37.8", [1]),  # a box that is a point still holds a photo on it
])
def test_bbox(small, bbox, expected):
    assert search(small, bbox=bbox) == expected


@pytest.mark.parametrize("args, expected", [
    ({}, [1, 6]),  # default radius 5 km, nearest first
    ({"radius": 1}, [1]),
    ({"radius": 12}, [1, 6]),
    ({"radius": 14}, [1, 6, 7]),  # 7 is ~13.2 km away
    ({"radius": 14, "radius_units": "km"}, [1, 6, 7]),
    ({"radius": 8, "radius_units": "mi"}, [1, 6]),  # 12.87 km
    ({"radius": 9, "radius_units": "mi"}, [1, 6, 7]),  # 14.48 km
    ({"radius": 32}, [1, 6, 7]),
    ({"radius": 14, "sort": "date-posted-desc"}, [7, 6, 1]),
    ({"radius": 14, "sort": "interestingness-desc"}, [7, 1, 6]),
])
def test_radius(small, args, expected):
    assert search(small, lat=37.8, lon=-122.4, **args) == expected


def test_radius_across_the_antimeridian(small):
    # 4 (179.9) and 5 (-179.95) are ~16.5 km apart across 180°.
    assert search(small, lat=-16.8, lon=-179.95, radius=30) == [5, 4]


@pytest.mark.parametrize("args, expected", [
    ({"has_geo": 1}, [7, 6, 5, 4, 3, 1]),
    ({"has_geo": 0}, [2]),
    ({"license": 4}, [7, 6, 4, 1]),
    ({"license": "0,9"}, [3, 2]),
    ({"license": "04"}, [7, 6, 4, 1]),
    ({"media": "videos"}, [3]),
    ({"media": "photos"}, [7, 6, 5, 4, 2, 1]),
    ({"media": "all"}, [7, 6, 5, 4, 3, 2, 1]),
    ({"min_upload_date": DAY + 10000, "max_upload_date": DAY + 30000}, [4, 3, 2]),  # inclusive
    ({"min_upload_date": "2023-11-15 02:00:00"}, [7, 6, 5, 4, 3]),  # = DAY + 13600
    ({"min_upload_date": "2023-11-15"}, [7, 6, 5, 4, 3, 2]),
    ({"max_upload_date": "2023-11-15 01:00"}, [2, 1]),  # = DAY + 10000
    ({"min_taken_date": "2023-01-01"}, [5, 4, 2, 1]),  # 6's date is unknown
    ({"max_taken_date": "2023-07-01"}, [7, 5, 3, 2, 1]),  # 5 was taken at 2023-07-01 00:00:00
    ({"max_taken_date": 1688169600}, [7, 5, 3, 2, 1]),  # the same moment as unix time
    ({"min_taken_date": "2023-07-01 00:00:01", "max_taken_date": "2023-07-01 23:59:59"}, [4]),
    ({"min_upload_date": DAY + 30000, "max_upload_date": DAY}, []),
])
def test_filters(small, args, expected):
    assert search(small, **args) == expected


@pytest.mark.parametrize("sort, expected", [
    ("date-posted-asc", [1, 2, 3, 4, 5, 6, 7]),
    ("date-posted-desc", [7, 6, 5, 4, 3, 2, 1]),
    ("date-taken-asc", [7, 3, 1, 2, 5, 4, 6]),  # unknown date taken last
    ("date-taken-desc", [4, 5, 2, 1, 3, 7, 6]),
    ("interestingness-desc", [3, 7, 1, 2, 5, 6, 4]),  # by views; 0 views is known, no views last
    ("interestingness-asc", [6, 5, 2, 1, 7, 3, 4]),
    ("relevance", [7, 6, 5, 4, 3, 2, 1]),
    ("", [7, 6, 5, 4, 3, 2, 1]),
])
def test_sort(small, sort, expected):
    assert search(small, sort=sort) == expected


@pytest.mark.parametrize("sort", ["date-posted-asc", "date-posted-desc", "date-taken-asc", "date-taken-desc",
                                  "interestingness-desc", "interestingness-asc"])
@pytest.mark.parametrize("args", [{"tags": "sunset,beach,island"}, {"tags": "beach"}, {"text": "bay"},
                                  {"group_id": "G1@N00", "tags": "beach"}, {"bbox": "-180,-90,180,90"},
                                  {"bbox": "179,-20,-179,-10"}, {"lat": 37.8, "lon": -122.4, "radius": 14},
                                  {"lat": -16.8, "lon": -179.95, "radius": 30}])
def test_walking_the_sort_index_pages_like_sorting(small, sort, args):
    # per_page 1 makes query.py walk the sort order's index (few wanted, many matching);
    # per_page 100 reads and sorts every match. Both must agree, page after page.
    whole = search(small, sort=sort, **args)
    walked = [n for page in range(1, len(whole) + 2) for n in search(small, sort=sort, per_page=1, page=page, **args)]
    assert walked == whole and whole


def test_paging(small):
    pages = [small.photos("flickr.photos.getRecent", {"page": str(n), "per_page": "3"}) for n in (1, 2, 3, 4, 99)]
    assert [ids(p) for p in pages] == [[7, 6, 5], [4, 3, 2], [1], [], []]
    assert {(p.total, p.pages, p.perpage) for p in pages} == {(7, 3, 3)}
    assert [p.page for p in pages] == [1, 2, 3, 4, 99]
    default = small.photos("flickr.photos.getRecent", {})
    assert (default.page, default.perpage, default.pages, default.total) == (1, 100, 1, 7)
    assert small.photos("flickr.photos.getRecent", {"per_page": "1000"}).perpage == 500


def test_recent_and_interesting(small):
    assert ids(small.photos("flickr.photos.getRecent", {})) == [7, 6, 5, 4, 3, 2, 1]
    assert ids(small.photos("flickr.interestingness.getList", {})) == [3, 7, 1, 2, 5, 6, 4]
    assert ids(small.photos("flickr.interestingness.getList", {"date": "2023-11-14"})) == [1]
    assert ids(small.photos("flickr.interestingness.getList", {"date": "2023-11-15"})) == [3, 7, 2, 5, 6, 4]
    assert ids(small.photos("flickr.interestingness.getList", {"date": "2023-11-16"})) == []


@pytest.mark.parametrize("method", ["flickr.people.getPublicPhotos", "flickr.people.getPhotos"])
def test_people(small, method):
    assert ids(small.photos(method, {"user_id": C})) == [7, 6, 5]
    assert ids(small.photos(method, {"user_id": "alice"})) == [2, 1]


def test_people_get_photos_takes_filters(small):
    assert ids(small.photos("flickr.people.getPhotos", {"user_id": C, "has_geo": "1", "license": "1"})) == [5]


def test_group_pool_in_dateadded_order(small):
    page = small.photos("flickr.groups.pools.getPhotos", {"group_id": "G1@N00"})
    assert ids(page) == [2, 7, 1]
    assert [p.extra["dateadded"] for p in page.photos] == ["300", "200", "100"]
    assert ids(small.photos("flickr.groups.pools.getPhotos", {"group_id": "G1@N00", "tags": "beach"})) == [2, 1]
    assert ids(small.photos("flickr.groups.pools.getPhotos", {"group_id": "G1@N00", "user_id": "alice"})) == [2, 1]
    assert search(small, group_id="G1@N00") == [7, 2, 1]
    assert search(small, group_id="G1@N00", tags="hills") == [7]
    # dateadded belongs to the pool: other methods do not hand it out
    assert "dateadded" not in small.photos("flickr.photos.getRecent", {}).photos[0].extra


def test_photoset_in_album_order_with_wrapper(small):
    page = small.photos("flickr.photosets.getPhotos", {"photoset_id": "72157000000000009"})
    assert ids(page) == [6, 5, 7]
    assert page.wrapper == "photoset"
    assert dict(page.info) == {"id": "72157000000000009", "primary": "5", "owner": C, "ownername": "C",
                               "title": "Fiji and more"}
    assert [p.extra["isprimary"] for p in page.photos] == ["0", "1", "0"]
    assert {p.owner for p in page.photos} == {C}
    second = small.photos("flickr.photosets.getPhotos", {"photoset_id": "72157000000000009", "per_page": "2",
                                                        "page": "2"})
    assert (ids(second), second.total, second.pages, second.wrapper) == ([7], 3, 2, "photoset")


def test_gallery_photos_carry_gallery_attributes(small):
    for gallery_id in ("72157000000000001", "123-72157000000000001"):
        page = small.photos("flickr.galleries.getPhotos", {"gallery_id": gallery_id})
        assert ids(page) == [4, 6]
        assert page.wrapper == "photos" and dict(page.info) == {}
        assert [(p.extra["is_primary"], p.extra["has_comment"], p.comment) for p in page.photos] == [
            ("1", "0", ""), ("0", "1", "Lovely light")]


def test_favorites_by_date_faved(small):
    page = small.photos("flickr.favorites.getPublicList", {"user_id": B})
    assert ids(page) == [7, 1]
    assert [p.extra["date_faved"] for p in page.photos] == ["80", "50"]
    assert ids(small.photos("flickr.favorites.getPublicList", {"user_id": "alice"})) == []  # known, none recorded


def test_photos_for_location(small):
    def near(**args):
        return ids(small.photos("flickr.photos.geo.photosForLocation",
                                {"lat": "37.8", "lon": "-122.4", **{k: str(v) for k, v in args.items()}}))
    assert near() == [1]  # ~100 m at street level
    assert near(accuracy=11) == [1, 6]  # ~3.2 km
    assert near(accuracy=16, lat="37.8005") == [1]  # ~56 m away


def test_methods_without_data_answer_empty_for_known_users(small):
    for method in ("flickr.photos.getContactsPublicPhotos", "flickr.people.getPhotosOf"):
        page = small.photos(method, {"user_id": A})
        assert (ids(page), page.total) == ([], 0)
    assert ids(small.photos("flickr.tags.getClusterPhotos", {"tag": "sunset", "cluster_id": "beach"})) == [1]
    assert ids(small.photos("flickr.panda.getPhotos", {"panda_name": "ling ling"})) == [7, 6, 5, 4, 3, 2, 1]


# ---------------------------------------------------------------- errors

ERRORS = [
    ("flickr.photos.search", {"user_id": "nobody"}, 2, "Unknown user"),
    ("flickr.photos.search", {"user_id": "me"}, 99, "Insufficient permissions. Method requires read privileges; "
                                                    "none granted."),
    ("flickr.photos.search", {"group_id": "nosuchgroup"}, 4, "You don't have permission to view this pool"),
    ("flickr.photos.search", {"tags": ",".join(f"t{n}" for n in range(21)), "tag_mode": "all"}, 1,
     "Too many tags in ALL query"),
    ("flickr.photos.search", {"tag_mode": "some"}, 3, "Invalid tag_mode"),
    ("flickr.photos.search", {"bbox": "1,2,3"}, 3, "Invalid bbox"),
    ("flickr.photos.search", {"bbox": "a,b,c,d"}, 3, "Invalid bbox"),
    ("flickr.photos.search", {"bbox": "-181,0,10,10"}, 3, "Invalid bbox"),
    ("flickr.photos.search", {"bbox": "0,-91,10,10"}, 3, "Invalid bbox"),
    ("flickr.photos.search", {"bbox": "0,20,10,10"}, 3, "Invalid bbox"),  # south > north
    ("flickr.photos.search", {"bbox": "0,0,nan,10"}, 3, "Invalid bbox"),
    ("flickr.photos.search", {"lat": "91", "lon": "0"}, 3, "Invalid latitude"),
    ("flickr.photos.search", {"lat": "north", "lon": "0"}, 3, "Invalid latitude"),
    ("flickr.photos.search", {"lon": "0"}, 3, "Invalid latitude"),
    ("flickr.photos.search", {"lat": "0", "lon": "180.5"}, 3, "Invalid longitude"),
    ("flickr.photos.search", {"lat": "0"}, 3, "Invalid longitude"),
    ("flickr.photos.search", {"lat": "0", "lon": "0", "radius": "33"}, 3, "Invalid radius"),
    ("flickr.photos.search", {"lat": "0", "lon": "0", "radius": "21", "radius_units": "mi"}, 3, "Invalid radius"),
    ("flickr.photos.search", {"lat": "0", "lon": "0", "radius": "0"}, 3, "Invalid radius"),
    ("flickr.photos.search", {"lat": "0", "lon": "0", "radius": "far"}, 3, "Invalid radius"),
    ("flickr.photos.search", {"lat": "0", "lon": "0", "radius_units": "ft"}, 3, "Invalid radius_units"),
    ("flickr.photos.search", {"min_upload_date": "yesterday"}, 3, "Invalid date"),
    ("flickr.photos.search", {"max_taken_date": "2023-13-01"}, 3, "Invalid date"),
    ("flickr.photos.search", {"min_taken_date": "99999999999999999999"}, 3, "Invalid date"),
    ("flickr.photos.search", {"sort": "random"}, 3, "Invalid sort"),
    ("flickr.photos.search", {"media": "audio"}, 3, "Invalid media"),
    ("flickr.photos.search", {"has_geo": "yes"}, 3, "Invalid has_geo"),
    ("flickr.photos.search", {"license": "cc-by"}, 3, "Invalid license"),
    ("flickr.people.getPublicPhotos", {"user_id": "nobody"}, 1, "User not found"),
    ("flickr.people.getPublicPhotos", {}, 1, "User not found"),
    ("flickr.people.getPhotos", {"user_id": "nobody"}, 2, "Unknown user"),
    ("flickr.people.getPhotos", {"user_id": A, "min_upload_date": "soon"}, 3, "Invalid date"),
    ("flickr.favorites.getPublicList", {"user_id": "nobody"}, 1, "User not found"),
    ("flickr.photos.getContactsPublicPhotos", {"user_id": "nobody"}, 1, "User not found"),
    ("flickr.people.getPhotosOf", {"user_id": "nobody"}, 1, "User not found."),
    ("flickr.groups.pools.getPhotos", {"group_id": "nosuchgroup"}, 1, "Group not found"),
    ("flickr.groups.pools.getPhotos", {"group_id": "G1@N00", "user_id": "nobody"}, 1, "User not found"),
    ("flickr.photosets.getPhotos", {"photoset_id": "1"}, 1, "Photoset not found"),
    ("flickr.photosets.getPhotos", {"photoset_id": "72157000000000009", "media": "x"}, 3, "Invalid media"),
    ("flickr.galleries.getPhotos", {"gallery_id": "1"}, 1, "Invalid gallery ID"),
    ("flickr.interestingness.getList", {"date": "2023/11/14"}, 1, "Not a valid date string."),
    ("flickr.photos.geo.photosForLocation", {"lat": "0"}, 1, "Required arguments missing"),
    ("flickr.photos.geo.photosForLocation", {"lat": "-90.1", "lon": "0"}, 2, "Not a valid latitude"),
    ("flickr.photos.geo.photosForLocation", {"lat": "0", "lon": "inf"}, 3, "Not a valid longitude"),
    ("flickr.photos.geo.photosForLocation", {"lat": "0", "lon": "0", "accuracy": "17"}, 4, "Not a valid accuracy"),
    ("flickr.panda.getPhotos", {"panda_name": "po"}, 1, "Panda not found"),
    ("flickr.photos.getInfo", {"photo_id": "1"}, 112, 'Method "flickr.photos.getInfo" not found'),
    *[(m, {"user_id": A, "min_date": "1"}, 99, "Insufficient permissions. Method requires read privileges; "
       "none granted.") for m in ("flickr.photos.getWithGeoData", "flickr.photos.getWithoutGeoData",
                                  "flickr.photos.recentlyUpdated", "flickr.photos.getContactsPhotos",
                                  "flickr.favorites.getList")],
]


@pytest.mark.parametrize("method, args, code, message", ERRORS)
def test_errors(small, method, args, code, message):
    fails(small, method, code, message, **args)


def test_every_method_is_answered_or_refused(small):
    for method in METHODS:
        args = {"user_id": A, "group_id": "G1@N00", "photoset_id": "72157000000000009", "gallery_id":
                "72157000000000001", "lat": "0", "lon": "0", "min_date": "1", "panda_name": "wang wang",
                "tag": "sunset", "cluster_id": "beach"}
        try:
            small.photos(method, args)
        except FlickrError as exc:
            assert exc.code == 99, method


# ---------------------------------------------------------------- the empty library


def test_empty_library_answers_empty_pages_but_checks_arguments(library, caplog):
    caplog.set_level(logging.WARNING, "gateway.library")
    for method, args in [
        ("flickr.people.getPublicPhotos", {"user_id": "nobody"}),
        ("flickr.photos.search", {"tags": "x", "user_id": "nobody", "group_id": "g"}),
        ("flickr.groups.pools.getPhotos", {"group_id": "g"}),
        ("flickr.galleries.getPhotos", {"gallery_id": "1"}),
        ("flickr.photos.getRecent", {"page": "3", "per_page": "10"}),
    ]:
        page = library.photos(method, args)
        assert (page.photos, page.total, page.pages) == ((), 0, 0)
    page = library.photos("flickr.photosets.getPhotos", {"photoset_id": "72157"})
    assert (page.wrapper, dict(page.info)) == ("photoset", {"id": "72157"})
    fails(library, "flickr.photos.search", 3, "Invalid bbox", bbox="1,2")
    fails(library, "flickr.people.getPublicPhotos", 1, "User not found")
    warnings = [r.getMessage() for r in caplog.records if r.name == "gateway.library"]
    assert len(warnings) == 1 and "flickr-gateway library add-folder" in warnings[0]


def test_library_is_created_lazily_in_a_new_directory(make_app, tmp_path):
    app = make_app("deep/er/lib.sqlite")
    assert not (tmp_path / "deep").exists()  # create_app does no work
    app.extensions["gateway.upstream"].photos("flickr.photos.getRecent", {})
    assert (tmp_path / "deep" / "er" / "lib.sqlite").is_file()


# ---------------------------------------------------------------- import


def dump(lib: Library) -> str:
    return "\n".join(lib.store.connection().iterdump())


def test_recorded_fixtures_import_whole(recorded_library):
    unique = set()
    for entry in INDEX:
        if entry["photos"]:
            unique |= {p.id for p in parse_rest(parse((FIXTURES / entry["file"]).read_bytes())).photos}
    stats = recorded_library.stats()
    assert stats["photos"] == len(unique)
    assert (stats["albums"], stats["galleries"], stats["groups"]) == (8, 4, 2)
    assert stats["geotagged"] > 0 and stats["bytes"] > 0


def test_recorded_album_keeps_flickr_order_and_wrapper(recorded_library):
    recorded = parse_rest(parse((FIXTURES / "photosets.getPhotos-8e8f0147b5.xml").read_bytes()))
    page = recorded_library.photos("flickr.photosets.getPhotos",
                                   {"photoset_id": "72157624715342071", "per_page": "10"})
    assert [p.id for p in page.photos] == [p.id for p in recorded.photos]
    assert {k: page.info[k] for k in ("id", "primary", "owner", "ownername", "title")} == {
        k: recorded.info[k] for k in ("id", "primary", "owner", "ownername", "title")}
    assert [p.extra["isprimary"] for p in page.photos] == [p.extra["isprimary"] for p in recorded.photos]
    # image URLs point at Flickr's hosts: ids, secrets and servers are kept
    assert page.photos[0].sizes == recorded.photos[0].sizes
    assert (page.photos[0].secret, page.photos[0].server) == (recorded.photos[0].secret, recorded.photos[0].server)


def test_recorded_gallery_and_group_order(recorded_library):
    recorded = parse_rest(parse((FIXTURES / "galleries.getPhotos-8a107f39a2.xml").read_bytes()))
    page = recorded_library.photos("flickr.galleries.getPhotos", {"gallery_id": "72157720932863274", "per_page": "10"})
    assert [p.id for p in page.photos] == [p.id for p in recorded.photos]
    pool = recorded_library.photos("flickr.groups.pools.getPhotos", {"group_id": "66832458@N00"})
    added = [int(p.extra["dateadded"]) for p in pool.photos]
    assert added == sorted(added, reverse=True) and pool.total >= 100


def test_recorded_people_and_search(recorded_library):
    page = recorded_library.photos("flickr.people.getPublicPhotos", {"user_id": "39758725@N03", "per_page": "500"})
    assert page.total == 870 and page.pages == 2  # 500 + 370 recorded
    tagged = {p.id for f in FIXTURES.glob("*.xml") if (data := f.read_bytes()).count(b"<photo ")
              for p in parse_rest(parse(data)).photos if "botany" in p.tags}
    botany = recorded_library.photos("flickr.photos.search", {"tags": "botany", "per_page": "500"})
    assert {p.id for p in botany.photos} == tagged and botany.total == len(tagged) == 200


TABLES = ("photos", "tags", "memberships", "sets")


def rows(lib: Library) -> dict[str, list[tuple]]:
    conn = lib.store.connection()
    return {table: [tuple(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2")] for table in TABLES}


@pytest.mark.parametrize("name", [
    "photosets.getPhotos-8e8f0147b5.xml", "galleries.getPhotos-8a107f39a2.xml", "groups.pools.getPhotos-e6a5806d78.xml",
    "photos.search-4a7d855f5c.xml", "people.getPublicPhotos-e237fae8d6.xml",
])
def test_importing_a_file_twice_changes_nothing(make_app, name):
    lib = make_app().extensions["gateway.upstream"]
    lib.import_file(FIXTURES / name)
    before = dump(lib)
    lib.import_file(FIXTURES / name)
    assert dump(lib) == before  # byte for byte, FTS5 and R*Tree pages included


def test_reimporting_everything_changes_nothing(make_app):
    app = make_app()
    lib = app.extensions["gateway.upstream"]
    files = sorted(str(p) for p in FIXTURES.glob("*.xml"))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["library", "import", *files]).exit_code == 0
    before = rows(lib)
    # Some photos were recorded twice with different titles or secrets: the
    # last recording wins each time, so the tables end as they were.
    assert runner.invoke(args=["library", "import", *files]).exit_code == 0
    assert rows(lib) == before
    lib.store.connection().execute("INSERT INTO photos_fts(photos_fts) VALUES ('integrity-check')")
    again = dump(lib)
    assert runner.invoke(args=["library", "import", files[-1]]).exit_code == 0
    assert dump(lib) == again


def test_same_photo_recorded_with_different_extras_merges(make_app, tmp_path):
    base = {"id": "900", "owner": A, "secret": "abc", "server": "65535", "farm": 66, "title": "Merged"}
    with_tags = flickr_xml([{**base, "tags": "one two", "views": 12, "media": "video", **GEO,
                             "description": "first words", "ispublic": 1}])
    with_geo = flickr_xml([{**base, "latitude": "10.5", "longitude": "20.25", "accuracy": "16",
                            "url_z": "https://live.staticflickr.com/65535/900_abc_z.jpg", "width_z": 640,
                            "height_z": 480, "pathalias": "alice"}])
    bare = flickr_xml([{**base, "tags": "", "description": "", **GEO}])
    results = []
    for order in ((with_tags, with_geo), (with_geo, with_tags)):
        lib = make_app(f"merge{len(results)}.sqlite").extensions["gateway.upstream"]
        for n, data in enumerate(order):
            lib.import_file(write(tmp_path, f"r{len(results)}{n}.xml", data), {"method": "flickr.photos.search"})
        before = dump(lib)
        lib.import_file(write(tmp_path, "bare.xml", bare), {"method": "flickr.photos.search"})
        assert dump(lib) == before  # empty and unknown values never replace known ones
        (photo,) = lib.photos("flickr.photos.getRecent", {}).photos
        results.append(photo)
        assert photo.tags == ("one", "two") and photo.views == 12 and photo.media == "video"
        assert (photo.latitude, photo.longitude, photo.accuracy) == (10.5, 20.25, 16)
        assert [s.suffix for s in photo.sizes] == ["z"] and photo.description == "first words"
        assert photo.pathalias == "alice" and photo.extra["ispublic"] == "1"
        # the side tables follow the merged photo
        assert search(lib, tags="two") == [900] and search(lib, bbox="20,10,21,11") == [900]
        assert search(lib, text="words") == [900]
    assert results[0] == results[1]


def test_json_import_matches_xml(make_app, tmp_path):
    name = "galleries.getPhotos-8a107f39a2.xml"
    xml = (FIXTURES / name).read_bytes()
    call = {"method": "flickr.galleries.getPhotos", "gallery_id": "72157720932863274"}
    from_xml = make_app("xml.sqlite").extensions["gateway.upstream"]
    from_xml.import_file(FIXTURES / name)  # the call comes from index.json
    pages = [from_xml.photos("flickr.galleries.getPhotos", call)]
    for n, text in enumerate([json.dumps(to_json(xml)), f"jsonFlickrApi({json.dumps(to_json(xml))})"]):
        lib = make_app(f"json{n}.sqlite").extensions["gateway.upstream"]
        assert lib.import_file(write(tmp_path, f"gallery{n}.json", text), call) == 10
        pages.append(lib.photos("flickr.galleries.getPhotos", call))
    assert pages[0].total == 10
    assert pages[0] == pages[1] == pages[2]


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rsp stat="ok"><photos page="1" pages="1" perpage="1" total="1"><photo id="1" title="&lol3;"/></photos></rsp>"""


def test_broken_files_are_skipped_with_their_name(app, tmp_path):
    good = FIXTURES / "photosets.getPhotos-8e8f0147b5.xml"
    truncated = good.read_bytes()[: len(good.read_bytes()) // 2]  # several whole <photo> elements, then cut
    assert truncated.count(b"<photo ") > 2
    broken = {
        "laughs.xml": (BILLION_LAUGHS, "DOCTYPE"),
        "truncated.xml": (truncated, "not well-formed"),
        "garbage.xml": (b"\x00\x01 not a response", "neither XML nor JSON"),
        "other.xml": ('<rsp stat="ok"><person id="1"/></rsp>', "not a standard photos response"),
        "fail.xml": ('<rsp stat="fail"><err code="1" msg="Photoset not found"/></rsp>',
                     "failure response (code 1: Photoset not found)"),
        "list.json": ("[1, 2]", "not a Flickr JSON response"),
        "empty.json": ("", "neither XML nor JSON"),
    }
    paths = [write(tmp_path, name, data) for name, (data, _why) in broken.items()]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["library", "import", *map(str, paths)])
    assert result.exit_code == 1  # nothing could be imported
    for path, (_data, why) in zip(paths, broken.values(), strict=True):
        (line,) = [line for line in result.stderr.splitlines() if line.startswith(str(path))]
        assert "skipped" in line and why in line, line
    library = app.extensions["gateway.upstream"]
    assert library.stats()["photos"] == 0  # the truncated album was not half-imported
    result = runner.invoke(args=["library", "import", *map(str, paths), str(good)])
    assert result.exit_code == 0, result.output  # one good file among broken ones
    assert f"{good}: imported 10 photos" in result.stdout
    assert library.stats()["photos"] == 10


def test_import_raises_skipped(library, tmp_path):
    with pytest.raises(Skipped, match="cannot read"):
        library.import_file(tmp_path / "missing.xml")
    with pytest.raises(Skipped, match="photosets.getInfo"):
        library.import_file(FIXTURES / "photosets.getInfo-3a69561e75.xml")


# ---------------------------------------------------------------- CLI


def test_cli_import_with_call_and_stats(app, tmp_path):
    pool = write(tmp_path, "pool.xml", flickr_xml([dict(photo_attrs(n), dateadded=n) for n in (1, 2, 3)]))
    index = write(tmp_path, "index.json", json.dumps([{"file": "other.xml", "method": "flickr.photos.search",
                                                        "params": {}}]))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["library", "import", str(pool), str(index),
                                 "--call", "method=flickr.groups.pools.getPhotos&group_id=G9@N00"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{pool}: imported 3 photos",
                                        "1 of 1 file imported (3 photo records); the library holds 3 photos"]
    page = app.extensions["gateway.upstream"].photos("flickr.groups.pools.getPhotos", {"group_id": "G9@N00"})
    assert ids(page) == [3, 2, 1]
    result = runner.invoke(args=["library", "stats"])
    assert result.exit_code == 0
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert {k: lines[k] for k in ("photos", "geotagged", "owners", "tags", "groups", "albums", "galleries",
                                  "favorites lists")} == {
        "photos": "3", "geotagged": "2", "owners": "2", "tags": "6", "groups": "1", "albums": "0",
        "galleries": "0", "favorites lists": "0"}
    assert lines["file"] == str(tmp_path / "lib.sqlite") and int(lines["bytes"]) > 0


def test_cli_call_needs_a_method(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["library", "import", str(FIXTURES / "index.json"),
                                                "--call", "group_id=1"])
    assert result.exit_code == 2 and "--call" in result.output


def test_cli_uses_index_json_beside_the_files(app):
    files = [str(FIXTURES / e["file"]) for e in INDEX if e["method"] == "flickr.groups.pools.getPhotos"]
    result = app.test_cli_runner().invoke(args=["library", "import", *files])
    assert result.exit_code == 0
    page = app.extensions["gateway.upstream"].photos("flickr.groups.pools.getPhotos", {"group_id": "31849566@N00"})
    assert page.total > 0
    root = etree.fromstring((FIXTURES / "groups.pools.getPhotos-e6a5806d78.xml").read_bytes())
    newest = max(int(p.get("dateadded")) for p in root.iter("photo"))
    assert int(page.photos[0].extra["dateadded"]) >= newest


def test_threads_read_while_a_file_is_imported(small, tmp_path):
    """gunicorn runs threads: each gets its own connection, and WAL lets them read during an import."""
    from concurrent.futures import ThreadPoolExecutor

    extra = write(tmp_path, "more.xml", flickr_xml([{**photo_attrs(1), "id": 100 + n} for n in range(200)]))

    def read(_n):
        page = small.photos("flickr.photos.search", {"tags": "sunset", "per_page": "2"})
        return page.total

    with ThreadPoolExecutor(8) as pool:
        reads = [pool.submit(read, n) for n in range(64)]
        imported = pool.submit(small.import_file, extra, {"method": "flickr.photos.search"})
        totals = {r.result() for r in reads}
        imported.result()
        assert 1 < small.store.open_connections() <= 9  # the pool's threads (and this one)
    assert imported.result() == 200
    assert totals <= {2, 202}  # before or after the import, never half of it
    assert small.store.open_connections() <= 1  # a thread's connection is closed when the thread ends
    assert small.photos("flickr.photos.search", {"tags": "sunset"}).total == 202
