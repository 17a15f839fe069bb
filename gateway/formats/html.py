"""The entry HTML every format shows: credit, linked image, sanitised description.

Flickr's own feeds (2007-2019) used this shape:

    <p><a href="https://www.flickr.com/people/NSID/">Name</a> posted a photo:</p>
    <p><a href="PHOTO PAGE" title="TITLE"><img src="IMAGE" width="W" height="H" alt="TITLE" /></a></p>
    <p>Photo taken near Lisbon, Portugal.</p>      (the place the library named at import, if any)
    <p>DESCRIPTION</p>

The description is the photo owner's HTML and untrusted: it passes nh3
(an allowlist sanitiser) so no script, event handler or javascript: URL
reaches a feed reader.
"""

from __future__ import annotations

import re
from html import escape

import nh3

from ..model import LOCAL, Photo, Size, photo_page_url, profile_url
from ..safexml import clean
from .feed import medium

ALLOWED_TAGS = {
    "a", "abbr", "acronym", "b", "blockquote", "br", "cite", "code", "em", "i", "li", "ol", "p", "pre",
    "q", "s", "small", "strike", "strong", "sub", "sup", "u", "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "acronym": {"title"}}
BLOCK = re.compile(r"<(?:p|ul|ol|li|blockquote|pre)\b")
URL_SCHEMES = {"http", "https", "mailto"}
# One Cleaner built once: nh3.clean() converts the allowlists on every call,
# which cost 7 µs a photo before any HTML was parsed.
# Relative links in a description are relative to flickr.com, where it was written.
CLEANER = nh3.Cleaner(tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                      url_relative=("rewrite_with_base", "https://www.flickr.com/"),
                      link_rel="nofollow noopener")
# A local photo's description (EXIF) was written nowhere: a relative link in it points at nothing.
LOCAL_CLEANER = nh3.Cleaner(tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                            url_relative="deny", link_rel="nofollow noopener")


def sanitize(description: str, local: bool = False) -> str:
    """Safe HTML from a Flickr description (`local`: a local photo's); newlines become <br /> as on Flickr's pages."""
    if not description.strip():
        return ""
    text = clean(description)
    if "<" in text or "&" in text:
        safe = (LOCAL_CLEANER if local else CLEANER).clean(text)
    else:
        # Plain text (most descriptions) can hold no tag or entity: escaping is
        # all the sanitiser would do, at a twentieth of the cost.
        safe = escape(text, quote=False)
    return safe.strip().replace("\r\n", "\n").replace("\n", "<br />\n")


def entry_html(photo: Photo, description: str | None = None, img: Size | None = None) -> str:
    """The credit + linked image + description HTML of one photo.

    `description` is the already sanitised description, when the caller needs it too;
    `img` the image to show instead of the medium size (KML balloons show the thumbnail).
    """
    title = escape(photo.title)
    noun = "video" if photo.is_video else "photo"
    parts = [
        f'<p><a href="{escape(profile_url(photo))}">{escape(photo.author_name)}</a> posted a {noun}:</p>',
    ]
    img = img or medium(photo)
    if img is not None:
        dims = f' width="{img.width}" height="{img.height}"' if img.width and img.height else ""
        parts.append(
            f'<p><a href="{escape(photo_page_url(photo))}" title="{title}">'
            f'<img src="{escape(img.url)}"{dims} alt="{title}" /></a></p>'
        )
    place = photo.place
    if place:
        parts.append(f"<p>{noun.capitalize()} taken near {escape(place)}.</p>")
    if description is None:
        description = sanitize(photo.description, photo.server == LOCAL)
    if description:
        # A <p> cannot hold lists, quotes or paragraphs: HTML parsers (and the W3C validator) would split it.
        wrapper = "div" if BLOCK.search(description) else "p"
        parts.append(f"<{wrapper}>{description}</{wrapper}>")
    return "\n\n".join(parts)
