"""What an image file says about itself, read with Pillow: size, EXIF place, date, title.

    IFD0   0x010E ImageDescription, 0x0112 Orientation, 0x0132 DateTime,
           0x9C9B XPTitle, 0x9C9C XPComment, 0x9C9E XPKeywords (UTF-16LE, as Windows writes them)
    Exif   0x9003 DateTimeOriginal "2023:07:22 08:15:00" (camera local time, no zone)
    GPS    1/2 GPSLatitudeRef "N"|"S" + GPSLatitude (deg, min, sec rationals),
           3/4 GPSLongitudeRef "E"|"W" + GPSLongitude, 9 GPSStatus "A" (fix) | "V" (void: no fix),
           31 GPSHPositioningError (metres)

A position that means "no fix" is no place: GPSStatus "V", or exactly 0,0 (a
GPS block of zeros, written by cameras without a fix and by phones' pickers
that scrub the position), so such photos never land on Null Island.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from PIL import ExifTags, Image, UnidentifiedImageError

from ...renditions import exif_orientation

FORMATS = {"JPEG": "jpg", "PNG": "png"}
ROTATED = {5, 6, 7, 8}  # orientations that swap width and height
# What cameras write as ImageDescription when the photographer wrote nothing.
_NO_DESCRIPTION = re.compile(r"\s*(|OLYMPUS DIGITAL CAMERA|SONY DSC|DIGITAL CAMERA|default|Exif_JPEG_PICTURE)\s*",
                             re.I)
_EXIF_DATE = re.compile(r"(\d{4}):(\d\d):(\d\d) (\d\d):(\d\d):(\d\d)")


class Unreadable(Exception):
    """Not a JPEG or PNG image that Pillow can decode; the message says why."""


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "jpg" | "png"
    width: int  # upright, after the EXIF orientation
    height: int
    title: str = ""
    description: str = ""
    keywords: tuple[str, ...] = ()
    datetaken: str = ""  # "YYYY-MM-DD HH:MM:SS", camera local time; "" when the file does not say
    latitude: float = 0.0
    longitude: float = 0.0
    accuracy: int = 0  # Flickr's 1 (world) … 16 (street); 0 = no GPS position


def read(data: bytes | BinaryIO, max_pixels: int | None = None) -> ImageInfo:
    """The ImageInfo of an image file (its bytes, or the open file); Unreadable when Pillow cannot
    decode it, or when it has more than `max_pixels` pixels (checked before any pixel is decoded)."""
    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as img:
            if img.format not in FORMATS:
                raise Unreadable(f"a {img.format} image, not JPEG or PNG")
            fmt, (width, height), exif = FORMATS[img.format], img.size, img.getexif()
            if max_pixels is not None and width * height > max_pixels:
                raise Unreadable(too_large(width, height, max_pixels))
            _decode(img)
    except Unreadable:
        raise
    except Image.DecompressionBombError:  # Pillow's own guard, for images far over any sane cap
        raise Unreadable("more pixels than Pillow decodes (a decompression bomb?)") from None
    except UnidentifiedImageError:
        raise Unreadable("not an image Pillow knows") from None
    except Exception as exc:  # noqa: BLE001 - any failure of a decoder on a stranger's file means "unreadable"
        raise Unreadable(f"not an image Pillow can read ({exc})") from None
    if exif_orientation(exif) in ROTATED:
        width, height = height, width
    description = _text(exif.get(0x010E))
    if _NO_DESCRIPTION.fullmatch(description):
        description = ""
    keywords = tuple(k.strip() for k in _xp(exif.get(0x9C9E)).split(";") if k.strip())
    taken = _date(exif.get_ifd(ExifTags.IFD.Exif).get(0x9003)) or _date(exif.get(0x0132))
    lat, lon, accuracy = _gps(exif.get_ifd(ExifTags.IFD.GPSInfo))
    return ImageInfo(fmt, width, height, _xp(exif.get(0x9C9B)) or description,
                     _xp(exif.get(0x9C9C)), keywords, taken, lat, lon, accuracy)


def too_large(width: int, height: int, max_pixels: int) -> str:
    return (f"{width} × {height} pixels is more than GATEWAY_IMAGE_MAX_PIXELS ({max_pixels:,}); "
            "make a smaller copy to add, or raise the setting")


def _decode(img: Image.Image) -> None:
    """Decode the pixels, so that a truncated or broken file is found now, not when it is shown."""
    if img.format == "JPEG":
        img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))  # 1/8 scale: cheap, still every block
    img.load()


def _text(value: object) -> str:
    """An EXIF ASCII tag as text. The standard says ASCII, but phones, exiftool and Lightroom write
    UTF-8 there, and Pillow hands the bytes over decoded as Latin-1 ("Belém" came out "BelÃ©m"):
    bytes that are valid UTF-8 are read as UTF-8, others stay Latin-1 (older Windows software)."""
    if isinstance(value, str):
        try:
            value = value.encode("latin-1")
        except UnicodeEncodeError:  # already real text
            pass
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            value = value.decode("latin-1")
    return value.strip("\x00 \t\r\n") if isinstance(value, str) else ""


def _xp(value: object) -> str:
    """Windows' XP* tags: UTF-16LE bytes (or a tuple of byte values), NUL-terminated."""
    if isinstance(value, tuple):  # BYTE values; a file may declare them SHORT (values over 255)
        value = bytes(v for v in value if isinstance(v, int) and 0 <= v <= 255)
    if not isinstance(value, bytes):
        return ""
    return value.decode("utf-16-le", "replace").strip("\x00 \t\r\n")


def _date(value: object) -> str:
    """"YYYY-MM-DD HH:MM:SS" from EXIF's "YYYY:MM:DD HH:MM:SS"; "" for a date no calendar has
    (0000:00:00 00:00:00 from a camera never set, 2020:13:45 99:99:99 from a broken one)."""
    match = _EXIF_DATE.fullmatch(_text(value))
    if match is None:
        return ""
    try:
        datetime(*map(int, match.groups()))
    except ValueError:
        return ""
    y, mo, d, h, mi, s = match.groups()
    return f"{y}-{mo}-{d} {h}:{mi}:{s}"


def _gps(gps: dict) -> tuple[float, float, int]:
    """(latitude, longitude, accuracy) from the GPS IFD; (0, 0, 0) without a usable position."""
    if _text(gps.get(9)).upper() == "V":  # the receiver says it had no fix: whatever follows is not a place
        return 0.0, 0.0, 0
    try:
        lat = _degrees(gps[2]) * (-1 if _text(gps.get(1)).upper() == "S" else 1)
        lon = _degrees(gps[4]) * (-1 if _text(gps.get(3)).upper() == "W" else 1)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 0.0, 0.0, 0
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return 0.0, 0.0, 0
    if round(lat, 6) == 0 and round(lon, 6) == 0:  # a block of zeros: no fix, not Null Island
        return 0.0, 0.0, 0
    return round(lat, 6), round(lon, 6), _accuracy(gps.get(31))


def _degrees(value: object) -> float:
    d, m, s = (float(part) for part in value)  # type: ignore[union-attr]
    return d + m / 60 + s / 3600


def _accuracy(error: object) -> int:
    """Flickr's accuracy level for a GPS error in metres: 16 (street, ~100 m), one level less per doubling.

    The same scale as photos.geo.photosForLocation (plan.py); no error given = 16.
    """
    try:
        metres = float(error)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return 16
    if not math.isfinite(metres) or metres <= 100:
        return 16
    return max(1, 16 - math.ceil(math.log2(metres / 100)))
