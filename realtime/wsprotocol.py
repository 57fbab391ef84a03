"""uvicorn's `websockets-sansio` protocol, holding less memory per open socket.

    uvicorn yyc3_realtime.asgi:application \
        --ws realtime.wsprotocol:WebSocketProtocol

uvicorn keeps some state for a socket's whole life that it needs only for a
moment; this class drops or slims it (docs/architecture.md has what each costs):

- the handshake's Request and Response, headers included: kept in
  `self.request` / `self.response` after the 101 went out; dropped here. The
  Request is also a local variable of websockets' frame parser (a generator that
  lives as long as the socket): once the handshake is over, the parser is
  restarted without it (`restart_parser`).
- the ASGI scope (headers, the query string with its token): uvicorn reads it
  only to log the handshake, and the application keeps its own copy of what it
  needs (`realtime.entry.SocketEntry`), so it is emptied once the handshake is
  over. Emptied in place: middleware frames above the application (uvicorn's
  proxy-headers one) still refer to it. An application served by this protocol
  must therefore copy what it needs from the scope while connecting.
- an `asyncio.Queue` for received events: replaced by `ReceiveQueue`, one list
  and at most one waiter.
- an `asyncio.Event` for write flow control: replaced by `Flag`.

A close sent to a client that stopped reading (the outbox's 1013) goes past flow
control, behind what is already buffered; if the buffer has not drained
`WS_STALLED_CLOSE_SECONDS` later, the connection is dropped (uvicorn's own close
would wait for the buffer forever, and keepalive would end it with 1011).

It also reads ahead. uvicorn stops reading a socket after each message it receives
and starts again once the application took it: two `epoll_ctl` calls and selector
bookkeeping per message. This class stops reading only once
`WS_RECEIVE_AHEAD_BYTES` of received messages (each counted with MESSAGE_OVERHEAD
bytes more than its payload) wait for the application, so a client that sends
faster than the server handles its messages still meets backpressure, with a
bounded buffer.

Behaviour is uvicorn's own: the replacements offer exactly the methods it calls.
What this class relies on is declared in `realtime.internals` and checked when this
module is imported (uvicorn imports it at startup); `tests/realtime/test_wsprotocol.py`
runs the protocol in a real uvicorn process.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import (
    WebSocketsSansIOProtocol,
)
from websockets.protocol import OPEN
from websockets.protocol import Protocol as SansIOProtocol

from django.conf import settings

from realtime import wsframes
from realtime.internals import check_uvicorn, check_websockets

check_uvicorn()
check_websockets()

logger = logging.getLogger(__name__)


class Flag:
    """The part of `asyncio.Event` uvicorn uses: set, clear, is_set, wait."""

    __slots__ = ("_value", "_waiters")

    def __init__(self, value: bool = True) -> None:
        self._value = value
        self._waiters: list[asyncio.Future] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(True)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
        return True


# What a queued message costs besides its payload (the event dict, the str or
# bytes object), so that empty or tiny messages count too.
MESSAGE_OVERHEAD = 256


def _size(event: dict) -> int:
    """About the memory a queued event holds (a str's length, not its UTF-8)."""
    return len(event.get("text") or event.get("bytes") or "") + MESSAGE_OVERHEAD


class ReceiveQueue:
    """The part of an unbounded `asyncio.Queue` uvicorn uses, for one consumer:
    put_nowait, get, empty, qsize; plus `nbytes`, the size of the messages in it.
    A list (short: the protocol stops reading past WS_RECEIVE_AHEAD_BYTES) and at
    most one waiting getter."""

    __slots__ = ("_items", "_getter", "nbytes")

    def __init__(self) -> None:
        self._items: list = []
        self._getter: asyncio.Future | None = None
        self.nbytes = 0

    def put_nowait(self, item) -> None:
        self._items.append(item)
        self.nbytes += _size(item)
        getter, self._getter = self._getter, None
        if getter is not None and not getter.done():
            getter.set_result(None)

    async def get(self):
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            self._getter = getter
            try:
                await getter
            finally:
                if self._getter is getter:
                    self._getter = None
        item = self._items.pop(0)
        self.nbytes -= _size(item)
        return item

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


DEFAULT_READ_AHEAD_BYTES = 65536


DEFAULT_STALLED_CLOSE_SECONDS = 5.0


def _setting(name: str, default):
    """A setting, or its default when Django is not configured (uvicorn loads
    this module before the application sets Django up)."""
    if not settings.configured:
        return default
    return getattr(settings, name, default)


def read_ahead_bytes() -> int:
    return _setting("WS_RECEIVE_AHEAD_BYTES", DEFAULT_READ_AHEAD_BYTES)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """`websockets-sansio` with slimmer per-socket state (see the module doc)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn annotates these with its own classes; ours offer the methods
        # it calls (realtime.internals.UvicornWebSocketProtocol).
        self.queue = ReceiveQueue()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]
        self.read_ahead = read_ahead_bytes()
        # Text frames made once per fan-out, and permessage-deflate without
        # per-socket zlib state (realtime.wsframes): set after the handshake.
        self.frames_out: wsframes.FrameCache | None = None
        if self.config.ws_per_message_deflate:
            self.conn.available_extensions = [
                wsframes.extension_factory(
                    _setting("WS_DEFLATE_CONTEXT_TAKEOVER", False)
                )
            ]

    def send_receive_event_to_app(self) -> None:
        # uvicorn's own, but it pauses reading after every message (see the module
        # doc): keep reading until WS_RECEIVE_AHEAD_BYTES wait; `receive` resumes
        # reading once the application has taken them all. And a text frame that
        # is not UTF-8 closes 1007 with one log line, not a traceback each.
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            # Past the close, messages are dropped and reading goes on until the
            # client's close reply: never pause then.
            return
        event: dict
        if self.curr_msg_data_type == "text":
            try:
                event = {"type": "websocket.receive", "text": data.decode()}
            except UnicodeDecodeError:
                logger.info("closing %s: a text frame is not UTF-8 (1007)", self.client)
                self.conn.send_close(1007)
                self.handle_parser_exception()
                return
        else:
            event = {"type": "websocket.receive", "bytes": data}
        self.queue.put_nowait(event)  # type: ignore[arg-type]
        if not self.read_paused and self.queue.nbytes >= self.read_ahead:  # type: ignore[attr-defined]
            self.read_paused = True
            self.transport.pause_reading()

    async def send(self, message) -> None:
        if self.frames_out is not None and message["type"] == "websocket.send":
            text = message.get("text")
            if text is not None:
                # uvicorn's send for a text message, but the frame is made (and
                # compressed) once for every socket it goes to (realtime.wsframes).
                await self.writable.wait()
                if self.disconnected:
                    raise ClientDisconnected()
                conn = self.conn
                if (
                    not self.close_sent
                    and conn.state is OPEN
                    and not conn.expect_continuation_frame
                ):
                    self.transport.write(self.frames_out.frame(text))
                    return
        if (
            message["type"] == "websocket.close"
            and self.handshake_complete
            and not self.close_sent
            and not self.writable.is_set()
        ):
            # The client stopped reading: let the close past flow control.
            self.writable.set()
            await super().send(message)
            self.loop.call_later(
                _setting("WS_STALLED_CLOSE_SECONDS", DEFAULT_STALLED_CLOSE_SECONDS),
                self._drop_if_stalled,
            )
            return
        await super().send(message)

    def _drop_if_stalled(self) -> None:
        if self.transport.get_write_buffer_size():
            self.transport.abort()

    def start_keepalive(self) -> None:
        # uvicorn calls this once, right after the 101 response went out: the
        # handshake's request, response and scope are not read any more.
        self.request = None  # type: ignore[assignment]
        self.response = None  # type: ignore[assignment]
        self.scope.clear()  # type: ignore[attr-defined]
        restart_parser(self.conn)
        self.frames_out = wsframes.cache_for(
            self.conn.extensions,
            _setting("WS_DEFLATE_MIN_BYTES", wsframes.DEFAULT_MIN_BYTES),
        )
        super().start_keepalive()


def restart_parser(conn: SansIOProtocol) -> None:
    """Replace the handshake's frame parser of `conn` with a fresh one if it waits
    between frames with nothing buffered: the same loop, without the Request."""
    waiting: Any = conn.parser
    while waiting is not None and waiting.gi_yieldfrom is not None:
        waiting = waiting.gi_yieldfrom
    at_boundary = waiting is not None and waiting.gi_code.co_name == "at_eof"
    if at_boundary and not conn.reader.buffer and not conn.events:
        conn.parser = SansIOProtocol.parse(conn)
        next(conn.parser)
