"""README.md is the newcomer's manual and docs/ the reference: their settings table, formats,
methods and commands must stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.config import SETTINGS
from gateway.formats import FORMATS
from gateway.methods import METHODS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = {p.name: p.read_text() for p in (ROOT / "docs").glob("*.md")}


def test_settings_table_matches_config():
    table = DOCS["configuration.md"].split("<!-- settings-table -->", 1)[1].split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| `GATEWAY_(\w+)` \| ([^|]+) \|", table, re.M))
    assert set(rows) == {s.name for s in SETTINGS}
    for s in SETTINGS:
        shown = rows[s.name].strip().strip("`")
        assert shown == (str(s.default) if s.default != "" else "—"), s.name


def test_every_format_and_method_is_documented():
    for name in FORMATS:
        assert f"| `{name}` |" in DOCS["formats.md"]
    for name in METHODS:
        short = name.rsplit(".", 1)[1]
        assert name in DOCS["http.md"] or short in DOCS["http.md"], name


def test_readme_links_every_doc_and_each_link_resolves():
    for name in DOCS:
        assert f"(docs/{name})" in README, name
    for text, base in [(README, ROOT), *((t, ROOT / "docs") for t in DOCS.values())]:
        for target, anchor in re.findall(r"\]\(([^)#:\s]*)(?:#([^)\s]*))?\)", text):
            path = (base / target) if target else None
            assert path is None or path.exists(), target
            if anchor and (path is None or path.suffix == ".md"):
                # GitHub's heading ids: a newcomer's click lands on the section, not the page's top.
                page = path.read_text() if path else text
                assert anchor in _heading_ids(page), f"{target}#{anchor}"


def _heading_ids(markdown: str) -> set[str]:
    """The ids GitHub gives a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    ids: set[str] = set()
    for heading in re.findall(r"^#+\s+(.+?)\s*$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        ids.add(slug if slug not in ids else f"{slug}-1")
    return ids


def test_the_two_commands_exist():
    for marker in ("<!-- serve-command -->", "<!-- test-command -->"):
        command = README.split(marker, 1)[1].split("```sh\n", 1)[1].split("\n", 1)[0]
        script = command.split()[-1]
        assert (ROOT / script).is_file(), command
