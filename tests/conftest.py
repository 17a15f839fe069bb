import pytest

# ---------------------------------------------------------------- Flickr replay (issue 4)
# A local server standing in for Flickr's REST endpoint: see tests/replay.py.
from replay import Replay


@pytest.fixture
def replay():
    with Replay() as server:
        yield server
