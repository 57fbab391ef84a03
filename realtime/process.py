"""One instance per running event loop, i.e. per server process (and per test).

Process-wide state of the socket side (the hub, the chat writer, presence,
slow-mode and viewer-count bookkeeping) lives on the loop that serves the sockets;
tests run each in a loop of their own and so get fresh state.
"""

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def per_event_loop(factory: Callable[[], T]) -> Callable[[], T]:
    """Return a getter giving the running loop's own `factory()` instance."""
    instances: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get() -> T:
        loop = asyncio.get_running_loop()
        instance = instances.get(loop)
        if instance is None:
            instance = instances[loop] = factory()
        return instance

    get.__doc__ = (
        f"Return this event loop's {getattr(factory, '__name__', 'instance')}."
    )
    return get
