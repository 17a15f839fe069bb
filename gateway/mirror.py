"""`flickr-gateway library mirror METHOD ARG=VALUE… [--pages N]`: copy a live
Flickr call, page by page, into the embedded library.

The Flickr upstream fetches each page (the gateway's own key, its timeout and
failure mapping); what is done with a page — the library import — is passed
in, so this module knows neither SQLite nor the library's schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from . import errors
from .methods import METHODS
from .model import Page
from .upstreams import flickr
from .words import counted

# Stores one page in the library. It gets the call (method and arguments,
# page and per_page included) so that the group, album or gallery the call
# names can be recorded as the photos' membership (SPEC 8).
ImportPage = Callable[[str, Mapping[str, str], Page], object]

# per_page's documented maximum for Flickr's paged photo-list methods: the
# fewest calls against the key's 3,600 an hour. Methods without paging
# (getContactsPublicPhotos, panda.getPhotos) answer one page whatever it says.
FLICKR_MAX_PER_PAGE = 500


def mirror(app: Flask, method: str, args: Mapping[str, str], pages: int | None, import_page: ImportPage,
           per_page: int = FLICKR_MAX_PER_PAGE) -> Iterator[Page]:
    """Page through a live Flickr call, import each page, and yield it once imported.

    Stops after `pages` pages (None: as many as Flickr reports), at the last
    page, or at the first empty one (a page past the end). Only methods in
    METHODS can be mirrored. A failed call raises FlickrError; the pages
    imported before it stay imported.
    """
    if method not in METHODS:
        raise errors.FlickrError(errors.METHOD_NOT_FOUND, f'Method "{method}" not found')
    upstream = flickr.create(app)
    try:
        number = 1
        while pages is None or number <= pages:
            call = {**args, "per_page": str(per_page), "page": str(number)}
            page = upstream.photos(method, call)
            import_page(method, call, page)
            yield page
            if not page.photos or number >= page.pages:
                return
            number += 1
    finally:
        upstream.close()


def _assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{text!r} is not ARG=VALUE", param_hint="ARGS")
    return name, value


def register_mirror(library_group: click.Group, import_page: ImportPage) -> click.Command:
    """Add the `mirror` command to the `library` command group; `import_page` stores a page."""

    @library_group.command("mirror")
    @click.argument("method")
    @click.argument("args", nargs=-1)
    @click.option("--pages", type=click.IntRange(min=1), default=None,
                  help="Stop after N pages (default: every page Flickr reports).")
    @click.option("--per-page", type=click.IntRange(1, FLICKR_MAX_PER_PAGE), default=FLICKR_MAX_PER_PAGE,
                  show_default=True, help="Photos per call.")
    @with_appcontext
    def mirror_command(method: str, args: tuple[str, ...], pages: int | None, per_page: int) -> None:
        """Import a live Flickr call, e.g. flickr.groups.pools.getPhotos group_id=34427469792@N01.

        Uses GATEWAY_FLICKR_API_KEY/_SECRET whatever GATEWAY_UPSTREAM says;
        each page is one call of the key's 3,600 an hour.
        """
        call = dict(_assignment(a) for a in args)
        imported = 0
        try:
            for page in mirror(current_app._get_current_object(), method, call, pages, import_page, per_page):
                imported += len(page.photos)
                click.echo(f"page {page.page}/{page.pages}: {counted(len(page.photos), 'photo')} "
                           f"({imported} of {page.total})")
        except errors.FlickrError as err:
            raise click.ClickException(
                f"Flickr error {err.code}: {err.message} ({counted(imported, 'photo')} imported)") from None
        except ValueError as err:  # no key or secret configured
            raise click.ClickException(str(err)) from None
        click.echo(f"imported {counted(imported, 'photo')}")

    return mirror_command
