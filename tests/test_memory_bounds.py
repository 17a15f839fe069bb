"""Every per-process map of the gateway is bounded in bytes, not only in entries (issue 17): a flood of
requests with 8 KB queries and 15 KB headers, each different, must not grow a worker.

Measured with tracemalloc: the memory still allocated after the flood, with the map alive, against its
stated bound (the flood's own objects are freed as the map drops them).
"""

from __future__ import annotations

import gc
import tracemalloc

from gateway.cache.entry import Entry
from gateway.cache.http import MAX_KNOWN_BYTES, Known, KnownRequests
from gateway.cache.memory import MemoryBackend
from gateway.limits import MAX_CLIENTS, LocalBuckets, Rate

MB = 1024 * 1024


def grown(fill) -> int:
    """Bytes still allocated after fill() returned (what it made and kept)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = fill()  # noqa: F841 - the map under test stays alive while measured
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_the_fast_path_map_is_bounded_in_bytes():
    def fill():
        known = KnownRequests()
        for n in range(3000):
            query = f"method=flickr.photos.search&tags={n}&" + "x" * 8000  # an 8 KB query...
            host = f"h{n}." + "a" * 15000  # ...and a different 15 KB Host each time
            known.remember((query, None, "http", host, "localhost", "8000", "", "/services/rest/"),
                           Known(f"response:{n:064x}", "flickr.photos.search", "rest"))
        for n in range(20000):  # ordinary feed requests
            known.remember((f"method=flickr.photos.search&tags=t{n}&format=feed-rss_200", None, "http",
                            "feeds.example", "localhost", "8000", "", "/services/rest/"),
                           Known(f"response:{n:064x}", "flickr.photos.search", "feed-rss_200"))
        assert known.bytes <= MAX_KNOWN_BYTES and len(known) > 1000
        return known

    assert grown(fill) < 1.5 * MAX_KNOWN_BYTES


def test_the_memory_cache_is_bounded_in_bytes_even_for_tiny_entries():
    limit = 2 * MB

    def fill():
        cache = MemoryBackend(max_entries=10**9, max_bytes=limit)  # only the byte bound applies
        for n in range(50000):
            cache.set(f"response:{n:064x}", Entry((b"x",), {"etag": f"{n:040x}", "type": "text/xml"}, 0, 1e12, 1e12))
        assert cache.bytes <= limit
        return cache

    assert grown(fill) < 1.5 * limit


def test_the_rate_limit_buckets_are_bounded_in_bytes():
    def fill():
        buckets = LocalBuckets()
        rate = Rate(10, 1)
        for n in range(MAX_CLIENTS * 2):
            buckets.take(f"client:{n}:" + "z" * 5000, rate)  # any key, however long
        return buckets

    assert grown(fill) < 6 * MB  # MAX_CLIENTS keys of at most MAX_KEY characters, and their buckets
