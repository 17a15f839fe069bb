"""Flickr's public feed URLs (/services/feeds/*.gne, issue 16): each translated into the API call that
answers it, in every feed format, read back by the consumers that read Flickr's feeds."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import feedparser
import pytest
import rdflib
from consumers import JSONP, assert_readable, kml_errors
from support import FakeUpstream, make_app, recorded

from gateway.feeds import FEED_FORMATS, feed_for
from gateway.model import Page, page_from_wrapper, photo_from_attrs

SAMPLE = "photos.search-19a6cc8272.xml"  # 10 photos, 9 geotagged, with descriptions and tags
FEED = "/services/feeds/"

# The members of Flickr's JSON feed and of each item, as in its 2015 sample (photos_public.gne?format=json).
JSON_FEED_KEYS = ["title", "link", "description", "modified", "generator", "items"]
JSON_ITEM_KEYS = ["title", "link", "media", "date_taken", "description", "published", "author", "author_id", "tags"]


@pytest.fixture
def upstream():
    return FakeUpstream(recorded(SAMPLE))


@pytest.fixture
def client(tmp_path, upstream):
    return make_app(tmp_path, upstream).test_client()


def last_call(upstream: FakeUpstream) -> tuple[str, dict]:
    method, args = upstream.calls[-1]
    return method, {k: v for k, v in args.items() if k not in ("page", "per_page")}


# ---------------------------------------------------------------- the mapping table


MAPPING = [
    ("photos_public.gne", "flickr.photos.getRecent", {}),
    ("photos_public.gne?id=14385354@N00", "flickr.people.getPublicPhotos", {"user_id": "14385354@N00"}),
    ("photos_public.gne?ids=14385354@N00", "flickr.people.getPublicPhotos", {"user_id": "14385354@N00"}),
    ("photos_public.gne?g=322338@N20", "flickr.groups.pools.getPhotos", {"group_id": "322338@N20"}),
    ("photos_public.gne?tags=a,b", "flickr.photos.search", {"tags": "a,b", "tag_mode": "all"}),
    ("photos_public.gne?tags=a,%20b,&tagmode=any", "flickr.photos.search", {"tags": "a,b", "tag_mode": "any"}),
    ("photos_public.gne?tags=a&tagmode=ALL&lang=de-de", "flickr.photos.search", {"tags": "a", "tag_mode": "all"}),
    ("photos_public.gne?id=1@N00&tags=a", "flickr.photos.search", {"user_id": "1@N00", "tags": "a", "tag_mode": "all"}),
    ("photos_public.gne?format=georss", "flickr.photos.search", {"has_geo": "1"}),
    ("photos_public.gne?id=1@N00&format=kml", "flickr.photos.search", {"user_id": "1@N00", "has_geo": "1"}),
    ("geo/?g=322338@N20&lang=en-us&format=feed-georss", "flickr.photos.search",
     {"group_id": "322338@N20", "has_geo": "1"}),
    ("geo/?id=74832966@N00&format=kml_nl", "flickr.photos.search", {"user_id": "74832966@N00", "has_geo": "1"}),
    ("groups_pool.gne?id=2611823@N25&lang=de-de&format=rss_200", "flickr.groups.pools.getPhotos",
     {"group_id": "2611823@N25"}),
    ("groups_pool.gne?g=2611823@N25", "flickr.groups.pools.getPhotos", {"group_id": "2611823@N25"}),
    ("photos_faves.gne?nsid=1@N00", "flickr.favorites.getPublicList", {"user_id": "1@N00"}),
    ("photos_faves.gne?id=1@N00", "flickr.favorites.getPublicList", {"user_id": "1@N00"}),
    ("photoset.gne?nsid=1@N00&set=72157600000000000", "flickr.photosets.getPhotos",
     {"photoset_id": "72157600000000000", "user_id": "1@N00"}),
    ("photos_friends.gne?user_id=1@N00", "flickr.photos.getContactsPublicPhotos",
     {"user_id": "1@N00", "single_photo": "1"}),
    ("photos_friends.gne?id=1@N00&display_all=1&friends=1", "flickr.photos.getContactsPublicPhotos",
     {"user_id": "1@N00", "just_friends": "1"}),
]


@pytest.mark.parametrize(("url", "method", "args"), MAPPING)
def test_each_feed_url_asks_the_call_that_answers_it(client, upstream, url, method, args):
    r = client.get(FEED + url)
    assert r.status_code == 200, r.headers.get("X-FlickrErrMessage")
    assert last_call(upstream) == (method, args)


def test_a_feed_shares_the_page_of_its_api_call(client, upstream):
    """One upstream call for the feed URL, its API call in another format, and a repeat of either."""
    assert client.get(FEED + "photos_public.gne?tags=a,b&tagmode=all&format=rss_200").status_code == 200
    assert len(upstream.calls) == 1
    api = client.get("/services/rest/?method=flickr.photos.search&tags=a,b&tag_mode=all&format=feed-atom_10")
    assert api.status_code == 200
    again = client.get(FEED + "photos_public.gne?tags=a,b&tagmode=all&format=rss_200")
    assert again.status_code == 200 and again.data
    assert len(upstream.calls) == 1
    etag = again.headers["ETag"]
    assert client.get(FEED + "photos_public.gne?tags=a,b&tagmode=all&format=rss_200",
                      headers={"If-None-Match": etag}).status_code == 304


def test_the_feed_and_its_api_call_hold_the_same_entries(client):
    feed = feedparser.parse(client.get(FEED + "photos_public.gne?tags=a&format=rss_200").data)
    api = feedparser.parse(client.get("/services/rest/?method=flickr.photos.search&tags=a&tag_mode=all"
                                      "&format=feed-rss_200").data)
    assert [e.id for e in feed.entries] == [e.id for e in api.entries] and len(feed.entries) == 10
    assert feed.feed.title == "Recent Uploads tagged a" and api.feed.title != feed.feed.title


# ---------------------------------------------------------------- every feed in every format

FEED_URLS = ["photos_public.gne", "photos_public.gne?tags=snow,ice", "photos_public.gne?id=77878994@N07",
             "groups_pool.gne?id=34427469792@N01", "photos_faves.gne?nsid=77878994@N07",
             "photoset.gne?nsid=77878994@N07&set=72157600000000000", "geo/?tags=snow"]
RSS, ATOM, RDF, KML = "application/rss+xml", "application/atom+xml", "application/rdf+xml", \
    "application/vnd.google-earth.kml+xml"
TYPES = {"rss_200": RSS, "atom": ATOM, "rss_100": RDF, "rss_200_enc": RSS, "georss": RSS, "geoatom": ATOM,
         "geordf": RDF, "kml": KML, "kml_nl": KML, "geojson": "application/geo+json", "json": "text/javascript",
         "": ATOM}  # no format: Atom, as Flickr answered (its Atom feeds' self links name no format)
FORMAT_NAMES = list(TYPES)


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@pytest.mark.parametrize("url", FEED_URLS)
def test_every_feed_in_every_format_is_read_by_its_consumer(client, url, fmt):
    sep = "&" if "?" in url else "?"
    r = client.get(FEED + url + (f"{sep}format={fmt}" if fmt else ""))
    assert r.status_code == 200, r.headers.get("X-FlickrErrMessage")
    if fmt == "json":
        assert r.mimetype == TYPES[fmt]
        match = JSONP.fullmatch(r.data)
        assert match is not None and match[1] == b"jsonFlickrFeed"
        data = json.loads(match[2])
        assert list(data) == JSON_FEED_KEYS
        assert len(data["items"]) == 10 and all(list(item) == JSON_ITEM_KEYS for item in data["items"])
        return
    assert_readable(r.content_type, r.data)
    assert r.mimetype == TYPES[fmt]
    if r.mimetype in (RSS, ATOM):
        parsed = feedparser.parse(r.data)
        assert len(parsed.entries) == 10
        self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
        assert self_links == ["http://localhost" + FEED + url + (f"{sep}format={fmt}" if fmt else "")]
        geo = fmt.startswith("geo") or "geo/" in url
        assert any("where" in e for e in parsed.entries) == geo


FEED_IDS = [
    ("photos_public.gne", "tag:flickr.com,2005:/photos/public"),
    ("photos_public.gne?tagmode=any&tags=a,b", "tag:flickr.com,2005:/photos/public/tagged/any/a-b"),
    ("photos_public.gne?id=1@N00&format=geoatom", "tag:flickr.com,2005:/photos/public/1@N00"),
    ("photos_public.gne?id=1@N00&tags=a", "tag:localhost,2026:/services/feeds/photos_public.gne?id=1@N00&tags=a"),
    ("geo/?tags=a", "tag:localhost,2026:/services/feeds/geo/?tags=a"),
    ("groups_pool.gne?id=1@N00&lang=fr-fr", "tag:localhost,2026:/services/feeds/groups_pool.gne?id=1@N00"),
]


@pytest.mark.parametrize(("url", "feed_id"), FEED_IDS)
def test_feed_ids_stay_the_same_across_formats(client, url, feed_id):
    for fmt in ("atom", "geoatom"):
        sep = "&" if "?" in url else "?"
        parsed = feedparser.parse(client.get(FEED + url + f"{sep}format={fmt}").data)
        assert parsed.feed.id == feed_id


def test_format_names_and_aliases(client):
    kinds = {"rss_200": "rss20", "rss2": "rss20", "rss_200_enc": "rss20", "rss": "rss20", "rss_092": "rss20",
             "atom": "atom10", "atom_1": "atom10", "atom_03": "atom10", "feed-atom_10": "atom10",
             "feed-rss_200": "rss20", "georss": "rss20", "geoatom": "atom10"}
    for name, version in kinds.items():
        assert name in FEED_FORMATS
        parsed = feedparser.parse(client.get(FEED + f"photos_public.gne?tags=a&format={name}").data)
        assert parsed.version == version, name
    rdf = client.get(FEED + "photos_public.gne?format=rdf")
    assert len(rdflib.Graph().parse(data=rdf.data, format="xml")) > 0


def test_urls_as_plugins_and_pages_write_them(client, upstream):
    """`&amp;` pasted from HTML, upper-case format names, jQuery's callback and cache-buster."""
    r = client.get(FEED + "photos_public.gne?id=1@N00&amp;lang=en-us&amp;format=rss_200")
    assert feedparser.parse(r.data).version == "rss20"
    assert last_call(upstream) == ("flickr.people.getPublicPhotos", {"user_id": "1@N00"})
    assert feedparser.parse(client.get(FEED + "photos_public.gne?format=RSS_200").data).version == "rss20"
    jquery = client.get(FEED + "photos_public.gne?tags=cat&tagmode=any&format=json"
                               "&jsoncallback=jQuery3410123_1609459200&_=1609459200")
    match = JSONP.fullmatch(jquery.data)
    assert match[1] == b"jQuery3410123_1609459200" and json.loads(match[2])["title"] == "Recent Uploads tagged cat"


def test_rss_200_enc_has_one_image_enclosure_per_item(client):
    parsed = feedparser.parse(client.get(FEED + "groups_pool.gne?id=1@N00&format=rss_200_enc").data)
    assert parsed.bozo == 0 and len(parsed.entries) == 10
    for entry in parsed.entries:
        assert len(entry.enclosures) == 1 and entry.enclosures[0].type == "image/jpeg"
    small = feedparser.parse(client.get(FEED + "groups_pool.gne?id=1@N00&format=rss_200_enc&size=z").data)
    assert all(e.enclosures[0].href.endswith("_z.jpg") for e in small.entries)


def test_kml_and_network_link_validate_and_link_back_to_the_feed_url(client, upstream):
    kml = client.get(FEED + "photos_public.gne?tags=snow&format=kml")
    assert not kml_errors(kml.data)
    nl = client.get(FEED + "photos_public.gne?tags=snow&format=kml_nl&lang=en-us")
    assert not kml_errors(nl.data)
    href = re.search(rb"<href>([^<]*)</href>", nl.data)[1].decode().replace("&amp;", "&")
    assert href == "http://localhost/services/feeds/photos_public.gne?tags=snow&format=kml"
    followed = client.get(href)
    assert followed.status_code == 200 and not kml_errors(followed.data)
    # Google Earth appends its view (<viewFormat>) to the link: the feed becomes a bbox search.
    view = re.search(rb"<viewFormat>([^<]*)</viewFormat>", nl.data)[1].decode()
    assert view.startswith("bbox=[bboxWest]")
    panned = client.get(href + "&bbox=2.2,48.8,2.4,48.9")
    assert panned.status_code == 200 and not kml_errors(panned.data)
    assert last_call(upstream) == ("flickr.photos.search", {"tags": "snow", "tag_mode": "all", "has_geo": "1",
                                                            "bbox": "2.2,48.8,2.4,48.9"})
    pool = client.get(FEED + "groups_pool.gne?id=1@N00&format=kml_nl")  # a pool takes no bbox
    assert b"<viewFormat/>" in pool.data and not kml_errors(pool.data)


def test_geojson_of_a_feed(client):
    data = json.loads(client.get(FEED + "photos_public.gne?id=1@N00&format=geojson").data)
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 9  # one photo has no place
    for feature in data["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert -180 <= lon <= 180 and -90 <= lat <= 90


def test_json_feed_callbacks(client):
    bare = client.get(FEED + "photos_public.gne?tags=a&format=json&nojsoncallback=1")
    assert bare.mimetype == "application/json"
    data = json.loads(bare.data)
    assert data["title"] == "Recent Uploads tagged a" and data["link"] == "https://www.flickr.com/photos/tags/a/"
    item = data["items"][0]
    assert item["media"]["m"].endswith("_m.jpg") and item["author"].startswith("nobody@flickr.com (")
    assert item["description"].startswith(" <p><a href=") and "\n" not in item["description"]
    assert "</" not in bare.get_data(as_text=True)  # written <\/ as Flickr did, so a <script> cannot be closed
    named = client.get(FEED + "photos_public.gne?tags=a&format=json&jsoncallback=show")
    match = JSONP.fullmatch(named.data)
    assert match[1] == b"show" and json.loads(match[2]) == data


# ---------------------------------------------------------------- the samples' own URLs

def markus_unger() -> Page:
    photos = [photo_from_attrs({"id": str(8718599226 - i), "owner": "14385354@N00", "ownername": "Markus Unger",
                                "pathalias": "markusunger", "secret": "f6f30fe30f", "server": "7396", "farm": "8",
                                "title": f"Camp-Nou{4 - i}", "dateupload": str(1367954290 - i), "tags": "barcelona"})
              for i in range(3)]
    return page_from_wrapper("photos", {"page": 1, "pages": 1, "perpage": 3, "total": 3}, photos)


# (the sample, its rel="self" URL or, where the sample has none, the URL its title and link name,
#  feedparser's version, the title, the Atom id)
SAMPLE_URLS = [
    ("feed_atom_2011", "http://api.flickr.com/services/feeds/photos_public.gne?tagmode=all&tags=schoolgirl,photo,cosplay",
     "atom10", "Recent Uploads tagged schoolgirl, photo and cosplay",
     "tag:flickr.com,2005:/photos/public/tagged/all/schoolgirl-photo-cosplay"),
    ("feed_atom_2013", "http://api.flickr.com/services/feeds/photos_public.gne?id=14385354@N00",
     "atom10", "Uploads from Markus Unger", "tag:flickr.com,2005:/photos/public/14385354@N00"),
    ("feed_rss_200_2009", "http://api.flickr.com/services/feeds/photos_public.gne?tags=carterbarratt&format=rss_200",
     "rss20", "Recent Uploads tagged carterbarratt", None),
    ("feed_georss_2007", "http://api.flickr.com/services/feeds/photos_public.gne?tags=snowboard,powder&format=georss",
     "rss20", "Recent Uploads tagged snowboard and powder, with geodata", None),
    ("feed_json_2015", "https://www.flickr.com/services/feeds/photos_public.gne?tags=potato&format=json",
     "json", "Recent Uploads tagged potato", None),
]


@pytest.mark.parametrize(("sample", "url", "kind", "title", "feed_id"), SAMPLE_URLS)
def test_a_sample_feeds_own_url_with_the_host_swapped(tmp_path, sample, url, kind, title, feed_id):
    upstream = FakeUpstream(markus_unger() if "14385354@N00" in url else recorded(SAMPLE))
    client = make_app(tmp_path, upstream).test_client()
    parts = urlsplit(url)
    r = client.get(f"{parts.path}?{parts.query}", base_url="http://gateway.example")
    assert r.status_code == 200, r.headers.get("X-FlickrErrMessage")
    if kind == "json":
        data = json.loads(JSONP.fullmatch(r.data)[2])
        assert list(data) == JSON_FEED_KEYS and data["title"] == title
        assert data["link"] == "https://www.flickr.com/photos/tags/potato/"
        return
    parsed = feedparser.parse(r.data)
    assert parsed.bozo == 0 and parsed.version == kind and parsed.feed.title == title
    assert len(parsed.entries) == len(upstream.page.photos)
    self_link = next(link.href for link in parsed.feed.links if link.rel == "self")
    assert self_link == url.replace(f"{parts.scheme}://{parts.netloc}", "http://gateway.example")
    if feed_id:
        assert parsed.feed.id == feed_id
    if sample == "feed_atom_2013":
        assert parsed.feed.link == "https://www.flickr.com/photos/markusunger/"


# ---------------------------------------------------------------- errors, as the API's feed formats answer them

ERRORS = [
    ("photos_public.gne?format=php", 400, 111, 'Format "php" not found'),
    ("nosuchfeed.gne", 400, 112, 'Feed "nosuchfeed" not found'),
    ("groups_discuss.gne?id=1@N00", 400, 112, None),
    ("photos_comments.gne?user_id=1@N00", 400, 112, None),
    ("forums.gne", 400, 112, None),
    ("geo/Zrenjanin?tags=sunflower&format=kml_nl", 400, 112, None),
    ("groups_pool.gne", 400, 1, "Group not found"),
    ("photos_faves.gne", 400, 1, "User not found"),
    ("photoset.gne?nsid=1@N00", 400, 1, "Photoset not found"),
    ("photos_public.gne?ids=1@N00,2@N00", 400, 1, None),
    ("photos_public.gne?tags=a&tagmode=some", 400, None, None),
    ("photos_public.gne?format=rss_200_enc&size=q", 400, 3, None),
    ("photos_public.gne?bbox=1,2", 400, 3, None),  # the API's own check of a bbox
    ("photos_public.gne?tags=a&_=1609459200", 200, None, None),  # an argument the feed does not read is ignored
]


@pytest.mark.parametrize(("url", "status", "code", "message"), ERRORS)
def test_errors_carry_flickr_codes(client, url, status, code, message):
    r = client.get(FEED + url)
    assert r.status_code == status
    if status == 200:
        return
    assert r.mimetype == "text/xml" and b'<rsp stat="fail">' in r.data
    if code is not None:
        assert r.headers["X-FlickrErrCode"] == str(code)
    assert r.headers["X-FlickrErrMessage"]
    if message is not None:
        assert r.headers["X-FlickrErrMessage"] == message


def test_json_feed_errors_are_flickr_json(client):
    r = client.get(FEED + "groups_discuss.gne?format=json")
    assert r.status_code == 200 and r.headers["X-FlickrErrCode"] == "112"
    match = JSONP.fullmatch(r.data)
    assert match[1] == b"jsonFlickrFeed" and json.loads(match[2])["stat"] == "fail"
    bare = client.get(FEED + "groups_pool.gne?format=json&nojsoncallback=1")
    assert json.loads(bare.data) == {"stat": "fail", "code": 1, "message": "Group not found"}


def test_upstream_failure_is_a_503_with_the_error_headers(tmp_path):
    from gateway.errors import unavailable

    client = make_app(tmp_path, FakeUpstream(error=unavailable())).test_client()
    r = client.get(FEED + "photos_public.gne?tags=a")
    assert r.status_code == 503 and r.headers["X-FlickrErrCode"] == "105" and "Retry-After" in r.headers


def test_other_verbs_answer_in_flickrs_error_shape(client):
    r = client.post(FEED + "photos_public.gne")
    assert r.status_code == 405 and r.headers["X-FlickrErrCode"] == "116"
    head = client.head(FEED + "photos_public.gne?tags=a")
    assert head.status_code == 200 and head.data == b""


# ---------------------------------------------------------------- the embedded library answers feeds with its semantics


def test_tag_feeds_from_the_library(tmp_path, recorded_library):
    client = make_app(tmp_path, recorded_library).test_client()
    everyone = feedparser.parse(client.get(FEED + "photos_public.gne?format=rss_200").data)
    assert everyone.bozo == 0 and everyone.entries
    tagged = [e for e in everyone.entries if len(e.get("tags", [])) >= 3]
    assert tagged, "the recorded fixtures hold tagged photos"
    a, b = [t.term for t in tagged[0].tags if " " not in t.term][:2]
    both = feedparser.parse(client.get(FEED + f"photos_public.gne?tags={a},{b}&tagmode=all").data)
    either = feedparser.parse(client.get(FEED + f"photos_public.gne?tags={a},{b}&tagmode=any").data)
    assert both.entries and len(either.entries) >= len(both.entries)
    for entry in both.entries:
        terms = {t.term for t in entry.tags}
        assert {a, b} <= terms
    published = [e.published_parsed for e in either.entries]
    assert published == sorted(published, reverse=True)  # newest uploads first
    assert both.feed.title == f"Recent Uploads tagged {a} and {b}"


# ---------------------------------------------------------------- the builder offers the feed URL


ROUND_TRIP = [
    {"method": "flickr.photos.getRecent", "format": "feed-atom_10"},
    {"method": "flickr.people.getPublicPhotos", "user_id": "77878994@N07", "format": "feed-rss_200"},
    {"method": "flickr.photos.search", "tags": "snow,ice", "tag_mode": "all", "format": "feed-atom_10"},
    {"method": "flickr.photos.search", "tags": "snow", "format": "feed-rss_100"},
    {"method": "flickr.photos.search", "tags": "snow", "has_geo": "1", "format": "feed-kml_nl"},
    {"method": "flickr.groups.pools.getPhotos", "group_id": "34427469792@N01", "format": "feed-georss", "size": "z"},
    {"method": "flickr.favorites.getPublicList", "user_id": "77878994@N07", "format": "feed-geojson"},
    {"method": "flickr.photosets.getPhotos", "photoset_id": "72157600000000000", "user_id": "77878994@N07",
     "format": "feed-kml"},
]
NO_FEED = [
    {"method": "flickr.photos.search", "text": "snow", "format": "feed-atom_10"},
    {"method": "flickr.photos.search", "tags": "snow", "format": "feed-georss"},  # a geo feed adds has_geo
    {"method": "flickr.photos.getRecent", "format": "json"},
    {"method": "flickr.photos.getRecent", "format": "feed-atom_10", "page": "2"},
    {"method": "flickr.interestingness.getList", "format": "feed-atom_10"},
]


@pytest.mark.parametrize("args", ROUND_TRIP)
def test_the_offered_feed_url_asks_the_same_call(client, upstream, args):
    path = feed_for(args)
    assert path is not None
    assert client.get(FEED + path).status_code == 200
    feed_call = last_call(upstream)
    r = client.get("/services/rest/", query_string=args)
    assert r.status_code == 200
    method, api_args = args["method"], {k: v for k, v in args.items() if k not in ("method", "format", "size")}
    if "tags" in api_args:
        api_args.setdefault("tag_mode", "any")
    assert feed_call == (method, api_args)


@pytest.mark.parametrize("args", NO_FEED)
def test_no_feed_url_is_offered_for_calls_no_feed_answers(args):
    assert feed_for(args) is None


def test_the_builder_page_shows_the_feed_url(client):
    page = client.get("/?method=flickr.groups.pools.getPhotos&group_id=34427469792@N01&format=feed-rss_200")
    url = re.search(r'id="gne-url" type="text" readonly value="([^"]*)"', page.get_data(as_text=True))[1]
    assert url == "http://localhost/services/feeds/groups_pool.gne?id=34427469792@N01&amp;format=rss_200"
    assert client.get(url.replace("&amp;", "&")).status_code == 200
    fragment = client.get("/preview?method=flickr.photos.search&text=snow&format=feed-rss_200")
    assert 'data-gne=""' in fragment.get_data(as_text=True)



def test_every_feed_and_format_name_is_documented():
    from pathlib import Path

    from gateway.feeds import FEEDS, REFUSED

    doc = (Path(__file__).resolve().parents[1] / "docs" / "feeds.md").read_text()
    for name in FEEDS:
        assert f"`{name}.gne" in doc or f"`{name}/" in doc, name
    for name in REFUSED:
        assert f"`{name}.gne`" in doc, name
    for name in FEED_FORMATS:
        assert f"`{name}`" in doc or name.startswith("feed-"), name


def test_a_feed_from_flickr(tmp_path, replay):
    """The flickr upstream against the replay of recorded responses: the pool's feed in two formats, one call."""
    app = make_app(tmp_path, UPSTREAM="flickr", FLICKR_API_KEY="k" * 32, FLICKR_API_SECRET="s" * 16,
                   FLICKR_REST_URL=replay.url, UPSTREAM_TIMEOUT=1, MAX_PER_PAGE=10)
    client = app.test_client()
    recording = replay.recording("flickr.groups.pools.getPhotos", group_id="31849566@N00", page="1", per_page="10")
    r = client.get(FEED + "groups_pool.gne?id=31849566@N00&lang=en-us&format=rss_200_enc")
    assert r.status_code == 200, r.headers.get("X-FlickrErrMessage")
    parsed = feedparser.parse(r.data)
    assert parsed.bozo == 0
    assert [e.id.rsplit("/", 1)[1] for e in parsed.entries] == recording.photo_ids()
    assert all(len(e.enclosures) == 1 for e in parsed.entries)
    data = json.loads(client.get(FEED + "groups_pool.gne?id=31849566@N00&format=json&nojsoncallback=1").data)
    assert len(data["items"]) == len(parsed.entries)
    assert [c.params["method"] for c in replay.calls] == ["flickr.groups.pools.getPhotos"]
    assert replay.calls[0].params["group_id"] == "31849566@N00"


# ---------------------------------------------------------------- hostile feed URLs

FUZZ_PATHS = ["photos_public.gne", "groups_pool.gne", "photos_faves.gne", "photoset.gne", "photos_friends.gne",
              "geo/", "geo/Zrenjanin", "groups_discuss.gne", "nope.gne", "photos_public.gne/x"]
FUZZ_ARGS = ["id", "ids", "g", "tags", "tagmode", "nsid", "set", "user_id", "friends", "display_all", "lang",
             "format", "bbox", "size", "jsoncallback", "nojsoncallback", "page", "api_key"]
FUZZ_VALUES = [*FEED_FORMATS, "php", "31849566@N00", "32162360@N00", "72157624715342071", "91178292@N00",
               "sunset", "botany,sunset", "all", "any", "1", "en-us", "-180,-90,180,90", "z", "cb", "x" * 9000]


def test_fuzzed_feed_urls(recorded_library):
    """Hypothesis over feed paths and arguments: never a 5xx but 503, every 4xx with X-FlickrErr*,
    every 200 read by its consumer."""
    from urllib.parse import quote as q

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from support import count_cases
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    from gateway import create_app

    app = create_app({"LIBRARY_PATH": recorded_library.path, "DEMO": 0})
    text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=30)
    pair = st.tuples(st.one_of(st.sampled_from(FUZZ_ARGS), text), st.one_of(st.sampled_from(FUZZ_VALUES), text))

    @settings(deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
    @given(path=st.sampled_from(FUZZ_PATHS), pairs=st.lists(pair, max_size=5), verb=st.sampled_from(["GET", "HEAD"]))
    def one(path, pairs, verb):
        count_cases("fuzz: public feed URLs (library)")
        environ = EnvironBuilder(path=FEED + path, method=verb).get_environ()
        environ["QUERY_STRING"] = "&".join(
            q(k.encode("utf-8", "surrogatepass"), safe="") + "=" + q(v.encode("utf-8", "surrogatepass"), safe="")
            for k, v in pairs)
        app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
        body, code, headers = b"".join(app_iter), int(status[:3]), dict(headers)
        assert code < 500 or code == 503, (code, body[:300])
        if code >= 400:
            assert headers.get("X-FlickrErrCode", "").isdigit() and headers.get("X-FlickrErrMessage"), headers
        if code == 200 and verb == "GET":
            kind = headers["Content-Type"].split(";")[0]
            if kind in ("application/json", "text/javascript"):
                match = JSONP.fullmatch(body)
                data = json.loads(match[2] if match else body)
                assert "items" in data or data.get("stat") == "fail"
            else:
                assert_readable(headers["Content-Type"], body)

    one()


def test_feeds_are_counted_and_repeats_answered_below_flask(client, upstream):
    """The metrics name the feeds' endpoint; a repeated feed URL is a FastHits answer, as an API URL is."""
    from prometheus_client.parser import text_string_to_metric_families

    def samples() -> dict[tuple, float]:
        text = client.get("/metrics").get_data(as_text=True)
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    before = samples()
    for _ in range(2):
        r = client.get(FEED + "photos_public.gne?tags=a")
        r.close()  # the access middleware records a request when its response is closed
        assert r.status_code == 200
    after = samples()

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("gateway_requests_total", endpoint="feeds", format="feed-atom_10", status="200") == 2
    assert delta("gateway_cache_results_total", result="miss") == 1
    assert delta("gateway_cache_results_total", result="fast") == 1
    assert len(upstream.calls) == 1


def test_feeds_of_local_photos_link_to_the_gateway(tmp_path):
    """The demo's photos are not on Flickr: a feed's link is the gateway's page, as the API's feeds do."""
    client = make_app(tmp_path, DEMO=1).test_client()
    for url in ("photos_public.gne?format=rss_200", "photos_public.gne?id=ines-duarte",
                "groups_pool.gne?id=21304834@L00"):
        parsed = feedparser.parse(client.get(FEED + url).data)
        assert parsed.bozo == 0 and parsed.entries, url
        assert parsed.feed.link.startswith("http://localhost/"), (url, parsed.feed.link)
        assert client.get(parsed.feed.link).status_code == 200


# ---------------------------------------------------------------- the programs that read Flickr's feeds in the wild


@pytest.mark.parametrize("fmt", ["", "rss_200", "rss_200_enc", "rss_100"])
def test_feed_urls_read_by_sfeed_perl_and_rapper(client, tmp_path, fmt):
    """sfeed, Perl's XML::Feed and (RSS 1.0) rapper read a .gne feed as the photos it holds (realconsumers.py)."""
    from pathlib import Path

    from realconsumers import need, need_perl, run

    page = recorded(SAMPLE)
    body = client.get(FEED + "groups_pool.gne?id=1@N00" + (f"&format={fmt}" if fmt else "")).data
    path = tmp_path / "feed.xml"
    path.write_bytes(body)
    titles = [p.title for p in page.photos]
    need("sfeed")
    rows = [line.split("\t") for line in run("sfeed", stdin=body).splitlines()]
    assert [r[1] for r in rows] == titles
    if fmt.startswith("rss_200"):
        assert all(r[7].endswith("_b.jpg") for r in rows)  # the enclosure a photo frame shows
    need("perl")
    need_perl("XML::Feed")
    script = Path(__file__).resolve().parent / "perl" / "read.pl"
    feed = json.loads(run("perl", str(script), "XML::Feed", str(path)))
    assert [_perl_text(i["title"]) for i in feed["items"]] == titles
    if fmt == "rss_100":
        need("rapper")
        triples = run("rapper", "-q", "-i", "rdfxml", "-o", "ntriples", str(path))
        assert triples.count("<http://purl.org/rss/1.0/item>") == len(titles)


def _perl_text(text: str) -> str:
    """XML::Feed's Atom reader (XML::Atom) hands back UTF-8 bytes as Latin-1 characters unless told
    $XML::Atom::ForceUnicode: undo that, for the comparison only."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text
