"""Flickr's argument values, checked: numbers, coordinates, tags, text, boxes, dates.

Each parser takes the raw string and returns the value the library searches
with, or raises FlickrError with the code and message of search.py's table.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Container
from datetime import UTC, datetime

from ...errors import FlickrError

Box = tuple[float, float, float, float]  # west, south, east, north; west <= east
Error = tuple[int, str]

MEDIA = {"all": None, "photos": "photo", "videos": "video"}
KM_PER = {"km": 1.0, "mi": 1.609344}
MAX_RADIUS = {"km": 32.0, "mi": 20.0}  # Flickr: "less than 20 miles (or 32 kilometers)"
DEFAULT_RADIUS_KM = 5.0
# Flickr refuses tag_mode=all queries of more than 20 tags (code 1 "Too many tags in ALL query"); the
# library holds any-mode queries and exclusions to the same 20 (600 common tags cost a 300,000-photo
# library 0.5 s just to count).
MAX_TAGS = 20
_TEXT_TERM = re.compile(r'(-?)(?:"([^"]*)"?|(\S+))')
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def whole(value: str | None, default: int) -> int:
    """A positive whole number, or the default (the API layer has normalised paging already)."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return default
    return number if number >= 1 else default


def choice(value: str, allowed: Container[str], name: str) -> str:
    """One of the allowed values, or "" when absent; code 3 "Invalid <name>" otherwise."""
    value = value.strip()
    if value and value not in allowed:
        raise FlickrError(3, f"Invalid {name}")
    return value


def media(value: str) -> str | None:
    """all | photos | videos → the stored media type to filter on (None: all)."""
    return MEDIA[choice(value, MEDIA, "media") or "all"]


def number(value: str, error: Error) -> float:
    try:
        result = float(value.strip())
    except ValueError:
        raise FlickrError(*error) from None
    if not math.isfinite(result):
        raise FlickrError(*error)
    return result


def coordinate(value: str, limit: float, error: Error) -> float:
    result = number(value, error)
    if not -limit <= result <= limit:
        raise FlickrError(*error)
    return result


_MACHINE_TAG = re.compile(r'\s*([A-Za-z][A-Za-z0-9_]*):([A-Za-z][A-Za-z0-9_]*)=(.+)', re.S)


def normal_tag(tag: str) -> str:
    """A tag as Flickr stores it in `tags`: lower case, no spaces or quotes; a machine tag
    ("dc:title=\"Mr. Camera\"") as namespace:predicate=value with the value's letters and
    digits only, as Flickr sends them ("dc:identifier=httpsexampleorgpage12" for https://example.org/page/12)."""
    match = _MACHINE_TAG.fullmatch(tag)
    if match and (value := machine_value(match[3])):
        return f"{match[1].lower()}:{match[2].lower()}={value}"
    return re.sub(r'[\s"]+', "", tag).lower()


def machine_value(text: str) -> str:
    """A machine tag's value as Flickr normalises it: lower case, letters and digits only."""
    return "".join(c for c in unicodedata.normalize("NFC", text).lower() if c.isalnum())


def tags(value: str) -> tuple[list[str], list[str]]:
    """tags= is comma-separated, "-tag" excludes: (wanted, unwanted), normalised, without repeats."""
    wanted, unwanted = [], []
    for raw in value.split(","):
        raw = raw.strip()
        if raw.startswith("-"):
            unwanted.append(normal_tag(raw[1:]))  # after the "-": "-dc:title=Draft" is a machine tag
        else:
            wanted.append(normal_tag(raw))
    return [t for t in dict.fromkeys(wanted) if t], [t for t in dict.fromkeys(unwanted) if t]


def fts_phrase(text: str) -> str:
    """User text as one FTS5 string: quoted, so no FTS syntax in it can take effect."""
    return '"' + text.replace('"', '""') + '"'


def text(value: str) -> tuple[list[str], list[str]]:
    """text= words (or "quoted phrases") that must all match, and "-word"s that exclude, as FTS5 strings."""
    wanted, unwanted = [], []
    for minus, phrase, word in _TEXT_TERM.findall(value):
        term = phrase or word
        if not re.search(r"[^\W_]", term):  # no letter or digit: nothing the index could match
            continue
        (unwanted if minus else wanted).append(fts_phrase(term))
    return wanted, unwanted


def bbox(value: str) -> tuple[Box, ...]:
    """minlon,minlat,maxlon,maxlat → one box, or two when it crosses the antimeridian (west > east)."""
    parts = value.split(",")
    if len(parts) != 4:
        raise FlickrError(3, "Invalid bbox")
    west, south, east, north = (number(v, (3, "Invalid bbox")) for v in parts)
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise FlickrError(3, "Invalid bbox")
    if west > east:
        return (west, south, 180.0, north), (-180.0, south, east, north)
    return ((west, south, east, north),)


def near(lat: str, lon: str, radius: str, units: str) -> tuple[float, float, float] | None:
    """photos.search's lat, lon, radius, radius_units → (lat, lon, km), None without lat/lon.

    radius and radius_units are checked even when there is no point to use them with.
    """
    units = choice(units, KM_PER, "radius_units") or "km"
    radius_km = DEFAULT_RADIUS_KM
    if radius.strip():
        value = number(radius, (3, "Invalid radius"))
        if not 0 < value <= MAX_RADIUS[units]:
            raise FlickrError(3, "Invalid radius")
        radius_km = value * KM_PER[units]
    if not (lat.strip() or lon.strip()):
        return None
    return coordinate(lat, 90, (3, "Invalid latitude")), coordinate(lon, 180, (3, "Invalid longitude")), radius_km


def licenses(value: str) -> tuple[str, ...]:
    """A comma list of license ids, as stored ("04" is license 4)."""
    ids = [v.strip() for v in value.split(",") if v.strip()]
    if not all(v.isdigit() and len(v) < 4 for v in ids):
        raise FlickrError(3, "Invalid license")
    return tuple(dict.fromkeys(str(int(v)) for v in ids))


def _moment(value: str) -> datetime | None:
    """Unix time or MySQL datetime (UTC), as Flickr's date arguments accept; None when absent."""
    value = value.strip()
    if not value:
        return None
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", value):
            return datetime.fromtimestamp(float(value), UTC)
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(value, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
    except (ValueError, OverflowError, OSError):
        pass
    raise FlickrError(3, "Invalid date")


def unix(value: str) -> int | None:
    """Upload dates compare as unix time."""
    moment = _moment(value)
    return None if moment is None else int(moment.timestamp())


def mysql(value: str) -> str | None:
    """Taken dates are camera-local strings 'YYYY-MM-DD HH:MM:SS': compare as such."""
    moment = _moment(value)
    return None if moment is None else moment.replace(tzinfo=None).isoformat(" ", "seconds")
