"""Group commit: one writer per process stores whatever queued up meanwhile.

Connections `submit` items; a single task stores everything that queued up while
the previous batch was being stored, in one call of the app's `store` (in the
database thread), then awaits the app's `published` with the items and their
outcomes, and only then hands each caller its own outcome. At low load a batch is
one item and nothing waits; under load the database does one transaction for
many items instead of one each.

An app subclasses `Batcher` with `store` and `published` and keeps one per
process with `realtime.runtime().state(TheBatcher)`.
"""

import asyncio
import functools
import logging
from typing import Generic, TypeVar

from realtime import dbthread, metrics

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


def settle(futures: list[asyncio.Future], outcomes: list) -> None:
    """Give each future its outcome, raised in its awaiter if an exception;
    futures whose awaiter was cancelled are skipped."""
    for future, outcome in zip(futures, outcomes, strict=True):
        if future.done():
            continue
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class Batcher(Generic[Item, Outcome]):
    """Stores submitted items in batches of at most `max_batch()`, in order."""

    def __init__(self) -> None:
        self.queue: list[tuple[Item, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    def max_batch(self) -> int:
        """Return the largest number of items stored in one batch."""
        return 100

    def linger(self) -> float:
        """Return how long (seconds) the first item of an idle writer waits for
        company before its batch is stored; 0 stores it at once."""
        return 0.0

    def store(self, items: list[Item]) -> list[Outcome | Exception]:
        """Store a batch (in the database thread); return one outcome per item,
        an exception instance for each item refused."""
        raise NotImplementedError

    async def published(
        self, items: list[Item], outcomes: list[Outcome | Exception]
    ) -> None:
        """Called with a stored batch before its callers get their outcomes."""

    def failure(self, exc: Exception) -> Exception:
        """Return what the caller of an item that could not be stored gets."""
        return exc

    def submit(self, item: Item) -> asyncio.Future:
        """Queue an item; the future gives its outcome or raises its exception.

        Items are stored in the order submitted. Cancelling the future does not
        take the item back: it is stored and published all the same."""
        future = asyncio.get_running_loop().create_future()
        self.queue.append((item, future))
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        return future

    async def _run(self) -> None:
        store = functools.partial(dbthread.run, self.store)
        try:
            linger = self.linger()
            if linger > 0 and len(self.queue) < self.max_batch():
                await asyncio.sleep(linger)
            while self.queue:
                size = self.max_batch()
                batch, self.queue = self.queue[:size], self.queue[size:]
                items = [item for item, _ in batch]
                started = metrics.clock()
                outcomes = await self._store(store, items)
                metrics.batch_stored(self, items, outcomes, started)
                await self.published(items, outcomes)
                settle([future for _, future in batch], outcomes)
        finally:
            self.task = None

    async def _store(self, store, items: list[Item]) -> list[Outcome | Exception]:
        try:
            return await store(items)
        except Exception as exc:  # noqa: BLE001 - isolated below
            if len(items) == 1:
                logger.exception("could not store an item; its caller is told")
                return [self.failure(exc)]
        # One bad item must not fail its neighbours: each alone, in order.
        outcomes: list[Outcome | Exception] = []
        for item in items:
            outcomes.extend(await self._store(store, [item]))
        return outcomes

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
