"""The photos the real-consumer tests read, and how to run the consumers themselves.

The tests (test_real_consumers.py) serve these photos from an embedded library
in every format and hand each document to the programs that read such files in
the wild: feed readers' parsers (feedparser, sfeed, rsstail, Perl XML::Feed and
XML::FeedPP, rss-parser, feed-extractor), RDF parsers (rapper), GIS tools
(GDAL's ogr2ogr, gpsbabel, fastkml, geopandas, togeojson). They assert what a
person would see: item counts, titles, tags, images, coordinates, times.

scripts/install-consumers installs them (Debian packages, npm into tests/js).
A missing one is a failure under CI (CI=true) and a skip with the command that
installs it elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parent / "js"
OWNER, OWNERNAME, ALIAS = "12345678@N01", "Aiko Tanaka", "aiko"
STATIC = "https://live.staticflickr.com/65535"


def _urls(photo_id: str, secret: str) -> dict[str, str]:
    base = f"{STATIC}/{photo_id}_{secret}"
    return {"url_sq": f"{base}_s.jpg", "width_sq": "75", "height_sq": "75",
            "url_m": f"{base}.jpg", "width_m": "500", "height_m": "333",
            "url_l": f"{base}_b.jpg", "width_l": "1024", "height_l": "683"}


def _photo(photo_id: str, title: str, taken: str, upload: int, tags: str, lat: float = 0, lon: float = 0,
           accuracy: int = 0, **more: str) -> dict[str, str]:
    secret = f"{int(photo_id) % 10**10:010x}"
    return {"id": photo_id, "owner": OWNER, "secret": secret, "server": "65535", "farm": "66", "title": title,
            "ispublic": "1", "license": "4", "dateupload": str(upload), "lastupdate": str(upload),
            "datetaken": taken, "datetakengranularity": "0", "datetakenunknown": "0", "ownername": OWNERNAME,
            "pathalias": ALIAS, "tags": tags, "latitude": str(lat), "longitude": str(lon), "accuracy": str(accuracy),
            "media": "photo", **_urls(photo_id, secret), **more}


# Each with what a person must see: the camera's clock, and the instant it means at that place.
TOKYO = _photo("53000000001", "Morning at Shibuya", "2023-07-22 08:15:00", 1690100000,
               "tokyo shibuya crossing morning", 35.659482, 139.700553, 16,
               description="The crossing at <b>rush hour</b>")
NO_PLACE = _photo("53000000002", "Kitchen table", "2023-07-23 10:00:00", 1690000000, "kitchen breakfast")
PARIS_TAGS = ("paris seine pontneuf bridge night river france europe lights reflection water city "
              "architecture stone summer longexposure tripod blue hour travel street old river2 quay")
PARIS = _photo("53000000003", "Pont Neuf by night", "2023-07-24 21:30:00", 1689900000, PARIS_TAGS,
               48.857, 2.3412, 16)
DENVER = _photo("53000000004", "Snow on Colfax", "2023-01-10 07:00:00", 1689800000, "denver snow winter",
                39.7392, -104.9903, 16)
PHOTOS = (TOKYO, NO_PLACE, PARIS, DENVER)  # newest upload first: the feeds' order
GEOTAGGED = (TOKYO, PARIS, DENVER)
# The instant each photo was taken: its place's offset on that date (summer time in Paris, winter in Denver).
INSTANTS = {
    TOKYO["id"]: datetime.fromisoformat("2023-07-22T08:15:00+09:00"),
    PARIS["id"]: datetime.fromisoformat("2023-07-24T21:30:00+02:00"),
    DENVER["id"]: datetime.fromisoformat("2023-01-10T07:00:00-07:00"),
}
GALLERY = {"id": "66954700-72157716953066942", "gallery_id": "72157716953066942",
           "url": "https://www.flickr.com/photos/wjljmahqp/galleries/72157716953066942", "owner": "66960040@N05",
           "username": "Tct & Fcxpnn", "title": "Crossings", "description": "Busy places"}


def page_url(photo: dict) -> str:
    return f"https://www.flickr.com/photos/{ALIAS}/{photo['id']}/"


def by_id(photo_id: str) -> dict:
    return next(p for p in PHOTOS if p["id"] == photo_id)


# ---------------------------------------------------------------- the consumers


def need(*commands: str) -> None:
    """Skip (outside CI) or fail (CI=true) when a consumer is not installed."""
    missing = [c for c in commands if shutil.which(c) is None]
    if missing:
        message = f"{', '.join(missing)} not installed: run scripts/install-consumers (as root on Debian)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def need_perl(module: str) -> None:
    if subprocess.run(["perl", f"-M{module}", "-e1"], capture_output=True).returncode != 0:
        message = f"Perl's {module} is not installed: run scripts/install-consumers (as root on Debian)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def need_js() -> None:
    need("node")
    if not (JS / "node_modules").is_dir():
        message = "the JavaScript readers are not installed: run scripts/install-consumers (npm ci in tests/js)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def need_module(name: str):
    """A Python consumer from requirements-dev.txt (skipped only outside CI when absent)."""
    try:
        return __import__(name)
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} not installed: pip install -r requirements-dev.txt")
        pytest.skip(f"{name} not installed: pip install -r requirements-dev.txt")


def run(*argv: str, stdin: bytes | None = None, cwd: Path | None = None) -> str:
    """A consumer's standard output; a failed run fails the test with its error output."""
    result = subprocess.run(argv, input=stdin, capture_output=True, timeout=120, cwd=cwd)
    assert result.returncode == 0, (argv, result.stderr.decode(errors="replace")[-2000:])
    return result.stdout.decode()


def js(reader: str, path: Path) -> object:
    need_js()
    return json.loads(run("node", str(JS / "read.mjs"), reader, str(path)))
