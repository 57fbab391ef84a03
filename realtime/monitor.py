"""Every process's metrics in one place, for the live monitor in admin.

Each server process has its own registry (`realtime.metrics`), so a view served
by one process cannot read the others'. Each process's `Reporter` therefore
writes a snapshot every `METRICS_REPORT_SECONDS`: its `yyc3_*` samples, the users
online, its busiest rooms (sockets, and chats published since the last
snapshot). With `REDIS_URL` the snapshots go to one Redis hash that every process
of every host writes to; without it (one process) they stay in this process's
memory. `read_snapshots()` returns the fresh ones; a process that stopped
reporting drops out after three intervals.
"""

import asyncio
import contextlib
import heapq
import logging
import os
import socket
import time
from collections import Counter
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from django.conf import settings

from realtime import metrics
from realtime.presence import ONLINE
from realtime.process import Runtime, runtime
from realtime.topics import room_topic

logger = logging.getLogger(__name__)

ROOM_PREFIX = room_topic(0)[:-1]  # "room."
TOP_ROOMS = 20  # per process, by sockets and by chats
FAILURE_LOG_SECONDS = 60.0


def _key() -> str:
    return f"{settings.CHANNEL_LAYER_PREFIX}:metrics"


def _lifetime() -> float:
    """Seconds a snapshot counts as fresh."""
    return 3 * settings.METRICS_REPORT_SECONDS + 0.5


def registry_samples() -> list[list]:
    """Return this process's `yyc3_*` samples as [name, labels, value]."""
    found = []
    for family in REGISTRY.collect():
        if family.name.startswith("yyc3_"):
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    found.append([sample.name, sample.labels, sample.value])
    return found


class LocalSnapshots:
    """Snapshots in process memory, when there is no Redis (one process).

    Process-wide, not on the runtime: the admin's request thread reads it, and
    that thread has no event loop, hence no runtime."""

    def __init__(self) -> None:
        self.entries: dict[str, dict] = {}

    def put(self, process: str, snapshot: dict) -> None:
        self.entries[process] = snapshot
        gone = snapshot["at"] - 60  # runtimes that ended without stopping (tests)
        for other, old in list(self.entries.items()):
            if old["at"] < gone:
                del self.entries[other]

    def drop(self, process: str) -> None:
        self.entries.pop(process, None)

    def read(self) -> list[dict]:
        return list(self.entries.values())


LOCAL = LocalSnapshots()


class Reporter:
    """Per-process state (`runtime().state(Reporter)`, made at the first
    socket): writes this process's snapshot every METRICS_REPORT_SECONDS."""

    def __init__(self) -> None:
        self.runtime: Runtime = runtime()
        self.started = time.time()
        self.chats: Counter[str] = Counter()
        self.counted_since = time.time()
        self.redis: aioredis.Redis | None = None
        if settings.REDIS_URL:
            self.redis = aioredis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
            )
        self._failure_logged = float("-inf")
        self.task = asyncio.ensure_future(self._run())

    def count_chats(self, runs: list[tuple[str, int, list[str]]]) -> None:
        """Called with the runs of numbered frames published here."""
        for topic, _seq, texts in runs:
            self.chats[topic] += len(texts)

    async def _run(self) -> None:
        task = asyncio.current_task()
        while True:
            if settings.METRICS_ENABLED:
                try:
                    await self.report()
                except Exception:  # noqa: BLE001 - the next round tries again
                    self._report_failed()
            if task is not None and task.cancelling():
                # Python 3.11's asyncio.wait_for (redis-py's socket timeout)
                # can swallow a cancellation that meets a finished command:
                # stopping must still stop.
                raise asyncio.CancelledError
            await asyncio.sleep(settings.METRICS_REPORT_SECONDS)

    def _report_failed(self) -> None:
        now = time.monotonic()
        if now - self._failure_logged > FAILURE_LOG_SECONDS:
            self._failure_logged = now
            logger.warning("could not write this process's metrics", exc_info=True)

    async def report(self) -> None:
        """Write this process's snapshot now."""
        snapshot = await self.snapshot()
        process = self.runtime.process_id
        if self.redis is None:
            LOCAL.put(process, snapshot)
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(_key(), process, orjson.dumps(snapshot))
            pipe.expire(_key(), max(60, int(10 * _lifetime())))
            await pipe.execute()

    async def snapshot(self) -> dict[str, Any]:
        """Return this process's snapshot; starts a new count of chats per room."""
        now = time.time()
        topics = self.runtime.hub.topics
        sizes = [
            (len(members), topic)
            for topic, members in topics.items()
            if topic.startswith(ROOM_PREFIX)
        ]
        metrics.ROOMS.set(len(sizes))
        chats, self.chats = self.chats, Counter()
        window, self.counted_since = now - self.counted_since, now
        busiest = {t for _, t in heapq.nlargest(TOP_ROOMS, sizes)}
        busiest.update(t for t, _ in chats.most_common(TOP_ROOMS))
        rooms = [
            [int(t[len(ROOM_PREFIX) :]), len(topics.get(t, ())), chats.get(t, 0)]
            for t in busiest
        ]
        return {
            "process": self.runtime.process_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": self.started,
            "at": now,
            "users_online": await self.runtime.presence.count(ONLINE),
            "rooms": rooms,
            "chats_window": window,
            "samples": registry_samples(),
        }

    async def stop(self) -> None:
        self.task.cancel()
        process = self.runtime.process_id
        if self.redis is None:
            LOCAL.drop(process)
            return
        with contextlib.suppress(Exception):  # it expires anyway
            await self.redis.hdel(_key(), process)
        await self.redis.aclose()


def count_chats(runs: list[tuple[str, int, list[str]]]) -> None:
    """Called when numbered frames (chats) are published from this process."""
    if settings.METRICS_ENABLED:
        runtime().state(Reporter).count_chats(runs)


def read_snapshots() -> list[dict]:
    """Return the fresh snapshot of every process (sync: for views)."""
    oldest = time.time() - _lifetime()
    if not settings.REDIS_URL:
        return [s for s in LOCAL.read() if s["at"] >= oldest]
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
    )
    try:
        entries = client.hgetall(_key())
        found, gone = [], []
        for process, raw in entries.items():
            snapshot = orjson.loads(raw)
            if snapshot["at"] >= oldest:
                found.append(snapshot)
            elif snapshot["at"] < oldest - 60:
                gone.append(process)  # a process that stopped without saying so
        if gone:
            client.hdel(_key(), *gone)
        return found
    finally:
        client.close()
