"""Render time of every format in FORMATS, in µs per photo (not a test).

    /work/venv/bin/python bench/render.py [--repeat N]

Renders recorded 100-photo pages (tests/fixtures/flickr) with a fixed
FeedContext, no Flask and no network, so the figure is the renderer alone.
Each figure is the fastest of B batches of N renders, in CPU time of this
process (time.process_time: on a shared VM, wall time and the slower batches
measure the neighbours, which is also why timeit reports the minimum),
divided by the photos on the page (all of them, geotagged or not: KML and GeoJSON skip the others
but the gateway still has to look at them). The geotagged photos carry place names, as the
library's own do. Budget: 50 µs per photo.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.formats import FORMATS  # noqa: E402
from gateway.formats.feed import FeedContext  # noqa: E402
from gateway.model import Page, parse_rest  # noqa: E402
from gateway.safexml import parse  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "flickr"  # anonymised copies: same shape, same sizes
PAGES = ("photos.search-4a7d855f5c.xml", "galleries.getPhotos-bdc01c736e.xml")
BUDGET = 50.0  # µs per photo
BASE = "https://gateway.example/services/rest/"


def load(name: str) -> Page:
    """A recorded page, its geotagged photos named as the library names its own (the worst case:
    every format writes the place name in its slot)."""
    from dataclasses import replace

    from gateway import gazetteer

    page = parse_rest(parse((FIXTURES / name).read_bytes())).paginated(100)
    photos = []
    for photo in page.photos:
        place = gazetteer.nearest(photo.latitude, photo.longitude) if photo.geotagged else None
        photos.append(replace(photo, locality=place.name, region=place.region, country=place.country,
                              place_id=place.id) if place else photo)
    return replace(page, photos=tuple(photos))


def context() -> FeedContext:
    query = "method=flickr.photos.search&tags=botany&per_page=100&page=1"
    return FeedContext(
        method="flickr.photos.search", args={"tags": "botany", "per_page": "100", "page": "1"},
        title="Photos tagged botany", link="https://www.flickr.com/photos/tags/botany/",
        self_url=f"{BASE}?{query}&format=feed-atom_10", feed_id=f"tag:gateway.example,2026:/services/rest/?{query}",
        page_urls={"first": f"{BASE}?{query}", "next": f"{BASE}?{query}&page=2"},
        kml_url=f"{BASE}?{query}&format=feed-kml", view_bbox=True,
    )


def per_photo(render: Callable[[], object], photos: int, repeat: int, batches: int = 7) -> float:
    render()  # warm up (regexes, imports) as a running worker would have
    times = []
    for _ in range(batches):
        start = time.process_time()
        for _ in range(repeat):
            render()
        times.append((time.process_time() - start) / repeat)
    return min(times) / photos * 1e6


def simplekml_render(page: Page, ctx: FeedContext, pretty: bool) -> Callable[[], str]:
    """The same placemarks built with simplekml, for comparison (it cannot add flickr:pagination)."""
    import simplekml

    from gateway.formats import geo
    from gateway.formats.feed import thumbnail
    from gateway.formats.taken import taken_local
    from gateway.model import photo_page_url

    def render() -> str:
        kml = simplekml.Kml(name=ctx.title)
        for photo in page.photos:
            if not photo.geotagged:
                continue
            pnt = kml.newpoint(name=photo.title, coords=[(geo.coordinate(photo.longitude),
                                                          geo.coordinate(photo.latitude))])
            pnt.description = f'<a href="{photo_page_url(photo)}">{photo.title}</a>'
            pnt.timestamp.when = taken_local(photo) or None
            thumb = thumbnail(photo)
            if thumb is not None:
                pnt.style.iconstyle.icon.href = thumb.url
            pnt.extendeddata.newdata("id", photo.id)
            pnt.extendeddata.newdata("owner", photo.owner)
            pnt.extendeddata.newdata("tags", " ".join(photo.tags))
        return kml.kml(format=pretty)

    return render


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="renders per batch (default 20)")
    parser.add_argument("--batches", type=int, default=7, help="batches, the fastest counts (default 7)")
    opts = parser.parse_args()
    ctx = context()
    pages = {name: load(name) for name in PAGES}
    heads = [f"{n.split('-')[0]} ({len(p.photos)}, {sum(x.geotagged for x in p.photos)} geo)"
             for n, p in pages.items()]
    print(f"{'format':<22}" + "".join(f"{h:>34}" for h in heads) + "   budget")
    over = []
    rows: list[tuple[str, Callable[[Page], Callable[[], object]]]] = [
        (name, lambda page, fmt=fmt: (lambda: fmt.render(page, ctx))) for name, fmt in FORMATS.items()
    ]
    rows += [
        ("simplekml (compact)", lambda page: simplekml_render(page, ctx, pretty=False)),
        ("simplekml (pretty)", lambda page: simplekml_render(page, ctx, pretty=True)),
    ]
    for name, make in rows:
        figures = [per_photo(make(page), len(page.photos), opts.repeat, opts.batches) for page in pages.values()]
        ok = max(figures) < BUDGET
        if not ok and name in FORMATS:
            over.append(name)
        print(f"{name:<22}" + "".join(f"{f:>31.1f} µs" for f in figures) + ("   ok" if ok else "   OVER"))
    names = f": {', '.join(over)}" if over else ""
    print(f"\n{len(over)} of {len(FORMATS)} formats over {BUDGET:.0f} µs/photo{names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
