"""CORS for the API's answers (SPEC 7): web maps on other origins may read the feeds.

A Leaflet or OpenLayers page on https://maps.example `fetch()`es
/services/rest/?…&format=feed-geojson; the browser hands it the body only if
the answer says so:

    Access-Control-Allow-Origin: *
    Access-Control-Expose-Headers: ETag, Link, Retry-After, X-FlickrErrCode, X-FlickrErrMessage, …

and asks first (a preflight) when the request carries headers of its own,
such as If-None-Match:

    OPTIONS /services/rest/?…   Origin: https://maps.example   Access-Control-Request-Method: GET
    → 200  Access-Control-Allow-Methods: GET, HEAD, POST, OPTIONS  Access-Control-Allow-Headers: …

A WSGI middleware around everything else, so every answer of the endpoint
gets the headers: cache hits answered below Flask, 304s, errors (a script
must be able to read X-FlickrErrCode), refusals by the rate limit. The
preflight itself is Flask's automatic OPTIONS answer. Never credentials: the
feeds are public and the api_key travels in the URL, so "*" is safe.
GATEWAY_CORS_ORIGINS: "*" (the default), a comma-separated list of origins
(echoed back when they match, with Vary: Origin), or empty for no CORS headers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask

from .access import endpoint

# The API: /services/rest/ and Flickr's public feed URLs (/services/feeds/…), whose GeoJSON
# and JSON web maps fetch() just the same.
API = ("rest", "feeds")
# What a script may read beyond the CORS-safelisted headers (Content-Type, Last-Modified, …).
EXPOSE = "Age, ETag, Link, Retry-After, Warning, X-FlickrErrCode, X-FlickrErrMessage"
ALLOW_METHODS = "GET, HEAD, POST, OPTIONS"
# Conditional GETs (a map that polls), a POST's form type, flickrapi's OAuth header.
ALLOW_HEADERS = "Authorization, Cache-Control, Content-Type, If-Modified-Since, If-None-Match"
MAX_AGE = "86400"  # browsers cap it lower (Chromium: 2 hours); one preflight a day at most


def install(app: Flask) -> None:
    setting = str(app.config["CORS_ORIGINS"]).strip()
    if not setting:
        return
    origins = frozenset(o.strip().rstrip("/") for o in setting.split(",") if o.strip())
    app.wsgi_app = CORS(app.wsgi_app, None if "*" in origins else origins)


class CORS:
    """WSGI middleware adding the CORS headers to the endpoint's answers."""

    def __init__(self, wsgi_app: Callable, origins: frozenset[str] | None):
        self.wsgi_app = wsgi_app
        self.origins = origins  # None: any origin

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if endpoint(environ.get("PATH_INFO", "")) not in API:
            return self.wsgi_app(environ, start_response)
        headers = self.headers(environ)

        def start(status: str, response_headers: list, exc_info=None):
            taken = {name.lower() for name, _value in response_headers}
            response_headers.extend((n, v) for n, v in headers if n.lower() not in taken or n == "Vary")
            return start_response(status, response_headers, exc_info)

        return self.wsgi_app(environ, start)

    def headers(self, environ: dict) -> list[tuple[str, str]]:
        origin = environ.get("HTTP_ORIGIN", "")
        if self.origins is None:
            out = [("Access-Control-Allow-Origin", "*")]
        elif origin.rstrip("/") in self.origins:
            out = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        else:
            return [("Vary", "Origin")]  # caches must not hand this answer to a listed origin
        if environ.get("REQUEST_METHOD") == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            return [*out, ("Access-Control-Allow-Methods", ALLOW_METHODS),
                    ("Access-Control-Allow-Headers", ALLOW_HEADERS), ("Access-Control-Max-Age", MAX_AGE)]
        return [*out, ("Access-Control-Expose-Headers", EXPOSE)]
