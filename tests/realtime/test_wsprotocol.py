"""realtime.wsprotocol: uvicorn's websockets-sansio protocol with less state.

The protocol runs in a real uvicorn server in this event loop, on a real socket;
the app is a bare ASGI echo so that only the protocol is under test. The whole
project runs on it in tests/test_server_process.py, which also shows its
backpressure: a client that stops reading is closed with 1013.
"""

import asyncio
import socket
from contextlib import asynccontextmanager

import pytest
import pytest_asyncio
import uvicorn
from websockets.asyncio.client import connect

from realtime import wsprotocol
from realtime.wsprotocol import Flag, ReceiveQueue, WebSocketProtocol

pytestmark = pytest.mark.asyncio


# --- Flag and ReceiveQueue: the parts of asyncio.Event / Queue uvicorn calls ------


async def test_flag_wait_returns_at_once_when_set_and_blocks_when_cleared():
    flag = Flag()
    assert flag.is_set()
    assert await asyncio.wait_for(flag.wait(), 1)
    flag.clear()
    waiter = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    flag.set()
    assert await asyncio.wait_for(waiter, 1)


async def test_a_cancelled_flag_waiter_is_forgotten():
    flag = Flag()
    flag.clear()
    waiter = asyncio.ensure_future(flag.wait())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not flag._waiters
    flag.set()  # nothing left to wake, nothing raises


def event(text: str) -> dict:
    return {"type": "websocket.receive", "text": text}


async def test_queue_hands_items_out_in_order_and_get_waits_for_a_put():
    queue = ReceiveQueue()
    assert queue.empty() and queue.qsize() == 0
    queue.put_nowait(event("1"))
    queue.put_nowait(event("2"))
    assert queue.qsize() == 2
    assert [await queue.get(), await queue.get()] == [event("1"), event("2")]
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0.01)
    assert not getter.done()
    queue.put_nowait(event("3"))
    assert await asyncio.wait_for(getter, 1) == event("3")
    assert queue.empty()


async def test_a_cancelled_get_loses_no_item():
    queue = ReceiveQueue()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    getter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await getter
    queue.put_nowait(event("kept"))
    assert await queue.get() == event("kept")


async def test_queue_counts_the_size_of_the_messages_in_it():
    queue = ReceiveQueue()
    overhead = wsprotocol.MESSAGE_OVERHEAD
    queue.put_nowait({"type": "websocket.connect"})
    queue.put_nowait({"type": "websocket.receive", "text": "abc"})
    queue.put_nowait({"type": "websocket.receive", "bytes": b"12345"})
    queue.put_nowait({"type": "websocket.receive", "text": ""})  # not free
    assert queue.nbytes == 8 + 4 * overhead
    await queue.get()
    await queue.get()
    assert queue.nbytes == 5 + 2 * overhead
    await queue.get()
    await queue.get()
    assert queue.nbytes == 0


# --- in a real uvicorn ------------------------------------------------------------


async def echo_app(scope, receive, send):
    if await accepted(scope, receive, send):
        await echo_app_loop(receive, send)


async def accepted(scope, receive, send) -> bool:
    """Take the socket's websocket.connect and accept it (False: not a socket)."""
    if scope["type"] != "websocket":
        return False
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    return True


@asynccontextmanager
async def serving(app):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, port=port, ws=WebSocketProtocol, log_level="warning", lifespan="off"
    )
    running = uvicorn.Server(config)
    task = asyncio.ensure_future(running.serve())
    while not running.started:
        await asyncio.sleep(0.01)
    try:
        yield running, f"ws://127.0.0.1:{port}/"
    finally:
        running.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest_asyncio.fixture
async def server():
    async with serving(echo_app) as running_and_url:
        yield running_and_url


async def test_messages_flow_both_ways(server):
    _, url = server
    async with connect(url) as client:
        for text in ("hello", "洛阳", "x" * 100_000):
            await client.send(text)
            assert await client.recv() == text.upper()


async def test_the_handshake_state_is_released_once_the_socket_is_open(server):
    running, url = server
    async with connect(url + "?token=secret") as client:
        await client.send("ping")
        assert await client.recv() == "PING"
        (protocol,) = running.server_state.connections
        assert isinstance(protocol, WebSocketProtocol)
        # What stock uvicorn keeps for the socket's life, 6-7 KiB of it.
        assert protocol.request is None and protocol.response is None
        assert protocol.scope == {}
        assert type(protocol.queue) is ReceiveQueue
        assert type(protocol.writable) is Flag


# --- read-ahead: no pause/resume per message, and still a bounded buffer ----------


def gated_echo_app(gate: asyncio.Event):
    """Echo, but read nothing after the handshake until `gate` is set."""

    async def app(scope, receive, send):
        if not await accepted(scope, receive, send):
            return
        await gate.wait()
        await echo_app_loop(receive, send)

    return app


async def echo_app_loop(receive, send):
    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": event["text"].upper()})


async def wait_for(condition, timeout=5.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_the_socket_is_read_ahead_while_the_app_is_busy():
    gate = asyncio.Event()
    async with (
        serving(gated_echo_app(gate)) as (running, url),
        connect(url) as client,
    ):
        for n in range(50):
            await client.send(f"m{n}")
        (protocol,) = running.server_state.connections
        await wait_for(lambda: protocol.queue.qsize() == 50)
        # uvicorn's own protocol stops reading after the first message.
        assert protocol.transport.is_reading() and not protocol.read_paused
        gate.set()
        assert [await client.recv() for _ in range(50)] == [f"M{n}" for n in range(50)]


async def test_reading_stops_at_the_read_ahead_limit_and_resumes_once_taken(
    monkeypatch,
):
    limit = 10 * (100 + wsprotocol.MESSAGE_OVERHEAD)  # ten 100-byte messages
    monkeypatch.setattr(wsprotocol, "read_ahead_bytes", lambda: limit)
    gate = asyncio.Event()
    async with (
        serving(gated_echo_app(gate)) as (running, url),
        connect(url) as client,
    ):
        (protocol,) = running.server_state.connections
        for n in range(20):  # 100 bytes each, one TCP segment each
            await client.send(f"{n:02d}" + "x" * 98)
            await asyncio.sleep(0.01)
        await wait_for(lambda: protocol.read_paused)
        await asyncio.sleep(0.1)  # the rest waits in the kernel, not here
        assert protocol.queue.qsize() == 10 and protocol.queue.nbytes == limit
        assert not protocol.transport.is_reading()
        gate.set()
        got = [await client.recv() for _ in range(20)]
        assert [g[:2] for g in got] == [f"{n:02d}" for n in range(20)]
        assert protocol.transport.is_reading() and protocol.queue.nbytes == 0


async def test_empty_messages_count_against_the_read_ahead_too(monkeypatch):
    monkeypatch.setattr(wsprotocol, "read_ahead_bytes", lambda: 5_000)
    gate = asyncio.Event()
    async with (
        serving(gated_echo_app(gate)) as (running, url),
        connect(url) as client,
    ):
        (protocol,) = running.server_state.connections
        for _ in range(40):  # 40 bursts of 50 (one read may hold a whole burst)
            for _ in range(50):
                await client.send("")
            await asyncio.sleep(0.005)
        await wait_for(lambda: protocol.read_paused)
        await asyncio.sleep(0.1)
        # 5,000 bytes is 19 empty messages; the burst being read when the limit
        # was reached is queued whole, and reading stops: not 2,000.
        assert protocol.queue.qsize() < 100
        assert not protocol.transport.is_reading()
        gate.set()
        assert [await client.recv() for _ in range(2_000)] == [""] * 2_000


def closing_app(gate: asyncio.Event, closed: asyncio.Event):
    """Accept, read nothing until `gate`, then close without reading the rest."""

    async def app(scope, receive, send):
        if not await accepted(scope, receive, send):
            return
        await gate.wait()
        await send({"type": "websocket.close", "code": 1013})
        closed.set()

    return app


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One masked frame, as a client sends it (payloads under 126 bytes)."""
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


async def test_a_server_close_completes_although_the_read_ahead_is_full(monkeypatch):
    """After sending its close, the server must read on to the client's close
    reply, past the messages still arriving; else the socket stays open until
    uvicorn's 10 s close timeout. The client here is a raw socket that, like a
    browser, keeps sending until it sees the close, then answers it and waits
    for the server to end the connection."""
    monkeypatch.setattr(wsprotocol, "read_ahead_bytes", lambda: 1_000)
    gate, closed = asyncio.Event(), asyncio.Event()
    async with serving(closing_app(gate, closed)) as (running, url):
        host, port = url[len("ws://") :].rstrip("/").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
        (protocol,) = running.server_state.connections

        async def keep_sending() -> None:
            while not writer.is_closing():
                writer.write(client_frame(0x1, b"x" * 100))
                await asyncio.sleep(0.01)

        sending = asyncio.ensure_future(keep_sending())
        await wait_for(lambda: protocol.read_paused)
        gate.set()
        head = await asyncio.wait_for(reader.readexactly(2), 5)
        assert head[0] & 0x0F == 0x8  # the server's close
        await reader.readexactly(head[1])
        await asyncio.sleep(0.05)  # messages keep arriving after the close
        sending.cancel()
        loop = asyncio.get_running_loop()
        started = loop.time()
        writer.write(client_frame(0x8, b"\x03\xf5"))  # the close reply, 1013
        assert await asyncio.wait_for(reader.read(), 5) == b""  # server ended it
        assert loop.time() - started < 3
        writer.close()


async def test_a_text_frame_that_is_not_utf8_closes_1007_with_one_log_line(caplog):
    """uvicorn logs a traceback for each such frame, so a client could flood the
    log; here it is one INFO line and the close code websockets defines."""
    async with serving(echo_app) as (_, url):
        host, port = url[len("ws://") :].rstrip("/").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
        with caplog.at_level("INFO"):
            writer.write(client_frame(0x1, b"\xff\xfe not utf-8"))
            head = await asyncio.wait_for(reader.readexactly(2), 5)
            payload = await reader.readexactly(head[1])
        writer.close()
    assert head[0] & 0x0F == 0x8
    assert int.from_bytes(payload[:2], "big") == 1007
    assert not [r for r in caplog.records if r.exc_info]
    assert any("not UTF-8" in r.getMessage() for r in caplog.records)


# --- permessage-deflate without per-socket zlib state (realtime.wsframes) -----------


def agreed_extensions(client) -> str:
    return client.response.headers.get("Sec-WebSocket-Extensions", "")


async def test_deflate_is_agreed_without_context_takeover_and_keeps_no_zlib_state(
    server,
):
    running, url = server
    async with connect(url, compression="deflate") as client:
        agreed = agreed_extensions(client)
        assert agreed.startswith("permessage-deflate")
        assert "server_no_context_takeover" in agreed
        assert "client_no_context_takeover" in agreed
        for text in ("hi", "洛阳牡丹" * 100, "x" * 100_000, "chat " * 60):
            await client.send(text)
            assert await client.recv() == text.upper()
        (protocol,) = running.server_state.connections
        assert protocol.frames_out.min_bytes is not None  # compressing
        # the echoes went out through the shared frames, compressed once each
        assert ("CHAT " * 60) in protocol.frames_out.cache
        (ext,) = protocol.conn.extensions
        assert not hasattr(ext, "encoder") and not hasattr(ext, "decoder")


async def test_deflate_with_context_takeover_when_the_setting_asks(server, settings):
    settings.WS_DEFLATE_CONTEXT_TAKEOVER = True
    running, url = server
    async with connect(url, compression="deflate") as client:
        agreed = agreed_extensions(client)
        assert agreed.startswith("permessage-deflate")
        assert "no_context_takeover" not in agreed
        for text in ("chat " * 60, "chat " * 60):
            await client.send(text)
            assert await client.recv() == text.upper()
        (protocol,) = running.server_state.connections
        assert protocol.frames_out is None  # through websockets' compressor


async def test_a_client_that_does_not_offer_deflate_gets_plain_shared_frames(server):
    running, url = server
    async with connect(url, compression=None) as client:
        assert agreed_extensions(client) == ""
        for text in ("chat " * 60, "洛阳" * 40_000):
            await client.send(text)
            assert await client.recv() == text.upper()
        (protocol,) = running.server_state.connections
        assert protocol.frames_out.min_bytes is None  # plain
        assert ("chat " * 60).upper() in protocol.frames_out.cache
