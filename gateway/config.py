"""The gateway's settings: one table of name, default and help (SPEC section 6).

Every setting is read once by create_app() from GATEWAY_* environment
variables (Flask's from_prefixed_env) and can be overridden by test_config.
The README's settings table is checked against this one by the tests.
"""

from __future__ import annotations

from typing import NamedTuple


class Setting(NamedTuple):
    name: str
    default: object
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("UPSTREAM", "library", "`library` (embedded SQLite photo library) or `flickr`"),
    Setting("FLICKR_API_KEY", "", "the gateway's own Flickr API key (flickr upstream)"),
    Setting("FLICKR_API_SECRET", "", "the gateway's own Flickr API secret (flickr upstream)"),
    Setting("FLICKR_REST_URL", "https://api.flickr.com/services/rest/", "upstream REST endpoint"),
    Setting("UPSTREAM_TIMEOUT", 10, "seconds per upstream call"),
    Setting("MAX_PER_PAGE", 15, "the per-page cap (1 to 500)"),
    Setting("LIBRARY_PATH", "instance/library.sqlite", "the embedded library's SQLite file"),
    Setting("CACHE_URL", "memory://", "`memory://`, `file:///path` or `redis://host:port/db`"),
    Setting("CACHE_TTL", 300, "seconds a rendered feed stays fresh"),
    Setting("CACHE_STALE", 86400, "seconds an expired entry is kept to serve when the upstream fails"),
    Setting("CACHE_MAX_BYTES", 8 * 1024 * 1024,
            "most bytes each worker keeps in memory (the `memory://` cache, or hot entries of a shared one)"),
    Setting("CACHE_MAX_ENTRIES", 10000, "most entries each worker keeps in memory"),
    Setting("CACHE_SHARED_MAX_BYTES", 256 * 1024 * 1024,
            "most bytes a shared cache holds for all workers together: the `file://` directory (oldest "
            "entries removed first) or the gateway's keys in `redis://`"),
    Setting("API_KEYS", "", "comma-separated keys clients must send as `api_key`; empty = open"),
    Setting("CORS_ORIGINS", "*", "origins whose scripts may read the API's answers (CORS): `*` for any, a "
            "comma-separated list, or empty for none"),
    Setting("PROXY_HOPS", 0, "how many proxies in front of the gateway to trust for X-Forwarded-*; "
            "0 = none (clients reach gunicorn directly)"),
    Setting("BODY_TIMEOUT", 10, "seconds a client gets to send a form POST's body once its headers are in "
            "(gevent workers); a slower one gets 408"),
    Setting("LIBRARY_QUERY_MS", 1000, "milliseconds of CPU one library call may use; more is refused with "
            "code 20 (0 = no limit); ten times as long by the clock gets code 105"),
    Setting("LIBRARY_HEAVY_QUERIES", 2, "library calls guessed cheap that each worker lets run past 50 ms at once "
            "(one more waits up to 100 ms, then gets code 105, HTTP 503); calls guessed long run two at a time"),
    Setting("IMAGE_MAX_PIXELS", 50_000_000, "largest original (width × height) add-folder accepts and the "
            "gateway decodes"),
    Setting("IMAGE_CACHE", "instance/images", "where the images of local photos are kept once generated"),
    Setting("DEMO", 1, "`1`: an empty library gets a few hundred demo photos on the first request; `0`: never"),
    Setting("UPSTREAM_RATE", 3000,
            "calls to Flickr an hour, shared by every worker (and host, with Redis); 0 = no limit"),
    Setting("CLIENT_RATE", "", "requests per client address, e.g. `600/minute` (or `/second`, `/hour`); "
            "empty = no limit"),
    Setting("PUSH_LEASE_DEFAULT", 864000, "WebSub: seconds a subscription lasts when the subscriber asks no lease"),
    Setting("PUSH_LEASE_MIN", 3600, "WebSub: the shortest lease granted (seconds)"),
    Setting("PUSH_LEASE_MAX", 2592000, "WebSub: the longest lease granted (seconds)"),
    Setting("PUSH_RETRY_DELAY", 60, "WebSub: seconds before the first retry of a failed delivery, doubling each time "
            "(8 attempts: over 2 hours with the default)"),
    Setting("PUSH_ALLOW_PRIVATE", 0, "WebSub: `1` lets callbacks resolve to loopback, private or link-local "
            "addresses (tests, intranets); `0` refuses them"),
    Setting("PUSH_PATH", "instance/push.sqlite", "WebSub and live streams without Redis: the event log and "
            "subscriptions (the job queue is `push-jobs.sqlite` beside it)"),
)


def defaults() -> dict[str, object]:
    return {s.name: s.default for s in SETTINGS}


def coerce(config: dict) -> None:
    """Give each setting the type of its default (environment values arrive as strings)."""
    for s in SETTINGS:
        value = config.get(s.name, s.default)
        if isinstance(s.default, int) and not isinstance(value, int):
            try:
                value = int(str(value).strip())
            except ValueError:
                raise ValueError(f"GATEWAY_{s.name} must be a whole number, got {value!r}") from None
        config[s.name] = value
    config["MAX_PER_PAGE"] = max(1, min(500, config["MAX_PER_PAGE"]))
    config["PUSH_LEASE_MIN"] = max(1, config["PUSH_LEASE_MIN"])
    config["PUSH_LEASE_MAX"] = max(config["PUSH_LEASE_MIN"], config["PUSH_LEASE_MAX"])
    config["PUSH_RETRY_DELAY"] = max(1, config["PUSH_RETRY_DELAY"])
    config["LIBRARY_HEAVY_QUERIES"] = max(1, config["LIBRARY_HEAVY_QUERIES"])
    config["IMAGE_MAX_PIXELS"] = max(1, config["IMAGE_MAX_PIXELS"])
    for name in ("CACHE_TTL", "CACHE_STALE", "UPSTREAM_RATE", "LIBRARY_QUERY_MS"):
        config[name] = max(0, config[name])
    config["API_KEYS"] = frozenset(k.strip() for k in str(config["API_KEYS"]).split(",") if k.strip())
