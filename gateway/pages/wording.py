"""The API's errors in words a person understands (the page keeps Flickr's code
and message visible beside them, for whoever reports the problem).

Flickr's codes mean different things per method (1 is "Group not found" for a
pool and "User not found" for a person), so the message decides first, then
the code; anything unknown falls back to a sentence that points at Flickr's own words.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import errors
from ..errors import FlickrError
from ..methods import METHODS
from .form import FIELDS

# Flickr's message (lower case, without a final full stop) → a sentence; {source}
# is "the photo library" or "Flickr", whichever answered.
BY_MESSAGE = {
    "group not found": "No group with that id is in {source}. Group ids look like 31849566@N00.",
    "you don't have permission to view this pool": "That group's pool is private, or {source} does not hold it.",
    "user not found": "No person with that id or name is in {source}. Ids look like 32162360@N00.",
    "unknown user": "No person with that id or name is in {source}. Ids look like 32162360@N00.",
    "photoset not found": "No album with that id is in {source}.",
    "invalid gallery id": "No gallery with that id is in {source}.",
    "panda not found": "Flickr's pandas are Ling Ling, Hsing Hsing and Wang Wang; choose one of them.",
    "invalid bbox": "The box must be four numbers separated by commas (west, south, east, north), "
                    "longitudes from -180 to 180 and latitudes from -90 to 90, south below north.",
    "invalid latitude": "The latitude must be a number from -90 (south pole) to 90 (north pole).",
    "invalid longitude": "The longitude must be a number from -180 (west) to 180 (east).",
    "invalid radius": "The radius must be a number of kilometres, more than 0 and at most 32.",
    "invalid date": "Give dates as YYYY-MM-DD, YYYY-MM-DD HH:MM:SS or a Unix time.",
    "not a valid date string": "Give the day as YYYY-MM-DD.",
    "invalid sort": "Choose one of the orders offered.",
    "invalid license": "Licenses are numbers separated by commas.",
    "invalid media": "Media must be all, photos or videos.",
    "invalid text": "The text could not be searched for; try other words.",
    "too many tags in all query": "With \u201call of the tags\u201d, give at most 20 tags.",
}
BY_CODE = {
    errors.FORMAT_NOT_FOUND: "That is not a format this gateway offers; choose one from the list.",
    errors.METHOD_NOT_FOUND: "There is no such method here; choose one from the list.",
    errors.INVALID_API_KEY: "This gateway asks for an API key, and the one given is missing or unknown. "
                            "Ask whoever runs the gateway for one.",
    errors.SERVICE_UNAVAILABLE: "The photos could not be fetched: the source did not answer in time. "
                                "Try again in a minute.",
    errors.BAD_URL: "The address is too long; use fewer or shorter values.",
    99: "This method lists a logged-in Flickr member's own photos, which a public feed cannot do; "
        "choose another method.",
}
# Not found in the library: the owner of the gateway can look the ids up (issue 12: a newcomer
# guessed user_id=32162360@N00 from the example, and the page said only what ids look like).
NOT_IN_LIBRARY = {"group not found", "user not found", "unknown user", "photoset not found", "invalid gallery id"}
LIBRARY_LIST = " On the gateway's machine, \u201cflickr-gateway library list\u201d shows the ids it holds."
NOT_A_PHOTO_LIST = "That Flickr method does not return a list of photos, so it cannot become a feed; " \
                   "choose one from the list."


def explain(err: FlickrError, args: Mapping[str, str], source: str) -> str:
    """One or two sentences saying what is wrong with the call and what to do."""
    method = METHODS.get(args.get("method", ""))
    if method is not None and err.code not in (errors.INVALID_API_KEY, errors.FORMAT_NOT_FOUND):
        missing = [FIELDS[name].label if name in FIELDS else name
                   for name in method.required if not args.get(name, "").strip()]
        if missing:
            return f"This kind of feed needs: {', '.join(missing)}. Fill in that field."
    message = err.message.strip().rstrip(".").lower()
    if err.code == errors.METHOD_NOT_FOUND and " is not available " in message:
        return NOT_A_PHOTO_LIST
    if message.startswith("invalid size"):
        return "Choose one of the image sizes offered."
    if message in BY_MESSAGE:
        hint = LIBRARY_LIST if message in NOT_IN_LIBRARY and source == "the photo library" else ""
        return BY_MESSAGE[message].format(source=source) + hint
    if err.code in BY_CODE:
        return BY_CODE[err.code]
    return f"{source[0].upper()}{source[1:]} refused this call; its own words are below."
