"""Date taken (formats/taken.py): the camera's clock with the offset of its place on that date."""

from __future__ import annotations

import pytest

from gateway.formats.taken import taken_local, taken_w3c
from gateway.model import Photo

TOKYO, DENVER, SEA = (35.6586, 139.7454), (39.7392, -104.9903), (1.5, 2.5)


def photo(taken: str, place: tuple[float, float] | None) -> Photo:
    lat, lon = place or (0.0, 0.0)
    return Photo(id="1", datetaken=taken, latitude=lat, longitude=lon, accuracy=16 if place else 0)


@pytest.mark.parametrize("taken,place,expected", [
    ("2023-07-22 08:15:00", TOKYO, "2023-07-22T08:15:00+09:00"),
    ("2023-07-22 08:15:00", DENVER, "2023-07-22T08:15:00-06:00"),  # summer time
    ("2023-01-10 07:00:00", DENVER, "2023-01-10T07:00:00-07:00"),  # winter
    ("1880-05-01 12:00:00", TOKYO, "1880-05-01T12:00:00"),  # local mean time +09:18:59: not writable, so none
    ("2023-07-22 08:15:00", SEA, "2023-07-22T08:15:00"),  # only nautical zones at sea: no offset claimed
    ("2023-07-22 08:15:00", None, "2023-07-22T08:15:00"),  # no place: never an invented offset
    ("0000-00-00 00:00:00", TOKYO, ""),
    ("2023-02-30 10:00:00", TOKYO, ""),
])
def test_offset_of_the_place_on_that_date(taken, place, expected):
    assert taken_w3c(photo(taken, place)) == expected
    assert taken_local(photo(taken, place)) == expected[:19]
