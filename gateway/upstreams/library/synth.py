"""`library synth N`: N synthetic photos, shaped like a photo site's, for the benchmark.

Deterministic for a seed. The shape is what the queries meet on Flickr: tags
and title words with a long tail (a Zipf-Mandelbrot law: the commonest tag
is on about 1% of photos, as "nature" or "travel" are), owners from prolific
to occasional, two thirds of the photos geotagged around a few hundred
places (big ones busier), upload dates over twenty years and dates taken a
little before them, views heavy-tailed, some videos, a tenth of the photos
in one of 200 groups. The photos are local (drawn by the image route).

Rows are made from pools of pre-drawn values so that making one costs a few
microseconds: the load (bulk.py), not Python, sets the pace.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import random
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache, lru_cache

from ... import gazetteer
from ...model import LOCAL
from . import bulk, placenames, store
from .landmarks import LANDMARKS

BATCH = 20_000
POOL = 50_000  # pre-drawn tag lists, titles, descriptions and places
GROUPS = 200
PARALLEL_FROM = 100_000
SYNTH_ID = 2 * 10**18  # above every content id (60 bits); synthetic ids count up from here
START, SPAN = 1104537600, 662256000  # uploads from 2005-01-01 over 21 years
EARLIEST = START - 90 * 86400  # the earliest date taken
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
COMMON_TAGS = (
    "nature", "travel", "sunset", "beach", "city", "street", "portrait", "landscape", "sky", "water", "night",
    "architecture", "flowers", "snow", "mountains", "bridge", "people", "dog", "cat", "birds", "family",
    "wedding", "food", "art", "graffiti", "train", "car", "sea", "lake", "river", "forest", "park", "winter",
    "summer", "autumn", "spring", "clouds", "blackandwhite", "macro", "museum", "church", "castle", "market",
)
# Machine tags of a photo site (Flickr's own examples): an event, the camera, a species.
MAKES = ("canon", "nikon", "sony", "fujifilm", "olympus", "panasonic", "apple", "samsung", "leica", "pentax")
SPECIES = ("passerdomesticus", "turdusmerula", "anasplatyrhynchos", "felissilvestris", "canislupus",
           "quercusrobur", "bellisperennis", "apismellifera", "columbalivia", "ardeacinerea")
LICENSES = ("0",) * 6 + ("1", "2", "3", "4", "4", "5", "6", "7", "9", "10")
NOWHERE = ("", "", "", 0)
SIZES = ((4000, 3000), (3000, 4000), (6000, 4000), (4000, 6000), (2048, 1365), (1600, 1600), (5472, 3648))


def next_id(conn: sqlite3.Connection) -> int:
    """The first synthetic id not used yet."""
    row = conn.execute("SELECT max(CAST(id AS INTEGER)) FROM photos WHERE length(id) = 19 AND id >= ?",
                       (str(SYNTH_ID),)).fetchone()
    return max(SYNTH_ID, (row[0] or 0) + 1)


def _words(rnd: random.Random, n: int) -> list[str]:
    made = dict.fromkeys("".join(rnd.choices(SYLLABLES, k=rnd.randint(2, 4))) for _ in range(n * 2))
    return [*COMMON_TAGS, *(w for w in made if w not in COMMON_TAGS)][:n]


def _zipf(values: list, offset: int = 50) -> list[float]:
    """Cumulative weights of a Zipf-Mandelbrot law over `values` (commonest first), for rnd.choices."""
    return list(itertools.accumulate(1 / (rank + offset) for rank in range(len(values))))


def synthesize(conn: sqlite3.Connection, n: int, seed: int = 1) -> int:
    """Add n synthetic photos through the bulk path; returns how many went in.

    Making rows in Python costs about as much as SQLite's whole load, so from
    PARALLEL_FROM photos on, worker processes make the batches while this one
    loads them. Each batch has its own seed: the photos are the same either way.
    """
    first_pk, first_id = bulk.first_pk(conn), next_id(conn)
    # The place names of the few hundred places, looked up here once: the workers never read the gazetteer.
    names = {spot: _named(*spot) for spot in set(_pools(seed, n).places)}
    jobs = [(seed, n, index, first_pk, first_id, names) for index in range(0, n, BATCH)]
    joined: list[tuple] = []  # group memberships, loaded after the photos

    def batches(results: Iterator[tuple[list[tuple], list[tuple]]]) -> Iterator[list[tuple]]:
        for rows, members in results:
            joined.extend(members)
            yield rows
        joined.sort()  # in key order: appended to the memberships B-tree, not scattered over it

    workers = os.cpu_count() or 1
    if n < PARALLEL_FROM or workers < 2:
        count = bulk.load(conn, batches(map(_batch, jobs)), [joined])
    else:
        # spawn, not fork: the server's threads and open connections stay out of the workers.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            count = bulk.load(conn, batches(pool.map(_batch, jobs)), [joined])
    with store.transaction(conn):
        placenames.record(conn, {place[-1] for place in names.values()})
        for number, group in enumerate(_pools(seed, n).groups, 1):
            store.write_set(conn, "group", group, title=f"Synthetic group {number}")
    return count


@lru_cache(maxsize=1)  # once per process: every batch of a run draws from the same pools
def _pools(seed: int, n: int) -> _Pools:
    rnd = random.Random(seed)
    words = _words(rnd, 30_000)
    weights = _zipf(words)

    def some(low: int, high: int) -> list[str]:
        return rnd.choices(words, cum_weights=weights, k=rnd.randint(low, high))

    places = [(lm.lat, lm.lon) for lm in LANDMARKS] + [(rnd.uniform(-55, 70), rnd.uniform(-180, 180))
                                                        for _ in range(400)]
    return _Pools(
        tags=[_tag_lists(some(0, 10), _machine_tags(rnd)) for _ in range(POOL)],
        titles=[" ".join(some(1, 4)).capitalize() for _ in range(POOL)],
        texts=[" ".join(some(6, 14)) for _ in range(POOL)],
        owners=[(f"{rnd.randrange(10**8):08d}@S00", "".join(rnd.choices(SYLLABLES, k=3)).capitalize())
                for _ in range(max(10, n // 50))],
        places=rnd.choices(places, cum_weights=_zipf(places, offset=5), k=POOL),
        groups=[f"{rnd.randrange(10**8):08d}@S01" for _ in range(GROUPS)],
        secrets=[f"{rnd.getrandbits(40):010x}" for _ in range(POOL)],
    )


def _machine_tags(rnd: random.Random) -> list[str]:
    """A third of the photos carry machine tags: the camera's make, an event (a long tail of
    20,000), a species; as Flickr sends them among the tags."""
    found = []
    if rnd.random() < 0.25:
        found.append(f"exif:make={rnd.choice(MAKES)}")
    if rnd.random() < 0.08:
        found.append(f"upcoming:event={int(rnd.paretovariate(0.6) * 1000) % 20_000 + 1000}")
    if rnd.random() < 0.03:
        found.append(f"taxonomy:binomial={rnd.choice(SPECIES)}")
    return found


def _tag_lists(tags: list[str], machine: list[str]) -> tuple[str, str]:
    """(tags, machine_tags) as stored: the machine tags are among the tags too, as Flickr sends them."""
    return " ".join(dict.fromkeys(tags + machine)), " ".join(machine)


@cache
def _named(lat: float, lon: float) -> tuple[str, str, str, int]:
    """The place a synthetic place is near (its photos spread a few km around it share it)."""
    place = gazetteer.nearest(lat, lon)
    return (place.name, place.region, place.country, place.id) if place else ("", "", "", 0)


@dataclass(frozen=True)
class _Pools:
    tags: list[tuple[str, str]]
    titles: list[str]
    texts: list[str]
    owners: list[tuple[str, str]]
    places: list[tuple[float, float]]
    groups: list[str]
    secrets: list[str]


def _batch(job: tuple[int, int, int, int, int, dict]) -> tuple[list[tuple], list[tuple]]:
    """One batch: rows in bulk.load's shape (pk, *store.COLUMNS), and group memberships."""
    seed, n, start, first_pk, first_id, names = job
    pools = _pools(seed, n)
    rnd = random.Random(seed * 1_000_003 + start)
    r = rnd.random
    days, times = _days(), _times()
    owners, places, groups, secrets = pools.owners, pools.places, pools.groups, pools.secrets
    titles, texts, tags = pools.titles, pools.texts, pools.tags
    batch, joined = [], []
    for i in range(start, min(n, start + BATCH)):
        pk, up = first_pk + i, START + int(r() * SPAN)
        taken = up - int(r() * r() * 90 * 86400) - EARLIEST  # a few days before the upload, sometimes months
        owner, name = owners[int(r() ** 3 * len(owners))]  # a few prolific owners, many occasional ones
        if r() < 0.65:
            spot = places[int(r() * POOL)]
            lat, lon = spot
            named = names[spot]
            spread = 0.02 + r() * 0.1  # 1 to 6 km around the place (a sum of uniforms: cheaper than gauss)
            lat += (r() + r() - 1) * spread  # no clamp: every place lies between 55° S and 70° N
            lon = (lon + (r() + r() - 1) * spread + 180) % 360 - 180
            accuracy = 16
        else:
            lat = lon = 0.0
            accuracy = 0
            named = NOWHERE
        width, height = SIZES[int(r() * len(SIZES))]
        tag_list, machine = tags[int(r() * POOL)]
        batch.append((
            pk, str(first_id + i), owner, secrets[pk % POOL], LOCAL, 0, titles[int(r() * POOL)],
            texts[int(r() * POOL)] if r() < 0.4 else "", name, "", "", "", 0, up, up,
            days[taken // 86400] + times[taken % 86400], 0, 0, LICENSES[int(r() * len(LICENSES))], lat, lon,
            accuracy, "video" if r() < 0.03 else "photo", int(r() ** 4 * 20_000), "", "jpg", width, height, *named,
            machine, tag_list, int(accuracy > 0), "{}", "[]",
        ))
        if r() < 0.1:
            joined.append(("group", groups[int(r() ** 2 * GROUPS)], pk, up + int(r() * 30 * 86400)))
    return batch, joined


@lru_cache(maxsize=1)
def _days() -> list[str]:
    """"YYYY-MM-DD " of every day a synthetic photo can be taken: a lookup, not a strftime a photo."""
    return [time.strftime("%Y-%m-%d ", time.gmtime(EARLIEST + d * 86400))
            for d in range((START + SPAN - EARLIEST) // 86400 + 1)]


@lru_cache(maxsize=1)
def _times() -> list[str]:
    """"HH:MM:SS" of every second of a day."""
    return [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]
