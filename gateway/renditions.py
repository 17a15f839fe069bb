"""The pixels behind the gateway's own image URLs (gateway/images.py).

A local photo's rendition is its file turned upright by its EXIF orientation
and cut to one size of Flickr's ladder (model.rendition_size: squares for s
and q, the longest edge for the others, never upscaled). Demo and synthetic
photos have no file: they are drawn, a coloured scene labelled with the
photo's title and place, the same for the same photo every time.

Memory: a JPEG is decoded at the smallest scale libjpeg offers that still
covers the size (draft: 1/2, 1/4 or 1/8), a PNG whole (the format has no
reduced decode) and then reduced; the cut is made in the file's own
orientation and only the small result is turned upright. Nothing over
GATEWAY_IMAGE_MAX_PIXELS is decoded or drawn (TooLarge), and after each
render the C heap is trimmed (`release_memory`): glibc otherwise keeps the
freed blocks of a large decode, and an idle worker stayed at 1.2 GB.
"""

from __future__ import annotations

import colorsys
import ctypes
import hashlib
import io
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from .model import SQUARE, Photo

# Part of every ETag and cached file name: raise it when the output changes.
VERSION = 1
JPEG_QUALITY = 85
ORIGINAL_QUALITY = 95  # a rotated original is re-encoded; keep it close to the camera's
ROTATED = {5, 6, 7, 8}  # EXIF orientations that swap width and height
# EXIF orientation → the transpose that makes it upright (as ImageOps.exif_transpose does).
UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
           5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_90}


class TooLarge(Exception):
    """The rendition would decode or draw more than the pixel cap allows."""


def exif_orientation(exif: Image.Exif) -> int:
    """EXIF Orientation (0x0112), 1-8; 1 (upright, as stored) when absent or not one of them
    (a stranger's file may hold "six", 99 or a tuple there)."""
    value = exif.get(0x0112, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def orientation(path: Path) -> int:
    """The file's EXIF orientation (1 = upright, as stored)."""
    with Image.open(path) as img:
        return exif_orientation(img.getexif())


def from_file(path: Path, suffix: str, size: tuple[int, int], fmt: str = "jpg",
              max_pixels: int | None = None) -> bytes:
    """The rendition `suffix` of an image file, `size` pixels once upright, encoded as `fmt`.

    TooLarge when the file has more than `max_pixels` pixels (nothing is decoded then).
    """
    with Image.open(path) as img:
        if max_pixels is not None and img.width * img.height > max_pixels:
            raise TooLarge(f"{path}: {img.width} × {img.height} pixels, more than {max_pixels:,}")
        turn = exif_orientation(img.getexif())
        stored = (size[1], size[0]) if turn in ROTATED else size  # the size in the file's own orientation
        if img.format == "JPEG" and suffix != "o":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers the size:
            # a 24-megapixel file then costs a fraction of a full decode.
            img.draft("RGB", stored)
        icc = img.info.get("icc_profile")
        out = _cut(img, suffix, stored)
        if turn in UPRIGHT:
            out = out.transpose(UPRIGHT[turn])
        return _encode(out, fmt, icc, ORIGINAL_QUALITY if suffix == "o" else JPEG_QUALITY)


@cache
def _malloc_trim() -> object | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: its allocator gives memory back by itself, or never
        return None


def release_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's malloc_trim; a no-op elsewhere)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)  # type: ignore[operator]


def drawn(photo: Photo, suffix: str, size: tuple[int, int]) -> bytes:
    """The rendition `suffix` of a photo without a file: its scene drawn at `size`."""
    width, height = photo.o_width, photo.o_height
    if suffix in SQUARE:  # draw the whole scene with its short side on the square, then crop
        scale = size[0] / min(width, height)
        full = _scene(photo, max(size[0], round(width * scale)), max(size[1], round(height * scale)))
        return _encode(ImageOps.fit(full, size), "jpg", None, JPEG_QUALITY)
    return _encode(_scene(photo, *size), "png" if photo.originalformat == "png" and suffix == "o" else "jpg",
                   None, JPEG_QUALITY)


def _cut(img: Image.Image, suffix: str, size: tuple[int, int]) -> Image.Image:
    if suffix in SQUARE:
        return ImageOps.fit(img, size, Image.Resampling.LANCZOS)
    if img.size == size:
        return img
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode(img: Image.Image, fmt: str, icc: bytes | None, quality: int) -> bytes:
    buffer = io.BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    if fmt == "png":
        img.save(buffer, "PNG", optimize=False, **extra)
    else:
        if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
            # JPEG has no alpha: transparent parts of a PNG show white, as a browser shows them on a page.
            rgba = img.convert("RGBA")
            img = Image.new("RGB", rgba.size, (255, 255, 255))
            img.paste(rgba, mask=rgba.getchannel("A"))
        elif img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        img.save(buffer, "JPEG", quality=quality, optimize=True, progressive=img.width * img.height > 100_000,
                 **extra)
    return buffer.getvalue()


def _scene(photo: Photo, width: int, height: int) -> Image.Image:
    """A sky over land in colours chosen by the photo's id, a sun, and the title written on it."""
    seed = hashlib.sha256(photo.id.encode()).digest()
    hue = seed[0] / 255
    sky = _rgb(hue, 0.45, 0.95)
    land = _rgb((hue + 0.35) % 1, 0.55, 0.55)
    img = Image.new("RGB", (width, height), sky)
    draw = ImageDraw.Draw(img)
    horizon = int(height * (0.55 + seed[1] / 255 * 0.2))
    for y in range(horizon):  # the sky lightens towards the horizon
        t = y / max(1, horizon)
        draw.line([(0, y), (width, y)], fill=_mix(_rgb(hue, 0.6, 0.7), sky, t))
    draw.rectangle([0, horizon, width, height], fill=land)
    unit = min(width, height)
    sun_x, sun_y, radius = int(width * (0.15 + seed[2] / 255 * 0.7)), int(horizon * 0.35), max(2, unit // 12)
    draw.ellipse([sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius], fill=_rgb(0.13, 0.6, 1.0))
    base = int(width * (0.2 + seed[3] / 255 * 0.4))  # a landmark: a tower on a plinth
    tower_w, tower_h = max(2, width // 14), int(horizon * (0.35 + seed[4] / 255 * 0.4))
    draw.polygon([(base, horizon), (base + tower_w, horizon - tower_h), (base + 2 * tower_w, horizon)],
                 fill=_rgb((hue + 0.6) % 1, 0.3, 0.3))
    if unit >= 60:
        _label(draw, photo, width, height, unit)
    return img


def _label(draw: ImageDraw.ImageDraw, photo: Photo, width: int, height: int, unit: int) -> None:
    title = photo.title or f"Photo {photo.id}"
    size = max(8, unit // 12)
    font = ImageFont.load_default(size=size)
    while size > 8 and draw.textlength(title, font=font) > width * 0.9:
        size -= max(1, size // 8)
        font = ImageFont.load_default(size=size)
    margin = max(2, unit // 30)
    y = height - margin - 2 * size - margin
    draw.rectangle([0, y - margin, width, height], fill=(0, 0, 0))
    draw.text((margin, y), title, fill=(255, 255, 255), font=font)
    if photo.geotagged:
        where = f"{photo.latitude:.4f}, {photo.longitude:.4f}"
        draw.text((margin, y + size + margin // 2), where, fill=(220, 220, 220),
                  font=ImageFont.load_default(size=max(6, size * 2 // 3)))


def _rgb(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return int(r * 255), int(g * 255), int(b * 255)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]
