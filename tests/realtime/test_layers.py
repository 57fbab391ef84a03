"""realtime.layers: group_send_batch against a real Redis.

Two layer instances stand for two server processes: each has its own Redis
connections and its own channel, as a uvicorn worker would.
"""

import asyncio
import secrets

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from django.conf import settings

from realtime.layers import PubSubChannelLayer

pytestmark = [pytest.mark.asyncio, pytest.mark.redis]


class Process:
    """A layer and its channel, read all the time as chat.hub reads it (a
    cancelled `receive` would unsubscribe the channel)."""

    def __init__(self, layer: PubSubChannelLayer, channel: str) -> None:
        self.layer, self.channel = layer, channel
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            self.inbox.put_nowait(await self.layer.receive(self.channel))


@pytest_asyncio.fixture
async def processes():
    prefix = f"test-layers-{secrets.token_hex(4)}"
    made = []
    for _ in range(2):
        layer = PubSubChannelLayer(
            hosts=[{"address": settings.REDIS_URL, "socket_timeout": None}],
            prefix=prefix,
            membership_expiry=30,
        )
        made.append(Process(layer, await layer.new_channel("hub.")))
    yield [(p.layer, p) for p in made]
    for p in made:
        p.reader.cancel()
        await asyncio.gather(p.reader, return_exceptions=True)
        await p.layer.flush()
    client = aioredis.from_url(settings.REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def received(process: Process, timeout=2.0) -> dict:
    return await asyncio.wait_for(process.inbox.get(), timeout)


async def nothing_for(process: Process, wait=0.3) -> bool:
    await asyncio.sleep(wait)
    return process.inbox.empty()


def batch(*messages: dict) -> dict:
    return {"type": "batch", "messages": list(messages)}


async def test_every_process_in_one_of_the_groups_gets_the_batch_once(processes):
    (a, chan_a), (b, chan_b) = processes
    await a.group_add("g1", chan_a.channel)
    await a.group_add("g2", chan_a.channel)
    await b.group_add("g3", chan_b.channel)
    items = [
        ("g1", {"type": "m", "n": 1}),
        ("g2", {"type": "m", "n": 2}),
        ("g1", {"type": "m", "n": 3}),
    ]
    await a.group_send_batch(items, "batch")
    assert await received(chan_a) == batch(*(m for _, m in items))
    assert await nothing_for(chan_a), "a is in two of the groups: still one copy"
    assert await nothing_for(chan_b), "b is in none of the batch's groups"
    await a.group_send_batch([("g2", {"n": 4}), ("g3", {"n": 5})], "batch")
    assert await received(chan_a) == batch({"n": 4}, {"n": 5})
    assert await received(chan_b) == batch({"n": 4}, {"n": 5})


async def test_a_discarded_channel_is_no_longer_sent_to(processes):
    (a, chan_a), (b, chan_b) = processes
    await a.group_add("g1", chan_a.channel)
    await b.group_add("g1", chan_b.channel)
    await b.group_discard("g1", chan_b.channel)
    await a.group_send_batch([("g1", {"n": 1}), ("g2", {"n": 2})], "batch")
    assert await received(chan_a) == batch({"n": 1}, {"n": 2})
    assert await nothing_for(chan_b)


async def test_a_membership_lapses_unless_renewed(processes):
    (a, chan_a), (b, chan_b) = processes
    a.membership_expiry = 0.5
    await a.group_add("g1", chan_a.channel)
    await b.group_add("g1", chan_b.channel)  # 30 s
    await asyncio.sleep(0.7)
    items = [("g1", {"n": 1}), ("g2", {"n": 2})]
    await a.group_send_batch(items, "batch")
    assert await received(chan_b) == batch({"n": 1}, {"n": 2})
    assert await nothing_for(chan_a), "a's membership lapsed"
    await a.group_add("g1", chan_a.channel)  # renewed, as chat.hub's refresh does
    await a.group_send_batch(items, "batch")
    assert await received(chan_a) == batch({"n": 1}, {"n": 2})


async def test_the_script_is_loaded_again_when_redis_forgot_it(processes):
    (a, chan_a), _ = processes
    await a.group_add("g1", chan_a.channel)
    (shard,) = a._get_layer()._shards
    await shard._redis.script_flush()
    await a.group_send_batch([("g1", {"n": 1}), ("g2", {"n": 2})], "batch")
    assert await received(chan_a) == batch({"n": 1}, {"n": 2})


async def test_plain_group_send_still_reaches_the_subscription(processes):
    (a, chan_a), (b, chan_b) = processes
    await b.group_add("g1", chan_b.channel)
    await a.group_send("g1", {"type": "m", "plain": True})
    assert await received(chan_b) == {"type": "m", "plain": True}


async def forget_records(layer: PubSubChannelLayer) -> None:
    """What a Redis restart does to the member records (the subscriptions are
    left alone here; redis-py restores those by itself)."""
    client = aioredis.from_url(settings.REDIS_URL)
    prefix = layer._get_layer().prefix
    keys = [key async for key in client.scan_iter(f"{prefix}__members*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_after_the_records_are_lost_batches_go_per_group_until_renewed(
    processes,
):
    (a, chan_a), (b, chan_b) = processes
    for layer in (a, b):
        layer.membership_grace = 0.5
    await a.group_add("g1", chan_a.channel)
    await b.group_add("g1", chan_b.channel)
    await b.group_add("g2", chan_b.channel)
    items = [("g1", {"n": 1}), ("g2", {"n": 2})]
    await a.group_send_batch(items, "batch")  # a fresh Redis: no wait
    assert await received(chan_b) == batch({"n": 1}, {"n": 2})
    assert await received(chan_a) == batch({"n": 1}, {"n": 2})

    await forget_records(a)
    await a.group_send_batch(items, "batch")  # records gone: per group, nothing lost
    assert [await received(chan_b), await received(chan_b)] == [{"n": 1}, {"n": 2}]
    assert await received(chan_a) == {"n": 1}
    # b renews one of its groups, notices the loss, records all of its own.
    await b.group_renew(["g1"], chan_b.channel)
    await a.group_renew(["g1"], chan_a.channel)
    await a.group_send_batch(items, "batch")  # still within the grace: per group
    assert [await received(chan_b), await received(chan_b)] == [{"n": 1}, {"n": 2}]
    assert await received(chan_a) == {"n": 1}
    await asyncio.sleep(0.6)
    await a.group_send_batch(items, "batch")
    assert await received(chan_a) == batch({"n": 1}, {"n": 2})
    assert await received(chan_b) == batch({"n": 1}, {"n": 2})
    # b renewed only g1 itself: g2 is recorded again because b noticed the loss.
    await a.group_send_batch([("g2", {"n": 2}), ("g3", {"n": 3})], "batch")
    assert await received(chan_b) == batch({"n": 2}, {"n": 3})
    assert await nothing_for(chan_a) and await nothing_for(chan_b)


async def test_a_renewal_does_not_bring_back_a_group_left_meanwhile(processes):
    """The hub renews from a snapshot of its groups; one left since is skipped."""
    (a, chan_a), (b, chan_b) = processes
    await b.group_add("g1", chan_b.channel)
    await b.group_add("g2", chan_b.channel)
    snapshot = ["g1", "g2"]
    await b.group_discard("g2", chan_b.channel)
    await b.group_renew(snapshot, chan_b.channel)
    await a.group_send_batch([("g2", {"n": 2}), ("g3", {"n": 3})], "batch")
    assert await nothing_for(chan_b)
    await a.group_send("g2", {"n": 2})  # nor its subscription
    assert await nothing_for(chan_b)


async def test_a_process_that_had_left_everything_does_not_hold_batches(processes):
    """Its old generation means nothing once it has no memberships: joining
    again after the records were lost must not make everyone send per group."""
    (a, chan_a), (b, chan_b) = processes
    a.membership_grace = b.membership_grace = 30
    await b.group_add("g2", chan_b.channel)
    await b.group_discard("g2", chan_b.channel)
    await a.group_add("g9", chan_a.channel)
    await a.group_discard("g9", chan_a.channel)
    await forget_records(a)
    await b.group_add("g2", chan_b.channel)
    await a.group_add("g1", chan_a.channel)
    await a.group_send_batch([("g1", {"n": 1}), ("g2", {"n": 2})], "batch")
    assert await received(chan_b) == batch({"n": 1}, {"n": 2})
