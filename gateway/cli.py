"""`flickr-gateway library ...` (or `flask --app wsgi library ...`): fill and inspect the embedded photo library.

SPEC section 8; gateway/command.py makes the `flickr-gateway` command.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import click
from click.core import ParameterSource
from flask import Flask, current_app
from flask.cli import AppGroup

from . import push
from .mirror import register_mirror
from .model import Page
from .upstreams.library import Library, Skipped, create
from .upstreams.library.folder import local_nsid
from .upstreams.library.importer import INDEX, parse_call
from .upstreams.library.manage import KINDS, NotFound
from .words import counted

library_cli = AppGroup("library", help="The embedded photo library (GATEWAY_LIBRARY_PATH).")


def init_app(app: Flask) -> None:
    app.cli.add_command(library_cli)


def _import_mirrored(method: str, call: Mapping[str, str], page: Page) -> None:
    with _library(filling=True) as library:
        library.import_page(page, {**call, "method": method})


register_mirror(library_cli, _import_mirrored)


@contextmanager
def _library(filling: bool = False) -> Iterator[Library]:
    """The library file, also when the app serves GATEWAY_UPSTREAM=flickr.

    `filling`: the command adds photos of its own, so the demo steps aside first.
    """
    upstream = current_app.extensions.get("gateway.upstream")
    library = upstream if isinstance(upstream, Library) else create(current_app)
    try:
        if filling and (removed := library.remove_demo()):
            click.echo(f"removed the {counted(removed, 'demo photo')}", err=True)
        yield library
    finally:
        if library is not upstream:
            library.close()
        if filling:  # the photos changed: subscribers hear of the new ones (gateway/push)
            push.library_changed(current_app._get_current_object())


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
    with _library(filling=True) as library:
        for path in files:
            if path.name == INDEX:
                continue
            tried += 1
            notes: list[str] = []
            try:
                found = library.import_file(path, call, notes)
            except Skipped as exc:
                click.echo(f"{path}: skipped: {exc}", err=True)
                continue
            except Exception as exc:  # noqa: BLE001 - one file the importer did not foresee never stops the rest
                click.echo(f"{path}: skipped: cannot import it ({type(exc).__name__}: {exc})", err=True)
                continue
            imported += 1
            photos += found
            click.echo(f"{path}: imported {_photos(found)}")
            for note in notes:
                click.echo(f"{path}: {note}", err=True)
        held = library.stats()["photos"]
    # A photo recorded by several calls counts once per file above, once in the library.
    click.echo(f"{imported} of {counted(tried, 'file')} imported ({counted(photos, 'photo record')}); "
               f"the library holds {_photos(held)}")
    if tried and not imported:
        raise SystemExit(1)


@library_cli.command("stats")
def stats_command() -> None:
    """Print what the library holds."""
    with _library() as library:
        for name, value in library.stats().items():
            click.echo(f"{name}: {value}")


@library_cli.command("add-folder")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--owner", default=lambda: _default_owner(),
              show_default="the owner the folder's photos have, else your login name",
              help="Whose photos these are: their owner name (and path alias, for user_id=NAME).")
@click.option("--group", default=None, help="Put the photos in this group's pool (its id is printed).")
@click.pass_context
def add_folder_command(ctx: click.Context, folder: Path, owner: str, group: str | None) -> None:
    """Add the JPEG and PNG photos under FOLDER to the library.

    Reads each file's EXIF (GPS position, date taken, title, orientation) and
    keeps the photo under an id made from its content; the gateway serves its
    images itself. Running it again reads only new or changed files and drops
    the photos whose files are gone. --owner given again moves the folder's
    photos to that owner (without it, new and changed files keep to the
    folder's owner); --group puts all of them in the pool. Files that
    cannot be read are skipped, one line each. Prints the user_id (and
    group_id) to put in a feed. Exits 1 when image files were found and none
    could be read.
    """
    def skipped(path: Path, why: str) -> None:
        click.echo(f"{path}: skipped: {why}", err=True)

    claim = ctx.get_parameter_source("owner") is not ParameterSource.DEFAULT
    with _library(filling=True) as library:
        report = library.add_folder(folder, owner, group, skipped, claim)
        held = library.stats()["photos"]
    click.echo(f"{report.added} added, {report.replaced} replaced, {counted(report.duplicates, 'duplicate')}, "
               f"{report.unchanged} unchanged, {len(report.skipped)} skipped, "
               f"{report.removed} removed (files gone); the library holds {_photos(held)}")
    if report.moved:
        click.echo(f"{_photos(report.moved)} moved to owner {owner}")
    for name, nsid, alias, count in report.owners:
        alias_hint = f" (or user_id={alias})" if alias else ""
        click.echo(f"owner {name or nsid}: {_photos(count)} of this folder; user_id={nsid}{alias_hint}")
    if group:
        click.echo(f"group {group}: group_id={local_nsid(group, 'group')}")
    if report.skipped and not (report.added or report.replaced or report.duplicates or report.unchanged):
        raise SystemExit(1)


def _photos(n: int) -> str:
    return counted(n, "photo")


def _default_owner() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "me"


@library_cli.command("synth")
@click.argument("count", type=click.IntRange(min=1))
@click.option("--seed", type=int, default=1, show_default=True, help="The same seed makes the same photos.")
def synth_command(count: int, seed: int) -> None:
    """Add COUNT synthetic photos (for benchmarks): tags, text, places, dates and
    groups shaped like a photo site's, loaded through the bulk path."""
    with _library(filling=True) as library:
        started = time.perf_counter()
        added = library.synthesize(count, seed)
        seconds = time.perf_counter() - started
        held = library.stats()["photos"]
    click.echo(f"{counted(added, 'synthetic photo')} in {seconds:.1f} s ({added / seconds:,.0f} a second); "
               f"the library holds {_photos(held)}")


@library_cli.command("list")
def list_command() -> None:
    """List owners, groups, albums, galleries and places: their feed ids and photo counts.

    Each under the argument a feed names it by (user_id, group_id,
    photoset_id, gallery_id, woe_id) and the method that lists its photos.
    """
    with _library() as library:
        owners, sets, places = library.owners(), library.sets(), library.places()
    click.echo(f"owners ({len(owners)}): user_id for flickr.people.getPublicPhotos, flickr.photos.search")
    for o in owners:
        alias = f" (or user_id={o.alias})" if o.alias and o.alias != o.nsid else ""
        served = " [on this gateway]" if o.local == o.photos else f" [{o.local} on this gateway]" if o.local else ""
        click.echo(f"  {o.nsid}  {o.name or '-'}: {_photos(o.photos)}{served}{alias}")
    for kind, (_one, several, arg, method) in KINDS.items():
        found = [s for s in sets if s.kind == kind]
        if not found:
            continue
        click.echo(f"{several} ({len(found)}): {arg} for {method}")
        for s in found:
            title = f" \u201c{s.title}\u201d" if s.title else ""
            click.echo(f"  {s.id}{title}: {_photos(s.photos)}")
    if places:
        click.echo(f"places ({len(places)}): woe_id (or place_id) for flickr.photos.search")
        for p in places:
            click.echo(f"  {p.id}  {p.label} ({p.kind}): {_photos(p.photos)}")


@library_cli.command("remove")
@click.option("--photo", "photos", multiple=True, metavar="ID", help="A photo, by its id.")
@click.option("--owner", "owners", multiple=True, metavar="USER", help="An owner's photos (user_id, alias, name).")
@click.option("--group", "groups", multiple=True, metavar="GROUP", help="A group pool's photos (group_id or name).")
@click.option("--album", "albums", multiple=True, metavar="ALBUM", help="An album's photos (photoset_id or title).")
@click.option("--gallery", "galleries", multiple=True, metavar="GALLERY", help="A gallery's photos (id or title).")
@click.option("--folder", "folders", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="The photos added from this folder (the folder may be gone).")
@click.option("--dry-run", is_flag=True, help="Say what would be removed, and remove nothing.")
def remove_command(photos, owners, groups, albums, galleries, folders, dry_run: bool) -> None:
    """Remove photos by photo, owner, group, album, gallery or folder.

    Each option may be repeated; the photos named by any of them go.

    A group, album or gallery left without photos goes too. The image files
    themselves are never touched; `add-folder` on their folder adds them again.
    Exits 1 when a name matches nothing (and then removes nothing).
    """
    sets = tuple(("group", g) for g in groups) + tuple(("photoset", a) for a in albums) \
        + tuple(("gallery", g) for g in galleries)
    if not (photos or owners or sets or folders):
        raise click.UsageError("say what to remove: --photo, --owner, --group, --album, --gallery or --folder")
    with _library() as library:
        try:
            chosen = library.select(photos=photos, owners=owners, sets=sets, folders=folders)
        except NotFound as exc:
            click.echo(f"nothing removed: {exc}", err=True)
            raise SystemExit(1) from None
        if dry_run:
            click.echo(f"would remove {_photos(len(chosen.pks))} and forget {counted(len(chosen.paths), 'file')} "
                       "(a photo another file still holds stays)")
            return
        removed = library.remove(chosen)
        held = library.stats()["photos"]
    if removed:  # KML and GeoJSON subscribers get the document without them (gateway/push)
        push.library_changed(current_app._get_current_object())
    click.echo(f"{_photos(removed)} removed; the library holds {_photos(held)}")
