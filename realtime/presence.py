"""Who is online where, per user across devices and across server processes.

A key (a room, or `online` for the whole server) holds connections; answers are
(connections of this user under the key, distinct users under the key). With
`REDIS_URL` the state lives in Redis so every process sees the same counts;
entries carry an expiry that live processes keep pushing forward, so a crashed
process's sockets disappear within `3 x WS_GROUP_REFRESH_SECONDS`.
"""

import asyncio
import time

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError, NoScriptError, TimeoutError

from django.conf import settings

from realtime.batching import settle

ONLINE = "online"
# Connections per client address: the "user" of an entry is the address.
ADDRESSES = "addresses"
# Most queued joins and leaves sent to Redis in one pipeline.
PIPELINE = 500

_SWEEP = """
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
for _, m in ipairs(dead) do
  local u = string.match(m, '^(.-)|')
  if redis.call('HINCRBY', KEYS[2], u, -1) <= 0 then redis.call('HDEL', KEYS[2], u) end
end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4]) end
"""
_JOIN = (
    _SWEEP
    + """
local n
if redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) == 1 then
  n = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
else
  n = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
end
redis.call('PEXPIRE', KEYS[1], ARGV[5]); redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {n, redis.call('HLEN', KEYS[2])}
"""
)
_LEAVE = (
    _SWEEP
    + """
local n
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  n = redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
  if n <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]); n = 0 end
else
  n = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
end
return {n, redis.call('HLEN', KEYS[2])}
"""
)


class LocalPresence:
    """Presence for a single process (the embedded default)."""

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, set[str]]] = {}

    async def join(self, key: str, user_id: str, conn_id: str) -> tuple[int, int]:
        users = self.keys.setdefault(key, {})
        conns = users.setdefault(user_id, set())
        conns.add(conn_id)
        return len(conns), len(users)

    async def leave(self, key: str, user_id: str, conn_id: str) -> tuple[int, int]:
        users = self.keys.get(key, {})
        conns = users.get(user_id, set())
        conns.discard(conn_id)
        if not conns:
            users.pop(user_id, None)
        if not users:
            self.keys.pop(key, None)
        return len(conns), len(users)

    async def count(self, key: str) -> int:
        return len(self.keys.get(key, ()))

    async def users(self, key: str, limit: int) -> list[str]:
        """Return up to `limit` of the distinct users under `key`."""
        return list(self.keys.get(key, {}))[:limit]

    async def refresh(self) -> None:
        return None


def redis_retry() -> Retry:
    """Return the retry policy of our Redis connections: three quick reconnects."""
    return Retry(
        ExponentialBackoff(cap=1.0, base=0.05),
        3,
        # redis-py annotates RedisError subclasses; it catches whatever is listed.
        supported_errors=(ConnectionError, TimeoutError, OSError),  # type: ignore[arg-type]
    )


class RedisPresence:
    """Presence shared by every process through Redis."""

    def __init__(self, url: str, prefix: str) -> None:
        # A blocking pool: under a join storm callers wait for a connection
        # instead of failing with "Too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            socket_timeout=None,
            max_connections=settings.REDIS_MAX_CONNECTIONS,
            timeout=None,
            # After a Redis restart every pooled connection is dead: reconnect
            # and retry instead of failing the join that finds one.
            retry=redis_retry(),
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        self.prefix = prefix
        self._join = self.redis.register_script(_JOIN)
        self._leave = self.redis.register_script(_LEAVE)
        # This process's live entries, re-asserted by `refresh`.
        self.local: set[tuple[str, str, str]] = set()
        # Joins and leaves waiting for the pipeline in flight, in call order.
        self._queued: list[tuple[AsyncScript, list[str], list, asyncio.Future]] = []
        self._sending: asyncio.Future | None = None

    def _keys(self, key: str) -> list[str]:
        return [f"{self.prefix}:c:{key}", f"{self.prefix}:u:{key}"]

    def _args(self, user_id: str, conn_id: str) -> list:
        now = time.time()
        ttl = 3 * settings.WS_GROUP_REFRESH_SECONDS
        return [f"{user_id}|{conn_id}", user_id, now + ttl, now, int(ttl * 4000)]

    async def join(self, key: str, user_id: str, conn_id: str) -> tuple[int, int]:
        self.local.add((key, user_id, conn_id))
        return await self._call(self._join, key, user_id, conn_id)

    async def leave(self, key: str, user_id: str, conn_id: str) -> tuple[int, int]:
        self.local.discard((key, user_id, conn_id))
        return await self._call(self._leave, key, user_id, conn_id)

    async def _call(
        self, script: AsyncScript, key: str, user_id: str, conn_id: str
    ) -> tuple[int, int]:
        # Calls made while a pipeline is on its way go in the next one: a join
        # storm costs a round trip per batch, not one per socket and key.
        future = asyncio.get_running_loop().create_future()
        call = (script, self._keys(key), self._args(user_id, conn_id), future)
        self._queued.append(call)
        if self._sending is None:
            self._sending = asyncio.ensure_future(self._send_queued())
        mine, total = await future
        return int(mine), int(total)

    async def _send_queued(self) -> None:
        try:
            while self._queued:
                calls = self._queued[:PIPELINE]
                del self._queued[:PIPELINE]
                try:
                    results = await self._pipelined(calls)
                except Exception as exc:  # noqa: BLE001 - every caller gets it
                    results = [exc] * len(calls)
                settle([future for *_, future in calls], results)
        finally:
            self._sending = None

    async def _pipelined(self, calls: list) -> list:
        """Run the scripts of `calls` in one pipeline; return each one's result
        or exception, in order. A restarted Redis forgot the scripts: those
        calls run again once they are loaded."""
        results = await self._pipeline(calls)
        again = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if again:
            for script in {calls[i][0] for i in again}:
                await self.redis.script_load(script.script)
            retried = await self._pipeline([calls[i] for i in again])
            for i, result in zip(again, retried, strict=True):
                results[i] = result
        return results

    async def _pipeline(self, calls: list) -> list:
        async with self.redis.pipeline(transaction=False) as pipe:
            for script, keys, args, _ in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            return await pipe.execute(raise_on_error=False)

    async def count(self, key: str) -> int:
        return int(await self.redis.hlen(self._keys(key)[1]))

    async def users(self, key: str, limit: int) -> list[str]:
        """Return up to `limit` of the distinct users under `key` (any process)."""
        found: list[str] = []
        async for user_id, _ in self.redis.hscan_iter(self._keys(key)[1], count=limit):
            found.append(user_id.decode() if isinstance(user_id, bytes) else user_id)
            if len(found) >= limit:
                break
        return found

    async def refresh(self) -> None:
        """Push the expiry of this process's connections forward; re-add any that
        Redis lost (a restart), in pipelines of 500."""
        entries = list(self.local)
        for start in range(0, len(entries), 500):
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, user_id, conn_id in entries[start : start + 500]:
                    await self._join(
                        self._keys(key), self._args(user_id, conn_id), client=pipe
                    )
                await pipe.execute()


Presence = LocalPresence | RedisPresence


def make_presence() -> Presence:
    """Return the presence store of the current settings."""
    if settings.REDIS_URL:
        return RedisPresence(
            settings.REDIS_URL, f"{settings.CHANNEL_LAYER_PREFIX}:presence"
        )
    return LocalPresence()
