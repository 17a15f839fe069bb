"""RSS 2.0 / Atom / GeoRSS / GeoAtom read back by feedparser, the consumer feed readers are built on."""

from __future__ import annotations

import feedparser
import pytest
from lxml import etree
from support import FakeUpstream, make_app, recorded

from gateway.formats.feed import NS
from gateway.model import Page, Photo, Size

FEEDS = ["feed-rss_200", "feed-atom_10", "feed-georss", "feed-geoatom"]
SAMPLES = [
    "photos.search-19a6cc8272.xml",  # 9 of 10 geotagged, descriptions, originals
    "photosets.getPhotos-8e8f0147b5.xml",  # <photoset> wrapper, photos without owner
    "galleries.getPhotos-8a107f39a2.xml",  # is_primary / has_comment
    "people.getPublicPhotos-81825d53b3.xml",  # 370 photos, videos among them
]


def get(client, fmt, **args):
    return client.get("/services/rest/", query_string={"method": "flickr.photos.search", "format": fmt, **args})


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("fmt", FEEDS)
def test_feedparser_reads_every_entry(tmp_path, sample, fmt):
    page = recorded(sample)
    client = make_app(tmp_path, FakeUpstream(page), MAX_PER_PAGE=500).test_client()
    r = get(client, fmt, per_page="500")
    assert r.status_code == 200
    feed = feedparser.parse(r.data)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert len(feed.entries) == len(page.photos)
    for entry, photo in zip(feed.entries, page.photos, strict=True):
        assert entry.id == f"tag:flickr.com,2005:/photo/{photo.id}"
        assert entry.link == f"https://www.flickr.com/photos/{photo.pathalias or photo.owner}/{photo.id}/"
        assert entry.title == photo.title
        assert entry.published_parsed is not None
        enclosures = [link for link in entry.links if link.rel == "enclosure"]
        assert len(enclosures) == 1
        if photo.media == "video":
            assert enclosures[0].type == "video/mp4"
            assert enclosures[0].href.endswith(f"/{photo.id}/play/site/{photo.secret}/")
        else:
            assert enclosures[0].type == "image/jpeg"
            assert photo.id in enclosures[0].href
        terms = [t.term for t in entry.get("tags", [])]
        separate = photo.tags[:20] if fmt.startswith("feed-geo") else photo.tags
        # Each tag its own, no space-joined junk tag; GIS tools: at most 20 tag columns.
        assert terms == list(separate)
        if photo.tags and fmt.startswith("feed-geo"):  # and all of them once, where readers do not look
            assert entry["flickr_tags"] == " ".join(photo.tags)
        if fmt.startswith("feed-geo"):
            if photo.geotagged:
                lat, lon = entry.where["coordinates"][1], entry.where["coordinates"][0]
                assert (round(lat, 5), round(lon, 5)) == (round(photo.latitude, 5), round(photo.longitude, 5))
            else:
                assert "where" not in entry


@pytest.mark.parametrize("fmt", ["feed-rss_200", "feed-georss"])
def test_rss_media_elements_for_photo_frames(tmp_path, fmt):
    page = recorded("photos.search-19a6cc8272.xml")
    client = make_app(tmp_path, FakeUpstream(page)).test_client()
    root = etree.fromstring(get(client, fmt).data)
    items = root.findall("channel/item")
    assert len(items) == 10
    for item, photo in zip(items, page.photos, strict=True):
        content = item.findall("media:content", NS)
        assert len(content) == 1 and item.find("media:group", NS) is None
        large = next(s for s in photo.sizes if s.suffix == "b")
        assert content[0].get("url") == large.url
        assert (content[0].get("width"), content[0].get("height")) == (str(large.width), str(large.height))
        assert content[0].get("medium") == "image"
        (enclosure,) = item.findall("enclosure")
        assert enclosure.get("url") == large.url and enclosure.get("length") == "0"
        thumb = item.find("media:thumbnail", NS)
        assert thumb.get("url").endswith("_s.jpg") and thumb.get("width") == "75"
        assert item.find("media:credit", NS).text == photo.ownername
        assert item.find("guid").get("isPermaLink") == "false"


@pytest.mark.parametrize(("size", "suffix"), [("z", "_z.jpg"), ("b", "_b.jpg"), ("o", "_o.jpg")])
def test_size_argument_picks_the_enclosure(tmp_path, size, suffix):
    page = recorded("photos.search-19a6cc8272.xml")
    client = make_app(tmp_path, FakeUpstream(page)).test_client()
    feed = feedparser.parse(get(client, "feed-rss_200", size=size).data)
    photo = page.photos[1]  # this one has originalsecret/originalformat
    assert photo.originalsecret
    assert feed.entries[1].enclosures[0].href.endswith(suffix)


def test_size_falls_back_to_the_largest_known_rendition(tmp_path):
    # No url_h extra and h needs a secret of its own: the frame gets b instead of a broken link.
    page = recorded("photos.search-19a6cc8272.xml")
    client = make_app(tmp_path, FakeUpstream(page)).test_client()
    feed = feedparser.parse(get(client, "feed-rss_200", size="h").data)
    assert feed.entries[0].enclosures[0].href.endswith("_b.jpg")


def test_original_without_permission_falls_back(tmp_path):
    page = recorded("photos.search-19a6cc8272.xml")
    client = make_app(tmp_path, FakeUpstream(page)).test_client()
    feed = feedparser.parse(get(client, "feed-rss_200", size="o").data)
    assert not page.photos[0].originalsecret
    assert feed.entries[0].enclosures[0].href.endswith("_b.jpg")


HOSTILE_TITLE = "<b>&\"Tom's\"</b> \x01\x0b 🦊"
HOSTILE_DESCRIPTION = (
    '<script>alert(1)</script><a href="javascript:alert(2)" onclick="x()">click</a>'
    '<img src=x onerror="alert(3)"> ]]> &amp; \x00\x1f\ud800 🦊 ' + "long " * 1000
)


def hostile_page() -> Page:
    photo = Photo(
        id="1234567890", owner="12345@N00", secret="abc", server="65535", farm=66, title=HOSTILE_TITLE,
        description=HOSTILE_DESCRIPTION, ownername="<i>Ow&ner</i>", dateupload=1700000000,
        datetaken="2023-01-02 03:04:05", tags=("a&b", "<tag>"), latitude=0.0, longitude=10.5, accuracy=16,
        sizes=(Size("b", "https://live.staticflickr.com/65535/1234567890_abc_b.jpg?x=1&y=2", 1024, 768),),
    )
    return Page((photo,), total=1)


@pytest.mark.parametrize("fmt", FEEDS)
def test_hostile_photo_still_parses_and_carries_no_script(tmp_path, fmt):
    client = make_app(tmp_path, FakeUpstream(hostile_page())).test_client()
    r = get(client, fmt)
    assert r.status_code == 200
    etree.fromstring(r.data)  # well-formed
    feed = feedparser.parse(r.data)
    assert feed.bozo == 0, feed.get("bozo_exception")
    (entry,) = feed.entries
    assert entry.title == "<b>&\"Tom's\"</b>  🦊"  # control characters stripped, text kept
    html = entry.get("content", [{}])[0].get("value", "") or entry.summary
    for bad in ("<script", "javascript:", "onerror", "onclick", "\x00", "\x01"):
        assert bad not in html
        assert bad.encode() not in r.data
    assert "click" in html and "🦊" in html and html.count("long") == 1000
    if fmt.startswith("feed-geo"):  # latitude 0 with accuracy 16 is a real place
        assert entry.where["coordinates"] == (10.5, 0.0)


def test_pagination_element(tmp_path):
    page = recorded("groups.pools.getPhotos-a0ebda947a.xml")  # 100 photos
    client = make_app(tmp_path, FakeUpstream(page)).test_client()
    for fmt, path in (("feed-rss_200", "channel/flickr:pagination"), ("feed-atom_10", "flickr:pagination")):
        root = etree.fromstring(get(client, fmt, per_page="40", page="2").data)
        el = root.find(path, NS)
        assert dict(el.attrib) == {"total": "100", "page": "2", "pages": "7", "per_page": "15"}


def test_feed_level_elements(tmp_path):
    page = recorded("photos.search-19a6cc8272.xml")
    client = make_app(tmp_path, FakeUpstream(page)).test_client()
    first = get(client, "feed-atom_10", tags="sunset", api_key="secret-key")
    feed = feedparser.parse(first.data).feed
    assert feed.title == "Photos tagged sunset"
    assert feed.link == "https://www.flickr.com/photos/tags/sunset/"
    self_link = next(link.href for link in feed.links if link.rel == "self")
    assert self_link.startswith("http://localhost/services/rest/?method=flickr.photos.search&tags=sunset")
    assert "secret-key" not in first.data.decode()
    assert feed.updated == "2023-08-01T04:18:19Z"  # the newest photo, not now
    second = get(client, "feed-atom_10", tags="sunset", page="1")
    assert feedparser.parse(second.data).feed.id == feed.id  # stable across requests and pages


def test_empty_page_is_a_valid_feed(tmp_path):
    client = make_app(tmp_path, FakeUpstream(Page(()))).test_client()
    for fmt in FEEDS:
        r = get(client, fmt)
        assert r.status_code == 200
        assert feedparser.parse(r.data).bozo == 0
