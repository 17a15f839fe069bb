"""The place each geotagged photo was taken near, named at import (gazetteer.py, offline).

    Photo(latitude=38.6916, longitude=-9.216) → locality "Lisbon", country "Portugal", place_id 2267057

The names are stored with the photo (photos.locality, region, country,
place_id) so that no request reads the gazetteer; the `places` table holds
each place used with its region and country, by GeoNames id: the library's
own place ids, which photos.search's woe_id and place_id name and
`library list` prints.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import replace

from ... import gazetteer
from ...model import Photo

BATCH = 10_000


def locate(photo: Photo, before: Photo | None = None) -> Photo:
    """The photo with the place it was taken near (none when it is not geotagged or far from every
    town). `before`: the photo as stored, whose place still holds when the point has not moved."""
    if not photo.geotagged:
        return replace(photo, locality="", region="", country="", place_id=0)
    if (before is not None and before.place_id and before.latitude == photo.latitude
            and before.longitude == photo.longitude):
        return replace(photo, locality=before.locality, region=before.region, country=before.country,
                       place_id=before.place_id)
    place = gazetteer.nearest(photo.latitude, photo.longitude)
    if place is None:
        return replace(photo, locality="", region="", country="", place_id=0)
    return replace(photo, locality=place.name, region=place.region, country=place.country, place_id=place.id)


def record(conn: sqlite3.Connection, place_ids: Iterable[int]) -> None:
    """Rows of `places` for these localities, their regions and countries (known ones are kept)."""
    rows = {}
    for place_id in set(place_ids) - {0}:
        place = gazetteer.get(place_id)
        if place is None:
            continue
        rows[place.id] = (place.id, "locality", place.name, place.region_id, place.country_id,
                          place.latitude, place.longitude)
        if place.region_id:
            rows[place.region_id] = (place.region_id, "region", place.region, 0, place.country_id, 0.0, 0.0)
        if place.country_id:
            rows[place.country_id] = (place.country_id, "country", place.country, 0, 0, 0.0, 0.0)
    conn.executemany("INSERT OR IGNORE INTO places (id, kind, name, region, country, latitude, longitude) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", sorted(rows.values()))


def backfill(conn: sqlite3.Connection) -> int:
    """Name the places of geotagged photos that have none yet (a library written before places
    were named); returns how many photos got one. Each spot of about a kilometre is looked up
    once (NEAR_KM is 15 km)."""
    named, last = 0, 0
    while True:
        rows = conn.execute("SELECT pk, latitude, longitude FROM photos WHERE pk > ? AND geotagged "
                            "AND place_id = 0 ORDER BY pk LIMIT ?", (last, BATCH)).fetchall()
        if not rows:
            return named
        updates, cache = [], {}
        for pk, lat, lon in rows:
            # Photos of one place share coordinates to two decimals (about a kilometre): look each
            # spot up once. A town is chosen within 15 km, so a kilometre rarely changes it.
            key = (round(lat, 2), round(lon, 2))
            if key not in cache:
                cache[key] = gazetteer.nearest(lat, lon)
            place = cache[key]
            if place is not None:
                updates.append((place.name, place.region, place.country, place.id, pk))
        conn.executemany("UPDATE photos SET locality = ?, region = ?, country = ?, place_id = ? WHERE pk = ?",
                         updates)
        record(conn, {u[3] for u in updates})
        named += len(updates)
        last = rows[-1][0]
