"""Process-local fan-out over the channel layer.

Each server process owns one layer channel. A topic (a room, a user, everyone) is
a channel-layer group whose members are the *processes* that have a socket
subscribed to it, not the sockets themselves. `publish` sends one layer message
with the frame already encoded; each process hands that same text to its local
sockets. Stock Channels instead puts every socket in the group and re-encodes and
re-dispatches per socket; see docs/architecture.md for the measurements.

Memberships are re-asserted every `WS_GROUP_REFRESH_SECONDS`, so a Redis restart
(which empties groups while sockets stay open) heals by itself, and the layer's
group expiry never drops a live topic.
"""

import asyncio
import logging
import weakref
from typing import Protocol

from channels.layers import get_channel_layer

from django.conf import settings

logger = logging.getLogger(__name__)

FANOUT = "hub.fanout"
CONTROL = "hub.control"


class Subscriber(Protocol):
    def push(self, text: str) -> None: ...

    def control(self, topic: str, action: dict) -> None: ...


def room_topic(room_pk: int) -> str:
    return f"room.{int(room_pk)}"


def user_topic(user_pk: int | str) -> str:
    return f"user.{int(user_pk)}"


ALL_TOPIC = "all"


def group_name(topic: str) -> str:
    """Return the channel-layer group of a topic (topics are built from ids only)."""
    return f"hub.{topic}"


class Hub:
    """One per process (per event loop): local subscriptions and the layer reader."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel_name: str | None = None
        self.topics: dict[str, set[Subscriber]] = {}
        self._started: asyncio.Future | None = None
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
            self.channel_name = await self.layer.new_channel("hub.")
            self._tasks = [
                asyncio.create_task(self._read(), name="hub-reader"),
                asyncio.create_task(self._refresh(), name="hub-refresh"),
            ]
            self._started.set_result(None)
        await self._started

    async def subscribe(self, topic: str, subscriber: Subscriber) -> None:
        await self.start()
        members = self.topics.setdefault(topic, set())
        first = not members
        members.add(subscriber)
        if first:
            await self.layer.group_add(group_name(topic), self.channel_name)

    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        members = self.topics.get(topic)
        if not members or subscriber not in members:
            return
        members.discard(subscriber)
        if not members:
            del self.topics[topic]
            await self.layer.group_discard(group_name(topic), self.channel_name)

    def local_count(self, topic: str) -> int:
        return len(self.topics.get(topic, ()))

    def deliver(self, topic: str, text: str) -> None:
        """Hand an encoded frame to every local subscriber of `topic`."""
        for subscriber in tuple(self.topics.get(topic, ())):
            subscriber.push(text)

    async def _read(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel_name)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("hub: channel layer receive failed; retrying")
                await asyncio.sleep(1)
                continue
            kind = message.get("type")
            if kind == FANOUT:
                self.deliver(message["topic"], message["text"])
            elif kind == CONTROL:
                for subscriber in tuple(self.topics.get(message["topic"], ())):
                    subscriber.control(message["topic"], message["action"])

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(settings.WS_GROUP_REFRESH_SECONDS)
            for topic in tuple(self.topics):
                try:
                    await self.layer.group_add(group_name(topic), self.channel_name)
                except Exception:
                    logger.warning(
                        "hub: could not refresh group %s", topic, exc_info=True
                    )
                    break

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        self._started = None


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = (
    weakref.WeakKeyDictionary()
)


def get_hub() -> Hub:
    """Return this event loop's hub (one per server process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub


async def publish(topic: str, text: str) -> None:
    """Send an encoded frame to every subscriber of `topic` on every process."""
    layer = get_channel_layer()
    await layer.group_send(
        group_name(topic), {"type": FANOUT, "topic": topic, "text": text}
    )


async def control(topic: str, action: dict) -> None:
    """Send a server-only instruction to every subscriber of `topic`."""
    layer = get_channel_layer()
    await layer.group_send(
        group_name(topic), {"type": CONTROL, "topic": topic, "action": action}
    )
