"""The project's own command, `flickr-gateway` ([project.scripts], installed by scripts/serve and scripts/test),
and the one-command start saying where it serves."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from PIL import Image

from gateway import command

ROOT = Path(__file__).resolve().parents[1]
COMMAND = Path(sys.executable).parent / "flickr-gateway"


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(args, cwd=cwd, env={**environment, "GATEWAY_DEMO": "0", **env}, capture_output=True,
                          text=True, timeout=120)


def test_the_command_fills_the_library_from_any_directory_like_flask(tmp_path):
    assert COMMAND.is_file(), "flickr-gateway is not installed in this venv: run scripts/test (pip install -e .)"
    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    Image.new("RGB", (64, 48), "teal").save(pictures / "one.jpg")
    Image.new("RGB", (48, 64), "navy").save(pictures / "two.jpg")
    library = str(tmp_path / "lib.sqlite")
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()

    added = run([str(COMMAND), "library", "add-folder", str(pictures)], elsewhere, GATEWAY_LIBRARY_PATH=library,
                GATEWAY_IMAGE_CACHE=str(tmp_path / "images"))
    assert added.returncode == 0, added.stderr
    assert re.search(r"\b2 added\b", added.stdout), added.stdout
    stats = run([str(COMMAND), "library", "stats"], elsewhere, GATEWAY_LIBRARY_PATH=library)
    # `flask --app wsgi library …` keeps working, on the same library.
    flask = run([sys.executable, "-m", "flask", "--app", "wsgi", "library", "stats"], ROOT,
                GATEWAY_LIBRARY_PATH=library)
    assert stats.returncode == flask.returncode == 0, stats.stderr + flask.stderr
    assert stats.stdout == flask.stdout and re.search(r"\b2\b", stats.stdout), stats.stdout
    assert not list(elsewhere.iterdir()), "nothing written where the command ran"
    assert "--app" not in run([str(COMMAND), "--help"], elsewhere).stdout
    # --version is the gateway's (pyproject.toml), not Flask's "Python 3.11 / Flask 3.1 / Werkzeug".
    version = run([str(COMMAND), "--version"], elsewhere).stdout
    assert re.fullmatch(r"flickr-gateway \d+\.\d+\.\d+\n", version), version


def test_the_default_library_is_the_checkouts_wherever_the_command_runs(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("GATEWAY_LIBRARY_PATH", "GATEWAY_IMAGE_CACHE", "GATEWAY_PUSH_PATH"):
        monkeypatch.delenv(name, raising=False)
    app = command.app_for_command()
    assert app.config["LIBRARY_PATH"] == str(ROOT / "instance" / "library.sqlite")
    assert app.config["IMAGE_CACHE"] == str(ROOT / "instance" / "images")
    assert app.config["PUSH_PATH"] == str(ROOT / "instance" / "push.sqlite")  # `flickr-gateway push list`
    monkeypatch.setenv("GATEWAY_LIBRARY_PATH", "mine.sqlite")  # an operator's own path is used as given
    assert command.app_for_command().config["LIBRARY_PATH"] == "mine.sqlite"


def test_the_server_says_where_it_serves(tmp_path):
    """gunicorn with the shipped settings (as scripts/serve starts it) logs the URL to open, and it answers."""
    gunicorn = Path(sys.executable).parent / "gunicorn"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(GATEWAY_LIBRARY_PATH=str(tmp_path / "lib.sqlite"), GATEWAY_DEMO="0", WEB_CONCURRENCY="1")
    server = subprocess.Popen([str(gunicorn), "wsgi:app", "--config", "gunicorn.conf.py", "--bind", "127.0.0.1:0"],
                              cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline, said = time.monotonic() + 60, None
        while time.monotonic() < deadline and said is None:
            line = server.stderr.readline()
            said = re.search(r"flickr-gateway: serving on 127\.0\.0\.1, port (\d+): open (http://\S+/)", line)
            assert line or server.poll() is None, "gunicorn exited"
        assert said, "no 'serving on' line"
        url = said.group(2)
        assert url == f"http://127.0.0.1:{said.group(1)}/"
        for _ in range(100):  # the worker boots after the arbiter is ready
            try:
                with urllib.request.urlopen(url + "services/rest/?method=flickr.photos.getRecent&format=json"
                                            "&nojsoncallback=1", timeout=5) as r:
                    assert r.status == 200 and json.loads(r.read())["stat"] == "ok"
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"{url} did not answer")
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stderr.close()
