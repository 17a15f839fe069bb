"""The one normalised model: Photo and Page, parsed from a standard photos
response (Flickr XML or JSON), and the URL builders every format uses.

A standard photos response, as Flickr sends it (recorded 2023):

    <rsp stat="ok">
    <photos page="1" pages="193774" perpage="10" total="1937738">
      <photo id="53084954382" owner="77878994@N07" secret="3dd9199542" server="65535"
             farm="66" title="Bknedjo mq Carikr Wby" dateupload="1690863499"
             datetaken="2023-07-22 08:15:00" latitude="43.666591" longitude="-110.664778"
             accuracy="16" url_l="https://live.staticflickr.com/..._b.jpg" height_l="672"
             width_l="1024" pathalias="qszwxa18" ...>
        <description>Ajbajekav fhqgbig qv ymvr buaikq Dyarke Wan xcvjh</description>
      </photo>

flickr.photosets.getPhotos wraps the list in <photoset> (whose photos carry no
owner: it is the set's), galleries add is_primary/has_comment and a <comment>
child, some methods omit page/pages/total. JSON has the same attributes as
members, text children as {"_content": ...}, and numbers as either type.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from urllib.parse import quote

from .errors import FlickrError
from .safexml import clean

# url_* extra → (file suffix, longest edge); "" is the 500 px size without suffix.
# Sources: Flickr's misc.urls.html and the recorded responses (url_s is _m, url_l is _b).
URL_EXTRAS: dict[str, tuple[str, int]] = {
    "sq": ("s", 75), "q": ("q", 150), "t": ("t", 100), "s": ("m", 240), "n": ("n", 320),
    "w": ("w", 400), "m": ("", 500), "z": ("z", 640), "c": ("c", 800), "l": ("b", 1024),
    "h": ("h", 1600), "k": ("k", 2048), "o": ("o", 0),
}
SUFFIX_EDGE = {suffix: edge for suffix, edge in URL_EXTRAS.values()}
SQUARE = {"s", "q"}
# Sizes from h up use secrets of their own, so they can only come from url_h/url_k.
OWN_SECRET = {"h", "k", "o"}

STATIC = "https://live.staticflickr.com"
# Photo.server of the photos the gateway serves itself (library add-folder, the
# demo, library synth): their renditions are the gateway's own URLs, see local_sizes().
LOCAL = "local"
# The NSID suffix of owners and groups named on add-folder's command line (L for local): no Flickr
# account has it (Flickr's are @N00-@N09).
LOCAL_NSID = "@L00"
# Every suffix a local photo can have, in URL_EXTRAS order; LOCAL_IMAGE parses their URLs' file names.
LOCAL_SUFFIXES = tuple(suffix for suffix, _edge in URL_EXTRAS.values())
LOCAL_IMAGE = re.compile(r"(?P<id>[1-9][0-9]{0,19})(?:_(?P<suffix>[a-z]))?\.(?P<ext>jpg|png)")
WWW = "https://www.flickr.com"
# An absolute http(s) URL with a host and nothing a browser would read otherwise
# (no whitespace, controls, quotes, angle brackets or backslashes).
HTTP_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f\"'<>\\/?#]+(?:[/?#][^\s\x00-\x1f\x7f\"'<>\\]*)?", re.IGNORECASE)
DEFAULT_BUDDYICON = "https://www.flickr.com/images/buddyicon.gif"
# What Flickr puts in its static image URLs' paths (server, secret, original format, icon server:
# digits, hex, letters). A value from an upstream or import that is anything else would make a
# URL with quotes, spaces or a path of its own: such an image is unknown, as if it were not sent.
URL_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")

# flickr.photos.licenses.getInfo: id → (name, url); 0 has no URL to link.
LICENSES: dict[str, tuple[str, str]] = {
    "0": ("All Rights Reserved", ""),
    "1": ("Attribution-NonCommercial-ShareAlike License", "https://creativecommons.org/licenses/by-nc-sa/2.0/"),
    "2": ("Attribution-NonCommercial License", "https://creativecommons.org/licenses/by-nc/2.0/"),
    "3": ("Attribution-NonCommercial-NoDerivs License", "https://creativecommons.org/licenses/by-nc-nd/2.0/"),
    "4": ("Attribution License", "https://creativecommons.org/licenses/by/2.0/"),
    "5": ("Attribution-ShareAlike License", "https://creativecommons.org/licenses/by-sa/2.0/"),
    "6": ("Attribution-NoDerivs License", "https://creativecommons.org/licenses/by-nd/2.0/"),
    "7": ("No known copyright restrictions", "https://www.flickr.com/commons/usage/"),
    "8": ("United States Government Work", "http://www.usa.gov/copyright.shtml"),
    "9": ("Public Domain Dedication (CC0)", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "10": ("Public Domain Mark", "https://creativecommons.org/publicdomain/mark/1.0/"),
}

# What one photo may carry, from any upstream or file (a 5 MB title made every feed holding the photo
# 16-36 MB). Longer text is cut; a longer tag is left out (a cut tag would be another tag); tags past
# TAGS_MAX (Flickr's own limit per photo), and as many machine tags, are left out.
TITLE_MAX = 1_000  # characters
DESCRIPTION_MAX = 20_000  # characters; also a gallery curator's comment
TAGS_MAX = 75
TAG_MAX = 128  # characters
# SQLite's INTEGER; a number outside it from an upstream (accuracy, farm, views, o_height, …) is
# garbage, read as unknown like any other unreadable number.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def capped_tags(tags: object) -> tuple[str, ...]:
    """Tags without repeats ("Sony" and "sony" both become "sony" on Flickr), within TAG_MAX and TAGS_MAX."""
    return tuple(t for t in dict.fromkeys(tags) if len(t) <= TAG_MAX)[:TAGS_MAX]  # type: ignore[call-overload]


# The text children of a <gallery> element (the rest are attributes).
SET_TEXT = ("title", "description")

IMAGE_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif"}

# Attributes the model reads into fields; anything else on <photo> is kept
# verbatim in Photo.extra so `rest`/`json` can hand it back.
_FIELDS = {
    "id", "owner", "secret", "server", "farm", "title", "ownername", "realname", "pathalias",
    "iconserver", "iconfarm", "dateupload", "lastupdate", "datetaken", "datetakengranularity",
    "datetakenunknown", "license", "tags", "machine_tags", "latitude", "longitude", "accuracy",
    "media", "views", "count_views", "originalsecret", "originalformat", "o_width", "o_height",
    "description", "comment",
}


@dataclass(frozen=True, slots=True)
class Size:
    """One rendition of a photo: Flickr suffix, URL and pixel size (0 when unknown)."""

    suffix: str
    url: str
    width: int = 0
    height: int = 0


@dataclass(frozen=True, slots=True)
class Photo:
    id: str
    owner: str = ""
    secret: str = ""
    server: str = ""
    farm: int = 0
    title: str = ""
    description: str = ""  # Flickr's own (untrusted) HTML; sanitised when rendered
    ownername: str = ""
    realname: str = ""
    pathalias: str = ""
    iconserver: str = ""
    iconfarm: int = 0
    dateupload: int | None = None  # unix time
    lastupdate: int | None = None  # unix time
    datetaken: str = ""  # "YYYY-MM-DD HH:MM:SS", local time of the camera, no zone
    datetakengranularity: int = 0
    datetakenunknown: int = 0
    license: str = ""
    tags: tuple[str, ...] = ()
    machine_tags: tuple[str, ...] = ()
    latitude: float = 0.0
    longitude: float = 0.0
    accuracy: int = 0
    media: str = "photo"
    views: int | None = None
    originalsecret: str = ""
    originalformat: str = ""
    o_width: int = 0
    o_height: int = 0
    sizes: tuple[Size, ...] = ()  # from url_* extras, smallest first
    comment: str = ""  # a gallery curator's comment
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # The place a geotagged photo was taken near, as the library names it at import (gazetteer.py):
    # the populated place, its region (US states only) and country, and the place's GeoNames id,
    # the library's own place id. Empty (0) for photos from Flickr or without a place.
    locality: str = ""
    region: str = ""
    country: str = ""
    place_id: int = 0
    # A local photo's gateway: the request's root URL (Page.with_image_base), where its images and
    # its pages are. Never stored nor sent: it belongs to the request, not to the photo.
    base: str = ""

    def __post_init__(self) -> None:
        # The one gate for image and enclosure URLs, whatever made the photo (a
        # Flickr answer, an import, a library row, a local rendition): a url_*
        # that is not an absolute http(s) URL ("javascript:…", "data:…",
        # "//host/…") is dropped, and the image is then built from server and
        # secret (image()) as if Flickr had not sent it. Every format reads sizes only.
        if not all(HTTP_URL.fullmatch(s.url) for s in self.sizes):
            object.__setattr__(self, "sizes", tuple(s for s in self.sizes if HTTP_URL.fullmatch(s.url)))

    @property
    def geotagged(self) -> bool:
        # Flickr sends latitude="0" longitude="0" accuracy="0" for photos
        # without a location; a real point at 0,0 has an accuracy.
        return self.accuracy > 0 or self.latitude != 0 or self.longitude != 0

    @property
    def place(self) -> str:
        """"Lisbon, Portugal": where the photo was taken, in words ('' when the library does not know)."""
        return ", ".join(dict.fromkeys(p for p in (self.locality, self.region, self.country) if p))

    @property
    def is_video(self) -> bool:
        return self.media == "video"

    @property
    def author_name(self) -> str:
        return self.ownername or self.realname or self.owner

    @property
    def path(self) -> str:
        """The owner's URL path segment: path alias when set, else the NSID."""
        return self.pathalias or self.owner


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a standard photos response, paging filled in where the upstream left gaps."""

    photos: tuple[Photo, ...]
    page: int = 1
    pages: int = 1
    perpage: int = 0
    total: int = 0
    wrapper: str = "photos"  # "photoset" for flickr.photosets.getPhotos
    info: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # galleries.getPhotos with get_gallery_info=1: the <gallery> element beside <photos>,
    # attributes plus its <title>/<description> text (id, url, owner, username, title, …).
    gallery: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def about(self) -> Mapping[str, str]:
        """What the response says of the set it lists: the <photoset> wrapper's attributes
        (title, owner, ownername) and the <gallery> element's (title, owner, username, url)."""
        return {**self.info, **self.gallery} if self.gallery else self.info

    def with_image_base(self, base: str) -> Page:
        """This page with the renditions and pages of its local photos as absolute URLs under `base`.

        The one place where a local photo gets its URLs: the API binds every
        page to the request's root URL (`request.url_root`) before rendering,
        so every format finds its images in Photo.sizes like Flickr's url_*
        extras, and photo_page_url/profile_url/buddyicon_url point at the
        gateway's own pages (gateway/pages/library.py) instead of flickr.com.
        """
        if not any(p.server == LOCAL for p in self.photos):
            return self
        photos = tuple(replace(p, sizes=local_sizes(p, base), base=base) if p.server == LOCAL else p
                       for p in self.photos)
        return replace(self, photos=photos)

    def paginated(self, per_page: int) -> Page:
        """This page reported with the gateway's effective per_page: pages = ceil(total / per_page)."""
        return replace(self, perpage=per_page, pages=math.ceil(self.total / per_page) if per_page else 0)

    @property
    def updated(self) -> int:
        """Newest upload/update time of the page's photos (unix), 0 for an empty page."""
        return max((p.lastupdate or p.dateupload or 0 for p in self.photos), default=0)


# ---------------------------------------------------------------- parsing


def _int(value: object, default: int = 0) -> int:
    try:
        number = int(float(str(value).strip()))
    except (TypeError, ValueError, OverflowError):
        return default
    return number if INT_MIN <= number <= INT_MAX else default


# The last second of year 9999: feeds and HTTP dates write four-digit years, so a
# later (or negative) unix time from an upstream is garbage, not a date.
MAX_TIME = 253402300799


def is_photo_id(value: object) -> bool:
    """Flickr's photo ids are numbers; a <photo> without one is garbage, left out of the page
    (its links and KML's XML id are built from the id)."""
    return isinstance(value, str | int) and 0 < len(str(value)) <= 30 and str(value).isascii() and str(value).isdigit()


def _time(value: object) -> int | None:
    """A unix time within years 1970-9999, or None."""
    if value in (None, ""):
        return None
    number = _int(value, -1)
    return number if 0 <= number <= MAX_TIME else None


def _float(value: object) -> float:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _text(value: object) -> str:
    """A JSON text node ({"_content": ...}) or plain value as clean text."""
    if isinstance(value, Mapping):
        value = value.get("_content", "")
    return clean(value) if value is not None else ""


def photo_from_attrs(attrs: Mapping[str, object], owner: str = "", ownername: str = "") -> Photo:
    """Build a Photo from the attributes of one <photo> (XML attributes or JSON members).

    `owner`/`ownername` fill in for photoset photos, which carry neither.
    """
    sizes = []
    for key, (suffix, _edge) in URL_EXTRAS.items():
        url = attrs.get(f"url_{key}")
        if url:
            width, height = _int(attrs.get(f"width_{key}")), _int(attrs.get(f"height_{key}"))
            sizes.append(Size(suffix, clean(url).strip(), width, height))
    extra = {
        k: clean(v) for k, v in attrs.items()
        if k not in _FIELDS and not k.startswith(("url_", "width_", "height_")) and not isinstance(v, Mapping | list)
    }
    views = attrs.get("views", attrs.get("count_views"))
    return Photo(
        id=clean(attrs.get("id", "")),
        owner=clean(attrs.get("owner") or owner),
        secret=clean(attrs.get("secret", "")),
        server=clean(attrs.get("server", "")),
        farm=_int(attrs.get("farm")),
        title=_text(attrs.get("title", ""))[:TITLE_MAX],
        description=_text(attrs.get("description", ""))[:DESCRIPTION_MAX],
        ownername=clean(attrs.get("ownername") or ownername),
        realname=clean(attrs.get("realname", "")),
        pathalias=clean(attrs.get("pathalias") or attrs.get("path_alias") or ""),
        iconserver=clean(attrs.get("iconserver", "")),
        iconfarm=_int(attrs.get("iconfarm")),
        dateupload=_time(attrs.get("dateupload")),
        lastupdate=_time(attrs.get("lastupdate")) or None,
        datetaken=clean(attrs.get("datetaken", "")),
        datetakengranularity=_int(attrs.get("datetakengranularity")),
        datetakenunknown=_int(attrs.get("datetakenunknown")),
        license=clean(attrs.get("license", "")),
        tags=capped_tags(clean(attrs.get("tags", "")).split()),
        machine_tags=capped_tags(clean(attrs.get("machine_tags", "")).split()),
        latitude=_float(attrs.get("latitude")),
        longitude=_float(attrs.get("longitude")),
        accuracy=_int(attrs.get("accuracy")),
        media=clean(attrs.get("media") or "photo"),
        views=_int(views, -1) if views not in (None, "") and _int(views, -1) >= 0 else None,  # garbage = unknown
        originalsecret=clean(attrs.get("originalsecret", "")),
        originalformat=clean(attrs.get("originalformat", "")),
        o_width=_int(attrs.get("o_width") or attrs.get("width_o")),
        o_height=_int(attrs.get("o_height") or attrs.get("height_o")),
        sizes=tuple(sorted(sizes, key=lambda s: SUFFIX_EDGE[s.suffix] or 10**6)),
        comment=_text(attrs.get("comment", ""))[:DESCRIPTION_MAX],
        extra=MappingProxyType(extra),
    )


def page_from_wrapper(wrapper: str, attrs: Mapping[str, object], photos: list[Photo],
                      gallery: Mapping[str, object] | None = None) -> Page:
    """A Page from the wrapper's attributes, filling what an upstream left out.

    getContactsPhotos sends no page/pages/total, people.getPhotosOf sends
    has_next_page instead of total, panda.getPhotos sends only total. A photo
    repeated in one page is kept once (feeds and KML need unique ids).
    """
    first: dict[str, Photo] = {}
    for photo in photos:
        first.setdefault(photo.id, photo)
    photos = list(first.values())
    page = max(1, _int(attrs.get("page"), 1))
    perpage = _int(attrs.get("perpage") or attrs.get("per_page"), 0) or len(photos)
    seen = (page - 1) * perpage + len(photos)
    if attrs.get("total") not in (None, ""):
        total = _int(attrs.get("total"))
    elif _int(attrs.get("has_next_page")):
        total = seen + 1  # at least one more photo exists
    else:
        total = seen
    pages = _int(attrs.get("pages"), -1)
    if pages < 0:
        pages = math.ceil(total / perpage) if perpage else 1
    paging = {"page", "pages", "perpage", "per_page", "total", "photo"}
    info = {k: clean(v) for k, v in attrs.items() if k not in paging and not isinstance(v, Mapping | list)}
    about = {k: clean(v) for k, v in (gallery or {}).items() if not isinstance(v, Mapping | list)}
    return Page(tuple(photos), page, pages, perpage, total, wrapper, MappingProxyType(info), MappingProxyType(about))


def parse_rest(root) -> Page:
    """Page from a parsed <rsp> (use safexml.parse first); FlickrError for stat="fail"."""
    if root.tag != "rsp":
        raise ValueError(f"not a Flickr response: root element <{root.tag}>")
    if root.get("stat") != "ok":
        err = root.find("err")
        if err is None:
            raise ValueError("a failed Flickr response without <err>")
        raise FlickrError(_int(err.get("code")), clean(err.get("msg", "")))
    for wrapper in ("photos", "photoset"):
        el = root.find(wrapper)
        if el is not None:
            break
    else:
        raise ValueError("not a standard photos response: no <photos> or <photoset>")
    gallery = root.find("gallery")
    about = {} if gallery is None else {**gallery.attrib, **{c.tag: c.text or "" for c in gallery if c.tag in SET_TEXT}}
    owner, ownername = el.get("owner", ""), el.get("ownername", "")
    photos = []
    for p in el.iter("photo"):
        if not is_photo_id(p.get("id")):
            continue
        attrs = dict(p.attrib)
        for child in p:
            if child.tag in ("description", "comment"):
                attrs[child.tag] = child.text or ""
        photos.append(photo_from_attrs(attrs, owner, ownername))
    return page_from_wrapper(wrapper, el.attrib, photos, about)


def parse_json(data: Mapping) -> Page:
    """Page from Flickr's JSON response (the decoded object); FlickrError for stat "fail"."""
    if not isinstance(data, Mapping):
        raise ValueError("not a Flickr JSON response")
    if data.get("stat") != "ok":
        if data.get("stat") == "fail":
            raise FlickrError(_int(data.get("code")), clean(data.get("message", "")))
        raise ValueError("a Flickr JSON response without stat")
    for wrapper in ("photos", "photoset"):
        body = data.get(wrapper)
        if isinstance(body, Mapping):
            break
    else:
        raise ValueError("not a standard photos response: no photos or photoset")
    items = body.get("photo") or []
    if isinstance(items, Mapping):  # a single photo in some converters
        items = [items]
    owner, ownername = str(body.get("owner", "")), str(body.get("ownername", ""))
    photos = [photo_from_attrs(p, owner, ownername) for p in items
              if isinstance(p, Mapping) and is_photo_id(p.get("id"))]
    gallery = data.get("gallery")
    about = {k: _text(v) for k, v in gallery.items() if not isinstance(v, list)} if isinstance(gallery, Mapping) else {}
    return page_from_wrapper(wrapper, body, photos, about)


# ---------------------------------------------------------------- URLs


def _segment(value: str) -> str:
    # Owners and path aliases come from upstreams and imports: one path segment each, whatever they hold.
    return quote(value, safe="@", errors="replace")


def photo_page_url(photo: Photo) -> str:
    # flickr.com has no page for a local photo, nor for its owner: the gateway serves them.
    if photo.server == LOCAL:
        return local_page_url(photo.base, "photos", photo.path, photo.id)
    return f"{WWW}/photos/{_segment(photo.path)}/{photo.id}/"


def profile_url(photo: Photo) -> str:
    if photo.server == LOCAL:
        return local_page_url(photo.base, "people", photo.owner)
    return f"{WWW}/people/{_segment(photo.owner)}/"


def buddyicon_url(photo: Photo) -> str:
    if photo.server == LOCAL:
        return f"{photo.base.rstrip('/')}/{LOCAL_BUDDYICON}"
    if photo.iconserver and photo.iconserver != "0" and URL_TOKEN.fullmatch(photo.iconserver):
        return (f"https://farm{photo.iconfarm}.staticflickr.com/{photo.iconserver}/buddyicons/"
                f"{_segment(photo.owner)}.jpg")
    return DEFAULT_BUDDYICON


def license_url(photo: Photo) -> str:
    return LICENSES.get(photo.license, ("", ""))[1]


def image(photo: Photo, suffix: str) -> Size | None:
    """The photo's rendition with this suffix, with pixel size when it can be known.

    A url_* extra is used as is. Otherwise the URL is built from server and
    secret (sizes below h share the photo's secret; o needs originalsecret and
    originalformat; h and k cannot be built) and the size is scaled from the
    original's or any known rendition's aspect ratio. None when the size cannot exist.
    """
    for s in photo.sizes:
        if s.suffix == suffix:
            return s
    if photo.server == LOCAL:
        return None  # not bound to a base URL (Page.with_image_base), or larger than the original
    if not URL_TOKEN.fullmatch(photo.server):
        return None
    if suffix == "o":
        if not (URL_TOKEN.fullmatch(photo.originalsecret) and photo.originalformat.isalnum()):
            return None
        url = f"{STATIC}/{photo.server}/{photo.id}_{photo.originalsecret}_o.{photo.originalformat}"
        return Size("o", url, photo.o_width, photo.o_height)
    if suffix in OWN_SECRET or not URL_TOKEN.fullmatch(photo.secret) or suffix not in SUFFIX_EDGE:
        return None
    name = f"{photo.id}_{photo.secret}{'_' + suffix if suffix else ''}.jpg"
    width, height = _scaled(photo, suffix)
    return Size(suffix, f"{STATIC}/{photo.server}/{name}", width, height)


def _scaled(photo: Photo, suffix: str) -> tuple[int, int]:
    edge = SUFFIX_EDGE[suffix]
    if suffix in SQUARE:
        return edge, edge
    known = [(photo.o_width, photo.o_height)] + [(s.width, s.height) for s in photo.sizes if s.suffix not in SQUARE]
    for w, h in known:
        if w > 0 and h > 0:
            scale = edge / max(w, h)
            return max(1, round(w * scale)), max(1, round(h * scale))
    return 0, 0


def best_image(photo: Photo, wanted: str) -> Size | None:
    """The wanted rendition, or the nearest smaller one that exists (for photo frames)."""
    ladder = ["o", "k", "h", "b", "c", "z", "", "n", "m", "t"]
    start = ladder.index(wanted) if wanted in ladder else ladder.index("b")
    for suffix in ladder[start:]:
        size = image(photo, suffix)
        if size is not None:
            return size
    return None


def image_type(size: Size) -> str:
    return IMAGE_TYPES.get(size.url.rsplit(".", 1)[-1].lower(), "image/jpeg")


def video_url(photo: Photo) -> str:
    secret = photo.secret if URL_TOKEN.fullmatch(photo.secret) else ""
    return f"{WWW}/photos/{_segment(photo.owner)}/{photo.id}/play/site/{secret}/"


# ---------------------------------------------------------------- local photos


def rendition_size(width: int, height: int, suffix: str) -> tuple[int, int] | None:
    """Pixel size of a local photo's rendition, from its upright size (after EXIF rotation).

    Never upscaled: s and q are squares of at most the shorter side; the other
    sizes scale the longest edge down, and the first size of the ladder that
    reaches the original's edge is the original's size (so a frame asking for
    b gets all 1000 px of a 1000 px photo); larger ones do not exist.
    """
    if width <= 0 or height <= 0 or suffix not in SUFFIX_EDGE:
        return None
    if suffix == "o":
        return width, height
    edge, longest = SUFFIX_EDGE[suffix], max(width, height)
    if suffix in SQUARE:
        side = min(edge, width, height)
        return side, side
    if edge >= longest:
        smaller = [e for s, e in SUFFIX_EDGE.items() if s not in SQUARE and s != "o" and e < edge]
        return (width, height) if all(e < longest for e in smaller) else None
    scale = edge / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


# The gateway's own pages for what flickr.com does not know (gateway/pages/library.py), shaped
# like flickr.com's: photos/{owner}/{id}/, people/{owner}/, groups/{id}/, albums/{id}/, galleries/{id}/.
LOCAL_BUDDYICON = "static/buddyicon.gif"


def local_page_url(base: str, kind: str, *parts: str) -> str:
    """`{base}{kind}/{part}/…/`: a page of the gateway; `base` is the request's root URL ('' → a root-relative URL)."""
    path = "/".join(quote(part, safe="@") for part in parts)
    return f"{base.rstrip('/')}/{kind}/{path}/"


def local_image_url(base: str, photo_id: str, suffix: str, ext: str = "jpg") -> str:
    """`{base}images/{id}_{suffix}.jpg` (`{id}.jpg` for the 500 px size): the gateway's image route."""
    name = f"{photo_id}_{suffix}" if suffix else photo_id
    return f"{base.rstrip('/')}/images/{name}.{ext}"


def local_sizes(photo: Photo, base: str) -> tuple[Size, ...]:
    """Every rendition a local photo has, smallest first, with the pixel size it is served at."""
    sizes = []
    for suffix in LOCAL_SUFFIXES:
        dims = rendition_size(photo.o_width, photo.o_height, suffix)
        if dims is not None:
            ext = (photo.originalformat or "jpg") if suffix == "o" else "jpg"
            sizes.append(Size(suffix, local_image_url(base, photo.id, suffix, ext), *dims))
    return tuple(sorted(sizes, key=lambda s: SUFFIX_EDGE[s.suffix] or 10**6))
