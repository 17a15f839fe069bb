"""Safe XML in one place: the hardened parser for anything from outside, and
the cleaning step every piece of outside text passes before it enters XML or HTML."""

from __future__ import annotations

import re

from lxml import etree

# No entity expansion, no DTD loading, no network, no multi-gigabyte trees:
# a recorded Flickr response never needs any of them.
PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False, dtd_validation=False
)

# XML 1.0 allows TAB, LF, CR and these ranges; everything else (C0 controls,
# lone surrogates, U+FFFE/FFFF) would make the document unreadable. DEL, the
# C1 controls and the noncharacters U+FDD0-FDEF are allowed but "discouraged"
# (XML 1.0 section 2.2): HTML parsers and feed validators reject them, and no
# photo text needs them.
_ILLEGAL = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufdcf\ufdf0-\ufffd\U00010000-\U0010ffff]")


REFUSED = "XML with a DOCTYPE or entity declarations is refused"


class UnsafeXML(ValueError):
    """The document is not one we are willing to parse (DTD, entities, not XML)."""


def clean(text: object) -> str:
    """Text with every character XML 1.0 forbids removed (None becomes '')."""
    if text is None:
        return ""
    return _ILLEGAL.sub("", str(text))


def parse(data: bytes) -> etree._Element:
    """Parse outside XML with the hardened parser; refuse anything with a DOCTYPE.

    A DOCTYPE is how billion-laughs and external-entity attacks start; Flickr
    never sends one, so its presence alone is reason to refuse the document.
    """
    head = data[:4096].lstrip()
    if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in data.upper():
        raise UnsafeXML(REFUSED)
    try:
        root = etree.fromstring(data, PARSER)
    except etree.XMLSyntaxError as exc:
        raise UnsafeXML(f"not well-formed XML: {exc}") from None
    if root is None:
        raise UnsafeXML("empty document")
    # The byte check above misses a DOCTYPE in UTF-16, or after 4 KB of comments; the
    # parser expanded and fetched nothing even then, but the document is refused all the same.
    if root.getroottree().docinfo.doctype:
        raise UnsafeXML(REFUSED)
    return root
