"""The replay server answers like Flickr's REST endpoint (so the upstream tests test the upstream)."""

from __future__ import annotations

import json

import requests
from replay import Fault

PHOTOSET = {"method": "flickr.photosets.getPhotos", "photoset_id": "72157624715342071", "user_id": "91178292@N00",
            "page": "1", "per_page": "10"}


def test_rest_is_the_recorded_xml_from_a_query_string(replay):
    response = requests.get(replay.url, params={**PHOTOSET, "format": "rest", "extras": "anything"}, timeout=5)
    assert response.headers["Content-Type"].startswith("text/xml")
    assert b'<photoset id="72157624715342071"' in response.content
    assert replay.calls[0].verb == "GET" and replay.calls[0].recording.file == "photosets.getPhotos-8e8f0147b5.xml"


def test_json_has_flickrs_shape_and_wrapper(replay):
    response = requests.post(replay.url, data={**PHOTOSET, "format": "json"}, timeout=5)
    text = response.text
    assert text.startswith("jsonFlickrApi(") and text.endswith(")")
    data = json.loads(text[len("jsonFlickrApi("):-1])
    assert data["stat"] == "ok"
    photoset = data["photoset"]
    assert (photoset["page"], photoset["perpage"], photoset["total"]) == (1, 10, "42")
    photo = photoset["photo"][0]
    assert photo["farm"] == 5 and isinstance(photo["id"], str)
    assert set(photo["description"]) == {"_content"}
    bare = requests.post(replay.url, data={**PHOTOSET, "format": "json", "nojsoncallback": "1"}, timeout=5)
    assert bare.json() == data


def test_an_empty_page_still_has_a_photo_array(replay):
    call = {"method": "flickr.people.getPublicPhotos", "user_id": "39758725@N03", "page": "3", "per_page": "500"}
    data = requests.post(replay.url, data={**call, "format": "json", "nojsoncallback": "1"}, timeout=5).json()
    assert data == {"photos": {"page": 3, "pages": 2, "perpage": 500, "total": "870", "photo": []}, "stat": "ok"}


def test_unknown_calls_and_recorded_failures_fail_like_flickr(replay):
    unknown = requests.post(replay.url, data={"method": "flickr.groups.pools.getPhotos", "group_id": "nope",
                                              "format": "json", "nojsoncallback": "1"}, timeout=5).json()
    assert (unknown["stat"], unknown["code"]) == ("fail", 1) and unknown["message"]
    recorded = requests.post(replay.url, data={
        "method": "flickr.galleries.getPhotos", "gallery_id": "12345678901234567890", "get_gallery_info": "1",
        "page": "1", "per_page": "10", "format": "json", "nojsoncallback": "1"}, timeout=5).json()
    assert recorded == {"stat": "fail", "code": 1, "message": "Invalid gallery ID"}


def test_faults_apply_the_given_number_of_times(replay):
    replay.inject(Fault.http(500), times=1)
    first = requests.post(replay.url, data={**PHOTOSET, "format": "rest"}, timeout=5)
    second = requests.post(replay.url, data={**PHOTOSET, "format": "rest"}, timeout=5)
    assert (first.status_code, second.status_code) == (500, 200)
    assert len(replay.calls) == 2
