"""The one-method interface every upstream implements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ..model import Page


class Upstream(Protocol):
    """Where photos come from: the embedded library or Flickr itself.

    `args` are the method's own arguments as strings (tags, user_id, bbox, ...),
    with `page` and `per_page` already normalised and capped by the API layer;
    never `method`, `format`, `api_key` or callback arguments. Failures are
    raised as FlickrError with Flickr's code and message.
    """

    name: str

    def photos(self, method: str, args: Mapping[str, str]) -> Page: ...

    # (version, unix time of the last change) of the upstream's data, read before every
    # answer (so it must cost microseconds): part of every cache key, so that a change
    # is in the very next response. (0, 0) for an upstream that cannot tell (Flickr).
    def data_version(self) -> tuple[int, int]: ...
