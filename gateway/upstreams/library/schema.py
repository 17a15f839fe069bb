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
# 4: machine_tags (kept from tags by triggers), place names (photos.locality…place_id) and places.
VERSION = 4

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
    extra TEXT NOT NULL DEFAULT '{}',   -- JSON of the other <photo> attributes
    {PLACE_COLUMNS}
);
-- One index per filter and sort order; SQLite appends pk to each, which is
-- the tie-breaker of every ORDER BY.
CREATE INDEX IF NOT EXISTS photos_owner ON photos(owner, dateupload);
CREATE INDEX IF NOT EXISTS photos_pathalias ON photos(pathalias) WHERE pathalias != '';
CREATE INDEX IF NOT EXISTS photos_dateupload ON photos(dateupload);
CREATE INDEX IF NOT EXISTS photos_datetaken ON photos(datetaken);
CREATE INDEX IF NOT EXISTS photos_views ON photos(views);
CREATE INDEX IF NOT EXISTS photos_place ON photos(place_id);

-- Each serves its sort both ways: descending walks it backwards (NULL, the
-- least, comes last); ascending walks the known values forwards, then takes
-- the unknown ones (query.py, UNKNOWN_LAST).

CREATE TABLE IF NOT EXISTS tags (
    tag TEXT NOT NULL,                  -- lower case
    photo INTEGER NOT NULL REFERENCES photos(pk),
    PRIMARY KEY (tag, photo)
) WITHOUT ROWID;
-- No index on photo: a photo's rows are found from its own tags (store.tag_rows).

-- The machine tags among the tags ("upcoming:event=81334"), kept in step with `tags` by its
-- triggers, each under the seven keys photos.search's machine_tags can ask for it by
-- (machinetags.py): ns:  ns:pred=  ns:pred=value  ns:*=value  *:pred=  *:pred=value  *:*=value.
-- So every form of the query is one key, read like a tag: an index range whose photos are
-- sorted and distinct (counted without reading a photo), or one lookup for one photo.
-- n: how many of the photo's machine tags give the key ("taxonomy:" from two binomials), so that
-- removing one tag keeps the keys the others still give.
-- A namespace and a predicate are a letter and then letters, digits or _ (Flickr's rule).
CREATE TABLE IF NOT EXISTS machine_tags (
    key TEXT NOT NULL,
    photo INTEGER NOT NULL REFERENCES photos(pk),
    n INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (key, photo)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS tags_machine_insert AFTER INSERT ON tags WHEN new.tag GLOB {MACHINE_TAG} BEGIN
    INSERT INTO machine_tags (key, photo) SELECT key, photo FROM ({KEYS_NEW}) WHERE 1
    ON CONFLICT (key, photo) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS tags_machine_delete AFTER DELETE ON tags WHEN old.tag GLOB {MACHINE_TAG} BEGIN
    UPDATE machine_tags SET n = n - 1 WHERE photo = old.photo AND key IN (SELECT key FROM ({KEYS_OLD}));
    DELETE FROM machine_tags WHERE photo = old.photo AND n <= 0 AND key IN (SELECT key FROM ({KEYS_OLD}));
END;

-- The places photos were taken near (gazetteer.py): each locality with its region and
-- country, and those too, by GeoNames id. woe_id/place_id of photos.search name them.
CREATE TABLE IF NOT EXISTS places (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                 -- locality | region | country
    name TEXT NOT NULL,
    region INTEGER NOT NULL DEFAULT 0,  -- the region's id (0: none known)
    country INTEGER NOT NULL DEFAULT 0,
    latitude REAL NOT NULL DEFAULT 0,
    longitude REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS places_region ON places(region);
CREATE INDEX IF NOT EXISTS places_country ON places(country);

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

# The place a photo was taken near (gazetteer.nearest at import): "" / 0 when not geotagged or far from any.
PLACE_COLUMNS = {
    "locality": "TEXT NOT NULL DEFAULT ''",
    "region": "TEXT NOT NULL DEFAULT ''",
    "country": "TEXT NOT NULL DEFAULT ''",
    "place_id": "INTEGER NOT NULL DEFAULT 0",  # the locality's GeoNames id
}


def machine_tag_keys(tag: str, photo: str, source: str = "") -> str:
    """SQL of the keys (machine_tags.key) a row of `tags` gives, with its photo: `tag` and `photo`
    are the row's columns (new.tag, or t.tag FROM `source`); no row unless the tag is a machine
    tag by Flickr's rule."""
    rest = f"substr({tag}, instr({tag}, ':') + 1)"
    ns, pred = f"substr({tag}, 1, instr({tag}, ':') - 1)", f"substr({rest}, 1, instr({rest}, '=') - 1)"
    value = f"substr({rest}, instr({rest}, '=') + 1)"
    split = f"SELECT {ns} AS ns, {pred} AS pred, {value} AS value, {photo} AS photo {source}"
    keys = ("s.ns || ':'", "s.ns || ':' || s.pred || '='", "s.ns || ':' || s.pred || '=' || s.value",
            "s.ns || ':*=' || s.value", "'*:' || s.pred || '='", "'*:' || s.pred || '=' || s.value",
            "'*:*=' || s.value")
    return (f"SELECT j.value AS key, s.photo AS photo FROM ({split}) s, json_each(json_array({', '.join(keys)})) j "
            "WHERE s.ns NOT GLOB '*[^a-z0-9_]*' AND s.pred GLOB '[a-z]*' AND s.pred NOT GLOB '*[^a-z0-9_]*' "
            "AND s.value != ''")


DDL = DDL.replace("{PLACE_COLUMNS}", ",\n    ".join(f"{name} {sql}" for name, sql in PLACE_COLUMNS.items()))
MACHINE_TAG = "'[a-z]*:[a-z]*=?*'"  # GLOB: what may be a machine tag (machine_tag_keys decides)
DDL = (DDL.replace("{MACHINE_TAG}", MACHINE_TAG).replace("{KEYS_NEW}", machine_tag_keys("new.tag", "new.photo"))
       .replace("{KEYS_OLD}", machine_tag_keys("old.tag", "old.photo")))


def create(conn: sqlite3.Connection) -> None:
    """Create the schema if the file is new, bring an older file up to date (every statement is
    IF NOT EXISTS; migrate() adds what those cannot); refuse a library written by a newer gateway."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > VERSION:
        raise RuntimeError(f"library schema version {version} is newer than this gateway's ({VERSION})")
    if version == VERSION:
        return
    # One transaction, so that a second process creating the same file waits
    # and then finds the work done.
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] != VERSION:
            migrate(conn)
            for statement in statements(DDL):
                conn.execute(statement)
            if version:
                backfill(conn)
                # The answers cached before now lack the place names (store.changed, which imports this module).
                conn.execute("UPDATE changes SET version = version + 1, "
                             "changed_at = max(changed_at, CAST(strftime('%s', 'now') AS INTEGER)) WHERE id = 1")
            conn.execute(f"PRAGMA user_version = {VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def statements(script: str) -> list[str]:
    """A script's statements one by one (a trigger's body holds semicolons of its own)."""
    found, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    return found


def migrate(conn: sqlite3.Connection) -> None:
    """What IF NOT EXISTS cannot do to an older file: columns added to photos (version 4)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(photos)")}
    if not have:
        return  # a new file: DDL makes the table whole
    for name, sql in PLACE_COLUMNS.items():
        if name not in have:
            conn.execute(f"ALTER TABLE photos ADD COLUMN {name} {sql}")


def backfill(conn: sqlite3.Connection) -> None:
    """Fill version 4's tables for the photos an older file holds: machine_tags from the tags
    (one statement), and the place each geotagged photo was taken near (placenames.py)."""
    keys = machine_tag_keys("t.tag", "t.photo", f"FROM tags t WHERE t.tag GLOB {MACHINE_TAG}")
    conn.execute(f"INSERT INTO machine_tags (key, photo, n) SELECT key, photo, count(*) FROM ({keys}) "
                 "GROUP BY key, photo")
    from . import placenames  # it reads the gazetteer: only an upgrade needs it here

    placenames.backfill(conn)
