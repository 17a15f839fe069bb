"""Whatever text a photo holds, every format stays readable (hypothesis).

The renderers write XML as text through one escaping step (formats/feed.py),
so this is the property that matters: no title, description, owner name or
tag can make a document malformed, and text comes back as it went in (less
the characters XML 1.0 forbids).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.formats import FORMATS
from gateway.formats.feed import FeedContext
from gateway.model import Page, Photo, Size
from gateway.safexml import clean

CTX = FeedContext(method="flickr.photos.search", args={"tags": "x"}, title="T & <t>", link="https://x/?a=1&b=2",
                  self_url="https://gw/services/rest/?a=1&b=2", feed_id="tag:gw,2026:/a", kml_url="https://gw/?k=1&f=2",
                  extras=frozenset({"description", "tags", "owner_name", "geo"}))
text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=300)  # surrogates and controls too
tag = st.text(alphabet=st.characters(blacklist_categories=(), blacklist_characters=" "), min_size=1, max_size=20)


@st.composite
def photos(draw) -> Photo:
    return Photo(
        id=str(draw(st.integers(1, 10**12))), owner=draw(text), secret="abc", server="65535",
        title=draw(text), description=draw(text), ownername=draw(text), tags=tuple(draw(st.lists(tag, max_size=30))),
        dateupload=draw(st.integers(0, 2**31)), datetaken=draw(st.sampled_from(["", "2023-02-30 00:00:00",
                                                                               "2021-06-04 22:41:38"])),
        latitude=draw(st.floats(-90, 90)), longitude=draw(st.floats(-180, 180)), accuracy=draw(st.integers(0, 16)),
        media=draw(st.sampled_from(["photo", "video"])), license=draw(st.sampled_from(["0", "4", "7", "99"])),
        sizes=(Size("b", "https://live.staticflickr.com/1/1_a_b.jpg?x=1&y=" + draw(st.text(max_size=5)), 1024, 768),),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(photo=photos())
def test_every_format_stays_well_formed(photo):
    page = Page((photo,), total=1, perpage=15)
    for name, fmt in FORMATS.items():
        body = fmt.render(page, CTX)
        if name in ("json", "feed-geojson"):
            json.loads(body)
            continue
        root = etree.fromstring(body)  # raises on a malformed document
        if name in ("feed-atom_10", "feed-geoatom"):
            title = root.findtext("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}title")
            assert title == clean(photo.title).replace("\r\n", "\n").replace("\r", "\n"), name
        if name in ("feed-rss_200", "feed-georss"):
            assert root.findtext("channel/item/title") == clean(photo.title).replace("\r\n", "\n").replace("\r", "\n")


def test_lone_surrogates_and_controls_in_every_format():
    photo = Photo(id="1", title="a\ud800b\x01", owner="o\udfff", ownername="\x0b", tags=("x\ud800",),
                  description="<p>\ufffe]]></p>")
    page = Page((photo,), total=1, perpage=15)
    for name, fmt in FORMATS.items():
        body = fmt.render(page, CTX)
        body.decode("utf-8")
        if name not in ("json", "feed-geojson"):
            etree.fromstring(body)
