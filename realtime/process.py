"""The runtime object: everything the socket side keeps per server process.

One `Runtime` per running event loop, i.e. per server process (and per test, each
running in a loop of its own): the hub (fan-out), presence, the connection-id
counter, the periodic renewal of memberships and presence, and the apps'
per-process state (`state(cls)`: the chat writer, slow-mode and viewer-count
bookkeeping). It is made on first use and stopped in one place, `stop_runtime`,
called when the server shuts down (`realtime.lifespan`).
"""

import asyncio
import inspect
import itertools
import logging
import time
import uuid
import weakref
from typing import Protocol, TypeVar, runtime_checkable

from django.conf import settings

from realtime.hub import Hub, Subscriber
from realtime.presence import Presence, make_presence
from realtime.registry import hooks

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How often a failed push is logged at most: the write stands, clients catch up.
LAYER_FAILURE_LOG_SECONDS = 60.0


@runtime_checkable
class Stoppable(Protocol):
    """An app's per-process state that holds tasks or connections to release."""

    def stop(self) -> object:
        """Release them (may return a coroutine, which is awaited)."""


class Runtime:
    """The socket side's state in one server process (one event loop)."""

    def __init__(self) -> None:
        # Connection ids are unique across processes and short (one per socket).
        self.process_id = uuid.uuid4().hex[:12]
        self._numbers = itertools.count(1)
        self.hub = Hub()
        self.hub.sequencer.source = hooks.sequence_source
        self.hub.on_layer_failure = self.layer_failed
        self.presence: Presence = make_presence()
        self._state: dict[type, object] = {}
        self._renewer: asyncio.Task | None = None
        self._gap_checker: asyncio.Task | None = None
        self._layer_failure_logged = float("-inf")

    def connection_id(self) -> str:
        """Return a new connection id, unique across processes."""
        return f"{self.process_id}.{next(self._numbers)}"

    def state(self, cls: type[T]) -> T:
        """Return this process's instance of an app's per-process state class,
        made with `cls()` on first use."""
        instance = self._state.get(cls)
        if instance is None:
            instance = self._state[cls] = cls()
        return instance  # type: ignore[return-value]

    async def subscribe(
        self, topic: str, subscriber: Subscriber, catch_up: bool = False
    ) -> None:
        """Subscribe a connection to a topic on this process; return once frames
        published to it from any process reach this one. With `catch_up`, its
        frames wait until `hub.caught_up(topic, subscriber, upto)`."""
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew(), name="runtime-renew")
            self._gap_checker = asyncio.create_task(
                self._check_gaps(), name="runtime-gaps"
            )
        await self.hub.subscribe(topic, subscriber, catch_up)

    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        await self.hub.unsubscribe(topic, subscriber)

    async def _renew(self) -> None:
        """Re-assert memberships and presence every WS_GROUP_REFRESH_SECONDS, so
        a Redis restart (which empties both while sockets stay open) heals."""
        while True:
            await asyncio.sleep(settings.WS_GROUP_REFRESH_SECONDS)
            try:
                await self.hub.renew()
                await self.presence.refresh()
            except Exception:
                logger.warning("could not renew memberships", exc_info=True)

    async def _check_gaps(self) -> None:
        """Fill numbered topics from the store every WS_GAP_CHECK_SECONDS."""
        while True:
            await asyncio.sleep(settings.WS_GAP_CHECK_SECONDS)
            try:
                await self.hub.sequencer.check_heads()
            except Exception:
                logger.warning("could not check for missed frames", exc_info=True)

    def layer_failed(self, target: str) -> None:
        """Log a failed push (at most once a LAYER_FAILURE_LOG_SECONDS), from
        the except block that caught it."""
        now = time.monotonic()
        if now - self._layer_failure_logged > LAYER_FAILURE_LOG_SECONDS:
            self._layer_failure_logged = now
            logger.error(
                "channel layer unavailable; push to %s dropped (other processes "
                "read numbered frames back from the database)",
                target,
                exc_info=True,
            )

    async def stop(self) -> None:
        """Stop the runtime's tasks and every app state that has a `stop()`."""
        for task in (self._renewer, self._gap_checker):
            if task is not None:
                task.cancel()
        self._renewer = self._gap_checker = None
        await self.hub.stop()
        for instance in self._state.values():
            if isinstance(instance, Stoppable) and inspect.iscoroutine(
                result := instance.stop()
            ):
                await result
        self._state.clear()


_runtimes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Runtime] = (
    weakref.WeakKeyDictionary()
)


def runtime() -> Runtime:
    """Return the running event loop's runtime, made on first use."""
    loop = asyncio.get_running_loop()
    instance = _runtimes.get(loop)
    if instance is None:
        instance = _runtimes[loop] = Runtime()
    return instance


async def stop_runtime() -> None:
    """Stop the running loop's runtime, if it was made (server shutdown)."""
    instance = _runtimes.pop(asyncio.get_running_loop(), None)
    if instance is not None:
        await instance.stop()
