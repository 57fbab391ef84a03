"""ASGI lifespan: the server's start and stop, in one place.

At startup, an out-of-file-descriptors error on accept is logged as one clear
line a minute instead of a traceback per attempt (asyncio already waits a second
before accepting again). At shutdown, this process's runtime is stopped.
"""

import asyncio
import errno
import logging
import resource
import time

from realtime.process import stop_runtime

logger = logging.getLogger(__name__)

RESOURCE_ERRORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
LOG_EVERY_SECONDS = 60.0


class ResourceErrorLog:
    """A loop exception handler: resource errors as one line a minute."""

    def __init__(self) -> None:
        self.logged = float("-inf")
        self.suppressed = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        if not (isinstance(exc, OSError) and exc.errno in RESOURCE_ERRORS):
            loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - self.logged < LOG_EVERY_SECONDS:
            self.suppressed += 1
            return
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        logger.error(
            "out of resources accepting connections (%s; open files limit %d; "
            "%d more like it since the last line): new connections wait. Raise "
            "`ulimit -n` or lower WS_MAX_CONNECTIONS_PER_IP / --limit-concurrency.",
            errno.errorcode.get(exc.errno, exc.errno),
            soft,
            self.suppressed,
        )
        self.logged, self.suppressed = now, 0


async def lifespan(scope, receive, send) -> None:
    """Answer startup and shutdown (the runtime is stopped at shutdown)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            asyncio.get_running_loop().set_exception_handler(ResourceErrorLog())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await stop_runtime()
            await send({"type": "lifespan.shutdown.complete"})
            return
