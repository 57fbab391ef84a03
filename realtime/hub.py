"""Process-local fan-out over the channel layer.

Each server process owns one layer channel. A topic (`realtime.topics`) maps to a
channel-layer group whose members are the *processes* that have a socket
subscribed to it, not the sockets themselves. `publish` sends one layer message
with the frame already encoded; each process hands that same text to its local
sockets. Stock Channels instead puts every socket in the group and re-encodes and
re-dispatches per socket (docs/architecture.md).

Numbered frames (a room's chats) reach sockets in number order, at most once and
with gaps read back from the database (`realtime.ordering`). A socket that joins
is *catching up* until its app has read what it gets from the store (its
`room_state.recent`, or what it missed): frames meanwhile wait for it, and those
it already got from the store are dropped, so it sees each chat once.
"""

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from channels.layers import get_channel_layer

from django.conf import settings

from realtime import metrics
from realtime.density import Density
from realtime.internals import BatchingLayer
from realtime.ordering import Sequencer
from realtime.topics import group_name

logger = logging.getLogger(__name__)

FANOUT = "hub.fanout"
CONTROL = "hub.control"
BATCH = "hub.batch"  # a chat batch's FANOUT messages, each process takes its own
# Most queued background sends that go out as one layer message.
LAYER_BATCH = 100


class Subscriber(Protocol):
    """What the hub hands frames to: a connection."""

    def deliver(self, message: dict) -> None: ...

    def control(self, topic: str, action: dict) -> None: ...


def _log_failure(label: str) -> None:
    logger.warning("channel layer unavailable; push to %s dropped", label)


class Hub:
    """One per process (per event loop, on `realtime.runtime()`): local
    subscriptions and the layer reader."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel_name: str | None = None
        self.topics: dict[str, set[Subscriber]] = {}
        self.groups: dict[str, int] = {}
        self._adding: dict[str, asyncio.Future] = {}  # group_add in flight
        self.sequencer = Sequencer(self._deliver_numbered)
        # Sampling of busy numbered topics, and the sender (its `only` topic) of
        # each numbered frame of a sampled topic not yet delivered: topic -> seq.
        self.density = Density()
        self.senders: dict[str, dict[int, str]] = {}
        # topic -> subscriber catching up -> what arrived meanwhile (seq, message)
        self.catching_up: dict[str, dict[Subscriber, list[tuple[int | None, dict]]]]
        self.catching_up = {}
        # topic -> subscriber -> the number up to which it already has the
        # topic's frames (from the store, on joining), while that is ahead of
        # what this process has delivered of the topic.
        self.floors: dict[str, dict[Subscriber, int]] = {}
        self._outgoing: deque[tuple[list[tuple[str, dict]], str]] = deque()
        self._sender: asyncio.Future | None = None
        # Called with a label when a layer send failed (the runtime logs it).
        self.on_layer_failure: Callable[[str], None] = _log_failure
        self._started: asyncio.Future | None = None
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
            self.channel_name = await self.layer.new_channel("hub.")
            self._tasks = [asyncio.create_task(self._read(), name="hub-reader")]
            self._started.set_result(None)
        await self._started

    async def subscribe(
        self, topic: str, subscriber: Subscriber, catch_up: bool = False
    ) -> None:
        """Subscribe; with `catch_up`, frames wait for `caught_up(...)`."""
        await self.start()
        members = self.topics.setdefault(topic, set())
        if subscriber in members:
            return
        if catch_up:
            self.catching_up.setdefault(topic, {})[subscriber] = []
        members.add(subscriber)
        group = group_name(topic)
        self.groups[group] = self.groups.get(group, 0) + 1
        if self.groups[group] == 1:
            adding = self._adding[group] = asyncio.ensure_future(
                self.layer.group_add(group, self.channel_name)
            )
            adding.add_done_callback(functools.partial(self._added, group))
        # Return only once the group's subscription is in place (the caller reads
        # history next), whichever socket started it. Shielded: a caller that is
        # cancelled (its socket closed) leaves it to finish for the others.
        if group in self._adding:
            try:
                await asyncio.shield(self._adding[group])
            except Exception:
                self._forget(topic, subscriber)  # not subscribed: as if never asked
                raise

    def _added(self, group: str, adding: asyncio.Future) -> None:
        if self._adding.get(group) is adding:
            del self._adding[group]
        if not adding.cancelled():
            adding.exception()  # retrieved: the callers waiting get it raised

    async def unsubscribe(self, topic: str, subscriber: Subscriber) -> None:
        members = self.topics.get(topic)
        if not members or subscriber not in members:
            return
        if self._forget(topic, subscriber):
            await self.layer.group_discard(group_name(topic), self.channel_name)

    def caught_up(self, topic: str, subscriber: Subscriber, upto: int | None) -> None:
        """Called when a catching-up subscriber has been given the numbered frames
        up to `upto` from the store: hand it what came meanwhile, newer only."""
        pending = self.catching_up.get(topic)
        waiting = pending.pop(subscriber, []) if pending is not None else []
        if pending is not None and not pending:
            del self.catching_up[topic]
        if upto is not None and topic in self.topics:
            self.sequencer.seen(topic, upto)
            last = self.sequencer.last(topic)
            if last is not None and last < upto:
                self.floors.setdefault(topic, {})[subscriber] = upto
        for seq, message in waiting:
            if seq is None or upto is None or seq > upto:
                subscriber.deliver(message)

    def _forget(self, topic: str, subscriber: Subscriber) -> bool:
        """Drop a local subscription; return whether its group has no more."""
        members = self.topics[topic]
        members.discard(subscriber)
        for per_topic in (self.catching_up, self.floors):
            pending = per_topic.get(topic)
            if pending is not None:
                pending.pop(subscriber, None)
                if not pending:
                    del per_topic[topic]
        if not members:
            del self.topics[topic]
            self.sequencer.forget(topic)
            self.density.forget(topic)
            self.senders.pop(topic, None)
        group = group_name(topic)
        self.groups[group] -= 1
        if self.groups[group]:
            return False
        del self.groups[group]
        return True

    def local_count(self, topic: str) -> int:
        return len(self.topics.get(topic, ()))

    def deliver(
        self,
        topic: str,
        text: str,
        unless: list[str] | None = None,
        seq: int | None = None,
        only: str | None = None,
    ) -> None:
        """Hand an encoded frame to every local subscriber of `topic`, except
        those also subscribed to one of the `unless` topics; with `only`, to
        those also subscribed to `only`."""
        subscribers = self.topics.get(topic)
        if not subscribers:
            return
        started = metrics.clock()
        # One ASGI message object for every socket: the frame is encoded once.
        message = {"type": "websocket.send", "text": text}
        if only is not None:
            targets = tuple(s for s in self.topics.get(only, ()) if s in subscribers)
        elif unless:
            skip = set().union(*(self.topics.get(t, ()) for t in unless))
            targets = tuple(s for s in subscribers if s not in skip)
        else:
            targets = tuple(subscribers)
        pending = self.catching_up.get(topic)
        floors = self.floors.get(topic)
        if pending is None and (floors is None or seq is None):
            for subscriber in targets:
                subscriber.deliver(message)
            metrics.delivered(text, len(targets), started)
            return
        number = -1 if seq is None else seq
        for subscriber in targets:
            waiting = pending.get(subscriber) if pending is not None else None
            if waiting is not None:
                waiting.append((seq, message))
            elif floors is None or seq is None or floors.get(subscriber, -1) < number:
                subscriber.deliver(message)
        if floors is not None and seq is not None:
            # Delivered up to `seq` here: a floor at or below it has done its job.
            for subscriber in [s for s, floor in floors.items() if floor <= number]:
                del floors[subscriber]
            if not floors:
                del self.floors[topic]
        metrics.delivered(text, len(targets), started)

    def _deliver_numbered(self, topic: str, text: str, seq: int) -> None:
        senders = self.senders.get(topic)
        sender = None
        if senders:
            sender = senders.pop(seq, None)
            for older in [n for n in senders if n < seq]:  # skipped: on no socket
                del senders[older]
        if sender is None or self.density.admit(topic, sender):
            self.deliver(topic, text, seq=seq)
        else:  # sampled out: its sender's sockets only
            self.deliver(topic, text, seq=seq, only=sender)

    def deliver_in_order(
        self,
        topic: str,
        seq: int,
        texts: list[str],
        senders: list[str | None] | None = None,
    ) -> None:
        """Deliver a room's chats `seq, seq+1, ...` in sequence order; `senders`
        names each one's sender topic, for sampling (`realtime.density`)."""
        if topic not in self.topics:
            return
        if senders and self.density.rate(topic):
            last = self.sequencer.last(topic)
            pending = self.senders.setdefault(topic, {})
            for offset, sender in enumerate(senders):
                if sender is not None and (last is None or seq + offset > last):
                    pending[seq + offset] = sender
        self.sequencer.receive(topic, seq, texts)

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
            self._handle(message)

    def _handle(self, message: dict) -> None:
        try:
            self._dispatch(message)
        except Exception:  # one bad message must not stop the reader
            logger.exception("hub: could not handle a layer message")

    def _dispatch(self, message: dict) -> None:
        kind = message.get("type")
        origin = message.get("origin")
        if origin is not None and origin == self.channel_name:
            return  # published here: delivered here already
        if kind == FANOUT:
            if "seq" in message:
                self.deliver_in_order(
                    message["topic"],
                    message["seq"],
                    message["texts"],
                    message.get("senders"),
                )
            else:
                self.deliver(message["topic"], message["text"], message.get("unless"))
            if message["topic"] in self.topics:
                metrics.arrived(message)
        elif kind == BATCH:
            for each in message["messages"]:
                self._handle(each)  # each on its own: one bad one loses only itself
        elif kind == CONTROL:
            self.control_here(message["topic"], message["action"])

    async def renew(self) -> None:
        """Re-assert this process's group memberships (a Redis restart empties
        them while sockets stay open)."""
        groups = list(self.groups)
        if self.channel_name is None:  # not started: nothing to renew
            return
        if isinstance(self.layer, BatchingLayer):  # one round trip
            await self.layer.group_renew(groups, self.channel_name)
        else:
            for group in groups:
                await self.layer.group_add(group, self.channel_name)

    # --- publishing: here at once, then to the other processes ---------------------
    #
    # Every publish reaches this process's sockets at once and in publish order,
    # whatever the layer does; the layer message carries its origin, and the
    # copy that comes back here is ignored. The `*_soon` forms hand the layer
    # send to one task that sends in order, so a stalled or restarting Redis
    # never holds up this process (WS_LAYER_BACKLOG sends wait at most; past
    # that the oldest are dropped, and the other processes read numbered frames
    # back from the store).

    async def publish(
        self, topic: str, text: str, unless: list[str] | None = None
    ) -> None:
        """Send an encoded frame to every subscriber of `topic` on every process,
        except sockets also subscribed to an `unless` topic (they get it there)."""
        self.deliver(topic, text, unless)
        await self._send_fanout(topic, text, unless)

    def publish_soon(
        self, topic: str, text: str, unless: list[str] | None = None
    ) -> None:
        """`publish`, with the layer send in the background."""
        self.deliver(topic, text, unless)
        self._later([self._fanout_item(topic, text, unless)], topic)

    async def publish_in_order(
        self,
        runs: list[tuple[str, int, list[str]]],
        senders: list[list[str | None]] | None = None,
    ) -> None:
        """Send rooms' chats: each (topic, seq, texts) carries the room's chats
        `seq, seq+1, ...` (and `senders`, per run, each one's sender topic). On
        Redis every process in one of the rooms gets the whole batch as one
        layer message (`realtime.layers.PubSubChannelLayer.group_send_batch`);
        deliver_in_order skips the rooms it has no socket in."""
        for i, (topic, seq, texts) in enumerate(runs):
            self.deliver_in_order(topic, seq, texts, senders[i] if senders else None)
        await self._send_runs(runs, senders)

    def publish_in_order_soon(
        self,
        runs: list[tuple[str, int, list[str]]],
        label: str,
        senders: list[list[str | None]] | None = None,
    ) -> None:
        """`publish_in_order`, with the layer send in the background."""
        for i, (topic, seq, texts) in enumerate(runs):
            self.deliver_in_order(topic, seq, texts, senders[i] if senders else None)
        self._later(self._run_items(runs, senders), label)

    async def control(self, topic: str, action: dict) -> None:
        """Send a server-only instruction to every subscriber of `topic`."""
        self.control_here(topic, action)
        message = {
            "type": CONTROL,
            "topic": topic,
            "action": action,
            "origin": self.channel_name,
        }
        await self.layer.group_send(group_name(topic), message)

    async def _send_fanout(
        self, topic: str, text: str, unless: list[str] | None
    ) -> None:
        await self._send_items([self._fanout_item(topic, text, unless)])

    def _fanout_item(
        self, topic: str, text: str, unless: list[str] | None
    ) -> tuple[str, dict]:
        message: dict[str, Any] = {"type": FANOUT, "topic": topic, "text": text}
        message["at"] = metrics.stamp()
        if unless:
            message["unless"] = list(unless)
        message["origin"] = self.channel_name
        return group_name(topic), message

    async def _send_runs(
        self,
        runs: list[tuple[str, int, list[str]]],
        senders: list[list[str | None]] | None = None,
    ) -> None:
        await self._send_items(self._run_items(runs, senders))

    def _run_items(
        self,
        runs: list[tuple[str, int, list[str]]],
        senders: list[list[str | None]] | None = None,
    ) -> list[tuple[str, dict]]:
        items = []
        for i, (topic, seq, texts) in enumerate(runs):
            message: dict[str, Any] = {
                "type": FANOUT,
                "topic": topic,
                "seq": seq,
                "texts": texts,
                "origin": self.channel_name,
                "at": metrics.stamp(),
            }
            if senders:
                message["senders"] = senders[i]
            items.append((group_name(topic), message))
        return items

    async def _send_items(self, items: list[tuple[str, dict]]) -> None:
        """Send layer messages in order: one batch to each process in any of
        their groups when they span several groups, else one by one."""
        layer = self.layer
        if len({g for g, _ in items}) > 1 and isinstance(layer, BatchingLayer):
            await layer.group_send_batch(items, BATCH)
        else:
            for group, message in items:
                await layer.group_send(group, message)

    def _later(self, items: list[tuple[str, dict]], label: str) -> None:
        if len(self._outgoing) >= settings.WS_LAYER_BACKLOG:
            _, dropped = self._outgoing.popleft()
            metrics.layer_failure()
            self.on_layer_failure(f"{dropped} (layer backlog full)")
        self._outgoing.append((items, label))
        if self._sender is None:
            self._sender = asyncio.ensure_future(self._send_in_order())

    async def _send_in_order(self) -> None:
        # Everything queued while the previous send ran goes out as one layer
        # message (up to LAYER_BATCH sends): a join storm's user_joined frames
        # cost one round trip per batch, not one each.
        try:
            while self._outgoing:
                items: list[tuple[str, dict]] = []
                labels: list[str] = []
                while self._outgoing and len(labels) < LAYER_BATCH:
                    more, label = self._outgoing.popleft()
                    items += more
                    labels.append(label)
                try:
                    await self._send_items(items)
                except Exception:  # noqa: BLE001 - logged; the store has it
                    for label in labels:
                        metrics.layer_failure()
                        self.on_layer_failure(label)
        finally:
            self._sender = None

    async def flush(self) -> None:
        """Wait until the background layer sends queued so far are done."""
        while self._sender is not None:
            await asyncio.shield(self._sender)

    def control_here(self, topic: str, action: dict) -> None:
        for subscriber in tuple(self.topics.get(topic, ())):
            subscriber.control(topic, action)

    async def stop(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        self._started = None
