"""The event log and the subscriptions in Redis (GATEWAY_CACHE_URL=redis://…): every host shares them.

    gw:push:watches            set of watch ids
    gw:push:watch:<w>          hash method, args (JSON), primed, state, trimmed (newest event trimmed)
    gw:push:seen:<w>           set of the photo ids the watch has shown (never trimmed)
    gw:push:log:<w>            stream of events: p (photo id), at, photo (JSON); MAXLEN LOG_LENGTH
    gw:push:claim:<name>       SET NX EX: one poll per watch across all hosts
    gw:push:sub:<id>           a subscription (JSON);  gw:push:subs, gw:push:subs:<w>: its indexes

Event ids are the stream's ids ("1714380000123-0"). An append is one Lua
script (SADD, and XADD only when the photo was not in the set), so two
hosts appending the same photo make one event; `wait` is XREAD BLOCK, woken
by the XADD of any host.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import redis as redis_lib

from .events import LOG_LENGTH, START, Event, Events, photo_id

P = "gw:push:"
APPEND = """
local made = {}
for i = 1, #ARGV - 1, 2 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    if redis.call('XLEN', KEYS[2]) >= tonumber(KEYS[3]) then
      -- the oldest event is about to go: readers behind it have a gap
      local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
      redis.call('HSET', KEYS[5], 'trimmed', oldest[1][1])
    end
    local id = redis.call('XADD', KEYS[2], 'MAXLEN', '=', tonumber(KEYS[3]), '*',
                          'p', ARGV[i], 'at', KEYS[4], 'photo', ARGV[i + 1])
    table.insert(made, id)
    table.insert(made, ARGV[i])
  end
end
return made
"""
UPDATE = """
local body = redis.call('GET', KEYS[1])
if not body then return 0 end
local doc = cjson.decode(body)
for k, v in pairs(cjson.decode(ARGV[1])) do doc[k] = v end
redis.call('SET', KEYS[1], cjson.encode(doc))
return 1
"""


def _sid(position: str) -> tuple[int, int]:
    ms, _, seq = (position or "0").partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return 0, 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisLog:
    def __init__(self, url: str):
        self.client = redis_lib.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5)
        self._append = self.client.register_script(APPEND)

    def register(self, watch: str, method: str, args: Mapping[str, str]) -> None:
        key = f"{P}watch:{watch}"
        if self.client.hsetnx(key, "method", method):
            self.client.hset(key, mapping={"args": json.dumps(dict(args), sort_keys=True)})
        self.client.sadd(f"{P}watches", watch)

    def watch(self, watch: str) -> dict | None:
        data = {_text(k): _text(v) for k, v in self.client.hgetall(f"{P}watch:{watch}").items()}
        if "method" not in data:
            return None
        return {"method": data["method"], "args": json.loads(data.get("args", "{}")),
                "primed": data.get("primed") == "1", "state": data.get("state", "")}

    def watches(self) -> list[str]:
        return sorted(_text(w) for w in self.client.smembers(f"{P}watches"))

    def forget(self, watch: str) -> None:
        self.client.delete(f"{P}watch:{watch}", f"{P}seen:{watch}", f"{P}log:{watch}")
        self.client.srem(f"{P}watches", watch)

    def prime(self, watch: str, photo_ids: Sequence[str]) -> None:
        if photo_ids:
            self.client.sadd(f"{P}seen:{watch}", *photo_ids)
        self.client.hset(f"{P}watch:{watch}", "primed", "1")

    def append(self, watch: str, photos: Sequence[Mapping[str, Any]], at: float | None = None) -> list[Event]:
        at = time.time() if at is None else at
        args: list[str] = []
        by_id = {}
        for photo in reversed(photos):  # oldest first: the newest photo gets the highest id
            pid = photo_id(photo)
            by_id[pid] = photo
            args += [pid, json.dumps(photo, ensure_ascii=False)]
        if not args:
            return []
        made = self._append(keys=[f"{P}seen:{watch}", f"{P}log:{watch}", LOG_LENGTH, repr(at),
                                            f"{P}watch:{watch}"], args=args)
        return [Event(_text(made[i]), watch, _text(made[i + 1]), at, dict(by_id[_text(made[i + 1])]))
                for i in range(0, len(made), 2)]

    def _events(self, watch: str, entries: list) -> list[Event]:
        out = []
        for event_id, fields in entries:
            f = {_text(k): _text(v) for k, v in fields.items()}
            out.append(Event(_text(event_id), watch, f["p"], float(f["at"]), json.loads(f["photo"])))
        return out

    def after(self, watch: str, position: str, limit: int = LOG_LENGTH) -> Events:
        key = f"{P}log:{watch}"
        start = "-" if position in (START, "", "0-0") else f"({position}"
        try:
            entries = self.client.xrange(key, min=start, max="+", count=limit)
        except redis_lib.ResponseError:  # a position that is not a stream id
            entries = self.client.xrange(key, min="-", max="+", count=limit)
        trimmed = self.client.hget(f"{P}watch:{watch}", "trimmed")
        gap = trimmed is not None and _sid(position) < _sid(_text(trimmed))
        return Events(self._events(watch, entries), gap)

    def head(self, watch: str) -> str:
        last = self.client.xrevrange(f"{P}log:{watch}", count=1)
        return _text(last[0][0]) if last else START

    def wait(self, positions: Mapping[str, str], timeout: float) -> list[Event]:
        if not positions:
            time.sleep(timeout)
            return []
        streams = {f"{P}log:{w}": ("0-0" if p in (START, "") else p) for w, p in positions.items()}
        answer = self.client.xread(streams, block=max(1, int(timeout * 1000)))
        out = []
        for key, entries in answer or []:
            out += self._events(_text(key)[len(f"{P}log:"):], entries)
        return out

    def set_state(self, watch: str, digest: str) -> bool:
        old = self.client.hget(f"{P}watch:{watch}", "state")
        self.client.hset(f"{P}watch:{watch}", "state", digest)
        return (_text(old) if old is not None else "") != digest

    def claim(self, name: str, seconds: float) -> bool:
        return bool(self.client.set(f"{P}claim:{name}", "1", nx=True, px=max(1, int(seconds * 1000))))

    def keep(self, watch: str, seconds: float) -> None:
        self.client.set(f"{P}claim:keep:{watch}", "1", px=max(1, int(seconds * 1000)))

    def kept(self) -> list[str]:
        prefix = f"{P}claim:keep:"
        return [_text(k)[len(prefix):] for k in self.client.scan_iter(match=prefix + "*", count=1000)]

    def close(self) -> None:
        self.client.close()


class RedisSubscriptions:
    def __init__(self, client: redis_lib.Redis):
        self.client = client
        self._update = client.register_script(UPDATE)

    def get(self, sub_id: str) -> dict | None:
        body = self.client.get(f"{P}sub:{sub_id}")
        return json.loads(body) if body else None

    def put(self, doc: Mapping[str, Any]) -> None:
        pipe = self.client.pipeline()
        pipe.set(f"{P}sub:{doc['id']}", json.dumps(dict(doc)))
        pipe.sadd(f"{P}subs", doc["id"])
        pipe.sadd(f"{P}subs:{doc['watch']}", doc["id"])
        pipe.execute()

    def update(self, sub_id: str, **fields: Any) -> bool:
        return bool(self._update(keys=[f"{P}sub:{sub_id}"], args=[json.dumps(fields)]))

    def delete(self, sub_id: str) -> bool:
        doc = self.get(sub_id)
        if doc is None:
            return False
        pipe = self.client.pipeline()
        pipe.delete(f"{P}sub:{sub_id}")
        pipe.srem(f"{P}subs", sub_id)
        pipe.srem(f"{P}subs:{doc['watch']}", sub_id)
        pipe.execute()
        return True

    def _many(self, ids: Sequence[Any]) -> list[dict]:
        keys = [f"{P}sub:{_text(i)}" for i in ids]
        return [json.loads(b) for b in (self.client.mget(keys) if keys else []) if b]

    def all(self) -> list[dict]:
        return self._many(sorted(self.client.smembers(f"{P}subs")))

    def for_watch(self, watch: str) -> list[dict]:
        return self._many(sorted(self.client.smembers(f"{P}subs:{watch}")))
