"""A call's arguments, checked before the cache or any upstream sees them: one place, for every upstream.

Flickr answers a malformed argument with an error, but asking it costs a
call of the key's budget (and garbage could otherwise spend the budget
call by call). So every call passes, whatever the upstream:

- the embedded library's argument rules (upstreams/library/plan.py, pure: no
  database), which are Flickr's codes and messages (SPEC 9; README "Bad
  arguments"): bbox, lat/lon/radius ranges, dates, sort, tag_mode, media,
  has_geo, license, accuracy, interestingness dates, tag counts, and code 99
  for the methods that need a logged-in user (the gateway has none, on
  either upstream);
- ids that must look like Flickr ids (NSIDs 12345678@N01, path aliases,
  numeric and compound gallery ids): anything else is answered as Flickr
  answers an unknown id, with the method's own "not found" error.

What the API layer normalises rather than refuses (SPEC 4): `page` and
`per_page`; unknown `extras` names are dropped, as Flickr ignores them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .errors import FlickrError
from .methods import Method
from .upstreams.library import plan

ID = re.compile(r"[A-Za-z0-9@_.-]{1,100}")
ID_ARGS = ("user_id", "group_id", "photoset_id", "gallery_id")
# Ids a method takes without requiring them, and its error for one it does not know.
OPTIONAL_IDS: dict[tuple[str, str], tuple[int, str]] = {
    ("flickr.photos.search", "user_id"): (2, "Unknown user"),
    ("flickr.photos.search", "group_id"): (4, "You don't have permission to view this pool"),
    ("flickr.groups.pools.getPhotos", "user_id"): (1, "User not found"),
    ("flickr.photosets.getPhotos", "user_id"): (2, "User not found"),
    ("flickr.favorites.getList", "user_id"): (1, "User not found"),
}


def check(method: Method, args: Mapping[str, str]) -> None:
    """Raise FlickrError (Flickr's code and message) for the first malformed argument."""
    for name in ID_ARGS:
        value = args.get(name, "").strip()
        if not value or ID.fullmatch(value):
            continue
        if name in method.required:
            raise FlickrError(*method.missing)
        error = OPTIONAL_IDS.get((method.name, name))
        if error is not None:
            raise FlickrError(*error)
    plan.plan(method.name, args)
