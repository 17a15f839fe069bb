"""The preview's small map, drawn as SVG on the server: no tile server, no
external script, so it works offline and without JavaScript.

The projection is equirectangular in the SVG's own units: x = longitude,
y = -latitude (SVG's y grows downwards). The viewBox zooms to the photos
and the asked-for place; the land outline (static/land-110m.svg, from
Natural Earth's 1:110m land via world-atlas) and the graticule are drawn
under the markers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..model import Photo, photo_page_url

KM_PER_DEGREE = 111.32
DEFAULT_RADIUS_KM = 5.0  # Flickr's, when lat/lon come without a radius
MIN_SPAN = 4.0  # degrees of latitude shown at least, so one photo is not a dot on a blank page
STEPS = (30, 10, 5, 2, 1, 0.5, 0.2, 0.1)  # graticule spacings, coarsest first


@dataclass(frozen=True)
class Marker:
    x: float  # longitude
    y: float  # -latitude
    title: str
    href: str


@dataclass(frozen=True)
class WorldMap:
    view: tuple[float, float, float, float]  # min-x, min-y, width, height of the viewBox
    markers: tuple[Marker, ...]
    boxes: tuple[tuple[float, float, float, float], ...]  # x, y, width, height of the asked-for bbox
    circle: tuple[float, float, float, float] | None  # cx, cy, rx, ry of the asked-for point and radius
    graticule: str  # SVG path data
    marker_radius: float

    @property
    def view_box(self) -> str:
        return " ".join(num(v) for v in self.view)


def num(value: float) -> str:
    """A coordinate as SVG text: at most 4 decimals, no trailing zeros."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def world_map(photos: Iterable[Photo], args: Mapping[str, str]) -> WorldMap | None:
    """The map of the geotagged photos and of the call's bbox or point; None when there is nothing to place."""
    markers = tuple(Marker(p.longitude, -p.latitude, p.title or "Untitled photo", photo_page_url(p))
                    for p in photos if p.geotagged)
    boxes = _boxes(args.get("bbox", ""))
    circle = _circle(args.get("lat", ""), args.get("lon", ""), args.get("radius", ""))
    xs = [m.x for m in markers] + [v for x, _, w, _ in boxes for v in (x, x + w)]
    ys = [m.y for m in markers] + [v for _, y, _, h in boxes for v in (y, y + h)]
    if circle:
        cx, cy, rx, ry = circle
        xs += [cx - rx, cx + rx]
        ys += [cy - ry, cy + ry]
    if not xs:
        return None
    view = _view(min(xs), max(xs), min(ys), max(ys))
    return WorldMap(view, markers, boxes, circle, _graticule(view), max(view[2], view[3]) / 70)


def _view(west: float, east: float, top: float, bottom: float) -> tuple[float, float, float, float]:
    """A 2:1 viewBox around the extent, with a margin, kept inside the world."""
    height = max(bottom - top, (east - west) / 2, MIN_SPAN / 1.3) * 1.3
    height = min(height, 180.0)
    width = min(height * 2, 360.0)
    x = min(max((west + east) / 2 - width / 2, -180.0), 180.0 - width)
    y = min(max((top + bottom) / 2 - height / 2, -90.0), 90.0 - height)
    return x, y, width, height


def _graticule(view: tuple[float, float, float, float]) -> str:
    x, y, width, height = view
    step = next((s for s in STEPS if height / s >= 3), STEPS[-1])
    lines = []
    for lon in _multiples(x, x + width, step):
        lines.append(f"M{num(lon)} {num(y)}V{num(y + height)}")
    for lat in _multiples(y, y + height, step):
        lines.append(f"M{num(x)} {num(lat)}H{num(x + width)}")
    return "".join(lines)


def _multiples(low: float, high: float, step: float) -> list[float]:
    first = math.ceil(low / step)
    return [i * step for i in range(first, math.floor(high / step) + 1)]


def _numbers(text: str, count: int) -> list[float] | None:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        return None
    return values if len(values) == count and all(math.isfinite(v) for v in values) else None


def _boxes(bbox: str) -> tuple[tuple[float, float, float, float], ...]:
    """The bbox as rectangles; two when it crosses the antimeridian (west > east), none when invalid."""
    values = _numbers(bbox, 4) if bbox.strip() else None
    if values is None:
        return ()
    west, south, east, north = values
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        return ()
    spans = [(west, east)] if west <= east else [(west, 180.0), (-180.0, east)]
    return tuple((w, -north, e - w, north - south) for w, e in spans)


def _circle(lat: str, lon: str, radius: str) -> tuple[float, float, float, float] | None:
    point = _numbers(f"{lat},{lon}", 2) if lat.strip() and lon.strip() else None
    if point is None or not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
        return None
    km = (_numbers(radius, 1) or [DEFAULT_RADIUS_KM])[0] if radius.strip() else DEFAULT_RADIUS_KM
    km = min(max(km, 0.0), 32.0)
    ry = km / KM_PER_DEGREE
    rx = ry / max(math.cos(math.radians(point[0])), 0.01)
    return point[1], -point[0], rx, ry
