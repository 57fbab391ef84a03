"""The per-process runtime, and what a Connection refuses to do."""

import asyncio

import pytest

from realtime import Connection, runtime
from realtime.connection import NoLayerChannel
from realtime.lifespan import lifespan
from realtime.process import Runtime


class Timers:
    """Per-process app state holding a task, as the viewer counts do."""

    def __init__(self) -> None:
        self.task = asyncio.ensure_future(asyncio.sleep(3600))

    def stop(self) -> None:
        self.task.cancel()


@pytest.mark.asyncio
async def test_one_runtime_per_loop_and_one_state_instance_each():
    assert runtime() is runtime()
    assert runtime().state(Timers) is runtime().state(Timers)
    first, second = runtime().connection_id(), runtime().connection_id()
    assert first != second and first.split(".")[0] == runtime().process_id
    runtime().state(Timers).stop()


@pytest.mark.asyncio
async def test_the_lifespan_shutdown_stops_the_runtime_and_its_state():
    timers = runtime().state(Timers)
    sent = []
    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive():
        return next(events)

    async def send(message):
        sent.append(message["type"])

    await lifespan({"type": "lifespan"}, receive, send)
    await asyncio.sleep(0)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert timers.task.cancelled()
    assert isinstance(runtime(), Runtime) and runtime().state(Timers) is not timers
    runtime().state(Timers).stop()


def test_channels_group_api_fails_loudly_on_a_connection():
    """A Connection has no layer channel: channels' groups would silently never
    deliver, so declaring them or touching the layer raises."""
    with pytest.raises(TypeError, match="subscribe"):
        type("Grouped", (Connection,), {"groups": ["room"]})
    with pytest.raises(NoLayerChannel):
        Connection().channel_layer.group_add("room", "x")
