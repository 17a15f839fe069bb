"""The feed builder's form: its fields, the labels a person reads, and the
one rule that turns the filled-in form into a /services/rest/ call.

Every form field is named after the API argument it fills, so the page's own
query (`/?method=…&tags=…`) and the API's are the same words, and a built feed
page is bookmarkable. builder.js follows the same rule in the browser: it
reads the controls in document order (the order of ARGS) and keeps a field
only when it is filled and applies to the chosen method (its `data-methods`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from ..formats import FORMATS
from ..formats.feed import DEFAULT_SIZE
from ..methods import METHODS
from ..safexml import clean

SEARCH = "flickr.photos.search"
POOL = "flickr.groups.pools.getPhotos"
# Methods that list one person's photos (or their favourites, or their contacts').
PERSON = frozenset({
    "flickr.people.getPublicPhotos", "flickr.people.getPhotos", "flickr.people.getPhotosOf",
    "flickr.favorites.getPublicList", "flickr.favorites.getList", "flickr.photos.getContactsPublicPhotos",
})
BBOX = frozenset(name for name, m in METHODS.items() if m.takes_bbox)
DEFAULT_METHOD = SEARCH

# What each method is, in words; a method added to METHODS without a label here
# still shows up, under its own name.
METHOD_LABELS = {
    SEARCH: "Search: by tag, text, person, group or place",
    "flickr.photos.getRecent": "Recent uploads from everyone",
    "flickr.interestingness.getList": "Interesting photos of a day (Explore)",
    "flickr.people.getPublicPhotos": "A person's public photos",
    "flickr.people.getPhotos": "A person's photos",
    "flickr.people.getPhotosOf": "Photos a person is in",
    "flickr.favorites.getPublicList": "A person's favourites",
    POOL: "A group's pool",
    "flickr.photosets.getPhotos": "An album",
    "flickr.galleries.getPhotos": "A gallery",
    "flickr.photos.geo.photosForLocation": "Photos taken at a point",
    "flickr.photos.getContactsPublicPhotos": "Photos from a person's contacts",
    "flickr.panda.getPhotos": "A Flickr panda's photos",
    "flickr.tags.getClusterPhotos": "Photos of a tag cluster",
    "flickr.favorites.getList": "Your favourites (needs a Flickr login)",
    "flickr.photos.getContactsPhotos": "Photos from your contacts (needs a Flickr login)",
    "flickr.photos.getWithGeoData": "Your geotagged photos (needs a Flickr login)",
    "flickr.photos.getWithoutGeoData": "Your photos without a place (needs a Flickr login)",
    "flickr.photos.recentlyUpdated": "Your recently updated photos (needs a Flickr login)",
}

# The formats in words, in the order a person most likely wants them; formats
# registered later (FORMATS is the source of truth) are listed after these,
# under their own names.
FORMAT_LABELS = {
    "feed-rss_200": "RSS 2.0: feed readers and photo frames",
    "feed-atom_10": "Atom: feed readers",
    "feed-rss_100": "RSS 1.0 (RDF)",
    "feed-georss": "GeoRSS: RSS 2.0 with places",
    "feed-geoatom": "GeoAtom: Atom with places",
    "feed-geordf": "GeoRDF: RSS 1.0 with places",
    "feed-kml": "KML: Google Earth",
    "feed-kml_nl": "KML network link: Google Earth, following the view",
    "feed-geojson": "GeoJSON: GIS tools",
    "rest": "Flickr's XML (rest)",
    "json": "Flickr's JSON",
}
# Types a feed reader subscribes to, for <link rel="alternate"> and feed: links.
READER_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
DEFAULT_FORMAT = "feed-rss_200"

SIZES = (
    ("", "Large, 1024 px (the default)"),
    ("z", "Medium, 640 px"),
    ("h", "Large, 1600 px"),
    ("k", "Large, 2048 px"),
    ("o", "Original"),
)
SORTS = (
    ("", "Newest uploads first"),
    ("date-taken-desc", "Newest taken first"),
    ("interestingness-desc", "Most interesting first"),
    ("relevance", "Best match for the text"),
)
TAG_MODES = (("", "any of the tags"), ("all", "all of the tags"))
PANDAS = (("ling ling", "Ling Ling"), ("hsing hsing", "Hsing Hsing"), ("wang wang", "Wang Wang"))


@dataclass(frozen=True)
class Field:
    """One form control, named after the API argument it fills."""

    name: str
    label: str
    group: str  # the fieldset: "what", "where" or "feed"
    methods: frozenset[str] | None = None  # the methods it applies to; None: every method
    hint: str = ""
    kind: str = "text"  # text, number, date, select, checkbox, place (a helper that fills lat/lon/radius)
    choices: tuple[tuple[str, str], ...] = ()
    placeholder: str = ""

    def applies(self, method: str) -> bool:
        # An unknown method keeps every field: the API refuses the method anyway.
        return self.methods is None or method not in METHODS or method in self.methods


def _only(*names: str) -> frozenset[str]:
    return frozenset(names)


# Document order = URL order: the page and builder.js both walk this list.
ARGS: tuple[Field, ...] = (
    Field("tags", "Tags", "what", _only(SEARCH, POOL),
          "Separated by commas. A tag with a minus in front (-cat) leaves those photos out.",
          placeholder="e.g. botany, flowers"),
    Field("tag_mode", "Photos with", "what", _only(SEARCH), kind="select", choices=TAG_MODES),
    Field("text", "Text", "what", _only(SEARCH), "Words in the title, description or tags."),
    Field("user_id", "Person", "what", PERSON | {SEARCH, POOL, "flickr.photosets.getPhotos"},
          "A Flickr user id, or the name in their flickr.com address.", placeholder="e.g. 32162360@N00"),
    Field("group_id", "Group id", "what", _only(SEARCH, POOL), placeholder="e.g. 31849566@N00"),
    Field("photoset_id", "Album id", "what", _only("flickr.photosets.getPhotos"),
          "The number at the end of the album's address.", placeholder="e.g. 72157624715342071"),
    Field("gallery_id", "Gallery id", "what", _only("flickr.galleries.getPhotos"),
          placeholder="e.g. 72157720932863274"),
    Field("date", "Day", "what", _only("flickr.interestingness.getList"), "Empty: the latest day.", kind="date"),
    Field("min_date", "Updated since", "what", _only("flickr.photos.recentlyUpdated"),
          "A date (YYYY-MM-DD) or a Unix time."),
    Field("panda_name", "Panda", "what", _only("flickr.panda.getPhotos"), kind="select", choices=PANDAS),
    Field("tag", "Tag", "what", _only("flickr.tags.getClusterPhotos")),
    Field("cluster_id", "Cluster id", "what", _only("flickr.tags.getClusterPhotos")),
    Field("sort", "Order", "what", _only(SEARCH), kind="select", choices=SORTS),
    Field("has_geo", "Only photos with a place", "what", _only(SEARCH), kind="checkbox"),
    Field("bbox", "Box", "where", BBOX,
          "West, south, east, north in degrees, separated by commas.", placeholder="e.g. -0.5,51.3,0.3,51.7"),
    # Not an API argument: it fills lat, lon and radius (builder.js as it is typed; place_point() without script).
    Field("place", "Place", "where", _only(SEARCH, "flickr.photos.geo.photosForLocation"),
          "A town or city: its latitude and longitude fill in below, with a radius that fits its size.",
          kind="place", placeholder="e.g. Lisbon"),
    Field("lat", "Latitude", "where", _only(SEARCH, "flickr.photos.geo.photosForLocation"),
          "Degrees north; south is negative.", placeholder="e.g. 51.5"),
    Field("lon", "Longitude", "where", _only(SEARCH, "flickr.photos.geo.photosForLocation"),
          "Degrees east; west is negative.", placeholder="e.g. -0.12"),
    Field("radius", "Radius (km)", "where", _only(SEARCH), "Around the latitude and longitude; 5 km when empty.",
          kind="number"),
    Field("per_page", "Photos per page", "feed", kind="number"),
    Field("format", "Format", "feed", kind="select"),
    Field("size", "Image size for photo frames", "feed", hint="The picture each feed entry carries.",
          kind="select", choices=SIZES),
    Field("api_key", "API key", "feed", hint="This gateway asks its users for a key."),
)
FIELDS = {f.name: f for f in ARGS}
GROUPS = (
    ("what", "Which photos"),
    ("where", "Where"),
    ("feed", "The feed"),
)


def method_choices() -> list[tuple[str, str]]:
    return [(name, METHOD_LABELS.get(name, name)) for name in METHODS]


def format_choices() -> list[tuple[str, str]]:
    """Every registered format, known ones first in FORMAT_LABELS order."""
    known = [name for name in FORMAT_LABELS if name in FORMATS]
    return [(name, FORMAT_LABELS.get(name, name)) for name in known + sorted(set(FORMATS) - set(known))]


def default_format() -> str:
    return DEFAULT_FORMAT if DEFAULT_FORMAT in FORMATS else next(iter(FORMATS))


def is_reader_format(name: str) -> bool:
    fmt = FORMATS.get(name)
    return fmt is not None and fmt.content_type in READER_TYPES


def api_args(form: Mapping[str, str], with_key: bool = False) -> dict[str, str]:
    """The /services/rest/ arguments of a filled-in form: method first, then every
    filled field that applies to the method, in ARGS order.

    Characters XML forbids (NUL, …) are dropped, as the API drops them from
    what it answers. `size` is left out at its default, `json` gets `nojsoncallback=1` (plain
    JSON rather than Flickr's JSONP wrapper), `api_key` only when asked for.
    """
    method = clean(form.get("method", "")).strip()
    args = {"method": method} if method else {}
    for field in ARGS:
        value = clean(form.get(field.name, "")).strip()
        if not value or not field.applies(method) or (field.name == "api_key" and not with_key):
            continue
        if field.kind == "place":  # it fills lat and lon: not an argument of the call
            continue
        if field.name == "size" and value == DEFAULT_SIZE:
            continue
        args[field.name] = value
    if args.get("format") == "json":
        args["nojsoncallback"] = "1"
    return args


def query(args: Mapping[str, str]) -> str:
    """A query string as builder.js writes it: commas, @ and : left readable (31849566@N00)."""
    return urlencode(args, quote_via=quote, safe=",@:")


def place_radius(population: int) -> int:
    """The radius (km) that holds a town of this many people: 2 km for 15,000, 7 for Lisbon's
    half a million, Flickr's largest (32) for the biggest cities."""
    return min(32, max(2, round(population ** 0.5 / 100)))


def place_point(values: Mapping[str, str]) -> dict[str, str]:
    """The form with a typed place turned into lat, lon and radius (gazetteer, offline), unless a
    latitude or longitude is already there: the builder's place field without script."""
    values = dict(values)
    name = values.get("place", "").strip()
    if not name or values.get("lat", "").strip() or values.get("lon", "").strip():
        return values
    found = places_named(name, 1)
    if found:
        values.update(found[0])
        values["place"] = found[0]["label"]
    return values


def places_named(text: str, limit: int = 10) -> list[dict[str, str]]:
    """Towns whose name starts with `text` (or is "Name, Country"), most populous first, as the
    form's values: label, lat, lon, radius."""
    from .. import gazetteer  # read on first use: half a second, once per process

    name, _, country = text.partition(",")
    found = gazetteer.find(name, limit if not country.strip() else 200)
    if country.strip():
        wanted = gazetteer.fold(country.strip())
        found = [p for p in found if gazetteer.fold(p.label).endswith(wanted) or
                 gazetteer.fold(p.label).split(", ")[-1].startswith(wanted)][:limit]
    return [{"label": p.label, "lat": f"{p.latitude:.4f}", "lon": f"{p.longitude:.4f}",
             "radius": str(place_radius(p.population))} for p in found]
