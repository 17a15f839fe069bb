"""README.md is the newcomer's manual: its settings table and commands must stay true."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.config import SETTINGS
from gateway.formats import FORMATS
from gateway.methods import METHODS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_settings_table_matches_config():
    table = README.split("<!-- settings-table -->", 1)[1].split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| `GATEWAY_(\w+)` \| ([^|]+) \|", table, re.M))
    assert set(rows) == {s.name for s in SETTINGS}
    for s in SETTINGS:
        shown = rows[s.name].strip().strip("`")
        assert shown == (str(s.default) if s.default != "" else "—"), s.name


def test_every_format_and_method_is_documented():
    for name in FORMATS:
        assert f"| `{name}` |" in README
    for name in METHODS:
        short = name.rsplit(".", 1)[1]
        assert name in README or short in README, name


def test_the_two_commands_exist():
    root = Path(__file__).resolve().parents[1]
    for marker in ("<!-- serve-command -->", "<!-- test-command -->"):
        command = README.split(marker, 1)[1].split("```sh\n", 1)[1].split("\n", 1)[0]
        script = command.split()[-1]
        assert (root / script).is_file(), command
