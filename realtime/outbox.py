"""Ordered, non-blocking sends to one socket, with a bounded backlog.

Fan-out hands the same encoded text to many sockets from one loop. A send that
can complete at once (the usual case) completes inline, with no task; a socket
whose client stops reading gets a backlog, drained by one task, and is closed
with 1013 when the backlog passes `WS_OUTBOX_LIMIT` frames, so one slow client
never holds up a room nor grows memory without bound. The client resumes from
history after reconnecting.
"""

import asyncio
import logging
from collections import deque

from django.conf import settings

from realtime import metrics

logger = logging.getLogger(__name__)

CLOSE_BACKLOG = 1013


class Outbox:
    """Ordered delivery to one ASGI `send` callable."""

    __slots__ = ("send", "backlog", "drainer", "closed", "limit")

    def __init__(self, send) -> None:
        self.send = send
        self.backlog: deque[dict] | None = None
        self.drainer: asyncio.Task | None = None
        self.closed = False
        self.limit = settings.WS_OUTBOX_LIMIT

    def push(self, message: dict) -> None:
        """Queue an ASGI message; never blocks, never raises."""
        if self.closed:
            return
        if self.backlog is not None:
            if len(self.backlog) >= self.limit:
                self._overflow()
            else:
                self.backlog.append(message)
            return
        coro = self.send(message)
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return
        except Exception:
            self.closed = True
            return
        # The send has to wait (the client is not reading): finish it, and any
        # later sends, in one task.
        self.backlog = deque()
        self.drainer = asyncio.ensure_future(self._finish(coro, waiting_on))

    async def _finish(self, coro, waiting_on) -> None:
        try:
            while True:
                if waiting_on is None:
                    await asyncio.sleep(0)
                else:
                    await asyncio.wait((waiting_on,))
                try:
                    waiting_on = coro.send(None)
                except StopIteration:
                    break
            while self.backlog:
                await self.send(self.backlog.popleft())
        except asyncio.CancelledError:
            coro.close()
            raise
        except Exception:
            self.closed = True
        finally:
            if self.drainer is asyncio.current_task():
                self.backlog = None
                self.drainer = None

    def _overflow(self) -> None:
        # The drainer waits on a write the client will never read: stop it, and
        # send the close now (the server protocol lets a close past its flow
        # control, then drops the connection if even that cannot go out).
        logger.info("closing a socket whose client stopped reading (backlog full)")
        metrics.slow_consumer()
        self.closed = True
        self.backlog = None
        if self.drainer is not None:
            self.drainer.cancel()
        self.drainer = asyncio.ensure_future(self._close_now())

    async def _close_now(self) -> None:
        try:
            await self.send({"type": "websocket.close", "code": CLOSE_BACKLOG})
        except Exception:  # noqa: BLE001 - the client is gone already
            pass
        finally:
            if self.drainer is asyncio.current_task():
                self.drainer = None

    async def flush(self) -> None:
        """Wait until everything queued so far has been handed to the server."""
        while self.drainer is not None:
            await asyncio.shield(self.drainer)

    def cancel(self) -> None:
        self.closed = True
        if self.drainer is not None:
            self.drainer.cancel()
