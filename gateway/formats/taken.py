"""Date taken as every format states it: the camera's local time, with the true
UTC offset of the photo's place where the photo has one (SPEC 3.2).

Flickr stores `datetaken` as the camera's wall clock with no zone
("2023-07-22 08:15:00"). Flickr's own feeds glued a fixed "-08:00" (its
servers' zone) to it, so every map and reader shifted the photo by hours.
Here the offset is never invented:

    a geotagged photo in Tokyo      2023-07-22T08:15:00+09:00   (Asia/Tokyo on that date)
    a photo with no place           2023-07-22T08:15:00         (xsd:dateTime without zone: "local")
    a place in open sea             2023-07-22T08:15:00         (only nautical zones there: no civil clock)

Every format that states a date taken (dc:date.Taken, flickr:date_taken, KML
<when>, GeoJSON "datetaken") uses taken_w3c(), so they all name the same
instant. The zone of a place comes from timezonefinder (the offline
timezone-boundary-builder polygons) and the offset on that date from zoneinfo
(the IANA database: summer time, and zones whose offset changed over the years).
"""

from __future__ import annotations

import functools
import re
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..model import Photo

_TAKEN = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_finder = None
_finder_lock = threading.Lock()


def taken_local(photo: Photo) -> str:
    """Date taken as xsd:dateTime without zone ("2023-07-22T08:15:00"), '' when unknown or invalid.

    Impossible dates ("0000-00-00 00:00:00", February 30) are refused, as the KML schema would.
    """
    text = photo.datetaken
    if _TAKEN.fullmatch(text) is None:
        return ""
    try:
        datetime.fromisoformat(text)  # the shape is checked above; this checks the calendar
    except ValueError:
        return ""
    return text.replace(" ", "T")


def taken_w3c(photo: Photo) -> str:
    """Date taken with the UTC offset of the photo's place on that date ("…T08:15:00+09:00"),
    zone-less where the place (or its civil time zone) is unknown, '' when there is no date."""
    local = taken_local(photo)
    if not local or not photo.geotagged:
        return local
    zone = zone_at(photo.latitude, photo.longitude)
    if zone is None:
        return local
    return local + utc_offset(datetime.fromisoformat(local).replace(tzinfo=zone).utcoffset())


def utc_offset(delta: timedelta | None) -> str:
    """"+09:00", "-03:30", "Z"-free: the ±hh:mm a dateTime carries; '' for none or a sub-minute offset
    (local mean times before 1900 had seconds, which xsd:dateTime and RFC 3339 cannot write)."""
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    if seconds % 60:
        return ""
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def zone_at(lat: float, lon: float) -> ZoneInfo | None:
    """The civil time zone of a place, None at sea or off the map."""
    # Rounded to about 10 m: neighbouring photos share one lookup (2 µs, but the cache is less).
    return _zone_at(round(lat, 4), round(lon, 4))


@functools.lru_cache(maxsize=4096)
def _zone_at(lat: float, lon: float) -> ZoneInfo | None:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    name = _timezone_finder().timezone_at(lat=lat, lng=lon)
    # Open sea has only the nautical zones Etc/GMT±n: no camera is set by them, so no offset is claimed.
    if not name or name.startswith("Etc/"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _timezone_finder():
    """One TimezoneFinder per process, made on first use (a quarter second: not at import)."""
    global _finder
    if _finder is None:
        with _finder_lock:
            if _finder is None:
                from timezonefinder import TimezoneFinder

                _finder = TimezoneFinder()
    return _finder
