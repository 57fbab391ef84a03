"""The Redis pub/sub channel layer with one extension: `group_send_batch`.

A chat batch spans several rooms, each its own group. Sent as one `group_send`
per room, a process in those rooms gets one pub/sub message per room and pays for
each: receive, parse, deserialize, wake the reader; the sender pays a PUBLISH per
room. On the persist benchmark that was a quarter of a stored chat's CPU.

`group_send_batch(items, kind)` sends `{"type": kind, "messages": [...]}` with all
of the batch's messages, serialized once, to every channel that is in at least one
of its groups, once: one EVALSHA for the sender, one message for each receiving
process, which acts on the messages of its own groups (realtime.hub skips rooms
it has no socket in). For that the layer records who is in a group, which stock
pub/sub does not (a group is a Redis subscription there): `group_add` also puts
the channel in a sorted set `<prefix>__members__<group>`, scored with the time it
lapses (`membership_expiry` seconds; the caller renews before then with
`group_renew`, as the runtime does every WS_GROUP_REFRESH_SECONDS), and
`group_discard` takes it out. A Lua script reads the sets and publishes, on
Redis's clock. Plain `group_send` is unchanged and still uses the subscription,
so everything else, a batch of one group included, is stock. With several Redis
shards (a PUBLISH reaches its own server only) a batch goes out as one
`group_send` per message.

A process gets batches for rooms it is in at least one of; each costs it one
deserialization of the whole batch, cheap next to a message per room.

A Redis restart (or flush) loses the sets, while redis-py re-subscribes the
groups' channels by itself within seconds. The scripts therefore keep a
generation key: recording a membership creates it when it is missing, and each
process remembers the generation it recorded under. A process that finds another
one knows its records are gone and records them all again at once (`_record_all`),
and it makes batches go out as plain `group_send`s for `membership_grace`
seconds (the readiness key), time for every process to notice at its next
renewal. A batch that finds no generation at all does the same. On a fresh Redis
the first membership creates the generation and nothing waits. Left open: a
process that records its first membership right after a restart, before anything
else touches these keys, creates the generation without the wait, and until the
other processes renew (at most WS_GROUP_REFRESH_SECONDS) batches miss them; their
clients resume with `history`, as after any Redis restart. The same holds for a
Redis that comes back with old data (persistence on, or a failover to a
replica): the generation survives, so nobody waits, and the records are
complete again after one renewal.

It reaches into channels-redis: what it uses is declared in `realtime.internals`
and checked when the layer is made (`check_channels_redis`).
tests/realtime/test_layers.py, test_hub.py and test_redis_restart.py run this
class against a real Redis, restart included.
"""

import hashlib
import uuid
import weakref
from dataclasses import dataclass, field

from channels_redis.pubsub import RedisPubSubChannelLayer
from redis.exceptions import NoScriptError

from realtime.internals import RedisPubSubLoopLayer, check_channels_redis

# Every script reads the clock of Redis, so hosts' clocks need not agree.
_NOW = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local function hold_batches(grace)
  local ready = tonumber(redis.call('GET', KEYS[2]) or '0')
  redis.call('SET', KEYS[2], tostring(math.max(ready, now + grace)))
end
"""
# KEYS: generation, readiness, member sets. ARGV: channel, expiry, the caller's
# generation ('' if none yet), a new generation, grace. Returns the generation.
ADD = (
    _NOW
    + """
local gen = redis.call('GET', KEYS[1])
if not gen then
  gen = ARGV[4]
  redis.call('SET', KEYS[1], gen)
end
if ARGV[3] ~= '' and ARGV[3] ~= gen then
  hold_batches(tonumber(ARGV[5]))
end
for i = 3, #KEYS do
  redis.call('ZADD', KEYS[i], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  redis.call('EXPIRE', KEYS[i], math.ceil(tonumber(ARGV[2])) + 1)
end
return gen
"""
)
# KEYS: generation, readiness, member sets. ARGV: payload, grace. PUBLISH the
# payload once to each member and return 1; or return 0, publishing nothing,
# while the records may be incomplete (the caller then uses group_send).
SEND_BATCH = (
    _NOW
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then
  hold_batches(tonumber(ARGV[2]))
  return 0
end
if tonumber(redis.call('GET', KEYS[2]) or '0') > now then
  return 0
end
local sent = {}
for i = 3, #KEYS do
  for _, channel in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], now, '+inf')) do
    if not sent[channel] then
      sent[channel] = true
      redis.call('PUBLISH', channel, ARGV[1])
    end
  end
end
return 1
"""
)
SHA = {
    script: hashlib.sha1(script.encode()).hexdigest() for script in (ADD, SEND_BATCH)
}


async def _run(redis, script: str, keys: list[str], *args):
    try:
        return await redis.evalsha(SHA[script], len(keys), *keys, *args)
    except NoScriptError:  # a restarted Redis forgot it
        return await redis.eval(script, len(keys), *keys, *args)


@dataclass
class _Records:
    """What one event loop's layer recorded: group -> its channels, and the
    generation of the records it last saw."""

    memberships: dict[str, set[str]] = field(default_factory=dict)
    generation: str = ""


class PubSubChannelLayer(RedisPubSubChannelLayer):
    def __init__(
        self,
        *args,
        membership_expiry: float = 120,
        membership_grace: float = 60,
        **kwargs,
    ) -> None:
        """`membership_expiry`: how long a recorded membership lasts unless
        renewed. `membership_grace`: after Redis lost the records (a restart),
        how long batches go through the groups' subscriptions instead, long
        enough for every process to renew its memberships."""
        check_channels_redis()
        super().__init__(*args, **kwargs)
        self.membership_expiry = membership_expiry
        self.membership_grace = membership_grace
        self._records: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _loop_layer(self) -> RedisPubSubLoopLayer:
        """This event loop's channels-redis layer (it keeps one per loop)."""
        return self._get_layer()

    def _mine(self) -> _Records:
        """This event loop's records."""
        layer = self._loop_layer()
        if layer not in self._records:
            self._records[layer] = _Records()
        return self._records[layer]

    async def flush(self) -> None:
        self._records.pop(self._loop_layer(), None)
        await self._loop_layer().flush()

    def _meta_keys(self) -> list[str]:
        prefix = self._loop_layer().prefix
        return [f"{prefix}__members_gen__", f"{prefix}__members_ready__"]

    def _members_key(self, group: str) -> str:
        return f"{self._loop_layer().prefix}__members__{group}"

    async def _record(self, groups: list[str], channel: str) -> None:
        """Add or renew `channel` in each group's member set; if Redis lost the
        records since the last time, record every membership of this process."""
        layer = self._loop_layer()
        (shard, *others) = layer._shards
        if others:  # group_send_batch is plain group_send here: nothing to record
            return
        keys = self._meta_keys() + [self._members_key(g) for g in groups]
        mine = self._mine()
        async with shard._lock:
            shard._ensure_redis()
            gen = await _run(
                shard._redis,
                ADD,
                keys,
                channel,
                self.membership_expiry,
                mine.generation,
                uuid.uuid4().hex,
                self.membership_grace,
            )
        gen = gen.decode() if isinstance(gen, bytes) else gen
        lost, mine.generation = mine.generation not in ("", gen), gen
        if lost:
            await self._record_all()

    async def _record_all(self) -> None:
        by_channel: dict[str, list[str]] = {}
        for group, channels in self._mine().memberships.items():
            for channel in channels:
                by_channel.setdefault(channel, []).append(group)
        for channel, groups in by_channel.items():
            await self._record(groups, channel)

    async def group_add(self, group: str, channel: str) -> None:
        await self._loop_layer().group_add(group, channel)
        self._mine().memberships.setdefault(group, set()).add(channel)
        await self._record([group], channel)

    async def group_renew(self, groups: list[str], channel: str) -> None:
        """Renew the recorded memberships of `channel` in `groups`, in one round
        trip. The subscriptions need nothing: redis-py restores them itself. A
        group the channel has left meanwhile (the list may be a snapshot) is
        skipped, not joined again."""
        mine = self._mine()
        current = [g for g in groups if channel in mine.memberships.get(g, ())]
        if current:
            await self._record(current, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        mine = self._mine()
        channels = mine.memberships.get(group, set())
        channels.discard(channel)
        if not channels:
            mine.memberships.pop(group, None)
            if not mine.memberships:  # nothing of ours is recorded any more
                mine.generation = ""
        await self._loop_layer().group_discard(group, channel)
        layer = self._loop_layer()
        shard = layer._get_shard(layer._get_group_channel_name(group))
        async with shard._lock:
            shard._ensure_redis()
            await shard._redis.zrem(self._members_key(group), channel)

    async def group_send_batch(self, items: list[tuple[str, dict]], kind: str) -> None:
        """Send `{"type": kind, "messages": [every item's message]}` once to each
        channel that is in at least one of the items' groups; a receiver acts on
        the messages of its own groups and ignores the rest. While the member
        records may be incomplete (after a Redis restart), and with several
        shards, each item goes out with `group_send` instead."""
        layer = self._loop_layer()
        if len(layer._shards) == 1:  # a PUBLISH reaches its own server only
            (shard,) = layer._shards
            groups = dict.fromkeys(group for group, _ in items)
            keys = self._meta_keys() + [self._members_key(g) for g in groups]
            payload = self.serialize({"type": kind, "messages": [m for _, m in items]})
            async with shard._lock:
                shard._ensure_redis()
                sent = await _run(
                    shard._redis, SEND_BATCH, keys, payload, self.membership_grace
                )
            if sent:
                return
        for group, message in items:
            await layer.group_send(group, message)
