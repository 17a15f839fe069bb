"""Photos that are not on Flickr link only to pages the gateway serves (issue 12, item 1).

Every link of every format of local-photo feeds (add-folder's photos and the
demo's) is followed with the Flask test client and must answer 200; the only
links allowed elsewhere are licence texts. The pages themselves (photo, owner,
group, album, gallery) are read back with lxml.html and their links followed too.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
from conftest import flickr_xml
from lxml import etree, html
from PIL import Image

from gateway.formats import FORMATS
from gateway.model import LICENSES
from gateway.upstreams.library.demo import ALBUM, GALLERY
from gateway.upstreams.library.demo import owner as demo_owner
from gateway.upstreams.library.folder import local_nsid

ROOT = "http://localhost/"
# Links that may leave the gateway: the licence texts (creativecommons.org, ...), which are the licence.
ELSEWHERE = {url for _name, url in LICENSES.values() if url}
# Attributes that hold identifiers, not links to follow: a category's scheme/domain, rdf:datatype.
NOT_LINKS = {"scheme", "domain", "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}datatype"}
HOLIDAYS = local_nsid("Holidays", "group")
OWNER = "Zoë <O'Neil>"  # a name that needs escaping everywhere
# Elements about the feed's software and format, not links of these photos: RSS <docs>, <generator>.
ABOUT_THE_FORMAT = {"docs", "generator"}
# Elements whose text is HTML a reader shows (Atom content/summary, RSS and KML description).
HTML_ELEMENTS = {"content", "summary", "description", "encoded"}


def gps(lat: float, lon: float) -> Image.Exif:
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8825)
    ifd[1], ifd[3] = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
    ifd[2], ifd[4] = (abs(lat), 0.0, 0.0), (abs(lon), 0.0, 0.0)
    return exif


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """add-folder's photos: an owner with a name that needs escaping, a group, a description with markup."""
    from gateway import create_app

    tmp = tmp_path_factory.mktemp("own")
    folder = tmp / "pics"
    folder.mkdir()
    exif = gps(41.0, 12.0)
    exif[0x9C9B] = "Rome <b>& co</b>\0".encode("utf-16-le")  # XPTitle: a title is text
    exif[0x9C9C] = '<script>alert(1)</script> Rome & <a href="/relative">more</a>\0'.encode("utf-16-le")
    Image.new("RGB", (900, 600), (200, 40, 40)).save(folder / "rome.jpg", exif=exif)
    Image.new("RGB", (300, 200), (40, 200, 40)).save(folder / "garden.jpg")
    app = create_app({"LIBRARY_PATH": str(tmp / "lib.sqlite"), "IMAGE_CACHE": str(tmp / "images"), "DEMO": 0})
    result = app.test_cli_runner().invoke(args=["library", "add-folder", str(folder), "--owner", OWNER,
                                                "--group", "Holidays"])
    assert result.exit_code == 0, result.output
    yield app
    app.extensions["gateway.upstream"].close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from gateway import create_app

    tmp = tmp_path_factory.mktemp("demo")
    app = create_app({"LIBRARY_PATH": str(tmp / "lib.sqlite"), "IMAGE_CACHE": str(tmp / "images"), "DEMO": 1})
    yield app
    app.extensions["gateway.upstream"].close()


def links_of(body: bytes, content_type: str) -> set[str]:
    """Every link a consumer could follow: attributes and texts holding URLs, and those of embedded HTML.

    `rest` and `json` hand a description back as the data it is (as Flickr does), not as HTML to show.
    """
    found: set[str] = set()
    if content_type in ("text/xml", "application/json"):
        body = _without_descriptions(body, content_type)
    if "json" in content_type:
        text = body.decode()
        if not text.startswith("{"):
            text = text[text.index("(") + 1:text.rindex(")")]
        _json_links(json.loads(text), found)
        return found
    for el in etree.fromstring(body).iter():
        if not isinstance(el.tag, str):
            continue
        if etree.QName(el).localname in ABOUT_THE_FORMAT:
            continue
        for name, value in el.attrib.items():
            if name not in NOT_LINKS and value.startswith(("http:", "https:", "/")):
                found.add(value)
        _text_links(el.text or "", found, etree.QName(el).localname in HTML_ELEMENTS)
    return found


def _without_descriptions(body: bytes, content_type: str) -> bytes:
    if content_type == "text/xml":
        root = etree.fromstring(body)
        for el in root.iter("description"):
            el.text = ""
        return etree.tostring(root)
    data = json.loads(body)
    for photo in data.get("photos", {}).get("photo", []):
        photo.pop("description", None)
    return json.dumps(data).encode()


def _json_links(value: object, found: set[str]) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _json_links(v, found)
    elif isinstance(value, list):
        for v in value:
            _json_links(v, found)
    elif isinstance(value, str):
        _text_links(value, found, is_html=False)
    if isinstance(value, dict) and isinstance(value.get("description"), str):  # GeoJSON's entry HTML
        _text_links(value["description"], found, is_html=True)


def _text_links(text: str, found: set[str], is_html: bool) -> None:
    text = text.strip()
    if text.startswith(("http:", "https:")) and " " not in text:
        found.add(text)
    elif is_html and "<" in text:  # entry HTML: follow what a reader shows
        for el in html.fragment_fromstring(text, create_parent="div").iter():
            for name in ("href", "src"):
                if el.get(name):
                    found.add(el.get(name))


def follow(app, links: set[str]) -> dict[str, int]:
    """Each gateway link's status (via the test client); links elsewhere must be licence texts."""
    client = app.test_client()
    statuses = {}
    for link in sorted(links):
        if link in ELSEWHERE or urlsplit(link).path == "/push/hub":
            continue  # (the WebSub hub a feed names is POSTed to by subscribers: tests/test_push_hub.py)
        assert link.startswith(ROOT), f"a link away from the gateway: {link}"
        parts = urlsplit(link)
        with client.get(parts.path, query_string=parts.query, buffered=True) as response:
            statuses[link] = response.status_code
    return statuses


def feed_calls(app, calls: list[dict[str, str]]) -> set[str]:
    client = app.test_client()
    links: set[str] = set()
    for call in calls:
        for name, fmt in FORMATS.items():
            args = {**call, "format": name, "per_page": "4",
                    **({"nojsoncallback": "1"} if name == "json" else {}),
                    **({"extras": "url_sq,url_m,url_o,owner_name,path_alias"} if name in ("rest", "json") else {})}
            response = client.get("/services/rest/", query_string=args)
            assert response.status_code == 200, (args, response.headers.get("X-FlickrErrMessage"))
            got = links_of(response.data, fmt.content_type)
            assert got or name in ("rest", "json"), (name, call)
            links |= got
    return links


def test_every_link_of_every_format_of_add_folder_feeds_answers_200(own):
    calls = [{"method": "flickr.people.getPublicPhotos", "user_id": "zo-o-neil"},
             {"method": "flickr.groups.pools.getPhotos", "group_id": HOLIDAYS},
             {"method": "flickr.photos.search", "text": "rome"}]
    links = feed_calls(own, calls)
    statuses = follow(own, links)
    assert {link for link, status in statuses.items() if status != 200} == set()
    paths = {urlsplit(link).path for link in statuses}
    # The pages are among them: a photo, its owner, the group, the builder's preview, the buddy icon.
    assert any(p.startswith("/photos/zo-o-neil/") for p in paths)
    assert f"/people/{local_nsid(OWNER)}/" in paths
    assert f"/groups/{HOLIDAYS}/" in paths and "/" in paths and "/static/buddyicon.gif" in paths
    assert sum(p.startswith("/images/") for p in paths) >= 6  # both photos' sizes, from every format


def test_every_link_of_every_format_of_the_demo_feeds_answers_200(demo):
    nsid = demo_owner(1)[0]
    calls = [{"method": "flickr.photosets.getPhotos", "photoset_id": ALBUM[0]},
             {"method": "flickr.galleries.getPhotos", "gallery_id": GALLERY[0]},
             {"method": "flickr.favorites.getPublicList", "user_id": "mei-tanaka"},
             {"method": "flickr.people.getPublicPhotos", "user_id": nsid},
             {"method": "flickr.photos.search", "tags": "bridge", "license": "4,5"}]
    links = feed_calls(demo, calls)
    statuses = follow(demo, links)
    assert {link for link, status in statuses.items() if status != 200} == set()
    paths = {urlsplit(link).path for link in statuses}
    assert f"/albums/{ALBUM[0]}/" in paths and f"/galleries/{GALLERY[0]}/" in paths
    assert sum(p.startswith("/images/") for p in paths) >= 40
    assert links & ELSEWHERE  # the licence links are there, and are the only ones elsewhere


@pytest.mark.parametrize("tags", ["sunset", "bridge"])
def test_a_search_links_to_the_gateway_with_or_without_results(demo, tags):
    """On the library upstream the feed's page is the gateway's builder page, also when the search
    finds nothing (read by feedparser: the channel link a reader shows)."""
    import feedparser

    query = {"method": "flickr.photos.search", "tags": tags, "format": "feed-rss_200"}
    parsed = feedparser.parse(demo.test_client().get("/services/rest/", query_string=query).data)
    assert not parsed.bozo
    assert (len(parsed.entries) > 0) == (tags == "bridge")  # the demo has bridges, no sunsets
    assert parsed.feed.link == f"{ROOT}?method=flickr.photos.search&tags={tags}&format=feed-rss_200"
    assert demo.test_client().get(parsed.feed.link).status_code == 200


@pytest.mark.parametrize("fmt", ["feed-atom_10", "feed-rss_200", "feed-georss"])
def test_local_photos_have_entry_ids_of_the_gateway(demo, fmt):
    """A local photo's Atom id / RSS guid is in the gateway's tag authority, not flickr.com's,
    and the same on every request (read by feedparser, as a reader de-duplicates entries)."""
    import feedparser

    query = {"method": "flickr.photos.search", "tags": "bridge", "format": fmt}
    ids = [[e.id for e in feedparser.parse(demo.test_client().get(
        "/services/rest/", query_string=query, base_url="http://gw.example:8000").data).entries] for _ in range(2)]
    assert ids[0] and ids[0] == ids[1]
    assert all(re.fullmatch(r"tag:gw\.example,2026:/photo/[0-9]+", i) for i in ids[0]), ids[0][:3]


def test_local_photos_have_dc_identifiers_of_the_gateway(demo):
    """RSS 1.0's dc:identifier, read as RDF (rdflib)."""
    import rdflib

    body = demo.test_client().get("/services/rest/", query_string={
        "method": "flickr.photos.search", "tags": "bridge", "format": "feed-rss_100"}).data
    graph = rdflib.Graph().parse(data=body, format="xml")
    found = [str(o) for o in graph.objects(None, rdflib.URIRef("http://purl.org/dc/elements/1.1/identifier"))]
    assert found and all(i.startswith("tag:localhost,2026:/photo/") for i in found)


def test_feed_titles_name_local_owners_and_groups(demo):
    """On the library the titles say the owner's and group's names, as album titles do, also for a
    page that holds no photos (read by feedparser, the title a reader lists the feed under)."""
    import feedparser

    nsid, name, alias = demo_owner(1)
    group = local_nsid("Bridges and Towers", "group")
    expected = [
        ({"method": "flickr.groups.pools.getPhotos", "group_id": group},
         "Photos from group \u201cBridges and Towers\u201d"),
        ({"method": "flickr.people.getPublicPhotos", "user_id": nsid}, f"Photos from {name}"),
        ({"method": "flickr.people.getPublicPhotos", "user_id": alias, "page": "99"}, f"Photos from {name}"),
        ({"method": "flickr.photos.search", "user_id": nsid, "group_id": group, "tags": "nothing-here"},
         f"Photos from {name} in group \u201cBridges and Towers\u201d tagged nothing-here"),
        ({"method": "flickr.photosets.getPhotos", "photoset_id": ALBUM[0]},
         f"Photos from album \u201c{ALBUM[1]}\u201d"),
    ]
    for query, title in expected:
        body = demo.test_client().get("/services/rest/", query_string={**query, "format": "feed-atom_10"}).data
        parsed = feedparser.parse(body)
        assert not parsed.bozo
        assert parsed.feed.title.startswith(title), (query, parsed.feed.title)
    gne = demo.test_client().get("/services/feeds/groups_pool.gne", query_string={"id": group, "format": "atom"})
    assert "\u201cBridges and Towers\u201d" in feedparser.parse(gne.data).feed.title


def test_an_empty_page_of_a_local_owner_still_links_to_the_gateway(own):
    nsid = local_nsid(OWNER)
    response = own.test_client().get("/services/rest/", query_string={
        "method": "flickr.people.getPublicPhotos", "user_id": nsid, "page": "9", "format": "feed-rss_200"})
    channel_link = etree.fromstring(response.data).findtext("channel/link")
    assert channel_link == f"{ROOT}people/{nsid}/"


def test_photos_imported_from_flickr_keep_their_flickr_links(make_app, tmp_path):
    app = make_app()
    path = tmp_path / "pool.xml"
    path.write_bytes(flickr_xml([{"id": "53084954382", "owner": "77878994@N07", "secret": "3dd9199542",
                                  "server": "65535", "farm": "66", "title": "Sunrise", "pathalias": "qszwxa18",
                                  "iconserver": "1", "iconfarm": "1"}]))
    app.test_cli_runner().invoke(args=["library", "import", str(path), "--call",
                                       "method=flickr.groups.pools.getPhotos&group_id=31849566@N00"])
    response = app.test_client().get("/services/rest/", query_string={
        "method": "flickr.groups.pools.getPhotos", "group_id": "31849566@N00", "format": "feed-atom_10"})
    links = links_of(response.data, "application/atom+xml")
    assert "https://www.flickr.com/photos/qszwxa18/53084954382/" in links
    atom = "{http://www.w3.org/2005/Atom}"  # a Flickr photo keeps Flickr's entry id
    assert etree.fromstring(response.data).findtext(f"{atom}entry/{atom}id") == "tag:flickr.com,2005:/photo/53084954382"
    assert "https://www.flickr.com/people/77878994@N07/" in links
    # The feed's own page is the gateway's on the library upstream (api._link), which serves this pool too.
    assert "https://www.flickr.com/groups/31849566@N00/pool/" not in links
    assert f"{ROOT}groups/31849566@N00/" in links
    assert app.test_client().get("/groups/31849566@N00/").status_code == 200
    # Besides that, only the WebSub hub and the feed's own URLs are the gateway's
    assert not any(link.startswith(ROOT) and "/rest/" not in link
                   and link not in (f"{ROOT}push/hub", f"{ROOT}groups/31849566@N00/") for link in links)
    assert app.test_client().get("/photos/qszwxa18/53084954382/").status_code == 404  # its page is Flickr's


# ---------------------------------------------------------------- the pages


def page(app, path: str):
    response = app.test_client().get(path)
    assert response.status_code == 200, path
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    return html.fromstring(response.data), response


def page_links(doc) -> set[str]:
    return {el.get(a) for a in ("href", "src") for el in doc.iter() if isinstance(el.tag, str) and el.get(a)
            and not el.get(a).startswith(("#", "data:"))}


def absolute(link: str) -> str:
    return link if link.startswith("http") else ROOT.rstrip("/") + link


def test_photo_page_shows_the_photo_escaped_and_its_links_answer(own):
    pool = own.extensions["gateway.upstream"].photos("flickr.photos.search", {"text": "rome"})
    photo = pool.photos[0]
    doc, response = page(own, f"/photos/{photo.pathalias}/{photo.id}/")
    assert b"<script>alert" not in response.data and b"<O'Neil>" not in response.data  # escaped or sanitised
    assert b"<b>&" not in response.data
    assert doc.findtext(".//h1") == "Rome <b>& co</b>"
    assert OWNER in doc.text_content()
    assert "Rome & more" in doc.find(".//div[@class='description']").text_content()
    assert doc.find(".//div[@class='description']//a[@href='/relative']") is None  # no link that goes nowhere
    assert "41.000000, 12.000000" in doc.text_content()
    marker = doc.find(".//svg//circle[@class='marker']")
    assert (float(marker.get("cx")), float(marker.get("cy"))) == (12, -41)  # the offline map: x = lon, y = -lat
    img = doc.find(".//figure[@class='shown']//img")
    assert img.get("src").endswith(f"/images/{photo.id}_z.jpg")
    assert "Holidays" in [a.text for a in doc.findall(".//ul[@class='set-list']//a")]
    statuses = follow(own, {absolute(link) for link in page_links(doc)})
    assert {link for link, status in statuses.items() if status != 200} == set()


@pytest.mark.parametrize("path", ["/people/zo-o-neil/", f"/people/{local_nsid(OWNER)}/",
                                  f"/groups/{HOLIDAYS}/"])
def test_owner_and_group_pages_list_photos_and_feeds_in_every_format(own, path):
    doc, _ = page(own, path)
    assert len(doc.findall(".//ul[@class='photos']/li")) == 2
    feeds = [a.get("href") for a in doc.findall(".//ul[@class='feed-list']//a")]
    assert len(feeds) == len(FORMATS)
    for name in FORMATS:
        assert any(f"format={name}" in href for href in feeds), name
    statuses = follow(own, {absolute(link) for link in page_links(doc)})
    assert {link for link, status in statuses.items() if status != 200} == set()


def test_album_and_gallery_pages_and_paging(demo):
    for path, title in ((f"/albums/{ALBUM[0]}/", ALBUM[1]), (f"/galleries/{GALLERY[0]}/", GALLERY[1])):
        doc, _ = page(demo, path)
        assert title in doc.findtext(".//h1")
        assert doc.find(".//p[@class='lead']/a") is not None  # the owner, on the gateway
    doc, _ = page(demo, "/people/ines-duarte/")
    more = doc.find(".//nav[@class='pager']/a[@rel='next']")
    assert more is not None
    second, _ = page(demo, "/people/ines-duarte/" + more.get("href"))
    assert second.find(".//nav[@class='pager']/a[@rel='prev']") is not None


@pytest.mark.parametrize("path", ["/people/nobody/", "/groups/1@N01/", "/albums/1/", "/galleries/1/",
                                  "/photos/someone/123/", "/photos/zo-o-neil/not-a-number/"])
def test_unknown_pages_answer_404(own, path):
    assert own.test_client().get(path).status_code == 404
