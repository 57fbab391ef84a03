"""Numbered topics: frames delivered in number order, at most once, with no gap.

A room's chats carry the room's sequence (ids follow commit order). For each such
topic with sockets on this process, the `Sequencer` remembers the last number it
delivered and:

- delivers `last + 1` at once, drops anything `<= last` (a copy: the layer's echo
  of this process's own publish, a gap fill that raced the live frame);
- holds an early frame for at most `WS_ORDER_HOLD_SECONDS` while the one before
  it is on its way, then **reads the gap from the app's store** (the database:
  a `SequenceSource`) and delivers what it finds, in order, never skipping;
- every `WS_GAP_CHECK_SECONDS` asks the store for each topic's newest number and
  fills up to it. That covers what the layer lost without a later frame to
  reveal the gap: a Redis restart or outage, a process killed between commit and
  publish, a message dropped over capacity. While the layer is down, numbered
  frames still cross processes this way.

A fill reads at most `WS_GAP_FILL_LIMIT` frames at a time; a larger gap is read
over several rounds, in order.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from django.conf import settings

from realtime import metrics

logger = logging.getLogger(__name__)


class SequenceSource(Protocol):
    """Reads an app's numbered frames back from where they are stored."""

    def handles(self, topic: str) -> bool:
        """Return whether `topic` carries numbered frames of this source."""

    async def heads(self, topics: list[str]) -> dict[str, int]:
        """Return the newest number stored for each topic (one query)."""

    async def read(self, topic: str, after: int, upto: int, limit: int) -> list:
        """Return [(number, encoded frame)] with after < number <= upto, at most
        `limit`, oldest first; numbers with nothing to show are left out."""


class Order:
    """One numbered topic's state on this process."""

    __slots__ = ("last", "held", "timer", "filling")

    def __init__(self) -> None:
        self.last: int | None = None
        self.held: dict[int, str] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.filling = False


# deliver(topic, text, seq): hand a frame to the topic's local sockets.
Deliver = Callable[[str, str, int], None]


class Sequencer:
    def __init__(self, deliver: Deliver) -> None:
        self.deliver = deliver
        self.orders: dict[str, Order] = {}
        self.source: SequenceSource | None = None

    def receive(self, topic: str, seq: int, texts: list[str]) -> None:
        """Frames `seq, seq+1, ...` of `topic`, from any process."""
        order = self.orders.setdefault(topic, Order())
        for offset, text in enumerate(texts):
            number = seq + offset
            if order.last is None or number > order.last:
                order.held[number] = text
        self._release(topic, order)

    def seen(self, topic: str, upto: int) -> None:
        """Called when a socket of a topic nobody here has had frames of yet has
        been given everything up to `upto` from the store (its join)."""
        order = self.orders.setdefault(topic, Order())
        if order.last is None:
            order.last = upto
            for number in [n for n in order.held if n <= upto]:
                del order.held[number]
            self._release(topic, order)

    def last(self, topic: str) -> int | None:
        """Return the last number delivered of `topic` here, if any."""
        order = self.orders.get(topic)
        return None if order is None else order.last

    def forget(self, topic: str) -> None:
        order = self.orders.pop(topic, None)
        if order is not None and order.timer is not None:
            order.timer.cancel()

    def _release(self, topic: str, order: Order) -> None:
        held = order.held
        while held:
            lowest = min(held)
            if order.last is not None and lowest > order.last + 1:
                break
            order.last = lowest
            self.deliver(topic, held.pop(lowest), lowest)
        if order.timer is not None:
            order.timer.cancel()
            order.timer = None
        if held and not order.filling:
            order.timer = asyncio.get_running_loop().call_later(
                settings.WS_ORDER_HOLD_SECONDS, self._hold_expired, topic, order
            )

    def _hold_expired(self, topic: str, order: Order) -> None:
        order.timer = None
        if not order.held or order.filling:
            return
        if self.source is None or order.last is None:
            # Nothing to read the gap from: deliver what is held, in order.
            order.last = min(order.held) - 1
            self._release(topic, order)
            return
        self._start_fill(topic, order, min(order.held) - 1)

    def _start_fill(self, topic: str, order: Order, upto: int) -> None:
        order.filling = True
        asyncio.ensure_future(self._fill(topic, order, upto))

    async def _fill(self, topic: str, order: Order, upto: int) -> None:
        assert self.source is not None and order.last is not None
        after, limit = order.last, settings.WS_GAP_FILL_LIMIT
        try:
            found = await self.source.read(topic, after, upto, limit)
        except Exception:
            logger.warning("could not read the gap of %s; retrying", topic)
            order.filling = False
            if self.orders.get(topic) is order:
                self._release(topic, order)  # holds again, then retries
            return
        order.filling = False
        metrics.gap_filled(len(found))
        if self.orders.get(topic) is not order:
            return  # nobody here is subscribed any more
        # What the store has up to here is known: deliver it, skip the numbers
        # with nothing to show (hidden), keep the rest of a long gap for later.
        reached = upto if len(found) < limit else found[-1][0]
        for number, text in found:
            if order.last is None or number > order.last:
                order.held[number] = text
        while order.held and min(order.held) <= reached:
            number = min(order.held)
            order.last = number
            self.deliver(topic, order.held.pop(number), number)
        order.last = max(order.last or 0, reached)
        self._release(topic, order)
        if reached < upto:
            self._start_fill(topic, order, upto)

    async def check_heads(self) -> None:
        """Fill every numbered topic up to the store's newest number."""
        if self.source is None:
            return
        topics = [
            topic
            for topic, order in self.orders.items()
            if order.last is not None and not order.filling
        ]
        if not topics:
            return
        heads = await self.source.heads(topics)
        for topic, head in heads.items():
            order = self.orders.get(topic)
            if order is None or order.filling or order.last is None:
                continue
            if head > order.last:
                self._start_fill(topic, order, head)
