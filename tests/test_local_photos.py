"""`library add-folder` on real image files made here (EXIF written with Pillow),
and the gateway's own image URLs that every format points at."""

from __future__ import annotations

import io
import json
import os
import shutil

import feedparser
import pytest
from lxml import etree
from PIL import Image

from gateway.formats.feed import NS
from gateway.model import LOCAL, Page, Photo, Size, best_image, image, rendition_size
from gateway.upstreams.library.folder import local_nsid

GPS, EXIF = 0x8825, 0x8769
ALICE = local_nsid("Alice")
GROUP = local_nsid("Holidays", "group")


def jpeg(path, size, color, *, description="", orientation=1, gps=None, taken="", xp_title="", keywords=""):
    """A JPEG with the EXIF a camera or Windows writes: gps = (lat_ref, (d, m, s), lon_ref, (d, m, s))."""
    exif = Image.Exif()
    if description:
        exif[0x010E] = description
    if orientation != 1:
        exif[0x0112] = orientation
    if xp_title:
        exif[0x9C9B] = (xp_title + "\0").encode("utf-16-le")
    if keywords:
        exif[0x9C9E] = (keywords + "\0").encode("utf-16-le")
    if taken:
        exif.get_ifd(EXIF)[0x9003] = taken
    if gps:
        ifd = exif.get_ifd(GPS)
        ifd[1], ifd[2], ifd[3], ifd[4] = gps
    path.parent.mkdir(parents=True, exist_ok=True)
    # Left half one colour, right half another: a wrong rotation shows in the pixels.
    img = Image.new("RGB", size, color)
    img.paste((255, 255, 255), (size[0] // 2, 0, size[0], size[1]))
    img.save(path, exif=exif, quality=90)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "photos"
    jpeg(root / "Rome" / "colosseum.jpg", (1600, 1200), (200, 40, 40), description="Colosseum at dusk",
         gps=("N", (41.0, 53.0, 24.8), "E", (12.0, 29.0, 32.3)), taken="2019:05:04 18:30:00")
    jpeg(root / "rio.jpg", (640, 480), (40, 160, 40), xp_title="Cristo Redentor", keywords="Brazil;Rio",
         gps=("S", (22.0, 57.0, 6.0), "W", (43.0, 12.0, 37.0)), taken="2021:01:02 10:00:00")
    jpeg(root / "portrait.jpg", (1200, 800), (40, 40, 200), orientation=6, taken="2020:02:29 12:00:00")
    Image.new("RGBA", (300, 200), (0, 90, 200, 0)).save(root / "screenshot.png")  # transparent: shows white
    (root / "corrupt.jpg").write_bytes(os.urandom(2048))
    shutil.copy(root / "Rome" / "colosseum.jpg", root / "Rome" / "colosseum (2).jpg")
    (root / "notes.txt").write_text("not a photo")
    return root


@pytest.fixture
def loaded(make_app, folder):
    app = make_app()
    result = app.test_cli_runner().invoke(args=["library", "add-folder", str(folder), "--owner", "Alice",
                                                "--group", "Holidays"])
    assert result.exit_code == 0, result.output
    return app


def photos(app, **args) -> dict[str, Photo]:
    page = app.extensions["gateway.upstream"].photos("flickr.photos.search", {"user_id": "alice", **args})
    return {p.title: p for p in page.photos}


def fetch(client, url: str) -> tuple[Image.Image, object]:
    """An image URL of a feed, fetched from the app: (the decoded image, the response)."""
    assert url.startswith("http://localhost/images/"), url
    response = client.get(url.removeprefix("http://localhost"), buffered=True)
    assert response.status_code == 200, url
    with Image.open(io.BytesIO(response.data)) as img:
        img.load()
        return img.copy(), response


def test_add_folder_reads_exif(loaded, folder):
    found = photos(loaded)
    assert set(found) == {"Colosseum at dusk", "Cristo Redentor", "portrait", "screenshot"}
    rome, rio, portrait, png = (found[t] for t in ("Colosseum at dusk", "Cristo Redentor", "portrait", "screenshot"))
    assert (rome.latitude, rome.longitude, rome.accuracy) == (41.890222, 12.492306, 16)
    assert (rio.latitude, rio.longitude) == (-22.951667, -43.210278)  # S and W are negative
    assert not portrait.geotagged and not png.geotagged
    assert (rome.datetaken, rome.datetakenunknown) == ("2019-05-04 18:30:00", 0)
    assert png.datetakenunknown == 1  # no EXIF date: the file's time, marked unknown
    assert (portrait.o_width, portrait.o_height) == (800, 1200)  # upright: Orientation 6 turns it
    assert (rome.o_width, rome.o_height, rome.originalformat, png.originalformat) == (1600, 1200, "jpg", "png")
    assert rome.tags == ("rome",) and rio.tags == ("brazil", "rio")  # folders and XPKeywords
    assert {p.owner for p in found.values()} == {ALICE} and {p.server for p in found.values()} == {LOCAL}
    assert all(p.id.isdigit() for p in found.values())
    pool = loaded.extensions["gateway.upstream"].photos("flickr.groups.pools.getPhotos", {"group_id": GROUP})
    assert pool.total == 4


def test_add_folder_reports_skipped_and_duplicates(make_app, folder):
    result = make_app().test_cli_runner().invoke(args=["library", "add-folder", str(folder), "--owner", "Alice"])
    assert result.exit_code == 0
    assert f"{folder / 'corrupt.jpg'}: skipped: not an image Pillow knows" in result.output
    assert ("4 added, 0 replaced, 1 duplicate, 0 unchanged, 1 skipped, 0 removed (files gone); "
            "the library holds 4 photos") in result.output
    assert "notes.txt" not in result.output


def test_rerun_reads_only_new_or_changed_files(loaded, folder):
    library = loaded.extensions["gateway.upstream"]
    before = photos(loaded)
    report = library.add_folder(folder, "Alice")
    assert (report.added, report.replaced, report.duplicates, report.unchanged) == (0, 0, 0, 5)
    # A changed file replaces its photo (new content, new id) and keeps its group; a new file is added.
    jpeg(folder / "rio.jpg", (480, 640), (90, 90, 90), xp_title="Cristo Redentor, again")
    jpeg(folder / "new.jpg", (100, 100), (1, 2, 3))
    report = library.add_folder(folder, "Alice")
    assert (report.added, report.replaced, report.unchanged, len(report.skipped)) == (1, 1, 4, 1)
    after = photos(loaded)
    assert "Cristo Redentor" not in after and after["Cristo Redentor, again"].id != before["Cristo Redentor"].id
    assert library.local_source(before["Cristo Redentor"].id) is None
    assert library.photos("flickr.photos.search", {"tags": "brazil"}).total == 0  # the old photo's tags went too
    pool = library.photos("flickr.groups.pools.getPhotos", {"group_id": GROUP})
    assert after["Cristo Redentor, again"].id in {p.id for p in pool.photos} and pool.total == 4


def test_ids_come_from_content(make_app, folder, tmp_path):
    first = photos(_loaded(make_app, folder, "one.sqlite"))
    second = photos(_loaded(make_app, folder, "two.sqlite"))
    assert {t: p.id for t, p in first.items()} == {t: p.id for t, p in second.items()}


def _loaded(make_app, folder, name):
    app = make_app(name)
    app.extensions["gateway.upstream"].add_folder(folder, "Alice")
    return app


def feed(client, fmt: str, **args) -> bytes:
    r = client.get("/services/rest/", query_string={"method": "flickr.photos.search", "user_id": "alice",
                                                    "format": fmt, **args})
    assert r.status_code == 200, r.headers.get("X-FlickrErrMessage")
    return r.data


def test_rss_images_are_served_at_their_declared_size(loaded):
    client = loaded.test_client()
    root = etree.fromstring(feed(client, "feed-rss_200", size="h"))
    items = root.findall("channel/item")
    assert len(items) == 4
    for item in items:
        content, thumb = item.find("media:content", NS), item.find("media:thumbnail", NS)
        assert item.find("enclosure").get("url") == content.get("url")
        for el in (content, thumb):
            img, _ = fetch(client, el.get("url"))
            assert img.size == (int(el.get("width")), int(el.get("height")))
        assert thumb.get("width") == thumb.get("height") == "75" or int(thumb.get("width")) < 75
    by_title = {i.findtext("title"): i for i in items}
    # h (1600) of a 1600 x 1200 photo; the upright portrait's largest size is its own 800 x 1200.
    assert by_title["Colosseum at dusk"].find("media:content", NS).get("width") == "1600"
    portrait = by_title["portrait"].find("media:content", NS)
    img, _ = fetch(client, portrait.get("url"))
    assert img.size == (800, 1200)
    assert img.getpixel((400, 100))[2] > 150 and img.getpixel((400, 1100)) == (255, 255, 255)  # turned right


def test_atom_kml_geojson_and_json_point_at_the_gateway(loaded):
    client = loaded.test_client()
    atom = feedparser.parse(feed(client, "feed-atom_10"))
    for entry in atom.entries:
        enclosure = [link.href for link in entry.links if link.rel == "enclosure"]
        assert enclosure and enclosure[0].startswith("http://localhost/images/")
        assert entry.link.startswith("http://localhost/photos/alice/")  # no flickr.com page: the gateway's
        assert 'src="http://localhost/images/' in entry.content[0].value
    kml = etree.fromstring(feed(client, "feed-kml"))
    icons = kml.findall(".//kml:Placemark//kml:Icon/kml:href", NS)
    assert len(icons) == 2  # the geotagged two
    for icon in icons:
        assert fetch(client, icon.text)[0].size == (75, 75)
    features = json.loads(feed(client, "feed-geojson"))["features"]
    assert {f["properties"]["title"] for f in features} == {"Colosseum at dusk", "Cristo Redentor"}
    for f in features:
        assert max(fetch(client, f["properties"]["image"])[0].size) == 500
        assert fetch(client, f["properties"]["thumbnail"])[0].size == (75, 75)
    data = json.loads(feed(client, "json", nojsoncallback="1", extras="url_o,url_q,url_k"))
    for p in data["photos"]["photo"]:
        assert fetch(client, p["url_o"])[0].size == (int(p["width_o"]), int(p["height_o"]))
        assert fetch(client, p["url_q"])[0].size == (150, 150)
        assert "url_k" not in p  # no photo here reaches 2048 px: the size does not exist


def test_images_carry_etag_and_answer_304(loaded):
    client = loaded.test_client()
    url = json.loads(feed(client, "json", nojsoncallback="1", extras="url_m"))["photos"]["photo"][0]["url_m"]
    _, first = fetch(client, url)
    assert first.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert first.mimetype == "image/jpeg"
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert (again.status_code, again.data, again.headers["ETag"]) == (304, b"", first.headers["ETag"])
    _, cached = fetch(client, url)  # from the cache on disk, the same bytes
    assert cached.data == first.data


def test_unknown_images_are_plain_404s(loaded, folder):
    client = loaded.test_client()
    found = photos(loaded)
    rome, png = found["Colosseum at dusk"].id, found["screenshot"].id
    for path in (f"/images/{rome}_k.jpg",  # larger than the original
                 f"/images/{rome}_o.png", f"/images/{png}_o.jpg", f"/images/{rome}_x.jpg", f"/images/{rome}_s.gif",
                 "/images/1_s.jpg", "/images/0_s.jpg", "/images/..%2F..%2Fetc%2Fpasswd", "/images/%2Fetc%2Fpasswd",
                 f"/images/{rome}_s.jpg/../../x"):
        r = client.get(path)
        assert r.status_code == 404, path
        r.close()
    assert client.get(f"/images/{png}_o.png", buffered=True).status_code == 200
    thumb = client.get(f"/images/{png}_t.jpg", buffered=True)
    with Image.open(io.BytesIO(thumb.data)) as img:
        assert img.size == (100, 67) and min(img.getpixel((50, 30))) > 240
    (folder / "screenshot.png").write_bytes(b"changed")  # a file changed since it was added is not served
    assert client.get(f"/images/{png}_t.jpg").status_code == 404


def test_flickr_photos_keep_flickr_urls():
    flickr = Photo("53084954382", server="65535", secret="3dd9199542", o_width=1024, o_height=672)
    local = Photo("7", server=LOCAL, o_width=1024, o_height=768)
    page = Page((flickr, local)).with_image_base("https://photos.example/gw/")
    bound_flickr, bound_local = page.photos
    assert bound_flickr is flickr and image(flickr, "z").url.startswith("https://live.staticflickr.com/65535/")
    assert image(local, "z") is None  # unbound: no URL to give
    assert image(bound_local, "z") == Size("z", "https://photos.example/gw/images/7_z.jpg", 640, 480)
    assert best_image(bound_local, "h") == Size("b", "https://photos.example/gw/images/7_b.jpg", 1024, 768)
    assert image(bound_local, "").url == "https://photos.example/gw/images/7.jpg"


@pytest.mark.parametrize("size, suffix, expected", [
    ((1600, 1200), "s", (75, 75)), ((60, 40), "q", (40, 40)), ((1600, 1200), "b", (1024, 768)),
    ((1000, 800), "b", (1000, 800)), ((1000, 800), "h", None), ((1024, 768), "b", (1024, 768)),
    ((1024, 768), "h", None), ((50, 20), "t", (50, 20)), ((50, 20), "m", None), ((3000, 2000), "o", (3000, 2000)),
    ((0, 0), "b", None),
])
def test_rendition_sizes_never_upscale(size, suffix, expected):
    assert rendition_size(*size, suffix) == expected


def test_exif_text_written_as_utf8_or_latin1_reads_as_written(make_app, tmp_path):
    """EXIF says ASCII, but phones, exiftool and Lightroom write UTF-8 in ImageDescription; Pillow hands
    it over as Latin-1, and a newcomer's "Belém at sunset" came out "BelÃ©m at sunset" in every feed."""
    root = tmp_path / "lisbon"
    jpeg(root / "utf8.jpg", (64, 48), (200, 90, 60), description="Belém at sunset, 日没".encode())
    jpeg(root / "latin1.jpg", (64, 48), (60, 90, 200), description="Café da manhã".encode("latin-1"))
    app = make_app()
    assert app.test_cli_runner().invoke(args=["library", "add-folder", str(root), "--owner", "Alice"]).exit_code == 0
    body = feed(app.test_client(), "feed-atom_10")
    titles = {e.title for e in feedparser.parse(body).entries}
    assert titles == {"Belém at sunset, 日没", "Café da manhã"}
