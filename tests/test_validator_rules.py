"""Rules of the W3C Feed Validation Service that our feeds must keep.

The validator cannot run here (it is not packaged); these are the rules it
applies that our output once broke, each checked with the parser or regex
the validator itself uses (email.utils for RSS authors, html5lib-like
structure for descriptions, its tag-URI and W3CDTF patterns).
"""

from __future__ import annotations

import re
from email.utils import getaddresses

from lxml import etree
from support import FakeUpstream, make_app, recorded

from gateway.formats import FORMATS
from gateway.formats.feed import NS, FeedContext
from gateway.formats.html import entry_html
from gateway.model import Page, Photo

CTX = FeedContext(method="flickr.photos.search", args={}, title="t", link="https://www.flickr.com/photos/",
                  self_url="http://localhost/services/rest/?a=1", feed_id="tag:localhost,2026:/a",
                  kml_url="http://localhost/?f=1")
# feedvalidator validators.py: W3CDTF with a zone whenever a time is given.
W3CDTF = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)")


def render(fmt: str, *photos: Photo) -> etree._Element:
    return etree.fromstring(FORMATS[fmt].render(Page(photos, total=len(photos), perpage=15), CTX))


def test_rss_author_stays_one_address_whatever_the_name():
    photo = Photo(id="1", owner="1@N00", ownername="Bob :) (the \\ one", dateupload=1)
    author = render("feed-rss_200", photo).findtext("channel/item/author")
    (address,) = getaddresses([author])
    assert address[1] == "nobody@flickr.com"


def test_no_media_license_but_creative_commons_for_every_licence_url():
    root = render("feed-rss_200", Photo(id="1", license="7", dateupload=1), Photo(id="2", license="4", dateupload=1))
    assert root.find(".//media:license", NS) is None
    assert [e.text for e in root.iterfind(".//creativeCommons:license", NS)] == [
        "https://www.flickr.com/commons/usage/", "https://creativecommons.org/licenses/by/2.0/"]
    assert root.nsmap["creativeCommons"] == "http://backend.userland.com/creativeCommonsRssModule"
    assert root.findtext("channel/docs") == "http://www.rssboard.org/rss-specification"


def test_empty_feeds_carry_a_plausible_stable_date():
    for fmt, path in (("feed-atom_10", "atom:updated"), ("feed-rss_200", "channel/pubDate"),
                      ("feed-rss_100", "rss:channel/dc:date")):
        text = render(fmt).findtext(path, namespaces={**NS, "rss": NS["rss"]})
        assert "2008" in text, (fmt, text)


def test_kml_when_has_the_zone_of_the_place_and_placemarks_have_ids():
    photo = Photo(id="42", datetaken="2021-06-04 22:41:38", latitude=35.6586, longitude=139.7454, accuracy=16)
    placemark = render("feed-kml", photo).find(".//kml:Placemark", NS)
    assert placemark.get("id") == "photo42"
    when = placemark.findtext("kml:TimeStamp/kml:when", namespaces=NS)
    assert W3CDTF.fullmatch(when) and when == "2021-06-04T22:41:38+09:00"
    # At sea there is no civil zone to take: the camera's clock, zone-less (xsd:dateTime allows it).
    at_sea = Photo(id="43", datetaken="2021-06-04 22:41:38", latitude=1.5, longitude=2.5, accuracy=16)
    assert render("feed-kml", at_sea).findtext(".//kml:when", namespaces=NS) == "2021-06-04T22:41:38"


def test_network_link_has_only_elements_the_validator_knows():
    link = render("feed-kml_nl").find(".//kml:NetworkLink", NS)
    assert link.find("kml:refreshVisibility", NS) is None


def test_description_html_nests_properly_and_links_absolutely():
    photo = Photo(id="1", description='<ul><li>one</li></ul><a href="/photos/x/">rel</a>', dateupload=1)
    html = entry_html(photo)
    assert "<div><ul><li>one</li></ul>" in html and "<p><ul>" not in html
    assert 'href="https://www.flickr.com/photos/x/"' in html
    assert entry_html(Photo(id="2", description="plain words")).endswith("<p>plain words</p>")


def test_links_built_from_arguments_are_valid_uris(tmp_path):
    client = make_app(tmp_path, FakeUpstream(recorded("photos.search-19a6cc8272.xml"))).test_client()
    r = client.get("/services/rest/", query_string={"method": "flickr.tags.getClusterPhotos", "tag": "new york",
                                                    "cluster_id": "a-b", "format": "feed-rss_200"})
    link = etree.fromstring(r.data).findtext("channel/link")
    assert " " not in link and link == "https://www.flickr.com/photos/tags/newyork/"


def test_self_link_is_the_request_url_for_a_typical_request(tmp_path):
    # The validator warns when the self link differs from the URL it fetched.
    client = make_app(tmp_path, FakeUpstream(recorded("photos.search-19a6cc8272.xml"))).test_client()
    for query in ("method=flickr.photos.search&tags=sunset&format=feed-rss_200",
                  "method=flickr.groups.pools.getPhotos&group_id=31849566@N00&format=feed-atom_10",
                  "method=flickr.photos.search&bbox=-0.5,51.3,0.3,51.7&has_geo=1&format=feed-georss&size=h"):
        r = client.get("/services/rest/?" + query)
        root = etree.fromstring(r.data)
        self_link = next(el.get("href") for el in root.iter("{http://www.w3.org/2005/Atom}link")
                         if el.get("rel") == "self")
        assert self_link == "http://localhost/services/rest/?" + query


def test_atom_id_authority_is_a_lower_case_dns_name(tmp_path):
    client = make_app(tmp_path, FakeUpstream()).test_client()
    for host, authority in (("Example.ORG:8080", "example.org"), ("[::1]:8000", "localhost")):
        r = client.get("/services/rest/?method=flickr.photos.getRecent&format=feed-atom_10", headers={"Host": host})
        feed_id = etree.fromstring(r.data).findtext("{http://www.w3.org/2005/Atom}id")
        assert re.fullmatch(rf"tag:{re.escape(authority)},2026:/services/rest/\?\S+", feed_id), feed_id
