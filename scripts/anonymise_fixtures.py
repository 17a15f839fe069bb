#!/usr/bin/env python3
"""Make the test suite's copies of recorded Flickr responses, with people's text replaced.

    python scripts/anonymise_fixtures.py [SOURCE] [TARGET]
      SOURCE  default ../shared/fixtures/flickr   (real responses, kept outside the repository)
      TARGET  default tests/fixtures/flickr        (what the tests read; committed)

The recordings hold real people's titles, descriptions, names and tags. The copies
keep every id, secret, server, coordinate, date, size, count, URL of an image and
the whole structure byte for byte, and replace the text people wrote with
generated text of the same shape: each letter by a letter of the same script,
case and writing direction (so right-to-left stays right-to-left), each digit by
a digit; spaces, punctuation, emoji, control characters, HTML markup and entity
references stay where they were. So a copy is as long, as oddly escaped and as
hard to render as the original, and says nothing about anyone.

Replacements are a function of the original value (an HMAC keyed by a digest of
the whole source folder): the same owner name, path alias or tag becomes the same
text in every file (owners, albums and tags still line up across files), reruns
write identical files, and without the originals nobody can test a guessed name
against the copies. The tags a recorded call searched for (index.json's `tags`)
are kept, so the photos still match their call.

Replaced: photo title, ownername, realname, pathalias, tags, <description>;
gallery and album (photoset) title, description, ownername, username and the
name in a gallery's url. Kept: everything else, including Flickr's error messages.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import sys
import unicodedata
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "fixtures" / "flickr"
TARGET = ROOT / "tests" / "fixtures" / "flickr"

# Attributes holding people's text, by element, and how each is written.
# Names are one kind wherever they appear (an owner whose name is also their path alias keeps
# one replacement for both, in attributes and in flickr.com URLs alike).
ATTRIBUTES = {
    "photo": {"title": "text", "ownername": "name", "realname": "name", "pathalias": "name", "tags": "tags"},
    "photoset": {"title": "text", "ownername": "name", "username": "name"},
    "gallery": {"username": "name", "url": "url"},
}
# Text children holding people's text: (parent, child) -> kind.
CHILDREN = {("photo", "description"): "html", ("photo", "comment"): "html", ("photoset", "title"): "text",
            ("photoset", "description"): "html", ("gallery", "title"): "text", ("gallery", "description"): "html"}

# An XML entity or character reference in the raw file: kept as written unless the character it names changes.
RAW_TOKEN = re.compile(r"&(?:#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z]+);|.", re.S)
ATTRIBUTE = re.compile(r'\s([A-Za-z_]+)="([^"]*)"')
ELEMENT = re.compile(r"<([A-Za-z]+)\b[^>]*?(/?)>|</([A-Za-z]+)>")
# Within (decoded) HTML: tags, HTML entity references, and URLs in running text.
HTML_TOKEN = re.compile(r"<[^<>]*>|&(?:#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")
HTML_ATTRIBUTE = re.compile(r"""(\s[A-Za-z:-]+\s*=\s*)("[^"]*"|'[^']*'|[^\s"'>]+)""")
URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+")
# Parts of Flickr's and the web's URLs that name no one.
KEEP_HOSTS = ("flickr.com", "staticflickr.com", "flic.kr")
KEEP_SEGMENTS = frozenset({
    "photos", "people", "groups", "galleries", "gallery", "albums", "sets", "tags", "favorites", "pool", "in",
    "page", "map", "sizes", "with", "photolist", "show", "discuss", "services", "www", "http", "https", "html",
    "htm", "php", "jpg", "jpeg", "png", "gif", "com", "org", "net", "edu", "gov", "uk", "de", "fr",
})
LATIN = "abcdefghijklmnopqrstuvwxyz"
# Letters are drawn using a fixed Unicode version (Python keeps 3.2's tables beside its own):
# with the running Python's tables, a newer Python would write other copies.
UCD = unicodedata.ucd_3_2_0


def source_key(source: Path) -> bytes:
    """A digest of every source file: the replacements depend on the originals, not on anything guessable."""
    digest = hashlib.sha256()
    for path in sorted(source.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.digest()


class Anonymiser:
    def __init__(self, key: bytes, keep_tags: frozenset[str] = frozenset()):
        self.key = key
        self.keep_tags = keep_tags

    def rng(self, kind: str, value: str) -> random.Random:
        seed = hmac.new(self.key, f"{kind}\0{value}".encode(), hashlib.sha256).digest()
        return random.Random(seed)

    # ------------------------------------------------------------ characters

    @staticmethod
    def similar(c: str, rng: random.Random) -> str:
        """A character of the same kind: letter for letter (same case, script block and direction), digit for digit."""
        if c.isascii():
            if c.islower():
                return rng.choice(LATIN)
            if c.isupper():
                return rng.choice(LATIN.upper())
            if c.isdigit():
                return rng.choice("0123456789")
            return c
        category = UCD.category(c)
        if category[0] not in "LN" or category == "Nl":
            if unicodedata.category(c)[0] == "L":
                return "x"  # a letter newer than UCD's Unicode version: one fixed stand-in
            return c  # marks, emoji, symbols, punctuation, spaces, controls: the shape itself
        bidi = UCD.bidirectional(c)
        block = ord(c) & ~0x7F
        for _ in range(64):
            other = chr(block + rng.randrange(0x80))
            if UCD.category(other) == category and UCD.bidirectional(other) == bidi \
                    and not UCD.decomposition(other).startswith("<"):
                return other
        return c  # a lone letter with no sibling in its block (never seen in the recordings)

    def scramble(self, kind: str, value: str) -> str:
        """Every letter and digit of `value` replaced, the same way wherever `value` occurs."""
        rng = self.rng(kind, value)
        return "".join(self.similar(c, rng) for c in value)

    # ------------------------------------------------------------ kinds of text

    def name(self, value: str) -> str:
        return self.scramble("name", value)

    def text(self, value: str) -> str:
        """Plain text: URLs in it as URLs, the rest scrambled as one value."""
        out, last = [], 0
        for m in URL.finditer(value):
            out += [self.scramble("text", value[last:m.start()]) if m.start() > last else "", self.url(m.group())]
            last = m.end()
        out.append(self.scramble("text", value[last:]))
        return "".join(out)

    def url(self, value: str) -> str:
        """Scheme, Flickr's hosts and image paths, ids and Flickr's path words kept; other names replaced.

        A path segment is replaced whole, as `name` replaces a path alias, so that
        flickr.com/photos/{pathalias}/ in a description still names the photo's owner.
        """
        m = re.match(r"([A-Za-z]+://)?([^/?#]*)(.*)", value, re.S)
        scheme, host, rest = m.group(1) or "", m.group(2), m.group(3)
        bare = host.lower().split(":")[0]
        if bare == "staticflickr.com" or bare.endswith(".staticflickr.com"):
            return value  # an image: server, id and secret, no one's name
        if not any(bare == h or bare.endswith("." + h) for h in KEEP_HOSTS):
            host = ".".join(self.segment(part) for part in host.split("."))
        return scheme + host + re.sub(r"[^/?#&=;]+", lambda p: self.segment(p.group()), rest)

    def segment(self, part: str) -> str:
        if part.lower() in KEEP_SEGMENTS or part.isdigit() or re.fullmatch(r"\d+@N\d+", part):
            return part
        if "%" not in part:
            return self.name(part)
        rng = self.rng("name", part)  # %XX escapes stay escapes
        return "".join(p if p.startswith("%") else "".join(self.similar(c, rng) for c in p)
                       for p in re.split(r"(%[0-9A-Fa-f]{2})", part))

    def tags(self, value: str) -> str:
        return " ".join(t if t in self.keep_tags or not t else self.scramble("tag", t) for t in value.split(" "))

    def html(self, value: str) -> str:
        """Markup and entity references kept; href/src as URLs, other attribute values and text replaced."""
        out, last = [], 0
        for m in HTML_TOKEN.finditer(value):
            out += [self.text(value[last:m.start()]), self.tag(m.group())]
            last = m.end()
        out.append(self.text(value[last:]))
        return "".join(out)

    def tag(self, token: str) -> str:
        if not token.startswith("<"):
            return token  # an entity reference

        def attribute(m: re.Match) -> str:
            name, quoted = m.group(1), m.group(2)
            q = quoted[0] if quoted[0] in "\"'" else ""
            inner = quoted[1:-1] if q else quoted
            which = name.strip(" =").lower()
            if which in ("href", "src"):
                inner = self.url(inner)
            elif which in ("title", "alt"):  # words people wrote; rel, target, width… are the markup's own
                inner = self.text(inner)
            return name + q + inner + q

        return HTML_ATTRIBUTE.sub(attribute, token)

    def kind(self, kind: str, value: str) -> str:
        return getattr(self, kind)(value)


# ---------------------------------------------------------------- raw XML, rewritten in place


def rewrite_raw(raw: str, change) -> str:
    """Apply a length-preserving `change` to the decoded text of `raw`, keeping its references as written.

    `raw` is an attribute value or text node as it appears in the file ("a &amp; b"); its
    decoded text ("a & b") goes through `change`, which only swaps characters one for one,
    and each raw token is written back unchanged unless its character changed.
    """
    tokens = RAW_TOKEN.findall(raw)
    decoded = [unescape(t) if len(t) > 1 else t for t in tokens]
    if any(len(d) != 1 for d in decoded):
        raise ValueError(f"unexpected reference in {raw[:80]!r}")
    new = change("".join(decoded))
    assert len(new) == len(decoded), "replacements keep the length"
    out = []
    for token, old, c in zip(tokens, decoded, new, strict=True):
        if c == old:
            out.append(token)
        elif len(token) > 1:  # a character reference to a letter: write the new letter the same way
            out.append(f"&#x{ord(c):X};" if token.startswith("&#x") else f"&#{ord(c)};")
        else:
            out.append(c)
    return "".join(out)


def anonymise_xml(raw: str, anon: Anonymiser) -> str:
    """The recorded response with people's text replaced; every other byte as recorded."""
    def attribute(a: re.Match, element: str) -> str:
        kind = ATTRIBUTES.get(element, {}).get(a.group(1))
        if kind is None:
            return a.group()
        return f' {a.group(1)}="{rewrite_raw(a.group(2), lambda v: anon.kind(kind, v))}"'

    out, last, stack = [], 0, []
    for m in ELEMENT.finditer(raw):
        start, closing = m.group(1), m.group(3)
        # Text between the previous tag and this one: a child's text when the stack says so.
        text = raw[last:m.start()]
        if len(stack) >= 2 and (kind := CHILDREN.get((stack[-2], stack[-1]))) and text:
            text = rewrite_raw(text, lambda v, k=kind: anon.kind(k, v))
        out.append(text)
        tag = m.group()
        if start:
            tag = ATTRIBUTE.sub(lambda a, element=start: attribute(a, element), tag)
            if not m.group(2):
                stack.append(start)
        elif closing:
            stack.pop()
        out.append(tag)
        last = m.end()
    out.append(raw[last:])
    return "".join(out)


def build(source: Path, target: Path) -> list[str]:
    """Write the copies of every file of `source` into `target`; returns the names written."""
    index = json.loads((source / "index.json").read_text(encoding="utf-8"))
    keep = frozenset(t for e in index for t in e["params"].get("tags", "").split(",") if t)
    anon = Anonymiser(source_key(source), keep)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(source.glob("*.xml")):
        raw = path.read_bytes().decode("utf-8")
        (target / path.name).write_bytes(anonymise_xml(raw, anon).encode("utf-8"))
        written.append(path.name)
    for entry in index:  # the copies' own sizes; calls, counts and params as recorded
        entry["bytes"] = (target / entry["file"]).stat().st_size
    (target / "index.json").write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (target / "README.md").write_text(README, encoding="utf-8")
    return [*written, "index.json", "README.md"]


README = """\
# Recorded Flickr API responses, anonymised

Made by `scripts/anonymise_fixtures.py` from real `rest` responses of Flickr's
API (recorded by the Flickr Foundation's flickr-photos-api test suite): ids,
secrets, coordinates, dates, sizes, counts and structure as recorded; people's
titles, descriptions, names and tags replaced by generated text of the same
shape. Do not edit by hand: rerun the script (tests/test_fixture_copies.py
checks that these files are what it writes).

`index.json` lists every file with the call that produced it: `method`,
`params`, `photos`, `geotagged`, `bytes`.
"""


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else SOURCE
    target = Path(argv[2]) if len(argv) > 2 else TARGET
    if not (source / "index.json").is_file():
        print(f"anonymise_fixtures: no recordings at {source}", file=sys.stderr)
        return 2
    names = build(source, target)
    print(f"anonymise_fixtures: wrote {len(names)} files to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
