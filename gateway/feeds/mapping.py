"""The mapping of Flickr's public feed URLs onto API calls: pure, no Flask.

One row per feed (FEEDS), one table of Flickr's `format` names (FEED_FORMATS):

    photos_public.gne                       → flickr.photos.getRecent
    photos_public.gne?id=NSID               → flickr.people.getPublicPhotos user_id=NSID
    photos_public.gne?g=GROUP               → flickr.groups.pools.getPhotos group_id=GROUP
    photos_public.gne?tags=a,b[&tagmode=…]  → flickr.photos.search tags=a,b tag_mode=all|any
                     (with id or g as well: user_id / group_id; newest uploads first, search's default)
    photos_public.gne?format=georss|…       → flickr.photos.search has_geo=1 (+ the above)
    photos_public.gne?…&bbox=W,S,E,N        → flickr.photos.search bbox=… (Google Earth's view, kml_nl)
    geo/?id=|g=|tags=                       → flickr.photos.search has_geo=1, in a geo format
    groups_pool.gne?id=GROUP                → flickr.groups.pools.getPhotos group_id=GROUP
    photos_faves.gne?nsid=NSID (or id=)     → flickr.favorites.getPublicList user_id=NSID
    photoset.gne?set=ID&nsid=NSID           → flickr.photosets.getPhotos photoset_id=ID user_id=NSID
    photos_friends.gne?user_id=NSID         → flickr.photos.getContactsPublicPhotos user_id=NSID
                     (friends=1 → just_friends=1; without display_all=1 → single_photo=1)

Feeds that list no photos (discussions, forums, comments, activity) are
refused with code 112, as the API refuses methods that return no standard
photos response. Flickr's `tagmode` defaulted to all (the API's tag_mode to
any); a missing `format` is Atom 1.0, as Flickr's feeds answered (its own
Atom feeds' self links carry no format).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple
from urllib.parse import quote, urlencode

from .. import errors
from ..errors import FlickrError
from ..formats import FORMATS, jsonfeed

Args = Mapping[str, str]

# Flickr's `format` values → the API format that renders them. RSS 0.91/0.92 readers
# read RSS 2.0 (a superset), Atom 0.3 readers Atom 1.0; rss_200_enc is RSS 2.0 with
# one enclosure per item, which every RSS 2.0 feed of the gateway has.
FEED_FORMATS = {
    "atom": "feed-atom_10", "atom_1": "feed-atom_10", "atom_10": "feed-atom_10", "atom_03": "feed-atom_10",
    "rss_200": "feed-rss_200", "rss2": "feed-rss_200", "rss_200_enc": "feed-rss_200",
    "rss": "feed-rss_200", "rss_091": "feed-rss_200", "rss_092": "feed-rss_200",
    "rss_100": "feed-rss_100", "rdf": "feed-rss_100",
    "georss": "feed-georss", "geoatom": "feed-geoatom", "geordf": "feed-geordf",
    "kml": "feed-kml", "kml_nl": "feed-kml_nl", "geojson": "feed-geojson",
    "json": "json",
    # Plugins (Slickr Flickr) also sent the API's names to the feeds: format=feed-rss_200.
    **{name: name for name in FORMATS if name.startswith("feed-")},
}
DEFAULT_FORMAT = "atom"
GEO_FORMATS = frozenset({"feed-georss", "feed-geoatom", "feed-geordf", "feed-kml", "feed-kml_nl", "feed-geojson"})
# The geo feed always carries places: its plain formats are their geo variants.
GEO_VARIANT = {"feed-rss_200": "feed-georss", "feed-atom_10": "feed-geoatom", "feed-rss_100": "feed-geordf"}

# Arguments every feed reads besides its own: the gateway's `size` (photo frames), the JSON
# wrapper, `lang` (read and ignored: the feeds are in English) and the caller's api_key.
COMMON = ("format", "lang", "size", "nojsoncallback", "jsoncallback")
PASSED = ("size", "nojsoncallback", "jsoncallback", "api_key")
REFUSED = {
    "groups_discuss": "it lists a group's discussion topics, not photos",
    "forums": "it lists forum messages, not photos",
    "photos_comments": "it lists comments, not photos",
    "activity": "it lists the activity on a member's photos, which needs their login",
}
SEVERAL_USERS = (1, "Feeds of several users at once (ids=a,b) are not available: ask one feed per user (id=NSID)")


class Translation(NamedTuple):
    method: str
    args: dict[str, str]  # the method's own arguments


def tags_of(a: Args) -> str:
    """Flickr's comma-separated tags, trimmed, empties dropped."""
    return ",".join(t.strip() for t in a.get("tags", "").split(",") if t.strip())


def _user(a: Args) -> str:
    ids = [i.strip() for i in a.get("ids", "").split(",") if i.strip()]
    if len(ids) > 1 and not a.get("id"):
        raise FlickrError(*SEVERAL_USERS)
    return a.get("id", "").strip() or (ids[0] if ids else "")


def photos_public(a: Args, geo: bool) -> Translation:
    user, group, tags, bbox = _user(a), a.get("g", "").strip(), tags_of(a), a.get("bbox", "").strip()
    if tags or geo or bbox or (user and group):
        args = {"user_id": user, "group_id": group, "tags": tags,
                "tag_mode": a.get("tagmode", "").strip().lower() or "all" if tags else "",
                "has_geo": "1" if geo else "", "bbox": bbox}
        return Translation("flickr.photos.search", {k: v for k, v in args.items() if v})
    if group:
        return Translation("flickr.groups.pools.getPhotos", {"group_id": group})
    if user:
        return Translation("flickr.people.getPublicPhotos", {"user_id": user})
    return Translation("flickr.photos.getRecent", {})


def _given(**args: str) -> dict[str, str]:
    # A missing required argument is left out, so the method's own "not found" error answers.
    return {k: v.strip() for k, v in args.items() if v.strip()}


def photos_friends(a: Args, geo: bool) -> Translation:
    args = _given(user_id=a.get("user_id") or a.get("id", ""))
    if a.get("friends") == "1":
        args["just_friends"] = "1"
    if a.get("display_all") != "1":
        args["single_photo"] = "1"  # Flickr's friends feed showed each contact's latest photo
    return Translation("flickr.photos.getContactsPublicPhotos", args)


class Feed(NamedTuple):
    reads: tuple[str, ...]  # the feed's own arguments (others are ignored, as Flickr did)
    translate: Callable[[Args, bool], Translation]  # (feed args, asked in a geo format)


# `bbox` is the gateway's: Google Earth appends the view to a network link's URL (formats/kml.py).
PUBLIC = ("id", "ids", "g", "tags", "tagmode", "bbox")
FEEDS: dict[str, Feed] = {
    "photos_public": Feed(PUBLIC, photos_public),
    "geo": Feed(PUBLIC, lambda a, geo: photos_public(a, True)),
    "groups_pool": Feed(("id", "g"), lambda a, geo: Translation(
        "flickr.groups.pools.getPhotos", _given(group_id=a.get("id") or a.get("g", "")))),
    "photos_faves": Feed(("id", "nsid"), lambda a, geo: Translation(
        "flickr.favorites.getPublicList", _given(user_id=a.get("nsid") or a.get("id", "")))),
    "photoset": Feed(("set", "nsid"), lambda a, geo: Translation(
        "flickr.photosets.getPhotos", _given(photoset_id=a.get("set", ""), user_id=a.get("nsid", "")))),
    "photos_friends": Feed(("user_id", "id", "friends", "display_all"), photos_friends),
}


def api_format(args: Args, name: str) -> str:
    """The API format that renders the feed's `format` (code 111 for an unknown one)."""
    given = args.get("format", "").strip() or DEFAULT_FORMAT
    fmt = FEED_FORMATS.get(given.lower())  # format=RSS_200 and format=Atom are meant, not unknown
    if fmt is None:
        raise FlickrError(errors.FORMAT_NOT_FOUND, f'Format "{given}" not found')
    return GEO_VARIANT.get(fmt, fmt) if name == "geo" else fmt


def translate(name: str, args: Args) -> tuple[Translation, str]:
    """The call a feed URL stands for and the API format it is rendered in; FlickrError for refused URLs."""
    fmt = api_format(args, name)
    if name in REFUSED:
        raise FlickrError(errors.METHOD_NOT_FOUND, f'Feed "{name}" is not available: {REFUSED[name]}')
    feed_def = FEEDS.get(name)
    if feed_def is None:
        raise FlickrError(errors.METHOD_NOT_FOUND, f'Feed "{name}" not found')
    return feed_def.translate(args, fmt in GEO_FORMATS), fmt


def api_args(name: str, args: Args) -> dict[str, str]:
    """The /services/rest/ arguments a feed URL stands for (method, format, the method's own)."""
    translation, fmt = translate(name, args)
    out = {"method": translation.method, **translation.args, "format": fmt}
    out.update({k: args[k] for k in PASSED if k in args})
    if default_callback(fmt, args):
        out["jsoncallback"] = jsonfeed.CALLBACK
    return out


def default_callback(fmt: str, args: Args) -> bool:
    """True when a JSON feed is wrapped in Flickr's jsonFlickrFeed(…): neither nojsoncallback=1 nor a name given."""
    return fmt == "json" and args.get("nojsoncallback") != "1" and "jsoncallback" not in args


# ---------------------------------------------------------------- the other way round (the builder page)

API_TO_FEED_FORMAT = {
    "feed-atom_10": "atom", "feed-rss_200": "rss_200", "feed-rss_100": "rss_100", "feed-georss": "georss",
    "feed-geoatom": "geoatom", "feed-geordf": "geordf", "feed-kml": "kml", "feed-kml_nl": "kml_nl",
    "feed-geojson": "geojson",
}
NOT_IN_FEEDS = ("page", "per_page", "extras", "sort")  # a feed URL is the first page, in its own order


def _candidate(method: str, a: Args) -> tuple[str, dict[str, str]] | None:
    user, group = a.get("user_id", ""), a.get("group_id", "")
    if method == "flickr.photos.getRecent":
        return "photos_public", {}
    if method == "flickr.people.getPublicPhotos":
        return "photos_public", {"id": user}
    if method == "flickr.photos.search":
        return "photos_public", {"id": user, "g": group, "tags": a.get("tags", ""), "tagmode": a.get("tag_mode", "")}
    if method == "flickr.groups.pools.getPhotos":
        return "groups_pool", {"id": group}
    if method == "flickr.favorites.getPublicList":
        return "photos_faves", {"nsid": user}
    if method == "flickr.photosets.getPhotos":
        return "photoset", {"set": a.get("photoset_id", ""), "nsid": user}
    if method == "flickr.photos.getContactsPublicPhotos":
        return "photos_friends", {"user_id": user, "friends": a.get("just_friends", ""),
                                  "display_all": "" if a.get("single_photo") == "1" else "1"}
    return None


def feed_for(args: Args) -> str | None:
    """The feed URL (path and query under /services/feeds/) that answers the same call as these
    /services/rest/ arguments, or None where no feed does.

    A candidate is kept only when translating it back gives exactly this call, so
    the builder never offers a feed URL that asks for anything else.
    """
    fmt = API_TO_FEED_FORMAT.get(args.get("format", ""))
    method = args.get("method", "")
    own = {k: v.strip() for k, v in args.items() if v.strip() and k not in ("method", "format", *PASSED)}
    if fmt is None or any(k in own for k in NOT_IN_FEEDS):
        return None
    if tags_of(own):
        # Tags as the feed writes them; the API's tag_mode defaults to any, the feeds' to all.
        own = {**own, "tags": tags_of(own), "tag_mode": own.get("tag_mode") or "any"}
    found = _candidate(method, own)
    if found is None:
        return None
    name, feed_args = found
    query = {k: v for k, v in sorted(feed_args.items()) if v}
    if fmt != DEFAULT_FORMAT:
        query["format"] = fmt
    if args.get("size", "").strip():
        query["size"] = args["size"].strip()
    try:
        back, api_fmt = translate(name, query)
    except FlickrError:
        return None
    if (back.method, back.args, api_fmt) != (method, own, args["format"]):
        return None
    return f"{name}.gne" + ("?" + urlencode(query, safe="@,", quote_via=quote) if query else "")
