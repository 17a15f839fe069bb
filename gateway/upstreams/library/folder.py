"""`library add-folder`: the JPEG and PNG files of a folder as local photos, and
their files found again for the image route (local_source).

A photo's id is made from its content (local_id: the first 15 hex digits of
its SHA-256 as a number, so ids are numeric like Flickr's, stay the same when
the library is rebuilt, and never collide in practice: 60 bits). Every path is
recorded with its size and mtime (table `files`):

    path known, same size and mtime        → unchanged, not even read
    content already in the library         → the path is recorded beside the others (a duplicate)
    new content at a new path              → added
    new content at a known path            → added, and the old photo replaces: its group and album
                                             memberships move over; it goes once no file holds it
    not a JPEG/PNG Pillow can decode       → skipped, with the reason
    path known, no longer in the folder    → forgotten; a photo no other file holds is removed
    more pixels than GATEWAY_IMAGE_MAX_PIXELS, not a regular file (a FIFO, a device, a link to
    one), a name that is not UTF-8, a photo the library cannot store → skipped, with the reason

Only regular files are opened (non-blocking, then checked again on the open
file, so a FIFO put in place meanwhile cannot hang the run), and they are
hashed and decoded from the file, never read whole into memory.

Photos already in the library whose files are in the folder join this run's
group, and move to this run's owner when `--owner` was given (`claim`): what
the command line says about a folder holds for all of it, not only for its
new files. Without `--owner`, a run keeps to the owner the folder already has:
a changed file's new photo keeps the owner of the photo it replaces, and a new
file takes the owner most of the folder's photos have (the given `owner`, the
login name, only for a folder seen for the first time). Otherwise editing one
photo, or adding one to an album folder, moved it away from its owner's feed.

Owners and groups are named on the command line and get ids shaped like
Flickr's NSIDs with an `@L00` suffix (L for local), which no Flickr account has.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from ...model import DESCRIPTION_MAX, LOCAL, TITLE_MAX, Photo, capped_tags
from . import exif, store
from .arguments import normal_tag

SUFFIXES = {".jpg", ".jpeg", ".png"}
BATCH = 100  # files a transaction: an interrupted run keeps what it had done
# The default of GATEWAY_IMAGE_MAX_PIXELS: decoding 50 megapixels takes 150 MB (RGB; 200 MB with
# alpha), which a worker can afford once at a time; cameras above it are rare (and make 100 MP).
MAX_PIXELS = 50_000_000
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def local_id(digest: str) -> str:
    """A photo id from the SHA-256 (hex) of its content: numeric, like Flickr's."""
    return str(int(digest[:15], 16) or 1)


def local_nsid(name: str, kind: str = "person") -> str:
    """An NSID-like id for an owner or a group named on the command line: "12345678@L00"."""
    digest = hashlib.sha256(f"{kind}:{name.strip().lower()}".encode()).hexdigest()
    return f"{int(digest[:12], 16) % 10**8:08d}@L00"


def path_alias(name: str) -> str:
    """The owner's name as Flickr's path alias, so that user_id=alice finds alice's photos."""
    return re.sub(r"[^a-z0-9_-]+", "-", name.strip().lower()).strip("-")


@dataclass
class Report:
    added: int = 0
    replaced: int = 0
    duplicates: int = 0
    unchanged: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    gone: int = 0  # files recorded under the folder that are no longer there
    removed: int = 0  # photos removed with them (no other file held them)
    moved: int = 0  # photos that changed owner (claim)
    grouped: int = 0  # photos already known that joined the group
    owners: list[tuple[str, str, str, int]] = field(default_factory=list)  # name, nsid, alias, photos in folder


@dataclass(frozen=True)
class _Found:
    path: Path
    size: int
    mtime_ns: int
    digest: str
    info: exif.ImageInfo


def image_files(folder: Path) -> Iterator[Path]:
    """The JPEG and PNG files under `folder` (by name; their content is checked when read), sorted."""
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if Path(name).suffix.lower() in SUFFIXES and not name.startswith("."):
                yield Path(root, name)


def add_folder(conn: sqlite3.Connection, folder: Path, owner: str, group: str | None = None,
               on_skip: Callable[[Path, str], None] = lambda path, why: None, claim: bool = False,
               max_pixels: int = MAX_PIXELS) -> Report:
    """Add the folder's new and changed image files to the library, forget those gone; see the module
    docstring. `claim`: the owner was named, so the folder's known photos move to them."""
    folder = folder.resolve()
    known = {row[0]: (row[1], row[2], row[3]) for row in conn.execute("SELECT path, photo, size, mtime_ns FROM files")}
    report = Report()
    todo = []
    listed = set()
    for path in image_files(folder):
        listed.add(str(path))
        try:
            str(path).encode()
        except UnicodeEncodeError:  # os.walk hands undecodable bytes over as lone surrogates
            _skip(report, on_skip, path, "its name is not UTF-8 (rename it)")
            continue
        try:
            st = path.stat()
        except OSError as exc:
            _skip(report, on_skip, path, f"cannot read it ({exc.strerror})")
            continue
        if not stat.S_ISREG(st.st_mode):
            _skip(report, on_skip, path, _not_regular(st.st_mode))
            continue
        old = known.get(str(path))
        if old is not None and old[1:] == (st.st_size, st.st_mtime_ns):
            report.unchanged += 1
        else:
            todo.append(path)
    prefix = os.path.join(folder, "")
    who = (None if claim else _folder_owner(conn, prefix, group)) or _Owner(
        owner, local_nsid(owner), path_alias(owner), group)
    # Reading is hashing and decoding, which release the GIL: one thread per core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        found = pool.map(lambda p: _read(p, folder, max_pixels), todo)
        batch: list[_Found] = []
        for item in found:
            if isinstance(item, tuple):
                _skip(report, on_skip, *item)
                continue
            batch.append(item)
            if len(batch) == BATCH:
                _record(conn, batch, who, known, report, on_skip, claim)
                batch = []
        if batch:
            _record(conn, batch, who, known, report, on_skip, claim)
    gone = [path for path in known if path.startswith(prefix) and path not in listed]
    if gone:
        with store.transaction(conn):
            report.removed = store.forget_files(conn, gone)
        report.gone = len(gone)
    _claim(conn, prefix, who, claim, report)
    return report


def _claim(conn: sqlite3.Connection, prefix: str, who: _Owner, claim: bool, report: Report) -> None:
    """The folder's known photos join the group, and move to the owner when `claim`; report.owners."""
    in_folder = "pk IN (SELECT photo FROM files WHERE substr(path, 1, ?1) = ?2)"
    params = (len(prefix), prefix)
    group = local_nsid(who.group, "group") if who.group else ""
    with store.transaction(conn):
        if claim:
            rows = conn.execute(f"SELECT * FROM photos WHERE {in_folder} AND owner != ?3 AND server = ?4",
                                (*params, who.nsid, LOCAL)).fetchall()
            now = int(time.time())
            store.write_photos(conn, [replace(store.photo_from_row(r), owner=who.nsid, ownername=who.name,
                                              pathalias=who.alias, lastupdate=now) for r in rows])
            report.moved = len(rows)
        if group:
            store.write_set(conn, "group", group, title=who.group or "")
            pks = [r[0] for r in conn.execute(
                f"SELECT pk FROM photos WHERE {in_folder} AND pk NOT IN "
                "(SELECT photo FROM memberships WHERE kind = 'group' AND set_id = ?3)", (*params, group))]
            store.write_memberships(conn, "group", group, [(pk, None, int(time.time()), {}) for pk in pks])
            report.grouped = len(pks)
    report.owners = [tuple(r) for r in conn.execute(
        f"SELECT ownername, owner, pathalias, count(*) FROM photos WHERE {in_folder} "
        "GROUP BY owner ORDER BY count(*) DESC, owner", params)]


@dataclass(frozen=True)
class _Owner:
    name: str
    nsid: str
    alias: str
    group: str | None


def _folder_owner(conn: sqlite3.Connection, prefix: str, group: str | None) -> _Owner | None:
    """The owner most of the folder's local photos have (the earliest named on a tie); None for a new folder."""
    row = conn.execute(
        "SELECT ownername, owner, pathalias FROM photos WHERE server = ?3 AND pk IN "
        "(SELECT photo FROM files WHERE substr(path, 1, ?1) = ?2) GROUP BY owner ORDER BY count(*) DESC, min(pk) "
        "LIMIT 1", (len(prefix), prefix, LOCAL)).fetchone()
    return _Owner(row[0], row[1], row[2], group) if row else None


def _photo_owner(conn: sqlite3.Connection, pk: int, group: str | None) -> _Owner | None:
    row = conn.execute("SELECT ownername, owner, pathalias FROM photos WHERE pk = ?", (pk,)).fetchone()
    return _Owner(row[0], row[1], row[2], group) if row else None


def _skip(report: Report, on_skip: Callable[[Path, str], None], path: Path, why: str) -> None:
    report.skipped.append((path, why))
    on_skip(path, why)


def _not_regular(mode: int) -> str:
    kinds = {stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
             stat.S_ISSOCK: "a socket", stat.S_ISDIR: "a directory"}
    kind = next((name for test, name in kinds.items() if test(mode)), "not a plain file")
    return f"not a regular file ({kind}); only regular files are read"


def _read(path: Path, folder: Path, max_pixels: int) -> _Found | tuple[Path, str]:
    try:
        fd = os.open(path, _OPEN_FLAGS)  # non-blocking: opening a FIFO must not wait for a writer
    except OSError as exc:
        return path, f"cannot read it ({exc.strerror})"
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)  # the size and mtime of the bytes read, not of an earlier stat
        if not stat.S_ISREG(st.st_mode):
            return path, _not_regular(st.st_mode)
        try:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
            f.seek(0)
            info = exif.read(f, max_pixels)
        except exif.Unreadable as exc:
            return path, str(exc)
        except OSError as exc:
            return path, f"cannot read it ({exc.strerror})"
        except Exception as exc:  # noqa: BLE001 - a stranger's file must cost itself, never the run
            return path, f"cannot read its metadata ({type(exc).__name__}: {exc})"
    # The folders between the added folder and the file are tags too: Rome/2019/x.jpg → rome, 2019.
    folders = tuple(path.relative_to(folder).parts[:-1])
    info = replace(info, keywords=(*info.keywords, *folders))
    return _Found(path, st.st_size, st.st_mtime_ns, digest, info)


def _photo(found: _Found, who: _Owner, now: int) -> Photo:
    info = found.info
    tags = capped_tags(t for t in (normal_tag(k) for k in info.keywords) if t)
    taken, unknown = info.datetaken, 0
    if not taken:  # Flickr's rule: the date taken of a photo that does not say is a guess, marked unknown
        taken, unknown = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(found.mtime_ns // 10**9)), 1
    return Photo(
        id=local_id(found.digest), owner=who.nsid, secret=found.digest[15:25], server=LOCAL,
        title=(info.title or found.path.stem)[:TITLE_MAX], description=info.description[:DESCRIPTION_MAX],
        ownername=who.name, pathalias=who.alias,
        dateupload=now, lastupdate=now, datetaken=taken, datetakenunknown=unknown, license="0", tags=tags,
        latitude=info.latitude, longitude=info.longitude, accuracy=info.accuracy, originalsecret=found.digest[15:25],
        originalformat=info.format, o_width=info.width, o_height=info.height,
    )


def _record(conn: sqlite3.Connection, batch: list[_Found], who: _Owner, known: dict, report: Report,
            on_skip: Callable[[Path, str], None], claim: bool) -> None:
    now = int(time.time())
    with store.transaction(conn):
        if who.group:
            store.write_set(conn, "group", local_nsid(who.group, "group"), title=who.group)
        for found in batch:
            # One savepoint a file: a photo the library cannot store is skipped, not the batch.
            conn.execute("SAVEPOINT photo")
            try:
                _record_one(conn, found, who, known, report, now, claim)
            except (sqlite3.Error, ValueError, OverflowError) as exc:
                conn.execute("ROLLBACK TO photo")
                _skip(report, on_skip, found.path, f"the library cannot store it ({exc})")
            conn.execute("RELEASE photo")


def _record_one(conn: sqlite3.Connection, found: _Found, who: _Owner, known: dict, report: Report, now: int,
                claim: bool) -> None:
    photo_id, path = local_id(found.digest), str(found.path)
    old = known.get(path)
    if old is not None and not claim:  # an edited file: its photo stays with the owner it had
        who = _photo_owner(conn, old[0], who.group) or who
    row = conn.execute("SELECT pk FROM photos WHERE id = ?", (photo_id,)).fetchone()
    pk = row[0] if row else store.write_photos(conn, [_photo(found, who, now)])[photo_id]
    elsewhere = row and conn.execute("SELECT 1 FROM files WHERE photo = ? AND path != ?", (pk, path)).fetchone()
    conn.execute("INSERT OR REPLACE INTO files (path, photo, size, mtime_ns) VALUES (?, ?, ?, ?)",
                 (path, pk, found.size, found.mtime_ns))
    if who.group:
        store.write_memberships(conn, "group", local_nsid(who.group, "group"), [(pk, None, now, {})])
    if old is not None and old[0] != pk:
        _replace(conn, old[0], pk)
        report.replaced += 1
    elif row is None:
        report.added += 1
    elif elsewhere:
        report.duplicates += 1
    else:
        report.unchanged += 1  # the same content, touched
    known[path] = (pk, found.size, found.mtime_ns)  # last: a photo rolled back leaves `known` as it was


def _replace(conn: sqlite3.Connection, old: int, new: int) -> None:
    """The new content of a file takes the old photo's memberships; the old photo goes once no file holds it."""
    conn.execute("""INSERT OR IGNORE INTO memberships (kind, set_id, photo, position, added, attrs)
                    SELECT kind, set_id, ?, position, added, attrs FROM memberships WHERE photo = ?""", (new, old))
    if conn.execute("SELECT 1 FROM files WHERE photo = ?", (old,)).fetchone() is None:
        store.delete_photos(conn, [old])


@dataclass(frozen=True)
class LocalSource:
    """A local photo and where its pixels come from: a file that still holds its content, or a drawing."""

    photo: Photo
    files: tuple[str, ...]  # every path recorded for it; none for a drawn photo (demo, synth)
    file: Path | None  # the first of them whose size and mtime are still those recorded


def local_source(conn: sqlite3.Connection, photo_id: str) -> LocalSource | None:
    """The local photo with this id, None when there is none."""
    row = conn.execute("SELECT * FROM photos WHERE id = ? AND server = ?", (photo_id, LOCAL)).fetchone()
    if row is None:
        return None
    files = conn.execute("SELECT path, size, mtime_ns FROM files WHERE photo = ? ORDER BY path", (row["pk"],))
    paths, current = [], None
    for path, size, mtime_ns in files:
        paths.append(path)
        try:
            st = os.stat(path)
        except OSError:
            continue
        if current is None and (st.st_size, st.st_mtime_ns) == (size, mtime_ns):
            current = Path(path)
    return LocalSource(store.photo_from_row(row), tuple(paths), current)
