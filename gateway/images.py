"""GET /images/{id}_{suffix}.jpg: the images of the photos the gateway serves itself.

Local photos (model.LOCAL: `library add-folder`, the demo, `library synth`)
have no Flickr URLs; every feed points at these instead (Page.with_image_base):

    /images/{id}_s.jpg … _k.jpg   a size of Flickr's ladder (model.rendition_size)
    /images/{id}.jpg              the 500 px size, which has no suffix on Flickr either
    /images/{id}_o.{jpg|png}      the original, upright (sent as the file is when it needs no turning)

A rendition is made on its first request and kept under GATEWAY_IMAGE_CACHE.
A local photo's id is made from its content, so a URL always names the same
pixels: the answer may be cached for a year (`immutable`), its ETag names
photo, size and rendition version, and If-None-Match answers 304 before any
work. Anything else is a plain 404: an unknown or non-local id, a size the
photo does not have (larger than its original), a wrong extension, a file
gone or changed since it was added, an original over GATEWAY_IMAGE_MAX_PIXELS
(add-folder refuses those; a drawn photo's size comes from its record). The
URL names a photo id only: files are found through the library, never
through a path from the request.

A rendition is made in an OS thread of the `images` lane (blocking.py: off
the event loop, at most two at once a worker), and one at a time per image
and size: the requests that come while it is made wait for it and send the
file it wrote.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, request, send_file
from PIL import UnidentifiedImageError

from . import blocking, renditions, upstreams
from .model import LOCAL_IMAGE, rendition_size
from .upstreams.library import Library, LocalSource

log = logging.getLogger("gateway.images")
bp = Blueprint("images", __name__)

MAX_AGE = 365 * 24 * 3600
TYPES = {"jpg": "image/jpeg", "png": "image/png"}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.extensions["gateway.image_cache"] = os.path.abspath(app.config["IMAGE_CACHE"])


@bp.route("/images/<name>")
def image(name: str) -> Response:
    match = LOCAL_IMAGE.fullmatch(name)
    library = upstreams.get()
    if match is None or not isinstance(library, Library):
        abort(404)
    source = library.local_source(match["id"])
    if source is None:
        abort(404)
    photo, suffix, ext = source.photo, match["suffix"] or "", match["ext"]
    size = rendition_size(photo.o_width, photo.o_height, suffix)
    if size is None or ext != ((photo.originalformat or "jpg") if suffix == "o" else "jpg"):
        abort(404)
    etag = f"{photo.id}-{suffix or 'm'}-{'f' if source.files else 'd'}{renditions.VERSION}"
    if request.if_none_match.contains(etag):
        return _headers(Response(status=304), etag)
    try:
        path = _rendition(source, name, suffix, size, ext)
    except renditions.TooLarge as exc:
        log.warning("not serving %s: %s (GATEWAY_IMAGE_MAX_PIXELS)", name, exc)
        abort(404)
    except (OSError, UnidentifiedImageError, ValueError):
        log.exception("cannot make %s from %s", name, source.file)
        abort(404)
    if path is None:
        log.warning("photo %s: its file is gone or changed since it was added; run library add-folder again",
                    photo.id)
        abort(404)
    if suffix == "o":  # an original may be tens of MB: streamed from its file
        response = send_file(path, TYPES[ext], etag=etag, max_age=MAX_AGE, conditional=True)
    else:  # a rendition is a few hundred KB at most: read whole, so no open file outlives an aborted request
        response = Response(path.read_bytes(), mimetype=TYPES[ext])
    return _headers(response, etag)


def _headers(response: Response, etag: str) -> Response:
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    response.cache_control.immutable = True
    return response


def _rendition(source: LocalSource, name: str, suffix: str, size: tuple[int, int], ext: str) -> Path | None:
    """The file to send: the cached rendition, made now if it is not there yet; None when the file is gone."""
    if source.files and source.file is None:
        return None
    photo_id = source.photo.id
    path = Path(current_app.extensions["gateway.image_cache"]) / f"v{renditions.VERSION}" / photo_id[-2:] / name
    if path.exists():
        return path
    max_pixels = current_app.config["IMAGE_MAX_PIXELS"]
    with blocking.one_at_a_time(str(path)):
        return blocking.run("images", _make, source, path, suffix, size, ext, max_pixels)


def _make(source: LocalSource, path: Path, suffix: str, size: tuple[int, int], ext: str, max_pixels: int) -> Path:
    """Make and write the rendition (in the images lane's OS thread: no Flask context here)."""
    if source.file is not None and suffix == "o" and renditions.orientation(source.file) == 1:
        return source.file  # an upright original is sent as the camera wrote it: nothing is decoded
    if path.exists():  # made while this request waited its turn
        return path
    try:
        if source.file is not None:
            data = renditions.from_file(source.file, suffix, size, ext, max_pixels)
        elif size[0] * size[1] > max_pixels:
            raise renditions.TooLarge(f"a drawn photo of {size[0]} × {size[1]} pixels, more than {max_pixels:,}")
        else:
            data = renditions.drawn(source.photo, suffix, size)
    finally:
        renditions.release_memory()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: a reader never sees half a file, and two
    # workers making the same rendition both leave a whole one.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path
