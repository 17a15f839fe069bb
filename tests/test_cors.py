"""CORS (SPEC 7): a web map on another origin reads the API's answers.

The real consumer is a browser: headless Chromium opens a page served from
one origin (127.0.0.1:A) whose script fetch()es the gateway on another
(127.0.0.1:B), with an If-None-Match header so that Chromium sends a preflight
first, exactly as a Leaflet or OpenLayers page would.
"""

from __future__ import annotations

import os
import threading

import pytest
from test_browser import CHROMEDRIVER, CHROMIUM, FLAGS, missing
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from gateway import create_app

CALL = "method=flickr.photos.getRecent&format=feed-geojson"
ORIGIN = "https://maps.example"


def app(tmp_path, **config):
    return create_app({"LIBRARY_PATH": str(tmp_path / "lib.sqlite"), "DEMO": 0, **config})


@pytest.mark.parametrize(("url", "bad"), [
    (f"/services/rest/?{CALL}", "/services/rest/?method=flickr.nope&format=feed-geojson"),
    # Flickr's public feed URLs are the API too: a web map fetch()es their GeoJSON and JSON.
    ("/services/feeds/photos_public.gne?format=geojson", "/services/feeds/nope.gne?format=geojson"),
])
def test_every_answer_of_the_api_carries_the_headers(tmp_path, url, bad):
    client = app(tmp_path).test_client()
    ok = client.get(url, headers={"Origin": ORIGIN})
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == "*"
    exposed = {h.strip() for h in ok.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "Link", "X-FlickrErrCode", "X-FlickrErrMessage", "Retry-After"} <= exposed
    again = client.get(url, headers={"Origin": ORIGIN, "If-None-Match": ok.headers["ETag"]})
    assert again.status_code == 304 and again.headers["Access-Control-Allow-Origin"] == "*"
    error = client.get(bad, headers={"Origin": ORIGIN})
    assert error.status_code == 400 and error.headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(url, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "if-none-match"})
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "if-none-match" in preflight.headers["Access-Control-Allow-Headers"].lower()
    # Flickr's public feed URLs are read by the same maps.
    feed = client.get("/services/feeds/photos_public.gne?format=geojson", headers={"Origin": ORIGIN})
    assert feed.status_code == 200 and feed.headers["Access-Control-Allow-Origin"] == "*"
    # The gateway's own pages are not part of the API.
    assert "Access-Control-Allow-Origin" not in client.get("/").headers


def test_a_list_of_origins_is_echoed_and_others_get_nothing(tmp_path):
    client = app(tmp_path, CORS_ORIGINS="https://maps.example, https://other.example").test_client()
    listed = client.get(f"/services/rest/?{CALL}", headers={"Origin": ORIGIN})
    assert listed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in listed.headers.getlist("Vary")
    stranger = client.get(f"/services/rest/?{CALL}", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers and "Origin" in stranger.headers.getlist("Vary")
    closed = app(tmp_path, CORS_ORIGINS="").test_client().get(f"/services/rest/?{CALL}", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in closed.headers


# ---------------------------------------------------------------- in a real browser


def serve(wsgi_app):
    httpd = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_port}"


MAP_PAGE = b"<!doctype html><title>a web map</title><p>map</p>"
# What a web map does: fetch the GeoJSON (conditional, so the browser preflights) and read a header.
FETCH = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {headers: {"If-None-Match": '"nothing-yet"'}})
  .then(r => r.json().then(j => done({status: r.status, features: j.features.length,
                                      etag: r.headers.get("ETag"), type: j.type})))
  .catch(e => done({error: String(e)}));
"""


@pytest.mark.parametrize("origins,readable", [("*", True), ("", False)])
def test_chromium_on_another_origin_reads_the_geojson(tmp_path, origins, readable):
    reason = missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    gateway = app(tmp_path, CORS_ORIGINS=origins)
    api, api_url = serve(gateway)
    page, page_url = serve(Response(MAP_PAGE, content_type="text/html"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.set_script_timeout(20)
        driver.get(page_url + "/")
        result = driver.execute_async_script(FETCH, f"{api_url}/services/rest/?{CALL}")
    finally:
        driver.quit()
        for httpd in (api, page):
            httpd.shutdown()
            httpd.server_close()
        gateway.extensions["gateway.upstream"].close()
    if readable:
        assert result.get("status") == 200 and result["type"] == "FeatureCollection", result
        assert result["etag"], result  # an exposed header, readable by the script
    else:  # the browser refuses the answer: this test can tell the difference
        assert "error" in result and "Failed to fetch" in result["error"], result
