"""Publishing frames to topics: the API the apps' `events` modules push through.

Async callers (connections, after their write returned) `await publish(...)`;
sync callers (services, signal receivers, admin) call `publish_on_commit(...)`,
which sends once the surrounding transaction commits and sends nothing on a
rollback. If the channel layer is down the write still stands: the failure is
logged and clients catch up from history or the inbox. A frame is encoded once,
here, whatever the number of sockets it reaches.
"""

import logging
from collections.abc import Awaitable, Callable

from asgiref.sync import async_to_sync

from django.db import transaction

from realtime import metrics, monitor
from realtime.hub import Hub
from realtime.process import runtime
from realtime.wire import encode

logger = logging.getLogger(__name__)

# (topic, first sequence number, encoded frames with consecutive numbers)
Run = tuple[str, int, list[str]]


async def publish(topic: str, frame: dict) -> None:
    """Send a frame to every socket subscribed to `topic`, on every process:
    this process's at once, the others' through the layer in the background (a
    failure is logged; see `realtime.hub`)."""
    runtime().hub.publish_soon(topic, encode(frame))


async def publish_in_order(
    runs: list[Run], label: str, senders: list[list[str | None]] | None = None
) -> None:
    """Send numbered frames (a room's chats) that each process hands to its
    sockets in number order (`realtime.ordering`). This process's sockets get
    them at once, whatever the layer does; the others through the layer in the
    background, or from the store if the layer lost them. `senders` (per run,
    each frame's sender topic or None) lets a busy topic be sampled
    (`realtime.density`)."""
    runtime().hub.publish_in_order_soon(runs, label, senders)
    monitor.count_chats(runs)


def publish_local(topic: str, frame: dict) -> None:
    """Hand a frame to this process's sockets subscribed to `topic` only (for
    what every process works out for itself, e.g. a shared count)."""
    runtime().hub.deliver(topic, encode(frame))


async def control(topic: str, action: dict) -> None:
    """Send a server-only instruction to the connections subscribed to `topic`;
    each runs the control hook registered for `action["action"]`."""
    await runtime().hub.control(topic, action)


def _send_now(send: Callable[[Hub], Awaitable[None]], label: str) -> None:
    async def with_hub() -> None:
        await send(runtime().hub)

    try:
        async_to_sync(with_hub)()
    except Exception:
        metrics.layer_failure()
        logger.exception("channel layer unavailable; push to %s dropped", label)


def publish_on_commit(topic: str, frame: dict) -> None:
    """Send `frame` to `topic` once the current transaction commits."""
    text = encode(frame)
    transaction.on_commit(
        lambda: _send_now(lambda hub: hub.publish(topic, text), topic), robust=True
    )


def publish_many_on_commit(
    pushes: list[tuple[str, dict]], unless: dict[str, list[str]] | None = None
) -> None:
    """Send several frames once the transaction commits, in one trip to the layer.

    `unless` maps a topic to topics whose sockets it skips (they get the frame
    there). A layer failure drops the rest of the batch and is logged once.
    """
    if not pushes:
        return
    encoded = [(topic, encode(frame)) for topic, frame in pushes]
    skips = unless or {}

    async def send_all(hub: Hub) -> None:
        for topic, text in encoded:
            await hub.publish(topic, text, skips.get(topic))

    label = encoded[0][0] if len(encoded) == 1 else f"{len(encoded)} topics"
    transaction.on_commit(lambda: _send_now(send_all, label), robust=True)


def control_on_commit(topic: str, action: dict) -> None:
    """Send a server-only instruction to `topic` once the transaction commits."""
    transaction.on_commit(
        lambda: _send_now(lambda hub: hub.control(topic, action), topic), robust=True
    )
