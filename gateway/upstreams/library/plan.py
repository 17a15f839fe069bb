"""What a call asks the library for: its arguments checked and turned into a Plan.

Pure (no database): everything here is a malformed-argument check, so it
applies even to an empty library. Whether a user, group, album or gallery
exists is decided by search.py. The codes and messages are listed in
search.py's docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ...errors import METHOD_NOT_FOUND, FlickrError
from ...methods import METHODS
from ...safexml import clean
from . import arguments as arg
from . import filters
from .arguments import MAX_TAGS, Box

Args = Mapping[str, str]

DEFAULT_PER_PAGE, MAX_PER_PAGE = 100, 500  # Flickr's
# "Flickr will return at most the first 4,000 results for any given search query" (photos.search's
# documentation): a search page that starts past them is empty; `total` still counts every match.
SEARCH_WINDOW = 4000
SORTS = frozenset({
    "date-posted-asc", "date-posted-desc", "date-taken-asc", "date-taken-desc",
    "interestingness-desc", "interestingness-asc", "relevance",
})
PANDAS = frozenset({"ling ling", "hsing hsing", "wang wang"})
# Methods that answer only for the logged-in caller: the library has no caller.
NEEDS_LOGIN = frozenset({
    "flickr.photos.getWithGeoData", "flickr.photos.getWithoutGeoData", "flickr.photos.recentlyUpdated",
    "flickr.photos.getContactsPhotos", "flickr.favorites.getList",
})
INSUFFICIENT_PERMISSIONS = (99, "Insufficient permissions. Method requires read privileges; none granted.")


@dataclass(frozen=True)
class Plan:
    method: str
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    # ordering: a key of query.ORDERS
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
    window: int | None = None  # only the first `window` results are handed out (photos.search)
    more: filters.Filters = filters.Filters()  # photos.search's machine tags, places and the rest (filters.py)


def plan(method: str, args: Args) -> Plan:
    """Check a call's arguments; FlickrError for anything malformed."""
    args = {k: clean(v) for k, v in args.items()}  # no NULs or lone surrogates reach SQLite
    if method not in METHODS:
        raise FlickrError(METHOD_NOT_FOUND, f'Method "{method}" not found')
    if method in NEEDS_LOGIN:
        raise FlickrError(*INSUFFICIENT_PERMISSIONS)
    if any(not args.get(name, "").strip() for name in METHODS[method].required):
        raise FlickrError(*METHODS[method].missing)
    base = Plan(method, arg.whole(args.get("page"), 1),
                min(arg.whole(args.get("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE))
    return PLANNERS[method](base, args)


# ---------------------------------------------------------------- per method


def _search(p: Plan, args: Args) -> Plan:
    user = args.get("user_id", "").strip() or None
    if user == "me":
        raise FlickrError(*INSUFFICIENT_PERMISSIONS)
    p = replace(p, user=user, user_error=(2, "Unknown user"), group=args.get("group_id", "").strip() or None)
    p = _tags(p, args.get("tags", ""), args.get("tag_mode", ""))
    text, text_not = arg.text(args.get("text", ""))
    bbox = args.get("bbox", "").strip()
    p = replace(p, text=tuple(text), text_not=tuple(text_not), boxes=arg.bbox(bbox) if bbox else (),
                near=arg.near(args.get("lat", ""), args.get("lon", ""), args.get("radius", ""),
                              args.get("radius_units", "")))
    p = replace(_filters(p, args), more=filters.parse(args))
    sort = arg.choice(args.get("sort", ""), SORTS, "sort") or ("distance" if p.near else "date-posted-desc")
    if sort == "relevance":
        sort = "relevance" if p.text else "date-posted-desc"
    return replace(p, sort=sort, window=SEARCH_WINDOW)


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
    return replace(p, media=arg.media(args.get("media", "")))


def _gallery(p: Plan, args: Args) -> Plan:
    gallery_id = args["gallery_id"].strip().rsplit("-", 1)[-1]  # "29178242-7215…" is the same gallery
    return replace(p, set=("gallery", gallery_id), set_error=(1, "Invalid gallery ID"), sort="position")


def _favorites(p: Plan, args: Args) -> Plan:
    # The list is the user's, its photos are other people's: no owner filter.
    return replace(p, set=("favorites", args["user_id"].strip()), set_error=(1, "User not found"), sort="added")


def _location(p: Plan, args: Args) -> Plan:
    lat = arg.coordinate(args["lat"], 90, (2, "Not a valid latitude"))
    lon = arg.coordinate(args["lon"], 180, (3, "Not a valid longitude"))
    accuracy = arg.whole(args.get("accuracy") or "16", 0)
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


# ---------------------------------------------------------------- shared by several methods


def _tags(p: Plan, value: str, mode: str) -> Plan:
    """tags plus tag_mode any (default) or all."""
    mode = arg.choice(mode, {"any", "all"}, "tag_mode") or "any"
    wanted, unwanted = arg.tags(value)
    if len(wanted) + len(unwanted) > MAX_TAGS:
        raise FlickrError(1, f"Too many tags in {mode.upper()} query")
    if mode == "any":
        return replace(p, tags_any=tuple(wanted), tags_not=tuple(unwanted))
    return replace(p, tags_all=(*p.tags_all, *wanted), tags_not=tuple(unwanted))


def _filters(p: Plan, args: Args) -> Plan:
    """The filters photos.search shares with people.getPhotos: geo presence, license, dates, media."""
    has_geo = arg.choice(args.get("has_geo", ""), {"0", "1"}, "has_geo")
    return replace(
        p,
        has_geo=None if not has_geo else has_geo == "1",
        licenses=arg.licenses(args.get("license", "")),
        upload=(arg.unix(args.get("min_upload_date", "")), arg.unix(args.get("max_upload_date", ""))),
        taken=(arg.mysql(args.get("min_taken_date", "")), arg.mysql(args.get("max_taken_date", ""))),
        media=arg.media(args.get("media", "")),
    )
