"""Presence in Redis: joins and leaves made at once share a pipeline, each
caller still gets its own answer, in call order."""

import asyncio
import uuid

import pytest
import pytest_asyncio

from django.conf import settings

from realtime.presence import RedisPresence

pytestmark = [pytest.mark.asyncio, pytest.mark.redis]


@pytest_asyncio.fixture
async def presence():
    store = RedisPresence(settings.REDIS_URL, f"test-{uuid.uuid4().hex}:presence")
    yield store
    keys = [key async for key in store.redis.scan_iter(f"{store.prefix}:*")]
    if keys:
        await store.redis.delete(*keys)
    await store.redis.aclose()


async def test_joins_made_at_once_each_get_their_own_counts(presence):
    """A join storm: every join is answered with the counts as of its turn."""
    users = [f"u{i}" for i in range(50)]
    answers = await asyncio.gather(
        *(presence.join("room.1", user, f"c.{user}") for user in users),
        presence.join("room.1", "u0", "c.second"),
    )
    assert answers == [(1, i + 1) for i in range(50)] + [(2, 50)]
    assert await presence.count("room.1") == 50


async def test_a_join_and_leave_queued_together_run_in_call_order(presence):
    await presence.join("room.1", "u1", "c.1")
    answers = await asyncio.gather(
        presence.join("room.1", "u2", "c.2"),
        presence.leave("room.1", "u1", "c.1"),
        presence.leave("room.1", "u2", "c.2"),
    )
    assert answers == [(1, 2), (0, 1), (0, 0)]


async def test_joins_work_after_redis_forgot_the_scripts(presence):
    """A restarted Redis has no scripts: the calls are run again once loaded."""
    await presence.join("room.1", "u1", "c.1")
    await presence.redis.script_flush()
    answers = await asyncio.gather(
        presence.join("room.1", "u2", "c.2"), presence.leave("room.1", "u1", "c.1")
    )
    assert answers == [(1, 2), (0, 1)]
