"""Benchmark of the embedded library at scale (issue 8's targets).

    python bench/library.py                  # 1,000,000 photos in a temporary file
    python bench/library.py --photos 200000 --keep /tmp/lib.sqlite

Synthesises the photos through `library synth`'s own code path
(Library.synthesize → synth.py → bulk.py), prints the import rate and the
file size, then times photos.search through Library.photos() as the gateway
calls it (per_page 15, page 1) for each kind of query: a city-sized bbox, a
tag, a 5 km radius around a point, a three-month date range sorted by
date-taken-desc, a text word, machine tags in each of Flickr's forms
(upcoming:event=N, three events, a namespace, *:predicate=, *:*=value,
namespace:*=value) and the library's place ids (a town, a country). Each kind runs RUNS times on different
values drawn from the data (busy places, tags and words of the commonest
200), after one warm-up pass; the commonest tag and word are timed apart as
the worst case. Wall time, medians and 95th percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.upstreams.library import Library  # noqa: E402
from gateway.upstreams.library.landmarks import LANDMARKS  # noqa: E402

RUNS = 60
TARGETS = {"city bbox": 20, "tag": 20, "radius 5 km": 20, "date range, date-taken-desc": 20, "text": 50,
           "machine tag ns:pred=value": 20, "machine tags, any of 3": 20, "machine tag ns:": 20,
           "machine tag *:pred=": 20, "machine tag *:*=value": 20, "machine tag ns:*=value": 20,
           "woe_id, a town": 20, "woe_id, a country": 20}


def queries(library: Library, rnd: random.Random) -> dict[str, list[dict[str, str]]]:
    conn = library.store.connection()
    tags = [row[0] for row in conn.execute("SELECT tag FROM tags GROUP BY tag ORDER BY count(*) DESC LIMIT 200")]
    places = [(lm.lat, lm.lon) for lm in LANDMARKS]

    def city() -> dict[str, str]:
        lat, lon = rnd.choice(places)  # about 40 km x 45 km
        return {"bbox": f"{lon - 0.25:.4f},{lat - 0.2:.4f},{lon + 0.25:.4f},{lat + 0.2:.4f}"}

    def radius() -> dict[str, str]:
        lat, lon = rnd.choice(places)
        return {"lat": f"{lat:.4f}", "lon": f"{lon:.4f}", "radius": "5"}

    def dates() -> dict[str, str]:
        year, month = rnd.randint(2005, 2025), rnd.choice((1, 4, 7, 10))
        return {"min_taken_date": f"{year}-{month:02d}-01", "max_taken_date": f"{year}-{month + 2:02d}-28",
                "sort": "date-taken-desc"}

    events = [row[0].split("=", 1)[1] for row in conn.execute(
        "SELECT key FROM machine_tags WHERE key GLOB 'upcoming:event=?*' GROUP BY key "
        "ORDER BY count(*) DESC LIMIT 500")]
    makes = [row[0].split("=", 1)[1] for row in conn.execute(
        "SELECT DISTINCT key FROM machine_tags WHERE key GLOB 'exif:make=?*'")]
    towns = [row[0] for row in conn.execute("SELECT place_id FROM photos WHERE place_id != 0 GROUP BY place_id "
                                            "ORDER BY count(*) DESC LIMIT 200")]
    countries = [row[0] for row in conn.execute("SELECT DISTINCT country FROM places WHERE kind = 'locality'")]
    machine = {
        "machine tag ns:pred=value": [{"machine_tags": f"upcoming:event={rnd.choice(events)}"} for _ in range(RUNS)],
        "machine tags, any of 3": [{"machine_tags": ",".join(f"upcoming:event={e}" for e in rnd.sample(events, 3))}
                                   for _ in range(RUNS)],
        "machine tag ns:": [{"machine_tags": rnd.choice(("taxonomy:", "upcoming:", "exif:"))} for _ in range(RUNS)],
        "machine tag *:pred=": [{"machine_tags": rnd.choice(("*:binomial=", "*:event=", "*:make="))}
                                for _ in range(RUNS)],
        "machine tag *:*=value": [{"machine_tags": f"*:*={rnd.choice(makes)}"} for _ in range(RUNS)],
        "machine tag ns:*=value": [{"machine_tags": f"exif:*={rnd.choice(makes)}"} for _ in range(RUNS)],
        "woe_id, a town": [{"woe_id": str(rnd.choice(towns))} for _ in range(RUNS)],
        "woe_id, a country": [{"woe_id": str(rnd.choice(countries))} for _ in range(RUNS)],
    }
    return {
        **machine,
        "city bbox": [city() for _ in range(RUNS)],
        "tag": [{"tags": rnd.choice(tags)} for _ in range(RUNS)],
        "radius 5 km": [radius() for _ in range(RUNS)],
        "date range, date-taken-desc": [dates() for _ in range(RUNS)],
        "text": [{"text": rnd.choice(tags)} for _ in range(RUNS)],
        "tag, the commonest": [{"tags": tags[0]}] * 20,
        "text, the commonest": [{"text": tags[0]}] * 20,
    }


def timed(library: Library, calls: list[dict[str, str]]) -> tuple[list[float], list[int]]:
    times, totals = [], []
    for args in calls:
        started = time.perf_counter()
        page = library.photos("flickr.photos.search", {**args, "per_page": "15"})
        times.append((time.perf_counter() - started) * 1000)
        totals.append(page.total)
    return times, totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=1_000_000)
    parser.add_argument("--keep", help="library file to write (kept); default: a temporary file")
    parser.add_argument("--reuse", action="store_true", help="time the searches of the --keep file as it is")
    options = parser.parse_args()
    folder = tempfile.TemporaryDirectory(prefix="bench-library-")
    path = options.keep or os.path.join(folder.name, "library.sqlite")
    library = Library(path)
    # Other work on the machine skews every figure: say how busy it was.
    print(f"{os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.2f}")
    if not options.reuse:
        started = time.perf_counter()
        added = library.synthesize(options.photos)
        seconds = time.perf_counter() - started
        print(f"library synth: {added:,} photos in {seconds:.1f} s = {added / seconds:,.0f} photos/s "
              "(target >= 20,000)")
    conn = library.store.connection()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s))
    print(f"library file: {size / 1e6:,.0f} MB (target <= 1,000 MB)")
    print(f"photos.search, per_page 15, {RUNS} calls each (ms):")
    print(f"  {'query':30} {'median':>8} {'p95':>8} {'target':>7}  matches (median)")
    for name, calls in queries(library, random.Random(7)).items():
        timed(library, calls[:5])  # warm the page cache for this kind of query
        times, totals = timed(library, calls)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        target = TARGETS.get(name)
        mark = "" if target is None else f"{target:>7}" + ("" if statistics.median(times) <= target else " MISSED")
        print(f"  {name:30} {statistics.median(times):8.2f} {p95:8.2f} {mark or '      -'}  "
              f"{statistics.median(totals):,.0f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    library.close()
    folder.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
