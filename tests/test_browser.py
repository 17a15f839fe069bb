"""The feed builder in a real browser: Debian's headless Chromium, driven by
selenium through Debian's chromedriver, against the app served from a thread
on 127.0.0.1 with the recorded fixtures imported (never the internet).

`bash scripts/test` installs chromium, chromium-driver and selenium. Without
them this module skips locally, and fails under CI (CI=true), where a skipped
browser test would hide that the page was never opened.
Screenshots go to artifacts/ (desktop and phone width) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from lxml import html
from werkzeug.serving import make_server

from gateway import create_app

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # reported by the `driver` fixture, as a skip or (under CI) a failure
    webdriver = None

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# How Chromium runs here: as root, no GPU, and no calls home (the network is closed).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         # Thumbnails point at Flickr's hosts: fail them at once instead of waiting on DNS.
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
WAIT = 15  # seconds for the live preview to arrive
BOTANY_QUERY = "method=flickr.photos.search&tags=botany&format=feed-rss_200"


def missing() -> str:
    if webdriver is None:
        return "selenium is not installed (pip install -r requirements-dev.txt)"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} not found (apt-get install {package})"
    return ""


@pytest.fixture(scope="module")
def server(recorded_library):
    """The gateway on a free port of 127.0.0.1, in a thread, on the recorded fixtures."""
    app = create_app({"LIBRARY_PATH": recorded_library.path, "DEMO": 0})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join()
    httpd.server_close()
    app.extensions["gateway.upstream"].close()


@pytest.fixture
def browser(tmp_path):
    """browser(javascript=True) → a headless Chromium; every one started is quit afterwards."""
    reason = missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    drivers = []

    def start(javascript: bool = True):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={tmp_path / f'profile{len(drivers)}'}")
        options.add_argument("--window-size=1280,900")
        if not javascript:
            options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
        options.page_load_strategy = "eager"  # the DOM is enough; never wait on images
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        drivers.append(driver)
        driver.set_page_load_timeout(30)
        return driver

    yield start
    for driver in drivers:
        driver.quit()


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get_content_type(), response.read()


def server_url_for(server: str, query: str) -> str:
    """The feed address the server itself renders for a page query (the no-JS path)."""
    _, _, body = fetch(f"{server}/?{query}")
    return html.fromstring(body).xpath("//input[@id='api-url']/@value")[0]


def screenshot(driver, name: str, width: int) -> Path:
    """The whole page at this width (the window grows to the page's height)."""
    ARTIFACTS.mkdir(exist_ok=True)
    driver.set_window_size(width, 900)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(height + 100, 6000))
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    return path


def value(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).get_attribute("value")


def test_build_a_feed_live_and_follow_it(server, browser):
    driver = browser()
    driver.get(f"{server}/")
    wait = WebDriverWait(driver, WAIT)
    wait.until(lambda d: d.find_element(By.ID, "copy-url").is_displayed())  # the script has run

    Select(driver.find_element(By.ID, "f-method")).select_by_value("flickr.photos.search")
    driver.find_element(By.ID, "f-tags").send_keys("botany")
    Select(driver.find_element(By.ID, "f-format")).select_by_value("feed-rss_200")

    # The URL follows the form at once; the preview arrives after the debounce.
    url = f"{server}/services/rest/?{BOTANY_QUERY}"
    wait.until(lambda d: value(d, "api-url") == url)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#preview-body ul.photos > li")) == 15)
    status = driver.find_element(By.ID, "preview-status").text
    assert status.startswith("Photos 1 to 15 of "), status
    titles = [img.get_attribute("alt") for img in driver.find_elements(By.CSS_SELECTOR, "#preview-body img")]
    assert all(titles) and len(titles) == 15
    assert driver.find_elements(By.CSS_SELECTOR, "#preview-body figure.map circle")
    assert driver.find_element(By.ID, "f-photoset_id").is_displayed() is False  # not a search argument

    # The browser's rule and the server's agree; the page's own address is bookmarkable.
    assert server_url_for(server, BOTANY_QUERY) == url
    assert urlsplit(driver.current_url).query == BOTANY_QUERY
    alternate = driver.find_element(By.CSS_SELECTOR, "link[rel='alternate']")
    assert alternate.get_attribute("href") == url and alternate.get_attribute("type") == "application/rss+xml"
    assert driver.find_element(By.ID, "feed-link").get_attribute("href") == f"feed:{url}"

    # Follow the generated URL as a feed reader would.
    status_code, content_type, body = fetch(driver.find_element(By.ID, "open-feed").get_attribute("href"))
    feed = feedparser.parse(body)
    assert status_code == 200 and content_type == "application/rss+xml"
    assert feed.bozo == 0 and len(feed.entries) > 0
    assert [e.title for e in feed.entries] == [t if t != "Untitled photo" else "" for t in titles]

    desktop = screenshot(driver, "builder-desktop", 1280)
    phone = screenshot(driver, "builder-phone", 360)
    # Nothing wider than a phone's screen: no sideways scrolling at 360 px.
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 360
    assert desktop.stat().st_size > 0 and phone.stat().st_size > 0


def test_errors_in_words_live_and_fields_per_method(server, browser):
    driver = browser()
    driver.get(f"{server}/?{BOTANY_QUERY}")
    wait = WebDriverWait(driver, WAIT)
    wait.until(lambda d: d.find_element(By.ID, "copy-url").is_displayed())

    Select(driver.find_element(By.ID, "f-method")).select_by_value("flickr.groups.pools.getPhotos")
    assert not driver.find_element(By.ID, "f-text").is_displayed()  # search only
    assert not driver.find_element(By.ID, "group-where").is_displayed()  # no place arguments at all
    group = driver.find_element(By.ID, "f-group_id")
    group.send_keys("nobody@N00")
    wait.until(lambda d: "No group with that id" in d.find_element(By.ID, "preview-body").text)
    error = driver.find_element(By.CSS_SELECTOR, "#preview-body .error").text
    assert "Flickr error 1" in error and "Group not found" in error
    assert driver.find_element(By.ID, "preview-status").text == "The feed cannot be built."
    screenshot(driver, "builder-error-phone", 360)

    # Keyboard only: Enter in a field submits, and focus moves on to the feed.
    driver.find_element(By.ID, "f-tags").clear()
    group.clear()
    group.send_keys("31849566@N00", Keys.ENTER)
    wait.until(lambda d: d.switch_to.active_element.get_attribute("id") == "feed")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#preview-body ul.photos > li"))
    assert value(driver, "api-url") == (f"{server}/services/rest/?method=flickr.groups.pools.getPhotos"
                                        "&group_id=31849566@N00&format=feed-rss_200")


def test_without_javascript_the_form_submits_and_the_server_renders(server, browser):
    driver = browser(javascript=False)
    driver.get(f"{server}/")
    assert not driver.find_element(By.ID, "copy-url").is_displayed()  # the script did not run
    assert driver.find_element(By.ID, "f-photoset_id").is_displayed()  # every field is there
    driver.find_element(By.ID, "f-tags").send_keys("botany")
    driver.find_element(By.CSS_SELECTOR, "#builder button[type='submit']").click()
    WebDriverWait(driver, WAIT).until(lambda d: "tags=botany" in d.current_url)
    assert urlsplit(driver.current_url).fragment == "feed"
    assert value(driver, "api-url") == f"{driver.current_url.split('/?')[0]}/services/rest/?{BOTANY_QUERY}"
    assert len(driver.find_elements(By.CSS_SELECTOR, "#preview-body ul.photos > li")) == 15
    screenshot(driver, "builder-nojs-desktop", 1280)


def test_the_builder_offers_the_flickr_feed_address_where_one_exists(server, browser):
    driver = browser()
    driver.get(f"{server}/")
    wait = WebDriverWait(driver, WAIT)
    wait.until(lambda d: d.find_element(By.ID, "copy-url").is_displayed())
    Select(driver.find_element(By.ID, "f-method")).select_by_value("flickr.photos.search")
    driver.find_element(By.ID, "f-tags").send_keys("botany")
    Select(driver.find_element(By.ID, "f-format")).select_by_value("feed-atom_10")

    gne = f"{server}/services/feeds/photos_public.gne?tagmode=any&tags=botany"
    wait.until(lambda d: value(d, "gne-url") == gne and d.find_element(By.ID, "gne-row").is_displayed())
    status_code, content_type, body = fetch(gne)
    _, _, api_body = fetch(value(driver, "api-url"))
    feed, api = feedparser.parse(body), feedparser.parse(api_body)
    assert status_code == 200 and content_type == "application/atom+xml" and feed.bozo == 0
    assert feed.feed.title == "Recent Uploads tagged botany"
    assert [e.id for e in feed.entries] == [e.id for e in api.entries] and feed.entries

    # A text search is no feed Flickr had: the address is withdrawn.
    driver.find_element(By.ID, "f-text").send_keys("fern")
    wait.until(lambda d: not d.find_element(By.ID, "gne-row").is_displayed() and value(d, "gne-url") == "")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """The gateway on the demo library (local photos: the gateway draws their images and serves their pages)."""
    tmp = tmp_path_factory.mktemp("demo-browser")
    app = create_app({"LIBRARY_PATH": str(tmp / "lib.sqlite"), "IMAGE_CACHE": str(tmp / "images"), "DEMO": 1})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join()
    httpd.server_close()
    app.extensions["gateway.upstream"].close()


def test_a_local_photo_page_and_its_owner_in_a_browser_without_javascript(demo_server, browser):
    """A feed's entry link of a local photo opens the gateway's page: the image shows, the map marks
    the place, and the owner's page lists their photos and feeds (no script needed)."""
    _, _, body = fetch(f"{demo_server}/services/rest/?method=flickr.photosets.getPhotos"
                       "&photoset_id=72157900000000001&format=feed-rss_200&per_page=1")
    entry = feedparser.parse(body).entries[0]
    assert entry.link.startswith(f"{demo_server}/photos/")
    driver = browser(javascript=False)
    driver.get(entry.link)
    wait = WebDriverWait(driver, WAIT)
    img = driver.find_element(By.CSS_SELECTOR, "figure.shown img")
    wait.until(lambda d: img.get_attribute("complete") == "true" and int(img.get_attribute("naturalWidth")) > 0)
    assert int(img.get_attribute("naturalWidth")) == 640  # the z size the gateway drew
    assert driver.find_element(By.TAG_NAME, "h1").text == entry.title
    assert driver.find_elements(By.CSS_SELECTOR, "figure.map svg circle.marker")
    screenshot(driver, "local-photo-page", 1280)
    driver.find_element(By.CSS_SELECTOR, "a[rel=author]").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "ul.feed-list a"))
    assert urlsplit(driver.current_url).path.startswith("/people/")
    assert len(driver.find_elements(By.CSS_SELECTOR, "ul.photos > li")) > 1
    feeds = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "ul.feed-list a")]
    status, content_type, _ = fetch(next(f for f in feeds if "format=feed-atom_10" in f))
    assert (status, content_type) == (200, "application/atom+xml")


def test_place_field_fills_the_point(server, browser):
    """Type a town: the gateway's own gazetteer suggests it, and choosing it puts its latitude,
    longitude and a radius into the call (no geocoding service: the network is closed)."""
    driver = browser()
    driver.get(f"{server}/")
    wait = WebDriverWait(driver, WAIT)
    wait.until(lambda d: d.find_element(By.ID, "copy-url").is_displayed())
    Select(driver.find_element(By.ID, "f-method")).select_by_value("flickr.photos.search")
    place = driver.find_element(By.ID, "f-place")
    place.send_keys("Lisb")
    wait.until(lambda d: "Lisbon, Portugal" in [o.get_attribute("value") for o in
                                                 d.find_elements(By.CSS_SELECTOR, "#f-place-options option")])
    place.send_keys(Keys.CONTROL, "a")
    place.send_keys("Lisbon, Portugal")
    wait.until(lambda d: value(d, "f-lat") != "")
    assert (value(driver, "f-lat"), value(driver, "f-lon"), value(driver, "f-radius")) == ("38.7251", "-9.1498", "7")
    wait.until(lambda d: "lat=38.7251&lon=-9.1498&radius=7" in value(d, "api-url"))
    assert "place=" not in value(driver, "api-url")  # a helper of the form, not an argument of the call


def test_place_field_without_script(server, browser):
    """The same without JavaScript: the server turns the submitted place into the point."""
    driver = browser(javascript=False)
    driver.get(f"{server}/?method=flickr.photos.search&place=lisbon&format=feed-rss_200")
    assert (value(driver, "f-lat"), value(driver, "f-lon"), value(driver, "f-radius")) == ("38.7251", "-9.1498", "7")
    assert value(driver, "f-place") == "Lisbon, Portugal"
    assert "lat=38.7251&lon=-9.1498&radius=7" in value(driver, "api-url")


def test_another_site_cannot_frame_the_builder(server, browser):
    """Clickjacking: a page of another origin frames the builder, and Chromium refuses to show it
    (frame-ancestors 'none', X-Frame-Options: DENY); the same page frames a header-less page of a third origin."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            if self.path == "/plain":
                body = b"<!doctype html><title>plain</title><form id='plain'></form>"
            else:
                other = self.server.other
                body = (f"<!doctype html><title>decoy</title><iframe id='gateway' src='{server}/'></iframe>"
                        f"<iframe id='plain' src='http://127.0.0.1:{other}/plain'></iframe>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    decoy, plain = ThreadingHTTPServer(("127.0.0.1", 0), Pages), ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    decoy.other = plain.server_port
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (decoy, plain)]
    for thread in threads:
        thread.start()
    try:
        driver = browser(javascript=False)
        driver.get(f"http://127.0.0.1:{decoy.server_port}/")
        WebDriverWait(driver, WAIT).until(lambda d: d.execute_script("return document.readyState") == "complete")

        def forms_in(frame_id: str) -> int:
            driver.switch_to.frame(driver.find_element(By.ID, frame_id))
            try:
                return len(driver.find_elements(By.TAG_NAME, "form"))
            finally:
                driver.switch_to.default_content()

        assert forms_in("plain") == 1  # framing works for a page that allows it
        assert forms_in("gateway") == 0  # the builder's form never shows inside another site
        status, _, _ = fetch(f"{server}/")
        assert status == 200
    finally:
        for s in (decoy, plain):
            s.shutdown()
            s.server_close()
