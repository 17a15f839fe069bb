"""One cached value with its lifetimes, and the byte form the shared backends store.

An entry is fresh until `fresh_until`, then stale: kept until `expires` only
to be served when the upstream fails (stale-if-error). `created` is when the
upstream answered; a response rendered later from the same page inherits all
three times, so that every format of a call expires together and `Age`
counts from the upstream's answer, not from the rendering.

Stored form (file and Redis backends), one header line of JSON, then the parts:

    GWC1\\n{"meta":{"etag":"9f…","updated":1690863499,"type":"application/rss+xml"},
           "created":1714380000.1,"fresh_until":1714380300.1,"expires":1714466700.1,
           "parts":[41234,7312]}\\n<41234 bytes of body><7312 bytes of gzip>
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

MAGIC = b"GWC1\n"
# What a memory entry costs besides its bytes (objects, dict slot): counted so
# that a flood of tiny entries is bounded too.
OVERHEAD = 512


@dataclass(frozen=True, slots=True)
class Entry:
    parts: tuple[bytes, ...]
    meta: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    created: float = 0.0
    fresh_until: float = 0.0
    expires: float = 0.0

    def fresh(self, now: float) -> bool:
        return now < self.fresh_until

    def age(self, now: float) -> int:
        """Seconds since the upstream answered (the HTTP Age)."""
        return max(0, int(now - self.created))

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.parts) + OVERHEAD

    def derive(self, parts: tuple[bytes, ...], meta: Mapping[str, Any]) -> Entry:
        """Another value made from this one (a rendering of a page), with the same lifetimes."""
        return replace(self, parts=parts, meta=MappingProxyType(dict(meta)))

    def revived(self, fresh_until: float) -> Entry:
        """This stale entry made fresh again for a while, while the upstream fails."""
        return replace(self, fresh_until=min(fresh_until, self.expires))


def dumps(entry: Entry) -> bytes:
    head = {
        "meta": dict(entry.meta), "created": entry.created, "fresh_until": entry.fresh_until,
        "expires": entry.expires, "parts": [len(p) for p in entry.parts],
    }
    return b"".join((MAGIC, json.dumps(head, separators=(",", ":")).encode(), b"\n", *entry.parts))


def loads(blob: bytes) -> Entry | None:
    """The entry, or None for anything else (a truncated file, another version's format)."""
    if not blob.startswith(MAGIC):
        return None
    end = blob.find(b"\n", len(MAGIC))
    try:
        head = json.loads(blob[len(MAGIC):end])
        parts, offset = [], end + 1
        for length in head["parts"]:
            parts.append(blob[offset:offset + length])
            offset += length
        if end < 0 or offset != len(blob):
            return None
        return Entry(tuple(parts), MappingProxyType(head["meta"]), float(head["created"]),
                     float(head["fresh_until"]), float(head["expires"]))
    except (ValueError, KeyError, TypeError):
        return None
