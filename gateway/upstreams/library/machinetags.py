"""photos.search's `machine_tags` with Flickr's syntax, answered from the machine_tags table.

A machine tag is `namespace:predicate=value` ("upcoming:event=81334"). A query
names whole machine tags or leaves parts open (Flickr's examples):

    dc:                     photos with a machine tag in the dc namespace
    dc:title=               … with a dc:title, whatever its value
    dc:title="mr. camera"   … titled "mr. camera" in the dc namespace (quotes let a value hold spaces and commas)
    dc:*="mr. camera"       … with the value "mr. camera" under any predicate of dc
    *:title=                … with a title in any namespace
    *:title="mr. camera"    … with that title in any namespace
    *:*="mr. camera"        … with that value anywhere

Several are comma-separated; `machine_tag_mode` any (default) or all. A
namespace and a predicate are a letter, then letters, digits or `_`, in any
case (compared in lower case); values are normalised as Flickr normalises
tags (lower case, letters and digits only: Flickr sends the machine tag
`dc:identifier=https://example.org/page/12` as `dc:identifier=httpsexampleorgpage12`),
so `"Mr. Camera"` finds `mrcamera`. Items that are
not machine tags are ignored; when none is left, code 11 "No valid machine
tags". At most 8 in any mode and 16 in all mode (Flickr's limits), else
code 12 "Exceeded maximum allowable machine tags". A namespace or predicate
of `*` alone matches everything and so is not valid (`*:`, `*:*=`).

Each form is one key of the machine_tags table (schema.py), read as a tag is
read: an index range for the photos (sorted and distinct: counted without
reading a photo row), one lookup to test one photo.
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

from ...errors import FlickrError
from .arguments import machine_value
from .query import Query

MAX_ANY, MAX_ALL = 8, 16  # Flickr: "'AND' queries are limited to (16) machine tags. 'OR' queries are limited to (8)"
NO_VALID = (11, "No valid machine tags")
TOO_MANY = (12, "Exceeded maximum allowable machine tags")
_NAME = r"[A-Za-z][A-Za-z0-9_]*"
# namespace ":" [predicate ["=" [value]]], value quoted ("…", \" inside) or bare.
_ITEM = re.compile(rf'\s*(\*|{_NAME}):(?:(\*|{_NAME})(?:=(?:"((?:[^"\\]|\\.)*)"|([^",]*)))?)?\s*(?:,|$)')


class Pattern(NamedTuple):
    """One machine tag of a query; None where it is open."""

    namespace: str | None
    predicate: str | None
    value: str | None


def parse(value: str, mode: str) -> tuple[Pattern, ...]:
    """machine_tags= as patterns; FlickrError 11 when nothing in it is a machine tag, 12 when too many."""
    found: list[Pattern] = []
    for item in _items(value):
        match = _ITEM.fullmatch(item + ",")
        if not match:
            continue
        ns, pred, quoted, bare = match.groups()
        text = machine_value(quoted if quoted is not None else bare or "")
        pattern = Pattern(None if ns == "*" else ns.lower(), None if pred in (None, "*") else pred.lower(),
                          text or None)
        if pattern == (None, None, None) or (pattern.namespace is None and pattern.predicate is None
                                             and not text):
            continue  # "*:" and "*:*=" name every machine tag: not a query
        found.append(pattern)
    found = list(dict.fromkeys(found))
    if not found:
        raise FlickrError(*NO_VALID)
    if len(found) > (MAX_ALL if mode == "all" else MAX_ANY):
        raise FlickrError(*TOO_MANY)
    return tuple(found)


def _items(value: str) -> list[str]:
    """The comma-separated items, a comma inside a quoted value kept."""
    items, current, quoted, escaped = [], "", False, False
    for char in value:
        if char == "," and not quoted:
            items.append(current)
            current = ""
            continue
        current += char
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
    items.append(current)
    return [item for item in items if item.strip()]


def key(pattern: Pattern) -> str:
    """The machine_tags key of a pattern (schema.py): "dc:", "dc:title=", "*:*=mrcamera", …"""
    ns, pred, value = pattern
    if pred is None and value is None:
        return f"{ns}:"
    return f"{ns or '*'}:{pred or '*'}={value or ''}"


def add(q: Query, patterns: tuple[Pattern, ...], mode: str) -> None:
    """The machine tag condition of a search: a set for each pattern (all), or one for any of them."""
    keys = [key(p) for p in patterns]
    if mode == "all" or len(keys) == 1:
        for k in keys:
            bound = q.bind(k)
            q.add_set(f"SELECT photo AS pk FROM machine_tags WHERE key = {bound}",
                      f"EXISTS (SELECT 1 FROM machine_tags WHERE key = {bound} AND photo = p.pk)")
    else:
        within = f"(SELECT value FROM json_each({q.bind(json.dumps(keys))}))"
        q.add_set(f"SELECT DISTINCT photo AS pk FROM machine_tags WHERE key IN {within}",
                  f"EXISTS (SELECT 1 FROM machine_tags WHERE key IN {within} AND photo = p.pk)")
