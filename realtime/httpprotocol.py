"""uvicorn's h11 HTTP protocol with a deadline for a request's headers.

    uvicorn yyc3_realtime.asgi:application --http realtime.httpprotocol:HTTPProtocol

uvicorn waits for a request's headers without limit: a client sending a
handshake one byte every few seconds (slowloris) keeps its connection, and a
file descriptor, forever. Here the headers of each request (the WebSocket
handshake included) must be complete within `WS_HANDSHAKE_TIMEOUT` seconds of the
connection opening or of the previous response; otherwise the connection is
closed. What this class relies on is declared in `realtime.internals` and
checked when it is imported.
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from django.conf import settings

from realtime.internals import check_uvicorn_http

check_uvicorn_http()

logger = logging.getLogger(__name__)

DEFAULT_HANDSHAKE_TIMEOUT = 10.0


def handshake_timeout() -> float:
    if not settings.configured:
        return DEFAULT_HANDSHAKE_TIMEOUT
    return getattr(settings, "WS_HANDSHAKE_TIMEOUT", DEFAULT_HANDSHAKE_TIMEOUT)


class HTTPProtocol(H11Protocol):
    """`h11` with a header deadline (see the module doc)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(handshake_timeout(), self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a request's headers are in
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        self._deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            logger.info("closing %s: request headers too slow", self.client)
            self.transport.close()
