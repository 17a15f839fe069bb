"""Last-Modified that changes whenever the representation does (SPEC 7).

The newest photo's time is not enough: an older upload added to a pool, a
removal, a re-tag or an edit changes the body and its ETag, but not the
newest upload time, and a poller that sends only If-Modified-Since (Tiny
Tiny RSS) would be told 304 for ever. So each response identity (the call,
format, size, callback and origin; not the upstream's data version) has a
small record in the cache backend, shared like the responses themselves:

    modified:<sha256>   meta {"etag": "9f…", "modified": 1714380000}

- first sight of the identity: max(newest photo time, the upstream's last
  change time), the same in every worker and for every identical request;
- the same ETag again: the recorded time, so validators stay identical;
- another ETag: max(newest photo time, now, recorded time + 1 s), strictly
  later than anything a client was told before (HTTP dates have one-second
  resolution, and "not modified since" is ≤).

A record lost (evicted, or a memory:// worker restarted) falls back to the
first-sight rule; for the library that is still correct, because its last
change time is at or after any change a client can have missed.
"""

from __future__ import annotations

import time

from . import Cache
from .entry import Entry

# How long a record is kept after it was last written: longer than any response
# lives (TTL + stale grace), so that a record outlives the copies it dated.
RECORD_SECONDS = 30 * 86400


def last_modified(store: Cache, key: str, etag: str, updated: int, changed_at: int) -> int:
    """The Last-Modified (unix time) of the representation with this ETag, recording it under `key`."""
    record = store.backend.get(key)
    if record is not None and record.meta.get("etag") == etag:
        return int(record.meta["modified"])
    now = int(time.time())
    if record is None:
        modified = max(updated, changed_at)
    else:
        modified = max(updated, now, int(record.meta.get("modified", 0)) + 1)
    store.set(key, Entry((), {"etag": etag, "modified": modified}, now, now + RECORD_SECONDS, now + RECORD_SECONDS))
    return modified
