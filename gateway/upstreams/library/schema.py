"""The library's SQLite schema, shaped to stay fast at a million photos.

Photos keep their Flickr id as text (ids of failed calls such as
"12345678901234567890" do not fit 64 bits) and get an integer `pk` that every
side table points at: tags, memberships, the FTS5 index and the R*Tree.
FTS5 and the R*Tree are kept in step with `photos` by triggers, so no
writer can forget them; tags are written by the store.
"""

from __future__ import annotations

import sqlite3

# 2: the files of local photos, the demo's photos, no tags_photo. 3: the data version (`changes`).
VERSION = 3

DDL = """
CREATE TABLE IF NOT EXISTS photos (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL DEFAULT '',
    secret TEXT NOT NULL DEFAULT '',
    server TEXT NOT NULL DEFAULT '',
    farm INTEGER NOT NULL DEFAULT 0,
    title TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    ownername TEXT NOT NULL DEFAULT '',
    realname TEXT NOT NULL DEFAULT '',
    pathalias TEXT NOT NULL DEFAULT '',
    iconserver TEXT NOT NULL DEFAULT '',
    iconfarm INTEGER NOT NULL DEFAULT 0,
    dateupload INTEGER,                 -- unix time; NULL = unknown
    lastupdate INTEGER,
    datetaken TEXT,                     -- 'YYYY-MM-DD HH:MM:SS', camera local time; NULL = unknown
    datetakengranularity INTEGER NOT NULL DEFAULT 0,
    datetakenunknown INTEGER NOT NULL DEFAULT 0,
    license TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '',      -- space-separated, as Flickr sends them
    machine_tags TEXT NOT NULL DEFAULT '',
    latitude REAL NOT NULL DEFAULT 0,
    longitude REAL NOT NULL DEFAULT 0,
    accuracy INTEGER NOT NULL DEFAULT 0,
    geotagged INTEGER NOT NULL DEFAULT 0, -- Photo.geotagged, for has_geo and the R*Tree
    media TEXT NOT NULL DEFAULT 'photo',
    views INTEGER,
    originalsecret TEXT NOT NULL DEFAULT '',
    originalformat TEXT NOT NULL DEFAULT '',
    o_width INTEGER NOT NULL DEFAULT 0,
    o_height INTEGER NOT NULL DEFAULT 0,
    sizes TEXT NOT NULL DEFAULT '[]',   -- JSON [[suffix, url, width, height], ...]
    extra TEXT NOT NULL DEFAULT '{}'    -- JSON of the other <photo> attributes
);
-- One index per filter and sort order; SQLite appends pk to each, which is
-- the tie-breaker of every ORDER BY.
CREATE INDEX IF NOT EXISTS photos_owner ON photos(owner, dateupload);
CREATE INDEX IF NOT EXISTS photos_pathalias ON photos(pathalias) WHERE pathalias != '';
CREATE INDEX IF NOT EXISTS photos_dateupload ON photos(dateupload);
CREATE INDEX IF NOT EXISTS photos_datetaken ON photos(datetaken);
CREATE INDEX IF NOT EXISTS photos_views ON photos(views);

-- Each serves its sort both ways: descending walks it backwards (NULL, the
-- least, comes last); ascending walks the known values forwards, then takes
-- the unknown ones (query.py, UNKNOWN_LAST).

CREATE TABLE IF NOT EXISTS tags (
    tag TEXT NOT NULL,                  -- lower case
    photo INTEGER NOT NULL REFERENCES photos(pk),
    PRIMARY KEY (tag, photo)
) WITHOUT ROWID;
-- No index on photo: a photo's rows are found from its own tags (store.tag_rows).

-- kind: group | photoset | gallery | favorites. position keeps album and
-- gallery order ((page-1)*per_page + index in the recorded page); added is
-- dateadded (groups) or date_faved (favorites); attrs holds the per-membership
-- attributes (isprimary, is_primary, has_comment, comment, dateadded, date_faved).
CREATE TABLE IF NOT EXISTS memberships (
    kind TEXT NOT NULL,
    set_id TEXT NOT NULL,
    photo INTEGER NOT NULL REFERENCES photos(pk),
    position INTEGER,
    added INTEGER,
    attrs TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (kind, set_id, photo)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS memberships_position ON memberships(kind, set_id, position);
CREATE INDEX IF NOT EXISTS memberships_added ON memberships(kind, set_id, added);
CREATE INDEX IF NOT EXISTS memberships_photo ON memberships(photo);

-- What a recorded call said about the set itself: the <photoset> wrapper, the
-- <gallery> element, or just the id of a group or a favorites list.
CREATE TABLE IF NOT EXISTS sets (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    ownername TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    "primary" TEXT NOT NULL DEFAULT '',
    attrs TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sets_owner ON sets(owner);

-- The image files of local photos (`library add-folder`): every path where a
-- photo's content was found, with the size and mtime it had then, so that a
-- re-run reads only new or changed files and the image route serves only a
-- file that still holds the content the photo's id was made from. A local
-- photo without a file (the demo, `library synth`) is drawn.
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    photo INTEGER NOT NULL REFERENCES photos(pk),
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS files_photo ON files(photo);

-- The demo's photos (made on the first request to an empty library, GATEWAY_DEMO),
-- so that the first command filling the library with photos of its own removes them.
CREATE TABLE IF NOT EXISTS demo (photo INTEGER PRIMARY KEY);

-- The library's data version: bumped by every transaction that changed a row
-- (store.changed, called by store.transaction), read by every worker before it
-- answers (store.DataVersion), and part of every cache key, so that a change is
-- in the very next response. changed_at (unix time) is when it last changed.
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    changed_at INTEGER NOT NULL
);
INSERT OR IGNORE INTO changes (id, version, changed_at) VALUES (1, 0, 0);

-- text= searches title, description and tags; external content, so the
-- text is stored once (in photos).
CREATE VIRTUAL TABLE IF NOT EXISTS photos_fts USING fts5(
    title, description, tags, content='photos', content_rowid='pk',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS photos_fts_insert AFTER INSERT ON photos BEGIN
    INSERT INTO photos_fts(rowid, title, description, tags) VALUES (new.pk, new.title, new.description, new.tags);
END;
CREATE TRIGGER IF NOT EXISTS photos_fts_delete AFTER DELETE ON photos BEGIN
    INSERT INTO photos_fts(photos_fts, rowid, title, description, tags)
    VALUES ('delete', old.pk, old.title, old.description, old.tags);
END;
-- Only when the text changed: a new view count must not churn the index.
CREATE TRIGGER IF NOT EXISTS photos_fts_update AFTER UPDATE OF title, description, tags ON photos
WHEN old.title IS NOT new.title OR old.description IS NOT new.description OR old.tags IS NOT new.tags BEGIN
    INSERT INTO photos_fts(photos_fts, rowid, title, description, tags)
    VALUES ('delete', old.pk, old.title, old.description, old.tags);
    INSERT INTO photos_fts(rowid, title, description, tags) VALUES (new.pk, new.title, new.description, new.tags);
END;

-- Geotagged photos only, as points (min = max). R*Tree coordinates are 32-bit
-- floats rounded outwards, so queries use it to find candidates and then
-- compare the exact latitude/longitude in photos.
CREATE VIRTUAL TABLE IF NOT EXISTS photos_geo USING rtree(pk, min_lon, max_lon, min_lat, max_lat);
CREATE TRIGGER IF NOT EXISTS photos_geo_insert AFTER INSERT ON photos WHEN new.geotagged BEGIN
    INSERT INTO photos_geo VALUES (new.pk, new.longitude, new.longitude, new.latitude, new.latitude);
END;
CREATE TRIGGER IF NOT EXISTS photos_geo_delete AFTER DELETE ON photos BEGIN
    DELETE FROM photos_geo WHERE pk = old.pk;
END;
CREATE TRIGGER IF NOT EXISTS photos_geo_update AFTER UPDATE OF latitude, longitude, geotagged ON photos
WHEN old.latitude IS NOT new.latitude OR old.longitude IS NOT new.longitude OR old.geotagged IS NOT new.geotagged
BEGIN
    DELETE FROM photos_geo WHERE pk = old.pk;
    INSERT INTO photos_geo SELECT new.pk, new.longitude, new.longitude, new.latitude, new.latitude
    WHERE new.geotagged;
END;
"""


def create(conn: sqlite3.Connection) -> None:
    """Create the schema if the file is new, add what an older file lacks (every statement is
    IF NOT EXISTS); refuse a library written by a newer gateway."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > VERSION:
        raise RuntimeError(f"library schema version {version} is newer than this gateway's ({VERSION})")
    if version == VERSION:
        return
    # One transaction, so that a second process creating the same file waits
    # and then finds every IF NOT EXISTS satisfied.
    try:
        conn.executescript(f"BEGIN IMMEDIATE; {DDL} PRAGMA user_version = {VERSION}; COMMIT;")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
