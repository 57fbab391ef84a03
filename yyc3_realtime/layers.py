"""The Redis pub/sub channel layer with one extension: `group_send_batch`.

A chat batch spans several rooms, each its own group. Sent as one `group_send`
per room, a process in those rooms gets one pub/sub message per room and pays for
each: receive, parse, deserialize, wake the reader; the sender pays a PUBLISH per
room. On the persist benchmark that was a quarter of a stored chat's CPU.

`group_send_batch(items, kind)` sends `{"type": kind, "messages": [...]}` with all
of the batch's messages, serialized once, to every channel that is in at least one
of its groups, once: one EVALSHA for the sender, one message for each receiving
process, which acts on the messages of its own groups (chat.hub skips rooms it
has no socket in). For that the layer records who is in a group, which stock
pub/sub does not (a group is a Redis subscription there): `group_add` also puts
the channel in a sorted set `<prefix>__members__<group>`, scored with the time it
lapses (`membership_expiry` seconds; the caller re-adds before then, as chat.hub
does every WS_GROUP_REFRESH_SECONDS), and `group_discard` takes it out. A Lua
script reads the sets and publishes. Plain `group_send` is unchanged and still
uses the subscription, so everything else, a batch of one group included, is
stock. With several Redis shards (a PUBLISH reaches its own server only) a batch
falls back to one `group_send` per message.

A process gets batches for rooms it is in at least one of; each costs it one
deserialization of the whole batch, cheap next to a message per room. A Redis
restart empties the sets, like the subscriptions: the next re-add brings them
back, and until then clients resume with `history` (docs/architecture.md).

It reaches into channels-redis (`_get_layer`, `_get_group_channel_name`,
`_get_shard`, `_shards`, a shard's `_lock`, `_ensure_redis` and `_redis`):
requirements.txt pins channels-redis, and tests/yyc3_realtime/test_layers.py,
tests/chat/test_hub.py and test_redis_restart.py run this class against a real
Redis, restart included.
"""

import hashlib
import time

from channels_redis.pubsub import RedisPubSubChannelLayer
from redis.exceptions import NoScriptError

# KEYS: member sets; ARGV: now, payload. PUBLISH the payload once to each member.
SEND_BATCH = """
local sent = {}
for _, key in ipairs(KEYS) do
  for _, channel in ipairs(redis.call('ZRANGEBYSCORE', key, ARGV[1], '+inf')) do
    if not sent[channel] then
      sent[channel] = true
      redis.call('PUBLISH', channel, ARGV[2])
    end
  end
end
return 0
"""
SEND_BATCH_SHA = hashlib.sha1(SEND_BATCH.encode()).hexdigest()


class PubSubChannelLayer(RedisPubSubChannelLayer):
    def __init__(self, *args, membership_expiry: float = 120, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.membership_expiry = membership_expiry

    def _members_key(self, group: str) -> str:
        return f"{self._get_layer().prefix}__members__{group}"

    async def _on_shard_of(self, group: str, command) -> list:
        """Run `command(pipeline)` on the Redis connection of `group`'s shard."""
        layer = self._get_layer()
        shard = layer._get_shard(layer._get_group_channel_name(group))
        async with shard._lock:
            shard._ensure_redis()
            pipe = shard._redis.pipeline(transaction=False)
            command(pipe)
            return await pipe.execute()

    async def group_add(self, group: str, channel: str) -> None:
        await self._get_layer().group_add(group, channel)
        key, now = self._members_key(group), time.time()

        def add(pipe) -> None:
            pipe.zadd(key, {channel: now + self.membership_expiry})
            pipe.zremrangebyscore(key, "-inf", now)  # members that never left
            pipe.expire(key, int(self.membership_expiry) + 1)

        await self._on_shard_of(group, add)

    async def group_discard(self, group: str, channel: str) -> None:
        await self._get_layer().group_discard(group, channel)
        key = self._members_key(group)
        await self._on_shard_of(group, lambda pipe: pipe.zrem(key, channel))

    async def group_send_batch(self, items: list[tuple[str, dict]], kind: str) -> None:
        """Send `{"type": kind, "messages": [every item's message]}` once to each
        channel that is in at least one of the items' groups; a receiver acts on
        the messages of its own groups and ignores the rest."""
        layer = self._get_layer()
        if len(layer._shards) != 1:  # a PUBLISH reaches its own server only
            for group, message in items:
                await layer.group_send(group, message)
            return
        (shard,) = layer._shards
        keys = [
            self._members_key(group) for group in dict.fromkeys(g for g, _ in items)
        ]
        payload = self.serialize({"type": kind, "messages": [m for _, m in items]})
        async with shard._lock:
            shard._ensure_redis()
            try:
                await shard._redis.evalsha(
                    SEND_BATCH_SHA, len(keys), *keys, time.time(), payload
                )
            except NoScriptError:  # a restarted Redis forgot it
                await shard._redis.eval(
                    SEND_BATCH, len(keys), *keys, time.time(), payload
                )
