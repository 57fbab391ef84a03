"""The database thread, reached in one plain executor hop.

Django's connections belong to a thread, and asgiref runs every thread-sensitive
call (`database_sync_to_async`) in one thread of its own. The writer and the
connect/join reads (`realtime.batching`) hop there hundreds of times a second
under load, and asgiref's hop adds a context copy and restore, a shield and its
bookkeeping to each. `run` makes the same hop with `loop.run_in_executor` on the
same executor, so the calls share that thread and its connections, and sets what
an `async_to_sync` inside needs (the loop) as asgiref does. Where asgiref would
pick another thread (under `async_to_sync`, in a `ThreadSensitiveContext`) it
is left to asgiref. Unlike asgiref, context variables set inside do not come back.
"""

import asyncio
import os
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import AsyncToSync, SyncToAsync
from channels.db import database_sync_to_async

from django.db import close_old_connections

from realtime.internals import check_asgiref

T = TypeVar("T")


def _plain_hop(loop: asyncio.AbstractEventLoop) -> bool:
    """Return whether asgiref would use its single database thread here."""
    return (
        getattr(AsyncToSync.executors, "current", None) is None
        and SyncToAsync.thread_sensitive_context.get(None) is None
        and loop not in AsyncToSync.loop_thread_executors
    )


def _call(loop: asyncio.AbstractEventLoop, fn: Callable[..., T], args: tuple) -> T:
    local = SyncToAsync.threadlocal
    local.main_event_loop, local.main_event_loop_pid = loop, os.getpid()
    close_old_connections()
    try:
        return fn(*args)
    finally:
        close_old_connections()


async def run(fn: Callable[..., T], *args: Any) -> T:
    """Return `fn(*args)` run in the database thread, as `database_sync_to_async`."""
    loop = asyncio.get_running_loop()
    if not _plain_hop(loop):
        return await database_sync_to_async(fn)(*args)
    return await loop.run_in_executor(
        SyncToAsync.single_thread_executor, _call, loop, fn, args
    )


check_asgiref()
