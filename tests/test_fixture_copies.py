"""The recorded Flickr responses the tests read: anonymised copies, current, and all a fresh clone needs.

tests/fixtures/flickr/ is written by scripts/anonymise_fixtures.py from ../shared/fixtures/flickr/
(real responses, which stay outside the repository). Where the originals are beside the
repository, the copies must be exactly what the script writes from them and must keep
everything but people's text; a clone with nothing beside it must still collect the suite.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
ORIGINALS = ROOT.parent / "shared" / "fixtures" / "flickr"
COPIES = Path(__file__).resolve().parent / "fixtures" / "flickr"
needs_originals = pytest.mark.skipif(not (ORIGINALS / "index.json").is_file(),
                                     reason="no ../shared/fixtures/flickr beside the repository")
SEARCHED = {"sunset", "botany"}  # the tags recorded calls searched for: kept, so photos match their call


def script():
    spec = importlib.util.spec_from_file_location("anonymise_fixtures", ROOT / "scripts" / "anonymise_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def letters(value: str) -> int:
    return sum(c.isalpha() for c in value)


def shape(value: str) -> list[tuple[str, str]]:
    """What must survive anonymising: each character's general category and direction (letters' exact case too)."""
    return [(unicodedata.category(c), unicodedata.bidirectional(c)) for c in value]


@needs_originals
def test_the_copies_are_what_the_script_writes(tmp_path):
    script().build(ORIGINALS, tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in COPIES.iterdir()), "run: python scripts/anonymise_fixtures.py"
    stale = [name for name in written if (tmp_path / name).read_bytes() != (COPIES / name).read_bytes()]
    assert not stale, f"stale copies {stale[:5]}: run python scripts/anonymise_fixtures.py"


@needs_originals
def test_the_copies_keep_everything_but_peoples_text():
    anon = script()
    names: set[str] = set()
    replaced = 0
    for original in sorted(ORIGINALS.glob("*.xml")):
        copy = COPIES / original.name
        a, b = etree.parse(str(original)).getroot(), etree.parse(str(copy)).getroot()
        pairs = list(zip(a.iter(), b.iter(), strict=True))
        for x, y in pairs:
            assert (x.tag, sorted(x.attrib)) == (y.tag, sorted(y.attrib)), original.name
            people = anon.ATTRIBUTES.get(x.tag, {})
            for key, value in x.attrib.items():
                if key not in people:
                    assert y.get(key) == value, (original.name, x.tag, key)
                    continue
                assert shape(y.get(key)) == shape(value), (original.name, key, value, y.get(key))
                if letters(value) >= 4 and key != "url" and not (key == "tags" and set(value.split()) <= SEARCHED):
                    assert y.get(key) != value, (original.name, key)
                    replaced += 1
                if key in ("ownername", "realname", "pathalias", "username"):
                    names.update(w.lower() for w in re.findall(r"\w{7,}", value) if not w.isdigit())
            parent = x.getparent()
            if parent is not None and (parent.tag, x.tag) in anon.CHILDREN:
                assert shape(y.text or "") == shape(x.text or ""), (original.name, x.tag)
                if letters(x.text or "") >= 4:
                    assert y.text != x.text, (original.name, x.tag)
            else:
                assert y.text == x.text, (original.name, x.tag)
    assert replaced > 5000
    # No owner's name, real name, alias or username (words of 7 letters or more) is left anywhere in the copies.
    words = {w.lower() for p in COPIES.glob("*.xml") for w in re.findall(r"\w{7,}", p.read_text(encoding="utf-8"))}
    left = sorted(names & words)
    assert not left, left[:10]


# Words of the recordings that the project names for its own reasons: a demo landmark, the recordings' source.
OWN_WORDS = {"Mandalay, Myanmar", "Flickr Foundation"}


@needs_originals
def test_no_file_of_the_repository_quotes_the_people_of_the_recordings():
    """Comments, docs and hand-written test data quote the copies, never the originals."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    people: set[str] = set()
    for original in ORIGINALS.glob("*.xml"):
        for el in etree.parse(str(original)).getroot().iter():
            names = (el.get(k) or "" for k in ("ownername", "realname", "pathalias", "username"))
            people.update(v for v in names if len(v) >= 6)
            if el.tag == "gallery" and el.get("url"):
                people.add(el.get("url").rstrip("/").split("/")[-3])
            people.update(t for t in (el.get("title"), el.text if el.tag == "title" else None) if t and len(t) >= 12)
    wanted = [(p, set(re.findall(r"\w+", p))) for p in people - OWN_WORDS if re.search(r"\w", p)]
    quoted = {}
    for name in listed.stdout.split():
        if name.startswith("tests/fixtures/") or not (ROOT / name).is_file():
            continue
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        words = set(re.findall(r"\w+", text))  # a cheap sieve before the exact search
        found = [p for p, need in wanted
                 if need <= words and re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text)]
        if found:
            quoted[name] = sorted(found)[:3]
    assert not quoted, quoted


def test_the_replacement_keeps_the_shape_of_any_text():
    anon = script()
    a = anon.Anonymiser(b"key one", frozenset({"sunset"}))
    raw = ('<rsp stat="ok"><photos page="1"><photo id="123" owner="12@N01" title="Caf&#233; &amp; &quot;Ünïcødé&quot; '
           '😀 שלום עולם مرحبا 東京 \u200f\u0085x" ownername="Ann" pathalias="ann_b" tags="sunset ann:x=1 b&amp;c">'
           '<description>&lt;a href=&quot;https://www.flickr.com/photos/ann_b/123/&quot; rel=&quot;nofollow&quot;&gt;'
           'Ann&#039;s &amp;amp; page&lt;/a&gt; see http://ann.example.org/x?y=z%C3%A9</description></photo>'
           '</photos></rsp>')
    out = anon.anonymise_xml(raw, a)
    assert out == anon.anonymise_xml(raw, a), "deterministic"
    assert out != anon.anonymise_xml(raw, anon.Anonymiser(b"key two")), "keyed"
    x = etree.fromstring(raw.encode()).find("photos/photo")
    y = etree.fromstring(out.encode()).find("photos/photo")
    assert (y.get("id"), y.get("owner")) == ("123", "12@N01")
    for key in ("title", "ownername", "pathalias", "tags"):
        assert shape(y.get(key)) == shape(x.get(key)) and y.get(key) != x.get(key), key
    title = y.get("title")
    assert "😀" in title and "\u200f\u0085" in title and title.count(" & ") == 1 and title[4:7] == ' & '
    assert y.get("tags").split()[0] == "sunset", "a tag a recorded call searched for is kept"
    # References are written as they were: a letter's as a reference to the new letter, the rest unchanged.
    assert re.search(r'title="[A-Z][a-z]{2}&#\d+; &amp; &quot;', out) and "&#233;" not in out, out
    assert "&amp;amp;" in out and "&#039;" in out
    description = y.findtext("description")
    assert description.startswith('<a href="https://www.flickr.com/photos/') and 'rel="nofollow"' in description
    assert "/ann_b/" not in description and "ann." not in description and "%C3%A9" in description
    # The same alias is the same replacement in the attribute and in the URL.
    assert f"/photos/{y.get('pathalias')}/123/" in description


def test_a_fresh_clone_collects_the_suite(tmp_path):
    """`pytest` in a clone with no ../shared beside it (anyone's first run) collects without errors."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    clone = tmp_path / "repo"
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "checkout", "--quiet", head.stdout.strip()], cwd=clone, check=True)
    assert not (tmp_path / "shared").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHONPATH"))}
    collect = [sys.executable, "-m", "pytest", "--collect-only", "-o", "addopts=", "-q", "-p", "no:cacheprovider"]
    run = subprocess.run(collect, cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    tail = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert re.fullmatch(r"\d+ tests collected in .*", tail), tail
    assert int(tail.split()[0]) > 100, tail
