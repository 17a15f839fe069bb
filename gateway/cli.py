"""`flask --app wsgi library ...`: fill and inspect the embedded photo library (SPEC section 8)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .mirror import register_mirror
from .model import Page
from .upstreams.library import Library, Skipped, create
from .upstreams.library.importer import INDEX, parse_call

library_cli = AppGroup("library", help="The embedded photo library (GATEWAY_LIBRARY_PATH).")


def init_app(app: Flask) -> None:
    app.cli.add_command(library_cli)


def _import_mirrored(method: str, call: Mapping[str, str], page: Page) -> None:
    with _library() as library:
        library.import_page(page, {**call, "method": method})


register_mirror(library_cli, _import_mirrored)


@contextmanager
def _library() -> Iterator[Library]:
    # The CLI works on the library file even when the app serves GATEWAY_UPSTREAM=flickr.
    upstream = current_app.extensions.get("gateway.upstream")
    if isinstance(upstream, Library):
        yield upstream
        return
    library = create(current_app)
    try:
        yield library
    finally:
        library.close()


@library_cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--call", "call_text", metavar="'method=…&k=v'",
              help="The call that produced the files (overrides an index.json beside them).")
def import_command(files: tuple[Path, ...], call_text: str | None) -> None:
    """Import recorded Flickr responses (XML or JSON) into the library.

    The call behind each FILE (and so its group, album, gallery or favorites
    membership) comes from --call, else from an index.json beside it. Prints
    one line per file: imported N photos, or skipped: why (failure responses,
    broken or unsafe files). An index.json named as a FILE is not a response
    and is passed over. Exits 1 when no file could be imported, else 0.
    """
    call = parse_call(call_text) if call_text else None
    if call is not None and not call.get("method"):
        raise click.BadParameter("must name the method, e.g. 'method=flickr.groups.pools.getPhotos&group_id=…'",
                                 param_hint="--call")
    imported = photos = tried = 0
    with _library() as library:
        for path in files:
            if path.name == INDEX:
                continue
            tried += 1
            try:
                count = library.import_file(path, call)
            except Skipped as exc:
                click.echo(f"{path}: skipped: {exc}", err=True)
                continue
            imported += 1
            photos += count
            click.echo(f"{path}: imported {count} photo{'' if count == 1 else 's'}")
        held = library.stats()["photos"]
    # A photo recorded by several calls counts once per file above, once in the library.
    click.echo(f"{imported} of {tried} files imported ({photos} photo records); the library holds {held} photos")
    if tried and not imported:
        raise SystemExit(1)


@library_cli.command("stats")
def stats_command() -> None:
    """Print what the library holds."""
    with _library() as library:
        for name, value in library.stats().items():
            click.echo(f"{name}: {value}")
