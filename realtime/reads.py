"""Short database calls of many connections in one hop to the database thread.

A connection's connect and join paths each make a few small database calls
(the token's user, bans, the room, its recent chats). Made one
`database_sync_to_async` hop each, a crowd connecting at once (every client
after a restart) pays a thread hop per call; queued here, every call that came
in while the previous hop ran goes in the next one. Calls are run in the order
submitted, each on its own: one that raises fails only its caller.
"""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from realtime.batching import Batcher
from realtime.process import runtime

T = TypeVar("T")


class DatabaseCalls(Batcher[Callable[[], Any], Any]):
    """The process's queue of short database calls (`runtime().state(...)`)."""

    def max_batch(self) -> int:
        return 200

    def store(self, items: list[Callable[[], Any]]) -> list[Any]:
        outcomes: list[Any] = []
        for call in items:
            try:
                outcomes.append(call())
            except Exception as exc:  # noqa: BLE001 - its caller gets it
                outcomes.append(exc)
        return outcomes


async def db_call(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Return `fn(**kwargs)` run in the database thread, sharing the hop with
    the other connections' calls queued meanwhile."""
    return await runtime().state(DatabaseCalls).submit(functools.partial(fn, **kwargs))
