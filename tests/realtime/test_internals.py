"""realtime.internals: what the runtime needs of uvicorn, websockets,
channels-redis and asgiref is checked once, with an error naming the pinned
version."""

import gc
import weakref

import pytest
from uvicorn.protocols.websockets.websockets_sansio_impl import (
    WebSocketsSansIOProtocol,
)
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from django.core.exceptions import ImproperlyConfigured

from realtime import internals
from realtime.wsprotocol import restart_parser


def test_the_pinned_packages_have_everything_used():
    internals.check_uvicorn()
    internals.check_channels_redis()
    internals.check_asgiref()


def test_a_renamed_attribute_is_an_error_naming_the_pinned_version(monkeypatch):
    class Renamed(WebSocketsSansIOProtocol):
        send_receive_event_to_app = None  # as if an upgrade renamed it

    with pytest.raises(ImproperlyConfigured) as raised:
        internals._require(
            "uvicorn",
            Renamed,
            internals.UvicornWebSocketProtocol,
            "realtime.wsprotocol",
        )
    message = str(raised.value)
    assert "uvicorn==0.54.0" in message
    assert "send_receive_event_to_app" in message


def test_an_attribute_only_assigned_in_the_source_counts():
    class Assigns:
        def __init__(self) -> None:
            self.queue: list = []

    class Lacks:
        def __init__(self) -> None:
            self.queued = []

    class Needs:
        queue: list

    assert internals.missing_members(Assigns, Needs) == []
    assert internals.missing_members(Lacks, Needs) == ["queue"]


def test_websockets_has_what_the_parser_restart_uses():
    internals.check_websockets()


def test_the_restarted_parser_keeps_no_request_and_still_reads_frames():
    """After the handshake the socket's parser must not hold the Request (its
    headers stay alive for the socket's life otherwise) and must go on parsing."""
    conn = ServerProtocol()
    conn.receive_data(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    [request] = conn.events_received()
    assert isinstance(request, Request)
    conn.send_response(conn.accept(request))
    conn.data_to_send()
    gone = weakref.ref(request)
    restart_parser(conn)
    del request
    gc.collect()
    assert gone() is None
    mask = b"\x00\x00\x00\x00"
    conn.receive_data(b"\x81\x82" + mask + b"hi")
    [frame] = conn.events_received()
    assert isinstance(frame, Frame)
    assert frame.opcode is Opcode.TEXT and frame.data == b"hi"
