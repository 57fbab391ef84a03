"""The Redis pub/sub channel layer with one extension: `group_send_many`.

A chat batch spans several rooms, each its own group, and channels-redis sends
each `group_send` as its own PUBLISH, one round trip after another (a shard's
publishes hold one lock). Measured on the persist benchmark, Redis was a third of
a stored chat's CPU. `group_send_many` sends a batch's messages to their groups
in one pipelined round trip per shard, with the same lock, serializer and channel
names as `group_send`; `chat.hub` falls back to `group_send` on any other layer.

It reaches into channels-redis (`_get_layer`, `_get_group_channel_name`,
`_get_shard`, the shard's `_lock`, `_ensure_redis` and `_redis`): requirements.txt
pins channels-redis, and tests/chat/test_hub.py and test_redis_restart.py run
this class against a real Redis, restart included.
"""

from channels_redis.pubsub import RedisPubSubChannelLayer


class PubSubChannelLayer(RedisPubSubChannelLayer):
    async def group_send_many(self, items: list[tuple[str, dict]]) -> None:
        """Send each (group, message) like `group_send`, pipelined per shard."""
        layer = self._get_layer()
        by_shard: dict = {}
        for group, message in items:
            channel = layer._get_group_channel_name(group)
            by_shard.setdefault(layer._get_shard(channel), []).append(
                (channel, self.serialize(message))
            )
        for shard, publishes in by_shard.items():
            async with shard._lock:
                shard._ensure_redis()
                pipe = shard._redis.pipeline(transaction=False)
                for channel, data in publishes:
                    pipe.publish(channel, data)
                await pipe.execute()
