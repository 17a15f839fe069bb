"""What a call asks the library for: its arguments checked and turned into a Plan.

Pure (no database): everything here is a malformed-argument check, so it
applies even to an empty library. Whether a user, group, album or gallery
exists is decided by search.py. The codes and messages are listed in
search.py's docstring.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ...errors import METHOD_NOT_FOUND, FlickrError
from ...methods import METHODS
from ...safexml import clean

Args = Mapping[str, str]

DEFAULT_PER_PAGE, MAX_PER_PAGE = 100, 500  # Flickr's
SORTS = frozenset({
    "date-posted-asc", "date-posted-desc", "date-taken-asc", "date-taken-desc",
    "interestingness-desc", "interestingness-asc", "relevance",
})
MEDIA = {"all": None, "photos": "photo", "videos": "video"}
KM_PER = {"km": 1.0, "mi": 1.609344}
MAX_RADIUS_KM = 32.0  # Flickr: "less than 20 miles (or 32 kilometers)"
MAX_RADIUS = {"km": MAX_RADIUS_KM, "mi": 20.0}
DEFAULT_RADIUS_KM = 5.0
MAX_ALL_TAGS = 20  # Flickr refuses larger tag_mode=all queries
PANDAS = frozenset({"ling ling", "hsing hsing", "wang wang"})
# Methods that answer only for the logged-in caller: the library has no caller.
NEEDS_LOGIN = frozenset({
    "flickr.photos.getWithGeoData", "flickr.photos.getWithoutGeoData", "flickr.photos.recentlyUpdated",
    "flickr.photos.getContactsPhotos", "flickr.favorites.getList",
})
INSUFFICIENT_PERMISSIONS = (99, "Insufficient permissions. Method requires read privileges; none granted.")
_TEXT_TERM = re.compile(r'(-?)(?:"([^"]*)"?|(\S+))')

Box = tuple[float, float, float, float]  # west, south, east, north; west <= east


@dataclass(frozen=True)
class Plan:
    method: str
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    # ordering: a key of search.ORDERS
    sort: str = "date-posted-desc"
    # the set whose own method this is (kind, id), with its not-found error
    set: tuple[str, str] | None = None
    set_error: tuple[int, str] = (1, "Not found")
    # an owner (NSID or path alias), with the method's unknown-user error
    user: str | None = None
    user_error: tuple[int, str] = (1, "User not found")
    group: str | None = None  # photos.search group_id: a filter, not the pool's order
    tags_any: tuple[str, ...] = ()
    tags_all: tuple[str, ...] = ()
    tags_not: tuple[str, ...] = ()
    text: tuple[str, ...] = ()  # FTS5 phrases, each already quoted
    text_not: tuple[str, ...] = ()
    boxes: tuple[Box, ...] = ()
    near: tuple[float, float, float] | None = None  # lat, lon, radius in km
    has_geo: bool | None = None
    licenses: tuple[str, ...] = ()
    upload: tuple[int | None, int | None] = (None, None)
    taken: tuple[str | None, str | None] = (None, None)
    media: str | None = None
    nothing: bool = False  # the library holds no data for this method (contacts, people in photos)


def plan(method: str, args: Args) -> Plan:
    """Check a call's arguments; FlickrError for anything malformed."""
    args = {k: clean(v) for k, v in args.items()}  # no NULs or lone surrogates reach SQLite
    if method not in METHODS:
        raise FlickrError(METHOD_NOT_FOUND, f'Method "{method}" not found')
    if method in NEEDS_LOGIN:
        raise FlickrError(*INSUFFICIENT_PERMISSIONS)
    if any(not args.get(name, "").strip() for name in METHODS[method].required):
        raise FlickrError(*METHODS[method].missing)
    base = Plan(method, _whole(args.get("page"), 1), min(_whole(args.get("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE))
    return PLANNERS[method](base, args)


# ---------------------------------------------------------------- per method


def _search(p: Plan, args: Args) -> Plan:
    user = args.get("user_id", "").strip() or None
    if user == "me":
        raise FlickrError(*INSUFFICIENT_PERMISSIONS)
    p = replace(p, user=user, user_error=(2, "Unknown user"), group=args.get("group_id", "").strip() or None)
    p = _tags(p, args.get("tags", ""), args.get("tag_mode", ""))
    p = _text(p, args.get("text", ""))
    p = _geo(p, args)
    p = _filters(p, args)
    sort = _choice(args.get("sort", ""), SORTS, "sort") or ("distance" if p.near else "date-posted-desc")
    if sort == "relevance":
        sort = "relevance" if p.text else "date-posted-desc"
    return replace(p, sort=sort)


def _recent(p: Plan, args: Args) -> Plan:
    return p


def _interesting(p: Plan, args: Args) -> Plan:
    p = replace(p, sort="interestingness-desc")
    date = args.get("date", "").strip()
    if not date:
        return p
    try:
        day = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise FlickrError(1, "Not a valid date string.") from None
    start = int(day.timestamp())
    return replace(p, upload=(start, start + 86399))


def _person(code: int, message: str, nothing: bool = False) -> Callable[[Plan, Args], Plan]:
    def planner(p: Plan, args: Args) -> Plan:
        p = replace(p, user=args["user_id"].strip(), user_error=(code, message), nothing=nothing)
        return _filters(p, args) if p.method == "flickr.people.getPhotos" else p
    return planner


def _pool(p: Plan, args: Args) -> Plan:
    p = replace(p, set=("group", args["group_id"].strip()), set_error=(1, "Group not found"), sort="added")
    p = _tags(p, args.get("tags", ""), "")
    user = args.get("user_id", "").strip()
    return replace(p, user=user, user_error=(1, "User not found")) if user else p


def _photoset(p: Plan, args: Args) -> Plan:
    p = replace(p, set=("photoset", args["photoset_id"].strip()), set_error=(1, "Photoset not found"),
                sort="position")
    return replace(p, media=_media(args.get("media", "")))


def _gallery(p: Plan, args: Args) -> Plan:
    gallery_id = args["gallery_id"].strip().rsplit("-", 1)[-1]  # "29178242-7215…" is the same gallery
    return replace(p, set=("gallery", gallery_id), set_error=(1, "Invalid gallery ID"), sort="position")


def _favorites(p: Plan, args: Args) -> Plan:
    # The list is the user's, its photos are other people's: no owner filter.
    return replace(p, set=("favorites", args["user_id"].strip()), set_error=(1, "User not found"), sort="added")


def _location(p: Plan, args: Args) -> Plan:
    lat = _coordinate(args["lat"], 90, (2, "Not a valid latitude"))
    lon = _coordinate(args["lon"], 180, (3, "Not a valid longitude"))
    accuracy = _whole(args.get("accuracy") or "16", 0)
    if not 1 <= accuracy <= 16:
        raise FlickrError(4, "Not a valid accuracy")
    # Street level (16) looks ~100 m around the point; each level less doubles it.
    return replace(p, near=(lat, lon, 0.1 * 2 ** (16 - accuracy)), sort="distance")


def _panda(p: Plan, args: Args) -> Plan:
    if args["panda_name"].strip().lower() not in PANDAS:
        raise FlickrError(1, "Panda not found")
    return p


def _cluster(p: Plan, args: Args) -> Plan:
    # cluster_id names the cluster by its top tags joined with "-", as in its URL.
    tags = [args["tag"], *args["cluster_id"].split("-")]
    return _tags(replace(p, sort="interestingness-desc"), ",".join(tags), "all")


PLANNERS: dict[str, Callable[[Plan, Args], Plan]] = {
    "flickr.photos.search": _search,
    "flickr.photos.getRecent": _recent,
    "flickr.interestingness.getList": _interesting,
    "flickr.people.getPublicPhotos": _person(1, "User not found"),
    "flickr.people.getPhotos": _person(2, "Unknown user"),
    "flickr.photos.getContactsPublicPhotos": _person(1, "User not found", nothing=True),
    "flickr.people.getPhotosOf": _person(1, "User not found.", nothing=True),
    "flickr.groups.pools.getPhotos": _pool,
    "flickr.photosets.getPhotos": _photoset,
    "flickr.galleries.getPhotos": _gallery,
    "flickr.favorites.getPublicList": _favorites,
    "flickr.photos.geo.photosForLocation": _location,
    "flickr.panda.getPhotos": _panda,
    "flickr.tags.getClusterPhotos": _cluster,
}


# ---------------------------------------------------------------- arguments


def _whole(value: str | None, default: int) -> int:
    """A positive whole number, or the default (the API layer has normalised paging already)."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return default
    return number if number >= 1 else default


def _choice(value: str, allowed: Mapping | frozenset, name: str) -> str:
    value = value.strip()
    if value and value not in allowed:
        raise FlickrError(3, f"Invalid {name}")
    return value


def _media(value: str) -> str | None:
    return MEDIA[_choice(value, MEDIA, "media") or "all"]


def _number(value: str, error: tuple[int, str]) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise FlickrError(*error) from None
    if not math.isfinite(number):
        raise FlickrError(*error)
    return number


def _coordinate(value: str, limit: float, error: tuple[int, str]) -> float:
    number = _number(value, error)
    if not -limit <= number <= limit:
        raise FlickrError(*error)
    return number


def normal_tag(tag: str) -> str:
    """A tag as Flickr stores it in `tags`: lower case, no spaces or quotes."""
    return re.sub(r'[\s"]+', "", tag).lower()


def _tags(p: Plan, value: str, mode: str) -> Plan:
    """tags= is comma-separated; "-tag" excludes; tag_mode any (default) or all."""
    mode = _choice(mode, frozenset({"any", "all"}), "tag_mode") or "any"
    wanted, unwanted = [], []
    for raw in value.split(","):
        tag = normal_tag(raw)
        if tag.startswith("-"):
            unwanted.append(tag[1:])
        else:
            wanted.append(tag)
    wanted, unwanted = [t for t in dict.fromkeys(wanted) if t], [t for t in dict.fromkeys(unwanted) if t]
    if mode == "all" and len(wanted) > MAX_ALL_TAGS:
        raise FlickrError(1, "Too many tags in ALL query")
    if mode == "all":
        return replace(p, tags_all=(*p.tags_all, *wanted), tags_not=tuple(unwanted))
    return replace(p, tags_any=tuple(wanted), tags_not=tuple(unwanted))


def fts_phrase(text: str) -> str:
    """User text as one FTS5 string: quoted, so no FTS syntax in it can take effect."""
    return '"' + text.replace('"', '""') + '"'


def _text(p: Plan, value: str) -> Plan:
    """text= words (or "quoted phrases") must all match; "-word" excludes."""
    wanted, unwanted = [], []
    for minus, phrase, word in _TEXT_TERM.findall(value):
        term = phrase or word
        if not re.search(r"[^\W_]", term):  # no letter or digit: nothing the index could match
            continue
        (unwanted if minus else wanted).append(fts_phrase(term))
    return replace(p, text=tuple(wanted), text_not=tuple(unwanted))


def _geo(p: Plan, args: Args) -> Plan:
    bbox = args.get("bbox", "").strip()
    if bbox:
        p = replace(p, boxes=parse_bbox(bbox))
    lat, lon = args.get("lat", "").strip(), args.get("lon", "").strip()
    units = _choice(args.get("radius_units", ""), KM_PER, "radius_units") or "km"
    radius = args.get("radius", "").strip()
    radius_km = DEFAULT_RADIUS_KM
    if radius:
        value = _number(radius, (3, "Invalid radius"))
        if not 0 < value <= MAX_RADIUS[units]:
            raise FlickrError(3, "Invalid radius")
        radius_km = value * KM_PER[units]
    if lat or lon:
        latitude = _coordinate(lat, 90, (3, "Invalid latitude"))
        longitude = _coordinate(lon, 180, (3, "Invalid longitude"))
        p = replace(p, near=(latitude, longitude, radius_km))
    return p


def parse_bbox(value: str) -> tuple[Box, ...]:
    """minlon,minlat,maxlon,maxlat → one box, or two when it crosses the antimeridian (west > east)."""
    parts = value.split(",")
    if len(parts) != 4:
        raise FlickrError(3, "Invalid bbox")
    west, south, east, north = (_number(v, (3, "Invalid bbox")) for v in parts)
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise FlickrError(3, "Invalid bbox")
    if west > east:
        return (west, south, 180.0, north), (-180.0, south, east, north)
    return ((west, south, east, north),)


def _filters(p: Plan, args: Args) -> Plan:
    """The filters photos.search shares with people.getPhotos: geo presence, license, dates, media."""
    has_geo = _choice(args.get("has_geo", ""), frozenset({"0", "1"}), "has_geo")
    licenses = [v.strip() for v in args.get("license", "").split(",") if v.strip()]
    if not all(v.isdigit() and len(v) < 4 for v in licenses):
        raise FlickrError(3, "Invalid license")
    return replace(
        p,
        has_geo=None if not has_geo else has_geo == "1",
        licenses=tuple(dict.fromkeys(str(int(v)) for v in licenses)),  # "04" is license 4
        upload=(_unix(args.get("min_upload_date", "")), _unix(args.get("max_upload_date", ""))),
        taken=(_mysql(args.get("min_taken_date", "")), _mysql(args.get("max_taken_date", ""))),
        media=_media(args.get("media", "")),
    )


_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def _datetime(value: str) -> datetime | None:
    """Unix time or MySQL datetime (UTC), as Flickr's date arguments accept; None when absent."""
    value = value.strip()
    if not value:
        return None
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", value):
            return datetime.fromtimestamp(float(value), UTC)
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(value, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
    except (ValueError, OverflowError, OSError):
        pass
    raise FlickrError(3, "Invalid date")


def _unix(value: str) -> int | None:
    moment = _datetime(value)
    return None if moment is None else int(moment.timestamp())


def _mysql(value: str) -> str | None:
    """Taken dates are camera-local strings 'YYYY-MM-DD HH:MM:SS': compare as such."""
    moment = _datetime(value)
    return None if moment is None else moment.replace(tzinfo=None).isoformat(" ", "seconds")
