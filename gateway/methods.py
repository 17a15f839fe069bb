"""METHODS: the allowlist of Flickr methods that return a standard photos
response (SPEC section 2), with their required arguments, the arguments
each takes on Flickr, whether they take a bbox, and how a feed names and
links the call.

Only a method's own documented arguments (ARGS, from Flickr's API pages and
flickr.reflection.getMethodInfo) reach the cache key and the upstream
(SPEC 7): anything else is dropped like an unknown extra, so `&junk1=1`,
`&junk2=1`, … are one call, one cache entry and no upstream traffic.

The gateway never forwards a method outside this table, so no write method
can be reached through it. KNOWN_OTHER lists real Flickr methods that are
refused with "not available in feed formats" (or "through this gateway" for
rest/json) rather than "not found".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from .model import WWW, local_page_url

Args = Mapping[str, str]


def _tags(args: Args) -> str:
    # Flickr's `tags` is comma-separated; a tag may contain spaces ("new york").
    tags = [t.strip() for t in args.get("tags", "").split(",") if t.strip()]
    if not tags:
        return ""
    joiner = " and " if args.get("tag_mode") == "all" else " or "
    return tags[0] if len(tags) == 1 else ", ".join(tags[:-1]) + joiner + tags[-1]


def _page(*segments: str) -> str:
    """A flickr.com page URL from path segments; arguments are the caller's, so each is quoted."""
    return WWW + "".join("/" + quote(seg, safe="@") for seg in segments) + "/"


def _owner(args: Args, info: Args) -> str:
    """The user a call names: the library's name for them (api.about), else the id as given."""
    return info.get("ownername") or args.get("user_id", "")


def _group(args: Args, info: Args) -> str:
    """'“Bridges and Towers”' where the library knows the group's name (api.about), else its id."""
    return f"\u201c{info['groupname']}\u201d" if info.get("groupname") else args.get("group_id", "")


def _search_title(args: Args, info: Args) -> str:
    parts = []
    if args.get("user_id"):
        parts.append(f"from {_owner(args, info)}")
    if args.get("group_id"):
        parts.append(f"in group {_group(args, info)}")
    if _tags(args):
        parts.append(f"tagged {_tags(args)}")
    if args.get("text"):
        parts.append(f"matching \u201c{args['text']}\u201d")
    if args.get("machine_tags"):
        parts.append(f"with machine tags {args['machine_tags']}")
    if args.get("bbox"):
        parts.append(f"in the box {args['bbox']}")
    elif args.get("lat") and args.get("lon"):
        parts.append(f"near {args['lat']},{args['lon']}")
    elif args.get("woe_id") or args.get("place_id"):
        parts.append(f"in place {args.get('woe_id') or args['place_id']}")
    return "Photos " + " ".join(parts) if parts else "Photos from everyone"


def _search_link(args: Args) -> str:
    if args.get("user_id") and not _tags(args):
        return _page("photos", args["user_id"])
    if _tags(args) and not args.get("user_id"):
        first = args["tags"].split(",")[0].strip().replace(" ", "").lower()
        return _page("photos", "tags", first)
    return f"{WWW}/search/"


# Comma-separated lists whose empty items mean nothing (tags=a,,b is tags=a,b).
LISTS = frozenset({"tags", "machine_tags", "license", "extras"})
# The gateway's own paging and extras, kept for every method: it caps per_page,
# reports pagination and filters extras itself (SPEC 4, 9), whatever Flickr takes.
PAGING = ("extras", "per_page", "page")
# flickr.photos.getWithGeoData / getWithoutGeoData (and people.getPhotos' date filters).
_DATES = ("min_upload_date", "max_upload_date", "min_taken_date", "max_taken_date")
_CONTACTS = ("count", "just_friends", "single_photo", "include_self")

# Each method's arguments besides api_key, as Flickr documents them
# (flickr.com/services/api/<method>.html; flickr.reflection.getMethodInfo for
# photos.search, people.getPhotosOf, photosets.getPhotos, galleries.getPhotos
# and panda.getPhotos). None of them is a keyword of flickrapi's
# (`_method_name`, `timeout`, `parse_format`, `wrapped_method`, `self`): a
# caller's argument of that name never reaches the client library.
ARGS: dict[str, tuple[str, ...]] = {
    "flickr.photos.search": (
        "user_id", "tags", "tag_mode", "text", *_DATES, "license", "sort", "privacy_filter", "bbox",
        "accuracy", "safe_search", "content_type", "content_types", "video_content_types", "machine_tags",
        "machine_tag_mode", "group_id", "contacts", "woe_id", "place_id", "media", "has_geo", "geo_context",
        "lat", "lon", "radius", "radius_units", "is_commons", "in_gallery", "is_getty",
    ),
    "flickr.photos.getRecent": (),
    "flickr.photos.getWithGeoData": (*_DATES, "privacy_filter", "sort", "media"),
    "flickr.photos.getWithoutGeoData": (*_DATES, "privacy_filter", "sort", "media"),
    "flickr.photos.recentlyUpdated": ("min_date",),
    "flickr.photos.getContactsPublicPhotos": ("user_id", *_CONTACTS),
    "flickr.photos.getContactsPhotos": _CONTACTS,
    "flickr.photos.geo.photosForLocation": ("lat", "lon", "accuracy"),
    "flickr.interestingness.getList": ("date",),
    "flickr.people.getPublicPhotos": ("user_id", "safe_search"),
    "flickr.people.getPhotos": ("user_id", "safe_search", *_DATES, "content_type", "privacy_filter"),
    "flickr.people.getPhotosOf": ("user_id", "owner_id"),
    "flickr.favorites.getPublicList": ("user_id", "min_fave_date", "max_fave_date"),
    "flickr.favorites.getList": ("user_id", "min_fave_date", "max_fave_date"),
    "flickr.groups.pools.getPhotos": ("group_id", "tags", "user_id"),
    "flickr.photosets.getPhotos": ("photoset_id", "user_id", "privacy_filter", "media"),
    "flickr.galleries.getPhotos": ("gallery_id", "continuation", "get_user_info", "get_gallery_info"),
    "flickr.panda.getPhotos": ("panda_name",),
    "flickr.tags.getClusterPhotos": ("tag", "cluster_id"),
}


@dataclass(frozen=True)
class Method:
    name: str
    required: tuple[str, ...] = ()
    takes_bbox: bool = False
    title: Callable[[Args, Args], str] = lambda args, info: "Photos"
    link: Callable[[Args, Args], str] = lambda args, info: f"{WWW}/photos/"
    # Flickr's code and message when a required argument is missing.
    missing: tuple[int, str] = (1, "Required arguments missing")
    # Every argument the call keeps: the method's own (ARGS) and the gateway's PAGING.
    takes: frozenset[str] = frozenset(PAGING)

    def own_args(self, args: Args) -> dict[str, str]:
        """The arguments this method takes, in the caller's order, each in one spelling; others and
        empty values are dropped.

        Blanks around a value and empty items of a comma-separated list mean nothing to Flickr,
        so `tags= a ,b,` is `tags=a,b`: one cache entry and one upstream call, not one a spelling.
        """
        out = {}
        for k, v in args.items():
            if k in self.takes:
                v = ",".join(p.strip() for p in v.split(",") if p.strip()) if k in LISTS else v.strip()
                if v:
                    out[k] = v
        return out


def _m(name: str, *required: str, bbox: bool = False, title=None, link=None,
       missing: tuple[int, str] = (1, "Required arguments missing")) -> Method:
    return Method(name, required, bbox, title or (lambda a, i: "Photos"),
                  link or (lambda a, i: f"{WWW}/photos/"), missing, frozenset((*ARGS[name], *PAGING)))


def _set_title(kind: str, set_id: str, i: Args) -> str:
    """'Photos from album “Ogrxb Oeym” by Bzia Svcpka': the set's own title and owner where the
    response (the <photoset> wrapper, the <gallery> element) or the library knows them."""
    name = f"\u201c{i['title']}\u201d" if i.get("title") else set_id
    owner = i.get("ownername") or i.get("username") or ""
    return f"Photos from {kind} {name}" + (f" by {owner}" if owner else "")


def _gallery_link(a: Args, i: Args) -> str:
    # The gallery's own URL (Flickr sends it with get_gallery_info=1), only if it is a flickr.com page.
    url = i.get("url", "")
    if url.startswith(f"{WWW}/photos/") and not any(c in url for c in "\"<> \\"):
        return url.rstrip("/") + "/"
    owner = i.get("owner") or ""
    if owner:
        return _page("photos", owner, "galleries", a.get("gallery_id", "").rsplit("-", 1)[-1])
    return _page("photos", "flickr", "galleries", a.get("gallery_id", "").rsplit("-", 1)[-1])  # owner unknown


METHODS: dict[str, Method] = {m.name: m for m in (
    _m("flickr.photos.search", bbox=True,
       title=_search_title, link=lambda a, i: _search_link(a)),
    _m("flickr.photos.getRecent", title=lambda a, i: "Recent uploads from everyone"),
    _m("flickr.photos.getWithGeoData", title=lambda a, i: "Your geotagged photos"),
    _m("flickr.photos.getWithoutGeoData", title=lambda a, i: "Your photos without a location"),
    _m("flickr.photos.recentlyUpdated", "min_date", title=lambda a, i: "Your recently updated photos"),
    _m("flickr.photos.getContactsPublicPhotos", "user_id",
       title=lambda a, i: f"Photos from the contacts of {_owner(a, i)}", missing=(1, "User not found")),
    _m("flickr.photos.getContactsPhotos", title=lambda a, i: "Photos from your contacts"),
    _m("flickr.photos.geo.photosForLocation", "lat", "lon",
       title=lambda a, i: f"Photos taken at {a.get('lat', '')},{a.get('lon', '')}",
       link=lambda a, i: _page("map")),
    _m("flickr.interestingness.getList",
       title=lambda a, i: "Interesting photos" + (f" of {a['date']}" if a.get("date") else ""),
       link=lambda a, i: _page("explore", *a.get("date", "").split("-")) if a.get("date") else _page("explore")),
    _m("flickr.people.getPublicPhotos", "user_id", missing=(1, "User not found"),
       title=lambda a, i: f"Photos from {_owner(a, i)}",
       link=lambda a, i: _page("photos", a.get("user_id", ""))),
    _m("flickr.people.getPhotos", "user_id", missing=(2, "Unknown user"),
       title=lambda a, i: f"Photos from {_owner(a, i)}",
       link=lambda a, i: _page("photos", a.get("user_id", ""))),
    _m("flickr.people.getPhotosOf", "user_id", missing=(1, "User not found."),
       title=lambda a, i: f"Photos of {_owner(a, i)}",
       link=lambda a, i: _page("photos", a.get("user_id", ""), "photosof")),
    _m("flickr.favorites.getPublicList", "user_id", missing=(1, "User not found"),
       title=lambda a, i: f"Favorites of {_owner(a, i)}",
       link=lambda a, i: _page("photos", a.get("user_id", ""), "favorites")),
    _m("flickr.favorites.getList", title=lambda a, i: f"Favorites of {_owner(a, i) or 'you'}",
       link=lambda a, i: _page("photos", a["user_id"], "favorites") if a.get("user_id") else _page("photos")),
    _m("flickr.groups.pools.getPhotos", "group_id", missing=(1, "Group not found"),
       title=lambda a, i: f"Photos from group {_group(a, i)}" + (f" tagged {_tags(a)}" if _tags(a) else ""),
       link=lambda a, i: _page("groups", a.get("group_id", ""), "pool")),
    _m("flickr.photosets.getPhotos", "photoset_id", missing=(1, "Photoset not found"),
       title=lambda a, i: _set_title("album", a.get("photoset_id", ""), i),
       link=lambda a, i: _page("photos", i.get("owner") or a.get("user_id", ""), "albums", a.get("photoset_id", ""))),
    _m("flickr.galleries.getPhotos", "gallery_id", missing=(1, "Invalid gallery ID"),
       title=lambda a, i: _set_title("gallery", a.get("gallery_id", ""), i), link=_gallery_link),
    _m("flickr.panda.getPhotos", "panda_name", missing=(1, "Required parameter missing."),
       title=lambda a, i: f"Photos from the panda {a.get('panda_name', '')}"),
    _m("flickr.tags.getClusterPhotos", "tag", "cluster_id",
       title=lambda a, i: f"Photos tagged {a.get('tag', '')} (cluster {a.get('cluster_id', '')})",
       link=lambda a, i: _page("photos", "tags", a.get("tag", "").replace(" ", ""))),
)}

# The gateway's own page of a call whose photos are local (model.LOCAL): flickr.com has none.
# method → (page kind, the argument naming the owner or set); any other call → the builder's preview.
LOCAL_PAGES: dict[str, tuple[str, str]] = {
    "flickr.people.getPublicPhotos": ("people", "user_id"),
    "flickr.people.getPhotos": ("people", "user_id"),
    "flickr.favorites.getPublicList": ("people", "user_id"),
    "flickr.groups.pools.getPhotos": ("groups", "group_id"),
    "flickr.photosets.getPhotos": ("albums", "photoset_id"),
    "flickr.galleries.getPhotos": ("galleries", "gallery_id"),
}


def local_link(method: str, args: Args, base: str, query: str) -> str:
    """The feed link of a call of local photos: the owner's or set's page on the gateway at `base`,
    else the builder page (`base` + `?` + `query`, the call) that previews the same photos."""
    kind, arg = LOCAL_PAGES.get(method, ("", ""))
    if kind and args.get(arg, "").strip():
        return local_page_url(base, kind, args[arg].strip())
    return f"{base.rstrip('/')}/?{query}"


# Real Flickr methods that do not return a standard photos response: refused
# with code 112 "not available in feed formats" ("through this gateway" for
# rest/json) instead of "not found", so a
# caller learns the method exists but cannot be served here.
KNOWN_OTHER = frozenset({
    "flickr.photos.getInfo", "flickr.photos.getSizes", "flickr.photos.getExif", "flickr.photos.delete",
    "flickr.photos.setMeta", "flickr.photos.setTags", "flickr.photos.addTags", "flickr.photos.getFavorites",
    "flickr.photos.getContext", "flickr.photos.getAllContexts", "flickr.photos.getPerms",
    "flickr.photos.getCounts", "flickr.photos.getNotInSet", "flickr.photos.getUntagged",
    "flickr.photos.getPopular", "flickr.photos.geo.getLocation", "flickr.photos.comments.getList",
    "flickr.photos.comments.getRecentForContacts", "flickr.photos.licenses.getInfo",
    "flickr.photos.people.getList", "flickr.photosets.getInfo", "flickr.photosets.getList",
    "flickr.photosets.create", "flickr.photosets.delete", "flickr.galleries.getInfo", "flickr.galleries.getList",
    "flickr.groups.getInfo", "flickr.groups.search", "flickr.groups.pools.add", "flickr.groups.pools.remove",
    "flickr.people.getInfo", "flickr.people.findByUsername", "flickr.people.findByEmail",
    "flickr.people.getGroups", "flickr.contacts.getList", "flickr.contacts.getPublicList",
    "flickr.tags.getListPhoto", "flickr.tags.getHotList", "flickr.tags.getRelated", "flickr.tags.getClusters",
    "flickr.test.echo", "flickr.test.login", "flickr.test.null", "flickr.urls.lookupUser",
    "flickr.urls.lookupGroup", "flickr.urls.getUserProfile", "flickr.auth.oauth.checkToken",
    "flickr.reflection.getMethods", "flickr.reflection.getMethodInfo", "flickr.stats.getPopularPhotos",
    "flickr.panda.getList", "flickr.places.find", "flickr.places.findByLatLon", "flickr.commons.getInstitutions",
    "flickr.blogs.postPhoto", "flickr.favorites.add", "flickr.favorites.remove", "flickr.photos.upload.checkTickets",
})
