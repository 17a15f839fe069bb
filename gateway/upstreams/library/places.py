"""Where photos are: bbox and radius conditions over the R*Tree (photos_geo).

Both are sets (query.py) read from the R*Tree alone, so that counting the
photos of a city or a busy landmark reads no photo row. Each box of a search
is one arm of a UNION: the R*Tree answers an AND of ranges, not an OR.

A radius is answered from the R*Tree alone, without reading a photo row, so
that a busy place (30,000 photos within 5 km of the Eiffel Tower in a
synthetic million) counts in milliseconds. Distances are measured on the
plane tangent at the point (equirectangular): plain arithmetic, no function
call per photo, and within 1.5% of the great-circle distance inside Flickr's
32 km below 70° of latitude. So a photo whose flat distance is within 2% of
the radius is decided by the exact great-circle distance (store.distance_km);
nearer the poles every photo is. The R*Tree's point (min_lat, min_lon: a
32-bit float rounded down) is within half a metre of the photo's.
"""

from __future__ import annotations

import math

from .arguments import Box
from .query import Query
from .store import EARTH_RADIUS_KM

KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180
FLAT_UP_TO = 70.0  # degrees of latitude where the flat distance is within 1.5% at 32 km
MARGIN = 0.02


def in_boxes(q: Query, boxes: tuple[Box, ...]) -> None:
    """Geotagged photos inside any of the boxes, as a set from the R*Tree.

    Its coordinates are rounded outwards, so a point whose rounded box lies
    inside the search box is inside; only the few within a metre of an edge
    are checked against the photo's exact coordinates.
    """
    arms, probes = [], []
    for west, south, east, north in boxes:
        w, s, e, n = (q.bind(v) for v in (west, south, east, north))
        exact = f"x.longitude BETWEEN {w} AND {e} AND x.latitude BETWEEN {s} AND {n}"
        arms.append(f"SELECT pk FROM photos_geo WHERE max_lon >= {w} AND min_lon <= {e} "
                    f"AND max_lat >= {s} AND min_lat <= {n} AND (min_lon >= {w} AND max_lon <= {e} "
                    f"AND min_lat >= {s} AND max_lat <= {n} "
                    f"OR EXISTS (SELECT 1 FROM photos x WHERE x.pk = photos_geo.pk AND {exact}))")
        probes.append(f"({exact.replace('x.', 'p.')})")
    # A photo already read (query.py's index walk) is tested on its own coordinates.
    q.add_set(" UNION ".join(arms), f"(p.geotagged AND ({' OR '.join(probes)}))")


def near(q: Query, lat: float, lon: float, radius_km: float) -> None:
    """Photos within radius_km of lat,lon: a set from the R*Tree, and the distance order."""
    boxes = around(lat, lon, radius_km)
    wraps = len(boxes) > 1
    flat = flat_distance2(q, "min_lat", "min_lon", lat, lon, wraps)
    exact = f"distance_km(min_lat, min_lon, {q.bind(lat)}, {q.bind(lon)}) <= {q.bind(radius_km)}"
    if abs(lat) + math.degrees(radius_km / EARTH_RADIUS_KM) < FLAT_UP_TO:
        degrees = radius_km / KM_PER_DEGREE
        low, high = q.bind((degrees * (1 - MARGIN)) ** 2), q.bind((degrees * (1 + MARGIN)) ** 2)
        inside = f"({flat} <= {low} OR ({flat} <= {high} AND {exact}))"
    else:
        inside = exact
    arms = [f"FROM photos_geo WHERE max_lon >= {q.bind(w)} AND min_lon <= {q.bind(e)} AND max_lat >= {q.bind(s)} "
            f"AND min_lat <= {q.bind(n)} AND {inside}" for w, s, e, n in boxes]
    on_photo = inside.replace("min_lat", "p.latitude").replace("min_lon", "p.longitude")
    q.add_set(" UNION ".join(f"SELECT pk {arm}" for arm in arms), f"(p.geotagged AND {on_photo})")
    q.nearest = " UNION ".join(f"SELECT pk, {flat} AS d {arm}" for arm in arms)
    q.distance = flat_distance2(q, "p.latitude", "p.longitude", lat, lon, wraps)


def flat_distance2(q: Query, lat_sql: str, lon_sql: str, lat: float, lon: float, wraps: bool) -> str:
    """SQL for the squared distance of lat_sql,lon_sql from lat,lon on the tangent plane, in degrees
    of latitude squared. `wraps`: the circle crosses the antimeridian, where the nearer way round
    is the other one."""
    la, lo = q.bind(lat), q.bind(lon)
    per_lon = q.bind(math.cos(math.radians(lat)))
    dlon = f"({lon_sql} - {lo})"
    if wraps:
        dlon = f"(CASE WHEN {dlon} > 180 THEN {dlon} - 360 WHEN {dlon} < -180 THEN {dlon} + 360 ELSE {dlon} END)"
    dx = f"({dlon} * {per_lon})"
    return f"(({lat_sql} - {la}) * ({lat_sql} - {la}) + {dx} * {dx})"


def around(lat: float, lon: float, radius_km: float) -> tuple[Box, ...]:
    """The boxes that hold the circle of radius_km around lat,lon (split at the antimeridian)."""
    angle = radius_km / EARTH_RADIUS_KM
    dlat = math.degrees(angle)
    south, north = lat - dlat, lat + dlat
    if south <= -90 or north >= 90 or angle >= math.pi / 2:
        return ((-180.0, max(south, -90.0), 180.0, min(north, 90.0)),)  # a pole is inside: every longitude
    dlon = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(lat)))))
    west, east = lon - dlon, lon + dlon
    if west < -180:
        return (west + 360, south, 180.0, north), (-180.0, south, east, north)
    if east > 180:
        return (west, south, 180.0, north), (-180.0, south, east - 360, north)
    return ((west, south, east, north),)
