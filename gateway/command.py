"""`flickr-gateway …`: the project's own command, installed by `pip install -e .` ([project.scripts]).

The same commands as `flask --app wsgi …` (the `library` group of gateway/cli.py,
plus Flask's `routes`, `shell` and the development server `run`), on an app
built by the factory, so it needs no `--app` and works from any directory:

    flickr-gateway library add-folder ~/Pictures
    flickr-gateway library stats
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup

from . import config, create_app

# The checkout the command was installed from (pip install -e .), where scripts/serve
# and the Procfile start the server.
PROJECT = Path(__file__).resolve().parents[1]
# Settings whose defaults are paths relative to the current directory (instance/…): every one of
# them, so a setting added later is anchored too (GATEWAY_PUSH_PATH was not, and `flickr-gateway push
# list` run elsewhere made a new ./instance/push.sqlite there and listed no subscriptions).
RELATIVE = tuple(s.name for s in config.SETTINGS if isinstance(s.default, str) and s.default.startswith("instance/"))


def app_for_command() -> Flask:
    """create_app, with the default library, image cache and push state of the checkout, wherever it runs.

    `flickr-gateway library add-folder ~/Pictures` run from the home directory must fill
    the library the server reads, not a new ./instance/library.sqlite there. A path set
    in GATEWAY_LIBRARY_PATH / GATEWAY_IMAGE_CACHE is used as given.
    """
    defaults = config.defaults()
    anchored = {}
    if (PROJECT / "wsgi.py").is_file():  # a checkout, not a copy in site-packages
        anchored = {name: str(PROJECT / defaults[name]) for name in RELATIVE
                    if f"GATEWAY_{name}" not in os.environ and not os.path.isabs(defaults[name])}
    return create_app(anchored or None)


main = FlaskGroup(
    name="flickr-gateway",
    create_app=app_for_command,
    # Flask's --version prints Python's, Flask's and Werkzeug's versions: not this project's.
    add_version_option=False,
    # The gateway reads GATEWAY_* from the environment itself; no .env files.
    load_dotenv=False,
    help="The Flickr feed gateway's commands. Settings come from GATEWAY_* environment variables.",
)
# The app is always the factory's: Flask's --app (and --env-file, for .env files) would only mislead here.
main.params = [p for p in main.params if p.name not in ("app", "env_file")]
main = click.version_option(package_name="flickr-feed-gateway", prog_name="flickr-gateway",
                            message="%(prog)s %(version)s")(main)
